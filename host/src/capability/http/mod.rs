//! The `http` capability: sandboxed HTTP to the contract's target, and nothing else.
//!
//! # Security
//!
//! Every request passes, in order: the request budget, the egress policy
//! ([`policy`]), the plugin's auth-mode grant, the body size cap and the
//! pre-dispatch input limit; only then are the correlation id and the
//! credential ([`credentials`]) added. The client follows no redirects
//! (a 3xx is returned to the plugin as it is), ignores proxy variables (a
//! proxy would see the key), and connects only to the addresses resolved and
//! checked once when the run started, so DNS cannot widen the target. Response
//! bodies are read with a size cap while streaming, and scrubbed of the
//! credential before the plugin sees them.

pub mod credentials;
pub mod policy;
pub mod retry;

use crate::bindings::shipgate::plugin::http::{
    Attempt, AuthMode, ErrorCategory, Host, HttpError, Method, Request, Response,
};
use crate::classify::{Category, Classification, Classifier};
use crate::redact::Redactor;
use crate::telemetry::{AttemptRecord, RequestTelemetry, field_types};
use credentials::Credentials;
use futures_util::StreamExt as _;
use rand::Rng as _;
use reqwest::Url;
use retry::{RetryAfter, RetryPolicy};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime};

/// Status, headers and body of one exchange.
type Exchange = (u16, Vec<(String, String)>, Vec<u8>);

/// The longest client timeout any request may ask for.
pub const MAX_REQUEST_TIMEOUT: Duration = Duration::from_secs(300);

/// What the run's target and policy are; shared by every plugin of a run.
#[derive(Debug, Clone)]
pub struct HttpTarget {
    /// The contract's base URL.
    pub base_url: Url,
    /// Provider name (telemetry).
    pub provider: String,
    /// The chat completions path (to label telemetry `chat`).
    pub chat_path: String,
    /// Header carrying the correlation id.
    pub correlation_header: String,
    /// Header carrying the provider's request id, when documented.
    pub request_id_header: Option<String>,
    /// The client: no redirects, no proxy, pinned addresses.
    pub client: reqwest::Client,
    /// Credentials.
    pub credentials: Arc<Credentials>,
    /// Error classification.
    pub classifier: Arc<Classifier>,
}

/// Why building the target failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum TargetError {
    /// The host did not resolve.
    #[error("cannot resolve {host}: {reason}")]
    Resolve {
        /// Host name.
        host: String,
        /// Resolver message.
        reason: String,
    },
    /// It resolved only to forbidden addresses.
    #[error(
        "{host} resolves to {addr}, a link-local/metadata or unroutable address; shipgate will not connect there"
    )]
    ForbiddenAddress {
        /// Host name.
        host: String,
        /// The address.
        addr: std::net::IpAddr,
    },
    /// The HTTP client could not be built.
    #[error("cannot build the HTTP client: {0}")]
    Client(String),
}

