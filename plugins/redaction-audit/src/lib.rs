//! Redaction audit: the run's own output and the team's log directories must
//! hold no secret, no credential-shaped value, no customer content and no PII.
//!
//! Sources come from the host's `audit` capability (needs `grants.audit`):
//! the run's log, telemetry and findings so far, and `[audit] log_dirs` from
//! the plan. The host masks credential-shaped values and the run's own
//! secrets (and says where; it also reports leaks of the run's secrets
//! itself, after the run). This check turns the masks into findings and
//! adds customer content (the prompts the run sent) and PII. Each leak is a
//! finding with its source, line and column; the match is masked.
//!
//! Settings: `pii_patterns` (extra regular expressions, one per line).
#![forbid(unsafe_code)]

use shipgate_sdk::audit::{self, TextFile};
use shipgate_sdk::checklist as item;
use shipgate_sdk::detect::{self, Detection};
use shipgate_sdk::{Check, Descriptor, Finding, context};

struct RedactionAudit;

fn located(f: Finding, source: &str, line: u32, column: u32) -> Finding {
    f.evidence("source", source)
        .evidence("line", line)
        .evidence("column", column)
        .covers([item::LOGS_REDACTED])
}

fn detection(kind: &str, t: &TextFile, d: &Detection, why: &str) -> Finding {
    located(
        Finding::fail(
            format!("audit.{kind}"),
            format!("{} in {}", d.rule, t.source),
        )
        .detail(format!("{why}: {} at line {}", d.masked, d.line)),
        &t.source,
        d.line,
        d.column,
    )
    .evidence("rule", d.rule)
    .evidence("match", &d.masked)
}

impl Check for RedactionAudit {
    fn describe() -> Descriptor {
        Descriptor::new(
            "redaction-audit",
            env!("CARGO_PKG_VERSION"),
            "no secrets, credentials, customer content or PII in logs and records",
        )
        .covers([item::LOGS_REDACTED])
        .findings([
            "audit.secret",
            "audit.credential",
            "audit.pii",
            "audit.content",
            "audit.honeytoken-echoed",
            "audit.clean",
        ])
        .setting(
            "pii_patterns",
            shipgate_sdk::SettingKind::String,
            None,
            "extra regular expressions for personal data, one per line",
        )
    }

    fn run() -> Result<Vec<Finding>, String> {
        let texts = audit::collect().map_err(|e| e.to_string())?;
        let prompts = audit::sent_prompts().map_err(|e| e.to_string())?;
        let extra: Vec<detect::regex::Regex> = context::setting("pii_patterns")
            .unwrap_or_default()
            .lines()
            .map(str::trim)
            .filter(|l| !l.is_empty())
            .map(|p| {
                detect::regex::Regex::new(p)
                    .map_err(|e| format!("setting pii_patterns: {p:?}: {e}"))
            })
            .collect::<Result<_, _>>()?;
        let mut out = Vec::new();
        for t in &texts {
            for m in &t.masks {
                let (id, what) = if m.rule == "run-secret" {
                    (
                        "audit.secret",
                        "one of the run's own secrets (the credential or the probes' token)",
                    )
                } else {
                    ("audit.credential", "a credential-shaped value")
                };
                out.push(
                    located(
                        Finding::fail(id, format!("{} in {}", m.rule, t.source))
                            .detail(format!("{what} ({}) at line {}", m.rule, m.line)),
                        &t.source,
                        m.line,
                        m.column,
                    )
                    .evidence("rule", &m.rule),
                );
            }
        }
        for t in &texts {
            for d in detect::pii(&t.content, &extra) {
                out.push(detection("pii", t, &d, "personal data"));
            }
            for p in &prompts {
                for (line, column) in detect::content(&t.content, p) {
                    out.push(
                        located(
                            Finding::fail(
                                "audit.content",
                                format!("customer content in {}", t.source),
                            )
                            .detail(format!(
                                "a prompt this run sent ({} chars) appears verbatim at line {line}",
                                p.chars().count()
                            )),
                            &t.source,
                            line,
                            column,
                        )
                        .evidence("rule", "customer-content"),
                    );
                }
            }
            // A provider that echoes a rejected credential in full (the scrub
            // removed it here): an application that logs error bodies logs its
            // callers' keys. A masked echo (`sk-abc12***wxyz`) is not a leak.
            let echoed = t.content.matches("[REDACTED:honeytoken]").count();
            if t.source.starts_with("run:") && echoed > 0 {
                out.push(
                    Finding::fail("audit.honeytoken-echoed", format!("the provider echoed a rejected credential in full into {}", t.source))
                        .detail(format!(
                            "the invalid token the negative probes sent came back whole in a response {echoed} time(s); \
                             shipgate scrubbed it, but an application that logs error bodies would log its callers' keys"
                        ))
                        .evidence("source", &t.source)
                        .covers([item::LOGS_REDACTED]),
                );
            }
        }
        let bytes: usize = texts.iter().map(|t| t.content.len()).sum();
        let leaks = out
            .iter()
            .filter(|f| f.verdict == shipgate_sdk::Verdict::Fail)
            .count();
        {
            out.push(
                Finding::check(
                    leaks == 0,
                    "audit.clean",
                    "no secrets, credentials, customer content or PII in logs and records",
                )
                .detail(format!(
                    "{}, {} scanned ({} hunted): {}",
                    shipgate_sdk::text::count(texts.len(), "text"),
                    shipgate_sdk::text::count(bytes as usize, "byte"),
                    shipgate_sdk::text::count(prompts.len(), "prompt"),
                    shipgate_sdk::text::count(leaks, "leak"),
                ))
                .evidence("texts", texts.len())
                .evidence(
                    "sources",
                    texts
                        .iter()
                        .map(|t| t.source.as_str())
                        .collect::<Vec<_>>()
                        .join(", "),
                )
                .covers([item::LOGS_REDACTED]),
            );
        }
        Ok(out)
    }
}

