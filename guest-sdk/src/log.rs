//! Structured logging through the host.
//!
//! Records go to the run's log (`log.jsonl` in the record directory). The host
//! redacts every message and field value before writing it, and caps how many
//! records a plugin may write. Do not log prompts or completions: the host
//! drops content unless the plan allows content capture.
//!
//! ```no_run
//! shipgate_sdk::log::info("canary sent", &[("status", "200"), ("latency_ms", "41")]);
//! ```

use crate::imports::log as host;
use crate::wit::shipgate::plugin::log as wit;

fn emit(level: wit::Level, message: &str, fields: &[(&str, &str)]) {
    let fields: Vec<(String, String)> = fields
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect();
    host::emit(level, message, &fields);
}

/// Write a trace record.
pub fn trace(message: &str, fields: &[(&str, &str)]) {
    emit(wit::Level::Trace, message, fields);
}

/// Write a debug record.
pub fn debug(message: &str, fields: &[(&str, &str)]) {
    emit(wit::Level::Debug, message, fields);
}

/// Write an info record.
pub fn info(message: &str, fields: &[(&str, &str)]) {
    emit(wit::Level::Info, message, fields);
}

/// Write a warning record.
pub fn warn(message: &str, fields: &[(&str, &str)]) {
    emit(wit::Level::Warn, message, fields);
}

/// Write an error record.
pub fn error(message: &str, fields: &[(&str, &str)]) {
    emit(wit::Level::Error, message, fields);
}
