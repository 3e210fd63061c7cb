//! Records over time: drift between two real records, spikes against a
//! baseline, and an interrupted run that still leaves a complete record.

use crate::support::{Harness, bundled, evidence, finding, fixture};
use shipgate::decision::Outcome;
use shipgate::findings::Verdict;
use shipgate_e2e::fixtures;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn diff_of_two_real_records_shows_what_drifted() {
    let h = Harness::new().await;
    let plan = h.plan(&bundled("canary", ""), &[]);
    let a = h.run(&plan).await.record;
    let a2 = h.run(&plan).await.record;
    let same = shipgate::diff::diff(&a, &a2);
    assert!(same.is_empty(), "{same:#?}");
    // The provider starts sending extra fields and then fails.
    h.mock.push_faults(["extra-fields".parse().unwrap()]);
    let b = h.run(&plan).await.record;
    let d = shipgate::diff::diff(&a, &b);
    assert!(
        d.response_fields
            .iter()
            .any(|c| c.what == "/x_gateway/region" && c.old == shipgate::diff::ABSENT),
        "{d:#?}"
    );
    h.mock.push_faults(["status:503".parse().unwrap()]);
    let c = h.run(&plan).await.record;
    let d = shipgate::diff::diff(&a, &c);
    assert!(!d.is_empty());
    assert_eq!(d.decision.1, Outcome::Hold);
    assert!(
        d.statuses
            .iter()
            .any(|s| s.what == "canary/canary" && s.old == "200×1" && s.new == "503×1"),
        "{:?}",
        d.statuses
    );
    assert!(
        d.verdicts
            .iter()
            .any(|v| v.what == "canary/canary.status" && v.old == "pass" && v.new == "fail")
    );
    let mut text = Vec::new();
    shipgate::diff::render(&d, &mut text).unwrap();
    let text = String::from_utf8(text).unwrap();
    assert!(
        text.contains("canary/canary.status: pass -> fail"),
        "{text}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_spike_against_the_baseline_warns() {
    let h = Harness::new().await;
    let plan = h.plan(&bundled("canary", ""), &[]);
    let mut baseline = h.run(&plan).await.record;
    // A historical baseline where the canary was fast and cheap.
    for o in &mut baseline.telemetry_summary {
        o.p95_ms = 10;
        o.input_tokens = 3;
        o.output_tokens = 1;
    }
    h.mock.push_faults(["delay:200".parse().unwrap()]);
    let out = crate::support::run_full(&h, &plan, Some(&baseline), std::future::pending()).await;
    // Keyed by the plugin the host assigned (canary), then its own label (canary).
    let lat = finding(&out, "baseline.latency-spike.canary.canary");
    assert_eq!(lat.verdict, Verdict::Warn);
    assert_eq!(evidence(lat, "baseline"), "10");
    let usage = finding(&out, "baseline.usage-spike.canary.canary");
    assert_eq!(usage.verdict, Verdict::Warn);
    assert_eq!(
        out.record.decision.outcome.max(Outcome::ShipBehindFlag),
        out.record.decision.outcome
    );
    assert!(
        out.record
            .plugins
            .iter()
            .any(|p| p.name == "baseline" && p.source.starts_with("baseline:"))
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_interrupted_run_writes_an_incomplete_record_that_holds() {
    let h = Harness::new().await;
    let plugins = format!(
        "{}{}",
        bundled("canary", ""),
        fixture(
            "loop-forever",
            fixtures::LOOP_FOREVER,
            "limits = { deadline_ms = 60000 }"
        )
    );
    let plan = h.plan(&plugins, &[]);
    // Interrupt once loop-forever runs (whatever the machine's load).
    let mut h = h;
    let notify = std::sync::Arc::new(tokio::sync::Notify::new());
    h.events = shipgate::events::Events::to(vec![std::sync::Arc::new(crate::support::Started {
        plugin: "loop-forever",
        notify: notify.clone(),
    })]);
    let t0 = std::time::Instant::now();
    let out = crate::support::run_full(&h, &plan, None, async move {
        notify.notified().await;
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    })
    .await;
    assert!(
        t0.elapsed() < std::time::Duration::from_secs(10),
        "stopped promptly: {:?}",
        t0.elapsed()
    );
    let r = &out.record;
    assert!(!r.complete);
    assert!(
        r.incomplete_reason
            .as_deref()
            .unwrap()
            .contains("loop-forever")
    );
    assert_eq!(r.decision.outcome, Outcome::Hold);
    assert_eq!(r.decision.reasons[0].rule, "incomplete-run");
    assert_eq!(
        finding(&out, "canary.status").verdict,
        Verdict::Pass,
        "what finished is kept"
    );
    // It is written atomically and validates like any record.
    let (_dir, paths) = crate::support::write_record(&out);
    let written: serde_json::Value =
        serde_json::from_slice(&std::fs::read(paths.record).unwrap()).unwrap();
    assert_eq!(written["complete"], false);
}
