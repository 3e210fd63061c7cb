//! What a chat request may cost: the spend check on the contract's endpoint.
//!
//! # Security
//!
//! A provider bills for what *it* parses, so the host checks a chat body the
//! way serde_json parses it and then sends **its own re-encoding** of it:
//! whatever a lenient server would read differently (duplicate keys, numbers
//! out of range, `NaN`, lone surrogates, nesting past serde_json's limit, a
//! UTF-16 body) is either refused because serde_json refuses it, or
//! normalised away before it leaves. Then, with typed checks (a string where
//! the provider could coerce one is refused):
//! - `model` is a string on the run's allow-list;
//! - `n` and `best_of` are absent, `null` or the integer 1;
//! - the output ceiling fields are non-negative integers at or under
//!   `thresholds.output_token_ceiling`; a `null` one, or none when the
//!   contract documents the field, is set to the ceiling;
//! - every other top-level field is on [`ALLOWED_FIELDS`] (fields that do not
//!   change what a request costs) or granted by the plan (`grants.fields`);
//!   `tools` hold only `function` tools (no hosted search or code tools).

use serde_json::{Map, Value};

/// Top-level chat fields that do not change what a request costs (besides
/// the ones checked by type: `model`, `n`, `best_of` and the ceilings).
pub const ALLOWED_FIELDS: &[&str] = &[
    "messages",
    "temperature",
    "top_p",
    "stop",
    "stream",
    "stream_options",
    "response_format",
    "seed",
    "user",
    "presence_penalty",
    "frequency_penalty",
    "logit_bias",
    "logprobs",
    "top_logprobs",
    "tools",
    "tool_choice",
    "parallel_tool_calls",
    "functions",
    "function_call",
    "metadata",
];

/// Output-ceiling fields the host recognises in any chat request.
pub const CEILING_FIELDS: &[&str] = &["max_tokens", "max_completion_tokens", "max_output_tokens"];

/// Fields whose value is checked by type (never grantable: a grant cannot
/// lift a spend limit).
pub const CHECKED_FIELDS: &[&str] = &[
    "model",
    "n",
    "best_of",
    "max_tokens",
    "max_completion_tokens",
    "max_output_tokens",
];

/// What the run allows a chat request to cost.
#[derive(Debug, Clone)]
pub struct Spend {
    /// Models a request may name: the contract's, the host's unapproved-model
    /// id, and the plan's grant.
    pub models: Vec<String>,
    /// The plan's output ceiling, in tokens.
    pub ceiling: u64,
    /// The body field that carries it, when the contract documents one.
    pub ceiling_field: Option<String>,
    /// Largest request body, in bytes (`thresholds.input_limit_bytes`).
    pub input_limit_bytes: u64,
    /// Whether the plan lets this plugin send over the input limit.
    pub send_oversized: bool,
    /// Top-level fields the plan grants besides [`ALLOWED_FIELDS`].
    pub fields: Vec<String>,
    /// Message content part types the plan grants besides `text`.
    pub parts: Vec<String>,
}

/// What the spend check decided.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SpendVerdict {
    /// Send this body: the host's re-encoding of the one asked for (with
    /// the output ceiling set when it was missing).
    Send(Vec<u8>),
    /// Refuse it: breaks a plan limit (a denial).
    Deny(String),
    /// Refuse it before dispatch as the application would (over the input limit).
    Reject(String),
}

