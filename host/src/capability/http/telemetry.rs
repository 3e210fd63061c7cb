//! The per-request record: made when a request is admitted (or refused),
//! before anything is dispatched, updated after every attempt and when the
//! answer is in. Everything in it that a guest chose is bounded and redacted
//! by secret-independent rules; response values come from the scrubbed
//! response.

use super::target::{RequestIdRule, TargetSpec};
use crate::bindings::shipgate::plugin::http::{Attempt, AuthMode, HttpError, Request};
use crate::classify::{Category, Classification};
use crate::redact::Redactor;
use crate::telemetry::{AttemptRecord, RequestTelemetry, field_types};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// Longest path kept in telemetry and reasons, in characters.
pub const MAX_STORED_PATH: usize = 256;
/// Largest request shape kept in telemetry, in bytes of JSON.
pub const MAX_SHAPE_BYTES: usize = 4096;
/// Longest reason kept for a denial or rejection, in characters.
pub const MAX_REASON: usize = 512;
/// Longest operation label kept, in characters.
pub const MAX_OPERATION: usize = 64;

/// The run's telemetry, shared by every plugin: entries are added before
/// dispatch and updated in place.
pub type Ledger = Arc<Mutex<Vec<RequestTelemetry>>>;

/// The telemetry entry of a request, from what the guest asked (bounded,
/// pattern-redacted), before any check: denied requests are recorded too.
pub fn entry(plugin: &str, spec: &TargetSpec, req: &Request) -> RequestTelemetry {
    let is_chat = req.path.split('?').next() == Some(spec.chat_path.as_str());
    let model = if is_chat {
        serde_json::from_slice::<serde_json::Value>(&req.body)
            .ok()
            .and_then(|v| v.get("model")?.as_str().map(|m| bounded(m, 128)))
    } else {
        None
    };
    RequestTelemetry {
        plugin: plugin.to_owned(),
        operation: bounded(&req.operation, MAX_OPERATION),
        genai_operation: if is_chat { "chat" } else { "http" }.into(),
        provider: spec.provider.clone(),
        request_category: if is_chat { "chat.completions" } else { "other" }.into(),
        request_model: model,
        request_max_tokens: None,
        method: super::method(req.method).to_string(),
        path: bounded(req.path.split('?').next().unwrap_or(""), MAX_STORED_PATH),
        server_address: spec.base_url.host_str().unwrap_or_default().to_owned(),
        server_port: spec.base_url.port_or_known_default().unwrap_or(0),
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
        response_body_size: None,
        correlation_id: String::new(),
        correlation_header: spec.correlation_header.clone(),
        provider_request_id: None,
        response_id: None,
        response_model: None,
        finish_reasons: Vec::new(),
        input_tokens: None,
        output_tokens: None,
        response_fields: Vec::new(),
        reason: None,
        fault: None,
        request_shape: None,
        stream: None,
    }
}

/// Update an entry after each attempt.
pub fn record_attempts(ledger: &Ledger, entry: usize, attempts: &[Attempt]) {
    let mut ledger = ledger.lock().expect("telemetry lock");
    if let Some(t) = ledger.get_mut(entry) {
        t.attempts = attempts.iter().map(attempt_record).collect();
        t.retry_count = attempts.len().saturating_sub(1) as u32;
        t.timeout_count = attempts.iter().filter(|a| a.timed_out).count() as u32;
    }
}

/// The telemetry form of an attempt.
pub fn attempt_record(a: &Attempt) -> AttemptRecord {
    AttemptRecord {
        number: a.number,
        status: a.status,
        wait_ms: u64::from(a.wait_ms),
        latency_ms: u64::from(a.latency_ms),
        category: super::category_name(a.category).into(),
        timed_out: a.timed_out,
    }
}

/// Record what a streamed answer's chunks said (they are not one JSON body):
/// the response id and model, the finish reasons, usage, and whether every
/// chunk parsed.
pub fn record_stream_answer(
    ledger: &Ledger,
    entry: usize,
    events: &[crate::bindings::shipgate::plugin::http::SseEvent],
) {
    let mut l = ledger.lock().expect("ledger lock");
    let Some(tel) = l.get_mut(entry) else {
        return;
    };
    let mut all_parsed = true;
    for e in events {
        let data = e.data.trim();
        if data.is_empty() || data == "[DONE]" {
            continue;
        }
        let Ok(v) = serde_json::from_str::<serde_json::Value>(data) else {
            all_parsed = false;
            continue;
        };
        let s = |p: &str| {
            v.pointer(p)
                .and_then(|x| x.as_str())
                .map(|s| bounded(s, 256))
        };
        if tel.response_id.is_none() {
            tel.response_id = s("/id");
            tel.response_model = s("/model");
        }
        for c in v
            .pointer("/choices")
            .and_then(|c| c.as_array())
            .into_iter()
            .flatten()
            .take(16)
        {
            if let Some(f) = c.get("finish_reason").and_then(|f| f.as_str())
                && tel.finish_reasons.len() < 16
            {
                tel.finish_reasons.push(bounded(f, 64));
            }
        }
        if let Some(n) = v.pointer("/usage/prompt_tokens").and_then(|x| x.as_u64()) {
            tel.input_tokens = Some(n);
        }
        if let Some(n) = v
            .pointer("/usage/completion_tokens")
            .and_then(|x| x.as_u64())
        {
            tel.output_tokens = Some(n);
        }
    }
    if !events.is_empty() {
        tel.parse_ok = Some(all_parsed);
    }
}

