//! The `http` capability: sandboxed HTTP to the contract's target, and nothing else.
//!
//! # Security
//!
//! A request is first **admitted** (`HttpCtx::admit`): it takes one unit of
//! the plugin's request budget (denied and rejected requests too), then passes
//! the egress policy (`policy`: the URL actually sent, the method and route,
//! the header allow-list), the plugin's auth-mode grant, the body cap, the
//! host-owned fault field and the spend limits. Everything the host keeps
//! about it is capped and redacted by secret-independent rules only. Only then
//! is it recorded in the run's telemetry, given a correlation id and its
//! credential (`credentials`), and **dispatched** (`send`), once, attempt
//! by attempt; what comes back is scrubbed of the run's secrets before the
//! host or the plugin reads it.
//!
//! Nothing here depends on the secret in a way a guest could observe: the
//! policy never looks at it, the scrub matches only full forms with fixed work
//! per byte, and the text a guest supplied is matched against the secret only
//! after the run (by the output redactor).

pub mod cassette;
pub mod credentials;
pub mod limiter;
pub(crate) mod policy;
pub(crate) mod retry;
pub(crate) mod send;
pub(crate) mod spend;
pub(crate) mod stream;
pub mod target;
pub(crate) mod telemetry;

pub(crate) use send::body_coding;
pub use spend::{Spend, SpendVerdict, check_spend};
pub use target::{HttpTarget, RequestIdRule, TargetError, TargetSpec};

use crate::bindings::shipgate::plugin::http::{
    Attempt, AuthMode, ErrorCategory, Host, HttpError, Method, Request, Response, StreamResponse,
};
use crate::classify::Category;
use crate::telemetry::RequestTelemetry;
use retry::RetryPolicy;
use send::{Admitted, Budget, Dispatched};
use std::sync::{Arc, Mutex};
use std::time::Duration;
pub use telemetry::{Ledger, MAX_REASON, MAX_SHAPE_BYTES, MAX_STORED_PATH, bounded};

/// The longest client timeout any request may ask for.
pub const MAX_REQUEST_TIMEOUT: Duration = Duration::from_secs(300);
/// Most denials stored per plugin (the rest are counted).
pub const MAX_STORED_DENIALS: u32 = 32;

/// One plugin's HTTP grants and limits.
#[derive(Debug, Clone)]
pub struct HttpLimits {
    /// Auth modes it may use.
    pub auth: Vec<crate::plan::AuthGrant>,
    /// May it send bodies over the input limit.
    pub send_oversized: bool,
    /// Headers the plan grants it by name (lower case), besides the defaults.
    pub headers: Vec<String>,
    /// Models the plan grants it, besides the contract's.
    pub models: Vec<String>,
    /// Paths it may read besides the model list (`grants.paths`).
    pub paths: Vec<String>,
    /// Chat fields it may send besides the cost-neutral list (`grants.fields`).
    pub fields: Vec<String>,
    /// Message content part types besides `text` (`grants.parts`).
    pub parts: Vec<String>,
    /// May it ask a target other than the built-in mock for faults.
    pub faults: bool,
    /// Most requests (calls and attempts).
    pub max_requests: u32,
    /// Largest request body.
    pub max_request_bytes: u64,
    /// Largest response body.
    pub max_response_bytes: u64,
    /// Largest chat request body, in bytes.
    pub input_limit_bytes: u64,
    /// The output ceiling, in tokens.
    pub output_token_ceiling: u64,
    /// Default client timeout.
    pub default_timeout: Duration,
    /// The retry policy.
    pub retry: RetryPolicy,
    /// Whether prompt content may be recorded (else only its size).
    pub content_capture: bool,
}

pub use crate::report::record::Denial;

/// Where a run keeps what its plugins sent, shared by every plugin.
#[derive(Debug, Clone, Default)]
pub struct HttpShared {
    /// Telemetry, one entry per request, in the order they were admitted.
    pub ledger: Ledger,
    /// Denials (capped per plugin).
    pub denials: Arc<Mutex<Vec<Denial>>>,
    /// Prompts sent, for the redaction audit.
    pub prompts: Arc<Mutex<Vec<String>>>,
    /// The run's event sinks.
    pub events: crate::events::Events,
}

/// Per-plugin-run HTTP state.
#[derive(Debug)]
pub struct HttpCtx {
    plugin: String,
    target: HttpTarget,
    limits: HttpLimits,
    shared: HttpShared,
    budget: Arc<Budget>,
    denials_stored: u32,
    last_attempts: Vec<Attempt>,
    /// Set when the request budget was spent, for the runtime's limit finding.
    pub budget_exceeded: bool,
}

/// Why a request never went out.
enum Refusal {
    Denied(String),
    Rejected(String),
}

