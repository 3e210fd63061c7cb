//! How much to print, and whether in colour.
//!
//! Colour follows the conventions other CLIs follow: `--color always|never`
//! wins; under `auto`, `NO_COLOR` (any non-empty value) or `TERM=dumb`
//! turn colour off, `CLICOLOR_FORCE` (not `0`) turns it on, and otherwise
//! colour is on only when the stream is a terminal.

use clap::ValueEnum;

/// `--color`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum, Default)]
pub enum ColorChoice {
    /// Colour on a terminal, unless NO_COLOR or TERM=dumb says otherwise.
    #[default]
    Auto,
    /// Always colour (CI logs that render ANSI).
    Always,
    /// Never colour.
    Never,
}

/// The environment that colour depends on.
#[derive(Debug, Clone, Default)]
pub struct ColorEnv {
    /// `NO_COLOR`.
    pub no_color: Option<String>,
    /// `CLICOLOR_FORCE`.
    pub clicolor_force: Option<String>,
    /// `TERM`.
    pub term: Option<String>,
}

impl ColorEnv {
    /// Read it from the process environment.
    pub fn from_process() -> ColorEnv {
        let var = |k: &str| std::env::var(k).ok();
        ColorEnv {
            no_color: var("NO_COLOR"),
            clicolor_force: var("CLICOLOR_FORCE"),
            term: var("TERM"),
        }
    }
}

impl ColorChoice {
    /// Whether to colour a stream that is (or is not) a terminal.
    pub fn resolve(self, is_terminal: bool, env: &ColorEnv) -> bool {
        match self {
            ColorChoice::Always => true,
            ColorChoice::Never => false,
            ColorChoice::Auto => {
                if env.no_color.as_deref().is_some_and(|v| !v.is_empty())
                    || env.term.as_deref() == Some("dumb")
                {
                    false
                } else if env.clicolor_force.as_deref().is_some_and(|v| v != "0") {
                    true
                } else {
                    is_terminal
                }
            }
        }
    }
}

/// How much the run prints while it goes and at the end.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Verbosity {
    /// `-q`: the decision line and where the record is.
    Quiet,
    /// Progress per check, then the summary.
    Normal,
    /// `-v`: also every request as it goes.
    Verbose,
}

impl Verbosity {
    /// From the flags.
    pub fn from_flags(quiet: bool, verbose: u8) -> Verbosity {
        if quiet {
            Verbosity::Quiet
        } else if verbose > 0 {
            Verbosity::Verbose
        } else {
            Verbosity::Normal
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(no_color: Option<&str>, force: Option<&str>, term: Option<&str>) -> ColorEnv {
        ColorEnv {
            no_color: no_color.map(Into::into),
            clicolor_force: force.map(Into::into),
            term: term.map(Into::into),
        }
    }

    #[test]
    fn colour_follows_flags_then_environment_then_the_terminal() {
        let none = env(None, None, Some("xterm"));
        assert!(ColorChoice::Auto.resolve(true, &none));
        assert!(!ColorChoice::Auto.resolve(false, &none));
        assert!(!ColorChoice::Auto.resolve(true, &env(Some("1"), None, None)));
        assert!(
            ColorChoice::Auto.resolve(true, &env(Some(""), None, None)),
            "empty NO_COLOR is unset"
        );
        assert!(!ColorChoice::Auto.resolve(true, &env(None, None, Some("dumb"))));
        assert!(ColorChoice::Auto.resolve(false, &env(None, Some("1"), None)));
        assert!(!ColorChoice::Auto.resolve(false, &env(None, Some("0"), None)));
        assert!(ColorChoice::Always.resolve(false, &env(Some("1"), None, Some("dumb"))));
        assert!(!ColorChoice::Never.resolve(true, &env(None, Some("1"), None)));
    }
}
