//! The guide's step 4: retry and timeout behaviour.
//!
//! Drives the run's retry policy (the plan's `retry_*` thresholds, applied by
//! the host) against failures and checks what it did, attempt by attempt.
//! Verdicts use the names resilience testers use: *retried non-retryable*,
//! *retry-after ignored* and *retry storm* fail; *no backoff* and *gave up*
//! warn; a timeout that fires late fails.
//!
//! Failures are requested through the host's fault field (honoured by the
//! built-in mock, and by a fault-injecting proxy the plan grants with
//! `grants.faults`; `a|b` scripts one fault per attempt). Against any other
//! target the host denies fault requests, and every scenario is skipped,
//! saying so.
#![forbid(unsafe_code)]

use shipgate_sdk::chat::ChatRequest;
use shipgate_sdk::checklist as item;
use shipgate_sdk::http::{Attempt, HttpError, Request, Response};
use shipgate_sdk::{Check, Descriptor, Finding, Verdict, context};

struct RetryTimeout;

fn send(fault: &str, operation: &str, timeout_ms: Option<u32>) -> Result<Response, HttpError> {
    let target = context::target();
    let body = ChatRequest::new(&target.model)
        .user("Return the word READY and nothing else.")
        .max_tokens(8)
        .to_json();
    let mut r = Request::post(&target.chat_path)
        .json(&body)
        .fault(fault)
        .retry(true)
        .operation(operation);
    if let Some(ms) = timeout_ms {
        r = r.timeout_ms(ms);
    }
    r.send()
}

fn attempts_evidence(f: Finding, attempts: &[Attempt]) -> Finding {
    let trail: Vec<String> = attempts
        .iter()
        .map(|a| {
            format!(
                "#{} waited {} ms -> {} in {} ms{}",
                a.number,
                a.wait_ms,
                a.status
                    .map(|s| s.to_string())
                    .unwrap_or("no response".into()),
                a.latency_ms,
                if a.timed_out { " (timeout)" } else { "" }
            )
        })
        .collect();
    f.evidence("attempts", attempts.len())
        .evidence("trail", trail.join("; "))
}

/// Judge a retryable failure that never clears: bounded, growing backoff, and not giving up early.
fn persistent_transient(limits: &context::Limits) -> Finding {
    let title = "a persistent transient failure is retried with growing backoff, within bounds";
    let f = Finding::pass("retry.transient-bounded", title).covers([item::RETRY_POLICY_BOUNDED]);
    let r = match send("status:503", "retry.transient", None) {
        Ok(r) => r,
        Err(e) => return f.verdict(Verdict::Fail).detail(format!("no answer: {e}")),
    };
    let a = &r.attempts;
    let f = attempts_evidence(f, a).metric("attempts", a.len() as f64, "count");
    let waits: Vec<u32> = a.iter().skip(1).map(|x| x.wait_ms).collect();
    if a.len() as u32 > limits.retry_max_attempts || a.len() > 10 {
        f.verdict(Verdict::Fail).detail(format!(
            "retry storm: {} attempts, the policy allows {}",
            a.len(),
            limits.retry_max_attempts
        ))
    } else if a.len() < 2 && limits.retry_max_attempts <= 1 {
        f.verdict(Verdict::Warn).detail("gave up: the policy makes one attempt (retry_max_attempts = 1), so transient failures are never retried")
    } else if a.len() < 2 {
        f.verdict(Verdict::Warn).detail(format!(
            "gave up: a retryable 503 was tried once though the policy allows {} attempts",
            limits.retry_max_attempts
        ))
    } else if waits.contains(&0) || (waits.len() > 1 && waits.windows(2).all(|w| w[1] <= w[0])) {
        f.verdict(Verdict::Warn)
            .detail(format!("no backoff: waits were {waits:?} ms"))
    } else {
        f.detail(format!(
            "{} attempts, waits {waits:?} ms, within {} attempts",
            a.len(),
            limits.retry_max_attempts
        ))
    }
}

impl Check for RetryTimeout {
    fn describe() -> Descriptor {
        Descriptor::new(
            "retry-timeout",
            env!("CARGO_PKG_VERSION"),
            "retry policy and timeouts against injected failures",
        )
        .covers([item::RETRY_POLICY_BOUNDED, item::TIMEOUT_POLICY_CONFIGURED])
        .findings([
            "retry.faults-unsupported",
            "retry.transient-bounded",
            "retry.recovers",
            "retry.no-retry-*",
            "retry.retry-after",
            "retry.timeout",
        ])
        .setting(
            "timeout_ms",
            shipgate_sdk::SettingKind::Integer,
            Some("200"),
            "the client timeout of the timeout scenario, in ms",
        )
        .setting(
            "timeout_slack_ms",
            shipgate_sdk::SettingKind::Integer,
            Some("500"),
            "how late a timeout may fire",
        )
    }

