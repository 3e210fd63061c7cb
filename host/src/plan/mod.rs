//! The plan: which checks run, with which settings, thresholds, limits and grants.
//!
//! ```toml
//! schema = 1
//!
//! [thresholds]            # the guide says these must stay configurable
//! latency_ms = 2000
//!
//! [sandbox]               # per-plugin limits (defaults for every plugin)
//! deadline_ms = 30000
//!
//! [decision]
//! uncovered = "flag"      # an unverified checklist item: "flag", "hold" or "ignore"
//! hold_on_warn = ["canary/canary.latency"]
//!
//! [attestations]          # checklist items an operator vouches for, with evidence
//! rollback-documented = "runbook: https://wiki.example/rollback-chat"
//!
//! [[plugins]]
//! name = "canary"         # a bundled check, or `path = "my-check.wasm"`
//! settings = { }
//! thresholds = { latency_ms = 800 }
//! ```
//!
//! Overrides: `--set thresholds.latency_ms=800`, `--set canary.latency_ms=800`
//! (a threshold, limit or setting of one plugin), and the same assignments,
//! comma-separated, in `SHIPGATE_SET`.

mod overrides;
pub mod ranges;

pub use overrides::Override;

use crate::config_error::ConfigError;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// The plan file format version this build reads.
pub const PLAN_SCHEMA: u32 = 1;

/// Thresholds the validation guide says must stay configurable.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Thresholds {
    /// Latency the happy path should stay under, in ms (over it: warning).
    pub latency_ms: u32,
    /// Hard latency limit in ms (over it: failure).
    pub latency_hard_ms: u32,
    /// Largest prompt the application sends, in bytes; enforced before dispatch.
    pub input_limit_bytes: u32,
    /// Output token ceiling sent with requests.
    pub output_token_ceiling: u32,
    /// Default client timeout per request, in ms.
    pub request_timeout_ms: u32,
    /// Retry policy: most attempts per request (1 = no retry).
    pub retry_max_attempts: u32,
    /// Retry policy: total time budget per request, in ms.
    pub retry_budget_ms: u32,
    /// Retry policy: first backoff delay, in ms (doubles each attempt, with jitter).
    pub retry_base_delay_ms: u32,
    /// Retry policy: largest backoff delay, in ms.
    pub retry_max_delay_ms: u32,
    /// Retry policy: the longest `retry-after` honoured, in ms.
    pub retry_after_cap_ms: u32,
    /// How soon a stream's first content should arrive, in ms (over it: warning).
    pub stream_first_chunk_ms: u32,
}

impl Default for Thresholds {
    fn default() -> Self {
        Thresholds {
            latency_ms: 2_000,
            latency_hard_ms: 10_000,
            input_limit_bytes: 32 * 1024,
            output_token_ceiling: 64,
            request_timeout_ms: 30_000,
            retry_max_attempts: 3,
            retry_budget_ms: 20_000,
            retry_base_delay_ms: 500,
            retry_max_delay_ms: 8_000,
            retry_after_cap_ms: 60_000,
            stream_first_chunk_ms: 2_000,
        }
    }
}

/// Hard limits the host enforces on one plugin run.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SandboxLimits {
    /// Wall-clock deadline for the whole run, including time spent in host calls, in ms.
    pub deadline_ms: u64,
    /// Linear memory cap, in MiB.
    pub memory_mib: u64,
    /// Fuel budget (instructions, roughly); 0 means no fuel limit.
    pub fuel: u64,
    /// Most HTTP requests the plugin may send.
    pub max_requests: u32,
    /// Largest request body, in bytes.
    pub max_request_bytes: u64,
    /// Largest response body read, in bytes (capped while streaming).
    pub max_response_bytes: u64,
    /// Most log records.
    pub max_log_records: u32,
    /// Most log bytes.
    pub max_log_bytes: u64,
    /// Most findings.
    pub max_findings: u32,
    /// Largest total size of one finding's text and evidence, in bytes.
    pub max_finding_bytes: u64,
    /// Wall-clock time to compile a plugin file, in ms (in a child process).
    pub compile_ms: u64,
    /// Memory the compiler process may use for a plugin file, in MiB.
    pub compile_memory_mib: u64,
}

impl Default for SandboxLimits {
    fn default() -> Self {
        SandboxLimits {
            deadline_ms: 60_000,
            memory_mib: 64,
            fuel: 0,
            max_requests: 64,
            max_request_bytes: 1024 * 1024,
            max_response_bytes: 4 * 1024 * 1024,
            max_log_records: 1_000,
            max_log_bytes: 1024 * 1024,
            max_findings: 256,
            max_finding_bytes: 64 * 1024,
            compile_ms: 60_000,
            compile_memory_mib: 2048,
        }
    }
}

/// `[run]`: how a run is scheduled against the target.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RunConfig {
    /// Checks run at once after the canary (`--jobs`), 1 to 64.
    pub jobs: u32,
    /// Requests in flight at once against the target, all checks together, 1 to 256.
    pub max_in_flight: u32,
    /// Requests started per second against the target, on average, 1 to 10 000
    /// (a burst of one second's worth is allowed). A 429 with `retry-after`
    /// pauses every check.
    pub requests_per_second: u32,
}

impl Default for RunConfig {
    fn default() -> Self {
        RunConfig {
            jobs: 4,
            max_in_flight: 8,
            requests_per_second: 20,
        }
    }
}

/// `[application]`: the team's own client, run once per episode under a
/// fault scenario, through shipgate's interposer (see `application`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ApplicationConfig {
    /// The command and its arguments (`shipgate run -- CMD ARGS` sets it):
    /// one run per episode, judged when it exits.
    pub command: Vec<String>,
    /// Or a service: started per episode, asked for one piece of LLM work by
    /// `trigger` once `ready_url` answers, then stopped.
    pub start: Vec<String>,
    /// A loopback URL that answers 2xx once the service is up.
    pub ready_url: Option<String>,
    /// The request that makes the service do one piece of LLM work.
    pub trigger: Option<Trigger>,
    /// The variable that gives the application the base URL.
    pub base_url_env: String,
    /// The variable that gives the application its (placeholder) key.
    pub api_key_env: String,
    /// Other variables the application needs (its environment is cleared).
    pub env: BTreeMap<String, String>,
    /// Each episode's timeout, ms (1 to 3 600 000).
    pub timeout_ms: u64,
    /// The scenarios, one episode each, in order (default: all of them).
    pub scenarios: Vec<crate::application::scenario::Scenario>,
}

