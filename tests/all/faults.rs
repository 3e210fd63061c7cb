//! Every fault the mock can inject is classified honestly and never crashes
//! the host: the canary turns each into the right finding.

use crate::support::{Harness, bundled, evidence, finding};
use shipgate::decision::Outcome;
use shipgate::findings::Verdict;
use shipgate::runtime::RunStatus;
use shipgate::validation::RunOutput;

async fn canary_with(fault: &str, overrides: &[&str]) -> (Harness, RunOutput) {
    let h = Harness::new().await;
    h.mock.push_faults([fault.parse().unwrap()]);
    let out = h.run(&h.plan(&bundled("canary", ""), overrides)).await;
    assert_eq!(
        out.record.plugins[0].status,
        RunStatus::Completed,
        "the plugin survived {fault}"
    );
    (h, out)
}

fn verdict(out: &RunOutput, id: &str) -> Verdict {
    finding(out, id).verdict
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn status_with_openai_body() {
    let (_h, out) = canary_with("status:503", &[]).await;
    assert_eq!(verdict(&out, "canary.status"), Verdict::Fail);
    assert_eq!(
        evidence(finding(&out, "canary.status"), "category"),
        "transient"
    );
    assert_eq!(out.record.telemetry[0].status, Some(503));
    assert_eq!(out.record.decision.outcome, Outcome::Hold);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rate_limit_with_retry_after() {
    let (_h, out) = canary_with("rate-limit:2", &[]).await;
    assert_eq!(
        evidence(finding(&out, "canary.status"), "category"),
        "rate-limit"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn delay_before_headers_past_the_timeout() {
    let (_h, out) = canary_with("delay:1500", &["thresholds.request_timeout_ms=200"]).await;
    let f = finding(&out, "canary.reached-host");
    assert_eq!(f.verdict, Verdict::Fail);
    assert!(
        f.detail.contains("no response within 200 ms"),
        "{}",
        f.detail
    );
    assert_eq!(out.record.telemetry[0].outcome, "timeout");
    assert_eq!(out.record.telemetry[0].timeout_count, 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connection_dropped_mid_body() {
    let (_h, out) = canary_with("drop", &[]).await;
    let f = finding(&out, "canary.reached-host");
    assert_eq!(f.verdict, Verdict::Fail);
    assert!(f.detail.contains("connection failed"), "{}", f.detail);
    assert_eq!(out.record.telemetry[0].outcome, "connect");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn truncated_and_invalid_json_bodies() {
    for fault in ["truncated", "invalid-json"] {
        let (_h, out) = canary_with(fault, &[]).await;
        let f = finding(&out, "canary.content");
        assert_eq!(f.verdict, Verdict::Fail, "{fault}");
        assert!(
            f.detail.contains("body is not JSON"),
            "{fault}: {}",
            f.detail
        );
        assert_eq!(out.record.telemetry[0].parse_ok, Some(false), "{fault}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn text_plain_and_html_error_pages() {
    let (_h, out) = canary_with("text-500", &[]).await;
    assert_eq!(verdict(&out, "canary.status"), Verdict::Fail);
    assert_eq!(
        evidence(finding(&out, "canary.status"), "category"),
        "transient"
    );
    let (_h, out) = canary_with("html-502", &[]).await;
    assert_eq!(verdict(&out, "canary.status"), Verdict::Fail);
    assert_eq!(out.record.telemetry[0].parse_ok, Some(false));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn empty_body() {
    let (_h, out) = canary_with("empty", &[]).await;
    assert_eq!(verdict(&out, "canary.content"), Verdict::Fail);
    assert_eq!(out.record.telemetry[0].parse_ok, None, "no body to parse");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn huge_body_is_capped_while_streaming() {
    let (_h, out) = canary_with("huge:8000000", &["canary.max_response_bytes=65536"]).await;
    let f = finding(&out, "canary.reached-host");
    assert_eq!(f.verdict, Verdict::Fail);
    assert!(f.detail.contains("over the cap"), "{}", f.detail);
    assert_eq!(out.record.telemetry[0].outcome, "body-too-large");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redirect_to_another_origin_is_not_followed() {
    let (h, out) = canary_with("redirect", &[]).await;
    assert_eq!(out.record.telemetry[0].status, Some(302));
    assert_eq!(verdict(&out, "canary.status"), Verdict::Fail);
    assert_eq!(h.mock.requests().len(), 1, "nothing followed the redirect");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn success_body_missing_fields() {
    let (_h, out) = canary_with("missing-fields", &[]).await;
    assert_eq!(verdict(&out, "canary.content"), Verdict::Fail);
    assert_eq!(verdict(&out, "canary.usage"), Verdict::Fail);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn success_body_with_unknown_extra_fields_is_tolerated() {
    let (_h, out) = canary_with("extra-fields", &[]).await;
    for f in out.record.findings.iter() {
        assert_eq!(f.verdict, Verdict::Pass, "{f:?}");
    }
    assert!(
        out.record
            .response_fields_observed
            .iter()
            .any(|o| o.pointer == "/usage/latency_checkpoint")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cometapi_and_litellm_style_errors() {
    // Under a contract with CometAPI's quirks as data: a 500 invalid_request is
    // not transient, and the request id is in the error message.
    let mut h = Harness::new().await;
    let text = shipgate::contract::template(shipgate::contract::Provider::Mock, Some(&h.mock.base_url()))
        .replace("request_id_header = \"x-request-id\"\n", "request_id_pattern = '\\(request id: ([^)]+)\\)'\n")
        .replace(
            "[errors.cases]",
            "[[errors.classify]]\nstatus = 500\ncode = \"invalid_request\"\ncategory = \"validation\"\nretry = false\n\n[errors.cases]",
        );
    h.contract =
        shipgate::contract::Contract::parse(std::path::Path::new("c.toml"), &text).unwrap();
    h.mock
        .push_faults(["comet-invalid-request".parse().unwrap()]);
    let out = h.run(&h.plan(&bundled("canary", ""), &[])).await;
    assert_eq!(
        evidence(finding(&out, "canary.status"), "category"),
        "validation",
        "a 500 invalid_request is not transient under CometAPI's classification"
    );
    let from_header = h.mock.requests().len();
    assert_eq!(from_header, 1);
    assert!(
        out.record.telemetry[0]
            .provider_request_id
            .as_deref()
            .is_some_and(|id| id.starts_with("req_")),
        "{:?}",
        out.record.telemetry[0].provider_request_id
    );
    // Without the contract's rule it is a transient 500, as the OpenAI SDKs treat it.
    let (_h, out) = canary_with("comet-invalid-request", &[]).await;
    assert_eq!(
        evidence(finding(&out, "canary.status"), "category"),
        "transient"
    );
    let (_h, out) = canary_with("comet-model-not-found", &[]).await;
    assert_eq!(
        evidence(finding(&out, "canary.status"), "category"),
        "transient"
    );
    // LiteLLM's numeric-looking code under a 400 is a validation error.
    let (_h, out) = canary_with("litellm", &[]).await;
    assert_eq!(
        evidence(finding(&out, "canary.status"), "category"),
        "validation"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_provider_without_a_request_id_is_reported_not_guessed() {
    // The mock's contract documents `x-request-id`: its absence fails.
    let (_h, out) = canary_with("no-request-id", &[]).await;
    let f = finding(&out, "canary.provider-request-id");
    assert_eq!(f.verdict, Verdict::Fail);
    assert!(
        f.detail.contains("the response carried none"),
        "{}",
        f.detail
    );
    assert_eq!(out.record.telemetry[0].provider_request_id, None);
    assert_eq!(verdict(&out, "canary.status"), Verdict::Pass);
    // A contract that documents none: reported, not guessed, not held against the provider.
    let mut h = Harness::new().await;
    let text =
        shipgate::contract::template(shipgate::contract::Provider::Mock, Some(&h.mock.base_url()))
            .replace("request_id_header = \"x-request-id\"\n", "");
    h.contract =
        shipgate::contract::Contract::parse(std::path::Path::new("c.toml"), &text).unwrap();
    h.mock.push_faults(["no-request-id".parse().unwrap()]);
    let out = h.run(&h.plan(&bundled("canary", ""), &[])).await;
    let f = finding(&out, "canary.provider-request-id");
    assert_eq!(f.verdict, Verdict::Skip);
    assert!(f.detail.contains("returned no request id"), "{}", f.detail);
}
