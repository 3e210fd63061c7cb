//! Build-script helper shared by `host/build.rs` (bundled checks) and
//! `tests/build.rs` (hostile fixtures): compiles workspace crates to
//! `wasm32-wasip2` components with a nested cargo, so that `cargo build`,
//! `cargo run` and `cargo test` never need a separate wasm step.

use std::path::{Path, PathBuf};
use std::process::Command;

pub const WASM_TARGET: &str = "wasm32-wasip2";

/// Make sure the wasm target's standard library is installed, installing it
/// with rustup when missing (these machines set `RUSTUP_AUTO_INSTALL=0`, so a
/// `rust-toolchain.toml` alone does not).
pub fn ensure_target() {
    let rustc = std::env::var("RUSTC").unwrap_or_else(|_| "rustc".into());
    let installed = || {
        Command::new(&rustc)
            .args(["--print", "target-libdir", "--target", WASM_TARGET])
            .output()
            .ok()
            .filter(|o| o.status.success())
            .map(|o| PathBuf::from(String::from_utf8_lossy(&o.stdout).trim()))
            .is_some_and(|dir| {
                dir.join("..").exists()
                    && std::fs::read_dir(&dir)
                        .map(|mut d| d.next().is_some())
                        .unwrap_or(false)
            })
    };
    if installed() {
        return;
    }
    let mut cmd = Command::new("rustup");
    cmd.args(["target", "add", WASM_TARGET]);
    if let Ok(tc) = std::env::var("RUSTUP_TOOLCHAIN") {
        cmd.args(["--toolchain", &tc]);
    }
    let ok = cmd.status().map(|s| s.success()).unwrap_or(false);
    if !ok || !installed() {
        panic!(
            "\n\nshipgate needs the `{WASM_TARGET}` Rust target to build its plugins, and \
             `rustup target add {WASM_TARGET}` failed.\nInstall it by hand with \
             `rustup target add {WASM_TARGET}` (it needs rustup and access to the Rust \
             distribution server), then build again.\n\n"
        );
    }
}

/// The directory nested wasm builds share: `<target>/wasm`, next to `debug/` and `release/`.
pub fn wasm_target_dir() -> PathBuf {
    let out = PathBuf::from(std::env::var("OUT_DIR").expect("OUT_DIR"));
    // OUT_DIR = <target>/[<triple>/]<profile>/build/<pkg>-<hash>/out
    let profile_dir = out
        .ancestors()
        .find(|p| p.file_name().is_some_and(|n| n == "build"))
        .and_then(Path::parent)
        .expect("OUT_DIR is inside a cargo target directory");
    profile_dir.parent().unwrap_or(profile_dir).join("wasm")
}

/// Build `packages` from the workspace at `workspace` as wasm components and
/// return each package's `.wasm` path, in order.
///
/// Plugins are ordinary `rlib` crates in the workspace (so clippy and their
/// native unit tests work); `cargo rustc --crate-type cdylib` makes the
/// component. A `cdylib` crate type in their manifests would make
/// `cargo test --workspace` link them natively, where the WIT export names
/// (`shipgate:plugin/check@0.1.0#run`) are not valid linker symbols.
pub fn build_components(workspace: &Path, packages: &[String]) -> Vec<PathBuf> {
    ensure_target();
    let target_dir = wasm_target_dir();
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    for p in packages {
        let mut cmd = Command::new(&cargo);
        cmd.current_dir(workspace)
            .args([
                "rustc",
                "--lib",
                "--crate-type",
                "cdylib",
                "--target",
                WASM_TARGET,
                "--profile",
                "plugin",
                "--quiet",
            ])
            .args(["--package", p])
            .arg("--target-dir")
            .arg(&target_dir);
        // The outer build's flags are for the host target, not for wasm; clippy's
        // wrapper would lint the guests a second time.
        for var in [
            "RUSTFLAGS",
            "CARGO_ENCODED_RUSTFLAGS",
            "CARGO_BUILD_RUSTFLAGS",
            "CARGO_BUILD_TARGET",
            "RUSTC_WRAPPER",
            "RUSTC_WORKSPACE_WRAPPER",
            "CARGO_PRIMARY_PACKAGE",
            "CARGO_TARGET_DIR",
        ] {
            cmd.env_remove(var);
        }
        let status = cmd.status().expect("run cargo for the wasm plugins");
        if !status.success() {
            panic!("building the wasm component {p} failed (see the errors above)");
        }
    }
    packages
        .iter()
        .map(|p| {
            let file = target_dir
                .join(WASM_TARGET)
                .join("plugin")
                .join(format!("{}.wasm", p.replace('-', "_")));
            assert!(file.exists(), "{} was not produced", file.display());
            file
        })
        .collect()
}

/// Build every crate directly under `workspace/dir` as a component; the package
/// of crate `x` is `{prefix}x`. Returns (directory name, `.wasm` path), sorted,
/// and asks cargo to rerun when the crates, the SDK or the WIT change.
pub fn build_dir(workspace: &Path, dir: &str, prefix: &str) -> Vec<(String, PathBuf)> {
    rerun_if_changed(workspace, &["wit", "guest-sdk", dir]);
    let names: Vec<String> = crate_dirs(&workspace.join(dir))
        .iter()
        .map(|d| d.file_name().unwrap().to_string_lossy().into_owned())
        .collect();
    let packages: Vec<String> = names.iter().map(|n| format!("{prefix}{n}")).collect();
    let files = build_components(workspace, &packages);
    names.into_iter().zip(files).collect()
}

/// The crate directories directly under `dir` (those with a Cargo.toml), sorted.
pub fn crate_dirs(dir: &Path) -> Vec<PathBuf> {
    let mut dirs: Vec<PathBuf> = std::fs::read_dir(dir)
        .map(|rd| {
            rd.filter_map(Result::ok)
                .map(|e| e.path())
                .filter(|p| p.join("Cargo.toml").exists())
                .collect()
        })
        .unwrap_or_default();
    dirs.sort();
    dirs
}

/// Ask cargo to rerun the build script when anything a component depends on changes.
pub fn rerun_if_changed(workspace: &Path, dirs: &[&str]) {
    for d in dirs {
        println!("cargo:rerun-if-changed={}", workspace.join(d).display());
    }
    println!(
        "cargo:rerun-if-changed={}",
        workspace.join("Cargo.lock").display()
    );
    println!(
        "cargo:rerun-if-changed={}",
        workspace.join("Cargo.toml").display()
    );
}
