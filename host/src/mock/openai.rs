//! The OpenAI-compatible routes of the mock.

use super::{EchoForm, FAULT_HEADER, Fault, MockState, SeenRequest, When};
use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use rand::Rng as _;
use serde_json::{Value, json};
use std::sync::Arc;
use std::time::Duration;

pub(crate) fn router(state: Arc<MockState>) -> Router {
    Router::new()
        .route("/v1/chat/completions", axum::routing::post(chat))
        .route("/v1/models", axum::routing::get(models))
        .route("/v1/models/{id}", axum::routing::get(model))
        .fallback(not_found)
        .with_state(state)
}

fn request_id() -> String {
    let b: [u8; 12] = rand::rng().random();
    format!("req_{}", hex::encode(b))
}

fn with_request_id(mut resp: Response, id: &str) -> Response {
    if let Ok(v) = HeaderValue::from_str(id) {
        resp.headers_mut().insert("x-request-id", v);
    }
    resp
}

fn error(
    status: StatusCode,
    message: &str,
    etype: &str,
    param: Option<&str>,
    code: Option<&str>,
) -> Response {
    let body = json!({"error": {"message": message, "type": etype, "param": param, "code": code}});
    (status, axum::Json(body)).into_response()
}

fn record(st: &MockState, method: &Method, uri: &Uri, headers: &HeaderMap, body: &[u8]) {
    let headers = headers
        .iter()
        .map(|(k, v)| {
            (
                k.as_str().to_owned(),
                String::from_utf8_lossy(v.as_bytes()).into_owned(),
            )
        })
        .collect();
    let mut seen = st.seen.lock().expect("seen lock");
    // Bounded: the mock keeps the last 10 000 requests.
    if seen.len() >= 10_000 {
        seen.remove(0);
    }
    seen.push(SeenRequest {
        method: method.to_string(),
        path: uri.path().to_owned(),
        headers,
        body: body.to_vec(),
    });
}

/// The fault for this request. A header value `a|b|c` is a sequence: the n-th
/// request carrying the same correlation id (the host repeats it on every
/// retry) gets the n-th fault, the last one repeating.
fn pick_fault(st: &MockState, headers: &HeaderMap, body: &[u8]) -> Fault {
    if let Some(v) = headers.get(FAULT_HEADER).and_then(|v| v.to_str().ok()) {
        let steps: Vec<&str> = v.split('|').collect();
        let n = match headers
            .get("x-client-request-id")
            .and_then(|c| c.to_str().ok())
        {
            Some(cid) if steps.len() > 1 => {
                let seen = st.seen.lock().expect("seen lock");
                seen.iter()
                    .filter(|r| r.header("x-client-request-id") == Some(cid))
                    .count()
                    .saturating_sub(1)
            }
            _ => 0,
        };
        if let Ok(f) = steps[n.min(steps.len() - 1)].parse() {
            return f;
        }
    }
    if let Some((_, f)) = st
        .config
        .behaviours
        .iter()
        .find(|(w, _)| applies(st, *w, headers, body))
    {
        return f.clone();
    }
    if let Some(f) = st.script.lock().expect("script lock").pop_front() {
        return f;
    }
    if let Some((rate, f)) = &st.config.rate
        && rand::rng().random::<f64>() < *rate
    {
        return f.clone();
    }
    Fault::None
}

/// Whether a standing behaviour applies to this request.
fn applies(st: &MockState, when: When, headers: &HeaderMap, body: &[u8]) -> bool {
    let auth = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok());
    let json = || serde_json::from_slice::<Value>(body).ok();
    match when {
        When::Any => true,
        When::NoKey => auth.is_none(),
        When::BadKey => {
            auth.is_some_and(|a| a.strip_prefix("Bearer ").unwrap_or("").trim() != st.config.key)
        }
        When::NoModel => json().is_some_and(|v| v.get("model").is_none()),
        When::NoMessages => json().is_some_and(|v| v.get("messages").is_none()),
        When::EmptyMessages => json().is_some_and(|v| {
            v.get("messages")
                .and_then(Value::as_array)
                .is_some_and(Vec::is_empty)
        }),
        When::UnknownModel => json().is_some_and(|v| {
            v.get("model")
                .and_then(Value::as_str)
                .is_some_and(|m| !st.config.models.iter().any(|k| k == m))
        }),
    }
}

