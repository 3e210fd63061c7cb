//! How the application under test behaved when its own requests met the
//! guide's failures. The host ran the team's client once per fault scenario
//! through its interposer (the `traffic` capability); this check judges the
//! attempts it made, with the verdict names LLMock uses for clients, so
//! results compare:
//!
//! | finding | verdict when seen | rule |
//! |---|---|---|
//! | `client.retry_after_ignored` | fail | retried before the `Retry-After` it was given elapsed |
//! | `client.retried_non_retryable` | fail | retried a 400, 401, 403, 404 or 422 |
//! | `client.retry_storm` | fail | more attempts than the plan's `retry_max_attempts`, or retries closer than 100 ms |
//! | `client.no_backoff` | warn | three or more attempts whose gaps never grow by 50 ms and half again (outside `Retry-After`) |
//! | `client.gave_up` | warn | stopped on a transient fault the scenario would have cleared within the plan's attempts |
//! | `client.no_read_timeout` | warn | still waiting on a stalled answer past `request_timeout_ms` plus 1 s |
//! | `client.truncated_stream_accepted` | fail | exited successfully after a stream cut short (no finish reason, no `[DONE]`, or a dropped connection) |
//! | `client.malformed_chunk_ignored` | warn | exited successfully after a stream with a chunk that is not JSON |
//!
//! Each finding names the episode, the request, its attempts with their times,
//! and the rule. A rule with nothing to judge (no scenario exercised it) is
//! skipped, saying which scenario would.
#![forbid(unsafe_code)]

use shipgate_sdk::checklist as item;
use shipgate_sdk::traffic::{self, Episode, Exchange, gap_ms, logical_requests, non_retryable};
use shipgate_sdk::{Check, Descriptor, Finding, Verdict, context};

/// Retries closer together than this are a storm, whatever the policy.
pub const MIN_SPACING_MS: u64 = 100;
/// The least a gap must grow over the one before to count as backing off
/// (and by half again): a few milliseconds of jitter are not a backoff.
pub const MIN_GROWTH_MS: u64 = 50;
/// How much earlier than `Retry-After` a retry may come (clock and network).
pub const RETRY_AFTER_TOLERANCE_MS: u64 = 50;
/// How long past `request_timeout_ms` a client may still wait on a stall.
pub const TIMEOUT_SLACK_MS: u64 = 1_000;

/// The finding ids this check returns.
pub const FINDINGS: [&str; 9] = [
    "client.exercised",
    "client.retry_after_ignored",
    "client.retried_non_retryable",
    "client.retry_storm",
    "client.no_backoff",
    "client.gave_up",
    "client.no_read_timeout",
    "client.truncated_stream_accepted",
    "client.malformed_chunk_ignored",
];

struct ClientResilience;

/// The bounds a client is judged against.
#[derive(Debug, Clone, Copy)]
pub struct Bounds {
    /// The plan's `retry_max_attempts`.
    pub max_attempts: u32,
    /// The plan's `request_timeout_ms`.
    pub request_timeout_ms: u64,
}

/// What one rule found: where it applied and where it was broken.
#[derive(Debug, Default)]
struct Seen {
    judged: usize,
    broken: Vec<String>,
}

impl Seen {
    fn finding(self, id: &str, title: &str, bad: Verdict, cover: &str, nothing: &str) -> Finding {
        let f = Finding::pass(id, title).covers([cover]);
        if self.judged == 0 {
            return f.verdict(Verdict::Skip).detail(nothing.to_owned());
        }
        if self.broken.is_empty() {
            return f.detail(format!(
                "{} judged, none broke the rule",
                shipgate_sdk::text::count(self.judged, "request")
            ));
        }
        let shown: Vec<&str> = self.broken.iter().take(4).map(String::as_str).collect();
        let more = self.broken.len().saturating_sub(shown.len());
        let more = if more > 0 {
            format!("; and {more} more")
        } else {
            String::new()
        };
        f.verdict(bad)
            .detail(format!("{}{more}", shown.join("; ")))
            .evidence("requests", self.broken.len())
    }
}

