//! The guide's step 1 and the parser test: does the integration match the
//! current documentation, and does its parser hold against what came back?
//!
//! - Every contract section cites a source and an access date no older than
//!   `max_age_days` (setting, default 90): "current API reference checked".
//! - The observed successful response has every field the application parses
//!   (`response.fields`, JSON pointers) with the declared type; missing fields
//!   fail, unknown extra fields are tolerated and listed as evidence.
//! - A parsed field the provider does not document (`response.documented_fields`)
//!   fails: the guide's FAQ holds a rollout whose "response parsing depends on
//!   unverified fields".
#![forbid(unsafe_code)]

use shipgate_sdk::chat::ChatRequest;
use shipgate_sdk::checklist as item;
use shipgate_sdk::serde_json::Value;
use shipgate_sdk::{Check, Descriptor, Finding, Verdict, context};

struct ContractCheck;

const SECTIONS: &[&str] = &[
    "base_url",
    "endpoint",
    "auth",
    "request",
    "response",
    "errors",
    "usage",
    "rate_limits",
    "billing",
];

fn type_ok(ty: &str, v: &Value) -> bool {
    match ty {
        "string" => v.is_string(),
        "integer" => v.is_i64() || v.is_u64(),
        "number" => v.is_number(),
        "boolean" => v.is_boolean(),
        "object" => v.is_object(),
        "array" => v.is_array(),
        _ => false,
    }
}

/// Every leaf pointer of a JSON value (arrays sampled at index 0).
pub fn leaves(v: &Value, at: &str, out: &mut Vec<String>) {
    match v {
        Value::Object(o) if !o.is_empty() => o.iter().for_each(|(k, x)| {
            leaves(
                x,
                &format!("{at}/{}", k.replace('~', "~0").replace('/', "~1")),
                out,
            )
        }),
        Value::Array(a) if !a.is_empty() => leaves(&a[0], &format!("{at}/0"), out),
        _ => out.push(at.to_owned()),
    }
}

/// Judge a successful response against the contract's parsed and documented fields. Pure.
pub fn judge_response(
    body: &Value,
    parsed: &[(String, String)],
    documented: &[String],
) -> Vec<Finding> {
    let mut missing = Vec::new();
    let mut wrong = Vec::new();
    for (pointer, ty) in parsed {
        match body.pointer(pointer) {
            None | Some(Value::Null) => missing.push(pointer.clone()),
            Some(v) if !type_ok(ty, v) => wrong.push(format!("{pointer} is not {ty}")),
            Some(_) => {}
        }
    }
    let mut seen = Vec::new();
    leaves(body, "", &mut seen);
    let known = |p: &str| {
        parsed
            .iter()
            .any(|(q, _)| p == q || p.starts_with(&format!("{q}/")))
            || documented
                .iter()
                .any(|d| p == d || p.starts_with(&format!("{d}/")))
    };
    // Unknown extra fields are tolerated (the parser ignores them): listed as evidence.
    let extra: Vec<&str> = seen
        .iter()
        .filter(|p| !known(p))
        .map(String::as_str)
        .collect();
    let title = "the observed response has every field the application parses";
    let mut out = vec![
        if missing.is_empty() && wrong.is_empty() {
            Finding::pass("contract.parsed-fields", title).detail(format!(
                "{} parsed fields present with their declared types",
                parsed.len()
            ))
        } else {
            Finding::fail("contract.parsed-fields", title).detail(
                [
                    (!missing.is_empty()).then(|| format!("missing: {}", missing.join(", "))),
                    (!wrong.is_empty()).then(|| wrong.join(", ")),
                ]
                .into_iter()
                .flatten()
                .collect::<Vec<_>>()
                .join("; "),
            )
        }
        .evidence("unknown_fields", extra.join(", "))
        .covers([item::RESPONSE_PARSER_TESTED]),
    ];
    if documented.is_empty() {
        out.push(
            Finding::skip(
                "contract.undocumented-parsing",
                "the parser reads only documented fields",
            )
            .detail("response.documented_fields is not recorded in the contract"),
        );
    } else {
        let undocumented: Vec<&str> = parsed
            .iter()
            .map(|(p, _)| p.as_str())
            .filter(|p| !documented.iter().any(|d| d == p))
            .collect();
        out.push(
            if undocumented.is_empty() {
                Finding::pass(
                    "contract.undocumented-parsing",
                    "the parser reads only documented fields",
                )
            } else {
                Finding::fail(
                    "contract.undocumented-parsing",
                    "the parser reads only documented fields",
                )
                .detail(format!(
                    "response parsing depends on undocumented fields: {} (document them in response.documented_fields from the provider's page, or stop parsing them)",
                    undocumented.join(", ")
                ))
            }
            .covers([item::RESPONSE_PARSER_TESTED]),
        );
    }
    out
}

