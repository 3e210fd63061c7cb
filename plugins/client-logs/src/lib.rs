//! What the application under test printed in its episodes (standard output
//! and error, as the host kept them): credentials, the prompts it sent, and
//! personal data; and, when the plan says the application writes telemetry
//! as JSON lines (`settings = { telemetry = "json-lines" }`), that each
//! episode's requests produced the guide's step-6 fields. Evidence about the
//! application (`grants.traffic = true`).
//!
//! Whether the output held the run's own keys is decided by the host (it
//! masks them as `[REDACTED:<kind>]` before any check reads the output; this
//! check counts such a mask as a printed credential).
#![forbid(unsafe_code)]

use shipgate_sdk::checklist as item;
use shipgate_sdk::detect;
use shipgate_sdk::serde_json::Value;
use shipgate_sdk::traffic::{self, Episode};
use shipgate_sdk::{Check, Descriptor, Finding, SettingKind, Verdict, context};

/// The guide's step-6 telemetry, as JSON-line keys.
pub const TELEMETRY_FIELDS: &[&str] = &[
    "request_category",
    "operation",
    "model",
    "status",
    "error_category",
    "latency_ms",
    "retries",
    "timeouts",
    "parse_ok",
    "correlation_id",
];

/// The finding ids this check returns.
pub const FINDINGS: [&str; 4] = [
    "client-logs.no-credentials",
    "client-logs.no-content",
    "client-logs.no-pii",
    "client-logs.telemetry",
];

/// How the application writes telemetry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Telemetry {
    /// Not said: the telemetry finding is skipped.
    Unknown,
    /// One JSON object per line on standard output or error.
    JsonLines,
}

/// The prompts the application sent (message contents of 12 characters or
/// more), from its request bodies.
fn prompts(episodes: &[Episode]) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for x in episodes.iter().flat_map(|e| &e.exchanges) {
        let Ok(v) = shipgate_sdk::serde_json::from_str::<Value>(&x.body) else {
            continue;
        };
        for m in v["messages"].as_array().into_iter().flatten() {
            if let Some(c) = m["content"].as_str()
                && c.len() >= 12
                && !out.iter().any(|p| p == c)
            {
                out.push(c.to_owned());
            }
        }
    }
    out
}

/// Judge what every episode printed.
pub fn judge(episodes: &[Episode], telemetry: Telemetry, content_allowed: bool) -> Vec<Finding> {
    let texts: Vec<(String, &str)> = episodes
        .iter()
        .flat_map(|e| {
            [
                (format!("{} stdout", e.scenario), e.stdout.as_str()),
                (format!("{} stderr", e.scenario), e.stderr.as_str()),
            ]
        })
        .collect();
    let none = episodes.is_empty();
    let skip = |f: Finding| {
        f.verdict(Verdict::Skip).detail(
            "no application ran: name it in the plan's [application] command, or after `--`",
        )
    };
    // Credentials: shapes, and the host's masks of the run's own keys.
    let mut creds = Vec::new();
    for (source, text) in &texts {
        if text.contains("[REDACTED:") {
            creds.push(format!("{source}: a key of this run (masked by the host)"));
        }
        for d in detect::credentials(text) {
            creds.push(format!(
                "{source}:{}:{}: {} ({})",
                d.line, d.column, d.rule, d.masked
            ));
        }
    }
    let f = Finding::check(
        creds.is_empty(),
        "client-logs.no-credentials",
        "the application's output holds no credential",
    )
    .covers([item::LOGS_REDACTED]);
    let credentials = if none {
        skip(f)
    } else if creds.is_empty() {
        f.detail(format!(
            "{} scanned",
            shipgate_sdk::text::count(texts.len(), "output stream")
        ))
    } else {
        f.detail(creds.into_iter().take(4).collect::<Vec<_>>().join("; "))
    };
    // Prompts in the output.
    let sent = prompts(episodes);
    let mut echoed = Vec::new();
    for (source, text) in &texts {
        for p in &sent {
            if let Some((line, column)) = detect::content(text, p).first() {
                echoed.push(format!("{source}:{line}:{column}: a prompt it sent"));
            }
        }
    }
    let f = Finding::check(
        echoed.is_empty() || content_allowed,
        "client-logs.no-content",
        "the application does not log the prompts it sends",
    )
    .covers([item::LOGS_REDACTED]);
    let content = if none {
        skip(f)
    } else if sent.is_empty() {
        f.verdict(Verdict::Skip)
            .detail("the application sent no prompt of 12 characters or more to look for")
    } else if echoed.is_empty() {
        f.detail(format!(
            "{} looked for",
            shipgate_sdk::text::count(sent.len(), "prompt")
        ))
    } else if content_allowed {
        f.detail("the application logs prompts; the plan allows content logging (content_capture)")
    } else {
        f.detail(format!(
            "{}; the guide: avoid logging full prompts and completions unless your data policy allows it",
            echoed.into_iter().take(4).collect::<Vec<_>>().join("; ")
        ))
    };
    // Personal data.
    let mut pii = Vec::new();
    for (source, text) in &texts {
        for d in detect::pii(text, &[]) {
            pii.push(format!(
                "{source}:{}:{}: {} ({})",
                d.line, d.column, d.rule, d.masked
            ));
        }
    }
    let f = Finding::pass(
        "client-logs.no-pii",
        "the application's output holds no personal data",
    )
    .covers([item::LOGS_REDACTED]);
    let personal = if none {
        skip(f)
    } else if pii.is_empty() {
        f
    } else {
        f.verdict(Verdict::Warn)
            .detail(pii.into_iter().take(4).collect::<Vec<_>>().join("; "))
    };
    vec![
        credentials,
        content,
        personal,
        telemetry_finding(episodes, telemetry),
    ]
}

