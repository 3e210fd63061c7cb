//! Flag definitions. Each flag is documented where it is defined; `--help` shows it.

use super::style::{ColorChoice, Verbosity};
use crate::contract::Provider;
use clap::{Parser, Subcommand, ValueEnum};
use std::path::PathBuf;

/// Decide whether an LLM chat-completions integration is safe to ship.
///
/// Exit codes: 0 ship (or below --fail-on), 1 tool error, 2 usage or config
/// error (nothing was sent), 3 ship behind flag, 4 hold, 5 drift (`diff`).
#[derive(Debug, Parser)]
#[command(name = "shipgate", version, about, long_about)]
pub struct Cli {
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// Which decisions fail the command (non-zero exit).
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum FailOn {
    /// Ship behind flag (exit 3) and Hold (exit 4) fail.
    Flag,
    /// Only Hold (exit 4) fails.
    Hold,
    /// Nothing fails; the decision is only reported.
    Never,
}

/// Output options shared by `run` and `demo`.
#[derive(Debug, Clone, clap::Args)]
pub struct OutputArgs {
    /// Directory for validation records: each run writes `<out>/<run-id>/`
    /// and copies its files to `<out>/latest/` (a stable path for CI uploads).
    #[arg(long, default_value = "shipgate-records")]
    pub out: PathBuf,
    /// Also write the JUnit report here (a stable path for CI test tabs).
    #[arg(long, value_name = "PATH")]
    pub junit: Option<PathBuf>,
    /// Print the record as JSON on stdout (the summary goes to stderr).
    #[arg(long)]
    pub json: bool,
    /// Colour: auto (a terminal, unless NO_COLOR or TERM=dumb; CLICOLOR_FORCE
    /// forces it), always, never.
    #[arg(long, value_enum, default_value = "auto", value_name = "WHEN")]
    pub color: ColorChoice,
    /// Same as --color never.
    #[arg(long, hide = true)]
    pub no_color: bool,
    /// Print only the decision and where the record is.
    #[arg(long, short = 'q', conflicts_with = "verbose")]
    pub quiet: bool,
    /// Also print every request as it goes.
    #[arg(long, short = 'v', action = clap::ArgAction::Count)]
    pub verbose: u8,
    /// Checks run at once after the canary (overrides `[run] jobs`, 1 to 64).
    #[arg(long, short = 'j', value_parser = clap::value_parser!(u32).range(1..=64))]
    pub jobs: Option<u32>,
}

impl OutputArgs {
    /// `--color`, with `--no-color` as its alias.
    pub fn color_choice(&self) -> ColorChoice {
        if self.no_color {
            ColorChoice::Never
        } else {
            self.color
        }
    }

