//! Per-request telemetry, named after the OpenTelemetry GenAI conventions.
//!
//! One [`RequestTelemetry`] per request a plugin sent (or tried to send),
//! holding what the guide's step 6 lists. Attribute names follow the
//! OpenTelemetry GenAI semantic conventions where one exists
//! (`gen_ai.request.model`, `gen_ai.usage.input_tokens`, `error.type`, ...)
//! and use a `shipgate.` prefix otherwise. Message content
//! (`gen_ai.input.messages`, `gen_ai.output.messages`) is never recorded.

use serde::{Deserialize, Serialize};

/// One attempt of a request.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AttemptRecord {
    /// From 1.
    pub number: u32,
    /// Status, when a response came back.
    pub status: Option<u16>,
    /// Wait before this attempt, in ms.
    pub wait_ms: u64,
    /// Latency of this attempt, in ms.
    pub latency_ms: u64,
    /// Classification (`none`, `auth`, `transient`, ...).
    pub category: String,
    /// Whether it timed out.
    pub timed_out: bool,
}

/// Everything recorded about one request.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RequestTelemetry {
    /// The plugin that sent it.
    #[serde(rename = "shipgate.plugin")]
    pub plugin: String,
    /// The plugin's operation name (such as `canary`).
    #[serde(rename = "shipgate.operation")]
    pub operation: String,
    /// `chat` for the chat path, else `http`.
    #[serde(rename = "gen_ai.operation.name")]
    pub genai_operation: String,
    /// Provider name from the contract.
    #[serde(rename = "gen_ai.provider.name")]
    pub provider: String,
    /// Sanitized request category: the endpoint group, never content.
    #[serde(rename = "shipgate.request_category")]
    pub request_category: String,
    /// `model` of the request body.
    #[serde(rename = "gen_ai.request.model")]
    pub request_model: Option<String>,
    /// `max_tokens`/`max_completion_tokens` of the request body.
    #[serde(rename = "gen_ai.request.max_tokens")]
    pub request_max_tokens: Option<u64>,
    /// HTTP method.
    #[serde(rename = "http.request.method")]
    pub method: String,
    /// Path, relative to the origin.
    #[serde(rename = "url.path")]
    pub path: String,
    /// Target host.
    #[serde(rename = "server.address")]
    pub server_address: String,
    /// Target port.
    #[serde(rename = "server.port")]
    pub server_port: u16,
    /// Auth mode used.
    #[serde(rename = "shipgate.auth_mode")]
    pub auth_mode: String,
    /// Final status.
    #[serde(rename = "http.response.status_code")]
    pub status: Option<u16>,
    /// `response` or why there was none: `denied`, `rejected`, `timeout`,
    /// `connect`, `body-too-large`, `withheld`; `in-flight` while it is out,
    /// and `cancelled` when its plugin was stopped (at its deadline) before it came back.
    #[serde(rename = "shipgate.outcome")]
    pub outcome: String,
    /// Application error category of the final outcome.
    #[serde(rename = "shipgate.error_category")]
    pub error_category: String,
    /// `error.type`: the category or transport failure, absent on success.
    #[serde(rename = "error.type")]
    pub error_type: Option<String>,
    /// Latency of the final attempt, in ms.
    #[serde(rename = "shipgate.latency_ms")]
    pub latency_ms: u64,
    /// Retries made (attempts - 1).
    #[serde(rename = "shipgate.retry_count")]
    pub retry_count: u32,
    /// Attempts that timed out.
    #[serde(rename = "shipgate.timeout_count")]
    pub timeout_count: u32,
    /// Every attempt.
    #[serde(rename = "shipgate.attempts")]
    pub attempts: Vec<AttemptRecord>,
    /// Whether the body parsed as JSON (absent when there was no body).
    #[serde(rename = "shipgate.parse_ok")]
    pub parse_ok: Option<bool>,
    /// Bytes of the response body as delivered (after the scrub); absent
    /// without a response.
    #[serde(
        rename = "http.response.body.size",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub response_body_size: Option<u64>,
    /// The correlation id the host generated and sent.
    #[serde(rename = "shipgate.correlation_id")]
    pub correlation_id: String,
    /// The header it was sent in.
    #[serde(rename = "shipgate.correlation_header")]
    pub correlation_header: String,
    /// The provider's request id, when returned.
    #[serde(rename = "shipgate.provider_request_id")]
    pub provider_request_id: Option<String>,
    /// `id` of the response body.
    #[serde(rename = "gen_ai.response.id")]
    pub response_id: Option<String>,
    /// `model` of the response body.
    #[serde(rename = "gen_ai.response.model")]
    pub response_model: Option<String>,
    /// `choices[].finish_reason`.
    #[serde(rename = "gen_ai.response.finish_reasons")]
    pub finish_reasons: Vec<String>,
    /// `usage.prompt_tokens`.
    #[serde(rename = "gen_ai.usage.input_tokens")]
    pub input_tokens: Option<u64>,
    /// `usage.completion_tokens`.
    #[serde(rename = "gen_ai.usage.output_tokens")]
    pub output_tokens: Option<u64>,
    /// Top-level fields of the response body, with their JSON types.
    #[serde(rename = "shipgate.response_fields")]
    pub response_fields: Vec<(String, String)>,
    /// Why the host denied or rejected it, when it did.
    #[serde(rename = "shipgate.reason")]
    pub reason: Option<String>,
    /// The fault the plugin asked the built-in mock for, if any.
    #[serde(
        rename = "shipgate.fault",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub fault: Option<String>,
    /// The request body as a template (content replaced by its size unless captured).
    #[serde(rename = "shipgate.request_shape")]
    pub request_shape: Option<serde_json::Value>,
    /// For a streamed answer: how it arrived.
    #[serde(
        rename = "shipgate.stream",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub stream: Option<StreamTelemetry>,
}

