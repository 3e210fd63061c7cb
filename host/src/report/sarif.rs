//! `findings.sarif`: located findings (those with `source` and `line`
//! evidence, as the redaction audit writes them) as SARIF 2.1.0, so
//! code-scanning UIs can show them.

use super::Record;
use crate::findings::{Finding, Verdict};
use serde_sarif::sarif::{
    ArtifactLocation, Location, Message, PhysicalLocation, Region, Result as SarifResult,
    ResultLevel, Run, Sarif, Tool, ToolComponent,
};

fn ev<'a>(f: &'a Finding, key: &str) -> Option<&'a str> {
    f.evidence
        .iter()
        .find(|e| e.key == key)
        .map(|e| e.value.as_str())
}

/// The artifact URI for a finding's `source`: run artifacts are relative to the
/// record directory, log files are `file://` URIs.
fn uri(source: &str) -> String {
    if let Some(rest) = source.strip_prefix("run:") {
        rest.to_owned()
    } else if let Some(path) = source.strip_prefix("logs:") {
        reqwest::Url::from_file_path(path)
            .map(|u| u.to_string())
            .unwrap_or_else(|_| path.to_owned())
    } else {
        source.to_owned()
    }
}

/// The SARIF document for a record.
pub fn render(record: &Record) -> Sarif {
    let results: Vec<SarifResult> = record
        .findings
        .iter()
        .filter(|f| matches!(f.verdict, Verdict::Fail | Verdict::Warn))
        .filter_map(|f| {
            let source = ev(f, "source")?;
            let line: i64 = ev(f, "line")?.parse().ok()?;
            let column: i64 = ev(f, "column").and_then(|c| c.parse().ok()).unwrap_or(1);
            let region = Region::builder()
                .start_line(line.max(1))
                .start_column(column.max(1))
                .build();
            let physical = PhysicalLocation::builder()
                .artifact_location(ArtifactLocation::builder().uri(uri(source)).build())
                .region(region)
                .build();
            Some(
                SarifResult::builder()
                    .rule_id(format!("{}/{}", f.plugin, ev(f, "rule").unwrap_or(&f.id)))
                    .level(if f.verdict == Verdict::Fail {
                        ResultLevel::Error
                    } else {
                        ResultLevel::Warning
                    })
                    .message(
                        Message::builder()
                            .text(format!("{}: {}", f.title, f.detail))
                            .build(),
                    )
                    .locations(vec![
                        Location::builder().physical_location(physical).build(),
                    ])
                    .build(),
            )
        })
        .collect();
    let driver = ToolComponent::builder()
        .name("shipgate")
        .version(record.tool.version.clone())
        .information_uri("https://example.invalid/shipgate")
        .build();
    Sarif::builder()
        .schema("https://json.schemastore.org/sarif-2.1.0.json")
        .version(serde_json::json!("2.1.0"))
        .runs(vec![
            Run::builder()
                .tool(Tool::builder().driver(driver).build())
                .results(results)
                .build(),
        ])
        .build()
}
