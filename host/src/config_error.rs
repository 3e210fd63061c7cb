//! One error type for every configuration file shipgate reads (contract, plan).
//!
//! It names the file, points at the line and key when it can, and says how to
//! fix it. The CLI renders it with miette, so the user sees the offending line.

use miette::{Diagnostic, NamedSource, SourceSpan};
use std::ops::Range;
use std::path::{Path, PathBuf};

/// A configuration file is unreadable, malformed or inconsistent.
///
/// Boxed inside, so `Result<_, ConfigError>` stays small.
#[derive(Debug, thiserror::Error)]
#[error(transparent)]
pub struct ConfigError(Box<Located>);

#[derive(Debug, thiserror::Error, Diagnostic)]
#[error("{}: {message}", path.display())]
struct Located {
    path: PathBuf,
    message: String,
    #[help]
    help: Option<String>,
    #[source_code]
    source_code: Option<NamedSource<String>>,
    #[label("here")]
    span: Option<SourceSpan>,
}

impl Diagnostic for ConfigError {
    fn help<'a>(&'a self) -> Option<Box<dyn std::fmt::Display + 'a>> {
        self.0.help()
    }
    fn source_code(&self) -> Option<&dyn miette::SourceCode> {
        self.0.source_code()
    }
    fn labels(&self) -> Option<Box<dyn Iterator<Item = miette::LabeledSpan> + '_>> {
        self.0.labels()
    }
}

impl ConfigError {
    /// An error about `path` with no location in the file.
    pub fn new(path: &Path, message: impl Into<String>) -> Self {
        ConfigError(Box::new(Located {
            path: path.to_owned(),
            message: message.into(),
            help: None,
            source_code: None,
            span: None,
        }))
    }

    /// The file.
    pub fn path(&self) -> &Path {
        &self.0.path
    }

    /// What is wrong, naming the key and the value (with `line N:` when located).
    pub fn message(&self) -> &str {
        &self.0.message
    }

    /// How to fix it.
    pub fn fix(&self) -> Option<&str> {
        self.0.help.as_deref()
    }

    /// Add a fix.
    pub fn help(mut self, help: impl Into<String>) -> Self {
        self.0.help = Some(help.into());
        self
    }

    /// Point at a byte range of the file's text.
    pub fn at(mut self, text: &str, span: Option<Range<usize>>) -> Self {
        if let Some(span) = span {
            let line = text.as_bytes()[..span.start.min(text.len())]
                .iter()
                .filter(|&&b| b == b'\n')
                .count()
                + 1;
            self.0.message = format!("line {line}: {}", self.0.message);
            self.0.span = Some(span.into());
            self.0.source_code = Some(NamedSource::new(
                self.0.path.display().to_string(),
                text.to_owned(),
            ));
        }
        self
    }

    /// Turn a TOML parse/deserialize error into a located `ConfigError`.
    pub fn from_toml(path: &Path, text: &str, err: &toml::de::Error, help: &str) -> Self {
        ConfigError::new(path, err.message().trim().to_owned())
            .help(help)
            .at(text, err.span())
    }

    /// Read a file as UTF-8 text, or explain why it could not be read.
    ///
    /// # Errors
    ///
    /// A `ConfigError` naming the file and the I/O failure.
    pub fn read(path: &Path, what: &str) -> Result<String, ConfigError> {
        std::fs::read_to_string(path).map_err(|e| {
            ConfigError::new(path, format!("cannot read the {what}: {e}")).help(format!(
                "check the path; `shipgate init` writes a {what} template"
            ))
        })
    }
}
