//! The application under test's own requests, as it sent them through
//! shipgate's interposer, against the contract and the plan: the validated
//! model, messages present, the output ceiling field set and within the
//! plan's ceiling, only documented fields, under the input limit, and the
//! contract's correlation id header sent. Evidence about the application
//! (`grants.traffic = true`).
#![forbid(unsafe_code)]

use shipgate_sdk::checklist as item;
use shipgate_sdk::serde_json::Value;
use shipgate_sdk::traffic::{self, Episode, Exchange};
use shipgate_sdk::{Check, Descriptor, Finding, Verdict, context};

/// Chat fields an OpenAI-compatible API documents, besides the contract's own.
pub const DOCUMENTED_FIELDS: &[&str] = &[
    "model",
    "messages",
    "max_tokens",
    "max_completion_tokens",
    "temperature",
    "top_p",
    "n",
    "stream",
    "stream_options",
    "stop",
    "presence_penalty",
    "frequency_penalty",
    "logit_bias",
    "user",
    "response_format",
    "seed",
    "tools",
    "tool_choice",
    "parallel_tool_calls",
    "logprobs",
    "top_logprobs",
    "metadata",
    "store",
    "service_tier",
    "reasoning_effort",
    "modalities",
    "audio",
    "prediction",
];

/// The finding ids this check returns.
pub const FINDINGS: [&str; 6] = [
    "client-contract.model",
    "client-contract.messages",
    "client-contract.output-ceiling",
    "client-contract.fields",
    "client-contract.input-limit",
    "client-contract.correlation-id",
];

/// What the requests are judged against.
#[derive(Debug, Clone)]
pub struct Expect {
    /// The contract's chat path (as the application's paths end).
    pub chat_path: String,
    /// The validated model.
    pub model: String,
    /// The contract's output ceiling field (`max_tokens`, …).
    pub ceiling_field: Option<String>,
    /// The plan's output token ceiling.
    pub ceiling: u64,
    /// The plan's input limit, bytes.
    pub input_limit: usize,
    /// The contract's correlation header (lower case).
    pub correlation_header: String,
    /// Fields the contract requires or documents.
    pub documented: Vec<String>,
}

struct Rule {
    judged: usize,
    broken: Vec<String>,
}

impl Rule {
    fn new() -> Rule {
        Rule {
            judged: 0,
            broken: Vec::new(),
        }
    }

    fn finding(self, id: &str, title: &str, bad: Verdict, cover: &str) -> Finding {
        let f = Finding::pass(id, title).covers([cover]);
        if self.judged == 0 {
            return f
                .verdict(Verdict::Skip)
                .detail("the application sent no chat request through shipgate");
        }
        if self.broken.is_empty() {
            return f.detail(format!(
                "{} judged",
                shipgate_sdk::text::count(self.judged, "chat request")
            ));
        }
        let mut shown: Vec<String> = self.broken.clone();
        shown.dedup();
        let more = shown.len().saturating_sub(3);
        shown.truncate(3);
        let more = if more > 0 {
            format!("; and {more} more")
        } else {
            String::new()
        };
        f.verdict(bad).detail(format!("{}{more}", shown.join("; ")))
    }
}

fn is_chat(x: &Exchange, chat_path: &str) -> bool {
    x.method == "POST"
        && x.path.ends_with(chat_path)
        && x.refused.as_deref().is_none_or(|r| !r.contains("key"))
}