/// How a streamed answer arrived (no OpenTelemetry GenAI client attribute
/// covers these yet, so they carry shipgate's own names).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct StreamTelemetry {
    /// Time to the first chunk of the body, ms.
    pub first_chunk_ms: Option<u64>,
    /// Chunks received.
    pub chunks: u64,
    /// Body bytes received.
    pub bytes: u64,
    /// Events (blank-line terminators) received.
    pub events: u64,
    /// 95th percentile of the gaps between events, ms.
    pub gap_p95_ms: Option<u64>,
    /// Why it ended before the server closed it cleanly, if it did.
    pub interrupted: Option<String>,
}

/// The JSON type name of a value.
pub fn json_type(v: &serde_json::Value) -> &'static str {
    match v {
        serde_json::Value::Null => "null",
        serde_json::Value::Bool(_) => "boolean",
        serde_json::Value::Number(n) if n.is_i64() || n.is_u64() => "integer",
        serde_json::Value::Number(_) => "number",
        serde_json::Value::String(_) => "string",
        serde_json::Value::Array(_) => "array",
        serde_json::Value::Object(_) => "object",
    }
}

/// Most (pointer, type) pairs taken from one response.
pub const MAX_FIELDS: usize = 256;
/// Characters of one object key kept in a pointer (longer keys end in `…`).
pub const MAX_KEY_CHARS: usize = 64;
/// Pointers stop growing past this many bytes (at most 8 levels anyway).
pub const MAX_POINTER_BYTES: usize = 1024;

/// Every leaf and container of a JSON value as (pointer, type), arrays
/// sampled at index 0; bounded in depth, count and pointer length whatever
/// the server sends.
pub fn field_types(v: &serde_json::Value) -> Vec<(String, String)> {
    fn walk(v: &serde_json::Value, at: String, out: &mut Vec<(String, String)>, depth: usize) {
        if depth > 8 || out.len() > MAX_FIELDS {
            return;
        }
        if !at.is_empty() {
            out.push((at.clone(), json_type(v).to_owned()));
        }
        match v {
            serde_json::Value::Object(o) => {
                for (k, x) in o {
                    // Bounded: a server's key may be megabytes long.
                    if out.len() > MAX_FIELDS || at.len() > MAX_POINTER_BYTES {
                        return;
                    }
                    let cut = k.chars().nth(MAX_KEY_CHARS).is_some();
                    let short: String = k.chars().take(MAX_KEY_CHARS).collect();
                    let mut k = short.replace('~', "~0").replace('/', "~1");
                    if cut {
                        k.push('…');
                    }
                    walk(x, format!("{at}/{k}"), out, depth + 1);
                }
            }
            serde_json::Value::Array(a) => {
                if let Some(x) = a.first() {
                    walk(x, format!("{at}/0"), out, depth + 1);
                }
            }
            _ => {}
        }
    }
    let mut out = Vec::new();
    walk(v, String::new(), &mut out, 0);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn field_types_are_bounded_whatever_the_server_sends() {
        let mut deep = serde_json::json!(1);
        for level in 0..12 {
            deep = serde_json::json!({ format!("k{level}/~").repeat(50_000): deep });
        }
        let types = field_types(&serde_json::json!({"id": "x", "x": deep}));
        assert!(types.len() <= MAX_FIELDS + 1);
        for (pointer, _) in &types {
            assert!(
                pointer.len() <= MAX_POINTER_BYTES + 4 * (MAX_KEY_CHARS + 4),
                "{}",
                pointer.len()
            );
        }
        assert!(
            types
                .iter()
                .any(|(p, t)| p.starts_with("/x/k11~1~0k11") && p.ends_with('…') && t == "object")
        );
        assert_eq!(types[0], ("/id".to_owned(), "string".to_owned()));
    }
}
