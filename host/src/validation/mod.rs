//! One validation run: load the plan's plugins, ask each what it is, check
//! the plan against that, run them (the canary first, then the rest at once
//! under the target's limits) each in its own sandbox, and build the
//! [`Record`] with the decision.
//!
//! - [`env`]: the capabilities one plugin gets.
//! - `schedule`: the order and concurrency of the runs.
//! - `preflight`: the plan checked against what the plugins declare.

mod env;
mod preflight;
mod schedule;

pub use preflight::PlanMismatch;
pub use schedule::CANARY_AUTH;

use crate::capability::audit::{RunOutputs, secret_findings};
use crate::capability::http::cassette::Tape;
use crate::capability::http::credentials::{self, Credentials};
use crate::capability::http::limiter::RateLimit;
use crate::capability::http::{HttpShared, HttpTarget, TargetError};
use crate::capability::log::{self, LogRecord};
use crate::checklist::Subject;
use crate::classify::Classifier;
use crate::contract::Contract;
use crate::decision;
use crate::events::{Event, Events};
use crate::plan::{Plan, PluginSource};
use crate::redact::{OutputRedactor, Redactor, Secret};
use crate::report::record::{PluginRun, Record, RunStatus};
use crate::runtime::{Descriptor, LoadError, LoadedPlugin, Runtime};
use crate::secret::{SecretKind, SecretSet};
use env::RunShared;
use std::collections::{BTreeMap, BTreeSet};
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

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
    /// The plan names settings or finding ids its plugins do not declare.
    #[error(transparent)]
    Plan(#[from] PlanMismatch),
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
    /// Where the run's events go (progress, CI lines); [`Events::none`] for none.
    pub events: Events,
    /// Record every exchange, or answer every request from recordings
    /// (nothing is sent, no pre-flight).
    pub tape: Tape,
}

impl<'a> Validation<'a> {
    /// A run of `plan` against `contract` with `secret`: the bundled checks,
    /// no baseline, a target that is not the built-in mock, no events, no
    /// cassettes. Change the rest with struct update syntax:
    /// `Validation { target_is_mock: true, ..Validation::new(&c, &p, &rt, key) }`.
    pub fn new(
        contract: &'a Contract,
        plan: &'a Plan,
        runtime: &'a Runtime,
        secret: Option<Secret>,
    ) -> Self {
        Validation {
            contract,
            contract_source: "contract".into(),
            plan,
            secret,
            runtime,
            bundled: crate::bundled::BUNDLED,
            baseline: None,
            target_is_mock: false,
            events: Events::none(),
            tape: Tape::Off,
        }
    }
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
                        let max = crate::runtime::MAX_COMPONENT_BYTES as u64;
                        let bytes = crate::config_error::read_regular(p, max).map_err(|e| {
                            SetupError::Read {
                                path: p.display().to_string(),
                                reason: e.to_string(),
                            }
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

    /// Load every plugin of the plan and have each describe itself, in its
    /// sandbox, with no request allowed and nothing sent (no pre-flight): what
    /// `shipgate inspect` shows.
    ///
    /// # Errors
    ///
    /// [`SetupError`] when a plugin cannot be loaded.
    pub async fn describe(
        &self,
    ) -> Result<Vec<(LoadedPlugin, Result<Descriptor, crate::findings::Finding>)>, SetupError> {
        let plugins = self.load_plugins()?;
        let (shared, _, _) = self.setup("inspect", false).await?;
        let mut out = Vec::new();
        for (spec, plugin) in self.plan.plugins.iter().zip(plugins) {
            let env = env::describe_env(self.plan, self.contract, spec, &shared);
            let d = self.runtime.describe(&plugin, env).await;
            out.push((plugin, d));
        }
        Ok(out)
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
        let (mut shared, secrets, placeholder) = self.setup(&run_id, true).await?;
        // Pre-flight: every plugin describes itself; the plan must name only
        // settings and finding ids they declare. Nothing has been sent yet.
        let mut descriptors: Vec<Result<Descriptor, crate::findings::Finding>> = Vec::new();
        for (spec, plugin) in self.plan.plugins.iter().zip(&plugins) {
            let env = env::describe_env(self.plan, self.contract, spec, &shared);
            descriptors.push(self.runtime.describe(plugin, env).await);
        }
        preflight::check(self.plan, &descriptors)?;

        self.events.emit(Event::RunStarted {
            run_id: run_id.clone(),
            target: self.contract.base_url.url.clone(),
            plugins: self.plan.plugins.iter().map(|p| p.name.clone()).collect(),
        });
        log::append(
            &shared.outputs.log,
            &Redactor,
            "host",
            "info",
            "run started",
            BTreeMap::from([
                ("run_id".to_owned(), run_id.clone()),
                ("plugins".to_owned(), plugins.len().to_string()),
                ("base_url".to_owned(), self.contract.base_url.url.clone()),
            ]),
        );
        // The cancel signal is shared by the episodes and the checks.
        let cancel = futures_util::FutureExt::shared(Box::pin(cancel));
        let application = match (&self.plan.application, placeholder) {
            (Some(config), Some(placeholder)) => {
                let (run, raw) = self
                    .episodes(config, &shared, placeholder)
                    .run(cancel.clone())
                    .await;
                shared.episodes = Arc::new(run.episodes.clone());
                Some((run, raw))
            }
            _ => None,
        };
        let ran = schedule::Schedule {
            running: std::sync::Mutex::default(),
            plan: self.plan,
            contract: self.contract,
            runtime: self.runtime,
            plugins: &plugins,
            descriptors: &descriptors,
            shared: &shared,
            events: &self.events,
        }
        .run(cancel)
        .await;
        Ok(self.finish(run_id, started_at, ran, &shared, secrets, application))
    }

    /// The episode runner for the plan's application, forwarding through the
    /// run's target (its pinned client) with the real credential.
    fn episodes<'s>(
        &'s self,
        config: &'s crate::plan::ApplicationConfig,
        shared: &RunShared,
        placeholder: Secret,
    ) -> crate::application::Episodes<'s> {
        let target = &shared.target;
        let credential = target.credentials.secret.as_ref().map_or_else(
            || Secret::new(String::new()),
            |s| Secret::new(target.credentials.header_value(s)),
        );
        crate::application::Episodes {
            config,
            dir: std::env::current_dir().unwrap_or_default(),
            upstream: crate::application::interposer::Upstream {
                client: target.client.clone(),
                base_url: target.spec.base_url.clone(),
                chat_path: target.spec.chat_path.clone(),
                chat_method: target.spec.chat_method.clone(),
                credential: (target.credentials.header.clone(), credential),
                spend: crate::capability::http::Spend {
                    models: vec![target.spec.model.clone()],
                    ceiling: u64::from(self.plan.thresholds.output_token_ceiling),
                    ceiling_field: target.spec.output_ceiling_field.clone(),
                    input_limit_bytes: u64::from(self.plan.thresholds.input_limit_bytes),
                    send_oversized: false,
                    fields: Vec::new(),
                    parts: Vec::new(),
                },
            },
            secrets: shared.secrets.clone(),
            placeholder,
            request_timeout_ms: u64::from(self.plan.thresholds.request_timeout_ms),
            events: self.events.clone(),
        }
    }

