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

/// A request body as it is kept: whole up to [`MAX_EXCHANGE_BODY_BYTES`];
/// over it, a JSON body keeps its shape (every field, long strings cut to
/// a prefix and `…`) so that judges still read its model, messages and
/// ceiling; anything else is cut at the cap.
pub fn kept_body(body: &[u8]) -> Vec<u8> {
    if body.len() <= MAX_EXCHANGE_BODY_BYTES {
        return body.to_vec();
    }
    fn cut(v: &mut serde_json::Value, chars: usize) {
        match v {
            serde_json::Value::String(s) if s.chars().count() > chars => {
                *s = s.chars().take(chars).chain(['…']).collect();
            }
            serde_json::Value::Array(a) => a.iter_mut().for_each(|v| cut(v, chars)),
            serde_json::Value::Object(m) => m.values_mut().for_each(|v| cut(v, chars)),
            _ => {}
        }
    }
    if let Ok(parsed) = serde_json::from_slice::<serde_json::Value>(body) {
        for chars in [1024, 256, 64, 16] {
            let mut v = parsed.clone();
            cut(&mut v, chars);
            let text = v.to_string();
            if text.len() <= MAX_EXCHANGE_BODY_BYTES {
                return text.into_bytes();
            }
        }
    }
    body[..MAX_EXCHANGE_BODY_BYTES].to_vec()
}

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
    /// Request body (UTF-8, lossy, scrubbed, at most [`MAX_EXCHANGE_BODY_BYTES`]:
    /// see [`kept_body`]).
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_long_json_body_keeps_its_shape_and_anything_else_is_cut() {
        let long = "x".repeat(40 * 1024);
        let body = serde_json::json!({"model": "m", "max_tokens": 64,
            "messages": [{"role": "user", "content": long}]})
        .to_string();
        let kept = kept_body(body.as_bytes());
        assert!(kept.len() <= MAX_EXCHANGE_BODY_BYTES);
        let v: serde_json::Value = serde_json::from_slice(&kept).unwrap();
        assert_eq!(v["model"], "m");
        assert_eq!(v["max_tokens"], 64);
        assert!(v["messages"][0]["content"].as_str().unwrap().ends_with('…'));
        assert_eq!(kept_body(long.as_bytes()).len(), MAX_EXCHANGE_BODY_BYTES);
        assert_eq!(kept_body(b"{\"a\":1}"), b"{\"a\":1}");
    }
}
