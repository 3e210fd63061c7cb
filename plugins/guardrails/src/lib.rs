//! The guide's step 5: token and cost guardrails.
//!
//! The input limit is enforced before dispatch (a prompt over it never leaves
//! the host); the output ceiling (`max_tokens` or `max_completion_tokens`, as
//! the contract says the API supports) is sent and honoured; usage fields are
//! present, numeric and consistent only when the contract documents them, and
//! their absence is reported, not guessed.
//!
//! Settings: `ceiling_probe_tokens` (default 1).
#![forbid(unsafe_code)]

use shipgate_sdk::chat::{ChatRequest, ChatResponse};
use shipgate_sdk::checklist as item;
use shipgate_sdk::http::HttpError;
use shipgate_sdk::serde_json::json;
use shipgate_sdk::{Check, Descriptor, Finding, context};

struct Guardrails;

/// Judge `usage` of a successful response. Pure, tested natively.
pub fn judge_usage(usage: Option<&shipgate_sdk::serde_json::Value>, documented: bool) -> Finding {
    let title = "usage fields are present, numeric and consistent";
    let f = Finding::pass("guardrails.usage", title).covers([item::USAGE_FIELDS_VERIFIED]);
    if !documented {
        return Finding::skip("guardrails.usage", title)
            .detail(format!(
                "the contract does not document usage; not relied on ({} in the response)",
                if usage.is_some() { "present" } else { "absent" }
            ))
            .covers([item::USAGE_FIELDS_VERIFIED]);
    }
    let Some(u) = usage.and_then(|u| u.as_object()) else {
        return f
            .verdict(shipgate_sdk::Verdict::Fail)
            .detail("the contract documents usage, but the response has no usage object");
    };
    let n = |k: &str| u.get(k).and_then(|v| v.as_u64());
    match (
        n("prompt_tokens"),
        n("completion_tokens"),
        n("total_tokens"),
    ) {
        (Some(p), Some(c), Some(t)) if p + c == t => f
            .detail(format!("prompt {p} + completion {c} = total {t}"))
            .metric("total_tokens", t as f64, "tokens"),
        (Some(p), Some(c), Some(t)) => f.verdict(shipgate_sdk::Verdict::Fail).detail(format!(
            "inconsistent: prompt {p} + completion {c} != total {t}"
        )),
        _ => f.verdict(shipgate_sdk::Verdict::Fail).detail(format!(
            "missing or non-numeric usage fields: {}",
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
        (Some(c), other) => f.verdict(shipgate_sdk::Verdict::Warn).detail(format!("{c} tokens at the ceiling but finish_reason is {other:?}, not \"length\"")),
        (None, Some("length")) => f.detail("finish_reason \"length\" (no usage to count tokens)"),
        (None, other) if content_words as u64 > ceiling * 4 => f.verdict(shipgate_sdk::Verdict::Fail).detail(format!("{content_words} words back with finish_reason {other:?}: the ceiling looks ignored")),
        (None, other) => f.verdict(shipgate_sdk::Verdict::Warn).detail(format!("no usage and finish_reason {other:?}: cannot tell whether the ceiling was honoured")),
    }
}

impl Check for Guardrails {
    fn describe() -> Descriptor {
        Descriptor::new(
            "guardrails",
            env!("CARGO_PKG_VERSION"),
            "input limit before dispatch, output ceiling honoured, usage consistent",
        )
        .covers([item::TOKEN_LIMITS_CONFIGURABLE, item::USAGE_FIELDS_VERIFIED])
    }

    fn run() -> Result<Vec<Finding>, String> {
        let target = context::target();
        let limits = context::limits();
        let mut out = Vec::new();
        let oversized = "y".repeat(limits.input_limit_bytes as usize + 1);
        let title = "a prompt over the input limit never leaves the host";
        out.push(
            match ChatRequest::new(&target.model)
                .user(&oversized)
                .operation("guardrails.input-limit")
                .send()
            {
                Err(HttpError::Rejected(why)) => {
                    Finding::pass("guardrails.input-limit", title).detail(why)
                }
                Ok(r) => Finding::fail("guardrails.input-limit", title)
                    .detail(format!("it was sent and answered HTTP {}", r.status())),
                Err(e) => Finding::fail("guardrails.input-limit", title).detail(e.to_string()),
            }
            .evidence("input_limit_bytes", limits.input_limit_bytes)
            .covers([
                item::TOKEN_LIMITS_CONFIGURABLE,
                item::REQUEST_SCHEMA_VALIDATED,
            ]),
        );
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
                out.push(judge_usage(r.pointer("/usage"), documented));
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
        out.push(
            Finding::check(
                limits.output_token_ceiling > 0,
                "guardrails.ceiling-configured",
                "an output token ceiling is configured",
            )
            .detail(format!(
                "thresholds.output_token_ceiling = {}",
                limits.output_token_ceiling
            ))
            .covers([item::TOKEN_LIMITS_CONFIGURABLE]),
        );
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
        let ok = json!({"prompt_tokens": 3, "completion_tokens": 1, "total_tokens": 4});
        assert_eq!(judge_usage(Some(&ok), true).verdict, Verdict::Pass);
        let bad = json!({"prompt_tokens": 3, "completion_tokens": 1, "total_tokens": 9});
        assert_eq!(judge_usage(Some(&bad), true).verdict, Verdict::Fail);
        let missing = json!({"prompt_tokens": 3});
        assert_eq!(judge_usage(Some(&missing), true).verdict, Verdict::Fail);
        assert_eq!(judge_usage(None, true).verdict, Verdict::Fail);
        assert_eq!(judge_usage(None, false).verdict, Verdict::Skip);
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
}
