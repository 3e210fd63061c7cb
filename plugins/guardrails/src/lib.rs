//! The guide's step 5: token and cost guardrails.
//!
//! The output ceiling (the field the contract says the API supports, such as
//! `max_tokens` or `max_completion_tokens`) is sent and honoured by the
//! provider; usage fields (named as the contract says) are present, numeric
//! and consistent only when the contract documents them, and their absence is
//! reported, not guessed. (That a prompt over the input limit never leaves
//! the machine is the application's limit: it is judged from the
//! application's own traffic, not here.)
//!
//! Settings: `ceiling_probe_tokens` (default 1).
#![forbid(unsafe_code)]

use shipgate_sdk::chat::{ChatRequest, ChatResponse};
use shipgate_sdk::checklist as item;
use shipgate_sdk::serde_json::json;
use shipgate_sdk::{Check, Descriptor, Finding, context};

struct Guardrails;

/// The usage field names the contract documents.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UsageNames {
    /// Input tokens (`prompt_tokens`).
    pub input: String,
    /// Output tokens (`completion_tokens`).
    pub output: String,
    /// Total (`total_tokens`).
    pub total: String,
}

impl Default for UsageNames {
    fn default() -> Self {
        UsageNames {
            input: "prompt_tokens".into(),
            output: "completion_tokens".into(),
            total: "total_tokens".into(),
        }
    }
}

/// Judge `usage` of a successful response. Pure, tested natively.
///
/// The total must cover input and output; a total above their sum (gateways
/// that add reasoning or cached tokens) is consistent, and the difference is
/// information.
pub fn judge_usage(
    usage: Option<&shipgate_sdk::serde_json::Value>,
    documented: bool,
    names: &UsageNames,
) -> Finding {
    let title = "usage fields are present, numeric and consistent";
    let f = Finding::pass("guardrails.usage", title).covers([item::USAGE_FIELDS_VERIFIED]);
    if !documented {
        return f.verdict(shipgate_sdk::Verdict::Skip).detail(format!(
            "the contract does not document usage; not relied on ({} in the response)",
            if usage.is_some() { "present" } else { "absent" }
        ));
    }
    let Some(u) = usage.and_then(|u| u.as_object()) else {
        return f
            .verdict(shipgate_sdk::Verdict::Fail)
            .detail("the contract documents usage, but the response has no usage object");
    };
    let n = |k: &str| u.get(k).and_then(|v| v.as_u64());
    // In u128: two u64 counts cannot overflow their sum.
    let n = |k: &str| n(k).map(u128::from);
    match (n(&names.input), n(&names.output), n(&names.total)) {
        (Some(p), Some(c), Some(t)) if t >= p + c => {
            let f = f
                .detail(format!(
                    "{} {p} + {} {c} <= {} {t}",
                    names.input, names.output, names.total
                ))
                .metric("total_tokens", t as f64, "tokens");
            if t > p + c {
                f.evidence("other_tokens", t - p - c)
            } else {
                f
            }
        }
        (Some(p), Some(c), Some(t)) => f.verdict(shipgate_sdk::Verdict::Fail).detail(format!(
            "inconsistent: {} {p} + {} {c} is more than {} {t}",
            names.input, names.output, names.total
        )),
        _ => f.verdict(shipgate_sdk::Verdict::Fail).detail(format!(
            "missing or non-numeric usage fields (the contract names {}, {}, {}): {}",
            names.input,
            names.output,
            names.total,
            shipgate_sdk::serde_json::Value::Object(u.clone())
        )),
    }
}

