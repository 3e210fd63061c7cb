//! Compiling an untrusted component in a child process, with limits.
//!
//! # Security
//!
//! Compilation runs before any sandbox limit applies, and Cranelift's cost is
//! not linear in the input: a 240 KB function of chained constants takes
//! seconds and half a gigabyte, and a component may carry such a module
//! unused. So a plugin file is compiled by a child `shipgate` process that
//! limits its own address space (`RLIMIT_AS`) and CPU time (`RLIMIT_CPU`)
//! before it reads the file, and that the parent kills at a wall-clock
//! deadline. The child writes the compiled artifact; the parent loads it with
//! `Component::deserialize`, which is sound only for bytes produced by a
//! compatible wasmtime: here, this very binary. Artifacts are kept in a cache
//! keyed by the component's sha256 and the engine's configuration, so a plugin
//! is compiled once.
//!
//! Not covered: a wasmtime or Cranelift bug that makes the child write an
//! artifact that is unsound to load. The trust placed in it is the trust
//! placed in wasmtime's own code cache.

use super::{LoadError, engine_config};
use std::hash::{Hash as _, Hasher as _};
use std::io::Read as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};
use wasmtime::Engine;
use wasmtime::component::Component;

/// The hidden subcommand the child runs.
pub const CHILD_COMMAND: &str = "__compile-component";

/// Largest component file accepted, in bytes.
pub const MAX_COMPONENT_BYTES: usize = 32 * 1024 * 1024;

/// How much a compilation may cost.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CompileLimits {
    /// Wall-clock time, after which the child is killed.
    pub wall: Duration,
    /// Address space of the child, in bytes.
    pub memory_bytes: u64,
}

impl Default for CompileLimits {
    fn default() -> Self {
        CompileLimits {
            wall: Duration::from_secs(60),
            memory_bytes: 2 * 1024 * 1024 * 1024,
        }
    }
}

/// Where untrusted components are compiled: a child process of `exe`, with
/// artifacts cached in `cache_dir`.
#[derive(Debug, Clone)]
pub struct IsolatedCompiler {
    /// The `shipgate` binary to run as the child.
    pub exe: PathBuf,
    /// Where compiled artifacts are kept (none: compile every time).
    pub cache_dir: Option<PathBuf>,
}

/// A key for the engine's configuration: artifacts of another configuration
/// (or another wasmtime) are never loaded.
fn engine_key(engine: &Engine) -> String {
    let mut h = std::collections::hash_map::DefaultHasher::new();
    engine.precompile_compatibility_hash().hash(&mut h);
    env!("CARGO_PKG_VERSION").hash(&mut h);
    format!("{:016x}", h.finish())
}

impl IsolatedCompiler {
    /// Compile `bytes` (whose sha256 is `sha256`) in a child within `limits`,
    /// or load it from the cache.
    ///
    /// # Errors
    ///
    /// A [`LoadError`] naming `file` when the child fails, is killed at a
    /// limit, or its artifact does not load.
    pub fn compile(
        &self,
        engine: &Engine,
        file: &str,
        bytes: &[u8],
        sha256: &str,
        limits: CompileLimits,
    ) -> Result<Component, LoadError> {
        let key = format!("{sha256}-{}.cwasm", engine_key(engine));
        let cached = self
            .cache_dir
            .as_ref()
            .map(|d| d.join("isolated").join(&key));
        if let Some(path) = &cached
            && path.is_file()
            && let Ok(c) = deserialize(engine, path)
        {
            return Ok(c);
        }
        let work = tempfile::tempdir()
            .map_err(|e| invalid(file, format!("cannot make a work directory: {e}")))?;
        let input = work.path().join("in.wasm");
        let output = work.path().join("out.cwasm");
        std::fs::write(&input, bytes)
            .map_err(|e| invalid(file, format!("cannot stage the file: {e}")))?;
        let mut child = Command::new(&self.exe)
            .arg(CHILD_COMMAND)
            .arg(&input)
            .arg(&output)
            .arg(limits.memory_bytes.to_string())
            .arg(limits.wall.as_secs().max(1).to_string())
            .env_clear()
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .map_err(|e| invalid(file, format!("cannot start the compiler process: {e}")))?;
        let started = Instant::now();
        // Enforce: the compile's wall clock.
        let status = loop {
            match child.try_wait() {
                Ok(Some(status)) => break status,
                Ok(None) if started.elapsed() >= limits.wall => {
                    let _ = child.kill();
                    let _ = child.wait();
                    return Err(LoadError::CompileLimit {
                        file: file.to_owned(),
                        detail: format!(
                            "compiling took longer than {} s (sandbox.compile_ms); the component is too costly to compile",
                            limits.wall.as_secs_f64()
                        ),
                    });
                }
                Ok(None) => std::thread::sleep(Duration::from_millis(5)),
                Err(e) => {
                    return Err(invalid(
                        file,
                        format!("cannot wait for the compiler process: {e}"),
                    ));
                }
            }
        };
        let mut stderr = String::new();
        if let Some(mut s) = child.stderr.take() {
            let _ = (&mut s).take(4096).read_to_string(&mut stderr);
        }
        if !status.success() {
            let detail = stderr
                .lines()
                .find(|l| !l.trim().is_empty())
                .unwrap_or("")
                .trim()
                .to_owned();
            return Err(if detail.starts_with("invalid component:") {
                invalid(
                    file,
                    detail
                        .trim_start_matches("invalid component:")
                        .trim()
                        .to_owned(),
                )
            } else {
                LoadError::CompileLimit {
                    file: file.to_owned(),
                    detail: format!(
                        "compiling stopped at its limits ({} MiB of memory, {} s; sandbox.compile_memory_mib, sandbox.compile_ms){}",
                        limits.memory_bytes / (1024 * 1024),
                        limits.wall.as_secs(),
                        if detail.is_empty() {
                            String::new()
                        } else {
                            format!(": {}", crate::text::one_line(&detail, 200))
                        }
                    ),
                }
            });
        }
        let component = deserialize(engine, &output).map_err(|e| invalid(file, e))?;
        if let Some(path) = cached
            && let Some(dir) = path.parent()
            && std::fs::create_dir_all(dir).is_ok()
        {
            // Atomic: a half-written artifact is never loaded.
            if let Ok(bytes) = std::fs::read(&output) {
                let _ = crate::report::record::write_atomic(&path, &bytes);
            }
        }
        Ok(component)
    }
}

