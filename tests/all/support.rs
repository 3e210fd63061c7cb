//! Test harness: a mock server, a contract pointing at it, and a shared runtime.

use shipgate::contract::{Contract, Provider, template};
use shipgate::mock::{MockConfig, MockServer};
use shipgate::plan::{Override, Plan};
use shipgate::redact::Secret;
use shipgate::runtime::Runtime;
use shipgate::validation::{RunOutput, Validation};
use std::path::Path;
use std::sync::OnceLock;

/// The key the mock accepts in tests. Shaped like a CometAPI key (`sk-` + 48).
pub const KEY: &str = "sk-TESTkey0123456789abcdefghijklmnopqrstuvwxyzABCDEF";

/// One runtime per test binary: compiled components are cached on disk.
pub fn runtime() -> &'static Runtime {
    static RT: OnceLock<Runtime> = OnceLock::new();
    RT.get_or_init(|| {
        let cache = Path::new(env!("CARGO_TARGET_TMPDIR")).join("shipgate-wasm-cache");
        Runtime::new(Some(&cache)).expect("runtime")
    })
}

/// A mock and a contract for it.
pub struct Harness {
    pub mock: MockServer,
    pub contract: Contract,
    /// Where the run's events go (nowhere unless a test says).
    pub events: shipgate::events::Events,
}

impl Harness {
    pub async fn new() -> Harness {
        Harness::with(MockConfig::new(KEY)).await
    }

    pub async fn with(config: MockConfig) -> Harness {
        let mock = MockServer::start(config, 0).await.expect("mock starts");
        let text = template(Provider::Mock, Some(&mock.base_url()));
        let contract = Contract::parse(Path::new("mock.toml"), &text).expect("mock contract");
        Harness {
            mock,
            contract,
            events: shipgate::events::Events::none(),
        }
    }

    /// A plan from TOML plugin entries, with overrides.
    pub fn plan(&self, plugins_toml: &str, overrides: &[&str]) -> Plan {
        let text = format!("schema = 1\n{plugins_toml}");
        let o: Vec<Override> = overrides.iter().map(|s| s.parse().unwrap()).collect();
        Plan::parse(
            Path::new("plan.toml"),
            &text,
            &shipgate::bundled::names(),
            &o,
        )
        .expect("plan parses")
    }

    /// Run a plan with the given credential.
    pub async fn run_with(&self, plan: &Plan, secret: &str) -> RunOutput {
        self.run_against(plan, secret, true).await
    }

    /// Run a plan as if the mock were a real provider: the host does not
    /// know it injects faults.
    pub async fn run_as_provider(&self, plan: &Plan) -> RunOutput {
        self.run_against(plan, KEY, false).await
    }

    async fn run_against(&self, plan: &Plan, secret: &str, target_is_mock: bool) -> RunOutput {
        self.try_run(plan, secret, target_is_mock)
            .await
            .expect("run starts")
    }

    /// Run a plan; `Err` when the run cannot start.
    pub async fn try_run(
        &self,
        plan: &Plan,
        secret: &str,
        target_is_mock: bool,
    ) -> Result<RunOutput, shipgate::validation::SetupError> {
        Validation {
            events: self.events.clone(),
            contract_source: "mock.toml".into(),
            target_is_mock,
            ..Validation::new(&self.contract, plan, runtime(), Some(Secret::new(secret)))
        }
        .run(std::future::pending())
        .await
    }

    /// Run a plan with the right key.
    pub async fn run(&self, plan: &Plan) -> RunOutput {
        self.run_with(plan, KEY).await
    }
}

/// A `[[plugins]]` entry for a fixture file.
pub fn fixture(name: &str, path: &str, extra: &str) -> String {
    format!("[[plugins]]\nname = \"{name}\"\npath = \"{path}\"\n{extra}\n")
}

/// A `[[plugins]]` entry for a bundled check.
pub fn bundled(name: &str, extra: &str) -> String {
    format!("[[plugins]]\nname = \"{name}\"\n{extra}\n")
}

