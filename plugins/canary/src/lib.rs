//! The guide's step 2: a happy-path canary.
//!
//! Sends the deterministic prompt "Return the word READY and nothing else."
//! at temperature 0 to the contract's model and reports one finding per pass
//! criterion. The guide says the canary "is not a semantic benchmark. It is a
//! routing and contract probe": the exact wording of the answer and the finish
//! reason are recorded as information, never judged. Nothing here knows about
//! the mock: the same plugin runs against a real provider.
#![forbid(unsafe_code)]

use shipgate_sdk::chat::{ChatRequest, ChatResponse};
use shipgate_sdk::checklist as item;
use shipgate_sdk::http::HttpError;
use shipgate_sdk::serde_json::Value;
use shipgate_sdk::{Check, Descriptor, Finding, Verdict, context, log};

/// The canary prompt from the guide.
pub const PROMPT: &str = "Return the word READY and nothing else.";

/// The finding ids this check returns.
pub const FINDINGS: [&str; 9] = [
    "canary.reached-host",
    "canary.auth",
    "canary.status",
    "canary.content",
    "canary.finish-reason",
    "canary.usage",
    "canary.latency",
    "canary.model",
    "canary.provider-request-id",
];

struct Canary;

/// Did the request reach the provider's chat endpoint? Pure.
///
/// A 2xx did; so did an error in the contract's error shape (the endpoint
/// answered, though it refused). A 404 or 405 is a wrong path or method, a
/// 3xx a redirect away from the configured host, and anything else without
/// the error shape (an HTML page from a proxy, say) did not come from the API.
pub fn judge_reach(status: u16, error_shape: bool, location: Option<&str>) -> (Verdict, String) {
    match status {
        200..=299 => (
            Verdict::Pass,
            format!("the chat endpoint answered with HTTP {status}"),
        ),
        300..=399 => (
            Verdict::Fail,
            format!(
                "HTTP {status}: redirected{}; the base URL or path is not the API's",
                location.map(|l| format!(" to {l}")).unwrap_or_default()
            ),
        ),
        404 | 405 => (
            Verdict::Fail,
            format!("HTTP {status}: the path or method is not the provider's chat endpoint"),
        ),
        _ if error_shape => (
            Verdict::Pass,
            format!("the chat endpoint answered with HTTP {status} in the documented error shape"),
        ),
        _ => (
            Verdict::Fail,
            format!(
                "HTTP {status} without the documented error shape: the answer did not come from the API (a proxy or a wrong host?)"
            ),
        ),
    }
}

/// Did authentication succeed? Pure: only a success proves it; the statuses
/// the contract documents for a bad credential (and 401/403) disprove it;
/// anything else does not tell.
pub fn judge_auth(status: u16, auth_failure_statuses: &[u16]) -> (Verdict, String) {
    if (200..300).contains(&status) {
        (
            Verdict::Pass,
            format!("HTTP {status}: the credential was accepted"),
        )
    } else if status == 401 || status == 403 || auth_failure_statuses.contains(&status) {
        (
            Verdict::Fail,
            format!("HTTP {status}: the credential was rejected"),
        )
    } else {
        (
            Verdict::Skip,
            format!("HTTP {status} does not show whether the credential was accepted"),
        )
    }
}

/// The assistant's content: present and non-empty passes; its wording is information. Pure.
pub fn judge_content(content: Option<&str>, body_error: Option<&str>) -> Finding {
    let f = Finding::pass("canary.content", "parser extracts the assistant content")
        .evidence("pointer", "/choices/0/message/content")
        .covers([item::RESPONSE_PARSER_TESTED]);
    match content {
        Some(c) if !c.trim().is_empty() => {
            let f = f.detail(format!(
                "choices[0].message.content parsed ({} chars)",
                c.chars().count()
            ));
            if c.trim() == "READY" {
                f.evidence("answer", "READY")
            } else {
                // Not a semantic benchmark: a different wording is information.
                f.evidence("variation", c.chars().take(80).collect::<String>())
            }
        }
        Some(_) => f
            .verdict(Verdict::Fail)
            .detail("choices[0].message.content is empty"),
        None => f.verdict(Verdict::Fail).detail(match body_error {
            Some(e) => format!("the body is not JSON: {e}"),
            None => "choices[0].message.content is missing or not a string".to_owned(),
        }),
    }
}

/// The finish reason: present passes (its value is information); missing
/// fails when the contract says the application parses or the provider
/// documents it, else it is skipped. Pure.
pub fn judge_finish(reason: Option<&str>, documented: bool) -> Finding {
    let f = Finding::pass("canary.finish-reason", "finish reason is recorded")
        .covers([item::RESPONSE_PARSER_TESTED]);
    match reason {
        Some(r) => f
            .detail(format!("finish_reason is {r:?}"))
            .evidence("finish_reason", r),
        None if documented => f
            .verdict(Verdict::Fail)
            .detail("choices[0].finish_reason is missing, though the contract lists it"),
        None => f
            .verdict(Verdict::Skip)
            .detail("no finish reason, and the contract does not list one"),
    }
}

