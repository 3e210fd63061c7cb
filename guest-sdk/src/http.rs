//! Sandboxed HTTP to the contract's target.
//!
//! Paths are relative to the contract's base URL: a check cannot name another
//! host. The host adds the credential after its policy check, so a check
//! chooses only an [`Auth`] mode. Every request is recorded in the run's
//! telemetry with a correlation id the host generates.
//!
//! ```no_run
//! use shipgate_sdk::http::{Auth, Request};
//! let resp = Request::get("/models").auth(Auth::Configured).send();
//! ```

use crate::imports::http as host;
use crate::wit::shipgate::plugin::http as wit;
use std::fmt;

pub use wit::ErrorCategory;

/// How the host authenticates a request. The check never holds the secret.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Auth {
    /// The host injects the configured credential.
    Configured,
    /// No credential is sent (needs the plan's grant).
    Omitted,
    /// A host-made, per-run invalid token is sent (needs the plan's grant).
    Invalid,
}

/// HTTP method.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Method {
    /// GET
    Get,
    /// POST
    Post,
    /// PUT
    Put,
    /// DELETE
    Delete,
    /// HEAD
    Head,
    /// OPTIONS
    Options,
    /// PATCH
    Patch,
}

impl Method {
    /// Parse a method name (case-insensitive), as the contract writes it.
    pub fn parse(name: &str) -> Option<Method> {
        Some(match name.to_ascii_uppercase().as_str() {
            "GET" => Method::Get,
            "POST" => Method::Post,
            "PUT" => Method::Put,
            "DELETE" => Method::Delete,
            "HEAD" => Method::Head,
            "OPTIONS" => Method::Options,
            "PATCH" => Method::Patch,
            _ => return None,
        })
    }
}

/// A request to the target. Build it, then [`Request::send`].
#[derive(Debug, Clone)]
pub struct Request {
    method: Method,
    path: String,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
    timeout_ms: Option<u32>,
    auth: Auth,
    retry: bool,
    operation: String,
    fault: Option<String>,
}

impl Request {
    /// A request with the configured credential, no body, no retry.
    pub fn new(method: Method, path: impl Into<String>) -> Self {
        Request {
            method,
            path: path.into(),
            headers: Vec::new(),
            body: Vec::new(),
            timeout_ms: None,
            auth: Auth::Configured,
            retry: false,
            operation: String::from("http"),
            fault: None,
        }
    }

    /// A GET request.
    pub fn get(path: impl Into<String>) -> Self {
        Self::new(Method::Get, path)
    }

    /// A POST request.
    pub fn post(path: impl Into<String>) -> Self {
        Self::new(Method::Post, path)
    }

    /// Add a header. The host allows `content-type`, `accept`,
    /// `idempotency-key`, the headers the contract documents and those the
    /// plan grants this plugin; it denies any other.
    pub fn header(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.headers.push((name.into(), value.into()));
        self
    }

    /// Set a raw body.
    pub fn body(mut self, body: impl Into<Vec<u8>>) -> Self {
        self.body = body.into();
        self
    }

    /// Set a JSON body and `content-type: application/json`.
    pub fn json(mut self, value: &serde_json::Value) -> Self {
        self.body = value.to_string().into_bytes();
        self.headers
            .push(("content-type".to_owned(), "application/json".to_owned()));
        self
    }

    /// Set the client timeout for this request (capped by the plan).
    pub fn timeout_ms(mut self, ms: u32) -> Self {
        self.timeout_ms = Some(ms);
        self
    }

    /// Choose how the host authenticates the request.
    pub fn auth(mut self, auth: Auth) -> Self {
        self.auth = auth;
        self
    }

    /// Send with the run's retry policy.
    pub fn retry(mut self, retry: bool) -> Self {
        self.retry = retry;
        self
    }

    /// Name the operation for telemetry (such as `chat` or `probe.missing-model`).
    pub fn operation(mut self, name: impl Into<String>) -> Self {
        self.operation = name.into();
        self
    }