/// Judge whether the output ceiling was honoured. Pure, tested natively.
pub fn judge_ceiling(
    ceiling: u64,
    completion_tokens: Option<u64>,
    finish_reason: Option<&str>,
    content_words: usize,
) -> Finding {
    let title = "the output ceiling is sent and honoured";
    let f = Finding::pass("guardrails.output-ceiling", title)
        .evidence("ceiling", ceiling)
        .covers([item::TOKEN_LIMITS_CONFIGURABLE]);
    match (completion_tokens, finish_reason) {
        (Some(c), _) if c > ceiling => f.verdict(shipgate_sdk::Verdict::Fail).detail(format!("{c} completion tokens over a ceiling of {ceiling}: the provider ignored it")),
        (Some(c), Some("length")) => f.detail(format!("{c} completion tokens, finish_reason \"length\"")),
        (Some(c), Some(other)) if c < ceiling => f.verdict(shipgate_sdk::Verdict::Skip).detail(format!("the answer fit in {c} tokens (finish_reason {other:?}); use a lower ceiling_probe_tokens")),
        (Some(c), other) => f.verdict(shipgate_sdk::Verdict::Warn).detail(format!("{c} tokens at the ceiling but finish_reason is {}, not \"length\"", shipgate_sdk::text::shown(other))),
        (None, Some("length")) => f.detail("finish_reason \"length\" (no usage to count tokens)"),
        (None, other) if content_words as u64 > ceiling * 4 => f.verdict(shipgate_sdk::Verdict::Fail).detail(format!("{content_words} words back with finish_reason {}: the ceiling looks ignored", shipgate_sdk::text::shown(other))),
        (None, other) => f.verdict(shipgate_sdk::Verdict::Warn).detail(format!("no usage and finish_reason {}: cannot tell whether the ceiling was honoured", shipgate_sdk::text::shown(other))),
    }
}

impl Check for Guardrails {
    fn describe() -> Descriptor {
        Descriptor::new(
            "guardrails",
            env!("CARGO_PKG_VERSION"),
            "input limit before dispatch, output ceiling honoured, usage consistent",
        )
        .needs_canary()
        .covers([item::USAGE_FIELDS_VERIFIED, item::TOKEN_LIMITS_CONFIGURABLE])
        .findings(["guardrails.output-ceiling", "guardrails.usage"])
        .setting(
            "ceiling_probe_tokens",
            shipgate_sdk::SettingKind::Integer,
            Some("1"),
            "the output ceiling sent to see it honoured",
        )
    }

    fn run() -> Result<Vec<Finding>, String> {
        let target = context::target();
        let mut out = Vec::new();
        let field = context::contract_value("/request/output_ceiling_field")
            .and_then(|v| v.as_str().map(str::to_owned));
        let documented = context::contract_value("/usage/documented")
            .and_then(|v| v.as_bool())
            .unwrap_or(false);
        let ceiling: u64 = context::setting_or("ceiling_probe_tokens", 1)?;
        let Some(field) = field else {
            out.push(
                Finding::skip(
                    "guardrails.output-ceiling",
                    "the output ceiling is sent and honoured",
                )
                .detail(
                    "the contract documents no output ceiling field (request.output_ceiling_field)",
                ),
            );
            return Ok(out);
        };
        let sent = ChatRequest::new(&target.model)
            .user("Count from 1 to 50, separated by spaces.")
            .field(&field, json!(ceiling))
            .operation("guardrails.output-ceiling")
            .send();
        match sent {
            Ok(r) if r.http.is_success() => {
                out.push(
                    judge_ceiling(
                        ceiling,
                        r.usage().and_then(|u| u.completion_tokens),
                        r.finish_reason().as_deref(),
                        r.content().unwrap_or_default().split_whitespace().count(),
                    )
                    .evidence("field", &field),
                );
                let name = |k: &str, d: &str| {
                    context::contract_value(&format!("/usage/{k}"))
                        .and_then(|v| v.as_str().map(str::to_owned))
                        .unwrap_or_else(|| d.to_owned())
                };
                let names = UsageNames {
                    input: name("input", "prompt_tokens"),
                    output: name("output", "completion_tokens"),
                    total: name("total", "total_tokens"),
                };
                out.push(judge_usage(r.pointer("/usage"), documented, &names));
            }
            Ok(r) => out.push(response_error(&r, &field)),
            Err(e) => out.push(
                Finding::fail(
                    "guardrails.output-ceiling",
                    "the output ceiling is sent and honoured",
                )
                .detail(e.to_string()),
            ),
        }
        Ok(out)
    }
}

