//! `findings.sarif`: every failing or warning finding as SARIF 2.1.0, with
//! rule metadata, so code-scanning UIs can show them.

use super::Record;
use crate::findings::{Finding, Verdict};
use serde_sarif::sarif::{
    ArtifactLocation, Location, LogicalLocation, Message, MultiformatMessageString,
    PhysicalLocation, PropertyBag, Region, ReportingDescriptor, Result as SarifResult, ResultLevel,
    Run, Sarif, Tool, ToolComponent,
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

/// Where the tool's documentation lives (the package's repository).
pub const INFORMATION_URI: &str = env!("CARGO_PKG_REPOSITORY");

/// The SARIF document for a record: every failing or warning finding, each
/// with its rule (the check and finding id, its title, the checklist items it
/// covers and its subject) in `tool.driver.rules`. A finding that points at a
/// file the run read is located there; any other is located at the contract
/// (the integration it judges) and named by its check as a logical location.
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
    let contract = contract_uri(&record.contract_source);
    let mut rules: Vec<ReportingDescriptor> = Vec::new();
    let mut results = Vec::new();
    for f in record
        .findings
        .iter()
        .filter(|f| matches!(f.verdict, Verdict::Fail | Verdict::Warn))
    {
        let rule_id = format!("{}/{}", f.plugin, ev(f, "rule").unwrap_or(&f.id));
        let index = match rules.iter().position(|r| r.id == rule_id) {
            Some(i) => i,
            None => {
                rules.push(rule(&rule_id, f));
                rules.len() - 1
            }
        };
        let level = if f.verdict == Verdict::Fail {
            ResultLevel::Error
        } else {
            ResultLevel::Warning
        };
        let text = if f.detail.is_empty() {
            f.title.clone()
        } else {
            format!("{}: {}", f.title, f.detail)
        };
        let logical = LogicalLocation::builder()
            .name(f.plugin.clone())
            .fully_qualified_name(format!("{}/{}", f.plugin, f.id))
            .kind("module")
            .build();
        let physical = located(f, &log_dirs).or_else(|| {
            contract.clone().map(|uri| {
                PhysicalLocation::builder()
                    .artifact_location(ArtifactLocation::builder().uri(uri).build())
                    .region(Region::builder().start_line(1).build())
                    .build()
            })
        });
        let location = match physical {
            Some(p) => Location::builder()
                .logical_locations(vec![logical])
                .physical_location(p)
                .build(),
            None => Location::builder().logical_locations(vec![logical]).build(),
        };
        results.push(
            SarifResult::builder()
                .rule_id(rule_id)
                .rule_index(index as i64)
                .level(level)
                .message(Message::builder().text(text).build())
                .locations(vec![location])
                .build(),
        );
    }
    let driver = ToolComponent::builder()
        .name("shipgate")
        .version(record.tool.version.clone())
        .information_uri(INFORMATION_URI)
        .rules(rules)
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

/// A finding's rule: its id, title, what it covers and whom it judges.
fn rule(id: &str, f: &Finding) -> ReportingDescriptor {
    let mut tags = vec![f.subject.as_str().to_owned()];
    tags.extend(f.covers.iter().cloned());
    let full = if f.covers.is_empty() {
        format!(
            "{} (check `{}`, subject: {}).",
            f.title,
            f.plugin,
            f.subject.as_str()
        )
    } else {
        format!(
            "{} (check `{}`, subject: {}); checklist items: {}.",
            f.title,
            f.plugin,
            f.subject.as_str(),
            f.covers.join(", ")
        )
    };
    ReportingDescriptor::builder()
        .id(id)
        .name(f.id.clone())
        .short_description(
            MultiformatMessageString::builder()
                .text(f.title.clone())
                .build(),
        )
        .full_description(MultiformatMessageString::builder().text(full).build())
        .help_uri(INFORMATION_URI)
        .properties(PropertyBag::builder().tags(tags).build())
        .build()
}

/// The location a finding names (`source` and `line` evidence), when it is
/// a file the run really read.
fn located(f: &Finding, log_dirs: &[String]) -> Option<PhysicalLocation> {
    let source = uri(ev(f, "source")?, log_dirs)?;
    let line: i64 = ev(f, "line")?.parse().ok()?;
    let column: i64 = ev(f, "column").and_then(|c| c.parse().ok()).unwrap_or(1);
    let region = Region::builder()
        .start_line(line.max(1))
        .start_column(column.max(1))
        .build();
    Some(
        PhysicalLocation::builder()
            .artifact_location(ArtifactLocation::builder().uri(source).build())
            .region(region)
            .build(),
    )
}

/// The contract's path as a relative URI, when it is a plain relative path
/// (a built-in contract or an absolute path outside the checkout has none).
fn contract_uri(source: &str) -> Option<String> {
    let path = std::path::Path::new(source);
    let plain = !source.is_empty()
        && path.components().all(|c| {
            matches!(
                c,
                std::path::Component::Normal(_) | std::path::Component::CurDir
            )
        });
    let clean = source
        .bytes()
        .all(|b| b.is_ascii_graphic() && b != b'%' && b != b'\\');
    (plain && clean).then(|| source.trim_start_matches("./").to_owned())
}

#[cfg(test)]
mod tests {
    use super::{contract_uri, uri};

    #[test]
    fn only_a_plain_relative_contract_path_is_a_location() {
        assert_eq!(
            contract_uri("contract.toml").as_deref(),
            Some("contract.toml")
        );
        assert_eq!(contract_uri("./c/x.toml").as_deref(), Some("c/x.toml"));
        for bad in [
            "",
            "/etc/x.toml",
            "../x.toml",
            "(built-in mock)",
            "a b.toml",
            "x%2e.toml",
        ] {
            assert_eq!(contract_uri(bad), None, "{bad}");
        }
    }

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