/// Judge every chat request of every episode (each logical request once).
pub fn judge(episodes: &[Episode], e: &Expect) -> Vec<Finding> {
    let mut model = Rule::new();
    let mut messages = Rule::new();
    let mut ceiling = Rule::new();
    let mut fields = Rule::new();
    let mut size = Rule::new();
    let mut correlation = Rule::new();
    for ep in episodes {
        for x in ep
            .exchanges
            .iter()
            .filter(|x| x.attempt == 1 && is_chat(x, &e.chat_path))
        {
            let at = format!("{}, request {}", ep.scenario, x.logical);
            let body: Option<Value> = shipgate_sdk::serde_json::from_str(&x.body).ok();
            let obj = body.as_ref().and_then(Value::as_object);
            model.judged += 1;
            messages.judged += 1;
            ceiling.judged += 1;
            fields.judged += 1;
            size.judged += 1;
            correlation.judged += 1;
            if x.body.len() > e.input_limit || x.status == Some(413) {
                size.broken.push(format!(
                    "{at}: over the plan's input_limit_bytes ({})",
                    e.input_limit
                ));
            }
            if !x
                .headers
                .iter()
                .any(|(k, v)| *k == e.correlation_header && !v.is_empty())
            {
                correlation
                    .broken
                    .push(format!("{at}: no {} header", e.correlation_header));
            }
            let Some(obj) = obj else {
                // Not a request the contract describes: it names no model,
                // carries no messages and bounds no output.
                let why = format!("{at}: the body is not a JSON object");
                model.broken.push(why.clone());
                messages.broken.push(why.clone());
                match &e.ceiling_field {
                    Some(_) => ceiling.broken.push(why),
                    None => ceiling.judged -= 1,
                }
                fields.judged -= 1;
                continue;
            };
            match obj.get("model").and_then(Value::as_str) {
                Some(m) if m == e.model => {}
                other => model.broken.push(format!(
                    "{at}: model {}, the contract validates {:?}",
                    shipgate_sdk::text::shown(other),
                    e.model
                )),
            }
            if obj
                .get("messages")
                .and_then(Value::as_array)
                .is_none_or(Vec::is_empty)
            {
                messages.broken.push(format!("{at}: no messages"));
            }
            match &e.ceiling_field {
                Some(field) => match obj.get(field).and_then(Value::as_u64) {
                    Some(n) if n <= e.ceiling => {}
                    Some(n) => ceiling.broken.push(format!(
                        "{at}: {field} = {n}, over the plan's output_token_ceiling {}",
                        e.ceiling
                    )),
                    None => ceiling
                        .broken
                        .push(format!("{at}: no {field}: the output is unbounded")),
                },
                None => ceiling.judged -= 1,
            }
            let unknown: Vec<&str> = obj
                .keys()
                .map(String::as_str)
                .filter(|k| !DOCUMENTED_FIELDS.contains(k) && !e.documented.iter().any(|d| d == k))
                .collect();
            if !unknown.is_empty() {
                fields.broken.push(format!(
                    "{at}: undocumented field{} {}",
                    if unknown.len() == 1 { "" } else { "s" },
                    shipgate_sdk::text::list(&unknown)
                ));
            }
        }
    }
    vec![
        model.finding(
            "client-contract.model",
            "the application asks for the validated model",
            Verdict::Fail,
            item::REQUEST_SCHEMA_VALIDATED,
        ),
        messages.finding(
            "client-contract.messages",
            "the application's requests carry messages",
            Verdict::Fail,
            item::REQUEST_SCHEMA_VALIDATED,
        ),
        ceiling.finding(
            "client-contract.output-ceiling",
            "the application sets an output ceiling within the plan's",
            Verdict::Fail,
            item::TOKEN_LIMITS_CONFIGURABLE,
        ),
        fields.finding(
            "client-contract.fields",
            "the application sends only documented fields",
            Verdict::Warn,
            item::REQUEST_SCHEMA_VALIDATED,
        ),
        size.finding(
            "client-contract.input-limit",
            "the application's requests stay under the input limit",
            Verdict::Fail,
            item::REQUEST_SCHEMA_VALIDATED,
        ),
        correlation.finding(
            "client-contract.correlation-id",
            "the application sends its own correlation id",
            Verdict::Fail,
            item::METRICS_ATTACHED,
        ),
    ]
}

struct ClientContract;

impl Check for ClientContract {
    fn describe() -> Descriptor {
        Descriptor::new(
            "client-contract",
            env!("CARGO_PKG_VERSION"),
            "the application's own requests against the contract and the plan",
        )
        .covers([
            item::REQUEST_SCHEMA_VALIDATED,
            item::TOKEN_LIMITS_CONFIGURABLE,
            item::METRICS_ATTACHED,
        ])
        .findings(FINDINGS)
    }