/// `rate-limited, request 0: 3 ms → 429 (retry-after 1000 ms), 7 ms → 429`
fn trail(episode: &Episode, logical: u32, attempts: &[&Exchange]) -> String {
    let steps: Vec<String> = attempts
        .iter()
        .map(|a| {
            let status = a
                .status
                .map_or_else(|| "no answer".to_owned(), |s| s.to_string());
            let ra = a
                .retry_after_ms
                .map(|r| format!(" (retry-after {r} ms)"))
                .unwrap_or_default();
            let aborted = if a.client_aborted {
                " (client gave up)"
            } else {
                ""
            };
            format!("{} ms → {status}{ra}{aborted}", a.started_ms)
        })
        .collect();
    format!(
        "{}, request {logical}: {}",
        episode.scenario,
        steps.join(", ")
    )
}

fn ok(status: Option<u16>) -> bool {
    status.is_some_and(|s| (200..300).contains(&s))
}

/// Judge every episode.
pub fn judge(episodes: &[Episode], b: Bounds) -> Vec<Finding> {
    let requests: usize = episodes.iter().map(|e| e.exchanges.len()).sum();
    let exercised = Finding::check(
        requests > 0,
        "client.exercised",
        "the application made requests through shipgate",
    )
    .covers([item::RETRY_POLICY_BOUNDED]);
    let exercised = if episodes.is_empty() {
        exercised.verdict(Verdict::Skip).detail(
            "no application ran: name it in the plan's [application] command, or after `--`",
        )
    } else if requests == 0 {
        exercised.detail(format!(
            "{} ran and none made a request: does the application read its base URL and key from the variables shipgate sets?",
            shipgate_sdk::text::count(episodes.len(), "episode")
        ))
    } else {
        exercised.detail(format!(
            "{} in {}",
            shipgate_sdk::text::count(requests, "request"),
            shipgate_sdk::text::count(episodes.len(), "episode")
        ))
    };
    let mut after = Seen::default();
    let mut non = Seen::default();
    let mut storm = Seen::default();
    let mut backoff = Seen::default();
    let mut gave_up = Seen::default();
    let mut timeout = Seen::default();
    let mut truncated = Seen::default();
    let mut malformed = Seen::default();
    for e in episodes {
        for r in logical_requests(e) {
            let a = &r.attempts;
            let here = || trail(e, r.index, a);
            // Retry-After honoured.
            let asked: Vec<usize> = (1..a.len())
                .filter(|&i| a[i - 1].retry_after_ms.is_some())
                .collect();
            if a.first().and_then(|x| x.retry_after_ms).is_some() {
                after.judged += 1;
            }
            if let Some(&i) = asked.iter().find(|&&i| {
                let wanted = a[i - 1].retry_after_ms.unwrap_or(0);
                gap_ms(a, i) + RETRY_AFTER_TOLERANCE_MS < wanted
            }) {
                after.broken.push(format!(
                    "{} — retried {} ms after being asked to wait {} ms",
                    here(),
                    gap_ms(a, i),
                    a[i - 1].retry_after_ms.unwrap_or(0)
                ));
            }
            // Non-retryable statuses.
            if a.iter().any(|x| x.status.is_some_and(non_retryable)) {
                non.judged += 1;
                if let Some(i) = (1..a.len()).find(|&i| a[i - 1].status.is_some_and(non_retryable))
                {
                    non.broken.push(format!(
                        "{} — retried after HTTP {}",
                        here(),
                        a[i - 1].status.unwrap_or(0)
                    ));
                }
            }
            // Bounded attempts, spaced.
            if a.len() > 1 || e.clears_at.is_some() {
                storm.judged += 1;
                let close = (1..a.len()).find(|&i| gap_ms(a, i) < MIN_SPACING_MS);
                if a.len() as u32 > b.max_attempts {
                    storm.broken.push(format!(
                        "{} — {} attempts, the plan allows {}",
                        here(),
                        a.len(),
                        b.max_attempts
                    ));
                } else if let Some(i) = close {
                    storm.broken.push(format!(
                        "{} — a retry {} ms after the previous attempt (under {MIN_SPACING_MS} ms)",
                        here(),
                        gap_ms(a, i)
                    ));
                }
            }
            // Growing backoff, where no Retry-After set the pace.
            let free: Vec<u64> = (1..a.len())
                .filter(|&i| a[i - 1].retry_after_ms.is_none())
                .map(|i| gap_ms(a, i))
                .collect();
            if free.len() >= 2 {
                backoff.judged += 1;
                // Growth that means a policy, not jitter: 50 ms and half again.
                let grows = |w: &[u64]| w[1] >= w[0] + MIN_GROWTH_MS.max(w[0] / 2);
                if !free.windows(2).any(grows) {
                    backoff.broken.push(format!(
                        "{} — gaps {} ms never grow",
                        here(),
                        shipgate_sdk::text::list(&free)
                    ));
                }
            }
            // Giving up on what would have cleared.
            if let Some(clears) = e.clears_at {
                gave_up.judged += 1;
                let last_ok = a.last().is_some_and(|x| ok(x.status));
                if !last_ok && (a.len() as u32) < clears && clears <= b.max_attempts {
                    gave_up.broken.push(format!(
                        "{} — stopped after {}; attempt {clears} would have succeeded, within the plan's {}",
                        here(),
                        shipgate_sdk::text::count(a.len(), "attempt"),
                        b.max_attempts
                    ));
                }
            }
            // A read timeout on a stall.
            let limit = b.request_timeout_ms + TIMEOUT_SLACK_MS;
            let stalled: Vec<&&Exchange> = a
                .iter()
                .filter(|x| x.injected.as_deref() == Some("stall"))
                .collect();
            if !stalled.is_empty() {
                timeout.judged += 1;
            }
            // One entry per request: its first stalled attempt waited too long.
            if let Some(x) = stalled
                .iter()
                .find(|x| !x.client_aborted || x.duration_ms > limit)
            {
                let waited = if x.client_aborted {
                    format!("gave up after {} ms", x.duration_ms)
                } else {
                    format!("still waiting when the stall ended at {} ms", x.duration_ms)
                };
                timeout.broken.push(format!(
                    "{} — {waited}; the plan's request_timeout_ms is {}",
                    here(),
                    b.request_timeout_ms
                ));
            }
        }
        // What it did with a spoiled stream: exiting 0 means it took it.
        let spoiled = |names: &[&str]| {
            e.exchanges
                .iter()
                .find(|x| x.injected.as_deref().is_some_and(|i| names.contains(&i)))
        };
        if let Some(x) = spoiled(&["truncated-stream", "dropped-stream"]) {
            truncated.judged += 1;
            if e.exit_code == Some(0) {
                truncated.broken.push(format!(
                    "{}, request {}: the stream was cut ({}) and the application exited 0",
                    e.scenario,
                    x.logical,
                    x.injected.as_deref().unwrap_or("")
                ));
            }
        }
        if let Some(x) = spoiled(&["corrupt-chunk"]) {
            malformed.judged += 1;
            if e.exit_code == Some(0) {
                malformed.broken.push(format!(
                    "{}, request {}: a chunk was not JSON and the application exited 0",
                    e.scenario, x.logical
                ));
            }
        }
    }
    vec![
        exercised,
        after.finding(
            "client.retry_after_ignored",
            "the application waits as long as Retry-After asks",
            Verdict::Fail,
            item::RETRY_POLICY_BOUNDED,
            "no request was answered with Retry-After (the rate-limited scenario does)",
        ),
        non.finding(
            "client.retried_non_retryable",
            "the application does not retry 400, 401, 403, 404 or 422",
            Verdict::Fail,
            item::RETRY_POLICY_BOUNDED,
            "no request was answered with a non-retryable status (the non-retryable and unauthorized scenarios do)",
        ),
        storm.finding(
            "client.retry_storm",
            "the application's retries are bounded and spaced",
            Verdict::Fail,
            item::RETRY_POLICY_BOUNDED,
            "no request was retried or met a transient fault (the rate-limited, outage and reset scenarios do)",
        ),
        backoff.finding(
            "client.no_backoff",
            "the application backs off between retries",
            Verdict::Warn,
            item::RETRY_POLICY_BOUNDED,
            "no request was retried twice without Retry-After",
        ),
        gave_up.finding(
            "client.gave_up",
            "the application retries a transient fault the plan's attempts would clear",
            Verdict::Warn,
            item::RETRY_POLICY_BOUNDED,
            "no transient scenario ran (rate-limited, outage, reset)",
        ),
        timeout.finding(
            "client.no_read_timeout",
            "the application times out a stalled answer",
            Verdict::Warn,
            item::TIMEOUT_POLICY_CONFIGURED,
            "the stall scenario did not run, or the application made no request in it",
        ),
        truncated.finding(
            "client.truncated_stream_accepted",
            "the application does not accept a stream cut short",
            Verdict::Fail,
            item::RETRY_POLICY_BOUNDED,
            "no streamed answer was cut (the truncated-stream and dropped-stream scenarios cut streamed requests; the application made none)",
        ),
        malformed.finding(
            "client.malformed_chunk_ignored",
            "the application notices a chunk that is not JSON",
            Verdict::Warn,
            item::RETRY_POLICY_BOUNDED,
            "no streamed answer carried a bad chunk (the corrupt-chunk scenario spoils streamed requests; the application made none)",
        ),
    ]
}