    /// `-q` / `-v`.
    pub fn verbosity(&self) -> Verbosity {
        Verbosity::from_flags(self.quiet, self.verbose)
    }
}

/// `shipgate run`'s options.
#[derive(Debug, Clone, clap::Args)]
pub struct RunArgs {
    /// The contract snapshot (TOML). `shipgate init` writes one.
    #[arg(long, short = 'c', required_unless_present_any = ["mock", "replay"])]
    pub contract: Option<PathBuf>,
    /// Run against the built-in mock (its contract and a per-run key) instead
    /// of a contract's target: no key, no network.
    #[arg(long, conflicts_with_all = ["contract", "replay"])]
    pub mock: bool,
    /// Record every exchange of the checks into DIR (JSON lines per plugin,
    /// the contract, what was recorded against), secrets and credentials
    /// removed, for `--replay`.
    #[arg(long, value_name = "DIR", conflicts_with = "replay")]
    pub cassettes: Option<PathBuf>,
    /// Answer every request from the cassettes in DIR instead of the
    /// network: no key, nothing sent. The recorded contract is used unless
    /// --contract names one (its base URL must be the recorded one).
    #[arg(long, value_name = "DIR")]
    pub replay: Option<PathBuf>,
    /// The plan (TOML); the built-in plan runs every bundled check.
    #[arg(long, short = 'p')]
    pub plan: Option<PathBuf>,
    /// Add this plugin file to the plan's checks (repeatable); it is named by
    /// its file stem (`--set my-check.KEY=…`, `--only my-check`).
    #[arg(long = "plugin")]
    pub plugins: Vec<PathBuf>,
    /// Run only the checks of these names (repeatable).
    #[arg(long = "only", value_name = "NAME")]
    pub only: Vec<String>,
    /// Refuse to run unless every plugin matches this lockfile (its digest,
    /// and no grant beyond it): `shipgate lock` writes one.
    #[arg(long, value_name = "FILE")]
    pub lock: Option<PathBuf>,
    /// Override a plan value: thresholds.latency_ms=800, canary.latency_ms=800,
    /// sandbox.deadline_ms=5000 (repeatable; also comma-separated in SHIPGATE_SET).
    #[arg(long = "set", value_name = "KEY=VALUE")]
    pub set: Vec<String>,
    /// Which decisions fail the command.
    #[arg(long, value_enum, default_value = "flag")]
    pub fail_on: FailOn,
    /// A previous record.json: latency or usage over decision.baseline_spike_ratio times it warns.
    #[arg(long, value_name = "RECORD")]
    pub baseline: Option<PathBuf>,
    /// Output.
    #[command(flatten)]
    pub output: OutputArgs,
    /// The application under test and its arguments, after `--`: run once per
    /// fault scenario through shipgate's interposer (sets `[application] command`).
    #[arg(last = true, value_name = "CMD")]
    pub app: Vec<String>,
}

/// `shipgate mock-server`'s options.
#[derive(Debug, Clone, clap::Args)]
pub struct MockServerArgs {
    /// Port (0 picks a free one).
    #[arg(long, default_value_t = 8787)]
    pub port: u16,
    /// Environment variable holding the key the mock accepts.
    #[arg(long, default_value = "SHIPGATE_MOCK_KEY")]
    pub key_env: String,
    /// Model ids the mock knows (repeatable).
    #[arg(long = "model", default_value = "mock-gpt")]
    pub models: Vec<String>,
    /// Faults for the next requests, in order (repeatable): status:503, rate-limit:2, delay:1500, drop, ...
    #[arg(long = "fault")]
    pub faults: Vec<String>,
    /// A fault at a rate, as RATE:FAULT (e.g. 0.1:status:503).
    #[arg(long)]
    pub fault_rate: Option<String>,
    /// A standing behaviour, as WHEN=FAULT (repeatable): answer every request
    /// of a kind with a fault, e.g. bad-key=bad-key-400, no-key=text-500,
    /// empty-messages=accept-any-key. WHEN: any, no-key, bad-key, no-model,
    /// no-messages, empty-messages, unknown-model.
    #[arg(long = "when", value_name = "WHEN=FAULT")]
    pub behaviours: Vec<String>,
    /// Milliseconds added before every API answer, as a distant provider
    /// would (for benchmarks; at most 60000).
    #[arg(long, default_value_t = 0, value_name = "MS")]
    pub latency_ms: u64,
}

/// Subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the bundled checks against the built-in mock server: no key, no network.
    Demo {
        /// Output.
        #[command(flatten)]
        output: OutputArgs,
        /// Which decisions fail the command.
        #[arg(long, value_enum, default_value = "never")]
        fail_on: FailOn,
    },
    /// Validate a real endpoint: the key comes from the variable the contract names.
    Run(RunArgs),
    /// Compare two records: contract, response fields, statuses, latency, usage, decision.
    Diff {
        /// The older record.json (or its run directory).
        old: PathBuf,
        /// The newer record.json (or its run directory).
        new: PathBuf,
        /// Print the drift as JSON.
        #[arg(long)]
        json: bool,
    },
    /// Serve the OpenAI-compatible mock on 127.0.0.1.
    MockServer(MockServerArgs),
    /// Write a commented contract template.
    Init {
        /// Which provider's facts to start from.
        #[arg(long, value_enum, default_value = "cometapi")]
        provider: Provider,
        /// Write a commented plan (every key at its default, the bundled
        /// checks) instead of a contract.
        #[arg(long)]
        plan: bool,
        /// Where to write it ("-" for stdout; default shipgate.contract.toml,
        /// or shipgate.plan.toml with --plan).
        #[arg(long, short = 'o')]
        out: Option<PathBuf>,
        /// Overwrite an existing file.
        #[arg(long)]
        force: bool,
    },
    /// List the bundled checks.
    Plugins,
    /// Run one plugin file on its own (against the built-in mock unless
    /// --contract is given), with the full report; the exit code follows its
    /// own verdicts: 0 all pass, 3 a warning, 4 a failure.
    Check {
        /// The component (`.wasm`).
        file: PathBuf,
        /// A contract's target instead of the built-in mock.
        #[arg(long, short = 'c', conflicts_with_all = ["mock", "replay"])]
        contract: Option<PathBuf>,
        /// The built-in mock (the default).
        #[arg(long)]
        mock: bool,
        /// Answer its requests from the cassettes in DIR (`run --cassettes`).
        #[arg(long, value_name = "DIR", conflicts_with_all = ["mock", "cassettes"])]
        replay: Option<PathBuf>,
        /// Record its exchanges into DIR, for --replay.
        #[arg(long, value_name = "DIR")]
        cassettes: Option<PathBuf>,
        /// Override a value, also the plugin's own settings (NAME.KEY=VALUE,
        /// NAME being the file's stem).
        #[arg(long = "set", value_name = "KEY=VALUE")]
        set: Vec<String>,
        /// Output.
        #[command(flatten)]
        output: OutputArgs,
    },
    /// Pin the plan's plugins: write each one's digest and grants to a
    /// lockfile that `run --lock` checks.
    Lock {
        /// The plan (TOML); the built-in plan when absent.
        #[arg(long, short = 'p')]
        plan: Option<PathBuf>,
        /// Where to write it.
        #[arg(long, short = 'o', default_value = "shipgate.lock")]
        out: PathBuf,
    },
    /// Describe a plugin file: name, version, WIT package, what it covers and
    /// declares, the grants it needs, sha256, size, imports and exports.
    /// Nothing is sent: the plugin describes itself in its sandbox.
    Inspect {
        /// The component (`.wasm`).
        file: PathBuf,
        /// Print it as JSON.
        #[arg(long)]
        json: bool,
    },
    /// Write a new check crate to start from: an example check with a native
    /// test, the SDK and WIT for this shipgate vendored (no machine paths),
    /// `cargo build-check` to build the component.
    #[command(alias = "new-check")]
    New {
        /// The check's name (lower-case letters, digits, dashes).
        name: String,
        /// The directory to create it in.
        #[arg(long, default_value = ".")]
        dir: PathBuf,
    },
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cli_definition_is_consistent() {
        use clap::CommandFactory;
        Cli::command().debug_assert();
    }

