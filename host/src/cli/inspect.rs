//! `shipgate inspect FILE.wasm`: what a plugin is, asks for and declares,
//! without sending anything (it describes itself in its sandbox, against a
//! target that is never contacted).

use super::commands::usage;
use super::exit;
use crate::contract::{Contract, Provider, template};
use crate::plan::Plan;
use crate::runtime::{Descriptor, Runtime};
use crate::validation::{SetupError, Validation};
use anyhow::Result;
use std::path::Path;

/// What the plugin's imports say it needs from the plan.
fn needs(imports: &[String]) -> Vec<&'static str> {
    let mut out = Vec::new();
    let has = |i: &str| {
        imports
            .iter()
            .any(|n| n.starts_with(&format!("shipgate:plugin/{i}@")))
    };
    if has("http") {
        out.push(
            "http: requests to the contract's target (grants.auth for modes besides configured)",
        );
    }
    if has("audit") {
        out.push("audit: the run's output and [audit] log_dirs (grants.audit = true)");
    }
    if has("traffic") {
        out.push("traffic: the application under test's episodes (grants.traffic = true)");
    }
    if has("context") {
        out.push("context: the contract, thresholds and its settings (always)");
    }
    if has("log") {
        out.push("log: redacted structured logging (always)");
    }
    out
}

pub(super) async fn inspect(file: &Path, json: bool) -> Result<u8> {
    let abs = std::path::absolute(file).map_err(|e| usage(format!("{}: {e}", file.display())))?;
    let path = abs
        .to_str()
        .ok_or_else(|| usage(format!("{}: the path is not UTF-8", file.display())))?;
    let bytes_len = std::fs::metadata(&abs)
        .map(|m| m.len())
        .map_err(|e| usage(format!("{}: cannot read it: {e}", file.display())))?;
    let bundled = crate::bundled::names();
    let text = format!(
        "schema = 1\n[[plugins]]\npath = {}\n",
        toml::Value::String(path.to_owned())
    );
    let plan = Plan::parse(Path::new("<inspect>"), &text, &bundled, &[])?;
    // A target that is never contacted (describe may send nothing).
    let contract = Contract::parse(
        Path::new("<inspect>"),
        &template(Provider::Mock, Some("http://127.0.0.1:9/v1")),
    )?;
    let runtime = Runtime::new(None)?;
    let v = Validation {
        contract_source: "<inspect>".into(),
        target_is_mock: true,
        ..Validation::new(&contract, &plan, &runtime, None)
    };
    let described = match v.describe().await {
        Ok(d) => d,
        Err(SetupError::Load(e)) => return Err(usage(e.to_string())),
        Err(e) => return Err(usage(e.to_string())),
    };
    let Some((plugin, descriptor)) = described.into_iter().next() else {
        return Err(usage(format!("{}: nothing to inspect", file.display())));
    };
    let d: Result<Descriptor, String> =
        descriptor.map_err(|f| format!("{}: {}", f.title, f.detail));
    let wit = plugin
        .exports
        .iter()
        .find_map(|e| e.strip_prefix("shipgate:plugin/check@"))
        .map(|v| format!("shipgate:plugin@{v}"))
        .unwrap_or_default();
    if json {
        let value = serde_json::json!({
            "file": file.display().to_string(),
            "sha256": plugin.sha256,
            "bytes": bytes_len,
            "wit": wit,
            "world": "plugin",
            "descriptor": match &d {
                Ok(d) => serde_json::json!({
                    "name": d.name, "version": d.version, "summary": d.summary,
                    "covers": d.covers, "findings": d.findings, "needs_canary": d.needs_canary,
                    "settings": d.settings.iter().map(|s| serde_json::json!({
                        "name": s.name, "kind": format!("{:?}", s.kind).to_ascii_lowercase(),
                        "default": s.default, "summary": s.summary,
                    })).collect::<Vec<_>>(),
                }),
                Err(e) => serde_json::json!({"error": e}),
            },
            "needs": needs(&plugin.imports),
            "imports": plugin.imports,
            "exports": plugin.exports,
        });
        println!("{}", serde_json::to_string_pretty(&value)?);
        return Ok(exit::OK);
    }
    println!("{}", file.display());
    match &d {
        Ok(d) => {
            println!("  check:    {} {} — {}", d.name, d.version, d.summary);
            println!(
                "  covers:   {}",
                if d.covers.is_empty() {
                    "(nothing)".to_owned()
                } else {
                    d.covers.join(", ")
                }
            );
            println!(
                "  findings: {}",
                if d.findings.is_empty() {
                    "(none declared)".to_owned()
                } else {
                    d.findings.join(", ")
                }
            );
            for s in &d.settings {
                println!(
                    "  setting:  {} ({:?}, default {}) — {}",
                    s.name,
                    s.kind,
                    s.default.as_deref().unwrap_or("none"),
                    s.summary
                );
            }
            if d.needs_canary {
                println!("  runs after the canary authenticates");
            }
        }
        Err(e) => println!("  describe failed: {e}"),
    }
    println!("  wit:      {wit} (world plugin)");
    for n in needs(&plugin.imports) {
        println!("  needs:    {n}");
    }
    println!("  sha256:   {}", plugin.sha256);
    println!("  size:     {bytes_len} bytes");
    println!("  imports:  {}", plugin.imports.join(", "));
    println!("  exports:  {}", plugin.exports.join(", "));
    Ok(exit::OK)
}
