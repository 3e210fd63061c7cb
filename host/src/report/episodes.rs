//! The application under test, as the record keeps it: each episode's
//! scenario, the application's exit, its (scrubbed, bounded) output, and
//! every exchange through the interposer with its timing.

use serde::{Deserialize, Serialize};

/// The application's run: the command and one entry per episode.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ApplicationRun {
    /// The command, as the plan or the command line gave it (scrubbed).
    pub command: Vec<String>,
    /// The episodes, in the order they ran.
    pub episodes: Vec<Episode>,
}

/// One run of the application under one scenario.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Episode {
    /// The scenario's name (`clean`, `rate-limited`, …).
    pub scenario: String,
    /// From which attempt (1-based) the scenario let a request through, for
    /// a transient scenario.
    pub clears_at: Option<u32>,
    /// How long a stalled answer was held, ms (the stall scenario).
    pub stall_ms: Option<u64>,
    /// The exit code (`None`: killed, or ended by a signal).
    pub exit_code: Option<i32>,
    /// Whether the episode's timeout killed it.
    pub timed_out: bool,
    /// Wall time, ms.
    pub wall_ms: u64,
    /// Standard output (scrubbed, at most [`MAX_OUTPUT_BYTES`]).
    pub stdout: String,
    /// Standard error (scrubbed, at most [`MAX_OUTPUT_BYTES`]).
    pub stderr: String,
    /// Whether either output was cut.
    pub output_truncated: bool,
    /// Every request the application made, in arrival order.
    pub exchanges: Vec<Exchange>,
    /// Requests over [`MAX_EXCHANGES`] that were refused and not kept.
    pub exchanges_dropped: u32,
    /// A service: the status its trigger request got.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub trigger_status: Option<u16>,
    /// A service: why it could not be asked for work (not ready, exited).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub service_error: Option<String>,
}

/// Most bytes of each output stream kept per episode.
pub const MAX_OUTPUT_BYTES: usize = 64 * 1024;
/// Most exchanges kept per episode (more are answered 503 and counted).
pub const MAX_EXCHANGES: usize = 1_000;
/// Most bytes of a request body kept.
pub const MAX_EXCHANGE_BODY_BYTES: usize = 16 * 1024;

/// One request of the application and what the interposer did with it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Exchange {
    /// Which logical request it is an attempt of (0-based, per episode):
    /// attempts share an `Idempotency-Key`, a `x-client-request-id`, or the
    /// same method, path and body.
    pub logical: u32,
    /// Its attempt number (1-based).
    pub attempt: u32,
    /// Method.
    pub method: String,
    /// Path (no query).
    pub path: String,
    /// Request headers, lower-case, without credentials.
    pub headers: Vec<(String, String)>,
    /// Request body (UTF-8, lossy, scrubbed, at most [`MAX_EXCHANGE_BODY_BYTES`]).
    pub body: String,
    /// The status the application got (`None`: no answer, such as a reset).
    pub status: Option<u16>,
    /// What the scenario injected (`status-429`, `stall`, `reset`, …), or
    /// `None` when the request went through to the target.
    pub injected: Option<String>,
    /// A refusal by the interposer's policy (path, size, key), in words.
    pub refused: Option<String>,
    /// The `Retry-After` the application was given, ms.
    pub retry_after_ms: Option<u64>,
    /// When it arrived, ms since the episode started.
    pub started_ms: u64,
    /// Until the answer was complete, or the client went away, ms.
    pub duration_ms: u64,
    /// Whether the application closed the connection before the answer was
    /// complete (it timed out or gave up).
    pub client_aborted: bool,
}
