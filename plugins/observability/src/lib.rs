//! The guide's step 6: every request's telemetry has what operators need.
//!
//! Sends one request of its own (so it knows the provider request id that
//! came back), then judges the telemetry the host recorded for every request
//! of the run: sanitized request category, operation, validated model id,
//! HTTP status, application error category, latency, retry count, timeout
//! count, parse success, the correlation id (and that it went out as a
//! header), the provider request id when returned, OpenTelemetry GenAI
//! attribute names, and no message content.
#![forbid(unsafe_code)]

use shipgate_sdk::chat::ChatRequest;
use shipgate_sdk::checklist as item;
use shipgate_sdk::serde_json::Value;
use shipgate_sdk::{Check, Descriptor, Finding, context};

struct Observability;

/// What the plugin saw of its own request, to cross-check the telemetry.
#[derive(Debug, Clone, Default)]
pub struct Own {
    /// The correlation id the host said it sent.
    pub correlation_id: String,
    /// The provider request id header that came back, if any.
    pub provider_request_id: Option<String>,
}

/// One required attribute: name, when it applies, and what makes it valid.
struct Rule {
    id: &'static str,
    title: &'static str,
    attribute: &'static str,
    applies: fn(&Value) -> bool,
    valid: fn(&Value) -> bool,
    /// A response field the contract must list for the rule to apply (the
    /// provider is not held to a field nobody documented).
    needs: Option<&'static str>,
}

/// What the contract says that the rules depend on.
#[derive(Debug, Clone, Default)]
pub struct Options {
    /// Whether usage is documented.
    pub usage_documented: bool,
    /// Response fields the contract lists (parsed or documented), as JSON pointers.
    pub listed_fields: Vec<String>,
}

fn any(_: &Value) -> bool {
    true
}
fn answered(t: &Value) -> bool {
    t["shipgate.outcome"] == "response"
}
/// A successful chat request that named a model (a probe without one, which
/// a lax provider answers, has none to record: that is the probe's finding).
fn chat_ok_naming_a_model(t: &Value) -> bool {
    chat_ok(t)
        && t["shipgate.request_shape"]
            .as_object()
            .is_none_or(|shape| shape.contains_key("model"))
}
/// Whether the host has finished recording a request (it is not out, or
/// about to go out).
fn settled(t: &Value) -> bool {
    !matches!(t["shipgate.outcome"].as_str(), Some("" | "in-flight"))
}
/// Answered with a body to parse (an empty body, a 204 or a HEAD, has none).
fn answered_with_body(t: &Value) -> bool {
    answered(t) && t["http.response.body.size"].as_u64().is_none_or(|n| n > 0)
}
fn is_chat(t: &Value) -> bool {
    t["gen_ai.operation.name"] == "chat"
}
fn chat_ok(t: &Value) -> bool {
    is_chat(t)
        && t["http.response.status_code"]
            .as_u64()
            .is_some_and(|s| (200..300).contains(&s))
}
fn failed(t: &Value) -> bool {
    t["shipgate.error_category"] != "none"
}
fn string(v: &Value) -> bool {
    v.as_str().is_some_and(|s| !s.is_empty())
}
fn number(v: &Value) -> bool {
    v.is_u64()
}
fn boolean(v: &Value) -> bool {
    v.is_boolean()
}
fn uuid(v: &Value) -> bool {
    v.as_str()
        .is_some_and(|s| s.len() == 36 && s.chars().filter(|c| *c == '-').count() == 4)
}
fn category(v: &Value) -> bool {
    v.as_str()
        .is_some_and(|s| ["chat.completions", "other"].contains(&s))
}
fn list(v: &Value) -> bool {
    v.as_array().is_some_and(|a| !a.is_empty())
}