impl HttpTarget {
    /// Resolve and pin the base URL's host, then build the client.
    ///
    /// # Errors
    ///
    /// [`TargetError`] when the host does not resolve, resolves to a
    /// forbidden address, or the client cannot be built.
    pub async fn new(
        base_url: Url,
        provider: &str,
        chat_path: &str,
        correlation_header: &str,
        request_id_header: Option<&str>,
        credentials: Credentials,
        classifier: Classifier,
    ) -> Result<HttpTarget, TargetError> {
        let host = base_url.host_str().unwrap_or_default().to_owned();
        let port = base_url.port_or_known_default().unwrap_or(443);
        let mut builder = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .no_proxy()
            .user_agent(concat!("shipgate/", env!("CARGO_PKG_VERSION")))
            .connect_timeout(Duration::from_secs(10));
        let literal: Option<std::net::IpAddr> = host.trim_matches(['[', ']']).parse().ok();
        let addrs: Vec<std::net::SocketAddr> = match literal {
            Some(ip) => vec![std::net::SocketAddr::new(ip, port)],
            None => tokio::net::lookup_host((host.as_str(), port))
                .await
                .map_err(|e| TargetError::Resolve {
                    host: host.clone(),
                    reason: e.to_string(),
                })?
                .collect(),
        };
        if let Some(bad) = addrs.iter().find(|a| !policy::address_allowed(a.ip())) {
            return Err(TargetError::ForbiddenAddress {
                host,
                addr: bad.ip(),
            });
        }
        if literal.is_none() {
            // Enforce: connect only to the addresses checked here (DNS cannot widen the target).
            builder = builder.resolve_to_addrs(&host, &addrs);
        }
        let client = builder
            .build()
            .map_err(|e| TargetError::Client(e.to_string()))?;
        Ok(HttpTarget {
            base_url,
            provider: provider.to_owned(),
            chat_path: chat_path.to_owned(),
            correlation_header: correlation_header.to_ascii_lowercase(),
            request_id_header: request_id_header.map(str::to_ascii_lowercase),
            client,
            credentials: Arc::new(credentials),
            classifier: Arc::new(classifier),
        })
    }
}

/// One plugin's HTTP grants and limits.
#[derive(Debug, Clone)]
pub struct HttpLimits {
    /// Auth modes it may use.
    pub auth: Vec<crate::plan::AuthGrant>,
    /// May it send prompts over the input limit.
    pub send_oversized: bool,
    /// Most requests.
    pub max_requests: u32,
    /// Largest request body.
    pub max_request_bytes: u64,
    /// Largest response body.
    pub max_response_bytes: u64,
    /// Largest prompt (sum of message contents), in bytes.
    pub input_limit_bytes: u64,
    /// Default client timeout.
    pub default_timeout: Duration,
    /// The retry policy.
    pub retry: RetryPolicy,
    /// Whether prompt content may be recorded (else only its size).
    pub content_capture: bool,
}

/// A denial the host recorded.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Denial {
    /// The plugin.
    pub plugin: String,
    /// Why.
    pub reason: String,
}

/// Per-plugin-run HTTP state.
#[derive(Debug)]
pub struct HttpCtx {
    plugin: String,
    target: HttpTarget,
    limits: HttpLimits,
    redactor: Arc<Redactor>,
    telemetry: Arc<Mutex<Vec<RequestTelemetry>>>,
    prompts: Arc<Mutex<Vec<String>>>,
    denials: Arc<Mutex<Vec<Denial>>>,
    scrub: Option<regex::bytes::Regex>,
    sent: u32,
    last_attempts: Vec<Attempt>,
    /// Set when the request budget was exceeded, for the runtime's limit finding.
    pub budget_exceeded: bool,
}

impl HttpCtx {
    /// HTTP state for one plugin run.
    pub fn new(
        plugin: &str,
        target: HttpTarget,
        limits: HttpLimits,
        redactor: Arc<Redactor>,
        outputs: &crate::capability::audit::RunOutputs,
        denials: Arc<Mutex<Vec<Denial>>>,
    ) -> Self {
        let scrub = target.credentials.secret.as_ref().map(|s| {
            use base64::Engine as _;
            let raw = s.expose();
            let forms = [
                regex::escape(raw),
                regex::escape(&base64::engine::general_purpose::STANDARD.encode(raw)),
                regex::escape(&base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(raw)),
            ];
            regex::bytes::Regex::new(&forms.join("|")).expect("escaped literals")
        });
        HttpCtx {
            plugin: plugin.to_owned(),
            target,
            limits,
            redactor,
            telemetry: outputs.telemetry.clone(),
            prompts: outputs.prompts.clone(),
            denials,
            scrub,
            sent: 0,
            last_attempts: Vec::new(),
            budget_exceeded: false,
        }
    }

    /// Requests sent so far.
    pub fn requests_sent(&self) -> u32 {
        self.sent
    }

