//! Streams: the stream canary against a good stream and against each stream
//! fault the mock serves, with the exact finding each earns; stream telemetry
//! in the record.

use crate::support::{Harness, KEY, bundled, finding};
use shipgate::findings::Verdict;
use shipgate::mock::{Fault, MockConfig, StreamFault, When};

async fn with_fault(
    fault: StreamFault,
    settings: &str,
    set: &[&str],
) -> shipgate::validation::RunOutput {
    let h = Harness::with(MockConfig::new(KEY).when(When::Any, Fault::Stream(fault))).await;
    let plan = h.plan(
        &format!(
            "{}{}",
            bundled("canary", ""),
            bundled("stream-canary", settings)
        ),
        set,
    );
    h.run(&plan).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_good_stream_passes_and_its_telemetry_is_recorded() {
    let h = Harness::new().await;
    let plan = h.plan(
        &format!("{}{}", bundled("canary", ""), bundled("stream-canary", "")),
        &[],
    );
    let out = h.run(&plan).await;
    for f in out
        .record
        .findings
        .iter()
        .filter(|f| f.plugin == "stream-canary" && !f.id.starts_with("stream.host-"))
    {
        assert_eq!(f.verdict, Verdict::Pass, "{f:?}");
    }
    let t = out
        .record
        .telemetry
        .iter()
        .find(|t| t.plugin == "stream-canary")
        .unwrap();
    let s = t.stream.as_ref().expect("stream telemetry");
    assert!(s.events >= 4 && s.chunks >= 4 && s.bytes > 0, "{s:?}");
    assert!(
        s.first_chunk_ms.is_some() && s.interrupted.is_none(),
        "{s:?}"
    );
    // The chunks' response id, finish reason and usage, as for a whole answer.
    assert!(
        t.response_id
            .as_deref()
            .is_some_and(|id| id.starts_with("chatcmpl-"))
    );
    assert_eq!(t.finish_reasons, ["stop"]);
    assert!(t.output_tokens.is_some());
    assert_eq!(t.parse_ok, Some(true));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_stream_fault_earns_its_finding() {
    let cases: Vec<(StreamFault, &str, &str, Verdict, &str)> = vec![
        (
            StreamFault::Dropped,
            "",
            "stream.complete",
            Verdict::Fail,
            "the connection broke",
        ),
        (
            StreamFault::NoFinishReason,
            "",
            "stream.complete",
            Verdict::Fail,
            "no finish reason",
        ),
        (
            StreamFault::NoDone,
            "",
            "stream.complete",
            Verdict::Fail,
            "no `[DONE]` terminator",
        ),
        (
            StreamFault::CorruptChunk,
            "",
            "stream.well-formed",
            Verdict::Fail,
            "1 chunk not JSON",
        ),
        (
            StreamFault::ErrorEvent,
            "",
            "stream.complete",
            Verdict::Fail,
            "an error event: upstream overloaded",
        ),
        (
            StreamFault::Stall(3_000),
            "settings = { read_timeout_ms = 400 }",
            "stream.complete",
            Verdict::Fail,
            "no data for 400 ms (the read timeout)",
        ),
        (
            StreamFault::SlowFirst(700),
            "",
            "stream.first-chunk",
            Verdict::Warn,
            "the plan's stream_first_chunk_ms: 300",
        ),
    ];
    for (fault, settings, id, verdict, says) in cases {
        let out = with_fault(fault, settings, &["thresholds.stream_first_chunk_ms=300"]).await;
        let status = finding(&out, "stream.status");
        assert!(
            out.record.findings.iter().any(|f| f.id == id),
            "{fault:?}: {status:?}"
        );
        let f = finding(&out, id);
        assert_eq!(f.verdict, verdict, "{fault:?}: {f:?}");
        assert!(f.detail.contains(says), "{fault:?}: {}", f.detail);
        // A truncated stream is never judged complete.
        if !matches!(fault, StreamFault::SlowFirst(_) | StreamFault::CorruptChunk) {
            assert_ne!(
                finding(&out, "stream.complete").verdict,
                Verdict::Pass,
                "{fault:?}"
            );
        }
        assert_eq!(
            out.record.decision.outcome,
            shipgate::decision::Outcome::Hold
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_a_streaming_section_the_stream_checks_do_not_apply() {
    let mut h = Harness::new().await;
    let text =
        shipgate::contract::template(shipgate::contract::Provider::Mock, Some(&h.mock.base_url()));
    let start = text.find("# Streaming (").unwrap();
    let end = text.find("# How shipgate labels requests").unwrap();
    let text = format!("{}{}", &text[..start], &text[end..]);
    h.contract =
        shipgate::contract::Contract::parse(std::path::Path::new("c.toml"), &text).unwrap();
    assert!(h.contract.streaming.is_none());
    let plan = h.plan(
        &format!("{}{}", bundled("canary", ""), bundled("stream-canary", "")),
        &[],
    );
    let out = h.run(&plan).await;
    for f in out
        .record
        .findings
        .iter()
        .filter(|f| f.plugin == "stream-canary")
    {
        assert_eq!(f.verdict, Verdict::Skip, "{f:?}");
        assert!(f.detail.starts_with("not applicable"), "{}", f.detail);
    }
    assert!(
        h.mock
            .requests()
            .iter()
            .all(|r| !String::from_utf8_lossy(&r.body).contains("\"stream\":true"))
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_slower_first_chunk_is_drift_and_shows_in_the_report() {
    let plan_for = |h: &Harness| {
        h.plan(
            &format!("{}{}", bundled("canary", ""), bundled("stream-canary", "")),
            &[],
        )
    };
    let h = Harness::new().await;
    let before = h.run(&plan_for(&h)).await.record;
    let slow = Harness::with(
        MockConfig::new(KEY).when(When::Any, Fault::Stream(StreamFault::SlowFirst(400))),
    )
    .await;
    let after = slow.run(&plan_for(&slow)).await.record;
    let d = shipgate::diff::diff(&before, &after);
    let op = d
        .operations
        .iter()
        .find(|o| o.operation.contains("stream-canary"))
        .expect("the stream operation drifted");
    assert!(
        op.first_chunk_ms.1 >= 400 && op.first_chunk_ms.0 < 400,
        "{op:?}"
    );
    let mut text = Vec::new();
    shipgate::diff::render(&d, &mut text).unwrap();
    assert!(String::from_utf8(text).unwrap().contains("first chunk"));
    let mut md = Vec::new();
    shipgate::report::markdown::render(&after, &mut md).unwrap();
    let md = String::from_utf8(md).unwrap();
    assert!(
        md.contains("### Streams") && md.contains("| stream-canary/stream-canary |"),
        "{md}"
    );
}

#[test]
fn the_example_plans_parse() {
    for file in ["stream.plan.toml", "plan.toml", "apps/plan.toml"] {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../examples")
            .join(file);
        shipgate::plan::Plan::load(&path, &shipgate::bundled::names(), &[])
            .unwrap_or_else(|e| panic!("{file}: {e}"));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_fault_mode_shows_the_host_cuts_stalls_and_reports_cut_streams() {
    let h = Harness::new().await;
    let plan = h.plan(
        &format!(
            "{}{}",
            bundled("canary", ""),
            bundled("stream-canary", "settings = { faults = true }")
        ),
        &[],
    );
    let out = h.run(&plan).await;
    let stall = finding(&out, "stream.host-cuts-stalls");
    assert_eq!(stall.verdict, Verdict::Pass, "{stall:?}");
    assert!(stall.detail.contains("read timeout"), "{}", stall.detail);
    assert!(
        stall.covers.is_empty(),
        "the host's own handling ticks nothing"
    );
    assert_eq!(
        finding(&out, "stream.host-reports-cuts").verdict,
        Verdict::Pass
    );
}
