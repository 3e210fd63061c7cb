//! The guide's step 3: negative contract probes.
//!
//! Missing auth, an invalid token (a host-made honeytoken), each required
//! field left out in turn, `messages` sent empty, and an unapproved model (a
//! host-made id no provider knows) go out together (one round trip). Each is
//! judged by [`judge`], a pure function: by the host's error category as well
//! as the status, against what the contract documents for that case.
//!
//! The guide's two other probes, a prompt over the application's input limit
//! and a client timeout shorter than the response, are about the
//! application's own limits: against a provider they would only show that
//! shipgate's client works. They are judged from the application's traffic.
#![forbid(unsafe_code)]

use shipgate_sdk::chat::{ChatRequest, ChatResponse};
use shipgate_sdk::checklist as item;
use shipgate_sdk::http::{Auth, ErrorCategory, HttpError, send_all};
use shipgate_sdk::serde_json::Value;
use shipgate_sdk::{Check, Descriptor, Finding, Verdict, context};

struct NegativeProbes;

/// What the contract documents for one case.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Expect {
    /// Documented statuses.
    pub statuses: Vec<u16>,
    /// Documented `error.code`.
    pub code: Option<String>,
}

/// What came back for one probe.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Observed {
    /// HTTP status.
    pub status: u16,
    /// The host's classification.
    pub category: ErrorCategory,
    /// Whether the classification allows a retry.
    pub retryable: bool,
    /// `error.code`, as text.
    pub code: Option<String>,
    /// Whether the body has the documented error shape (a message at the pointer).
    pub shape_ok: bool,
    /// The content type.
    pub content_type: String,
}

/// Judge one probe's answer. Pure: `want` is the category a client must give
/// this failure, `expected` what the contract documents for the case.
/// ` (text/plain)`, or nothing when the response named no content type.
fn content_type(ct: &str) -> String {
    if ct.is_empty() {
        String::new()
    } else {
        format!(" ({ct})")
    }
}

