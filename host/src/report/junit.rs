//! `junit.xml`: one test suite per plugin, one test case per finding, in the
//! shape the Jenkins xunit plugin's `junit-10.xsd` accepts (CI test tabs).
//!
//! - fail -> failure, skip -> skipped, warn -> success or failure as the
//!   plan's `decision.junit_warn` says;
//! - every finding a plugin declares is a case in every run: one it did not
//!   report (a check skipped, or stopped early) is a skipped case, so a
//!   check's cases never vanish between runs;
//! - the decision is a case of the `shipgate` suite that fails exactly when
//!   the command's exit code does (`--fail-on`);
//! - suites carry `time` and `timestamp`; `<testsuites>` carries only the
//!   attributes the schema allows.

use super::Record;
use crate::findings::Verdict;
use crate::plan::JunitWarn;
use quick_junit::{NonSuccessKind, Report, TestCase, TestCaseStatus, TestSuite};
use std::time::Duration;

/// How the JUnit report reads the decision and warnings.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct JunitOptions {
    /// Whether a warning is a failure (`decision.junit_warn`).
    pub warn: JunitWarn,
    /// Whether the decision fails the command (its exit code is not 0).
    pub decision_fails: bool,
}

/// Render the record as JUnit XML.
///
/// # Errors
///
/// Serialization errors from quick-junit.
pub fn render(record: &Record, opts: JunitOptions) -> Result<String, quick_junit::SerializeError> {
    let started = chrono::DateTime::parse_from_rfc3339(&record.started_at).ok();
    let ended = chrono::DateTime::parse_from_rfc3339(&record.ended_at).ok();
    let run_time = match (started, ended) {
        (Some(s), Some(e)) => (e - s).to_std().unwrap_or_default(),
        _ => Duration::ZERO,
    };
    let mut report = Report::new("shipgate");
    report.set_time(run_time);
    let mut gate = TestSuite::new("shipgate");
    if let Some(s) = started {
        gate.set_timestamp(s);
    }
    gate.set_time(run_time);
    let label = record.decision.outcome.label();
    let mut status = if opts.decision_fails {
        TestCaseStatus::non_success(NonSuccessKind::Failure)
    } else {
        TestCaseStatus::success()
    };
    if opts.decision_fails {
        let why: Vec<String> = record
            .decision
            .reasons
            .iter()
            .map(|r| r.message.clone())
            .collect();
        status.set_message(format!("decision: {label}"));
        status.set_description(why.join("\n"));
    }
    let mut case = TestCase::new("decision", status);
    case.set_classname("shipgate");
    case.set_system_out(format!("decision: {label}\n"));
    gate.add_test_case(case);
    report.add_test_suite(gate);
    for plugin in &record.plugins {
        let mut suite = TestSuite::new(plugin.name.as_str());
        if let Some(s) = started {
            suite.set_timestamp(s);
        }
        suite.set_time(Duration::from_millis(plugin.duration_ms));
        let reported: Vec<&crate::findings::Finding> = record
            .findings
            .iter()
            .filter(|f| f.plugin == plugin.name)
            .collect();
        for f in &reported {
            suite.add_test_case(finding_case(&plugin.name, f, opts.warn));
        }
        // Declared but not reported: skipped, so the case stays in the report.
        for id in &plugin.declared_findings {
            if id.ends_with('*') || reported.iter().any(|f| &f.id == id) {
                continue;
            }
            let mut status = TestCaseStatus::skipped();
            status.set_message(match &plugin.status {
                crate::report::record::RunStatus::Skipped(why) => format!("not run: {why}"),
                crate::report::record::RunStatus::Failed(why) => format!("not reached: {why}"),
                crate::report::record::RunStatus::Completed => {
                    "not reported in this run".to_owned()
                }
            });
            let mut case = TestCase::new(id.as_str(), status);
            case.set_classname(plugin.name.as_str());
            suite.add_test_case(case);
        }
        report.add_test_suite(suite);
    }
    Ok(without_testsuites_skipped(report.to_string()?))
}