fn contract_lists(pointer: &str) -> bool {
    let listed = |key: &str| {
        context::contract_value(key).is_some_and(|v| match v {
            Value::Object(o) => o.contains_key(pointer),
            Value::Array(a) => a.iter().any(|x| x.as_str() == Some(pointer)),
            _ => false,
        })
    };
    listed("/response/fields") || listed("/response/documented_fields")
}

fn statuses(case: &str) -> Vec<u16> {
    context::contract_value(&format!("/errors/cases/{case}/status"))
        .and_then(|v| {
            v.as_array().map(|a| {
                a.iter()
                    .filter_map(|s| s.as_u64())
                    .map(|s| s as u16)
                    .collect()
            })
        })
        .unwrap_or_default()
}

impl Check for Canary {
    fn describe() -> Descriptor {
        Descriptor::new(
            "canary",
            env!("CARGO_PKG_VERSION"),
            "happy-path canary: routing, auth, status, parsing, usage, latency, request ids",
        )
        .covers([
            item::ENDPOINT_VERIFIED,
            item::BASE_URL_VERIFIED,
            item::AUTH_VERIFIED,
            item::RESPONSE_PARSER_TESTED,
            item::USAGE_FIELDS_VERIFIED,
        ])
        .findings(FINDINGS)
    }

    fn run() -> Result<Vec<Finding>, String> {
        let target = context::target();
        let limits = context::limits();
        let sent = ChatRequest::new(&target.model)
            .user(PROMPT)
            .temperature(0.0)
            .max_tokens(limits.output_token_ceiling)
            .operation("canary")
            .send();
        match sent {
            Ok(resp) => Ok(judge(&resp, &target, &limits)),
            Err(err) => Ok(unreachable_target(&err, &target)),
        }
    }
}

/// Findings when no response came back at all.
fn unreachable_target(err: &HttpError, target: &context::Target) -> Vec<Finding> {
    log::error("canary got no response", &[("error", &err.to_string())]);
    vec![
        Finding::fail("canary.reached-host", "request reaches the expected host")
            .detail(format!("no response from {}: {err}", target.base_url))
            .evidence("base_url", &target.base_url)
            .covers([item::BASE_URL_VERIFIED, item::ENDPOINT_VERIFIED]),
        Finding::fail("canary.status", "response status is successful")
            .detail(format!("no response: {err}"))
            .covers([item::ENDPOINT_VERIFIED]),
    ]
}

