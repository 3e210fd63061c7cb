//! The wasmtime component runtime: compile once, then one fresh `Store` per plugin run.
//!
//! # Security
//!
//! Every limit is explicit ([`crate::plan::SandboxLimits`]):
//! - **Wall clock.** Epoch interruption (a ticker every [`TICK`]) traps guest
//!   code past the deadline, and an outer `tokio::time::timeout` bounds the
//!   whole run, because epochs do not interrupt time spent in host calls.
//! - **Memory.** `limits::Limiter` caps linear memory, tables and instances.
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
mod descriptor;
mod limits;
mod load;
mod outcome;
mod run;
mod sandbox;
mod state;

pub use crate::report::record::{PluginRun, RunStatus};
pub use compile::{
    CHILD_COMMAND, CompileLimits, IsolatedCompiler, MAX_COMPONENT_BYTES, child_main,
};
pub use descriptor::{Descriptor, SettingDecl, SettingKind};
pub use load::{LoadError, LoadedPlugin, sha256_hex};

/// The WIT package and version this runtime implements.
pub mod load_info {
    pub use super::load::{WIT_PACKAGE, WIT_VERSION};
}

use crate::bindings;
use crate::capability::{audit::AuditCtx, context::ContextCtx, http::HttpCtx, log::LogCtx};
use state::HostState;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;
use wasmtime::component::{HasSelf, Linker};
use wasmtime::{Config, Engine};

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
    /// Traffic capability (the application under test's episodes).
    pub traffic: crate::capability::traffic::TrafficCtx,
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
        link(bindings::shipgate::plugin::traffic::add_to_linker::<
            _,
            HasSelf<crate::capability::traffic::TrafficCtx>,
        >(&mut linker, |s| &mut s.traffic))?;
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
}
