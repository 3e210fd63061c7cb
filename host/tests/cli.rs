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

/// `shipgate mock-server` on a free port, accepting `key`; returns the guard and its base URL.
fn start_mock(key: &str) -> (Reaped, String) {
    start_mock_with(key, &[])
}

/// [`start_mock`] with mock-server arguments (such as `--fault delay:20`).
fn start_mock_with(key: &str, args: &[&str]) -> (Reaped, String) {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let child = Command::new(env!("CARGO_BIN_EXE_shipgate"))
        .args(["mock-server", "--port", &port.to_string()])
        .args(args)
        .env("SHIPGATE_MOCK_KEY", key)
        .stdout(std::process::Stdio::null())
        .spawn()
        .unwrap();
    for _ in 0..100 {
        if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    (Reaped(child), format!("http://127.0.0.1:{port}/v1"))
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
    let key = [("SHIPGATE_MOCK_KEY", "sk-test-0123456789")];
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
    let (_mock, base) = start_mock("sk-cli-test-key-0123456789");
    let text = shipgate::contract::template(shipgate::contract::Provider::Mock, Some(&base));
    std::fs::write(dir.path().join("c.toml"), text).unwrap();
    // The application's items and the operator's, attested: the provider checks decide.
    let mut plan = String::from("schema = 1\n[attestations]\n");
    for item in [
        "request-schema-validated",
        "retry-policy-bounded",
        "timeout-policy-configured",
        "token-limits-configurable",
        "logs-redacted",
        "metrics-attached",
        "rollout-flag-available",
        "rollback-documented",
    ] {
        plan.push_str(&format!("{item} = \"checked in staging\"\n"));
    }
    for name in ["canary", "contract", "negative-probes", "guardrails"] {
        plan.push_str(&format!("\n[[plugins]]\nname = \"{name}\"\n"));
        if name == "negative-probes" {
            plan.push_str("grants = { auth = [\"configured\", \"omitted\", \"invalid\"] }\n");
        }
    }
    std::fs::write(dir.path().join("plan.toml"), plan).unwrap();
    let good = [("SHIPGATE_MOCK_KEY", "sk-cli-test-key-0123456789")];
    let ship = shipgate(
        dir.path(),
        &["run", "-c", "c.toml", "-p", "plan.toml"],
        &good,
    );
    // A latency warning (a target that answers in 20 ms, a 1 ms threshold):
    // Ship behind flag, which fails the default --fail-on flag.
    let (_slow_mock, slow) =
        start_mock_with("sk-cli-test-key-0123456789", &["--fault", "delay:20"]);
    let slow = shipgate::contract::template(shipgate::contract::Provider::Mock, Some(&slow));
    std::fs::write(dir.path().join("slow.toml"), slow).unwrap();
    let warn = [
        "run",
        "-c",
        "slow.toml",
        "-p",
        "plan.toml",
        "--set",
        "canary.latency_ms=1",
    ];
    let o_flag = shipgate(dir.path(), &warn, &good);
    let o_hold_only = shipgate(
        dir.path(),
        &[&warn[..], &["--fail-on", "hold"]].concat(),
        &good,
    );
    let bad = shipgate(
        dir.path(),
        &["run", "-c", "c.toml", "-p", "plan.toml"],
        &[("SHIPGATE_MOCK_KEY", "sk-wrong-key-0123456789")],
    );
    assert_eq!(
        ship.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&ship.stdout)
    );
    assert_eq!(
        o_flag.status.code(),
        Some(3),
        "{}",
        String::from_utf8_lossy(&o_flag.stdout)
    );
    assert_eq!(
        o_hold_only.status.code(),
        Some(0),
        "{}",
        stderr(&o_hold_only)
    );
    assert_eq!(bad.status.code(), Some(4), "{}", stderr(&bad));
    for out in [&ship, &o_flag, &bad] {
        assert!(!String::from_utf8_lossy(&out.stdout).contains("sk-cli-test-key"));
        assert!(!stderr(out).contains("sk-cli-test-key"));
    }
}