/// `[application] trigger`: one request to a service under test.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Trigger {
    /// `GET` or `POST` (the default).
    pub method: String,
    /// A loopback URL (127.0.0.1, ::1 or localhost).
    pub url: String,
    /// The body (JSON, say), sent with `content_type`.
    pub body: String,
    /// Its content type.
    pub content_type: String,
}

impl Default for Trigger {
    fn default() -> Self {
        Trigger {
            method: "POST".into(),
            url: String::new(),
            body: String::new(),
            content_type: "application/json".into(),
        }
    }
}

/// Whether `url` is http(s) on a loopback host: the only place a service
/// under test is asked for work (shipgate never reaches elsewhere for it).
pub fn loopback_url(url: &str) -> bool {
    reqwest::Url::parse(url).is_ok_and(|u| {
        matches!(u.scheme(), "http" | "https")
            && matches!(u.host_str(), Some("127.0.0.1" | "localhost" | "[::1]"))
    })
}

impl Default for ApplicationConfig {
    fn default() -> Self {
        ApplicationConfig {
            command: Vec::new(),
            start: Vec::new(),
            ready_url: None,
            trigger: None,
            base_url_env: "OPENAI_BASE_URL".into(),
            api_key_env: "OPENAI_API_KEY".into(),
            env: BTreeMap::new(),
            timeout_ms: 60_000,
            scenarios: crate::application::scenario::Scenario::ALL.to_vec(),
        }
    }
}

impl ApplicationConfig {
    /// Check that there is something to run (the plan's `command`, or the
    /// command line's `-- CMD`, which comes after the plan is read).
    ///
    /// # Errors
    ///
    /// The command is empty.
    pub fn check_command(&self) -> Result<(), String> {
        if self.command.is_empty() && self.start.is_empty() {
            return Err("`[application]` names no command: set `command = [\"python\", \"app.py\"]` (or `start`, `ready_url` and `trigger` for a service) in the plan, or pass it after `--`".into());
        }
        if !self.command.is_empty() && !self.start.is_empty() {
            return Err("`[application]` has both `command` (run per episode) and `start` (a service): keep one".into());
        }
        Ok(())
    }

    /// Check what a plan or the command line gave.
    ///
    /// # Errors
    ///
    /// `(key, message)` naming what is wrong.
    pub fn check(&self) -> Result<(), (String, String)> {
        let bad = |k: &str, m: String| Err((k.to_owned(), m));
        if self.command.first().is_some_and(|c| c.trim().is_empty()) {
            return bad(
                "command",
                "`application.command` starts with an empty program name".into(),
            );
        }
        let var_ok = |v: &str| {
            !v.is_empty()
                && v.len() <= 128
                && v.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_')
                && !v.as_bytes()[0].is_ascii_digit()
        };
        for (key, v) in [
            ("base_url_env", &self.base_url_env),
            ("api_key_env", &self.api_key_env),
        ] {
            if !var_ok(v) {
                return bad(
                    key,
                    format!(
                        "`application.{key}` = {v:?} is not an environment variable name (letters, digits, _)"
                    ),
                );
            }
        }
        for (k, v) in &self.env {
            if !var_ok(k) || v.contains('\0') {
                return bad(
                    "env",
                    format!(
                        "`application.env.{k}` is not a usable variable (a name of letters, digits and _, a value without NUL)"
                    ),
                );
            }
            if *k == self.base_url_env || *k == self.api_key_env || k == "PATH" {
                return bad(
                    "env",
                    format!("`application.env.{k}` is set by shipgate itself; remove it"),
                );
            }
        }
        if !self.start.is_empty() || self.trigger.is_some() || self.ready_url.is_some() {
            if self.start.is_empty() || self.trigger.is_none() {
                return bad("start", "a service needs `start` (its command) and `trigger` (the request that makes it work); `ready_url` is optional".into());
            }
            for (key, url) in [
                ("ready_url", self.ready_url.as_deref()),
                ("trigger", self.trigger.as_ref().map(|t| t.url.as_str())),
            ] {
                if let Some(url) = url
                    && !loopback_url(url)
                {
                    return bad(
                        key,
                        format!(
                            "`application.{key}` = {url:?} must be an http URL on 127.0.0.1, ::1 or localhost"
                        ),
                    );
                }
            }
            if let Some(t) = &self.trigger
                && !matches!(t.method.as_str(), "GET" | "POST")
            {
                return bad(
                    "trigger",
                    format!(
                        "`application.trigger.method` = {:?}: use \"GET\" or \"POST\"",
                        t.method
                    ),
                );
            }
        }
        if !(1..=3_600_000).contains(&self.timeout_ms) {
            return bad(
                "timeout_ms",
                format!(
                    "`application.timeout_ms` = {} is out of range: 1 to 3600000 ms",
                    self.timeout_ms
                ),
            );
        }
        if self.scenarios.is_empty() {
            return bad(
                "scenarios",
                "`application.scenarios` is empty: name at least one, e.g. [\"clean\"]".into(),
            );
        }
        for (i, s) in self.scenarios.iter().enumerate() {
            if self.scenarios[..i].contains(s) {
                return bad(
                    "scenarios",
                    format!("`application.scenarios` names `{}` twice", s.name()),
                );
            }
        }
        Ok(())
    }
}

/// An auth mode a plugin may be granted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum AuthGrant {
    /// The configured credential.
    Configured,
    /// No credential.
    Omitted,
    /// The host-made invalid token.
    Invalid,
}

