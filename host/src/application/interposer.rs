//! The interposer: an OpenAI-compatible endpoint on 127.0.0.1 that stands
//! between the application under test and the target. It accepts only the
//! per-run placeholder key, applies the episode's scenario to each attempt,
//! forwards what gets through with the real key (which the application never
//! holds), and records every exchange with its timing.
//!
//! # Security
//!
//! - Loopback only, on a port the OS picks; any other key is refused.
//! - The application's traffic meets the same allow-lists as a check's: only
//!   the contract's chat endpoint (its method) and `GET /models`,
//!   `/models/*` under the base path; bodies over the plan's input limit are
//!   refused; only a fixed set of headers is forwarded, never the
//!   application's own `Authorization`.
//! - What the target answers is scrubbed of every full form of the run's
//!   secrets before the application reads it; what is recorded (request
//!   bodies) is scrubbed and bounded; at most [`MAX_EXCHANGES`] exchanges are
//!   kept per episode.

use super::scenario::{Injected, Scenario};
use crate::report::episodes::{Exchange, MAX_EXCHANGES};
use crate::secret::SecretSet;
use axum::body::{Body, Bytes};
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use sha2::Digest as _;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// Largest answer forwarded to the application.
pub const MAX_FORWARD_BYTES: usize = 8 * 1024 * 1024;

/// Request headers passed on to the target (besides the credential, which
/// the interposer sets itself).
const FORWARDED: &[&str] = &[
    "content-type",
    "accept",
    "idempotency-key",
    "x-client-request-id",
    "x-request-id",
    "openai-beta",
    "user-agent",
];

/// Answer headers passed back to the application.
const RETURNED: &[&str] = &[
    "content-type",
    "x-request-id",
    "request-id",
    "retry-after",
    "retry-after-ms",
    "openai-processing-ms",
    "x-ratelimit-remaining-requests",
    "x-ratelimit-remaining-tokens",
];

/// Where the interposer forwards: the target, with the real credential.
#[derive(Clone)]
pub struct Upstream {
    /// The target's client (pinned addresses, no redirects, no proxy).
    pub client: reqwest::Client,
    /// The contract's base URL.
    pub base_url: reqwest::Url,
    /// The contract's chat path (relative to the base URL) and method.
    pub chat_path: String,
    /// The chat method.
    pub chat_method: reqwest::Method,
    /// The credential header's name and value (the real key).
    pub credential: (String, crate::redact::Secret),
    /// What a chat request may cost (the same checks as a check's requests,
    /// the input limit among them:
    /// models, output ceiling, `n`, fields, content parts); the body sent on
    /// is the host's re-encoding, with the ceiling set when it was missing.
    pub spend: crate::capability::http::Spend,
}

impl std::fmt::Debug for Upstream {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Upstream")
            .field("base_url", &self.base_url.as_str())
            .finish_non_exhaustive()
    }
}

#[derive(Debug)]
struct Shared {
    scenario: Scenario,
    placeholder: String,
    upstream: Upstream,
    secrets: Arc<SecretSet>,
    stall_ms: u64,
    started: Instant,
    log: Mutex<Log>,
}

#[derive(Debug, Default)]
struct Log {
    exchanges: Vec<Exchange>,
    /// The key of each logical request, by index.
    logical: Vec<String>,
    dropped: u32,
}

/// A running interposer for one episode.
#[derive(Debug)]
pub struct Interposer {
    addr: SocketAddr,
    shared: Arc<Shared>,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    task: tokio::task::JoinHandle<()>,
}

impl Interposer {
    /// Start on 127.0.0.1 (a free port) for one episode.
    ///
    /// # Errors
    ///
    /// The port could not be bound.
    pub async fn start(
        scenario: Scenario,
        placeholder: String,
        upstream: Upstream,
        secrets: Arc<SecretSet>,
        stall_ms: u64,
    ) -> std::io::Result<Interposer> {
        let listener = tokio::net::TcpListener::bind(("127.0.0.1", 0)).await?;
        let addr = listener.local_addr()?;
        let shared = Arc::new(Shared {
            scenario,
            placeholder,
            upstream,
            secrets,
            stall_ms,
            started: Instant::now(),
            log: Mutex::new(Log::default()),
        });
        let app = axum::Router::new()
            .fallback(handle)
            .with_state(shared.clone());
        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        let task = tokio::spawn(async move {
            let _ = axum::serve(listener, app)
                .with_graceful_shutdown(async {
                    let _ = rx.await;
                })
                .await;
        });
        Ok(Interposer {
            addr,
            shared,
            stop: Some(tx),
            task,
        })
    }

