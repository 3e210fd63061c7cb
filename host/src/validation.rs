//! One validation run: load the plan's plugins, run each in its own sandbox
//! against the contract's target, and build the [`Record`] with the decision.

use crate::bindings::shipgate::plugin::context::{Limits, Target};
use crate::capability::audit::{AuditCtx, RunOutputs, secret_findings};
use crate::capability::context::ContextCtx;
use crate::capability::http::credentials::{self, Credentials};
use crate::capability::http::retry::RetryPolicy;
use crate::capability::http::{
    HttpCtx, HttpLimits, HttpShared, HttpTarget, RequestIdRule, TargetError, TargetSpec,
};
use crate::capability::log::{self, LogCtx, LogRecord, RunLog};
use crate::checklist::Subject;
use crate::classify::Classifier;
use crate::contract::Contract;
use crate::decision;
use crate::plan::{Plan, PluginSource, PluginSpec};
use crate::redact::{OutputRedactor, Redactor, Secret};
use crate::report::record::{
    FailureMode, FieldObservation, HostInfo, RECORD_VERSION, Record, ToolInfo,
};
use crate::runtime::{LoadError, LoadedPlugin, PluginRun, RunEnv, Runtime};
use crate::secret::{SecretKind, SecretSet};
use crate::telemetry::RequestTelemetry;
use std::collections::{BTreeMap, BTreeSet};
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

/// Most distinct (pointer, type) pairs a record keeps of the responses.
pub const MAX_OBSERVED_FIELDS: usize = 1024;

