//! One test per rule of the guide, and the combinations that matter.

use super::*;
use crate::contract::{Provider, template};
use crate::findings::FindingKind;
use crate::plan::UncoveredRule;
use crate::report::record::RunStatus;

fn contract(status: &str, documented: bool) -> Contract {
    let mut t = template(Provider::Mock, None)
        .replace("status = \"verified\"", &format!("status = \"{status}\""));
    if !documented {
        t = t.replace("documented = true\nnotes", "documented = false\nnotes");
    }
    Contract::parse(std::path::Path::new("c.toml"), &t).unwrap()
}

fn f(plugin: &str, id: &str, verdict: Verdict, subject: Subject, covers: &[&str]) -> Finding {
    Finding {
        plugin: plugin.into(),
        id: id.into(),
        title: id.into(),
        verdict,
        kind: FindingKind::Check,
        detail: String::new(),
        evidence: vec![],
        metrics: vec![],
        covers: covers.iter().map(|s| s.to_string()).collect(),
        subject,
    }
}

/// A run that earns Ship: a passing canary, completed probes, and evidence of
/// the right subject for every item (application items from an application check).
fn good_run() -> Vec<Finding> {
    let mut out = vec![
        f(
            "canary",
            "canary.status",
            Verdict::Pass,
            Subject::Provider,
            &["endpoint-verified"],
        ),
        f(
            "negative-probes",
            "probe.missing-auth",
            Verdict::Pass,
            Subject::Provider,
            &["auth-verified"],
        ),
        f(
            "negative-probes",
            "probe.client-timeout",
            Verdict::Skip,
            Subject::Provider,
            &[],
        ),
    ];
    for item in checklist::ITEMS.iter().filter(|i| !i.operator_only()) {
        let subject = item.subjects[0];
        out.push(f(
            "evidence",
            &format!("e.{}", item.id),
            Verdict::Pass,
            subject,
            &[item.id],
        ));
    }
    out
}

fn attested() -> BTreeMap<String, String> {
    BTreeMap::from([
        (
            "rollout-flag-available".to_owned(),
            "flag chat-v2".to_owned(),
        ),
        ("rollback-documented".to_owned(), "runbook".to_owned()),
    ])
}

struct Case {
    findings: Vec<Finding>,
    contract: Contract,
    rules: DecisionRules,
    attestations: BTreeMap<String, String>,
    waivers: BTreeMap<String, String>,
    incomplete: Option<&'static str>,
    canary: Option<&'static str>,
    probes: Option<(&'static str, RunStatus)>,
}

impl Case {
    fn good() -> Case {
        Case {
            findings: good_run(),
            contract: contract("verified", true),
            rules: DecisionRules::default(),
            attestations: attested(),
            waivers: BTreeMap::new(),
            incomplete: None,
            canary: Some("canary"),
            probes: Some(("negative-probes", RunStatus::Completed)),
        }
    }