    /// The base URL the application is given (the contract's base path on
    /// the interposer's address).
    pub fn base_url(&self) -> String {
        let path = self.shared.upstream.base_url.path().trim_end_matches('/');
        format!("http://{}{path}", self.addr)
    }

    /// Stop serving and return the exchanges, in arrival order, and how
    /// many were dropped over the cap.
    pub async fn finish(mut self) -> (Vec<Exchange>, u32) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        // Open connections (a stall) end with the server; bounded wait.
        let _ = tokio::time::timeout(Duration::from_secs(2), &mut self.task).await;
        self.task.abort();
        let log = std::mem::take(&mut *self.shared.log.lock().expect("interposer lock"));
        (log.exchanges, log.dropped)
    }
}

fn error_body(status: u16, message: &str, kind: &str, code: &str) -> Response {
    let body = serde_json::json!({
        "error": {"message": message, "type": kind, "param": null, "code": code}
    });
    let status = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    (status, axum::Json(body)).into_response()
}

/// The logical request an attempt belongs to: the application's idempotency
/// key or correlation id when it sends one, else the method, path and body.
fn logical_key(method: &Method, path: &str, headers: &HeaderMap, body: &[u8]) -> String {
    for name in ["idempotency-key", "x-client-request-id"] {
        if let Some(v) = headers.get(name).and_then(|v| v.to_str().ok()) {
            return format!("{name}:{v}");
        }
    }
    let mut h = sha2::Sha256::new();
    h.update(method.as_str().as_bytes());
    h.update(b" ");
    h.update(path.as_bytes());
    h.update(b"\n");
    h.update(body);
    format!("body:{}", hex::encode(h.finalize()))
}

impl Shared {
    fn elapsed_ms(&self) -> u64 {
        self.started.elapsed().as_millis() as u64
    }

    /// Record a new exchange; `None` when over the cap.
    fn begin(
        &self,
        method: &Method,
        path: &str,
        headers: &HeaderMap,
        body: &[u8],
    ) -> Option<(usize, u32)> {
        let key = logical_key(method, path, headers, body);
        let mut log = self.log.lock().expect("interposer lock");
        if log.exchanges.len() >= MAX_EXCHANGES {
            log.dropped = log.dropped.saturating_add(1);
            return None;
        }
        let logical = match log.logical.iter().position(|k| *k == key) {
            Some(i) => i,
            None => {
                log.logical.push(key);
                log.logical.len() - 1
            }
        };
        let attempt = log
            .exchanges
            .iter()
            .filter(|e| e.logical as usize == logical)
            .count() as u32
            + 1;
        // Scrubbed whole, then cut: a cut never leaves part of a key unmasked.
        let (scrubbed, _) = self.secrets.scrub(body.to_vec());
        let scrubbed = crate::report::episodes::kept_body(&scrubbed);
        let headers = headers
            .iter()
            .filter(|(k, _)| {
                !matches!(
                    k.as_str(),
                    "authorization" | "proxy-authorization" | "cookie"
                ) && !k.as_str().contains("api-key")
            })
            .map(|(k, v)| {
                let v = String::from_utf8_lossy(v.as_bytes()).into_owned();
                let (v, _) = self.secrets.scrub(v.into_bytes());
                (
                    k.as_str().to_owned(),
                    crate::text::one_line(&String::from_utf8_lossy(&v), 512),
                )
            })
            .take(64)
            .collect();
        log.exchanges.push(Exchange {
            logical: logical as u32,
            attempt,
            method: method.to_string(),
            path: crate::text::one_line(path, 512),
            headers,
            body: String::from_utf8_lossy(&scrubbed).into_owned(),
            started_ms: self.elapsed_ms(),
            ..Exchange::default()
        });
        Some((log.exchanges.len() - 1, attempt))
    }

    fn update(&self, index: usize, f: impl FnOnce(&mut Exchange)) {
        if let Some(e) = self
            .log
            .lock()
            .expect("interposer lock")
            .exchanges
            .get_mut(index)
        {
            f(e);
        }
    }

