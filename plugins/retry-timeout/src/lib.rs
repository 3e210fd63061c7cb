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
use shipgate_sdk::http::{Attempt, HttpError, Request, Response, last_attempts, send_all};
use shipgate_sdk::{Check, Descriptor, Finding, Verdict, context};

struct RetryTimeout;

fn request(fault: &str, operation: &str, timeout_ms: Option<u32>) -> Request {
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
    r
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

/// The most attempts at one request that still count as a bounded policy
/// (the OpenAI SDKs make 3 by default).
pub const MAX_BOUNDED_ATTEMPTS: usize = 10;

/// Judge a retryable failure that never clears: bounded, growing backoff, and not giving up early.
pub fn persistent_transient(
    sent: Result<Response, HttpError>,
    limits: &context::Limits,
) -> Finding {
    let title = "a persistent transient failure is retried with growing backoff, within bounds";
    let f = Finding::pass("retry.transient-bounded", title).covers([item::RETRY_POLICY_BOUNDED]);
    let r = match sent {
        Ok(r) => r,
        Err(e) => return f.verdict(Verdict::Fail).detail(format!("no answer: {e}")),
    };
    let a = &r.attempts;
    let f = attempts_evidence(f, a).metric("attempts", a.len() as f64, "count");
    let waits: Vec<u32> = a.iter().skip(1).map(|x| x.wait_ms).collect();
    if a.len() as u32 > limits.retry_max_attempts {
        f.verdict(Verdict::Fail).detail(format!(
            "retry storm: {} attempts, the policy allows {}",
            a.len(),
            limits.retry_max_attempts
        ))
    } else if a.len() > MAX_BOUNDED_ATTEMPTS {
        f.verdict(Verdict::Fail).detail(format!(
            "retry storm: {} attempts at one request; more than {MAX_BOUNDED_ATTEMPTS} multiplies the load on a struggling provider (lower retry_max_attempts)",
            a.len()
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
        .needs_canary()
        .covers([item::RETRY_POLICY_BOUNDED, item::TIMEOUT_POLICY_CONFIGURED])
        .findings([
            "retry.faults-unsupported",
            "retry.transient-bounded",
            "retry.recovers",
            "retry.no-retry-400",
            "retry.no-retry-401",
            "retry.no-retry-403",
            "retry.no-retry-404",
            "retry.no-retry-422",
            "retry.no-retry-500-invalid_request",
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
            "retry_after_ms",
            shipgate_sdk::SettingKind::Integer,
            Some("300"),
            "the retry-after-ms the retry-after scenario asks for",
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
        match request("status:503", "retry.detect", None).send() {
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
        let timeout_ms: u32 = context::setting_or("timeout_ms", 200)?;
        let slack: u32 = context::setting_or("timeout_slack_ms", 500)?;
        let retry_after_ms: u32 = context::setting_or("retry_after_ms", 300)?;
        // Never retry what cannot succeed: 400-422 always; a 5xx that the
        // contract classifies as not retryable (CometAPI's 500 invalid_request).
        let comet_rule = context::contract_value("/errors/classify").is_some_and(|rules| {
            rules.as_array().is_some_and(|a| {
                a.iter().any(|r| {
                    r["status"] == 500 && r["code"] == "invalid_request" && r["retry"] == false
                })
            })
        });
        let mut no_retry: Vec<(&str, &str)> = vec![
            ("status:400", "400"),
            ("status:401", "401"),
            ("status:403", "403"),
            ("status:404", "404"),
            ("status:422", "422"),
        ];
        let mut out = Vec::new();
        if comet_rule {
            no_retry.push(("comet-invalid-request", "500 invalid_request"));
        } else {
            out.push(
                Finding::skip(
                    "retry.no-retry-500-invalid_request",
                    "500 invalid_request is not retried",
                )
                .detail("the contract does not classify a 500 invalid_request as non-retryable")
                .evidence("fault", "comet-invalid-request")
                .covers([item::RETRY_POLICY_BOUNDED]),
            );
        }

        // Every scenario at once (independent requests): the whole check
        // takes as long as its longest retry chain, not their sum. The
        // timeout scenario goes last: its attempts are `last_attempts()`.
        let mut batch = vec![
            request("status:503", "retry.transient", None),
            request("status:503|status:502|ok", "retry.recovers", None),
            request(
                &format!("rate-limit-ms:{retry_after_ms}"),
                "retry.retry-after",
                None,
            ),
        ];
        for (fault, what) in &no_retry {
            batch.push(request(
                fault,
                &format!("retry.no-retry-{}", what.replace(' ', "-")),
                None,
            ));
        }
        batch.push(request(
            &format!("delay:{}", timeout_ms * 5),
            "retry.timeout",
            Some(timeout_ms),
        ));
        let mut answers = send_all(batch).into_iter();
        let mut next = || {
            answers
                .next()
                .unwrap_or(Err(HttpError::Connect("no answer".into())))
        };
        out.insert(0, persistent_transient(next(), &limits));
        out.insert(1, recovers(next(), &limits));
        let retry_after = next();
        for (fault, what) in &no_retry {
            out.push(not_retried(next(), fault, what));
        }
        out.push(honours_retry_after(retry_after, retry_after_ms));
        out.push(times_out(next(), &last_attempts(), timeout_ms, slack));
        Ok(out)
    }
}

/// Transient, then success: the policy must recover.
pub fn recovers(sent: Result<Response, HttpError>, limits: &context::Limits) -> Finding {
    let title = "a transient failure followed by success recovers";
    match sent {
        Ok(r) if r.is_success() => {
            attempts_evidence(Finding::pass("retry.recovers", title), &r.attempts)
                .detail(format!("recovered after {} attempts", r.attempts.len()))
        }
        Ok(r) if limits.retry_max_attempts < 3 => {
            attempts_evidence(Finding::skip("retry.recovers", title), &r.attempts).detail(format!(
                "the policy allows {} attempts; this scenario needs 3",
                limits.retry_max_attempts
            ))
        }
        Ok(r) => attempts_evidence(Finding::warn("retry.recovers", title), &r.attempts)
            .detail(format!("gave up: ended on HTTP {}", r.status)),
        Err(e) => Finding::fail("retry.recovers", title).detail(e.to_string()),
    }
    .covers([item::RETRY_POLICY_BOUNDED])
}

/// A status that cannot succeed is tried once.
pub fn not_retried(sent: Result<Response, HttpError>, fault: &str, what: &str) -> Finding {
    let id = format!("retry.no-retry-{}", what.replace(' ', "-"));
    let title = format!("{what} is not retried");
    match sent {
        Ok(r) if r.attempts.len() == 1 => {
            Finding::pass(&id, &title).detail(format!("one attempt, classified {}", r.category))
        }
        Ok(r) => attempts_evidence(Finding::fail(&id, &title), &r.attempts).detail(format!(
            "retried non-retryable: {} attempts on {what} ({})",
            r.attempts.len(),
            r.category
        )),
        Err(e) => Finding::fail(&id, &title).detail(e.to_string()),
    }
    .evidence("fault", fault)
    .covers([item::RETRY_POLICY_BOUNDED])
}

/// A 429 with `retry-after-ms` is never retried early.
pub fn honours_retry_after(sent: Result<Response, HttpError>, asked_ms: u32) -> Finding {
    let title = "retry-after is honoured";
    match sent {
        Ok(r) => {
            let early: Vec<&Attempt> = r
                .attempts
                .iter()
                .skip(1)
                .filter(|a| a.wait_ms < asked_ms)
                .collect();
            let f = attempts_evidence(Finding::pass("retry.retry-after", title), &r.attempts);
            if r.attempts.len() < 2 {
                f.verdict(Verdict::Warn).detail(format!(
                    "gave up: a 429 with retry-after-ms: {asked_ms} was not retried"
                ))
            } else if !early.is_empty() {
                f.verdict(Verdict::Fail).detail(format!(
                    "retry-after ignored: retried after {} ms, before the {asked_ms} ms asked",
                    early[0].wait_ms
                ))
            } else {
                f.detail(format!(
                    "{} attempts, every retry waited at least the {asked_ms} ms asked",
                    r.attempts.len()
                ))
            }
        }
        Err(e) => Finding::fail("retry.retry-after", title).detail(e.to_string()),
    }
    .covers([item::RETRY_POLICY_BOUNDED])
}

/// Timeouts fire at the configured time, are counted, and are retried within budget.
pub fn times_out(
    sent: Result<Response, HttpError>,
    attempts: &[Attempt],
    timeout_ms: u32,
    slack: u32,
) -> Finding {
    let title = "a client timeout fires at the configured time";
    let f = attempts_evidence(Finding::pass("retry.timeout", title), attempts)
        .evidence("timeout_ms", timeout_ms)
        .covers([item::TIMEOUT_POLICY_CONFIGURED]);
    let late: Vec<&Attempt> = attempts
        .iter()
        .filter(|a| a.latency_ms > timeout_ms + slack)
        .collect();
    match sent {
        Err(HttpError::Timeout(_)) if !late.is_empty() => f.verdict(Verdict::Fail).detail(format!(
            "timeout fired late: {} ms for a {timeout_ms} ms timeout",
            late[0].latency_ms
        )),
        Err(HttpError::Timeout(_))
            if !attempts.is_empty() && attempts.iter().all(|a| a.timed_out) =>
        {
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
    }
}

shipgate_sdk::export_check!(RetryTimeout);

#[cfg(test)]
mod tests {
    mod whole_check {
        //! The whole check against the SDK's scripted host.
        use super::super::RetryTimeout;
        use shipgate_sdk::Verdict;
        use shipgate_sdk::context::Limits;
        use shipgate_sdk::testing::{Harness, Reply};

        fn times(n: usize, reply: &Reply) -> Vec<Reply> {
            vec![reply.clone(); n]
        }

        /// A fault-injecting target, scenario by scenario in the order the
        /// check sends them (one reply per attempt, three attempts allowed).
        struct Script {
            detect: Vec<Reply>,
            transient: Vec<Reply>,
            recovers: Vec<Reply>,
            retry_after: Vec<Reply>,
            no_retry: Vec<Reply>,
            timeout: Vec<Reply>,
        }

        impl Script {
            fn honest() -> Self {
                Script {
                    detect: times(3, &Reply::status(503)),
                    transient: times(3, &Reply::status(503)),
                    recovers: vec![Reply::status(503), Reply::status(502), Reply::chat("READY")],
                    retry_after: vec![
                        Reply::error(429, "rate_limited", "slow down").header("retry-after", "1"),
                        Reply::chat("READY"),
                    ],
                    no_retry: [400, 401, 403, 404, 422]
                        .into_iter()
                        .map(|s| Reply::error(s, "fault", "injected"))
                        .collect(),
                    timeout: times(3, &Reply::timeout()),
                }
            }

            fn harness(self) -> Harness {
                [
                    self.detect,
                    self.transient,
                    self.recovers,
                    self.retry_after,
                    self.no_retry,
                    self.timeout,
                ]
                .into_iter()
                .flatten()
                .fold(Harness::new(), Harness::reply)
            }
        }

        #[test]
        fn an_honest_fault_target_passes_every_scenario() {
            let out = Script::honest().harness().run::<RetryTimeout>();
            for id in [
                "retry.transient-bounded",
                "retry.recovers",
                "retry.no-retry-400",
                "retry.no-retry-401",
                "retry.no-retry-403",
                "retry.no-retry-404",
                "retry.no-retry-422",
                "retry.retry-after",
                "retry.timeout",
            ] {
                assert_eq!(
                    out.verdict(id),
                    Verdict::Pass,
                    "{id}: {:?}",
                    out.finding(id)
                );
            }
            // The mock contract classifies no 500 invalid_request.
            assert_eq!(
                out.verdict("retry.no-retry-500-invalid_request"),
                Verdict::Skip
            );
            assert_eq!(
                out.evidence("retry.transient-bounded", "attempts"),
                Some("3")
            );
            assert_eq!(out.evidence("retry.recovers", "attempts"), Some("3"));
            assert_eq!(out.unused_replies, 0);
            let faults: Vec<_> = out.requests.iter().map(|r| r.fault.as_deref()).collect();
            assert_eq!(faults[0], Some("status:503"));
            assert_eq!(faults[3], Some("rate-limit-ms:300"));
            assert_eq!(faults[9], Some("delay:1000"));
            assert_eq!(out.requests[9].timeout_ms, Some(200));
            assert!(out.requests.iter().all(|r| r.retry));
        }

        #[test]
        fn a_target_that_ignores_fault_requests_skips_the_check() {
            let out = Harness::new()
                .reply(Reply::chat("READY"))
                .run::<RetryTimeout>();
            assert_eq!(out.findings.len(), 1);
            assert_eq!(out.verdict("retry.faults-unsupported"), Verdict::Skip);
        }

        #[test]
        fn a_400_marked_retryable_is_retried_and_fails() {
            let mut s = Script::honest();
            let marked = Reply::error(400, "bad", "bad").header("x-should-retry", "true");
            s.no_retry.splice(0..1, times(3, &marked));
            let out = s.harness().run::<RetryTimeout>();
            assert_eq!(out.verdict("retry.no-retry-400"), Verdict::Fail);
            assert_eq!(out.evidence("retry.no-retry-400", "attempts"), Some("3"));
            assert_eq!(out.verdict("retry.no-retry-401"), Verdict::Pass);
        }

        #[test]
        fn a_retry_sooner_than_the_retry_after_asked_fails() {
            // The check asks for 2 s; the 429 carries no header the policy
            // reads, so it waits its default 500 ms backoff.
            let mut s = Script::honest();
            s.retry_after[0] = Reply::error(429, "rate_limited", "slow down");
            let out = s
                .harness()
                .setting("retry_after_ms", "2000")
                .run::<RetryTimeout>();
            assert_eq!(out.verdict("retry.retry-after"), Verdict::Fail);
            assert!(
                out.finding("retry.retry-after")
                    .detail
                    .starts_with("retry-after ignored: retried after 500 ms"),
                "{:?}",
                out.finding("retry.retry-after")
            );
        }

        #[test]
        fn immediate_retries_warn_no_backoff() {
            let mut s = Script::honest();
            s.transient = times(3, &Reply::status(503).header("retry-after", "0"));
            let out = s.harness().run::<RetryTimeout>();
            assert_eq!(out.verdict("retry.transient-bounded"), Verdict::Warn);
            assert!(
                out.finding("retry.transient-bounded")
                    .detail
                    .starts_with("no backoff"),
                "{:?}",
                out.finding("retry.transient-bounded")
            );
        }

        #[test]
        fn an_answer_inside_the_timeout_fails_the_timeout_scenario() {
            let mut s = Script::honest();
            s.timeout = vec![Reply::chat("READY").delay_ms(150)];
            let out = s.harness().run::<RetryTimeout>();
            assert_eq!(out.verdict("retry.timeout"), Verdict::Fail);
            assert!(
                out.finding("retry.timeout")
                    .detail
                    .starts_with("no timeout: HTTP 200"),
                "{:?}",
                out.finding("retry.timeout")
            );
        }

        #[test]
        fn twelve_attempts_are_a_retry_storm_and_one_attempt_gives_up() {
            let limits = Limits {
                retry_max_attempts: 12,
                ..plan_limits()
            };
            let s = Script {
                detect: times(12, &Reply::status(503)),
                transient: times(12, &Reply::status(503)),
                timeout: times(12, &Reply::timeout()),
                ..Script::honest()
            };
            let out = s.harness().limits(limits).run::<RetryTimeout>();
            assert_eq!(out.verdict("retry.transient-bounded"), Verdict::Fail);
            assert_eq!(
                out.evidence("retry.transient-bounded", "attempts"),
                Some("12")
            );

            let limits = Limits {
                retry_max_attempts: 1,
                ..plan_limits()
            };
            let s = Script {
                detect: vec![Reply::status(503)],
                transient: vec![Reply::status(503)],
                recovers: vec![Reply::status(503)],
                retry_after: vec![Reply::error(429, "rate_limited", "slow down")],
                timeout: vec![Reply::timeout()],
                ..Script::honest()
            };
            let out = s.harness().limits(limits).run::<RetryTimeout>();
            assert_eq!(out.verdict("retry.transient-bounded"), Verdict::Warn);
            assert_eq!(out.verdict("retry.recovers"), Verdict::Skip);
            assert_eq!(out.verdict("retry.retry-after"), Verdict::Warn);
        }

        fn plan_limits() -> Limits {
            Limits {
                latency_ms: 2_000,
                latency_hard_ms: 10_000,
                input_limit_bytes: 32 * 1024,
                output_token_ceiling: 64,
                request_timeout_ms: 30_000,
                retry_max_attempts: 3,
                retry_budget_ms: 20_000,
            }
        }

        /// Findings no provider, contract, plan or application can make fail: (id, why).
        const CANNOT_FAIL: &[(&str, &str)] = &[(
            "retry.faults-unsupported",
            "only ever Skip: it says the target injects no faults, so the scenarios it stands for were not run",
        )];

        /// Every finding can fail, and a test shows it failing.
        #[test]
        fn every_declared_finding_can_fail() {
            let script = |edit: &dyn Fn(&mut Script)| {
                let mut s = Script::honest();
                edit(&mut s);
                s.harness()
            };
            // A provider that marks a non-retryable status `x-should-retry: true`.
            let marked = |status: u16, code: &str| {
                times(
                    3,
                    &Reply::error(status, code, "injected").header("x-should-retry", "true"),
                )
            };
            let no_retry = |i: usize, status: u16| {
                script(&|s: &mut Script| {
                    s.no_retry.splice(i..=i, marked(status, "fault"));
                })
            };
            let storm = Script {
                detect: times(12, &Reply::status(503)),
                transient: times(12, &Reply::status(503)),
                timeout: times(12, &Reply::timeout()),
                ..Script::honest()
            }
            .harness();
            let storm = storm.clone().limits(Limits {
                retry_max_attempts: 12,
                ..storm.thresholds()
            });
            let comet = script(&|s: &mut Script| s.no_retry.extend(marked(500, "invalid_request")))
                .contract_value(
                    "/errors/classify",
                    shipgate_sdk::serde_json::json!([{"status": 500, "code": "invalid_request", "retry": false}]),
                );
            let cases: Vec<(&str, Harness)> = vec![
                ("retry.transient-bounded", storm),
                (
                    "retry.recovers",
                    script(&|s: &mut Script| s.recovers = times(3, &Reply::connect_error("reset"))),
                ),
                ("retry.no-retry-400", no_retry(0, 400)),
                ("retry.no-retry-401", no_retry(1, 401)),
                ("retry.no-retry-403", no_retry(2, 403)),
                ("retry.no-retry-404", no_retry(3, 404)),
                ("retry.no-retry-422", no_retry(4, 422)),
                ("retry.no-retry-500-invalid_request", comet),
                (
                    "retry.retry-after",
                    script(&|s: &mut Script| {
                        s.retry_after[0] = Reply::error(429, "rate_limited", "slow down")
                    })
                    .setting("retry_after_ms", "2000"),
                ),
                (
                    "retry.timeout",
                    script(&|s: &mut Script| s.timeout = vec![Reply::chat("READY").delay_ms(150)]),
                ),
            ];
            shipgate_sdk::testing::assert_every_finding_can_fail::<RetryTimeout>(
                &cases,
                &[],
                CANNOT_FAIL,
            );
        }
    }
}