    /// Remove the credential from anything bound for the guest.
    fn scrub(&self, bytes: Vec<u8>) -> Vec<u8> {
        match &self.scrub {
            Some(re) if re.is_match(&bytes) => re
                .replace_all(&bytes, &b"[REDACTED:credential]"[..])
                .into_owned(),
            _ => bytes,
        }
    }

    /// Keep the prompts sent, for the redaction audit (bounded; memory only).
    fn remember_prompts(&self, body: &[u8]) {
        let Ok(v) = serde_json::from_slice::<serde_json::Value>(body) else {
            return;
        };
        let Some(msgs) = v.get("messages").and_then(|m| m.as_array()) else {
            return;
        };
        let mut prompts = self.prompts.lock().expect("prompts lock");
        for m in msgs {
            if let Some(c) = m.get("content").and_then(|c| c.as_str())
                && prompts.len() < crate::capability::audit::MAX_PROMPTS
                && !prompts.iter().any(|p| p == c)
            {
                prompts.push(
                    c.chars()
                        .take(crate::capability::audit::MAX_PROMPT_BYTES)
                        .collect(),
                );
            }
        }
    }

    fn deny(&mut self, tel: &mut RequestTelemetry, reason: String) -> HttpError {
        tel.outcome = "denied".into();
        tel.reason = Some(self.redactor.redact(&reason).into_owned());
        self.denials.lock().expect("denials lock").push(Denial {
            plugin: self.plugin.clone(),
            reason: self.redactor.redact(&reason).into_owned(),
        });
        HttpError::Denied(reason)
    }

    fn record(&self, mut tel: RequestTelemetry) {
        // Telemetry is written to the record: redact every string in it.
        let mut v = serde_json::to_value(&tel).unwrap_or_default();
        self.redactor.redact_json(&mut v);
        if let Ok(t) = serde_json::from_value(v) {
            tel = t;
        }
        self.telemetry.lock().expect("telemetry lock").push(tel);
    }

