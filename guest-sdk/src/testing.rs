//! A scripted host for native tests of a check (feature `testing`, native
//! targets only).
//!
//! `cargo test` in a plugin crate runs the check's [`Check::run`] in-process:
//! the [`Harness`] plays the host. It answers each request from a script
//! ([`Reply`]: status, headers, body, delay, stream events, faults), serves
//! the built-in mock's contract, the plan's default thresholds and the
//! settings the test gives, and captures what the check sent, logged and
//! found ([`Outcome`]). No wasm, no network, no clock: a delay is a number.
//!
//! ```
//! use shipgate_sdk::testing::{Harness, Reply};
//! use shipgate_sdk::{chat::ChatRequest, context, Check, Descriptor, Finding, Verdict};
//!
//! struct Ping;
//! impl Check for Ping {
//!     fn describe() -> Descriptor {
//!         Descriptor::new("ping", "0.1.0", "the model answers").findings(["ping.ok"])
//!     }
//!     fn run() -> Result<Vec<Finding>, String> {
//!         let reply = ChatRequest::new(&context::target().model).user("hi").retry(true).send();
//!         let ok = matches!(&reply, Ok(r) if r.status() == 200);
//!         Ok(vec![Finding::check(ok, "ping.ok", "the model answers")])
//!     }
//! }
//!
//! // A 503, then a success: the retry consumes both replies, as the host would.
//! let out = Harness::new()
//!     .reply(Reply::status(503))
//!     .reply(Reply::chat("hello"))
//!     .run::<Ping>();
//! assert_eq!(out.verdict("ping.ok"), Verdict::Pass);
//! assert_eq!(out.requests[0].json()["model"], "mock-gpt");
//!
//! // A 401 is not retried: one reply, one attempt.
//! let out = Harness::new()
//!     .reply(Reply::error(401, "invalid_api_key", "Incorrect API key"))
//!     .run::<Ping>();
//! assert_eq!(out.verdict("ping.ok"), Verdict::Fail);
//! ```
//!
//! What the harness does as the host does: a request sent with `retry`
//! takes one reply per attempt while the outcome is retryable (the host's
//! default table: 408, 409, 429 unless `insufficient_quota`, 5xx, timeouts,
//! connection failures) and attempts remain under `retry_max_attempts`; a
//! reply delayed past the request's timeout is a timeout; a stream's gap
//! over its read timeout interrupts it; `context::setting` answers only what
//! the test set. The harness panics, naming the fix, when the check sends a
//! request no reply was scripted for, returns a finding id or is given a
//! setting its descriptor does not declare. What it does not do: the sandbox
//! policy (paths, headers, grants, budgets), the secret scrub, a contract's
//! own classification rules. Run the built component against the built-in
//! mock (`shipgate check FILE.wasm`) for those.

use crate::context::{Limits, Target};
use crate::http::{Auth, Method};
use crate::wit::shipgate::plugin::audit::{AuditError, TextFile};
use crate::wit::shipgate::plugin::http as wit_http;
use crate::wit::shipgate::plugin::traffic::{Episode, TrafficError};
use crate::{Check, Descriptor, Finding, SettingKind, Verdict};
use serde_json::{Value, json};
use std::cell::RefCell;
use std::collections::VecDeque;

pub use crate::wit::shipgate::plugin::log::Level;

/// The built-in mock's contract, as the host hands it to a plugin, and the
/// plan's default thresholds (both kept equal to the host's by a host test).
const MOCK_CONTRACT: &str = include_str!("testing_contract.json");
const THRESHOLDS: &str = include_str!("testing_thresholds.json");

/// A fake host for one run of a check. Build it, script replies, then
/// [`Harness::run`].
#[derive(Debug, Clone)]
pub struct Harness {
    target: Target,
    limits: Limits,
    stream_first_chunk_ms: u32,
    contract: Value,
    settings: Vec<(String, String)>,
    run_id: String,
    unapproved_model: String,
    telemetry: Vec<Value>,
    replies: VecDeque<Reply>,
    routes: Vec<(Method, String, VecDeque<Reply>)>,
    episodes: Option<Vec<Episode>>,
    audit: Option<(Vec<TextFile>, Vec<String>)>,
}

impl Default for Harness {
    fn default() -> Self {
        Self::new()
    }
}

impl Harness {
    /// The built-in mock's contract and the plan's default thresholds, no
    /// settings, no replies, no audit or traffic grant.
    pub fn new() -> Self {
        let contract: Value = serde_json::from_str(MOCK_CONTRACT).unwrap_or(Value::Null);
        let text = |pointer: &str, default: &str| {
            contract
                .pointer(pointer)
                .and_then(Value::as_str)
                .unwrap_or(default)
                .to_owned()
        };
        let target = Target {
            provider: text("/provider", "mock"),
            base_url: text("/base_url/url", "http://127.0.0.1:8787/v1"),
            chat_path: text("/endpoint/path", "/chat/completions"),
            chat_method: text("/endpoint/method", "POST").to_ascii_uppercase(),
            model: text("/request/model", "mock-gpt"),
            credential_env: text("/auth/credential_env", "SHIPGATE_MOCK_KEY"),
            correlation_header: text("/observability/correlation_header", "x-request-id")
                .to_ascii_lowercase(),
        };
        Harness {
            target,
            limits: Limits {
                latency_ms: threshold("latency_ms"),
                latency_hard_ms: threshold("latency_hard_ms"),
                input_limit_bytes: threshold("input_limit_bytes"),
                output_token_ceiling: threshold("output_token_ceiling"),
                request_timeout_ms: threshold("request_timeout_ms"),
                retry_max_attempts: threshold("retry_max_attempts"),
                retry_budget_ms: threshold("retry_budget_ms"),
            },
            stream_first_chunk_ms: threshold("stream_first_chunk_ms"),
            contract,
            settings: Vec::new(),
            run_id: "00000000-0000-4000-8000-000000000000".to_owned(),
            unapproved_model: "shipgate-unapproved-model-testing".to_owned(),
            telemetry: Vec::new(),
            replies: VecDeque::new(),
            routes: Vec::new(),
            episodes: None,
            audit: None,
        }
    }