const RULES: &[Rule] = &[
    Rule {
        id: "obs.request-category",
        title: "sanitized request category",
        attribute: "shipgate.request_category",
        applies: any,
        valid: category,
        needs: None,
    },
    Rule {
        id: "obs.operation",
        title: "operation name",
        attribute: "gen_ai.operation.name",
        applies: any,
        valid: string,
        needs: None,
    },
    Rule {
        id: "obs.model",
        title: "validated model identifier",
        attribute: "gen_ai.request.model",
        applies: chat_ok_naming_a_model,
        valid: string,
        needs: None,
    },
    Rule {
        id: "obs.status",
        title: "HTTP status",
        attribute: "http.response.status_code",
        applies: answered,
        valid: number,
        needs: None,
    },
    Rule {
        id: "obs.error-category",
        title: "application error category",
        attribute: "shipgate.error_category",
        applies: any,
        valid: string,
        needs: None,
    },
    Rule {
        id: "obs.error-type",
        title: "error.type on failures",
        attribute: "error.type",
        applies: failed,
        valid: string,
        needs: None,
    },
    Rule {
        id: "obs.latency",
        title: "latency",
        attribute: "shipgate.latency_ms",
        applies: any,
        valid: number,
        needs: None,
    },
    Rule {
        id: "obs.retry-count",
        title: "retry count",
        attribute: "shipgate.retry_count",
        applies: any,
        valid: number,
        needs: None,
    },
    Rule {
        id: "obs.timeout-count",
        title: "timeout count",
        attribute: "shipgate.timeout_count",
        applies: any,
        valid: number,
        needs: None,
    },
    Rule {
        id: "obs.parse",
        title: "response parse success",
        attribute: "shipgate.parse_ok",
        applies: answered_with_body,
        valid: boolean,
        needs: None,
    },
    Rule {
        id: "obs.correlation-id",
        title: "correlation id generated by the system",
        attribute: "shipgate.correlation_id",
        applies: answered,
        valid: uuid,
        needs: None,
    },
    Rule {
        id: "obs.response-id",
        title: "gen_ai.response.id on successful chat responses",
        attribute: "gen_ai.response.id",
        applies: chat_ok,
        valid: string,
        needs: Some("/id"),
    },
    Rule {
        id: "obs.finish-reasons",
        title: "gen_ai.response.finish_reasons on successful chat responses",
        attribute: "gen_ai.response.finish_reasons",
        applies: chat_ok,
        valid: list,
        needs: Some("/choices/0/finish_reason"),
    },
    Rule {
        id: "obs.server",
        title: "server.address and port",
        attribute: "server.address",
        applies: any,
        valid: string,
        needs: None,
    },
];

/// Judge the run's telemetry. Pure, so it is tested natively.
pub fn judge(telemetry: &[Value], own: Option<&Own>, opts: &Options) -> Vec<Finding> {
    let mut out = Vec::new();
    if telemetry.is_empty() {
        return vec![
            Finding::skip("obs.present", "telemetry is recorded for every request")
                .detail("no request was recorded in this run"),
        ];
    }
    let label = |t: &Value| {
        format!(
            "{} #{}",
            t["shipgate.operation"].as_str().unwrap_or("?"),
            t["shipgate.correlation_id"].as_str().unwrap_or("?")
        )
    };
    for r in RULES {
        if let Some(field) = r.needs
            && !opts.listed_fields.iter().any(|f| f == field)
        {
            out.push(
                Finding::skip(r.id, format!("telemetry records the {}", r.title)).detail(format!(
                    "the contract lists no {field} field, so the provider is not held to it"
                )),
            );
            continue;
        }
        // A request still out (another check's, running beside this one) is
        // not yet recorded: its attributes come when it settles.
        let applicable: Vec<&Value> = telemetry
            .iter()
            .filter(|t| settled(t) && (r.applies)(t))
            .collect();
        let missing: Vec<String> = applicable
            .iter()
            .filter(|t| !(r.valid)(&t[r.attribute]))
            .map(|t| label(t))
            .collect();
        let title = format!("telemetry records the {}", r.title);
        out.push(
            if applicable.is_empty() {
                Finding::skip(r.id, title).detail("no request it applies to")
            } else if missing.is_empty() {
                Finding::pass(r.id, title).detail(format!(
                    "`{}` on all {} requests it applies to",
                    r.attribute,
                    applicable.len()
                ))
            } else {
                Finding::fail(r.id, title).detail(format!(
                    "`{}` missing or malformed on {} of {} requests: {}",
                    r.attribute,
                    missing.len(),
                    applicable.len(),
                    missing.join(", ")
                ))
            }
            .evidence("attribute", r.attribute)
            .covers([item::METRICS_ATTACHED]),
        );
    }
    if opts.usage_documented {
        let ok: Vec<&Value> = telemetry.iter().filter(|t| chat_ok(t)).collect();
        let without: usize = ok
            .iter()
            .filter(|t| {
                !t["gen_ai.usage.input_tokens"].is_u64()
                    || !t["gen_ai.usage.output_tokens"].is_u64()
            })
            .count();
        out.push(
            if ok.is_empty() {
                Finding::skip("obs.usage", "telemetry records token usage")
                    .detail("no successful chat response to judge")
            } else if without == 0 {
                Finding::pass("obs.usage", "telemetry records token usage").detail(format!(
                    "gen_ai.usage.input_tokens/output_tokens on {} successful chat responses",
                    ok.len()
                ))
            } else {
                Finding::fail("obs.usage", "telemetry records token usage").detail(format!(
                    "{without} successful chat responses without gen_ai.usage.*"
                ))
            }
            .covers([item::METRICS_ATTACHED, item::USAGE_FIELDS_VERIFIED]),
        );
    }
    // Message content is opt-in only.
    let content: Vec<String> = telemetry
        .iter()
        .filter(|t| !t["gen_ai.input.messages"].is_null() || !t["gen_ai.output.messages"].is_null())
        .map(label)
        .collect();
    out.push(
        if content.is_empty() {
            Finding::pass("obs.no-content", "telemetry holds no message content")
        } else {
            Finding::fail("obs.no-content", "telemetry holds no message content").detail(format!(
                "gen_ai.*.messages recorded on {}",
                content.join(", ")
            ))
        }
        .covers([item::LOGS_REDACTED]),
    );
    if let Some(own) = own {
        let mine = telemetry
            .iter()
            .find(|t| t["shipgate.correlation_id"] == own.correlation_id.as_str());
        if let Some(pid) = &own.provider_request_id {
            let recorded = mine.and_then(|t| t["shipgate.provider_request_id"].as_str());
            out.push(
                Finding::check(
                    recorded == Some(pid.as_str()),
                    "obs.provider-request-id",
                    "the provider request id is recorded when returned",
                )
                .detail(format!(
                    "returned {pid:?}, recorded {}",
                    shipgate_sdk::text::shown(recorded)
                ))
                .covers([item::METRICS_ATTACHED]),
            );
        }
    }
    out
}

