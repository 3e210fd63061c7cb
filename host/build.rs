//! Compiles every crate under `plugins/` to a wasm component and bundles them
//! into the `shipgate` binary (`bundled::BUNDLED`).

#[path = "build/wasm_build.rs"]
mod wasm_build;

use std::fmt::Write as _;
use std::path::PathBuf;

fn main() {
    let manifest = PathBuf::from(std::env::var("CARGO_MANIFEST_DIR").expect("CARGO_MANIFEST_DIR"));
    let workspace = manifest
        .parent()
        .expect("host/ is inside the workspace")
        .to_path_buf();
    wasm_build::rerun_if_changed(&workspace, &["wit", "guest-sdk", "plugins"]);
    println!("cargo:rerun-if-changed=build");

    let dirs = wasm_build::crate_dirs(&workspace.join("plugins"));
    let names: Vec<String> = dirs
        .iter()
        .map(|d| d.file_name().unwrap().to_string_lossy().into_owned())
        .collect();
    let packages: Vec<String> = names
        .iter()
        .map(|n| format!("shipgate-check-{n}"))
        .collect();
    let files = wasm_build::build_components(&workspace, &packages);

    let mut src = String::from(
        "/// Checks bundled into this binary: (name, component bytes).\npub const BUNDLED: &[(&str, &[u8])] = &[\n",
    );
    for (name, file) in names.iter().zip(&files) {
        writeln!(
            src,
            "    ({name:?}, include_bytes!({:?})),",
            file.display().to_string()
        )
        .unwrap();
    }
    src.push_str("];\n");
    let out = PathBuf::from(std::env::var("OUT_DIR").unwrap()).join("bundled.rs");
    std::fs::write(out, src).expect("write bundled.rs");
}
