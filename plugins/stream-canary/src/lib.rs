//! The canary over a stream (`"stream": true`): the answer arrives as
//! server-sent `chat.completion.chunk` events ending with the contract's
//! terminator (`data: [DONE]`). Streams fail in ways no status shows: a
//! connection dropped mid-answer, an end without a finish reason or without
//! the terminator, a chunk that is not JSON, a stall, a slow first token.
//!
//! A stream is judged complete only when the host read it to a clean end, the
//! terminator arrived, exactly one finish reason arrived and no error event
//! did: a truncated stream is never complete. The content's exact wording is
//! information, as for the canary. Without a `[streaming]` section in the
//! contract the integration does not stream, and every finding says so
//! (skipped: not applicable).
#![forbid(unsafe_code)]

use shipgate_sdk::chat::ChatRequest;
use shipgate_sdk::checklist as item;
use shipgate_sdk::http::{HttpError, Request, StreamResponse};
use shipgate_sdk::serde_json::{Value, json};
use shipgate_sdk::stream::{Accumulated, accumulate};
use shipgate_sdk::{Check, Descriptor, Finding, SettingKind, Verdict, context};

/// The finding ids this check returns.
pub const FINDINGS: [&str; 9] = [
    "stream.status",
    "stream.complete",
    "stream.well-formed",
    "stream.content",
    "stream.usage",
    "stream.first-chunk",
    "stream.duration",
    "stream.host-cuts-stalls",
    "stream.host-reports-cuts",
];

/// How long the fault mode's stall lasts, and the read timeout it uses, ms.
const FAULT_STALL_MS: u32 = 2_000;
const FAULT_READ_TIMEOUT_MS: u32 = 300;

/// The fault mode (`settings = { faults = true }`, against the built-in mock
/// or a fault-injecting proxy the plan grants): whether the host's own
/// stream handling is safe. A stall must be cut at the read timeout, and a
/// dropped, unterminated or finish-less stream must never read as complete.
/// These findings tick no checklist item (they are about shipgate's client).
fn fault_mode(body: &Value) -> Vec<Finding> {
    let target = context::target();
    let send = |fault: &str, read_timeout: u32| {
        Request::post(&target.chat_path)
            .json(body)
            .operation("stream-canary-fault")
            .fault(fault)
            .send_stream(Some(read_timeout))
    };
    let stall_title = "the host cuts a stalled stream at its read timeout";
    let stall = match send(
        &format!("stream-stall:{FAULT_STALL_MS}"),
        FAULT_READ_TIMEOUT_MS,
    ) {
        Err(HttpError::Denied(why)) => {
            return vec![
                Finding::skip("stream.host-cuts-stalls", stall_title)
                    .detail(format!("faults are not available here: {why}")),
                Finding::skip(
                    "stream.host-reports-cuts",
                    "the host reports a cut stream as cut",
                )
                .detail("faults are not available here"),
            ];
        }
        Err(e) => {
            Finding::fail("stream.host-cuts-stalls", stall_title).detail(format!("no answer: {e}"))
        }
        Ok(r) => {
            let cut = r
                .interrupted
                .as_deref()
                .is_some_and(|i| i.contains("read timeout"));
            Finding::check(
                cut && r.latency_ms < FAULT_STALL_MS,
                "stream.host-cuts-stalls",
                stall_title,
            )
            .detail(format!(
                "a {FAULT_STALL_MS} ms stall with a {FAULT_READ_TIMEOUT_MS} ms read timeout: ended after {} ms ({})",
                r.latency_ms,
                r.interrupted.as_deref().unwrap_or("not cut")
            ))
        }
    };
    let mut wrong = Vec::new();
    for fault in [
        "stream-drop",
        "stream-no-done",
        "stream-no-finish",
        "stream-error",
    ] {
        match send(fault, 5_000) {
            Ok(r) => {
                let a = accumulate(&r.events);
                let complete = r.interrupted.is_none()
                    && a.done
                    && a.finish_reasons.len() == 1
                    && a.errors.is_empty();
                if complete {
                    wrong.push(format!("{fault} read as complete"));
                }
            }
            Err(e) => wrong.push(format!("{fault}: no answer: {e}")),
        }
    }
    let cuts = Finding::check(
        wrong.is_empty(),
        "stream.host-reports-cuts",
        "the host reports a cut stream as cut",
    )
    .detail(if wrong.is_empty() {
        "a dropped connection, a missing [DONE], a missing finish reason and an error event each read as incomplete".to_owned()
    } else {
        wrong.join("; ")
    });
    vec![stall, cuts]
}

