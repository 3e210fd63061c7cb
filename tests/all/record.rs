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