/// Record how a streamed answer arrived.
pub fn record_stream(ledger: &Ledger, entry: usize, info: &super::send::StreamInfo) {
    let mut gaps: Vec<u64> = info
        .boundaries
        .windows(2)
        .map(|w| u64::from(w[1].saturating_sub(w[0])))
        .collect();
    gaps.sort_unstable();
    let gap_p95_ms =
        (!gaps.is_empty()).then(|| gaps[(gaps.len() * 95).div_ceil(100).saturating_sub(1)]);
    let mut l = ledger.lock().expect("ledger lock");
    if let Some(t) = l.get_mut(entry) {
        t.stream = Some(crate::telemetry::StreamTelemetry {
            first_chunk_ms: info.first_byte_ms.map(u64::from),
            chunks: u64::from(info.chunks),
            bytes: info.bytes,
            events: info.boundaries.len() as u64,
            gap_p95_ms,
            interrupted: info
                .interrupted
                .as_deref()
                .map(|s| crate::text::one_line(s, 256)),
        });
    }
}

/// A scrubbed answer as the guest receives it, and its provider request id.
pub type Answer = (u16, Vec<(String, String)>, Vec<u8>, Option<String>);

/// Record how a request ended; pass the answer (or the error) on.
pub fn record_result(
    ledger: &Ledger,
    entry: usize,
    result: Result<super::send::Exchange, HttpError>,
    class: &Classification,
    latency: Duration,
    request_id: &RequestIdRule,
) -> Result<Answer, HttpError> {
    let mut ledger = ledger.lock().expect("telemetry lock");
    let tel = &mut ledger[entry];
    tel.latency_ms = latency.as_millis() as u64;
    tel.error_category = class.category.as_str().into();
    let (status, headers, body) = match result {
        Err(e) => {
            tel.outcome = match &e {
                HttpError::Timeout(_) => "timeout",
                HttpError::BodyTooLarge(_) => "body-too-large",
                HttpError::Withheld(_) => "withheld",
                HttpError::Rejected(_) => "rejected",
                _ => "connect",
            }
            .into();
            tel.error_type = Some(tel.outcome.clone());
            if let HttpError::Connect(m) | HttpError::Withheld(m) = &e {
                tel.reason = Some(bounded(m, MAX_REASON));
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
    tel.response_body_size = Some(body.len() as u64);
    let provider_request_id = request_id.find(&headers, parsed.as_ref());
    tel.provider_request_id = provider_request_id.clone();
    if let Some(v) = &parsed {
        let s = |p: &str| {
            v.pointer(p)
                .and_then(|x| x.as_str())
                .map(|s| bounded(s, 256))
        };
        tel.response_id = s("/id");
        tel.response_model = s("/model");
        tel.finish_reasons = v
            .pointer("/choices")
            .and_then(|c| c.as_array())
            .map(|a| {
                a.iter()
                    .take(16)
                    .filter_map(|c| c.get("finish_reason")?.as_str().map(|s| bounded(s, 64)))
                    .collect()
            })
            .unwrap_or_default();
        tel.input_tokens = v.pointer("/usage/prompt_tokens").and_then(|x| x.as_u64());
        tel.output_tokens = v
            .pointer("/usage/completion_tokens")
            .and_then(|x| x.as_u64());
        tel.response_fields = field_types(v);
    }
    Ok((status, headers, body, provider_request_id))
}

/// Mark `plugin`'s requests still out as cancelled.
pub fn cancel_in_flight(ledger: &Ledger, plugin: &str) {
    let mut ledger = ledger.lock().expect("telemetry lock");
    for t in ledger
        .iter_mut()
        .filter(|t| t.plugin == plugin && t.outcome == "in-flight")
    {
        t.outcome = "cancelled".into();
        t.error_type = Some("cancelled".into());
        t.reason = Some("the plugin was stopped while this request was in flight".into());
    }
}

/// `s` cut to `max` characters, pattern-redacted, marked when cut.
pub fn bounded(s: &str, max: usize) -> String {
    // Inert (controls and invisible characters escaped), cut, pattern-redacted.
    Redactor.redact(&crate::text::one_line(s, max)).into_owned()
}

/// The request body as a template: message content replaced by its size
/// unless the plan allows content capture; cut to [`MAX_SHAPE_BYTES`].
pub fn request_shape(mut body: serde_json::Value, content_capture: bool) -> serde_json::Value {
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
    Redactor.redact_json(&mut body);
    let size = body.to_string().len();
    if size <= MAX_SHAPE_BYTES {
        return body;
    }
    // Enforce: a guest cannot make the host keep a large request shape.
    let keys: Vec<String> = body
        .as_object()
        .map(|o| o.keys().take(32).map(|k| bounded(k, 64)).collect())
        .unwrap_or_default();
    serde_json::json!({"shipgate.truncated": true, "bytes": size, "keys": keys})
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn request_shapes_are_bounded_and_hold_no_content() {
        let body = serde_json::json!({"model": "m", "messages": [{"role": "user", "content": "secret plans"}]});
        let shape = request_shape(body, false);
        assert_eq!(shape["messages"][0]["content"], "<12 bytes of content>");
        let huge = serde_json::json!({"model": "m", "tools": ["x".repeat(1 << 20)]});
        let shape = request_shape(huge, false);
        assert_eq!(shape["shipgate.truncated"], true);
        assert!(shape.to_string().len() < MAX_SHAPE_BYTES);
    }

    #[test]
    fn stored_text_is_bounded_and_redacted() {
        let long = "a".repeat(10_000);
        assert!(bounded(&long, 256).chars().count() < 300);
        assert!(bounded(&long, 256).ends_with("[truncated]"));
        assert!(!bounded("Bearer abcdefghijklmnopqrstuvwxyz", 256).contains("abcdefghij"));
    }
}