    /// Answer the next request (that no [`Harness::reply_to`] route takes)
    /// with `reply`. Replies are taken in the order given, one per attempt.
    pub fn reply(mut self, reply: Reply) -> Self {
        self.replies.push_back(reply);
        self
    }

    /// Answer the next `method` request to exactly `path` (as the check
    /// wrote it, query included) with `reply`, before the general queue.
    pub fn reply_to(mut self, method: Method, path: &str, reply: Reply) -> Self {
        match self
            .routes
            .iter_mut()
            .find(|(m, p, _)| *m == method && p == path)
        {
            Some((_, _, queue)) => queue.push_back(reply),
            None => self
                .routes
                .push((method, path.to_owned(), VecDeque::from([reply]))),
        }
        self
    }

    /// Set one of the check's settings, as the plan would.
    pub fn setting(mut self, key: &str, value: &str) -> Self {
        self.settings.push((key.to_owned(), value.to_owned()));
        self
    }

    /// Replace the target (the contract's provider, URL, model, ...).
    pub fn target(mut self, target: Target) -> Self {
        self.target = target;
        self
    }

    /// Use another model id.
    pub fn model(mut self, model: &str) -> Self {
        model.clone_into(&mut self.target.model);
        self
    }

    /// The thresholds it serves (the plan's defaults unless replaced): a
    /// base for [`Harness::limits`], as `Limits { retry_max_attempts: 1, ..h.thresholds() }`.
    pub fn thresholds(&self) -> Limits {
        self.limits
    }

    /// Replace the plan's thresholds.
    pub fn limits(mut self, limits: Limits) -> Self {
        self.limits = limits;
        self
    }

    /// Set the plan's `stream_first_chunk_ms`.
    pub fn stream_first_chunk_ms(mut self, ms: u32) -> Self {
        self.stream_first_chunk_ms = ms;
        self
    }

    /// Replace the contract snapshot (as `context::contract()` returns it).
    pub fn contract(mut self, contract: Value) -> Self {
        self.contract = contract;
        self
    }

    /// Set one contract value by JSON pointer (such as `/usage/documented`),
    /// creating objects on the way.
    pub fn contract_value(mut self, pointer: &str, value: Value) -> Self {
        let mut at = &mut self.contract;
        for key in pointer.split('/').skip(1) {
            let key = key.replace("~1", "/").replace("~0", "~");
            if !at.is_object() {
                *at = json!({});
            }
            at = at
                .as_object_mut()
                .expect("made an object above")
                .entry(key)
                .or_insert(Value::Null);
        }
        *at = value;
        self
    }

    /// The run's telemetry so far, as `context::telemetry()` returns it.
    pub fn telemetry(mut self, records: Vec<Value>) -> Self {
        self.telemetry = records;
        self
    }

    /// Grant the traffic capability with these episodes.
    pub fn episodes(mut self, episodes: Vec<Episode>) -> Self {
        self.episodes = Some(episodes);
        self
    }

    /// Grant the audit capability with these texts and sent prompts.
    pub fn audit(mut self, files: Vec<TextFile>, sent_prompts: Vec<String>) -> Self {
        self.audit = Some((files, sent_prompts));
        self
    }

    /// Run check `C` against the script.
    ///
    /// # Panics
    ///
    /// When a setting is not declared (or does not parse as its kind), the
    /// check sends a request with no scripted reply, or returns a finding id
    /// it does not declare: each message names the fix. A panic in the check
    /// itself propagates.
    pub fn run<C: Check>(self) -> Outcome {
        let descriptor = C::describe();
        for (key, value) in &self.settings {
            check_setting(&descriptor, key, value);
        }
        let _active = Active::install(State {
            harness: self,
            requests: Vec::new(),
            logs: Vec::new(),
            last_attempts: Vec::new(),
            unscripted: Vec::new(),
            served: 0,
        });
        let result = C::run();
        let state = STATE
            .with(|s| s.borrow_mut().take())
            .expect("the harness state is installed for the run");
        assert!(
            state.unscripted.is_empty(),
            "shipgate_sdk::testing: no reply was scripted for {}; script one with Harness::reply or Harness::reply_to",
            state.unscripted.join(", ")
        );
        let (findings, error) = match result {
            Ok(f) => (f, None),
            Err(e) => (Vec::new(), Some(e)),
        };
        for f in &findings {
            assert!(
                declares_finding(&descriptor, &f.id),
                "shipgate_sdk::testing: `{}` returned finding `{}`, which its descriptor does not declare (it declares: {}); add it to Descriptor::findings",
                descriptor.name,
                f.id,
                descriptor.findings.join(", ")
            );
        }
        let unused_replies = state.harness.replies.len()
            + state
                .harness
                .routes
                .iter()
                .map(|(_, _, q)| q.len())
                .sum::<usize>();
        Outcome {
            findings,
            error,
            requests: state.requests,
            logs: state.logs,
            unused_replies,
        }
    }
}