/// What one plugin may do beyond the defaults.
///
/// ```toml
/// grants = { auth = ["configured", "invalid"], audit = true, headers = ["OpenAI-Project"],
///            models = ["gpt-4o"], faults = false, covers = ["logs-redacted"] }
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Grants {
    /// Auth modes it may use (default: only `configured`).
    pub auth: Vec<AuthGrant>,
    /// May send a request body over `input_limit_bytes` to observe the provider.
    pub send_oversized: bool,
    /// May use the `audit` capability (run output and `[audit] log_dirs`).
    pub audit: bool,
    /// Request headers it may set, by name, besides `content-type`, `accept`,
    /// `idempotency-key` and those the contract documents. Headers the host
    /// owns (credentials, routing, ranges, encodings) cannot be granted.
    pub headers: Vec<String>,
    /// Models it may name besides the contract's (each one may cost money).
    pub models: Vec<String>,
    /// Paths it may read (GET, HEAD) besides `/models` and `/models/*`;
    /// a trailing `*` matches any rest (`"/files/*"`). A provider's other
    /// endpoints can hold the organisation's data.
    pub paths: Vec<String>,
    /// Top-level chat fields it may send besides those that leave the cost
    /// unchanged (`service_tier`, `web_search_options`, ...). `model`, `n`,
    /// `best_of` and the output ceilings stay checked whatever is granted.
    pub fields: Vec<String>,
    /// Message content part types it may send besides `text` (`image_url`,
    /// `input_audio`, `file`: each bills more, and a file part can read the
    /// organisation's stored files).
    pub parts: Vec<String>,
    /// May ask a target other than the built-in mock for faults (a
    /// fault-injecting proxy that honours `x-shipgate-fault`).
    pub faults: bool,
    /// May read the application under test's traffic (the episodes).
    pub traffic: bool,
    /// Checklist items its findings may cover. Absent: a bundled check gets
    /// the items its descriptor declares, a plugin file gets none. Items only
    /// an operator can vouch for (`rollout-flag-available`,
    /// `rollback-documented`) are never granted.
    pub covers: Option<Vec<String>>,
    /// What its findings are evidence about: `provider`, `application` or
    /// `shipgate`. Absent: a bundled check's documented default, `provider`
    /// for a plugin file. (`operator` evidence comes only from attestations.)
    pub subject: Option<crate::checklist::Subject>,
}

impl Default for Grants {
    fn default() -> Self {
        Grants {
            auth: vec![AuthGrant::Configured],
            send_oversized: false,
            audit: false,
            headers: Vec::new(),
            models: Vec::new(),
            paths: Vec::new(),
            fields: Vec::new(),
            parts: Vec::new(),
            faults: false,
            traffic: false,
            covers: None,
            subject: None,
        }
    }
}

impl Grants {
    /// Check what the plan wrote; `at` names the plugin entry.
    ///
    /// # Errors
    ///
    /// A message naming the grant and the value.
    pub fn validate(&self, at: &str) -> Result<(), String> {
        for h in &self.headers {
            crate::capability::http::policy::grantable_header(h)
                .map_err(|why| format!("`{at}.grants.headers`: {why}"))?;
        }
        for m in &self.models {
            if m.is_empty()
                || m.len() > 256
                || m.chars().any(|c| c.is_control() || c.is_whitespace())
            {
                return Err(format!("`{at}.grants.models`: {m:?} is not a model id"));
            }
        }
        for p in &self.paths {
            crate::capability::http::policy::grantable_path(p)
                .map_err(|why| format!("`{at}.grants.paths`: {why}"))?;
        }
        for t in &self.parts {
            if t.is_empty()
                || t.len() > 64
                || !t.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_')
            {
                return Err(format!(
                    "`{at}.grants.parts`: {t:?} is not a content part type"
                ));
            }
        }
        for f in &self.fields {
            use crate::capability::http::spend::CHECKED_FIELDS;
            if f.is_empty()
                || f.len() > 64
                || !f.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_')
            {
                return Err(format!("`{at}.grants.fields`: {f:?} is not a field name"));
            }
            if CHECKED_FIELDS.contains(&f.as_str()) {
                return Err(format!(
                    "`{at}.grants.fields`: `{f}` is always checked against the plan's limits and cannot be granted"
                ));
            }
        }
        if self.subject == Some(crate::checklist::Subject::Operator) {
            return Err(format!(
                "`{at}.grants.subject` cannot be \"operator\": the operator's word is an attestation ([attestations])"
            ));
        }
        for c in self.covers.iter().flatten() {
            match crate::checklist::item(c) {
                None => {
                    return Err(format!(
                        "`{at}.grants.covers`: {c:?} is not a checklist item (items: {})",
                        crate::checklist::ITEMS
                            .iter()
                            .map(|i| i.id)
                            .collect::<Vec<_>>()
                            .join(", ")
                    ));
                }
                Some(item) if item.operator_only() => {
                    return Err(format!(
                        "`{at}.grants.covers`: {c:?} can only be verified by an operator; attest it in [attestations] instead"
                    ));
                }
                Some(_) => {}
            }
        }
        Ok(())
    }

    /// The checklist items a plugin may cover: what its descriptor declares,
    /// within the grant (or, with no grant, all of it for a bundled check and
    /// none for a file).
    pub fn allowed_covers(&self, declared: &[String], bundled: bool) -> Vec<String> {
        declared
            .iter()
            .filter(|c| crate::checklist::item(c).is_some_and(|i| !i.operator_only()))
            .filter(|c| match &self.covers {
                Some(granted) => granted.contains(c),
                None => bundled,
            })
            .cloned()
            .collect()
    }
}

/// What an unverified checklist item does to the decision.
///
/// There is no "ignore": an item nobody verified must never make a run look
/// better than the same run with a check that failed it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum UncoveredRule {
    /// Hold (the default): the guide's checklist is a release gate.
    Hold,
    /// Ship behind flag at best (with an attested rollout flag).
    Flag,
}