impl Check for ClientResilience {
    fn describe() -> Descriptor {
        Descriptor::new(
            "client-resilience",
            env!("CARGO_PKG_VERSION"),
            "the application's own retries, backoff, Retry-After and timeouts under injected faults",
        )
        .covers([item::RETRY_POLICY_BOUNDED, item::TIMEOUT_POLICY_CONFIGURED])
        .findings(FINDINGS)
    }

    fn run() -> Result<Vec<Finding>, String> {
        let episodes = traffic::episodes().map_err(|e| format!("{e:?}"))?;
        let l = context::limits();
        Ok(judge(
            &episodes,
            Bounds {
                max_attempts: l.retry_max_attempts,
                request_timeout_ms: u64::from(l.request_timeout_ms),
            },
        ))
    }
}

shipgate_sdk::export_check!(ClientResilience);

#[cfg(test)]
mod tests {
    use super::*;

    fn x(logical: u32, attempt: u32, started: u64, dur: u64, status: Option<u16>) -> Exchange {
        Exchange {
            logical,
            attempt,
            method: "POST".into(),
            path: "/v1/chat/completions".into(),
            headers: vec![],
            body: String::new(),
            status,
            injected: None,
            refused: None,
            retry_after_ms: None,
            started_ms: started,
            duration_ms: dur,
            client_aborted: false,
        }
    }