/// One of the plan's default thresholds.
fn threshold(key: &str) -> u32 {
    static PARSED: std::sync::OnceLock<Value> = std::sync::OnceLock::new();
    PARSED
        .get_or_init(|| serde_json::from_str(THRESHOLDS).unwrap_or(Value::Null))
        .get(key)
        .and_then(Value::as_u64)
        .and_then(|n| u32::try_from(n).ok())
        .unwrap_or_else(|| panic!("testing_thresholds.json has no `{key}`"))
}

/// Assert that every finding `C` declares can fail, and say how: each
/// `(id, harness)` of `fails` makes `id` fail; each of `warns` makes `id`
/// warn, its worst verdict by design; `cannot_fail` names, with why, the ids
/// that cannot fail (an entry whose why starts with "Warn by design" needs a
/// `warns` case). Every declared id is in `fails` or `cannot_fail`, never
/// both (a `prefix*` pattern by at least one id it stands for), and every id
/// there is declared.
///
/// # Panics
///
/// On the first of these that does not hold, naming the id.
pub fn assert_every_finding_can_fail<C: Check>(
    fails: &[(&str, Harness)],
    warns: &[(&str, Harness)],
    cannot_fail: &[(&str, &str)],
) {
    for (expected, cases) in [(Verdict::Fail, fails), (Verdict::Warn, warns)] {
        for (id, h) in cases.iter().cloned() {
            let out = h.run::<C>();
            assert_eq!(
                out.verdict(id),
                expected,
                "{id} should be {expected:?}: {:?}",
                out.finding(id)
            );
        }
    }
    for (id, why) in cannot_fail
        .iter()
        .filter(|(_, why)| why.starts_with("Warn by design"))
    {
        assert!(
            warns.iter().any(|(w, _)| w == id),
            "{id} ({why}) has no Warn case"
        );
    }
    let table: Vec<&str> = fails.iter().map(|(id, _)| *id).collect();
    let cannot: Vec<&str> = cannot_fail.iter().map(|(id, _)| *id).collect();
    if let Some(both) = table.iter().find(|id| cannot.contains(id)) {
        panic!("{both} is in the table and among those that cannot fail");
    }
    let shown: Vec<&str> = table.iter().chain(&cannot).copied().collect();
    let descriptor = C::describe();
    for declared in &descriptor.findings {
        let covered = match declared.strip_suffix('*') {
            Some(stem) => shown.iter().any(|id| id.starts_with(stem)),
            None => shown.contains(&declared.as_str()),
        };
        assert!(
            covered,
            "declared finding {declared} is shown neither failing nor unable to"
        );
    }
    for id in &shown {
        assert!(
            declares_finding(&descriptor, id),
            "{id} is not a finding `{}` declares",
            descriptor.name
        );
    }
}

fn declares_finding(d: &Descriptor, id: &str) -> bool {
    d.findings.iter().any(|f| match f.strip_suffix('*') {
        Some(stem) => id.starts_with(stem),
        None => f == id,
    })
}

fn check_setting(d: &Descriptor, key: &str, value: &str) {
    let Some(decl) = d.settings.iter().find(|s| s.name == key) else {
        let names: Vec<&str> = d.settings.iter().map(|s| s.name.as_str()).collect();
        panic!(
            "shipgate_sdk::testing: `{}` declares no setting `{key}` (it declares: {}); a plan naming it would be refused",
            d.name,
            if names.is_empty() {
                "none".to_owned()
            } else {
                names.join(", ")
            }
        );
    };
    let parses = match decl.kind {
        SettingKind::String => true,
        SettingKind::Integer => value.parse::<i64>().is_ok(),
        SettingKind::Float => value.parse::<f64>().is_ok(),
        SettingKind::Boolean => matches!(value, "true" | "false"),
    };
    assert!(
        parses,
        "shipgate_sdk::testing: setting `{key}` = {value:?} is not a {:?}",
        decl.kind
    );
}

/// What one run of a check did.
#[derive(Debug, Clone)]
pub struct Outcome {
    /// The findings it returned (empty when it returned an error).
    pub findings: Vec<Finding>,
    /// The error it returned: the host would record a plugin error (Hold).
    pub error: Option<String>,
    /// Every request it sent, in order (one per send, whatever the attempts).
    pub requests: Vec<SentRequest>,
    /// Everything it logged, in order.
    pub logs: Vec<LogRecord>,
    /// Scripted replies no request took.
    pub unused_replies: usize,
}

impl Outcome {
    /// The finding `id`.
    ///
    /// # Panics
    ///
    /// When there is none, listing the ids there are.
    pub fn finding(&self, id: &str) -> &Finding {
        self.findings
            .iter()
            .find(|f| f.id == id)
            .unwrap_or_else(|| {
                let ids: Vec<&str> = self.findings.iter().map(|f| f.id.as_str()).collect();
                panic!(
                    "no finding `{id}`; the check returned [{}]{}",
                    ids.join(", "),
                    self.error
                        .as_deref()
                        .map(|e| format!(" and the error {e:?}"))
                        .unwrap_or_default()
                )
            })
    }

    /// The verdict of finding `id` (panics as [`Outcome::finding`]).
    pub fn verdict(&self, id: &str) -> Verdict {
        self.finding(id).verdict
    }

    /// The evidence `key` of finding `id`.
    pub fn evidence(&self, id: &str, key: &str) -> Option<&str> {
        self.finding(id)
            .evidence
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }
}

/// A request the check sent, as it asked for it.
#[derive(Debug, Clone, PartialEq)]
pub struct SentRequest {
    /// Method.
    pub method: Method,
    /// Path, as the check wrote it.
    pub path: String,
    /// The headers the check added.
    pub headers: Vec<(String, String)>,
    /// Body.
    pub body: Vec<u8>,
    /// The authentication mode it chose.
    pub auth: Auth,
    /// Whether it asked for the retry policy.
    pub retry: bool,
    /// Its timeout, when it set one.
    pub timeout_ms: Option<u32>,
    /// Its operation name.
    pub operation: String,
    /// The fault it asked the mock for.
    pub fault: Option<String>,
    /// Whether it was sent with `send_stream`.
    pub stream: bool,
}

