//! Redaction: every string the host writes (logs, telemetry, record, report)
//! passes through a [`Redactor`] first.
//!
//! # Security
//!
//! Two layers. Known secret values (the configured credential and the run's
//! invalid-token honeytoken) are replaced in every form the host knows of:
//! raw, base64 (standard and URL-safe) and URL-encoded. Then patterns catch
//! credential-shaped text the host was never told about: `Bearer ...`,
//! `sk-...` keys (CometAPI keys are `sk-` plus 48 alphanumerics, which
//! OpenAI-specific rules miss), JWTs, AWS access keys and `key=`/`token=`
//! assignments. Not covered: a secret transformed in ways not listed here
//! (split across records, hex-encoded); the redaction audit looks for
//! fragments after the fact.

use base64::Engine as _;
use regex::Regex;
use std::borrow::Cow;
use std::sync::LazyLock;

/// A secret value. Its `Debug` is redacted and it has no `Display`.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    /// Wrap a secret value.
    pub fn new(value: impl Into<String>) -> Self {
        Secret(value.into())
    }

    /// The value, for the one place that must send it (the HTTP capability's
    /// credential injection) and for redaction.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Secret([REDACTED; {} bytes])", self.0.len())
    }
}

struct Pattern {
    re: Regex,
    replacement: &'static str,
}

static PATTERNS: LazyLock<Vec<Pattern>> = LazyLock::new(|| {
    let p = |re: &str, replacement: &'static str| Pattern {
        re: Regex::new(re).expect("valid redaction pattern"),
        replacement,
    };
    vec![
        p(
            r"(?i)\b(bearer|basic)\s+[A-Za-z0-9._~+/=-]{8,}",
            "$1 [REDACTED]",
        ),
        p(r"\bsk-[A-Za-z0-9_-]{20,}", "[REDACTED:sk-key]"),
        p(
            r"\beyJ[A-Za-z0-9_-]{5,}\.eyJ[A-Za-z0-9_-]{5,}\.[A-Za-z0-9_-]{5,}",
            "[REDACTED:jwt]",
        ),
        p(r"\b(AKIA|ASIA)[0-9A-Z]{16}\b", "[REDACTED:aws-key]"),
        p(
            r#"(?i)\b([a-z_]*(?:api[_-]?key|token|secret|password|passwd)[a-z_]*)(["']?\s*[=:]\s*["']?)[A-Za-z0-9._~+/-]{12,}"#,
            "$1$2[REDACTED]",
        ),
    ]
});

/// Replaces secrets and credential-shaped text with fixed placeholders.
#[derive(Default)]
pub struct Redactor {
    known: Vec<(String, &'static str)>,
}

impl std::fmt::Debug for Redactor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Redactor")
            .field("known_secrets", &self.known.len())
            .finish()
    }
}

impl Redactor {
    /// A redactor with the patterns only.
    pub fn new() -> Self {
        Redactor::default()
    }

    /// Also redact `secret` (and its encodings), replacing it with `[REDACTED:label]`.
    pub fn with_secret(mut self, secret: &Secret, label: &'static str) -> Self {
        let raw = secret.expose();
        if raw.len() < 4 {
            return self;
        }
        let mut forms = vec![
            raw.to_owned(),
            base64::engine::general_purpose::STANDARD.encode(raw),
            base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(raw),
            urlencode(raw),
        ];
        forms.sort();
        forms.dedup();
        // Longest first, so a form that contains another is replaced whole.
        forms.sort_by_key(|f| std::cmp::Reverse(f.len()));
        for f in forms {
            self.known.push((f, label));
        }
        self
    }

    /// Redact one string.
    pub fn redact<'a>(&self, text: &'a str) -> Cow<'a, str> {
        let mut out = Cow::Borrowed(text);
        for (value, label) in &self.known {
            if out.contains(value.as_str()) {
                out = Cow::Owned(out.replace(value.as_str(), &format!("[REDACTED:{label}]")));
            }
        }
        for p in PATTERNS.iter() {
            if p.re.is_match(&out) {
                out = Cow::Owned(p.re.replace_all(&out, p.replacement).into_owned());
            }
        }
        out
    }

    /// Redact every string (keys and values) inside a JSON value, in place.
    pub fn redact_json(&self, value: &mut serde_json::Value) {
        match value {
            serde_json::Value::String(s) => {
                if let Cow::Owned(r) = self.redact(s) {
                    *s = r;
                }
            }
            serde_json::Value::Array(a) => a.iter_mut().for_each(|v| self.redact_json(v)),
            serde_json::Value::Object(o) => {
                let entries: Vec<(String, serde_json::Value)> =
                    std::mem::take(o).into_iter().collect();
                for (k, mut v) in entries {
                    self.redact_json(&mut v);
                    o.insert(self.redact(&k).into_owned(), v);
                }
            }
            _ => {}
        }
    }
}

fn urlencode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    const KEY: &str = "sk-cometABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuv";

    fn r() -> Redactor {
        Redactor::new().with_secret(&Secret::new("s3cr3t/with+chars=="), "credential")
    }

    #[test]
    fn redacts_known_secret_in_every_encoding() {
        let raw = "s3cr3t/with+chars==";
        let b64 = base64::engine::general_purpose::STANDARD.encode(raw);
        let url = urlencode(raw);
        for s in [raw.to_owned(), b64, url] {
            let out = r().redact(&format!("value: {s} end")).into_owned();
            assert!(!out.contains(&s), "{out}");
            assert!(out.contains("[REDACTED:credential]"), "{out}");
        }
    }

    #[test]
    fn redacts_credential_shapes() {
        for (text, leaked) in [
            (format!("Authorization: Bearer {KEY}"), KEY),
            (format!("key was {KEY}."), KEY),
            (
                "jwt eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0In0.c2lnbmF0dXJlX2hlcmU".into(),
                "eyJhbGciOiJIUzI1NiJ9",
            ),
            ("AKIAABCDEFGHIJKLMNOP".into(), "AKIAABCDEFGHIJKLMNOP"),
            ("api_key=abcdef0123456789xyz".into(), "abcdef0123456789xyz"),
            (
                "\"token\": \"abcdef0123456789xyz\"".into(),
                "abcdef0123456789xyz",
            ),
        ] {
            let out = Redactor::new().redact(&text).into_owned();
            assert!(!out.contains(leaked), "{text} -> {out}");
        }
    }

    #[test]
    fn leaves_ordinary_text_and_ids_alone() {
        let id = "run 2b9f0a9e-5f6e-4c9b-8d7a-0e1f2a3b4c5d sha256 9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08";
        assert_eq!(Redactor::new().redact(id), id);
        assert_eq!(Redactor::new().redact("READY"), "READY");
    }

    #[test]
    fn redacts_json_keys_and_values() {
        let mut v = serde_json::json!({"a": [format!("Bearer {KEY}")], KEY: 1});
        Redactor::new().redact_json(&mut v);
        assert!(!v.to_string().contains(KEY));
    }

    #[test]
    fn secret_debug_hides_value() {
        assert!(!format!("{:?}", Secret::new(KEY)).contains("comet"));
    }
}
