//! Running one plugin: describe it, or describe and run it, in a fresh
//! sandbox; whatever it does, the answer is a value, never an error.

use super::descriptor::Descriptor;
use super::outcome;
use super::sandbox::Sandbox;
use super::{LoadedPlugin, PluginRun, RunEnv, RunStatus, Runtime};
use crate::findings::{self, Finding, FindingKind};

impl Runtime {
    /// Ask a plugin what it is, in a sandbox of its own with `env`'s limits.
    /// Used before the run, to check the plan against what the plugin
    /// declares; give it an `env` whose capabilities grant nothing.
    ///
    /// # Errors
    ///
    /// A `plugin-error` finding when it traps, runs out of time or fails to
    /// instantiate.
    pub async fn describe(
        &self,
        plugin: &LoadedPlugin,
        env: RunEnv,
    ) -> Result<Descriptor, Finding> {
        let mut sb = Sandbox::new(&self.engine, env);
        let stop = sb.hard_stop();
        let work = async {
            let instance = plugin.pre.instantiate_async(&mut sb.store).await?;
            instance
                .shipgate_plugin_check()
                .call_describe(&mut sb.store)
                .await
        };
        match tokio::time::timeout_at(stop, work).await {
            Ok(Ok(d)) => Ok(Descriptor::from_guest(d)),
            Ok(Err(e)) => Err(outcome::describe_failed(&plugin.name, &format!("{e:#}"))),
            Err(_) => Err(outcome::describe_failed(
                &plugin.name,
                "describe did not return before sandbox.deadline_ms",
            )),
        }
    }

    /// Run one loaded plugin with `env`. Never fails: failures are findings.
    pub async fn run(&self, plugin: &LoadedPlugin, env: RunEnv) -> PluginRun {
        let limits = env.limits.clone();
        let covers_grant = crate::plan::Grants {
            covers: env.covers_grant.clone(),
            ..Default::default()
        };
        let bundled = env.bundled;
        let subject = env.subject;
        let name = plugin.name.clone();
        let mut sb = Sandbox::new(&self.engine, env);
        let stop = sb.hard_stop();

        let mut descriptor = None;
        let work = async {
            let instance = plugin.pre.instantiate_async(&mut sb.store).await?;
            let check = instance.shipgate_plugin_check();
            descriptor = Some(check.call_describe(&mut sb.store).await?);
            check.call_run(&mut sb.store).await
        };
        let result = tokio::time::timeout_at(stop, work).await;
        let elapsed = sb.started.elapsed();
        let descriptor = descriptor.map(Descriptor::from_guest);

        let mut found = Vec::new();
        let status = match result {
            Err(_) => {
                found.push(outcome::deadline_finding(&name, &limits, elapsed));
                RunStatus::Failed(format!("deadline of {} ms exceeded", limits.deadline_ms))
            }
            Ok(Ok(Ok(raw))) => {
                let max = limits.max_findings as usize;
                if raw.len() > max {
                    found.push(outcome::too_many_findings(
                        &name,
                        raw.len(),
                        limits.max_findings,
                    ));
                }
                let declared = descriptor
                    .as_ref()
                    .map(|d| d.covers.clone())
                    .unwrap_or_default();
                let allowed = covers_grant.allowed_covers(&declared, bundled);
                found.extend(findings::from_guest(
                    findings::Intake {
                        plugin: &name,
                        max_bytes: limits.max_finding_bytes,
                        covers: &allowed,
                        subject,
                    },
                    raw.into_iter().take(max).collect(),
                ));
                if found.iter().any(|f| f.kind == FindingKind::PluginError) {
                    RunStatus::Failed("findings over sandbox.max_findings".into())
                } else {
                    RunStatus::Completed
                }
            }
            Ok(Ok(Err(msg))) => {
                let f = outcome::returned_error(&name, &msg);
                let first = f.detail.lines().next().unwrap_or_default();
                let reason = first.trim_start_matches("the check ").to_owned();
                found.push(f);
                RunStatus::Failed(format!("check {reason}"))
            }
            Ok(Err(trap)) => {
                let f = outcome::trap_finding(
                    &name,
                    &limits,
                    &trap,
                    sb.store.data().limiter.hit.as_deref(),
                    elapsed,
                    &outcome::panic_message(&sb.stderr.contents()),
                );
                let reason = f.detail.lines().next().unwrap_or_default().to_owned();
                found.push(f);
                RunStatus::Failed(reason)
            }
        };

        let data = sb.store.data_mut();
        // Enforce: a request cut off at the deadline stays on the record.
        data.http.cancel_in_flight();
        // Reported now, never during the run: the guest must not learn which
        // of the texts it caused held part of a key.
        found.extend(outcome::reflection_finding(&name, data.http.reflections()));
        if data.http.budget_exceeded {
            found.push(outcome::too_many_requests(&name, limits.max_requests));
        }
        for (stream, pipe) in [("stdout", &sb.stdout), ("stderr", &sb.stderr)] {
            let bytes = pipe.contents();
            for line in String::from_utf8_lossy(&bytes)
                .lines()
                .filter(|l| !l.trim().is_empty())
                .take(200)
            {
                let level = if stream == "stderr" { "warn" } else { "info" };
                data.log
                    .write(level, line, vec![("stream".into(), stream.into())]);
            }
        }
        if data.log.dropped > 0 {
            found.push(outcome::log_dropped(&name, data.log.dropped, &limits));
        }
        let requests = data.http.requests_sent();
        let fuel_used =
            (limits.fuel > 0).then(|| sb.fuel.saturating_sub(sb.store.get_fuel().unwrap_or(0)));
        // The host's findings about a plugin are about the same subject as its own.
        for f in &mut found {
            f.subject = subject;
        }
        let (version, summary, covers, declared_findings) = match descriptor {
            Some(d) => (
                Some(d.version),
                Some(d.summary),
                covers_grant.allowed_covers(&d.covers, bundled),
                d.findings,
            ),
            None => (None, None, Vec::new(), Vec::new()),
        };
        PluginRun {
            name,
            version,
            summary,
            covers,
            declared_findings,
            sha256: plugin.sha256.clone(),
            source: plugin.source.clone(),
            status,
            findings: found,
            duration_ms: elapsed.as_millis() as u64,
            fuel_used,
            requests,
            subject,
        }
    }
}