    /// The run's secrets (and the application's placeholder key, when the
    /// plan runs one), credentials, target (with its limiter) and shared outputs.
    async fn setup(
        &self,
        run_id: &str,
        preflight: bool,
    ) -> Result<(RunShared, Arc<SecretSet>, Option<Secret>), SetupError> {
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
        let placeholder = self.plan.application.as_ref().map(|_| {
            Secret::new(format!(
                "sk-shipgate-placeholder-{}",
                credentials::random_token(40).expose()
            ))
        });
        if let Some(p) = &placeholder {
            known.push((SecretKind::Placeholder, p.clone()));
        }
        let secrets = Arc::new(SecretSet::new(&known, &contract.auth.scheme));
        let unapproved_model = format!(
            "shipgate-unapproved-model-{}",
            credentials::random_token(12).expose().to_ascii_lowercase()
        );
        let target = HttpTarget::new(
            env::target_spec(contract, self.target_is_mock),
            credentials,
            secrets.clone(),
            Classifier::from_contract(contract),
            unapproved_model,
            RateLimit {
                max_in_flight: self.plan.run.max_in_flight,
                requests_per_second: self.plan.run.requests_per_second,
            },
            self.tape.clone(),
        )
        .await?;
        // Pre-flight: the target answers HTTP before any check runs (a
        // replay sends nothing).
        if preflight && !self.tape.is_replay() {
            target.preflight().await?;
        }
        let outputs = RunOutputs::default();
        let http = HttpShared {
            ledger: outputs.telemetry.clone(),
            denials: Arc::default(),
            prompts: outputs.prompts.clone(),
            events: self.events.clone(),
        };
        let shared = RunShared {
            target,
            outputs,
            http,
            contract_json: contract.to_json().to_string(),
            run_id: run_id.to_owned(),
            secrets: secrets.clone(),
            episodes: Arc::default(),
        };
        Ok((shared, secrets, placeholder))
    }

