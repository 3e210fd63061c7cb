//! `junit.xml`: one test suite per plugin, one test case per finding.
//!
//! fail -> failure, skip -> skipped, warn -> success or failure as the plan's
//! `decision.junit_warn` says. The decision itself is a test case of the
//! `shipgate` suite, failing unless it is Ship.

use super::Record;
use crate::decision::Outcome;
use crate::findings::Verdict;
use crate::plan::JunitWarn;
use quick_junit::{NonSuccessKind, Report, TestCase, TestCaseStatus, TestSuite};

/// Render the record as JUnit XML.
///
/// # Errors
///
/// Serialization errors from quick-junit.
pub fn render(record: &Record, warn: JunitWarn) -> Result<String, quick_junit::SerializeError> {
    let mut report = Report::new("shipgate");
    let mut gate = TestSuite::new("shipgate");
    let mut status = if record.decision.outcome == Outcome::Ship {
        TestCaseStatus::success()
    } else {
        TestCaseStatus::non_success(NonSuccessKind::Failure)
    };
    let why: Vec<String> = record
        .decision
        .reasons
        .iter()
        .map(|r| r.message.clone())
        .collect();
    if record.decision.outcome != Outcome::Ship {
        status.set_message(format!("decision: {}", record.decision.outcome.label()));
        status.set_description(why.join("\n"));
    }
    let mut case = TestCase::new("decision", status);
    case.set_classname("shipgate");
    gate.add_test_case(case);
    report.add_test_suite(gate);
    for plugin in &record.plugins {
        let mut suite = TestSuite::new(plugin.name.as_str());
        for f in record.findings.iter().filter(|f| f.plugin == plugin.name) {
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
            let mut case = TestCase::new(format!("{} {}", f.id, f.title), status);
            case.set_classname(plugin.name.as_str());
            let mut out = format!("verdict: {}\n{}\n", f.verdict.as_str(), f.detail);
            for e in &f.evidence {
                out.push_str(&format!("{}: {}\n", e.key, e.value));
            }
            case.set_system_out(out);
            suite.add_test_case(case);
        }
        report.add_test_suite(suite);
    }
    report.to_string()
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
        let xml = render(&r, JunitWarn::Pass).unwrap();
        assert_eq!(xml.matches("<failure").count(), 2, "decision + fail: {xml}");
        assert_eq!(xml.matches("<skipped").count(), 1);
        let xml = render(&r, JunitWarn::Failure).unwrap();
        assert_eq!(
            xml.matches("<failure").count(),
            3,
            "warn counts as failure: {xml}"
        );
        assert!(xml.contains("detail 1"));
    }
}
