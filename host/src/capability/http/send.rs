//! Sending: one admitted request goes out, attempt by attempt, and comes back
//! cleaned of secrets. Needs only shared state, so several can be in flight.
//!
//! # Security
//!
//! - Each attempt takes one unit of the plugin's request budget before it is
//!   dispatched ([`Budget`]); a retry that finds the budget spent stops.
//! - The telemetry entry exists before the first byte leaves (the caller
//!   records it at admission) and is updated after every attempt, so a request
//!   cut off at the plugin's deadline still shows in the record.
//! - Whatever comes back is scrubbed of every full form of the run's secrets
//!   ([`crate::secret::SecretSet`]) before anything reads it: classification,
//!   the provider request id, telemetry and the plugin all see the cleaned
//!   response. A body the host cannot scrub (content-encoded although the host
//!   asked for `identity`) is withheld.

use super::cassette;
use super::retry::{self, RetryAfter, RetryPolicy};
use super::target::HttpTarget;
use super::telemetry::Ledger;
use crate::bindings::shipgate::plugin::http::{Attempt, HttpError};
use crate::classify::{Classification, Classifier};
use crate::events::Event;
use crate::redact::Secret;
use futures_util::StreamExt as _;
use rand::Rng as _;
use reqwest::Url;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant, SystemTime};

/// Status, headers and body of one exchange, already scrubbed.
pub type Exchange = (u16, Vec<(String, String)>, Vec<u8>);

/// The header that asks the built-in mock for a fault.
pub const FAULT_HEADER: &str = crate::mock::FAULT_HEADER;

/// A plugin's request budget: every call and every attempt takes one unit.
/// It also counts, host-side only, the responses that held part of a secret.
#[derive(Debug)]
pub struct Budget {
    used: AtomicU32,
    max: u32,
    dispatched: AtomicU32,
    reflected: AtomicU32,
    exposed: AtomicU32,
}

impl Budget {
    /// A budget of `max` units.
    pub fn new(max: u32) -> Self {
        Budget {
            used: AtomicU32::new(0),
            max,
            dispatched: AtomicU32::new(0),
            reflected: AtomicU32::new(0),
            exposed: AtomicU32::new(0),
        }
    }

    /// Responses that still held a fragment after the scrub, as the guest
    /// received them (a key cut or split by the server). Host-only.
    pub fn exposed(&self) -> u32 {
        self.exposed.load(Ordering::SeqCst)
    }

    /// Responses in which the target sent back a fragment of one of the
    /// run's secrets (before the scrub). Never shown to the guest: the host
    /// reports it after the run.
    pub fn reflected(&self) -> u32 {
        self.reflected.load(Ordering::SeqCst)
    }

    /// Attempts that left the machine.
    pub fn dispatched(&self) -> u32 {
        self.dispatched.load(Ordering::SeqCst)
    }

    /// Take one unit; false when the budget is spent.
    pub fn take(&self) -> bool {
        self.used
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |u| {
                (u < self.max).then_some(u + 1)
            })
            .is_ok()
    }

    /// Units used.
    pub fn used(&self) -> u32 {
        self.used.load(Ordering::SeqCst)
    }
}

/// A request that passed every check and is ready to go out.
#[derive(Debug)]
pub struct Admitted {
    /// Its entry in the ledger.
    pub entry: usize,
    /// Method.
    pub method: reqwest::Method,
    /// The URL checked by the policy.
    pub url: Url,
    /// The plugin's headers (allow-listed).
    pub headers: Vec<(String, String)>,
    /// The body as it will be sent.
    pub body: Vec<u8>,
    /// The token to send, if any.
    pub token: Option<Secret>,
    /// Per-attempt timeout.
    pub timeout: Duration,
    /// Retry policy for this request.
    pub retry: RetryPolicy,
    /// The correlation id.
    pub correlation_id: String,
    /// The fault to ask the built-in mock for, validated.
    pub fault: Option<String>,
    /// Read the answer as a stream, ending it when no chunk arrives within
    /// this long (`None`: read the whole body as one).
    pub read_timeout: Option<Duration>,
    /// How the guest asked for it to be authenticated.
    pub auth: crate::bindings::shipgate::plugin::http::AuthMode,
}

