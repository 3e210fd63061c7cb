//! `shipgate new NAME`: a check crate that builds anywhere. The binary
//! carries the SDK's and the WIT package's source for its own version and
//! writes them into the new crate (`vendor/`), referenced by relative paths:
//! no generated file names this machine.

use std::path::Path;

/// The SDK's source files, as this binary was built with them.
macro_rules! sdk_files {
    ($($file:literal),* $(,)?) => {
        &[$((concat!("src/", $file), include_str!(concat!("../../../guest-sdk/src/", $file)))),*]
    };
}
pub const SDK_FILES: &[(&str, &str)] = sdk_files!(
    "lib.rs",
    "audit.rs",
    "chat.rs",
    "checklist.rs",
    "context.rs",
    "detect.rs",
    "finding.rs",
    "http.rs",
    "imports.rs",
    "log.rs",
    "stream.rs",
    "testing.rs",
    "testing_contract.json",
    "testing_thresholds.json",
    "text.rs",
    "traffic.rs",
);

/// The WIT package the SDK binds (`vendor/wit/plugin.wit`: the SDK reads `../wit`).
pub const WIT: &str = include_str!("../../../wit/plugin.wit");

/// The dependencies the SDK needs, at the versions this workspace pins.
const SDK_DEPENDENCIES: &str = r#"wit-bindgen = { version = "0.63", default-features = false, features = ["macros", "realloc"] }
serde_json = "1"
regex = { version = "1", optional = true }"#;

/// The vendored SDK's manifest.
fn sdk_manifest() -> String {
    format!(
        "[package]\nname = \"shipgate-sdk\"\nversion = \"{}\"\nedition = \"2024\"\ndescription = \"shipgate's check SDK, vendored by `shipgate new` for shipgate {}\"\n\n[features]\ndetect = [\"dep:regex\"]\ntesting = []\n\n[dependencies]\n{SDK_DEPENDENCIES}\n",
        env!("CARGO_PKG_VERSION"),
        env!("CARGO_PKG_VERSION"),
    )
}

/// Every file of a new check crate `name`, with its relative path.
pub fn files(name: &str) -> Vec<(String, String)> {
    let crate_name = name.replace('-', "_");
    let manifest = format!(
        "[package]\nname = \"{name}\"\nversion = \"0.1.0\"\nedition = \"2024\"\n\n\
         [dependencies]\nshipgate-sdk = {{ path = \"vendor/shipgate-sdk\" }}\n\n\
         # `cargo test` runs the check natively against a scripted host.\n[dev-dependencies]\nshipgate-sdk = {{ path = \"vendor/shipgate-sdk\", features = [\"testing\"] }}\n\n[profile.release]\nopt-level = \"s\"\nlto = true\nstrip = true\npanic = \"abort\"\n\n\
         # A standalone crate, not part of an enclosing workspace.\n[workspace]\n"
    );
    let lib = include_str!("templates/check_lib.rs")
        .replace("{{name}}", name)
        .replace("{{crate}}", &crate_name);
    let mut out = vec![
        ("Cargo.toml".to_owned(), manifest),
        ("src/lib.rs".to_owned(), lib),
        (
            ".cargo/config.toml".to_owned(),
            "# `cargo build-check` builds the component (a cdylib for wasm32-wasip2);\n# plain `cargo test` runs the native tests (the crate is an rlib natively).\n[alias]\nbuild-check = \"rustc --lib --release --target wasm32-wasip2 --crate-type cdylib\"\n".to_owned(),
        ),
        (
            "README.md".to_owned(),
            format!(
                "# {name}\n\nA shipgate check.\n\n```sh\ncargo test          # the check's judgement, natively\ncargo build-check   # the component: target/wasm32-wasip2/release/{crate_name}.wasm\nshipgate run --mock --plugin target/wasm32-wasip2/release/{crate_name}.wasm\n```\n\n`vendor/` holds the shipgate SDK and WIT package for shipgate {}.\n",
                env!("CARGO_PKG_VERSION")
            ),
        ),
        ("vendor/shipgate-sdk/Cargo.toml".to_owned(), sdk_manifest()),
        ("vendor/wit/plugin.wit".to_owned(), WIT.to_owned()),
    ];
    for (path, text) in SDK_FILES {
        out.push((format!("vendor/shipgate-sdk/{path}"), (*text).to_owned()));
    }
    out
}

/// Write the crate under `root` (which must not exist).
///
/// # Errors
///
/// An I/O failure, naming the file.
pub fn write(root: &Path, name: &str) -> anyhow::Result<()> {
    use anyhow::Context as _;
    for (path, text) in files(name) {
        let file = root.join(&path);
        if let Some(dir) = file.parent() {
            std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
        }
        crate::report::record::write_atomic(&file, text.as_bytes())
            .with_context(|| format!("writing {}", file.display()))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_sdk_source_file_is_vendored() {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../guest-sdk/src");
        let mut on_disk: Vec<String> = std::fs::read_dir(dir)
            .unwrap()
            .map(|e| format!("src/{}", e.unwrap().file_name().to_string_lossy()))
            .collect();
        on_disk.sort();
        let mut vendored: Vec<String> = SDK_FILES.iter().map(|(p, _)| (*p).to_owned()).collect();
        vendored.sort();
        assert_eq!(on_disk, vendored, "add the new SDK file to SDK_FILES");
    }

    #[test]
    fn the_vendored_dependencies_match_the_workspace() {
        let ws = include_str!("../../../Cargo.toml");
        for dep in [
            "wit-bindgen = { version = \"0.63\"",
            "serde_json = ",
            "regex = \"1\"",
        ] {
            assert!(ws.contains(dep), "{dep}");
        }
        assert!(SDK_DEPENDENCIES.contains("\"macros\", \"realloc\""));
    }

    #[test]
    fn no_generated_file_names_this_machine() {
        let here = env!("CARGO_MANIFEST_DIR");
        for (path, text) in files("my-check") {
            assert!(!text.contains(here), "{path}");
            assert!(
                !text.contains("/home/") && !text.contains("/work/"),
                "{path}"
            );
        }
    }
}