fn invalid(file: &str, detail: String) -> LoadError {
    LoadError::Invalid {
        file: file.to_owned(),
        detail,
    }
}

/// Load an artifact this binary wrote.
#[allow(
    unsafe_code,
    reason = "deserializing a compiled artifact is unsafe by wasmtime's API; see SAFETY"
)]
fn deserialize(engine: &Engine, path: &Path) -> Result<Component, String> {
    // SAFETY: the file was written by this same shipgate binary (a child
    // process running `CHILD_COMMAND`, or an earlier run into the cache that
    // only this code writes, atomically), with an engine whose configuration
    // hash is part of the file name; wasmtime also checks the artifact's
    // header against the engine. This is the trust wasmtime's own code cache
    // relies on.
    unsafe { Component::deserialize_file(engine, path) }.map_err(|e| format!("{e:#}"))
}

/// The child: limit this process, compile `input`, write the artifact to `output`.
///
/// Runs as `shipgate __compile-component IN OUT MEMORY_BYTES CPU_SECONDS`.
/// Exits 0 on success; on an invalid component prints `invalid component: …`
/// and exits 1.
pub fn child_main(args: &[String]) -> u8 {
    let [input, output, memory, cpu] = args else {
        eprintln!("usage: shipgate {CHILD_COMMAND} IN OUT MEMORY_BYTES CPU_SECONDS");
        return 2;
    };
    let (Ok(memory), Ok(cpu)) = (memory.parse::<u64>(), cpu.parse::<u64>()) else {
        eprintln!("limits must be numbers");
        return 2;
    };
    // Enforce: sandbox.compile_memory_mib and a CPU-time backstop for sandbox.compile_ms.
    let limit = |r, v| {
        rustix::process::setrlimit(
            r,
            rustix::process::Rlimit {
                current: Some(v),
                maximum: Some(v),
            },
        )
    };
    if limit(rustix::process::Resource::As, memory).is_err()
        || limit(rustix::process::Resource::Cpu, cpu.saturating_mul(2)).is_err()
    {
        eprintln!("cannot set the compiler's resource limits");
        return 3;
    }
    let bytes = match std::fs::read(input) {
        Ok(b) if b.len() <= MAX_COMPONENT_BYTES => b,
        Ok(b) => {
            eprintln!(
                "invalid component: {} bytes, over the cap of {MAX_COMPONENT_BYTES}",
                b.len()
            );
            return 1;
        }
        Err(e) => {
            eprintln!("cannot read {input}: {e}");
            return 2;
        }
    };
    let engine = match Engine::new(&engine_config()) {
        Ok(e) => e,
        Err(e) => {
            eprintln!("cannot build the engine: {e:#}");
            return 3;
        }
    };
    let component = match Component::new(&engine, &bytes) {
        Ok(c) => c,
        Err(e) => {
            eprintln!(
                "invalid component: {}",
                format!("{e:#}").lines().next().unwrap_or_default()
            );
            return 1;
        }
    };
    match component.serialize() {
        Ok(out) => match std::fs::write(output, out) {
            Ok(()) => 0,
            Err(e) => {
                eprintln!("cannot write {output}: {e}");
                3
            }
        },
        Err(e) => {
            eprintln!("cannot serialize: {e:#}");
            3
        }
    }
}
