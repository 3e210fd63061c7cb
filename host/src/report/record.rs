//! `record.json`: the versioned validation record, and the atomic writer of
//! the record directory (`record.json`, `report.md`, `junit.xml`, `findings.sarif`, `log.jsonl`).
//!
//! The JSON Schema for this format is `host/schema/record-v2.schema.json`;
//! a test checks that every record written validates against it.

use crate::decision::Decision;
use crate::findings::{Finding, Verdict};
use crate::redact::OutputRedactor;
use crate::telemetry::RequestTelemetry;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::io::Write as _;
use std::path::{Path, PathBuf};

/// The record format version. Version 2: findings and checklist entries carry
/// the evidence subject; telemetry is summarised per plugin; findings and
/// plugins of the host's own checks (`host`); `truncated`.
pub const RECORD_VERSION: u32 = 2;

/// The JSON Schema of [`Record`].
pub const RECORD_SCHEMA: &str = include_str!("../../schema/record-v2.schema.json");

/// The tool that wrote the record.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ToolInfo {
    /// `shipgate`.
    pub name: String,
    /// Its version.
    pub version: String,
    /// The WIT package it implements.
    pub wit: String,
}

/// Where it ran.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HostInfo {
    /// Host name.
    pub hostname: String,
    /// OS.
    pub os: String,
    /// CPU architecture.
    pub arch: String,
}

/// A response field seen in a successful response.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct FieldObservation {
    /// JSON pointer.
    pub pointer: String,
    /// JSON type.
    #[serde(rename = "type")]
    pub json_type: String,
}

/// A failure mode a plugin exercised, and what came back.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FailureMode {
    /// The plugin.
    pub plugin: String,
    /// Its operation name.
    pub operation: String,
    /// Auth mode used.
    pub auth_mode: String,
    /// Outcome: `response`, `timeout`, `rejected`, ...
    pub outcome: String,
    /// Status, when a response came back.
    pub status: Option<u16>,
    /// Classification.
    pub category: String,
}

/// Telemetry aggregated per plugin and operation. The plugin is the identity
/// the host assigned, so one plugin's requests never blend into another's.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OperationSummary {
    /// The plugin that sent the requests.
    pub plugin: String,
    /// Operation label (the plugin's own).
    pub operation: String,
    /// Requests.
    pub requests: u32,
    /// Count per status (or outcome when there was no response).
    pub statuses: BTreeMap<String, u32>,
    /// Median latency, ms.
    pub p50_ms: u64,
    /// 95th percentile latency, ms.
    pub p95_ms: u64,
    /// Retries.
    pub retries: u32,
    /// Timeouts.
    pub timeouts: u32,
    /// Prompt tokens reported.
    pub input_tokens: u64,
    /// Completion tokens reported.
    pub output_tokens: u64,
    /// Streamed answers: median time to the first chunk, ms.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub first_chunk_p50_ms: Option<u64>,
}

/// Verdict counts.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Counts {
    /// Passing.
    pub pass: u32,
    /// Warnings.
    pub warn: u32,
    /// Failing.
    pub fail: u32,
    /// Skipped.
    pub skip: u32,
}

/// The validation record of one run.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Record {
    /// [`RECORD_VERSION`].
    pub record_version: u32,
    /// The tool.
    pub tool: ToolInfo,
    /// Run id (UUID).
    pub run_id: String,
    /// Start time, RFC 3339.
    pub started_at: String,
    /// End time, RFC 3339.
    pub ended_at: String,
    /// Whether every plugin ran to an outcome.
    pub complete: bool,
    /// Why not, when not.
    pub incomplete_reason: Option<String>,
    /// Where it ran.
    pub host: HostInfo,
    /// The contract snapshot as used.
    pub contract: serde_json::Value,
    /// Where the contract came from.
    pub contract_source: String,
    /// The plan as used.
    pub plan: serde_json::Value,
    /// Plugins: names, versions, sha256, how each ended.
    pub plugins: Vec<PluginRun>,
    /// The chat request template used (content replaced by its size).
    pub request_template: Option<serde_json::Value>,
    /// Fields observed in successful chat responses.
    pub response_fields_observed: Vec<FieldObservation>,
    /// Failure modes exercised.
    pub failure_modes_tested: Vec<FailureMode>,
    /// Per-request telemetry.
    pub telemetry: Vec<RequestTelemetry>,
    /// Telemetry per operation.
    pub telemetry_summary: Vec<OperationSummary>,
    /// Requests the host denied.
    pub denials: Vec<Denial>,
    /// Every finding.
    pub findings: Vec<Finding>,
    /// Verdict counts.
    pub counts: Counts,
    /// The decision, its reasons and the checklist.
    pub decision: Decision,
    /// What was cut to keep the record under its size cap, if anything.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub truncated: Option<String>,
    /// The application under test, when the plan runs one: its episodes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub application: Option<super::episodes::ApplicationRun>,
}

