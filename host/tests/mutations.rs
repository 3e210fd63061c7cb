//! Mutation fuzzing of every input an operator writes or hands over:
//! contracts, plans, `--set` assignments and records. Each starts from a real
//! file (the templates, the example plan, a demo record) and is mutated line by
//! line or value by value. Whatever the mutation, parsing never panics; an
//! error names the file and says what is wrong; what is accepted keeps the
//! invariants the run relies on; and a misspelt key is always refused.

use proptest::prelude::*;
use shipgate::contract::{Contract, Provider, template};
use shipgate::plan::{Override, Plan};
use std::path::Path;

/// Values that break things: wrong types, edge numbers, control characters,
/// TOML dates and tables where a scalar belongs.
const VALUES: &[&str] = &[
    "0",
    "-1",
    "1",
    "nan",
    "inf",
    "-0.0",
    "1e309",
    "18446744073709551616",
    "4294967296",
    "\"\"",
    "\"x\\ny\"",
    "\"nul\\u0000\"",
    "\"../../etc/passwd\"",
    "\"/v1/../admin\"",
    "[]",
    "[0]",
    "[999]",
    "[\"\"]",
    "{}",
    "true",
    "2026-11-30",
    "\"soon\"",
];

/// Lines that do not belong.
const LINES: &[&str] = &[
    "bogus = 1",
    "[bogus]",
    "[[plugins]]\nname = \"nope\"",
    "[[plugins]]\nname = \"canary\"",
    "schema = 2",
    "=",
    "[",
    "accessed = 2026-11-30",
];

#[derive(Debug, Clone)]
enum Edit {
    Delete(usize),
    Duplicate(usize),
    /// Replace the value of the line's `key = value` with a pool value.
    Value(usize, usize),
    /// Misspell the key of a `key = value` line.
    Typo(usize),
    Insert(usize, usize),
}

fn edit() -> impl Strategy<Value = Edit> {
    prop_oneof![
        any::<usize>().prop_map(Edit::Delete),
        any::<usize>().prop_map(Edit::Duplicate),
        (any::<usize>(), 0..VALUES.len()).prop_map(|(l, v)| Edit::Value(l, v)),
        any::<usize>().prop_map(Edit::Typo),
        (any::<usize>(), 0..LINES.len()).prop_map(|(l, v)| Edit::Insert(l, v)),
    ]
}

/// Apply edits to a TOML text; returns the text and whether a key of a
/// `key = value` line was misspelt (an error the parser must report).
fn mutate(text: &str, edits: &[Edit]) -> (String, bool) {
    let mut lines: Vec<String> = text.lines().map(str::to_owned).collect();
    let mut typos = Vec::new();
    for e in edits {
        if lines.is_empty() {
            break;
        }
        let n = lines.len();
        match *e {
            Edit::Delete(i) => {
                lines.remove(i % n);
            }
            Edit::Duplicate(i) => {
                let l = lines[i % n].clone();
                lines.insert(i % n, l);
            }
            Edit::Value(i, v) => {
                if let Some((k, _)) = lines[i % n].split_once('=') {
                    lines[i % n] = format!("{k}= {}", VALUES[v]);
                }
            }
            Edit::Typo(i) => {
                let line = &lines[i % n];
                let key = line.split('=').next().unwrap_or("").trim();
                let plain = !line.trim_start().starts_with('#')
                    && line.contains('=')
                    && !key.is_empty()
                    && key.bytes().all(|b| b.is_ascii_lowercase() || b == b'_');
                if plain {
                    let misspelt = line.replacen(key, &format!("{key}x"), 1);
                    lines[i % n] = misspelt.clone();
                    typos.push(misspelt);
                }
            }
            Edit::Insert(i, v) => lines.insert(i % (n + 1), LINES[v].to_owned()),
        }
    }
    // A misspelt key still in the text, outside a `[[plugins]]` entry (where
    // a key may be a plugin's setting, which the pre-flight checks against
    // the plugin: see cli.rs).
    let typo = lines.iter().enumerate().any(|(i, l)| {
        let in_plugin = lines[..i]
            .iter()
            .rev()
            .find(|h| h.trim_start().starts_with('['))
            .is_some_and(|h| h.trim() == "[[plugins]]");
        typos.contains(l) && !in_plugin
    });
    (lines.join("\n"), typo)
}

fn plan_text() -> String {
    std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../examples/plan.toml"
    ))
    .expect("examples/plan.toml")
}