/// How warnings appear in JUnit.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum JunitWarn {
    /// A passing test case with the warning in its output.
    Pass,
    /// A failing test case.
    Failure,
}

/// Decision rules the plan may tune.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct DecisionRules {
    /// What an unverified checklist item does.
    pub uncovered: UncoveredRule,
    /// Findings whose warning means Hold, qualified by the plugin that makes
    /// them: `canary/canary.latency`, or a prefix ending in `.`
    /// (`canary/canary.`). A rule names one plugin's finding, so another
    /// plugin cannot trigger (or dodge) it with a finding of the same id.
    pub hold_on_warn: Vec<String>,
    /// How warnings appear in JUnit.
    pub junit_warn: JunitWarn,
    /// A usage or latency ratio over a baseline record that warns.
    pub baseline_spike_ratio: f64,
}

impl Default for DecisionRules {
    fn default() -> Self {
        DecisionRules {
            uncovered: UncoveredRule::Hold,
            hold_on_warn: Vec::new(),
            junit_warn: JunitWarn::Pass,
            baseline_spike_ratio: 2.0,
        }
    }
}

/// Where a plugin's component comes from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum PluginSource {
    /// A check bundled into the shipgate binary.
    Bundled(String),
    /// A `.wasm` component file.
    File(PathBuf),
}

/// One plugin to run, with everything resolved.
#[derive(Debug, Clone, Serialize)]
pub struct PluginSpec {
    /// The name used in overrides and the record.
    pub name: String,
    /// Where its component comes from.
    pub source: PluginSource,
    /// Expected sha256 of the component, hex.
    pub sha256: Option<String>,
    /// Its own settings, as strings.
    pub settings: BTreeMap<String, String>,
    /// Thresholds (plan's, with its overrides).
    pub thresholds: Thresholds,
    /// Limits (plan's, with its overrides).
    pub limits: SandboxLimits,
    /// Grants.
    pub grants: Grants,
    /// What its findings are evidence about (the grant, or the default).
    pub subject: crate::checklist::Subject,
}

/// The documented default subject of a bundled check's findings.
///
/// | check | subject | why |
/// |---|---|---|
/// | `canary`, `contract`, `negative-probes`, `guardrails` | provider | they observe the provider's API |
/// | `retry-timeout`, `observability` | shipgate | they judge shipgate's own client and telemetry |
/// | `redaction-audit` | application when `[audit] log_dirs` is set, else shipgate | it reads the team's logs, or only shipgate's own output |
/// | any other bundled check, and plugin files | provider | |
pub fn default_subject(bundled: Option<&str>, has_log_dirs: bool) -> crate::checklist::Subject {
    use crate::checklist::Subject;
    match bundled {
        Some("retry-timeout" | "observability") => Subject::Shipgate,
        Some("client-resilience" | "client-contract" | "client-logs") => Subject::Application,
        Some("redaction-audit") if has_log_dirs => Subject::Application,
        Some("redaction-audit") => Subject::Shipgate,
        _ => Subject::Provider,
    }
}

/// `[audit]`: what a redaction audit may read besides the run's own output.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct AuditConfig {
    /// Directories of logs the team's own application wrote (relative to the plan file).
    pub log_dirs: Vec<PathBuf>,
}

/// A validated plan.
#[derive(Debug, Clone, Serialize)]
pub struct Plan {
    /// The plugins, in run order.
    pub plugins: Vec<PluginSpec>,
    /// Plan-wide thresholds (before per-plugin overrides).
    pub thresholds: Thresholds,
    /// Plan-wide limits (before per-plugin overrides).
    pub sandbox: SandboxLimits,
    /// Decision rules.
    pub decision: DecisionRules,
    /// Checklist items vouched for by an operator, with evidence.
    pub attestations: BTreeMap<String, String>,
    /// Contract sections the operator accepts as they are (assumed, or
    /// undocumented rate limits or billing), with the reason: a recorded waiver
    /// instead of a Hold.
    pub waivers: BTreeMap<String, String>,
    /// Whether prompts and completions may be written to logs and records.
    pub content_capture: bool,
    /// What the audit may read.
    pub audit: AuditConfig,
    /// Scheduling and the target's rate limits.
    pub run: RunConfig,
    /// The application under test, when the plan runs one.
    pub application: Option<ApplicationConfig>,
    /// Where the plan came from (`built-in` or a path).
    pub origin: String,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct PlanWire {
    schema: u32,
    #[serde(default)]
    thresholds: Thresholds,
    #[serde(default)]
    sandbox: SandboxLimits,
    #[serde(default)]
    decision: DecisionRules,
    #[serde(default)]
    attestations: BTreeMap<String, String>,
    #[serde(default)]
    waivers: BTreeMap<String, String>,
    #[serde(default)]
    content_capture: bool,
    #[serde(default)]
    audit: AuditConfig,
    #[serde(default)]
    run: RunConfig,
    #[serde(default)]
    application: Option<ApplicationConfig>,
    #[serde(default)]
    plugins: Vec<PluginWire>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct PluginWire {
    #[serde(default)]
    name: Option<String>,
    #[serde(default)]
    path: Option<PathBuf>,
    #[serde(default)]
    sha256: Option<String>,
    #[serde(default)]
    settings: toml::Table,
    // Read only to validate keys and types with line numbers; the effective
    // values are merged from the raw tables.
    #[serde(default)]
    #[expect(
        dead_code,
        reason = "validated on parse; effective values come from the merged tables"
    )]
    thresholds: Option<Thresholds>,
    #[serde(default)]
    #[expect(
        dead_code,
        reason = "validated on parse; effective values come from the merged tables"
    )]
    limits: Option<SandboxLimits>,
    #[serde(default)]
    grants: Grants,
}