/// Largest `record.json`, in bytes; the record is trimmed to fit (and says so).
pub const MAX_RECORD_BYTES: usize = 8 * 1024 * 1024;
/// Largest `log.jsonl`, in bytes; later lines are dropped (and counted).
pub const MAX_LOG_BYTES: usize = 8 * 1024 * 1024;

impl Record {
    /// The provider and base URL the run targeted, as the contract names them.
    pub fn target(&self) -> (&str, &str) {
        let s = |p: &str| {
            self.contract
                .pointer(p)
                .and_then(|v| v.as_str())
                .unwrap_or("?")
        };
        (s("/provider"), s("/base_url/url"))
    }

    /// Counts of findings by verdict.
    pub fn count(findings: &[Finding]) -> Counts {
        let mut c = Counts::default();
        for f in findings {
            match f.verdict {
                Verdict::Pass => c.pass += 1,
                Verdict::Warn => c.warn += 1,
                Verdict::Fail => c.fail += 1,
                Verdict::Skip => c.skip += 1,
            }
        }
        c
    }

    /// Aggregate telemetry per plugin and operation.
    pub fn summarize(telemetry: &[RequestTelemetry]) -> Vec<OperationSummary> {
        let mut by_op: BTreeMap<(String, String), Vec<&RequestTelemetry>> = BTreeMap::new();
        for t in telemetry {
            by_op
                .entry((t.plugin.clone(), t.operation.clone()))
                .or_default()
                .push(t);
        }
        by_op
            .into_iter()
            .map(|((plugin, operation), ts)| {
                let mut lat: Vec<u64> = ts
                    .iter()
                    .filter(|t| t.status.is_some())
                    .map(|t| t.latency_ms)
                    .collect();
                lat.sort_unstable();
                let mut statuses = BTreeMap::new();
                for t in &ts {
                    let k = t
                        .status
                        .map(|s| s.to_string())
                        .unwrap_or_else(|| t.outcome.clone());
                    *statuses.entry(k).or_insert(0) += 1;
                }
                OperationSummary {
                    plugin,
                    operation,
                    requests: ts.len() as u32,
                    statuses,
                    p50_ms: percentile(&lat, 50),
                    p95_ms: percentile(&lat, 95),
                    // Saturating: a hostile server's counts must not overflow the host.
                    retries: ts.iter().fold(0, |a, t| a.saturating_add(t.retry_count)),
                    timeouts: ts.iter().fold(0, |a, t| a.saturating_add(t.timeout_count)),
                    input_tokens: ts
                        .iter()
                        .filter_map(|t| t.input_tokens)
                        .fold(0, u64::saturating_add),
                    output_tokens: ts
                        .iter()
                        .filter_map(|t| t.output_tokens)
                        .fold(0, u64::saturating_add),
                    first_chunk_p50_ms: {
                        let mut first: Vec<u64> = ts
                            .iter()
                            .filter_map(|t| t.stream.as_ref()?.first_chunk_ms)
                            .collect();
                        first.sort_unstable();
                        (!first.is_empty()).then(|| percentile(&first, 50))
                    },
                }
            })
            .collect()
    }

    /// The record as JSON, redacted once more as a whole.
    pub fn to_json(&self, redactor: &OutputRedactor) -> serde_json::Value {
        let mut v = serde_json::to_value(self).unwrap_or_default();
        redactor.redact_json(&mut v);
        v
    }

