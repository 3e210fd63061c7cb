//! The application under test's traffic: each episode in which shipgate ran
//! the team's own client under a fault scenario, with every request the
//! client made. Needs `grants.traffic = true` in the plan. Read-only, and
//! without credentials.
//!
//! ```no_run
//! use shipgate_sdk::traffic;
//! for episode in traffic::episodes()? {
//!     for request in traffic::logical_requests(&episode) {
//!         println!("{}: {} attempts", episode.scenario, request.attempts.len());
//!     }
//! }
//! # Ok::<(), shipgate_sdk::traffic::TrafficError>(())
//! ```

use crate::imports::traffic as host;
use crate::wit::shipgate::plugin::traffic as wit;

pub use wit::{Episode, Exchange, TrafficError};

/// The episodes of this run (empty when the plan runs no application).
///
/// # Errors
///
/// [`TrafficError::Denied`] without the grant.
pub fn episodes() -> Result<Vec<Episode>, TrafficError> {
    host::episodes()
}

/// One logical request: its attempts in order.
#[derive(Debug, Clone)]
pub struct Logical<'a> {
    /// Its index in the episode.
    pub index: u32,
    /// Its attempts, in arrival order.
    pub attempts: Vec<&'a Exchange>,
}

/// An episode's exchanges grouped into logical requests (attempts of the
/// same request, as the host recognised them), in order of first arrival.
pub fn logical_requests(episode: &Episode) -> Vec<Logical<'_>> {
    let mut groups: Vec<Logical<'_>> = Vec::new();
    for x in &episode.exchanges {
        match groups.iter_mut().find(|g| g.index == x.logical) {
            Some(g) => g.attempts.push(x),
            None => groups.push(Logical {
                index: x.logical,
                attempts: vec![x],
            }),
        }
    }
    groups
}

/// The gap before attempt `i` (1-based index into `attempts`, `i >= 1`):
/// from the end of the previous attempt to the start of this one, ms.
pub fn gap_ms(attempts: &[&Exchange], i: usize) -> u64 {
    let prev = attempts[i - 1];
    attempts[i]
        .started_ms
        .saturating_sub(prev.started_ms + prev.duration_ms)
}

/// Whether a status says "do not retry": 400, 401, 403, 404 and 422.
pub fn non_retryable(status: u16) -> bool {
    matches!(status, 400 | 401 | 403 | 404 | 422)
}
