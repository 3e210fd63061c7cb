//! One plugin's sandbox: a fresh `Store` with every limit set, and the pipes
//! that capture its stdout and stderr.

use super::limits::Limiter;
use super::state::HostState;
use super::{DEADLINE_SLACK, MAX_HANDLES, MAX_STDIO_BYTES, RunEnv, hostcall_bytes};
use std::time::{Duration, Instant};
use wasmtime::{Engine, Store, UpdateDeadline};
use wasmtime_wasi::p2::pipe::MemoryOutputPipe;

/// A store ready to instantiate a plugin in, with its clocks and pipes.
pub(super) struct Sandbox {
    pub store: Store<HostState>,
    pub stdout: MemoryOutputPipe,
    pub stderr: MemoryOutputPipe,
    pub started: Instant,
    /// The fuel the store started with (`u64::MAX` when fuel is not limited).
    pub fuel: u64,
    /// `sandbox.deadline_ms`.
    pub deadline: Duration,
}

impl Sandbox {
    /// A fresh store for `env`: nothing carries over from any other run.
    pub fn new(engine: &Engine, env: RunEnv) -> Sandbox {
        let started = Instant::now();
        let limits = &env.limits;
        let deadline = Duration::from_millis(limits.deadline_ms);
        let stdout = MemoryOutputPipe::new(MAX_STDIO_BYTES);
        let stderr = MemoryOutputPipe::new(MAX_STDIO_BYTES);
        // Enforce: WASI grants nothing: no preopens, env, args or sockets.
        let wasi = wasmtime_wasi::WasiCtx::builder()
            .stdout(stdout.clone())
            .stderr(stderr.clone())
            .allow_tcp(false)
            .allow_udp(false)
            .allow_ip_name_lookup(false)
            .build();
        let hostcall = hostcall_bytes(limits);
        let fuel = if limits.fuel > 0 {
            limits.fuel
        } else {
            u64::MAX
        };
        let state = HostState {
            wasi,
            table: wasmtime::component::ResourceTable::new(),
            limiter: Limiter::new(limits.memory_mib.saturating_mul(1024 * 1024) as usize),
            http: env.http,
            log: env.log,
            context: env.context,
            audit: env.audit,
            traffic: env.traffic,
        };
        let mut store = Store::new(engine, state);
        // Enforce: sandbox.memory_mib, tables and instances.
        store.limiter(|s| &mut s.limiter);
        // Enforce: bytes copied out of the guest per host call (and for the
        // findings it returns). The canonical ABI lifts every string of a list
        // into its own host allocation, and a guest may point them all at one
        // buffer: without this cap, 16 MiB of guest memory lifts to gigabytes.
        store.set_hostcall_fuel(hostcall);
        // Enforce: live component handles (pollables, streams). Dropping one
        // returns it; a guest that never drops traps here, not in host memory.
        store.set_max_component_handles(MAX_HANDLES);
        store.data_mut().table.set_max_capacity(MAX_HANDLES);
        // Enforce: sandbox.fuel.
        let _ = store.set_fuel(fuel);
        // Enforce: sandbox.deadline_ms for guest code (epochs); `within`
        // bounds host calls too.
        let until = started + deadline;
        store.set_epoch_deadline(1);
        store.epoch_deadline_callback(move |_| {
            if Instant::now() >= until {
                Ok(UpdateDeadline::Interrupt)
            } else {
                Ok(UpdateDeadline::Yield(1))
            }
        });
        Sandbox {
            store,
            stdout,
            stderr,
            started,
            fuel,
            deadline,
        }
    }

    /// When the outer timeout fires: the deadline plus a little slack, for
    /// everything, host calls included (epochs do not interrupt time spent
    /// in the host).
    pub fn hard_stop(&self) -> tokio::time::Instant {
        (self.started + self.deadline + DEADLINE_SLACK).into()
    }
}
