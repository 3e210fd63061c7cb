//! Speed of the parts a run is made of, on the built-in mock (loopback only).
//!
//! `cargo bench -p shipgate --bench runtime`. Figures and the targets they are
//! checked against are in BENCHMARKS.md. Each group measures a baseline in the
//! same run, so the ratios hold on a noisy machine:
//! - `load`: compiling a bundled check cold vs from wasmtime's code cache;
//! - `run`: one canary run (fresh Store, instantiate, one HTTP round trip,
//!   findings, decision) vs the bare HTTP round trip to the same mock;
//! - `redact`: the output redactor over 1 MiB of log text vs a plain substring scan;
//! - `scrub`: the guest scrub (every full form of the run's secrets, all views)
//!   over a 4 MiB response vs a plain substring scan;
//! - `timing`: the scrub's time per byte does not depend on the key: two keys
//!   with disjoint alphabets, each over text made only of one alphabet.

use criterion::{Criterion, criterion_group, criterion_main};
use shipgate::contract::{Contract, Provider, template};
use shipgate::mock::{MockConfig, MockServer};
use shipgate::plan::Plan;
use shipgate::redact::{OutputRedactor, Secret};
use shipgate::runtime::Runtime;
use shipgate::secret::{SecretKind, SecretSet};
use shipgate::validation::Validation;
use std::hint::black_box;
use std::path::Path;
use std::sync::Arc;

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
                contract_source: "bench".into(),
                target_is_mock: true,
                ..Validation::new(&contract, &plan, &runtime, Some(Secret::new(KEY)))
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
            let spec = shipgate::capability::http::TargetSpec {
                base_url: contract.base_url(),
                provider: "mock".into(),
                chat_path: "/chat/completions".into(),
                chat_method: reqwest::Method::POST,
                model: "mock-gpt".into(),
                output_ceiling_field: Some("max_tokens".into()),
                correlation_header: "x-client-request-id".into(),
                documented_headers: Vec::new(),
                request_id: Default::default(),
                is_builtin_mock: true,
            };
            black_box(
                rt.block_on(shipgate::capability::http::HttpTarget::new(
                    spec,
                    creds,
                    Arc::new(secrets(KEY)),
                    shipgate::classify::Classifier::default(),
                    "shipgate-unapproved-model-x".into(),
                    shipgate::capability::http::limiter::RateLimit {
                        max_in_flight: 8,
                        requests_per_second: 20,
                    },
                    Default::default(),
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

fn secrets(key: &str) -> SecretSet {
    SecretSet::new(
        &[
            (SecretKind::Credential, Secret::new(key)),
            (
                SecretKind::Honeytoken,
                Secret::new("Q7wE9rT1yU3iO5pA7sD9fG1hJ3kL5zX7cV9bN1mQ2wE4rT6y"),
            ),
        ],
        "Bearer",
    )
}

fn redact(c: &mut Criterion) {
    let text = log_text(1 << 20);
    let r = OutputRedactor::new(Arc::new(secrets(KEY)));
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

fn scrub(c: &mut Criterion) {
    let text = log_text(4 << 20).into_bytes();
    let s = secrets(KEY);
    let mut g = c.benchmark_group("scrub");
    g.sample_size(10);
    g.throughput(criterion::Throughput::Bytes(text.len() as u64));
    g.bench_function("scrub_4mib", |b| {
        b.iter(|| black_box(s.scrub(text.clone()).1.len()))
    });
    g.bench_function("substring_scan_4mib", |b| {
        b.iter(|| black_box(String::from_utf8_lossy(&text).matches(KEY).count()))
    });
    g.finish();
    // Building the matcher (every form and fragment of two secrets): once per run.
    let mut g = c.benchmark_group("scrub");
    g.bench_function("secret_set_new", |b| b.iter(|| black_box(secrets(KEY))));
    g.finish();
}

/// Text of `len` bytes drawn only from `alphabet` (deterministic).
fn text_of(alphabet: &[u8], len: usize) -> Vec<u8> {
    let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            alphabet[(x % alphabet.len() as u64) as usize]
        })
        .collect()
}

fn timing(c: &mut Criterion) {
    // Two keys with disjoint alphabets, and text made of one alphabet or the other:
    // if the scrub's speed depended on whether a byte occurs in the key, (key A,
    // text A) would differ from (key A, text B).
    let a: &[u8] = b"abcdefghijklm01234";
    let b: &[u8] = b"nopqrstuvwxyz56789";
    let key = |alpha: &[u8]| String::from_utf8(text_of(alpha, 48)).unwrap();
    let (key_a, key_b) = (key(a), key(b));
    let (text_a, text_b) = (text_of(a, 1 << 20), text_of(b, 1 << 20));
    let mut g = c.benchmark_group("timing");
    g.sample_size(30);
    g.throughput(criterion::Throughput::Bytes(1 << 20));
    for (kname, k) in [("key_a", &key_a), ("key_b", &key_b)] {
        let s = SecretSet::new(
            &[(SecretKind::Credential, Secret::new(k.as_str()))],
            "Bearer",
        );
        for (tname, t) in [("text_a", &text_a), ("text_b", &text_b)] {
            // The scrub (full forms) and the host-side fragment count: the two
            // secret-dependent scans that run on server bytes during a run.
            g.bench_function(format!("{kname}_{tname}"), |bench| {
                bench.iter(|| black_box(s.find(t).len()))
            });
            g.bench_function(format!("fragments_{kname}_{tname}"), |bench| {
                bench.iter(|| black_box(s.holds_fragment(t)))
            });
        }
    }
    // The signal this rules out: a searcher with a prefilter (what a plain
    // substring search does) skips text whose bytes are not in the key.
    let naive = aho_corasick::AhoCorasick::new([key_a.as_bytes()]).unwrap();
    for (tname, t) in [("text_a", &text_a), ("text_b", &text_b)] {
        g.bench_function(format!("prefiltered_key_a_{tname}"), |bench| {
            bench.iter(|| black_box(naive.find_iter(t).count()))
        });
    }
    g.finish();
}

criterion_group!(benches, load, run, redact, scrub, timing);
criterion_main!(benches);