pub fn judge(
    case: &str,
    want: ErrorCategory,
    expected: Option<&Expect>,
    o: &Observed,
) -> (Verdict, String) {
    let status = o.status;
    if (200..300).contains(&status) {
        return (
            Verdict::Fail,
            format!(
                "HTTP {status}: the provider accepted an invalid request ({case}); the integration cannot rely on it to reject bad input"
            ),
        );
    }
    if o.category != want {
        let why = if want == ErrorCategory::Auth && o.retryable {
            format!(
                "auth failure signalled as a transient error (a client will retry it): HTTP {status}{} is classified {}",
                content_type(&o.content_type),
                o.category
            )
        } else if want == ErrorCategory::Auth {
            format!(
                "auth failure not signalled as 401/403: HTTP {status} is classified {}, so a client will not alert on it",
                o.category
            )
        } else {
            format!(
                "HTTP {status}{} is classified {}, expected {want}: the client will branch the wrong way",
                content_type(&o.content_type),
                o.category
            )
        };
        return (Verdict::Fail, why);
    }
    let Some(e) = expected else {
        return (
            Verdict::Warn,
            format!(
                "HTTP {status} classified {} as expected, but the contract documents nothing for `{case}`: add it to [errors.cases]",
                o.category
            ),
        );
    };
    if !e.statuses.contains(&status) {
        return (
            Verdict::Fail,
            format!(
                "HTTP {status}, but the contract documents {} for `{case}`: verify the contract or the provider",
                shipgate_sdk::text::list(&e.statuses)
            ),
        );
    }
    if let Some(code) = &e.code
        && o.code.as_deref() != Some(code.as_str())
    {
        return (
            Verdict::Warn,
            format!(
                "HTTP {status} as documented, but error.code is {}, not the documented {code:?}",
                shipgate_sdk::text::shown(o.code.as_deref())
            ),
        );
    }
    if !o.shape_ok {
        return (
            Verdict::Warn,
            format!(
                "HTTP {status} as documented, but the body{} is not the documented error shape",
                content_type(&o.content_type)
            ),
        );
    }
    (
        Verdict::Pass,
        format!("HTTP {status} as documented; classified {}", o.category),
    )
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

fn observe(r: &ChatResponse) -> Observed {
    let pointer = context::contract_value("/errors/message_pointer")
        .and_then(|v| v.as_str().map(str::to_owned))
        .unwrap_or_else(|| "/error/message".into());
    Observed {
        status: r.status(),
        category: r.http.category,
        retryable: r.http.retryable,
        code: r.pointer("/error/code").and_then(|c| match c {
            Value::String(s) => Some(s.clone()),
            Value::Number(n) => Some(n.to_string()),
            _ => None,
        }),
        shape_ok: r.pointer(&pointer).is_some_and(|m| m.is_string()),
        content_type: r.http.header("content-type").unwrap_or("").to_owned(),
    }
}

/// One provider probe: what it sends and how it is judged.
struct Probe {
    id: String,
    title: String,
    case: String,
    want: ErrorCategory,
    covers: &'static str,
    request: ChatRequest,
}

fn finding(p: &Probe, sent: Result<ChatResponse, HttpError>) -> Finding {
    let f = Finding::pass(format!("probe.{}", p.id), &p.title)
        .covers([item::ERROR_CATEGORIES_TESTED, p.covers])
        .evidence("case", &p.case);
    let r = match sent {
        Ok(r) => r,
        Err(e) => {
            return f
                .verdict(Verdict::Fail)
                .detail(format!("no answer to judge: {e}"));
        }
    };
    let o = observe(&r);
    let expected = expectation(&p.case);
    let (verdict, detail) = judge(&p.case, p.want, expected.as_ref(), &o);
    let f = f
        .verdict(verdict)
        .detail(detail)
        .evidence("status", o.status)
        .evidence("category", o.category)
        .evidence("retryable", o.retryable)
        .evidence("content_type", &o.content_type)
        .evidence(
            "error_shape",
            if o.shape_ok {
                "documented"
            } else {
                "not the documented error shape"
            },
        )
        .evidence("body", r.http.text().chars().take(300).collect::<String>())
        .evidence(
            "contract",
            match &expected {
                Some(e) => format!(
                    "status {}{}",
                    shipgate_sdk::text::list(&e.statuses),
                    e.code
                        .as_ref()
                        .map(|c| format!(", code {c}"))
                        .unwrap_or_default()
                ),
                None => "no expectation documented for this case".into(),
            },
        );
    match &r.http.provider_request_id {
        Some(id) => f.evidence("provider_request_id", id),
        None => f,
    }
}

fn probes(model: &str) -> Vec<Probe> {
    let base = |m: &str| {
        ChatRequest::new(m)
            .user("Return the word READY and nothing else.")
            .max_tokens(8)
    };
    let mut out = vec![
        Probe {
            id: "missing-auth".into(),
            title: "a missing credential is rejected as an auth error".into(),
            case: "missing_auth".into(),
            want: ErrorCategory::Auth,
            covers: item::AUTH_VERIFIED,
            request: base(model)
                .auth(Auth::Omitted)
                .operation("probe.missing-auth"),
        },
        Probe {
            id: "invalid-auth".into(),
            title: "an invalid credential is rejected as an auth error".into(),
            case: "invalid_auth".into(),
            want: ErrorCategory::Auth,
            covers: item::AUTH_VERIFIED,
            request: base(model)
                .auth(Auth::Invalid)
                .operation("probe.invalid-auth"),
        },
    ];
    let required: Vec<String> = context::contract_value("/request/required_fields")
        .and_then(|v| {
            v.as_array().map(|a| {
                a.iter()
                    .filter_map(|s| s.as_str().map(str::to_owned))
                    .collect()
            })
        })
        .unwrap_or_default();
    for field in required {
        out.push(Probe {
            id: format!("missing-{field}"),
            title: format!("a request without `{field}` is rejected as invalid"),
            case: format!("missing_{field}"),
            want: ErrorCategory::Validation,
            covers: item::ERROR_CATEGORIES_TESTED,
            request: base(model)
                .without(&field)
                .operation(&format!("probe.missing-{field}")),
        });
    }
    out.push(Probe {
        id: "empty-messages".into(),
        title: "a request with an empty `messages` list is rejected as invalid".into(),
        case: "empty_messages".into(),
        want: ErrorCategory::Validation,
        covers: item::ERROR_CATEGORIES_TESTED,
        request: ChatRequest::new(model)
            .field("messages", Value::Array(Vec::new()))
            .max_tokens(8)
            .operation("probe.empty-messages"),
    });
    out.push(Probe {
        id: "unknown-model".into(),
        title: "an unapproved model is rejected as invalid".into(),
        case: "unknown_model".into(),
        want: ErrorCategory::Validation,
        covers: item::ERROR_CATEGORIES_TESTED,
        request: base(&context::unapproved_model()).operation("probe.unknown-model"),
    });
    out
}

/// The finding ids this check returns (`probe.missing-*`: one per required field).
const FINDINGS: [&str; 7] = [
    "probe.missing-auth",
    "probe.invalid-auth",
    "probe.missing-model",
    "probe.missing-messages",
    // A required field the contract adds gets its own probe.
    "probe.missing-*",
    "probe.empty-messages",
    "probe.unknown-model",
];

impl Check for NegativeProbes {
    fn describe() -> Descriptor {
        Descriptor::new(
            "negative-probes",
            env!("CARGO_PKG_VERSION"),
            "negative contract probes: auth, required fields, empty messages, unknown model",
        )
        .needs_canary()
        .covers([item::ERROR_CATEGORIES_TESTED, item::AUTH_VERIFIED])
        .findings(FINDINGS)
    }

    fn run() -> Result<Vec<Finding>, String> {
        let target = context::target();
        let probes = probes(&target.model);
        // Independent probes: in flight together.
        let answers = send_all(probes.iter().map(|p| p.request.to_request()).collect());
        let out: Vec<Finding> = probes
            .iter()
            .zip(answers)
            .map(|(p, a)| finding(p, a.map(ChatResponse::new)))
            .collect();

        Ok(out)
    }
}

shipgate_sdk::export_check!(NegativeProbes);

#[cfg(test)]
mod tests {
    use super::*;

    fn obs(status: u16, category: ErrorCategory, retryable: bool, ct: &str) -> Observed {
        Observed {
            status,
            category,
            retryable,
            code: None,
            shape_ok: ct.starts_with("application/json"),
            content_type: ct.to_owned(),
        }
    }

    fn documented(statuses: &[u16]) -> Expect {
        Expect {
            statuses: statuses.to_vec(),
            code: None,
        }
    }

    /// The gateway behaviours of the generic template, row by row. The
    /// category is what the host's classifier gives under that template.
    #[test]
    fn gateway_behaviours_under_the_generic_template() {
        use ErrorCategory::*;
        let json = "application/json";
        // wrong key -> 400 JSON `no_db_connection`
        let (v, d) = judge(
            "invalid_auth",
            Auth,
            Some(&documented(&[401])),
            &obs(400, Validation, false, json),
        );
        assert_eq!(v, Verdict::Fail);
        assert!(
            d.starts_with("auth failure not signalled as 401/403") && d.contains("validation"),
            "{d}"
        );
        // no key -> 500 text/plain
        let (v, d) = judge(
            "missing_auth",
            Auth,
            Some(&documented(&[401])),
            &obs(500, Transient, true, "text/plain"),
        );
        assert_eq!(v, Verdict::Fail);
        assert!(
            d.starts_with("auth failure signalled as a transient error (a client will retry it)"),
            "{d}"
        );
        // `messages` absent -> 400
        let (v, _) = judge(
            "missing_messages",
            Validation,
            Some(&documented(&[400])),
            &obs(400, Validation, false, json),
        );
        assert_eq!(v, Verdict::Pass);
        // `messages: []` -> 200
        let (v, d) = judge(
            "empty_messages",
            Validation,
            Some(&documented(&[400])),
            &obs(200, ErrorCategory::None, false, json),
        );
        assert_eq!(v, Verdict::Fail);
        assert!(d.contains("provider accepted an invalid request"), "{d}");
        // unknown model -> 400: passes when the contract documents 400, else fails naming the status
        let (v, _) = judge(
            "unknown_model",
            Validation,
            Some(&documented(&[400])),
            &obs(400, Validation, false, json),
        );
        assert_eq!(v, Verdict::Pass);
        let (v, d) = judge(
            "unknown_model",
            Validation,
            Some(&documented(&[404])),
            &obs(400, Validation, false, json),
        );
        assert_eq!(v, Verdict::Fail);
        assert!(
            d.starts_with("HTTP 400, but the contract documents 404 for `unknown_model`"),
            "{d}"
        );
    }

    #[test]
    fn documented_code_shape_and_missing_documentation_warn() {
        use ErrorCategory::*;
        let mut o = obs(401, Auth, false, "application/json");
        let e = Expect {
            statuses: vec![401],
            code: Some("invalid_api_key".into()),
        };
        assert_eq!(judge("invalid_auth", Auth, Some(&e), &o).0, Verdict::Warn);
        o.code = Some("invalid_api_key".into());
        assert_eq!(judge("invalid_auth", Auth, Some(&e), &o).0, Verdict::Pass);
        o.shape_ok = false;
        assert_eq!(judge("invalid_auth", Auth, Some(&e), &o).0, Verdict::Warn);
        assert_eq!(
            judge(
                "invalid_auth",
                Auth,
                Option::None,
                &obs(401, Auth, false, "application/json")
            )
            .0,
            Verdict::Warn
        );
        // The wrong category fails even when the status is documented.
        assert_eq!(
            judge(
                "unknown_model",
                Validation,
                Some(&documented(&[503])),
                &obs(503, Transient, true, "application/json")
            )
            .0,
            Verdict::Fail
        );
    }

    mod whole_check {
        //! The whole check against the SDK's scripted host.
        use super::super::NegativeProbes;
        use shipgate_sdk::Verdict;
        use shipgate_sdk::http::Auth;
        use shipgate_sdk::serde_json::json;
        use shipgate_sdk::testing::{Harness, Reply};

        const IDS: [&str; 6] = [
            "probe.missing-auth",
            "probe.invalid-auth",
            "probe.missing-model",
            "probe.missing-messages",
            "probe.empty-messages",
            "probe.unknown-model",
        ];

        /// The documented answers of the mock contract, in the order the
        /// probes go out.
        fn documented() -> [Reply; 6] {
            [
                Reply::error(401, "missing_api_key", "No API key provided"),
                Reply::error(401, "invalid_api_key", "Incorrect API key"),
                Reply::error(400, "missing_required_parameter", "model is required"),
                Reply::error(400, "missing_required_parameter", "messages is required"),
                Reply::error(400, "invalid_value", "messages must not be empty"),
                Reply::error(404, "model_not_found", "The model does not exist"),
            ]
        }

        fn harness(replies: [Reply; 6]) -> Harness {
            replies.into_iter().fold(Harness::new(), Harness::reply)
        }

        #[test]
        fn documented_rejections_pass_every_probe() {
            let out = harness(documented()).run::<NegativeProbes>();
            for id in IDS {
                assert_eq!(
                    out.verdict(id),
                    Verdict::Pass,
                    "{id}: {:?}",
                    out.finding(id)
                );
            }
            assert_eq!(out.findings.len(), 6);
            assert_eq!(out.requests[0].auth, Auth::Omitted);
            assert_eq!(out.requests[1].auth, Auth::Invalid);
            assert!(out.requests[2].json().get("model").is_none());
            assert!(out.requests[3].json().get("messages").is_none());
            assert_eq!(out.requests[4].json()["messages"], json!([]));
            assert_eq!(
                out.requests[5].json()["model"],
                "shipgate-unapproved-model-testing"
            );
        }

        #[test]
        fn accepted_empty_messages_fail() {
            let [a, b, c, d, _, f] = documented();
            let out = harness([a, b, c, d, Reply::chat("READY"), f]).run::<NegativeProbes>();
            assert_eq!(out.verdict("probe.empty-messages"), Verdict::Fail);
            assert_eq!(out.evidence("probe.empty-messages", "status"), Some("200"));
            assert_eq!(out.verdict("probe.missing-messages"), Verdict::Pass);
        }

        #[test]
        fn a_missing_key_answered_as_a_server_error_fails() {
            let [_, b, c, d, e, f] = documented();
            let out = harness([Reply::text(500, "Internal Server Error"), b, c, d, e, f])
                .run::<NegativeProbes>();
            assert_eq!(out.verdict("probe.missing-auth"), Verdict::Fail);
            assert_eq!(
                out.evidence("probe.missing-auth", "retryable"),
                Some("true")
            );
            assert!(
                out.finding("probe.missing-auth")
                    .detail
                    .starts_with("auth failure signalled as a transient error"),
                "{:?}",
                out.finding("probe.missing-auth")
            );
            assert_eq!(out.verdict("probe.invalid-auth"), Verdict::Pass);
        }

        #[test]
        fn an_unknown_model_with_another_code_or_status_is_flagged() {
            let [a, b, c, d, e, _] = documented();
            let out = harness([
                a,
                b,
                c,
                d,
                e,
                Reply::error(404, "not_found", "no such model"),
            ])
            .run::<NegativeProbes>();
            assert_eq!(out.verdict("probe.unknown-model"), Verdict::Warn);

            let [a, b, c, d, e, _] = documented();
            let out = harness([a, b, c, d, e, Reply::error(400, "model_not_found", "no")])
                .run::<NegativeProbes>();
            assert_eq!(out.verdict("probe.unknown-model"), Verdict::Fail);
        }

        #[test]
        fn a_dead_connection_fails_the_probe_it_hits() {
            let [a, _, c, d, e, f] = documented();
            let out =
                harness([a, Reply::connect_error("reset"), c, d, e, f]).run::<NegativeProbes>();
            assert_eq!(out.verdict("probe.invalid-auth"), Verdict::Fail);
            assert!(
                out.finding("probe.invalid-auth")
                    .detail
                    .contains("no answer to judge")
            );
        }

        /// Findings no provider, contract, plan or application can make fail: (id, why).
        const CANNOT_FAIL: &[(&str, &str)] = &[];

        /// Every finding can fail, and a test shows it failing.
        #[test]
        fn every_declared_finding_can_fail() {
            // The documented answers with the probe at `i` answered by `r` instead.
            let with = |i: usize, r: Reply| {
                let mut replies = documented();
                replies[i] = r;
                harness(replies)
            };
            // A required field the contract adds: `probe.missing-*` gives it a probe.
            let [a, b, c, d, e, f] = documented();
            let temperature = [a, b, c, d, Reply::chat("READY"), e, f].into_iter().fold(
                Harness::new().contract_value(
                    "/request/required_fields",
                    json!(["model", "messages", "temperature"]),
                ),
                Harness::reply,
            );
            let cases: Vec<(&str, Harness)> = vec![
                (
                    "probe.missing-auth",
                    with(0, Reply::text(500, "Internal Server Error")),
                ),
                (
                    "probe.invalid-auth",
                    with(1, Reply::error(400, "no_db_connection", "db down")),
                ),
                ("probe.missing-model", with(2, Reply::chat("READY"))),
                ("probe.missing-messages", with(3, Reply::chat("READY"))),
                ("probe.missing-temperature", temperature),
                ("probe.empty-messages", with(4, Reply::chat("READY"))),
                (
                    "probe.unknown-model",
                    with(5, Reply::error(400, "model_not_found", "no")),
                ),
            ];
            shipgate_sdk::testing::assert_every_finding_can_fail::<NegativeProbes>(
                &cases,
                &[],
                CANNOT_FAIL,
            );
        }
    }
}