/// Judge the contract's sources and access dates. Pure; `today` is days since 1970.
pub fn judge_sources(contract: &Value, today_days: i64, max_age_days: i64) -> Finding {
    let mut problems = Vec::new();
    for s in SECTIONS {
        let sec = &contract[*s];
        let source = sec["source"].as_str().unwrap_or("");
        if source.trim().is_empty() {
            problems.push(format!("[{s}] cites no source"));
        }
        match sec["accessed"].as_str().and_then(days_from_date) {
            Some(d) if today_days - d > max_age_days => {
                problems.push(format!("[{s}] was read {} days ago", today_days - d))
            }
            Some(d) if d > today_days + 1 => problems.push(format!("[{s}] is dated in the future")),
            Some(_) => {}
            None => problems.push(format!("[{s}] has no access date")),
        }
    }
    let title = "the current API reference was checked";
    if problems.is_empty() {
        Finding::pass("contract.sources", title).detail(format!(
            "every section cites a source read within {max_age_days} days"
        ))
    } else {
        // A stale snapshot is contract uncertainty: the guide holds on it.
        Finding::fail("contract.sources", title).detail(problems.join("; "))
    }
    .evidence("max_age_days", max_age_days)
}

/// Days since 1970-01-01 of a `YYYY-MM-DD` date (civil calendar).
pub fn days_from_date(s: &str) -> Option<i64> {
    let mut it = s.split('-');
    let (y, m, d): (i64, i64, i64) = (
        it.next()?.parse().ok()?,
        it.next()?.parse().ok()?,
        it.next()?.parse().ok()?,
    );
    if !(1..=12).contains(&m) || !(1..=31).contains(&d) {
        return None;
    }
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    Some(era * 146_097 + doe - 719_468)
}

impl Check for ContractCheck {
    fn describe() -> Descriptor {
        Descriptor::new(
            "contract",
            env!("CARGO_PKG_VERSION"),
            "documentation alignment and the parser test against the observed response",
        )
        .needs_canary()
        .covers([item::RESPONSE_PARSER_TESTED])
        .findings([
            "contract.sources",
            "contract.parsed-fields",
            "contract.undocumented-parsing",
        ])
        .setting(
            "max_age_days",
            shipgate_sdk::SettingKind::Integer,
            Some("90"),
            "how old a contract section's access date may be",
        )
    }

    fn run() -> Result<Vec<Finding>, String> {
        let contract = context::contract();
        let max_age: i64 = context::setting_or("max_age_days", 90)?;
        // The guest's wall clock is the host's (WASI); days since 1970.
        let today = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| (d.as_secs() / 86_400) as i64)
            .unwrap_or(0);
        let mut out = vec![judge_sources(&contract, today, max_age)];
        let parsed: Vec<(String, String)> = contract["response"]["fields"]
            .as_object()
            .map(|o| {
                o.iter()
                    .map(|(k, v)| (k.clone(), v.as_str().unwrap_or("").to_owned()))
                    .collect()
            })
            .unwrap_or_default();
        let documented: Vec<String> = contract["response"]["documented_fields"]
            .as_array()
            .map(|a| {
                a.iter()
                    .filter_map(|v| v.as_str().map(str::to_owned))
                    .collect()
            })
            .unwrap_or_default();
        let target = context::target();
        let r = ChatRequest::new(&target.model)
            .user("Return the word READY and nothing else.")
            .max_tokens(context::limits().output_token_ceiling)
            .operation("contract.parser")
            .send();
        match r {
            Ok(r) if r.http.is_success() => match &r.body {
                Ok(body) => out.extend(judge_response(body, &parsed, &documented)),
                Err(e) => out.push(
                    Finding::fail(
                        "contract.parsed-fields",
                        "the observed response has every field the application parses",
                    )
                    .detail(format!("body is not JSON: {e}")),
                ),
            },
            Ok(r) => out.push(
                Finding::new(
                    Verdict::Skip,
                    "contract.parsed-fields",
                    "the observed response has every field the application parses",
                )
                .detail(format!(
                    "no successful response to test the parser on (HTTP {})",
                    r.status()
                )),
            ),
            Err(e) => out.push(
                Finding::new(
                    Verdict::Skip,
                    "contract.parsed-fields",
                    "the observed response has every field the application parses",
                )
                .detail(e.to_string()),
            ),
        }
        Ok(out)
    }
}