#[test]
fn diff_compares_records_and_rejects_non_records() {
    let dir = tempfile::tempdir().unwrap();
    assert!(
        shipgate(dir.path(), &["demo", "--out", "a"], &[])
            .status
            .success()
    );
    let run = |d: &str| {
        std::fs::read_dir(dir.path().join(d))
            .unwrap()
            .next()
            .unwrap()
            .unwrap()
            .path()
    };
    let a = run("a");
    let o = shipgate(
        dir.path(),
        &["diff", a.to_str().unwrap(), a.to_str().unwrap()],
        &[],
    );
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert!(
        String::from_utf8_lossy(&o.stdout).starts_with("no drift between runs "),
        "{}",
        String::from_utf8_lossy(&o.stdout)
    );
    // A record whose decision changed is drift (exit 5), also as JSON.
    let mut v: serde_json::Value =
        serde_json::from_slice(&std::fs::read(a.join("record.json")).unwrap()).unwrap();
    v["decision"]["outcome"] = serde_json::json!("ship");
    v["run_id"] = serde_json::json!("00000000-0000-0000-0000-000000000000");
    std::fs::write(dir.path().join("b.json"), serde_json::to_vec(&v).unwrap()).unwrap();
    let o = shipgate(
        dir.path(),
        &["diff", "--json", a.to_str().unwrap(), "b.json"],
        &[],
    );
    assert_eq!(o.status.code(), Some(5), "{}", stderr(&o));
    let drift: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(drift["decision"][1], "ship");
    std::fs::write(dir.path().join("c.json"), "{\"hello\": 1}").unwrap();
    let o = shipgate(dir.path(), &["diff", "b.json", "c.json"], &[]);
    assert_eq!(o.status.code(), Some(2));
    assert!(
        stderr(&o).contains("c.json: not a shipgate record"),
        "{}",
        stderr(&o)
    );
}

/// `docs/writing-a-check.md` as a shell script: its `sh` blocks as written,
/// and each file it shows (`<!-- file: PATH -->`) written where it says.
fn tutorial_script(doc: &str) -> (String, Vec<(String, String)>) {
    let mut script = String::from("set -ex\n");
    let mut files = Vec::new();
    let mut lines = doc.lines();
    let mut last_text = "";
    while let Some(line) = lines.next() {
        if let Some(info) = line.strip_prefix("```") {
            let body: Vec<&str> = lines.by_ref().take_while(|l| *l != "```").collect();
            let body = body.join("\n") + "\n";
            if info == "sh" {
                script.push_str(&body);
            } else if let Some(path) = last_text
                .strip_prefix("<!-- file: ")
                .and_then(|p| p.strip_suffix(" -->"))
            {
                script.push_str(&format!(
                    "cat > {path} <<'SHIPGATE_DOC_EOF'\n{body}SHIPGATE_DOC_EOF\n"
                ));
                files.push((path.to_owned(), body));
            }
        } else if !line.trim().is_empty() {
            last_text = line.trim();
        }
    }
    (script, files)
}

/// A finding as (plugin, id, verdict).
type Verdict3 = (String, String, String);

/// The findings of a record: (plugin, id, verdict), sorted.
fn findings_of(record: &serde_json::Value) -> Vec<Verdict3> {
    let mut out: Vec<Verdict3> = record["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| {
            let s = |k: &str| f[k].as_str().unwrap_or_default().to_owned();
            (s("plugin"), s("id"), s("verdict"))
        })
        .collect();
    out.sort();
    out
}

/// A record file's `contract_source` and findings.
fn record_verdicts(path: &Path) -> (String, Vec<Verdict3>) {
    let v: serde_json::Value = serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap();
    let source = v["contract_source"].as_str().unwrap_or_default().to_owned();
    (source, findings_of(&v))
}