/// How a streamed answer arrived (host-side; the events are parsed from the
/// scrubbed body).
#[derive(Debug, Clone, Default)]
pub struct StreamInfo {
    /// When each event terminator (a blank line) arrived, ms after sending.
    pub boundaries: Vec<u32>,
    /// When the first body byte arrived, ms after sending.
    pub first_byte_ms: Option<u32>,
    /// Chunks received.
    pub chunks: u32,
    /// Body bytes received.
    pub bytes: u64,
    /// Why it ended before the server closed it cleanly.
    pub interrupted: Option<String>,
}

/// What came of an admitted request.
#[derive(Debug)]
pub struct Dispatched {
    /// The last attempt's result.
    pub result: Result<Exchange, HttpError>,
    /// Its classification.
    pub class: Classification,
    /// Its latency.
    pub latency: Duration,
    /// Every attempt.
    pub attempts: Vec<Attempt>,
    /// For a streamed answer: how it arrived.
    pub stream: Option<StreamInfo>,
}

/// What one plugin's requests share: its budget, the run's ledger and events.
#[derive(Debug, Clone, Copy)]
pub struct RunHandles<'a> {
    /// The plugin's request budget.
    pub budget: &'a Budget,
    /// The run's telemetry.
    pub ledger: &'a Ledger,
    /// The run's event sinks.
    pub events: &'a crate::events::Events,
    /// The plugin's name.
    pub plugin: &'a str,
}

/// Send an admitted request with its retry policy.
pub async fn dispatch(
    target: &HttpTarget,
    req: &Admitted,
    run: &RunHandles<'_>,
    max_response_bytes: u64,
) -> Dispatched {
    let RunHandles {
        budget,
        ledger,
        events,
        plugin,
    } = *run;
    let started = Instant::now();
    let mut attempts: Vec<Attempt> = Vec::new();
    let mut wait = Duration::ZERO;
    // A replay does not wait: its clock is the recorded latencies and waits.
    let replay = target.tape.is_replay();
    let mut replayed = Duration::ZERO;
    loop {
        let number = attempts.len() as u32 + 1;
        if number > 1 {
            if replay {
                replayed += wait;
            } else {
                tokio::time::sleep(wait).await;
            }
        }
        // Enforce: the run's limits on this target ([run] in the plan), for
        // every attempt of every plugin; the wait is not the attempt's time.
        let slot = target.limiter.acquire().await;
        let t0 = Instant::now();
        budget.dispatched.fetch_add(1, Ordering::SeqCst);
        events.emit(Event::RequestSent {
            plugin: plugin.to_owned(),
            what: format!("{} {}", req.method, req.url.path()),
        });
        // A stream's own timers (between chunks, the request's total) end it
        // with what arrived; this one is the backstop.
        let backstop = if req.read_timeout.is_some() {
            req.timeout + Duration::from_secs(1)
        } else {
            req.timeout
        };
        let asked = cassette::Asked {
            plugin,
            method: &req.method,
            url: &req.url,
            auth: req.auth,
            fault: req.fault.as_deref(),
            headers: &req.headers,
            body: &req.body,
            values: cassette::RunValues {
                correlation_id: &req.correlation_id,
                unapproved_model: &target.unapproved_model,
            },
        };
        let (outcome, latency) = match &target.tape {
            cassette::Tape::Replay(player) => player.answer(&asked),
            tape => {
                let outcome = tokio::time::timeout(
                    backstop,
                    attempt(target, req, budget, max_response_bytes),
                )
                .await
                .unwrap_or(Err(HttpError::Timeout(0)));
                let latency = t0.elapsed();
                if let cassette::Tape::Record(recorder) = tape {
                    recorder.record(&asked, &outcome, latency, &target.secrets);
                }
                (outcome, latency)
            }
        };
        replayed += latency;
        let mut stream = None;
        let outcome = outcome.map(|(exchange, info)| {
            stream = info;
            exchange
        });
        drop(slot);
        let (result, class, timed_out) = match outcome {
            Err(HttpError::Timeout(_)) => (
                // Report the configured timeout, whichever timer fired first.
                Err(HttpError::Timeout(req.timeout.as_millis() as u32)),
                Classifier::transport_failure(),
                true,
            ),
            Err(e) => (Err(e), Classifier::transport_failure(), false),
            Ok((status, headers, body)) => {
                let class = target.classifier.classify(status, &headers, &body);
                (Ok((status, headers, body)), class, false)
            }
        };
        events.emit(Event::RequestAnswered {
            plugin: plugin.to_owned(),
            status: result.as_ref().ok().map(|r| r.0),
            latency_ms: latency.as_millis() as u64,
        });
        // A 429 the check asked for (a fault scenario) is its own; only the
        // target's own rate limit pauses the other plugins.
        if req.fault.is_none()
            && let Ok((429, headers, _)) = &result
            && let RetryAfter::Wait(w) =
                retry::retry_after(headers, req.retry.retry_after_cap, SystemTime::now())
        {
            // The target asked for a pause: every plugin of the run waits.
            target.limiter.pause_for(w);
            events.emit(Event::TargetPaused {
                plugin: plugin.to_owned(),
                for_ms: w.as_millis() as u64,
            });
        }
        attempts.push(Attempt {
            number,
            status: result.as_ref().ok().map(|r| r.0),
            wait_ms: wait.as_millis() as u32,
            latency_ms: latency.as_millis() as u32,
            category: super::category(class.category),
            timed_out,
        });
        super::telemetry::record_attempts(ledger, req.entry, &attempts);
        let elapsed = if replay { replayed } else { started.elapsed() };
        match next_wait(&req.retry, &class, &result, number, elapsed) {
            // Enforce: sandbox.max_requests, per attempt.
            Some(w) if budget.take() => wait = w,
            _ => {
                return Dispatched {
                    result,
                    class,
                    latency,
                    attempts,
                    stream,
                };
            }
        }
    }
}

