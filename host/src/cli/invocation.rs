//! A `run` in two stages, as ripgrep builds its arguments: first what the
//! command line asks for, checked without touching anything
//! ([`RunRequest::from_args`]); then the same request resolved with I/O
//! (files read, the key read from its variable: [`RunRequest::resolve`]).
//! Only [`Resolved`] reaches the engine.

use super::args::{FailOn, OutputArgs, RunArgs};
use super::commands::usage;
use crate::contract::Contract;
use crate::mock::{MockConfig, MockServer};
use crate::plan::{Override, Plan, PluginSource, PluginSpec};
use crate::redact::Secret;
use crate::report;
use anyhow::Result;
use std::path::PathBuf;

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
}

/// Where a run's requests go.
#[derive(Debug)]
enum Target {
    /// A contract's target, with the key from the variable it names.
    Contract(PathBuf),
    /// The built-in mock, its contract and a per-run key.
    Mock,
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
}

impl RunRequest {
    /// Check the command line: `--set` and `SHIPGATE_SET` assignments parse.
    ///
    /// # Errors
    ///
    /// A usage error naming the flag and the value.
    pub fn from_args(args: RunArgs) -> Result<RunRequest> {
        let target = match (args.mock, args.contract) {
            (true, _) => Target::Mock,
            (false, Some(c)) => Target::Contract(c),
            (false, None) => {
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
        let mut plan = match &self.plan {
            Some(p) => Plan::load(p, &bundled, &self.overrides)?,
            None => Plan::builtin_for(&bundled, &self.overrides, !self.app.is_empty())?,
        };
        if !self.plugins.is_empty() {
            plan.plugins = files_as_plugins(&plan, &self.plugins);
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
        let (contract, source, secret, mock) = match &self.target {
            Target::Contract(path) => {
                let contract = Contract::load(path)?;
                let secret = read_secret(&contract, path)?;
                (contract, path.display().to_string(), secret, None)
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
            target_is_mock: mock.is_some(),
            mock,
        })
    }
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

/// `--plugin FILE`s in place of the plan's checks, with the plan's
/// thresholds and limits and no grants.
fn files_as_plugins(plan: &Plan, files: &[PathBuf]) -> Vec<PluginSpec> {
    let template = plan.plugins.first().cloned();
    files
        .iter()
        .map(|f| {
            let name = f
                .file_stem()
                .map(|s| s.to_string_lossy().into_owned())
                .unwrap_or_default();
            let base = template.clone().expect("a plan always has plugins");
            PluginSpec {
                name,
                source: PluginSource::File(f.clone()),
                sha256: None,
                settings: Default::default(),
                grants: Default::default(),
                subject: crate::plan::default_subject(None, false),
                ..base
            }
        })
        .collect()
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
