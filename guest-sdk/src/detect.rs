//! Detectors for credentials and personal data in text (feature `detect`).
//!
//! Rules a default secret scanner misses matter here: CometAPI keys are `sk-`
//! plus 48 alphanumerics with no OpenAI marker, and a bare `Bearer <token>` in
//! a log line has no keyword-assignment shape. Generic `key=`/`token=`
//! assignments are reported only when the value looks random (Shannon
//! entropy over [`ENTROPY_THRESHOLD`] bits per character).

pub use regex;

use regex::Regex;
use std::sync::LazyLock;

/// Bits per character over which an assigned value counts as a secret.
pub const ENTROPY_THRESHOLD: f64 = 3.8;

/// One match in a text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Detection {
    /// Rule id, such as `bearer-token` or `pii-email`.
    pub rule: &'static str,
    /// 1-based line.
    pub line: u32,
    /// 1-based column (bytes).
    pub column: u32,
    /// The match, masked: its first 4 characters, then its length.
    pub masked: String,
}

struct Rule {
    id: &'static str,
    re: Regex,
    /// Capture group holding the value to judge (0 = whole match).
    group: usize,
    check: fn(&str) -> bool,
}

impl Rule {
    fn new(id: &'static str, re: &str, group: usize, check: fn(&str) -> bool) -> Rule {
        Rule {
            id,
            re: Regex::new(re).expect("rule compiles"),
            group,
            check,
        }
    }
}

fn always(_: &str) -> bool {
    true
}

/// Random-looking: long, high entropy, letters and digits mixed, not a placeholder.
fn high_entropy(v: &str) -> bool {
    v.len() >= 20
        && entropy(v) >= ENTROPY_THRESHOLD
        && v.bytes().any(|b| b.is_ascii_digit())
        && v.bytes().any(|b| b.is_ascii_alphabetic())
        && !v.contains("REDACTED")
        && !v.contains("SECRET")
}

fn not_placeholder(v: &str) -> bool {
    !v.contains("REDACTED") && !v.contains("SECRET") && !v.starts_with('[')
}

static CREDENTIAL_RULES: LazyLock<Vec<Rule>> = LazyLock::new(|| {
    let r = Rule::new;
    vec![
        r(
            "bearer-token",
            r"(?i)\bbearer\s+([A-Za-z0-9._~+/=-]{16,})",
            1,
            not_placeholder,
        ),
        r("sk-key", r"\bsk-[A-Za-z0-9_-]{20,}", 0, always),
        r(
            "jwt",
            r"\beyJ[A-Za-z0-9_-]{8,}\.eyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}",
            0,
            always,
        ),
        r(
            "aws-access-key",
            r"\b(?:AKIA|ASIA)[0-9A-Z]{16}\b",
            0,
            always,
        ),
        r("google-api-key", r"\bAIza[0-9A-Za-z_-]{35}\b", 0, always),
        r("github-token", r"\bgh[pousr]_[A-Za-z0-9]{36,}\b", 0, always),
        r(
            "high-entropy-assignment",
            r#"(?i)\b[a-z_]*(?:api[_-]?key|token|secret|passwd|password|credential)[a-z_]*["']?\s*[:=]\s*["']?([A-Za-z0-9._~+/-]{16,})"#,
            1,
            high_entropy,
        ),
    ]
});

static PII_RULES: LazyLock<Vec<Rule>> = LazyLock::new(|| {
    let r = Rule::new;
    vec![
        r(
            "pii-email",
            r"\b[A-Za-z0-9._%+-]+@[A-Za-z0-9.-]+\.[A-Za-z]{2,}\b",
            0,
            always,
        ),
        r(
            "pii-phone",
            r"(?:\+\d{1,3}[ .-]?)?\(?\b\d{3}\)?[ .-]\d{3}[ .-]\d{4}\b",
            0,
            always,
        ),
        r("pii-card-number", r"\b(?:\d[ -]?){13,19}\b", 0, luhn_ok),
    ]
});

/// Shannon entropy of `s`, in bits per character.
pub fn entropy(s: &str) -> f64 {
    let mut counts = [0u32; 256];
    for b in s.bytes() {
        counts[b as usize] += 1;
    }
    let n = s.len() as f64;
    counts
        .iter()
        .filter(|c| **c > 0)
        .map(|c| f64::from(*c) / n)
        .map(|p| -p * p.log2())
        .sum()
}