    async fn send_checked(
        &mut self,
        req: Request,
        tel: &mut RequestTelemetry,
    ) -> Result<Response, HttpError> {
        // Enforce: sandbox.max_requests.
        if self.sent >= self.limits.max_requests {
            self.budget_exceeded = true;
            return Err(self.deny(
                tel,
                format!(
                    "request budget spent: sandbox.max_requests = {} (raise it in the plan)",
                    self.limits.max_requests
                ),
            ));
        }
        // Enforce: base_url origin.
        let url = match policy::join(&self.target.base_url, &req.path) {
            Ok(u) => u,
            Err(reason) => return Err(self.deny(tel, reason)),
        };
        for (k, v) in &req.headers {
            if let Err(reason) = policy::check_header(
                k,
                v,
                &self.target.credentials.header,
                &self.target.correlation_header,
            ) {
                return Err(self.deny(tel, reason));
            }
        }
        // Enforce: plugins.grants.auth.
        let grant = match req.auth {
            AuthMode::Configured => crate::plan::AuthGrant::Configured,
            AuthMode::Omitted => crate::plan::AuthGrant::Omitted,
            AuthMode::Invalid => crate::plan::AuthGrant::Invalid,
        };
        if !self.limits.auth.contains(&grant) {
            return Err(self.deny(tel, format!(
                "auth mode `{}` is not granted to this plugin (grant it with plugins.grants.auth in the plan)",
                tel.auth_mode
            )));
        }
        // Enforce: sandbox.max_request_bytes.
        if req.body.len() as u64 > self.limits.max_request_bytes {
            tel.outcome = "rejected".into();
            let reason = format!(
                "request body is {} bytes, over sandbox.max_request_bytes = {}",
                req.body.len(),
                self.limits.max_request_bytes
            );
            tel.reason = Some(reason.clone());
            return Err(HttpError::Rejected(reason));
        }
        // Enforce: thresholds.input_limit_bytes, before dispatch.
        let prompt_bytes = prompt_bytes(&req.body);
        if prompt_bytes > self.limits.input_limit_bytes && !self.limits.send_oversized {
            tel.outcome = "rejected".into();
            let reason = format!(
                "prompt is {prompt_bytes} bytes, over thresholds.input_limit_bytes = {}; nothing was sent",
                self.limits.input_limit_bytes
            );
            tel.reason = Some(reason.clone());
            return Err(HttpError::Rejected(reason));
        }
        let timeout = req
            .timeout_ms
            .map(|ms| Duration::from_millis(u64::from(ms)))
            .unwrap_or(self.limits.default_timeout)
            .min(MAX_REQUEST_TIMEOUT);
        let token = match req.auth {
            AuthMode::Configured => self.target.credentials.secret.clone(),
            AuthMode::Omitted => None,
            AuthMode::Invalid => Some(self.target.credentials.honeytoken.clone()),
        };
        if req.auth == AuthMode::Configured && token.is_none() {
            return Err(self.deny(tel, "no credential is configured for this run".into()));
        }
        let correlation_id = uuid::Uuid::new_v4().to_string();
        tel.correlation_id = correlation_id.clone();
        self.remember_prompts(&req.body);

        let policy = if req.retry {
            self.limits.retry
        } else {
            RetryPolicy {
                max_attempts: 1,
                ..self.limits.retry
            }
        };
        let started = Instant::now();
        let mut attempts: Vec<Attempt> = Vec::new();
        let mut wait = Duration::ZERO;
        loop {
            let number = attempts.len() as u32 + 1;
            if number > 1 {
                tokio::time::sleep(wait).await;
            }
            self.sent += 1;
            let mut rb = self
                .target
                .client
                .request(method(req.method), url.clone())
                .timeout(timeout)
                .header(
                    self.target.correlation_header.as_str(),
                    correlation_id.as_str(),
                );
            for (k, v) in &req.headers {
                rb = rb.header(k.as_str(), v.as_str());
            }
            if let Some(t) = &token {
                let mut value = reqwest::header::HeaderValue::from_str(
                    &self.target.credentials.header_value(t),
                )
                .map_err(|_| {
                    HttpError::Rejected("credential is not a valid header value".into())
                })?;
                value.set_sensitive(true);
                rb = rb.header(self.target.credentials.header.as_str(), value);
            }
            if !req.body.is_empty() {
                rb = rb.body(req.body.clone());
            }
            let t0 = Instant::now();
            let outcome =
                tokio::time::timeout(timeout, exchange(rb, self.limits.max_response_bytes)).await;
            let latency = t0.elapsed();
            let (result, class, timed_out) = match outcome {
                Err(_) => (
                    Err(HttpError::Timeout(timeout.as_millis() as u32)),
                    Classifier::transport_failure(),
                    true,
                ),
                Ok(Err(HttpError::Timeout(_))) => (
                    // reqwest's own timer fired first: report the configured timeout.
                    Err(HttpError::Timeout(timeout.as_millis() as u32)),
                    Classifier::transport_failure(),
                    true,
                ),
                Ok(Err(e)) => (Err(e), Classifier::transport_failure(), false),
                Ok(Ok((status, headers, body))) => {
                    let class = self.target.classifier.classify(status, &headers, &body);
                    (Ok((status, headers, body)), class, false)
                }
            };
            attempts.push(Attempt {
                number,
                status: result.as_ref().ok().map(|r| r.0),
                wait_ms: wait.as_millis() as u32,
                latency_ms: latency.as_millis() as u32,
                category: category(class.category),
                timed_out,
            });
            // Decide whether to retry, within attempts and budget.
            let headers_for_retry: Vec<(String, String)> =
                result.as_ref().map(|r| r.1.clone()).unwrap_or_default();
            let mut next_wait = None;
            if class.retryable && number < policy.max_attempts {
                let backoff = policy.backoff(number, rand::rng().random::<f64>());
                let w = match retry::retry_after(
                    &headers_for_retry,
                    policy.retry_after_cap,
                    SystemTime::now(),
                ) {
                    RetryAfter::Wait(d) => Some(d),
                    RetryAfter::TooLong(_) => None,
                    RetryAfter::None => Some(backoff),
                };
                if let Some(w) = w
                    && started.elapsed() + w < policy.budget
                {
                    next_wait = Some(w);
                }
            }
            match next_wait {
                Some(w) => {
                    wait = w;
                    continue;
                }
                None => {
                    self.last_attempts = attempts.clone();
                    return self.finish(tel, result, class, latency, attempts, correlation_id);
                }
            }
        }
    }

