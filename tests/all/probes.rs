//! Negative probes and the retry policy: each probe's finding and category,
//! against a correct mock and against each way a provider can get it wrong.

use crate::support::{Harness, bundled, evidence, finding};
use shipgate::contract::Contract;
use shipgate::findings::Verdict;
use shipgate::validation::RunOutput;
use std::path::Path;

const PROBES: &str = "grants = { auth = [\"configured\", \"omitted\", \"invalid\"] }\nsettings = { timeout_probe_fault = \"delay:300\" }";

async fn probes(script: &[&str]) -> RunOutput {
    let h = Harness::new().await;
    h.mock
        .push_faults(script.iter().map(|f| f.parse().unwrap()));
    h.run(&h.plan(&bundled("negative-probes", PROBES), &[]))
        .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_probe_passes_against_a_correct_provider() {
    let out = probes(&[]).await;
    let expect = [
        ("probe.missing-auth", "auth", "401"),
        ("probe.invalid-auth", "auth", "401"),
        ("probe.missing-model", "validation", "400"),
        ("probe.missing-messages", "validation", "400"),
        ("probe.unknown-model", "validation", "404"),
    ];
    for (id, category, status) in expect {
        let f = finding(&out, id);
        assert_eq!(f.verdict, Verdict::Pass, "{f:?}");
        assert_eq!(evidence(f, "category"), category, "{id}");
        assert_eq!(evidence(f, "status"), status, "{id}");
        assert_eq!(evidence(f, "error_shape"), "documented", "{id}");
    }
    let over = finding(&out, "probe.oversized-prompt");
    assert_eq!(over.verdict, Verdict::Pass);
    assert!(over.detail.contains("nothing sent"));
    let rejected = out
        .record
        .telemetry
        .iter()
        .find(|t| t.operation == "probe.oversized-prompt")
        .unwrap();
    assert_eq!(rejected.outcome, "rejected");
    assert_eq!(finding(&out, "probe.client-timeout").verdict, Verdict::Pass);
    // The invalid-auth probe sent the host's honeytoken, and the record tested that failure mode.
    assert!(
        out.record
            .failure_modes_tested
            .iter()
            .any(|m| m.auth_mode == "invalid" && m.status == Some(401))
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_key_answered_400_or_text_500_is_caught() {
    // Requests in order: missing-auth, invalid-auth, ...
    let out = probes(&["none", "bad-key-400"]).await;
    let f = finding(&out, "probe.invalid-auth");
    assert_eq!(f.verdict, Verdict::Fail, "{f:?}");
    assert_eq!(evidence(f, "category"), "validation");
    let out = probes(&["none", "text-500"]).await;
    let f = finding(&out, "probe.invalid-auth");
    assert_eq!(f.verdict, Verdict::Fail);
    assert!(
        f.detail.contains("will be retried instead of alerting"),
        "{}",
        f.detail
    );
    assert_eq!(evidence(f, "error_shape"), "not the documented error shape");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_provider_accepting_requests_it_should_refuse_fails() {
    let out = probes(&["accept-any-key"]).await;
    let f = finding(&out, "probe.missing-auth");
    assert_eq!(f.verdict, Verdict::Fail);
    assert!(
        f.detail
            .contains("accepted a request that should have failed")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cometapi_quirks_are_data_in_the_contract() {
    // The mock answers a missing `messages` the CometAPI way: 500 invalid_request.
    let script = ["none", "none", "none", "comet-invalid-request"];
    // With the OpenAI-style expectation (400) the probe flags the mismatch...
    let out = probes(&script).await;
    let f = finding(&out, "probe.missing-messages");
    assert_eq!(f.verdict, Verdict::Warn, "{f:?}");
    // ...with CometAPI's documented expectation it passes.
    let mut h = Harness::new().await;
    let text =
        shipgate::contract::template(shipgate::contract::Provider::Mock, Some(&h.mock.base_url()))
            .replace(
                "missing_messages = { status = [400] }",
                "missing_messages = { status = [500], code = \"invalid_request\" }",
            );
    h.contract = Contract::parse(Path::new("c.toml"), &text).unwrap();
    h.mock
        .push_faults(script.iter().map(|f| f.parse().unwrap()));
    let out = h
        .run(&h.plan(&bundled("negative-probes", PROBES), &[]))
        .await;
    let f = finding(&out, "probe.missing-messages");
    assert_eq!(f.verdict, Verdict::Pass, "{f:?}");
    assert_eq!(evidence(f, "category"), "validation");
    assert_eq!(evidence(f, "retryable"), "false");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn retry_policy_passes_against_a_correct_mock_and_records_every_attempt() {
    let h = Harness::new().await;
    let out = h.run(&h.plan(&bundled("retry-timeout", ""), &[])).await;
    for f in out.record.findings.iter() {
        assert_eq!(f.verdict, Verdict::Pass, "{f:?}");
    }
    let tel = |op: &str| {
        out.record
            .telemetry
            .iter()
            .find(|t| t.operation == op)
            .unwrap_or_else(|| panic!("{op}"))
    };
    // Never retried: 400/401/403/404/422 and a 500 invalid_request.
    for op in [
        "retry.no-retry-400",
        "retry.no-retry-401",
        "retry.no-retry-403",
        "retry.no-retry-404",
        "retry.no-retry-422",
        "retry.no-retry-500-invalid_request",
    ] {
        assert_eq!(tel(op).attempts.len(), 1, "{op}");
        assert_eq!(tel(op).retry_count, 0, "{op}");
    }
    // Retry-After: 1 s honoured on every retry.
    let ra = tel("retry.retry-after");
    assert!(ra.attempts.len() >= 2);
    assert!(
        ra.attempts.iter().skip(1).all(|a| a.wait_ms >= 1000),
        "{:?}",
        ra.attempts
    );
    // Persistent 503: bounded by the policy, backoff grows.
    let tr = tel("retry.transient");
    assert_eq!(tr.attempts.len(), 3);
    assert!(tr.attempts[2].wait_ms > tr.attempts[1].wait_ms);
    // Timeouts are counted per attempt.
    let to = tel("retry.timeout");
    assert_eq!(to.timeout_count, to.attempts.len() as u32);
    assert!(
        to.attempts.iter().all(|a| a.latency_ms < 200 + 500),
        "{:?}",
        to.attempts
    );
    let summary = out
        .record
        .telemetry_summary
        .iter()
        .find(|s| s.operation == "retry.timeout")
        .unwrap();
    assert_eq!(summary.timeouts, to.attempts.len() as u32);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_contract_that_makes_400_retryable_is_caught_as_retried_non_retryable() {
    let mut h = Harness::new().await;
    // A classification override inside [errors] that wrongly makes 400 retryable.
    let text = shipgate::contract::template(shipgate::contract::Provider::Mock, Some(&h.mock.base_url())).replace(
        "[errors.cases]",
        "[[errors.classify]]\nstatus = 400\ncategory = \"transient\"\nretry = true\n\n[errors.cases]",
    );
    h.contract = Contract::parse(Path::new("c.toml"), &text).unwrap();
    let out = h.run(&h.plan(&bundled("retry-timeout", ""), &[])).await;
    let f = finding(&out, "retry.no-retry-400");
    assert_eq!(f.verdict, Verdict::Fail);
    assert!(
        f.detail.starts_with("retried non-retryable"),
        "{}",
        f.detail
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_policy_without_retries_gives_up() {
    let h = Harness::new().await;
    let out = h
        .run(&h.plan(
            &bundled("retry-timeout", ""),
            &["thresholds.retry_max_attempts=1"],
        ))
        .await;
    let f = finding(&out, "retry.transient-bounded");
    assert_eq!(f.verdict, Verdict::Warn);
    assert!(f.detail.starts_with("gave up"), "{}", f.detail);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_target_that_ignores_faults_is_skipped_not_failed() {
    let h = Harness::new().await;
    // Against a provider (not the built-in mock) the host denies fault requests.
    let out = h
        .run_as_provider(&h.plan(&bundled("retry-timeout", ""), &[]))
        .await;
    let f = finding(&out, "retry.faults-unsupported");
    assert_eq!(f.verdict, Verdict::Skip);
    assert!(f.detail.contains("built-in mock"), "{}", f.detail);
    assert!(
        h.mock.requests().is_empty(),
        "no fault request left the host"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sending_the_oversized_prompt_is_opt_in() {
    let h = Harness::new().await;
    let grants =
        "grants = { auth = [\"configured\", \"omitted\", \"invalid\"], send_oversized = true }";
    let out = h
        .run(&h.plan(
            &bundled("negative-probes", grants),
            &["thresholds.input_limit_bytes=1000"],
        ))
        .await;
    let f = finding(&out, "probe.oversized-prompt");
    assert_eq!(f.verdict, Verdict::Pass, "{f:?}");
    assert!(f.detail.contains("provider accepted it"), "{}", f.detail);
    let sent = out
        .record
        .telemetry
        .iter()
        .find(|t| t.operation == "probe.oversized-prompt")
        .unwrap();
    assert_eq!(sent.outcome, "response", "with the grant it left the host");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn faults_at_a_rate_hit_every_request_at_rate_one() {
    let mut config = shipgate::mock::MockConfig::new(crate::support::KEY);
    config.rate = Some((1.0, "status:503".parse().unwrap()));
    let h = Harness::with(config).await;
    let out = h.run(&h.plan(&bundled("canary", ""), &[])).await;
    assert_eq!(out.record.telemetry[0].status, Some(503));
}
