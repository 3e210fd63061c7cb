//! The wasmtime component runtime: compile once, then one fresh `Store` per plugin run.
//!
//! # Security
//!
//! Every limit is explicit ([`crate::plan::SandboxLimits`]):
//! - **Wall clock.** Epoch interruption (a ticker every [`TICK`]) traps guest
//!   code past the deadline, and an outer `tokio::time::timeout` bounds the
//!   whole run, because epochs do not interrupt time spent in host calls.
//! - **Memory.** [`limits::Limiter`] caps linear memory, tables and instances.
//! - **CPU.** Optional fuel.
//! - **Stack.** `max_wasm_stack` bounds recursion.
//! - **Host copies.** [`hostcall_bytes`] caps what one host call (or the
//!   returned findings) lifts out of the guest; [`MAX_HANDLES`] caps live
//!   handles, so a guest cannot grow host memory through aliasing or leaks.
//! - **WASI.** Linked so that wasip2 guests load, but granting nothing: no
//!   preopened directories, no environment, no arguments, no sockets, stdin
//!   closed; stdout/stderr are captured (capped) into the run log.
//!
//! A trapped instance is never reused. Whatever a plugin does, [`Runtime::run`]
//! returns a [`PluginRun`]; failures become findings.

mod compile;
mod limits;
mod load;
mod state;

pub use compile::{
    CHILD_COMMAND, CompileLimits, IsolatedCompiler, MAX_COMPONENT_BYTES, child_main,
};
pub use load::{LoadError, LoadedPlugin, sha256_hex};

/// The WIT package and version this runtime implements.
pub mod load_info {
    pub use super::load::{WIT_PACKAGE, WIT_VERSION};
}

use crate::bindings;
use crate::capability::{audit::AuditCtx, context::ContextCtx, http::HttpCtx, log::LogCtx};
use crate::findings::{self, Finding, FindingKind};
use crate::redact::Redactor;
use crate::text;
use limits::Limiter;
use serde::{Deserialize, Serialize};
use state::HostState;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};
use wasmtime::component::{HasSelf, Linker};
use wasmtime::{Config, Engine, Store, UpdateDeadline};
use wasmtime_wasi::p2::pipe::MemoryOutputPipe;

/// Epoch tick: the granularity of the wall-clock deadline.
pub const TICK: Duration = Duration::from_millis(10);
/// Extra time the outer timeout allows past the deadline before it cancels.
pub const DEADLINE_SLACK: Duration = Duration::from_millis(250);
/// Bytes of guest stdout and of stderr kept (each); the rest is dropped.
pub const MAX_STDIO_BYTES: usize = 64 * 1024;
/// Largest wasm stack (bounds unbounded recursion).
pub const MAX_WASM_STACK: usize = 1024 * 1024;

/// Live component-model handles a plugin may hold at once.
pub const MAX_HANDLES: usize = 10_000;

/// Bytes one host call may copy out of the guest: a whole `send-all` within
/// the request budget, plus 1 MiB of headers and text, never over 1 GiB.
pub fn hostcall_bytes(limits: &crate::plan::SandboxLimits) -> usize {
    let bodies = limits
        .max_request_bytes
        .saturating_mul(u64::from(limits.max_requests));
    bodies.saturating_add(1 << 20).min(1 << 30) as usize
}
/// Longest error a plugin may return from `run`, in bytes; the rest is cut.
pub const MAX_PLUGIN_ERROR: usize = 16 * 1024;

/// Why the runtime could not start.
#[derive(Debug, thiserror::Error)]
#[error("cannot start the wasm runtime: {0}")]
pub struct RuntimeError(String);

/// The engine, the linker and the epoch ticker. Build one per process.
pub struct Runtime {
    engine: Engine,
    linker: Linker<HostState>,
    stop: Arc<AtomicBool>,
    isolated: Option<IsolatedCompiler>,
}

