//! Hostile plugins are contained: each is stopped or capped, its failure is a
//! finding that holds the rollout, and a well-behaved plugin in the same run
//! still passes.

use crate::support::{Harness, evidence, finding, fixture, runtime};
use shipgate::decision::Outcome;
use shipgate::findings::{FindingKind, Verdict};
use shipgate::runtime::{LoadError, RunStatus};
use shipgate::validation::RunOutput;
use shipgate_e2e::fixtures;
use std::time::{Duration, Instant};

/// Run a hostile fixture next to the well-behaved one.
async fn contain(
    name: &str,
    path: &str,
    extra: &str,
    overrides: &[&str],
) -> (Harness, RunOutput, Duration) {
    let h = Harness::new().await;
    let plugins = format!(
        "{}{}",
        fixture(name, path, extra),
        fixture("well-behaved", fixtures::WELL_BEHAVED, "")
    );
    let plan = h.plan(&plugins, overrides);
    let t0 = Instant::now();
    let out = h.run(&plan).await;
    let took = t0.elapsed();
    // Failure isolation: the good plugin's result stands and the record is complete.
    assert!(out.record.complete);
    assert_eq!(finding(&out, "well-behaved.ok").verdict, Verdict::Pass);
    assert_eq!(
        out.record
            .plugins
            .iter()
            .filter(|p| !p.source.starts_with("host:"))
            .count(),
        2
    );
    (h, out, took)
}

