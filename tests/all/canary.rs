//! The bundled canary against the mock.

use crate::support::{Harness, bundled, finding};
use shipgate::decision::Outcome;
use shipgate::findings::Verdict;
use shipgate::runtime::RunStatus;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn canary_passes_against_the_mock() {
    let h = Harness::new().await;
    let out = h.run(&h.plan(&bundled("canary", ""), &[])).await;
    assert_eq!(out.record.plugins[0].status, RunStatus::Completed);
    let canary: Vec<_> = out
        .record
        .findings
        .iter()
        .filter(|f| f.plugin == "canary")
        .collect();
    assert!(canary.len() >= 9, "{canary:?}");
    for f in &canary {
        assert_eq!(f.verdict, Verdict::Pass, "{f:?}");
    }
    // The correlation id went out as a header and is in the telemetry.
    let seen = h.mock.requests();
    assert_eq!(seen.len(), 1);
    let t = &out.record.telemetry[0];
    assert_eq!(
        seen[0].header("x-client-request-id"),
        Some(t.correlation_id.as_str())
    );
    assert!(
        t.provider_request_id
            .as_deref()
            .is_some_and(|id| id.starts_with("req_"))
    );
    assert_eq!(t.request_model.as_deref(), Some("mock-gpt"));
    assert_eq!(t.status, Some(200));
    // The request template records the prompt's size, not the prompt.
    let template = out.record.request_template.as_ref().unwrap().to_string();
    assert!(!template.contains("READY"), "{template}");
    assert!(template.contains("bytes of content"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wrong_key_is_a_failing_auth_finding_not_a_crash() {
    let h = Harness::new().await;
    let out = h
        .run_with(
            &h.plan(&bundled("canary", ""), &[]),
            "sk-wrongwrongwrongwrongwrongwrongwrong",
        )
        .await;
    assert_eq!(out.record.plugins[0].status, RunStatus::Completed);
    assert_eq!(finding(&out, "canary.auth").verdict, Verdict::Fail);
    assert_eq!(finding(&out, "canary.status").verdict, Verdict::Fail);
    assert_eq!(out.record.decision.outcome, Outcome::Hold);
    assert!(
        out.record
            .decision
            .reasons
            .iter()
            .any(|r| r.finding.as_deref() == Some("canary/canary.auth"))
    );
    assert_eq!(out.record.telemetry[0].error_category, "auth");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slow_provider_warns_then_fails_on_latency() {
    let h = Harness::new().await;
    h.mock.push_faults(["delay:300".parse().unwrap()]);
    let plan = h.plan(
        &bundled("canary", ""),
        &["canary.latency_ms=50", "canary.latency_hard_ms=5000"],
    );
    let out = h.run(&plan).await;
    assert_eq!(finding(&out, "canary.latency").verdict, Verdict::Warn);
    assert_ne!(out.record.decision.outcome, Outcome::Ship);
    h.mock.push_faults(["delay:300".parse().unwrap()]);
    let plan = h.plan(
        &bundled("canary", ""),
        &["canary.latency_ms=50", "canary.latency_hard_ms=100"],
    );
    let out = h.run(&plan).await;
    assert_eq!(finding(&out, "canary.latency").verdict, Verdict::Fail);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unreachable_target_stops_the_run_before_anything_is_sent() {
    // Bind and drop a listener to get a port nothing listens on.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let mut h = Harness::new().await;
    let text = shipgate::contract::template(
        shipgate::contract::Provider::Mock,
        Some(&format!("http://127.0.0.1:{port}/v1")),
    );
    h.contract =
        shipgate::contract::Contract::parse(std::path::Path::new("c.toml"), &text).unwrap();
    let plan = h.plan(&bundled("canary", ""), &[]);
    let err = h
        .try_run(&plan, crate::support::KEY, true)
        .await
        .unwrap_err();
    let shipgate::validation::SetupError::Target(
        shipgate::capability::http::TargetError::Unreachable { url, reason, hint },
    ) = &err
    else {
        panic!("{err:?}");
    };
    assert_eq!(url, &format!("http://127.0.0.1:{port}/v1"));
    assert!(reason.contains("refused"), "{reason}");
    assert!(hint.contains("base_url.url"), "{hint}");
    // The mock that is up saw nothing: no check ran.
    assert!(h.mock.requests().is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refused_key_stops_the_checks_that_need_it_with_one_reason() {
    let h = Harness::new().await;
    let plan = shipgate::plan::Plan::builtin(&shipgate::bundled::names(), &[]).unwrap();
    let out = h
        .run_with(&plan, "sk-wrongwrongwrongwrongwrongwrongwrong")
        .await;
    let r = &out.record;
    // The cause, once: the canary's auth finding.
    assert_eq!(finding(&out, "canary.auth").verdict, Verdict::Fail);
    // No knock-on failures: the checks that need an authenticated canary were skipped.
    for name in ["contract", "negative-probes", "guardrails", "retry-timeout"] {
        let p = r.plugins.iter().find(|p| p.name == name).unwrap();
        match &p.status {
            RunStatus::Skipped(why) => {
                let var = format!("${}", h.contract.auth.credential_env);
                assert!(why.contains(&var), "{why}");
                assert!(why.contains("could not authenticate"), "{why}");
            }
            other => panic!("{name}: {other:?}"),
        }
        assert!(p.findings.is_empty());
        assert!(
            !p.declared_findings.is_empty(),
            "{name} keeps its declared findings for CI"
        );
    }
    // Nothing that was not run can make the decision better.
    assert_eq!(r.decision.outcome, Outcome::Hold);
    // Only the canary (and the checks that do not need it) sent requests.
    let senders: std::collections::BTreeSet<&str> =
        r.telemetry.iter().map(|t| t.plugin.as_str()).collect();
    assert!(
        !senders.contains("negative-probes") && !senders.contains("contract"),
        "{senders:?}"
    );
}
