//! The subcommands.

use super::args::{Cli, Command, FailOn, OutputArgs};
use super::exit;
use super::invocation::{Resolved, RunRequest};
use super::progress::{LiveProgress, PlainProgress};
use super::style::{ColorEnv, Verbosity};
use crate::capability::http::cassette::{self, Tape};
use crate::config_error::ConfigError;
use crate::contract::{Contract, Provider, template};
use crate::decision::Outcome;
use crate::mock::{Fault, MockConfig, MockServer};
use crate::plan::{Override, Plan};
use crate::redact::Secret;
use crate::report;
use crate::runtime::Runtime;
use crate::validation::{SetupError, Validation};
use anyhow::{Context as _, Result};
use std::io::IsTerminal as _;
use std::path::{Path, PathBuf};

/// An error with a specific exit code.
#[derive(Debug, thiserror::Error)]
#[error("{message}")]
pub struct Failure {
    /// Exit code.
    pub code: u8,
    /// One line for the user.
    pub message: String,
}

/// A usage or configuration error (exit 2).
pub(super) fn usage(message: impl Into<String>) -> anyhow::Error {
    Failure {
        code: exit::USAGE,
        message: message.into(),
    }
    .into()
}

/// Run one parsed command; returns the exit code.
pub async fn run(cli: Cli) -> Result<u8> {
    match cli.command {
        Command::Demo { output, fail_on } => demo(output, fail_on).await,
        Command::Run(args) => execute(RunRequest::from_args(args)?.resolve().await?).await,
        Command::Diff { old, new, json } => {
            let drift = crate::diff::diff(&load_record(&old)?, &load_record(&new)?);
            if json {
                println!("{}", serde_json::to_string_pretty(&drift)?);
            } else {
                let mut out = Vec::new();
                crate::diff::render(&drift, &mut out)?;
                print!("{}", String::from_utf8_lossy(&out));
            }
            Ok(if drift.is_empty() {
                exit::OK
            } else {
                exit::DRIFT
            })
        }
        Command::MockServer(args) => mock_server(args).await,
        Command::Init {
            provider,
            plan,
            out,
            force,
        } => init(provider, plan, out, force),
        Command::Plugins => plugins(),
        Command::Check {
            file,
            contract,
            mock: _,
            replay,
            cassettes,
            set,
            output,
        } => {
            let stem = file
                .file_stem()
                .map(|s| s.to_string_lossy().into_owned())
                .unwrap_or_default();
            let args = super::args::RunArgs {
                mock: contract.is_none() && replay.is_none(),
                contract,
                replay,
                cassettes,
                plan: None,
                plugins: vec![file],
                only: vec![stem.clone()],
                set,
                fail_on: FailOn::Never,
                baseline: None,
                output,
                app: Vec::new(),
                lock: None,
            };
            let mut resolved = RunRequest::from_args(args)?.resolve().await?;
            resolved.judged = Some(stem);
            execute(resolved).await
        }
        Command::Lock { plan, out } => lock(plan.as_deref(), &out),
        Command::Inspect { file, json } => super::inspect::inspect(&file, json).await,
        Command::New { name, dir } => new_check(&name, &dir),
    }
}

fn cache_dir() -> Option<PathBuf> {
    if std::env::var_os("SHIPGATE_NO_CACHE").is_some() {
        return None;
    }
    let base = std::env::var_os("XDG_CACHE_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cache")))?;
    Some(base.join("shipgate").join("wasmtime"))
}

/// Read a record.json (or the record.json inside a run directory).
fn load_record(path: &Path) -> Result<report::Record> {
    report::record::read(path).map_err(usage)
}

async fn demo(output: OutputArgs, fail_on: FailOn) -> Result<u8> {
    // The demo key is made here for the in-process mock; it is not a real secret,
    // but it is treated as one (redacted everywhere) to show the path a real key takes.
    let key = format!(
        "sk-demo-{}",
        crate::capability::http::credentials::random_token(40).expose()
    );
    let mock = MockServer::start(MockConfig::new(key.clone()), 0)
        .await
        .context("starting the mock server")?;
    let text = template(Provider::Mock, Some(&mock.base_url()));
    let contract = Contract::parse(Path::new("<built-in mock contract>"), &text)?;
    let bundled = crate::bundled::names();
    // The mock answers at once: short backoffs keep the retry scenarios quick
    // (the policy is the same shape; its delays are the plan's to choose).
    let quick: Vec<Override> = [
        "thresholds.retry_base_delay_ms=50",
        "thresholds.retry_max_delay_ms=400",
    ]
    .iter()
    .map(|s| s.parse().map_err(|e: String| anyhow::anyhow!(e)))
    .collect::<Result<_>>()?;
    let mut plan = Plan::builtin(&bundled, &quick)?;
    if let Some(jobs) = output.jobs {
        plan.run.jobs = jobs;
    }
    eprintln!(
        "shipgate: demo against the built-in mock at {} ({} checks)",
        mock.base_url(),
        plan.plugins.len()
    );
    execute(Resolved {
        contract,
        contract_source: "built-in mock contract".into(),
        plan,
        secret: Some(Secret::new(key)),
        baseline: None,
        output,
        fail_on,
        target_is_mock: true,
        mock: Some(mock),
        judged: None,
        tape: Default::default(),
        contract_text: String::new(),
    })
    .await
}

