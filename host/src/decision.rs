//! The rollout decision: Ship, Ship behind flag, or Hold, with the reasons.
//!
//! Pure: findings, contract and plan rules in, [`Decision`] out. The rules, in
//! order of precedence (each reason names the finding, contract section or
//! checklist item behind it):
//!
//! **Hold** when
//! 1. the run is incomplete (interrupted, or a plugin could not run);
//! 2. any finding fails, including the host's plugin-error and sandbox findings;
//! 3. a warning's id is listed in `decision.hold_on_warn`;
//! 4. a checklist item a finding covers depends on a contract section whose
//!    status is `assumed`;
//! 5. `decision.uncovered = "hold"` and a checklist item is not verified.
//!
//! **Ship behind flag** when none of those hold but
//! 6. any finding warns;
//! 7. the contract says rate limits or billing are not documented;
//! 8. `decision.uncovered = "flag"` (the default) and a checklist item is not verified.
//!
//! **Ship** otherwise: every covered item passed and nothing is assumed.

use crate::checklist::{self, Item};
use crate::contract::{Contract, Status};
use crate::findings::{Finding, Verdict};
use crate::plan::{DecisionRules, UncoveredRule};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// The three outcomes of the guide's step 7.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Outcome {
    /// Contract verified, canary passed, probes handled, telemetry present.
    Ship,
    /// The basic path works, but rollout needs traffic controls.
    ShipBehindFlag,
    /// Uncertainty or unsafe behaviour: do not roll out.
    Hold,
}

impl Outcome {
    /// How the decision is printed.
    pub fn label(self) -> &'static str {
        match self {
            Outcome::Ship => "SHIP",
            Outcome::ShipBehindFlag => "SHIP BEHIND FLAG",
            Outcome::Hold => "HOLD",
        }
    }
}

/// One reason for the decision.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Reason {
    /// The outcome this reason leads to.
    pub leads_to: Outcome,
    /// Rule name (`failing-finding`, `assumed-contract`, ...).
    pub rule: String,
    /// What, in words.
    pub message: String,
    /// The finding behind it (`plugin/id`), if any.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub finding: Option<String>,
    /// The contract section behind it, if any.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub contract_section: Option<String>,
    /// The checklist item behind it, if any.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub checklist_item: Option<String>,
}

/// The status of one checklist item.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ItemStatus {
    /// Covered by passing findings only.
    Verified,
    /// Covered, with a warning.
    Warning,
    /// Covered, with a failure.
    Failed,
    /// Vouched for by the operator in the plan.
    Attested,
    /// Nothing covered it.
    NotVerified,
}

/// One checklist row of the record.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChecklistEntry {
    /// Item id.
    pub id: String,
    /// The guide's wording.
    pub title: String,
    /// Status.
    pub status: ItemStatus,
    /// Findings that cover it (`plugin/id`).
    pub findings: Vec<String>,
    /// The operator's attestation, if any.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub attestation: Option<String>,
}

/// The decision and everything it rests on.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Decision {
    /// The outcome.
    pub outcome: Outcome,
    /// Every reason, Hold reasons first.
    pub reasons: Vec<Reason>,
    /// The checklist.
    pub checklist: Vec<ChecklistEntry>,
}

/// Map the checklist to findings and attestations.
pub fn checklist(
    findings: &[Finding],
    attestations: &BTreeMap<String, String>,
) -> Vec<ChecklistEntry> {
    checklist::ITEMS
        .iter()
        .map(|item: &Item| {
            // Enforce: items only an operator can vouch for are verified by attestation only.
            let covering: Vec<&Finding> = findings
                .iter()
                .filter(|f| !item.operator_only && f.covers.iter().any(|c| c == item.id))
                .collect();
            let evaluated: Vec<&&Finding> = covering
                .iter()
                .filter(|f| f.verdict != Verdict::Skip)
                .collect();
            let attestation = attestations.get(item.id).cloned();
            let status = if evaluated.iter().any(|f| f.verdict == Verdict::Fail) {
                ItemStatus::Failed
            } else if evaluated.iter().any(|f| f.verdict == Verdict::Warn) {
                ItemStatus::Warning
            } else if !evaluated.is_empty() {
                ItemStatus::Verified
            } else if attestation.is_some() {
                ItemStatus::Attested
            } else {
                ItemStatus::NotVerified
            };
            ChecklistEntry {
                id: item.id.to_owned(),
                title: item.title.to_owned(),
                status,
                findings: covering
                    .iter()
                    .map(|f| format!("{}/{}", f.plugin, f.id))
                    .collect(),
                attestation,
            }
        })
        .collect()
}