    /// Every plugin has finished: the host's own checks, the decision, the record.
    fn finish(
        &self,
        run_id: String,
        started_at: String,
        ran: schedule::Ran,
        shared: &RunShared,
        secrets: Arc<SecretSet>,
        application: Option<(
            crate::report::episodes::ApplicationRun,
            crate::application::RawOutputs,
        )>,
    ) -> RunOutput {
        let contract = self.contract;
        let schedule::Ran {
            mut runs,
            incomplete,
        } = ran;
        let outputs = &shared.outputs;
        // Telemetry in plan order of the plugins (each plugin's in its own
        // order), whatever the scheduling; requests cut off are cancelled.
        let order: BTreeMap<&str, usize> = self
            .plan
            .plugins
            .iter()
            .enumerate()
            .map(|(i, p)| (p.name.as_str(), i))
            .collect();
        let mut telemetry = outputs.telemetry.lock().expect("telemetry lock").clone();
        telemetry.sort_by_key(|t| order.get(t.plugin.as_str()).copied().unwrap_or(usize::MAX));
        for t in &mut telemetry {
            if t.outcome == "in-flight" {
                t.outcome = "cancelled".into();
            }
        }
        let mut denials = shared.http.denials.lock().expect("denials lock").clone();
        denials.sort_by_key(|d| order.get(d.plugin.as_str()).copied().unwrap_or(usize::MAX));
        // From here on the host may match the secret against what the guests
        // supplied: where the run's secrets leaked (evidence about the
        // application when its logs were read).
        let scan_subject = if self.plan.audit.log_dirs.is_empty() {
            Subject::Shipgate
        } else {
            Subject::Application
        };
        let mut host = secret_findings(outputs, &self.plan.audit.log_dirs, &secrets);
        host.iter_mut().for_each(|f| f.subject = scan_subject);
        runs.push(host_checks(
            host,
            "host",
            "the host's own check: the run's secrets in its output and the team's logs",
        ));
        if let Some((_, raw)) = &application {
            let mut run = host_checks(
                crate::application::credential_findings(raw, &secrets),
                "application",
                "the host's own check of the application's output: its credential in any form",
            );
            run.name = "application".into();
            run.subject = Subject::Application;
            runs.push(run);
        }
        if let Some(baseline) = self.baseline {
            let ratio = self.plan.decision.baseline_spike_ratio;
            let summary = Record::summarize(&telemetry);
            let mut run = host_checks(
                crate::diff::spikes(baseline, &summary, ratio),
                "baseline",
                &format!(
                    "latency and usage against baseline run {} (warn over {ratio}x)",
                    crate::text::one_line(&baseline.run_id, 64)
                ),
            );
            run.name = "baseline".into();
            run.source = format!("baseline:{}", crate::text::one_line(&baseline.run_id, 64));
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
            let status = runs.iter().find(|r| r.name == name).map_or_else(
                || RunStatus::Skipped("not run".into()),
                |r| r.status.clone(),
            );
            (name, status)
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
        self.events.emit(Event::Decided {
            outcome: decision.outcome,
            headline: decision
                .reasons
                .first()
                .map(|r| r.message.clone())
                .unwrap_or_default(),
        });
        let redactor = OutputRedactor::new(secrets);
        let record = crate::report::assemble::record(
            crate::report::assemble::RunParts {
                run_id,
                started_at,
                incomplete,
                contract: contract.to_json(),
                contract_source: self.contract_source.clone(),
                plan: serde_json::to_value(self.plan).unwrap_or_default(),
                runs,
                telemetry,
                denials,
                decision,
                canary: bundled("canary").map(str::to_owned),
                application: application.map(|(run, _)| run),
            },
            &redactor,
        );
        let log = outputs.log.lock().expect("run log lock").clone();
        RunOutput {
            record,
            log,
            redactor,
        }
    }
}

/// A pseudo plugin run for findings the host makes itself.
fn host_checks(findings: Vec<crate::findings::Finding>, what: &str, summary: &str) -> PluginRun {
    PluginRun {
        name: "host".into(),
        version: Some(env!("CARGO_PKG_VERSION").into()),
        summary: Some(summary.to_owned()),
        declared_findings: Vec::new(),
        covers: findings
            .iter()
            .flat_map(|f| f.covers.iter().cloned())
            .collect::<BTreeSet<_>>()
            .into_iter()
            .collect(),
        sha256: String::new(),
        source: format!("host:{what}"),
        status: RunStatus::Completed,
        findings,
        duration_ms: 0,
        fuel_used: None,
        requests: 0,
        subject: Subject::Shipgate,
    }
}