#[test]
fn the_tutorial_runs_verbatim_outside_the_repository() {
    let repo = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let doc = std::fs::read_to_string(repo.join("docs/writing-a-check.md")).unwrap();
    let (script, files) = tutorial_script(&doc);
    // The tutorial's check is the workspace's example, word for word.
    assert_eq!(files.len(), 1);
    assert_eq!(
        files[0].1,
        std::fs::read_to_string(repo.join("examples/checks/json-answer/src/lib.rs")).unwrap(),
        "docs/writing-a-check.md shows another src/lib.rs than examples/checks/json-answer"
    );
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("tutorial.sh"), &script).unwrap();
    let bin = Path::new(env!("CARGO_BIN_EXE_shipgate")).parent().unwrap();
    let path = format!(
        "{}:{}",
        bin.display(),
        std::env::var("PATH").unwrap_or_default()
    );
    // As a reader would run it; offline, as every crate it needs is cached.
    let o = Command::new("sh")
        .arg("tutorial.sh")
        .current_dir(dir.path())
        .env("PATH", path)
        .env("CARGO_NET_OFFLINE", "true")
        .env("NO_COLOR", "1")
        .env_remove("CARGO_TARGET_DIR")
        .env_remove("RUSTFLAGS")
        .env_remove("CARGO_ENCODED_RUSTFLAGS")
        .env_remove("SHIPGATE_MOCK_KEY")
        .env_remove("SHIPGATE_SET")
        .output()
        .unwrap();
    assert!(
        o.status.success(),
        "the tutorial failed:\n{}\n{}",
        String::from_utf8_lossy(&o.stdout),
        stderr(&o)
    );
    let crate_dir = dir.path().join("json-answer");
    // Nothing generated names this machine: the SDK and WIT are vendored.
    for entry in walk(&crate_dir) {
        let rel = entry.strip_prefix(&crate_dir).unwrap();
        if rel.starts_with("target") || rel.starts_with("shipgate-records") {
            continue;
        }
        let text = String::from_utf8_lossy(&std::fs::read(&entry).unwrap()).into_owned();
        assert!(
            !text.contains(env!("CARGO_MANIFEST_DIR"))
                && !text.contains(dir.path().to_str().unwrap()),
            "{} holds a machine path",
            entry.display()
        );
    }
    assert!(crate_dir.join("vendor/wit/plugin.wit").exists());
    // The recorded run and its replays: the same findings, the new check's among them.
    let mut runs: Vec<(String, Vec<Verdict3>)> = walk(&crate_dir.join("shipgate-records"))
        .into_iter()
        .filter(|p| p.ends_with("record.json") && !p.to_string_lossy().contains("latest"))
        .map(|p| record_verdicts(&p))
        .collect();
    runs.sort();
    let live: Vec<_> = runs
        .iter()
        .filter(|(s, _)| s == "built-in mock contract")
        .collect();
    assert_eq!(live.len(), 2, "the check on the mock and the recorded run");
    let recorded = live.iter().max_by_key(|(_, f)| f.len()).unwrap();
    assert!(
        recorded.1.contains(&(
            "json_answer".to_owned(),
            "json-answer.parses".to_owned(),
            "pass".to_owned()
        )),
        "{:?}",
        recorded.1
    );
    let replays: Vec<_> = runs
        .iter()
        .filter(|(s, f)| s.contains("replayed from cassettes") && f.len() == recorded.1.len())
        .collect();
    assert_eq!(replays.len(), 2, "run --replay, with and without --lock");
    for (_, findings) in replays {
        assert_eq!(findings, &recorded.1);
    }
    let tape = std::fs::read_to_string(crate_dir.join("cassettes/json_answer.jsonl")).unwrap();
    assert!(
        tape.contains("\"response_format\":{\"type\":\"json_object\"}"),
        "{tape}"
    );

    // The component, against a server that fails everything: exit 4.
    let wasm = crate_dir.join("target/wasm32-wasip2/release/json_answer.wasm");
    let (_broken, base) = start_mock_with(
        "sk-scaffold-test-key-0123456789",
        &["--when", "any=status:500"],
    );
    let text = shipgate::contract::template(shipgate::contract::Provider::Mock, Some(&base));
    std::fs::write(dir.path().join("broken.toml"), text).unwrap();
    let o = shipgate(
        dir.path(),
        &["check", wasm.to_str().unwrap(), "-c", "broken.toml", "-q"],
        &[("SHIPGATE_MOCK_KEY", "sk-scaffold-test-key-0123456789")],
    );
    assert_eq!(o.status.code(), Some(4), "{}", stderr(&o));
    // Inspect it: what it is and declares, nothing sent.
    let o = shipgate(
        dir.path(),
        &["inspect", wasm.to_str().unwrap(), "--json"],
        &[],
    );
    assert!(o.status.success(), "{}", stderr(&o));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v["descriptor"]["name"], "json-answer");
    assert_eq!(v["descriptor"]["findings"][0], "json-answer.parses");
    assert_eq!(
        v["wit"],
        format!(
            "shipgate:plugin@{}",
            shipgate::runtime::load_info::WIT_VERSION
        )
    );
    assert_eq!(v["sha256"].as_str().unwrap().len(), 64);
    std::fs::write(dir.path().join("notes.wasm"), b"not a component").unwrap();
    let o = shipgate(dir.path(), &["inspect", "notes.wasm"], &[]);
    assert_eq!(o.status.code(), Some(2));
    assert!(
        stderr(&o).contains("not a WebAssembly file"),
        "{}",
        stderr(&o)
    );
    // `--set` reaches it by name, and a setting it does not declare is refused.
    let o = shipgate(
        dir.path(),
        &[
            "run",
            "--mock",
            "--plugin",
            wasm.to_str().unwrap(),
            "--only",
            "json_answer",
            "--set",
            "json_answer.greeting=hi",
        ],
        &[],
    );
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert!(stderr(&o).contains("greeting"), "{}", stderr(&o));
    let o = shipgate(dir.path(), &["run", "--mock", "--only", "nope"], &[]);
    assert_eq!(o.status.code(), Some(2));
    assert!(
        stderr(&o).contains("--only nope: the plan has no check of that name; it has canary"),
        "{}",
        stderr(&o)
    );
    assert_eq!(
        shipgate(dir.path(), &["new-check", "Bad Name"], &[])
            .status
            .code(),
        Some(2)
    );
}

