//! `shipgate.lock`: each plugin's digest and the grants it receives, pinned.
//! `shipgate lock` writes it; a run given `--lock FILE` refuses (exit 2,
//! naming the plugin and the difference) a plugin whose bytes changed, one
//! the lockfile does not know, or one the plan would grant more than the
//! lockfile does. Shared CI pins what it trusts; a plan change that widens a
//! grant must change the lockfile too, in review.

use crate::plan::{AuthGrant, Grants, Plan, PluginSource};
use serde::{Deserialize, Serialize};
use std::path::Path;

/// The lockfile format version.
pub const LOCK_VERSION: u32 = 1;

/// A lockfile.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Lockfile {
    /// Format version.
    pub version: u32,
    /// Every plugin of the plan, in plan order.
    #[serde(rename = "plugin", default)]
    pub plugins: Vec<LockedPlugin>,
}

/// One pinned plugin.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LockedPlugin {
    /// The plan's name for it.
    pub name: String,
    /// `bundled:NAME` or the file's path as the plan gave it.
    pub source: String,
    /// sha256 of its bytes.
    pub sha256: String,
    /// The most it may be granted.
    pub grants: Grants,
}

/// The bytes of a plugin of the plan (bundled, or its file, bounded).
///
/// # Errors
///
/// The file cannot be read.
pub fn plugin_bytes(source: &PluginSource, bundled: &[(&str, &[u8])]) -> Result<Vec<u8>, String> {
    match source {
        PluginSource::Bundled(n) => bundled
            .iter()
            .find(|(b, _)| b == n)
            .map(|(_, b)| b.to_vec())
            .ok_or_else(|| format!("no bundled check named {n}")),
        PluginSource::File(p) => {
            crate::config_error::read_regular(p, crate::runtime::MAX_COMPONENT_BYTES as u64)
                .map_err(|e| format!("{}: {e}", p.display()))
        }
    }
}

fn source_label(source: &PluginSource) -> String {
    match source {
        PluginSource::Bundled(n) => format!("bundled:{n}"),
        PluginSource::File(p) => p.display().to_string(),
    }
}

impl Lockfile {
    /// Pin every plugin of `plan` as it is now.
    ///
    /// # Errors
    ///
    /// A plugin's bytes cannot be read.
    pub fn from_plan(plan: &Plan, bundled: &[(&str, &[u8])]) -> Result<Lockfile, String> {
        let plugins = plan
            .plugins
            .iter()
            .map(|p| {
                Ok(LockedPlugin {
                    name: p.name.clone(),
                    source: source_label(&p.source),
                    sha256: crate::runtime::sha256_hex(&plugin_bytes(&p.source, bundled)?),
                    grants: p.grants.clone(),
                })
            })
            .collect::<Result<_, String>>()?;
        Ok(Lockfile {
            version: LOCK_VERSION,
            plugins,
        })
    }

    /// Read a lockfile.
    ///
    /// # Errors
    ///
    /// It cannot be read, or is not a lockfile of this version.
    pub fn read(path: &Path) -> Result<Lockfile, String> {
        let bytes = crate::config_error::read_regular(path, crate::config_error::MAX_CONFIG_BYTES)
            .map_err(|e| format!("{}: cannot read the lockfile: {e}", path.display()))?;
        let text = String::from_utf8(bytes)
            .map_err(|_| format!("{}: the lockfile is not UTF-8", path.display()))?;
        let lock: Lockfile = toml::from_str(&text).map_err(|e| {
            format!(
                "{}: not a shipgate lockfile: {}",
                path.display(),
                e.message()
            )
        })?;
        if lock.version != LOCK_VERSION {
            return Err(format!(
                "{}: lockfile version {}, this shipgate reads version {LOCK_VERSION} (run `shipgate lock` again)",
                path.display(),
                lock.version
            ));
        }
        Ok(lock)
    }

    /// The lockfile as TOML.
    pub fn to_toml(&self) -> String {
        format!(
            "# shipgate.lock: each plugin's digest and the most it may be granted.\n# Written by `shipgate lock`; checked by `shipgate run --lock`.\n{}",
            toml::to_string(self).unwrap_or_default()
        )
    }