/// Deserialize a table, naming the key whose value does not fit.
fn typed<T: serde::de::DeserializeOwned>(
    table: toml::Table,
    section: &str,
) -> Result<T, (String, String)> {
    match table.clone().try_into::<T>() {
        Ok(v) => Ok(v),
        Err(whole) => {
            // Find the one key that fails on its own.
            for (k, v) in &table {
                let mut one = toml::Table::new();
                one.insert(k.clone(), v.clone());
                if let Err(e) = one.try_into::<T>() {
                    return Err((
                        k.clone(),
                        format!("`{section}.{k}` = {v}: {}", e.message().trim()),
                    ));
                }
            }
            Err((
                String::new(),
                format!("`{section}`: {}", whole.message().trim()),
            ))
        }
    }
}

/// The built-in plan: every bundled check with default thresholds.
pub fn default_plan_toml(bundled: &[&str]) -> String {
    default_plan_toml_for(bundled, false)
}

/// A commented plan with every plan-wide key at its default and the built-in
/// plan's checks: what `shipgate init --plan` writes. It parses to the
/// built-in plan.
pub fn plan_template(bundled: &[&str]) -> String {
    let section = |name: &str, value: &dyn erased::Section| format!("[{name}]\n{}", value.toml());
    let checks = default_plan_toml_for(bundled, false);
    let checks = checks.strip_prefix("schema = 1\n").unwrap_or(&checks);
    format!(
        r#"# A shipgate plan: which checks run, with which thresholds, limits and
# grants. Every plan-wide key is here at its default; each value's range is
# in host/src/plan/ranges.rs, and `--set KEY=VALUE` overrides any of them.
schema = 1

# The thresholds the guide says must stay configurable.
{thresholds}
# Limits for each check's sandbox (see SECURITY.md).
{sandbox}
# Scheduling, and what the target may receive from all checks together.
{run}
# How findings become the decision.
{decision}
# Checklist items an operator vouches for, with evidence (the only way to
# verify the rollout flag and the rollback path).
[attestations]
# rollout-flag-available = "feature flag chat-v2, default off"
# rollback-documented = "runbook: turn chat-v2 off"

# Contract sections accepted as they are, with the reason (recorded).
[waivers]
# billing = "finance signed off, ticket FIN-42"

# The team's own logs, for the redaction audit (read-only).
# [audit]
# log_dirs = ["staging-logs"]

# The team's own client, run once per fault scenario (README: Test your own
# application); or pass it after `--`. Its judges then join the checks:
# client-resilience, client-contract and client-logs with grants = {{ traffic = true }}.
# [application]
# command = ["python", "app.py"]
# env = {{ APP_TIMEOUT_S = "2" }}
# timeout_ms = 60000

# The checks, in run order (`shipgate plugins` lists them with their settings).
{checks}"#,
        thresholds = section("thresholds", &Thresholds::default()),
        sandbox = section("sandbox", &SandboxLimits::default()),
        run = section("run", &RunConfig::default()),
        decision = section("decision", &DecisionRules::default()),
    )
}

mod erased {
    /// A plan section that renders as TOML key-value lines.
    pub trait Section {
        fn toml(&self) -> String;
    }

    impl<T: serde::Serialize> Section for T {
        fn toml(&self) -> String {
            toml::to_string(self).unwrap_or_default()
        }
    }
}

/// Bundled checks that judge the application under test: in the built-in
/// plan only when it runs one (they read its traffic).
pub const APPLICATION_JUDGES: &[&str] = &["client-resilience", "client-contract", "client-logs"];

/// The built-in plan's TOML; with `application`, the application's judges too
/// (granted its traffic).
pub fn default_plan_toml_for(bundled: &[&str], application: bool) -> String {
    let mut s = String::from("schema = 1\n");
    // The guide's order; the redaction audit reads what the others wrote, so it runs last.
    const ORDER: &[&str] = &[
        "canary",
        "stream-canary",
        "contract",
        "negative-probes",
        "retry-timeout",
        "guardrails",
        "observability",
        "client-resilience",
        "client-contract",
        "client-logs",
        "redaction-audit",
    ];
    let rank = |n: &str| {
        ORDER
            .iter()
            .position(|o| *o == n)
            .unwrap_or(ORDER.len() - 1)
    };
    let mut bundled: Vec<&str> = bundled
        .iter()
        .copied()
        .filter(|n| application || !APPLICATION_JUDGES.contains(n))
        .collect();
    bundled.sort_by_key(|n| rank(n));
    for name in &bundled {
        s.push_str(&format!("\n[[plugins]]\nname = \"{name}\"\n"));
        if *name == "negative-probes" {
            s.push_str("grants = { auth = [\"configured\", \"omitted\", \"invalid\"] }\n");
        }
        if *name == "redaction-audit" {
            s.push_str("grants = { audit = true }\n");
        }
        if APPLICATION_JUDGES.contains(name) {
            s.push_str("grants = { traffic = true }\n");
        }
    }
    s
}