/// Check `Authorization: Bearer <key>`; the error response when it fails.
fn check_auth(st: &MockState, headers: &HeaderMap, fault: &Fault) -> Option<Response> {
    if *fault == Fault::AcceptAnyKey {
        return None;
    }
    let Some(value) = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
    else {
        return Some(error(
            StatusCode::UNAUTHORIZED,
            "You didn't provide an API key. You need to provide your API key in an Authorization header using Bearer auth (i.e. Authorization: Bearer YOUR_KEY).",
            "invalid_request_error",
            None,
            None,
        ));
    };
    let token = value.strip_prefix("Bearer ").unwrap_or("").trim();
    if token == st.config.key {
        return None;
    }
    // As OpenAI does: the first 8 and the last 4 characters of the rejected key.
    let chars: Vec<char> = token.chars().collect();
    let shown = if *fault == Fault::EchoKey {
        token.to_owned()
    } else if chars.len() > 12 {
        format!(
            "{}{}{}",
            chars[..8].iter().collect::<String>(),
            "*".repeat(chars.len() - 12),
            chars[chars.len() - 4..].iter().collect::<String>()
        )
    } else {
        "****".to_owned()
    };
    let status = if *fault == Fault::BadKeyAs400 {
        StatusCode::BAD_REQUEST
    } else {
        StatusCode::UNAUTHORIZED
    };
    Some(error(
        status,
        &format!(
            "Incorrect API key provided: {shown}. You can find your API key in your account settings."
        ),
        "invalid_request_error",
        None,
        Some("invalid_api_key"),
    ))
}

/// Faults that replace the answer before auth and validation (gateway behaviour).
fn early_fault(fault: &Fault, rid: &str) -> Option<Response> {
    Some(match fault {
        Fault::Status(s) => {
            let status = StatusCode::from_u16(*s).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
            let etype = if *s >= 500 { "server_error" } else { "invalid_request_error" };
            error(status, &format!("Injected failure with status {s}."), etype, None, None)
        }
        Fault::RateLimit(secs) => {
            let mut r = error(StatusCode::TOO_MANY_REQUESTS, "Rate limit reached for requests. Please try again later.", "requests", None, Some("rate_limit_exceeded"));
            r.headers_mut().insert("retry-after", HeaderValue::from(*secs));
            r
        }
        Fault::RateLimitMs(ms) => {
            let mut r = error(StatusCode::TOO_MANY_REQUESTS, "Rate limit reached for requests. Please try again later.", "requests", None, Some("rate_limit_exceeded"));
            r.headers_mut().insert("retry-after-ms", HeaderValue::from(*ms));
            r
        }
        Fault::TextPlain500 => (StatusCode::INTERNAL_SERVER_ERROR, [(header::CONTENT_TYPE, "text/plain")], "Internal Server Error").into_response(),
        Fault::Html502 => (
            StatusCode::BAD_GATEWAY,
            [(header::CONTENT_TYPE, "text/html")],
            "<html><head><title>502 Bad Gateway</title></head><body><center><h1>502 Bad Gateway</h1></center></body></html>",
        )
            .into_response(),
        Fault::Redirect => (StatusCode::FOUND, [(header::LOCATION, "http://redirect-target.invalid/v1/chat/completions")], "").into_response(),
        Fault::CometInvalidRequest => error(
            StatusCode::INTERNAL_SERVER_ERROR,
            &format!("field messages is required (request id: {rid})"),
            "comet_api_error",
            None,
            Some("invalid_request"),
        ),
        Fault::CometModelNotFound => error(
            StatusCode::SERVICE_UNAVAILABLE,
            &format!("model not found (request id: {rid})"),
            "comet_api_error",
            None,
            Some("model_not_found"),
        ),
        Fault::Litellm => error(
            StatusCode::BAD_REQUEST,
            "litellm.BadRequestError: OpenAIException - Invalid request",
            "None",
            Some("None"),
            Some("400"),
        ),
        _ => return None,
    })
}

async fn chat(
    State(st): State<Arc<MockState>>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let (fault, rid) = match gate(&st, &method, &uri, &headers, &body).await {
        Ok(picked) => picked,
        Err(answer) => return answer,
    };
    let resp = match validate(&st, &body) {
        Err(_) if fault == Fault::AcceptInvalid => {
            let req = ChatReq {
                model: st.config.models.first().cloned().unwrap_or_default(),
                prompt: String::new(),
                prompt_chars: 0,
                max_tokens: Some(8),
                stream: false,
                include_usage: false,
                n: 1,
                json_object: false,
                tool: None,
            };
            complete(&req, &fault, &rid)
        }
        Err(r) => *r,
        Ok(req) => complete(&req, &fault, &rid),
    };
    if fault == Fault::NoRequestId {
        return resp;
    }
    with_request_id(resp, &rid)
}

