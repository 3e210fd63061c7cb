//! Findings as the host keeps them: validated, capped and redacted.
//!
//! # Security
//!
//! A finding comes from an untrusted guest. Its id is normalised, its text and
//! evidence are capped (`sandbox.max_finding_bytes`) and made inert
//! (`crate::text`: no control, bidi or invisible characters), non-finite
//! metrics are dropped, and every string is redacted by the
//! secret-independent [`Redactor`] (the run's secrets are removed from the
//! record only after every plugin has finished).
//!
//! Coverage is granted, never self-declared: a finding keeps only the
//! checklist items that its plugin's descriptor declares *and* the plan grants
//! that plugin; the rest are dropped, and the finding says so.

use crate::bindings::exports::shipgate::plugin::check as wit;
use crate::checklist::Subject;
use crate::redact::Redactor;
use crate::text;
use serde::{Deserialize, Serialize};

/// Outcome of one finding.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Verdict {
    /// Met.
    Pass,
    /// Needs attention.
    Warn,
    /// Not met.
    Fail,
    /// Not evaluated.
    Skip,
}

impl Verdict {
    /// Lower-case name.
    pub fn as_str(self) -> &'static str {
        match self {
            Verdict::Pass => "pass",
            Verdict::Warn => "warn",
            Verdict::Fail => "fail",
            Verdict::Skip => "skip",
        }
    }
}

/// Who made a finding.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum FindingKind {
    /// A check's own finding.
    Check,
    /// The host: the plugin failed (trap, deadline, limit, error, malformed output).
    PluginError,
    /// The host: a sandbox limit was hit or a request was denied.
    Sandbox,
    /// The host's own check (the secret scan, the baseline comparison).
    Host,
}

/// A key/value piece of evidence.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Evidence {
    /// Key.
    pub key: String,
    /// Value.
    pub value: String,
}

/// A measurement.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Metric {
    /// Name.
    pub name: String,
    /// Value.
    pub value: f64,
    /// Unit.
    pub unit: String,
}

/// One finding in the record.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Finding {
    /// The plugin it came from.
    pub plugin: String,
    /// Id, unique within the plugin.
    pub id: String,
    /// Title.
    pub title: String,
    /// Verdict.
    pub verdict: Verdict,
    /// Who made it.
    pub kind: FindingKind,
    /// Explanation.
    pub detail: String,
    /// Evidence.
    pub evidence: Vec<Evidence>,
    /// Metrics.
    pub metrics: Vec<Metric>,
    /// Checklist items covered.
    pub covers: Vec<String>,
    /// What it is evidence about, as the host assigned it.
    pub subject: Subject,
}

impl Finding {
    /// A finding made by the host about a plugin.
    pub fn host(plugin: &str, kind: FindingKind, id: &str, title: &str, detail: String) -> Finding {
        Finding {
            plugin: plugin.to_owned(),
            id: format!("{plugin}.{id}"),
            title: title.to_owned(),
            verdict: Verdict::Fail,
            kind,
            detail,
            evidence: Vec::new(),
            metrics: Vec::new(),
            covers: Vec::new(),
            subject: Subject::Shipgate,
        }
    }

    /// Set the subject.
    pub fn about(mut self, subject: Subject) -> Finding {
        self.subject = subject;
        self
    }

    /// Add evidence.
    pub fn with_evidence(mut self, key: &str, value: impl ToString) -> Finding {
        self.evidence.push(Evidence {
            key: key.to_owned(),
            value: value.to_string(),
        });
        self
    }

    /// Change the verdict.
    pub fn with_verdict(mut self, verdict: Verdict) -> Finding {
        self.verdict = verdict;
        self
    }

    /// Say which checklist items this host finding covers.
    pub fn covering(mut self, items: &[&str]) -> Finding {
        self.covers = items.iter().map(|s| (*s).to_owned()).collect();
        self
    }

    /// An evidence value by key.
    pub fn evidence(&self, key: &str) -> Option<&str> {
        self.evidence
            .iter()
            .find(|e| e.key == key)
            .map(|e| e.value.as_str())
    }
}

const MAX_ID: usize = 128;
const MAX_TITLE: usize = 256;
/// Most evidence entries kept per finding.
const MAX_EVIDENCE: usize = 64;

/// What the host takes from a guest finding, and what it grants.
#[derive(Debug, Clone, Copy)]
pub struct Intake<'a> {
    /// The plugin (the plan's name for it).
    pub plugin: &'a str,
    /// `sandbox.max_finding_bytes`.
    pub max_bytes: u64,
    /// Checklist items the plugin may cover: its descriptor's, as the plan grants.
    pub covers: &'a [String],
    /// The subject the plan assigns the plugin.
    pub subject: Subject,
}

