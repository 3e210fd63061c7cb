//! Read what the run wrote, and the plan's log directories, for a redaction
//! audit. Needs `grants.audit = true` in the plan.
//!
//! The host never hands over the secret: texts come with every known form of
//! the run's secrets replaced by `[SECRET]`, and [`secret_hits`] says where
//! the host found them.
//!
//! ```no_run
//! for text in shipgate_sdk::audit::collect()? {
//!     println!("{}: {} bytes", text.source, text.content.len());
//! }
//! # Ok::<(), shipgate_sdk::audit::AuditError>(())
//! ```

use crate::wit::shipgate::plugin::audit as wit;

pub use wit::{AuditError, SecretHit, TextFile};

/// The run's output so far and the plan's log files, secrets masked.
///
/// # Errors
///
/// [`AuditError::Denied`] without the grant; [`AuditError::Unreadable`] when a
/// log directory cannot be read.
pub fn collect() -> Result<Vec<TextFile>, AuditError> {
    wit::collect()
}

/// Where the host found the run's secrets (credential, honeytoken) in those texts.
///
/// # Errors
///
/// As [`collect`].
pub fn secret_hits() -> Result<Vec<SecretHit>, AuditError> {
    wit::secret_hits()
}

/// The prompts this run sent: customer content that should not reach logs.
///
/// # Errors
///
/// [`AuditError::Denied`] without the grant.
pub fn sent_prompts() -> Result<Vec<String>, AuditError> {
    wit::sent_prompts()
}