fn host_finding<'a>(out: &'a RunOutput, id: &str) -> &'a shipgate::findings::Finding {
    let f = finding(out, id);
    assert_ne!(f.kind, FindingKind::Check);
    assert_eq!(f.verdict, Verdict::Fail);
    f
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn infinite_loop_is_stopped_at_its_deadline() {
    let (_h, out, took) = contain(
        "loop-forever",
        fixtures::LOOP_FOREVER,
        "limits = { deadline_ms = 1000 }",
        &[],
    )
    .await;
    let f = host_finding(&out, "loop-forever.limit.deadline");
    assert_eq!(evidence(f, "limit"), "sandbox.deadline_ms");
    assert!(
        f.detail.contains("--set loop-forever.deadline_ms="),
        "says how to raise it: {}",
        f.detail
    );
    let elapsed: u64 = evidence(f, "elapsed_ms").parse().unwrap();
    assert!(
        (1000..1000 + 1500).contains(&elapsed),
        "stopped after {elapsed} ms"
    );
    assert!(
        matches!(&out.record.plugins[0].status, RunStatus::Failed(r) if r.contains("deadline"))
    );
    assert_eq!(out.record.decision.outcome, Outcome::Hold);
    assert!(took < Duration::from_secs(10), "whole run took {took:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn four_gib_allocation_hits_the_memory_cap() {
    let (_h, out, _) = contain(
        "alloc-bomb",
        fixtures::ALLOC_BOMB,
        "limits = { memory_mib = 64 }",
        &[],
    )
    .await;
    let f = host_finding(&out, "alloc-bomb.limit.memory");
    assert!(f.detail.contains("sandbox.memory_mib = 64"), "{}", f.detail);
    // The host never let the guest's memory get near the 4 GiB it asked for.
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    if let Some(hwm) = status.lines().find(|l| l.starts_with("VmHWM:")) {
        let kb: u64 = hwm.split_whitespace().nth(1).unwrap().parse().unwrap();
        assert!(kb < 1024 * 1024, "peak RSS {kb} kB");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unbounded_recursion_is_a_stack_overflow_finding() {
    let (_h, out, _) = contain("deep-recursion", fixtures::DEEP_RECURSION, "", &[]).await;
    host_finding(&out, "deep-recursion.limit.stack");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn log_flood_is_capped() {
    let (_h, out, _) = contain(
        "log-flood",
        fixtures::LOG_FLOOD,
        "limits = { max_log_records = 100, deadline_ms = 20000 }",
        &[],
    )
    .await;
    let f = host_finding(&out, "log-flood.limit.max-log");
    assert!(f.detail.contains("sandbox.max_log_records = 100"));
    let kept = out.log.iter().filter(|r| r.source == "log-flood").count();
    assert!(kept <= 100, "kept {kept} records");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn request_flood_is_capped_and_denied() {
    let (h, out, _) = contain(
        "request-flood",
        fixtures::REQUEST_FLOOD,
        "limits = { max_requests = 5 }",
        &[],
    )
    .await;
    host_finding(&out, "request-flood.limit.max-requests");
    let flood = finding(&out, "request-flood.done");
    assert_eq!(evidence(flood, "sent"), "5");
    let models = h
        .mock
        .requests()
        .iter()
        .filter(|r| r.path == "/v1/models")
        .count();
    assert_eq!(models, 5, "only the budget reached the server");
    assert!(
        out.record
            .denials
            .iter()
            .any(|d| d.reason.contains("sandbox.max_requests = 5"))
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn gigantic_findings_list_is_capped() {
    let (_h, out, _) = contain("findings-flood", fixtures::FINDINGS_FLOOD, "", &[]).await;
    host_finding(&out, "findings-flood.limit.max-findings");
    let n = out
        .record
        .findings
        .iter()
        .filter(|f| f.plugin == "findings-flood")
        .count();
    assert_eq!(n, 256 + 1, "256 kept plus the limit finding");
    let biggest = out
        .record
        .findings
        .iter()
        .map(|f| serde_json::to_string(f).unwrap().len())
        .max()
        .unwrap();
    assert!(biggest < 70 * 1024, "a finding of {biggest} bytes");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_panic_is_a_trap_finding() {
    let (_h, out, _) = contain("panics", fixtures::PANICS, "", &[]).await;
    let f = host_finding(&out, "panics.trap");
    // The panic's message, not only the trap, is in the finding.
    assert!(
        f.detail.contains("the plugin panicked: panicked at")
            && f.detail
                .contains("index out of bounds: the len is 0 but the index is 3"),
        "{}",
        f.detail
    );
    // And in the summary a person reads, whole.
    let mut human = Vec::new();
    shipgate::report::human::render(&out.record, &mut human, false).unwrap();
    let human = String::from_utf8(human).unwrap();
    assert!(
        human.contains("index out of bounds: the len is 0 but the index is 3"),
        "{human}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn escape_attempts_are_denied_and_redirects_not_followed() {
    let (h, out, _) = contain("escape-attempts", fixtures::ESCAPE_ATTEMPTS, "", &[]).await;
    let f = finding(&out, "escape.results");
    for e in &f.evidence {
        if e.key == "redirect" {
            assert_eq!(e.value, "sent:302", "the 302 is returned, not followed");
        } else {
            assert_eq!(e.value, "denied", "{} was not denied", e.key);
        }
    }
    assert_eq!(f.evidence.len(), 32);
    // Only the redirect probe and the good plugin's request reached the server.
    let seen = h.mock.requests();
    assert_eq!(
        seen.len(),
        2,
        "{:?}",
        seen.iter().map(|r| &r.path).collect::<Vec<_>>()
    );
    assert_eq!(out.record.denials.len(), 31);
    // Encoded dot segments never reached the server as a path change.
    assert!(
        seen.iter()
            .all(|r| !r.path.contains("admin") && !r.path.contains("secret"))
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_plugin_files_are_rejected_before_anything_runs() {
    let rt = runtime();
    let err = |bytes: &[u8], pin: Option<&str>| rt.load("x", "x.wasm", bytes, pin).unwrap_err();
    assert!(matches!(
        err(b"hello world, not wasm", None),
        LoadError::NotWasm { .. }
    ));
    assert!(matches!(err(b"", None), LoadError::NotWasm { .. }));
    // A core module: magic + version 1.
    assert!(matches!(
        err(b"\0asm\x01\0\0\0", None),
        LoadError::CoreModule { .. }
    ));
    let good = std::fs::read(fixtures::WELL_BEHAVED).unwrap();
    let e = err(&good, Some(&"0".repeat(64)));
    assert!(matches!(e, LoadError::Sha256Mismatch { .. }));
    assert!(e.to_string().contains("x.wasm") && e.to_string().contains(&"0".repeat(64)));
    let pin = shipgate::runtime::sha256_hex(&good);
    assert!(rt.load("x", "x.wasm", &good, Some(&pin)).is_ok());
    // Truncated component.
    assert!(matches!(
        err(&good[..good.len() / 2], None),
        LoadError::Invalid { .. }
    ));
    // A real component of another world.
    let e = err(&std::fs::read(fixtures::WRONG_WORLD).unwrap(), None);
    assert!(matches!(e, LoadError::WrongWorld { .. }), "{e}");
    assert!(
        e.to_string()
            .contains("does not export `shipgate:plugin/check@0.2.1`"),
        "{e}"
    );
    // A plugin built against another version of the WIT package.
    let e = err(&std::fs::read(fixtures::OLD_VERSION).unwrap(), None);
    assert!(
        matches!(e, LoadError::IncompatibleVersion { ref found, .. } if found == "0.0.9"),
        "{e}"
    );
    assert!(
        e.to_string().contains(
            "built for shipgate:plugin@0.0.9, this shipgate implements shipgate:plugin@0.2.1"
        ),
        "{e}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fuel_budget_stops_a_loop_and_fuel_used_is_reported() {
    let (_h, out, _) = contain(
        "loop-forever",
        fixtures::LOOP_FOREVER,
        "limits = { fuel = 50000000, deadline_ms = 30000 }",
        &[],
    )
    .await;
    let f = host_finding(&out, "loop-forever.limit.fuel");
    assert!(f.detail.contains("sandbox.fuel = 50000000"), "{}", f.detail);
    let used = out.record.plugins[0]
        .fuel_used
        .expect("fuel used is reported");
    assert!(used >= 50_000_000 - 10_000, "used {used}");
    assert!(
        out.record.plugins[1].fuel_used.is_none(),
        "no fuel limit, no figure"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn request_body_over_the_cap_is_rejected_before_dispatch() {
    let h = Harness::new().await;
    let out = h
        .run(&h.plan(
            &crate::support::bundled("canary", ""),
            &["canary.max_request_bytes=64"],
        ))
        .await;
    let f = finding(&out, "canary.reached-host");
    assert!(
        f.detail.contains("over sandbox.max_request_bytes = 64"),
        "{}",
        f.detail
    );
    assert!(h.mock.requests().is_empty());
}
