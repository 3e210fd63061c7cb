//! `report.md`: the record for people. Decision and why first, then the
//! checklist, findings by plugin, the contract (verified vs assumed) and
//! telemetry per operation.

use super::Record;
use crate::decision::ItemStatus;
use crate::findings::Verdict;
use std::io::{self, Write};

/// Untrusted text for a table cell, a heading or a list item: shown, never rendered.
fn cell(s: &str) -> String {
    crate::text::markdown(s)
}

fn mark(v: Verdict) -> &'static str {
    match v {
        Verdict::Pass => "✅ pass",
        Verdict::Warn => "⚠️ warn",
        Verdict::Fail => "❌ fail",
        Verdict::Skip => "⏭️ skip",
    }
}

/// Render the markdown report.
///
/// # Errors
///
/// The writer's error.
pub fn render(r: &Record, w: &mut impl Write) -> io::Result<()> {
    let (provider, base) = r.target();
    writeln!(w, "# shipgate validation record\n")?;
    writeln!(w, "## Decision: **{}**\n", r.decision.outcome.label())?;
    if !r.complete {
        writeln!(
            w,
            "> **Incomplete run:** {}\n",
            cell(r.incomplete_reason.as_deref().unwrap_or("unknown"))
        )?;
    }
    if r.decision.reasons.is_empty() {
        writeln!(
            w,
            "Every covered checklist item passed and the contract is verified.\n"
        )?;
    }
    for reason in &r.decision.reasons {
        writeln!(
            w,
            "- **{}** ({}): {}",
            reason.leads_to.label(),
            reason.rule,
            cell(&reason.message)
        )?;
    }
    writeln!(
        w,
        "\nRun {} against {} ({}), {} → {}, shipgate {}. Findings: {} pass, {} warn, {} fail, {} skip.\n",
        crate::text::markdown_code(&r.run_id),
        crate::text::markdown_code(provider),
        crate::text::markdown_code(base),
        r.started_at,
        r.ended_at,
        r.tool.version,
        r.counts.pass,
        r.counts.warn,
        r.counts.fail,
        r.counts.skip
    )?;
    writeln!(w, "## Production readiness checklist\n")?;
    writeln!(
        w,
        "| Item | Status | Evidence about | Evidence | Information only |\n|---|---|---|---|---|"
    )?;
    for e in &r.decision.checklist {
        let status = match e.status {
            ItemStatus::Verified => "✅ verified",
            ItemStatus::Warning => "⚠️ warning",
            ItemStatus::Failed => "❌ failed",
            ItemStatus::Attested => "📝 attested",
            ItemStatus::NotVerified => "— not verified",
        };
        let by = match &e.attestation {
            Some(a) if e.findings.is_empty() => format!("operator: {a}"),
            _ => e.findings.join(", "),
        };
        let subject = e.subject.map_or("—", |s| s.as_str());
        let info = match e.information.len() {
            0 => String::new(),
            n => format!(
                "{}, such as {}",
                crate::text::count(n, "finding"),
                e.information[0]
            ),
        };
        writeln!(
            w,
            "| {} | {status} | {subject} | {} | {} |",
            cell(&e.title),
            cell(&by),
            cell(&info)
        )?;
    }
    writeln!(w, "\n## Findings\n")?;
    for p in &r.plugins {
        let status = match &p.status {
            crate::report::record::RunStatus::Completed => "completed".to_owned(),
            crate::report::record::RunStatus::Failed(why) => format!("**failed**: {}", cell(why)),
            crate::report::record::RunStatus::Skipped(why) => format!("skipped: {}", cell(why)),
        };
        writeln!(
            w,
            "### {} {} — {status}\n\n{} · {} ms · {} · sha256 `{}`\n",
            cell(&p.name),
            cell(p.version.as_deref().unwrap_or("?")),
            cell(p.summary.as_deref().unwrap_or("")),
            p.duration_ms,
            crate::text::count(p.requests as usize, "request"),
            &p.sha256[..p.sha256.len().min(16)]
        )?;
        writeln!(w, "| Verdict | Finding | Detail |\n|---|---|---|")?;
        for f in r.findings.iter().filter(|f| f.plugin == p.name) {
            writeln!(
                w,
                "| {} | {} {} | {} |",
                mark(f.verdict),
                crate::text::markdown_code(&f.id),
                cell(&f.title),
                cell(&f.detail)
            )?;
        }
        writeln!(w)?;
    }
    if let Some(app) = &r.application {
        application(app, w)?;
    }
    writeln!(w, "## Contract snapshot ({})\n", cell(&r.contract_source))?;
    writeln!(
        w,
        "| Section | Status | Source | Accessed |\n|---|---|---|---|"
    )?;
    for s in crate::contract::Section::ALL
        .into_iter()
        .chain([crate::contract::Section::Streaming])
    {
        let Some(sec) = r.contract.get(s.key()) else {
            continue;
        };
        let sec = Some(sec);
        let g = |k: &str| {
            sec.and_then(|x| x.get(k))
                .and_then(|v| v.as_str())
                .unwrap_or("?")
                .to_owned()
        };
        let status = if g("status") == "verified" {
            "verified".to_owned()
        } else {
            format!("**{}**", g("status"))
        };
        writeln!(
            w,
            "| {} | {status} | {} | {} |",
            s.key(),
            cell(&g("source")),
            g("accessed")
        )?;
    }
    writeln!(w, "\n## Telemetry\n")?;
    writeln!(
        w,
        "| Operation | Requests | Statuses | p50 ms | p95 ms | Retries | Timeouts |\n|---|---|---|---|---|---|---|"
    )?;
    for o in &r.telemetry_summary {
        let statuses: Vec<String> = o.statuses.iter().map(|(k, v)| format!("{k}×{v}")).collect();
        writeln!(
            w,
            "| {} | {} | {} | {} | {} | {} | {} |",
            cell(&format!("{}/{}", o.plugin, o.operation)),
            o.requests,
            statuses.join(" "),
            o.p50_ms,
            o.p95_ms,
            o.retries,
            o.timeouts
        )?;
    }
    let streams: Vec<_> = r
        .telemetry
        .iter()
        .filter_map(|t| Some((t, t.stream.as_ref()?)))
        .collect();
    if !streams.is_empty() {
        writeln!(
            w,
            "\n### Streams\n\n| Operation | First chunk ms | Events | Chunks | Bytes | Gap p95 ms | Ended |\n|---|---|---|---|---|---|---|"
        )?;
        for (t, s) in streams {
            let opt = |v: Option<u64>| v.map_or_else(|| "—".to_owned(), |v| v.to_string());
            writeln!(
                w,
                "| {} | {} | {} | {} | {} | {} | {} |",
                cell(&format!("{}/{}", t.plugin, t.operation)),
                opt(s.first_chunk_ms),
                s.events,
                s.chunks,
                s.bytes,
                opt(s.gap_p95_ms),
                cell(s.interrupted.as_deref().unwrap_or("cleanly"))
            )?;
        }
    }
    if !r.denials.is_empty() {
        writeln!(w, "\n## Requests denied by the sandbox\n")?;
        for d in &r.denials {
            writeln!(
                w,
                "- {}: {}",
                crate::text::markdown_code(&d.plugin),
                cell(&d.reason)
            )?;
        }
    }
    Ok(())
}
/// The application under test: one table row per request of each episode,
/// its attempts with their times and what each got.
fn application(
    app: &crate::report::episodes::ApplicationRun,
    w: &mut impl Write,
) -> io::Result<()> {
    writeln!(
        w,
        "## Application under test\n\n`{}`, one episode per scenario:\n",
        cell(&app.command.join(" "))
    )?;
    writeln!(
        w,
        "| Scenario | Exit | Time | Request | Attempts (arrival → answer) |\n|---|---|---|---|---|"
    )?;
    for e in &app.episodes {
        let exit = match (e.timed_out, e.exit_code) {
            (true, _) => "killed at its timeout".to_owned(),
            (false, Some(c)) => c.to_string(),
            (false, None) => "signal".to_owned(),
        };
        let mut logical: Vec<u32> = e.exchanges.iter().map(|x| x.logical).collect();
        logical.dedup();
        logical.sort_unstable();
        logical.dedup();
        if logical.is_empty() {
            writeln!(
                w,
                "| {} | {exit} | {} ms | — | no request |",
                cell(&e.scenario),
                e.wall_ms
            )?;
        }
        for l in logical {
            let steps: Vec<String> = e
                .exchanges
                .iter()
                .filter(|x| x.logical == l)
                .map(|x| {
                    let got = match (&x.refused, x.status) {
                        (Some(why), _) => format!("refused: {why}"),
                        (None, Some(s)) => s.to_string(),
                        (None, None) => "no answer".to_owned(),
                    };
                    let how = x
                        .injected
                        .as_deref()
                        .map(|i| format!(" ({i})"))
                        .unwrap_or_default();
                    let gave_up = if x.client_aborted {
                        ", client gave up"
                    } else {
                        ""
                    };
                    format!("{} ms → {got}{how}{gave_up}", x.started_ms)
                })
                .collect();
            writeln!(
                w,
                "| {} | {exit} | {} ms | {l} | {} |",
                cell(&e.scenario),
                e.wall_ms,
                cell(&steps.join("; "))
            )?;
        }
    }
    writeln!(w)
}