    fn run() -> Result<Vec<Finding>, String> {
        let episodes = traffic::episodes().map_err(|e| format!("{e:?}"))?;
        let contract = context::contract();
        let target = context::target();
        let limits = context::limits();
        let strings = |v: &Value| -> Vec<String> {
            v.as_array()
                .map(|a| {
                    a.iter()
                        .filter_map(|s| s.as_str().map(str::to_owned))
                        .collect()
                })
                .unwrap_or_default()
        };
        let mut documented = strings(&contract["request"]["required_fields"]);
        documented.extend(strings(&contract["request"]["documented_fields"]));
        Ok(judge(
            &episodes,
            &Expect {
                chat_path: format!("/{}", target.chat_path.trim_start_matches('/')),
                model: target.model,
                ceiling_field: contract["request"]["output_ceiling_field"]
                    .as_str()
                    .map(str::to_owned),
                ceiling: u64::from(limits.output_token_ceiling),
                input_limit: limits.input_limit_bytes as usize,
                correlation_header: contract["observability"]["correlation_header"]
                    .as_str()
                    .unwrap_or("x-client-request-id")
                    .to_ascii_lowercase(),
                documented,
            },
        ))
    }
}

shipgate_sdk::export_check!(ClientContract);

#[cfg(test)]
mod tests {
    use super::*;

    fn chat(body: &str, headers: &[(&str, &str)]) -> Exchange {
        Exchange {
            logical: 0,
            attempt: 1,
            method: "POST".into(),
            path: "/v1/chat/completions".into(),
            headers: headers
                .iter()
                .map(|(k, v)| ((*k).into(), (*v).into()))
                .collect(),
            body: body.into(),
            status: Some(200),
            injected: None,
            refused: None,
            retry_after_ms: None,
            started_ms: 0,
            duration_ms: 1,
            client_aborted: false,
        }
    }

    fn episode(x: Exchange) -> Episode {
        Episode {
            scenario: "clean".into(),
            clears_at: None,
            stall_ms: None,
            exit_code: Some(0),
            timed_out: false,
            wall_ms: 1,
            stdout: String::new(),
            stderr: String::new(),
            exchanges: vec![x],
        }
    }

    fn expect() -> Expect {
        Expect {
            chat_path: "/chat/completions".into(),
            model: "mock-gpt".into(),
            ceiling_field: Some("max_tokens".into()),
            ceiling: 64,
            input_limit: 1000,
            correlation_header: "x-client-request-id".into(),
            documented: vec![],
        }
    }

    fn verdict(f: &[Finding], id: &str) -> Verdict {
        f.iter().find(|f| f.id == id).unwrap().verdict
    }

    #[test]
    fn a_request_by_the_contract_passes_every_rule() {
        let x = chat(
            r#"{"model":"mock-gpt","messages":[{"role":"user","content":"hi"}],"max_tokens":16}"#,
            &[("x-client-request-id", "abc")],
        );
        for f in judge(&[episode(x)], &expect()) {
            assert_eq!(f.verdict, Verdict::Pass, "{f:?}");
        }
    }