impl Check for Observability {
    fn describe() -> Descriptor {
        Descriptor::new(
            "observability",
            env!("CARGO_PKG_VERSION"),
            "telemetry has what the guide's step 6 lists, named after OpenTelemetry GenAI",
        )
        .covers([item::METRICS_ATTACHED])
        .findings([
            "obs.present",
            "obs.request-category",
            "obs.operation",
            "obs.model",
            "obs.status",
            "obs.error-category",
            "obs.error-type",
            "obs.latency",
            "obs.retry-count",
            "obs.timeout-count",
            "obs.parse",
            "obs.correlation-id",
            "obs.response-id",
            "obs.finish-reasons",
            "obs.server",
            "obs.usage",
            "obs.no-content",
            "obs.provider-request-id",
        ])
    }

    fn run() -> Result<Vec<Finding>, String> {
        let target = context::target();
        let own = ChatRequest::new(&target.model)
            .user("Return the word READY and nothing else.")
            .max_tokens(context::limits().output_token_ceiling)
            .operation("observability")
            .send()
            .ok()
            .map(|r| Own {
                correlation_id: r.http.correlation_id.clone(),
                provider_request_id: r.http.provider_request_id.clone(),
            });
        let contract = context::contract();
        let mut listed: Vec<String> = contract["response"]["fields"]
            .as_object()
            .map(|o| o.keys().cloned().collect())
            .unwrap_or_default();
        listed.extend(
            contract["response"]["documented_fields"]
                .as_array()
                .map(|a| {
                    a.iter()
                        .filter_map(|v| v.as_str().map(str::to_owned))
                        .collect::<Vec<_>>()
                })
                .unwrap_or_default(),
        );
        let opts = Options {
            usage_documented: contract["usage"]["documented"].as_bool().unwrap_or(false),
            listed_fields: listed,
        };
        Ok(judge(&context::telemetry(), own.as_ref(), &opts))
    }
}

shipgate_sdk::export_check!(Observability);

#[cfg(test)]
mod tests {
    use super::*;
    use shipgate_sdk::Verdict;
    use shipgate_sdk::serde_json::json;

