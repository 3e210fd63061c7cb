//! Compiles every crate under `plugins/` to a wasm component and bundles them
//! into the `shipgate` binary (`bundled::BUNDLED`).

#[path = "build/wasm_build.rs"]
mod wasm_build;

use std::fmt::Write as _;
use std::path::PathBuf;

fn main() {
    let manifest = PathBuf::from(std::env::var("CARGO_MANIFEST_DIR").expect("CARGO_MANIFEST_DIR"));
    let workspace = manifest.parent().expect("host/ is inside the workspace");
    println!("cargo:rerun-if-changed=build");
    let built = wasm_build::build_dir(workspace, "plugins", "shipgate-check-");

    let mut src = String::from(
        "/// Checks bundled into this binary: (name, component bytes).\npub const BUNDLED: &[(&str, &[u8])] = &[\n",
    );
    for (name, file) in &built {
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