/// How long to wait before the next attempt, if the policy retries.
fn next_wait(
    policy: &RetryPolicy,
    class: &Classification,
    result: &Result<Exchange, HttpError>,
    number: u32,
    elapsed: Duration,
) -> Option<Duration> {
    if !class.retryable || number >= policy.max_attempts {
        return None;
    }
    let headers = result.as_ref().map(|r| r.1.as_slice()).unwrap_or(&[]);
    let backoff = policy.backoff(number, rand::rng().random::<f64>());
    let w = match retry::retry_after(headers, policy.retry_after_cap, SystemTime::now()) {
        RetryAfter::Wait(d) => d,
        RetryAfter::TooLong(_) => return None,
        RetryAfter::None => backoff,
    };
    (elapsed + w < policy.budget).then_some(w)
}

/// One attempt: build, send, read with a cap, scrub.
async fn attempt(
    target: &HttpTarget,
    req: &Admitted,
    budget: &Budget,
    cap: u64,
) -> Result<(Exchange, Option<StreamInfo>), HttpError> {
    let spec = &target.spec;
    let mut rb = target
        .client
        .request(req.method.clone(), req.url.clone())
        .timeout(req.timeout)
        // Enforce: the host asks for an unencoded body, which it can scrub.
        .header(reqwest::header::ACCEPT_ENCODING, "identity")
        .header(
            spec.correlation_header.as_str(),
            req.correlation_id.as_str(),
        );
    for (k, v) in &req.headers {
        rb = rb.header(k.as_str(), v.as_str());
    }
    if let Some(fault) = &req.fault {
        rb = rb.header(FAULT_HEADER, fault.as_str());
    }
    if let Some(t) = &req.token {
        let mut value = reqwest::header::HeaderValue::from_str(&target.credentials.header_value(t))
            .map_err(|_| {
                HttpError::Rejected("the credential is not a valid header value".into())
            })?;
        value.set_sensitive(true);
        rb = rb.header(target.credentials.header.as_str(), value);
    }
    if !req.body.is_empty() {
        rb = rb.body(req.body.clone());
    }
    // Read up to twice the cap: whether the body is too large is decided on
    // the scrubbed body, so the boundary does not move with the length of an
    // echoed secret (it would take thousands of echoes in one body to).
    let ((status, headers, body), mut stream) =
        exchange(rb, cap.saturating_mul(2), req.read_timeout)
            .await
            .map_err(|e| match e {
                HttpError::BodyTooLarge(_) => HttpError::BodyTooLarge(cap),
                e => e,
            })?;
    // Enforce: a body the host cannot scrub never reaches the guest.
    if let Some(coding) = body_coding(&headers) {
        return Err(HttpError::Withheld(format!(
            "the response was encoded ({coding}) although the host asked for identity; its body cannot be checked for secrets"
        )));
    }
    // Host-side only: did the target send back part of a key? (Fixed work per
    // byte; the count is reported after the run, never to this guest.)
    if target.secrets.answer_holds_fragment(&headers, &body) {
        budget.reflected.fetch_add(1, Ordering::SeqCst);
    }
    // Enforce: the guest never sees a full form of a secret, even when the server echoes one.
    let (headers, _) = target.secrets.scrub_headers(headers);
    let (body, _) = target.secrets.scrub(body);
    let body = mask_echoes(body);
    // Enforce: sandbox.max_response_bytes, on what the guest would receive
    // (a stream keeps what fits, and says it was cut).
    let mut body = body;
    if body.len() as u64 > cap {
        match &mut stream {
            Some(info) => {
                body.truncate(cap as usize);
                info.interrupted
                    .get_or_insert_with(|| format!("cut at the response cap ({cap} bytes)"));
            }
            None => return Err(HttpError::BodyTooLarge(cap)),
        }
    }
    let headers = delivered_headers(headers, &req.method, body.len());
    if target.secrets.answer_holds_fragment(&headers, &body) {
        budget.exposed.fetch_add(1, Ordering::SeqCst);
    }
    Ok(((status, headers, body), stream))
}