/// The engine configuration: every limit the engine enforces. The isolated
/// compiler builds its engine from the same function, so its artifacts load here.
pub fn engine_config() -> Config {
    let mut config = Config::new();
    config.wasm_component_model(true);
    config.epoch_interruption(true);
    config.consume_fuel(true);
    config.max_wasm_stack(MAX_WASM_STACK);
    config
}

impl std::fmt::Debug for Runtime {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Runtime").finish_non_exhaustive()
    }
}

impl Drop for Runtime {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
    }
}

/// How one plugin run ended.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case", tag = "status", content = "reason")]
pub enum RunStatus {
    /// `run` returned findings.
    Completed,
    /// It did not; the reason names the limit or failure.
    Failed(String),
}

impl RunStatus {
    /// How it ended, in words.
    pub fn describe(&self) -> String {
        match self {
            RunStatus::Completed => "completed".into(),
            RunStatus::Failed(why) => format!("failed: {why}"),
        }
    }
}

/// Everything the host observed of one plugin run.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct PluginRun {
    /// The plan's name for it.
    pub name: String,
    /// From `describe`, when it answered.
    pub version: Option<String>,
    /// From `describe`.
    pub summary: Option<String>,
    /// Checklist items it says it can cover.
    pub covers: Vec<String>,
    /// sha256 of the component.
    pub sha256: String,
    /// Where it came from.
    pub source: String,
    /// How it ended.
    pub status: RunStatus,
    /// Its findings, plus host findings about it (in the record, listed once at top level).
    #[serde(skip_serializing, default)]
    pub findings: Vec<Finding>,
    /// Wall-clock duration, ms.
    pub duration_ms: u64,
    /// Fuel consumed, when fuel was limited.
    pub fuel_used: Option<u64>,
    /// HTTP requests sent.
    pub requests: u32,
    /// What its findings are evidence about, as the plan assigns it.
    pub subject: crate::checklist::Subject,
}

/// What one plugin run gets: its capabilities and limits.
#[derive(Debug)]
pub struct RunEnv {
    /// HTTP capability.
    pub http: HttpCtx,
    /// Log capability.
    pub log: LogCtx,
    /// Context capability.
    pub context: ContextCtx,
    /// Audit capability.
    pub audit: AuditCtx,
    /// Limits.
    pub limits: crate::plan::SandboxLimits,
    /// The plan's grant of checklist items (absent: the default).
    pub covers_grant: Option<Vec<String>>,
    /// Whether the plugin is bundled (trusted) code.
    pub bundled: bool,
    /// What its findings are evidence about.
    pub subject: crate::checklist::Subject,
}

impl Runtime {
    /// Build the engine (epochs, fuel, component model) and link the capabilities.
    ///
    /// `cache_dir` enables wasmtime's compiled-code cache there.
    ///
    /// # Errors
    ///
    /// [`RuntimeError`] when the engine or linker cannot be built.
    pub fn new(cache_dir: Option<&std::path::Path>) -> Result<Runtime, RuntimeError> {
        let mut config = engine_config();
        if let Some(dir) = cache_dir {
            let mut cc = wasmtime::CacheConfig::new();
            cc.with_directory(dir);
            if let Ok(cache) = wasmtime::Cache::new(cc) {
                config.cache(Some(cache));
            }
        }
        let engine = Engine::new(&config).map_err(|e| RuntimeError(format!("{e:#}")))?;
        let mut linker = Linker::<HostState>::new(&engine);
        let link = |r: wasmtime::Result<()>| r.map_err(|e| RuntimeError(format!("{e:#}")));
        link(wasmtime_wasi::p2::add_to_linker_async(&mut linker))?;
        link(bindings::shipgate::plugin::http::add_to_linker::<
            _,
            HasSelf<HttpCtx>,
        >(&mut linker, |s| &mut s.http))?;
        link(bindings::shipgate::plugin::log::add_to_linker::<
            _,
            HasSelf<LogCtx>,
        >(&mut linker, |s| &mut s.log))?;
        link(bindings::shipgate::plugin::audit::add_to_linker::<
            _,
            HasSelf<AuditCtx>,
        >(&mut linker, |s| &mut s.audit))?;
        link(bindings::shipgate::plugin::context::add_to_linker::<
            _,
            HasSelf<ContextCtx>,
        >(&mut linker, |s| &mut s.context))?;
        let stop = Arc::new(AtomicBool::new(false));
        let ticker_engine = engine.weak();
        let ticker_stop = stop.clone();
        std::thread::Builder::new()
            .name("shipgate-epoch".into())
            .spawn(move || {
                while !ticker_stop.load(Ordering::Relaxed) {
                    std::thread::sleep(TICK);
                    match ticker_engine.upgrade() {
                        Some(e) => e.increment_epoch(),
                        None => break,
                    }
                }
            })
            .map_err(|e| RuntimeError(e.to_string()))?;
        Ok(Runtime {
            engine,
            linker,
            stop,
            isolated: None,
        })
    }