impl SentRequest {
    /// The body as JSON (`Null` when it is not JSON).
    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap_or(Value::Null)
    }

    /// The first header with this name (case-insensitive).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

/// A record the check logged.
#[derive(Debug, Clone, PartialEq)]
pub struct LogRecord {
    /// Severity.
    pub level: Level,
    /// Message.
    pub message: String,
    /// Fields.
    pub fields: Vec<(String, String)>,
}

/// The scripted answer to one attempt.
#[derive(Debug, Clone)]
pub struct Reply {
    status: u16,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
    chat: Option<String>,
    delay_ms: u32,
    failure: Option<Failure>,
    events: Option<Vec<(String, String)>>,
    event_gap_ms: u32,
    interrupted: Option<String>,
}

#[derive(Debug, Clone)]
enum Failure {
    Timeout,
    Connect(String),
    Denied(String),
    Rejected(String),
    BodyTooLarge(u64),
    Withheld(String),
}

impl Reply {
    fn blank(status: u16) -> Self {
        Reply {
            status,
            headers: Vec::new(),
            body: Vec::new(),
            chat: None,
            delay_ms: 0,
            failure: None,
            events: None,
            event_gap_ms: 1,
            interrupted: None,
        }
    }

    fn failing(failure: Failure) -> Self {
        Reply {
            failure: Some(failure),
            ..Self::blank(0)
        }
    }

    /// A response with this status and no body.
    pub fn status(status: u16) -> Self {
        Self::blank(status)
    }

    /// A JSON response.
    pub fn json(status: u16, body: &Value) -> Self {
        Self::blank(status)
            .header("content-type", "application/json")
            .body(body.to_string())
    }

    /// A text response.
    pub fn text(status: u16, body: &str) -> Self {
        Self::blank(status)
            .header("content-type", "text/plain")
            .body(body)
    }

    /// An error in the OpenAI shape: `{"error": {"message", "type", "code"}}`.
    pub fn error(status: u16, code: &str, message: &str) -> Self {
        Self::json(
            status,
            &json!({"error": {"message": message, "type": "invalid_request_error", "code": code}}),
        )
    }

    /// A chat completion answering `content`, with `finish_reason` `stop`,
    /// usage and an `x-request-id`; its `model` is the model the request named.
    pub fn chat(content: &str) -> Self {
        Reply {
            chat: Some(content.to_owned()),
            ..Self::blank(200)
                .header("content-type", "application/json")
                .header("x-request-id", "req-testing")
        }
    }

    /// A `text/event-stream` answer: one event per `data` value, in order.
    pub fn sse<I, S>(data: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        Reply {
            events: Some(
                data.into_iter()
                    .map(|d| (String::new(), d.into()))
                    .collect(),
            ),
            ..Self::blank(200).header("content-type", "text/event-stream")
        }
    }

    /// A `text/event-stream` answer of named events: `(event, data)` pairs,
    /// such as `("error", "{...}")`; an empty name is the default `message`.
    pub fn sse_events<I, E, D>(events: I) -> Self
    where
        I: IntoIterator<Item = (E, D)>,
        E: Into<String>,
        D: Into<String>,
    {
        Reply {
            events: Some(
                events
                    .into_iter()
                    .map(|(e, d)| (e.into(), d.into()))
                    .collect(),
            ),
            ..Self::blank(200).header("content-type", "text/event-stream")
        }
    }

    /// A streamed chat completion: a role chunk, one chunk per piece, a
    /// `stop` chunk with usage, then `[DONE]`.
    pub fn chat_stream(pieces: &[&str]) -> Self {
        let chunk = |delta: Value, finish: Value| {
            json!({"id": "chatcmpl-testing", "object": "chat.completion.chunk", "model": "mock-gpt",
                   "choices": [{"index": 0, "delta": delta, "finish_reason": finish}]})
            .to_string()
        };
        let mut data = vec![chunk(json!({"role": "assistant"}), Value::Null)];
        data.extend(
            pieces
                .iter()
                .map(|p| chunk(json!({"content": p}), Value::Null)),
        );
        let mut last: Value =
            serde_json::from_str(&chunk(json!({}), json!("stop"))).unwrap_or(Value::Null);
        last["usage"] = json!({"prompt_tokens": 10, "completion_tokens": pieces.len(), "total_tokens": 10 + pieces.len()});
        data.push(last.to_string());
        data.push("[DONE]".to_owned());
        Self::sse(data).header("x-request-id", "req-testing")
    }

    /// The request timed out (the outcome the host reports, whatever the timeout).
    pub fn timeout() -> Self {
        Self::failing(Failure::Timeout)
    }

    /// The connection failed or broke.
    pub fn connect_error(message: &str) -> Self {
        Self::failing(Failure::Connect(message.to_owned()))
    }

    /// The host's policy denied the request.
    pub fn denied(message: &str) -> Self {
        Self::failing(Failure::Denied(message.to_owned()))
    }

    /// The host rejected the request before dispatch.
    pub fn rejected(message: &str) -> Self {
        Self::failing(Failure::Rejected(message.to_owned()))
    }

    /// The body went over the cap of `cap` bytes.
    pub fn body_too_large(cap: u64) -> Self {
        Self::failing(Failure::BodyTooLarge(cap))
    }

    /// The host withheld the response (it could not be checked for secrets).
    pub fn withheld(message: &str) -> Self {
        Self::failing(Failure::Withheld(message.to_owned()))
    }