/// What the contract's `[streaming]` section and the plan expect.
#[derive(Debug, Clone)]
pub struct Expect {
    /// The terminator's data (`[DONE]`).
    pub terminator: String,
    /// The chunk object name (`chat.completion.chunk`).
    pub chunk_object: String,
    /// Whether `stream_options.include_usage` is documented (then usage is asked for and required).
    pub include_usage: bool,
    /// Time to the first content the plan accepts, ms (over it: warning).
    pub first_chunk_ms: u32,
    /// The plan's latency warning and hard limit, ms.
    pub latency_ms: u32,
    /// The plan's hard latency limit, ms.
    pub latency_hard_ms: u32,
}

/// Judge one streamed answer.
pub fn judge(r: &StreamResponse, e: &Expect) -> Vec<Finding> {
    let a: Accumulated = accumulate(&r.events);
    let sse = r.headers.iter().any(|(k, v)| {
        k.eq_ignore_ascii_case("content-type")
            && v.to_ascii_lowercase().contains("text/event-stream")
    });
    let ok_status = (200..300).contains(&r.status);
    let status = Finding::check(
        ok_status && sse,
        "stream.status",
        "the stream is answered with a success status as server-sent events",
    )
    .detail(format!(
        "HTTP {}{}",
        r.status,
        if sse {
            ", text/event-stream"
        } else {
            ", not an event stream"
        }
    ))
    .covers([item::RESPONSE_PARSER_TESTED]);
    // Complete: read to a clean end, terminator, one finish reason, no error.
    let mut why: Vec<String> = Vec::new();
    if let Some(i) = &r.interrupted {
        why.push(format!("it was cut after {} events: {i}", r.events.len()));
    }
    let done = a.done || r.events.iter().any(|x| x.data.trim() == e.terminator);
    if !done {
        why.push(format!("no `{}` terminator", e.terminator));
    }
    match a.finish_reasons.len() {
        1 => {}
        0 => why.push("no finish reason".into()),
        n => why.push(format!("{n} finish reasons")),
    }
    if let Some(err) = a.errors.first() {
        why.push(format!("an error event: {err}"));
    }
    let complete = Finding::check(
        why.is_empty() && ok_status,
        "stream.complete",
        "the stream is complete: read to its end, terminator, one finish reason",
    )
    .detail(if why.is_empty() {
        format!(
            "{} events, finish_reason {:?}, `{}`",
            r.events.len(),
            a.finish_reasons.first().map_or("", |f| f.1.as_str()),
            e.terminator
        )
    } else {
        why.join("; ")
    })
    .evidence("events", r.events.len())
    .covers([item::RESPONSE_PARSER_TESTED]);
    // Well-formed chunks.
    let mut bad: Vec<String> = Vec::new();
    if !a.malformed.is_empty() {
        bad.push(format!(
            "{} not JSON (event {})",
            shipgate_sdk::text::count(a.malformed.len(), "chunk"),
            shipgate_sdk::text::list(&a.malformed)
        ));
    }
    if !a.same_id {
        bad.push("the chunks do not share one id".into());
    }
    if a.objects.iter().any(|o| *o != e.chunk_object) {
        bad.push(format!(
            "object {}, the contract says {:?}",
            shipgate_sdk::text::list(&a.objects),
            e.chunk_object
        ));
    }
    if a.after_done > 0 {
        bad.push(format!(
            "{} after the terminator",
            shipgate_sdk::text::count(a.after_done, "event")
        ));
    }
    let well_formed = Finding::check(
        bad.is_empty() && a.chunks > 0,
        "stream.well-formed",
        "every chunk is a JSON chat.completion.chunk with one id",
    )
    .detail(if bad.is_empty() {
        format!("{} chunks", a.chunks)
    } else {
        bad.join("; ")
    })
    .covers([item::RESPONSE_PARSER_TESTED]);
    let content = Finding::check(
        !a.text().is_empty(),
        "stream.content",
        "the concatenated content is not empty",
    )
    .detail(format!(
        "{} characters (the wording is information)",
        a.text().chars().count()
    ));
    let usage = if e.include_usage {
        Finding::check(
            a.usage.is_some(),
            "stream.usage",
            "usage arrives in the stream when asked for",
        )
        .detail(if a.usage.is_some() {
            "a chunk with usage and no choices".to_owned()
        } else {
            "stream_options.include_usage was sent and no chunk carried usage".to_owned()
        })
        .covers([item::USAGE_FIELDS_VERIFIED])
    } else {
        Finding::skip("stream.usage", "usage arrives in the stream when asked for")
            .detail("the contract does not document stream_options.include_usage")
    };
    let first = a.first_content_ms.or(r.first_byte_ms);
    let first_chunk = match first {
        Some(ms) => Finding::check(
            ms <= e.first_chunk_ms,
            "stream.first-chunk",
            "the first content arrives within the plan's time",
        )
        .verdict(if ms <= e.first_chunk_ms {
            Verdict::Pass
        } else {
            Verdict::Warn
        })
        .detail(format!(
            "{ms} ms (the plan's stream_first_chunk_ms: {})",
            e.first_chunk_ms
        ))
        .metric("first_chunk_ms", f64::from(ms), "ms"),
        None => Finding::fail(
            "stream.first-chunk",
            "the first content arrives within the plan's time",
        )
        .detail("no content arrived"),
    };
    let total = r.latency_ms;
    let duration = Finding::pass(
        "stream.duration",
        "the whole stream ends within the plan's latency",
    )
    .verdict(if total > e.latency_hard_ms {
        Verdict::Fail
    } else if total > e.latency_ms {
        Verdict::Warn
    } else {
        Verdict::Pass
    })
    .detail(format!(
        "{total} ms (limit {} ms, hard limit {} ms)",
        e.latency_ms, e.latency_hard_ms
    ))
    .metric("stream_ms", f64::from(total), "ms");
    vec![
        status,
        complete,
        well_formed,
        content,
        usage,
        first_chunk,
        duration,
    ]
}

