//! Building the [`Record`] of a finished run from what the host kept: the
//! plugin runs, the telemetry, the denials, the decision.

use super::record::{
    Denial, FailureMode, FieldObservation, HostInfo, PluginRun, RECORD_VERSION, Record, ToolInfo,
};
use crate::decision::Decision;
use crate::redact::OutputRedactor;
use crate::telemetry::RequestTelemetry;
use std::collections::BTreeSet;

/// Most distinct (pointer, type) pairs a record keeps of the responses.
pub const MAX_OBSERVED_FIELDS: usize = 1024;

/// The parts of a finished run.
#[derive(Debug)]
pub struct RunParts {
    /// The run id.
    pub run_id: String,
    /// RFC 3339 start time.
    pub started_at: String,
    /// Why it is incomplete, if it is.
    pub incomplete: Option<String>,
    /// The contract as JSON.
    pub contract: serde_json::Value,
    /// Where the contract came from.
    pub contract_source: String,
    /// The plan as JSON (redacted here).
    pub plan: serde_json::Value,
    /// Every plugin run, in plan order, then the host's own.
    pub runs: Vec<PluginRun>,
    /// Telemetry, in plan order of the plugins.
    pub telemetry: Vec<RequestTelemetry>,
    /// Denials.
    pub denials: Vec<Denial>,
    /// The decision.
    pub decision: Decision,
    /// The plan's name of the bundled canary, whose first successful chat
    /// request becomes the request template.
    pub canary: Option<String>,
    /// The application under test's episodes, when the plan runs one.
    pub application: Option<super::episodes::ApplicationRun>,
}

/// The record of a run.
pub fn record(parts: RunParts, redactor: &OutputRedactor) -> Record {
    let RunParts {
        run_id,
        started_at,
        incomplete,
        contract,
        contract_source,
        mut plan,
        runs,
        telemetry,
        denials,
        decision,
        canary,
        application,
    } = parts;
    let chat: Vec<&RequestTelemetry> = telemetry
        .iter()
        .filter(|t| t.genai_operation == "chat")
        .collect();
    // Keyed by the plugin the host assigned, never by a guest's label.
    let request_template = chat
        .iter()
        .find(|t| {
            Some(&t.plugin) == canary.as_ref()
                && t.outcome == "response"
                && t.auth_mode == "configured"
        })
        .and_then(|t| t.request_shape.clone());
    let observed: BTreeSet<FieldObservation> = chat
        .iter()
        .filter(|t| t.status.is_some_and(|s| (200..300).contains(&s)))
        .flat_map(|t| {
            t.response_fields.iter().map(|(p, ty)| FieldObservation {
                pointer: p.clone(),
                json_type: ty.clone(),
            })
        })
        .collect();
    let failure_modes = telemetry
        .iter()
        .filter(|t| t.error_category != "none" || t.auth_mode != "configured")
        .map(|t| FailureMode {
            plugin: t.plugin.clone(),
            operation: t.operation.clone(),
            auth_mode: t.auth_mode.clone(),
            outcome: t.outcome.clone(),
            status: t.status,
            category: t.error_category.clone(),
        })
        .collect();
    redactor.redact_json(&mut plan);
    let findings: Vec<_> = runs.iter().flat_map(|r| r.findings.clone()).collect();
    Record {
        record_version: RECORD_VERSION,
        tool: ToolInfo {
            name: "shipgate".into(),
            version: env!("CARGO_PKG_VERSION").into(),
            wit: format!(
                "{}@{}",
                crate::runtime::load_info::WIT_PACKAGE,
                crate::runtime::load_info::WIT_VERSION
            ),
        },
        run_id,
        started_at,
        ended_at: crate::now_rfc3339(),
        complete: incomplete.is_none(),
        incomplete_reason: incomplete,
        host: HostInfo {
            hostname: hostname(),
            os: std::env::consts::OS.into(),
            arch: std::env::consts::ARCH.into(),
        },
        contract,
        contract_source,
        plan,
        plugins: runs,
        request_template,
        // Bounded: a few distinct shapes are normal; a server varying its
        // keys per response must not grow the record without end.
        response_fields_observed: observed.into_iter().take(MAX_OBSERVED_FIELDS).collect(),
        failure_modes_tested: failure_modes,
        telemetry_summary: Record::summarize(&telemetry),
        telemetry,
        denials,
        counts: Record::count(&findings),
        findings,
        decision,
        truncated: None,
        application,
    }
}

fn hostname() -> String {
    std::fs::read_to_string("/etc/hostname")
        .map(|s| s.trim().to_owned())
        .ok()
        .filter(|s| !s.is_empty())
        .or_else(|| std::env::var("HOSTNAME").ok())
        .unwrap_or_else(|| "unknown".into())
}
