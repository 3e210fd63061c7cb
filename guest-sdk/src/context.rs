//! Read-only context: the contract snapshot, the plan's thresholds and this
//! plugin's own settings. Nothing here is secret: the credential's *name* is
//! available, its value never is.

use crate::imports::context as host;
use std::str::FromStr;

/// The target under test, as the contract names it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    /// Provider name (for example `cometapi`).
    pub provider: String,
    /// Base URL (scheme, host, port and path prefix).
    pub base_url: String,
    /// Chat completions path relative to the base URL.
    pub chat_path: String,
    /// HTTP method of the chat completions endpoint.
    pub chat_method: String,
    /// The validated model id.
    pub model: String,
    /// Name of the environment variable that holds the credential.
    pub credential_env: String,
    /// Header that carries the host's correlation id.
    pub correlation_header: String,
}

/// Thresholds from the plan (the guide says these must stay configurable).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Latency the happy path should stay under, in milliseconds.
    pub latency_ms: u32,
    /// Hard latency limit, in milliseconds.
    pub latency_hard_ms: u32,
    /// Largest prompt the application sends, in bytes.
    pub input_limit_bytes: u32,
    /// Output token ceiling to send.
    pub output_token_ceiling: u32,
    /// Default client timeout per request, in milliseconds.
    pub request_timeout_ms: u32,
    /// Retry policy: maximum attempts (1 = no retry).
    pub retry_max_attempts: u32,
    /// Retry policy: total time budget, in milliseconds.
    pub retry_budget_ms: u32,
}

/// The contract target.
pub fn target() -> Target {
    let t = host::current_target();
    Target {
        provider: t.provider,
        base_url: t.base_url,
        chat_path: t.chat_path,
        chat_method: t.chat_method,
        model: t.model,
        credential_env: t.credential_env,
        correlation_header: t.correlation_header,
    }
}

/// The plan's `stream_first_chunk_ms`: how soon a stream's first content
/// should arrive, in milliseconds.
pub fn stream_first_chunk_ms() -> u32 {
    host::stream_first_chunk_ms()
}

/// The plan's thresholds for this plugin.
pub fn limits() -> Limits {
    let l = host::current_limits();
    Limits {
        latency_ms: l.latency_ms,
        latency_hard_ms: l.latency_hard_ms,
        input_limit_bytes: l.input_limit_bytes,
        output_token_ceiling: l.output_token_ceiling,
        request_timeout_ms: l.request_timeout_ms,
        retry_max_attempts: l.retry_max_attempts,
        retry_budget_ms: l.retry_budget_ms,
    }
}

/// The whole contract snapshot (as the host validated it), as JSON.
///
/// Use [`contract_value`] to read one value by JSON pointer.
pub fn contract() -> serde_json::Value {
    serde_json::from_str(&host::contract_json()).unwrap_or(serde_json::Value::Null)
}

/// One contract value by JSON pointer, such as `/usage/documented`.
pub fn contract_value(pointer: &str) -> Option<serde_json::Value> {
    contract().pointer(pointer).cloned()
}

/// This plugin's setting from the plan, as written there.
pub fn setting(key: &str) -> Option<String> {
    host::setting(key)
}

/// This plugin's setting parsed as `T`, or `default` when absent.
///
/// # Errors
///
/// A message naming the key and the value when the value does not parse.
pub fn setting_or<T: FromStr>(key: &str, default: T) -> Result<T, String> {
    match host::setting(key) {
        None => Ok(default),
        Some(raw) => raw
            .parse()
            .map_err(|_| format!("setting `{key}` = {raw:?} does not parse")),
    }
}

/// The run's id.
pub fn run_id() -> String {
    host::run_id()
}

/// A model id the host made up for this run, which no provider knows: send it
/// to probe how an unknown model is rejected (the host allows no other model
/// besides the contract's and those the plan grants).
pub fn unapproved_model() -> String {
    host::unapproved_model()
}

/// The telemetry recorded so far in this run: one JSON object per request,
/// with OpenTelemetry GenAI attribute names (`gen_ai.request.model`, ...).
pub fn telemetry() -> Vec<serde_json::Value> {
    serde_json::from_str(&host::telemetry_json()).unwrap_or_default()
}
