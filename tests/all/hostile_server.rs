//! A target that reflects the key, or answers with numbers and shapes meant
//! to break a client: what reaches a plugin, and what the host survives.

use crate::support::{Harness, KEY, assert_nothing_of, bundled, evidence, finding, fixture, unhex};
use shipgate::findings::Verdict;
use shipgate::mock::{Fault, MockConfig, When};
use shipgate_e2e::fixtures;

/// Every way the mock can reflect the credential it was sent.
const REFLECTIONS: &[&str] = &[
    "echo-headers",
    "echo-key-as-request-id",
    "echo-base64-header",
    "echo-url-encoded",
    "echo-json-escaped",
    "echo-split-headers",
    "echo-mime-base64",
    "echo-interleaved-headers",
    "echo-lowercase",
    "echo-utf16",
    "echo-hex-dump",
];

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_reflection_of_the_key_is_scrubbed_before_a_plugin_reads_it() {
    let h = Harness::new().await;
    let plan = h.plan(
        &fixture(
            "reflect-probe",
            fixtures::REFLECT_PROBE,
            &format!("settings = {{ faults = \"{}\" }}", REFLECTIONS.join(",")),
        ),
        &[],
    );
    let out = h.run(&plan).await;
    let f = finding(&out, "reflect.loot");
    for fault in REFLECTIONS {
        let seen = unhex(evidence(f, fault));
        assert!(seen.contains("[REDACTED:credential]"), "{fault}: {seen}");
        assert_nothing_of(KEY, &seen, fault);
    }
    // The host tells the operator, after the run, that the target reflects keys.
    let f = finding(&out, "reflect-probe.secret-reflected");
    assert_eq!(f.verdict, Verdict::Warn);
    assert_eq!(evidence(f, "responses"), REFLECTIONS.len().to_string());
    assert_eq!(evidence(f, "reached_plugin"), "0");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cut_key_reaches_the_plugin_and_fails_the_run() {
    // Masking part of a key for a guest would confirm a guessed prefix, so a
    // target that cuts the key it reflects hands that part over; the host says
    // so after the run, and the run holds.
    let h = Harness::new().await;
    let plan = h.plan(
        &fixture(
            "reflect-probe",
            fixtures::REFLECT_PROBE,
            "settings = { faults = \"echo-cut\" }",
        ),
        &[],
    );
    let out = h.run(&plan).await;
    let seen = unhex(evidence(finding(&out, "reflect.loot"), "echo-cut"));
    assert!(seen.contains(&KEY[..23]), "{seen}");
    let f = finding(&out, "reflect-probe.secret-reflected");
    assert_eq!(f.verdict, Verdict::Fail);
    assert_eq!(evidence(f, "reached_plugin"), "1");
    assert_eq!(
        out.record.decision.outcome,
        shipgate::decision::Outcome::Hold
    );
    // The record keeps no fragment of it.
    assert_nothing_of(KEY, &crate::support::persisted(&out), "the record");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_plugin_learns_neither_the_key_length_nor_its_edge_bytes() {
    let h = Harness::new().await;
    let plan = h.plan(&fixture("key-edges", fixtures::KEY_EDGES, ""), &[]);
    let out = h.run(&plan).await;
    let f = finding(&out, "edges.loot");
    for fault in [
        "echo-headers",
        "echo-key-as-request-id",
        "echo-base64-header",
    ] {
        // The length header states what was delivered, not what was sent.
        assert_eq!(
            evidence(f, &format!("{fault}.content-length")),
            format!("Some({})", evidence(f, &format!("{fault}.scrubbed-len"))),
            "{fault}"
        );
        assert_nothing_of(
            KEY,
            &unhex(evidence(f, &format!("{fault}.body-hex"))),
            fault,
        );
    }
    // What the fixture computes as the key length is the placeholder's.
    assert_eq!(
        evidence(f, "echo-headers.KEY-LENGTH"),
        "[REDACTED:credential]".len().to_string()
    );
    // The base64 blob goes whole: no neighbouring group carries key bits.
    assert_eq!(evidence(f, "KEY-LAST-BYTES"), "");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn counts_past_u64_and_megabyte_keys_are_findings_not_crashes() {
    for (fault, check) in [("huge-usage", "guardrails"), ("deep-keys", "contract")] {
        let h =
            Harness::with(MockConfig::new(KEY).when(When::Any, fault.parse::<Fault>().unwrap()))
                .await;
        let plan = h.plan(
            &format!(
                "{}{}{}",
                bundled("canary", ""),
                bundled(check, ""),
                fixture(
                    "chat-flood",
                    fixtures::CHAT_FLOOD,
                    "settings = { n = 40 }\nlimits = { max_requests = 40 }"
                )
            ),
            &[],
        );
        let out = h.run(&plan).await;
        assert!(out.record.complete, "{fault}");
        let json = serde_json::to_string(&out.record).unwrap();
        assert!(
            json.len() < 2 << 20,
            "{fault}: the record is {} bytes",
            json.len()
        );
        if fault == "huge-usage" {
            // Summed saturating, and judged exactly (2^64-1 twice is more than 2^64-1).
            assert!(
                out.record
                    .telemetry_summary
                    .iter()
                    .any(|s| s.input_tokens == u64::MAX)
            );
            assert_eq!(finding(&out, "guardrails.usage").verdict, Verdict::Fail);
        } else {
            let longest = out
                .record
                .response_fields_observed
                .iter()
                .map(|f| f.pointer.len())
                .max()
                .unwrap();
            assert!(longest < 4096, "{longest}");
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn where_the_response_cap_starts_does_not_depend_on_the_key() {
    // The same padding search against two keys of different lengths: the
    // boundary is decided on the body as delivered (key masked), so it is the same.
    let mut boundaries = Vec::new();
    for key in [KEY, "sk-ShortKeyForTheOracle0123456789"] {
        let h = Harness::with(MockConfig::new(key)).await;
        let plan = h.plan(
            &fixture(
                "length-oracle",
                fixtures::LENGTH_ORACLE,
                "limits = { max_response_bytes = 8192 }",
            ),
            &[],
        );
        let out = h.run_with(&plan, key).await;
        boundaries.push(evidence(finding(&out, "oracle.boundary"), "boundary").to_owned());
    }
    assert_eq!(boundaries[0], boundaries[1]);
}