/// What a run relies on in any plan it accepts.
fn plan_invariants(p: &Plan) {
    let t = &p.thresholds;
    assert!(
        t.latency_ms >= 1 && t.latency_ms <= t.latency_hard_ms,
        "{t:?}"
    );
    assert!(t.retry_max_attempts >= 1, "{t:?}");
    assert!(t.request_timeout_ms >= 1 && t.retry_budget_ms >= 1, "{t:?}");
    assert!(t.retry_base_delay_ms <= t.retry_max_delay_ms, "{t:?}");
    assert!(p.sandbox.deadline_ms >= 1, "{:?}", p.sandbox);
    let ratio = p.decision.baseline_spike_ratio;
    assert!(ratio.is_finite() && ratio > 1.0, "{ratio}");
    assert!(
        p.decision
            .hold_on_warn
            .iter()
            .all(|id| !id.trim().is_empty())
    );
    assert!(p.attestations.values().all(|e| !e.trim().is_empty()));
    assert!(p.run.jobs >= 1);
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(384))]

    /// Mutated plans: no panic; errors name the file; accepted plans hold
    /// their invariants; a misspelt key is never accepted.
    #[test]
    fn mutated_plans_are_refused_clearly_or_accepted_sound(
        edits in proptest::collection::vec(edit(), 1..4),
    ) {
        let (text, typo) = mutate(&plan_text(), &edits);
        match Plan::parse(Path::new("plan.toml"), &text, &shipgate::bundled::names(), &[]) {
            Ok(p) => {
                prop_assert!(!typo, "a misspelt key was accepted:\n{text}");
                plan_invariants(&p);
            }
            Err(e) => {
                prop_assert!(e.to_string().starts_with("plan.toml"), "{e}");
                prop_assert!(!e.message().trim().is_empty());
                prop_assert!(!e.message().contains("__toml_private"), "{e}");
            }
        }
    }

    /// Mutated contracts, from every template.
    #[test]
    fn mutated_contracts_are_refused_clearly_or_accepted_sound(
        provider in prop_oneof![
            Just(Provider::Cometapi),
            Just(Provider::Openai),
            Just(Provider::Generic),
            Just(Provider::Mock),
        ],
        edits in proptest::collection::vec(edit(), 1..4),
    ) {
        let (text, typo) = mutate(&template(provider, None), &edits);
        match Contract::parse(Path::new("contract.toml"), &text) {
            Ok(c) => {
                prop_assert!(!typo, "a misspelt key was accepted:\n{text}");
                let path = c.endpoint.path.as_str();
                prop_assert!(path.starts_with('/') && !path.contains(".."), "{path}");
                let m = &c.request.model;
                prop_assert!(!m.is_empty() && !m.chars().any(char::is_control), "{m:?}");
            }
            Err(e) => {
                prop_assert!(e.to_string().starts_with("contract.toml"), "{e}");
                prop_assert!(!e.message().contains("__toml_private"), "{e}");
            }
        }
    }

    /// `--set` assignments, well-formed or not: a misspelt plan-wide key is
    /// refused and named.
    #[test]
    fn set_assignments_never_weaken_the_plan(
        key in prop_oneof![
            Just("thresholds.latency_ms"),
            Just("thresholds.latency_hard_ms"),
            Just("thresholds.retry_max_attempts"),
            Just("sandbox.deadline_ms"),
            Just("run.jobs"),
            Just("decision.baseline_spike_ratio"),
            Just("canary.latency_ms"),
            Just("thresholds.latncy_ms"),
            Just("sandbox.dedline_ms"),
            Just("run.jbos"),
            Just("ghost.latency_ms"),
            Just(""),
            Just("."),
            Just("thresholds."),
            Just("thresholds..latency_ms"),
        ],
        value in prop_oneof![
            Just("1"), Just("0"), Just("-1"), Just("nan"), Just("soon"), Just(""),
            Just("1e99"), Just("99999999999999999999"), Just("[1]"), Just("true"),
            Just("250"), Just("2.5"),
        ],
    ) {
        let assignment = format!("{key}={value}");
        let Ok(o) = assignment.parse::<Override>() else {
            return Ok(());
        };
        let typo = matches!(
            key,
            "thresholds.latncy_ms" | "sandbox.dedline_ms" | "run.jbos" | "ghost.latency_ms"
        );
        match Plan::parse(Path::new("plan.toml"), &plan_text(), &shipgate::bundled::names(), &[o]) {
            Ok(p) => {
                prop_assert!(!typo, "{assignment} was accepted");
                plan_invariants(&p);
            }
            Err(e) => {
                let name = key.rsplit('.').next().unwrap_or(key);
                prop_assert!(
                    e.message().contains(name) || name.is_empty(),
                    "{assignment}: {e}"
                );
            }
        }
    }
}

