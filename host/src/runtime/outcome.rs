//! What became of a plugin run, as host findings: deadlines, traps, limits
//! hit, errors returned, and what the target reflected.

use super::{MAX_HANDLES, MAX_PLUGIN_ERROR, MAX_WASM_STACK};
use crate::findings::{Finding, FindingKind};
use crate::redact::Redactor;
use crate::text;
use std::time::Duration;

/// More findings than `sandbox.max_findings`: the first ones are kept.
pub(super) fn too_many_findings(name: &str, returned: usize, max: u32) -> Finding {
    Finding::host(
        name,
        FindingKind::PluginError,
        "limit.max-findings",
        "plugin stays within sandbox.max_findings",
        format!(
            "returned {returned} findings, over sandbox.max_findings = {max}; the first {max} are kept (raise it in the plan)"
        ),
    )
    .with_evidence("limit", "sandbox.max_findings")
    .with_evidence("value", max)
}

/// `run` returned an error: kept to [`MAX_PLUGIN_ERROR`] bytes, inert, redacted.
pub(super) fn returned_error(name: &str, msg: &str) -> Finding {
    let msg = Redactor
        .redact(&text::multi_line(msg, MAX_PLUGIN_ERROR))
        .into_owned();
    Finding::host(
        name,
        FindingKind::PluginError,
        "plugin-error",
        "plugin runs to completion",
        format!("the check returned an error: {msg}"),
    )
}

/// It tried to send more than `sandbox.max_requests`.
pub(super) fn too_many_requests(name: &str, max: u32) -> Finding {
    Finding::host(
        name,
        FindingKind::Sandbox,
        "limit.max-requests",
        "plugin stays within sandbox.max_requests",
        format!(
            "the plugin tried to send more than sandbox.max_requests = {max} requests; the rest were denied (raise it in the plan)"
        ),
    )
    .with_evidence("limit", "sandbox.max_requests")
    .with_evidence("value", max)
}

/// Log records were dropped over the log limits.
pub(super) fn log_dropped(
    name: &str,
    dropped: u32,
    limits: &crate::plan::SandboxLimits,
) -> Finding {
    Finding::host(
        name,
        FindingKind::Sandbox,
        "limit.max-log",
        "plugin stays within the log limits",
        format!(
            "{dropped} log records dropped over sandbox.max_log_records = {} / sandbox.max_log_bytes = {} (raise them in the plan)",
            limits.max_log_records, limits.max_log_bytes
        ),
    )
    .with_evidence("limit", "sandbox.max_log_records")
    .with_evidence("dropped", dropped)
}

/// `describe` failed: the plugin is not run.
pub(super) fn describe_failed(name: &str, why: &str) -> Finding {
    Finding::host(
        name,
        FindingKind::PluginError,
        "plugin-error",
        "plugin describes itself",
        format!(
            "the plugin could not describe itself, so it was not run: {}",
            Redactor.redact(&text::multi_line(why, 4096))
        ),
    )
}

/// What the target sent back of the run's credentials, as a host finding
/// about the target: a warning when every full form was removed before the
/// plugin read it, a failure when part of a key reached the plugin.
pub(super) fn reflection_finding(name: &str, (reflected, exposed): (u32, u32)) -> Option<Finding> {
    let title = "the target sends back no part of a credential";
    let f = if exposed > 0 {
        Finding::host(
            name,
            FindingKind::Host,
            "secret-reflected",
            title,
            format!(
                "{exposed} response(s) reached this plugin holding part of a credential the host sent (12 or more characters, cut or split by the target): treat the key as exposed to this plugin and rotate it"
            ),
        )
    } else if reflected > 0 {
        let mut f = Finding::host(
            name,
            FindingKind::Host,
            "secret-reflected",
            title,
            format!(
                "{reflected} response(s) held a credential the host sent; the host removed it before the plugin read them, but anything that logs this target's responses would keep it"
            ),
        );
        f.verdict = crate::findings::Verdict::Warn;
        f
    } else {
        return None;
    };
    Some(
        f.about(crate::checklist::Subject::Provider)
            .with_evidence("responses", reflected)
            .with_evidence("reached_plugin", exposed),
    )
}