impl HttpCtx {
    /// HTTP state for one plugin run.
    pub fn new(plugin: &str, target: HttpTarget, limits: HttpLimits, shared: HttpShared) -> Self {
        HttpCtx {
            plugin: plugin.to_owned(),
            budget: Arc::new(Budget::new(limits.max_requests)),
            target,
            limits,
            shared,
            denials_stored: 0,
            last_attempts: Vec::new(),
            budget_exceeded: false,
        }
    }

    /// Responses that held a fragment of one of the run's secrets, and those
    /// that still did as the plugin received them (host-only counts).
    pub fn reflections(&self) -> (u32, u32) {
        (self.budget.reflected(), self.budget.exposed())
    }

    /// Units of the request budget used (calls, denied ones included, and attempts).
    pub fn requests_used(&self) -> u32 {
        self.budget.used()
    }

    /// Requests this plugin had dispatched (attempts that left the machine,
    /// also those cut off at its deadline).
    pub fn requests_sent(&self) -> u32 {
        self.budget.dispatched()
    }

    /// Mark this plugin's requests still out as cancelled: the plugin was
    /// stopped (at its deadline) while they were in flight. They stay on the
    /// record with the attempts made so far.
    pub fn cancel_in_flight(&self) {
        telemetry::cancel_in_flight(&self.shared.ledger, &self.plugin);
    }

    /// Check one request and record it; `Ok` is ready to dispatch.
    fn admit(&mut self, req: Request) -> Result<Admitted, HttpError> {
        // Enforce: sandbox.max_requests, for every call (denied ones too).
        if !self.budget.take() {
            let reason = format!(
                "request budget spent: sandbox.max_requests = {} (every request, attempt and denial counts; raise it in the plan)",
                self.limits.max_requests
            );
            // Recorded once; later calls are only counted.
            if !self.budget_exceeded {
                self.budget_exceeded = true;
                self.remember_denial(&reason);
            }
            return Err(HttpError::Denied(reason));
        }
        let mut tel = telemetry::entry(&self.plugin, &self.target.spec, &req);
        match self.check(&req, &mut tel) {
            Err(refusal) => {
                let (outcome, reason) = match &refusal {
                    Refusal::Denied(r) => ("denied", r),
                    Refusal::Rejected(r) => ("rejected", r),
                };
                let reason = bounded(reason, MAX_REASON);
                tel.outcome = outcome.into();
                tel.error_type = Some("request-construction".into());
                tel.reason = Some(reason.clone());
                if outcome == "denied" {
                    self.remember_denial(&reason);
                }
                self.shared.ledger.lock().expect("telemetry lock").push(tel);
                Err(match refusal {
                    Refusal::Denied(_) => HttpError::Denied(reason),
                    Refusal::Rejected(_) => HttpError::Rejected(reason),
                })
            }
            Ok(mut admitted) => {
                tel.outcome = "in-flight".into();
                tel.correlation_id = admitted.correlation_id.clone();
                self.remember_prompts(&admitted.body);
                let mut ledger = self.shared.ledger.lock().expect("telemetry lock");
                admitted.entry = ledger.len();
                // Enforce: a request is on the record before it is dispatched.
                ledger.push(tel);
                Ok(admitted)
            }
        }
    }