    /// Ask the built-in mock (or a fault-injecting proxy the plan grants) to
    /// inject a fault: `status:503`, `rate-limit:1`, `delay:1500`, `drop`, …,
    /// or `a|b|c` for one fault per attempt. Against any other target the host
    /// denies the request.
    pub fn fault(mut self, fault: impl Into<String>) -> Self {
        self.fault = Some(fault.into());
        self
    }

    fn into_wit(self) -> wit::Request {
        wit::Request {
            method: match self.method {
                Method::Get => wit::Method::Get,
                Method::Post => wit::Method::Post,
                Method::Put => wit::Method::Put,
                Method::Delete => wit::Method::Delete,
                Method::Head => wit::Method::Head,
                Method::Options => wit::Method::Options,
                Method::Patch => wit::Method::Patch,
            },
            path: self.path,
            headers: self.headers,
            body: self.body,
            timeout_ms: self.timeout_ms,
            auth: match self.auth {
                Auth::Configured => wit::AuthMode::Configured,
                Auth::Omitted => wit::AuthMode::Omitted,
                Auth::Invalid => wit::AuthMode::Invalid,
            },
            retry: self.retry,
            operation: self.operation,
            fault: self.fault,
        }
    }

    /// Send it through the host.
    ///
    /// # Errors
    ///
    /// [`HttpError`] when no response came back: denied by policy, rejected
    /// before dispatch, timed out, connection failed, or body over the cap.
    pub fn send(self) -> Result<Response, HttpError> {
        host::send(&self.into_wit())
            .map(Response::from)
            .map_err(HttpError::from)
    }

    /// Send it and read the answer as server-sent events, each with its
    /// arrival time (see [`crate::stream`]). One attempt, never retried; a gap
    /// between chunks over `read_timeout_ms` (default: the request timeout,
    /// at most 10 s) ends the stream as interrupted.
    ///
    /// # Errors
    ///
    /// As [`Request::send`]; a stream that breaks after its headers is not an
    /// error: it comes back with `interrupted` set.
    pub fn send_stream(self, read_timeout_ms: Option<u32>) -> Result<StreamResponse, HttpError> {
        host::send_stream(&self.into_wit(), read_timeout_ms).map_err(HttpError::from)
    }
}

pub use wit::{SseEvent, StreamResponse};

/// Send independent requests together: the host checks them one by one, then
/// has them in flight at the same time, and answers in the order given. The
/// negative probes cost one round trip this way, not one per probe.
///
/// ```no_run
/// use shipgate_sdk::http::{send_all, Request};
/// let answers = send_all(vec![Request::get("/models"), Request::get("/models/x")]);
/// assert_eq!(answers.len(), 2);
/// ```
pub fn send_all(requests: Vec<Request>) -> Vec<Result<Response, HttpError>> {
    let reqs: Vec<wit::Request> = requests.into_iter().map(Request::into_wit).collect();
    host::send_all(&reqs)
        .into_iter()
        .map(|r| r.map(Response::from).map_err(HttpError::from))
        .collect()
}

/// The attempts of this plugin's most recent [`Request::send`], whatever its
/// outcome: a timeout returns [`HttpError::Timeout`], and its attempts are here.
pub fn last_attempts() -> Vec<Attempt> {
    host::last_attempts()
        .into_iter()
        .map(Attempt::from)
        .collect()
}

/// One attempt of a request.
#[derive(Debug, Clone, PartialEq)]
pub struct Attempt {
    /// Attempt number, from 1.
    pub number: u32,
    /// Status, when a response came back.
    pub status: Option<u16>,
    /// Wait before this attempt, in milliseconds.
    pub wait_ms: u32,
    /// Latency of this attempt, in milliseconds.
    pub latency_ms: u32,
    /// The host's classification.
    pub category: ErrorCategory,
    /// Whether the attempt timed out.
    pub timed_out: bool,
}

