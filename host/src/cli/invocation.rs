//! A `run` in two stages, as ripgrep builds its arguments: first what the
//! command line asks for, checked without touching anything
//! ([`RunRequest::from_args`]); then the same request resolved with I/O
//! (files read, the key read from its variable: [`RunRequest::resolve`]).
//! Only [`Resolved`] reaches the engine.

use super::args::{FailOn, OutputArgs, RunArgs};
use super::commands::usage;
use crate::capability::http::cassette::{self, Player, Recorder, Tape};
use crate::contract::Contract;
use crate::mock::{MockConfig, MockServer};
use crate::plan::{Override, Plan};
use crate::redact::Secret;
use crate::report;
use anyhow::Result;
use std::path::PathBuf;
use std::sync::Arc;

/// Stage one: a `run` as asked for, every value checked, nothing read.
#[derive(Debug)]
pub struct RunRequest {
    target: Target,
    plan: Option<PathBuf>,
    plugins: Vec<PathBuf>,
    overrides: Vec<Override>,
    baseline: Option<PathBuf>,
    fail_on: FailOn,
    output: OutputArgs,
    app: Vec<String>,
    only: Vec<String>,
    lock: Option<PathBuf>,
    cassettes: Option<PathBuf>,
}

/// Where a run's requests go.
#[derive(Debug)]
enum Target {
    /// A contract's target, with the key from the variable it names.
    Contract(PathBuf),
    /// The built-in mock, its contract and a per-run key.
    Mock,
    /// Nowhere: recordings answer (with the recorded contract, or this one).
    Replay(PathBuf, Option<PathBuf>),
}

/// Stage two: everything the engine needs, read and validated.
pub struct Resolved {
    /// The contract.
    pub contract: Contract,
    /// Where it came from, for the record.
    pub contract_source: String,
    /// The effective plan (overrides, `--jobs` and `-- CMD` applied).
    pub plan: Plan,
    /// The credential, from the variable the contract names.
    pub secret: Option<Secret>,
    /// A baseline record to compare with.
    pub baseline: Option<report::Record>,
    /// Output options.
    pub output: OutputArgs,
    /// The exit code rule.
    pub fail_on: FailOn,
    /// Whether the target is the built-in mock.
    pub target_is_mock: bool,
    /// The built-in mock, kept serving for the run.
    pub mock: Option<MockServer>,
    /// `shipgate check`: the plugin whose verdicts give the exit code.
    pub judged: Option<String>,
    /// Whether exchanges are recorded, or answered from recordings.
    pub tape: Tape,
    /// The contract's text, for a recording.
    pub contract_text: String,
}

impl RunRequest {
    /// Check the command line: `--set` and `SHIPGATE_SET` assignments parse.
    ///
    /// # Errors
    ///
    /// A usage error naming the flag and the value.
    pub fn from_args(args: RunArgs) -> Result<RunRequest> {
        let target = match (args.mock, args.contract, args.replay) {
            (_, contract, Some(dir)) => Target::Replay(dir, contract),
            (true, _, None) => Target::Mock,
            (false, Some(c), None) => Target::Contract(c),
            (false, None, None) => {
                return Err(usage(
                    "give --contract FILE, or --mock for the built-in mock",
                ));
            }
        };
        Ok(RunRequest {
            target,
            plan: args.plan,
            plugins: args.plugins,
            overrides: overrides(std::env::var("SHIPGATE_SET").ok().as_deref(), &args.set)?,
            baseline: args.baseline,
            fail_on: args.fail_on,
            output: args.output,
            app: args.app,
            only: args.only,
            lock: args.lock,
            cassettes: args.cassettes,
        })
    }