fn finding_case(plugin: &str, f: &crate::findings::Finding, warn: JunitWarn) -> TestCase {
    let mut status = match (f.verdict, warn) {
        (Verdict::Pass, _) | (Verdict::Warn, JunitWarn::Pass) => TestCaseStatus::success(),
        (Verdict::Skip, _) => TestCaseStatus::skipped(),
        (Verdict::Fail, _) | (Verdict::Warn, JunitWarn::Failure) => {
            TestCaseStatus::non_success(NonSuccessKind::Failure)
        }
    };
    if matches!(f.verdict, Verdict::Fail | Verdict::Skip)
        || (f.verdict == Verdict::Warn && warn == JunitWarn::Failure)
    {
        status.set_message(f.detail.clone());
    }
    // The id alone names the case: stable across runs whatever the detail says.
    let mut case = TestCase::new(f.id.as_str(), status);
    case.set_classname(plugin);
    let mut out = format!(
        "{}\nverdict: {}\n{}\n",
        f.title,
        f.verdict.as_str(),
        f.detail
    );
    for e in &f.evidence {
        out.push_str(&format!("{}: {}\n", e.key, e.value));
    }
    case.set_system_out(out);
    case
}

/// `<testsuites>` may not carry `skipped` under junit-10.xsd; quick-junit
/// always writes it there (on `<testsuite>` it is allowed).
fn without_testsuites_skipped(xml: String) -> String {
    let Some(start) = xml.find("<testsuites") else {
        return xml;
    };
    let end = xml[start..].find('>').map_or(xml.len(), |e| start + e);
    let tag = &xml[start..end];
    let Some(at) = tag.find(" skipped=\"") else {
        return xml;
    };
    let close = tag[at + 10..]
        .find('"')
        .map_or(tag.len(), |c| at + 10 + c + 1);
    format!("{}{}{}", &xml[..start + at], &tag[close..], &xml[end..])
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::decision::{Decision, Outcome};
    use crate::findings::{Finding, FindingKind};

    fn record(verdicts: &[Verdict]) -> Record {
        let findings: Vec<Finding> = verdicts
            .iter()
            .enumerate()
            .map(|(i, v)| Finding {
                plugin: "p".into(),
                id: format!("p.{i}"),
                title: "t".into(),
                verdict: *v,
                kind: FindingKind::Check,
                detail: format!("detail {i}"),
                evidence: vec![],
                metrics: vec![],
                covers: vec![],
                subject: crate::checklist::Subject::Provider,
            })
            .collect();
        let json = serde_json::json!({
            "record_version": 2, "tool": {"name": "shipgate", "version": "0", "wit": "shipgate:plugin@0.2.0"},
            "run_id": "r", "started_at": "", "ended_at": "", "complete": true, "incomplete_reason": null,
            "host": {"hostname": "h", "os": "o", "arch": "a"}, "contract": {}, "contract_source": "", "plan": {},
            "plugins": [{"name": "p", "version": null, "summary": null, "covers": [], "sha256": "0", "source": "s",
                         "status": {"status": "completed"}, "duration_ms": 0, "fuel_used": null, "requests": 0, "subject": "provider"}],
            "request_template": null, "response_fields_observed": [], "failure_modes_tested": [], "telemetry": [],
            "telemetry_summary": [], "denials": [], "findings": findings, "counts": {"pass": 0, "warn": 0, "fail": 0, "skip": 0},
            "decision": Decision { outcome: Outcome::Hold, reasons: vec![], checklist: vec![] }
        });
        serde_json::from_value(json).unwrap()
    }

    #[test]
    fn maps_verdicts_to_junit_and_warn_is_configurable() {
        let r = record(&[Verdict::Pass, Verdict::Fail, Verdict::Skip, Verdict::Warn]);
        let opts = |warn, decision_fails| JunitOptions {
            warn,
            decision_fails,
        };
        let xml = render(&r, opts(JunitWarn::Pass, true)).unwrap();
        assert_eq!(xml.matches("<failure").count(), 2, "decision + fail: {xml}");
        assert_eq!(xml.matches("<skipped").count(), 1);
        // The decision case follows the exit code, not the outcome.
        let xml = render(&r, opts(JunitWarn::Pass, false)).unwrap();
        assert_eq!(xml.matches("<failure").count(), 1, "only the fail: {xml}");
        let xml = render(&r, opts(JunitWarn::Failure, true)).unwrap();
        assert_eq!(
            xml.matches("<failure").count(),
            3,
            "warn counts as failure: {xml}"
        );
        assert!(xml.contains("detail 1"));
    }
}
