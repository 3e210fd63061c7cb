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

/// Files of the run that a finding may point at (relative to the record directory).
const RUN_FILES: &[&str] = &["log.jsonl", "telemetry.json", "findings.json"];

/// The artifact URI for a finding's `source`, when it names something the
/// run really read: one of the run's own files (relative to the record
/// directory), or a file under one of the plan's `[audit] log_dirs`
/// (`file://`). Anything else (a guest can write any `source` evidence) has
/// no location, so a SARIF viewer never gets a `javascript:` or `../` URI.
fn uri(source: &str, log_dirs: &[String]) -> Option<String> {
    if let Some(rest) = source.strip_prefix("run:") {
        return RUN_FILES.contains(&rest).then(|| rest.to_owned());
    }
    let path = std::path::Path::new(source.strip_prefix("logs:")?);
    let inside = log_dirs.iter().any(|d| path.starts_with(d));
    let plain = path.is_absolute()
        && path.components().all(|c| {
            matches!(
                c,
                std::path::Component::RootDir | std::path::Component::Normal(_)
            )
        });
    if !(inside && plain) {
        return None;
    }
    reqwest::Url::from_file_path(path)
        .ok()
        .map(|u| u.to_string())
}

/// The SARIF document for a record.
pub fn render(record: &Record) -> Sarif {
    let log_dirs: Vec<String> = record
        .plan
        .pointer("/audit/log_dirs")
        .and_then(|v| v.as_array())
        .map(|a| {
            a.iter()
                .filter_map(|d| d.as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default();
    let results: Vec<SarifResult> = record
        .findings
        .iter()
        .filter(|f| matches!(f.verdict, Verdict::Fail | Verdict::Warn))
        .filter_map(|f| {
            let source = uri(ev(f, "source")?, &log_dirs)?;
            let line: i64 = ev(f, "line")?.parse().ok()?;
            let column: i64 = ev(f, "column").and_then(|c| c.parse().ok()).unwrap_or(1);
            let region = Region::builder()
                .start_line(line.max(1))
                .start_column(column.max(1))
                .build();
            let physical = PhysicalLocation::builder()
                .artifact_location(ArtifactLocation::builder().uri(source).build())
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

#[cfg(test)]
mod tests {
    use super::uri;

    #[test]
    fn only_what_the_run_read_gets_a_location() {
        let dirs = vec!["/srv/logs".to_owned()];
        assert_eq!(uri("run:log.jsonl", &dirs).as_deref(), Some("log.jsonl"));
        assert_eq!(
            uri("logs:/srv/logs/app/x.log", &dirs).as_deref(),
            Some("file:///srv/logs/app/x.log")
        );
        for bad in [
            "javascript:alert(1)",
            "run:../../etc/passwd",
            "logs:/srv/logs/../../etc/passwd",
            "logs:/etc/passwd",
            "https://evil.test/x",
            "logs:relative/x",
        ] {
            assert_eq!(uri(bad, &dirs), None, "{bad}");
        }
    }
}