/// Run a resolved request: the engine, the record, the outputs.
async fn execute(request: Resolved) -> Result<u8> {
    let Resolved {
        contract,
        contract_source,
        plan,
        secret,
        baseline,
        output,
        fail_on,
        target_is_mock,
        mock: _mock,
        judged,
        tape,
        contract_text,
    } = request;
    let cache = cache_dir();
    let mut runtime = Runtime::new(cache.as_deref())?;
    // Plugin files are compiled in a child process with limits (see runtime::compile).
    if let Ok(exe) = std::env::current_exe() {
        runtime = runtime.with_isolated_compiler(crate::runtime::IsolatedCompiler {
            exe,
            cache_dir: cache,
        });
    }
    // Pre-flight: the record can be written before anything is sent.
    report::check_writable(&output.out).map_err(|e| {
        usage(format!(
            "--out {}: {e}; nothing was sent (choose a directory you can write)",
            output.out.display()
        ))
    })?;
    let plan = &plan;
    let verbosity = output.verbosity();
    let color_env = ColorEnv::from_process();
    let stderr_tty = std::io::stderr().is_terminal();
    let mut sinks: Vec<std::sync::Arc<dyn crate::events::Sink>> = Vec::new();
    if verbosity > Verbosity::Quiet {
        if stderr_tty && color_env.term.as_deref() != Some("dumb") {
            let color = output.color_choice().resolve(true, &color_env);
            sinks.push(std::sync::Arc::new(LiveProgress::new(verbosity, color)));
        } else {
            sinks.push(std::sync::Arc::new(PlainProgress::new(
                verbosity,
                Box::new(std::io::stderr()),
            )));
        }
    }
    if let Tape::Replay(player) = &tape {
        let meta = player.meta();
        eprintln!(
            "shipgate: replaying {} (recorded {} against {} by shipgate {}): nothing is sent; the findings are the recorded run's",
            crate::text::one_line(&player.dir().display().to_string(), 300),
            meta.recorded_at,
            meta.base_url,
            meta.shipgate
        );
    }
    let validation = Validation {
        events: crate::events::Events::to(sinks),
        contract_source,
        baseline: baseline.as_ref(),
        target_is_mock,
        tape: tape.clone(),
        ..Validation::new(&contract, plan, &runtime, secret)
    };
    let cancel = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    let out = match validation.run(cancel).await {
        Ok(out) => out,
        Err(SetupError::Plan(m)) => {
            return Err(usage(format!("{}\n  help: {}", m.message, m.help)));
        }
        Err(e) => return Err(usage(e.to_string())),
    };
    let mut code = match &judged {
        Some(name) => verdict_code(&out.record, name),
        None => exit_code(out.record.decision.outcome, fail_on),
    };
    match &tape {
        Tape::Record(recorder) => {
            let meta = cassette::Meta {
                format: cassette::CASSETTE_FORMAT,
                shipgate: env!("CARGO_PKG_VERSION").to_owned(),
                recorded_at: out.record.started_at.clone(),
                base_url: contract.base_url.url.clone(),
                target_is_mock,
                run_id: out.record.run_id.clone(),
                files: Vec::new(),
            };
            recorder
                .save(&meta, &contract_text, out.redactor.secrets())
                .context("writing the cassettes")?;
            eprintln!(
                "shipgate: cassettes written to {} (replay: --replay {})",
                recorder.dir().display(),
                recorder.dir().display()
            );
        }
        Tape::Replay(player) => {
            let misses = player.misses();
            if !misses.is_empty() {
                eprintln!(
                    "shipgate: --replay {}: {} request(s) had no recorded exchange; nothing was sent, and the decision below is not the recorded run's:",
                    player.dir().display(),
                    misses.len()
                );
                for m in &misses {
                    eprintln!("  - {m}");
                }
                eprintln!(
                    "  help: the plan, the plugins or their settings changed since the recording: record again with --cassettes"
                );
                code = exit::USAGE;
            }
        }
        Tape::Off => {}
    }
    let paths = report::write_record_dir(
        &output.out,
        &out.record,
        &out.log,
        &out.redactor,
        report::JunitOptions {
            warn: plan.decision.junit_warn,
            decision_fails: code != exit::OK,
        },
    )
    .context("writing the validation record")?;
    report::update_latest(&output.out, &paths).context("updating the latest/ copy")?;
    if let Some(junit) = &output.junit {
        report::record::write_atomic(junit, &std::fs::read(&paths.junit)?)
            .with_context(|| format!("writing --junit {}", junit.display()))?;
    }
    if let Some(summary) = std::env::var_os("GITHUB_STEP_SUMMARY") {
        report::append_step_summary(Path::new(&summary), &paths.report)
            .context("appending to GITHUB_STEP_SUMMARY")?;
    }
    let stdout_tty = std::io::stdout().is_terminal();
    let color = !output.json && output.color_choice().resolve(stdout_tty, &color_env);
    let mut human = Vec::new();
    if verbosity == Verbosity::Quiet {
        report::human::render_decision_line(&out.record, &mut human, color)?;
    } else {
        report::human::render(&out.record, &mut human, color)?;
    }
    let human = out
        .redactor
        .redact(&String::from_utf8_lossy(&human))
        .into_owned();
    if output.json {
        eprint!("{human}");
        eprintln!("  record: {}", paths.record.display());
        println!(
            "{}",
            serde_json::to_string_pretty(&out.record.to_json(&out.redactor))?
        );
    } else if verbosity == Verbosity::Quiet {
        print!("{human}");
        println!("  record: {}", paths.record.display());
    } else {
        print!("{human}");
        println!(
            "\n  record: {}\n  report: {}",
            paths.record.display(),
            paths.report.display()
        );
    }
    Ok(code)
}