fn judge(r: &ChatResponse, target: &context::Target, limits: &context::Limits) -> Vec<Finding> {
    let status = r.status();
    let pointer = context::contract_value("/errors/message_pointer")
        .and_then(|v| v.as_str().map(str::to_owned))
        .unwrap_or_else(|| "/error/message".into());
    let error_shape = r.pointer(&pointer).is_some_and(|m| m.is_string());
    let (reach, reach_detail) = judge_reach(status, error_shape, r.http.header("location"));
    let mut auth_failures = statuses("invalid_auth");
    auth_failures.extend(statuses("missing_auth"));
    let (auth, auth_detail) = judge_auth(status, &auth_failures);
    let mut out = vec![
        Finding::new(
            reach,
            "canary.reached-host",
            "request reaches the expected host",
        )
        .detail(reach_detail)
        .evidence("base_url", &target.base_url)
        .evidence("path", &target.chat_path)
        .covers([item::BASE_URL_VERIFIED]),
        Finding::new(auth, "canary.auth", "authentication succeeds")
            .detail(format!(
                "{auth_detail} (credential from ${})",
                target.credential_env
            ))
            .evidence("status", status)
            .covers([item::AUTH_VERIFIED]),
        Finding::check(
            r.http.is_success(),
            "canary.status",
            "response status is successful",
        )
        .detail(format!("HTTP {status}, classified {}", r.http.category))
        .evidence("status", status)
        .evidence("category", r.http.category)
        .covers([item::ENDPOINT_VERIFIED]),
    ];
    if !r.http.is_success() {
        return out;
    }
    out.push(judge_content(
        r.content().as_deref(),
        r.body.as_ref().err().map(String::as_str),
    ));
    out.push(judge_finish(
        r.finish_reason().as_deref(),
        contract_lists("/choices/0/finish_reason"),
    ));
    let documented = context::contract_value("/usage/documented").and_then(|v| v.as_bool());
    let field = |k: &str, d: &str| {
        context::contract_value(&format!("/usage/{k}"))
            .and_then(|v| v.as_str().map(str::to_owned))
            .unwrap_or_else(|| d.to_owned())
    };
    let (input, output) = (
        field("input", "prompt_tokens"),
        field("output", "completion_tokens"),
    );
    let n = |k: &str| r.pointer(&format!("/usage/{k}")).and_then(|v| v.as_u64());
    out.push(
        match (documented, n(&input), n(&output)) {
            (Some(true), Some(i), Some(o)) => Finding::pass("canary.usage", "usage fields are present")
                .evidence(&input, i)
                .evidence(&output, o),
            (Some(true), _, _) => Finding::fail("canary.usage", "usage fields are present")
                .detail(format!("the contract documents usage, but usage.{input}/usage.{output} are missing or not numbers")),
            _ => Finding::skip("canary.usage", "usage fields are present")
                .detail("the contract does not document usage fields; not relied on"),
        }
        .covers([item::USAGE_FIELDS_VERIFIED]),
    );
    let ms = r.http.latency_ms;
    let latency = if ms <= limits.latency_ms {
        Verdict::Pass
    } else if ms <= limits.latency_hard_ms {
        Verdict::Warn
    } else {
        Verdict::Fail
    };
    out.push(
        Finding::new(
            latency,
            "canary.latency",
            "latency is under the configured limit",
        )
        .detail(format!(
            "{ms} ms (limit {} ms, hard limit {} ms)",
            limits.latency_ms, limits.latency_hard_ms
        ))
        .metric("latency_ms", f64::from(ms), "ms"),
    );
    let title = "response names the validated model";
    out.push(match r.model() {
        // A dated snapshot of the model (`gpt-4o-mini-2024-07-18`) is the model.
        Some(m) if m.starts_with(&target.model) => Finding::pass("canary.model", title).evidence("model", m),
        Some(m) => Finding::fail("canary.model", title).detail(format!(
            "asked for {:?}, the response names {m:?}: the provider routed to another model than the one validated",
            target.model
        )),
        None if contract_lists("/model") => Finding::fail("canary.model", title)
            .detail("the response has no model field, though the contract lists it"),
        None => Finding::skip("canary.model", title).detail("the response has no model field, and the contract lists none"),
    });
    let id_documented = context::contract_value("/response/request_id_header")
        .is_some_and(|v| v.is_string())
        || context::contract_value("/response/request_id_pattern").is_some_and(|v| v.is_string());
    out.push(match (&r.http.provider_request_id, id_documented) {
        (Some(id), _) => Finding::pass(
            "canary.provider-request-id",
            "provider request id is captured",
        )
        .evidence("provider_request_id", id),
        (None, true) => Finding::fail(
            "canary.provider-request-id",
            "provider request id is captured",
        )
        .detail("the contract documents a request id, but the response carried none"),
        (None, false) => Finding::skip(
            "canary.provider-request-id",
            "provider request id is captured",
        )
        .detail("the provider returned no request id, and the contract documents none"),
    });
    log::info(
        "canary done",
        &[
            ("status", &status.to_string()),
            ("latency_ms", &ms.to_string()),
        ],
    );
    out
}

