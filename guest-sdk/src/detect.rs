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
    /// A further check on the match in its text (at its byte offset).
    context: fn(&str, &str, usize) -> bool,
}

fn any_context(_: &str, _: &str, _: usize) -> bool {
    true
}

impl Rule {
    fn new(id: &'static str, re: &str, group: usize, check: fn(&str) -> bool) -> Rule {
        Rule {
            id,
            re: Regex::new(re).expect("rule compiles"),
            group,
            check,
            context: any_context,
        }
    }

    fn in_context(mut self, context: fn(&str, &str, usize) -> bool) -> Rule {
        self.context = context;
        self
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
        r("pii-card-number", r"\b(?:\d[ -]?){13,19}\b", 0, luhn_ok).in_context(card_context),
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

/// Words that, just before a number, say it is a card number.
const CARD_WORDS: &[&str] = &[
    "card",
    "visa",
    "mastercard",
    "amex",
    "credit",
    "debit",
    "pan",
    "cc",
];

/// Whether a Luhn-valid number at `start` of `text` is written like a card
/// number: grouped by spaces or dashes (4-4-4-4, 4-6-5), or with a card word
/// within the 24 characters before it. A bare run of digits (an id, a
/// timestamp) passes Luhn one time in ten: on its own that is not enough.
pub fn card_context(m: &str, text: &str, start: usize) -> bool {
    let groups: Vec<usize> = m
        .split([' ', '-'])
        .filter(|g| !g.is_empty())
        .map(str::len)
        .collect();
    let grouped = groups.len() >= 3 && groups.iter().all(|g| (4..=6).contains(g));
    let from = text[..start]
        .char_indices()
        .rev()
        .nth(23)
        .map_or(0, |(i, _)| i);
    let before = text[from..start].to_ascii_lowercase();
    let named = CARD_WORDS.iter().any(|w| {
        before.match_indices(w).any(|(i, _)| {
            !before[..i].ends_with(|c: char| c.is_ascii_alphanumeric())
                && !before[i + w.len()..].starts_with(|c: char| c.is_ascii_alphabetic())
        })
    });
    grouped || named
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
            if !(rule.check)(m.as_str()) || !(rule.context)(m.as_str(), text, m.start()) {
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
    fn card_numbers_need_a_card_context() {
        // Bare Luhn-valid ids (a tenth of random 13-19 digit ids pass Luhn) are not cards.
        let digits = Regex::new(r"\d{13,19}").unwrap();
        for id in [
            "4111111111111111",
            "order 79927398713008 shipped",
            "ts=1733011200000007",
        ] {
            let luhn: Vec<String> = digits
                .find_iter(id)
                .map(|m| m.as_str().to_owned())
                .collect();
            assert!(luhn.iter().any(|n| luhn_ok(n)), "{id} is Luhn-valid");
            assert!(
                pii(id, &[]).iter().all(|d| d.rule != "pii-card-number"),
                "{id}"
            );
        }
        // Grouped, or named, they are.
        for text in [
            "4111 1111 1111 1111",
            "4111-1111-1111-1111",
            "card: 4111111111111111",
            "visa 4111111111111111",
        ] {
            assert!(
                pii(text, &[]).iter().any(|d| d.rule == "pii-card-number"),
                "{text}"
            );
        }
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
