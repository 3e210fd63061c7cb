//! Findings and descriptors: what a check reports.

use crate::wit::exports::shipgate::plugin::check as wit;
use std::fmt::Display;

/// The outcome of one finding.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// The criterion was met.
    Pass,
    /// Works, but needs attention before full rollout (leads to "Ship behind flag").
    Warn,
    /// The criterion was not met (leads to "Hold").
    Fail,
    /// Not applicable or could not be evaluated; the reason is in the detail.
    Skip,
}

/// A measured number attached to a finding.
#[derive(Debug, Clone, PartialEq)]
pub struct Metric {
    /// Name, such as `latency_ms`.
    pub name: String,
    /// Value.
    pub value: f64,
    /// Unit, such as `ms`.
    pub unit: String,
}

/// One observation made by a check.
///
/// Build it with [`Finding::pass`], [`Finding::warn`], [`Finding::fail`] or
/// [`Finding::skip`], then add detail and evidence:
///
/// ```no_run
/// # use shipgate_sdk::Finding;
/// let f = Finding::fail("canary.status", "response status is successful")
///     .detail("expected 2xx, got 503")
///     .evidence("status", 503)
///     .metric("latency_ms", 812.0, "ms");
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct Finding {
    /// Stable id within the plugin, such as `canary.status`.
    pub id: String,
    /// One-line title (the criterion, phrased as what should hold).
    pub title: String,
    /// The verdict.
    pub verdict: Verdict,
    /// What was observed and why it matters.
    pub detail: String,
    /// Evidence as key/values.
    pub evidence: Vec<(String, String)>,
    /// Measurements.
    pub metrics: Vec<Metric>,
    /// Readiness checklist item ids this finding speaks to (see [`crate::checklist`]).
    pub covers: Vec<String>,
}

impl Finding {
    /// A finding with the given verdict.
    pub fn new(verdict: Verdict, id: impl Into<String>, title: impl Into<String>) -> Self {
        Finding {
            id: id.into(),
            title: title.into(),
            verdict,
            detail: String::new(),
            evidence: Vec::new(),
            metrics: Vec::new(),
            covers: Vec::new(),
        }
    }

    /// A passing finding.
    pub fn pass(id: impl Into<String>, title: impl Into<String>) -> Self {
        Self::new(Verdict::Pass, id, title)
    }

    /// A warning.
    pub fn warn(id: impl Into<String>, title: impl Into<String>) -> Self {
        Self::new(Verdict::Warn, id, title)
    }

    /// A failing finding.
    pub fn fail(id: impl Into<String>, title: impl Into<String>) -> Self {
        Self::new(Verdict::Fail, id, title)
    }

    /// A skipped finding; say why in [`Finding::detail`].
    pub fn skip(id: impl Into<String>, title: impl Into<String>) -> Self {
        Self::new(Verdict::Skip, id, title)
    }

    /// Pass when `ok`, otherwise fail.
    pub fn check(ok: bool, id: impl Into<String>, title: impl Into<String>) -> Self {
        Self::new(if ok { Verdict::Pass } else { Verdict::Fail }, id, title)
    }

    /// Change the verdict.
    pub fn verdict(mut self, verdict: Verdict) -> Self {
        self.verdict = verdict;
        self
    }

    /// Set the explanation.
    pub fn detail(mut self, detail: impl Into<String>) -> Self {
        self.detail = detail.into();
        self
    }

    /// Add one piece of evidence.
    pub fn evidence(mut self, key: impl Into<String>, value: impl Display) -> Self {
        self.evidence.push((key.into(), value.to_string()));
        self
    }

    /// Add a measurement.
    pub fn metric(mut self, name: impl Into<String>, value: f64, unit: impl Into<String>) -> Self {
        self.metrics.push(Metric {
            name: name.into(),
            value,
            unit: unit.into(),
        });
        self
    }

    /// Say which readiness checklist items this finding covers.
    pub fn covers<I, S>(mut self, items: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.covers.extend(items.into_iter().map(Into::into));
        self
    }
}

