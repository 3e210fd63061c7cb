//! The run engine, side by side in one invocation:
//! `cargo bench -p shipgate-e2e --bench engine`.
//!
//! - **Default run vs. a sequential script.** The default plan against the
//!   built-in mock with 0 ms and 300 ms added to every answer, as the mock
//!   (retry scenarios apply) and as an unknown OpenAI-compatible gateway
//!   (they do not). Each is paired with `curl` making the same requests one
//!   after another against the same mock, as the guide's own method would
//!   (the ratio must be at most 0.6 with 300 ms), and compared with the
//!   ideal: the longest chain the schedule allows, the canary, then the
//!   longest check, then the longest observer (the run must be within 1.2 of
//!   it).
//! - **Scale.** 10, 25 and 50 checks of 20 requests each under the plan's
//!   per-target rate limit: time grows linearly with the requests, memory
//!   sub-linearly.
//!
//! - **Interposer.** What the application-under-test interposer adds per
//!   request on loopback (`-- interposer` runs only this).
//! - **Replay.** The default plan recorded against the mock with 300 ms
//!   added to every answer, then the same plan live and replayed from its
//!   cassettes (`-- replay` runs only this): a replay waits for no network
//!   and no retry backoff.
//!
//! Each run happens in a child process of this binary, so its peak RSS is its
//! own. Figures are medians of three; this machine is noisy, so the output is
//! ratios measured in the same invocation, never absolute thresholds.

use shipgate::contract::{Contract, Provider, template};
use shipgate::mock::{MockConfig, MockServer};
use shipgate::plan::Plan;
use shipgate::redact::Secret;
use shipgate::runtime::Runtime;
use shipgate::validation::Validation;
use shipgate_e2e::fixtures;
use std::path::Path;
use std::process::Command;
use std::time::Instant;

const KEY: &str = "sk-BENCHengine0123456789abcdefghijklmnopqrstuvwxyzA";

/// A two-worker runtime, as the machine has two cores.
fn tokio_runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap()
}

/// One measured run, as a child prints it.
#[derive(Debug, Clone, Default)]
struct Measured {
    wall_ms: f64,
    peak_kb: u64,
    /// The run's requests (method and path), in order.
    requests: Vec<(String, String)>,
    /// The canary's time, plus the longest check's, plus the longest observer's.
    ideal_ms: f64,
}

fn peak_kb() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .unwrap_or_default()
        .lines()
        .find(|l| l.starts_with("VmHWM:"))
        .and_then(|l| l.split_whitespace().nth(1)?.parse().ok())
        .unwrap_or(0)
}