    fn episode(scenario: &str, clears_at: Option<u32>, exchanges: Vec<Exchange>) -> Episode {
        Episode {
            scenario: scenario.into(),
            clears_at,
            stall_ms: None,
            exit_code: Some(0),
            timed_out: false,
            wall_ms: 0,
            stdout: String::new(),
            stderr: String::new(),
            exchanges,
        }
    }

    const B: Bounds = Bounds {
        max_attempts: 3,
        request_timeout_ms: 2000,
    };

    fn verdict(f: &[Finding], id: &str) -> Verdict {
        f.iter().find(|f| f.id == id).map(|f| f.verdict).unwrap()
    }

    #[test]
    fn a_careful_client_breaks_no_rule() {
        let mut limited = vec![
            x(0, 1, 0, 2, Some(429)),
            x(0, 2, 1010, 2, Some(429)),
            x(0, 3, 2020, 5, Some(200)),
        ];
        limited[0].retry_after_ms = Some(1000);
        limited[1].retry_after_ms = Some(1000);
        let outage = vec![
            x(0, 1, 0, 2, Some(503)),
            x(0, 2, 450, 2, Some(503)),
            x(0, 3, 1400, 5, Some(200)),
        ];
        let mut stall = vec![x(0, 1, 0, 2000, Some(200))];
        stall[0].injected = Some("stall".into());
        stall[0].client_aborted = true;
        let spoiled = |name: &str| {
            let mut e = episode(name, None, vec![x(0, 1, 0, 5, Some(200))]);
            e.exchanges[0].injected = Some(name.into());
            e.exit_code = Some(1);
            e
        };
        let f = judge(
            &[
                episode("rate-limited", Some(3), limited),
                episode("outage", Some(3), outage),
                episode("non-retryable", None, vec![x(0, 1, 0, 2, Some(400))]),
                episode("stall", None, stall),
                spoiled("truncated-stream"),
                spoiled("corrupt-chunk"),
            ],
            B,
        );
        for f in &f {
            assert_eq!(f.verdict, Verdict::Pass, "{f:?}");
        }
    }