    fn good() -> Value {
        json!({
            "shipgate.operation": "canary", "gen_ai.operation.name": "chat", "shipgate.request_category": "chat.completions",
            "gen_ai.request.model": "m", "http.response.status_code": 200, "shipgate.outcome": "response",
            "shipgate.error_category": "none", "error.type": null, "shipgate.latency_ms": 12, "shipgate.retry_count": 0,
            "shipgate.timeout_count": 0, "shipgate.parse_ok": true, "shipgate.correlation_id": "2b9f0a9e-5f6e-4c9b-8d7a-0e1f2a3b4c5d",
            "shipgate.correlation_header": "x-client-request-id", "shipgate.provider_request_id": "req_1",
            "gen_ai.response.id": "chatcmpl-1", "gen_ai.response.finish_reasons": ["stop"], "server.address": "127.0.0.1",
            "gen_ai.usage.input_tokens": 10, "gen_ai.usage.output_tokens": 1
        })
    }

    fn opts() -> Options {
        Options {
            usage_documented: true,
            listed_fields: vec!["/id".into(), "/choices/0/finish_reason".into()],
        }
    }

    #[test]
    fn a_provider_is_not_held_to_fields_nobody_documented() {
        let mut t = good();
        t.as_object_mut().unwrap().remove("gen_ai.response.id");
        let fs = judge(
            &[t],
            None,
            &Options {
                usage_documented: true,
                listed_fields: vec![],
            },
        );
        assert_eq!(verdict(&fs, "obs.response-id"), Verdict::Skip);
        assert_eq!(verdict(&fs, "obs.finish-reasons"), Verdict::Skip);
        // And usage on no successful response is not a pass.
        let mut failed = good();
        failed["http.response.status_code"] = json!(500);
        assert_eq!(
            verdict(&judge(&[failed], None, &opts()), "obs.usage"),
            Verdict::Skip
        );
    }

    fn verdict(fs: &[Finding], id: &str) -> Verdict {
        fs.iter()
            .find(|f| f.id == id)
            .unwrap_or_else(|| panic!("{id}"))
            .verdict
    }

    #[test]
    fn complete_telemetry_passes() {
        let own = Own {
            correlation_id: "2b9f0a9e-5f6e-4c9b-8d7a-0e1f2a3b4c5d".into(),
            provider_request_id: Some("req_1".into()),
        };
        let fs = judge(&[good()], Some(&own), &opts());
        assert!(fs.iter().all(|f| f.verdict != Verdict::Fail), "{fs:#?}");
        assert_eq!(verdict(&fs, "obs.provider-request-id"), Verdict::Pass);
    }

    #[test]
    fn each_removed_field_fails_its_rule() {
        for r in RULES {
            let mut t = good();
            if r.attribute == "error.type" {
                // Only required on failures: make it a failure without error.type.
                t["shipgate.error_category"] = json!("transient");
            } else {
                t.as_object_mut().unwrap().remove(r.attribute);
            }
            let fs = judge(&[t], None, &opts());
            assert_eq!(
                verdict(&fs, r.id),
                Verdict::Fail,
                "removing {} did not fail {}",
                r.attribute,
                r.id
            );
        }
    }

    #[test]
    fn missing_usage_content_and_wrong_model_fail() {
        let mut t = good();
        t.as_object_mut()
            .unwrap()
            .remove("gen_ai.usage.input_tokens");
        t["gen_ai.input.messages"] = json!([{"role": "user", "content": "hi"}]);
        let fs = judge(&[t], None, &opts());
        assert_eq!(verdict(&fs, "obs.usage"), Verdict::Fail);
        assert_eq!(verdict(&fs, "obs.no-content"), Verdict::Fail);
    }

    #[test]
    fn unrecorded_provider_request_id_fails() {
        let mut t = good();
        t["shipgate.provider_request_id"] = Value::Null;
        let own = Own {
            correlation_id: "2b9f0a9e-5f6e-4c9b-8d7a-0e1f2a3b4c5d".into(),
            provider_request_id: Some("req_1".into()),
        };
        assert_eq!(
            verdict(&judge(&[t], Some(&own), &opts()), "obs.provider-request-id"),
            Verdict::Fail
        );
    }

    mod whole_check {
        //! The whole check against the SDK's scripted host (which found the
        //! descriptor declaring `obs.category` for `obs.request-category`).
        use super::super::Observability;
        use super::good;
        use shipgate_sdk::Verdict;
        use shipgate_sdk::serde_json::{Value, json};
        use shipgate_sdk::testing::{Harness, Reply};