/// Every finding skipped, saying why.
fn not_applicable(why: &str) -> Vec<Finding> {
    // (the fault mode too: without [streaming] nothing streams)
    FINDINGS
        .iter()
        .map(|id| Finding::skip(*id, "the stream canary").detail(why.to_owned()))
        .collect()
}

struct StreamCanary;

impl Check for StreamCanary {
    fn describe() -> Descriptor {
        Descriptor::new(
            "stream-canary",
            env!("CARGO_PKG_VERSION"),
            "the canary over a stream: complete, well-formed, usage, time to first chunk",
        )
        .needs_canary()
        .covers([item::RESPONSE_PARSER_TESTED, item::USAGE_FIELDS_VERIFIED])
        .findings(FINDINGS)
        .setting(
            "faults",
            SettingKind::Boolean,
            Some("false"),
            "also check the host's own stream handling against injected faults (the built-in mock, or grants.faults)",
        )
        .setting(
            "read_timeout_ms",
            SettingKind::Integer,
            Some("10000"),
            "the longest gap between chunks before the stream counts as stalled",
        )
    }

    fn run() -> Result<Vec<Finding>, String> {
        let contract = context::contract();
        let s = &contract["streaming"];
        if !s.is_object() {
            return Ok(not_applicable(
                "not applicable: the contract has no [streaming] section (the integration does not stream)",
            ));
        }
        let target = context::target();
        let limits = context::limits();
        let e = Expect {
            terminator: s["terminator"].as_str().unwrap_or("[DONE]").to_owned(),
            chunk_object: s["chunk_object"]
                .as_str()
                .unwrap_or("chat.completion.chunk")
                .to_owned(),
            include_usage: s["include_usage"].as_bool().unwrap_or(false),
            first_chunk_ms: context::stream_first_chunk_ms(),
            latency_ms: limits.latency_ms,
            latency_hard_ms: limits.latency_hard_ms,
        };
        let mut body: Value = ChatRequest::new(&target.model)
            .user("Reply with the word READY and nothing else.")
            .max_tokens(limits.output_token_ceiling)
            .to_json();
        body["stream"] = json!(true);
        if e.include_usage {
            body["stream_options"] = json!({"include_usage": true});
        }
        let read_timeout: u32 = context::setting_or("read_timeout_ms", 10_000u32)?;
        let sent = Request::post(&target.chat_path)
            .json(&body)
            .operation("stream-canary")
            .send_stream(Some(read_timeout));
        let faults: bool = context::setting_or("faults", false)?;
        let extra = if faults {
            fault_mode(&body)
        } else {
            ["stream.host-cuts-stalls", "stream.host-reports-cuts"]
                .iter()
                .map(|id| {
                    Finding::skip(*id, "the host's own stream handling")
                        .detail("the fault mode is off (settings = { faults = true })")
                })
                .collect()
        };
        match sent {
            Ok(r) => Ok(judge(&r, &e).into_iter().chain(extra).collect()),
            Err(err @ (HttpError::Denied(_) | HttpError::Rejected(_))) => Err(err.to_string()),
            Err(err) => Ok(vec![
                Finding::fail(
                    "stream.status",
                    "the stream is answered with a success status as server-sent events",
                )
                .detail(format!("no answer: {err}"))
                .covers([item::RESPONSE_PARSER_TESTED]),
            ]),
        }
    }
}