#[test]
fn the_example_files_in_the_repo_are_valid() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples");
    for c in ["cometapi.contract.toml", "mock.contract.toml"] {
        let contract = shipgate::contract::Contract::load(&root.join(c))
            .unwrap_or_else(|e| panic!("{c}: {e}"));
        assert!(!contract.provider.is_empty());
    }
    let cometapi =
        shipgate::contract::Contract::load(&root.join("cometapi.contract.toml")).unwrap();
    assert_eq!(cometapi.base_url.url, "https://api.cometapi.com/v1");
    assert_eq!(cometapi.auth.credential_env, "COMETAPI_KEY");
    let plan =
        shipgate::plan::Plan::load(&root.join("plan.toml"), &shipgate::bundled::names(), &[])
            .unwrap();
    assert_eq!(plan.plugins.len(), 6);
}

/// A core module whose one function chains `n` constant additions: cheap to
/// write, costly for Cranelift to compile (seconds and hundreds of MiB per 100 KB).
fn costly_module(n: u32) -> Vec<u8> {
    use wasm_encoder::{
        CodeSection, Function, FunctionSection, Instruction, Module, TypeSection, ValType,
    };
    let mut m = Module::new();
    let mut types = TypeSection::new();
    types.ty().function([ValType::I32], [ValType::I32]);
    m.section(&types);
    let mut funcs = FunctionSection::new();
    funcs.function(0);
    m.section(&funcs);
    let mut f = Function::new([]);
    f.instruction(&Instruction::LocalGet(0));
    for i in 0..n {
        f.instruction(&Instruction::I32Const((i % 64) as i32));
        f.instruction(&Instruction::I32Add);
    }
    f.instruction(&Instruction::End);
    let mut code = CodeSection::new();
    code.function(&f);
    m.section(&code);
    m.finish()
}

/// A valid plugin with an unused, costly core module appended (component section 1).
fn plugin_with_compile_bomb() -> Vec<u8> {
    let mut bytes = shipgate::bundled::BUNDLED
        .iter()
        .find(|(n, _)| *n == "canary")
        .unwrap()
        .1
        .to_vec();
    let module = costly_module(400_000);
    bytes.push(1);
    let mut len = module.len();
    loop {
        let b = (len & 0x7f) as u8;
        len >>= 7;
        if len == 0 {
            bytes.push(b);
            break;
        }
        bytes.push(b | 0x80);
    }
    bytes.extend_from_slice(&module);
    bytes
}