fn telemetry_finding(episodes: &[Episode], telemetry: Telemetry) -> Finding {
    let f = Finding::pass(
        "client-logs.telemetry",
        "the application emits the guide's step-6 telemetry for each request",
    )
    .covers([item::METRICS_ATTACHED]);
    if telemetry == Telemetry::Unknown {
        return f.verdict(Verdict::Skip).detail(
            "the plan does not say how the application writes telemetry (settings = { telemetry = \"json-lines\" })",
        );
    }
    let mut judged = 0;
    let mut missing: Vec<String> = Vec::new();
    for e in episodes.iter().filter(|e| !e.exchanges.is_empty()) {
        judged += 1;
        let lines: Vec<Value> = e
            .stdout
            .lines()
            .chain(e.stderr.lines())
            .filter_map(|l| shipgate_sdk::serde_json::from_str::<Value>(l.trim()).ok())
            .filter(Value::is_object)
            .collect();
        let best = lines
            .iter()
            .map(|l| {
                TELEMETRY_FIELDS
                    .iter()
                    .filter(|k| l.get(**k).is_none())
                    .copied()
                    .collect::<Vec<_>>()
            })
            .min_by_key(Vec::len);
        // One complete line per request (its attempts are one request).
        let mut requests: Vec<u32> = e.exchanges.iter().map(|x| x.logical).collect();
        requests.sort_unstable();
        requests.dedup();
        let complete = lines
            .iter()
            .filter(|l| TELEMETRY_FIELDS.iter().all(|k| l.get(*k).is_some()))
            .count();
        match best {
            None => missing.push(format!("{}: no JSON telemetry line", e.scenario)),
            Some(m) if !m.is_empty() => missing.push(format!(
                "{}: missing {}",
                e.scenario,
                shipgate_sdk::text::list(&m)
            )),
            Some(_) if complete < requests.len() => missing.push(format!(
                "{}: {} for {}",
                e.scenario,
                shipgate_sdk::text::count(complete, "complete telemetry line"),
                shipgate_sdk::text::count(requests.len(), "request")
            )),
            Some(_) => {}
        }
    }
    if judged == 0 {
        return f.verdict(Verdict::Skip).detail("no episode made a request");
    }
    if missing.is_empty() {
        return f.detail(format!(
            "every field in {}",
            shipgate_sdk::text::count(judged, "episode")
        ));
    }
    f.verdict(Verdict::Fail)
        .detail(missing.into_iter().take(4).collect::<Vec<_>>().join("; "))
}

struct ClientLogs;

impl Check for ClientLogs {
    fn describe() -> Descriptor {
        Descriptor::new(
            "client-logs",
            env!("CARGO_PKG_VERSION"),
            "what the application printed: credentials, prompts, personal data, step-6 telemetry",
        )
        .covers([item::LOGS_REDACTED, item::METRICS_ATTACHED])
        .findings(FINDINGS)
        .setting(
            "telemetry",
            SettingKind::String,
            Some("none"),
            "how the application writes telemetry: none, or json-lines",
        )
        .setting(
            "content_capture",
            SettingKind::Boolean,
            Some("false"),
            "whether the data policy allows logging prompts and completions",
        )
    }