    fn end(&self, index: usize, status: Option<u16>) {
        let now = self.elapsed_ms();
        self.update(index, |e| {
            e.status = status;
            e.duration_ms = now.saturating_sub(e.started_ms);
        });
    }

    /// The body to send on, or why the interposer's policy refuses the request.
    fn admit(
        &self,
        method: &Method,
        path: &str,
        headers: &HeaderMap,
        body: &Bytes,
    ) -> Result<Bytes, (u16, String)> {
        if let Some(refused) = self.refusal(method, path, headers) {
            return Err(refused);
        }
        if *method == Method::GET {
            return Ok(body.clone());
        }
        // Enforce: the plan's spend limits, as for a check's chat request.
        match crate::capability::http::check_spend(body, &self.upstream.spend) {
            crate::capability::http::SpendVerdict::Send(b) => Ok(Bytes::from(b)),
            crate::capability::http::SpendVerdict::Deny(why) => Err((403, why)),
            crate::capability::http::SpendVerdict::Reject(why) => Err((413, why)),
        }
    }

    /// Why the interposer's policy refuses this request, if it does.
    fn refusal(&self, method: &Method, path: &str, headers: &HeaderMap) -> Option<(u16, String)> {
        let want = format!("Bearer {}", self.placeholder);
        let auth = headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok());
        if auth != Some(want.as_str()) {
            return Some((
                401,
                "the request did not carry the key shipgate gave the application".into(),
            ));
        }
        let base = self.upstream.base_url.path().trim_end_matches('/');
        let Some(rest) = path.strip_prefix(base).filter(|r| r.starts_with('/')) else {
            return Some((404, format!("{path} is not under the base path {base}/")));
        };
        let chat = format!("/{}", self.upstream.chat_path.trim_start_matches('/'));
        let allowed = (rest == chat && method.as_str() == self.upstream.chat_method.as_str())
            || (method == Method::GET && (rest == "/models" || rest.starts_with("/models/")));
        if !allowed || rest.contains("..") || rest.contains('%') {
            return Some((
                404,
                format!(
                    "{method} {rest} is not an endpoint shipgate forwards (the chat endpoint and GET /models)"
                ),
            ));
        }
        None
    }
}

async fn handle(
    State(st): State<Arc<Shared>>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let path = uri.path().to_owned();
    let Some((index, attempt)) = st.begin(&method, &path, &headers, &body) else {
        return error_body(
            503,
            "shipgate: too many requests in one episode",
            "server_error",
            "shipgate_episode_cap",
        );
    };
    let body = match st.admit(&method, &path, &headers, &body) {
        Ok(b) => b,
        Err((status, why)) => {
            st.update(index, |e| e.refused = Some(why.clone()));
            st.end(index, Some(status));
            return error_body(
                status,
                &format!("shipgate: {why}"),
                "invalid_request_error",
                "shipgate_refused",
            );
        }
    };
    let injected = st.scenario.inject(attempt, st.stall_ms);
    // A stream spoil is recorded only when it applies (a streamed answer).
    if let Some(i) = injected.filter(|i| !matches!(i, Injected::Stream(_))) {
        st.update(index, |e| e.injected = Some(i.name()));
    }
    match injected {
        Some(Injected::Status {
            status,
            retry_after,
        }) => {
            let (kind, code, message) = match status {
                429 => (
                    "rate_limit_error",
                    "rate_limit_exceeded",
                    "Rate limit reached",
                ),
                503 => (
                    "server_error",
                    "service_unavailable",
                    "The server is overloaded",
                ),
                401 => (
                    "authentication_error",
                    "invalid_api_key",
                    "Incorrect API key provided",
                ),
                _ => (
                    "invalid_request_error",
                    "invalid_request",
                    "Invalid request",
                ),
            };
            let mut resp = error_body(status, message, kind, code);
            if let Some(secs) = retry_after {
                resp.headers_mut()
                    .insert(header::RETRY_AFTER, HeaderValue::from(secs));
                st.update(index, |e| e.retry_after_ms = Some(secs * 1000));
            }
            st.end(index, Some(status));
            resp
        }
        Some(Injected::Reset) => {
            st.end(index, None);
            aborted_body(None)
        }
        Some(Injected::Stall { ms }) => {
            let guard = StallGuard {
                shared: st.clone(),
                index,
                done: false,
            };
            let stream = futures_util::stream::once(async move {
                let mut guard = guard;
                tokio::time::sleep(Duration::from_millis(ms)).await;
                guard.done = true;
                drop(guard);
                Err::<Bytes, std::io::Error>(std::io::Error::other("stall ended"))
            });
            st.update(index, |e| e.status = Some(200));
            let mut resp = Response::new(Body::from_stream(stream));
            resp.headers_mut().insert(
                header::CONTENT_TYPE,
                HeaderValue::from_static("application/json"),
            );
            resp
        }
        Some(Injected::Delay { ms }) => {
            tokio::time::sleep(Duration::from_millis(ms)).await;
            forward(&st, index, &method, &path, &headers, body, None).await
        }
        Some(Injected::Stream(spoil)) => {
            forward(&st, index, &method, &path, &headers, body, Some(spoil)).await
        }
        None => forward(&st, index, &method, &path, &headers, body, None).await,
    }
}

