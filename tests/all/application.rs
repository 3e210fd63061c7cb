//! The application under test: real client programs run through the
//! interposer under every scenario, and the exact verdicts they earn.

use crate::support::{Harness, finding};
use shipgate::findings::Verdict;
use shipgate::validation::RunOutput;

/// A plan that runs `command` under every scenario and judges it.
fn plan(h: &Harness, command: &[&str], env: &str, timeout_ms: u64) -> shipgate::plan::Plan {
    let command: Vec<String> = command.iter().map(|c| format!("{c:?}")).collect();
    h.plan(
        &format!(
            "[thresholds]\nrequest_timeout_ms = 2000\n\n[application]\ncommand = [{}]\nenv = {{ {env} }}\ntimeout_ms = {timeout_ms}\n\n[[plugins]]\nname = \"client-resilience\"\ngrants = {{ traffic = true }}\n",
            command.join(", ")
        ),
        &[],
    )
}

/// Every verdict of the judge and the host's own application finding.
fn verdicts(out: &RunOutput) -> Vec<(String, Verdict)> {
    out.record
        .findings
        .iter()
        .filter(|f| f.plugin == "client-resilience" || f.plugin == "application")
        .map(|f| (f.id.clone(), f.verdict))
        .collect()
}

fn assert_careful(out: &RunOutput) {
    let app = out.record.application.as_ref().expect("episodes recorded");
    let names: Vec<&str> = app.episodes.iter().map(|e| e.scenario.as_str()).collect();
    assert_eq!(
        names,
        [
            "clean",
            "rate-limited",
            "outage",
            "non-retryable",
            "unauthorized",
            "stall",
            "reset",
            "slow-first-byte",
            "truncated-stream",
            "dropped-stream",
            "corrupt-chunk"
        ]
    );
    for (id, v) in verdicts(out) {
        // A client that does not stream has no stream to judge.
        let stream_rule = matches!(
            id.as_str(),
            "client.truncated_stream_accepted" | "client.malformed_chunk_ignored"
        );
        let ok = v == Verdict::Pass || (stream_rule && v == Verdict::Skip);
        assert!(ok, "{id}: {v:?} {:?}", finding(out, &id).detail);
    }
    // The rate-limited episode: three attempts of one request, the last
    // one through, each retry at least the Retry-After later.
    let limited = &app.episodes[1];
    let attempts: Vec<_> = limited
        .exchanges
        .iter()
        .filter(|x| x.logical == 0)
        .collect();
    assert_eq!(attempts.len(), 3, "{attempts:#?}");
    assert_eq!(attempts[2].status, Some(200));
    assert!(attempts[1].started_ms >= attempts[0].started_ms + 950);
    // No credential anywhere in the record.
    let json = serde_json::to_string(&out.record).unwrap();
    assert!(!json.contains("sk-shipgate-placeholder-"));
    assert!(!json.contains(crate::support::KEY));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_careful_rust_client_earns_no_verdict() {
    let h = Harness::new().await;
    let exe = env!("CARGO_BIN_EXE_careful-client");
    let out = h
        .run(&plan(&h, &[exe], "APP_TIMEOUT_MS = \"1500\"", 30_000))
        .await;
    assert_careful(&out);
}

/// A Python interpreter with the official `openai` SDK: `SHIPGATE_TEST_PYTHON`,
/// or the venv `.ci/run` prepares.
fn python_with_openai() -> Option<String> {
    let candidates = [
        std::env::var("SHIPGATE_TEST_PYTHON").ok(),
        Some(concat!(env!("CARGO_MANIFEST_DIR"), "/../target/sdk-venv/bin/python").to_owned()),
    ];
    candidates.into_iter().flatten().find(|p| {
        std::process::Command::new(p)
            .args(["-c", "import openai"])
            .output()
            .is_ok_and(|o| o.status.success())
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_official_openai_sdk_client_ships_with_the_example_plan() {
    let Some(python) = python_with_openai() else {
        eprintln!(
            "skipped: no Python with the openai SDK (bash .ci/run prepares target/sdk-venv; or set SHIPGATE_TEST_PYTHON)"
        );
        return;
    };
    let h = Harness::new().await;
    let app = concat!(env!("CARGO_MANIFEST_DIR"), "/../examples/apps/careful.py");
    // The README's example plan: every bundled check, the three judges of
    // the application, and the operator's attestations.
    let text = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../examples/apps/plan.toml"
    ))
    .unwrap()
    .replace(
        "# command = [\"python\", \"examples/apps/careful.py\"]   # or after `--`",
        &format!("command = [{python:?}, {app:?}]"),
    );
    assert!(text.contains("command = ["));
    let plan = shipgate::plan::Plan::parse(
        std::path::Path::new("examples/apps/plan.toml"),
        &text,
        &shipgate::bundled::names(),
        &[],
    )
    .unwrap();
    let out = h.run(&plan).await;
    assert_careful(&out);
    for f in out
        .record
        .findings
        .iter()
        .filter(|f| f.plugin.starts_with("client-"))
    {
        // The example client does not stream: its stream rules are skipped.
        let stream_rule = f.id.ends_with("truncated_stream_accepted")
            || f.id.ends_with("malformed_chunk_ignored");
        let want = if stream_rule {
            Verdict::Skip
        } else {
            Verdict::Pass
        };
        assert_eq!(f.verdict, want, "{f:?}");
    }
    assert_eq!(
        out.record.decision.outcome,
        shipgate::decision::Outcome::Ship,
        "{:#?}",
        out.record.decision.reasons
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_naive_client_is_held_with_named_verdicts() {
    let python = "python3";
    if std::process::Command::new(python)
        .arg("--version")
        .output()
        .is_err()
    {
        eprintln!("skipped: python3 is not installed");
        return;
    }
    let h = Harness::new().await;
    let app = concat!(env!("CARGO_MANIFEST_DIR"), "/../examples/apps/naive.py");
    let out = h.run(&plan(&h, &[python, app], "", 8_000)).await;
    let v = verdicts(&out);
    let get = |id: &str| v.iter().find(|(i, _)| i == id).map(|(_, v)| *v);
    assert_eq!(get("client.exercised"), Some(Verdict::Pass));
    assert_eq!(get("client.retry_storm"), Some(Verdict::Fail));
    assert_eq!(get("client.retried_non_retryable"), Some(Verdict::Fail));
    assert_eq!(get("client.retry_after_ignored"), Some(Verdict::Fail));
    assert_eq!(get("client.no_read_timeout"), Some(Verdict::Warn));
    assert_eq!(get("client.no_backoff"), Some(Verdict::Warn));
    assert_eq!(get("application.credential-logged"), Some(Verdict::Fail));
    // The stall episode ran into its timeout and was killed.
    let app = out.record.application.as_ref().unwrap();
    let stall = app.episodes.iter().find(|e| e.scenario == "stall").unwrap();
    assert!(stall.timed_out && stall.exit_code.is_none(), "{stall:#?}");
    // What it printed is in the record, its key masked.
    let limited = app
        .episodes
        .iter()
        .find(|e| e.scenario == "rate-limited")
        .unwrap();
    assert!(
        limited.stdout.contains("[REDACTED:placeholder]"),
        "{}",
        limited.stdout
    );
    assert_eq!(
        out.record.decision.outcome,
        shipgate::decision::Outcome::Hold
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_application_that_makes_no_request_fails_and_one_that_never_runs_is_explained() {
    let h = Harness::new().await;
    let out = h.run(&plan(&h, &["true"], "", 5_000)).await;
    assert_eq!(finding(&out, "client.exercised").verdict, Verdict::Fail);
    let out = h
        .run(&plan(&h, &["/nonexistent/shipgate-app"], "", 5_000))
        .await;
    let app = out.record.application.as_ref().unwrap();
    assert!(
        app.episodes[0].stderr.contains("could not start"),
        "{:?}",
        app.episodes[0]
    );
    assert_eq!(finding(&out, "client.exercised").verdict, Verdict::Fail);
}

/// A plan running `command` once, under the clean scenario (`extra`: more
/// `[application]` lines), judged by client-resilience.
fn clean_episode(command: &[&str], extra: &str) -> String {
    let command: Vec<String> = command.iter().map(|c| format!("{c:?}")).collect();
    format!(
        "[application]\ncommand = [{}]\n{extra}scenarios = [\"clean\"]\n\n[[plugins]]\nname = \"client-resilience\"\ngrants = {{ traffic = true }}\n",
        command.join(", ")
    )
}

/// Whether process `pid` is gone within a second (dead, or a zombie waiting
/// for its new parent to reap it).
fn gone(pid: &str) -> bool {
    let running = || {
        std::fs::read_to_string(format!("/proc/{pid}/stat"))
            .ok()
            .and_then(|s| {
                s.rsplit(')')
                    .next()
                    .map(|r| r.trim_start().starts_with(['R', 'S', 'D']))
            })
            .unwrap_or(false)
    };
    for _ in 0..50 {
        if !running() {
            return true;
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    !running()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nothing_the_application_started_survives_its_episode() {
    let h = Harness::new().await;
    let dir = tempfile::tempdir().unwrap();
    let pidfile = dir.path().join("pid");
    let script = format!("sleep 300 & echo $! > {}; sleep 300", pidfile.display());
    let text = clean_episode(&["sh", "-c", &script], "timeout_ms = 1000\n");
    let out = h.run(&h.plan(&text, &[])).await;
    let e = &out.record.application.as_ref().unwrap().episodes[0];
    assert!(e.timed_out, "{e:?}");
    let pid = std::fs::read_to_string(&pidfile).unwrap();
    // The background child was in the application's process group: gone.
    assert!(gone(pid.trim()), "process {pid} survived the episode");
    // A daemon that left the process group (fork, setsid, fork) and outlives
    // an application that exits at once: found by its marker, and killed.
    let daemon = dir.path().join("daemon");
    let script = format!(
        "import os, time\nif os.fork() == 0:\n    os.setsid()\n    if os.fork() == 0:\n        open({:?}, 'w').write(str(os.getpid()))\n        time.sleep(300)\n    os._exit(0)\nos.wait()\ntime.sleep(0.3)\n",
        daemon.display().to_string()
    );
    let text = clean_episode(&["python3", "-c", &script], "");
    let out = h.run(&h.plan(&text, &[])).await;
    let e = &out.record.application.as_ref().unwrap().episodes[0];
    assert_eq!(e.exit_code, Some(0), "{e:?}");
    let pid = std::fs::read_to_string(&daemon).unwrap();
    assert!(gone(pid.trim()), "the daemon {pid} survived the episode");
    // One that keeps forking and exiting, to stay ahead of whoever kills it.
    let hopper = dir.path().join("hopper");
    let script = format!(
        "import os, time\nif os.fork() == 0:\n    os.setsid()\n    end = time.time() + 300\n    while time.time() < end:\n        if os.fork() != 0:\n            os._exit(0)\n        open({:?}, 'w').write(str(os.getpid()))\n        time.sleep(0.005)\n    os._exit(0)\nos.wait()\ntime.sleep(0.3)\n",
        hopper.display().to_string()
    );
    let text = clean_episode(&["python3", "-c", &script], "");
    let _ = h.run(&h.plan(&text, &[])).await;
    std::thread::sleep(std::time::Duration::from_millis(200));
    let first = std::fs::read_to_string(&hopper).unwrap();
    std::thread::sleep(std::time::Duration::from_millis(300));
    let second = std::fs::read_to_string(&hopper).unwrap();
    assert_eq!(first, second, "the forking daemon is still running");
    // The environment was cleared: only PATH and what shipgate sets.
    let text = clean_episode(
        &["sh", "-c", "env | cut -d= -f1 | sort"],
        "env = { APP_MODE = \"test\" }\n",
    );
    // A variable the test process has (HOME, CARGO_*) must not reach it.
    let out = h.run(&h.plan(&text, &[])).await;
    let e = &out.record.application.as_ref().unwrap().episodes[0];
    let vars: Vec<&str> = e.stdout.lines().filter(|l| !l.is_empty()).collect();
    for v in &vars {
        assert!(
            [
                "APP_MODE",
                "OPENAI_API_KEY",
                "OPENAI_BASE_URL",
                "PATH",
                "PWD",
                "SHIPGATE_EPISODE",
                "SHLVL",
                "_"
            ]
            .contains(v),
            "{v} leaked into the application's environment: {vars:?}"
        );
    }
    assert!(vars.contains(&"OPENAI_API_KEY") && vars.contains(&"APP_MODE"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_service_is_started_asked_for_work_and_stopped_each_episode() {
    if std::process::Command::new("python3")
        .arg("--version")
        .output()
        .is_err()
    {
        eprintln!("skipped: python3 is not installed");
        return;
    }
    let h = Harness::new().await;
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let service = concat!(env!("CARGO_MANIFEST_DIR"), "/apps/service.py");
    let text = format!(
        "[thresholds]\nrequest_timeout_ms = 2000\n\n[application]\nstart = [\"python3\", {service:?}]\nready_url = \"http://127.0.0.1:{port}/health\"\ntrigger = {{ url = \"http://127.0.0.1:{port}/ask\", body = \"{{}}\" }}\nenv = {{ PORT = \"{port}\" }}\ntimeout_ms = 20000\nscenarios = [\"clean\", \"outage\", \"rate-limited\"]\n\n[[plugins]]\nname = \"client-resilience\"\ngrants = {{ traffic = true }}\n"
    );
    let out = h.run(&h.plan(&text, &[])).await;
    let app = out.record.application.as_ref().unwrap();
    for e in &app.episodes {
        assert_eq!(e.trigger_status, Some(200), "{e:#?}");
        assert!(!e.timed_out && e.service_error.is_none(), "{e:#?}");
    }
    assert_eq!(app.episodes[1].exchanges.len(), 3, "{:#?}", app.episodes[1]);
    for (id, v) in verdicts(&out) {
        assert!(matches!(v, Verdict::Pass | Verdict::Skip), "{id}: {v:?}");
    }
    // Stopped at the end of each episode: the port is free again.
    assert!(std::net::TcpListener::bind(("127.0.0.1", port)).is_ok());
    // A trigger that is not on loopback is refused before anything runs.
    let bad = text.replace(
        &format!("http://127.0.0.1:{port}/ask"),
        "http://example.com/ask",
    );
    let e = shipgate::plan::Plan::parse(
        std::path::Path::new("plan.toml"),
        &format!("schema = 1\n{bad}"),
        &shipgate::bundled::names(),
        &[],
    )
    .unwrap_err();
    assert!(e.message().contains("127.0.0.1, ::1 or localhost"), "{e}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_applications_traffic_meets_the_plans_spend_limits() {
    if std::process::Command::new("python3")
        .arg("--version")
        .output()
        .is_err()
    {
        eprintln!("skipped: python3 is not installed");
        return;
    }
    let h = Harness::new().await;
    // Three requests: an unapproved model, a huge output ceiling, and one
    // without a ceiling (sent on with the plan's ceiling set).
    let script = r#"
import json, os, urllib.request, urllib.error
base = os.environ["OPENAI_BASE_URL"]; key = os.environ["OPENAI_API_KEY"]
for i, body in enumerate([{"model": "gpt-5-expensive"}, {"max_tokens": 100000}, {}]):
    b = {"model": "mock-gpt", "messages": [{"role": "user", "content": "hi %d" % i}]}
    b.update(body)
    req = urllib.request.Request(base + "/chat/completions", data=json.dumps(b).encode(),
        headers={"Authorization": "Bearer " + key, "Content-Type": "application/json"})
    try:
        print(urllib.request.urlopen(req, timeout=5).status)
    except urllib.error.HTTPError as e:
        print(e.code)
"#;
    let text = format!(
        "[application]\ncommand = [\"python3\", \"-c\", {script:?}]\nscenarios = [\"clean\"]\n\n[[plugins]]\nname = \"client-contract\"\ngrants = {{ traffic = true }}\n"
    );
    let out = h.run(&h.plan(&text, &[])).await;
    let e = &out.record.application.as_ref().unwrap().episodes[0];
    let statuses: Vec<Option<u16>> = e.exchanges.iter().map(|x| x.status).collect();
    assert_eq!(statuses, [Some(403), Some(403), Some(200)], "{e:#?}");
    assert!(
        e.exchanges[0]
            .refused
            .as_deref()
            .unwrap()
            .contains("gpt-5-expensive")
    );
    assert_eq!(e.stdout.lines().collect::<Vec<_>>(), ["403", "403", "200"]);
    // What reached the mock had the plan's ceiling set.
    let sent = h.mock.requests();
    assert_eq!(sent.len(), 1);
    let body: serde_json::Value = serde_json::from_slice(&sent[0].body).unwrap();
    assert_eq!(body["max_tokens"], 64, "{body}");
    // The judge saw what the application sent, not the re-encoding.
    assert_eq!(
        finding(&out, "client-contract.model").verdict,
        Verdict::Fail
    );
    assert_eq!(
        finding(&out, "client-contract.output-ceiling").verdict,
        Verdict::Fail
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_that_accepts_a_cut_stream_is_held_and_one_that_checks_is_not() {
    if std::process::Command::new("python3")
        .arg("--version")
        .output()
        .is_err()
    {
        eprintln!("skipped: python3 is not installed");
        return;
    }
    let h = Harness::new().await;
    let client = concat!(env!("CARGO_MANIFEST_DIR"), "/apps/stream_client.py");
    let run = |careful: bool| {
        let mut cmd = vec!["python3".to_owned(), client.to_owned()];
        if careful {
            cmd.push("--careful".into());
        }
        let cmd: Vec<String> = cmd.iter().map(|c| format!("{c:?}")).collect();
        format!(
            "[application]\ncommand = [{}]\nscenarios = [\"clean\", \"truncated-stream\", \"dropped-stream\", \"corrupt-chunk\"]\ntimeout_ms = 10000\n\n[[plugins]]\nname = \"client-resilience\"\ngrants = {{ traffic = true }}\n",
            cmd.join(", ")
        )
    };
    let out = h.run(&h.plan(&run(false), &[])).await;
    assert_eq!(
        finding(&out, "client.truncated_stream_accepted").verdict,
        Verdict::Fail
    );
    assert_eq!(
        finding(&out, "client.malformed_chunk_ignored").verdict,
        Verdict::Warn
    );
    let app = out.record.application.as_ref().unwrap();
    let cut = app
        .episodes
        .iter()
        .find(|e| e.scenario == "truncated-stream")
        .unwrap();
    assert_eq!(
        cut.exchanges[0].injected.as_deref(),
        Some("truncated-stream")
    );
    let out = h.run(&h.plan(&run(true), &[])).await;
    assert_eq!(
        finding(&out, "client.truncated_stream_accepted").verdict,
        Verdict::Pass
    );
    assert_eq!(
        finding(&out, "client.malformed_chunk_ignored").verdict,
        Verdict::Pass
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_application_never_receives_the_key_the_target_reflects() {
    // A target that echoes the key the interposer sent: compressed (in a
    // second content-encoding header), split across two request-id
    // headers. What the application reads is checked, not what shipgate
    // records of it.
    for fault in [
        "echo-second-encoding",
        "echo-content-encoded",
        "echo-split-request-ids",
        "echo-cut",
    ] {
        let config = shipgate::mock::MockConfig::new(crate::support::KEY)
            .when(shipgate::mock::When::Any, fault.parse().unwrap());
        let h = Harness::with(config).await;
        let dir = tempfile::tempdir().unwrap();
        let seen = dir.path().join("seen");
        let script = r#"
import json, os, urllib.request, urllib.error
req = urllib.request.Request(os.environ["OPENAI_BASE_URL"].rstrip("/") + "/chat/completions",
    data=json.dumps({"model": "mock-gpt", "messages": [{"role": "user", "content": "hi"}], "max_tokens": 8}).encode(),
    headers={"authorization": "Bearer " + os.environ["OPENAI_API_KEY"], "content-type": "application/json"})
try:
    r = urllib.request.urlopen(req, timeout=10)
    status, headers, body = r.status, r.getheaders(), r.read()
except urllib.error.HTTPError as e:
    status, headers, body = e.code, e.headers.items(), e.read()
with open(os.environ["SEEN"], "wb") as f:
    f.write(str(status).encode() + b"\n")
    for k, v in headers:
        f.write(k.encode() + b": " + v.encode() + b"\n")
    f.write(body)
"#;
        let text = clean_episode(
            &["python3", "-c", script],
            &format!("env = {{ SEEN = {:?} }}\n", seen.display().to_string()),
        );
        let out = h.run(&h.plan(&text, &[])).await;
        let got = std::fs::read(&seen).unwrap_or_else(|e| {
            panic!(
                "{fault}: the application wrote nothing ({e}): {:?}",
                out.record.application
            )
        });
        let text = String::from_utf8_lossy(&got).into_owned();
        let key = crate::support::KEY;
        let reversed: String = key.chars().rev().collect();
        let (a, b) = key.split_at(key.len() / 2);
        let joined: String = text.lines().collect();
        for form in [key, reversed.as_str()] {
            assert!(
                !text.contains(form),
                "{fault}: the application got the key: {text}"
            );
        }
        assert!(
            !(joined.contains(&a[a.len() - 8..]) && joined.contains(&b[..8])),
            "{fault}: the application got both halves of the key: {text}"
        );
        // Nor any 12 characters of it (a cut key is not masked: it is withheld).
        let secret_part = key.trim_start_matches("sk-");
        for i in 0..secret_part.len().saturating_sub(12) {
            let piece = &secret_part[i..i + 12];
            assert!(
                !joined.contains(piece),
                "{fault}: the application got {piece}: {text}"
            );
        }
    }
}
