//! Peak host memory while a hostile plugin floods each path it can make the
//! host allocate on: `cargo bench -p shipgate-e2e --bench floods`.
//!
//! Each flood runs in a child process of this binary (peak RSS is per
//! process), next to a baseline run of the well-behaved fixture measured the
//! same way in the same invocation. The target is under 400 MB per flood.

use shipgate::contract::{Contract, Provider, template};
use shipgate::mock::{MockConfig, MockServer};
use shipgate::plan::Plan;
use shipgate::redact::Secret;
use shipgate::runtime::Runtime;
use shipgate::validation::Validation;
use shipgate_e2e::fixtures;
use std::path::Path;
use std::process::Command;

const KEY: &str = "sk-BENCHflood0123456789abcdefghijklmnopqrstuvwxyzAB";

/// (name, fixture path, plan extras)
fn floods() -> Vec<(&'static str, &'static str, &'static str)> {
    vec![
        ("baseline (well-behaved)", fixtures::WELL_BEHAVED, ""),
        (
            "huge paths, bodies, headers, error",
            fixtures::HOST_FLOOD,
            "grants = { send_oversized = true }\nlimits = { memory_mib = 512 }",
        ),
        (
            "request flood",
            fixtures::REQUEST_FLOOD,
            "limits = { max_requests = 64 }",
        ),
        (
            "log flood",
            fixtures::LOG_FLOOD,
            "limits = { deadline_ms = 20000 }",
        ),
        ("findings flood", fixtures::FINDINGS_FLOOD, ""),
        (
            "aliased lists (64 x 16 MiB)",
            fixtures::LIFT_BOMB,
            "settings = { mib = 16, copies = 64 }",
        ),
        ("leaked handles", fixtures::WASI_LEAK, ""),
        ("spend abuse", fixtures::SPEND_ABUSE, ""),
        (
            "scrub bypass",
            fixtures::SCRUB_BYPASS,
            "grants = { auth = [\"configured\", \"invalid\"] }",
        ),
        (
            "audit oracle",
            fixtures::AUDIT_ORACLE,
            "grants = { audit = true }\nlimits = { max_requests = 300 }",
        ),
    ]
}

fn peak_kb() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .unwrap_or_default()
        .lines()
        .find(|l| l.starts_with("VmHWM:"))
        .and_then(|l| l.split_whitespace().nth(1)?.parse().ok())
        .unwrap_or(0)
}

/// Run one flood in this process and print its peak RSS in kB.
fn child(index: usize) {
    let (_, path, extra) = floods()[index];
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let mock = MockServer::start(MockConfig::new(KEY), 0).await.unwrap();
        let contract = Contract::parse(
            Path::new("mock.toml"),
            &template(Provider::Mock, Some(&mock.base_url())),
        )
        .unwrap();
        let text =
            format!("schema = 1\n[[plugins]]\nname = \"flood\"\npath = \"{path}\"\n{extra}\n");
        let plan = Plan::parse(
            Path::new("plan.toml"),
            &text,
            &shipgate::bundled::names(),
            &[],
        )
        .unwrap();
        let cache = Path::new(env!("CARGO_TARGET_TMPDIR")).join("shipgate-bench-cache");
        let runtime = Runtime::new(Some(&cache)).unwrap();
        let out = Validation {
            contract_source: "bench".into(),
            target_is_mock: true,
            ..Validation::new(&contract, &plan, &runtime, Some(Secret::new(KEY)))
        }
        .run(std::future::pending())
        .await
        .unwrap();
        let dir = tempfile::tempdir().unwrap();
        let paths = shipgate::report::write_record_dir(
            dir.path(),
            &out.record,
            &out.log,
            &out.redactor,
            shipgate::report::JunitOptions {
                warn: shipgate::plan::JunitWarn::Pass,
                decision_fails: true,
            },
        )
        .unwrap();
        let record = std::fs::metadata(&paths.record)
            .map(|m| m.len())
            .unwrap_or(0);
        println!("{} {}", peak_kb(), record);
    });
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if let Some(i) = args.iter().position(|a| a == "--flood") {
        child(args[i + 1].parse().unwrap());
        return;
    }
    if args.iter().any(|a| a == "--list") {
        return;
    }
    let exe = std::env::current_exe().unwrap();
    println!(
        "{:<38} {:>12} {:>14} {:>10}",
        "flood", "peak RSS MB", "vs baseline", "record KB"
    );
    let mut base = 0.0;
    let mut worst: f64 = 0.0;
    for (i, (name, _, _)) in floods().iter().enumerate() {
        let o = Command::new(&exe)
            .args(["--flood", &i.to_string()])
            .output()
            .unwrap();
        let line = String::from_utf8_lossy(&o.stdout);
        let mut parts = line.split_whitespace();
        let kb: f64 = parts
            .next()
            .and_then(|s| s.parse().ok())
            .unwrap_or(f64::NAN);
        let record: f64 = parts
            .next()
            .and_then(|s| s.parse().ok())
            .unwrap_or(f64::NAN);
        let mb = kb / 1024.0;
        if i == 0 {
            base = mb;
        }
        worst = worst.max(mb);
        println!(
            "{name:<38} {mb:>12.1} {:>13.2}x {:>10.1}",
            mb / base,
            record / 1024.0
        );
    }
    println!(
        "\nworst flood: {worst:.1} MB peak (target: under 400 MB) -> {}",
        if worst < 400.0 {
            "holds"
        } else {
            "DOES NOT HOLD"
        }
    );
}