/// A scenario: (mock latency, whether shipgate knows the target is its mock,
/// number of scale checks (0: the default plan)).
fn child(latency_ms: u64, known_mock: bool, scale: usize) {
    let rt = tokio_runtime();
    rt.block_on(async {
        let mut config = MockConfig::new(KEY).with_latency_ms(latency_ms);
        if !known_mock {
            // The generic template's model.
            config.models.push("gpt-4o-mini".into());
        }
        let mock = MockServer::start(config, 0).await.unwrap();
        let provider = if known_mock {
            Provider::Mock
        } else {
            Provider::Generic
        };
        let text = template(provider, Some(&mock.base_url()))
            .replace("https://api.openai.com/v1", &mock.base_url());
        let contract = Contract::parse(Path::new("bench.toml"), &text).unwrap();
        let plan = if scale == 0 {
            Plan::builtin(&shipgate::bundled::names(), &[]).unwrap()
        } else {
            let mut t = String::from(
                "schema = 1\n[run]\njobs = 8\nmax_in_flight = 8\nrequests_per_second = 200\n",
            );
            for i in 0..scale {
                t.push_str(&format!(
                    "[[plugins]]\nname = \"load-{i}\"\npath = \"{}\"\nlimits = {{ max_requests = 20 }}\n",
                    fixtures::REQUEST_FLOOD
                ));
            }
            Plan::parse(
                Path::new("plan.toml"),
                &t,
                &shipgate::bundled::names(),
                &[],
            )
            .unwrap()
        };
        let cache = Path::new(env!("CARGO_TARGET_TMPDIR")).join("shipgate-bench-cache");
        let runtime = Runtime::new(Some(&cache)).unwrap();
        let started = Instant::now();
        let out = Validation {
            contract_source: "bench".into(),
            target_is_mock: known_mock,
            ..Validation::new(&contract, &plan, &runtime, Some(Secret::new(KEY)))
        }
        .run(std::future::pending())
        .await
        .unwrap();
        let wall = started.elapsed().as_secs_f64() * 1000.0;
        let checks: Vec<_> = out
            .record
            .plugins
            .iter()
            .filter(|p| !p.source.starts_with("host:"))
            .collect();
        let canary = checks
            .iter()
            .find(|p| p.name == "canary")
            .map_or(0, |p| p.duration_ms);
        // The observers run last, after every other check (see
        // validation::schedule): the chain is canary, longest check, longest observer.
        let observer = |name: &str| matches!(name, "observability" | "redaction-audit");
        let longest = |want: bool| {
            checks
                .iter()
                .filter(|p| p.name != "canary" && observer(&p.name) == want)
                .map(|p| p.duration_ms)
                .max()
                .unwrap_or(0)
        };
        println!("wall {wall:.1}");
        println!("peak {}", peak_kb());
        println!("ideal {}", canary + longest(false) + longest(true));
        for t in &out.record.telemetry {
            println!("req {} {}", t.method, t.path);
        }
    });
}

fn parse(out: &str) -> Measured {
    let mut m = Measured::default();
    for line in out.lines() {
        let mut parts = line.splitn(3, ' ');
        match (parts.next(), parts.next(), parts.next()) {
            (Some("wall"), Some(v), _) => m.wall_ms = v.parse().unwrap_or(f64::NAN),
            (Some("peak"), Some(v), _) => m.peak_kb = v.parse().unwrap_or(0),
            (Some("ideal"), Some(v), _) => m.ideal_ms = v.parse().unwrap_or(f64::NAN),
            (Some("req"), Some(method), Some(path)) => {
                m.requests.push((method.to_owned(), path.to_owned()));
            }
            _ => {}
        }
    }
    m
}

fn measure(latency_ms: u64, known_mock: bool, scale: usize) -> Measured {
    let exe = std::env::current_exe().unwrap();
    let mut runs: Vec<Measured> = (0..3)
        .map(|_| {
            let o = Command::new(&exe)
                .args([
                    "--child",
                    &latency_ms.to_string(),
                    &known_mock.to_string(),
                    &scale.to_string(),
                ])
                .output()
                .unwrap();
            assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
            parse(&String::from_utf8_lossy(&o.stdout))
        })
        .collect();
    runs.sort_by(|a, b| a.wall_ms.total_cmp(&b.wall_ms));
    runs.swap_remove(1)
}

