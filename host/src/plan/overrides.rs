//! `--set KEY=VALUE` overrides, applied to the plan document before it is read.

use super::{SandboxLimits, Thresholds};
use std::str::FromStr;

/// One `KEY=VALUE` assignment.
///
/// `KEY` is `thresholds.X`, `sandbox.X`, `decision.X`, or `PLUGIN.X` where `X`
/// is a threshold, a limit or a setting of that plugin (or explicitly
/// `PLUGIN.settings.X`, `PLUGIN.thresholds.X`, `PLUGIN.limits.X`). `VALUE` is
/// read as a TOML value (number, boolean, array) and otherwise as a string.
#[derive(Debug, Clone, PartialEq)]
pub struct Override {
    key: Vec<String>,
    value: toml::Value,
    raw: String,
}

impl FromStr for Override {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let (k, v) = s.split_once('=').ok_or_else(|| {
            format!("override {s:?} is not KEY=VALUE (e.g. thresholds.latency_ms=800)")
        })?;
        let key: Vec<String> = k.trim().split('.').map(str::to_owned).collect();
        if key.len() < 2 || key.iter().any(String::is_empty) {
            return Err(format!(
                "override key {k:?} needs a table and a key, e.g. canary.latency_ms"
            ));
        }
        let value = toml::from_str::<toml::Table>(&format!("v = {}", v.trim()))
            .ok()
            .and_then(|mut t| t.remove("v"))
            .unwrap_or_else(|| toml::Value::String(v.trim().to_owned()));
        Ok(Override {
            key,
            value,
            raw: s.to_owned(),
        })
    }
}

fn keys_of<T: serde::Serialize>(v: &T) -> Vec<String> {
    toml::Table::try_from(v)
        .map(|t| t.keys().cloned().collect())
        .unwrap_or_default()
}

impl Override {
    /// Parse the comma-separated assignments of `SHIPGATE_SET`.
    ///
    /// # Errors
    ///
    /// The first assignment that does not parse.
    pub fn parse_list(list: &str) -> Result<Vec<Override>, String> {
        list.split(',')
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(str::parse)
            .collect()
    }

    /// Apply to a plan document.
    ///
    /// # Errors
    ///
    /// A message naming the override when its plugin does not exist.
    pub fn apply(&self, doc: &mut toml::Table) -> Result<(), String> {
        let head = self.key[0].as_str();
        let rest = &self.key[1..];
        if matches!(
            head,
            "thresholds"
                | "sandbox"
                | "decision"
                | "attestations"
                | "waivers"
                | "run"
                | "application"
        ) {
            set(doc, &self.key, self.value.clone());
            return Ok(());
        }
        let plugins = doc
            .get_mut("plugins")
            .and_then(|p| p.as_array_mut())
            .ok_or_else(|| format!("override {:?}: the plan has no plugins", self.raw))?;
        let entry = plugins
            .iter_mut()
            .filter_map(|p| p.as_table_mut())
            .find(|t| {
                let by_name = t.get("name").and_then(|n| n.as_str()) == Some(head);
                let by_path = t
                    .get("path")
                    .and_then(|p| p.as_str())
                    .and_then(|p| std::path::Path::new(p).file_stem().map(|s| s == head))
                    .unwrap_or(false);
                by_name || by_path
            })
            .ok_or_else(|| {
                format!(
                    "override {:?}: no plugin named {head:?} in the plan (or use thresholds., sandbox., decision., run., application.)",
                    self.raw
                )
            })?;
        let path: Vec<String> = if matches!(
            rest[0].as_str(),
            "settings" | "thresholds" | "limits" | "grants"
        ) {
            rest.to_vec()
        } else if rest.len() == 1 && keys_of(&Thresholds::default()).contains(&rest[0]) {
            vec!["thresholds".into(), rest[0].clone()]
        } else if rest.len() == 1 && keys_of(&SandboxLimits::default()).contains(&rest[0]) {
            vec!["limits".into(), rest[0].clone()]
        } else {
            let mut p = vec!["settings".to_owned()];
            p.extend(rest.iter().cloned());
            p
        };
        set(entry, &path, self.value.clone());
        Ok(())
    }
}

fn set(table: &mut toml::Table, path: &[String], value: toml::Value) {
    if path.len() == 1 {
        table.insert(path[0].clone(), value);
        return;
    }
    let next = table
        .entry(path[0].clone())
        .or_insert_with(|| toml::Value::Table(toml::Table::new()));
    if !next.is_table() {
        *next = toml::Value::Table(toml::Table::new());
    }
    if let Some(t) = next.as_table_mut() {
        set(t, &path[1..], value);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_typed_values() {
        let o: Override = "thresholds.latency_ms=800".parse().unwrap();
        assert_eq!(o.value, toml::Value::Integer(800));
        let o: Override = "canary.mode=fast".parse().unwrap();
        assert_eq!(o.value, toml::Value::String("fast".into()));
    }

    #[test]
    fn rejects_malformed() {
        assert!("latency_ms".parse::<Override>().is_err());
        assert!("latency_ms=1".parse::<Override>().is_err());
        assert!(Override::parse_list("a.b=1, c").is_err());
        assert_eq!(Override::parse_list("a.b=1, c.d=2").unwrap().len(), 2);
    }
}