/// What every route does first: record the request, pick its fault, apply
/// delays and the faults that replace the answer, then check auth. `Ok` is
/// the fault and request id to answer with; `Err` is the answer already.
async fn gate(
    st: &MockState,
    method: &Method,
    uri: &Uri,
    headers: &HeaderMap,
    body: &[u8],
) -> Result<(Fault, String), Response> {
    record(st, method, uri, headers, body);
    let rid = request_id();
    if st.config.latency_ms > 0 {
        let ms = st.config.latency_ms.min(super::fault::MAX_FAULT_DELAY_MS);
        tokio::time::sleep(Duration::from_millis(ms)).await;
    }
    let fault = pick_fault(st, headers, body);
    if let Fault::Delay(ms) = fault {
        tokio::time::sleep(Duration::from_millis(
            ms.min(super::fault::MAX_FAULT_DELAY_MS),
        ))
        .await;
    }
    if let Some(r) = early_fault(&fault, &rid) {
        return Err(with_request_id(r, &rid));
    }
    if fault == Fault::EchoHeaders {
        return Err(with_request_id(echo_headers(headers), &rid));
    }
    if let Some(r) = echo_auth(&fault, headers) {
        return Err(r);
    }
    if let Some(r) = check_auth(st, headers, &fault) {
        return Err(with_request_id(r, &rid));
    }
    Ok((fault, rid))
}

struct ChatReq {
    model: String,
    prompt: String,
    prompt_chars: usize,
    max_tokens: Option<u64>,
    stream: bool,
    include_usage: bool,
    /// Choices asked for (`n`).
    n: u64,
    /// `response_format: {"type": "json_object"}`: answer with JSON.
    json_object: bool,
    /// The function to call, when `tools` are given and `tool_choice` allows.
    tool: Option<String>,
}

fn validate(st: &MockState, body: &[u8]) -> Result<ChatReq, Box<Response>> {
    let bad = |msg: &str, param: Option<&str>, code: Option<&str>| {
        Err(Box::new(error(
            StatusCode::BAD_REQUEST,
            msg,
            "invalid_request_error",
            param,
            code,
        )))
    };
    let Ok(v) = serde_json::from_slice::<Value>(body) else {
        return bad(
            "We could not parse the JSON body of your request. The OpenAI API expects a JSON payload.",
            None,
            None,
        );
    };
    let Some(model) = v.get("model").and_then(Value::as_str) else {
        return bad("You must provide a model parameter.", Some("model"), None);
    };
    let Some(messages) = v.get("messages") else {
        return bad(
            "Missing required parameter: 'messages'.",
            Some("messages"),
            Some("missing_required_parameter"),
        );
    };
    let Some(messages) = messages.as_array().filter(|m| !m.is_empty()) else {
        return bad(
            "Invalid 'messages': expected a non-empty array.",
            Some("messages"),
            Some("invalid_type"),
        );
    };
    let mut prompt_chars = 0;
    let mut last_user = String::new();
    for (i, m) in messages.iter().enumerate() {
        let role = m.get("role").and_then(Value::as_str);
        let content = m.get("content");
        if role.is_none() || content.is_none() {
            return bad(
                &format!("Missing required parameter: 'messages[{i}].role' or 'content'."),
                Some("messages"),
                Some("missing_required_parameter"),
            );
        }
        let text = content
            .and_then(Value::as_str)
            .map(str::to_owned)
            .unwrap_or_else(|| content.map(Value::to_string).unwrap_or_default());
        prompt_chars += text.chars().count();
        if role == Some("user") {
            last_user = text;
        }
    }
    if !st.config.models.iter().any(|m| m == model) {
        return Err(Box::new(error(
            StatusCode::NOT_FOUND,
            &format!("The model `{model}` does not exist or you do not have access to it."),
            "invalid_request_error",
            None,
            Some("model_not_found"),
        )));
    }
    if prompt_chars > st.config.context_limit_chars {
        return bad(
            &format!(
                "This model's maximum context length is {} characters. However, your messages resulted in {prompt_chars} characters.",
                st.config.context_limit_chars
            ),
            Some("messages"),
            Some("context_length_exceeded"),
        );
    }
    let max_tokens = v
        .get("max_tokens")
        .or_else(|| v.get("max_completion_tokens"))
        .and_then(Value::as_u64);
    let n = match v.get("n") {
        None | Some(Value::Null) => 1,
        Some(x) => match x.as_u64() {
            Some(n @ 1..=128) => n,
            _ => {
                return bad(
                    &format!("Invalid 'n': {x} is not an integer from 1 to 128."),
                    Some("n"),
                    Some("invalid_value"),
                );
            }
        },
    };
    let json_object =
        v.pointer("/response_format/type").and_then(Value::as_str) == Some("json_object");
    let tool = (v.get("tool_choice").and_then(Value::as_str) != Some("none"))
        .then(|| {
            v.get("tools")?
                .as_array()?
                .iter()
                .find_map(|t| t.pointer("/function/name")?.as_str().map(str::to_owned))
        })
        .flatten();
    Ok(ChatReq {
        n,
        json_object,
        tool,
        model: model.to_owned(),
        prompt: last_user,
        prompt_chars,
        max_tokens,
        stream: v.get("stream").and_then(Value::as_bool).unwrap_or(false),
        include_usage: v
            .pointer("/stream_options/include_usage")
            .and_then(Value::as_bool)
            .unwrap_or(false),
    })
}

