//! Redaction of what the host keeps and writes.
//!
//! Two types, for two moments of a run:
//!
//! - [`Redactor`]: **secret-independent** patterns only: `Bearer …`, `sk-…`
//!   keys (CometAPI keys are `sk-` plus 48 alphanumerics, which
//!   OpenAI-specific rules miss), JWTs, AWS access keys, `key=`/`token=`
//!   assignments and the masked echo a provider makes of a rejected key
//!   (`sk-abc12***…wxyz`). Used on guest-supplied text while plugins run
//!   (log records, deny reasons, findings, telemetry) and on what the audit
//!   capability hands a guest.
//! - [`OutputRedactor`]: the same patterns plus every form of the run's
//!   secrets ([`crate::secret`]): full forms and fragments. Used on every byte
//!   the host writes (record, reports, log, terminal), **only after every
//!   plugin of the run has finished**.
//!
//! # Security
//!
//! The split is what keeps redaction from being a secret oracle: nothing a
//! guest can read while it runs was transformed by a rule that depends on the
//! secret. A guest that could see whether its text was redacted by a
//! secret-dependent rule could test guesses of the key; a guest that could
//! time such a rule could learn which bytes occur in it. See `SECURITY.md`.

use crate::secret::SecretSet;
use regex::Regex;
use std::borrow::Cow;
use std::sync::{Arc, LazyLock};

pub use crate::secret::Secret;

struct Pattern {
    rule: &'static str,
    re: Regex,
    replacement: &'static str,
}

static PATTERNS: LazyLock<Vec<Pattern>> = LazyLock::new(|| {
    let p = |rule: &'static str, re: &str, replacement: &'static str| Pattern {
        rule,
        re: Regex::new(re).expect("valid redaction pattern"),
        replacement,
    };
    vec![
        // A provider's masked echo of a key: a key-like head, 3+ asterisks or an
        // ellipsis, a short tail. Shape only: it never looks at the secret.
        p(
            "masked-key",
            r"\b[A-Za-z0-9][A-Za-z0-9_-]{0,15}\*{3,}[A-Za-z0-9_-]{0,8}",
            "[REDACTED:masked-key]",
        ),
        p(
            "masked-key",
            r"\b(?:sk|pk|rk|key)[-_][A-Za-z0-9_-]{0,16}(?:\x{2026}|\.{3})[A-Za-z0-9_-]{0,8}",
            "[REDACTED:masked-key]",
        ),
        p(
            "bearer-token",
            r"(?i)\b(bearer|basic)\s+[A-Za-z0-9._~+/=-]{8,}",
            "$1 [REDACTED]",
        ),
        p("sk-key", r"\bsk-[A-Za-z0-9_-]{20,}", "[REDACTED:sk-key]"),
        p(
            "jwt",
            r"\beyJ[A-Za-z0-9_-]{5,}\.eyJ[A-Za-z0-9_-]{5,}\.[A-Za-z0-9_-]{5,}",
            "[REDACTED:jwt]",
        ),
        p(
            "aws-key",
            r"\b(AKIA|ASIA)[0-9A-Z]{16}\b",
            "[REDACTED:aws-key]",
        ),
        p(
            "assigned-secret",
            r#"(?i)\b([a-z_]*(?:api[_-]?key|token|secret|password|passwd)[a-z_]*)(["']?\s*[=:]\s*["']?)[A-Za-z0-9._~+/-]{12,}"#,
            "$1$2[REDACTED]",
        ),
    ]
});

/// Replace a provider's masked echo of a key (`sk-abc12***…wxyz`, `sk-****wxyz`)
/// by `[REDACTED:masked-key]`: a shape rule, applied to responses before a
/// plugin sees them. On its own such an echo is not leak evidence.
pub fn mask_key_echoes(text: &str) -> Cow<'_, str> {
    let mut out = Cow::Borrowed(text);
    for p in PATTERNS.iter().filter(|p| p.rule == "masked-key") {
        if p.re.is_match(&out) {
            out = Cow::Owned(p.re.replace_all(&out, p.replacement).into_owned());
        }
    }
    out
}

/// Secret-independent redaction: credential-shaped text becomes a fixed
/// placeholder. Safe to apply while plugins run.
#[derive(Debug, Default, Clone, Copy)]
pub struct Redactor;

impl Redactor {
    /// The pattern redactor.
    pub fn new() -> Self {
        Redactor
    }

    /// Redact one string.
    pub fn redact<'a>(&self, text: &'a str) -> Cow<'a, str> {
        let mut out = Cow::Borrowed(text);
        for p in PATTERNS.iter() {
            if p.re.is_match(&out) {
                out = Cow::Owned(p.re.replace_all(&out, p.replacement).into_owned());
            }
        }
        out
    }

    /// Redact every string (keys and values) inside a JSON value, in place.
    pub fn redact_json(&self, value: &mut serde_json::Value) {
        redact_json_with(value, &|s| self.redact(s));
    }

    /// Where the patterns match in `text`: (start, end, rule), byte offsets.
    pub fn spans(&self, text: &str) -> Vec<(usize, usize, &'static str)> {
        PATTERNS
            .iter()
            .flat_map(|p| {
                p.re.find_iter(text)
                    .map(move |m| (m.start(), m.end(), p.rule))
            })
            .collect()
    }
}