shipgate_sdk::export_check!(ContractCheck);

#[cfg(test)]
mod tests {
    use super::*;
    use shipgate_sdk::serde_json::json;

    fn parsed() -> Vec<(String, String)> {
        vec![
            ("/id".into(), "string".into()),
            ("/choices/0/message/content".into(), "string".into()),
            ("/usage/total_tokens".into(), "integer".into()),
        ]
    }

    fn body() -> Value {
        json!({"id": "x", "choices": [{"message": {"content": "READY", "role": "assistant"}}], "usage": {"total_tokens": 3, "latency_checkpoint": 1}})
    }

    #[test]
    fn passes_and_lists_extra_fields() {
        let fs = judge_response(&body(), &parsed(), &[]);
        assert_eq!(fs[0].verdict, Verdict::Pass);
        let extra = &fs[0]
            .evidence
            .iter()
            .find(|e| e.0 == "unknown_fields")
            .unwrap()
            .1;
        assert!(
            extra.contains("/usage/latency_checkpoint")
                && extra.contains("/choices/0/message/role"),
            "{extra}"
        );
        assert_eq!(fs[1].verdict, Verdict::Skip);
    }

    #[test]
    fn missing_and_mistyped_fields_fail() {
        let mut b = body();
        b.as_object_mut().unwrap().remove("id");
        b["usage"]["total_tokens"] = json!("3");
        let fs = judge_response(&b, &parsed(), &[]);
        assert_eq!(fs[0].verdict, Verdict::Fail);
        assert!(
            fs[0].detail.contains("missing: /id")
                && fs[0].detail.contains("/usage/total_tokens is not integer"),
            "{}",
            fs[0].detail
        );
    }

    #[test]
    fn parsing_an_undocumented_field_fails() {
        let documented = vec!["/id".to_owned(), "/choices/0/message/content".to_owned()];
        let fs = judge_response(&body(), &parsed(), &documented);
        let f = fs
            .iter()
            .find(|f| f.id == "contract.undocumented-parsing")
            .unwrap();
        assert_eq!(f.verdict, Verdict::Fail);
        assert!(f.detail.contains("/usage/total_tokens"));
    }

    #[test]
    fn stale_or_missing_sources_warn() {
        let sec = |d: &str| json!({"source": "https://docs", "accessed": d});
        let mut c = json!({});
        for s in SECTIONS {
            c[*s] = sec("2026-11-01");
        }
        let today = days_from_date("2026-11-30").unwrap();
        assert_eq!(judge_sources(&c, today, 90).verdict, Verdict::Pass);
        c["billing"] = sec("2025-01-01");
        assert_eq!(judge_sources(&c, today, 90).verdict, Verdict::Fail);
        assert_eq!(days_from_date("1970-01-01"), Some(0));
        assert_eq!(days_from_date("2000-03-01"), Some(11_017));
    }

    mod whole_check {
        //! The whole check against the SDK's scripted host.
        use super::super::ContractCheck;
        use shipgate_sdk::Verdict;
        use shipgate_sdk::serde_json::json;
        use shipgate_sdk::testing::{Harness, Reply};

        /// The mock contract, with an age limit its access dates
        /// (2026-01-01) meet whenever the test runs.
        fn harness() -> Harness {
            Harness::new().setting("max_age_days", "9000")
        }

