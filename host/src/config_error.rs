//! One error type for every configuration file shipgate reads (contract, plan).
//!
//! It names the file, points at the line and key when it can, and says how to
//! fix it. The CLI renders it with miette, so the user sees the offending line.

use miette::{Diagnostic, NamedSource, SourceSpan};
use std::ops::Range;
use std::path::{Path, PathBuf};

/// A configuration file is unreadable, malformed or inconsistent.
#[derive(Debug, thiserror::Error, Diagnostic)]
#[error("{}: {message}", path.display())]
pub struct ConfigError {
    /// The file.
    pub path: PathBuf,
    /// What is wrong, naming the key and the value.
    pub message: String,
    /// How to fix it.
    #[help]
    pub help: Option<String>,
    #[source_code]
    source_code: Option<NamedSource<String>>,
    #[label("here")]
    span: Option<SourceSpan>,
}

impl ConfigError {
    /// An error about `path` with no location in the file.
    pub fn new(path: &Path, message: impl Into<String>) -> Self {
        ConfigError {
            path: path.to_owned(),
            message: message.into(),
            help: None,
            source_code: None,
            span: None,
        }
    }

    /// Add a fix.
    pub fn help(mut self, help: impl Into<String>) -> Self {
        self.help = Some(help.into());
        self
    }

    /// Point at a byte range of the file's text.
    pub fn at(mut self, text: &str, span: Option<Range<usize>>) -> Self {
        if let Some(span) = span {
            let line = text[..span.start.min(text.len())].lines().count().max(1);
            self.message = format!("line {line}: {}", self.message);
            self.span = Some(span.into());
            self.source_code = Some(NamedSource::new(
                self.path.display().to_string(),
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
            ConfigError::new(path, format!("cannot read the {what}: {e}"))
                .help(format!("check the path; `shipgate init` writes a {what} template"))
        })
    }
}