    /// Add a response header (the name is lower-cased, as the host does).
    pub fn header(mut self, name: &str, value: &str) -> Self {
        self.headers
            .push((name.to_ascii_lowercase(), value.to_owned()));
        self
    }

    /// Set the body.
    pub fn body(mut self, body: impl Into<Vec<u8>>) -> Self {
        self.body = body.into();
        self.chat = None;
        self
    }

    /// The answer takes this long (past the request's timeout: a timeout).
    /// For a stream: the time to its first event.
    pub fn delay_ms(mut self, ms: u32) -> Self {
        self.delay_ms = ms;
        self
    }

    /// A stream's time between events (default 1 ms); over the read timeout,
    /// the stream is interrupted there.
    pub fn event_gap_ms(mut self, ms: u32) -> Self {
        self.event_gap_ms = ms;
        self
    }

    /// The stream breaks after its events, for this reason.
    pub fn interrupted(mut self, reason: &str) -> Self {
        self.interrupted = Some(reason.to_owned());
        self
    }
}

/// The state of the run in progress on this thread.
#[derive(Debug)]
struct State {
    harness: Harness,
    requests: Vec<SentRequest>,
    logs: Vec<LogRecord>,
    last_attempts: Vec<wit_http::Attempt>,
    unscripted: Vec<String>,
    served: u32,
}

thread_local! {
    static STATE: RefCell<Option<State>> = const { RefCell::new(None) };
}

/// Clears the state when the run ends, also by a panic in the check.
struct Active;

impl Active {
    fn install(state: State) -> Active {
        STATE.with(|s| {
            let mut s = s.borrow_mut();
            assert!(
                s.is_none(),
                "shipgate_sdk::testing: a check is already running on this thread"
            );
            *s = Some(state);
        });
        Active
    }
}

impl Drop for Active {
    fn drop(&mut self) {
        STATE.with(|s| s.borrow_mut().take());
    }
}

fn with<R>(f: impl FnOnce(&mut State) -> R) -> R {
    STATE.with(|s| {
        let mut s = s.borrow_mut();
        let state = s.as_mut().expect(
            "shipgate_sdk::testing: no check is running; call the check through Harness::run",
        );
        f(state)
    })
}

/// The host's default classification table (`host/src/classify.rs`).
fn classify(
    status: u16,
    headers: &[(String, String)],
    body: &[u8],
) -> (wit_http::ErrorCategory, bool) {
    use wit_http::ErrorCategory as C;
    let code = serde_json::from_slice::<Value>(body).ok().and_then(|v| {
        v.pointer("/error/code")
            .and_then(Value::as_str)
            .map(str::to_owned)
    });
    let (category, mut retryable) = match status {
        200..=299 => (C::None, false),
        401 | 403 => (C::Auth, false),
        408 | 409 => (C::Transient, true),
        429 if code.as_deref() == Some("insufficient_quota") => (C::RateLimit, false),
        429 => (C::RateLimit, true),
        400..=499 => (C::Validation, false),
        500..=599 => (C::Transient, true),
        _ => (C::Unknown, false),
    };
    match headers
        .iter()
        .find(|(k, _)| k == "x-should-retry")
        .map(|(_, v)| v.as_str())
    {
        Some("true") => retryable = true,
        Some("false") => retryable = false,
        _ => {}
    }
    (category, retryable)
}

fn method_of(m: wit_http::Method) -> Method {
    match m {
        wit_http::Method::Get => Method::Get,
        wit_http::Method::Post => Method::Post,
        wit_http::Method::Put => Method::Put,
        wit_http::Method::Delete => Method::Delete,
        wit_http::Method::Head => Method::Head,
        wit_http::Method::Options => Method::Options,
        wit_http::Method::Patch => Method::Patch,
    }
}

fn sent(req: &wit_http::Request, stream: bool) -> SentRequest {
    SentRequest {
        method: method_of(req.method),
        path: req.path.clone(),
        headers: req.headers.clone(),
        body: req.body.clone(),
        auth: match req.auth {
            wit_http::AuthMode::Configured => Auth::Configured,
            wit_http::AuthMode::Omitted => Auth::Omitted,
            wit_http::AuthMode::Invalid => Auth::Invalid,
        },
        retry: req.retry,
        timeout_ms: req.timeout_ms,
        operation: req.operation.clone(),
        fault: req.fault.clone(),
        stream,
    }
}

impl State {
    /// The next scripted reply for `req`, or None (recorded as unscripted).
    fn next_reply(&mut self, req: &wit_http::Request) -> Option<Reply> {
        let method = method_of(req.method);
        let routed = self
            .harness
            .routes
            .iter_mut()
            .find(|(m, p, q)| *m == method && *p == req.path && !q.is_empty())
            .and_then(|(_, _, q)| q.pop_front());
        let reply = routed.or_else(|| self.harness.replies.pop_front());
        if reply.is_none() {
            self.unscripted
                .push(format!("{method:?} {} ({})", req.path, req.operation));
        }
        reply
    }

    fn timeout_of(&self, req: &wit_http::Request) -> u32 {
        req.timeout_ms
            .unwrap_or(self.harness.limits.request_timeout_ms)
    }

    fn correlation_id(&mut self) -> String {
        self.served += 1;
        format!("testing-{}", self.served)
    }

    fn request_id(&self, headers: &[(String, String)]) -> Option<String> {
        let name = self
            .harness
            .contract
            .pointer("/response/request_id_header")
            .and_then(Value::as_str)?
            .to_ascii_lowercase();
        headers
            .iter()
            .find(|(k, _)| *k == name)
            .map(|(_, v)| v.clone())
    }

