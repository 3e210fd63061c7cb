//! The order plugins run in.
//!
//! 1. The canary, alone: when it cannot authenticate, every plugin that
//!    declares `needs-canary` is skipped (not failed) with one reason naming
//!    the credential's variable, instead of failing in knock-on ways.
//! 2. Every other plugin, `[run] jobs` at a time, each in its own sandbox.
//! 3. Plugins that judge the run's output last, so they see all of it: those
//!    granted `audit`, and the bundled `observability` check (it judges every
//!    request's telemetry).
//!
//! Results come back in plan order whatever the scheduling. All HTTP of the
//! run goes through the target's one limiter, so running plugins at once
//! never exceeds what the operator allows.

use super::env::{self, RunShared};
use crate::capability::log;
use crate::contract::Contract;
use crate::events::{Event, Events};
use crate::findings::{Finding, Verdict};
use crate::plan::{Plan, PluginSource, PluginSpec};
use crate::redact::Redactor;
use crate::runtime::{Descriptor, LoadedPlugin, PluginRun, RunStatus, Runtime};
use futures_util::StreamExt as _;
use std::collections::BTreeMap;
use std::future::Future;

/// The finding id of the bundled canary that says whether the key worked.
pub const CANARY_AUTH: &str = "canary.auth";

/// Everything the scheduler needs.
pub(super) struct Schedule<'a> {
    /// Names of the plugins running now (for an interrupted run's reason).
    pub running: std::sync::Mutex<Vec<String>>,
    pub plan: &'a Plan,
    pub contract: &'a Contract,
    pub runtime: &'a Runtime,
    pub plugins: &'a [LoadedPlugin],
    pub descriptors: &'a [Result<Descriptor, Finding>],
    pub shared: &'a RunShared,
    pub events: &'a Events,
}

/// What the schedule produced: one run per plugin, in plan order, and why
/// the run is incomplete, if it is.
pub(super) struct Ran {
    pub runs: Vec<PluginRun>,
    pub incomplete: Option<String>,
}