shipgate_sdk::export_check!(StreamCanary);

#[cfg(test)]
mod tests {
    mod whole_check {
        //! The whole check against the SDK's scripted host.
        use super::super::{FINDINGS, StreamCanary};
        use shipgate_sdk::Verdict;
        use shipgate_sdk::serde_json::{Value, json};
        use shipgate_sdk::testing::{Harness, Reply};

        /// One `chat.completion.chunk` with this delta and finish reason.
        fn chunk(delta: Value, finish: Value) -> String {
            json!({"id": "chatcmpl-1", "object": "chat.completion.chunk", "model": "mock-gpt",
                   "choices": [{"index": 0, "delta": delta, "finish_reason": finish}]})
            .to_string()
        }

        fn content(text: &str) -> String {
            chunk(json!({"content": text}), Value::Null)
        }

        fn stop() -> String {
            chunk(json!({}), json!("stop"))
        }

        /// The host's wording when it cuts a stalled stream.
        const CUT: &str = "no data for 300 ms (the read timeout)";

        /// Honest answers to the fault mode's five faults, in order.
        fn honest_faults() -> Vec<Reply> {
            vec![
                // stream-stall, cut by the host at its read timeout
                Reply::sse([content("RE")]).interrupted(CUT),
                // stream-drop
                Reply::sse([content("RE")]).interrupted("connection reset"),
                // stream-no-done
                Reply::sse([content("READY"), stop()]),
                // stream-no-finish
                Reply::sse([content("READY"), "[DONE]".to_owned()]),
                // stream-error
                Reply::sse([
                    content("RE"),
                    json!({"error": {"message": "overloaded"}}).to_string(),
                    "[DONE]".to_owned(),
                ]),
            ]
        }