/// The same requests, made one after another by `curl` against a mock with
/// the same latency: the guide's sequential script. Median of three, in ms.
fn sequential_curl(latency_ms: u64, requests: &[(String, String)]) -> Option<f64> {
    Command::new("curl").arg("--version").output().ok()?;
    let rt = tokio_runtime();
    let mock = rt
        .block_on(MockServer::start(
            MockConfig::new(KEY).with_latency_ms(latency_ms),
            0,
        ))
        .unwrap();
    let origin = mock.base_url().trim_end_matches("/v1").to_owned();
    let body = r#"{"model":"mock-gpt","messages":[{"role":"user","content":"Reply with READY."}],"max_tokens":16}"#;
    let mut times: Vec<f64> = (0..3)
        .map(|_| {
            let started = Instant::now();
            for (method, path) in requests {
                let mut c = Command::new("curl");
                c.args(["-s", "-o", "/dev/null", "-X", method])
                    .args(["-H", &format!("Authorization: Bearer {KEY}")]);
                if method == "POST" {
                    c.args(["-H", "content-type: application/json", "-d", body]);
                }
                c.arg(format!("{origin}{path}"));
                let _ = c.output();
            }
            started.elapsed().as_secs_f64() * 1000.0
        })
        .collect();
    times.sort_by(f64::total_cmp);
    Some(times[1])
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if let Some(i) = args.iter().position(|a| a == "--child") {
        child(
            args[i + 1].parse().unwrap(),
            args[i + 2].parse().unwrap(),
            args[i + 3].parse().unwrap(),
        );
        return;
    }
    if args.iter().any(|a| a == "--list") {
        return;
    }
    // `cargo bench --bench engine -- interposer` (or `-- stream`): that section only.
    if args.iter().any(|a| a == "interposer") {
        interposer_overhead();
        return;
    }
    if args.iter().any(|a| a == "stream") {
        stream_overhead();
        return;
    }
    if args.iter().any(|a| a == "replay") {
        replay_speed();
        return;
    }
    println!("## default run vs. sequential curl (median of 3)\n");
    println!(
        "| target | added latency | requests | shipgate | curl, sequential | ratio | ideal | vs ideal | peak RSS |"
    );
    println!("|---|---|---|---|---|---|---|---|---|");
    for (known_mock, label) in [(true, "mock"), (false, "gateway")] {
        for latency in [0u64, 300] {
            let m = measure(latency, known_mock, 0);
            let curl = sequential_curl(latency, &m.requests);
            let (curl_text, ratio) = match curl {
                Some(c) => (format!("{c:.0} ms"), format!("{:.2}", m.wall_ms / c)),
                None => ("(no curl)".to_owned(), "-".to_owned()),
            };
            println!(
                "| {label} | {latency} ms | {} | {:.0} ms | {curl_text} | {ratio} | {:.0} ms | {:.2} | {:.1} MB |",
                m.requests.len(),
                m.wall_ms,
                m.ideal_ms,
                m.wall_ms / m.ideal_ms.max(1.0),
                m.peak_kb as f64 / 1024.0
            );
        }
    }
    interposer_overhead();
    stream_overhead();
    replay_speed();
    println!("\n## scale: checks of 20 requests each, 200 requests/s (median of 3)\n");
    println!("| checks | requests | time | time per request | peak RSS | RSS per check |");
    println!("|---|---|---|---|---|---|");
    for n in [10usize, 25, 50] {
        let m = measure(0, true, n);
        println!(
            "| {n} | {} | {:.0} ms | {:.2} ms | {:.1} MB | {:.2} MB |",
            m.requests.len(),
            m.wall_ms,
            m.wall_ms / m.requests.len().max(1) as f64,
            m.peak_kb as f64 / 1024.0,
            m.peak_kb as f64 / 1024.0 / n as f64
        );
    }
}