fn complete(req: &ChatReq, fault: &Fault, rid: &str) -> Response {
    let answer = if req.json_object {
        "{\"answer\": \"READY\"}".to_owned()
    } else if req.prompt.contains("READY") {
        "READY".to_owned()
    } else {
        "This is a deterministic reply from the shipgate mock server.".to_owned()
    };
    let words: Vec<&str> = answer.split_whitespace().collect();
    let max_tokens = if *fault == Fault::IgnoreMaxTokens {
        None
    } else {
        req.max_tokens
    };
    let (content, finish) = match max_tokens {
        Some(n) if (words.len() as u64) > n => (words[..n as usize].join(" "), "length"),
        _ => (answer.clone(), "stop"),
    };
    let completion_tokens = content.split_whitespace().count() as u64;
    let prompt_tokens = (req.prompt_chars as u64).div_ceil(4) + 7;
    let created = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    let id = format!("chatcmpl-{}", &rid[4..]);
    let usage = json!({
        "prompt_tokens": prompt_tokens,
        "completion_tokens": completion_tokens,
        "total_tokens": (prompt_tokens + completion_tokens).saturating_sub(if *fault == Fault::BadUsage { 1 } else { 0 }),
        "prompt_tokens_details": {"cached_tokens": 0},
        "completion_tokens_details": {"reasoning_tokens": 0}
    });
    if req.stream {
        let how = match fault {
            Fault::Stream(f) => Some(*f),
            _ => None,
        };
        return stream(req, &id, created, &content, finish, usage, how);
    }
    let mut body = json!({
        "id": id,
        "object": "chat.completion",
        "created": created,
        "model": if *fault == Fault::WrongModel { "some-other-model" } else { req.model.as_str() },
        "system_fingerprint": "fp_shipgate_mock",
        "choices": (0..req.n).map(|i| match &req.tool {
            Some(name) => json!({
                "index": i,
                "message": {"role": "assistant", "content": null, "refusal": null, "tool_calls": [{
                    "id": format!("call_{}_{i}", &rid[4..rid.len().min(16)]),
                    "type": "function",
                    "function": {"name": name, "arguments": "{}"}
                }]},
                "logprobs": null,
                "finish_reason": "tool_calls"
            }),
            None => json!({
                "index": i,
                "message": {"role": "assistant", "content": content, "refusal": null},
                "logprobs": null,
                "finish_reason": finish
            }),
        }).collect::<Vec<_>>(),
        "usage": usage
    });
    match fault {
        Fault::MissingFields => {
            let o = body.as_object_mut().expect("object");
            o.remove("choices");
            o.remove("usage");
        }
        Fault::ExtraFields => {
            body["usage"]["latency_checkpoint"] = json!(12);
            body["x_gateway"] = json!({"region": "mock-1"});
        }
        Fault::HugeUsage => {
            body["usage"] = json!({"prompt_tokens": u64::MAX, "completion_tokens": u64::MAX, "total_tokens": u64::MAX});
        }
        Fault::DeepKeys => {
            let mut inner = json!(1);
            for level in 0..8 {
                inner = json!({ format!("k{level}").repeat(50_000): inner });
            }
            body["x_deep"] = inner;
        }
        _ => {}
    }
    let text = body.to_string();
    let json_ct = [(header::CONTENT_TYPE, "application/json")];
    match fault {
        Fault::Truncated => {
            (StatusCode::OK, json_ct, text[..text.len() / 2].to_owned()).into_response()
        }
        Fault::InvalidJson => {
            (StatusCode::OK, json_ct, "{\"id\": chatcmpl-oops,, }").into_response()
        }
        Fault::Empty => (StatusCode::OK, json_ct, "").into_response(),
        Fault::Huge(n) => {
            let pad = " ".repeat((*n).min(super::fault::MAX_FAULT_BODY_BYTES));
            (StatusCode::OK, json_ct, format!("{pad}{text}")).into_response()
        }
        Fault::DropMidBody => {
            let half = Bytes::from(text.as_bytes()[..text.len() / 2].to_vec());
            let chunks: Vec<Result<Bytes, std::io::Error>> = vec![
                Ok(half),
                Err(std::io::Error::new(
                    std::io::ErrorKind::ConnectionReset,
                    "mock dropped the connection",
                )),
            ];
            let mut r = Response::new(Body::from_stream(futures_util::stream::iter(chunks)));
            r.headers_mut().insert(
                header::CONTENT_TYPE,
                HeaderValue::from_static("application/json"),
            );
            r
        }
        _ => (StatusCode::OK, json_ct, text).into_response(),
    }
}