    /// Compile plugin files (not bundled checks) in a child process of
    /// `compiler.exe`, within the plan's compile limits. Without this, plugin
    /// files are compiled in this process, bounded only by their size: an
    /// embedder that runs untrusted plugins should always set it.
    pub fn with_isolated_compiler(mut self, compiler: IsolatedCompiler) -> Self {
        self.isolated = Some(compiler);
        self
    }

    /// The engine.
    pub fn engine(&self) -> &Engine {
        &self.engine
    }

    /// Run one loaded plugin with `env`. Never fails: failures are findings.
    pub async fn run(&self, plugin: &LoadedPlugin, env: RunEnv) -> PluginRun {
        let started = Instant::now();
        let limits = env.limits.clone();
        let covers_grant = crate::plan::Grants {
            covers: env.covers_grant.clone(),
            ..Default::default()
        };
        let bundled = env.bundled;
        let subject = env.subject;
        let name = plugin.name.clone();
        let deadline = Duration::from_millis(limits.deadline_ms);
        let stdout = MemoryOutputPipe::new(MAX_STDIO_BYTES);
        let stderr = MemoryOutputPipe::new(MAX_STDIO_BYTES);
        let wasi = wasmtime_wasi::WasiCtx::builder()
            .stdout(stdout.clone())
            .stderr(stderr.clone())
            .allow_tcp(false)
            .allow_udp(false)
            .allow_ip_name_lookup(false)
            .build();
        let state = HostState {
            wasi,
            table: wasmtime::component::ResourceTable::new(),
            http: env.http,
            log: env.log,
            context: env.context,
            audit: env.audit,
            limiter: Limiter::new(limits.memory_mib.saturating_mul(1024 * 1024) as usize),
        };
        let mut store = Store::new(&self.engine, state);
        store.limiter(|s| &mut s.limiter);
        // Enforce: bytes copied out of the guest per host call (and for the
        // findings it returns). The canonical ABI lifts every string of a list
        // into its own host allocation, and a guest may point them all at one
        // buffer: without this cap, 16 MiB of guest memory lifts to gigabytes.
        store.set_hostcall_fuel(hostcall_bytes(&limits));
        // Enforce: live component handles (pollables, streams). Dropping one
        // returns it; a guest that never drops traps here, not in host memory.
        store.set_max_component_handles(MAX_HANDLES);
        store.data_mut().table.set_max_capacity(MAX_HANDLES);
        let fuel = if limits.fuel > 0 {
            limits.fuel
        } else {
            u64::MAX
        };
        let _ = store.set_fuel(fuel);
        // Enforce: sandbox.deadline_ms for guest code (epochs) ...
        let until = started + deadline;
        store.set_epoch_deadline(1);
        store.epoch_deadline_callback(move |_| {
            if Instant::now() >= until {
                Ok(UpdateDeadline::Interrupt)
            } else {
                Ok(UpdateDeadline::Yield(1))
            }
        });

        let mut descriptor = None;
        let work = async {
            let instance = plugin.pre.instantiate_async(&mut store).await?;
            let check = instance.shipgate_plugin_check();
            descriptor = Some(check.call_describe(&mut store).await?);
            check.call_run(&mut store).await
        };
        // ... and for everything, host calls included (outer timeout).
        let outcome = tokio::time::timeout(deadline + DEADLINE_SLACK, work).await;
        let elapsed = started.elapsed();

        let mut findings_out = Vec::new();
        let status = match outcome {
            Err(_) => {
                findings_out.push(deadline_finding(&name, &limits, elapsed));
                RunStatus::Failed(format!("deadline of {} ms exceeded", limits.deadline_ms))
            }
            Ok(Ok(Ok(raw))) => {
                if raw.len() > limits.max_findings as usize {
                    findings_out.push(
                        Finding::host(
                            &name,
                            FindingKind::PluginError,
                            "limit.max-findings",
                            "plugin stays within sandbox.max_findings",
                            format!(
                                "returned {} findings, over sandbox.max_findings = {}; the first {} are kept (raise it in the plan)",
                                raw.len(),
                                limits.max_findings,
                                limits.max_findings
                            ),
                        )
                        .with_evidence("limit", "sandbox.max_findings")
                        .with_evidence("value", limits.max_findings),
                    );
                }
                let kept: Vec<_> = raw.into_iter().take(limits.max_findings as usize).collect();
                let declared = descriptor
                    .as_ref()
                    .map(|d| d.covers.clone())
                    .unwrap_or_default();
                let allowed = covers_grant.allowed_covers(&declared, bundled);
                findings_out.extend(findings::from_guest(
                    findings::Intake {
                        plugin: &name,
                        max_bytes: limits.max_finding_bytes,
                        covers: &allowed,
                        subject,
                    },
                    kept,
                ));
                if findings_out
                    .iter()
                    .any(|f| f.kind == FindingKind::PluginError)
                {
                    RunStatus::Failed("findings over sandbox.max_findings".into())
                } else {
                    RunStatus::Completed
                }
            }
            Ok(Ok(Err(msg))) => {
                // Enforce: a returned error is kept to MAX_PLUGIN_ERROR bytes, inert and redacted.
                let msg = Redactor
                    .redact(&text::multi_line(&msg, MAX_PLUGIN_ERROR))
                    .into_owned();
                findings_out.push(Finding::host(
                    &name,
                    FindingKind::PluginError,
                    "plugin-error",
                    "plugin runs to completion",
                    format!("the check returned an error: {msg}"),
                ));
                RunStatus::Failed(format!(
                    "check returned an error: {}",
                    msg.lines().next().unwrap_or_default()
                ))
            }
            Ok(Err(trap)) => {
                let f = trap_finding(
                    &name,
                    &limits,
                    &trap,
                    store.data().limiter.hit.as_deref(),
                    elapsed,
                    &panic_message(&stderr.contents()),
                );
                let reason = f.detail.lines().next().unwrap_or_default().to_owned();
                findings_out.push(f);
                RunStatus::Failed(reason)
            }
        };

        let data = store.data_mut();
        // Enforce: a request cut off at the deadline stays on the record.
        data.http.cancel_in_flight();
        // Reported now, never during the run: the guest must not learn which
        // of the texts it caused held part of a key.
        if let Some(f) = reflection_finding(&name, data.http.reflections()) {
            findings_out.push(f);
        }
        if data.http.budget_exceeded {
            findings_out.push(
                Finding::host(
                    &name,
                    FindingKind::Sandbox,
                    "limit.max-requests",
                    "plugin stays within sandbox.max_requests",
                    format!(
                        "the plugin tried to send more than sandbox.max_requests = {} requests; the rest were denied (raise it in the plan)",
                        limits.max_requests
                    ),
                )
                .with_evidence("limit", "sandbox.max_requests")
                .with_evidence("value", limits.max_requests),
            );
        }
        for (stream, pipe) in [("stdout", &stdout), ("stderr", &stderr)] {
            let bytes = pipe.contents();
            for line in String::from_utf8_lossy(&bytes)
                .lines()
                .filter(|l| !l.trim().is_empty())
                .take(200)
            {
                data.log.write(
                    if stream == "stderr" { "warn" } else { "info" },
                    line,
                    vec![("stream".into(), stream.into())],
                );
            }
        }
        if data.log.dropped > 0 {
            findings_out.push(
                Finding::host(
                    &name,
                    FindingKind::Sandbox,
                    "limit.max-log",
                    "plugin stays within the log limits",
                    format!(
                        "{} log records dropped over sandbox.max_log_records = {} / sandbox.max_log_bytes = {} (raise them in the plan)",
                        data.log.dropped, limits.max_log_records, limits.max_log_bytes
                    ),
                )
                .with_evidence("limit", "sandbox.max_log_records")
                .with_evidence("dropped", data.log.dropped),
            );
        }
        let requests = data.http.requests_sent();
        let fuel_used =
            (limits.fuel > 0).then(|| fuel.saturating_sub(store.get_fuel().unwrap_or(0)));
        let (version, summary, covers) = match descriptor {
            Some(d) => (
                Some(
                    Redactor
                        .redact(&text::one_line(&d.version, 64))
                        .into_owned(),
                ),
                Some(
                    Redactor
                        .redact(&text::one_line(&d.summary, 512))
                        .into_owned(),
                ),
                covers_grant.allowed_covers(&d.covers, bundled),
            ),
            None => (None, None, Vec::new()),
        };
        // The host's findings about a plugin are about the same subject as its own.
        for f in &mut findings_out {
            f.subject = subject;
        }
        PluginRun {
            name,
            version,
            summary,
            covers,
            sha256: plugin.sha256.clone(),
            source: plugin.source.clone(),
            status,
            findings: findings_out,
            duration_ms: elapsed.as_millis() as u64,
            fuel_used,
            requests,
            subject,
        }
    }
}