    fn run() -> Result<Vec<Finding>, String> {
        let episodes = traffic::episodes().map_err(|e| format!("{e:?}"))?;
        let telemetry = match context::setting("telemetry").as_deref() {
            None | Some("none") => Telemetry::Unknown,
            Some("json-lines") => Telemetry::JsonLines,
            Some(other) => {
                return Err(format!(
                    "setting telemetry = {other:?}: use \"none\" or \"json-lines\""
                ));
            }
        };
        let content_allowed = context::setting_or("content_capture", false)?;
        Ok(judge(&episodes, telemetry, content_allowed))
    }
}

shipgate_sdk::export_check!(ClientLogs);

#[cfg(test)]
mod tests {
    use super::*;
    use shipgate_sdk::traffic::Exchange;

    fn episode(stdout: &str, body: &str) -> Episode {
        Episode {
            scenario: "clean".into(),
            clears_at: None,
            stall_ms: None,
            exit_code: Some(0),
            timed_out: false,
            wall_ms: 1,
            stdout: stdout.into(),
            stderr: String::new(),
            exchanges: vec![Exchange {
                logical: 0,
                attempt: 1,
                method: "POST".into(),
                path: "/v1/chat/completions".into(),
                headers: vec![],
                body: body.into(),
                status: Some(200),
                injected: None,
                refused: None,
                retry_after_ms: None,
                started_ms: 0,
                duration_ms: 1,
                client_aborted: false,
            }],
        }
    }

    const BODY: &str = r#"{"messages":[{"role":"user","content":"Summarise ticket 4411 for me"}]}"#;

    fn verdict(f: &[Finding], id: &str) -> Verdict {
        f.iter().find(|f| f.id == id).unwrap().verdict
    }

    #[test]
    fn clean_output_with_full_telemetry_passes() {
        let line = r#"{"request_category":"chat","operation":"chat","model":"m","status":200,"error_category":"none","latency_ms":12,"retries":0,"timeouts":0,"parse_ok":true,"correlation_id":"c1"}"#;
        let f = judge(&[episode(line, BODY)], Telemetry::JsonLines, false);
        for f in &f {
            assert_eq!(f.verdict, Verdict::Pass, "{f:?}");
        }
    }

    #[test]
    fn each_rule_can_fail() {
        let out = "calling with [REDACTED:placeholder]\nprompt: Summarise ticket 4411 for me\nmail bob@example.com\n{\"model\":\"m\"}";
        let f = judge(&[episode(out, BODY)], Telemetry::JsonLines, false);
        assert_eq!(verdict(&f, "client-logs.no-credentials"), Verdict::Fail);
        assert_eq!(verdict(&f, "client-logs.no-content"), Verdict::Fail);
        assert_eq!(verdict(&f, "client-logs.no-pii"), Verdict::Warn);
        assert_eq!(verdict(&f, "client-logs.telemetry"), Verdict::Fail);
        let t = f.iter().find(|f| f.id == "client-logs.telemetry").unwrap();
        assert!(
            t.detail.contains("missing request_category"),
            "{}",
            t.detail
        );
        // Content logging the plan allows passes.
        let f = judge(&[episode(out, BODY)], Telemetry::Unknown, true);
        assert_eq!(verdict(&f, "client-logs.no-content"), Verdict::Pass);
        assert_eq!(verdict(&f, "client-logs.telemetry"), Verdict::Skip);
    }

    mod whole_check {
        //! The whole check against the SDK's scripted host.
        use super::super::{ClientLogs, FINDINGS};
        use super::{BODY, episode};
        use shipgate_sdk::Verdict;
        use shipgate_sdk::testing::{Harness, Outcome};
        use shipgate_sdk::traffic::Episode;

        const LINE: &str = r#"{"request_category":"chat","operation":"chat","model":"m","status":200,"error_category":"none","latency_ms":12,"retries":0,"timeouts":0,"parse_ok":true,"correlation_id":"c1"}"#;

        fn run(episodes: Vec<Episode>, settings: &[(&str, &str)]) -> Outcome {
            settings
                .iter()
                .fold(Harness::new(), |h, (k, v)| h.setting(k, v))
                .episodes(episodes)
                .run::<ClientLogs>()
        }

        #[test]
        fn clean_output_with_json_line_telemetry_passes_every_rule() {
            let out = run(
                vec![episode(&format!("starting\n{LINE}\ndone"), BODY)],
                &[("telemetry", "json-lines")],
            );
            for id in FINDINGS {
                assert_eq!(
                    out.verdict(id),
                    Verdict::Pass,
                    "{id}: {:?}",
                    out.finding(id)
                );
            }
        }

