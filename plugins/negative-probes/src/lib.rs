//! The guide's step 3: negative contract probes.
//!
//! Missing auth, an invalid token (a host-made honeytoken), each required
//! field missing in turn, an unapproved model, a prompt over the
//! application's input limit (the host must reject it before dispatch), and a
//! client timeout shorter than the response time. Each finding records the
//! status and body observed, the host's error category, whether it matches
//! what the contract documents for that case, and whether the body has the
//! documented error shape.
//!
//! Settings: `timeout_probe_ms` (default 1), `timeout_probe_fault` (a fault
//! the built-in mock injects into the timeout probe, e.g. `delay:250`, to
//! slow it down).
#![forbid(unsafe_code)]

use shipgate_sdk::chat::{ChatRequest, ChatResponse};
use shipgate_sdk::checklist as item;
use shipgate_sdk::http::{Auth, ErrorCategory, HttpError};
use shipgate_sdk::{Check, Descriptor, Finding, Verdict, context};

struct NegativeProbes;

/// What the contract documents for one case.
struct Expect {
    statuses: Vec<u16>,
    code: Option<String>,
}

fn expectation(case: &str) -> Option<Expect> {
    let v = context::contract_value(&format!("/errors/cases/{case}"))?;
    Some(Expect {
        statuses: v
            .get("status")?
            .as_array()?
            .iter()
            .filter_map(|s| s.as_u64())
            .map(|s| s as u16)
            .collect(),
        code: v.get("code").and_then(|c| c.as_str()).map(str::to_owned),
    })
}

fn base(model: &str) -> ChatRequest {
    ChatRequest::new(model)
        .user("Return the word READY and nothing else.")
        .max_tokens(8)
}

/// Judge one probe's answer against the contract and the category it should have.
fn judge(
    id: &str,
    title: &str,
    case: &str,
    want: ErrorCategory,
    sent: Result<ChatResponse, HttpError>,
) -> Finding {
    let f = Finding::pass(format!("probe.{id}"), title).covers([item::ERROR_CATEGORIES_TESTED]);
    let r = match sent {
        Ok(r) => r,
        Err(e) => {
            return f
                .verdict(Verdict::Fail)
                .detail(format!("no answer to judge: {e}"))
                .evidence("case", case);
        }
    };
    let status = r.status();
    let message_pointer = context::contract_value("/errors/message_pointer")
        .and_then(|v| v.as_str().map(str::to_owned))
        .unwrap_or_else(|| "/error/message".into());
    let shape_ok = r.pointer(&message_pointer).is_some_and(|m| m.is_string());
    let code = r
        .pointer("/error/code")
        .and_then(|c| c.as_str())
        .map(str::to_owned);
    let content_type = r.http.header("content-type").unwrap_or("").to_owned();
    let body: String = r.http.text().chars().take(300).collect();
    let expected = expectation(case);
    let status_ok = expected.as_ref().map(|e| e.statuses.contains(&status));
    let code_ok = expected
        .as_ref()
        .and_then(|e| e.code.as_ref())
        .map(|c| code.as_deref() == Some(c.as_str()));
    let f = f
        .evidence("case", case)
        .evidence("status", status)
        .evidence("category", r.http.category)
        .evidence("retryable", r.http.retryable)
        .evidence("content_type", &content_type)
        .evidence(
            "error_shape",
            if shape_ok {
                "documented"
            } else {
                "not the documented error shape"
            },
        )
        .evidence("body", &body)
        .evidence(
            "contract",
            match &expected {
                Some(e) => format!(
                    "status {:?}{}",
                    e.statuses,
                    e.code
                        .as_ref()
                        .map(|c| format!(", code {c}"))
                        .unwrap_or_default()
                ),
                None => "no expectation documented for this case".into(),
            },
        );
    let f = match &r.http.provider_request_id {
        Some(id) => f.evidence("provider_request_id", id),
        None => f,
    };
    if r.http.is_success() {
        return f.verdict(Verdict::Fail).detail(format!(
            "HTTP {status}: the provider accepted a request that should have failed ({case}); the integration cannot rely on it to reject bad input"
        ));
    }
    let category_ok = r.http.category == want;
    match (status_ok, code_ok, category_ok, shape_ok) {
        (Some(true), Some(false), _, _) => f.verdict(Verdict::Warn).detail(format!(
            "HTTP {status} as documented, but error.code is {code:?}, not the documented code"
        )),
        (Some(true), _, _, false) => f.verdict(Verdict::Warn)
            .detail(format!("HTTP {status} as documented, but the body ({content_type}) is not the documented error shape")),
        (Some(true), _, _, true) => f.detail(format!("HTTP {status} as documented; classified {}", r.http.category)),
        (None, _, true, _) => f.verdict(Verdict::Warn).detail(format!(
            "HTTP {status} classified {} as expected, but the contract documents no status for `{case}`: add it to [errors.cases]",
            r.http.category
        )),
        (_, _, false, _) => f.verdict(Verdict::Fail).detail(format!(
            "HTTP {status} ({content_type}) is classified {}, expected {want}: {}",
            r.http.category,
            if want == ErrorCategory::Auth && r.http.retryable {
                "an auth failure that looks transient will be retried instead of alerting"
            } else {
                "the client will branch the wrong way on this failure"
            }
        )),
        (Some(false), _, true, _) => f.verdict(Verdict::Warn).detail(format!(
            "HTTP {status} is not the documented status, though it is classified {} as expected",
            r.http.category
        )),
    }
}