        #[test]
        fn a_clean_stream_passes_every_criterion() {
            let out = Harness::new()
                .reply(Reply::chat_stream(&["RE", "ADY"]))
                .run::<StreamCanary>();
            for id in &FINDINGS[..7] {
                assert_eq!(
                    out.verdict(id),
                    Verdict::Pass,
                    "{id}: {:?}",
                    out.finding(id)
                );
            }
            assert_eq!(out.verdict("stream.host-cuts-stalls"), Verdict::Skip);
            let sent = out.requests[0].json();
            assert_eq!(sent["stream"], json!(true));
            assert_eq!(sent["stream_options"]["include_usage"], json!(true));
            assert!(out.requests[0].stream);
        }

        #[test]
        fn a_dropped_stream_is_not_complete() {
            let out = Harness::new()
                .reply(
                    Reply::sse([
                        chunk(json!({"role": "assistant"}), Value::Null),
                        content("RE"),
                    ])
                    .interrupted("connection reset"),
                )
                .run::<StreamCanary>();
            assert_eq!(out.verdict("stream.complete"), Verdict::Fail);
            let detail = &out.finding("stream.complete").detail;
            assert!(detail.contains("connection reset"), "{detail}");
            assert!(detail.contains("no `[DONE]` terminator"), "{detail}");
            assert_eq!(out.verdict("stream.usage"), Verdict::Fail);
            assert_eq!(out.verdict("stream.content"), Verdict::Pass);
        }

        #[test]
        fn two_finish_reasons_and_a_non_json_chunk_are_caught() {
            let out = Harness::new()
                .reply(Reply::sse([
                    content("READY"),
                    "not json".to_owned(),
                    stop(),
                    stop(),
                    "[DONE]".to_owned(),
                ]))
                .run::<StreamCanary>();
            assert_eq!(out.verdict("stream.complete"), Verdict::Fail);
            assert_eq!(out.finding("stream.complete").detail, "2 finish reasons");
            assert_eq!(out.verdict("stream.well-formed"), Verdict::Fail);
            assert!(
                out.finding("stream.well-formed")
                    .detail
                    .starts_with("1 chunk not JSON (event 1)"),
                "{:?}",
                out.finding("stream.well-formed")
            );
        }

        #[test]
        fn a_slow_first_chunk_warns_and_a_json_body_is_not_a_stream() {
            let out = Harness::new()
                .reply(Reply::chat_stream(&["READY"]).delay_ms(3_000))
                .run::<StreamCanary>();
            assert_eq!(out.verdict("stream.first-chunk"), Verdict::Warn);
            assert_eq!(out.verdict("stream.duration"), Verdict::Warn);
            assert_eq!(out.verdict("stream.complete"), Verdict::Pass);

            let out = Harness::new()
                .reply(Reply::chat("READY"))
                .run::<StreamCanary>();
            assert_eq!(out.verdict("stream.status"), Verdict::Fail);
            assert_eq!(out.verdict("stream.complete"), Verdict::Fail);
        }

        #[test]
        fn without_a_streaming_section_everything_is_skipped() {
            let out = Harness::new()
                .contract_value("/streaming", Value::Null)
                .run::<StreamCanary>();
            assert!(out.requests.is_empty());
            for id in FINDINGS {
                assert_eq!(out.verdict(id), Verdict::Skip, "{id}");
            }
        }

        #[test]
        fn fault_mode_passes_when_the_host_reports_every_cut() {
            let out = honest_faults()
                .into_iter()
                .fold(
                    Harness::new().reply(Reply::chat_stream(&["READY"])),
                    Harness::reply,
                )
                .setting("faults", "true")
                .run::<StreamCanary>();
            assert_eq!(out.verdict("stream.host-cuts-stalls"), Verdict::Pass);
            assert_eq!(out.verdict("stream.host-reports-cuts"), Verdict::Pass);
            let faults: Vec<_> = out.requests[1..]
                .iter()
                .map(|r| r.fault.clone().unwrap_or_default())
                .collect();
            assert_eq!(
                faults,
                [
                    "stream-stall:2000",
                    "stream-drop",
                    "stream-no-done",
                    "stream-no-finish",
                    "stream-error"
                ]
            );
        }

