//! Negative probes and the retry policy: each probe's finding and category,
//! against a correct mock and against each way a provider can get it wrong.

use crate::support::{Harness, KEY, bundled, evidence, finding};
use shipgate::contract::Contract;
use shipgate::findings::Verdict;
use shipgate::mock::{MockConfig, When};
use shipgate::validation::RunOutput;
use std::path::Path;

const PROBES: &str = "grants = { auth = [\"configured\", \"omitted\", \"invalid\"] }";

/// The probes against a mock that answers each kind of bad request as `behaviours` say.
async fn probes(behaviours: &[(When, &str)]) -> RunOutput {
    let mut config = MockConfig::new(KEY);
    for (w, f) in behaviours {
        config = config.when(*w, f.parse().unwrap());
    }
    let h = Harness::with(config).await;
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
        ("probe.empty-messages", "validation", "400"),
        ("probe.unknown-model", "validation", "404"),
    ];
    for (id, category, status) in expect {
        let f = finding(&out, id);
        assert_eq!(f.verdict, Verdict::Pass, "{f:?}");
        assert_eq!(evidence(f, "category"), category, "{id}");
        assert_eq!(evidence(f, "status"), status, "{id}");
        assert_eq!(evidence(f, "error_shape"), "documented", "{id}");
    }
    // The application's own limits are judged from its traffic, not by probing the provider.
    assert!(
        out.record
            .findings
            .iter()
            .all(|f| f.id != "probe.oversized-prompt" && f.id != "probe.client-timeout")
    );
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
    // A gateway that answers a wrong key with 400.
    let out = probes(&[(When::BadKey, "bad-key-400")]).await;
    let f = finding(&out, "probe.invalid-auth");
    assert_eq!(f.verdict, Verdict::Fail, "{f:?}");
    assert_eq!(evidence(f, "category"), "validation");
    assert!(
        f.detail
            .starts_with("auth failure not signalled as 401/403"),
        "{}",
        f.detail
    );
    // A gateway that answers no key with a bare text/plain 500.
    let out = probes(&[(When::NoKey, "text-500")]).await;
    let f = finding(&out, "probe.missing-auth");
    assert_eq!(f.verdict, Verdict::Fail);
    assert!(
        f.detail
            .starts_with("auth failure signalled as a transient error (a client will retry it)"),
        "{}",
        f.detail
    );
    assert_eq!(evidence(f, "error_shape"), "not the documented error shape");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_provider_accepting_requests_it_should_refuse_fails() {
    let out = probes(&[(When::NoKey, "accept-any-key")]).await;
    let f = finding(&out, "probe.missing-auth");
    assert_eq!(f.verdict, Verdict::Fail);
    assert!(
        f.detail
            .contains("the provider accepted an invalid request"),
        "{}",
        f.detail
    );
    // `messages: []` accepted: only the empty-messages probe fails; the missing one still passes.
    let out = probes(&[(When::EmptyMessages, "accept-invalid")]).await;
    assert_eq!(finding(&out, "probe.empty-messages").verdict, Verdict::Fail);
    assert_eq!(
        finding(&out, "probe.missing-messages").verdict,
        Verdict::Pass
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cometapi_quirks_are_data_in_the_contract() {
    // The mock answers a missing `messages` the CometAPI way: 500 invalid_request.
    let comet =
        MockConfig::new(KEY).when(When::NoMessages, "comet-invalid-request".parse().unwrap());
    // With the OpenAI-style contract, a 500 is transient (a client would retry it): the probe fails...
    let h = Harness::with(comet.clone()).await;
    let out = h
        .run(&h.plan(&bundled("negative-probes", PROBES), &[]))
        .await;
    let f = finding(&out, "probe.missing-messages");
    assert_eq!(f.verdict, Verdict::Fail, "{f:?}");
    assert_eq!(evidence(f, "category"), "transient");
    // ...with CometAPI's documented expectation and classification, as data, it passes.
    let mut h = Harness::with(comet).await;
    let text =
        shipgate::contract::template(shipgate::contract::Provider::Mock, Some(&h.mock.base_url()))
            .replace(
                "missing_messages = { status = [400] }",
                "missing_messages = { status = [500], code = \"invalid_request\" }",
            )
            .replace(
                "[errors.cases]",
                "[[errors.classify]]\nstatus = 500\ncode = \"invalid_request\"\ncategory = \"validation\"\nretry = false\n\n[errors.cases]",
            );
    h.contract = Contract::parse(Path::new("c.toml"), &text).unwrap();
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
    for f in out
        .record
        .findings
        .iter()
        .filter(|f| f.plugin == "retry-timeout")
    {
        // The mock's contract does not make a 500 invalid_request non-retryable (CometAPI's does).
        let expected = if f.id == "retry.no-retry-500-invalid_request" {
            Verdict::Skip
        } else {
            Verdict::Pass
        };
        assert_eq!(f.verdict, expected, "{f:?}");
    }
    let tel = |op: &str| {
        out.record
            .telemetry
            .iter()
            .find(|t| t.operation == op)
            .unwrap_or_else(|| panic!("{op}"))
    };
    // Never retried: 400/401/403/404/422.
    for op in [
        "retry.no-retry-400",
        "retry.no-retry-401",
        "retry.no-retry-403",
        "retry.no-retry-404",
        "retry.no-retry-422",
    ] {
        assert_eq!(tel(op).attempts.len(), 1, "{op}");
        assert_eq!(tel(op).retry_count, 0, "{op}");
    }
    // retry-after-ms: 300 honoured on every retry.
    let ra = tel("retry.retry-after");
    assert!(ra.attempts.len() >= 2);
    assert!(
        ra.attempts.iter().skip(1).all(|a| a.wait_ms >= 300),
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
async fn faults_at_a_rate_hit_every_request_at_rate_one() {
    let mut config = shipgate::mock::MockConfig::new(crate::support::KEY);
    config.rate = Some((1.0, "status:503".parse().unwrap()));
    let h = Harness::with(config).await;
    let out = h.run(&h.plan(&bundled("canary", ""), &[])).await;
    assert_eq!(out.record.telemetry[0].status, Some(503));
}

/// A 429 with `retry-after` from the target pauses every check (and says so);
/// a 429 a check asked for as its fault scenario pauses nothing.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn only_the_targets_own_429_pauses_the_run() {
    use shipgate::events::{Collect, Event, Events};
    use std::sync::Arc;
    let paused = |c: &Collect| -> Vec<u64> {
        c.0.lock()
            .unwrap()
            .iter()
            .filter_map(|e| match e {
                Event::TargetPaused { for_ms, .. } => Some(*for_ms),
                _ => None,
            })
            .collect()
    };
    let mut h = Harness::new().await;
    let collect = Arc::new(Collect::default());
    h.events = Events::to(vec![collect.clone()]);
    // The retry scenarios ask the mock for 429s (retry-after-ms: 300).
    let plan = h.plan(
        &format!("{}{}", bundled("canary", ""), bundled("retry-timeout", "")),
        &[],
    );
    let out = h.run(&plan).await;
    assert_eq!(finding(&out, "retry.retry-after").verdict, Verdict::Pass);
    assert!(paused(&collect).is_empty(), "{:?}", paused(&collect));
    // The target's own 429 (no fault asked for): the canary reports it as it
    // came (it sends once), and the run's other requests would wait.
    h.mock.push_faults(["rate-limit-ms:120".parse().unwrap()]);
    let out = h.run(&h.plan(&bundled("canary", ""), &[])).await;
    assert!(
        finding(&out, "canary.status")
            .detail
            .starts_with("HTTP 429")
    );
    assert_eq!(paused(&collect), vec![120]);
}
