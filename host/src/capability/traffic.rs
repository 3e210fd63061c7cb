//! The `traffic` capability: the application under test's episodes, read-only.
//!
//! # Security
//!
//! - Granted per plugin (`grants.traffic = true`); otherwise every call is denied.
//! - Nothing here depends on the secret: the episodes were scrubbed of every
//!   full form of the run's secrets and stripped of credential headers when
//!   they were recorded, before any plugin ran.
//! - What one call hands a guest is bounded: at most [`MAX_TRAFFIC_BYTES`] of
//!   bodies and output in total; past it, bodies and output are cut (and say so).

use crate::bindings::shipgate::plugin::traffic::{Episode, Exchange, Host, TrafficError};
use crate::report::episodes;
use std::sync::Arc;

/// Most bytes of bodies and output handed to a guest by one call.
pub const MAX_TRAFFIC_BYTES: usize = 16 * 1024 * 1024;

/// Per-plugin-run traffic state.
#[derive(Debug, Clone, Default)]
pub struct TrafficCtx {
    granted: bool,
    episodes: Arc<Vec<episodes::Episode>>,
}

impl TrafficCtx {
    /// Traffic state; `granted` comes from the plugin's grants.
    pub fn new(granted: bool, episodes: Arc<Vec<episodes::Episode>>) -> TrafficCtx {
        TrafficCtx { granted, episodes }
    }
}

/// `text` within what is left of `budget`.
fn within(text: &str, budget: &mut usize) -> String {
    if text.len() <= *budget {
        *budget -= text.len();
        return text.to_owned();
    }
    let cut = crate::text::one_line(text, (*budget).min(text.len()));
    *budget = 0;
    format!("{cut} [cut: over the traffic capability's {MAX_TRAFFIC_BYTES}-byte budget]")
}

impl Host for TrafficCtx {
    async fn episodes(&mut self) -> wasmtime::Result<Result<Vec<Episode>, TrafficError>> {
        if !self.granted {
            return Ok(Err(TrafficError::Denied(
                "the plan does not grant this plugin the traffic capability (grants.traffic = true)"
                    .into(),
            )));
        }
        let mut budget = MAX_TRAFFIC_BYTES;
        let out = self
            .episodes
            .iter()
            .map(|e| Episode {
                scenario: e.scenario.clone(),
                clears_at: e.clears_at,
                stall_ms: e.stall_ms,
                exit_code: e.exit_code,
                timed_out: e.timed_out,
                wall_ms: e.wall_ms,
                stdout: within(&e.stdout, &mut budget),
                stderr: within(&e.stderr, &mut budget),
                exchanges: e
                    .exchanges
                    .iter()
                    .map(|x| Exchange {
                        logical: x.logical,
                        attempt: x.attempt,
                        method: x.method.clone(),
                        path: x.path.clone(),
                        headers: x.headers.clone(),
                        body: within(&x.body, &mut budget),
                        status: x.status,
                        injected: x.injected.clone(),
                        refused: x.refused.clone(),
                        retry_after_ms: x.retry_after_ms,
                        started_ms: x.started_ms,
                        duration_ms: x.duration_ms,
                        client_aborted: x.client_aborted,
                    })
                    .collect(),
            })
            .collect();
        Ok(Ok(out))
    }
}