shipgate_sdk::export_check!(RedactionAudit);

#[cfg(test)]
mod tests {
    mod whole_check {
        //! The whole check against the SDK's scripted host.
        use super::super::RedactionAudit;
        use shipgate_sdk::Verdict;
        use shipgate_sdk::audit::{MaskedSpan, TextFile};
        use shipgate_sdk::testing::{Harness, Outcome};

        const PROMPT: &str = "Return the word READY and nothing else.";

        fn text(source: &str, content: &str) -> TextFile {
            TextFile {
                source: source.into(),
                content: content.into(),
                truncated: false,
                masks: Vec::new(),
            }
        }

        fn audit(files: Vec<TextFile>) -> Outcome {
            Harness::new()
                .audit(files, vec![PROMPT.into()])
                .run::<RedactionAudit>()
        }

        fn clean() -> Vec<TextFile> {
            vec![
                text(
                    "run:log.jsonl",
                    "{\"level\":\"info\",\"message\":\"canary done\",\"status\":\"200\"}\n",
                ),
                text("logs:app/app.log", "request ok in 412 ms\n"),
            ]
        }

        #[test]
        fn clean_texts_pass() {
            let out = audit(clean());
            assert_eq!(out.findings.len(), 1);
            assert_eq!(out.verdict("audit.clean"), Verdict::Pass);
            assert_eq!(out.evidence("audit.clean", "texts"), Some("2"));
            assert_eq!(
                out.evidence("audit.clean", "sources"),
                Some("run:log.jsonl, logs:app/app.log")
            );
        }

        #[test]
        fn a_masked_run_secret_fails_as_a_secret() {
            let mut files = clean();
            files[1].content = "line one\nline two\nkey = [REDACTED:run-secret]\n".into();
            files[1].masks = vec![MaskedSpan {
                rule: "run-secret".into(),
                line: 3,
                column: 7,
            }];
            let out = audit(files);
            assert_eq!(out.verdict("audit.secret"), Verdict::Fail);
            assert_eq!(
                out.evidence("audit.secret", "source"),
                Some("logs:app/app.log")
            );
            assert_eq!(out.evidence("audit.secret", "line"), Some("3"));
            assert_eq!(out.evidence("audit.secret", "column"), Some("7"));
            assert_eq!(out.verdict("audit.clean"), Verdict::Fail);
        }