/// What the application-under-test interposer adds per request on loopback:
/// the same 300 sequential chat requests straight to the mock and through
/// the interposer (clean scenario), in one process, median of three rounds.
fn interposer_overhead() {
    use shipgate::application::interposer::{Interposer, Upstream};
    use shipgate::application::scenario::Scenario;
    const N: usize = 300;
    let rt = tokio_runtime();
    rt.block_on(async {
        let mock = MockServer::start(MockConfig::new(KEY), 0).await.unwrap();
        let base: reqwest::Url = mock.base_url().parse().unwrap();
        let placeholder = "sk-shipgate-placeholder-bench0123456789abcdef";
        let secrets = std::sync::Arc::new(shipgate::secret::SecretSet::new(
            &[
                (shipgate::secret::SecretKind::Credential, Secret::new(KEY)),
                (shipgate::secret::SecretKind::Placeholder, Secret::new(placeholder)),
            ],
            "Bearer",
        ));
        let client = reqwest::Client::new();
        let interposer = Interposer::start(
            Scenario::Clean,
            placeholder.into(),
            Upstream {
                client: client.clone(),
                base_url: base.clone(),
                chat_path: "/chat/completions".into(),
                chat_method: reqwest::Method::POST,
                credential: ("authorization".into(), Secret::new(format!("Bearer {KEY}"))),
                spend: shipgate::capability::http::Spend {
                    models: vec!["mock-gpt".into()],
                    ceiling: 64,
                    ceiling_field: Some("max_tokens".into()),
                    input_limit_bytes: 32 * 1024,
                    send_oversized: false,
                    fields: Vec::new(),
                    parts: Vec::new(),
                },
            },
            secrets,
            5_000,
        )
        .await
        .unwrap();
        let body = r#"{"model":"mock-gpt","messages":[{"role":"user","content":"Reply with READY."}],"max_tokens":16}"#;
        let round = |url: String, key: String| {
            let client = client.clone();
            async move {
                let started = Instant::now();
                for _ in 0..N {
                    let r = client
                        .post(&url)
                        .bearer_auth(&key)
                        .header("content-type", "application/json")
                        .body(body)
                        .send()
                        .await
                        .unwrap();
                    assert!(r.status().is_success());
                    let _ = r.bytes().await.unwrap();
                }
                started.elapsed().as_secs_f64() * 1000.0 / N as f64
            }
        };
        let direct_url = format!("{}/chat/completions", mock.base_url());
        let via_url = format!("{}/chat/completions", interposer.base_url());
        let mut direct = Vec::new();
        let mut via = Vec::new();
        for _ in 0..3 {
            direct.push(round(direct_url.clone(), KEY.into()).await);
            via.push(round(via_url.clone(), placeholder.into()).await);
        }
        direct.sort_by(f64::total_cmp);
        via.sort_by(f64::total_cmp);
        println!("\n## interposer overhead ({N} sequential chat requests, median of 3)\n");
        println!("| path | per request | added |");
        println!("|---|---|---|");
        println!("| straight to the mock | {:.3} ms | |", direct[1]);
        println!(
            "| through the interposer | {:.3} ms | {:.3} ms |",
            via[1],
            via[1] - direct[1]
        );
        let _ = interposer.finish().await;
    });
}

/// Time to first chunk of a streamed answer whose first chunk the mock holds
/// for 50 ms: reqwest reading the mock's stream directly, and the host's
/// `send-stream` as the stream-canary uses it (its recorded first-chunk
/// time), 20 of each in one process, medians.
fn stream_overhead() {
    use shipgate::mock::{Fault, StreamFault, When};
    const N: usize = 20;
    let rt = tokio_runtime();
    rt.block_on(async {
        let mock = MockServer::start(
            MockConfig::new(KEY).when(When::Any, Fault::Stream(StreamFault::SlowFirst(50))),
            0,
        )
        .await
        .unwrap();
        let client = reqwest::Client::new();
        let body = r#"{"model":"mock-gpt","stream":true,"max_tokens":16,"messages":[{"role":"user","content":"Reply with READY."}]}"#;
        let mut direct = Vec::new();
        for _ in 0..N {
            let started = Instant::now();
            let mut r = client
                .post(format!("{}/chat/completions", mock.base_url()))
                .bearer_auth(KEY)
                .header("content-type", "application/json")
                .body(body)
                .send()
                .await
                .unwrap();
            let _ = r.chunk().await.unwrap();
            direct.push(started.elapsed().as_secs_f64() * 1000.0);
            while r.chunk().await.unwrap().is_some() {}
        }
        let contract = Contract::parse(
            Path::new("bench.toml"),
            &template(Provider::Mock, Some(&mock.base_url())),
        )
        .unwrap();
        let plan = Plan::parse(
            Path::new("plan.toml"),
            "schema = 1\n[[plugins]]\nname = \"stream-canary\"\n",
            &shipgate::bundled::names(),
            &[],
        )
        .unwrap();
        let cache = Path::new(env!("CARGO_TARGET_TMPDIR")).join("shipgate-bench-cache");
        let runtime = Runtime::new(Some(&cache)).unwrap();
        let mut host = Vec::new();
        for _ in 0..N {
            let out = Validation {
                contract_source: "bench".into(),
                target_is_mock: true,
                ..Validation::new(&contract, &plan, &runtime, Some(Secret::new(KEY)))
            }
            .run(std::future::pending())
            .await
            .unwrap();
            let first = out
                .record
                .telemetry
                .iter()
                .find_map(|t| t.stream.as_ref()?.first_chunk_ms)
                .unwrap();
            host.push(first as f64);
        }
        direct.sort_by(f64::total_cmp);
        host.sort_by(f64::total_cmp);
        let (d, h) = (direct[N / 2], host[N / 2]);
        println!("\n## time to first chunk (the mock holds it 50 ms; {N} each, medians)\n");
        println!("| reader | first chunk | vs reqwest |");
        println!("|---|---|---|");
        println!("| reqwest, directly | {d:.1} ms | |");
        println!("| the host's send-stream | {h:.1} ms | {:+.1} % |", (h / d - 1.0) * 100.0);
    });
}

