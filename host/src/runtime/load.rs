//! Loading a plugin: check the bytes, the pin and the world before anything runs.

use super::{CompileLimits, HostState, MAX_COMPONENT_BYTES, Runtime};
use crate::bindings;
use sha2::{Digest as _, Sha256};
use wasmtime::component::Component;

/// The WIT package this host implements.
pub const WIT_PACKAGE: &str = "shipgate:plugin";
/// Its version. Plugins built against `0.2.y` with `y` up to this patch level load.
pub const WIT_VERSION: &str = "0.2.1";

/// Whether a plugin built against `version` of the WIT package can run here:
/// the same `0.MINOR`, at a patch level no newer than this host's.
pub fn compatible(version: &str) -> bool {
    let parse = |v: &str| -> Option<(u32, u32, u32)> {
        let mut it = v.split('.').map(|p| p.parse::<u32>().ok());
        let t = (it.next()??, it.next()??, it.next()??);
        it.next().is_none().then_some(t)
    };
    match (parse(version), parse(WIT_VERSION)) {
        (Some((0, m, p)), Some((0, hm, hp))) => m == hm && p <= hp,
        (Some((ma, _, p)), Some((hma, _, hp))) => ma == hma && ma > 0 && p <= hp,
        _ => false,
    }
}

/// Why a plugin file cannot be run. Each names the file and what was expected.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum LoadError {
    /// Not WebAssembly at all.
    #[error("{file}: not a WebAssembly file (expected a wasm component, found {found})")]
    NotWasm {
        /// The file.
        file: String,
        /// What the first bytes look like.
        found: String,
    },
    /// A core module, not a component.
    #[error(
        "{file}: a core wasm module, not a component (build it with `cargo build --target wasm32-wasip2`)"
    )]
    CoreModule {
        /// The file.
        file: String,
    },
    /// The sha256 pin does not match.
    #[error("{file}: sha256 mismatch (the plan pins {expected}, the file is {found})")]
    Sha256Mismatch {
        /// The file.
        file: String,
        /// The plan's pin.
        expected: String,
        /// The file's digest.
        found: String,
    },
    /// Built against another version of the WIT package.
    #[error(
        "{file}: built for {WIT_PACKAGE}@{found}, this shipgate implements {WIT_PACKAGE}@{WIT_VERSION}"
    )]
    IncompatibleVersion {
        /// The file.
        file: String,
        /// The version it imports or exports.
        found: String,
    },
    /// A component of another world.
    #[error(
        "{file}: not a shipgate plugin (expected the `{WIT_PACKAGE}/plugin@{WIT_VERSION}` world: {detail})"
    )]
    WrongWorld {
        /// The file.
        file: String,
        /// What is missing or extra.
        detail: String,
    },
    /// Compiling it went over the plan's compile limits.
    #[error("{file}: {detail}")]
    CompileLimit {
        /// The file.
        file: String,
        /// Which limit, and how to raise it.
        detail: String,
    },
    /// Compilation failed.
    #[error("{file}: invalid component: {detail}")]
    Invalid {
        /// The file.
        file: String,
        /// The compiler's message.
        detail: String,
    },
}

/// A compiled, linked plugin, ready to instantiate cheaply for each run.
pub struct LoadedPlugin {
    /// The plan's name.
    pub name: String,
    /// Where it came from (`bundled:canary` or a path).
    pub source: String,
    /// sha256 of the bytes.
    pub sha256: String,
    /// What the component imports (interface names with versions).
    pub imports: Vec<String>,
    /// What it exports.
    pub exports: Vec<String>,
    pub(super) pre: bindings::PluginPre<HostState>,
}

impl std::fmt::Debug for LoadedPlugin {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LoadedPlugin")
            .field("name", &self.name)
            .field("sha256", &self.sha256)
            .finish()
    }
}

/// Lower-case hex sha256.
pub fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

impl Runtime {
    /// Check and compile a plugin.
    ///
    /// # Errors
    ///
    /// A [`LoadError`] naming `source` when the bytes are not a component, the
    /// pin does not match, or the component targets another world or version.
    pub fn load(
        &self,
        name: &str,
        source: &str,
        bytes: &[u8],
        pin: Option<&str>,
    ) -> Result<LoadedPlugin, LoadError> {
        self.load_with(name, source, bytes, pin, None)
    }