/// A streamed answer: one `chat.completion.chunk` event per word, the finish
/// chunk, the usage chunk when asked for, `[DONE]`; each event its own body
/// chunk, so a client sees them arrive one by one. `how` makes it go wrong.
fn stream(
    req: &ChatReq,
    id: &str,
    created: u64,
    content: &str,
    finish: &str,
    usage: Value,
    how: Option<super::fault::StreamFault>,
) -> Response {
    use super::fault::StreamFault as F;
    let chunk = |delta: Value, finish: Value| {
        json!({"id": id, "object": "chat.completion.chunk", "created": created, "model": req.model,
               "system_fingerprint": "fp_shipgate_mock",
               "choices": [{"index": 0, "delta": delta, "logprobs": null, "finish_reason": finish}]})
    };
    let mut events: Vec<String> =
        vec![chunk(json!({"role": "assistant", "content": ""}), Value::Null).to_string()];
    let words: Vec<&str> = content.split_whitespace().collect();
    for (i, w) in words.iter().enumerate() {
        let piece = if i == 0 {
            (*w).to_owned()
        } else {
            format!(" {w}")
        };
        events.push(chunk(json!({"content": piece}), Value::Null).to_string());
    }
    if how != Some(F::NoFinishReason) {
        events.push(chunk(json!({}), json!(finish)).to_string());
    }
    if req.include_usage {
        events.push(
            json!({"id": id, "object": "chat.completion.chunk", "created": created, "model": req.model,
                   "choices": [], "usage": usage})
            .to_string(),
        );
    }
    if how == Some(F::CorruptChunk) {
        events.insert(1, "{\"id\": chatcmpl-oops,, \"choices\": [".to_owned());
    }
    let mut frames: Vec<String> = events.iter().map(|e| format!("data: {e}\n\n")).collect();
    if how != Some(F::NoDone) {
        frames.push("data: [DONE]\n\n".to_owned());
    }
    // (delay before, frame or a broken connection)
    let mut steps: Vec<(u64, Result<Bytes, std::io::Error>)> = frames
        .into_iter()
        .map(|f| (0, Ok(Bytes::from(f))))
        .collect();
    let middle = (2 + words.len() / 2).min(steps.len());
    match how {
        Some(F::Dropped) => {
            steps.truncate(middle);
            // After the first events have gone out (a drop before the
            // headers would be a connection error, not a cut stream).
            steps.push((
                50,
                Err(std::io::Error::new(
                    std::io::ErrorKind::ConnectionReset,
                    "mock dropped the stream",
                )),
            ));
        }
        Some(F::ErrorEvent) => {
            steps.truncate(middle);
            steps.push((
                0,
                Ok(Bytes::from_static(
                    b"event: error\ndata: {\"error\":{\"message\":\"upstream overloaded\",\"type\":\"server_error\"}}\n\n",
                )),
            ));
        }
        Some(F::Stall(ms)) => {
            if let Some(step) = steps.get_mut(2) {
                step.0 = ms.min(super::fault::MAX_FAULT_DELAY_MS);
            }
        }
        Some(F::SlowFirst(ms)) => {
            if let Some(step) = steps.first_mut() {
                step.0 = ms.min(super::fault::MAX_FAULT_DELAY_MS);
            }
        }
        _ => {}
    }
    let body = futures_util::StreamExt::then(
        futures_util::stream::iter(steps),
        |(delay, item)| async move {
            if delay > 0 {
                tokio::time::sleep(Duration::from_millis(delay)).await;
            }
            item
        },
    );
    let mut r = Response::new(Body::from_stream(body));
    r.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/event-stream"),
    );
    r.headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    r
}