    fn run() -> Result<Vec<Finding>, String> {
        let limits = context::limits();
        // Does the target inject faults at all?
        match send("status:503", "retry.detect", None) {
            Ok(r) if r.is_success() => {
                return Ok(vec![Finding::skip("retry.faults-unsupported", "the target injects faults on request").detail(
                    "the target answered 2xx to a fault request: run this check against `shipgate mock-server` or a fault-injecting proxy",
                )]);
            }
            Err(HttpError::Denied(why)) => {
                return Ok(vec![
                    Finding::skip(
                        "retry.faults-unsupported",
                        "the target injects faults on request",
                    )
                    .detail(format!(
                        "the host does not inject faults into this target ({why})"
                    )),
                ]);
            }
            _ => {}
        }
        let mut out = vec![persistent_transient(&limits)];

        // Transient, then success: the policy must recover.
        let title = "a transient failure followed by success recovers";
        out.push(
            match send("status:503|status:502|ok", "retry.recovers", None) {
                Ok(r) if r.is_success() => {
                    attempts_evidence(Finding::pass("retry.recovers", title), &r.attempts)
                        .detail(format!("recovered after {} attempts", r.attempts.len()))
                }
                Ok(r) if limits.retry_max_attempts < 3 => {
                    attempts_evidence(Finding::skip("retry.recovers", title), &r.attempts).detail(
                        format!(
                            "the policy allows {} attempts; this scenario needs 3",
                            limits.retry_max_attempts
                        ),
                    )
                }
                Ok(r) => attempts_evidence(Finding::warn("retry.recovers", title), &r.attempts)
                    .detail(format!("gave up: ended on HTTP {}", r.status)),
                Err(e) => Finding::fail("retry.recovers", title).detail(e.to_string()),
            }
            .covers([item::RETRY_POLICY_BOUNDED]),
        );

        // Never retry what cannot succeed: 400-422 always; a 5xx that the
        // contract classifies as not retryable (CometAPI's 500 invalid_request).
        let comet_rule = context::contract_value("/errors/classify").is_some_and(|rules| {
            rules.as_array().is_some_and(|a| {
                a.iter().any(|r| {
                    r["status"] == 500 && r["code"] == "invalid_request" && r["retry"] == false
                })
            })
        });
        for (fault, what) in [
            ("status:400", "400"),
            ("status:401", "401"),
            ("status:403", "403"),
            ("status:404", "404"),
            ("status:422", "422"),
            ("comet-invalid-request", "500 invalid_request"),
        ] {
            let id = format!("retry.no-retry-{}", what.replace(' ', "-"));
            let title = format!("{what} is not retried");
            if fault == "comet-invalid-request" && !comet_rule {
                out.push(
                    Finding::skip(&id, &title)
                        .detail(
                            "the contract does not classify a 500 invalid_request as non-retryable",
                        )
                        .evidence("fault", fault)
                        .covers([item::RETRY_POLICY_BOUNDED]),
                );
                continue;
            }
            out.push(
                match send(fault, &id, None) {
                    Ok(r) if r.attempts.len() == 1 => Finding::pass(&id, &title)
                        .detail(format!("one attempt, classified {}", r.category)),
                    Ok(r) => {
                        attempts_evidence(Finding::fail(&id, &title), &r.attempts).detail(format!(
                            "retried non-retryable: {} attempts on {what} ({})",
                            r.attempts.len(),
                            r.category
                        ))
                    }
                    Err(e) => Finding::fail(&id, &title).detail(e.to_string()),
                }
                .evidence("fault", fault)
                .covers([item::RETRY_POLICY_BOUNDED]),
            );
        }

        // Retry-After is honoured: never retried early.
        let title = "retry-after is honoured";
        out.push(
            match send("rate-limit:1", "retry.retry-after", None) {
                Ok(r) => {
                    let early: Vec<&Attempt> = r
                        .attempts
                        .iter()
                        .skip(1)
                        .filter(|a| a.wait_ms < 1000)
                        .collect();
                    let f =
                        attempts_evidence(Finding::pass("retry.retry-after", title), &r.attempts);
                    if r.attempts.len() < 2 {
                        f.verdict(Verdict::Warn)
                            .detail("gave up: a 429 with retry-after: 1 was not retried")
                    } else if !early.is_empty() {
                        f.verdict(Verdict::Fail).detail(format!(
                            "retry-after ignored: retried after {} ms, before the 1000 ms asked",
                            early[0].wait_ms
                        ))
                    } else {
                        f.detail(format!(
                            "{} attempts, every retry waited at least 1000 ms",
                            r.attempts.len()
                        ))
                    }
                }
                Err(e) => Finding::fail("retry.retry-after", title).detail(e.to_string()),
            }
            .covers([item::RETRY_POLICY_BOUNDED]),
        );

        // Timeouts fire at the configured time, are counted, and are retried within budget.
        let timeout_ms: u32 = context::setting_or("timeout_ms", 200)?;
        let slack: u32 = context::setting_or("timeout_slack_ms", 500)?;
        let title = "a client timeout fires at the configured time";
        let sent = send(
            &format!("delay:{}", timeout_ms * 5),
            "retry.timeout",
            Some(timeout_ms),
        );
        let attempts = shipgate_sdk::http::last_attempts();
        let f = attempts_evidence(Finding::pass("retry.timeout", title), &attempts)
            .evidence("timeout_ms", timeout_ms)
            .covers([item::TIMEOUT_POLICY_CONFIGURED]);
        let late: Vec<&Attempt> = attempts
            .iter()
            .filter(|a| a.latency_ms > timeout_ms + slack)
            .collect();
        out.push(match sent {
            Err(HttpError::Timeout(_)) if !late.is_empty() => {
                f.verdict(Verdict::Fail).detail(format!(
                    "timeout fired late: {} ms for a {timeout_ms} ms timeout",
                    late[0].latency_ms
                ))
            }
            Err(HttpError::Timeout(_)) if attempts.iter().all(|a| a.timed_out) => {
                f.detail(format!(
                    "every attempt ({}) timed out within {timeout_ms}+{slack} ms and was counted",
                    attempts.len()
                ))
            }
            Err(HttpError::Timeout(_)) => f
                .verdict(Verdict::Warn)
                .detail("timed out, but not every attempt was marked as a timeout"),
            Ok(r) => f.verdict(Verdict::Fail).detail(format!(
                "no timeout: HTTP {} after {} ms",
                r.status, r.latency_ms
            )),
            Err(e) => f
                .verdict(Verdict::Fail)
                .detail(format!("expected a timeout, got: {e}")),
        });
        Ok(out)
    }
}

shipgate_sdk::export_check!(RetryTimeout);