/// What the target sent back of the run's credentials, as a host finding
/// about the target: a warning when every full form was removed before the
/// plugin read it, a failure when part of a key reached the plugin.
fn reflection_finding(name: &str, (reflected, exposed): (u32, u32)) -> Option<Finding> {
    let title = "the target sends back no part of a credential";
    let f = if exposed > 0 {
        Finding::host(
            name,
            FindingKind::Host,
            "secret-reflected",
            title,
            format!(
                "{exposed} response(s) reached this plugin holding part of a credential the host sent (12 or more characters, cut or split by the target): treat the key as exposed to this plugin and rotate it"
            ),
        )
    } else if reflected > 0 {
        let mut f = Finding::host(
            name,
            FindingKind::Host,
            "secret-reflected",
            title,
            format!(
                "{reflected} response(s) held a credential the host sent; the host removed it before the plugin read them, but anything that logs this target's responses would keep it"
            ),
        );
        f.verdict = crate::findings::Verdict::Warn;
        f
    } else {
        return None;
    };
    Some(
        f.about(crate::checklist::Subject::Provider)
            .with_evidence("responses", reflected)
            .with_evidence("reached_plugin", exposed),
    )
}

fn deadline_finding(name: &str, limits: &crate::plan::SandboxLimits, elapsed: Duration) -> Finding {
    Finding::host(
        name,
        FindingKind::PluginError,
        "limit.deadline",
        "plugin finishes within sandbox.deadline_ms",
        format!(
            "stopped after {} ms: over sandbox.deadline_ms = {} (raise it in the plan, e.g. --set {name}.deadline_ms=120000)",
            elapsed.as_millis(),
            limits.deadline_ms
        ),
    )
    .with_evidence("limit", "sandbox.deadline_ms")
    .with_evidence("value", limits.deadline_ms)
    .with_evidence("elapsed_ms", elapsed.as_millis())
}