    #[test]
    fn a_naive_client_gets_every_named_verdict() {
        let mut limited: Vec<Exchange> = (0..6)
            .map(|i| x(0, i + 1, i as u64 * 3, 1, Some(429)))
            .collect();
        for e in &mut limited {
            e.retry_after_ms = Some(1000);
        }
        let non: Vec<Exchange> = (0..6)
            .map(|i| x(0, i + 1, i as u64 * 3, 1, Some(400)))
            .collect();
        let outage = vec![x(0, 1, 0, 1, Some(503))];
        let mut stall = vec![x(0, 1, 0, 4000, Some(200))];
        stall[0].injected = Some("stall".into());
        let accepted = |name: &str| {
            let mut e = episode(name, None, vec![x(0, 1, 0, 5, Some(200))]);
            e.exchanges[0].injected = Some(name.into());
            e
        };
        let f = judge(
            &[
                episode("rate-limited", Some(3), limited),
                episode("non-retryable", None, non),
                episode("outage", Some(3), outage),
                episode("stall", None, stall),
                accepted("dropped-stream"),
                accepted("corrupt-chunk"),
            ],
            B,
        );
        assert_eq!(
            verdict(&f, "client.truncated_stream_accepted"),
            Verdict::Fail
        );
        assert_eq!(verdict(&f, "client.malformed_chunk_ignored"), Verdict::Warn);
        assert_eq!(verdict(&f, "client.retry_after_ignored"), Verdict::Fail);
        assert_eq!(verdict(&f, "client.retried_non_retryable"), Verdict::Fail);
        assert_eq!(verdict(&f, "client.retry_storm"), Verdict::Fail);
        assert_eq!(verdict(&f, "client.no_backoff"), Verdict::Warn);
        assert_eq!(verdict(&f, "client.gave_up"), Verdict::Warn);
        assert_eq!(verdict(&f, "client.no_read_timeout"), Verdict::Warn);
        let storm = f.iter().find(|f| f.id == "client.retry_storm").unwrap();
        assert!(
            storm.detail.contains("6 attempts, the plan allows 3"),
            "{}",
            storm.detail
        );
        assert!(
            storm
                .detail
                .starts_with("rate-limited, request 0: 0 ms → 429"),
            "{}",
            storm.detail
        );
    }

    #[test]
    fn nothing_to_judge_is_skipped_or_fails_never_passes() {
        let f = judge(&[], B);
        assert!(f.iter().all(|f| f.verdict == Verdict::Skip), "{f:?}");
        let f = judge(&[episode("clean", None, vec![])], B);
        assert_eq!(verdict(&f, "client.exercised"), Verdict::Fail);
    }

    mod whole_check {
        //! The whole check against the SDK's scripted host.
        use super::super::{ClientResilience, FINDINGS};
        use super::{episode, x};
        use shipgate_sdk::Verdict;
        use shipgate_sdk::context::Limits;
        use shipgate_sdk::testing::Harness;
        use shipgate_sdk::traffic::{Episode, Exchange};

        /// A 429 answer asking for `ms` of patience.
        fn limited(attempt: u32, started: u64, ms: u64) -> Exchange {
            let mut e = x(0, attempt, started, 2, Some(429));
            e.retry_after_ms = Some(ms);
            e
        }

