//! The `log` capability: structured records, redacted before they are kept.
//!
//! # Security
//!
//! Every message, field key and field value is made inert (`crate::text`)
//! and goes through the secret-independent [`Redactor`] (the run's secrets
//! are removed when the log is written, after the run). Fields that carry content (`prompt`, `completion`, `content`,
//! `messages`, `input`, `output`) are dropped unless the plan sets
//! `content_capture = true`. A plugin may write at most
//! `sandbox.max_log_records` records and `sandbox.max_log_bytes` bytes; the
//! rest are counted and dropped, and the runtime reports the limit hit.

use crate::bindings::shipgate::plugin::log::{Host, Level};
use crate::redact::Redactor;
use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

/// Field keys that carry prompt or completion content.
pub const CONTENT_KEYS: &[&str] = &[
    "prompt",
    "completion",
    "content",
    "messages",
    "input",
    "output",
];

pub use crate::report::record::LogRecord;

/// The run's shared log.
pub type RunLog = Arc<Mutex<Vec<LogRecord>>>;

/// Append a redacted record to the run log (used by the host and the capability).
pub fn append(
    log: &RunLog,
    redactor: &Redactor,
    source: &str,
    level: &str,
    message: &str,
    fields: BTreeMap<String, String>,
) {
    let fields = fields
        .into_iter()
        .map(|(k, v)| {
            (
                redactor
                    .redact(&crate::text::one_line(&k, 128))
                    .into_owned(),
                redactor
                    .redact(&crate::text::multi_line(&v, 16 * 1024))
                    .into_owned(),
            )
        })
        .collect();
    let rec = LogRecord {
        ts: crate::now_rfc3339(),
        source: source.to_owned(),
        level: level.to_owned(),
        message: redactor
            .redact(&crate::text::multi_line(message, 16 * 1024))
            .into_owned(),
        fields,
    };
    log.lock().expect("run log lock").push(rec);
}

/// Per-plugin-run log state.
#[derive(Debug)]
pub struct LogCtx {
    plugin: String,
    log: RunLog,
    content_capture: bool,
    max_records: u32,
    max_bytes: u64,
    records: u32,
    bytes: u64,
    /// Records dropped over the limits.
    pub dropped: u32,
}

impl LogCtx {
    /// Log state for one plugin run.
    pub fn new(
        plugin: &str,
        log: RunLog,
        content_capture: bool,
        max_records: u32,
        max_bytes: u64,
    ) -> Self {
        LogCtx {
            plugin: plugin.to_owned(),
            log,
            content_capture,
            max_records,
            max_bytes,
            records: 0,
            bytes: 0,
            dropped: 0,
        }
    }

    /// Keep one record from the guest's stdout/stderr or `log.emit`.
    pub fn write(&mut self, level: &str, message: &str, fields: Vec<(String, String)>) {
        let size = message.len() as u64
            + fields
                .iter()
                .map(|(k, v)| (k.len() + v.len()) as u64)
                .sum::<u64>();
        // Enforce: sandbox.max_log_records and sandbox.max_log_bytes.
        if self.records >= self.max_records || self.bytes + size > self.max_bytes {
            self.dropped = self.dropped.saturating_add(1);
            return;
        }
        self.records += 1;
        self.bytes += size;
        let fields = fields
            .into_iter()
            .map(|(k, v)| {
                let is_content = CONTENT_KEYS.contains(&k.to_ascii_lowercase().as_str());
                let v = if is_content && !self.content_capture {
                    "[content not captured]".to_owned()
                } else {
                    v
                };
                (k, v)
            })
            .collect();
        append(&self.log, &Redactor, &self.plugin, level, message, fields);
    }
}

impl Host for LogCtx {
    async fn emit(
        &mut self,
        level: Level,
        message: String,
        fields: Vec<(String, String)>,
    ) -> wasmtime::Result<()> {
        let level = match level {
            Level::Trace => "trace",
            Level::Debug => "debug",
            Level::Info => "info",
            Level::Warn => "warn",
            Level::Error => "error",
        };
        self.write(level, &message, fields);
        Ok(())
    }
}