    fn finish(
        &self,
        tel: &mut RequestTelemetry,
        result: Result<Exchange, HttpError>,
        class: Classification,
        latency: Duration,
        attempts: Vec<Attempt>,
        correlation_id: String,
    ) -> Result<Response, HttpError> {
        tel.latency_ms = latency.as_millis() as u64;
        tel.retry_count = attempts.len().saturating_sub(1) as u32;
        tel.timeout_count = attempts.iter().filter(|a| a.timed_out).count() as u32;
        tel.attempts = attempts
            .iter()
            .map(|a| AttemptRecord {
                number: a.number,
                status: a.status,
                wait_ms: u64::from(a.wait_ms),
                latency_ms: u64::from(a.latency_ms),
                category: category_name(a.category).into(),
                timed_out: a.timed_out,
            })
            .collect();
        tel.error_category = class.category.as_str().into();
        let (status, headers, body) = match result {
            Err(e) => {
                tel.outcome = match &e {
                    HttpError::Timeout(_) => "timeout",
                    HttpError::BodyTooLarge(_) => "body-too-large",
                    _ => "connect",
                }
                .into();
                tel.error_type = Some(tel.outcome.clone());
                if let HttpError::Connect(m) = &e {
                    tel.reason = Some(m.clone());
                }
                return Err(e);
            }
            Ok(r) => r,
        };
        tel.outcome = "response".into();
        tel.status = Some(status);
        if class.category != Category::None {
            tel.error_type = Some(class.category.as_str().into());
        }
        let parsed: Option<serde_json::Value> = serde_json::from_slice(&body).ok();
        tel.parse_ok = (!body.is_empty()).then_some(parsed.is_some());
        let header = |n: &str| headers.iter().find(|(k, _)| k == n).map(|(_, v)| v.clone());
        let provider_request_id = self
            .target
            .request_id_header
            .as_deref()
            .and_then(header)
            .or_else(|| header("x-request-id"))
            .or_else(|| parsed.as_ref().and_then(request_id_in_message));
        tel.provider_request_id = provider_request_id.clone();
        if let Some(v) = &parsed {
            let s = |p: &str| v.pointer(p).and_then(|x| x.as_str()).map(str::to_owned);
            tel.response_id = s("/id");
            tel.response_model = s("/model");
            tel.finish_reasons = v
                .pointer("/choices")
                .and_then(|c| c.as_array())
                .map(|a| {
                    a.iter()
                        .filter_map(|c| c.get("finish_reason")?.as_str().map(str::to_owned))
                        .collect()
                })
                .unwrap_or_default();
            tel.input_tokens = v.pointer("/usage/prompt_tokens").and_then(|x| x.as_u64());
            tel.output_tokens = v
                .pointer("/usage/completion_tokens")
                .and_then(|x| x.as_u64());
            tel.response_fields = field_types(v);
        }
        // Enforce: the guest never sees the credential, even when the server echoes it.
        let headers: Vec<(String, String)> = headers
            .into_iter()
            .filter(|(k, _)| k != "set-cookie")
            .map(|(k, v)| {
                (
                    k,
                    String::from_utf8_lossy(&self.scrub(v.into_bytes())).into_owned(),
                )
            })
            .collect();
        Ok(Response {
            status,
            headers,
            body: self.scrub(body),
            latency_ms: latency.as_millis() as u32,
            correlation_id,
            provider_request_id,
            category: category(class.category),
            retryable: class.retryable,
            attempts,
        })
    }
}