/// The exit code a decision gives under `--fail-on`.
/// `shipgate check`'s exit code: the one plugin's own verdicts (a plugin that
/// failed to run counts as a failure).
fn verdict_code(r: &report::Record, plugin: &str) -> u8 {
    let mine = || r.findings.iter().filter(|f| f.plugin == plugin);
    let crashed = r
        .plugins
        .iter()
        .any(|p| p.name == plugin && !matches!(p.status, report::record::RunStatus::Completed));
    if crashed || mine().any(|f| f.verdict == crate::findings::Verdict::Fail) {
        exit::HOLD
    } else if mine().any(|f| f.verdict == crate::findings::Verdict::Warn) {
        exit::SHIP_BEHIND_FLAG
    } else {
        exit::OK
    }
}

fn exit_code(outcome: Outcome, fail_on: FailOn) -> u8 {
    match (outcome, fail_on) {
        (_, FailOn::Never) | (Outcome::Ship, _) => exit::OK,
        (Outcome::ShipBehindFlag, FailOn::Flag) => exit::SHIP_BEHIND_FLAG,
        (Outcome::ShipBehindFlag, FailOn::Hold) => exit::OK,
        (Outcome::Hold, _) => exit::HOLD,
    }
}

async fn mock_server(args: super::args::MockServerArgs) -> Result<u8> {
    let super::args::MockServerArgs {
        port,
        key_env,
        models,
        faults,
        fault_rate,
        behaviours,
        latency_ms,
    } = args;
    let key_env = key_env.as_str();
    if latency_ms > crate::mock::MAX_FAULT_DELAY_MS {
        return Err(usage(format!(
            "--latency-ms {latency_ms} is out of range: 0 to {} ms",
            crate::mock::MAX_FAULT_DELAY_MS
        )));
    }
    let key = std::env::var(key_env).ok().filter(|k| !k.is_empty()).ok_or_else(|| {
        usage(format!("set {key_env} to the key the mock should accept (e.g. export {key_env}=sk-local-test-key)"))
    })?;
    let script = faults
        .iter()
        .map(|f| f.parse::<Fault>())
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| usage(format!("--fault: {e}")))?;
    let rate = match fault_rate {
        None => None,
        Some(s) => {
            let (r, f) = s
                .split_once(':')
                .ok_or_else(|| usage("--fault-rate is RATE:FAULT, e.g. 0.1:status:503"))?;
            let r: f64 = r
                .parse()
                .ok()
                .filter(|r: &f64| (0.0..=1.0).contains(r))
                .ok_or_else(|| {
                    usage(format!("--fault-rate: {r:?} is not a rate between 0 and 1"))
                })?;
            Some((
                r,
                f.parse::<Fault>()
                    .map_err(|e| usage(format!("--fault-rate: {e}")))?,
            ))
        }
    };
    let mut config = MockConfig::new(key)
        .with_script(script)
        .with_latency_ms(latency_ms);
    config.models = models;
    config.rate = rate;
    config.behaviours = behaviours
        .iter()
        .map(|b| crate::mock::parse_behaviour(b))
        .collect::<Result<_, _>>()
        .map_err(|e| usage(format!("--when: {e}")))?;
    let server = MockServer::start(config, port)
        .await
        .with_context(|| format!("binding 127.0.0.1:{port}"))?;
    println!(
        "shipgate mock listening on {} (key from ${key_env}; Ctrl-C to stop)",
        server.base_url()
    );
    let _ = tokio::signal::ctrl_c().await;
    Ok(exit::OK)
}

