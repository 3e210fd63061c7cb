//! The rollout decision: Ship, Ship behind flag, or Hold, with the reasons.
//!
//! Pure: findings, the contract and the plan's rules in, [`Decision`] out.
//! The guide's step 7 is the spec:
//!
//! - **Ship**: contract verified, canary passed, negative probes handled,
//!   telemetry present.
//! - **Ship behind flag**: basic path works, but rollout needs traffic controls.
//! - **Hold**: contract uncertainty, unsafe error handling, missing logging, or
//!   unresolved billing/rate-limit assumptions; and, from the FAQ, when
//!   response parsing depends on unverified fields.
//!
//! Each rule is one function in [`rules`], in the order of [`rules::RULES`];
//! every reason names the finding, contract section or checklist item behind
//! it. The outcome is the most severe reason's. The README's decision table
//! lists the same rules.

pub mod rules;

use crate::checklist::{self, Item, Subject};
use crate::contract::Contract;
use crate::findings::{Finding, Verdict};
use crate::plan::DecisionRules;
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
    /// The outcome this reason leads to (`ship` for a recorded waiver).
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

impl Reason {
    /// A reason of `rule` leading to `leads_to`.
    pub fn new(leads_to: Outcome, rule: &str, message: impl Into<String>) -> Reason {
        Reason {
            leads_to,
            rule: rule.to_owned(),
            message: message.into(),
            finding: None,
            contract_section: None,
            checklist_item: None,
        }
    }

    /// The finding behind it.
    pub fn finding(mut self, f: &Finding) -> Reason {
        self.finding = Some(format!("{}/{}", f.plugin, f.id));
        self
    }

    /// The contract section behind it.
    pub fn section(mut self, key: &str) -> Reason {
        self.contract_section = Some(key.to_owned());
        self
    }

    /// The checklist item behind it.
    pub fn item(mut self, id: &str) -> Reason {
        self.checklist_item = Some(id.to_owned());
        self
    }
}

/// The status of one checklist item.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ItemStatus {
    /// Covered by passing findings of a subject that can verify it.
    Verified,
    /// Covered, with a warning.
    Warning,
    /// Covered, with a failure.
    Failed,
    /// Vouched for by the operator in the plan.
    Attested,
    /// Nothing that can verify it did.
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
    /// The subject of the evidence that verified it (or failed it).
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub subject: Option<Subject>,
    /// Findings that are evidence for it (`plugin/id`).
    pub findings: Vec<String>,
    /// Findings that cover it but are about a subject that cannot verify it
    /// (shipgate's own client, say): information only.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub information: Vec<String>,
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

/// Map the checklist to findings and attestations, by subject.
///
/// "Current API reference checked" is the operator's word in the contract
/// itself: every section `verified` against its cited source verifies it.
pub fn checklist(
    findings: &[Finding],
    attestations: &BTreeMap<String, String>,
    contract: &Contract,
) -> Vec<ChecklistEntry> {
    let contract_verified = contract
        .sections()
        .iter()
        .all(|s| contract.provenance(*s).status == crate::contract::Status::Verified);
    checklist::ITEMS
        .iter()
        .map(|item: &Item| {
            if item.id == checklist::API_REFERENCE_CHECKED
                && contract_verified
                && !attestations.contains_key(item.id)
            {
                return ChecklistEntry {
                    id: item.id.to_owned(),
                    title: item.title.to_owned(),
                    status: ItemStatus::Verified,
                    subject: Some(Subject::Operator),
                    findings: Vec::new(),
                    information: Vec::new(),
                    attestation: Some(
                        "the contract snapshot marks every section verified against its source"
                            .into(),
                    ),
                };
            }
            let covering = || {
                findings
                    .iter()
                    .filter(|f| f.covers.iter().any(|c| c == item.id))
            };
            // Enforce: only evidence about a subject the item names can verify it.
            let evidence: Vec<&Finding> = covering()
                .filter(|f| item.subjects.contains(&f.subject))
                .collect();
            let information: Vec<String> = covering()
                .filter(|f| !item.subjects.contains(&f.subject))
                .map(|f| format!("{}/{} ({})", f.plugin, f.id, f.subject.as_str()))
                .collect();
            let evaluated: Vec<&&Finding> = evidence
                .iter()
                .filter(|f| f.verdict != Verdict::Skip)
                .collect();
            let attestation = attestations.get(item.id).cloned();
            let worst = evaluated.iter().map(|f| f.verdict).max();
            let (status, subject) = match worst {
                Some(Verdict::Fail) => (ItemStatus::Failed, evaluated.first().map(|f| f.subject)),
                Some(Verdict::Warn) => (ItemStatus::Warning, evaluated.first().map(|f| f.subject)),
                Some(_) => (ItemStatus::Verified, evaluated.first().map(|f| f.subject)),
                None if attestation.is_some() => (ItemStatus::Attested, Some(Subject::Operator)),
                None => (ItemStatus::NotVerified, None),
            };
            ChecklistEntry {
                id: item.id.to_owned(),
                title: item.title.to_owned(),
                status,
                subject,
                findings: evidence
                    .iter()
                    .map(|f| format!("{}/{}", f.plugin, f.id))
                    .collect(),
                information,
                attestation,
            }
        })
        .collect()
}

/// Everything the rules look at.
#[derive(Debug)]
pub struct Inputs<'a> {
    /// Every finding of the run.
    pub findings: &'a [Finding],
    /// The contract.
    pub contract: &'a Contract,
    /// The plan's decision rules.
    pub rules: &'a DecisionRules,
    /// The plan's attestations.
    pub attestations: &'a BTreeMap<String, String>,
    /// The plan's waivers of contract sections.
    pub waivers: &'a BTreeMap<String, String>,
    /// Why the run is incomplete, if it is.
    pub incomplete: Option<&'a str>,
    /// The plan's name for the bundled canary, if it runs.
    pub canary: Option<&'a str>,
    /// The plan's name for the bundled negative probes, if they run, and
    /// how their run ended.
    pub probes: Option<(&'a str, crate::report::record::RunStatus)>,
    /// The checklist.
    pub checklist: &'a [ChecklistEntry],
}

/// Decide: apply every rule, the most severe reason wins.
pub fn decide(inputs: &Inputs<'_>) -> Decision {
    let mut reasons: Vec<Reason> = Vec::new();
    for (_, rule) in rules::RULES {
        let found = rule(inputs, &reasons);
        reasons.extend(found);
    }
    // Stable: Hold reasons first, each rule's reasons in the order it made them.
    reasons.sort_by_key(|r| std::cmp::Reverse(r.leads_to));
    let outcome = reasons.first().map(|r| r.leads_to).unwrap_or(Outcome::Ship);
    Decision {
        outcome,
        reasons,
        checklist: inputs.checklist.to_vec(),
    }
}

#[cfg(test)]
mod tests;
