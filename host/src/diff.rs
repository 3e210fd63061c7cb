//! Drift between two validation records (`shipgate diff OLD NEW`) and spikes
//! against a baseline record (`shipgate run --baseline OLD`).
//!
//! Pure: records in, a [`Drift`] or findings out.

use crate::decision::Outcome;
use crate::findings::{Finding, FindingKind, Verdict};
use crate::report::Record;
use crate::report::record::OperationSummary;
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet};

/// One changed value.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Change {
    /// What changed (a JSON pointer, a field pointer or an operation).
    pub what: String,
    /// The old value (`(absent)` when added).
    pub old: String,
    /// The new value (`(absent)` when removed).
    pub new: String,
}

/// Latency and usage of one operation, old and new.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OperationDrift {
    /// Operation name.
    pub operation: String,
    /// (old, new) median latency in ms.
    pub p50_ms: (u64, u64),
    /// (old, new) 95th percentile latency in ms.
    pub p95_ms: (u64, u64),
    /// (old, new) tokens (input + output).
    pub tokens: (u64, u64),
    /// (old, new) statuses, as `status×count`.
    pub statuses: (String, String),
    /// (old, new) median time to a stream's first chunk, ms (0: no stream).
    #[serde(default)]
    pub first_chunk_ms: (u64, u64),
}

/// Everything that drifted between two records.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Drift {
    /// Run ids (old, new).
    pub runs: (String, String),
    /// Decisions (old, new).
    pub decision: (Outcome, Outcome),
    /// Contract values that changed.
    pub contract: Vec<Change>,
    /// Observed response fields added, removed or retyped.
    pub response_fields: Vec<Change>,
    /// Statuses per operation that changed.
    pub statuses: Vec<Change>,
    /// Findings whose verdict changed (`plugin/id`).
    pub verdicts: Vec<Change>,
    /// Per-operation latency and usage.
    pub operations: Vec<OperationDrift>,
}

impl Drift {
    /// Whether nothing but timings differ.
    pub fn is_empty(&self) -> bool {
        self.decision.0 == self.decision.1
            && self.contract.is_empty()
            && self.response_fields.is_empty()
            && self.statuses.is_empty()
            && self.verdicts.is_empty()
    }
}

fn flatten(v: &serde_json::Value, at: String, out: &mut BTreeMap<String, String>) {
    match v {
        serde_json::Value::Object(o) => o
            .iter()
            .for_each(|(k, x)| flatten(x, format!("{at}/{k}"), out)),
        other => {
            out.insert(at, other.to_string());
        }
    }
}

fn changes(old: &BTreeMap<String, String>, new: &BTreeMap<String, String>) -> Vec<Change> {
    let keys: BTreeSet<&String> = old.keys().chain(new.keys()).collect();
    keys.into_iter()
        .filter(|k| old.get(*k) != new.get(*k))
        .map(|k| Change {
            what: k.clone(),
            old: old.get(k).cloned().unwrap_or_else(|| ABSENT.into()),
            new: new.get(k).cloned().unwrap_or_else(|| ABSENT.into()),
        })
        .collect()
}

/// How a value missing on one side is written.
pub const ABSENT: &str = "(absent)";

/// `plugin/operation`: the key of an operation summary.
fn op_key(o: &OperationSummary) -> String {
    format!("{}/{}", o.plugin, o.operation)
}

/// Compare two records.
pub fn diff(old: &Record, new: &Record) -> Drift {
    let (mut oc, mut nc) = (BTreeMap::new(), BTreeMap::new());
    flatten(&old.contract, String::new(), &mut oc);
    flatten(&new.contract, String::new(), &mut nc);
    // Access dates and the mock's port change every run; they are not contract drift.
    oc.retain(|k, _| !k.ends_with("/accessed"));
    nc.retain(|k, _| !k.ends_with("/accessed"));
    let fields = |r: &Record| {
        r.response_fields_observed
            .iter()
            .map(|f| (f.pointer.clone(), f.json_type.clone()))
            .collect::<BTreeMap<_, _>>()
    };
    let statuses = |r: &Record| {
        r.telemetry_summary
            .iter()
            .map(|o| {
                (
                    op_key(o),
                    o.statuses
                        .iter()
                        .map(|(k, v)| format!("{k}×{v}"))
                        .collect::<Vec<_>>()
                        .join(" "),
                )
            })
            .collect::<BTreeMap<_, _>>()
    };
    let verdicts = |r: &Record| {
        r.findings
            .iter()
            .map(|f| {
                (
                    format!("{}/{}", f.plugin, f.id),
                    f.verdict.as_str().to_owned(),
                )
            })
            .collect::<BTreeMap<_, _>>()
    };
    let (os, ns) = (statuses(old), statuses(new));
    let ops: BTreeSet<String> = old
        .telemetry_summary
        .iter()
        .chain(&new.telemetry_summary)
        .map(op_key)
        .collect();
    let operations: Vec<OperationDrift> = ops
        .into_iter()
        .map(|op| {
            let find = |r: &Record| {
                r.telemetry_summary
                    .iter()
                    .find(|o| op_key(o) == *op)
                    .cloned()
            };
            let (o, n) = (find(old), find(new));
            let get = |s: &Option<OperationSummary>, f: fn(&OperationSummary) -> u64| {
                s.as_ref().map(f).unwrap_or(0)
            };
            OperationDrift {
                operation: op.clone(),
                p50_ms: (get(&o, |s| s.p50_ms), get(&n, |s| s.p50_ms)),
                p95_ms: (get(&o, |s| s.p95_ms), get(&n, |s| s.p95_ms)),
                tokens: (
                    get(&o, |s| s.input_tokens.saturating_add(s.output_tokens)),
                    get(&n, |s| s.input_tokens.saturating_add(s.output_tokens)),
                ),
                statuses: (
                    os.get(&op).cloned().unwrap_or_default(),
                    ns.get(&op).cloned().unwrap_or_default(),
                ),
                first_chunk_ms: (
                    get(&o, |s| s.first_chunk_p50_ms.unwrap_or(0)),
                    get(&n, |s| s.first_chunk_p50_ms.unwrap_or(0)),
                ),
            }
        })
        // Only what moved: an operation whose numbers are all the same is not drift.
        .filter(|o: &OperationDrift| {
            o.p50_ms.0 != o.p50_ms.1
                || o.p95_ms.0 != o.p95_ms.1
                || o.tokens.0 != o.tokens.1
                || o.statuses.0 != o.statuses.1
                || o.first_chunk_ms.0 != o.first_chunk_ms.1
        })
        .collect();
    Drift {
        runs: (old.run_id.clone(), new.run_id.clone()),
        decision: (old.decision.outcome, new.decision.outcome),
        contract: changes(&oc, &nc),
        response_fields: changes(&fields(old), &fields(new)),
        statuses: changes(&os, &ns),
        verdicts: changes(&verdicts(old), &verdicts(new)),
        operations,
    }
}

