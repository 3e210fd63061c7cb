//! The store's resource limiter: linear memory, tables and instances.
//!
//! # Security
//!
//! Growth past the cap is refused with an error, which traps the guest (it is
//! not a `wasmtime::Trap`, so the limiter remembers what was hit for the
//! finding). Not limited here: host memory a plugin makes the host use on its
//! behalf; that is bounded by the request, response, log and finding caps.

use wasmtime::ResourceLimiter;

/// Most table elements.
pub const MAX_TABLE_ELEMENTS: usize = 100_000;
/// Most component instances per store.
pub const MAX_INSTANCES: usize = 64;
/// Most tables per store.
pub const MAX_TABLES: usize = 64;
/// Most linear memories per store.
pub const MAX_MEMORIES: usize = 16;

/// Per-store limiter.
#[derive(Debug)]
pub struct Limiter {
    memory_cap: usize,
    total: usize,
    /// What was hit, for the finding.
    pub hit: Option<String>,
}

impl Limiter {
    /// A limiter with a linear-memory cap in bytes (summed over memories).
    pub fn new(memory_cap: usize) -> Self {
        Limiter {
            memory_cap,
            total: 0,
            hit: None,
        }
    }
}

impl ResourceLimiter for Limiter {
    fn memory_growing(
        &mut self,
        current: usize,
        desired: usize,
        _maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        let next = self.total.saturating_sub(current).saturating_add(desired);
        // Enforce: sandbox.memory_mib.
        if next > self.memory_cap {
            let msg = format!(
                "linear memory growth to {} MiB refused",
                next / (1024 * 1024)
            );
            self.hit = Some(msg.clone());
            wasmtime::bail!(msg);
        }
        self.total = next;
        Ok(true)
    }

    fn table_growing(
        &mut self,
        _current: usize,
        desired: usize,
        _maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        if desired > MAX_TABLE_ELEMENTS {
            self.hit = Some(format!(
                "table growth to {desired} elements refused (cap {MAX_TABLE_ELEMENTS})"
            ));
            wasmtime::bail!("table limit");
        }
        Ok(true)
    }

    fn instances(&self) -> usize {
        MAX_INSTANCES
    }

    fn tables(&self) -> usize {
        MAX_TABLES
    }

    fn memories(&self) -> usize {
        MAX_MEMORIES
    }
}