    fn send(&mut self, req: &wit_http::Request) -> Result<wit_http::Response, wit_http::HttpError> {
        self.requests.push(sent(req, false));
        self.last_attempts.clear();
        let max = if req.retry {
            self.harness.limits.retry_max_attempts.max(1)
        } else {
            1
        };
        let timeout = self.timeout_of(req);
        let mut wait_ms = 0;
        loop {
            let number = u32::try_from(self.last_attempts.len()).unwrap_or(u32::MAX) + 1;
            let Some(reply) = self.next_reply(req) else {
                return Err(wit_http::HttpError::Connect(
                    "no scripted reply (testing harness)".to_owned(),
                ));
            };
            let outcome = self.answer(req, reply, timeout);
            let (status, category, retryable, latency, timed_out) = match &outcome {
                Ok(r) => (Some(r.status), r.category, r.retryable, r.latency_ms, false),
                Err(wit_http::HttpError::Timeout(ms)) => {
                    (None, wit_http::ErrorCategory::Transient, true, *ms, true)
                }
                Err(wit_http::HttpError::Connect(_)) => {
                    (None, wit_http::ErrorCategory::Transient, true, 0, false)
                }
                Err(_) => (None, wit_http::ErrorCategory::Unknown, false, 0, false),
            };
            self.last_attempts.push(wit_http::Attempt {
                number,
                status,
                wait_ms,
                latency_ms: latency,
                category,
                timed_out,
            });
            if !(retryable && number < max) {
                return outcome.map(|mut r| {
                    r.attempts.clone_from(&self.last_attempts);
                    r
                });
            }
            // As the host: `retry-after-ms`, else `retry-after` in seconds,
            // else the plan's backoff (without the host's jitter).
            let header = |name: &str| {
                outcome.as_ref().ok().and_then(|r| {
                    r.headers
                        .iter()
                        .find(|(k, _)| k == name)
                        .and_then(|(_, v)| v.trim().parse::<u32>().ok())
                })
            };
            wait_ms = header("retry-after-ms")
                .or_else(|| header("retry-after").map(|s| s.saturating_mul(1000)))
                .unwrap_or(threshold("retry_base_delay_ms") << (number - 1).min(4));
        }
    }

    fn answer(
        &mut self,
        req: &wit_http::Request,
        reply: Reply,
        timeout: u32,
    ) -> Result<wit_http::Response, wit_http::HttpError> {
        if let Some(f) = reply.failure {
            return Err(failure(f, timeout));
        }
        if reply.delay_ms > timeout {
            return Err(wit_http::HttpError::Timeout(timeout));
        }
        let body = match &reply.chat {
            Some(content) => chat_body(req, content),
            None => match &reply.events {
                Some(events) => events
                    .iter()
                    .map(|(e, d)| match e.as_str() {
                        "" => format!("data: {d}\n\n"),
                        e => format!("event: {e}\ndata: {d}\n\n"),
                    })
                    .collect::<String>()
                    .into_bytes(),
                None => reply.body.clone(),
            },
        };
        let (category, retryable) = classify(reply.status, &reply.headers, &body);
        Ok(wit_http::Response {
            status: reply.status,
            provider_request_id: self.request_id(&reply.headers),
            headers: reply.headers,
            body,
            latency_ms: reply.delay_ms,
            correlation_id: self.correlation_id(),
            category,
            retryable,
            attempts: Vec::new(),
        })
    }

    fn send_stream(
        &mut self,
        req: &wit_http::Request,
        read_timeout_ms: Option<u32>,
    ) -> Result<wit_http::StreamResponse, wit_http::HttpError> {
        self.requests.push(sent(req, true));
        self.last_attempts.clear();
        let timeout = self.timeout_of(req);
        let Some(reply) = self.next_reply(req) else {
            return Err(wit_http::HttpError::Connect(
                "no scripted reply (testing harness)".to_owned(),
            ));
        };
        if let Some(f) = reply.failure {
            return Err(failure(f, timeout));
        }
        let read_timeout = read_timeout_ms.unwrap_or(timeout.min(10_000));
        let (category, _) = classify(reply.status, &reply.headers, &reply.body);
        let mut out = wit_http::StreamResponse {
            status: reply.status,
            provider_request_id: self.request_id(&reply.headers),
            headers: reply.headers.clone(),
            events: Vec::new(),
            body: Vec::new(),
            first_byte_ms: Some(reply.delay_ms),
            bytes: 0,
            interrupted: None,
            latency_ms: reply.delay_ms,
            correlation_id: self.correlation_id(),
            category,
        };
        let Some(events) = reply.events else {
            out.body = match &reply.chat {
                Some(content) => chat_body(req, content),
                None => reply.body,
            };
            out.bytes = out.body.len() as u64;
            return Ok(out);
        };
        if reply.delay_ms > read_timeout {
            out.first_byte_ms = None;
            out.latency_ms = read_timeout;
            out.interrupted = Some(format!("no data for {read_timeout} ms (the read timeout)"));
            return Ok(out);
        }
        let mut at = reply.delay_ms;
        for (i, (event, data)) in events.into_iter().enumerate() {
            if i > 0 {
                if reply.event_gap_ms > read_timeout {
                    out.latency_ms = at + read_timeout;
                    out.interrupted =
                        Some(format!("no data for {read_timeout} ms (the read timeout)"));
                    return Ok(out);
                }
                at += reply.event_gap_ms;
            }
            out.bytes += data.len() as u64 + 8;
            out.events.push(wit_http::SseEvent {
                event,
                data,
                id: String::new(),
                at_ms: at,
            });
        }
        out.latency_ms = at;
        out.interrupted = reply.interrupted;
        Ok(out)
    }
}

