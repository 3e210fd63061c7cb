//! Compiles the hostile fixtures under `hostile/` to wasm components and
//! generates `fixtures::<NAME>` path constants and `fixtures::ALL`.

#[path = "../host/build/wasm_build.rs"]
mod wasm_build;

use std::fmt::Write as _;
use std::path::PathBuf;

fn main() {
    let manifest = PathBuf::from(std::env::var("CARGO_MANIFEST_DIR").expect("CARGO_MANIFEST_DIR"));
    let workspace = manifest.parent().expect("tests/ is inside the workspace");
    let built = wasm_build::build_dir(workspace, "tests/hostile", "shipgate-fixture-");

    let mut src = String::new();
    for (name, file) in &built {
        let konst = name.to_uppercase().replace('-', "_");
        writeln!(
            src,
            "/// The `{name}` fixture component.\npub const {konst}: &str = {:?};",
            file.display().to_string()
        )
        .unwrap();
    }
    src.push_str("/// Every fixture: (name, path).\npub const ALL: &[(&str, &str)] = &[\n");
    for (name, file) in &built {
        writeln!(src, "    ({name:?}, {:?}),", file.display().to_string()).unwrap();
    }
    src.push_str("];\n");
    std::fs::write(
        PathBuf::from(std::env::var("OUT_DIR").unwrap()).join("fixtures.rs"),
        src,
    )
    .unwrap();
}
