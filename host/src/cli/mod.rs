//! The command line: flag definitions and glue. Only this module reads the
//! environment and the arguments, prints, and picks the exit code.

mod args;
mod commands;
pub mod exit;

pub use args::{Cli, Command};

use clap::Parser as _;
use std::process::ExitCode;

/// Run the CLI: parse arguments, run the command, print one clear line on error.
pub fn main() -> ExitCode {
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
                eprintln!("shipgate: {err:#}");
                ExitCode::from(code)
            }
        },
    }
}
