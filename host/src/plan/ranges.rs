//! Every number a plan can hold has a documented range, and values that
//! contradict each other are refused: a typo or a zero never weakens the gate
//! silently (`retry_max_attempts = 0` does not become 1, `deadline_ms = 0`
//! does not let requests out).

use super::{DecisionRules, RunConfig, SandboxLimits, Thresholds};

/// One allowed range, inclusive.
#[derive(Debug, Clone, Copy)]
pub struct Range {
    /// The key, as written in the plan.
    pub key: &'static str,
    /// Smallest allowed.
    pub min: u64,
    /// Largest allowed.
    pub max: u64,
    /// The unit, for messages (`ms`, `bytes`, …).
    pub unit: &'static str,
}

const fn r(key: &'static str, min: u64, max: u64, unit: &'static str) -> Range {
    Range {
        key,
        min,
        max,
        unit,
    }
}

const MIB: u64 = 1024 * 1024;

/// `[thresholds]` (and a plugin's `thresholds`).
pub const THRESHOLDS: &[Range] = &[
    r("latency_ms", 1, 600_000, "ms"),
    r("latency_hard_ms", 1, 600_000, "ms"),
    r("input_limit_bytes", 1, 16 * MIB, "bytes"),
    r("output_token_ceiling", 1, 1_000_000, "tokens"),
    r("request_timeout_ms", 1, 300_000, "ms"),
    r("retry_max_attempts", 1, 50, "attempts"),
    r("retry_budget_ms", 1, 600_000, "ms"),
    r("retry_base_delay_ms", 0, 60_000, "ms"),
    r("retry_max_delay_ms", 0, 600_000, "ms"),
    r("retry_after_cap_ms", 0, 600_000, "ms"),
    r("stream_first_chunk_ms", 1, 600_000, "ms"),
];

/// `[sandbox]` (and a plugin's `limits`).
pub const SANDBOX: &[Range] = &[
    r("deadline_ms", 1, 3_600_000, "ms"),
    r("memory_mib", 1, 4096, "MiB"),
    r("fuel", 0, u64::MAX, "units (0: no fuel limit)"),
    r("max_requests", 0, 10_000, "requests"),
    r("max_request_bytes", 1, 64 * MIB, "bytes"),
    r("max_response_bytes", 1, 256 * MIB, "bytes"),
    r("max_log_records", 0, 1_000_000, "records"),
    r("max_log_bytes", 0, 256 * MIB, "bytes"),
    r("max_findings", 1, 10_000, "findings"),
    r("max_finding_bytes", 1024, 16 * MIB, "bytes"),
    r("compile_ms", 1, 600_000, "ms"),
    r("compile_memory_mib", 64, 16_384, "MiB"),
];

/// `[run]`.
pub const RUN: &[Range] = &[
    r("jobs", 1, 64, "checks"),
    r("max_in_flight", 1, 256, "requests"),
    r("requests_per_second", 1, 10_000, "requests per second"),
];

/// The values of a struct by key, for checking against a table.
fn values<T: serde::Serialize>(v: &T) -> toml::Table {
    toml::Table::try_from(v).unwrap_or_default()
}

fn check_table(
    section: &str,
    table: &toml::Table,
    ranges: &[Range],
) -> Result<(), (String, String)> {
    for range in ranges {
        let Some(v) = table.get(range.key).and_then(toml::Value::as_integer) else {
            continue;
        };
        let ok = u64::try_from(v).is_ok_and(|v| (range.min..=range.max).contains(&v));
        if !ok {
            let max = if range.max == u64::MAX {
                "any".to_owned()
            } else {
                range.max.to_string()
            };
            return Err((
                range.key.to_owned(),
                format!(
                    "`{section}.{}` = {v} is out of range: {} to {max} {}",
                    range.key, range.min, range.unit
                ),
            ));
        }
    }
    Ok(())
}

/// Check thresholds: each in range, and consistent with the others.
///
/// # Errors
///
/// The key, its value and what is allowed.
pub fn check_thresholds(section: &str, t: &Thresholds) -> Result<(), (String, String)> {
    check_table(section, &values(t), THRESHOLDS)?;
    if t.latency_ms > t.latency_hard_ms {
        return Err((
            "latency_ms".to_owned(),
            format!(
                "`{section}.latency_ms` = {} is above `{section}.latency_hard_ms` = {}: the warning must come before the failure",
                t.latency_ms, t.latency_hard_ms
            ),
        ));
    }
    if t.retry_base_delay_ms > t.retry_max_delay_ms {
        return Err((
            "retry_base_delay_ms".to_owned(),
            format!(
                "`{section}.retry_base_delay_ms` = {} is above `{section}.retry_max_delay_ms` = {}",
                t.retry_base_delay_ms, t.retry_max_delay_ms
            ),
        ));
    }
    Ok(())
}

/// Check sandbox limits.
///
/// # Errors
///
/// The key, its value and what is allowed.
pub fn check_sandbox(section: &str, l: &SandboxLimits) -> Result<(), (String, String)> {
    check_table(section, &values(l), SANDBOX)
}

/// Check `[run]`.
///
/// # Errors
///
/// The key, its value and what is allowed.
pub fn check_run(r: &RunConfig) -> Result<(), (String, String)> {
    check_table("run", &values(r), RUN)
}

/// Check `[decision]`.
///
/// # Errors
///
/// The key, its value and what is allowed.
pub fn check_decision(d: &DecisionRules) -> Result<(), (String, String)> {
    let ratio = d.baseline_spike_ratio;
    if !ratio.is_finite() || ratio <= 1.0 || ratio > 1000.0 {
        return Err((
            "baseline_spike_ratio".to_owned(),
            format!(
                "`decision.baseline_spike_ratio` = {ratio} is out of range: a number above 1 and at most 1000 (2 warns at twice the baseline)"
            ),
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_in_range() {
        check_thresholds("thresholds", &Thresholds::default()).unwrap();
        check_sandbox("sandbox", &SandboxLimits::default()).unwrap();
        check_run(&RunConfig::default()).unwrap();
        check_decision(&DecisionRules::default()).unwrap();
    }

    #[test]
    fn zeros_contradictions_and_nan_are_refused() {
        let t = |f: fn(&mut Thresholds)| {
            let mut t = Thresholds::default();
            f(&mut t);
            check_thresholds("thresholds", &t)
        };
        assert!(
            t(|t| t.retry_max_attempts = 0)
                .unwrap_err()
                .1
                .contains("retry_max_attempts` = 0")
        );
        assert!(t(|t| t.latency_hard_ms = 0).is_err());
        assert!(t(|t| t.request_timeout_ms = 0).is_err());
        assert!(t(|t| t.retry_budget_ms = 0).is_err());
        assert!(
            t(|t| t.latency_ms = 20_000)
                .unwrap_err()
                .1
                .contains("latency_hard_ms")
        );
        let l = SandboxLimits {
            deadline_ms: 0,
            ..SandboxLimits::default()
        };
        assert!(
            check_sandbox("sandbox", &l)
                .unwrap_err()
                .1
                .contains("1 to 3600000 ms")
        );
        let mut d = DecisionRules::default();
        for bad in [f64::NAN, -1.0, 1.0, f64::INFINITY] {
            d.baseline_spike_ratio = bad;
            assert!(check_decision(&d).is_err(), "{bad}");
        }
    }
}