/// Check what a chat request would cost, and re-encode it.
pub fn check_spend(body: &[u8], spend: &Spend) -> SpendVerdict {
    // Enforce: thresholds.input_limit_bytes over the whole body, before dispatch.
    if body.len() as u64 > spend.input_limit_bytes && !spend.send_oversized {
        return SpendVerdict::Reject(format!(
            "the request body is {} bytes, over thresholds.input_limit_bytes = {}; nothing was sent",
            body.len(),
            spend.input_limit_bytes
        ));
    }
    match checked(body, spend) {
        Ok(obj) => {
            let sent =
                serde_json::to_vec(&Value::Object(obj)).expect("a JSON value always encodes");
            // Enforce: the limit holds for what is sent (a re-encoding can be
            // longer: `1e15` is written `1000000000000000.0`).
            if sent.len() as u64 > spend.input_limit_bytes && !spend.send_oversized {
                return SpendVerdict::Reject(format!(
                    "the request body re-encoded is {} bytes, over thresholds.input_limit_bytes = {}; nothing was sent",
                    sent.len(),
                    spend.input_limit_bytes
                ));
            }
            SpendVerdict::Send(sent)
        }
        Err(why) => SpendVerdict::Deny(why),
    }
}

fn checked(body: &[u8], spend: &Spend) -> Result<Map<String, Value>, String> {
    // Enforce: the body is what serde_json parses; the host sends its re-encoding.
    let obj = match serde_json::from_slice::<Value>(body) {
        Ok(Value::Object(obj)) => obj,
        Ok(_) => return Err("a chat request body must be a JSON object".into()),
        Err(e) => {
            return Err(format!(
                "a chat request body must be JSON the host can parse (UTF-8, finite numbers, nesting under 128): {e}; the host re-encodes every chat body so the provider bills what the host checked"
            ));
        }
    };
    let mut obj = obj;
    for (field, value) in &obj {
        if CHECKED_FIELDS.contains(&field.as_str()) {
            continue;
        }
        if !ALLOWED_FIELDS.contains(&field.as_str()) && !spend.fields.contains(field) {
            return Err(format!(
                "chat field `{}` is not on the host's list of fields that leave the cost unchanged; grant it with grants.fields in the plan",
                super::policy::shorten(field)
            ));
        }
        if field == "tools" {
            check_tools(value)?;
        }
        if field == "messages" {
            check_parts(value, &spend.parts)?;
        }
    }
    // Enforce: the model allow-list.
    match obj.get("model") {
        None => {}
        Some(Value::String(m)) if spend.models.contains(m) => {}
        Some(Value::String(m)) => {
            return Err(format!(
                "model {:?} is not allowed for this run (allowed: {}; grant more with grants.models)",
                super::policy::shorten(m),
                spend.models.join(", ")
            ));
        }
        Some(other) => {
            return Err(format!("`model` must be a string, not {}", kind(other)));
        }
    }
    // Enforce: one completion per request.
    for field in ["n", "best_of"] {
        match obj.get(field) {
            None | Some(Value::Null) => {}
            Some(v) if v.as_u64() == Some(1) => {}
            Some(v) => {
                return Err(format!(
                    "`{field}` = {} would multiply the cost of a request; plugins send one completion per request (absent or 1)",
                    super::policy::shorten(&v.to_string())
                ));
            }
        }
    }
    // Enforce: the output ceiling can only be lowered.
    let mut present = false;
    let fields = CEILING_FIELDS
        .iter()
        .map(|f| (*f).to_owned())
        .chain(spend.ceiling_field.clone());
    for field in fields {
        match obj.get(&field) {
            None => {}
            Some(Value::Null) => {
                // `null` reads as "no limit" to a provider: the host sets its own.
                obj.insert(field, Value::from(spend.ceiling));
                present = true;
            }
            Some(v) => match v.as_u64() {
                Some(n) if n <= spend.ceiling => present = true,
                Some(n) => {
                    return Err(format!(
                        "`{field}` = {n} is over thresholds.output_token_ceiling = {}",
                        spend.ceiling
                    ));
                }
                None => {
                    return Err(format!(
                        "`{field}` must be a non-negative integer, not {}",
                        super::policy::shorten(&v.to_string())
                    ));
                }
            },
        }
    }
    // Enforce: a request always carries a ceiling: the contract's field, or
    // the OpenAI-compatible `max_tokens` when the contract names none.
    if !present {
        let field = spend
            .ceiling_field
            .clone()
            .unwrap_or_else(|| "max_tokens".into());
        obj.insert(field, Value::from(spend.ceiling));
    }
    Ok(obj)
}

