//! The guide's step 2: a happy-path canary.
//!
//! Sends the deterministic prompt "Return the word READY and nothing else."
//! at temperature 0 to the contract's model and reports one finding per pass
//! criterion. Nothing here knows about the mock: the same plugin runs against
//! a real provider.
#![forbid(unsafe_code)]

use shipgate_sdk::chat::{ChatRequest, ChatResponse};
use shipgate_sdk::checklist as item;
use shipgate_sdk::http::HttpError;
use shipgate_sdk::{Check, Descriptor, Finding, context, log};

/// The canary prompt from the guide.
pub const PROMPT: &str = "Return the word READY and nothing else.";

struct Canary;

impl Check for Canary {
    fn describe() -> Descriptor {
        Descriptor::new(
            "canary",
            env!("CARGO_PKG_VERSION"),
            "happy-path canary: routing, auth, status, parsing, latency, telemetry ids",
        )
        .covers([
            item::ENDPOINT_VERIFIED,
            item::BASE_URL_VERIFIED,
            item::AUTH_VERIFIED,
            item::RESPONSE_PARSER_TESTED,
            item::USAGE_FIELDS_VERIFIED,
            item::METRICS_ATTACHED,
        ])
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
    ]
}

fn judge(r: &ChatResponse, target: &context::Target, limits: &context::Limits) -> Vec<Finding> {
    let status = r.status();
    let mut out = vec![
        Finding::pass("canary.reached-host", "request reaches the expected host")
            .detail(format!("{} answered with HTTP {status}", target.base_url))
            .evidence("base_url", &target.base_url)
            .evidence("path", &target.chat_path)
            .covers([item::BASE_URL_VERIFIED]),
        Finding::check(
            status != 401 && status != 403,
            "canary.auth",
            "authentication succeeds",
        )
        .detail(format!(
            "HTTP {status} with the credential from ${}",
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
    out.push(
        match r.content() {
            Some(c) if c.trim() == "READY" => {
                Finding::pass("canary.content", "parser extracts the assistant content")
                    .detail("choices[0].message.content is \"READY\"")
            }
            Some(c) => {
                Finding::warn("canary.content", "parser extracts the assistant content").detail(
                    format!("content parsed but is not READY ({} chars)", c.len()),
                )
            }
            None => Finding::fail("canary.content", "parser extracts the assistant content")
                .detail(match &r.body {
                    Ok(_) => "choices[0].message.content is missing or not a string".to_owned(),
                    Err(e) => format!("body is not JSON: {e}"),
                }),
        }
        .evidence("pointer", "/choices/0/message/content")
        .covers([item::RESPONSE_PARSER_TESTED]),
    );
    out.push(
        match r.finish_reason().as_deref() {
            Some("stop") => Finding::pass("canary.finish-reason", "finish reason is recorded")
                .detail("finish_reason is \"stop\""),
            Some(other) => Finding::warn("canary.finish-reason", "finish reason is recorded")
                .detail(format!(
                    "finish_reason is {other:?}, expected \"stop\" for a one-word answer"
                )),
            None => Finding::warn("canary.finish-reason", "finish reason is recorded")
                .detail("choices[0].finish_reason is missing"),
        }
        .covers([item::RESPONSE_PARSER_TESTED]),
    );
    let documented = context::contract_value("/usage/documented").and_then(|v| v.as_bool());
    out.push(match (documented, r.usage()) {
        (Some(true), Some(u)) if u.prompt_tokens.is_some() && u.completion_tokens.is_some() => {
            Finding::pass("canary.usage", "usage fields are present")
                .evidence("prompt_tokens", u.prompt_tokens.unwrap_or(0))
                .evidence("completion_tokens", u.completion_tokens.unwrap_or(0))
        }
        (Some(true), _) => Finding::fail("canary.usage", "usage fields are present")
            .detail("the contract documents usage, but usage.prompt_tokens/completion_tokens are missing"),
        _ => Finding::skip("canary.usage", "usage fields are present")
            .detail("the contract does not document usage fields; not relied on"),
    }
    .covers([item::USAGE_FIELDS_VERIFIED]));
    let ms = r.http.latency_ms;
    let latency = if ms <= limits.latency_ms {
        Finding::pass("canary.latency", "latency is under the configured limit")
    } else if ms <= limits.latency_hard_ms {
        Finding::warn("canary.latency", "latency is under the configured limit")
    } else {
        Finding::fail("canary.latency", "latency is under the configured limit")
    };
    out.push(
        latency
            .detail(format!(
                "{ms} ms (limit {} ms, hard limit {} ms)",
                limits.latency_ms, limits.latency_hard_ms
            ))
            .metric("latency_ms", f64::from(ms), "ms")
            .covers([item::METRICS_ATTACHED]),
    );
    out.push(match r.model() {
        Some(m) if m.starts_with(&target.model) => {
            Finding::pass("canary.model", "response names the validated model").evidence("model", m)
        }
        Some(m) => Finding::warn("canary.model", "response names the validated model").detail(
            format!("asked for {:?}, response names {m:?}", target.model),
        ),
        None => Finding::warn("canary.model", "response names the validated model")
            .detail("response has no model field"),
    });
    out.push(
        Finding::check(
            !r.http.correlation_id.is_empty(),
            "canary.correlation-id",
            "correlation id is sent",
        )
        .evidence("header", &target.correlation_header)
        .evidence("correlation_id", &r.http.correlation_id)
        .covers([item::METRICS_ATTACHED]),
    );
    out.push(match &r.http.provider_request_id {
        Some(id) => Finding::pass(
            "canary.provider-request-id",
            "provider request id is captured",
        )
        .evidence("provider_request_id", id),
        None => Finding::skip(
            "canary.provider-request-id",
            "provider request id is captured",
        )
        .detail("the provider returned no request id"),
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
