//! The credential never reaches a guest, a log, a record or a report.

use crate::support::{Harness, KEY, bundled, evidence, finding, fixture, persisted};
use shipgate_e2e::fixtures;

fn unhex(s: &str) -> String {
    String::from_utf8_lossy(&hex::decode(s).expect("hex evidence")).into_owned()
}

fn assert_no_key(text: &str, what: &str) {
    assert!(!text.contains(KEY), "{what} contains the key");
    // No 12-character window of the key either.
    for i in 0..KEY.len() - 12 {
        assert!(
            !text.contains(&KEY[i..i + 12]),
            "{what} contains a fragment of the key: {}",
            &KEY[i..i + 12]
        );
    }
    let b64 = crate::support::base64_std(KEY);
    assert!(!text.contains(&b64), "{what} contains the key in base64");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_plugin_hunting_for_the_secret_learns_nothing() {
    let h = Harness::new().await;
    let plan = h.plan(
        &fixture(
            "secret-hunter",
            fixtures::SECRET_HUNTER,
            "grants = { auth = [\"configured\", \"invalid\"] }",
        ),
        &[],
    );
    let out = h.run(&plan).await;
    let loot = finding(&out, "secret-hunter.loot");
    let mut everything = String::new();
    for e in &loot.evidence {
        let v = unhex(&e.value);
        assert_no_key(&v, &format!("what the guest gathered from {}", e.key));
        everything.push_str(&v);
    }
    // Each channel was really tried, and each gave nothing away.
    assert_eq!(unhex(evidence(loot, "env")), "[]");
    assert!(unhex(evidence(loot, "args")).starts_with('['));
    assert!(unhex(evidence(loot, "read:/etc/passwd")).starts_with("Err"));
    assert!(unhex(evidence(loot, "dir:/")).starts_with("Err"));
    assert!(unhex(evidence(loot, "tcp")).starts_with("Err"));
    assert!(
        unhex(evidence(loot, "contract")).contains("SHIPGATE_MOCK_KEY"),
        "the contract names the variable, not the value"
    );
    // The server echoed the real Authorization header; the host scrubbed it before the guest saw it.
    let echo_body = unhex(evidence(loot, "echo.body"));
    assert!(
        echo_body.contains("Bearer [REDACTED:credential]"),
        "{echo_body}"
    );
    let echo_headers = unhex(evidence(loot, "echo.headers"));
    assert!(
        echo_headers.contains("x-echo-authorization"),
        "{echo_headers}"
    );
    assert!(unhex(evidence(loot, "own-authorization")).contains("Denied"));
    // The mock did receive the real key on the echo request: the scrub, not a missing header, hid it.
    assert!(
        h.mock
            .requests()
            .iter()
            .any(|r| r.header("authorization") == Some(&format!("Bearer {KEY}")))
    );
    assert_no_key(&everything, "the guest's loot");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_log_and_the_record_never_contain_the_secret() {
    let h = Harness::new().await;
    let plugins = format!(
        "{}{}",
        bundled("canary", ""),
        fixture(
            "secret-hunter",
            fixtures::SECRET_HUNTER,
            "grants = { auth = [\"configured\", \"invalid\"] }"
        )
    );
    let out = h.run(&h.plan(&plugins, &[])).await;
    let all = persisted(&out);
    assert!(all.contains("canary.auth"), "the record was written");
    assert_no_key(&all, "the persisted record");
    // The honeytoken sent on the invalid-auth probe is redacted too.
    let honey = h
        .mock
        .requests()
        .iter()
        .filter_map(|r| r.header("authorization").map(str::to_owned))
        .find(|a| a.starts_with("Bearer ") && !a.contains(KEY))
        .expect("an invalid-auth request went out");
    let token = honey.trim_start_matches("Bearer ");
    assert!(
        !all.contains(token),
        "the honeytoken leaked into the record"
    );
}