    /// Read the files and the key (or start the built-in mock).
    ///
    /// # Errors
    ///
    /// A configuration error naming the file and key, or a usage error naming
    /// the variable that holds no key.
    pub async fn resolve(self) -> Result<Resolved> {
        let bundled = crate::bundled::names();
        // `--plugin FILE`s join the plan's checks before the plan is read, so
        // `--set NAME.KEY=…` and `--only` reach them like any other.
        let (path, text) = match &self.plan {
            Some(p) => (
                p.clone(),
                crate::config_error::ConfigError::read(p, "plan")?,
            ),
            None => (
                PathBuf::from("<built-in plan>"),
                crate::plan::default_plan_toml_for(&bundled, !self.app.is_empty()),
            ),
        };
        let text = text + &plugin_entries(&self.plugins)?;
        let mut plan = Plan::parse(&path, &text, &bundled, &self.overrides)?;
        if self.plan.is_none() {
            plan.origin = "built-in".into();
        }
        if !self.only.is_empty() {
            let names: Vec<String> = plan.plugins.iter().map(|p| p.name.clone()).collect();
            if let Some(unknown) = self.only.iter().find(|o| !names.contains(o)) {
                return Err(usage(format!(
                    "--only {unknown}: the plan has no check of that name; it has {}",
                    names.join(", ")
                )));
            }
            plan.plugins.retain(|p| self.only.contains(&p.name));
        }
        if let Some(lock) = &self.lock {
            let pinned = crate::lock::Lockfile::read(lock).map_err(usage)?;
            pinned
                .check(&plan, crate::bundled::BUNDLED)
                .map_err(|e| usage(format!("--lock {}: nothing was sent:\n{e}", lock.display())))?;
        }
        if let Some(jobs) = self.output.jobs {
            plan.run.jobs = jobs;
        }
        if !self.app.is_empty() {
            let mut app = plan.application.take().unwrap_or_default();
            app.command = self.app.clone();
            app.check().map_err(|(_, m)| usage(m))?;
            plan.application = Some(app);
        }
        if let Some(app) = &plan.application {
            app.check_command().map_err(usage)?;
        }
        let baseline = self
            .baseline
            .as_deref()
            .map(|p| report::record::read(p).map_err(usage))
            .transpose()?;
        let mut tape = match &self.cassettes {
            Some(dir) => Tape::Record(Arc::new(recorder(dir)?)),
            None => Tape::Off,
        };
        let mut replayed_mock = false;
        let (contract, source, secret, mock, contract_text) = match &self.target {
            Target::Contract(path) => {
                let text = crate::config_error::ConfigError::read(path, "contract")?;
                let contract = Contract::parse(path, &text)?;
                let secret = read_secret(&contract, path)?;
                (contract, path.display().to_string(), secret, None, text)
            }
            Target::Replay(dir, contract_path) => {
                if plan.application.is_some() {
                    return Err(usage(
                        "--replay runs the checks only: an application's traffic is not recorded (drop `-- CMD` or the plan's [application])",
                    ));
                }
                let player = Player::load(dir).map_err(|e| usage(format!("--replay: {e}")))?;
                let meta = player.meta().clone();
                let (path, text) = match contract_path {
                    Some(p) => (
                        p.clone(),
                        crate::config_error::ConfigError::read(p, "contract")?,
                    ),
                    None => (
                        dir.join(cassette::CONTRACT_FILE),
                        cassette::read_contract(dir)
                            .map_err(|e| usage(format!("--replay: {e}")))?,
                    ),
                };
                let contract = Contract::parse(&path, &text)?;
                if contract.base_url.url != meta.base_url {
                    return Err(usage(format!(
                        "--replay {}: recorded against {}, but {} names {}; replay with the recorded contract (drop --contract) or record again",
                        dir.display(),
                        meta.base_url,
                        path.display(),
                        contract.base_url.url
                    )));
                }
                replayed_mock = meta.target_is_mock;
                tape = Tape::Replay(Arc::new(player));
                let source = cassette::replay_source(&path, dir, &meta);
                // Nothing is sent: the credential is never used.
                let key = Secret::new(format!(
                    "sk-replay-{}",
                    crate::capability::http::credentials::random_token(40).expose()
                ));
                (contract, source, key, None, text)
            }
            Target::Mock => {
                let key = Secret::new(format!(
                    "sk-mock-{}",
                    crate::capability::http::credentials::random_token(40).expose()
                ));
                let mock = MockServer::start(MockConfig::new(key.expose()), 0).await?;
                let text = crate::contract::template(
                    crate::contract::Provider::Mock,
                    Some(&mock.base_url()),
                );
                let contract =
                    Contract::parse(std::path::Path::new("<built-in mock contract>"), &text)?;
                (
                    contract,
                    "built-in mock contract".to_owned(),
                    key,
                    Some(mock),
                    text,
                )
            }
        };
        Ok(Resolved {
            contract_source: source,
            contract,
            plan,
            secret: Some(secret),
            baseline,
            output: self.output,
            fail_on: self.fail_on,
            target_is_mock: mock.is_some() || replayed_mock,
            mock,
            judged: None,
            tape,
            contract_text,
        })
    }
}