impl Check for NegativeProbes {
    fn describe() -> Descriptor {
        Descriptor::new(
            "negative-probes",
            env!("CARGO_PKG_VERSION"),
            "negative contract probes: auth, fields, model, input limit, timeout",
        )
        .covers([
            item::ERROR_CATEGORIES_TESTED,
            item::REQUEST_SCHEMA_VALIDATED,
            item::TIMEOUT_POLICY_CONFIGURED,
            item::AUTH_VERIFIED,
        ])
    }

    fn run() -> Result<Vec<Finding>, String> {
        let target = context::target();
        let limits = context::limits();
        let model = target.model.clone();
        let mut out = Vec::new();

        let r = base(&model)
            .auth(Auth::Omitted)
            .operation("probe.missing-auth")
            .send();
        out.push(
            judge(
                "missing-auth",
                "missing credential is rejected as an auth error",
                "missing_auth",
                ErrorCategory::Auth,
                r,
            )
            .covers([item::AUTH_VERIFIED]),
        );
        let r = base(&model)
            .auth(Auth::Invalid)
            .operation("probe.invalid-auth")
            .send();
        out.push(
            judge(
                "invalid-auth",
                "invalid credential is rejected as an auth error",
                "invalid_auth",
                ErrorCategory::Auth,
                r,
            )
            .covers([item::AUTH_VERIFIED]),
        );

        let required: Vec<String> = context::contract_value("/request/required_fields")
            .and_then(|v| {
                v.as_array().map(|a| {
                    a.iter()
                        .filter_map(|s| s.as_str().map(str::to_owned))
                        .collect()
                })
            })
            .unwrap_or_default();
        for field in &required {
            let r = base(&model)
                .without(field)
                .operation(&format!("probe.missing-{field}"))
                .send();
            out.push(
                judge(
                    &format!("missing-{field}"),
                    &format!("a request without `{field}` is rejected as invalid"),
                    &format!("missing_{field}"),
                    ErrorCategory::Validation,
                    r,
                )
                .covers([item::REQUEST_SCHEMA_VALIDATED]),
            );
        }

        let bogus = context::unapproved_model();
        let r = base(&bogus).operation("probe.unknown-model").send();
        out.push(judge(
            "unknown-model",
            "an unapproved model is rejected as invalid",
            "unknown_model",
            ErrorCategory::Validation,
            r,
        ));

        // The host must refuse a prompt over the application's limit before it leaves the machine.
        let oversized = "x".repeat(limits.input_limit_bytes as usize + 1);
        let r = ChatRequest::new(&model)
            .user(&oversized)
            .max_tokens(8)
            .operation("probe.oversized-prompt")
            .send();
        out.push(
            match r {
                Err(HttpError::Rejected(why)) => Finding::pass(
                    "probe.oversized-prompt",
                    "a prompt over the input limit is rejected before dispatch",
                )
                .detail(format!("rejected locally, nothing sent: {why}")),
                // Opted in (grants.send_oversized): the provider's answer is information,
                // not a verdict on it; the guide warns against inferring its limits.
                Ok(resp) if resp.http.is_success() => Finding::pass(
                    "probe.oversized-prompt",
                    "a prompt over the input limit is handled",
                )
                .detail(format!(
                    "sent (the plan grants send_oversized): the provider accepted it with HTTP {}; the application's limit is the stricter one",
                    resp.status()
                )),
                Ok(resp) => judge(
                    "oversized-prompt",
                    "a prompt over the input limit is handled",
                    "oversized_prompt",
                    ErrorCategory::Validation,
                    Ok(resp),
                )
                .evidence("sent", "the plan grants send_oversized"),
                Err(e) => Finding::fail(
                    "probe.oversized-prompt",
                    "a prompt over the input limit is rejected before dispatch",
                )
                .detail(format!("unexpected: {e}")),
            }
            .evidence("input_limit_bytes", limits.input_limit_bytes)
            .evidence("prompt_bytes", oversized.len())
            .covers([
                item::REQUEST_SCHEMA_VALIDATED,
                item::TOKEN_LIMITS_CONFIGURABLE,
            ]),
        );

        // A client timeout shorter than the response time must fire and be reported, not hang.
        let timeout_ms: u32 = shipgate_sdk::context::setting_or("timeout_probe_ms", 1)?;
        let mut probe = shipgate_sdk::http::Request::post(&target.chat_path)
            .json(&base(&model).to_json())
            .timeout_ms(timeout_ms)
            .operation("probe.client-timeout");
        if let Some(fault) = context::setting("timeout_probe_fault") {
            probe = probe.fault(fault);
        }
        out.push(timeout_finding(probe.send().map(|_| ()), timeout_ms));
        Ok(out)
    }
}

fn timeout_finding(r: Result<(), HttpError>, timeout_ms: u32) -> Finding {
    let title = "a client timeout shorter than the response time fires and is handled";
    match r {
        Err(HttpError::Timeout(_)) => Finding::pass("probe.client-timeout", title).detail(format!("timed out after {timeout_ms} ms as configured")),
        Ok(()) => Finding::skip("probe.client-timeout", title)
            .detail(format!("the response arrived within {timeout_ms} ms; set negative-probes.timeout_probe_ms lower to provoke a timeout")),
        Err(e) => Finding::fail("probe.client-timeout", title).detail(format!("expected a timeout, got: {e}")),
    }
    .evidence("timeout_ms", timeout_ms)
    .covers([item::TIMEOUT_POLICY_CONFIGURED])
}

shipgate_sdk::export_check!(NegativeProbes);
