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
            // The file's own words (a key, a value) may be in it: shown,
            // never obeyed by the terminal.
            message: crate::text::multi_line(&message.into(), 4096),
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
        self.0.help = Some(crate::text::multi_line(&help.into(), 4096));
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
                crate::text::same_width(text),
            ));
        }
        self
    }

    /// Turn a TOML parse/deserialize error into a located `ConfigError`.
    pub fn from_toml(path: &Path, text: &str, err: &toml::de::Error, help: &str) -> Self {
        let message = err.message().trim();
        // The toml crate carries dates as a private one-key table: never show
        // its internal name; say what the value is and what the table accepts.
        let message = if message.contains("__toml_private_datetime") {
            let expected = message
                .split_once(", expected ")
                .map(|(_, e)| format!(" (this table expects {e})"))
                .unwrap_or_default();
            format!(
                "an unquoted date or time is not accepted here{expected}: quote it if it is text, or remove the key if it does not belong here"
            )
        } else {
            message.to_owned()
        };
        ConfigError::new(path, message)
            .help(help)
            .at(text, err.span())
    }

    /// Point at `key` (a path of table keys and array indexes, such as
    /// `plugins`, `2`, `thresholds`, `latency_ms`) in the file's text, when
    /// the file has it; otherwise leave the error unlocated.
    pub fn at_key(self, text: &str, key: &[&str]) -> Self {
        let span = key_span(text, key);
        self.at(text, span)
    }

    /// Read a file as UTF-8 text, or explain why it could not be read.
    ///
    /// # Errors
    ///
    /// A `ConfigError` naming the file and the I/O failure.
    pub fn read(path: &Path, what: &str) -> Result<String, ConfigError> {
        let bytes = read_regular(path, MAX_CONFIG_BYTES).map_err(|e| {
            ConfigError::new(path, format!("cannot read the {what}: {e}")).help(format!(
                "check the path; `shipgate init{}` writes a {what} template",
                if what == "plan" { " --plan" } else { "" }
            ))
        })?;
        String::from_utf8(bytes).map_err(|_| {
            ConfigError::new(path, format!("the {what} is not UTF-8 text")).help("save it as UTF-8")
        })
    }
}

/// Largest contract or plan file read.
pub const MAX_CONFIG_BYTES: u64 = 4 * 1024 * 1024;

/// Read a regular file of at most `max` bytes. A FIFO, a device or a
/// directory is refused before it is opened for reading (a FIFO would block
/// forever), and a file that grows past `max` while read is refused too.
///
/// # Errors
///
/// Why not, in words.
pub fn read_regular(path: &Path, max: u64) -> std::io::Result<Vec<u8>> {
    use std::io::Read as _;
    let meta = std::fs::metadata(path)?;
    if !meta.is_file() {
        return Err(std::io::Error::other(
            "not a regular file (a directory, a FIFO or a device)",
        ));
    }
    if meta.len() > max {
        return Err(std::io::Error::other(format!(
            "{} bytes, over the {max}-byte limit for this input",
            meta.len()
        )));
    }
    let mut bytes = Vec::with_capacity(meta.len() as usize);
    std::fs::File::open(path)?
        .take(max + 1)
        .read_to_end(&mut bytes)?;
    if bytes.len() as u64 > max {
        return Err(std::io::Error::other(format!(
            "over the {max}-byte limit for this input"
        )));
    }
    Ok(bytes)
}

/// The byte range of a key (its name) in a TOML document, if it is there.
pub fn key_span(text: &str, key: &[&str]) -> Option<Range<usize>> {
    use toml::de::{DeTable, DeValue};
    let doc = DeTable::parse(text).ok()?;
    let mut table = doc.get_ref();
    let mut found: Option<Range<usize>> = None;
    let mut i = 0;
    while i < key.len() {
        let (k, v) = table.iter().find(|(k, _)| k.get_ref().as_ref() == key[i])?;
        found = Some(k.span());
        let mut value = v.get_ref();
        // An array index follows: step into that element.
        while let (DeValue::Array(items), Some(index)) =
            (value, key.get(i + 1).and_then(|s| s.parse::<usize>().ok()))
        {
            let item = items.get(index)?;
            found = Some(item.span());
            value = item.get_ref();
            i += 1;
        }
        i += 1;
        match value {
            DeValue::Table(t) => table = t,
            _ if i < key.len() => return None,
            _ => {}
        }
    }
    found
}

#[cfg(test)]
mod key_tests {
    use super::*;

    #[test]
    fn keys_are_found_in_tables_arrays_and_inline_tables() {
        let text = "schema = 1\n[thresholds]\nlatency_ms = 5\n[[plugins]]\nname = \"a\"\n[[plugins]]\nname = \"b\"\nthresholds = { latency_ms = 9 }\n";
        let span = key_span(text, &["thresholds", "latency_ms"]).unwrap();
        assert_eq!(&text[span], "latency_ms");
        let span = key_span(text, &["plugins", "1", "thresholds", "latency_ms"]).unwrap();
        assert_eq!(&text[span.clone()], "latency_ms");
        assert!(span.start > text.find("name = \"b\"").unwrap());
        assert!(key_span(text, &["plugins", "0", "thresholds", "latency_ms"]).is_none());
        assert!(key_span(text, &["run", "jobs"]).is_none());
    }

    #[test]
    fn a_file_cannot_paint_the_terminal_through_its_error() {
        let text = "schema = 1\n\u{1b}]0;PWNED\u{7}\u{1b}[2J\r decided: SHIP \u{202e} = 1\n";
        let e = crate::contract::Contract::parse(Path::new("c.toml"), text).unwrap_err();
        let shown = format!("{:?}", miette::Report::new(e));
        for c in ['\u{1b}', '\u{7}', '\r', '\u{202e}'] {
            assert!(!shown.contains(c), "{c:?} reached the terminal: {shown}");
        }
    }

    #[test]
    fn a_fifo_is_refused_not_waited_on() {
        let dir = tempfile::tempdir().unwrap();
        assert!(
            read_regular(dir.path(), 10)
                .unwrap_err()
                .to_string()
                .contains("not a regular file")
        );
        let f = dir.path().join("big");
        std::fs::write(&f, "x".repeat(11)).unwrap();
        assert!(
            read_regular(&f, 10)
                .unwrap_err()
                .to_string()
                .contains("limit")
        );
        #[cfg(unix)]
        {
            let fifo = dir.path().join("fifo");
            // mkfifo(1) keeps this test free of unsafe code.
            let made = std::process::Command::new("mkfifo").arg(&fifo).status();
            if made.is_ok_and(|s| s.success()) {
                assert!(
                    read_regular(&fifo, 10)
                        .unwrap_err()
                        .to_string()
                        .contains("not a regular file")
                );
            }
        }
    }
}
