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
