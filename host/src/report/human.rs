//! The terminal summary: decision and counts first, then each finding.

use super::Record;
use crate::decision::{ItemStatus, Outcome};
use crate::findings::Verdict;
use std::io::{self, Write};

/// The decision in one line, with its first reason (for `-q`).
///
/// # Errors
///
/// The writer's error.
pub fn render_decision_line(r: &Record, w: &mut impl Write, color: bool) -> io::Result<()> {
    let outcome = r.decision.outcome;
    let label = if color {
        let code = match outcome {
            Outcome::Ship => "1;32",
            Outcome::ShipBehindFlag => "1;33",
            Outcome::Hold => "1;31",
        };
        format!("\x1b[{code}m{}\x1b[0m", outcome.label())
    } else {
        outcome.label().to_owned()
    };
    match r.decision.reasons.iter().find(|x| x.leads_to == outcome) {
        Some(reason) if outcome != Outcome::Ship => {
            writeln!(
                w,
                "decision: {label}: {}",
                crate::text::one_line(&reason.message, 300)
            )
        }
        _ => writeln!(w, "decision: {label}"),
    }
}

/// Most lines of a plugin's error shown in the summary.
const MAX_ERROR_LINES: usize = 12;

/// Render the summary: the decision and its reasons first, then every
/// check's findings (a plugin's failure whole, bounded). `color` adds ANSI
/// colours.
///
/// # Errors
///
/// The writer's error.
pub fn render(r: &Record, w: &mut impl Write, color: bool) -> io::Result<()> {
    let paint = |code: &str, s: &str| {
        if color {
            format!("\x1b[{code}m{s}\x1b[0m")
        } else {
            s.to_owned()
        }
    };
    let outcome = r.decision.outcome;
    let badge = match outcome {
        Outcome::Ship => paint("1;32", outcome.label()),
        Outcome::ShipBehindFlag => paint("1;33", outcome.label()),
        Outcome::Hold => paint("1;31", outcome.label()),
    };
    let (provider, base) = r.target();
    writeln!(w, "\n  decision: {badge}   ({provider} at {base})")?;
    if let Some(from) = crate::capability::http::cassette::replayed_from(&r.contract_source) {
        writeln!(
            w,
            "  {}: {}: the recorded run's evidence; nothing was sent",
            paint("1;33", "replayed"),
            crate::text::one_line(from, 300)
        )?;
    }
    use crate::report::record::RunStatus;
    // The plan's checks: not the host's own pseudo plugins.
    let checks: Vec<_> = r
        .plugins
        .iter()
        .filter(|p| !p.source.starts_with("host:") && !p.source.starts_with("baseline:"))
        .collect();
    let failed = checks
        .iter()
        .filter(|p| matches!(p.status, RunStatus::Failed(_)))
        .count();
    let skipped = checks
        .iter()
        .filter(|p| matches!(p.status, RunStatus::Skipped(_)))
        .count();
    let ran = checks.len() - skipped;
    let skipped_text = if skipped > 0 {
        format!(", {skipped} skipped")
    } else {
        String::new()
    };
    let verified = r
        .decision
        .checklist
        .iter()
        .filter(|e| matches!(e.status, ItemStatus::Verified | ItemStatus::Attested))
        .count();
    writeln!(
        w,
        "  findings: {} pass, {} warn, {} fail, {} skip · checks: {ran} ran, {failed} failed{skipped_text} · checklist: {verified}/{} verified · requests: {}",
        r.counts.pass,
        r.counts.warn,
        r.counts.fail,
        r.counts.skip,
        r.decision.checklist.len(),
        r.telemetry.len()
    )?;
    if !r.complete {
        writeln!(
            w,
            "  {}",
            paint(
                "1;31",
                &format!(
                    "incomplete run: {}",
                    r.incomplete_reason.as_deref().unwrap_or("?")
                )
            )
        )?;
    }
    let shown = r.decision.reasons.iter().take(8);
    for reason in shown {
        let tag = match reason.leads_to {
            Outcome::Hold => paint("31", "hold"),
            Outcome::ShipBehindFlag => paint("33", "flag"),
            Outcome::Ship => paint("32", "ship"),
        };
        writeln!(w, "    {tag}  {}", reason.message)?;
    }
    if r.decision.reasons.len() > 8 {
        writeln!(
            w,
            "    … {} more reasons in report.md",
            r.decision.reasons.len() - 8
        )?;
    }
    for p in &r.plugins {
        let state = match &p.status {
            crate::report::record::RunStatus::Completed => paint("32", "ok"),
            crate::report::record::RunStatus::Failed(_) => paint("31", "failed"),
            crate::report::record::RunStatus::Skipped(_) => paint("33", "skipped"),
        };
        let version = p
            .version
            .as_deref()
            .map(|v| format!(" {v}"))
            .unwrap_or_default();
        writeln!(
            w,
            "\n  {}{version} [{state}] {} ms, {} request{}",
            paint("1", &p.name),
            p.duration_ms,
            p.requests,
            if p.requests == 1 { "" } else { "s" }
        )?;
        // A failure is a finding of its own; a skip has only its reason.
        if let RunStatus::Skipped(why) = &p.status {
            writeln!(w, "    {}", why.lines().next().unwrap_or(""))?;
        }
        for f in r.findings.iter().filter(|f| f.plugin == p.name) {
            let v = match f.verdict {
                Verdict::Pass => paint("32", "pass"),
                Verdict::Warn => paint("33", "warn"),
                Verdict::Fail => paint("31", "FAIL"),
                Verdict::Skip => paint("2", "skip"),
            };
            let mut lines = f.detail.lines();
            let detail = lines.next().unwrap_or("");
            if detail.is_empty() {
                writeln!(w, "    {v}  {}", f.title)?;
            } else {
                writeln!(w, "    {v}  {} — {}", f.title, detail)?;
            }
            // A plugin's failure shows whole (its panic message, the error
            // chain), bounded; other details keep to one line here.
            if f.kind == crate::findings::FindingKind::PluginError {
                let rest: Vec<&str> = lines.collect();
                for line in rest.iter().take(MAX_ERROR_LINES) {
                    writeln!(w, "          {line}")?;
                }
                if rest.len() > MAX_ERROR_LINES {
                    writeln!(
                        w,
                        "          … {} more lines in report.md",
                        rest.len() - MAX_ERROR_LINES
                    )?;
                }
            }
        }
    }
    Ok(())
}
