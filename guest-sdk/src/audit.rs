//! Read what the run wrote, and the plan's log directories, for a redaction
//! audit. Needs `grants.audit = true` in the plan.
//!
//! The host never hands over a secret, and nothing it hands over depends on
//! part of one: credential-shaped values are masked by rules that never look
//! at the secret, full forms of the run's secrets are masked as `run-secret`,
//! and each mask comes with its rule, line and column. Where the run's
//! secrets (or fragments) leaked, the host reports itself after the run.
//!
//! ```no_run
//! for text in shipgate_sdk::audit::collect()? {
//!     println!("{}: {} bytes", text.source, text.content.len());
//! }
//! # Ok::<(), shipgate_sdk::audit::AuditError>(())
//! ```

use crate::imports::audit as host;
use crate::wit::shipgate::plugin::audit as wit;

pub use wit::{AuditError, MaskedSpan, TextFile};

/// The run's output so far and the plan's log files, secrets masked.
///
/// # Errors
///
/// [`AuditError::Denied`] without the grant; [`AuditError::Unreadable`] when a
/// log directory cannot be read.
pub fn collect() -> Result<Vec<TextFile>, AuditError> {
    host::collect()
}

/// The prompts this run sent: customer content that should not reach logs.
///
/// # Errors
///
/// [`AuditError::Denied`] without the grant.
pub fn sent_prompts() -> Result<Vec<String>, AuditError> {
    host::sent_prompts()
}