/// The message of a Rust guest's panic, from what it wrote to stderr.
fn panic_message(stderr: &[u8]) -> String {
    let text = String::from_utf8_lossy(stderr);
    match text.find("panicked at") {
        Some(at) => text::multi_line(text[at..].trim(), 2048),
        None => String::new(),
    }
}

fn trap_finding(
    name: &str,
    limits: &crate::plan::SandboxLimits,
    err: &wasmtime::Error,
    memory_hit: Option<&str>,
    elapsed: Duration,
    panic: &str,
) -> Finding {
    let trap = err.downcast_ref::<wasmtime::Trap>().copied();
    match (trap, memory_hit) {
        (_, Some(hit)) => Finding::host(
            name,
            FindingKind::PluginError,
            "limit.memory",
            "plugin stays within sandbox.memory_mib",
            format!("{hit}: over sandbox.memory_mib = {} (raise it in the plan)", limits.memory_mib),
        )
        .with_evidence("limit", "sandbox.memory_mib")
        .with_evidence("value", limits.memory_mib),
        (Some(wasmtime::Trap::Interrupt), _) => deadline_finding(name, limits, elapsed),
        (Some(wasmtime::Trap::OutOfFuel), _) => Finding::host(
            name,
            FindingKind::PluginError,
            "limit.fuel",
            "plugin stays within sandbox.fuel",
            format!("ran out of fuel: sandbox.fuel = {} (raise it in the plan, or 0 for no fuel limit)", limits.fuel),
        )
        .with_evidence("limit", "sandbox.fuel")
        .with_evidence("value", limits.fuel),
        (Some(wasmtime::Trap::StackOverflow), _) => Finding::host(
            name,
            FindingKind::PluginError,
            "limit.stack",
            "plugin stays within the wasm stack limit",
            format!("stack overflow: the wasm stack is capped at {MAX_WASM_STACK} bytes (unbounded recursion?)"),
        )
        .with_evidence("limit", "max_wasm_stack"),
        (Some(t), _) if !panic.is_empty() => Finding::host(
            name,
            FindingKind::PluginError,
            "trap",
            "plugin runs to completion",
            format!("the plugin panicked: {}", Redactor.redact(panic)),
        )
        .with_evidence("trap", t),
        (Some(t), _) => Finding::host(
            name,
            FindingKind::PluginError,
            "trap",
            "plugin runs to completion",
            format!("the plugin trapped: {t} (a panic in a Rust plugin shows as `wasm unreachable`)"),
        )
        .with_evidence("trap", t),
        (None, _) => {
            // Not a trap: an instantiation failure or an error from a host call
            // (hostcall bytes, handle limit). The cause first, then the chain, bounded.
            let full = format!("{err:#}");
            let mut cause = err.root_cause().to_string();
            if cause.contains("resource table has no free keys") || cause.contains("handle limit exceeded") {
                cause.push_str(&format!(" (a plugin holds at most {MAX_HANDLES} live handles: drop pollables and streams)"));
            } else if cause.contains("fuel allocated for hostcalls") {
                cause.push_str(" (one host call copies at most sandbox.max_requests x sandbox.max_request_bytes + 1 MiB)");
            }
            let root = err.root_cause().to_string();
            let msg = if full.ends_with(&root) && full != root {
                format!("{cause}\n{}", full[..full.len() - root.len()].trim_end_matches([':', ' ']))
            } else {
                full
            };
            let msg = Redactor.redact(&text::multi_line(&msg, 4096)).into_owned();
            Finding::host(name, FindingKind::PluginError, "plugin-error", "plugin runs to completion", format!("the plugin failed: {msg}"))
        }
    }
}