/// Content codings a server may name in `content-encoding`.
const KNOWN_CODINGS: &[&str] = &["gzip", "x-gzip", "deflate", "br", "zstd", "compress"];

/// The coding that makes a body unreadable to the scrub, if any: any coding
/// but `identity` in any `content-encoding` header (every one, each a
/// list), or any but `chunked` and `identity` in `transfer-encoding` (the
/// HTTP client removes only the chunking). The server's text is named only
/// when it is a known coding.
pub(crate) fn body_coding(headers: &[(String, String)]) -> Option<&'static str> {
    let codings = |name: &'static str, allowed: &'static [&'static str]| {
        headers
            .iter()
            .filter(move |(k, _)| k.eq_ignore_ascii_case(name))
            .flat_map(|(_, v)| v.split(','))
            .map(str::trim)
            .filter(move |c| !c.is_empty() && !allowed.iter().any(|a| c.eq_ignore_ascii_case(a)))
    };
    codings("content-encoding", &["identity"])
        .chain(codings("transfer-encoding", &["identity", "chunked"]))
        .map(|c| {
            KNOWN_CODINGS
                .iter()
                .find(|k| c.eq_ignore_ascii_case(k))
                .copied()
                .unwrap_or("an unrecognised coding")
        })
        .next()
}

/// Headers as the guest receives them: provider key echoes masked, and any
/// `content-length` restated as the length of the body delivered (the
/// server's figure counts the unscrubbed body, so it would give away the
/// length of an echoed secret); dropped for HEAD, whose body is not sent.
fn delivered_headers(
    headers: Vec<(String, String)>,
    method: &reqwest::Method,
    body_len: usize,
) -> Vec<(String, String)> {
    let mut out = Vec::with_capacity(headers.len());
    let mut length_seen = false;
    for (k, v) in headers {
        if k.eq_ignore_ascii_case("content-length") {
            if !length_seen && method != reqwest::Method::HEAD {
                out.push((k, body_len.to_string()));
            }
            length_seen = true;
            continue;
        }
        let v = crate::redact::mask_key_echoes(&v).into_owned();
        out.push((k, v));
    }
    out
}

/// Remove a provider's masked echo of a key (`sk-abc12***…wxyz`): a shape
/// rule that never looks at the secret.
fn mask_echoes(body: Vec<u8>) -> Vec<u8> {
    match std::str::from_utf8(&body) {
        Ok(text) => match crate::redact::mask_key_echoes(text) {
            std::borrow::Cow::Borrowed(_) => body,
            std::borrow::Cow::Owned(s) => s.into_bytes(),
        },
        Err(_) => body,
    }
}