/// Why a run could not start. Nothing was sent.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SetupError {
    /// A plugin file is unusable.
    #[error(transparent)]
    Load(#[from] LoadError),
    /// A plugin file could not be read.
    #[error("{path}: cannot read the plugin: {reason}")]
    Read {
        /// The path.
        path: String,
        /// Why.
        reason: String,
    },
    /// The target could not be prepared.
    #[error("base_url: {0}")]
    Target(#[from] TargetError),
    /// The credential cannot be used.
    #[error("{0}")]
    Secret(#[from] crate::secret::SecretError),
}

/// What a run produced.
#[derive(Debug)]
pub struct RunOutput {
    /// The record.
    pub record: Record,
    /// The run log.
    pub log: Vec<LogRecord>,
    /// The redactor that knows this run's secrets: for everything written.
    pub redactor: OutputRedactor,
}

/// Inputs of a run.
#[derive(Debug)]
pub struct Validation<'a> {
    /// The contract.
    pub contract: &'a Contract,
    /// Where it came from.
    pub contract_source: String,
    /// The plan.
    pub plan: &'a Plan,
    /// The credential, read by the caller from `auth.credential_env`.
    pub secret: Option<Secret>,
    /// The runtime.
    pub runtime: &'a Runtime,
    /// Checks bundled into the binary.
    pub bundled: &'a [(&'a str, &'a [u8])],
    /// A previous record: latency and usage spikes against it warn.
    pub baseline: Option<&'a Record>,
    /// Whether the target is shipgate's built-in mock (it injects faults on request).
    pub target_is_mock: bool,
}

impl Validation<'_> {
    /// Load every plugin of the plan (pins and worlds checked) without running anything.
    ///
    /// # Errors
    ///
    /// The first unusable plugin.
    pub fn load_plugins(&self) -> Result<Vec<LoadedPlugin>, SetupError> {
        self.plan
            .plugins
            .iter()
            .map(|spec| {
                let (label, bytes): (String, Vec<u8>) = match &spec.source {
                    PluginSource::Bundled(n) => {
                        let bytes = self
                            .bundled
                            .iter()
                            .find(|(b, _)| b == n)
                            .map(|(_, b)| b.to_vec())
                            .unwrap_or_default();
                        (format!("bundled:{n}"), bytes)
                    }
                    PluginSource::File(p) => {
                        let bytes = std::fs::read(p).map_err(|e| SetupError::Read {
                            path: p.display().to_string(),
                            reason: e.to_string(),
                        })?;
                        (p.display().to_string(), bytes)
                    }
                };
                Ok(match &spec.source {
                    PluginSource::Bundled(_) => {
                        self.runtime
                            .load(&spec.name, &label, &bytes, spec.sha256.as_deref())?
                    }
                    PluginSource::File(_) => self.runtime.load_file(
                        &spec.name,
                        &label,
                        &bytes,
                        spec.sha256.as_deref(),
                        crate::runtime::CompileLimits {
                            wall: Duration::from_millis(spec.limits.compile_ms),
                            memory_bytes: spec
                                .limits
                                .compile_memory_mib
                                .saturating_mul(1024 * 1024),
                        },
                    )?,
                })
            })
            .collect()
    }

    /// Run every plugin, stopping early (with an incomplete record) when `cancel` completes.
    ///
    /// # Errors
    ///
    /// [`SetupError`] before anything was sent.
    pub async fn run(self, cancel: impl Future<Output = ()>) -> Result<RunOutput, SetupError> {
        let started_at = crate::now_rfc3339();
        let run_id = uuid::Uuid::new_v4().to_string();
        let plugins = self.load_plugins()?;
        let contract = self.contract;
        if let Some(s) = &self.secret {
            crate::secret::validate(SecretKind::Credential, s)?;
        }
        let credentials = Credentials::new(
            &contract.auth.header,
            &contract.auth.scheme,
            self.secret.clone(),
        );
        let mut known = vec![(SecretKind::Honeytoken, credentials.honeytoken.clone())];
        if let Some(s) = &self.secret {
            known.insert(0, (SecretKind::Credential, s.clone()));
        }
        let secrets = Arc::new(SecretSet::new(&known, &contract.auth.scheme));
        let unapproved_model = format!(
            "shipgate-unapproved-model-{}",
            credentials::random_token(12).expose().to_ascii_lowercase()
        );
        let target = HttpTarget::new(
            target_spec(contract, self.target_is_mock),
            credentials,
            secrets.clone(),
            Classifier::from_contract(contract),
            unapproved_model,
        )
        .await?;
        let outputs = RunOutputs::default();
        let shared = HttpShared {
            ledger: outputs.telemetry.clone(),
            denials: Arc::default(),
            prompts: outputs.prompts.clone(),
        };
        let run_log: RunLog = outputs.log.clone();
        let contract_json = contract.to_json().to_string();
        log::append(
            &run_log,
            &Redactor,
            "host",
            "info",
            "run started",
            BTreeMap::from([
                ("run_id".to_owned(), run_id.clone()),
                ("plugins".to_owned(), plugins.len().to_string()),
                ("base_url".to_owned(), contract.base_url.url.clone()),
            ]),
        );

        let mut runs: Vec<PluginRun> = Vec::new();
        let mut incomplete = None;
        tokio::pin!(cancel);
        for (spec, plugin) in self.plan.plugins.iter().zip(&plugins) {
            let env = self.env(
                spec,
                &target,
                &outputs,
                &shared,
                &contract_json,
                &run_id,
                &secrets,
            );
            tokio::select! {
                run = self.runtime.run(plugin, env) => {
                    log::append(&run_log, &Redactor, "host", "info", "plugin finished", BTreeMap::from([
                        ("plugin".to_owned(), run.name.clone()),
                        ("status".to_owned(), run.status.describe()),
                        ("duration_ms".to_owned(), run.duration_ms.to_string()),
                    ]));
                    outputs.findings.lock().expect("findings lock").extend(run.findings.iter().cloned());
                    runs.push(run);
                }
                () = &mut cancel => {
                    incomplete = Some(format!("interrupted while `{}` was running", spec.name));
                    log::append(&run_log, &Redactor, "host", "warn", "run interrupted", BTreeMap::new());
                    break;
                }
            }
        }
        // Every plugin has finished: from here on the host may match the secret
        // against what the guests supplied.
        for t in outputs.telemetry.lock().expect("telemetry lock").iter_mut() {
            if t.outcome == "in-flight" {
                t.outcome = "cancelled".into();
            }
        }
        // The host's own checks: where the run's secrets leaked (evidence about the
        // application when its logs were read), and whether the operator verified the contract.
        let scan_subject = if self.plan.audit.log_dirs.is_empty() {
            Subject::Shipgate
        } else {
            Subject::Application
        };
        let mut host = secret_findings(&outputs, &self.plan.audit.log_dirs, &secrets);
        host.iter_mut().for_each(|f| f.subject = scan_subject);
        runs.push(host_checks(
            host,
            "host",
            "the host's own check: the run's secrets in its output and the team's logs",
        ));
        let telemetry = outputs.telemetry.lock().expect("telemetry lock").clone();
        let denials = shared.denials.lock().expect("denials lock").clone();
        let telemetry_summary = Record::summarize(&telemetry);
        if let Some(baseline) = self.baseline {
            let ratio = self.plan.decision.baseline_spike_ratio;
            let mut run = host_checks(
                crate::diff::spikes(baseline, &telemetry_summary, ratio),
                "baseline",
                &format!(
                    "latency and usage against baseline run {} (warn over {ratio}x)",
                    baseline.run_id
                ),
            );
            run.name = "baseline".into();
            run.source = format!("baseline:{}", baseline.run_id);
            run.subject = Subject::Provider;
            for f in &mut run.findings {
                f.subject = Subject::Provider;
            }
            runs.push(run);
        }
        let findings: Vec<_> = runs.iter().flat_map(|r| r.findings.clone()).collect();
        let bundled = |name: &str| {
            self.plan
                .plugins
                .iter()
                .find(|p| p.source == PluginSource::Bundled(name.into()))
                .map(|p| p.name.as_str())
        };
        let probes = bundled("negative-probes").map(|name| {
            let completed = runs
                .iter()
                .any(|r| r.name == name && r.status == crate::runtime::RunStatus::Completed);
            (name, completed)
        });
        let checklist = decision::checklist(&findings, &self.plan.attestations, contract);
        let decision = decision::decide(&decision::Inputs {
            findings: &findings,
            contract,
            rules: &self.plan.decision,
            attestations: &self.plan.attestations,
            waivers: &self.plan.waivers,
            incomplete: incomplete.as_deref(),
            canary: bundled("canary"),
            probes,
            checklist: &checklist,
        });
        // The request template comes from the bundled canary, whose identity the host assigned.
        let canary = self
            .plan
            .plugins
            .iter()
            .find(|p| p.source == PluginSource::Bundled("canary".into()))
            .map(|p| p.name.clone());
        let chat: Vec<&RequestTelemetry> = telemetry
            .iter()
            .filter(|t| t.genai_operation == "chat")
            .collect();
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
        let redactor = OutputRedactor::new(secrets);
        let mut plan_json = serde_json::to_value(self.plan).unwrap_or_default();
        redactor.redact_json(&mut plan_json);
        let record = Record {
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
            contract: contract.to_json(),
            contract_source: self.contract_source.clone(),
            plan: plan_json,
            plugins: runs,
            request_template,
            // Bounded: a few distinct shapes are normal; a server varying its
            // keys per response must not grow the record without end.
            response_fields_observed: observed.into_iter().take(MAX_OBSERVED_FIELDS).collect(),
            failure_modes_tested: failure_modes,
            telemetry_summary,
            telemetry,
            denials,
            counts: Record::count(&findings),
            findings,
            decision,
            truncated: None,
        };
        let log = run_log.lock().expect("run log lock").clone();
        Ok(RunOutput {
            record,
            log,
            redactor,
        })
    }

    #[allow(
        clippy::too_many_arguments,
        reason = "one call site; the parts are distinct shared handles"
    )]
    fn env(
        &self,
        spec: &PluginSpec,
        target: &HttpTarget,
        outputs: &RunOutputs,
        shared: &HttpShared,
        contract_json: &str,
        run_id: &str,
        secrets: &Arc<SecretSet>,
    ) -> RunEnv {
        let t = &spec.thresholds;
        let l = &spec.limits;
        let ms = |v: u32| Duration::from_millis(u64::from(v));
        let http = HttpCtx::new(
            &spec.name,
            target.clone(),
            HttpLimits {
                auth: spec.grants.auth.clone(),
                send_oversized: spec.grants.send_oversized,
                headers: spec
                    .grants
                    .headers
                    .iter()
                    .map(|h| h.to_ascii_lowercase())
                    .collect(),
                models: spec.grants.models.clone(),
                paths: spec.grants.paths.clone(),
                fields: spec.grants.fields.clone(),
                faults: spec.grants.faults,
                max_requests: l.max_requests,
                max_request_bytes: l.max_request_bytes,
                max_response_bytes: l.max_response_bytes,
                input_limit_bytes: u64::from(t.input_limit_bytes),
                output_token_ceiling: u64::from(t.output_token_ceiling),
                default_timeout: ms(t.request_timeout_ms),
                retry: RetryPolicy {
                    max_attempts: t.retry_max_attempts.max(1),
                    budget: ms(t.retry_budget_ms),
                    base_delay: ms(t.retry_base_delay_ms),
                    max_delay: ms(t.retry_max_delay_ms),
                    retry_after_cap: ms(t.retry_after_cap_ms),
                },
                content_capture: self.plan.content_capture,
            },
            shared.clone(),
        );
        let log = LogCtx::new(
            &spec.name,
            outputs.log.clone(),
            self.plan.content_capture,
            l.max_log_records,
            l.max_log_bytes,
        );
        let c = self.contract;
        let context = ContextCtx {
            target: Target {
                provider: c.provider.clone(),
                base_url: c.base_url.url.clone(),
                chat_path: c.endpoint.path.clone(),
                chat_method: c.endpoint.method.to_ascii_uppercase(),
                model: c.request.model.clone(),
                credential_env: c.auth.credential_env.clone(),
                correlation_header: c.observability.correlation_header.clone(),
            },
            limits: Limits {
                latency_ms: t.latency_ms,
                latency_hard_ms: t.latency_hard_ms,
                input_limit_bytes: t.input_limit_bytes,
                output_token_ceiling: t.output_token_ceiling,
                request_timeout_ms: t.request_timeout_ms,
                retry_max_attempts: t.retry_max_attempts,
                retry_budget_ms: t.retry_budget_ms,
            },
            contract_json: contract_json.to_owned(),
            settings: spec.settings.clone(),
            run_id: run_id.to_owned(),
            telemetry: outputs.telemetry.clone(),
            unapproved_model: target.unapproved_model.clone(),
        };
        let audit = AuditCtx::new(
            spec.grants.audit,
            outputs.clone(),
            self.plan.audit.log_dirs.clone(),
            secrets.clone(),
        );
        RunEnv {
            http,
            log,
            context,
            audit,
            limits: l.clone(),
            covers_grant: spec.grants.covers.clone(),
            bundled: matches!(spec.source, PluginSource::Bundled(_)),
            subject: spec.subject,
        }
    }
}