/// A recorder for `--cassettes DIR`: DIR is new, empty, or a cassette
/// directory (whose recordings are replaced).
fn recorder(dir: &std::path::Path) -> Result<Recorder> {
    Recorder::new(dir).map_err(|e| usage(format!("--cassettes {e}")))
}

/// `SHIPGATE_SET` (comma-separated), then each `--set`.
fn overrides(env: Option<&str>, set: &[String]) -> Result<Vec<Override>> {
    let mut out = Vec::new();
    if let Some(env) = env {
        out.extend(Override::parse_list(env).map_err(|e| usage(format!("SHIPGATE_SET: {e}")))?);
    }
    for s in set {
        out.push(
            s.parse()
                .map_err(|e: String| usage(format!("--set: {e}")))?,
        );
    }
    Ok(out)
}

/// `[[plugins]]` entries for `--plugin FILE`s (absolute paths, so they do not
/// move with the plan's directory), named by their file stem, with no grants.
fn plugin_entries(files: &[PathBuf]) -> Result<String> {
    let mut out = String::new();
    for f in files {
        let abs =
            std::path::absolute(f).map_err(|e| usage(format!("--plugin {}: {e}", f.display())))?;
        let path = abs
            .to_str()
            .ok_or_else(|| usage(format!("--plugin {}: the path is not UTF-8", f.display())))?;
        out.push_str(&format!(
            "\n[[plugins]]\npath = {}\n",
            toml::Value::String(path.to_owned())
        ));
    }
    Ok(out)
}

/// The key, read only from the variable the contract names, checked before
/// anything uses it, and registered with the panic hook's redactor.
fn read_secret(contract: &Contract, path: &std::path::Path) -> Result<Secret> {
    let var = &contract.auth.credential_env;
    let secret = match std::env::var(var) {
        Ok(v) if !v.trim().is_empty() => Secret::new(v.trim().to_owned()),
        Ok(_) => {
            return Err(usage(format!(
                "the environment variable {var} (auth.credential_env in {}) is empty; export the API key in it",
                path.display()
            )));
        }
        Err(_) => {
            return Err(usage(format!(
                "the environment variable {var} (auth.credential_env in {}) is not set; export the API key in it",
                path.display()
            )));
        }
    };
    // Enforce: the key is data of bounded size, checked before anything uses it.
    crate::secret::validate(crate::secret::SecretKind::Credential, &secret)
        .map_err(|e| usage(format!("{var}: {e}")))?;
    super::protect_panics(std::sync::Arc::new(crate::secret::SecretSet::new(
        &[(crate::secret::SecretKind::Credential, secret.clone())],
        &contract.auth.scheme,
    )));
    Ok(secret)
}

#[cfg(test)]
mod tests {
    use super::overrides;

    #[test]
    fn assignments_from_the_environment_come_first_and_bad_ones_name_their_flag() {
        let o = overrides(
            Some("thresholds.latency_ms=5,canary.latency_ms=7"),
            &["run.jobs=2".into()],
        )
        .unwrap();
        assert_eq!(o.len(), 3);
        let e = overrides(None, &["no-equals-sign".into()]).unwrap_err();
        assert!(e.to_string().starts_with("--set: "), "{e}");
        let e = overrides(Some("x"), &[]).unwrap_err();
        assert!(e.to_string().starts_with("SHIPGATE_SET: "), "{e}");
    }
}