/// One request/response exchange, reading at most `read_cap` bytes of body;
/// with `read_timeout`, as a stream: what arrived is kept when it ends early.
async fn exchange(
    rb: reqwest::RequestBuilder,
    read_cap: u64,
    read_timeout: Option<Duration>,
) -> Result<(Exchange, Option<StreamInfo>), HttpError> {
    let cap = read_cap;
    let sent = Instant::now();
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
    // The error names the cap, never the body's size: an echoed secret's
    // length is in it.
    if resp.content_length().is_some_and(|n| n > cap) {
        return Err(HttpError::BodyTooLarge(cap));
    }
    let mut body = Vec::new();
    let mut stream = resp.bytes_stream();
    let Some(gap) = read_timeout else {
        while let Some(chunk) = stream.next().await {
            let chunk = chunk.map_err(transport_error)?;
            if body.len() as u64 + chunk.len() as u64 > cap {
                return Err(HttpError::BodyTooLarge(cap));
            }
            body.extend_from_slice(&chunk);
        }
        return Ok(((status, headers, body), None));
    };
    let mut info = StreamInfo::default();
    let ms = |t: Instant| t.duration_since(sent).as_millis().min(u128::from(u32::MAX)) as u32;
    loop {
        let next = match tokio::time::timeout(gap, stream.next()).await {
            Err(_) => {
                info.interrupted = Some(format!(
                    "no data for {} ms (the read timeout)",
                    gap.as_millis()
                ));
                break;
            }
            Ok(None) => break,
            Ok(Some(Err(e))) => {
                info.interrupted = Some(match transport_error(e) {
                    HttpError::Timeout(_) => "the request's timeout ended it".to_owned(),
                    HttpError::Connect(m) => format!("the connection broke: {m}"),
                    other => format!("{other:?}"),
                });
                break;
            }
            Ok(Some(Ok(chunk))) => chunk,
        };
        let now = Instant::now();
        info.first_byte_ms.get_or_insert(ms(now));
        info.chunks += 1;
        info.bytes += next.len() as u64;
        // Event terminators (a blank line) that end in this chunk, looking
        // back over the previous chunk's tail.
        let old = body.len();
        if body.len() as u64 + next.len() as u64 > cap {
            let room = (cap as usize).saturating_sub(body.len());
            body.extend_from_slice(&next[..room]);
            info.interrupted = Some(format!("cut at the response cap ({cap} bytes)"));
            break;
        }
        body.extend_from_slice(&next);
        let mut i = old.saturating_sub(3);
        while i + 1 < body.len() {
            if i + 3 < body.len() && &body[i..i + 4] == b"\r\n\r\n" && i + 3 >= old {
                info.boundaries.push(ms(now));
                i += 4;
            } else if body[i] == b'\n' && body[i + 1] == b'\n' && i + 1 >= old {
                info.boundaries.push(ms(now));
                i += 2;
            } else {
                i += 1;
            }
        }
    }
    Ok(((status, headers, body), Some(info)))
}

/// A transport failure in words: the whole chain, bounded.
fn transport_error(e: reqwest::Error) -> HttpError {
    if e.is_timeout() {
        return HttpError::Timeout(0);
    }
    // reqwest messages name the URL (no credential: base_url cannot carry one).
    let mut msg = e.to_string();
    let mut src = std::error::Error::source(&e);
    while let Some(s) = src {
        let text = s.to_string();
        if !msg.contains(&text) {
            msg.push_str(": ");
            msg.push_str(&text);
        }
        src = s.source();
    }
    HttpError::Connect(msg.chars().take(1024).collect())
}

#[cfg(test)]
mod tests {
    use super::body_coding;

    fn h(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect()
    }

    #[test]
    fn any_coding_in_any_encoding_header_is_found() {
        assert_eq!(
            body_coding(&h(&[("content-type", "application/json")])),
            None
        );
        assert_eq!(body_coding(&h(&[("Content-Encoding", "identity")])), None);
        assert_eq!(body_coding(&h(&[("transfer-encoding", "chunked")])), None);
        assert_eq!(
            body_coding(&h(&[
                ("content-encoding", "identity"),
                ("content-encoding", "gzip")
            ])),
            Some("gzip")
        );
        assert_eq!(
            body_coding(&h(&[("content-encoding", "identity, br")])),
            Some("br")
        );
        assert_eq!(
            body_coding(&h(&[("Transfer-Encoding", "gzip, chunked")])),
            Some("gzip")
        );
        assert_eq!(
            body_coding(&h(&[("content-encoding", "sk-abc123")])),
            Some("an unrecognised coding")
        );
    }
}