/// A reflecting server's encodings of the `Authorization` value it got.
fn echo_auth(fault: &Fault, headers: &HeaderMap) -> Option<Response> {
    let auth = headers
        .get(header::AUTHORIZATION)
        .map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned())
        .unwrap_or_default();
    Some(match fault {
        Fault::EchoEncoded(EchoForm::Base64Header) => {
            use base64::Engine as _;
            let blob = base64::engine::general_purpose::STANDARD.encode(format!("x-auth: {auth};"));
            axum::Json(json!({ "seen": blob })).into_response()
        }
        Fault::EchoEncoded(EchoForm::UrlEncoded) => {
            let url: String = auth.bytes().map(|b| format!("%{b:02X}")).collect();
            axum::Json(json!({ "next": format!("/callback?auth={url}") })).into_response()
        }
        Fault::EchoEncoded(EchoForm::JsonEscaped) => {
            let escaped: String = auth
                .chars()
                .map(|c| format!("\\u{:04x}", c as u32))
                .collect();
            (
                StatusCode::OK,
                [(header::CONTENT_TYPE, "application/json")],
                format!("{{\"seen\": \"{escaped}\"}}"),
            )
                .into_response()
        }
        Fault::EchoEncoded(form @ (EchoForm::SplitHeaders | EchoForm::SplitRequestIds)) => {
            let mid = auth.len() / 2;
            let (a, b) = auth.split_at(mid);
            let mut r = axum::Json(json!({"ok": true})).into_response();
            let names = if *form == EchoForm::SplitHeaders {
                ["x-part-1", "x-part-2"]
            } else {
                ["x-request-id", "request-id"]
            };
            for (name, part) in names.into_iter().zip([a, b]) {
                if let Ok(v) = HeaderValue::from_str(part) {
                    r.headers_mut().insert(name, v);
                }
            }
            r
        }
        Fault::EchoEncoded(EchoForm::MimeBase64) => {
            use base64::Engine as _;
            let blob = base64::engine::general_purpose::STANDARD
                .encode(format!("x-debug-authorization: {auth}\n"));
            let wrapped: String = blob
                .as_bytes()
                .chunks(76)
                .map(|line| format!("{}\n", String::from_utf8_lossy(line)))
                .collect();
            axum::Json(json!({ "debug": wrapped })).into_response()
        }
        Fault::EchoEncoded(EchoForm::InterleavedHeaders) => {
            let (a, b) = auth.split_at(auth.len() / 2);
            let mut r = axum::Json(json!({"ok": true})).into_response();
            for (name, part) in [("x-auth-part", a), ("x-other", "z"), ("x-auth-part", b)] {
                if let Ok(v) = HeaderValue::from_str(part) {
                    r.headers_mut().append(name, v);
                }
            }
            r
        }
        Fault::EchoEncoded(EchoForm::LowerCase) => {
            axum::Json(json!({ "seen": auth.to_lowercase() })).into_response()
        }
        Fault::EchoEncoded(EchoForm::Utf16) => {
            let body: Vec<u8> = format!("seen authorization: {auth}")
                .encode_utf16()
                .flat_map(u16::to_le_bytes)
                .collect();
            (
                StatusCode::OK,
                [(header::CONTENT_TYPE, "text/plain; charset=utf-16le")],
                body,
            )
                .into_response()
        }
        // A debug dump of the header line, offsets and hex bytes (no text
        // column: `hexdump -C`'s would hold the key cut into 16-byte pieces).
        Fault::EchoEncoded(EchoForm::HexDump) => {
            let line = format!("authorization: {auth}");
            let dump: String = line
                .as_bytes()
                .chunks(16)
                .enumerate()
                .map(|(i, c)| {
                    let hex: Vec<String> = c.iter().map(|b| format!("{b:02x}")).collect();
                    format!("{:08x}  {}\n", i * 16, hex.join(" "))
                })
                .collect();
            (StatusCode::OK, [(header::CONTENT_TYPE, "text/plain")], dump).into_response()
        }
        Fault::EchoEncoded(EchoForm::Cut) => {
            let cut: String = auth.chars().take(30).collect();
            axum::Json(json!({ "seen": format!("{cut}...") })).into_response()
        }
        Fault::EchoEncoded(EchoForm::ContentEncoded) => {
            let body: Vec<u8> = json!({ "seen": auth }).to_string().bytes().rev().collect();
            (
                StatusCode::OK,
                [
                    (header::CONTENT_ENCODING, "gzip"),
                    (header::CONTENT_TYPE, "application/json"),
                ],
                body,
            )
                .into_response()
        }
        Fault::EchoEncoded(EchoForm::SecondEncoding) => {
            let body: Vec<u8> = json!({ "seen": auth }).to_string().bytes().rev().collect();
            let mut r = (StatusCode::OK, body).into_response();
            let h = r.headers_mut();
            h.append(
                header::CONTENT_TYPE,
                HeaderValue::from_static("application/json"),
            );
            h.append(
                header::CONTENT_ENCODING,
                HeaderValue::from_static("identity"),
            );
            h.append(header::CONTENT_ENCODING, HeaderValue::from_static("gzip"));
            r
        }
        Fault::EchoKeyAsRequestId => {
            let mut r = error(
                StatusCode::BAD_REQUEST,
                &format!("bad request (request id: {auth})"),
                "invalid_request_error",
                None,
                None,
            );
            if let Ok(v) = HeaderValue::from_str(&auth) {
                r.headers_mut().insert("x-request-id", v);
            }
            r
        }
        _ => return None,
    })
}