/// `text` with each span (start, end, rule) replaced by `[REDACTED:<rule>]`,
/// and (rule, byte offset in `text`) of each span kept, in order. Where spans
/// overlap, the one that starts first (then the longer, then the earlier in
/// the list) wins.
pub fn mask_spans(
    text: &str,
    mut spans: Vec<(usize, usize, &'static str)>,
) -> (String, Vec<(&'static str, usize)>) {
    spans.sort_by_key(|(s, e, _)| (*s, std::cmp::Reverse(*e)));
    let mut out = String::with_capacity(text.len());
    let mut found = Vec::new();
    let mut at = 0;
    for (start, end, rule) in spans {
        if start < at || !text.is_char_boundary(start) || !text.is_char_boundary(end) {
            continue;
        }
        out.push_str(&text[at..start]);
        out.push_str("[REDACTED:");
        out.push_str(rule);
        out.push(']');
        found.push((rule, start));
        at = end;
    }
    out.push_str(&text[at..]);
    (out, found)
}

/// Redaction of everything the host writes: the patterns plus every form and
/// fragment of the run's secrets. Build it only once the plugins have finished.
#[derive(Debug, Clone, Default)]
pub struct OutputRedactor {
    secrets: Arc<SecretSet>,
}

impl OutputRedactor {
    /// An output redactor for the run's secrets.
    pub fn new(secrets: Arc<SecretSet>) -> Self {
        OutputRedactor { secrets }
    }

    /// The run's secrets.
    pub fn secrets(&self) -> &SecretSet {
        &self.secrets
    }

    /// Redact one string: secrets (full forms and fragments) first, then the patterns.
    pub fn redact<'a>(&self, text: &'a str) -> Cow<'a, str> {
        let hits = self.secrets.scan(text.as_bytes());
        let text: Cow<'a, str> = if hits.is_empty() {
            Cow::Borrowed(text)
        } else {
            let masked = crate::secret::mask(text.as_bytes(), &hits, "REDACTED");
            Cow::Owned(String::from_utf8_lossy(&masked).into_owned())
        };
        match Redactor.redact(&text) {
            Cow::Borrowed(_) => text,
            Cow::Owned(s) => Cow::Owned(s),
        }
    }

    /// Redact every string (keys and values) inside a JSON value, in place.
    pub fn redact_json(&self, value: &mut serde_json::Value) {
        redact_json_with(value, &|s| self.redact(s));
    }
}

fn redact_json_with(value: &mut serde_json::Value, f: &dyn Fn(&str) -> Cow<'_, str>) {
    match value {
        serde_json::Value::String(s) => {
            if let Cow::Owned(r) = f(s) {
                *s = r;
            }
        }
        serde_json::Value::Array(a) => a.iter_mut().for_each(|v| redact_json_with(v, f)),
        serde_json::Value::Object(o) => {
            let entries: Vec<(String, serde_json::Value)> = std::mem::take(o).into_iter().collect();
            for (k, mut v) in entries {
                redact_json_with(&mut v, f);
                o.insert(f(&k).into_owned(), v);
            }
        }
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::secret::SecretKind;

    const KEY: &str = "sk-cometABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuv";

    fn out() -> OutputRedactor {
        OutputRedactor::new(Arc::new(SecretSet::new(
            &[(SecretKind::Credential, Secret::new("s3cr3t/with+chars=="))],
            "Bearer",
        )))
    }

    #[test]
    fn output_redactor_removes_the_secret_in_every_form() {
        use base64::Engine as _;
        let raw = "s3cr3t/with+chars==";
        let b64 = base64::engine::general_purpose::STANDARD.encode(raw);
        let url = raw
            .replace('/', "%2F")
            .replace('+', "%2B")
            .replace('=', "%3D");
        for s in [raw.to_owned(), b64, url, hex::encode(raw)] {
            let text = out().redact(&format!("value: {s} end")).into_owned();
            assert!(!text.contains(&s), "{text}");
            assert!(text.contains("[REDACTED:credential]"), "{text}");
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
            (
                "Incorrect API key provided: sk-abc12***************wxyz.".into(),
                "wxyz",
            ),
            ("Incorrect API key provided: sk-****wxyz".into(), "wxyz"),
        ] {
            let out = Redactor::new().redact(&text).into_owned();
            assert!(!out.contains(leaked), "{text} -> {out}");
        }
    }

    #[test]
    fn leaves_ordinary_text_and_ids_alone() {
        let id = "run 2b9f0a9e-5f6e-4c9b-8d7a-0e1f2a3b4c5d sha256 9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08 wait... what";
        assert_eq!(Redactor::new().redact(id), id);
        assert_eq!(out().redact(id), id);
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