/// Whether a digit string (spaces and dashes allowed) passes the Luhn check.
pub fn luhn_ok(s: &str) -> bool {
    let digits: Vec<u32> = s.chars().filter_map(|c| c.to_digit(10)).collect();
    if !(13..=19).contains(&digits.len()) || digits.iter().all(|d| *d == digits[0]) {
        return false;
    }
    let sum: u32 = digits
        .iter()
        .rev()
        .enumerate()
        .map(|(i, d)| {
            if i % 2 == 1 {
                let x = d * 2;
                if x > 9 { x - 9 } else { x }
            } else {
                *d
            }
        })
        .sum();
    sum.is_multiple_of(10)
}

fn mask(s: &str) -> String {
    let head: String = s.chars().take(4).collect();
    format!("{head}…({} chars)", s.chars().count())
}

fn line_col(text: &str, offset: usize) -> (u32, u32) {
    let before = &text.as_bytes()[..offset];
    let line = before.iter().filter(|&&b| b == b'\n').count() + 1;
    let col = before.iter().rev().take_while(|&&b| b != b'\n').count() + 1;
    (line as u32, col as u32)
}

fn run(rules: &[Rule], text: &str) -> Vec<Detection> {
    let mut out = Vec::new();
    for rule in rules {
        for caps in rule.re.captures_iter(text) {
            let Some(m) = caps.get(rule.group) else {
                continue;
            };
            if !(rule.check)(m.as_str()) {
                continue;
            }
            let (line, column) = line_col(text, m.start());
            out.push(Detection {
                rule: rule.id,
                line,
                column,
                masked: mask(m.as_str()),
            });
        }
    }
    out.sort_by_key(|d| (d.line, d.column));
    out
}

/// Credential-shaped text: bearer tokens, `sk-` keys, JWTs, cloud keys, high-entropy assignments.
pub fn credentials(text: &str) -> Vec<Detection> {
    run(&CREDENTIAL_RULES, text)
}

/// Personal data: emails, phone numbers, card numbers passing Luhn, plus `extra` patterns.
pub fn pii(text: &str, extra: &[Regex]) -> Vec<Detection> {
    let mut out = run(&PII_RULES, text);
    for re in extra {
        for m in re.find_iter(text) {
            let (line, column) = line_col(text, m.start());
            out.push(Detection {
                rule: "pii-custom",
                line,
                column,
                masked: mask(m.as_str()),
            });
        }
    }
    out
}

/// Where `needle` (customer content this run sent) occurs in `text`.
pub fn content(text: &str, needle: &str) -> Vec<(u32, u32)> {
    if needle.len() < 12 {
        return Vec::new();
    }
    text.match_indices(needle)
        .map(|(i, _)| line_col(text, i))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_cometapi_keys_and_bearer_tokens() {
        let key = format!("sk-{}", "aB3".repeat(16));
        let d = credentials(&format!("x\nAuthorization: Bearer {key}\nkey {key}"));
        let rules: Vec<&str> = d.iter().map(|d| d.rule).collect();
        assert!(
            rules.contains(&"bearer-token") && rules.contains(&"sk-key"),
            "{d:?}"
        );
        assert!(d.iter().all(|x| !x.masked.contains(&key)));
        assert_eq!((d[0].line, d[0].column), (2, 23));
    }

    #[test]
    fn entropy_separates_random_from_words() {
        assert!(
            !credentials(
                "credential_env = SHIPGATE_MOCK_KEY_NAME password = correcthorsebatterystaple"
            )
            .iter()
            .any(|d| d.rule == "high-entropy-assignment")
        );
        assert!(
            credentials("api_key=Zx8Qp2Lm9Vt4Rw7Kc1Hd")
                .iter()
                .any(|d| d.rule == "high-entropy-assignment")
        );
    }

    #[test]
    fn redaction_placeholders_are_not_leaks() {
        assert!(
            credentials("Authorization: Bearer [REDACTED:credential] token=[REDACTED]").is_empty()
        );
    }

    #[test]
    fn finds_pii_with_luhn() {
        let d = pii(
            "mail jane.doe@example.com, call 415-555-0132, card 4111 1111 1111 1111, not 4111 1111 1111 1112",
            &[],
        );
        let rules: Vec<&str> = d.iter().map(|d| d.rule).collect();
        assert_eq!(
            rules.iter().filter(|r| **r == "pii-card-number").count(),
            1,
            "{d:?}"
        );
        assert!(rules.contains(&"pii-email") && rules.contains(&"pii-phone"));
        assert!(luhn_ok("4111111111111111") && !luhn_ok("1111111111111111"));
    }

    #[test]
    fn finds_content_only_when_long_enough() {
        assert_eq!(
            content("a\nthe customer prompt here", "customer prompt"),
            vec![(2, 5)]
        );
        assert!(content("READY", "READY").is_empty());
    }
}