        /// A success that carries no provider request id.
        fn plain() -> Reply {
            Reply::json(
                200,
                &json!({"id": "c1", "model": "mock-gpt",
                        "choices": [{"message": {"content": "READY"}, "finish_reason": "stop"}]}),
            )
        }

        /// The check's own request as the host records it (the harness's
        /// correlation ids are `testing-N`).
        fn own(provider_request_id: &str) -> Value {
            let mut t = good();
            t["shipgate.operation"] = json!("observability");
            t["shipgate.correlation_id"] = json!("testing-1");
            t["shipgate.provider_request_id"] = json!(provider_request_id);
            t
        }

        #[test]
        fn a_run_with_no_recorded_request_is_skipped() {
            let out = Harness::new().reply(plain()).run::<Observability>();
            assert_eq!(out.findings.len(), 1);
            assert_eq!(out.verdict("obs.present"), Verdict::Skip);
        }

        #[test]
        fn a_request_still_out_is_not_judged() {
            // Another check's request, admitted and not yet answered.
            let mut out_now = good();
            for k in [
                "http.response.status_code",
                "shipgate.parse_ok",
                "error.type",
            ] {
                out_now[k] = Value::Null;
            }
            out_now["shipgate.outcome"] = json!("in-flight");
            out_now["shipgate.error_category"] = json!("request-construction");
            let out = Harness::new()
                .telemetry(vec![good(), out_now])
                .reply(plain())
                .run::<Observability>();
            for f in &out.findings {
                assert_ne!(f.verdict, Verdict::Fail, "{f:?}");
            }
            assert_eq!(out.verdict("obs.error-type"), Verdict::Skip);
        }

        #[test]
        fn a_probe_without_a_model_has_none_to_record() {
            // negative-probes' model-less request, which a lax provider answers 200.
            let mut probe = good();
            probe["gen_ai.request.model"] = Value::Null;
            probe["shipgate.request_shape"] = json!({"messages": []});
            let out = Harness::new()
                .telemetry(vec![good(), probe])
                .reply(plain())
                .run::<Observability>();
            assert_eq!(
                out.verdict("obs.model"),
                Verdict::Pass,
                "{:?}",
                out.finding("obs.model")
            );
        }

        #[test]
        fn an_empty_answer_has_nothing_to_parse() {
            // A 503 with an empty body: the host records its size and no parse_ok.
            let mut empty = good();
            empty["http.response.status_code"] = json!(503);
            empty["shipgate.error_category"] = json!("transient");
            empty["error.type"] = json!("transient");
            empty["http.response.body.size"] = json!(0);
            empty.as_object_mut().unwrap().remove("shipgate.parse_ok");
            let out = Harness::new()
                .telemetry(vec![good(), empty.clone()])
                .reply(plain())
                .run::<Observability>();
            assert_eq!(
                out.verdict("obs.parse"),
                Verdict::Pass,
                "{:?}",
                out.finding("obs.parse")
            );
            // With a body, a missing parse_ok is the host's omission.
            empty["http.response.body.size"] = json!(12);
            let out = Harness::new()
                .telemetry(vec![good(), empty])
                .reply(plain())
                .run::<Observability>();
            assert_eq!(out.verdict("obs.parse"), Verdict::Fail);
        }

        #[test]
        fn complete_telemetry_passes_every_rule() {
            let mut failure = good();
            failure["http.response.status_code"] = json!(503);
            failure["shipgate.error_category"] = json!("transient");
            failure["error.type"] = json!("503");
            let out = Harness::new()
                .telemetry(vec![good(), failure])
                .reply(plain())
                .run::<Observability>();
            assert_eq!(out.findings.len(), 16);
            for f in &out.findings {
                assert_eq!(f.verdict, Verdict::Pass, "{f:?}");
            }
        }

        #[test]
        fn message_content_and_a_failure_without_error_type_fail() {
            let mut content = good();
            content["gen_ai.output.messages"] = json!([{"role": "assistant", "content": "READY"}]);
            let mut failure = good();
            failure["http.response.status_code"] = json!(503);
            failure["shipgate.error_category"] = json!("transient");
            let out = Harness::new()
                .telemetry(vec![content, failure])
                .reply(plain())
                .run::<Observability>();
            assert_eq!(out.verdict("obs.no-content"), Verdict::Fail);
            assert_eq!(out.verdict("obs.error-type"), Verdict::Fail);
            assert_eq!(out.verdict("obs.status"), Verdict::Pass);
        }