        #[test]
        fn a_stall_the_host_does_not_cut_fails_fault_mode() {
            let mut faults = honest_faults();
            faults[0] = Reply::chat_stream(&["READY"]).delay_ms(100);
            let out = faults
                .into_iter()
                .fold(
                    Harness::new().reply(Reply::chat_stream(&["READY"])),
                    Harness::reply,
                )
                .setting("faults", "true")
                .run::<StreamCanary>();
            assert_eq!(out.verdict("stream.host-cuts-stalls"), Verdict::Fail);
            assert_eq!(out.verdict("stream.host-reports-cuts"), Verdict::Pass);
        }

        #[test]
        fn a_drop_read_as_complete_fails_fault_mode() {
            let mut faults = honest_faults();
            faults[1] = Reply::chat_stream(&["READY"]);
            let out = faults
                .into_iter()
                .fold(
                    Harness::new().reply(Reply::chat_stream(&["READY"])),
                    Harness::reply,
                )
                .setting("faults", "true")
                .run::<StreamCanary>();
            assert_eq!(out.verdict("stream.host-reports-cuts"), Verdict::Fail);
            assert_eq!(
                out.finding("stream.host-reports-cuts").detail,
                "stream-drop read as complete"
            );
        }

        /// Findings no provider, contract, plan or application can make fail: (id, why).
        const CANNOT_FAIL: &[(&str, &str)] = &[];

        /// Every finding can fail, and a test shows it failing.
        #[test]
        fn every_declared_finding_can_fail() {
            let stream = |r: Reply| Harness::new().reply(r);
            // A fault target that answers fault `i` with `r` (its stall is
            // not a stall, its dropped stream is whole).
            let faulted = |i: usize, r: Reply| {
                let mut faults = honest_faults();
                faults[i] = r;
                faults
                    .into_iter()
                    .fold(stream(Reply::chat_stream(&["READY"])), Harness::reply)
                    .setting("faults", "true")
            };
            let cases: Vec<(&str, Harness)> = vec![
                ("stream.status", stream(Reply::chat("READY"))),
                (
                    "stream.complete",
                    stream(Reply::sse([content("RE")]).interrupted("connection reset")),
                ),
                (
                    "stream.well-formed",
                    stream(Reply::sse([
                        content("READY"),
                        "not json".to_owned(),
                        stop(),
                        "[DONE]".to_owned(),
                    ])),
                ),
                ("stream.content", stream(Reply::chat_stream(&[]))),
                (
                    "stream.usage",
                    stream(Reply::sse([content("READY"), stop(), "[DONE]".to_owned()])),
                ),
                // Nothing within the read timeout (10 s): no first chunk at all.
                (
                    "stream.first-chunk",
                    stream(Reply::chat_stream(&["READY"]).delay_ms(10_001)),
                ),
                // Five events 5 s apart: past the plan's 10 s hard limit.
                (
                    "stream.duration",
                    stream(Reply::chat_stream(&["RE", "ADY"]).event_gap_ms(5_000)),
                ),
                (
                    "stream.host-cuts-stalls",
                    faulted(0, Reply::chat_stream(&["READY"]).delay_ms(100)),
                ),
                (
                    "stream.host-reports-cuts",
                    faulted(1, Reply::chat_stream(&["READY"])),
                ),
            ];
            shipgate_sdk::testing::assert_every_finding_can_fail::<StreamCanary>(
                &cases,
                &[],
                CANNOT_FAIL,
            );
        }
    }
}
