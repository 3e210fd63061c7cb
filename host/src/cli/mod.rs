//! The command line: flag definitions and glue. Only this module reads the
//! environment and the arguments, prints, and picks the exit code.

mod args;
mod commands;
pub mod exit;
mod inspect;
mod invocation;
pub mod progress;
mod scaffold;
pub mod style;

pub use args::{Cli, Command};

use clap::Parser as _;
use std::process::ExitCode;
use std::sync::{Arc, OnceLock};

/// The run's secrets, for the panic hook: a panic message that quotes a
/// secret (a slice of it, say) is redacted before it is printed.
static PANIC_SECRETS: OnceLock<Arc<crate::secret::SecretSet>> = OnceLock::new();

/// Let the panic hook redact these secrets.
pub(crate) fn protect_panics(secrets: Arc<crate::secret::SecretSet>) {
    let _ = PANIC_SECRETS.set(secrets);
}

/// A panic hook that prints one redacted line and no backtrace: a panic is a
/// bug in shipgate, and its message must not carry a secret to the terminal.
fn install_panic_hook() {
    std::panic::set_hook(Box::new(|info| {
        let payload = info
            .payload()
            .downcast_ref::<&str>()
            .map(|s| (*s).to_owned())
            .or_else(|| info.payload().downcast_ref::<String>().cloned())
            .unwrap_or_default();
        let redactor =
            crate::redact::OutputRedactor::new(PANIC_SECRETS.get().cloned().unwrap_or_default());
        let message = redactor.redact(&payload).into_owned();
        let at = info
            .location()
            .map(|l| format!("{}:{}", l.file(), l.line()))
            .unwrap_or_default();
        eprintln!(
            "shipgate: internal error at {at}: {} (this is a bug; please report it)",
            crate::text::one_line(&message, 2000)
        );
    }));
}

/// Run the CLI: parse arguments, run the command, print one clear line on error.
pub fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().collect();
    // The isolated compiler's child process (see `runtime::compile`); not a user command.
    if args.get(1).map(String::as_str) == Some(crate::runtime::CHILD_COMMAND) {
        return ExitCode::from(crate::runtime::child_main(&args[2..]));
    }
    install_panic_hook();
    let cli = Cli::parse();
    let rt = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("shipgate: cannot start the async runtime: {e}");
            return ExitCode::from(exit::TOOL_ERROR);
        }
    };
    match rt.block_on(commands::run(cli)) {
        Ok(code) => ExitCode::from(code),
        Err(err) => match err.downcast::<crate::config_error::ConfigError>() {
            Ok(cfg) => {
                // miette shows the offending line with a pointer and the fix.
                eprintln!("shipgate: {:?}", miette::Report::new(cfg));
                ExitCode::from(exit::USAGE)
            }
            Err(err) => {
                let code = err
                    .downcast_ref::<commands::Failure>()
                    .map(|f| f.code)
                    .unwrap_or(exit::TOOL_ERROR);
                // Errors quote files and servers: shown, never obeyed.
                eprintln!(
                    "shipgate: {}",
                    crate::text::multi_line(&format!("{err:#}"), 8192)
                );
                ExitCode::from(code)
            }
        },
    }
}