/// Ends a stalled exchange: complete when the stall ran out, or the client
/// went away first (the body was dropped unfinished).
struct StallGuard {
    shared: Arc<Shared>,
    index: usize,
    done: bool,
}

impl Drop for StallGuard {
    fn drop(&mut self) {
        let aborted = !self.done;
        let now = self.shared.elapsed_ms();
        self.shared.update(self.index, |e| {
            e.client_aborted = aborted;
            e.duration_ms = now.saturating_sub(e.started_ms);
        });
    }
}

/// A streamed answer passed on event by event (each its own chunk), spoiled
/// as the scenario says.
fn sse_body(bytes: Vec<u8>, spoil: Option<super::scenario::StreamSpoil>) -> Body {
    use super::scenario::StreamSpoil;
    let text = String::from_utf8_lossy(&bytes).into_owned();
    let mut events: Vec<String> = text.split_inclusive("\n\n").map(str::to_owned).collect();
    let half = events.len() / 2;
    let mut tail: Option<std::io::Error> = None;
    match spoil {
        Some(StreamSpoil::Truncate) => events.truncate(half.max(1)),
        Some(StreamSpoil::Drop) => {
            events.truncate(half.max(1));
            tail = Some(std::io::Error::other("shipgate dropped the stream"));
        }
        Some(StreamSpoil::Corrupt) => {
            let at = half.min(events.len().saturating_sub(1));
            if let Some(e) = events.get_mut(at) {
                *e = "data: {\"id\": chatcmpl-oops,, \"choices\": [\n\n".to_owned();
            }
        }
        None => {}
    }
    let mut items: Vec<(u64, Result<Bytes, std::io::Error>)> = events
        .into_iter()
        .map(|e| (0, Ok(Bytes::from(e))))
        .collect();
    if let Some(err) = tail {
        // After the first events have gone out.
        items.push((50, Err(err)));
    }
    let stream =
        futures_util::StreamExt::then(futures_util::stream::iter(items), |(ms, item)| async move {
            if ms > 0 {
                tokio::time::sleep(Duration::from_millis(ms)).await;
            }
            item
        });
    Body::from_stream(stream)
}

/// The target answered, but shipgate withholds the answer (502, and why in
/// the exchange).
fn withheld(st: &Shared, index: usize, why: &str) -> Response {
    st.update(index, |x| x.refused = Some(why.to_owned()));
    st.end(index, Some(502));
    error_body(
        502,
        &format!("shipgate: {why}"),
        "server_error",
        "shipgate_withheld",
    )
}

/// A 200 whose body fails at once: the connection drops mid-answer.
fn aborted_body(_why: Option<&str>) -> Response {
    let stream = futures_util::stream::once(async {
        Err::<Bytes, std::io::Error>(std::io::Error::other("reset"))
    });
    Response::new(Body::from_stream(stream))
}