    /// Check and compile a plugin file: in a child process within `limits`
    /// when the runtime has an isolated compiler, else in this process.
    ///
    /// # Errors
    ///
    /// As [`Runtime::load`], plus [`LoadError::CompileLimit`].
    pub fn load_file(
        &self,
        name: &str,
        source: &str,
        bytes: &[u8],
        pin: Option<&str>,
        limits: CompileLimits,
    ) -> Result<LoadedPlugin, LoadError> {
        self.load_with(name, source, bytes, pin, Some(limits))
    }

    fn load_with(
        &self,
        name: &str,
        source: &str,
        bytes: &[u8],
        pin: Option<&str>,
        untrusted: Option<CompileLimits>,
    ) -> Result<LoadedPlugin, LoadError> {
        let file = source.to_owned();
        if bytes.len() < 8 || &bytes[..4] != b"\0asm" {
            let found = if bytes.is_empty() {
                "an empty file".to_owned()
            } else {
                format!("bytes {}", hex::encode(&bytes[..bytes.len().min(4)]))
            };
            return Err(LoadError::NotWasm { file, found });
        }
        if bytes[4..8] == [1, 0, 0, 0] {
            return Err(LoadError::CoreModule { file });
        }
        let sha256 = sha256_hex(bytes);
        // Enforce: plugins.sha256 pin, before compiling.
        if let Some(expected) = pin
            && !expected.eq_ignore_ascii_case(&sha256)
        {
            return Err(LoadError::Sha256Mismatch {
                file,
                expected: expected.to_owned(),
                found: sha256,
            });
        }
        // Enforce: a plugin file's size, before anything parses it.
        if untrusted.is_some() && bytes.len() > MAX_COMPONENT_BYTES {
            return Err(LoadError::CompileLimit {
                file,
                detail: format!(
                    "{} bytes, over the cap of {MAX_COMPONENT_BYTES} for a plugin component",
                    bytes.len()
                ),
            });
        }
        let component = match (untrusted, &self.isolated) {
            // Enforce: sandbox.compile_ms and sandbox.compile_memory_mib, in a child process.
            (Some(limits), Some(compiler)) => {
                compiler.compile(&self.engine, &file, bytes, &sha256, limits)?
            }
            _ => Component::new(&self.engine, bytes).map_err(|e| LoadError::Invalid {
                file: file.clone(),
                detail: first_line(&e),
            })?,
        };
        let ty = component.component_type();
        let imports: Vec<String> = ty
            .imports(&self.engine)
            .map(|(n, _)| n.to_owned())
            .collect();
        let mut names = imports.clone();
        let exports: Vec<String> = ty
            .exports(&self.engine)
            .map(|(n, _)| n.to_owned())
            .collect();
        names.extend(exports.iter().cloned());
        for n in &names {
            if let Some(rest) = n.strip_prefix(WIT_PACKAGE)
                && let Some((_, version)) = rest.split_once('@')
                && !compatible(version)
            {
                return Err(LoadError::IncompatibleVersion {
                    file,
                    found: version.to_owned(),
                });
            }
        }
        let check_export = format!("{WIT_PACKAGE}/check@{WIT_VERSION}");
        let exports_check = exports.iter().any(|e| {
            e.strip_prefix(&format!("{WIT_PACKAGE}/check@"))
                .is_some_and(compatible)
        });
        if !exports_check {
            return Err(LoadError::WrongWorld {
                file,
                detail: format!(
                    "it does not export `{check_export}` (exports: {})",
                    list(&exports)
                ),
            });
        }
        let pre = self
            .linker
            .instantiate_pre(&component)
            .map_err(|e| LoadError::WrongWorld {
                file: file.clone(),
                detail: first_line(&e),
            })?;
        let pre = bindings::PluginPre::new(pre).map_err(|e| LoadError::WrongWorld {
            file: file.clone(),
            detail: first_line(&e),
        })?;
        Ok(LoadedPlugin {
            name: name.to_owned(),
            source: file,
            sha256,
            imports,
            exports,
            pre,
        })
    }
}

fn list(v: &[String]) -> String {
    if v.is_empty() {
        "none".into()
    } else {
        v.join(", ")
    }
}

fn first_line(e: &wasmtime::Error) -> String {
    format!("{e:#}")
        .lines()
        .next()
        .unwrap_or_default()
        .to_owned()
}

#[cfg(test)]
mod tests {
    #[test]
    fn accepts_older_patch_levels_of_the_same_minor() {
        assert!(super::compatible(super::WIT_VERSION));
        assert!(super::compatible("0.2.0"));
        assert!(!super::compatible("0.1.0"));
        assert!(!super::compatible("0.3.0"));
        assert!(!super::compatible("0.2.99"));
        assert!(!super::compatible("0.2"));
        assert!(!super::compatible("1.0.0-rc"));
    }
}