fn failure(f: Failure, timeout: u32) -> wit_http::HttpError {
    match f {
        Failure::Timeout => wit_http::HttpError::Timeout(timeout),
        Failure::Connect(m) => wit_http::HttpError::Connect(m),
        Failure::Denied(m) => wit_http::HttpError::Denied(m),
        Failure::Rejected(m) => wit_http::HttpError::Rejected(m),
        Failure::BodyTooLarge(n) => wit_http::HttpError::BodyTooLarge(n),
        Failure::Withheld(m) => wit_http::HttpError::Withheld(m),
    }
}

/// A chat completion naming the model the request named.
fn chat_body(req: &wit_http::Request, content: &str) -> Vec<u8> {
    let model = serde_json::from_slice::<Value>(&req.body)
        .ok()
        .and_then(|v| v.get("model").and_then(Value::as_str).map(str::to_owned))
        .unwrap_or_default();
    json!({
        "id": "chatcmpl-testing",
        "object": "chat.completion",
        "created": 0,
        "model": model,
        "choices": [{"index": 0, "message": {"role": "assistant", "content": content}, "finish_reason": "stop"}],
        "usage": {"prompt_tokens": 10, "completion_tokens": 1, "total_tokens": 11},
    })
    .to_string()
    .into_bytes()
}

/// The scripted host's imports, with the WIT functions' signatures
/// (`crate::imports` routes to them in a native `testing` build).
pub(crate) mod host {
    pub(crate) mod http {
        use super::super::with;
        use crate::wit::shipgate::plugin::http::{
            Attempt, HttpError, Request, Response, StreamResponse,
        };

        pub(crate) fn send(req: &Request) -> Result<Response, HttpError> {
            with(|s| s.send(req))
        }

        pub(crate) fn send_all(reqs: &[Request]) -> Vec<Result<Response, HttpError>> {
            reqs.iter().map(|r| with(|s| s.send(r))).collect()
        }

        pub(crate) fn send_stream(
            req: &Request,
            read_timeout_ms: Option<u32>,
        ) -> Result<StreamResponse, HttpError> {
            with(|s| s.send_stream(req, read_timeout_ms))
        }

        pub(crate) fn last_attempts() -> Vec<Attempt> {
            with(|s| s.last_attempts.clone())
        }
    }

    pub(crate) mod log {
        use super::super::{LogRecord, with};
        use crate::wit::shipgate::plugin::log::Level;

        pub(crate) fn emit(level: Level, message: &str, fields: &[(String, String)]) {
            with(|s| {
                s.logs.push(LogRecord {
                    level,
                    message: message.to_owned(),
                    fields: fields.to_vec(),
                });
            });
        }
    }

    pub(crate) mod context {
        use super::super::with;
        use crate::wit::shipgate::plugin::context::{Limits, Target};

        pub(crate) fn current_target() -> Target {
            with(|s| {
                let t = &s.harness.target;
                Target {
                    provider: t.provider.clone(),
                    base_url: t.base_url.clone(),
                    chat_path: t.chat_path.clone(),
                    chat_method: t.chat_method.clone(),
                    model: t.model.clone(),
                    credential_env: t.credential_env.clone(),
                    correlation_header: t.correlation_header.clone(),
                }
            })
        }

        pub(crate) fn current_limits() -> Limits {
            with(|s| {
                let l = s.harness.limits;
                Limits {
                    latency_ms: l.latency_ms,
                    latency_hard_ms: l.latency_hard_ms,
                    input_limit_bytes: l.input_limit_bytes,
                    output_token_ceiling: l.output_token_ceiling,
                    request_timeout_ms: l.request_timeout_ms,
                    retry_max_attempts: l.retry_max_attempts,
                    retry_budget_ms: l.retry_budget_ms,
                }
            })
        }

        pub(crate) fn stream_first_chunk_ms() -> u32 {
            with(|s| s.harness.stream_first_chunk_ms)
        }

        pub(crate) fn contract_json() -> String {
            with(|s| s.harness.contract.to_string())
        }

        pub(crate) fn setting(key: &str) -> Option<String> {
            with(|s| {
                s.harness
                    .settings
                    .iter()
                    .rev()
                    .find(|(k, _)| k == key)
                    .map(|(_, v)| v.clone())
            })
        }

        pub(crate) fn run_id() -> String {
            with(|s| s.harness.run_id.clone())
        }

        pub(crate) fn telemetry_json() -> String {
            with(|s| serde_json::Value::from(s.harness.telemetry.clone()).to_string())
        }

        pub(crate) fn unapproved_model() -> String {
            with(|s| s.harness.unapproved_model.clone())
        }
    }

    pub(crate) mod audit {
        use super::super::{AuditError, TextFile, with};

        pub(crate) fn collect() -> Result<Vec<TextFile>, AuditError> {
            with(|s| match &s.harness.audit {
                Some((files, _)) => Ok(files.clone()),
                None => Err(denied()),
            })
        }

        pub(crate) fn sent_prompts() -> Result<Vec<String>, AuditError> {
            with(|s| match &s.harness.audit {
                Some((_, prompts)) => Ok(prompts.clone()),
                None => Err(denied()),
            })
        }

        fn denied() -> AuditError {
            AuditError::Denied("the harness grants no audit: use Harness::audit".to_owned())
        }
    }

    pub(crate) mod traffic {
        use super::super::{Episode, TrafficError, with};