/// Decide.
pub fn decide(
    findings: &[Finding],
    contract: &Contract,
    rules: &DecisionRules,
    attestations: &BTreeMap<String, String>,
    incomplete: Option<&str>,
) -> Decision {
    let mut reasons = Vec::new();
    let mut push = |leads_to,
                    rule: &str,
                    message: String,
                    finding: Option<&Finding>,
                    section: Option<&str>,
                    item: Option<&str>| {
        reasons.push(Reason {
            leads_to,
            rule: rule.to_owned(),
            message,
            finding: finding.map(|f| format!("{}/{}", f.plugin, f.id)),
            contract_section: section.map(str::to_owned),
            checklist_item: item.map(str::to_owned),
        });
    };
    if let Some(why) = incomplete {
        push(
            Outcome::Hold,
            "incomplete-run",
            format!("the run is incomplete: {why}"),
            None,
            None,
            None,
        );
    }
    for f in findings.iter().filter(|f| f.verdict == Verdict::Fail) {
        push(
            Outcome::Hold,
            "failing-finding",
            format!("{} failed: {}", f.id, first_line(&f.detail, &f.title)),
            Some(f),
            None,
            None,
        );
    }
    for f in findings.iter().filter(|f| f.verdict == Verdict::Warn) {
        let listed = rules.hold_on_warn.iter().any(|r| match r.split_once('/') {
            Some((plugin, id)) => {
                f.plugin == plugin && (f.id == id || (id.ends_with('.') && f.id.starts_with(id)))
            }
            None => false,
        });
        if listed {
            push(
                Outcome::Hold,
                "warning-held",
                format!(
                    "{} warned and the plan holds on it: {}",
                    f.id,
                    first_line(&f.detail, &f.title)
                ),
                Some(f),
                None,
                None,
            );
        }
    }
    let entries = checklist(findings, attestations);
    let mut assumed_seen = std::collections::BTreeSet::new();
    for e in entries
        .iter()
        .filter(|e| e.status != ItemStatus::NotVerified && e.status != ItemStatus::Attested)
    {
        let item = checklist::item(&e.id).expect("known item");
        for s in item.sections {
            let p = contract.provenance(*s);
            if p.status == Status::Assumed && assumed_seen.insert(s.key()) {
                push(
                    Outcome::Hold,
                    "assumed-contract",
                    format!(
                        "contract section [{}] is assumed, and `{}` depends on it: verify it against {} and set status = \"verified\"",
                        s.key(),
                        e.id,
                        p.source
                    ),
                    None,
                    Some(s.key()),
                    Some(&e.id),
                );
            }
        }
    }
    let uncovered: Vec<&ChecklistEntry> = entries
        .iter()
        .filter(|e| e.status == ItemStatus::NotVerified)
        .collect();
    if rules.uncovered == UncoveredRule::Hold {
        for e in &uncovered {
            push(
                Outcome::Hold,
                "not-verified",
                format!("checklist item `{}` was not verified", e.id),
                None,
                None,
                Some(&e.id),
            );
        }
    }
    for f in findings.iter().filter(|f| f.verdict == Verdict::Warn) {
        push(
            Outcome::ShipBehindFlag,
            "warning",
            format!("{} warned: {}", f.id, first_line(&f.detail, &f.title)),
            Some(f),
            None,
            None,
        );
    }
    if !contract.rate_limits.documented {
        push(
            Outcome::ShipBehindFlag,
            "rate-limits-unverified",
            format!(
                "rate-limit behaviour is not documented ({}); roll out behind traffic controls",
                contract.rate_limits.notes
            ),
            None,
            Some("rate_limits"),
            None,
        );
    }
    if !contract.billing.documented {
        push(
            Outcome::ShipBehindFlag,
            "billing-unverified",
            format!(
                "billing is not documented ({}); watch usage behind a flag",
                contract.billing.notes
            ),
            None,
            Some("billing"),
            None,
        );
    }
    if rules.uncovered == UncoveredRule::Flag {
        for e in &uncovered {
            push(
                Outcome::ShipBehindFlag,
                "not-verified",
                format!(
                    "checklist item `{}` ({}) was not verified; attest it in the plan or add a check",
                    e.id, e.title
                ),
                None,
                None,
                Some(&e.id),
            );
        }
    }
    reasons.sort_by_key(|r| std::cmp::Reverse(r.leads_to));
    let outcome = reasons.first().map(|r| r.leads_to).unwrap_or(Outcome::Ship);
    Decision {
        outcome,
        reasons,
        checklist: entries,
    }
}