fn echo_headers(headers: &HeaderMap) -> Response {
    let all: serde_json::Map<String, Value> = headers
        .iter()
        .map(|(k, v)| {
            (
                k.as_str().to_owned(),
                Value::String(String::from_utf8_lossy(v.as_bytes()).into_owned()),
            )
        })
        .collect();
    let mut r = axum::Json(json!({ "headers": all })).into_response();
    if let Some(v) = headers.get(header::AUTHORIZATION) {
        r.headers_mut().insert("x-echo-authorization", v.clone());
    }
    r
}

async fn models(
    State(st): State<Arc<MockState>>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
) -> Response {
    let rid = match gate(&st, &method, &uri, &headers, &[]).await {
        Ok((_, rid)) => rid,
        Err(answer) => return answer,
    };
    let data: Vec<Value> = st
        .config
        .models
        .iter()
        .map(|m| json!({"id": m, "object": "model", "created": 1_700_000_000u64, "owned_by": "shipgate"}))
        .collect();
    with_request_id(
        axum::Json(json!({"object": "list", "data": data})).into_response(),
        &rid,
    )
}

/// `GET /v1/models/{id}` (the SDKs' `models.retrieve`).
async fn model(
    State(st): State<Arc<MockState>>,
    axum::extract::Path(id): axum::extract::Path<String>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
) -> Response {
    let rid = match gate(&st, &method, &uri, &headers, &[]).await {
        Ok((_, rid)) => rid,
        Err(answer) => return answer,
    };
    let answer = if st.config.models.contains(&id) {
        axum::Json(json!({"id": id, "object": "model", "created": 1_700_000_000u64, "owned_by": "shipgate"}))
            .into_response()
    } else {
        error(
            StatusCode::NOT_FOUND,
            &format!(
                "The model `{}` does not exist or you do not have access to it.",
                crate::text::one_line(&id, 64)
            ),
            "invalid_request_error",
            None,
            Some("model_not_found"),
        )
    };
    with_request_id(answer, &rid)
}

async fn not_found(
    State(st): State<Arc<MockState>>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
) -> Response {
    record(&st, &method, &uri, &headers, &[]);
    let rid = request_id();
    with_request_id(
        error(
            StatusCode::NOT_FOUND,
            &format!("Invalid URL ({method} {})", uri.path()),
            "invalid_request_error",
            None,
            None,
        ),
        &rid,
    )
}