        pub(crate) fn episodes() -> Result<Vec<Episode>, TrafficError> {
            with(|s| {
                s.harness.episodes.clone().ok_or_else(|| {
                    TrafficError::Denied(
                        "the harness grants no traffic: use Harness::episodes".to_owned(),
                    )
                })
            })
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::chat::ChatRequest;
    use crate::{context, http, log, stream};

    struct Probe;

    impl Check for Probe {
        fn describe() -> Descriptor {
            Descriptor::new("probe", "0", "test")
                .findings(["probe.*"])
                .setting("mode", SettingKind::String, None, "what to do")
        }

        fn run() -> Result<Vec<Finding>, String> {
            let mode = context::setting("mode").unwrap_or_default();
            log::info("starting", &[("mode", &mode)]);
            match mode.as_str() {
                "stream" => {
                    let r = ChatRequest::new(&context::target().model)
                        .user("hi")
                        .to_request()
                        .send_stream(Some(100))
                        .map_err(|e| e.to_string())?;
                    let acc = stream::accumulate(&r.events);
                    Ok(vec![
                        Finding::pass("probe.text", "text")
                            .evidence("text", acc.text())
                            .evidence("interrupted", r.interrupted.is_some()),
                    ])
                }
                _ => {
                    let r = ChatRequest::new(&context::target().model)
                        .user("hi")
                        .retry(true)
                        .send();
                    let attempts = http::last_attempts().len();
                    Ok(vec![
                        Finding::check(matches!(&r, Ok(r) if r.status() == 200), "probe.ok", "ok")
                            .evidence("attempts", attempts)
                            .evidence("error", r.err().map(|e| e.to_string()).unwrap_or_default()),
                    ])
                }
            }
        }
    }

    #[test]
    fn retries_take_one_reply_per_attempt_and_stop_at_the_limit() {
        let out = Harness::new()
            .reply(Reply::status(503))
            .reply(Reply::status(429).header("retry-after", "1"))
            .reply(Reply::chat("hi"))
            .run::<Probe>();
        assert_eq!(out.verdict("probe.ok"), Verdict::Pass);
        assert_eq!(out.evidence("probe.ok", "attempts"), Some("3"));
        assert_eq!(out.requests.len(), 1);
        assert_eq!(out.logs[0].message, "starting");

        let out = Harness::new()
            .reply(Reply::status(503))
            .reply(Reply::timeout())
            .reply(Reply::status(500))
            .reply(Reply::chat("never reached"))
            .run::<Probe>();
        assert_eq!(out.verdict("probe.ok"), Verdict::Fail);
        assert_eq!(out.unused_replies, 1);

        // Not retryable: one attempt.
        let out = Harness::new()
            .reply(Reply::error(400, "invalid_request", "bad"))
            .reply(Reply::chat("unused"))
            .run::<Probe>();
        assert_eq!(out.evidence("probe.ok", "attempts"), Some("1"));
    }

    #[test]
    fn a_delay_past_the_timeout_is_a_timeout() {
        let limits = Limits {
            retry_max_attempts: 1,
            request_timeout_ms: 1_000,
            ..Harness::new().thresholds()
        };
        let out = Harness::new()
            .limits(limits)
            .reply(Reply::chat("late").delay_ms(1_500))
            .run::<Probe>();
        assert_eq!(out.verdict("probe.ok"), Verdict::Fail);
        assert_eq!(
            out.evidence("probe.ok", "error"),
            Some("no response within 1000 ms")
        );
    }

    #[test]
    fn streams_are_read_with_their_read_timeout() {
        let out = Harness::new()
            .setting("mode", "stream")
            .reply(Reply::chat_stream(&["RE", "ADY"]))
            .run::<Probe>();
        assert_eq!(out.evidence("probe.text", "text"), Some("READY"));
        assert_eq!(out.evidence("probe.text", "interrupted"), Some("false"));
        assert!(out.requests[0].stream);

        let out = Harness::new()
            .setting("mode", "stream")
            .reply(Reply::chat_stream(&["RE", "ADY"]).event_gap_ms(500))
            .run::<Probe>();
        assert_eq!(out.evidence("probe.text", "text"), Some(""));
        assert_eq!(out.evidence("probe.text", "interrupted"), Some("true"));
    }

    #[test]
    fn the_every_finding_table_is_checked_against_the_descriptor() {
        let refused = Harness::new().reply(Reply::error(400, "invalid_request", "bad"));
        assert_every_finding_can_fail::<Probe>(&[("probe.ok", refused)], &[], &[]);
    }

    #[test]
    #[should_panic(expected = "declared finding probe.* is shown neither failing nor unable to")]
    fn a_declared_finding_left_out_of_the_table_is_named() {
        assert_every_finding_can_fail::<Probe>(&[], &[], &[]);
    }

    #[test]
    #[should_panic(expected = "no reply was scripted for Post /chat/completions")]
    fn an_unscripted_request_names_itself() {
        Harness::new().run::<Probe>();
    }

    #[test]
    #[should_panic(expected = "declares no setting `mdoe` (it declares: mode)")]
    fn an_undeclared_setting_is_refused() {
        Harness::new().setting("mdoe", "x").run::<Probe>();
    }

    #[test]
    fn the_default_context_is_the_mock_contract() {
        let h = Harness::new();
        assert_eq!(h.target.model, "mock-gpt");
        assert_eq!(h.target.provider, "mock");
        assert_eq!(h.target.chat_path, "/chat/completions");
        assert_eq!(h.target.credential_env, "SHIPGATE_MOCK_KEY");
        assert_eq!(h.target.correlation_header, "x-client-request-id");
        assert_eq!(h.target.base_url, "http://127.0.0.1:8787/v1");
        let h = h.contract_value("/usage/documented", json!(false));
        assert_eq!(h.contract["usage"]["documented"], json!(false));
    }
}