impl Plan {
    /// Parse and validate a plan, then apply overrides.
    ///
    /// `bundled` names the checks built into this binary; `base_dir` resolves
    /// relative plugin paths.
    ///
    /// # Errors
    ///
    /// A [`ConfigError`] naming the file, line and key (or the override) and the fix.
    pub fn parse(
        path: &Path,
        text: &str,
        bundled: &[&str],
        overrides: &[Override],
    ) -> Result<Plan, ConfigError> {
        let help = "see the plan section of the README for every key";
        // 1. Validate the file as written, so errors point at its lines.
        let _: PlanWire =
            toml::from_str(text).map_err(|e| ConfigError::from_toml(path, text, &e, help))?;
        // 2. Apply overrides on the document, then read the effective plan.
        let mut doc: toml::Table =
            toml::from_str(text).map_err(|e| ConfigError::from_toml(path, text, &e, help))?;
        for o in overrides {
            o.apply(&mut doc).map_err(|m| ConfigError::new(path, m))?;
        }
        // Each plan-wide section on its own first, so a bad value (from the
        // file or an override) is named by its key and located.
        let section_error = |section: &str, (key, msg): (String, String)| {
            let e = ConfigError::new(path, msg);
            if crate::config_error::key_span(text, &[section, &key]).is_some() {
                e.at_key(text, &[section, &key])
            } else {
                e.help("check the --set / SHIPGATE_SET assignments")
            }
        };
        let section = |name: &str| {
            doc.get(name)
                .and_then(|v| v.as_table())
                .cloned()
                .unwrap_or_default()
        };
        let thresholds: Thresholds = typed(section("thresholds"), "thresholds")
            .map_err(|e| section_error("thresholds", e))?;
        ranges::check_thresholds("thresholds", &thresholds)
            .map_err(|e| section_error("thresholds", e))?;
        let sandbox: SandboxLimits =
            typed(section("sandbox"), "sandbox").map_err(|e| section_error("sandbox", e))?;
        ranges::check_sandbox("sandbox", &sandbox).map_err(|e| section_error("sandbox", e))?;
        let run: RunConfig = typed(section("run"), "run").map_err(|e| section_error("run", e))?;
        ranges::check_run(&run).map_err(|e| section_error("run", e))?;
        let decision: DecisionRules =
            typed(section("decision"), "decision").map_err(|e| section_error("decision", e))?;
        ranges::check_decision(&decision).map_err(|e| section_error("decision", e))?;
        if doc.contains_key("application") {
            let app: ApplicationConfig = typed(section("application"), "application")
                .map_err(|e| section_error("application", e))?;
            app.check().map_err(|e| section_error("application", e))?;
        }
        // Each plugin's own thresholds and limits, likewise.
        for (i, raw) in doc
            .get("plugins")
            .and_then(|p| p.as_array())
            .into_iter()
            .flatten()
            .enumerate()
        {
            let index = i.to_string();
            for (own, what) in [("thresholds", "thresholds"), ("limits", "limits")] {
                let Some(t) = raw.get(own).and_then(|v| v.as_table()) else {
                    continue;
                };
                let at = format!("plugins[{i}].{own}");
                let checked = if what == "thresholds" {
                    typed::<Thresholds>(t.clone(), &at).map(|_| ())
                } else {
                    typed::<SandboxLimits>(t.clone(), &at).map(|_| ())
                };
                checked.map_err(|(key, msg)| {
                    let e = ConfigError::new(path, msg);
                    let k = ["plugins", index.as_str(), own, key.as_str()];
                    if crate::config_error::key_span(text, &k).is_some() {
                        e.at_key(text, &k)
                    } else {
                        e.help("check the --set / SHIPGATE_SET assignments")
                    }
                })?;
            }
        }
        let wire: PlanWire = doc.clone().try_into().map_err(|e: toml::de::Error| {
            ConfigError::new(path, format!("after overrides: {}", e.message().trim()))
                .help("check the --set / SHIPGATE_SET assignments")
        })?;
        if wire.schema != PLAN_SCHEMA {
            return Err(ConfigError::new(
                path,
                format!("`schema = {}` is not supported", wire.schema),
            )
            .help(format!("this shipgate reads plan schema {PLAN_SCHEMA}")));
        }
        let base_dir = path.parent().unwrap_or(Path::new("."));
        let raw_plugins = doc
            .get("plugins")
            .and_then(|p| p.as_array())
            .cloned()
            .unwrap_or_default();
        let mut plugins = Vec::new();
        for (i, (p, raw)) in wire.plugins.into_iter().zip(raw_plugins).enumerate() {
            let at = format!("plugins[{i}]");
            let source = match (&p.name, &p.path) {
                (_, Some(file)) => PluginSource::File(base_dir.join(file)),
                (Some(n), None) if bundled.contains(&n.as_str()) => {
                    PluginSource::Bundled(n.clone())
                }
                (Some(n), None) => {
                    return Err(ConfigError::new(
                        path,
                        format!("`{at}.name` = {n:?} is not a bundled check"),
                    )
                    .help(format!(
                        "bundled checks: {}; or give `path = \"check.wasm\"`",
                        bundled.join(", ")
                    )));
                }
                (None, None) => {
                    return Err(ConfigError::new(
                        path,
                        format!("`{at}` has neither `name` nor `path`"),
                    )
                    .help(
                        "write `name = \"canary\"` for a bundled check or `path = \"my.wasm\"`",
                    ));
                }
            };
            let name = p.name.clone().unwrap_or_else(|| match &source {
                PluginSource::File(f) => f
                    .file_stem()
                    .map(|s| s.to_string_lossy().into_owned())
                    .unwrap_or_default(),
                PluginSource::Bundled(n) => n.clone(),
            });
            if let Some(h) = &p.sha256
                && (h.len() != 64 || !h.bytes().all(|b| b.is_ascii_hexdigit()))
            {
                return Err(
                    ConfigError::new(path, format!("`{at}.sha256` is not 64 hex digits"))
                        .help("pin with the output of `sha256sum check.wasm`"),
                );
            }
            let merged = |key: &str| -> toml::Table {
                let mut t = doc
                    .get(key)
                    .and_then(|v| v.as_table())
                    .cloned()
                    .unwrap_or_default();
                let own_key = if key == "sandbox" { "limits" } else { key };
                if let Some(own) = raw.get(own_key).and_then(|v| v.as_table()) {
                    for (k, v) in own {
                        t.insert(k.clone(), v.clone());
                    }
                }
                t
            };
            let index = i.to_string();
            let located = |section: &str, (key, msg): (String, String)| {
                // In the plugin's own table, else the plan-wide one, else an override.
                let own = ["plugins", index.as_str(), section, key.as_str()];
                let wide = [
                    if section == "limits" {
                        "sandbox"
                    } else {
                        section
                    },
                    key.as_str(),
                ];
                let e = ConfigError::new(path, msg);
                if crate::config_error::key_span(text, &own).is_some() {
                    e.at_key(text, &own)
                } else if crate::config_error::key_span(text, &wide).is_some() {
                    e.at_key(text, &wide)
                } else {
                    e.help("check the --set / SHIPGATE_SET assignments")
                }
            };
            let thresholds: Thresholds = typed(merged("thresholds"), &format!("{at}.thresholds"))
                .map_err(|e| located("thresholds", e))?;
            ranges::check_thresholds(&format!("{at}.thresholds"), &thresholds)
                .map_err(|e| located("thresholds", e))?;
            let limits: SandboxLimits = typed(merged("sandbox"), &format!("{at}.limits"))
                .map_err(|e| located("limits", e))?;
            ranges::check_sandbox(&format!("{at}.limits"), &limits)
                .map_err(|e| located("limits", e))?;
            let settings = p
                .settings
                .iter()
                .map(|(k, v)| {
                    (
                        k.clone(),
                        v.as_str()
                            .map(str::to_owned)
                            .unwrap_or_else(|| v.to_string()),
                    )
                })
                .collect();
            p.grants.validate(&at).map_err(|m| {
                ConfigError::new(path, m).help("see the grants section of SECURITY.md")
            })?;
            plugins.push(PluginSpec {
                name,
                source,
                sha256: p.sha256.map(|h| h.to_ascii_lowercase()),
                settings,
                thresholds,
                limits,
                subject: crate::checklist::Subject::Provider,
                grants: p.grants,
            });
        }
        if plugins.is_empty() {
            return Err(ConfigError::new(path, "the plan runs no plugins")
                .help("add a [[plugins]] table, e.g. name = \"canary\""));
        }
        let mut seen = std::collections::BTreeSet::new();
        for p in &plugins {
            // A name becomes a file name (cassettes), a finding's plugin and
            // an override's prefix: letters, digits, `.`, `_` and `-` only.
            let ok = !p.name.is_empty()
                && p.name.len() <= 64
                && p.name
                    .chars()
                    .next()
                    .is_some_and(|c| c.is_ascii_alphanumeric())
                && p.name
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'));
            if !ok {
                return Err(ConfigError::new(
                    path,
                    format!("plugin name {:?} is not a name", p.name),
                )
                .help("a name starts with a letter or digit and has only letters, digits, `.`, `_` and `-` (at most 64); set `name = \"...\"` in its [[plugins]] entry"));
            }
            if !seen.insert(p.name.clone()) {
                return Err(ConfigError::new(
                    path,
                    format!("plugin name {:?} appears twice", p.name),
                )
                .help("give each [[plugins]] entry a distinct `name`"));
            }
        }
        for (item, evidence) in &wire.attestations {
            if !crate::checklist::ITEMS.iter().any(|c| c.id == item) {
                return Err(ConfigError::new(
                    path,
                    format!("`attestations.{item}` is not a checklist item"),
                )
                .help(format!(
                    "checklist items: {}",
                    crate::checklist::ids().join(", ")
                )));
            }
            if evidence.trim().is_empty() {
                return Err(ConfigError::new(
                    path,
                    format!("`attestations.{item}` has no evidence"),
                )
                .help(
                    "say what vouches for it, such as \"runbook: https://wiki.example/rollback\"",
                ));
            }
        }
        for (section, reason) in &wire.waivers {
            if crate::contract::Section::from_key(section).is_none() {
                return Err(ConfigError::new(
                    path,
                    format!("`waivers.{section}` is not a contract section"),
                )
                .help(format!(
                    "sections: {}",
                    crate::contract::Section::ALL.map(|s| s.key()).join(", ")
                )));
            }
            if reason.trim().is_empty() {
                return Err(
                    ConfigError::new(path, format!("`waivers.{section}` gives no reason"))
                        .help("say why the rollout may go ahead with this section as it is"),
                );
            }
        }
        for (i, rule) in wire.decision.hold_on_warn.iter().enumerate() {
            let names: Vec<&str> = plugins
                .iter()
                .map(|p| p.name.as_str())
                .chain(["host", "baseline"])
                .collect();
            match rule.split_once('/') {
                Some((plugin, id)) if !id.is_empty() && names.contains(&plugin) => {}
                Some((plugin, _)) if !names.contains(&plugin) => {
                    return Err(ConfigError::new(
                        path,
                        format!("`decision.hold_on_warn[{i}]` = {rule:?} names plugin {plugin:?}, which the plan does not run"),
                    )
                    .help(format!("plugins in this plan: {}", names.join(", "))));
                }
                _ => {
                    return Err(ConfigError::new(
                        path,
                        format!("`decision.hold_on_warn[{i}]` = {rule:?} is not `plugin/finding-id`"),
                    )
                    .help("qualify each id with the plugin that makes it, e.g. \"canary/canary.latency\""));
                }
            }
        }
        let mut audit = wire.audit;
        for (i, d) in audit.log_dirs.iter_mut().enumerate() {
            *d = base_dir.join(&*d);
            if !d.is_dir() {
                return Err(ConfigError::new(
                    path,
                    format!(
                        "`audit.log_dirs[{i}]` = {:?} is not a directory",
                        d.display().to_string()
                    ),
                )
                .help("name a directory of log files, relative to the plan file"));
            }
        }
        for p in &mut plugins {
            let bundled = match &p.source {
                PluginSource::Bundled(n) => Some(n.as_str()),
                PluginSource::File(_) => None,
            };
            p.subject = p
                .grants
                .subject
                .unwrap_or_else(|| default_subject(bundled, !audit.log_dirs.is_empty()));
        }
        Ok(Plan {
            plugins,
            thresholds: wire.thresholds,
            sandbox: wire.sandbox,
            decision: wire.decision,
            attestations: wire.attestations,
            waivers: wire.waivers,
            content_capture: wire.content_capture,
            audit,
            run: wire.run,
            application: wire.application,
            origin: path.display().to_string(),
        })
    }