fn response_error(r: &ChatResponse, field: &str) -> Finding {
    Finding::fail(
        "guardrails.output-ceiling",
        "the output ceiling is sent and honoured",
    )
    .detail(format!(
        "HTTP {} with `{field}` set: is it the field the API supports?",
        r.status()
    ))
    .evidence("field", field)
}

shipgate_sdk::export_check!(Guardrails);

#[cfg(test)]
mod tests {
    use super::*;
    use shipgate_sdk::Verdict;

    #[test]
    fn usage_rules() {
        let d = UsageNames::default();
        let ok = json!({"prompt_tokens": 3, "completion_tokens": 1, "total_tokens": 4});
        assert_eq!(judge_usage(Some(&ok), true, &d).verdict, Verdict::Pass);
        // Reasoning or cached tokens counted on top: consistent, and information.
        let extra = json!({"prompt_tokens": 3, "completion_tokens": 1, "total_tokens": 9,
                           "completion_tokens_details": {"reasoning_tokens": 5}});
        let f = judge_usage(Some(&extra), true, &d);
        assert_eq!(f.verdict, Verdict::Pass);
        assert!(
            f.evidence
                .iter()
                .any(|(k, v)| k == "other_tokens" && v == "5")
        );
        let short = json!({"prompt_tokens": 3, "completion_tokens": 1, "total_tokens": 2});
        assert_eq!(judge_usage(Some(&short), true, &d).verdict, Verdict::Fail);
        // Counts whose sum overflows u64 are still compared exactly.
        let huge = json!({"prompt_tokens": u64::MAX, "completion_tokens": u64::MAX, "total_tokens": u64::MAX});
        assert_eq!(judge_usage(Some(&huge), true, &d).verdict, Verdict::Fail);
        let missing = json!({"prompt_tokens": 3});
        assert_eq!(judge_usage(Some(&missing), true, &d).verdict, Verdict::Fail);
        assert_eq!(judge_usage(None, true, &d).verdict, Verdict::Fail);
        assert_eq!(judge_usage(None, false, &d).verdict, Verdict::Skip);
        // Names come from the contract.
        let names = UsageNames {
            input: "input_tokens".into(),
            output: "output_tokens".into(),
            total: "total_tokens".into(),
        };
        let anthropic = json!({"input_tokens": 3, "output_tokens": 1, "total_tokens": 4});
        assert_eq!(
            judge_usage(Some(&anthropic), true, &names).verdict,
            Verdict::Pass
        );
        assert_eq!(
            judge_usage(Some(&anthropic), true, &d).verdict,
            Verdict::Fail
        );
    }

    #[test]
    fn ceiling_rules() {
        assert_eq!(
            judge_ceiling(1, Some(1), Some("length"), 1).verdict,
            Verdict::Pass
        );
        assert_eq!(
            judge_ceiling(1, Some(7), Some("stop"), 7).verdict,
            Verdict::Fail
        );
        assert_eq!(
            judge_ceiling(4, Some(2), Some("stop"), 2).verdict,
            Verdict::Skip
        );
        assert_eq!(
            judge_ceiling(1, Some(1), Some("stop"), 1).verdict,
            Verdict::Warn
        );
        assert_eq!(
            judge_ceiling(1, None, Some("stop"), 40).verdict,
            Verdict::Fail
        );
    }

    mod whole_check {
        //! The whole check against the SDK's scripted host.
        use super::super::Guardrails;
        use shipgate_sdk::Verdict;
        use shipgate_sdk::serde_json::{Value, json};
        use shipgate_sdk::testing::{Harness, Reply};