/// A record from a real demo run, written once for the record fuzzer.
fn demo_record() -> &'static serde_json::Value {
    static RECORD: std::sync::OnceLock<serde_json::Value> = std::sync::OnceLock::new();
    RECORD.get_or_init(|| {
        let dir = tempfile::tempdir().unwrap();
        let o = std::process::Command::new(env!("CARGO_BIN_EXE_shipgate"))
            .args(["demo", "--out", "r", "-q"])
            .current_dir(dir.path())
            .output()
            .unwrap();
        assert!(o.status.code().is_some(), "demo ran");
        let bytes = std::fs::read(dir.path().join("r/latest/record.json")).unwrap();
        serde_json::from_slice(&bytes).unwrap()
    })
}

/// Every JSON pointer in a value.
fn pointers(v: &serde_json::Value, at: String, out: &mut Vec<String>) {
    match v {
        serde_json::Value::Object(m) => {
            for (k, x) in m {
                let p = format!("{at}/{}", k.replace('~', "~0").replace('/', "~1"));
                out.push(p.clone());
                pointers(x, p, out);
            }
        }
        serde_json::Value::Array(a) => {
            for (i, x) in a.iter().enumerate().take(3) {
                let p = format!("{at}/{i}");
                out.push(p.clone());
                pointers(x, p, out);
            }
        }
        _ => {}
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    /// Mutated records: never a panic; an error names the file and the JSON
    /// path of what does not fit.
    #[test]
    fn mutated_records_are_refused_with_their_path(
        picks in proptest::collection::vec((any::<usize>(), 0usize..8), 1..4),
    ) {
        let mut v = demo_record().clone();
        let mut all = Vec::new();
        pointers(&v, String::new(), &mut all);
        for (i, what) in picks {
            let p = &all[i % all.len()];
            let replacement = match what {
                0 => serde_json::Value::Null,
                1 => serde_json::json!(-1),
                2 => serde_json::json!("x"),
                3 => serde_json::json!([]),
                4 => serde_json::json!({}),
                5 => serde_json::json!(1e300),
                6 => serde_json::json!(true),
                _ => {
                    // Delete the key (or the array item).
                    let (parent, last) = p.rsplit_once('/').unwrap();
                    match v.pointer_mut(parent) {
                        Some(serde_json::Value::Object(m)) => {
                            m.remove(&last.replace("~1", "/").replace("~0", "~"));
                        }
                        // (An earlier pick may have made an object an array.)
                        Some(serde_json::Value::Array(a)) => {
                            if let Ok(i) = last.parse::<usize>()
                                && i < a.len()
                            {
                                a.remove(i);
                            }
                        }
                        _ => {}
                    }
                    continue;
                }
            };
            if let Some(slot) = v.pointer_mut(p) {
                *slot = replacement;
            }
        }
        let bytes = serde_json::to_vec(&v).unwrap();
        if let Err(e) = shipgate::report::record::parse(Path::new("record.json"), &bytes) {
            prop_assert!(e.starts_with("record.json: "), "{e}");
            prop_assert!(
                e.contains("at `") || e.contains("not a shipgate record"),
                "{e}"
            );
        }
    }
}

/// The mutator's edits are real: a misspelt key and a value of the wrong type
/// each make the example plan fail, so the properties above can fail too.
#[test]
fn the_mutations_bite() {
    let text = plan_text();
    let line = text
        .lines()
        .position(|l| l.starts_with("latency_ms"))
        .unwrap();
    let (typo, flagged) = mutate(&text, &[Edit::Typo(line)]);
    assert!(flagged && typo.contains("latency_msx"));
    let e = Plan::parse(
        Path::new("plan.toml"),
        &typo,
        &shipgate::bundled::names(),
        &[],
    )
    .unwrap_err();
    assert!(e.message().contains("latency_msx"), "{e}");
    let soon = VALUES.iter().position(|v| *v == "\"soon\"").unwrap();
    let (bad, _) = mutate(&text, &[Edit::Value(line, soon)]);
    assert!(
        Plan::parse(
            Path::new("plan.toml"),
            &bad,
            &shipgate::bundled::names(),
            &[]
        )
        .is_err()
    );
}