/// What the contract says about the target, for the HTTP capability.
fn target_spec(c: &Contract, is_builtin_mock: bool) -> TargetSpec {
    TargetSpec {
        base_url: c.base_url(),
        provider: c.provider.clone(),
        chat_path: c.endpoint.path.clone(),
        chat_method: reqwest::Method::from_bytes(c.endpoint.method.to_ascii_uppercase().as_bytes())
            .unwrap_or(reqwest::Method::POST),
        model: c.request.model.clone(),
        output_ceiling_field: c.request.output_ceiling_field.clone(),
        correlation_header: c.observability.correlation_header.to_ascii_lowercase(),
        documented_headers: c
            .request
            .headers
            .iter()
            .map(|h| h.to_ascii_lowercase())
            .collect(),
        request_id: RequestIdRule {
            header: c
                .response
                .request_id_header
                .as_ref()
                .map(|h| h.to_ascii_lowercase()),
            in_message: c
                .response
                .request_id_pattern
                .as_ref()
                .and_then(|p| regex::Regex::new(p).ok()),
            message_pointer: c.errors.message_pointer.clone(),
        },
        is_builtin_mock,
    }
}

/// A pseudo plugin run for findings the host makes itself.
fn host_checks(findings: Vec<crate::findings::Finding>, what: &str, summary: &str) -> PluginRun {
    PluginRun {
        name: "host".into(),
        version: Some(env!("CARGO_PKG_VERSION").into()),
        summary: Some(summary.to_owned()),
        covers: findings
            .iter()
            .flat_map(|f| f.covers.iter().cloned())
            .collect::<BTreeSet<_>>()
            .into_iter()
            .collect(),
        sha256: String::new(),
        source: format!("host:{what}"),
        status: crate::runtime::RunStatus::Completed,
        findings,
        duration_ms: 0,
        fuel_used: None,
        requests: 0,
        subject: Subject::Shipgate,
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