#[test]
fn a_plugin_too_costly_to_compile_is_stopped_at_its_compile_limit() {
    let dir = tempfile::tempdir().unwrap();
    let (_mock, base) = start_mock("sk-cli-test-key-0123456789");
    let text = shipgate::contract::template(shipgate::contract::Provider::Mock, Some(&base));
    std::fs::write(dir.path().join("c.toml"), text).unwrap();
    let bomb = plugin_with_compile_bomb();
    assert!(
        bomb.len() < 2 * 1024 * 1024,
        "a small file: {} bytes",
        bomb.len()
    );
    std::fs::write(dir.path().join("bomb.wasm"), &bomb).unwrap();
    let t0 = std::time::Instant::now();
    let o = shipgate(
        dir.path(),
        &[
            "run",
            "-c",
            "c.toml",
            "--plugin",
            "bomb.wasm",
            "--only",
            "bomb",
            "--set",
            "sandbox.compile_ms=3000",
        ],
        &[
            ("SHIPGATE_MOCK_KEY", "sk-cli-test-key-0123456789"),
            ("SHIPGATE_NO_CACHE", "1"),
        ],
    );
    let took = t0.elapsed();
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert!(
        stderr(&o).contains("bomb.wasm: compiling took longer than 3 s"),
        "{}",
        stderr(&o)
    );
    assert!(took < std::time::Duration::from_secs(30), "took {took:?}");
    // With less memory than it needs, the compiler stops at that limit instead.
    let o = shipgate(
        dir.path(),
        &[
            "run",
            "-c",
            "c.toml",
            "--plugin",
            "bomb.wasm",
            "--only",
            "bomb",
            "--set",
            "sandbox.compile_memory_mib=256",
            "--set",
            "sandbox.compile_ms=120000",
        ],
        &[
            ("SHIPGATE_MOCK_KEY", "sk-cli-test-key-0123456789"),
            ("SHIPGATE_NO_CACHE", "1"),
        ],
    );
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert!(
        stderr(&o).contains("compiling stopped at its limits (256 MiB"),
        "{}",
        stderr(&o)
    );
}

#[test]
fn a_key_that_cannot_be_a_header_is_refused_without_printing_it() {
    let dir = tempfile::tempdir().unwrap();
    let (_mock, base) = start_mock("sk-cli-test-key-0123456789");
    let text = shipgate::contract::template(shipgate::contract::Provider::Mock, Some(&base));
    std::fs::write(dir.path().join("c.toml"), text).unwrap();
    let long = format!("sk-{}", "k".repeat(42_000));
    for key in ["sk-abcdéfghijklmnopqrstuvwxyz0123456789", long.as_str()] {
        let o = shipgate(
            dir.path(),
            &["run", "-c", "c.toml"],
            &[("SHIPGATE_MOCK_KEY", key)],
        );
        assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
        assert!(
            stderr(&o).contains("SHIPGATE_MOCK_KEY: the credential"),
            "{}",
            stderr(&o)
        );
        assert!(!stderr(&o).contains("panicked"), "{}", stderr(&o));
        let all = format!("{}{}", stderr(&o), String::from_utf8_lossy(&o.stdout));
        assert!(
            !all.contains("abcd") && !all.contains("kkkkkkkk"),
            "the key is not printed"
        );
    }
}