/// The type of a setting's value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SettingKind {
    /// Text.
    String,
    /// A whole number.
    Integer,
    /// A number.
    Float,
    /// `true` or `false`.
    Boolean,
}

/// One setting a check reads, declared so the host can check `--set` and the plan.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Setting {
    /// Its name.
    pub name: String,
    /// The type of its value.
    pub kind: SettingKind,
    /// Its default, as the plan would write it.
    pub default: Option<String>,
    /// One line saying what it does.
    pub summary: String,
}

/// What a check is: its name, version, summary, the checklist items it
/// covers, the findings it may return and the settings it reads.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Descriptor {
    /// Short stable name, such as `canary`.
    pub name: String,
    /// Version of the plugin.
    pub version: String,
    /// One line saying what it checks.
    pub summary: String,
    /// Readiness checklist item ids it can cover.
    pub covers: Vec<String>,
    /// Every finding id it may return.
    pub findings: Vec<String>,
    /// The settings it reads.
    pub settings: Vec<Setting>,
    /// Whether it needs the canary to have authenticated.
    pub needs_canary: bool,
}

impl Descriptor {
    /// A descriptor with no covered items yet.
    pub fn new(
        name: impl Into<String>,
        version: impl Into<String>,
        summary: impl Into<String>,
    ) -> Self {
        Descriptor {
            name: name.into(),
            version: version.into(),
            summary: summary.into(),
            covers: Vec::new(),
            findings: Vec::new(),
            settings: Vec::new(),
            needs_canary: false,
        }
    }

    /// Declare the finding ids this check may return.
    pub fn findings<I, S>(mut self, ids: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.findings.extend(ids.into_iter().map(Into::into));
        self
    }

    /// Declare a setting: its name, type, default (as the plan writes it) and what it does.
    pub fn setting(
        mut self,
        name: impl Into<String>,
        kind: SettingKind,
        default: Option<&str>,
        summary: impl Into<String>,
    ) -> Self {
        self.settings.push(Setting {
            name: name.into(),
            kind,
            default: default.map(str::to_owned),
            summary: summary.into(),
        });
        self
    }

    /// Say that this check needs the canary to have authenticated (it is
    /// skipped, not failed, when the canary could not).
    pub fn needs_canary(mut self) -> Self {
        self.needs_canary = true;
        self
    }

    /// Add checklist items this check can cover.
    pub fn covers<I, S>(mut self, items: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.covers.extend(items.into_iter().map(Into::into));
        self
    }
}

/// Convert a descriptor to the WIT type (used by `export_check!`).
pub fn descriptor_to_wit(d: Descriptor) -> wit::Descriptor {
    wit::Descriptor {
        name: d.name,
        version: d.version,
        summary: d.summary,
        covers: d.covers,
        findings: d.findings,
        settings: d
            .settings
            .into_iter()
            .map(|s| wit::Setting {
                name: s.name,
                kind: match s.kind {
                    SettingKind::String => wit::SettingKind::String,
                    SettingKind::Integer => wit::SettingKind::Integer,
                    SettingKind::Float => wit::SettingKind::Float,
                    SettingKind::Boolean => wit::SettingKind::Boolean,
                },
                default: s.default,
                summary: s.summary,
            })
            .collect(),
        needs_canary: d.needs_canary,
    }
}

/// Convert findings to the WIT type (used by `export_check!`).
pub fn findings_to_wit(findings: Vec<Finding>) -> Vec<wit::Finding> {
    findings
        .into_iter()
        .map(|f| wit::Finding {
            id: f.id,
            title: f.title,
            verdict: match f.verdict {
                Verdict::Pass => wit::Verdict::Pass,
                Verdict::Warn => wit::Verdict::Warn,
                Verdict::Fail => wit::Verdict::Fail,
                Verdict::Skip => wit::Verdict::Skip,
            },
            detail: f.detail,
            evidence: f.evidence,
            metrics: f
                .metrics
                .into_iter()
                .map(|m| wit::Metric {
                    name: m.name,
                    value: m.value,
                    unit: m.unit,
                })
                .collect(),
            covers: f.covers,
        })
        .collect()
}
