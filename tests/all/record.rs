//! Every record written validates against the JSON Schema in the repository.

use crate::support::{Harness, bundled, fixture};
use shipgate_e2e::fixtures;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn records_validate_against_the_schema() {
    let schema: serde_json::Value =
        serde_json::from_str(shipgate::report::record::RECORD_SCHEMA).unwrap();
    let validator = jsonschema::validator_for(&schema).expect("schema compiles");
    let h = Harness::new().await;
    // A clean run, and one with plugin failures and denials.
    let plans = [
        bundled("canary", ""),
        format!(
            "{}{}",
            fixture("panics", fixtures::PANICS, ""),
            fixture("escape-attempts", fixtures::ESCAPE_ATTEMPTS, "")
        ),
    ];
    for p in plans {
        let out = h.run(&h.plan(&p, &[])).await;
        let (_dir, paths) = crate::support::write_record(&out);
        let written: serde_json::Value =
            serde_json::from_slice(&std::fs::read(&paths.record).unwrap()).unwrap();
        let errors: Vec<String> = validator
            .iter_errors(&written)
            .map(|e| format!("{} at {}", e, e.instance_path()))
            .collect();
        assert!(errors.is_empty(), "{errors:#?}");
        // The schema can fail: a record missing its decision does not validate.
        let mut broken = written.clone();
        broken.as_object_mut().unwrap().remove("decision");
        assert!(!validator.is_valid(&broken));
        // And it reads back into the Rust type.
        let back: shipgate::report::Record = serde_json::from_value(written).unwrap();
        assert_eq!(back.run_id, out.record.run_id);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_oversized_record_is_trimmed_to_its_cap_and_says_so() {
    let h = Harness::new().await;
    let out = h.run(&h.plan(&bundled("canary", ""), &[])).await;
    let mut record = out.record.clone();
    // A run whose plugins returned thousands of large findings.
    let mut big = record.findings[0].clone();
    big.detail = "d".repeat(16 * 1024);
    big.evidence = (0..64)
        .map(|i| shipgate::findings::Evidence {
            key: format!("k{i}"),
            value: "v".repeat(1024),
        })
        .collect();
    record.findings = vec![big; 300];
    assert!(serde_json::to_vec(&record).unwrap().len() > 20 * 1024 * 1024);
    let outcome = record.decision.outcome;
    record.fit(shipgate::report::record::MAX_RECORD_BYTES);
    let len = serde_json::to_vec(&record).unwrap().len();
    assert!(len <= shipgate::report::record::MAX_RECORD_BYTES, "{len}");
    assert!(
        record
            .truncated
            .as_deref()
            .unwrap_or("")
            .contains("over its cap"),
        "{:?}",
        record.truncated
    );
    assert_eq!(record.decision.outcome, outcome, "the decision is kept");
}

/// Attributes junit-10.xsd (the Jenkins xunit plugin's schema) allows per
/// element, and which of them it requires.
const JUNIT_XSD: &[(&str, &[&str], &[&str])] = &[
    (
        "testsuites",
        &["name", "time", "tests", "failures", "errors"],
        &[],
    ),
    (
        "testsuite",
        &[
            "name",
            "tests",
            "failures",
            "errors",
            "group",
            "time",
            "skipped",
            "timestamp",
            "hostname",
            "id",
            "package",
            "file",
            "log",
            "url",
        ],
        &["name", "tests", "failures", "errors"],
    ),
    (
        "testcase",
        &["name", "time", "classname", "group"],
        &["name"],
    ),
    ("failure", &["type", "message"], &[]),
    ("error", &["type", "message"], &[]),
    ("skipped", &["type", "message"], &[]),
    ("system-out", &[], &[]),
    ("system-err", &[], &[]),
];

/// Check a JUnit document against junit-10.xsd's elements and attributes, and
/// return its cases as (suite, case name, outcome).
fn junit_cases(xml: &str) -> Vec<(String, String, &'static str)> {
    use quick_xml::events::Event;
    let mut reader = quick_xml::Reader::from_str(xml);
    let mut cases = Vec::new();
    let mut suite = String::new();
    let mut last: Option<usize> = None;
    loop {
        let e = match reader.read_event().expect("well-formed junit.xml") {
            Event::Eof => break,
            Event::Start(e) | Event::Empty(e) => e,
            _ => continue,
        };
        let name = String::from_utf8(e.name().as_ref().to_vec()).unwrap();
        let (_, allowed, required) = JUNIT_XSD
            .iter()
            .find(|(n, _, _)| *n == name)
            .unwrap_or_else(|| panic!("<{name}> is not in junit-10.xsd"));
        let attrs: Vec<(String, String)> = e
            .attributes()
            .map(|a| {
                let a = a.unwrap();
                (
                    String::from_utf8(a.key.as_ref().to_vec()).unwrap(),
                    a.normalized_value(quick_xml::XmlVersion::Implicit1_0)
                        .unwrap()
                        .into_owned(),
                )
            })
            .collect();
        for (k, v) in &attrs {
            assert!(
                allowed.contains(&k.as_str()),
                "<{name} {k}=…> is not allowed by junit-10.xsd"
            );
            if k == "time" {
                assert!(
                    v.chars().all(|c| c.is_ascii_digit() || c == '.'),
                    "time {v:?}"
                );
            }
        }
        for r in *required {
            assert!(attrs.iter().any(|(k, _)| k == r), "<{name}> lacks {r}");
        }
        let attr = |k: &str| attrs.iter().find(|(a, _)| a == k).map(|(_, v)| v.clone());
        match name.as_str() {
            "testsuite" => {
                suite = attr("name").unwrap();
                assert!(
                    attr("timestamp").is_some() && attr("time").is_some(),
                    "{suite}"
                );
            }
            "testcase" => {
                cases.push((suite.clone(), attr("name").unwrap(), "pass"));
                last = Some(cases.len() - 1);
            }
            "failure" => cases[last.unwrap()].2 = "failure",
            "skipped" => cases[last.unwrap()].2 = "skipped",
            _ => {}
        }
    }
    cases
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn junit_is_valid_stable_and_agrees_with_the_exit_code() {
    let h = Harness::new().await;
    let plan = shipgate::plan::Plan::builtin(&shipgate::bundled::names(), &[]).unwrap();
    let good = h.run(&plan).await;
    let refused = h
        .run_with(&plan, "sk-wrongwrongwrongwrongwrongwrongwrong")
        .await;
    let xml = |out: &shipgate::validation::RunOutput, decision_fails: bool| {
        shipgate::report::junit::render(
            &out.record,
            shipgate::report::JunitOptions {
                warn: shipgate::plan::JunitWarn::Pass,
                decision_fails,
            },
        )
        .unwrap()
    };
    let good_cases = junit_cases(&xml(&good, true));
    let refused_cases = junit_cases(&xml(&refused, true));
    // A skipped check keeps its cases, as skipped.
    let names =
        |cases: &[(String, String, &str)], suite: &str| -> std::collections::BTreeSet<String> {
            cases
                .iter()
                .filter(|c| c.0 == suite)
                .map(|c| c.1.clone())
                .collect()
        };
    for suite in ["negative-probes", "contract", "guardrails"] {
        assert_eq!(
            names(&good_cases, suite),
            names(&refused_cases, suite),
            "{suite}"
        );
        assert!(
            refused_cases
                .iter()
                .filter(|c| c.0 == suite)
                .all(|c| c.2 == "skipped"),
            "{suite}"
        );
    }
    // The decision case fails exactly when the exit code does.
    let decision = |cases: &[(String, String, &'static str)]| {
        cases
            .iter()
            .find(|c| c.0 == "shipgate" && c.1 == "decision")
            .unwrap()
            .2
    };
    assert_eq!(decision(&junit_cases(&xml(&refused, true))), "failure");
    assert_eq!(decision(&junit_cases(&xml(&refused, false))), "pass");
}
