//! The `shipgate` binary: exit codes, one-line errors, and nothing sent on bad input.

use std::path::Path;
use std::process::{Command, Output};

fn shipgate(dir: &Path, args: &[&str], env: &[(&str, &str)]) -> Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_shipgate"));
    cmd.current_dir(dir)
        .args(args)
        .env_remove("SHIPGATE_MOCK_KEY")
        .env_remove("SHIPGATE_SET")
        .env("NO_COLOR", "1");
    for (k, v) in env {
        cmd.env(k, v);
    }
    cmd.output().expect("run shipgate")
}

/// A child process killed and reaped when dropped, even if the test panics.
struct Reaped(std::process::Child);

impl Drop for Reaped {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

#[test]
fn demo_prints_a_decision_and_writes_a_record() {
    let dir = tempfile::tempdir().unwrap();
    let o = shipgate(dir.path(), &["demo", "--out", "records"], &[]);
    assert!(o.status.success(), "{}", stderr(&o));
    let stdout = String::from_utf8_lossy(&o.stdout);
    let first = stdout.lines().find(|l| !l.trim().is_empty()).unwrap();
    assert!(
        first.trim_start().starts_with("decision: "),
        "decision comes first: {stdout}"
    );
    let run = std::fs::read_dir(dir.path().join("records"))
        .unwrap()
        .next()
        .unwrap()
        .unwrap()
        .path();
    for f in ["record.json", "report.md", "junit.xml", "log.jsonl"] {
        assert!(run.join(f).metadata().unwrap().len() > 0, "{f}");
    }
    let record: serde_json::Value =
        serde_json::from_slice(&std::fs::read(run.join("record.json")).unwrap()).unwrap();
    assert!(record["decision"]["outcome"].is_string());
}

#[test]
fn bad_plan_is_exit_2_with_file_line_and_fix() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("plan.toml"),
        "schema = 1\n[thresholds]\nlatency = 5\n",
    )
    .unwrap();
    assert!(
        shipgate(
            dir.path(),
            &["init", "--provider", "mock", "-o", "c.toml"],
            &[]
        )
        .status
        .success()
    );
    let o = shipgate(
        dir.path(),
        &["run", "-c", "c.toml", "-p", "plan.toml"],
        &[("SHIPGATE_MOCK_KEY", "k")],
    );
    assert_eq!(o.status.code(), Some(2));
    let e = stderr(&o);
    assert!(
        e.contains("plan.toml: line 3: unknown field `latency`"),
        "{e}"
    );
    assert!(e.contains("help:"), "{e}");
    assert!(!dir.path().join("shipgate-records").exists(), "nothing ran");
}

#[test]
fn missing_secret_variable_is_exit_2_naming_it() {
    let dir = tempfile::tempdir().unwrap();
    assert!(
        shipgate(
            dir.path(),
            &["init", "--provider", "cometapi", "-o", "c.toml"],
            &[]
        )
        .status
        .success()
    );
    let o = shipgate(
        dir.path(),
        &["run", "-c", "c.toml"],
        &[("COMETAPI_KEY", "")],
    );
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("COMETAPI_KEY"), "{}", stderr(&o));
}

#[test]
fn unreadable_and_malformed_contracts_are_exit_2() {
    let dir = tempfile::tempdir().unwrap();
    let o = shipgate(dir.path(), &["run", "-c", "nope.toml"], &[]);
    assert_eq!(o.status.code(), Some(2));
    assert!(
        stderr(&o).contains("nope.toml: cannot read the contract"),
        "{}",
        stderr(&o)
    );
    std::fs::write(dir.path().join("c.toml"), "schema = 1\nprovider = \n").unwrap();
    let o = shipgate(dir.path(), &["run", "-c", "c.toml"], &[]);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("c.toml: line 2"), "{}", stderr(&o));
}

#[test]
fn init_refuses_to_overwrite() {
    let dir = tempfile::tempdir().unwrap();
    assert!(
        shipgate(dir.path(), &["init", "-o", "c.toml"], &[])
            .status
            .success()
    );
    let o = shipgate(dir.path(), &["init", "-o", "c.toml"], &[]);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("--force"));
}

#[test]
fn bad_override_and_bad_plugin_file_are_exit_2() {
    let dir = tempfile::tempdir().unwrap();
    assert!(
        shipgate(
            dir.path(),
            &["init", "--provider", "mock", "-o", "c.toml"],
            &[]
        )
        .status
        .success()
    );
    let key = [("SHIPGATE_MOCK_KEY", "k")];
    let o = shipgate(
        dir.path(),
        &["run", "-c", "c.toml", "--set", "latency"],
        &key,
    );
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("KEY=VALUE"), "{}", stderr(&o));
    std::fs::write(dir.path().join("x.wasm"), b"not wasm").unwrap();
    let o = shipgate(
        dir.path(),
        &["run", "-c", "c.toml", "--plugin", "x.wasm"],
        &key,
    );
    assert_eq!(o.status.code(), Some(2));
    assert!(
        stderr(&o).contains("x.wasm: not a WebAssembly file"),
        "{}",
        stderr(&o)
    );
}

#[test]
fn run_against_a_mock_server_exits_by_decision() {
    // A mock on a free port, driven through the CLI as an operator would.
    let dir = tempfile::tempdir().unwrap();
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let _mock = Reaped(
        Command::new(env!("CARGO_BIN_EXE_shipgate"))
            .args(["mock-server", "--port", &port.to_string()])
            .env("SHIPGATE_MOCK_KEY", "sk-cli-test-key-0123456789")
            .stdout(std::process::Stdio::null())
            .spawn()
            .unwrap(),
    );
    for _ in 0..100 {
        if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    let text = shipgate::contract::template(
        shipgate::contract::Provider::Mock,
        Some(&format!("http://127.0.0.1:{port}/v1")),
    );
    std::fs::write(dir.path().join("c.toml"), text).unwrap();
    let good = [("SHIPGATE_MOCK_KEY", "sk-cli-test-key-0123456789")];
    let o = shipgate(
        dir.path(),
        &["run", "-c", "c.toml", "--fail-on", "hold"],
        &good,
    );
    let o_flag = shipgate(dir.path(), &["run", "-c", "c.toml"], &good);
    let bad = shipgate(
        dir.path(),
        &["run", "-c", "c.toml"],
        &[("SHIPGATE_MOCK_KEY", "sk-wrong-key-0123456789")],
    );
    // With the bundled checks the mock is not fully covered: Ship behind flag.
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert_eq!(o_flag.status.code(), Some(3), "{}", stderr(&o_flag));
    assert_eq!(bad.status.code(), Some(4), "{}", stderr(&bad));
    for out in [&o, &o_flag, &bad] {
        assert!(!String::from_utf8_lossy(&out.stdout).contains("sk-cli-test-key"));
        assert!(!stderr(out).contains("sk-cli-test-key"));
    }
}
