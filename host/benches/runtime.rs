//! Speed of the parts a run is made of, on the built-in mock (loopback only).
//!
//! `cargo bench -p shipgate --bench runtime`. Figures and the targets they are
//! checked against are in BENCHMARKS.md. Each group measures a baseline in the
//! same run, so the ratios hold on a noisy machine:
//! - `load`: compiling a bundled check cold vs from wasmtime's code cache;
//! - `run`: one canary run (fresh Store, instantiate, one HTTP round trip,
//!   findings, decision) vs the bare HTTP round trip to the same mock;
//! - `redact`: the redactor over 1 MiB of log text vs a plain substring scan;
//! - `audit`: masking secrets in 8 MiB vs a plain substring scan.

use criterion::{Criterion, criterion_group, criterion_main};
use shipgate::capability::audit::mask_secrets;
use shipgate::contract::{Contract, Provider, template};
use shipgate::mock::{MockConfig, MockServer};
use shipgate::plan::Plan;
use shipgate::redact::{Redactor, Secret};
use shipgate::runtime::Runtime;
use shipgate::validation::Validation;
use std::hint::black_box;
use std::path::Path;

const KEY: &str = "sk-BENCHkey0123456789abcdefghijklmnopqrstuvwxyzABCD";

fn canary() -> &'static [u8] {
    shipgate::bundled::BUNDLED
        .iter()
        .find(|(n, _)| *n == "canary")
        .expect("canary is bundled")
        .1
}

fn load(c: &mut Criterion) {
    let mut g = c.benchmark_group("load");
    g.sample_size(20);
    let cold = Runtime::new(None).unwrap();
    g.bench_function("compile_cold", |b| {
        b.iter(|| black_box(cold.load("canary", "bench", canary(), None).unwrap()))
    });
    let dir = tempfile::tempdir().unwrap();
    let cached = Runtime::new(Some(dir.path())).unwrap();
    cached.load("canary", "bench", canary(), None).unwrap();
    g.bench_function("compile_cached", |b| {
        b.iter(|| black_box(cached.load("canary", "bench", canary(), None).unwrap()))
    });
    g.finish();
}

fn run(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let mock = rt
        .block_on(MockServer::start(MockConfig::new(KEY), 0))
        .unwrap();
    let contract = Contract::parse(
        Path::new("bench.toml"),
        &template(Provider::Mock, Some(&mock.base_url())),
    )
    .unwrap();
    let plan = Plan::parse(
        Path::new("plan.toml"),
        "schema = 1\n[[plugins]]\nname = \"canary\"\n",
        &shipgate::bundled::names(),
        &[],
    )
    .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let runtime = Runtime::new(Some(dir.path())).unwrap();
    let mut g = c.benchmark_group("run");
    g.sample_size(50);
    g.bench_function("canary_run", |b| {
        b.iter(|| {
            let v = Validation {
                contract: &contract,
                contract_source: "bench".into(),
                plan: &plan,
                secret: Some(Secret::new(KEY)),
                runtime: &runtime,
                bundled: shipgate::bundled::BUNDLED,
                baseline: None,
            };
            black_box(rt.block_on(v.run(std::future::pending())).unwrap())
        })
    });
    // The breakdown of a run: preparing the HTTP target (client, credentials, classifier) ...
    g.bench_function("http_target_new", |b| {
        b.iter(|| {
            let creds = shipgate::capability::http::credentials::Credentials::new(
                "Authorization",
                "Bearer",
                Some(Secret::new(KEY)),
            );
            black_box(
                rt.block_on(shipgate::capability::http::HttpTarget::new(
                    contract.base_url(),
                    "mock",
                    "/chat/completions",
                    "x-client-request-id",
                    None,
                    creds,
                    shipgate::classify::Classifier::default(),
                ))
                .unwrap(),
            )
        })
    });
    // ... and loading the plugin from the code cache (the rest is instantiate, run, record).
    g.bench_function("load_from_cache", |b| {
        b.iter(|| black_box(runtime.load("canary", "bench", canary(), None).unwrap()))
    });
    let client = reqwest::Client::new();
    let url = format!("{}/chat/completions", mock.base_url());
    let body = r#"{"model":"mock-gpt","messages":[{"role":"user","content":"Return the word READY and nothing else."}],"temperature":0}"#;
    g.bench_function("bare_http_round_trip", |b| {
        b.iter(|| {
            rt.block_on(async {
                let r = client
                    .post(&url)
                    .bearer_auth(KEY)
                    .header("content-type", "application/json")
                    .body(body)
                    .send()
                    .await
                    .unwrap();
                black_box(r.bytes().await.unwrap())
            })
        })
    });
    g.finish();
}

fn log_text(bytes: usize) -> String {
    let mut s = String::with_capacity(bytes + 256);
    let mut i = 0u64;
    while s.len() < bytes {
        i += 1;
        if i.is_multiple_of(97) {
            s.push_str(&format!("{{\"ts\":\"2026-11-30T21:00:00Z\",\"msg\":\"auth failed\",\"header\":\"Bearer {KEY}\"}}\n"));
        } else {
            s.push_str(&format!("{{\"ts\":\"2026-11-30T21:00:00Z\",\"msg\":\"request {i} done\",\"latency_ms\":{}}}\n", i % 700));
        }
    }
    s
}

fn redact(c: &mut Criterion) {
    let text = log_text(1 << 20);
    let r = Redactor::new().with_secret(&Secret::new(KEY), "credential");
    let mut g = c.benchmark_group("redact");
    g.throughput(criterion::Throughput::Bytes(text.len() as u64));
    g.bench_function("redactor_1mib", |b| {
        b.iter(|| black_box(r.redact(&text).len()))
    });
    g.bench_function("substring_scan_1mib", |b| {
        b.iter(|| black_box(text.matches(KEY).count()))
    });
    g.finish();
}

fn audit(c: &mut Criterion) {
    let text = log_text(8 << 20);
    let secrets = vec![("credential", Secret::new(KEY))];
    let mut g = c.benchmark_group("audit");
    g.sample_size(10);
    g.throughput(criterion::Throughput::Bytes(text.len() as u64));
    g.bench_function("mask_secrets_8mib", |b| {
        b.iter(|| black_box(mask_secrets(&text, &secrets).1.len()))
    });
    g.bench_function("substring_scan_8mib", |b| {
        b.iter(|| black_box(text.matches(KEY).count()))
    });
    g.finish();
}

criterion_group!(benches, load, run, redact, audit);
criterion_main!(benches);
