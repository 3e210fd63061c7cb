//! Chat-completion requests and responses, OpenAI-compatible.
//!
//! [`ChatRequest`] builds the JSON body and sends it to the contract's chat
//! path; [`ChatResponse`] reads only the documented fields and tolerates any
//! others.
//!
//! ```no_run
//! use shipgate_sdk::{chat::ChatRequest, context};
//! let r = ChatRequest::new(&context::target().model)
//!     .user("Return the word READY and nothing else.")
//!     .temperature(0.0)
//!     .send()?;
//! assert_eq!(r.content().as_deref(), Some("READY"));
//! # Ok::<(), shipgate_sdk::http::HttpError>(())
//! ```

use crate::context;
use crate::http::{Auth, HttpError, Method, Request, Response};
use serde_json::{Map, Value, json};

/// A chat-completion request body plus how to send it.
#[derive(Debug, Clone)]
pub struct ChatRequest {
    body: Map<String, Value>,
    messages: Vec<Value>,
    omitted: Vec<String>,
    auth: Auth,
    timeout_ms: Option<u32>,
    retry: bool,
    operation: String,
    fault: Option<String>,
}

impl ChatRequest {
    /// A request for `model` with no messages yet.
    pub fn new(model: &str) -> Self {
        let mut body = Map::new();
        body.insert("model".into(), Value::String(model.to_owned()));
        ChatRequest {
            body,
            messages: Vec::new(),
            omitted: Vec::new(),
            auth: Auth::Configured,
            timeout_ms: None,
            retry: false,
            operation: "chat".into(),
            fault: None,
        }
    }

    /// Add a message with any role.
    pub fn message(mut self, role: &str, content: &str) -> Self {
        self.messages
            .push(json!({ "role": role, "content": content }));
        self
    }

    /// Add a system message.
    pub fn system(self, content: &str) -> Self {
        self.message("system", content)
    }

    /// Add a user message.
    pub fn user(self, content: &str) -> Self {
        self.message("user", content)
    }

    /// Set `temperature`.
    pub fn temperature(self, t: f64) -> Self {
        self.field("temperature", json!(t))
    }

    /// Set `max_tokens` (the output ceiling).
    pub fn max_tokens(self, n: u32) -> Self {
        self.field("max_tokens", json!(n))
    }

    /// Set any other body field.
    pub fn field(mut self, key: &str, value: Value) -> Self {
        self.body.insert(key.to_owned(), value);
        self
    }

    /// Leave a body field out entirely (for negative probes such as a
    /// missing `model` or a missing `messages`). The field is absent from the
    /// JSON, not empty: `without("messages")` sends no `messages` key at all.
    pub fn without(mut self, key: &str) -> Self {
        self.body.remove(key);
        self.omitted.push(key.to_owned());
        self
    }

    /// Choose how the host authenticates the request.
    pub fn auth(mut self, auth: Auth) -> Self {
        self.auth = auth;
        self
    }

    /// Client timeout for this request.
    pub fn timeout_ms(mut self, ms: u32) -> Self {
        self.timeout_ms = Some(ms);
        self
    }

    /// Send with the run's retry policy.
    pub fn retry(mut self, retry: bool) -> Self {
        self.retry = retry;
        self
    }

    /// Operation name for telemetry (default `chat`).
    pub fn operation(mut self, name: &str) -> Self {
        self.operation = name.to_owned();
        self
    }

    /// Ask the built-in mock for a fault (see [`Request::fault`]).
    pub fn fault(mut self, fault: &str) -> Self {
        self.fault = Some(fault.to_owned());
        self
    }

    /// The JSON body as it will be sent.
    pub fn to_json(&self) -> Value {
        let mut body = self.body.clone();
        if !body.contains_key("messages") {
            body.insert("messages".into(), Value::Array(self.messages.clone()));
        }
        for key in &self.omitted {
            body.remove(key);
        }
        Value::Object(body)
    }

    /// The request as it will be sent, without sending it (for [`crate::http::send_all`]).
    pub fn to_request(&self) -> Request {
        let target = context::target();
        let method = Method::parse(&target.chat_method).unwrap_or(Method::Post);
        let mut req = Request::new(method, target.chat_path)
            .json(&self.to_json())
            .auth(self.auth)
            .retry(self.retry)
            .operation(self.operation.clone());
        if let Some(ms) = self.timeout_ms {
            req = req.timeout_ms(ms);
        }
        if let Some(f) = &self.fault {
            req = req.fault(f.clone());
        }
        req
    }

    /// Send it to the contract's chat path.
    ///
    /// # Errors
    ///
    /// [`HttpError`] when no response came back.
    pub fn send(self) -> Result<ChatResponse, HttpError> {
        self.to_request().send().map(ChatResponse::new)
    }
}

/// Token usage, when the response carried it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Usage {
    /// `usage.prompt_tokens`.
    pub prompt_tokens: Option<u64>,
    /// `usage.completion_tokens`.
    pub completion_tokens: Option<u64>,
    /// `usage.total_tokens`.
    pub total_tokens: Option<u64>,
}

/// A chat-completion response: the HTTP response plus its parsed body.
#[derive(Debug, Clone)]
pub struct ChatResponse {
    /// The raw HTTP response.
    pub http: Response,
    /// The body parsed as JSON, or the parse error.
    pub body: Result<Value, String>,
}

impl ChatResponse {
    /// Wrap an HTTP response (its body parsed as JSON).
    pub fn new(http: Response) -> Self {
        let body = http.json();
        ChatResponse { http, body }
    }

    /// HTTP status.
    pub fn status(&self) -> u16 {
        self.http.status
    }

    /// A value by JSON pointer, such as `/choices/0/message/content`.
    pub fn pointer(&self, pointer: &str) -> Option<&Value> {
        self.body.as_ref().ok()?.pointer(pointer)
    }

    /// `choices[0].message.content`, when it is a string.
    pub fn content(&self) -> Option<String> {
        self.pointer("/choices/0/message/content")?
            .as_str()
            .map(str::to_owned)
    }

    /// `choices[0].finish_reason`, when it is a string.
    pub fn finish_reason(&self) -> Option<String> {
        self.pointer("/choices/0/finish_reason")?
            .as_str()
            .map(str::to_owned)
    }

    /// The response `model`.
    pub fn model(&self) -> Option<String> {
        self.pointer("/model")?.as_str().map(str::to_owned)
    }

    /// The response `id`.
    pub fn id(&self) -> Option<String> {
        self.pointer("/id")?.as_str().map(str::to_owned)
    }

    /// `usage`, when present as an object.
    pub fn usage(&self) -> Option<Usage> {
        let u = self.pointer("/usage")?.as_object()?;
        let n = |k: &str| u.get(k).and_then(Value::as_u64);
        Some(Usage {
            prompt_tokens: n("prompt_tokens"),
            completion_tokens: n("completion_tokens"),
            total_tokens: n("total_tokens"),
        })
    }

    /// The error object `{"error": {"message", "type", "param", "code"}}`, if present.
    pub fn error(&self) -> Option<&Map<String, Value>> {
        self.pointer("/error")?.as_object()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn without_omits_the_field_and_empty_is_different() {
        let v = ChatRequest::new("m")
            .user("hi")
            .without("messages")
            .to_json();
        assert!(v.get("messages").is_none(), "{v}");
        let v = ChatRequest::new("m").field("messages", json!([])).to_json();
        assert_eq!(v["messages"], json!([]));
        let v = ChatRequest::new("m").user("hi").without("model").to_json();
        assert!(v.get("model").is_none(), "{v}");
        assert_eq!(v["messages"][0]["content"], "hi");
    }
}