        fn careful() -> Vec<Episode> {
            let mut stall = x(0, 1, 0, 2_000, Some(200));
            stall.injected = Some("stall".into());
            stall.client_aborted = true;
            let mut cut = episode("truncated-stream", None, vec![x(0, 1, 0, 5, Some(200))]);
            cut.exchanges[0].injected = Some("truncated-stream".into());
            cut.exit_code = Some(1);
            let mut corrupt = episode("corrupt-chunk", None, vec![x(0, 1, 0, 5, Some(200))]);
            corrupt.exchanges[0].injected = Some("corrupt-chunk".into());
            corrupt.exit_code = Some(2);
            vec![
                episode(
                    "rate-limited",
                    Some(2),
                    vec![limited(1, 0, 1_000), x(0, 2, 1_010, 5, Some(200))],
                ),
                episode(
                    "outage",
                    Some(3),
                    vec![
                        x(0, 1, 0, 2, Some(503)),
                        x(0, 2, 402, 2, Some(503)),
                        x(0, 3, 1_204, 5, Some(200)),
                    ],
                ),
                episode("unauthorized", None, vec![x(0, 1, 0, 2, Some(401))]),
                episode("stall", None, vec![stall]),
                cut,
                corrupt,
            ]
        }

        fn plan(max_attempts: u32, timeout_ms: u32) -> Limits {
            Limits {
                latency_ms: 2_000,
                latency_hard_ms: 10_000,
                input_limit_bytes: 32 * 1024,
                output_token_ceiling: 64,
                request_timeout_ms: timeout_ms,
                retry_max_attempts: max_attempts,
                retry_budget_ms: 20_000,
            }
        }

        #[test]
        fn a_careful_client_passes_every_rule() {
            let out = Harness::new()
                .limits(plan(3, 2_000))
                .episodes(careful())
                .run::<ClientResilience>();
            assert!(out.requests.is_empty(), "the check sends nothing itself");
            for id in FINDINGS {
                assert_eq!(
                    out.verdict(id),
                    Verdict::Pass,
                    "{id}: {:?}",
                    out.finding(id)
                );
            }
        }

        #[test]
        fn a_stall_in_which_no_request_was_made_proves_no_timeout() {
            let mut hung = episode("stall", None, Vec::new());
            hung.timed_out = true;
            let out = Harness::new()
                .limits(plan(3, 2_000))
                .episodes(vec![hung])
                .run::<ClientResilience>();
            assert_eq!(out.verdict("client.no_read_timeout"), Verdict::Skip);
        }

        #[test]
        fn a_retry_after_that_is_ignored_fails() {
            let mut eps = careful();
            eps[0].exchanges = vec![limited(1, 0, 1_000), x(0, 2, 200, 5, Some(200))];
            let out = Harness::new()
                .limits(plan(3, 2_000))
                .episodes(eps)
                .run::<ClientResilience>();
            assert_eq!(out.verdict("client.retry_after_ignored"), Verdict::Fail);
            assert_eq!(
                out.finding("client.retry_after_ignored").detail,
                "rate-limited, request 0: 0 ms → 429 (retry-after 1000 ms), 200 ms → 200 — retried 198 ms after being asked to wait 1000 ms"
            );
            assert_eq!(out.verdict("client.retry_storm"), Verdict::Pass);
        }

        #[test]
        fn the_plans_attempts_bound_a_retry_storm() {
            let mut eps = careful();
            eps[1].exchanges.insert(2, x(0, 3, 1_000, 2, Some(503)));
            eps[1].exchanges[3].attempt = 4;
            eps[1].exchanges[3].started_ms = 2_500;
            let storm = |max| {
                Harness::new()
                    .limits(plan(max, 2_000))
                    .episodes(eps.clone())
                    .run::<ClientResilience>()
                    .verdict("client.retry_storm")
            };
            assert_eq!(storm(3), Verdict::Fail);
            assert_eq!(storm(4), Verdict::Pass);
        }

        #[test]
        fn a_retried_401_and_a_stall_waited_out_are_flagged() {
            let mut eps = careful();
            eps[2].exchanges = vec![x(0, 1, 0, 2, Some(401)), x(0, 2, 500, 2, Some(401))];
            eps[3].exchanges[0].client_aborted = false;
            eps[3].exchanges[0].duration_ms = 3_000;
            let out = Harness::new()
                .limits(plan(3, 2_000))
                .episodes(eps)
                .run::<ClientResilience>();
            assert_eq!(out.verdict("client.retried_non_retryable"), Verdict::Fail);
            assert_eq!(out.verdict("client.no_read_timeout"), Verdict::Warn);
            assert!(
                out.finding("client.no_read_timeout")
                    .detail
                    .ends_with("still waiting when the stall ended at 3000 ms; the plan's request_timeout_ms is 2000"),
                "{:?}",
                out.finding("client.no_read_timeout")
            );
        }