/// One request/response exchange with a capped body read.
async fn exchange(rb: reqwest::RequestBuilder, cap: u64) -> Result<Exchange, HttpError> {
    let resp = rb.send().await.map_err(transport_error)?;
    let status = resp.status().as_u16();
    let headers: Vec<(String, String)> = resp
        .headers()
        .iter()
        .map(|(k, v)| {
            (
                k.as_str().to_owned(),
                String::from_utf8_lossy(v.as_bytes()).into_owned(),
            )
        })
        .collect();
    // Enforce: sandbox.max_response_bytes, while streaming.
    if resp.content_length().is_some_and(|n| n > cap) {
        return Err(HttpError::BodyTooLarge(0));
    }
    let mut body = Vec::new();
    let mut stream = resp.bytes_stream();
    while let Some(chunk) = stream.next().await {
        let chunk = chunk.map_err(transport_error)?;
        if body.len() as u64 + chunk.len() as u64 > cap {
            return Err(HttpError::BodyTooLarge(
                body.len() as u64 + chunk.len() as u64,
            ));
        }
        body.extend_from_slice(&chunk);
    }
    Ok((status, headers, body))
}

fn transport_error(e: reqwest::Error) -> HttpError {
    if e.is_timeout() {
        HttpError::Timeout(0)
    } else {
        // reqwest messages name the URL (no credential: base_url cannot carry one).
        let mut msg = e.to_string();
        let mut src = std::error::Error::source(&e);
        while let Some(s) = src {
            msg.push_str(": ");
            msg.push_str(&s.to_string());
            src = s.source();
        }
        HttpError::Connect(msg)
    }
}

/// CometAPI puts the request id in the error message: `... (request id: XYZ)`.
fn request_id_in_message(v: &serde_json::Value) -> Option<String> {
    let msg = v.pointer("/error/message")?.as_str()?;
    let start = msg.rfind("(request id:")? + "(request id:".len();
    let end = msg[start..].find(')')? + start;
    let id = msg[start..end].trim();
    (!id.is_empty()).then(|| id.to_owned())
}

/// The request body as a template: message content replaced by its size
/// unless the plan allows content capture.
fn request_shape(mut body: serde_json::Value, content_capture: bool) -> serde_json::Value {
    if !content_capture && let Some(msgs) = body.get_mut("messages").and_then(|m| m.as_array_mut())
    {
        for m in msgs {
            if let Some(c) = m.get_mut("content") {
                let n = c
                    .as_str()
                    .map(str::len)
                    .unwrap_or_else(|| c.to_string().len());
                *c = serde_json::Value::String(format!("<{n} bytes of content>"));
            }
        }
    }
    body
}

/// Bytes of message content in a chat request body (0 when it is not one).
fn prompt_bytes(body: &[u8]) -> u64 {
    let Ok(v) = serde_json::from_slice::<serde_json::Value>(body) else {
        return 0;
    };
    v.get("messages")
        .and_then(|m| m.as_array())
        .map(|msgs| {
            msgs.iter()
                .map(|m| match m.get("content") {
                    Some(serde_json::Value::String(s)) => s.len() as u64,
                    Some(other) => other.to_string().len() as u64,
                    None => 0,
                })
                .sum()
        })
        .unwrap_or(0)
}

fn method(m: Method) -> reqwest::Method {
    match m {
        Method::Get => reqwest::Method::GET,
        Method::Post => reqwest::Method::POST,
        Method::Put => reqwest::Method::PUT,
        Method::Delete => reqwest::Method::DELETE,
        Method::Head => reqwest::Method::HEAD,
        Method::Options => reqwest::Method::OPTIONS,
        Method::Patch => reqwest::Method::PATCH,
    }
}