shipgate_sdk::export_check!(Canary);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_a_success_proves_authentication() {
        assert_eq!(judge_auth(200, &[401]).0, Verdict::Pass);
        assert_eq!(judge_auth(401, &[401]).0, Verdict::Fail);
        // A gateway that answers a wrong key with 400, as its contract documents.
        assert_eq!(judge_auth(400, &[400]).0, Verdict::Fail);
        assert_eq!(judge_auth(400, &[401]).0, Verdict::Skip);
        assert_eq!(judge_auth(503, &[401]).0, Verdict::Skip);
    }

    #[test]
    fn a_wrong_path_or_a_proxy_page_is_not_the_host() {
        assert_eq!(judge_reach(200, false, None).0, Verdict::Pass);
        assert_eq!(judge_reach(401, true, None).0, Verdict::Pass);
        assert_eq!(judge_reach(404, true, None).0, Verdict::Fail);
        assert_eq!(judge_reach(405, true, None).0, Verdict::Fail);
        assert_eq!(
            judge_reach(301, false, Some("https://cometapi.com/")).0,
            Verdict::Fail
        );
        assert_eq!(judge_reach(502, false, None).0, Verdict::Fail);
    }

    #[test]
    fn semantic_variation_is_information() {
        let f = judge_content(Some("READY."), None);
        assert_eq!(f.verdict, Verdict::Pass);
        assert!(
            f.evidence
                .iter()
                .any(|(k, v)| k == "variation" && v == "READY.")
        );
        assert_eq!(judge_content(Some("READY"), None).verdict, Verdict::Pass);
        assert_eq!(judge_content(Some("  "), None).verdict, Verdict::Fail);
        assert_eq!(judge_content(None, Some("eof")).verdict, Verdict::Fail);
        let f = judge_finish(Some("end_turn"), true);
        assert_eq!(f.verdict, Verdict::Pass);
        assert_eq!(judge_finish(None, true).verdict, Verdict::Fail);
        assert_eq!(judge_finish(None, false).verdict, Verdict::Skip);
    }

    mod whole_check {
        //! The whole check against the SDK's scripted host.
        use super::super::{Canary, FINDINGS, PROMPT};
        use shipgate_sdk::Verdict;
        use shipgate_sdk::serde_json::json;
        use shipgate_sdk::testing::{Harness, Reply};

        #[test]
        fn a_clean_answer_passes_every_criterion() {
            let out = Harness::new().reply(Reply::chat("READY")).run::<Canary>();
            for id in FINDINGS {
                assert_eq!(
                    out.verdict(id),
                    Verdict::Pass,
                    "{id}: {:?}",
                    out.finding(id)
                );
            }
            let sent = out.requests[0].json();
            assert_eq!(sent["model"], "mock-gpt");
            assert_eq!(sent["temperature"], json!(0.0));
            assert_eq!(sent["messages"][0]["content"], PROMPT);
            assert!(
                !out.requests[0].retry,
                "the canary proves one request, unretried"
            );
        }

        #[test]
        fn another_model_a_slow_answer_and_missing_usage_are_caught() {
            let body = json!({"model": "cheaper-model", "choices": [{"message": {"content": "READY"}, "finish_reason": "stop"}]});
            let out = Harness::new()
                .reply(Reply::json(200, &body).delay_ms(3_000))
                .run::<Canary>();
            assert_eq!(out.verdict("canary.model"), Verdict::Fail);
            assert_eq!(out.verdict("canary.latency"), Verdict::Warn);
            assert_eq!(out.verdict("canary.usage"), Verdict::Fail);
            assert_eq!(out.verdict("canary.provider-request-id"), Verdict::Fail);

            let out = Harness::new()
                .reply(Reply::chat("READY").delay_ms(10_001))
                .run::<Canary>();
            assert_eq!(out.verdict("canary.latency"), Verdict::Fail);
        }

        #[test]
        fn a_rejected_key_and_a_dead_host_fail_where_they_should() {
            let out = Harness::new()
                .reply(Reply::error(401, "invalid_api_key", "Incorrect API key"))
                .run::<Canary>();
            assert_eq!(out.verdict("canary.reached-host"), Verdict::Pass);
            assert_eq!(out.verdict("canary.auth"), Verdict::Fail);
            assert_eq!(out.verdict("canary.status"), Verdict::Fail);

            let out = Harness::new()
                .reply(Reply::text(502, "<html>Bad Gateway</html>"))
                .run::<Canary>();
            assert_eq!(out.verdict("canary.reached-host"), Verdict::Fail);

            let out = Harness::new()
                .reply(Reply::connect_error("connection refused"))
                .run::<Canary>();
            assert_eq!(out.verdict("canary.reached-host"), Verdict::Fail);
            assert_eq!(out.verdict("canary.status"), Verdict::Fail);
        }

        /// Findings no provider, contract or plan can make fail: (id, why).
        const CANNOT_FAIL: &[(&str, &str)] = &[];

        /// Every finding can fail, and a test shows it failing.
        #[test]
        fn every_declared_finding_can_fail() {
            // A 200 without the field each case is about (and no request id).
            let answer = |model: &str, finish: Option<&str>, usage: bool| {
                let mut body = json!({"model": model, "choices": [{"message": {"content": "READY"}, "finish_reason": finish}]});
                if usage {
                    body["usage"] = json!({"prompt_tokens": 1, "completion_tokens": 1});
                }
                Harness::new().reply(Reply::json(200, &body))
            };
            let cases: Vec<(&str, Harness)> = vec![
                (
                    "canary.reached-host",
                    Harness::new().reply(Reply::connect_error("refused")),
                ),
                (
                    "canary.auth",
                    Harness::new().reply(Reply::error(401, "invalid_api_key", "no")),
                ),
                ("canary.status", Harness::new().reply(Reply::status(503))),
                ("canary.content", Harness::new().reply(Reply::chat("  "))),
                ("canary.finish-reason", answer("mock-gpt", None, true)),
                ("canary.usage", answer("mock-gpt", Some("stop"), false)),
                (
                    "canary.latency",
                    Harness::new().reply(Reply::chat("READY").delay_ms(10_001)),
                ),
                ("canary.model", answer("cheaper-model", Some("stop"), true)),
                (
                    "canary.provider-request-id",
                    answer("mock-gpt", Some("stop"), true),
                ),
            ];
            shipgate_sdk::testing::assert_every_finding_can_fail::<Canary>(
                &cases,
                &[],
                CANNOT_FAIL,
            );
        }
    }
}