#[test]
fn a_target_that_does_not_answer_http_is_exit_2_before_anything_is_sent() {
    let dir = tempfile::tempdir().unwrap();
    let key = [("SHIPGATE_MOCK_KEY", "sk-cli-test-key-0123456789")];
    let run = |base: &str| {
        let text = shipgate::contract::template(shipgate::contract::Provider::Mock, Some(base));
        std::fs::write(dir.path().join("c.toml"), text).unwrap();
        shipgate(
            dir.path(),
            &["run", "-c", "c.toml", "--out", "records"],
            &key,
        )
    };
    // Nothing listens.
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = closed.local_addr().unwrap().port();
    drop(closed);
    let o = run(&format!("http://127.0.0.1:{port}/v1"));
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert!(
        stderr(&o).contains("connection was refused"),
        "{}",
        stderr(&o)
    );
    assert!(stderr(&o).contains("nothing was sent"), "{}", stderr(&o));

    // Something that is not HTTP.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let server = std::thread::spawn(move || {
        use std::io::{Read as _, Write as _};
        if let Ok((mut s, _)) = listener.accept() {
            let mut buf = [0u8; 512];
            let _ = s.read(&mut buf);
            let _ = s.write_all(b"SSH-2.0-OpenSSH_9.6\r\n");
        }
    });
    let o = run(&format!("http://127.0.0.1:{port}/v1"));
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert!(stderr(&o).contains("does not speak HTTP"), "{}", stderr(&o));
    server.join().unwrap();

    // TLS to a plain-HTTP server.
    let (_mock, base) = start_mock("sk-cli-test-key-0123456789");
    let o = run(&base.replace("http://", "https://"));
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert!(
        stderr(&o).contains("TLS handshake failed"),
        "{}",
        stderr(&o)
    );
    assert!(stderr(&o).contains("write http://"), "{}", stderr(&o));
    // No record was written for any of them.
    assert!(!dir.path().join("records").join("latest").exists());
}

#[test]
fn init_plan_writes_a_commented_plan_and_the_missing_plan_hint_names_it() {
    let dir = tempfile::tempdir().unwrap();
    let o = shipgate(dir.path(), &["init", "--plan"], &[]);
    assert!(o.status.success(), "{}", stderr(&o));
    let text = std::fs::read_to_string(dir.path().join("shipgate.plan.toml")).unwrap();
    assert!(text.contains("[thresholds]") && text.contains("[[plugins]]"));
    shipgate::plan::Plan::parse(
        std::path::Path::new("shipgate.plan.toml"),
        &text,
        &shipgate::bundled::names(),
        &[],
    )
    .unwrap();
    let o = shipgate(
        dir.path(),
        &["run", "--mock", "--plan", "missing.toml"],
        &[],
    );
    assert_eq!(o.status.code(), Some(2));
    assert!(
        stderr(&o).contains("`shipgate init --plan` writes a plan template"),
        "{}",
        stderr(&o)
    );
}

/// Every file under `dir`.
fn walk(dir: &Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() {
            out.extend(walk(&p));
        } else {
            out.push(p);
        }
    }
    out
}

#[test]
fn a_lockfile_pins_digests_and_grants() {
    let dir = tempfile::tempdir().unwrap();
    let plan = "schema = 1\n[[plugins]]\nname = \"canary\"\n";
    std::fs::write(dir.path().join("plan.toml"), plan).unwrap();
    let o = shipgate(dir.path(), &["lock", "--plan", "plan.toml"], &[]);
    assert!(o.status.success(), "{}", stderr(&o));
    let lock = std::fs::read_to_string(dir.path().join("shipgate.lock")).unwrap();
    assert!(
        lock.contains("name = \"canary\"") && lock.contains("sha256 = "),
        "{lock}"
    );
    // The same plan passes the lock (and runs).
    let o = shipgate(
        dir.path(),
        &[
            "run",
            "--mock",
            "--plan",
            "plan.toml",
            "--lock",
            "shipgate.lock",
            "--fail-on",
            "never",
            "-q",
        ],
        &[],
    );
    assert!(o.status.success(), "{}", stderr(&o));
    // A wider grant, or a check the lock does not know, is refused before anything is sent.
    std::fs::write(
        dir.path().join("wider.toml"),
        format!("{plan}grants = {{ audit = true }}\n[[plugins]]\nname = \"guardrails\"\n"),
    )
    .unwrap();
    let o = shipgate(
        dir.path(),
        &[
            "run",
            "--mock",
            "--plan",
            "wider.toml",
            "--lock",
            "shipgate.lock",
        ],
        &[],
    );
    assert_eq!(o.status.code(), Some(2));
    let e = stderr(&o);
    assert!(
        e.contains("canary: the plan grants audit = true, the lockfile does not"),
        "{e}"
    );
    assert!(e.contains("guardrails: not in the lockfile"), "{e}");
}

/// The findings of a `--json` run: (plugin, id, verdict), sorted.
fn verdicts(o: &Output) -> Vec<Verdict3> {
    let v: serde_json::Value =
        serde_json::from_slice(&o.stdout).unwrap_or_else(|e| panic!("{e}: {}", stderr(o)));
    findings_of(&v)
}