/// Render a drift report for people: only what changed, in plain words
/// (every string from a record is made inert: records are files anyone could edit).
pub fn render(d: &Drift, w: &mut impl std::io::Write) -> std::io::Result<()> {
    let t = |s: &str| crate::text::one_line(s, 300);
    if d.is_empty() && d.operations.is_empty() {
        return writeln!(
            w,
            "no drift between runs {} and {}",
            t(&d.runs.0),
            t(&d.runs.1)
        );
    }
    writeln!(w, "drift from run {} to run {}", t(&d.runs.0), t(&d.runs.1))?;
    if d.decision.0 != d.decision.1 {
        writeln!(
            w,
            "  decision: {} -> {}",
            d.decision.0.label(),
            d.decision.1.label()
        )?;
    }
    for (title, list) in [
        ("contract", &d.contract),
        ("response fields", &d.response_fields),
        ("statuses", &d.statuses),
        ("verdicts", &d.verdicts),
    ] {
        if list.is_empty() {
            continue;
        }
        writeln!(w, "  {title}:")?;
        for c in list {
            writeln!(w, "    {}: {} -> {}", t(&c.what), t(&c.old), t(&c.new))?;
        }
    }
    if !d.operations.is_empty() {
        writeln!(w, "  operations:")?;
        for o in &d.operations {
            let mut parts = Vec::new();
            for (what, (a, b), unit) in [
                ("p50", o.p50_ms, " ms"),
                ("p95", o.p95_ms, " ms"),
                ("tokens", o.tokens, ""),
                ("first chunk", o.first_chunk_ms, " ms"),
            ] {
                if a != b {
                    parts.push(format!("{what} {a}{unit} -> {b}{unit}"));
                }
            }
            if o.statuses.0 != o.statuses.1 {
                let s = |v: &str| {
                    if v.is_empty() {
                        ABSENT.to_owned()
                    } else {
                        t(v)
                    }
                };
                parts.push(format!(
                    "statuses {} -> {}",
                    s(&o.statuses.0),
                    s(&o.statuses.1)
                ));
            }
            writeln!(w, "    {}: {}", t(&o.operation), parts.join(", "))?;
        }
    }
    Ok(())
}

/// Warnings for latency or usage spikes of a run's `observed` per-operation
/// telemetry against `baseline`: an operation whose p95 latency or token count
/// grew by more than `ratio`.
///
/// Small absolute values are ignored (p95 under 50 ms, under 10 tokens) so
/// that noise on a local mock does not warn.
pub fn spikes(baseline: &Record, observed: &[OperationSummary], ratio: f64) -> Vec<Finding> {
    let mut out = Vec::new();
    for o in observed {
        // Keyed by the plugin the host assigned, not by the plugin's own label.
        let Some(b) = baseline
            .telemetry_summary
            .iter()
            .find(|b| b.plugin == o.plugin && b.operation == o.operation)
        else {
            continue;
        };
        let checks = [
            (
                "latency",
                "p95 latency",
                b.p95_ms,
                o.p95_ms,
                50,
                "ms",
                "metrics-attached",
            ),
            (
                "usage",
                "tokens",
                b.input_tokens.saturating_add(b.output_tokens),
                o.input_tokens.saturating_add(o.output_tokens),
                10,
                "tokens",
                "usage-fields-verified",
            ),
        ];
        for (kind, what, before, after, floor, unit, item) in checks {
            if after >= floor && before > 0 && after as f64 > before as f64 * ratio {
                let f = Finding {
                    plugin: "baseline".into(),
                    id: crate::findings::normalise_id(&format!(
                        "baseline.{kind}-spike.{}.{}",
                        o.plugin, o.operation
                    )),
                    title: format!(
                        "{what} of `{}` stays within {ratio}x of the baseline",
                        crate::text::one_line(&format!("{}/{}", o.plugin, o.operation), 160)
                    ),
                    verdict: Verdict::Warn,
                    kind: FindingKind::Host,
                    detail: format!(
                        "{what} went from {before} {unit} to {after} {unit} (baseline run {})",
                        crate::text::one_line(&baseline.run_id, 64)
                    ),
                    evidence: Vec::new(),
                    metrics: Vec::new(),
                    covers: vec![item.to_owned()],
                    subject: crate::checklist::Subject::Provider,
                }
                .with_evidence("baseline", before)
                .with_evidence("observed", after)
                .with_evidence("ratio", format!("{:.2}", after as f64 / before as f64));
                out.push(f);
            }
        }
    }
    out
}
