//! The plan checked against what its plugins declare, before anything is
//! sent: a typo in a setting or a finding id never weakens the gate, it stops
//! the run and lists what exists.

use crate::findings::Finding;
use crate::plan::{Plan, PluginSpec};
use crate::runtime::Descriptor;

/// Ids the host itself may give any plugin's findings (`<plugin>.<id>`).
pub const HOST_IDS_PER_PLUGIN: &[&str] = &["plugin-error", "trap", "secret-reflected", "limit.*"];

/// Ids of the host's own pseudo plugins.
pub const HOST_IDS: &[(&str, &[&str])] = &[
    ("host", &["host.secret-leak", "host.secret-scan"]),
    (
        "baseline",
        &["baseline.latency-spike.*", "baseline.usage-spike.*"],
    ),
];

/// The plan names something its plugins do not declare.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct PlanMismatch {
    /// What is wrong, naming the plugin and the key or id.
    pub message: String,
    /// What exists instead.
    pub help: String,
}

/// Check every plugin's settings against its descriptor, and every
/// `decision.hold_on_warn` id against what its plugin can report.
///
/// A plugin that could not describe itself is not checked here: it becomes
/// a failing finding of its own.
///
/// # Errors
///
/// The first [`PlanMismatch`].
pub fn check(plan: &Plan, descriptors: &[Result<Descriptor, Finding>]) -> Result<(), PlanMismatch> {
    for (spec, d) in plan.plugins.iter().zip(descriptors) {
        if let Ok(d) = d {
            check_settings(spec, d)?;
        }
    }
    for rule in &plan.decision.hold_on_warn {
        let Some((plugin, id)) = rule.split_once('/') else {
            continue; // the plan parser already refused it
        };
        let known = known_ids(plan, descriptors, plugin);
        let Some(known) = known else {
            continue; // the plan parser already refused an unknown plugin
        };
        if !matches_any(&known, id) {
            return Err(PlanMismatch {
                message: format!(
                    "`decision.hold_on_warn`: {plugin:?} never reports a finding {id:?}, so the rule could never hold the run"
                ),
                help: format!("{plugin} reports: {}", known.join(", ")),
            });
        }
    }
    Ok(())
}

fn check_settings(spec: &PluginSpec, d: &Descriptor) -> Result<(), PlanMismatch> {
    for (key, value) in &spec.settings {
        match d.setting(key) {
            None => {
                let reads = if d.settings.is_empty() {
                    format!("{} reads no settings", spec.name)
                } else {
                    format!(
                        "{} reads: {}",
                        spec.name,
                        d.settings
                            .iter()
                            .map(|s| match &s.default {
                                Some(def) =>
                                    format!("{} ({}, default {def})", s.name, s.kind.name()),
                                None => format!("{} ({})", s.name, s.kind.name()),
                            })
                            .collect::<Vec<_>>()
                            .join(", ")
                    )
                };
                return Err(PlanMismatch {
                    message: format!(
                        "plugin {:?}: setting `{key}` is not one it reads (from the plan or --set {}.{key}=…)",
                        spec.name, spec.name
                    ),
                    help: format!(
                        "{reads}; per-plugin thresholds and limits: {}",
                        threshold_and_limit_keys().join(", ")
                    ),
                });
            }
            Some(s) if !s.kind.accepts(value) => {
                return Err(PlanMismatch {
                    message: format!(
                        "plugin {:?}: setting `{key}` = {:?} is not {}",
                        spec.name,
                        crate::text::one_line(value, 80),
                        s.kind.name()
                    ),
                    help: format!("{}: {}", s.name, s.summary),
                });
            }
            Some(_) => {}
        }
    }
    Ok(())
}

/// Every id `plugin` may report, or `None` when there is no such plugin.
fn known_ids(
    plan: &Plan,
    descriptors: &[Result<Descriptor, Finding>],
    plugin: &str,
) -> Option<Vec<String>> {
    if let Some((_, ids)) = HOST_IDS.iter().find(|(p, _)| *p == plugin) {
        return Some(ids.iter().map(|s| (*s).to_owned()).collect());
    }
    let i = plan.plugins.iter().position(|p| p.name == plugin)?;
    let mut ids = match &descriptors[i] {
        Ok(d) => d.findings.clone(),
        Err(_) => Vec::new(),
    };
    ids.extend(HOST_IDS_PER_PLUGIN.iter().map(|h| format!("{plugin}.{h}")));
    Some(ids)
}

fn matches_any(patterns: &[String], id: &str) -> bool {
    patterns.iter().any(|p| match p.strip_suffix('*') {
        Some(stem) => id.starts_with(stem),
        None => p == id,
    })
}

fn threshold_and_limit_keys() -> Vec<String> {
    let keys = |v: toml::Table| v.keys().cloned().collect::<Vec<_>>();
    let mut all =
        keys(toml::Table::try_from(crate::plan::Thresholds::default()).unwrap_or_default());
    all.extend(keys(
        toml::Table::try_from(crate::plan::SandboxLimits::default()).unwrap_or_default(),
    ));
    all
}