/// Validate, cap, make inert and redact a guest's findings.
pub fn from_guest(intake: Intake<'_>, raw: Vec<wit::Finding>) -> Vec<Finding> {
    let redactor = Redactor;
    let mut seen = std::collections::BTreeMap::<String, u32>::new();
    raw.into_iter()
        .map(|f| {
            let mut id = normalise_id(&f.id);
            let n = seen.entry(id.clone()).or_insert(0);
            *n += 1;
            if *n > 1 {
                id = format!("{id}#{n}");
            }
            // Enforce: coverage is granted (descriptor and plan), never self-declared.
            let (covers, refused): (Vec<String>, Vec<String>) = f
                .covers
                .into_iter()
                .take(32)
                .partition(|c| intake.covers.contains(c));
            let budget = std::cell::Cell::new(intake.max_bytes as usize);
            let take = |s: &str, one_line: bool, max: usize| {
                let max = max.min(budget.get().max(16));
                let s = if one_line {
                    text::one_line(s, max)
                } else {
                    text::multi_line(s, max)
                };
                budget.set(budget.get().saturating_sub(s.len()));
                redactor.redact(&s).into_owned()
            };
            let title = take(&f.title, true, MAX_TITLE);
            let detail = take(&f.detail, false, usize::MAX);
            let mut evidence: Vec<Evidence> = Vec::new();
            for (k, v) in f.evidence.into_iter().take(MAX_EVIDENCE) {
                if budget.get() == 0 {
                    evidence.push(Evidence {
                        key: "truncated".into(),
                        value: "evidence over sandbox.max_finding_bytes".into(),
                    });
                    break;
                }
                evidence.push(Evidence {
                    key: take(&k, true, MAX_ID),
                    value: take(&v, true, usize::MAX),
                });
            }
            if !refused.is_empty() {
                evidence.push(Evidence {
                    key: "covers_not_granted".into(),
                    value: redactor
                        .redact(&text::one_line(&refused.join(","), 512))
                        .into_owned(),
                });
            }
            let metrics = f
                .metrics
                .into_iter()
                .filter(|m| m.value.is_finite())
                .take(64)
                .map(|m| Metric {
                    name: take(&m.name, true, MAX_ID),
                    value: m.value,
                    unit: take(&m.unit, true, 32),
                })
                .collect();
            Finding {
                plugin: intake.plugin.to_owned(),
                id,
                title,
                verdict: match f.verdict {
                    wit::Verdict::Pass => Verdict::Pass,
                    wit::Verdict::Warn => Verdict::Warn,
                    wit::Verdict::Fail => Verdict::Fail,
                    wit::Verdict::Skip => Verdict::Skip,
                },
                kind: FindingKind::Check,
                detail,
                evidence,
                metrics,
                covers,
                subject: intake.subject,
            }
        })
        .collect()
}

/// A finding id as the host keeps it: `[A-Za-z0-9._-]`, at most 128
/// characters, never empty.
pub fn normalise_id(raw: &str) -> String {
    let id: String = raw
        .trim()
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_') {
                c
            } else {
                '_'
            }
        })
        .take(MAX_ID)
        .collect();
    if id.is_empty() { "unnamed".into() } else { id }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn raw(id: &str, detail: &str) -> wit::Finding {
        wit::Finding {
            id: id.into(),
            title: "t\x1b[2J\nfake".into(),
            verdict: wit::Verdict::Pass,
            detail: detail.into(),
            evidence: vec![(
                "k".into(),
                "Bearer sk-abcdefghijklmnopqrstuvwxyz123456".into(),
            )],
            metrics: vec![wit::Metric {
                name: "x".into(),
                value: f64::NAN,
                unit: "".into(),
            }],
            covers: vec![
                "logs-redacted".into(),
                "rollout-flag-available".into(),
                "made-up".into(),
            ],
        }
    }

    fn intake<'a>(covers: &'a [String]) -> Intake<'a> {
        Intake {
            plugin: "p",
            max_bytes: 4096,
            covers,
            subject: Subject::Provider,
        }
    }

    #[test]
    fn normalises_ids_and_dedups() {
        let out = from_guest(
            intake(&[]),
            vec![raw("a b", ""), raw("a b", ""), raw("", "")],
        );
        assert_eq!(out[0].id, "a_b");
        assert_eq!(out[1].id, "a_b#2");
        assert_eq!(out[2].id, "unnamed");
    }

    #[test]
    fn redacts_caps_makes_inert_and_keeps_only_granted_covers() {
        let granted = vec!["logs-redacted".to_owned()];
        let mut i = intake(&granted);
        i.max_bytes = 1024;
        let out = from_guest(i, vec![raw("x", &"d".repeat(10_000))]);
        let f = &out[0];
        assert!(f.detail.len() < 1100);
        assert!(
            !serde_json::to_string(f)
                .unwrap()
                .contains("sk-abcdefghijklmnop")
        );
        assert_eq!(f.covers, vec!["logs-redacted".to_owned()]);
        assert_eq!(
            f.evidence("covers_not_granted"),
            Some("rollout-flag-available,made-up")
        );
        assert!(f.metrics.is_empty());
        assert!(!f.title.chars().any(char::is_control), "{:?}", f.title);
    }
}