        fn answer(content: &str, finish: &str, usage: Value) -> Reply {
            Reply::json(
                200,
                &json!({"model": "mock-gpt", "usage": usage,
                        "choices": [{"message": {"content": content}, "finish_reason": finish}]}),
            )
        }

        fn usage(p: u64, c: u64, t: u64) -> Value {
            json!({"prompt_tokens": p, "completion_tokens": c, "total_tokens": t})
        }

        #[test]
        fn an_answer_cut_at_the_ceiling_passes() {
            let out = Harness::new()
                .reply(answer("1", "length", usage(14, 1, 15)))
                .run::<Guardrails>();
            assert_eq!(out.verdict("guardrails.output-ceiling"), Verdict::Pass);
            assert_eq!(out.verdict("guardrails.usage"), Verdict::Pass);
            assert_eq!(out.requests[0].json()["max_tokens"], json!(1));
        }

        #[test]
        fn an_ignored_ceiling_fails() {
            let out = Harness::new()
                .reply(answer("1 2 3 4 5 6 7 8", "stop", usage(14, 16, 30)))
                .run::<Guardrails>();
            assert_eq!(out.verdict("guardrails.output-ceiling"), Verdict::Fail);
            assert!(
                out.finding("guardrails.output-ceiling")
                    .detail
                    .starts_with("16 completion tokens over a ceiling of 1"),
                "{:?}",
                out.finding("guardrails.output-ceiling")
            );
        }

        #[test]
        fn a_total_below_input_plus_output_fails_usage() {
            let out = Harness::new()
                .reply(answer("1", "length", usage(14, 1, 14)))
                .run::<Guardrails>();
            assert_eq!(out.verdict("guardrails.usage"), Verdict::Fail);
            assert_eq!(out.verdict("guardrails.output-ceiling"), Verdict::Pass);
        }

        #[test]
        fn the_contracts_field_and_the_probe_ceiling_are_sent() {
            let out = Harness::new()
                .contract_value(
                    "/request/output_ceiling_field",
                    json!("max_completion_tokens"),
                )
                .setting("ceiling_probe_tokens", "4")
                .reply(Reply::error(
                    400,
                    "unsupported_parameter",
                    "max_completion_tokens is not supported",
                ))
                .run::<Guardrails>();
            let sent = out.requests[0].json();
            assert_eq!(sent["max_completion_tokens"], json!(4));
            assert!(sent.get("max_tokens").is_none());
            assert_eq!(out.verdict("guardrails.output-ceiling"), Verdict::Fail);
            assert_eq!(
                out.evidence("guardrails.output-ceiling", "field"),
                Some("max_completion_tokens")
            );
        }

        #[test]
        fn no_documented_ceiling_field_skips_without_sending() {
            let out = Harness::new()
                .contract_value("/request/output_ceiling_field", Value::Null)
                .run::<Guardrails>();
            assert!(out.requests.is_empty());
            assert_eq!(out.verdict("guardrails.output-ceiling"), Verdict::Skip);
        }

        /// Findings no provider, contract, plan or application can make fail: (id, why).
        const CANNOT_FAIL: &[(&str, &str)] = &[];

        /// Every finding can fail, and a test shows it failing.
        #[test]
        fn every_declared_finding_can_fail() {
            let cases: Vec<(&str, Harness)> = vec![
                (
                    "guardrails.output-ceiling",
                    Harness::new().reply(answer("1 2 3 4 5 6 7 8", "stop", usage(14, 16, 30))),
                ),
                (
                    "guardrails.usage",
                    Harness::new().reply(answer("1", "length", usage(14, 1, 14))),
                ),
            ];
            shipgate_sdk::testing::assert_every_finding_can_fail::<Guardrails>(
                &cases,
                &[],
                CANNOT_FAIL,
            );
        }
    }
}