        #[test]
        fn a_provider_request_id_recorded_wrong_fails() {
            let out = Harness::new()
                .telemetry(vec![own("req-testing")])
                .reply(Reply::chat("READY"))
                .run::<Observability>();
            assert_eq!(out.verdict("obs.provider-request-id"), Verdict::Pass);

            let out = Harness::new()
                .telemetry(vec![own("req-other")])
                .reply(Reply::chat("READY"))
                .run::<Observability>();
            assert_eq!(out.verdict("obs.provider-request-id"), Verdict::Fail);
            assert_eq!(
                out.finding("obs.provider-request-id").detail,
                "returned \"req-testing\", recorded \"req-other\""
            );
        }

        /// Findings no provider, contract, plan or application can make fail: (id, why).
        const CANNOT_FAIL: &[(&str, &str)] = &[
            (
                "obs.present",
                "only ever Skip: it says no request was recorded, so there was nothing to judge",
            ),
            // The host fills these in itself, whatever the provider, contract,
            // plan or application do: only a bug in shipgate breaks them.
            (
                "obs.request-category",
                "host-only: the host writes chat.completions or other on every record",
            ),
            (
                "obs.operation",
                "host-only: the host writes chat or http on every record",
            ),
            (
                "obs.status",
                "host-only: the host records the status of every answered request",
            ),
            (
                "obs.error-category",
                "host-only: the host writes a category on every record",
            ),
            (
                "obs.latency",
                "host-only: a number the host writes on every record",
            ),
            (
                "obs.retry-count",
                "host-only: a number the host writes on every record",
            ),
            (
                "obs.timeout-count",
                "host-only: a number the host writes on every record",
            ),
            (
                "obs.correlation-id",
                "host-only: the host makes a UUID v4 for every admitted request",
            ),
            (
                "obs.server",
                "host-only: the host of the contract's validated base URL",
            ),
            (
                "obs.no-content",
                "host-only: the host's telemetry record has no message-content field",
            ),
            (
                "obs.provider-request-id",
                "host-only: what was returned and what was recorded come from the same host rule",
            ),
        ];

        /// Every finding can fail, and a test shows it failing.
        #[test]
        fn every_declared_finding_can_fail() {
            // `good()` with the attributes at `unset` null: as the host records them
            // when the answer (or the moment) lacks them.
            let without = |unset: &[&str]| {
                let mut t = good();
                for k in unset {
                    t[*k] = Value::Null;
                }
                t
            };
            let telemetry = |t: Value| Harness::new().telemetry(vec![t]).reply(plain());
            let sized = |mut t: Value| {
                t["http.response.body.size"] = json!(120);
                t
            };
            let with_shape = |mut t: Value| {
                t["shipgate.request_shape"] = json!({"model": "m", "messages": []});
                t
            };
            // A failure recorded without its `error.type`.
            let mut untyped = without(&["error.type"]);
            untyped["http.response.status_code"] = json!(503);
            untyped["shipgate.error_category"] = json!("transient");
            let mut no_finish = good();
            no_finish["gen_ai.response.finish_reasons"] = json!([]);
            let cases: Vec<(&str, Harness)> = vec![
                // A chat request that named a model, recorded without it.
                (
                    "obs.model",
                    telemetry(with_shape(without(&["gen_ai.request.model"]))),
                ),
                // An answer with a body, recorded without parse_ok.
                (
                    "obs.parse",
                    telemetry(sized(without(&["shipgate.parse_ok"]))),
                ),
                ("obs.error-type", telemetry(untyped)),
                // A provider's 2xx without `id`, `finish_reason` or `usage`.
                (
                    "obs.response-id",
                    telemetry(without(&["gen_ai.response.id"])),
                ),
                ("obs.finish-reasons", telemetry(no_finish)),
                (
                    "obs.usage",
                    telemetry(without(&["gen_ai.usage.input_tokens"])),
                ),
            ];
            shipgate_sdk::testing::assert_every_finding_can_fail::<Observability>(
                &cases,
                &[],
                CANNOT_FAIL,
            );
        }
    }
}