    /// Trim the record until its JSON is at most `max` bytes, dropping the
    /// parts a guest can grow first (request shapes and observed fields,
    /// evidence and details of findings, then telemetry entries), and say so
    /// in [`Record::truncated`].
    pub fn fit(&mut self, max: usize) {
        let size = |r: &Record| serde_json::to_vec(r).map(|v| v.len()).unwrap_or(usize::MAX);
        let before = size(self);
        if before <= max {
            return;
        }
        let mut cut = Vec::new();
        for t in &mut self.telemetry {
            t.request_shape = None;
            t.response_fields.clear();
        }
        cut.push("telemetry request shapes and response fields");
        if size(self) > max {
            for f in &mut self.findings {
                f.detail = crate::text::one_line(&f.detail, 512);
                f.evidence.truncate(8);
                for e in &mut f.evidence {
                    e.value = crate::text::one_line(&e.value, 256);
                }
            }
            for p in &mut self.plugins {
                p.findings.clear();
            }
            cut.push("finding details and evidence");
        }
        if size(self) > max {
            let keep = self.telemetry.len().min(512);
            self.telemetry.truncate(keep);
            cut.push("telemetry entries past the first 512");
        }
        while size(self) > max && self.findings.len() > 1 {
            let n = self.findings.len() / 2;
            // Keep failing findings first: they decide the outcome.
            self.findings
                .sort_by_key(|f| std::cmp::Reverse(f.verdict == Verdict::Fail));
            self.findings.truncate(n);
            cut.push("findings (failing ones kept first)");
        }
        cut.dedup();
        self.truncated = Some(format!(
            "the record was {before} bytes, over its cap of {max}: cut {}",
            cut.join(", ")
        ));
    }
}

/// Nearest-rank percentile of sorted values (0 when empty).
pub fn percentile(sorted: &[u64], p: u32) -> u64 {
    if sorted.is_empty() {
        return 0;
    }
    let rank = (f64::from(p) / 100.0 * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

/// Paths of a written record directory.
#[derive(Debug, Clone)]
pub struct RecordPaths {
    /// The directory.
    pub dir: PathBuf,
    /// `record.json`.
    pub record: PathBuf,
    /// `report.md`.
    pub report: PathBuf,
    /// `junit.xml`.
    pub junit: PathBuf,
    /// `log.jsonl`.
    pub log: PathBuf,
    /// `findings.sarif`.
    pub sarif: PathBuf,
}

/// Write `bytes` to `path` atomically: a temp file in the same directory, then rename.
///
/// # Errors
///
/// The I/O error.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let dir = path.parent().unwrap_or(Path::new("."));
    let mut tmp = tempfile::Builder::new()
        .prefix(".shipgate-")
        .tempfile_in(dir)?;
    tmp.write_all(bytes)?;
    // Records are shared with later operators: readable like any other file.
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        tmp.as_file()
            .set_permissions(std::fs::Permissions::from_mode(0o644))?;
    }
    tmp.as_file().sync_all()?;
    tmp.persist(path).map_err(|e| e.error)?;
    Ok(())
}