    /// Whether `plan` runs only what this lockfile pins, granted no more.
    ///
    /// # Errors
    ///
    /// Every difference, one per line, each naming the plugin.
    pub fn check(&self, plan: &Plan, bundled: &[(&str, &[u8])]) -> Result<(), String> {
        let mut problems = Vec::new();
        for p in &plan.plugins {
            let Some(locked) = self.plugins.iter().find(|l| l.name == p.name) else {
                problems.push(format!(
                    "{}: not in the lockfile (it pins {})",
                    p.name,
                    self.plugins
                        .iter()
                        .map(|l| l.name.as_str())
                        .collect::<Vec<_>>()
                        .join(", ")
                ));
                continue;
            };
            match plugin_bytes(&p.source, bundled) {
                Ok(bytes) => {
                    let sha = crate::runtime::sha256_hex(&bytes);
                    if sha != locked.sha256 {
                        problems.push(format!(
                            "{}: its digest changed ({} is now {sha}, the lockfile pins {})",
                            p.name,
                            source_label(&p.source),
                            locked.sha256
                        ));
                    }
                }
                Err(e) => problems.push(format!("{}: {e}", p.name)),
            }
            for more in wider(&p.grants, &locked.grants) {
                problems.push(format!(
                    "{}: the plan grants {more}, the lockfile does not",
                    p.name
                ));
            }
        }
        if problems.is_empty() {
            Ok(())
        } else {
            Err(problems.join("\n"))
        }
    }
}

/// What `plan` grants beyond `locked`.
fn wider(plan: &Grants, locked: &Grants) -> Vec<String> {
    let mut out = Vec::new();
    let flag = |out: &mut Vec<String>, name: &str, p: bool, l: bool| {
        if p && !l {
            out.push(format!("{name} = true"));
        }
    };
    flag(
        &mut out,
        "send_oversized",
        plan.send_oversized,
        locked.send_oversized,
    );
    flag(&mut out, "audit", plan.audit, locked.audit);
    flag(&mut out, "faults", plan.faults, locked.faults);
    flag(&mut out, "traffic", plan.traffic, locked.traffic);
    let list = |out: &mut Vec<String>, name: &str, p: &[String], l: &[String]| {
        for x in p.iter().filter(|x| !l.contains(x)) {
            out.push(format!("{name} {x:?}"));
        }
    };
    let auth = |a: &[AuthGrant]| -> Vec<String> {
        a.iter()
            .map(|g| format!("{g:?}").to_ascii_lowercase())
            .collect()
    };
    list(&mut out, "auth", &auth(&plan.auth), &auth(&locked.auth));
    list(&mut out, "headers", &plan.headers, &locked.headers);
    list(&mut out, "models", &plan.models, &locked.models);
    list(&mut out, "paths", &plan.paths, &locked.paths);
    list(&mut out, "fields", &plan.fields, &locked.fields);
    list(&mut out, "parts", &plan.parts, &locked.parts);
    list(
        &mut out,
        "covers",
        plan.covers.as_deref().unwrap_or(&[]),
        locked.covers.as_deref().unwrap_or(&[]),
    );
    if plan.covers.is_none() && locked.covers.is_some() {
        out.push("covers (its descriptor's items, the lockfile names fewer)".into());
    }
    if plan.subject != locked.subject {
        out.push(format!("subject {:?}", plan.subject));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    const BUNDLED: &[(&str, &[u8])] = &[("canary", b"canary-bytes"), ("negative-probes", b"np")];

    fn plan(extra: &str) -> Plan {
        Plan::parse(
            Path::new("plan.toml"),
            &format!("schema = 1\n[[plugins]]\nname = \"canary\"\n{extra}\n[[plugins]]\nname = \"negative-probes\"\n"),
            &["canary", "negative-probes"],
            &[],
        )
        .unwrap()
    }

    #[test]
    fn a_pinned_plan_passes_and_every_widening_is_named() {
        let lock = Lockfile::from_plan(&plan(""), BUNDLED).unwrap();
        let back: Lockfile = toml::from_str(&lock.to_toml()).unwrap();
        assert_eq!(back, lock);
        assert!(lock.check(&plan(""), BUNDLED).is_ok());
        let e = lock
            .check(
                &plan("grants = { audit = true, auth = [\"configured\", \"invalid\"] }"),
                BUNDLED,
            )
            .unwrap_err();
        assert!(e.contains("canary: the plan grants audit = true"), "{e}");
        assert!(
            e.contains("canary: the plan grants auth \"invalid\""),
            "{e}"
        );
        let changed: &[(&str, &[u8])] = &[("canary", b"other"), ("negative-probes", b"np")];
        let e = lock.check(&plan(""), changed).unwrap_err();
        assert!(e.contains("canary: its digest changed"), "{e}");
        let mut fewer = lock.clone();
        fewer.plugins.pop();
        let e = fewer.check(&plan(""), BUNDLED).unwrap_err();
        assert!(
            e.contains("negative-probes: not in the lockfile (it pins canary)"),
            "{e}"
        );
    }
}
