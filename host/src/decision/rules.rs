//! The decision rules, one function each, in the order they apply. Each
//! returns the reasons it finds; the decision is the most severe of them all,
//! Ship when there is none.

use super::{Inputs, ItemStatus, Outcome, Reason};
use crate::checklist::{self, ROLLOUT_FLAG_AVAILABLE};
use crate::contract::{Section, Status};
use crate::findings::{Finding, Verdict};
use crate::plan::UncoveredRule;

/// A rule: the run's inputs and the reasons found so far in, its reasons out.
pub type Rule = fn(&Inputs<'_>, &[Reason]) -> Vec<Reason>;

/// Every rule, in order, with its name.
pub const RULES: &[(&str, Rule)] = &[
    ("incomplete-run", incomplete_run),
    ("failing-finding", failing_finding),
    ("warning-held", warning_held),
    ("assumed-contract", assumed_contract),
    ("unresolved-assumption", unresolved_assumption),
    ("no-canary", canary_passed),
    ("probes-incomplete", probes_completed),
    ("not-verified", not_verified),
    ("warning", warning),
    ("no-traffic-control", traffic_control),
];

/// Probes about the application's own limits: against a provider they show
/// only that shipgate's client works, so they are information, not required.
pub const INFORMATION_PROBES: &[&str] = &["probe.oversized-prompt", "probe.client-timeout"];

fn first_line(f: &Finding) -> String {
    let s = f
        .detail
        .lines()
        .next()
        .filter(|s| !s.is_empty())
        .unwrap_or(&f.title);
    if s.chars().count() > 300 {
        format!("{}…", s.chars().take(300).collect::<String>())
    } else {
        s.to_owned()
    }
}

/// Hold: the run did not finish (interrupted, or a plugin could not run).
pub fn incomplete_run(i: &Inputs<'_>, _: &[Reason]) -> Vec<Reason> {
    i.incomplete
        .map(|why| {
            Reason::new(
                Outcome::Hold,
                "incomplete-run",
                format!("the run is incomplete: {why}"),
            )
        })
        .into_iter()
        .collect()
}

/// Hold: a finding failed (unsafe error handling, a broken contract, a
/// plugin that crashed or hit a limit, …).
pub fn failing_finding(i: &Inputs<'_>, _: &[Reason]) -> Vec<Reason> {
    i.findings
        .iter()
        .filter(|f| f.verdict == Verdict::Fail)
        .map(|f| {
            Reason::new(
                Outcome::Hold,
                "failing-finding",
                format!("{} failed: {}", f.id, first_line(f)),
            )
            .finding(f)
        })
        .collect()
}

/// Whether the plan holds on this warning (`plugin/id`, or `plugin/prefix.`).
pub fn held(rules: &[String], f: &Finding) -> bool {
    rules.iter().any(|r| match r.split_once('/') {
        Some((plugin, id)) => {
            f.plugin == plugin && (f.id == id || (id.ends_with('.') && f.id.starts_with(id)))
        }
        None => false,
    })
}

/// Hold: a warning the plan's `decision.hold_on_warn` names.
pub fn warning_held(i: &Inputs<'_>, _: &[Reason]) -> Vec<Reason> {
    i.findings
        .iter()
        .filter(|f| f.verdict == Verdict::Warn && held(&i.rules.hold_on_warn, f))
        .map(|f| {
            Reason::new(
                Outcome::Hold,
                "warning-held",
                format!(
                    "{} warned and the plan holds on it: {}",
                    f.id,
                    first_line(f)
                ),
            )
            .finding(f)
        })
        .collect()
}

/// Hold: contract uncertainty. Any section still `assumed`, unless the plan
/// waives it (then the waiver is recorded).
pub fn assumed_contract(i: &Inputs<'_>, _: &[Reason]) -> Vec<Reason> {
    i.contract
        .sections()
        .iter()
        .filter(|s| i.contract.provenance(**s).status == Status::Assumed)
        .map(|s| {
            let p = i.contract.provenance(*s);
            match i.waivers.get(s.key()) {
                Some(why) => Reason::new(
                    Outcome::Ship,
                    "waived",
                    format!("contract section [{}] is assumed; the plan waives it: {why}", s.key()),
                ),
                None => Reason::new(
                    Outcome::Hold,
                    "assumed-contract",
                    format!(
                        "contract section [{}] is assumed: verify it against {} and set status = \"verified\" (or waive it in the plan's [waivers])",
                        s.key(),
                        p.source
                    ),
                ),
            }
            .section(s.key())
        })
        .collect()
}

/// Hold: unresolved rate-limit or billing assumptions (the contract says the
/// provider does not document them), unless the plan waives them.
pub fn unresolved_assumption(i: &Inputs<'_>, _: &[Reason]) -> Vec<Reason> {
    [
        (Section::RateLimits, &i.contract.rate_limits, "rate limits"),
        (Section::Billing, &i.contract.billing, "billing"),
    ]
    .into_iter()
    .filter(|(_, a, _)| !a.documented)
    .map(|(s, a, what)| {
        match i.waivers.get(s.key()) {
            Some(why) => Reason::new(
                Outcome::Ship,
                "waived",
                format!("{what} are not documented ({}); the plan waives it: {why}", a.notes),
            ),
            None => Reason::new(
                Outcome::Hold,
                "unresolved-assumption",
                format!(
                    "{what} are not documented ({}): resolve it with the provider's support, or waive [{}] in the plan with the reason",
                    a.notes,
                    s.key()
                ),
            ),
        }
        .section(s.key())
    })
    .collect()
}

/// Hold: nothing better than Hold without a passing canary.
pub fn canary_passed(i: &Inputs<'_>, _: &[Reason]) -> Vec<Reason> {
    let Some(canary) = i.canary else {
        return vec![Reason::new(
            Outcome::Hold,
            "no-canary",
            "the plan runs no canary: nothing better than Hold without a passing happy-path canary (add name = \"canary\")",
        )];
    };
    let status = i
        .findings
        .iter()
        .find(|f| f.plugin == canary && f.id == "canary.status");
    match status {
        Some(f) if f.verdict == Verdict::Pass => Vec::new(),
        Some(f) => vec![
            Reason::new(
                Outcome::Hold,
                "no-canary",
                format!("the canary did not pass: {}", first_line(f)),
            )
            .finding(f),
        ],
        None => vec![Reason::new(
            Outcome::Hold,
            "no-canary",
            "the canary got no answer to judge: nothing better than Hold without a passing canary",
        )],
    }
}

/// Hold: nothing better than Hold without completed negative probes (every
/// provider probe evaluated, none skipped).
pub fn probes_completed(i: &Inputs<'_>, _: &[Reason]) -> Vec<Reason> {
    use crate::report::record::RunStatus;
    let Some((probes, status)) = &i.probes else {
        return vec![Reason::new(
            Outcome::Hold,
            "probes-incomplete",
            "the plan runs no negative probes: nothing better than Hold without them (add name = \"negative-probes\")",
        )];
    };
    let why = match status {
        RunStatus::Completed => None,
        RunStatus::Failed(why) => Some(format!("the negative probes failed: {why}")),
        RunStatus::Skipped(why) => Some(format!("the negative probes were skipped: {why}")),
    };
    if let Some(why) = why {
        return vec![Reason::new(Outcome::Hold, "probes-incomplete", why)];
    }
    let ours: Vec<&Finding> = i
        .findings
        .iter()
        .filter(|f| {
            f.plugin == *probes
                && f.id.starts_with("probe.")
                && !INFORMATION_PROBES.contains(&f.id.as_str())
        })
        .collect();
    if ours.is_empty() {
        return vec![Reason::new(
            Outcome::Hold,
            "probes-incomplete",
            "the negative probes reported nothing",
        )];
    }
    ours.into_iter()
        .filter(|f| f.verdict == Verdict::Skip)
        .map(|f| {
            Reason::new(
                Outcome::Hold,
                "probes-incomplete",
                format!("{} was not evaluated: {}", f.id, first_line(f)),
            )
            .finding(f)
        })
        .collect()
}

/// Hold (or, when the plan says `uncovered = "flag"`, Ship behind flag): a
/// checklist item nothing able to verify it verified.
pub fn not_verified(i: &Inputs<'_>, _: &[Reason]) -> Vec<Reason> {
    let leads_to = match i.rules.uncovered {
        UncoveredRule::Hold => Outcome::Hold,
        UncoveredRule::Flag => Outcome::ShipBehindFlag,
    };
    i.checklist
        .iter()
        .filter(|e| e.status == ItemStatus::NotVerified)
        .map(|e| {
            let needs = checklist::item(&e.id)
                .map(|it| it.needs())
                .unwrap_or_default();
            // "plugin/id (subject)" -> the distinct "plugin (subject)" behind it.
            let mut about: Vec<String> = e
                .information
                .iter()
                .map(|i| {
                    let plugin = i.split('/').next().unwrap_or("");
                    let subject = i.rsplit('(').next().unwrap_or("").trim_end_matches(')');
                    format!("{plugin} ({subject})")
                })
                .collect();
            about.dedup();
            let info = if about.is_empty() {
                String::new()
            } else {
                format!("; what {} found is information only", about.join(", "))
            };
            Reason::new(
                leads_to,
                "not-verified",
                format!(
                    "checklist item `{}` ({}) is not verified: it needs {needs}{info}",
                    e.id, e.title
                ),
            )
            .item(&e.id)
        })
        .collect()
}

/// Ship behind flag: a warning (not one the plan holds on).
pub fn warning(i: &Inputs<'_>, _: &[Reason]) -> Vec<Reason> {
    i.findings
        .iter()
        .filter(|f| f.verdict == Verdict::Warn && !held(&i.rules.hold_on_warn, f))
        .map(|f| {
            Reason::new(
                Outcome::ShipBehindFlag,
                "warning",
                format!("{} warned: {}", f.id, first_line(f)),
            )
            .finding(f)
        })
        .collect()
}

/// Hold: Ship behind flag needs traffic controls, and no rollout flag is attested.
pub fn traffic_control(i: &Inputs<'_>, so_far: &[Reason]) -> Vec<Reason> {
    let flagged = so_far.iter().any(|r| r.leads_to == Outcome::ShipBehindFlag);
    let held = so_far.iter().any(|r| r.leads_to == Outcome::Hold);
    if !flagged || held || i.attestations.contains_key(ROLLOUT_FLAG_AVAILABLE) {
        return Vec::new();
    }
    vec![
        Reason::new(
            Outcome::Hold,
            "no-traffic-control",
            "the run would ship behind a flag, but no rollout flag or traffic control is attested: attest rollout-flag-available in the plan",
        )
        .item(ROLLOUT_FLAG_AVAILABLE),
    ]
}