impl Schedule<'_> {
    /// Run every plugin, stopping early when `cancel` completes (the plugins
    /// not finished by then are recorded as skipped).
    pub async fn run(&self, cancel: impl Future<Output = ()>) -> Ran {
        let n = self.plan.plugins.len();
        let mut done: Vec<Option<PluginRun>> = (0..n).map(|_| None).collect();
        let canary = self
            .plan
            .plugins
            .iter()
            .position(|p| p.source == PluginSource::Bundled("canary".into()));
        let reads_output = |i: usize| {
            let p = &self.plan.plugins[i];
            p.grants.audit || p.source == PluginSource::Bundled("observability".into())
        };
        let phases: [Vec<usize>; 3] = [
            canary.into_iter().collect(),
            (0..n)
                .filter(|i| Some(*i) != canary && !reads_output(*i))
                .collect(),
            (0..n)
                .filter(|i| Some(*i) != canary && reads_output(*i))
                .collect(),
        ];
        let jobs = self.plan.run.jobs.max(1) as usize;
        let mut blocked: Option<String> = None;
        let mut incomplete = None;
        tokio::pin!(cancel);
        for phase in phases {
            let gate = blocked.clone();
            let gate = gate.as_deref();
            let mut stream = futures_util::stream::iter(
                phase
                    .into_iter()
                    .map(|i| async move { (i, self.one(i, gate).await) }),
            )
            .buffer_unordered(jobs);
            loop {
                tokio::select! {
                    next = stream.next() => match next {
                        Some((i, run)) => {
                            self.shared
                                .outputs
                                .findings
                                .lock()
                                .expect("findings lock")
                                .extend(run.findings.iter().cloned());
                            done[i] = Some(run);
                        }
                        None => break,
                    },
                    () = &mut cancel => {
                        let running = self.running.lock().expect("running lock").clone();
                        incomplete = Some(match running.as_slice() {
                            [] => "interrupted between checks".to_owned(),
                            names => format!(
                                "interrupted while {} {} running",
                                names.iter().map(|n| format!("`{n}`")).collect::<Vec<_>>().join(", "),
                                if names.len() == 1 { "was" } else { "were" }
                            ),
                        });
                        log::append(&self.shared.outputs.log, &Redactor, "host", "warn", "run interrupted", BTreeMap::new());
                        break;
                    }
                }
            }
            drop(stream);
            if incomplete.is_some() {
                break;
            }
            if let Some(c) = canary
                && blocked.is_none()
                && let Some(run) = &done[c]
            {
                blocked = self.canary_blocks(run);
            }
        }
        let runs = done
            .into_iter()
            .enumerate()
            .map(|(i, r)| {
                r.unwrap_or_else(|| {
                    let spec = &self.plan.plugins[i];
                    let was_running = self
                        .running
                        .lock()
                        .expect("running lock")
                        .contains(&spec.name);
                    let why = if was_running {
                        "the run was interrupted while it was running"
                    } else {
                        "the run was interrupted before it started"
                    };
                    skipped(spec, self.plugins.get(i), why)
                })
            })
            .collect();
        Ran { runs, incomplete }
    }

    /// Run (or skip) plugin `i`.
    async fn one(&self, i: usize, blocked: Option<&str>) -> PluginRun {
        let spec = &self.plan.plugins[i];
        let plugin = &self.plugins[i];
        let descriptor = match &self.descriptors[i] {
            Ok(d) => d,
            Err(f) => {
                // It could not describe itself: a failure, not a run.
                let mut run = skipped(spec, Some(plugin), "");
                run.status =
                    RunStatus::Failed(f.detail.lines().next().unwrap_or_default().to_owned());
                run.findings = vec![f.clone()];
                self.finished(&run);
                return run;
            }
        };
        if let (Some(why), true) = (blocked, descriptor.needs_canary) {
            let mut run = skipped(spec, Some(plugin), why);
            run.declared_findings = descriptor.findings.clone();
            self.events.emit(Event::PluginSkipped {
                plugin: spec.name.clone(),
                reason: why.to_owned(),
            });
            return run;
        }
        self.events.emit(Event::PluginStarted {
            plugin: spec.name.clone(),
        });
        let env = env::env(self.plan, self.contract, spec, self.shared);
        self.running
            .lock()
            .expect("running lock")
            .push(spec.name.clone());
        let run = self.runtime.run(plugin, env).await;
        self.running
            .lock()
            .expect("running lock")
            .retain(|n| *n != spec.name);
        self.finished(&run);
        run
    }

    fn finished(&self, run: &PluginRun) {
        log::append(
            &self.shared.outputs.log,
            &Redactor,
            "host",
            "info",
            "plugin finished",
            BTreeMap::from([
                ("plugin".to_owned(), run.name.clone()),
                ("status".to_owned(), run.status.describe()),
                ("duration_ms".to_owned(), run.duration_ms.to_string()),
            ]),
        );
        let count = |v: Verdict| run.findings.iter().filter(|f| f.verdict == v).count();
        self.events.emit(Event::PluginFinished {
            plugin: run.name.clone(),
            status: run.status.describe(),
            counts: [
                count(Verdict::Pass),
                count(Verdict::Warn),
                count(Verdict::Fail),
                count(Verdict::Skip),
            ],
            requests: run.requests,
            duration_ms: run.duration_ms,
        });
    }

    /// Why the canary's result stops the checks that need it, if it does:
    /// its auth finding failed (the key was refused).
    fn canary_blocks(&self, run: &PluginRun) -> Option<String> {
        let auth = run
            .findings
            .iter()
            .find(|f| f.id == CANARY_AUTH && f.verdict == Verdict::Fail)?;
        Some(format!(
            "the canary could not authenticate with the key in ${} ({}); checks that need an authenticated canary were not run",
            self.contract.auth.credential_env,
            crate::text::one_line(&auth.detail, 200)
        ))
    }
}

/// A run that did not happen.
fn skipped(spec: &PluginSpec, plugin: Option<&LoadedPlugin>, why: &str) -> PluginRun {
    PluginRun {
        name: spec.name.clone(),
        version: None,
        summary: None,
        covers: Vec::new(),
        declared_findings: Vec::new(),
        sha256: plugin.map(|p| p.sha256.clone()).unwrap_or_default(),
        source: plugin.map(|p| p.source.clone()).unwrap_or_default(),
        status: RunStatus::Skipped(why.to_owned()),
        findings: Vec::new(),
        duration_ms: 0,
        fuel_used: None,
        requests: 0,
        subject: spec.subject,
    }
}
