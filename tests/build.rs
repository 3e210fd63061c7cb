//! Compiles the hostile fixtures under `hostile/` to wasm components and
//! generates `fixtures::<NAME>` path constants and `fixtures::ALL`.

#[path = "../host/build/wasm_build.rs"]
mod wasm_build;

use std::fmt::Write as _;
use std::path::PathBuf;

fn main() {
    let manifest = PathBuf::from(std::env::var("CARGO_MANIFEST_DIR").expect("CARGO_MANIFEST_DIR"));
    let workspace = manifest
        .parent()
        .expect("tests/ is inside the workspace")
        .to_path_buf();
    wasm_build::rerun_if_changed(&workspace, &["wit", "guest-sdk", "tests/hostile"]);
    let dirs = wasm_build::crate_dirs(&manifest.join("hostile"));
    let names: Vec<String> = dirs
        .iter()
        .map(|d| d.file_name().unwrap().to_string_lossy().into_owned())
        .collect();
    let packages: Vec<String> = names
        .iter()
        .map(|n| format!("shipgate-fixture-{n}"))
        .collect();
    let files = wasm_build::build_components(&workspace, &packages);
    let mut src = String::new();
    for (name, file) in names.iter().zip(&files) {
        let konst = name.to_uppercase().replace('-', "_");
        writeln!(
            src,
            "/// The `{name}` fixture component.\npub const {konst}: &str = {:?};",
            file.display().to_string()
        )
        .unwrap();
    }
    writeln!(
        src,
        "/// Every fixture: (name, path).\npub const ALL: &[(&str, &str)] = &["
    )
    .unwrap();
    for (name, file) in names.iter().zip(&files) {
        writeln!(src, "    ({name:?}, {:?}),", file.display().to_string()).unwrap();
    }
    src.push_str("];\n");
    std::fs::write(
        PathBuf::from(std::env::var("OUT_DIR").unwrap()).join("fixtures.rs"),
        src,
    )
    .unwrap();
}