/// Write the run's record directory into a fresh temporary directory.
pub fn write_record(out: &RunOutput) -> (tempfile::TempDir, shipgate::report::RecordPaths) {
    let dir = tempfile::tempdir().unwrap();
    let paths = shipgate::report::write_record_dir(
        dir.path(),
        &out.record,
        &out.log,
        &out.redactor,
        shipgate::report::JunitOptions {
            warn: shipgate::plan::JunitWarn::Pass,
            decision_fails: out.record.decision.outcome != shipgate::decision::Outcome::Ship,
        },
    )
    .unwrap();
    (dir, paths)
}

/// Every byte the run would persist: record JSON, log lines, markdown, JUnit.
pub fn persisted(out: &RunOutput) -> String {
    let (_dir, paths) = write_record(out);
    let mut all = String::new();
    for p in [&paths.record, &paths.log, &paths.report, &paths.junit] {
        all.push_str(&std::fs::read_to_string(p).unwrap());
    }
    all
}

/// The findings of one plugin, by id.
pub fn finding<'a>(out: &'a RunOutput, id: &str) -> &'a shipgate::findings::Finding {
    out.record
        .findings
        .iter()
        .find(|f| f.id == id)
        .unwrap_or_else(|| {
            panic!(
                "no finding {id}; have {:?}",
                out.record
                    .findings
                    .iter()
                    .map(|f| &f.id)
                    .collect::<Vec<_>>()
            )
        })
}

/// An evidence value.
pub fn evidence<'a>(f: &'a shipgate::findings::Finding, key: &str) -> &'a str {
    f.evidence
        .iter()
        .find(|e| e.key == key)
        .map(|e| e.value.as_str())
        .unwrap_or_else(|| panic!("no evidence {key} in {f:?}"))
}

/// Standard base64 (padded), for planting and hunting encoded secrets.
pub fn base64_std(s: &str) -> String {
    const T: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let b = s.as_bytes();
    let mut out = String::new();
    for c in b.chunks(3) {
        let n = (u32::from(c[0]) << 16)
            | (u32::from(*c.get(1).unwrap_or(&0)) << 8)
            | u32::from(*c.get(2).unwrap_or(&0));
        for i in 0..4 {
            out.push(if i <= c.len() {
                T[((n >> (18 - 6 * i)) & 63) as usize] as char
            } else {
                '='
            });
        }
    }
    out
}

/// Run a plan with every option: baseline and cancellation.
pub async fn run_full(
    h: &Harness,
    plan: &Plan,
    baseline: Option<&shipgate::report::Record>,
    cancel: impl std::future::Future<Output = ()>,
) -> RunOutput {
    Validation {
        events: h.events.clone(),
        contract_source: "mock.toml".into(),
        baseline,
        target_is_mock: true,
        ..Validation::new(&h.contract, plan, runtime(), Some(Secret::new(KEY)))
    }
    .run(cancel)
    .await
    .expect("run starts")
}

/// A sink that says when a plugin has started.
pub struct Started {
    pub plugin: &'static str,
    pub notify: std::sync::Arc<tokio::sync::Notify>,
}

impl shipgate::events::Sink for Started {
    fn event(&self, event: &shipgate::events::Event) {
        if let shipgate::events::Event::PluginStarted { plugin } = event
            && plugin == self.plugin
        {
            self.notify.notify_one();
        }
    }
}

/// No form and no fragment of `secret` (as the host's own scan knows them),
/// and, checked independently of that scan, no window of FRAGMENT_CHARS
/// characters beyond its public prefix in any case.
pub fn assert_nothing_of(secret: &str, text: &str, what: &str) {
    let set = shipgate::secret::SecretSet::new(
        &[(
            shipgate::secret::SecretKind::Credential,
            shipgate::secret::Secret::new(secret),
        )],
        "Bearer",
    );
    let hits = set.find(text.as_bytes());
    assert!(hits.is_empty(), "{what}: {hits:?} in {text}");
    let folded = text.to_ascii_lowercase();
    let public = shipgate::secret::public_prefix_len(secret.as_bytes());
    for w in secret.as_bytes()[public..].windows(shipgate::secret::FRAGMENT_CHARS) {
        let w = String::from_utf8_lossy(w).to_ascii_lowercase();
        assert!(!folded.contains(&w), "{what} holds {w}");
    }
}

/// Hex evidence, decoded.
pub fn unhex(s: &str) -> String {
    String::from_utf8_lossy(&hex::decode(s).expect("hex evidence")).into_owned()
}