    #[test]
    fn run_defaults_fail_on_flag_and_demo_never() {
        let c = Cli::try_parse_from(["shipgate", "run", "--contract", "c.toml"]).unwrap();
        assert!(matches!(
            c.command,
            Command::Run(RunArgs {
                fail_on: FailOn::Flag,
                ..
            })
        ));
        let c = Cli::try_parse_from(["shipgate", "demo"]).unwrap();
        assert!(matches!(
            c.command,
            Command::Demo {
                fail_on: FailOn::Never,
                ..
            }
        ));
    }

    #[test]
    fn set_is_repeatable() {
        let c = Cli::try_parse_from([
            "shipgate", "run", "-c", "c.toml", "--set", "a.b=1", "--set", "c.d=2",
        ])
        .unwrap();
        let Command::Run(RunArgs { set, .. }) = c.command else {
            panic!()
        };
        assert_eq!(set.len(), 2);
    }

    #[test]
    fn the_application_comes_after_a_double_dash_and_mock_replaces_the_contract() {
        let c = Cli::try_parse_from([
            "shipgate", "run", "--mock", "--", "python", "app.py", "--flag",
        ])
        .unwrap();
        let Command::Run(RunArgs {
            mock,
            app,
            contract,
            ..
        }) = c.command
        else {
            panic!()
        };
        assert!(mock && contract.is_none());
        assert_eq!(app, ["python", "app.py", "--flag"]);
        assert!(Cli::try_parse_from(["shipgate", "run"]).is_err());
        assert!(Cli::try_parse_from(["shipgate", "run", "--mock", "-c", "c.toml"]).is_err());
    }
}