pub(super) fn deadline_finding(
    name: &str,
    limits: &crate::plan::SandboxLimits,
    elapsed: Duration,
) -> Finding {
    Finding::host(
        name,
        FindingKind::PluginError,
        "limit.deadline",
        "plugin finishes within sandbox.deadline_ms",
        format!(
            "stopped after {} ms: over sandbox.deadline_ms = {} (raise it in the plan, e.g. --set {name}.deadline_ms=120000)",
            elapsed.as_millis(),
            limits.deadline_ms
        ),
    )
    .with_evidence("limit", "sandbox.deadline_ms")
    .with_evidence("value", limits.deadline_ms)
    .with_evidence("elapsed_ms", elapsed.as_millis())
}

/// The message of a Rust guest's panic, from what it wrote to stderr.
pub(super) fn panic_message(stderr: &[u8]) -> String {
    let text = String::from_utf8_lossy(stderr);
    match text.find("panicked at") {
        Some(at) => text::multi_line(text[at..].trim(), 2048),
        None => String::new(),
    }
}

pub(super) fn trap_finding(
    name: &str,
    limits: &crate::plan::SandboxLimits,
    err: &wasmtime::Error,
    memory_hit: Option<&str>,
    elapsed: Duration,
    panic: &str,
) -> Finding {
    let trap = err.downcast_ref::<wasmtime::Trap>().copied();
    match (trap, memory_hit) {
        (_, Some(hit)) => Finding::host(
            name,
            FindingKind::PluginError,
            "limit.memory",
            "plugin stays within sandbox.memory_mib",
            format!("{hit}: over sandbox.memory_mib = {} (raise it in the plan)", limits.memory_mib),
        )
        .with_evidence("limit", "sandbox.memory_mib")
        .with_evidence("value", limits.memory_mib),
        (Some(wasmtime::Trap::Interrupt), _) => deadline_finding(name, limits, elapsed),
        (Some(wasmtime::Trap::OutOfFuel), _) => Finding::host(
            name,
            FindingKind::PluginError,
            "limit.fuel",
            "plugin stays within sandbox.fuel",
            format!("ran out of fuel: sandbox.fuel = {} (raise it in the plan, or 0 for no fuel limit)", limits.fuel),
        )
        .with_evidence("limit", "sandbox.fuel")
        .with_evidence("value", limits.fuel),
        (Some(wasmtime::Trap::StackOverflow), _) => Finding::host(
            name,
            FindingKind::PluginError,
            "limit.stack",
            "plugin stays within the wasm stack limit",
            format!("stack overflow: the wasm stack is capped at {MAX_WASM_STACK} bytes (unbounded recursion?)"),
        )
        .with_evidence("limit", "max_wasm_stack"),
        (Some(t), _) if !panic.is_empty() => Finding::host(
            name,
            FindingKind::PluginError,
            "trap",
            "plugin runs to completion",
            format!("the plugin panicked: {}", Redactor.redact(panic)),
        )
        .with_evidence("trap", t),
        (Some(t), _) => Finding::host(
            name,
            FindingKind::PluginError,
            "trap",
            "plugin runs to completion",
            format!("the plugin trapped: {t} (a panic in a Rust plugin shows as `wasm unreachable`)"),
        )
        .with_evidence("trap", t),
        (None, _) => {
            // Not a trap: an instantiation failure or an error from a host call
            // (hostcall bytes, handle limit). The cause first, then the chain, bounded.
            let full = format!("{err:#}");
            let mut cause = err.root_cause().to_string();
            if cause.contains("resource table has no free keys") || cause.contains("handle limit exceeded") {
                cause.push_str(&format!(" (a plugin holds at most {MAX_HANDLES} live handles: drop pollables and streams)"));
            } else if cause.contains("fuel allocated for hostcalls") {
                cause.push_str(" (one host call copies at most sandbox.max_requests x sandbox.max_request_bytes + 1 MiB)");
            }
            let root = err.root_cause().to_string();
            let msg = if full.ends_with(&root) && full != root {
                format!("{cause}\n{}", full[..full.len() - root.len()].trim_end_matches([':', ' ']))
            } else {
                full
            };
            let msg = Redactor.redact(&text::multi_line(&msg, 4096)).into_owned();
            Finding::host(name, FindingKind::PluginError, "plugin-error", "plugin runs to completion", format!("the plugin failed: {msg}"))
        }
    }
}