fn category(c: Category) -> ErrorCategory {
    match c {
        Category::None => ErrorCategory::None,
        Category::RequestConstruction => ErrorCategory::RequestConstruction,
        Category::Auth => ErrorCategory::Auth,
        Category::Validation => ErrorCategory::Validation,
        Category::Transient => ErrorCategory::Transient,
        Category::RateLimit => ErrorCategory::RateLimit,
        Category::Unknown => ErrorCategory::Unknown,
    }
}

fn category_name(c: ErrorCategory) -> &'static str {
    match c {
        ErrorCategory::None => "none",
        ErrorCategory::RequestConstruction => "request-construction",
        ErrorCategory::Auth => "auth",
        ErrorCategory::Validation => "validation",
        ErrorCategory::Transient => "transient",
        ErrorCategory::RateLimit => "rate-limit",
        ErrorCategory::Unknown => "unknown",
    }
}

impl Host for HttpCtx {
    async fn send(&mut self, req: Request) -> wasmtime::Result<Result<Response, HttpError>> {
        let body_json: Option<serde_json::Value> = serde_json::from_slice(&req.body).ok();
        let is_chat = req.path.split('?').next() == Some(self.target.chat_path.as_str());
        let mut tel = RequestTelemetry {
            plugin: self.plugin.clone(),
            operation: req.operation.chars().take(128).collect(),
            genai_operation: if is_chat { "chat" } else { "http" }.into(),
            provider: self.target.provider.clone(),
            request_category: if is_chat {
                "chat.completions".into()
            } else {
                "other".into()
            },
            request_model: body_json
                .as_ref()
                .and_then(|v| v.get("model")?.as_str().map(str::to_owned)),
            request_max_tokens: body_json.as_ref().and_then(|v| {
                v.get("max_tokens")
                    .or_else(|| v.get("max_completion_tokens"))?
                    .as_u64()
            }),
            method: format!("{:?}", method(req.method))
                .trim_matches('"')
                .to_owned(),
            path: req.path.chars().take(512).collect(),
            server_address: self
                .target
                .base_url
                .host_str()
                .unwrap_or_default()
                .to_owned(),
            server_port: self.target.base_url.port_or_known_default().unwrap_or(0),
            auth_mode: match req.auth {
                AuthMode::Configured => "configured",
                AuthMode::Omitted => "omitted",
                AuthMode::Invalid => "invalid",
            }
            .into(),
            status: None,
            outcome: String::new(),
            error_category: "request-construction".into(),
            error_type: None,
            latency_ms: 0,
            retry_count: 0,
            timeout_count: 0,
            attempts: Vec::new(),
            parse_ok: None,
            correlation_id: String::new(),
            correlation_header: self.target.correlation_header.clone(),
            provider_request_id: None,
            response_id: None,
            response_model: None,
            finish_reasons: Vec::new(),
            input_tokens: None,
            output_tokens: None,
            response_fields: Vec::new(),
            reason: None,
            request_shape: body_json.map(|b| request_shape(b, self.limits.content_capture)),
        };
        self.last_attempts.clear();
        let result = self.send_checked(req, &mut tel).await;
        if matches!(result, Err(HttpError::Rejected(_))) {
            tel.error_type = Some("request-construction".into());
        }
        self.record(tel);
        Ok(result)
    }

    async fn last_attempts(&mut self) -> wasmtime::Result<Vec<Attempt>> {
        Ok(self.last_attempts.clone())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_cometapi_request_id_in_message() {
        let v = serde_json::json!({"error": {"message": "model not found (request id: 2025abc)"}});
        assert_eq!(request_id_in_message(&v).as_deref(), Some("2025abc"));
        assert_eq!(
            request_id_in_message(&serde_json::json!({"error": {"message": "x"}})),
            None
        );
    }

    #[test]
    fn counts_prompt_bytes() {
        let body = br#"{"model":"m","messages":[{"role":"user","content":"hello"},{"role":"system","content":"abc"}]}"#;
        assert_eq!(prompt_bytes(body), 8);
        assert_eq!(prompt_bytes(b"not json"), 0);
    }
}