    #[test]
    fn each_rule_can_fail() {
        let x = chat(
            r#"{"model":"gpt-5","messages":[],"max_tokens":4096,"temprature":1}"#,
            &[],
        );
        let f = judge(&[episode(x)], &expect());
        assert_eq!(verdict(&f, "client-contract.model"), Verdict::Fail);
        assert_eq!(verdict(&f, "client-contract.messages"), Verdict::Fail);
        assert_eq!(verdict(&f, "client-contract.output-ceiling"), Verdict::Fail);
        assert_eq!(verdict(&f, "client-contract.fields"), Verdict::Warn);
        assert_eq!(verdict(&f, "client-contract.correlation-id"), Verdict::Fail);
        let mut big = chat(r#"{"model":"mock-gpt"}"#, &[]);
        big.status = Some(413);
        let f = judge(&[episode(big)], &expect());
        assert_eq!(verdict(&f, "client-contract.input-limit"), Verdict::Fail);
        let unbounded = chat(
            r#"{"model":"mock-gpt","messages":[{"role":"user","content":"x"}]}"#,
            &[],
        );
        let f = judge(&[episode(unbounded)], &expect());
        assert!(
            f.iter()
                .any(|f| f.detail.contains("no max_tokens: the output is unbounded"))
        );
    }

    #[test]
    fn no_request_is_skipped_never_passed() {
        let f = judge(&[], &expect());
        assert!(f.iter().all(|f| f.verdict == Verdict::Skip));
    }

    mod whole_check {
        //! The whole check against the SDK's scripted host.
        use super::super::{ClientContract, FINDINGS};
        use super::{chat, episode};
        use shipgate_sdk::Verdict;
        use shipgate_sdk::serde_json::json;
        use shipgate_sdk::testing::Harness;
        use shipgate_sdk::traffic::Exchange;

        const GOOD: &str =
            r#"{"model":"mock-gpt","messages":[{"role":"user","content":"hi"}],"max_tokens":16}"#;

        fn good() -> Exchange {
            chat(GOOD, &[("x-client-request-id", "abc")])
        }

        fn run_with(h: Harness, x: Exchange) -> shipgate_sdk::testing::Outcome {
            h.episodes(vec![episode(x)]).run::<ClientContract>()
        }

        #[test]
        fn a_request_by_the_contract_passes_every_rule() {
            let mut retry = chat("not json", &[]);
            retry.attempt = 2;
            let mut models = chat("", &[]);
            models.method = "GET".into();
            models.path = "/v1/models".into();
            models.logical = 1;
            let mut ep = episode(good());
            ep.exchanges.extend([retry, models]);
            let out = Harness::new().episodes(vec![ep]).run::<ClientContract>();
            assert!(out.requests.is_empty(), "the check sends nothing itself");
            for id in FINDINGS {
                assert_eq!(
                    out.verdict(id),
                    Verdict::Pass,
                    "{id}: {:?}",
                    out.finding(id)
                );
                assert_eq!(out.finding(id).detail, "1 chat request judged");
            }
        }

        #[test]
        fn a_body_that_is_not_json_passes_no_body_rule() {
            let out = run_with(Harness::new(), chat("hello", &[]));
            for id in [
                "client-contract.model",
                "client-contract.messages",
                "client-contract.output-ceiling",
                "client-contract.correlation-id",
            ] {
                assert_eq!(out.verdict(id), Verdict::Fail, "{id}");
            }
            assert_eq!(out.verdict("client-contract.fields"), Verdict::Skip);
            assert_eq!(out.verdict("client-contract.input-limit"), Verdict::Pass);
        }

        #[test]
        fn a_ceiling_over_the_plans_fails() {
            let body = GOOD.replace("16", "4096");
            let out = run_with(
                Harness::new(),
                chat(&body, &[("x-client-request-id", "abc")]),
            );
            assert_eq!(out.verdict("client-contract.output-ceiling"), Verdict::Fail);
            assert_eq!(
                out.finding("client-contract.output-ceiling").detail,
                "clean, request 0: max_tokens = 4096, over the plan's output_token_ceiling 64"
            );
            assert_eq!(out.verdict("client-contract.model"), Verdict::Pass);
        }

        #[test]
        fn another_model_and_no_correlation_header_fail() {
            let body = GOOD.replace("mock-gpt", "gpt-4o");
            let out = run_with(Harness::new(), chat(&body, &[("x-request-id", "abc")]));
            assert_eq!(out.verdict("client-contract.model"), Verdict::Fail);
            assert_eq!(out.verdict("client-contract.correlation-id"), Verdict::Fail);
            assert_eq!(
                out.finding("client-contract.correlation-id").detail,
                "clean, request 0: no x-client-request-id header"
            );
        }

        #[test]
        fn the_contracts_header_ceiling_field_and_documented_fields_are_used() {
            let h = || {
                Harness::new()
                    .contract_value("/observability/correlation_header", json!("X-Trace-Id"))
                    .contract_value(
                        "/request/output_ceiling_field",
                        json!("max_completion_tokens"),
                    )
                    .contract_value("/request/documented_fields", json!(["reasoning"]))
            };
            let body = r#"{"model":"mock-gpt","messages":[{"role":"user","content":"hi"}],"max_completion_tokens":16,"reasoning":{}}"#;
            let out = run_with(h(), chat(body, &[("x-trace-id", "t1")]));
            for id in FINDINGS {
                assert_eq!(
                    out.verdict(id),
                    Verdict::Pass,
                    "{id}: {:?}",
                    out.finding(id)
                );
            }
            // The default request is now wrong twice over.
            let out = run_with(h(), good());
            assert_eq!(out.verdict("client-contract.correlation-id"), Verdict::Fail);
            assert_eq!(out.verdict("client-contract.output-ceiling"), Verdict::Fail);
        }

        #[test]
        fn a_body_over_the_plans_input_limit_fails() {
            let limits = shipgate_sdk::context::Limits {
                latency_ms: 2_000,
                latency_hard_ms: 10_000,
                input_limit_bytes: 64,
                output_token_ceiling: 64,
                request_timeout_ms: 30_000,
                retry_max_attempts: 3,
                retry_budget_ms: 20_000,
            };
            let out = run_with(Harness::new().limits(limits), good());
            assert_eq!(out.verdict("client-contract.input-limit"), Verdict::Fail);
            assert_eq!(
                out.finding("client-contract.input-limit").detail,
                "clean, request 0: over the plan's input_limit_bytes (64)"
            );
        }

        #[test]
        fn an_undocumented_field_warns() {
            let body = GOOD.replace(r#""max_tokens":16}"#, r#""max_tokens":16,"temprature":0}"#);
            let out = run_with(Harness::new(), chat(&body, &[("x-client-request-id", "a")]));
            assert_eq!(out.verdict("client-contract.fields"), Verdict::Warn);
            assert_eq!(
                out.finding("client-contract.fields").detail,
                "clean, request 0: undocumented field temprature"
            );
        }

        /// Findings no provider, contract, plan or application can make fail: (id, why).
        const CANNOT_FAIL: &[(&str, &str)] = &[(
            "client-contract.fields",
            "Warn by design: an undocumented field in a request the provider accepted",
        )];

        /// Every finding can fail, and a test shows it failing.
        #[test]
        fn every_declared_finding_can_fail() {
            let id = [("x-client-request-id", "abc")];
            let sent = |body: &str| Harness::new().episodes(vec![episode(chat(body, &id))]);
            let plan = Harness::new();
            let small = plan.clone().limits(shipgate_sdk::context::Limits {
                input_limit_bytes: 64,
                ..plan.thresholds()
            });
            let cases: Vec<(&str, Harness)> = vec![
                (
                    "client-contract.model",
                    sent(&GOOD.replace("mock-gpt", "gpt-4o")),
                ),
                (
                    "client-contract.messages",
                    sent(&GOOD.replace(r#"[{"role":"user","content":"hi"}]"#, "[]")),
                ),
                (
                    "client-contract.output-ceiling",
                    sent(&GOOD.replace("16", "4096")),
                ),
                (
                    "client-contract.input-limit",
                    small.episodes(vec![episode(good())]),
                ),
                (
                    "client-contract.correlation-id",
                    Harness::new().episodes(vec![episode(chat(GOOD, &[]))]),
                ),
            ];
            // Warn by design: each such CANNOT_FAIL entry shown at its worst.
            let warns: Vec<(&str, Harness)> = vec![(
                "client-contract.fields",
                sent(&GOOD.replace(r#""max_tokens":16}"#, r#""max_tokens":16,"temprature":0}"#)),
            )];
            shipgate_sdk::testing::assert_every_finding_can_fail::<ClientContract>(
                &cases,
                &warns,
                CANNOT_FAIL,
            );
        }
    }
}