        #[test]
        fn a_key_printed_to_stderr_fails() {
            let mut e = episode(LINE, BODY);
            e.stderr = format!("retrying with key sk-{}\n", "aB3".repeat(8));
            let out = run(vec![e], &[]);
            assert_eq!(out.verdict("client-logs.no-credentials"), Verdict::Fail);
            let detail = &out.finding("client-logs.no-credentials").detail;
            assert!(detail.starts_with("clean stderr:1:19: sk-key"), "{detail}");
            assert!(
                !detail.contains(&"aB3".repeat(8)),
                "the key is masked: {detail}"
            );
            assert_eq!(out.verdict("client-logs.telemetry"), Verdict::Skip);
        }

        #[test]
        fn an_echoed_prompt_fails_unless_the_plan_allows_content() {
            let printed = "sending: Summarise ticket 4411 for me";
            let out = run(vec![episode(printed, BODY)], &[]);
            assert_eq!(out.verdict("client-logs.no-content"), Verdict::Fail);
            assert!(
                out.finding("client-logs.no-content")
                    .detail
                    .starts_with("clean stdout:1:10: a prompt it sent"),
                "{:?}",
                out.finding("client-logs.no-content")
            );
            let out = run(vec![episode(printed, BODY)], &[("content_capture", "true")]);
            assert_eq!(out.verdict("client-logs.no-content"), Verdict::Pass);
        }

        #[test]
        fn telemetry_missing_a_field_fails() {
            let line = LINE.replace(r#""retries":0,"#, "");
            let out = run(vec![episode(&line, BODY)], &[("telemetry", "json-lines")]);
            assert_eq!(out.verdict("client-logs.telemetry"), Verdict::Fail);
            assert_eq!(
                out.finding("client-logs.telemetry").detail,
                "clean: missing retries"
            );
        }

        #[test]
        fn one_telemetry_line_for_two_requests_fails() {
            let mut e = episode(LINE, BODY);
            let mut second = e.exchanges[0].clone();
            second.logical = 1;
            // A retry of the first request is not another request.
            let mut retry = e.exchanges[0].clone();
            retry.attempt = 2;
            e.exchanges.push(retry);
            let out = run(vec![e.clone()], &[("telemetry", "json-lines")]);
            assert_eq!(out.verdict("client-logs.telemetry"), Verdict::Pass);
            e.exchanges.push(second);
            let out = run(vec![e.clone()], &[("telemetry", "json-lines")]);
            assert_eq!(out.verdict("client-logs.telemetry"), Verdict::Fail);
            assert_eq!(
                out.finding("client-logs.telemetry").detail,
                "clean: 1 complete telemetry line for 2 requests"
            );
            e.stdout = format!("{LINE}\n{LINE}");
            let out = run(vec![e], &[("telemetry", "json-lines")]);
            assert_eq!(out.verdict("client-logs.telemetry"), Verdict::Pass);
        }

        #[test]
        fn an_unknown_telemetry_format_is_an_error() {
            let out = run(vec![episode(LINE, BODY)], &[("telemetry", "otlp")]);
            assert!(out.findings.is_empty());
            assert_eq!(
                out.error.as_deref(),
                Some("setting telemetry = \"otlp\": use \"none\" or \"json-lines\"")
            );
        }

        /// Findings no provider, contract, plan or application can make fail: (id, why).
        const CANNOT_FAIL: &[(&str, &str)] = &[(
            "client-logs.no-pii",
            "Warn by design: personal data in the application's output",
        )];

        /// Every finding can fail, and a test shows it failing.
        #[test]
        fn every_declared_finding_can_fail() {
            let printed = |stdout: &str| Harness::new().episodes(vec![episode(stdout, BODY)]);
            let mut key = episode(LINE, BODY);
            key.stderr = format!("retrying with key sk-{}\n", "aB3".repeat(8));
            let cases: Vec<(&str, Harness)> = vec![
                (
                    "client-logs.no-credentials",
                    Harness::new().episodes(vec![key]),
                ),
                (
                    "client-logs.no-content",
                    printed("sending: Summarise ticket 4411 for me"),
                ),
                (
                    "client-logs.telemetry",
                    printed(&LINE.replace(r#""retries":0,"#, ""))
                        .setting("telemetry", "json-lines"),
                ),
            ];
            // Warn by design: each such CANNOT_FAIL entry shown at its worst.
            let warns: Vec<(&str, Harness)> =
                vec![("client-logs.no-pii", printed("mail bob@example.com"))];
            shipgate_sdk::testing::assert_every_finding_can_fail::<ClientLogs>(
                &cases,
                &warns,
                CANNOT_FAIL,
            );
        }
    }
}