/// Write the record directory `<out>/<run-id>/`, every file atomically.
///
/// # Errors
///
/// The I/O error, naming the path.
pub fn write_record_dir(
    out: &Path,
    record: &Record,
    log: &[LogRecord],
    redactor: &OutputRedactor,
    junit: super::junit::JunitOptions,
) -> std::io::Result<RecordPaths> {
    let mut fitted;
    let record = if serde_json::to_vec(record)
        .map(|v| v.len())
        .unwrap_or(usize::MAX)
        > MAX_RECORD_BYTES
    {
        fitted = record.clone();
        fitted.fit(MAX_RECORD_BYTES);
        &fitted
    } else {
        record
    };
    let dir = out.join(&record.run_id);
    std::fs::create_dir_all(&dir).map_err(|e| {
        std::io::Error::new(e.kind(), format!("cannot create {}: {e}", dir.display()))
    })?;
    let paths = RecordPaths {
        record: dir.join("record.json"),
        report: dir.join("report.md"),
        junit: dir.join("junit.xml"),
        log: dir.join("log.jsonl"),
        sarif: dir.join("findings.sarif"),
        dir,
    };
    let json =
        serde_json::to_vec_pretty(&record.to_json(redactor)).map_err(std::io::Error::other)?;
    let mut md = Vec::new();
    super::markdown::render(record, &mut md)?;
    let md = redactor.redact(&String::from_utf8_lossy(&md)).into_owned();
    let junit = super::junit::render(record, junit).map_err(std::io::Error::other)?;
    let junit = redactor.redact(&junit).into_owned();
    let sarif =
        serde_json::to_vec_pretty(&super::sarif::render(record)).map_err(std::io::Error::other)?;
    let sarif = redactor
        .redact(&String::from_utf8_lossy(&sarif))
        .into_owned();
    let mut lines = String::new();
    let mut dropped = 0usize;
    for rec in log {
        let mut v = serde_json::to_value(rec).unwrap_or_default();
        redactor.redact_json(&mut v);
        let line = v.to_string();
        // Enforce: log.jsonl has a size cap.
        if lines.len() + line.len() + 1 > MAX_LOG_BYTES {
            dropped += 1;
            continue;
        }
        lines.push_str(&line);
        lines.push('\n');
    }
    if dropped > 0 {
        lines.push_str(
            &serde_json::json!({"ts": crate::now_rfc3339(), "source": "host", "level": "warn",
                "message": format!("{dropped} log records dropped over the log.jsonl cap of {MAX_LOG_BYTES} bytes"), "fields": {}})
            .to_string(),
        );
        lines.push('\n');
    }
    // The log and reports first, record.json last: a record.json on disk means a complete directory.
    for (path, bytes) in [
        (&paths.log, lines.as_bytes()),
        (&paths.junit, junit.as_bytes()),
        (&paths.sarif, sarif.as_bytes()),
        (&paths.report, md.as_bytes()),
        (&paths.record, json.as_slice()),
    ] {
        write_atomic(path, bytes).map_err(|e| {
            std::io::Error::new(e.kind(), format!("cannot write {}: {e}", path.display()))
        })?;
    }
    Ok(paths)
}

/// Check, before a run, that records can be written under `out`: the
/// directory exists or can be made, and a file can be written in it.
///
/// # Errors
///
/// Why not.
pub fn check_writable(out: &Path) -> std::io::Result<()> {
    std::fs::create_dir_all(out)?;
    let probe = tempfile::NamedTempFile::new_in(out)?;
    probe.close()
}

/// Copy a run's files to `<out>/latest/`, each atomically: a stable path
/// for CI upload steps.
///
/// # Errors
///
/// The I/O error, naming the path.
pub fn update_latest(out: &Path, paths: &RecordPaths) -> std::io::Result<()> {
    let latest = out.join("latest");
    std::fs::create_dir_all(&latest)?;
    // record.json last, as in the run directory.
    for file in [
        &paths.log,
        &paths.junit,
        &paths.sarif,
        &paths.report,
        &paths.record,
    ] {
        let name = file.file_name().unwrap_or_default();
        let to = latest.join(name);
        write_atomic(&to, &std::fs::read(file)?).map_err(|e| {
            std::io::Error::new(e.kind(), format!("cannot write {}: {e}", to.display()))
        })?;
    }
    Ok(())
}

/// Most bytes appended to `GITHUB_STEP_SUMMARY` (GitHub shows up to 1 MiB).
pub const MAX_STEP_SUMMARY_BYTES: usize = 512 * 1024;

/// Append the run's `report.md` to a GitHub Actions step summary file.
///
/// # Errors
///
/// The I/O error.
pub fn append_step_summary(summary: &Path, report: &Path) -> std::io::Result<()> {
    use std::io::Write as _;
    let mut md = std::fs::read_to_string(report)?;
    if md.len() > MAX_STEP_SUMMARY_BYTES {
        let mut cut = MAX_STEP_SUMMARY_BYTES;
        while !md.is_char_boundary(cut) {
            cut -= 1;
        }
        md.truncate(cut);
        md.push_str("\n\n… (cut: the whole report is in report.md)\n");
    }
    let mut f = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(summary)?;
    writeln!(f, "{md}")
}

/// How one plugin run ended.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case", tag = "status", content = "reason")]
pub enum RunStatus {
    /// `run` returned findings.
    Completed,
    /// It did not; the reason names the limit or failure.
    Failed(String),
    /// It was not run; the reason says why (the canary could not authenticate,
    /// the run was interrupted first).
    Skipped(String),
}