/// A response from the target.
#[derive(Debug, Clone)]
pub struct Response {
    /// HTTP status.
    pub status: u16,
    /// Headers, lower-case names.
    pub headers: Vec<(String, String)>,
    /// Body (capped by the plan).
    pub body: Vec<u8>,
    /// Latency measured by the host, in milliseconds.
    pub latency_ms: u32,
    /// The correlation id the host generated and sent.
    pub correlation_id: String,
    /// The provider's request id, when one came back.
    pub provider_request_id: Option<String>,
    /// The host's classification of this response.
    pub category: ErrorCategory,
    /// Whether the classification table says the outcome may be retried.
    pub retryable: bool,
    /// Every attempt, in order.
    pub attempts: Vec<Attempt>,
}

impl Response {
    /// The first header with this name (case-insensitive).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// The body as text (lossy).
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    /// The body parsed as JSON.
    ///
    /// # Errors
    ///
    /// The parser's message when the body is not JSON.
    pub fn json(&self) -> Result<serde_json::Value, String> {
        serde_json::from_slice(&self.body).map_err(|e| e.to_string())
    }

    /// Whether the status is 2xx.
    pub fn is_success(&self) -> bool {
        (200..300).contains(&self.status)
    }
}

impl From<wit::Attempt> for Attempt {
    fn from(a: wit::Attempt) -> Self {
        Attempt {
            number: a.number,
            status: a.status,
            wait_ms: a.wait_ms,
            latency_ms: a.latency_ms,
            category: a.category,
            timed_out: a.timed_out,
        }
    }
}

impl From<wit::Response> for Response {
    fn from(r: wit::Response) -> Self {
        Response {
            status: r.status,
            headers: r.headers,
            body: r.body,
            latency_ms: r.latency_ms,
            correlation_id: r.correlation_id,
            provider_request_id: r.provider_request_id,
            category: r.category,
            retryable: r.retryable,
            attempts: r.attempts.into_iter().map(Attempt::from).collect(),
        }
    }
}

/// Why a request produced no response.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HttpError {
    /// Denied by the sandbox policy or this plugin's grant.
    Denied(String),
    /// Rejected by the host before dispatch; nothing was sent.
    Rejected(String),
    /// No complete response within this many milliseconds.
    Timeout(u32),
    /// Connection failed or broke.
    Connect(String),
    /// Response body exceeded the cap (bytes read so far).
    BodyTooLarge(u64),
    /// A response came back, but the host withheld it (it could not be
    /// checked for secrets, for example because it was compressed).
    Withheld(String),
}

impl From<wit::HttpError> for HttpError {
    fn from(e: wit::HttpError) -> Self {
        match e {
            wit::HttpError::Denied(m) => HttpError::Denied(m),
            wit::HttpError::Rejected(m) => HttpError::Rejected(m),
            wit::HttpError::Timeout(ms) => HttpError::Timeout(ms),
            wit::HttpError::Connect(m) => HttpError::Connect(m),
            wit::HttpError::BodyTooLarge(n) => HttpError::BodyTooLarge(n),
            wit::HttpError::Withheld(m) => HttpError::Withheld(m),
        }
    }
}

impl fmt::Display for HttpError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            HttpError::Denied(m) => write!(f, "denied by the host: {m}"),
            HttpError::Rejected(m) => write!(f, "rejected before dispatch: {m}"),
            HttpError::Timeout(ms) => write!(f, "no response within {ms} ms"),
            HttpError::Connect(m) => write!(f, "connection failed: {m}"),
            HttpError::BodyTooLarge(n) => write!(f, "response body over the cap ({n} bytes read)"),
            HttpError::Withheld(m) => write!(f, "response withheld by the host: {m}"),
        }
    }
}

impl std::error::Error for HttpError {}

impl fmt::Display for ErrorCategory {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            ErrorCategory::None => "none",
            ErrorCategory::RequestConstruction => "request-construction",
            ErrorCategory::Auth => "auth",
            ErrorCategory::Validation => "validation",
            ErrorCategory::Transient => "transient",
            ErrorCategory::RateLimit => "rate-limit",
            ErrorCategory::Unknown => "unknown",
        })
    }
}