/// Message content is text, unless the plan grants other part types:
/// images, audio and files bill far more per byte than text, and a file part
/// can pull the organisation's stored files into the request.
fn check_parts(messages: &Value, granted: &[String]) -> Result<(), String> {
    let Value::Array(list) = messages else {
        return Ok(()); // a malformed request: the provider refuses it, no spend
    };
    for m in list {
        let Some(Value::Array(parts)) = m.get("content") else {
            continue;
        };
        for p in parts {
            let ty = p.get("type").and_then(Value::as_str).unwrap_or("");
            if ty != "text" && !granted.iter().any(|g| g == ty) {
                return Err(format!(
                    "message content part of type {:?} is not allowed: parts are text unless the plan grants more (grants.parts = [\"image_url\"])",
                    super::policy::shorten(ty)
                ));
            }
        }
    }
    Ok(())
}

/// `tools` is a list of `function` tools: hosted tools (search, code,
/// files) bill per call.
fn check_tools(tools: &Value) -> Result<(), String> {
    let Value::Array(list) = tools else {
        return Err(format!("`tools` must be a list, not {}", kind(tools)));
    };
    for t in list {
        match t.get("type") {
            Some(Value::String(ty)) if ty == "function" => {}
            other => {
                return Err(format!(
                    "`tools` may hold only {{\"type\": \"function\"}} tools (found type {}); hosted tools bill per call",
                    other.map_or("none".into(), |v| super::policy::shorten(&v.to_string()))
                ));
            }
        }
    }
    Ok(())
}