    fn decide(&self) -> Decision {
        let checklist = checklist(&self.findings, &self.attestations, &self.contract);
        decide(&Inputs {
            findings: &self.findings,
            contract: &self.contract,
            rules: &self.rules,
            attestations: &self.attestations,
            waivers: &self.waivers,
            incomplete: self.incomplete,
            canary: self.canary,
            probes: self.probes.clone(),
            checklist: &checklist,
        })
    }
}

fn rules_of(d: &Decision) -> Vec<&str> {
    d.reasons.iter().map(|r| r.rule.as_str()).collect()
}

#[test]
fn ships_when_everything_is_earned() {
    let d = Case::good().decide();
    assert_eq!(d.outcome, Outcome::Ship, "{:#?}", d.reasons);
    assert!(
        d.checklist
            .iter()
            .all(|e| matches!(e.status, ItemStatus::Verified | ItemStatus::Attested))
    );
}

#[test]
fn incomplete_run_holds() {
    let mut c = Case::good();
    c.incomplete = Some("interrupted");
    let d = c.decide();
    assert_eq!(d.outcome, Outcome::Hold);
    assert_eq!(d.reasons[0].rule, "incomplete-run");
}

#[test]
fn failing_finding_holds_and_names_it() {
    let mut c = Case::good();
    c.findings[1].verdict = Verdict::Fail;
    let d = c.decide();
    assert_eq!(d.outcome, Outcome::Hold);
    assert_eq!(d.reasons[0].rule, "failing-finding");
    assert_eq!(
        d.reasons[0].finding.as_deref(),
        Some("negative-probes/probe.missing-auth")
    );
}

#[test]
fn a_held_warning_holds_only_for_the_plugin_it_names() {
    let mut c = Case::good();
    c.findings.push(f(
        "canary",
        "canary.latency",
        Verdict::Warn,
        Subject::Provider,
        &[],
    ));
    c.findings.push(f(
        "other",
        "canary.latency",
        Verdict::Warn,
        Subject::Provider,
        &[],
    ));
    c.rules.hold_on_warn = vec!["canary/canary.latency".into()];
    let d = c.decide();
    assert_eq!(d.outcome, Outcome::Hold);
    let held: Vec<_> = d
        .reasons
        .iter()
        .filter(|r| r.rule == "warning-held")
        .collect();
    assert_eq!(held.len(), 1);
    assert_eq!(held[0].finding.as_deref(), Some("canary/canary.latency"));
    assert!(
        d.reasons
            .iter()
            .any(|r| r.rule == "warning" && r.finding.as_deref() == Some("other/canary.latency"))
    );
}

#[test]
fn any_assumed_section_holds_unless_waived() {
    let mut c = Case::good();
    c.contract = contract("assumed", true);
    // Even with nothing that depends on it covered: fewer checks never means fewer holds.
    c.findings.retain(|f| f.plugin != "evidence");
    let d = c.decide();
    assert_eq!(d.outcome, Outcome::Hold);
    assert_eq!(
        d.reasons
            .iter()
            .filter(|r| r.rule == "assumed-contract")
            .count(),
        10,
        "nine required sections and [streaming]"
    );
    let mut c = Case::good();
    c.contract = contract("assumed", true);
    c.waivers = c
        .contract
        .sections()
        .iter()
        .map(|s| (s.key().to_owned(), "accepted by the lead".to_owned()))
        .collect();
    let d = c.decide();
    assert_eq!(d.outcome, Outcome::Ship, "{:#?}", d.reasons);
    assert_eq!(
        d.reasons.iter().filter(|r| r.rule == "waived").count(),
        10,
        "the waivers are recorded"
    );
}

#[test]
fn unresolved_rate_limits_or_billing_hold_unless_waived() {
    let mut c = Case::good();
    c.contract = contract("verified", false);
    let d = c.decide();
    assert_eq!(d.outcome, Outcome::Hold);
    let sections: Vec<_> = d
        .reasons
        .iter()
        .filter(|r| r.rule == "unresolved-assumption")
        .filter_map(|r| r.contract_section.as_deref())
        .collect();
    assert_eq!(sections, vec!["rate_limits", "billing"]);
    c.waivers = BTreeMap::from([
        (
            "rate_limits".to_owned(),
            "support ticket 123: 60 rpm".to_owned(),
        ),
        ("billing".to_owned(), "finance signed off".to_owned()),
    ]);
    assert_eq!(c.decide().outcome, Outcome::Ship);
}

#[test]
fn nothing_better_than_hold_without_a_passing_canary() {
    let mut c = Case::good();
    c.canary = None;
    assert_eq!(rules_of(&c.decide()), vec!["no-canary"]);
    let mut c = Case::good();
    c.findings[0].verdict = Verdict::Skip;
    let d = c.decide();
    assert_eq!(d.outcome, Outcome::Hold);
    assert!(rules_of(&d).contains(&"no-canary"));
    let mut c = Case::good();
    c.findings.remove(0);
    assert!(rules_of(&c.decide()).contains(&"no-canary"));
}

#[test]
fn nothing_better_than_hold_without_completed_probes() {
    let mut c = Case::good();
    c.probes = None;
    assert_eq!(rules_of(&c.decide()), vec!["probes-incomplete"]);
    let mut c = Case::good();
    c.probes = Some((
        "negative-probes",
        RunStatus::Skipped("the canary could not authenticate".into()),
    ));
    let d = c.decide();
    assert_eq!(d.outcome, Outcome::Hold);
    assert!(
        d.reasons
            .iter()
            .any(|r| r.message
                == "the negative probes were skipped: the canary could not authenticate"),
        "{:?}",
        d.reasons
    );
    // A provider probe skipped holds; an information probe skipped does not.
    let mut c = Case::good();
    c.findings[1].verdict = Verdict::Skip;
    let d = c.decide();
    assert_eq!(rules_of(&d), vec!["probes-incomplete"]);
}

#[test]
fn unverified_items_hold_by_default_and_flag_when_the_plan_says_so() {
    let mut c = Case::good();
    c.findings.retain(|f| f.id != "e.retry-policy-bounded");
    let d = c.decide();
    assert_eq!(d.outcome, Outcome::Hold);
    assert_eq!(
        d.reasons[0].checklist_item.as_deref(),
        Some("retry-policy-bounded")
    );
    assert!(
        d.reasons[0]
            .message
            .contains("evidence about the application"),
        "{}",
        d.reasons[0].message
    );
    c.rules.uncovered = UncoveredRule::Flag;
    assert_eq!(c.decide().outcome, Outcome::ShipBehindFlag);
}

#[test]
fn shipgate_evidence_never_ticks_an_application_item() {
    let mut c = Case::good();
    for f in c
        .findings
        .iter_mut()
        .filter(|f| f.id == "e.retry-policy-bounded")
    {
        f.subject = Subject::Shipgate;
    }
    let d = c.decide();
    let e = d
        .checklist
        .iter()
        .find(|e| e.id == "retry-policy-bounded")
        .unwrap();
    assert_eq!(e.status, ItemStatus::NotVerified);
    assert_eq!(
        e.information,
        vec!["evidence/e.retry-policy-bounded (shipgate)".to_owned()]
    );
    assert_eq!(d.outcome, Outcome::Hold);
}

#[test]
fn a_finding_never_verifies_what_only_an_operator_can() {
    let mut c = Case::good();
    c.attestations.remove("rollback-documented");
    c.findings.push(f(
        "x",
        "claims",
        Verdict::Pass,
        Subject::Provider,
        &["rollback-documented"],
    ));
    let d = c.decide();
    let e = d
        .checklist
        .iter()
        .find(|e| e.id == "rollback-documented")
        .unwrap();
    assert_eq!(e.status, ItemStatus::NotVerified);
    assert_eq!(d.outcome, Outcome::Hold);
}

#[test]
fn warnings_ship_behind_a_flag_only_with_an_attested_flag() {
    let mut c = Case::good();
    c.findings.push(f(
        "canary",
        "canary.latency",
        Verdict::Warn,
        Subject::Provider,
        &[],
    ));
    assert_eq!(c.decide().outcome, Outcome::ShipBehindFlag);
    c.attestations.remove("rollout-flag-available");
    c.rules.uncovered = UncoveredRule::Flag;
    let d = c.decide();
    assert_eq!(d.outcome, Outcome::Hold);
    assert!(
        rules_of(&d).contains(&"no-traffic-control"),
        "{:?}",
        rules_of(&d)
    );
}

#[test]
fn a_plan_that_skips_a_check_is_never_judged_better() {
    // Leaving a plugin out decides no better than running it and seeing it fail.
    let full = Case::good();
    let plugins: std::collections::BTreeSet<String> =
        full.findings.iter().map(|f| f.plugin.clone()).collect();
    for plugin in plugins {
        let mut with_failure = Case::good();
        let first = with_failure
            .findings
            .iter_mut()
            .find(|f| f.plugin == plugin)
            .unwrap();
        first.verdict = Verdict::Fail;
        let mut without = Case::good();
        without.findings.retain(|f| f.plugin != plugin);
        if plugin == "canary" {
            without.canary = None;
        }
        if plugin == "negative-probes" {
            without.probes = None;
        }
        assert!(
            without.decide().outcome >= with_failure.decide().outcome,
            "leaving out {plugin} decided {:?}, running it and failing {:?}",
            without.decide().outcome,
            with_failure.decide().outcome
        );
        assert!(without.decide().outcome >= full.decide().outcome);
    }
}