        #[test]
        fn a_cut_stream_accepted_with_exit_zero_fails() {
            let mut eps = careful();
            eps[4].exit_code = Some(0);
            let out = Harness::new()
                .limits(plan(3, 2_000))
                .episodes(eps)
                .run::<ClientResilience>();
            assert_eq!(
                out.verdict("client.truncated_stream_accepted"),
                Verdict::Fail
            );
            assert_eq!(out.verdict("client.malformed_chunk_ignored"), Verdict::Pass);
        }

        #[test]
        fn without_the_traffic_grant_the_check_errors() {
            let out = Harness::new().run::<ClientResilience>();
            assert!(out.findings.is_empty());
            assert!(
                out.error.as_deref().is_some_and(|e| e.contains("Denied")),
                "{:?}",
                out.error
            );
        }

        /// Findings no provider, contract, plan or application can make fail: (id, why).
        const CANNOT_FAIL: &[(&str, &str)] = &[
            (
                "client.no_backoff",
                "Warn by design (the module's verdict table): retries whose gaps never grow",
            ),
            (
                "client.gave_up",
                "Warn by design (the module's verdict table): stopping before a transient fault clears",
            ),
            (
                "client.no_read_timeout",
                "Warn by design (the module's verdict table): waiting on a stall past the timeout",
            ),
            (
                "client.malformed_chunk_ignored",
                "Warn by design (the module's verdict table): exiting 0 after a chunk that is not JSON",
            ),
        ];

        /// Every finding can fail, and a test shows it failing.
        #[test]
        fn every_declared_finding_can_fail() {
            // The careful client's episodes, edited.
            let edited = |edit: &dyn Fn(&mut Vec<Episode>)| {
                let mut eps = careful();
                edit(&mut eps);
                Harness::new().limits(plan(3, 2_000)).episodes(eps)
            };
            let cases: Vec<(&str, Harness)> = vec![
                (
                    "client.exercised",
                    Harness::new().episodes(vec![episode("clean", None, Vec::new())]),
                ),
                (
                    "client.retry_after_ignored",
                    edited(&|eps| {
                        eps[0].exchanges = vec![limited(1, 0, 1_000), x(0, 2, 200, 5, Some(200))]
                    }),
                ),
                (
                    "client.retried_non_retryable",
                    edited(&|eps| {
                        eps[2].exchanges =
                            vec![x(0, 1, 0, 2, Some(401)), x(0, 2, 500, 2, Some(401))]
                    }),
                ),
                (
                    "client.retry_storm",
                    edited(&|eps| eps[1].exchanges.push(x(0, 4, 3_000, 5, Some(200)))),
                ),
                (
                    "client.truncated_stream_accepted",
                    edited(&|eps| eps[4].exit_code = Some(0)),
                ),
            ];
            // Warn by design: each such CANNOT_FAIL entry shown at its worst.
            let warns: Vec<(&str, Harness)> = vec![
                (
                    "client.no_backoff",
                    edited(&|eps| {
                        eps[1].exchanges = vec![
                            x(0, 1, 0, 2, Some(503)),
                            x(0, 2, 402, 2, Some(503)),
                            x(0, 3, 804, 5, Some(200)),
                        ]
                    }),
                ),
                (
                    "client.gave_up",
                    edited(&|eps| eps[1].exchanges.truncate(1)),
                ),
                (
                    "client.no_read_timeout",
                    edited(&|eps| {
                        eps[3].exchanges[0].client_aborted = false;
                        eps[3].exchanges[0].duration_ms = 3_000;
                    }),
                ),
                (
                    "client.malformed_chunk_ignored",
                    edited(&|eps| eps[5].exit_code = Some(0)),
                ),
            ];
            shipgate_sdk::testing::assert_every_finding_can_fail::<ClientResilience>(
                &cases,
                &warns,
                CANNOT_FAIL,
            );
        }
    }
}