fn kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "a list",
        Value::Object(_) => "an object",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn spend() -> Spend {
        Spend {
            models: vec!["m".into(), "shipgate-unapproved-x".into()],
            ceiling: 64,
            ceiling_field: Some("max_completion_tokens".into()),
            input_limit_bytes: 1024,
            send_oversized: false,
            fields: vec![],
            parts: vec![],
        }
    }

    fn sent(body: &[u8]) -> Value {
        match check_spend(body, &spend()) {
            SpendVerdict::Send(b) => serde_json::from_slice(&b).unwrap(),
            other => panic!("{other:?}"),
        }
    }

    fn denied(body: &[u8]) -> String {
        match check_spend(body, &spend()) {
            SpendVerdict::Deny(why) => why,
            other => panic!(
                "{} was not denied: {other:?}",
                String::from_utf8_lossy(body)
            ),
        }
    }

    fn body(v: Value) -> Vec<u8> {
        v.to_string().into_bytes()
    }

    #[test]
    fn within_the_plan_is_sent_re_encoded() {
        let v = sent(br#"{ "model" : "m", "max_completion_tokens": 8, "messages": [] }"#);
        assert_eq!(
            v,
            json!({"model": "m", "max_completion_tokens": 8, "messages": []})
        );
        // No ceiling: the host adds the contract's field; a null one is replaced.
        assert_eq!(
            sent(&body(json!({"model": "m"})))["max_completion_tokens"],
            64
        );
        assert_eq!(
            sent(&body(json!({"model": "m", "max_tokens": null})))["max_tokens"],
            64
        );
        // A probe without a model still cannot spend.
        assert_eq!(
            sent(&body(json!({"messages": [], "max_tokens": 1})))["max_tokens"],
            1
        );
        // Duplicate keys: what is sent is what was checked (the last one).
        let v = sent(br#"{"model":"gpt-4-32k","model":"m"}"#);
        assert_eq!(v["model"], "m");
    }

    #[test]
    fn over_the_plan_is_denied() {
        for b in [
            json!({"model": "gpt-4-32k", "max_tokens": 8}),
            json!({"model": "m", "max_tokens": 1_000_000}),
            json!({"model": "m", "n": 128}),
            json!({"model": "m", "best_of": 2}),
            json!({"model": "m", "n": "8"}),
            json!({"model": "m", "n": 1.5}),
            json!({"model": "m", "max_tokens": "100000"}),
            json!({"model": "m", "max_tokens": -1}),
            json!({"model": "m", "max_tokens": 8.5}),
            json!({"model": ["m"]}),
            json!({"model": "m", "service_tier": "priority"}),
            json!({"model": "m", "web_search_options": {}}),
            json!({"model": "m", "tools": [{"type": "web_search_preview"}]}),
            json!({"model": "m", "tools": {"type": "function"}}),
            json!(["not", "an", "object"]),
        ] {
            denied(&body(b));
        }
    }

    #[test]
    fn what_lenient_parsers_read_differently_is_refused() {
        let deep = format!(
            r#"{{"model":"m","x":{}1{}}}"#,
            "[".repeat(200),
            "]".repeat(200)
        );
        let mut utf16 = vec![0xff, 0xfe];
        for u in r#"{"model":"gpt-4-32k","n":8}"#.encode_utf16() {
            utf16.extend_from_slice(&u.to_le_bytes());
        }
        for b in [
            deep.into_bytes(),
            br#"{"model":"m","temperature":1e999}"#.to_vec(),
            br#"{"model":"m","temperature":NaN}"#.to_vec(),
            br#"{"model":"m","messages":[{"role":"user","content":"hi\ud800"}]}"#.to_vec(),
            utf16,
            b"not json".to_vec(),
        ] {
            assert!(
                denied(&b).contains("JSON"),
                "{}",
                String::from_utf8_lossy(&b)
            );
        }
    }

    #[test]
    fn a_grant_adds_fields_but_never_lifts_a_limit() {
        let mut s = spend();
        s.fields = vec!["service_tier".into(), "n".into()];
        assert!(matches!(
            check_spend(&body(json!({"model": "m", "service_tier": "flex"})), &s),
            SpendVerdict::Send(_)
        ));
        assert!(matches!(
            check_spend(&body(json!({"model": "m", "n": 4})), &s),
            SpendVerdict::Deny(_)
        ));
    }

    #[test]
    fn what_is_sent_stays_within_the_limits() {
        // Re-encoding can lengthen a body: the limit holds for what is sent.
        let numbers = format!(
            r#"{{"model":"m","max_tokens":1,"stop":[{}]}}"#,
            vec!["1e15"; 150].join(",")
        );
        assert!(numbers.len() < 1024);
        assert!(matches!(
            check_spend(numbers.as_bytes(), &spend()),
            SpendVerdict::Reject(_)
        ));
        // No ceiling field in the contract: `max_tokens` is set anyway.
        let mut s = spend();
        s.ceiling_field = None;
        match check_spend(&body(json!({"model": "m"})), &s) {
            SpendVerdict::Send(b) => assert_eq!(
                serde_json::from_slice::<Value>(&b).unwrap()["max_tokens"],
                64
            ),
            other => panic!("{other:?}"),
        }
        // Content parts beyond text need a grant.
        let image = json!({"model": "m", "messages": [{"role": "user", "content": [
            {"type": "text", "text": "hi"},
            {"type": "image_url", "image_url": {"url": "https://x", "detail": "high"}}]}]});
        denied(&body(image.clone()));
        let mut s = spend();
        s.parts = vec!["image_url".into()];
        assert!(matches!(
            check_spend(&body(image), &s),
            SpendVerdict::Send(_)
        ));
        denied(&body(
            json!({"model": "m", "messages": [{"role": "user", "content": [{"type": "file", "file": {"file_id": "f"}}]}]}),
        ));
    }

    #[test]
    fn over_the_input_limit_is_rejected_unless_granted() {
        let big = body(json!({"model": "m", "max_tokens": 1, "messages": ["x".repeat(2000)]}));
        assert!(matches!(
            check_spend(&big, &spend()),
            SpendVerdict::Reject(_)
        ));
        let mut oversized = spend();
        oversized.send_oversized = true;
        assert!(matches!(
            check_spend(&big, &oversized),
            SpendVerdict::Send(_)
        ));
    }
}
