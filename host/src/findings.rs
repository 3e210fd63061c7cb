//! Findings as the host keeps them: validated, capped and redacted.
//!
//! # Security
//!
//! A finding comes from an untrusted guest. Its id is normalised, its text and
//! evidence are capped (`sandbox.max_finding_bytes`), non-finite metrics are
//! dropped, checklist ids the host does not know are dropped (and said so), and
//! every string is redacted before it reaches the record.

use crate::bindings::exports::shipgate::plugin::check as wit;
use crate::redact::Redactor;
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
        }
    }

    /// Add evidence.
    pub fn with_evidence(mut self, key: &str, value: impl ToString) -> Finding {
        self.evidence.push(Evidence {
            key: key.to_owned(),
            value: value.to_string(),
        });
        self
    }
}

const MAX_ID: usize = 128;
const MAX_TITLE: usize = 256;

fn cap(s: &str, max: usize) -> String {
    if s.len() <= max {
        return s.to_owned();
    }
    let mut end = max;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}…[truncated]", &s[..end])
}

/// Validate, cap and redact a guest's findings.
pub fn from_guest(
    plugin: &str,
    raw: Vec<wit::Finding>,
    max_bytes: u64,
    redactor: &Redactor,
) -> Vec<Finding> {
    let mut seen = std::collections::BTreeMap::<String, u32>::new();
    raw.into_iter()
        .map(|f| {
            let mut id: String =
                f.id.trim()
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
            if id.is_empty() {
                id = "unnamed".into();
            }
            let n = seen.entry(id.clone()).or_insert(0);
            *n += 1;
            if *n > 1 {
                id = format!("{id}#{n}");
            }
            let (covers, unknown): (Vec<String>, Vec<String>) = f
                .covers
                .into_iter()
                .partition(|c| crate::checklist::item(c).is_some());
            let budget = std::cell::Cell::new(max_bytes as usize);
            let take = |s: &str| {
                let out = cap(s, budget.get().max(16));
                budget.set(budget.get().saturating_sub(out.len()));
                redactor.redact(&out).into_owned()
            };
            let title = take(&cap(&f.title, MAX_TITLE));
            let detail = take(&f.detail);
            let mut evidence: Vec<Evidence> = Vec::new();
            for (k, v) in f.evidence {
                if budget.get() == 0 {
                    evidence.push(Evidence {
                        key: "truncated".into(),
                        value: "evidence over sandbox.max_finding_bytes".into(),
                    });
                    break;
                }
                evidence.push(Evidence {
                    key: take(&cap(&k, MAX_ID)),
                    value: take(&v),
                });
            }
            if !unknown.is_empty() {
                evidence.push(Evidence {
                    key: "unknown_checklist_ids".into(),
                    value: redactor.redact(&cap(&unknown.join(","), 512)).into_owned(),
                });
            }
            let metrics = f
                .metrics
                .into_iter()
                .filter(|m| m.value.is_finite())
                .take(64)
                .map(|m| Metric {
                    name: take(&cap(&m.name, MAX_ID)),
                    value: m.value,
                    unit: take(&cap(&m.unit, 32)),
                })
                .collect();
            Finding {
                plugin: plugin.to_owned(),
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
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn raw(id: &str, detail: &str) -> wit::Finding {
        wit::Finding {
            id: id.into(),
            title: "t".into(),
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
            covers: vec!["logs-redacted".into(), "made-up".into()],
        }
    }

    #[test]
    fn normalises_ids_and_dedups() {
        let out = from_guest(
            "p",
            vec![raw("a b", ""), raw("a b", ""), raw("", "")],
            4096,
            &Redactor::new(),
        );
        assert_eq!(out[0].id, "a_b");
        assert_eq!(out[1].id, "a_b#2");
        assert_eq!(out[2].id, "unnamed");
    }

    #[test]
    fn redacts_caps_and_drops_unknown_covers() {
        let out = from_guest(
            "p",
            vec![raw("x", &"d".repeat(10_000))],
            1024,
            &Redactor::new(),
        );
        let f = &out[0];
        assert!(f.detail.len() < 1100);
        assert!(
            !serde_json::to_string(f)
                .unwrap()
                .contains("sk-abcdefghijklmnop")
        );
        assert_eq!(f.covers, vec!["logs-redacted".to_owned()]);
        assert!(f.evidence.iter().any(|e| e.key == "unknown_checklist_ids"));
        assert!(f.metrics.is_empty());
    }
}