        #[test]
        fn a_logged_prompt_fails_as_customer_content() {
            let mut files = clean();
            files[1].content = format!("sent prompt={PROMPT}\n");
            let out = audit(files);
            assert_eq!(out.verdict("audit.content"), Verdict::Fail);
            assert_eq!(out.evidence("audit.content", "line"), Some("1"));
            assert_eq!(out.evidence("audit.content", "column"), Some("13"));
        }

        #[test]
        fn an_email_and_a_custom_pattern_fail_as_pii() {
            let mut files = clean();
            files[1].content = "user bob@example.com\ncustomer CUST-004411\n".into();
            let out = audit(files.clone());
            assert_eq!(out.verdict("audit.pii"), Verdict::Fail);
            assert_eq!(out.evidence("audit.pii", "rule"), Some("pii-email"));
            let pii = out.findings.iter().filter(|f| f.id == "audit.pii").count();
            assert_eq!(pii, 1);

            let out = Harness::new()
                .setting("pii_patterns", r"CUST-\d{6}")
                .audit(files, vec![PROMPT.into()])
                .run::<RedactionAudit>();
            let rules: Vec<_> = out
                .findings
                .iter()
                .filter(|f| f.id == "audit.pii")
                .map(|f| {
                    f.evidence
                        .iter()
                        .find(|(k, _)| k == "rule")
                        .map(|(_, v)| v.as_str())
                })
                .collect();
            assert_eq!(rules, [Some("pii-email"), Some("pii-custom")]);
        }

        #[test]
        fn an_echoed_honeytoken_fails_only_in_the_runs_own_records() {
            let mut files = clean();
            files[0].content = "{\"body\":\"Incorrect API key: [REDACTED:honeytoken]\"}\n".into();
            let out = audit(files);
            assert_eq!(out.verdict("audit.honeytoken-echoed"), Verdict::Fail);

            let mut files = clean();
            files[1].content = "Incorrect API key: [REDACTED:honeytoken]\n".into();
            let out = audit(files);
            assert!(
                !out.findings
                    .iter()
                    .any(|f| f.id == "audit.honeytoken-echoed")
            );
        }

        #[test]
        fn a_bad_pattern_or_no_grant_is_an_error() {
            let out = Harness::new()
                .setting("pii_patterns", "(unclosed")
                .audit(clean(), vec![])
                .run::<RedactionAudit>();
            assert!(
                out.error
                    .as_deref()
                    .is_some_and(|e| e.starts_with("setting pii_patterns: \"(unclosed\"")),
                "{:?}",
                out.error
            );
            let out = Harness::new().run::<RedactionAudit>();
            assert!(out.findings.is_empty());
            assert!(out.error.is_some());
        }

        /// Findings no provider, contract, plan or application can make fail: (id, why).
        const CANNOT_FAIL: &[(&str, &str)] = &[];

        /// Every finding can fail, and a test shows it failing.
        #[test]
        fn every_declared_finding_can_fail() {
            // The clean texts with the app log's content (and masks) replaced.
            let app_log = |content: &str, mask: Option<&str>| {
                let mut files = clean();
                files[1].content = content.into();
                files[1].masks = mask
                    .map(|rule| MaskedSpan {
                        rule: rule.into(),
                        line: 1,
                        column: 5,
                    })
                    .into_iter()
                    .collect();
                Harness::new().audit(files, vec![PROMPT.into()])
            };
            let mut echoed = clean();
            echoed[0].content = "{\"body\":\"Incorrect API key: [REDACTED:honeytoken]\"}\n".into();
            let cases: Vec<(&str, Harness)> = vec![
                (
                    "audit.secret",
                    app_log("key [REDACTED:run-secret]\n", Some("run-secret")),
                ),
                (
                    "audit.credential",
                    app_log("key [REDACTED:sk-key]\n", Some("sk-key")),
                ),
                ("audit.pii", app_log("user bob@example.com\n", None)),
                (
                    "audit.content",
                    app_log(&format!("sent prompt={PROMPT}\n"), None),
                ),
                (
                    "audit.honeytoken-echoed",
                    Harness::new().audit(echoed, vec![PROMPT.into()]),
                ),
                ("audit.clean", app_log("user bob@example.com\n", None)),
            ];
            shipgate_sdk::testing::assert_every_finding_can_fail::<RedactionAudit>(
                &cases,
                &[],
                CANNOT_FAIL,
            );
        }
    }
}