    /// Read a plan file.
    ///
    /// # Errors
    ///
    /// As [`Plan::parse`], plus an unreadable file.
    pub fn load(
        path: &Path,
        bundled: &[&str],
        overrides: &[Override],
    ) -> Result<Plan, ConfigError> {
        let text = ConfigError::read(path, "plan")?;
        Plan::parse(path, &text, bundled, overrides)
    }

    /// The built-in plan: every bundled check.
    ///
    /// # Errors
    ///
    /// Only when an override is invalid.
    pub fn builtin(bundled: &[&str], overrides: &[Override]) -> Result<Plan, ConfigError> {
        Plan::builtin_for(bundled, overrides, false)
    }

    /// The built-in plan; with `application`, the application's judges too.
    ///
    /// # Errors
    ///
    /// As [`Plan::builtin`].
    pub fn builtin_for(
        bundled: &[&str],
        overrides: &[Override],
        application: bool,
    ) -> Result<Plan, ConfigError> {
        let mut plan = Plan::parse(
            Path::new("<built-in plan>"),
            &default_plan_toml_for(bundled, application),
            bundled,
            overrides,
        )?;
        plan.origin = "built-in".into();
        Ok(plan)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const B: &[&str] = &["canary", "negative-probes"];

    fn parse(text: &str, o: &[&str]) -> Result<Plan, ConfigError> {
        let o: Vec<Override> = o.iter().map(|s| s.parse().unwrap()).collect();
        Plan::parse(Path::new("plan.toml"), text, B, &o)
    }

    #[test]
    fn the_plan_template_parses_to_the_built_in_plan() {
        let text = plan_template(B);
        let p = Plan::parse(Path::new("shipgate.plan.toml"), &text, B, &[]).unwrap();
        let b = Plan::builtin(B, &[]).unwrap();
        assert_eq!(p.thresholds, b.thresholds);
        assert_eq!(p.sandbox, b.sandbox);
        assert_eq!(p.run, b.run);
        assert_eq!(p.decision, b.decision);
        assert_eq!(p.plugins.len(), b.plugins.len());
        assert!(text.contains("latency_ms = 2000") && text.contains("stream_first_chunk_ms"));
    }

    #[test]
    fn accepts_builtin_plan_with_grants() {
        let p = Plan::builtin(B, &[]).unwrap();
        assert_eq!(p.plugins.len(), 2);
        assert_eq!(p.plugins[0].grants.auth, vec![AuthGrant::Configured]);
        assert!(p.plugins[1].grants.auth.contains(&AuthGrant::Invalid));
    }

    #[test]
    fn accepts_per_plugin_thresholds_and_overrides() {
        let text = "schema = 1\n[thresholds]\nlatency_ms = 900\n[[plugins]]\nname = \"canary\"\nthresholds = { latency_hard_ms = 5000 }\n";
        let p = parse(text, &[]).unwrap();
        assert_eq!(p.plugins[0].thresholds.latency_ms, 900);
        assert_eq!(p.plugins[0].thresholds.latency_hard_ms, 5000);
        let p = parse(
            text,
            &[
                "canary.latency_ms=800",
                "sandbox.deadline_ms=1234",
                "canary.mode=fast",
            ],
        )
        .unwrap();
        assert_eq!(p.plugins[0].thresholds.latency_ms, 800);
        assert_eq!(p.plugins[0].limits.deadline_ms, 1234);
        assert_eq!(p.plugins[0].settings["mode"], "fast");
    }

    #[test]
    fn rejects_unknown_key_with_line() {
        let e = parse("schema = 1\n[thresholds]\nlatency = 5\n", &[]).unwrap_err();
        assert!(e.message().starts_with("line 3"), "{}", e.message());
        assert!(e.message().contains("latency"), "{}", e.message());
    }

    #[test]
    fn a_plugin_name_that_is_not_a_name_is_refused() {
        for name in [
            "../../escaped",
            "/tmp/abs",
            "a b",
            "",
            ".hidden",
            "x\\u001b[31m",
        ] {
            let text = format!(
                "schema = 1\n[[plugins]]\nname = {:?}\npath = \"c.wasm\"\n",
                name
            );
            let e = parse(&text, &[]).unwrap_err();
            assert!(
                e.message().contains("is not a name"),
                "{name}: {}",
                e.message()
            );
        }
        let text = "schema = 1\n[[plugins]]\nname = \"my-check_2.1\"\npath = \"c.wasm\"\n";
        assert_eq!(parse(text, &[]).unwrap().plugins[0].name, "my-check_2.1");
    }

    #[test]
    fn rejects_wrong_type() {
        let e = parse("schema = 1\n[thresholds]\nlatency_ms = \"fast\"\n", &[]).unwrap_err();
        assert!(e.message().contains("line 3"), "{}", e.message());
    }

    #[test]
    fn rejects_unknown_plugin_and_bad_pin() {
        let e = parse("schema = 1\n[[plugins]]\nname = \"nope\"\n", &[]).unwrap_err();
        assert!(e.message().contains("not a bundled check"));
        let e = parse(
            "schema = 1\n[[plugins]]\nname = \"canary\"\nsha256 = \"abc\"\n",
            &[],
        )
        .unwrap_err();
        assert!(e.message().contains("sha256"));
    }

    #[test]
    fn rejects_bad_override() {
        let e = parse(
            "schema = 1\n[[plugins]]\nname = \"canary\"\n",
            &["thresholds.latency_ms=soon"],
        )
        .unwrap_err();
        assert!(
            e.message().contains("thresholds.latency_ms") && e.message().contains("soon"),
            "{}",
            e.message()
        );
        let e = parse(
            "schema = 1\n[[plugins]]\nname = \"canary\"\n",
            &["ghost.latency_ms=1"],
        )
        .unwrap_err();
        assert!(e.message().contains("ghost"), "{}", e.message());
    }

    #[test]
    fn rejects_unknown_attestation_and_empty_plan() {
        let e = parse(
            "schema = 1\n[attestations]\nvibes = \"ok\"\n[[plugins]]\nname = \"canary\"\n",
            &[],
        )
        .unwrap_err();
        assert!(e.message().contains("vibes"));
        assert!(
            parse("schema = 1\n", &[])
                .unwrap_err()
                .message()
                .contains("no plugins")
        );
    }
}