/// The default plan live against the mock (300 ms per answer) and replayed
/// from its own recording, median of three each, in one process.
fn replay_speed() {
    use shipgate::capability::http::cassette::{self, Player, Recorder, Tape};
    use std::sync::Arc;
    let rt = tokio_runtime();
    rt.block_on(async {
        let mock = MockServer::start(MockConfig::new(KEY).with_latency_ms(300), 0)
            .await
            .unwrap();
        let text = template(Provider::Mock, Some(&mock.base_url()));
        let contract = Contract::parse(Path::new("bench.toml"), &text).unwrap();
        let plan = Plan::builtin(&shipgate::bundled::names(), &[]).unwrap();
        let cache = Path::new(env!("CARGO_TARGET_TMPDIR")).join("shipgate-bench-cache");
        let runtime = Runtime::new(Some(&cache)).unwrap();
        let dir = tempfile::tempdir().unwrap();
        let run = |tape: Tape| {
            let (contract, plan, runtime) = (&contract, &plan, &runtime);
            async move {
                let started = Instant::now();
                let out = Validation {
                    target_is_mock: true,
                    tape,
                    ..Validation::new(contract, plan, runtime, Some(Secret::new(KEY)))
                }
                .run(std::future::pending())
                .await
                .unwrap();
                (started.elapsed().as_secs_f64() * 1000.0, out)
            }
        };
        let recorder = Arc::new(Recorder::new(dir.path()).unwrap());
        let (_, recorded) = run(Tape::Record(recorder.clone())).await;
        let meta = cassette::Meta {
            format: cassette::CASSETTE_FORMAT,
            shipgate: "bench".into(),
            recorded_at: recorded.record.started_at.clone(),
            base_url: mock.base_url(),
            target_is_mock: true,
            run_id: recorded.record.run_id.clone(),
            files: Vec::new(),
        };
        recorder
            .save(&meta, &text, recorded.redactor.secrets())
            .unwrap();
        let median = |mut v: Vec<f64>| {
            v.sort_by(f64::total_cmp);
            v[v.len() / 2]
        };
        let mut live = Vec::new();
        let mut replayed = Vec::new();
        for _ in 0..3 {
            live.push(run(Tape::Off).await.0);
            let player = Arc::new(Player::load(dir.path()).unwrap());
            let (ms, out) = run(Tape::Replay(player.clone())).await;
            assert!(player.misses().is_empty(), "{:?}", player.misses());
            assert_eq!(out.record.findings.len(), recorded.record.findings.len());
            replayed.push(ms);
        }
        let (live, replayed) = (median(live), median(replayed));
        println!("\n## replay: the default plan, 300 ms per answer (median of 3)\n");
        println!("| live | replayed | ratio |");
        println!("|---|---|---|");
        println!(
            "| {live:.0} ms | {replayed:.0} ms | {:.2} |",
            replayed / live
        );
    });
}