    /// The policy, grant, size, fault and spend checks, in order.
    fn check(&self, req: &Request, tel: &mut RequestTelemetry) -> Result<Admitted, Refusal> {
        let spec = &self.target.spec;
        let method = method(req.method);
        // Enforce: base_url origin and path, on the URL that will be sent.
        let url = policy::join(&spec.base_url, &req.path).map_err(Refusal::Denied)?;
        tel.path = bounded(url.path(), MAX_STORED_PATH);
        // Enforce: the route allow-list (the chat endpoint; reads of the model list).
        let routes = policy::Routes::new(
            spec.chat_method.clone(),
            &spec.chat_path,
            &self.limits.paths,
        );
        policy::check_route(&method, &req.path, req.body.len(), &routes)
            .map_err(Refusal::Denied)?;
        // Enforce: the header allow-list (defaults, the contract's documented headers, the plan's grant).
        let mut extra = spec.documented_headers.clone();
        extra.extend(self.limits.headers.iter().cloned());
        policy::check_headers(&req.headers, &extra).map_err(Refusal::Denied)?;
        // Enforce: plugins.grants.auth.
        let grant = match req.auth {
            AuthMode::Configured => crate::plan::AuthGrant::Configured,
            AuthMode::Omitted => crate::plan::AuthGrant::Omitted,
            AuthMode::Invalid => crate::plan::AuthGrant::Invalid,
        };
        if !self.limits.auth.contains(&grant) {
            return Err(Refusal::Denied(format!(
                "auth mode `{}` is not granted to this plugin (grant it with plugins.grants.auth in the plan)",
                tel.auth_mode
            )));
        }
        // Enforce: sandbox.max_request_bytes.
        if req.body.len() as u64 > self.limits.max_request_bytes {
            return Err(Refusal::Rejected(format!(
                "request body is {} bytes, over sandbox.max_request_bytes = {}",
                req.body.len(),
                self.limits.max_request_bytes
            )));
        }
        // Enforce: faults only from the host-owned field, only where honoured, capped.
        let fault = match &req.fault {
            None => None,
            Some(f) if spec.is_builtin_mock || self.limits.faults => {
                crate::mock::Fault::parse_sequence(f)
                    .map_err(|e| Refusal::Denied(format!("fault: {e}")))?;
                tel.fault = Some(bounded(f, 128));
                Some(f.clone())
            }
            Some(_) => {
                return Err(Refusal::Denied(
                    "fault injection is available against the built-in mock only (or a fault-injecting proxy the plan grants with grants.faults = true)".into(),
                ));
            }
        };
        // Enforce: spend limits on the chat endpoint.
        let mut body = req.body.clone();
        if routes.is_chat(&method, &req.path) {
            let mut models = vec![spec.model.clone(), self.target.unapproved_model.clone()];
            models.extend(self.limits.models.iter().cloned());
            let spend = spend::Spend {
                models,
                ceiling: self.limits.output_token_ceiling,
                ceiling_field: spec.output_ceiling_field.clone(),
                input_limit_bytes: self.limits.input_limit_bytes,
                send_oversized: self.limits.send_oversized,
                fields: self.limits.fields.clone(),
                parts: self.limits.parts.clone(),
            };
            match spend::check_spend(&body, &spend) {
                spend::SpendVerdict::Send(b) => body = b,
                spend::SpendVerdict::Deny(why) => return Err(Refusal::Denied(why)),
                spend::SpendVerdict::Reject(why) => return Err(Refusal::Rejected(why)),
            }
        }
        let token = match req.auth {
            AuthMode::Configured => match &self.target.credentials.secret {
                Some(s) => Some(s.clone()),
                None => {
                    return Err(Refusal::Denied(
                        "no credential is configured for this run".into(),
                    ));
                }
            },
            AuthMode::Omitted => None,
            AuthMode::Invalid => Some(self.target.credentials.honeytoken.clone()),
        };
        let parsed: Option<serde_json::Value> = serde_json::from_slice(&body).ok();
        tel.request_shape =
            parsed.map(|b| telemetry::request_shape(b, self.limits.content_capture));
        tel.request_max_tokens = tel.request_shape.as_ref().and_then(|v| {
            v.get("max_tokens")
                .or_else(|| v.get("max_completion_tokens"))?
                .as_u64()
        });
        let timeout = req
            .timeout_ms
            .map(|ms| Duration::from_millis(u64::from(ms)))
            .unwrap_or(self.limits.default_timeout)
            .min(MAX_REQUEST_TIMEOUT);
        Ok(Admitted {
            entry: 0,
            method,
            url,
            headers: req.headers.clone(),
            body,
            token,
            timeout,
            retry: if req.retry {
                self.limits.retry
            } else {
                RetryPolicy {
                    max_attempts: 1,
                    ..self.limits.retry
                }
            },
            correlation_id: uuid::Uuid::new_v4().to_string(),
            fault,
            read_timeout: None,
            auth: req.auth,
        })
    }

