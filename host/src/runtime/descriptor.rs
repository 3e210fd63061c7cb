//! What a plugin says it is, as the host keeps it: inert, bounded, and used
//! before the run to check the plan against it (settings, finding ids) and to
//! schedule it (whether it needs the canary).

use crate::bindings::exports::shipgate::plugin::check as wit;
use crate::findings::normalise_id;
use crate::redact::Redactor;
use crate::text;
use serde::{Deserialize, Serialize};

/// Most finding ids, settings and covered items kept from one descriptor.
pub const MAX_DECLARED: usize = 256;

/// The type of a setting's value.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SettingKind {
    /// Any text.
    String,
    /// A whole number.
    Integer,
    /// A number.
    Float,
    /// `true` or `false`.
    Boolean,
}

impl SettingKind {
    /// Whether `value` (as the plan or `--set` wrote it) has this type.
    pub fn accepts(self, value: &str) -> bool {
        match self {
            SettingKind::String => true,
            SettingKind::Integer => value.trim().parse::<i64>().is_ok(),
            SettingKind::Float => value.trim().parse::<f64>().is_ok_and(f64::is_finite),
            SettingKind::Boolean => matches!(value.trim(), "true" | "false"),
        }
    }

    /// Its name, as in error messages.
    pub fn name(self) -> &'static str {
        match self {
            SettingKind::String => "a string",
            SettingKind::Integer => "an integer",
            SettingKind::Float => "a number",
            SettingKind::Boolean => "true or false",
        }
    }
}

/// One setting a plugin reads.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SettingDecl {
    /// Its name (`--set <plugin>.<name>=…`).
    pub name: String,
    /// The type of its value.
    pub kind: SettingKind,
    /// Its default, as the plan would write it.
    pub default: Option<String>,
    /// One line saying what it does.
    pub summary: String,
}

/// A plugin's descriptor.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Descriptor {
    /// Its own short name.
    pub name: String,
    /// Its version.
    pub version: String,
    /// What it checks.
    pub summary: String,
    /// Checklist items it can cover.
    pub covers: Vec<String>,
    /// Every finding id it may return (a trailing `*` stands for any rest).
    pub findings: Vec<String>,
    /// The settings it reads.
    pub settings: Vec<SettingDecl>,
    /// Whether it needs the canary to have authenticated.
    pub needs_canary: bool,
}

impl Descriptor {
    /// The host's copy of what a guest returned: every string inert and
    /// redacted, ids normalised, lists capped at [`MAX_DECLARED`].
    pub(crate) fn from_guest(d: wit::Descriptor) -> Descriptor {
        let line = |s: &str, max: usize| Redactor.redact(&text::one_line(s, max)).into_owned();
        Descriptor {
            name: line(&d.name, 64),
            version: line(&d.version, 64),
            summary: line(&d.summary, 512),
            covers: d
                .covers
                .iter()
                .take(MAX_DECLARED)
                .map(|c| line(c, 64))
                .collect(),
            findings: d
                .findings
                .iter()
                .take(MAX_DECLARED)
                .map(|f| match f.strip_suffix('*') {
                    Some(stem) => format!("{}*", normalise_id(stem)),
                    None => normalise_id(f),
                })
                .collect(),
            settings: d
                .settings
                .iter()
                .take(MAX_DECLARED)
                .map(|s| SettingDecl {
                    name: line(&s.name, 64),
                    kind: match s.kind {
                        wit::SettingKind::String => SettingKind::String,
                        wit::SettingKind::Integer => SettingKind::Integer,
                        wit::SettingKind::Float => SettingKind::Float,
                        wit::SettingKind::Boolean => SettingKind::Boolean,
                    },
                    default: s.default.as_deref().map(|v| line(v, 256)),
                    summary: line(&s.summary, 256),
                })
                .collect(),
            needs_canary: d.needs_canary,
        }
    }

    /// Whether it declares finding `id` (exactly, or by a `prefix*` pattern).
    pub fn declares_finding(&self, id: &str) -> bool {
        self.findings.iter().any(|f| match f.strip_suffix('*') {
            Some(stem) => id.starts_with(stem),
            None => f == id,
        })
    }

    /// The setting called `name`.
    pub fn setting(&self, name: &str) -> Option<&SettingDecl> {
        self.settings.iter().find(|s| s.name == name)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn declared_findings_match_exactly_or_by_prefix() {
        let d = Descriptor {
            findings: vec!["canary.auth".into(), "probe.missing-*".into()],
            ..Default::default()
        };
        assert!(d.declares_finding("canary.auth"));
        assert!(d.declares_finding("probe.missing-model"));
        assert!(!d.declares_finding("canary.latncy"));
        assert!(!d.declares_finding("probe.empty-messages"));
    }

    #[test]
    fn setting_kinds_check_values() {
        assert!(SettingKind::Integer.accepts("12"));
        assert!(!SettingKind::Integer.accepts("soon"));
        assert!(SettingKind::Float.accepts("1.5"));
        assert!(!SettingKind::Float.accepts("nan"));
        assert!(SettingKind::Boolean.accepts("true"));
        assert!(!SettingKind::Boolean.accepts("yes"));
        assert!(SettingKind::String.accepts("anything"));
    }
}