        #[test]
        fn a_documented_answer_passes_every_criterion() {
            let out = harness().reply(Reply::chat("READY")).run::<ContractCheck>();
            for id in [
                "contract.sources",
                "contract.parsed-fields",
                "contract.undocumented-parsing",
            ] {
                assert_eq!(
                    out.verdict(id),
                    Verdict::Pass,
                    "{id}: {:?}",
                    out.finding(id)
                );
            }
            assert_eq!(
                out.evidence("contract.parsed-fields", "unknown_fields"),
                Some("")
            );
        }

        #[test]
        fn a_missing_and_a_mistyped_parsed_field_fail() {
            let body = json!({"id": "c1", "object": "chat.completion", "created": "yesterday",
                "model": "mock-gpt",
                "choices": [{"index": 0, "message": {"role": "assistant", "content": "READY"}, "finish_reason": "stop"}],
                "usage": {"prompt_tokens": 1, "completion_tokens": 1}, "x_gateway": "g1"});
            let out = harness()
                .reply(Reply::json(200, &body))
                .run::<ContractCheck>();
            assert_eq!(out.verdict("contract.parsed-fields"), Verdict::Fail);
            assert_eq!(
                out.finding("contract.parsed-fields").detail,
                "missing: /usage/total_tokens; /created is not integer"
            );
            assert_eq!(
                out.evidence("contract.parsed-fields", "unknown_fields"),
                Some("/x_gateway")
            );
        }

        #[test]
        fn parsing_a_field_the_provider_does_not_document_fails() {
            let out = harness()
                .contract_value(
                    "/response/documented_fields",
                    json!(["/id", "/object", "/created", "/model", "/choices", "/usage"]),
                )
                .reply(Reply::chat("READY"))
                .run::<ContractCheck>();
            assert_eq!(out.verdict("contract.undocumented-parsing"), Verdict::Fail);
            let detail = &out.finding("contract.undocumented-parsing").detail;
            assert!(detail.contains("/choices/0/message/content"), "{detail}");
            assert!(detail.contains("/usage/total_tokens"), "{detail}");
        }

        #[test]
        fn an_unsourced_or_stale_section_fails_sources() {
            let out = harness()
                .contract_value("/billing/source", json!(""))
                .contract_value("/auth/accessed", json!("2000-01-01"))
                .reply(Reply::chat("READY"))
                .run::<ContractCheck>();
            assert_eq!(out.verdict("contract.sources"), Verdict::Fail);
            let detail = &out.finding("contract.sources").detail;
            assert!(detail.contains("[billing] cites no source"), "{detail}");
            assert!(detail.contains("[auth] was read"), "{detail}");
        }

        #[test]
        fn no_successful_answer_skips_the_parser_test_and_non_json_fails_it() {
            let out = harness().reply(Reply::status(503)).run::<ContractCheck>();
            assert_eq!(out.verdict("contract.parsed-fields"), Verdict::Skip);

            let out = harness()
                .reply(Reply::text(200, "READY"))
                .run::<ContractCheck>();
            assert_eq!(out.verdict("contract.parsed-fields"), Verdict::Fail);
            assert!(
                out.finding("contract.parsed-fields")
                    .detail
                    .starts_with("body is not JSON"),
                "{:?}",
                out.finding("contract.parsed-fields")
            );
        }

        /// Findings no provider, contract, plan or application can make fail: (id, why).
        const CANNOT_FAIL: &[(&str, &str)] = &[];

        /// Every finding can fail, and a test shows it failing.
        #[test]
        fn every_declared_finding_can_fail() {
            let sourced = |h: Harness| h.reply(Reply::chat("READY"));
            let cases: Vec<(&str, Harness)> =
                vec![
                    (
                        "contract.sources",
                        sourced(harness().contract_value("/billing/source", json!(""))),
                    ),
                    (
                        "contract.parsed-fields",
                        harness().reply(Reply::text(200, "READY")),
                    ),
                    (
                        "contract.undocumented-parsing",
                        sourced(harness().contract_value(
                            "/response/documented_fields",
                            json!(["/id", "/choices"]),
                        )),
                    ),
                ];
            shipgate_sdk::testing::assert_every_finding_can_fail::<ContractCheck>(
                &cases,
                &[],
                CANNOT_FAIL,
            );
        }
    }
}
