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