fn first_line(detail: &str, fallback: &str) -> String {
    let s = detail
        .lines()
        .next()
        .filter(|s| !s.is_empty())
        .unwrap_or(fallback);
    s.chars().take(200).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::contract::{Provider, template};
    use crate::findings::FindingKind;

    fn contract(status: &str, documented: bool) -> Contract {
        let mut t = template(Provider::Mock, None)
            .replace("status = \"verified\"", &format!("status = \"{status}\""));
        if !documented {
            t = t.replace("documented = true\nnotes", "documented = false\nnotes");
        }
        Contract::parse(std::path::Path::new("c.toml"), &t).unwrap()
    }

    fn f(id: &str, verdict: Verdict, covers: &[&str]) -> Finding {
        Finding {
            plugin: "p".into(),
            id: id.into(),
            title: id.into(),
            verdict,
            kind: FindingKind::Check,
            detail: String::new(),
            evidence: vec![],
            metrics: vec![],
            covers: covers.iter().map(|s| s.to_string()).collect(),
        }
    }

    fn all_items_pass() -> Vec<Finding> {
        checklist::ITEMS
            .iter()
            .map(|i| f(&format!("c.{}", i.id), Verdict::Pass, &[i.id]))
            .collect()
    }

    fn rules() -> DecisionRules {
        DecisionRules::default()
    }

    fn operator_attests() -> BTreeMap<String, String> {
        BTreeMap::from([
            (
                "rollout-flag-available".to_owned(),
                "flag chat-v2".to_owned(),
            ),
            ("rollback-documented".to_owned(), "runbook".to_owned()),
        ])
    }

    #[test]
    fn ships_when_everything_is_verified_and_passes() {
        let d = decide(
            &all_items_pass(),
            &contract("verified", true),
            &rules(),
            &operator_attests(),
            None,
        );
        assert_eq!(d.outcome, Outcome::Ship, "{:?}", d.reasons);
        assert!(
            d.checklist
                .iter()
                .all(|e| matches!(e.status, ItemStatus::Verified | ItemStatus::Attested))
        );
    }

    #[test]
    fn a_finding_never_verifies_what_only_an_operator_can() {
        let d = decide(
            &all_items_pass(),
            &contract("verified", true),
            &rules(),
            &BTreeMap::new(),
            None,
        );
        assert_eq!(d.outcome, Outcome::ShipBehindFlag);
        for id in ["rollout-flag-available", "rollback-documented"] {
            let e = d.checklist.iter().find(|e| e.id == id).unwrap();
            assert_eq!(e.status, ItemStatus::NotVerified, "{id}");
            assert!(e.findings.is_empty());
        }
    }

    #[test]
    fn holds_on_a_failing_finding() {
        let mut fs = all_items_pass();
        fs[0].verdict = Verdict::Fail;
        let d = decide(
            &fs,
            &contract("verified", true),
            &rules(),
            &BTreeMap::new(),
            None,
        );
        assert_eq!(d.outcome, Outcome::Hold);
        assert_eq!(d.reasons[0].rule, "failing-finding");
        assert_eq!(
            d.reasons[0].finding.as_deref(),
            Some("p/c.api-reference-checked")
        );
    }

    #[test]
    fn holds_on_plugin_error() {
        let mut fs = all_items_pass();
        fs.push(Finding::host(
            "p",
            FindingKind::PluginError,
            "limit.deadline",
            "t",
            "stopped".into(),
        ));
        assert_eq!(
            decide(
                &fs,
                &contract("verified", true),
                &rules(),
                &BTreeMap::new(),
                None
            )
            .outcome,
            Outcome::Hold
        );
    }

    #[test]
    fn holds_on_incomplete_run() {
        let d = decide(
            &all_items_pass(),
            &contract("verified", true),
            &rules(),
            &BTreeMap::new(),
            Some("interrupted"),
        );
        assert_eq!(d.outcome, Outcome::Hold);
        assert_eq!(d.reasons[0].rule, "incomplete-run");
    }

    #[test]
    fn holds_on_assumed_contract_a_check_depends_on() {
        let d = decide(
            &all_items_pass(),
            &contract("assumed", true),
            &rules(),
            &BTreeMap::new(),
            None,
        );
        assert_eq!(d.outcome, Outcome::Hold);
        assert!(
            d.reasons.iter().any(|r| r.rule == "assumed-contract"
                && r.contract_section.as_deref() == Some("endpoint"))
        );
    }

    #[test]
    fn assumed_contract_nothing_depends_on_does_not_hold() {
        let fs = vec![f("x", Verdict::Pass, &["logs-redacted"])];
        let d = decide(
            &fs,
            &contract("assumed", true),
            &rules(),
            &BTreeMap::new(),
            None,
        );
        assert!(!d.reasons.iter().any(|r| r.rule == "assumed-contract"));
    }

    #[test]
    fn flags_on_warning_and_holds_when_plan_says_so() {
        let mut fs = all_items_pass();
        fs[3].verdict = Verdict::Warn;
        let d = decide(
            &fs,
            &contract("verified", true),
            &rules(),
            &BTreeMap::new(),
            None,
        );
        assert_eq!(d.outcome, Outcome::ShipBehindFlag);
        let mut r = rules();
        r.hold_on_warn = vec!["p/c.".into()];
        assert_eq!(
            decide(&fs, &contract("verified", true), &r, &BTreeMap::new(), None).outcome,
            Outcome::Hold
        );
    }

    #[test]
    fn flags_on_undocumented_rate_limits() {
        let d = decide(
            &all_items_pass(),
            &contract("verified", false),
            &rules(),
            &BTreeMap::new(),
            None,
        );
        assert_eq!(d.outcome, Outcome::ShipBehindFlag);
        assert!(d.reasons.iter().any(|r| r.rule == "rate-limits-unverified"));
    }

    #[test]
    fn uncovered_items_follow_the_rule_and_attestations_cover() {
        let fs: Vec<Finding> = all_items_pass()
            .into_iter()
            .filter(|f| f.id != "c.rollback-documented")
            .collect();
        let c = contract("verified", true);
        let flag_only = BTreeMap::from([("rollout-flag-available".to_owned(), "flag".to_owned())]);
        assert_eq!(
            decide(&fs, &c, &rules(), &flag_only, None).outcome,
            Outcome::ShipBehindFlag
        );
        let mut r = rules();
        r.uncovered = UncoveredRule::Hold;
        assert_eq!(decide(&fs, &c, &r, &flag_only, None).outcome, Outcome::Hold);
        r.uncovered = UncoveredRule::Ignore;
        assert_eq!(decide(&fs, &c, &r, &flag_only, None).outcome, Outcome::Ship);
        let att = operator_attests();
        let d = decide(&fs, &c, &rules(), &att, None);
        assert_eq!(d.outcome, Outcome::Ship);
        assert!(d.checklist.iter().any(|e| e.status == ItemStatus::Attested));
    }
}