    fn remember_denial(&mut self, reason: &str) {
        // Enforce: a guest cannot grow the list of denials without bound.
        if self.denials_stored < MAX_STORED_DENIALS {
            self.denials_stored += 1;
            self.shared
                .denials
                .lock()
                .expect("denials lock")
                .push(Denial {
                    plugin: self.plugin.clone(),
                    reason: reason.to_owned(),
                });
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
        let mut prompts = self.shared.prompts.lock().expect("prompts lock");
        for m in msgs {
            if let Some(c) = m.get("content").and_then(|c| c.as_str())
                && prompts.len() < crate::capability::audit::MAX_PROMPTS
            {
                let c: String = c
                    .chars()
                    .take(crate::capability::audit::MAX_PROMPT_BYTES)
                    .collect();
                if !prompts.contains(&c) {
                    prompts.push(c);
                }
            }
        }
    }

    /// Record what came back and build the guest's response.
    fn finish(
        &mut self,
        entry: usize,
        correlation_id: String,
        d: Dispatched,
    ) -> Result<Response, HttpError> {
        let Dispatched {
            result,
            class,
            latency,
            attempts,
            stream: _,
        } = d;
        self.last_attempts = attempts.clone();
        let result = telemetry::record_result(
            &self.shared.ledger,
            entry,
            result,
            &class,
            latency,
            &self.target.spec.request_id,
        );
        let (status, headers, body, provider_request_id) = result?;
        let headers: Vec<(String, String)> = headers
            .into_iter()
            .filter(|(k, _)| !k.eq_ignore_ascii_case("set-cookie"))
            .collect();
        Ok(Response {
            status,
            headers,
            body,
            latency_ms: latency.as_millis() as u32,
            correlation_id,
            provider_request_id,
            category: category(class.category),
            retryable: class.retryable,
            attempts,
        })
    }

    /// Send one request and read its answer as server-sent events.
    async fn send_stream_checked(
        &mut self,
        req: Request,
        read_timeout_ms: Option<u32>,
    ) -> Result<StreamResponse, HttpError> {
        let mut admitted = self.admit(req)?;
        // One attempt: a stream is never retried by the host.
        admitted.retry.max_attempts = 1;
        let gap = read_timeout_ms
            .map(|ms| Duration::from_millis(u64::from(ms)))
            .unwrap_or(admitted.timeout)
            .min(MAX_STREAM_READ_TIMEOUT)
            .max(Duration::from_millis(1));
        admitted.read_timeout = Some(gap);
        let target = self.target.clone();
        let handles = send::RunHandles {
            budget: &self.budget,
            ledger: &self.shared.ledger,
            events: &self.shared.events,
            plugin: &self.plugin,
        };
        let d = send::dispatch(&target, &admitted, &handles, self.limits.max_response_bytes).await;
        let info = d.stream.clone().unwrap_or_default();
        telemetry::record_stream(&self.shared.ledger, admitted.entry, &info);
        let response = self.finish(admitted.entry, admitted.correlation_id, d)?;
        let is_sse = response.headers.iter().any(|(k, v)| {
            k.eq_ignore_ascii_case("content-type")
                && v.to_ascii_lowercase().contains("text/event-stream")
        });
        let (events, body) = if is_sse {
            let events = stream::events(&response.body, &info.boundaries).await;
            telemetry::record_stream_answer(&self.shared.ledger, admitted.entry, &events);
            (events, Vec::new())
        } else {
            (Vec::new(), response.body)
        };
        Ok(StreamResponse {
            status: response.status,
            headers: response.headers,
            events,
            body,
            first_byte_ms: info.first_byte_ms,
            bytes: info.bytes,
            interrupted: info.interrupted,
            latency_ms: response.latency_ms,
            correlation_id: response.correlation_id,
            provider_request_id: response.provider_request_id,
            category: response.category,
        })
    }

    /// Admit every request, dispatch the admitted ones together, answer in order.
    async fn send_all_checked(&mut self, reqs: Vec<Request>) -> Vec<Result<Response, HttpError>> {
        let admitted: Vec<Result<Admitted, HttpError>> =
            reqs.into_iter().map(|r| self.admit(r)).collect();
        let target = self.target.clone();
        let handles = send::RunHandles {
            budget: &self.budget,
            ledger: &self.shared.ledger,
            events: &self.shared.events,
            plugin: &self.plugin,
        };
        let cap = self.limits.max_response_bytes;
        let dispatched = futures_util::future::join_all(admitted.iter().map(|a| {
            let (target, handles) = (&target, &handles);
            async move {
                match a {
                    Ok(a) => Some(send::dispatch(target, a, handles, cap).await),
                    Err(_) => None,
                }
            }
        }))
        .await;
        self.last_attempts.clear();
        admitted
            .into_iter()
            .zip(dispatched)
            .map(|(a, d)| match (a, d) {
                (Ok(a), Some(d)) => self.finish(a.entry, a.correlation_id, d),
                (Err(e), _) => Err(e),
                (Ok(_), None) => unreachable!("every admitted request is dispatched"),
            })
            .collect()
    }
}

pub(crate) fn method(m: Method) -> reqwest::Method {
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

/// Longest gap a stream may have between chunks before it is ended.
pub const MAX_STREAM_READ_TIMEOUT: Duration = Duration::from_secs(10);

impl Host for HttpCtx {
    async fn send_stream(
        &mut self,
        req: Request,
        read_timeout_ms: Option<u32>,
    ) -> wasmtime::Result<Result<StreamResponse, HttpError>> {
        Ok(self.send_stream_checked(req, read_timeout_ms).await)
    }

    async fn send(&mut self, req: Request) -> wasmtime::Result<Result<Response, HttpError>> {
        Ok(self
            .send_all_checked(vec![req])
            .await
            .pop()
            .expect("one answer per request"))
    }

    async fn send_all(
        &mut self,
        reqs: Vec<Request>,
    ) -> wasmtime::Result<Vec<Result<Response, HttpError>>> {
        Ok(self.send_all_checked(reqs).await)
    }

    async fn last_attempts(&mut self) -> wasmtime::Result<Vec<Attempt>> {
        Ok(self.last_attempts.clone())
    }
}