impl RunStatus {
    /// How it ended, in words.
    pub fn describe(&self) -> String {
        match self {
            RunStatus::Completed => "completed".into(),
            RunStatus::Failed(why) => format!("failed: {why}"),
            RunStatus::Skipped(why) => format!("skipped: {why}"),
        }
    }
}

/// Everything the host observed of one plugin run.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct PluginRun {
    /// The plan's name for it.
    pub name: String,
    /// From `describe`, when it answered.
    pub version: Option<String>,
    /// From `describe`.
    pub summary: Option<String>,
    /// Checklist items it says it can cover.
    pub covers: Vec<String>,
    /// Every finding id it declares (CI reports show the ones not reached as skipped).
    #[serde(default)]
    pub declared_findings: Vec<String>,
    /// sha256 of the component.
    pub sha256: String,
    /// Where it came from.
    pub source: String,
    /// How it ended.
    pub status: RunStatus,
    /// Its findings, plus host findings about it (in the record, listed once at top level).
    #[serde(skip_serializing, default)]
    pub findings: Vec<Finding>,
    /// Wall-clock duration, ms.
    pub duration_ms: u64,
    /// Fuel consumed, when fuel was limited.
    pub fuel_used: Option<u64>,
    /// HTTP requests sent.
    pub requests: u32,
    /// What its findings are evidence about, as the plan assigns it.
    pub subject: crate::checklist::Subject,
}

/// A denial the host recorded.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Denial {
    /// The plugin.
    pub plugin: String,
    /// Why.
    pub reason: String,
}

/// One log line of the run (`log.jsonl`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LogRecord {
    /// RFC 3339 time.
    pub ts: String,
    /// `host` or the plugin's name.
    pub source: String,
    /// `trace` .. `error`.
    pub level: String,
    /// The message.
    pub message: String,
    /// Key/value fields.
    pub fields: BTreeMap<String, String>,
}

/// Largest record read (records are written capped at [`MAX_RECORD_BYTES`]).
const MAX_RECORD_READ: u64 = 64 * 1024 * 1024;

/// Read a record.json (or the record.json inside a run directory).
///
/// # Errors
///
/// One line naming the file and what is wrong: unreadable, not a regular
/// file, not JSON, another record version, or the JSON path of the first
/// value that does not fit.
pub fn read(path: &Path) -> Result<Record, String> {
    let file = if path.is_dir() {
        path.join("record.json")
    } else {
        path.to_owned()
    };
    let bytes = crate::config_error::read_regular(&file, MAX_RECORD_READ)
        .map_err(|e| format!("{}: cannot read the record: {e}", file.display()))?;
    parse(&file, &bytes)
}

/// Parse a record's bytes; `file` names it in errors. See [`read`].
///
/// # Errors
///
/// As [`read`].
pub fn parse(file: &Path, bytes: &[u8]) -> Result<Record, String> {
    let v: serde_json::Value =
        serde_json::from_slice(bytes).map_err(|e| format!("{}: not JSON: {e}", file.display()))?;
    let version = v.get("record_version").and_then(|v| v.as_u64());
    if version != Some(u64::from(RECORD_VERSION)) {
        let found = match &version {
            Some(n) => format!("record_version {n}"),
            None => "no record_version".to_owned(),
        };
        return Err(format!(
            "{}: not a shipgate record of version {RECORD_VERSION} (it has {found})",
            file.display(),
        ));
    }
    serde_path_to_error::deserialize(v).map_err(|e| {
        format!(
            "{}: not a valid shipgate record: at `{}`: {}",
            file.display(),
            e.path(),
            e.inner()
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles_use_nearest_rank() {
        assert_eq!(percentile(&[], 50), 0);
        assert_eq!(percentile(&[5], 95), 5);
        let v: Vec<u64> = (1..=100).collect();
        assert_eq!(percentile(&v, 50), 50);
        assert_eq!(percentile(&v, 95), 95);
    }

    #[test]
    fn atomic_write_replaces_whole_file() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("f.json");
        write_atomic(&p, b"first").unwrap();
        write_atomic(&p, b"second").unwrap();
        assert_eq!(std::fs::read(&p).unwrap(), b"second");
        assert_eq!(
            std::fs::read_dir(dir.path()).unwrap().count(),
            1,
            "no temp files left"
        );
    }
}