#[test]
fn cassettes_hold_no_secret_and_a_replay_gives_the_recorded_findings() {
    let key = "sk-cassette-secret-0123456789abcdef";
    let dir = tempfile::tempdir().unwrap();
    let env = [("SHIPGATE_MOCK_KEY", key)];
    // Record the whole built-in plan against a mock server.
    let (mock, base) = start_mock(key);
    let text = shipgate::contract::template(shipgate::contract::Provider::Mock, Some(&base));
    std::fs::write(dir.path().join("c.toml"), &text).unwrap();
    let live = shipgate(
        dir.path(),
        &[
            "run",
            "-c",
            "c.toml",
            "--cassettes",
            "tapes",
            "--json",
            "--fail-on",
            "never",
        ],
        &env,
    );
    assert!(live.status.success(), "{}", stderr(&live));
    // A server that echoes the key, in each form the scrub knows, is recorded too.
    for (i, form) in [
        "echo-headers",
        "echo-base64-header",
        "echo-url-encoded",
        "echo-json-escaped",
        "echo-key-as-request-id",
    ]
    .iter()
    .enumerate()
    {
        let (_echo, base) = start_mock_with(key, &["--when", &format!("any={form}")]);
        let text = shipgate::contract::template(shipgate::contract::Provider::Mock, Some(&base));
        std::fs::write(dir.path().join("echo.toml"), text).unwrap();
        let o = shipgate(
            dir.path(),
            &[
                "run",
                "-c",
                "echo.toml",
                "--only",
                "canary",
                "--cassettes",
                &format!("echo-{i}"),
                "-q",
                "--fail-on",
                "never",
            ],
            &env,
        );
        assert!(o.status.success(), "{form}: {}", stderr(&o));
        // The server did echo the key, and the cassette holds the mask.
        let tape =
            std::fs::read_to_string(dir.path().join(format!("echo-{i}/canary.jsonl"))).unwrap();
        assert!(tape.contains("[REDACTED:credential]"), "{form}: {tape}");
    }
    // Part of the key, which no mask can find: no cassette is written at all.
    let (_cut, base) = start_mock_with(key, &["--when", "any=echo-cut"]);
    let text = shipgate::contract::template(shipgate::contract::Provider::Mock, Some(&base));
    std::fs::write(dir.path().join("cut.toml"), text).unwrap();
    let o = shipgate(
        dir.path(),
        &[
            "run",
            "-c",
            "cut.toml",
            "--only",
            "canary",
            "--cassettes",
            "cut",
            "-q",
            "--fail-on",
            "never",
        ],
        &env,
    );
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    assert!(
        stderr(&o).contains("no cassette was written"),
        "{}",
        stderr(&o)
    );
    assert!(!dir.path().join("cut/canary.jsonl").exists());
    drop(mock);
    let b64 = |s: &str| {
        use base64::Engine as _;
        base64::engine::general_purpose::STANDARD.encode(s)
    };
    let forms = [
        key.to_owned(),
        b64(key),
        b64(&format!("Bearer {key}")),
        key.to_uppercase(),
        key[..20].to_owned(),
    ];
    let mut files = 0;
    for entry in walk(dir.path()) {
        let rel = entry
            .strip_prefix(dir.path())
            .unwrap()
            .to_string_lossy()
            .into_owned();
        if !(rel.starts_with("tapes") || rel.starts_with("echo-")) {
            continue;
        }
        files += 1;
        let text = std::fs::read_to_string(&entry).unwrap();
        for form in &forms {
            assert!(!text.contains(form.as_str()), "{rel} holds {form}");
        }
        assert!(
            !rel.ends_with(".jsonl") || !text.to_ascii_lowercase().contains("\"authorization\""),
            "{rel} holds an authorization header"
        );
    }
    assert!(files >= 20, "{files} cassette files");

    // Replay: no key in the environment, and the mock is gone (a request
    // that reached the network would be refused).
    let replay = shipgate(
        dir.path(),
        &["run", "--replay", "tapes", "--json", "--fail-on", "never"],
        &[],
    );
    assert!(replay.status.success(), "{}", stderr(&replay));
    assert_eq!(verdicts(&replay), verdicts(&live));
    assert!(
        stderr(&replay).contains("replayed: tapes, recorded"),
        "{}",
        stderr(&replay)
    );
    let v: serde_json::Value = serde_json::from_slice(&replay.stdout).unwrap();
    assert!(
        v["contract_source"]
            .as_str()
            .unwrap()
            .contains("replayed from tapes"),
        "{}",
        v["contract_source"]
    );

    // A plan that sends something else is told which request had no recording.
    let o = shipgate(
        dir.path(),
        &[
            "run",
            "--replay",
            "tapes",
            "--set",
            "thresholds.output_token_ceiling=32",
            "-q",
        ],
        &[],
    );
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert!(
        stderr(&o).contains("had no recorded exchange")
            && stderr(&o).contains("canary POST /v1/chat/completions (auth configured)"),
        "{}",
        stderr(&o)
    );
    // Another target's contract is refused, naming both URLs.
    std::fs::write(
        dir.path().join("other.toml"),
        shipgate::contract::template(
            shipgate::contract::Provider::Mock,
            Some("http://127.0.0.1:9/v1"),
        ),
    )
    .unwrap();
    let o = shipgate(
        dir.path(),
        &["run", "--replay", "tapes", "-c", "other.toml"],
        &[],
    );
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("recorded against"), "{}", stderr(&o));
    // A directory that is not a cassette directory is not written over, even
    // with a cassettes.json of its own.
    std::fs::write(dir.path().join("notes.txt"), "x").unwrap();
    let o = shipgate(
        dir.path(),
        &["run", "--mock", "--cassettes", ".", "-q"],
        &[],
    );
    assert_eq!(o.status.code(), Some(2));
    assert!(
        stderr(&o).contains("is not a shipgate cassette directory"),
        "{}",
        stderr(&o)
    );
    let other = dir.path().join("other");
    std::fs::create_dir(&other).unwrap();
    std::fs::write(other.join("cassettes.json"), r#"{"my": "index"}"#).unwrap();
    std::fs::write(other.join("data.jsonl"), "{}\n").unwrap();
    let o = shipgate(
        dir.path(),
        &["run", "--mock", "--cassettes", "other", "-q"],
        &[],
    );
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert!(other.join("data.jsonl").exists());
    // Recording again replaces only what the last recording wrote.
    std::fs::write(dir.path().join("tapes/mine.jsonl"), "{}\n").unwrap();
    let o = shipgate(
        dir.path(),
        &[
            "run",
            "--mock",
            "--only",
            "canary",
            "--cassettes",
            "tapes",
            "-q",
            "--fail-on",
            "never",
        ],
        &[],
    );
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(dir.path().join("tapes/mine.jsonl").exists());
    assert!(!dir.path().join("tapes/negative-probes.jsonl").exists());
    // A cassette directory cannot point shipgate at a file elsewhere.
    let hostile = dir.path().join("hostile");
    std::fs::create_dir(&hostile).unwrap();
    for f in ["cassettes.json", "canary.jsonl"] {
        std::fs::copy(dir.path().join("tapes").join(f), hostile.join(f)).unwrap();
    }
    std::os::unix::fs::symlink("/proc/self/environ", hostile.join("contract.toml")).unwrap();
    let o = shipgate(
        dir.path(),
        &["run", "--replay", "hostile", "-q"],
        &[("CANARY_ENV_SECRET", "envsecret-0123456789")],
    );
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert!(stderr(&o).contains("not a regular file"), "{}", stderr(&o));
    assert!(!stderr(&o).contains("envsecret"), "{}", stderr(&o));
    // Its words reach the terminal inert (an unknown key holding escapes).
    let painted = dir.path().join("painted");
    std::fs::create_dir(&painted).unwrap();
    std::fs::write(
        painted.join("cassettes.json"),
        "{\"format\":1,\"\\u001b[2J\\rdecided: SHIP\":1}",
    )
    .unwrap();
    let o = shipgate(dir.path(), &["run", "--replay", "painted", "-q"], &[]);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert!(!stderr(&o).contains(['\u{1b}', '\r']), "{:?}", stderr(&o));
}