fn init(provider: Provider, plan: bool, out: Option<PathBuf>, force: bool) -> Result<u8> {
    let out = out.unwrap_or_else(|| {
        PathBuf::from(if plan {
            "shipgate.plan.toml"
        } else {
            "shipgate.contract.toml"
        })
    });
    let out = out.as_path();
    let text = if plan {
        crate::plan::plan_template(&crate::bundled::names())
    } else {
        template(provider, None)
    };
    if out == Path::new("-") {
        print!("{text}");
        return Ok(exit::OK);
    }
    if out.exists() && !force {
        return Err(usage(format!(
            "{} exists; pass --force to overwrite it",
            out.display()
        )));
    }
    report::record::write_atomic(out, text.as_bytes())
        .with_context(|| format!("writing {}", out.display()))?;
    if plan {
        eprintln!(
            "shipgate: wrote {}: every key at its default; run it with `shipgate run --contract C --plan {}`",
            out.display(),
            out.display()
        );
    } else if provider == Provider::Mock {
        eprintln!(
            "shipgate: wrote {} for the built-in mock (start it with `shipgate mock-server`)",
            out.display()
        );
    } else {
        eprintln!(
            "shipgate: wrote {}. Every section is `assumed`: verify each against its source, set status = \"verified\", then run `shipgate run --contract {}`",
            out.display(),
            out.display()
        );
    }
    Ok(exit::OK)
}

/// Write the plan's lockfile.
fn lock(plan: Option<&Path>, out: &Path) -> Result<u8> {
    let bundled = crate::bundled::names();
    let plan = match plan {
        Some(p) => Plan::load(p, &bundled, &[])?,
        None => Plan::builtin(&bundled, &[])?,
    };
    let lock = crate::lock::Lockfile::from_plan(&plan, crate::bundled::BUNDLED).map_err(usage)?;
    report::record::write_atomic(out, lock.to_toml().as_bytes())
        .with_context(|| format!("writing {}", out.display()))?;
    eprintln!(
        "shipgate: wrote {} ({} plugins pinned); run with `shipgate run --lock {}`",
        out.display(),
        lock.plugins.len(),
        out.display()
    );
    Ok(exit::OK)
}

/// Write a standalone check crate that builds to a wasm component.
fn new_check(name: &str, dir: &Path) -> Result<u8> {
    let valid = !name.is_empty()
        && name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        && name.as_bytes()[0].is_ascii_lowercase();
    if !valid {
        return Err(usage(format!(
            "check name {name:?} must be lower-case letters, digits and dashes, starting with a letter"
        )));
    }
    let root = dir.join(name);
    if root.exists() {
        return Err(usage(format!(
            "{} exists; pick another name or --dir",
            root.display()
        )));
    }
    super::scaffold::write(&root, name)?;
    let crate_name = name.replace('-', "_");
    eprintln!(
        "shipgate: wrote {root} (the SDK and WIT for this shipgate are in vendor/). Next:\n  cd {root} && cargo test && cargo build-check\n  shipgate run --mock --plugin target/wasm32-wasip2/release/{crate_name}.wasm",
        root = root.display()
    );
    Ok(exit::OK)
}

fn plugins() -> Result<u8> {
    for (name, bytes) in crate::bundled::BUNDLED {
        println!(
            "{name:<18} {} bytes  sha256 {}",
            bytes.len(),
            crate::runtime::sha256_hex(bytes)
        );
    }
    Ok(exit::OK)
}

impl From<ConfigError> for Failure {
    fn from(e: ConfigError) -> Self {
        Failure {
            code: exit::USAGE,
            message: e.to_string(),
        }
    }
}