async fn forward(
    st: &Shared,
    index: usize,
    method: &Method,
    path: &str,
    headers: &HeaderMap,
    body: Bytes,
    spoil: Option<super::scenario::StreamSpoil>,
) -> Response {
    let base = st.upstream.base_url.path().trim_end_matches('/');
    let rest = path.strip_prefix(base).unwrap_or(path);
    let mut url = st.upstream.base_url.clone();
    url.set_path(&format!("{base}{rest}"));
    url.set_query(None);
    let method =
        reqwest::Method::from_bytes(method.as_str().as_bytes()).unwrap_or(reqwest::Method::GET);
    let mut rb = st
        .upstream
        .client
        .request(method, url)
        .header(reqwest::header::ACCEPT_ENCODING, "identity")
        .timeout(Duration::from_secs(120));
    for name in FORWARDED {
        if let Some(v) = headers.get(*name).and_then(|v| v.to_str().ok()) {
            rb = rb.header(*name, v);
        }
    }
    let (name, secret) = &st.upstream.credential;
    if let Ok(mut v) = reqwest::header::HeaderValue::from_str(secret.expose()) {
        v.set_sensitive(true);
        rb = rb.header(name.as_str(), v);
    }
    let answered = async {
        let resp = rb.body(body).send().await?;
        let status = resp.status().as_u16();
        let all: Vec<(String, String)> = resp
            .headers()
            .iter()
            .map(|(k, v)| {
                (
                    k.as_str().to_owned(),
                    String::from_utf8_lossy(v.as_bytes()).into_owned(),
                )
            })
            .collect();
        let coding = crate::capability::http::body_coding(&all);
        let kept: Vec<(String, String)> = resp
            .headers()
            .iter()
            .filter(|(k, _)| RETURNED.contains(&k.as_str()))
            .filter_map(|(k, v)| Some((k.as_str().to_owned(), v.to_str().ok()?.to_owned())))
            .collect();
        let mut bytes = Vec::new();
        let mut resp = resp;
        let mut over = false;
        while let Some(chunk) = resp.chunk().await? {
            if bytes.len() + chunk.len() > MAX_FORWARD_BYTES {
                over = true;
                break;
            }
            bytes.extend_from_slice(&chunk);
        }
        Ok::<_, reqwest::Error>((status, kept, bytes, coding, over))
    }
    .await;
    match answered {
        // Enforce: what the scrub cannot read, or read whole, never reaches
        // the application (a key inside a compressed body, or cut in two at
        // the size cap).
        Ok((_, _, _, Some(coding), _)) => withheld(
            st,
            index,
            &format!(
                "the target's answer was encoded ({coding}) although shipgate asked for identity: it cannot be checked for secrets"
            ),
        ),
        Ok((_, _, _, None, true)) => withheld(
            st,
            index,
            &format!("the target's answer was over {MAX_FORWARD_BYTES} bytes"),
        ),
        Ok((status, kept, bytes, None, false)) => {
            let (bytes, _) = st.secrets.scrub(bytes);
            // Scrubbed one by one and joined: a key split across two headers
            // is removed from both.
            let (kept, _) = st.secrets.scrub_headers(kept);
            // Part of the key left after the scrub (cut, or split between a
            // header and the body): the answer is not passed on.
            if st.secrets.answer_holds_fragment(&kept, &bytes) {
                return withheld(
                    st,
                    index,
                    "the target's answer held part of the key; it is not passed on",
                );
            }
            let retry_after = kept
                .iter()
                .find(|(k, _)| k == "retry-after")
                .and_then(|(_, v)| v.parse::<u64>().ok());
            st.update(index, |e| e.retry_after_ms = retry_after.map(|s| s * 1000));
            st.end(index, Some(status));
            let sse = kept
                .iter()
                .any(|(k, v)| k == "content-type" && v.contains("text/event-stream"));
            let body = if sse {
                if let Some(s) = spoil {
                    let name = super::scenario::Injected::Stream(s).name();
                    st.update(index, |e| e.injected = Some(name));
                }
                sse_body(bytes, spoil)
            } else {
                Body::from(bytes)
            };
            let mut resp = Response::new(body);
            *resp.status_mut() = StatusCode::from_u16(status).unwrap_or(StatusCode::BAD_GATEWAY);
            for (k, v) in kept {
                if let (Ok(k), Ok(v)) = (
                    header::HeaderName::from_bytes(k.as_bytes()),
                    HeaderValue::from_bytes(v.as_bytes()),
                ) {
                    resp.headers_mut().insert(k, v);
                }
            }
            resp
        }
        Err(e) => {
            st.update(index, |x| {
                x.refused = Some(format!(
                    "the target did not answer: {}",
                    crate::text::one_line(&e.to_string(), 200)
                ))
            });
            st.end(index, Some(502));
            error_body(
                502,
                "shipgate: the target did not answer",
                "server_error",
                "shipgate_upstream",
            )
        }
    }
}
