//! Streamed chat completions: send with [`crate::http::Request::send_stream`],
//! then [`accumulate`] the events into what a client would have read.
//!
//! ```no_run
//! use shipgate_sdk::{chat::ChatRequest, context, http::Request, stream};
//! let t = context::target();
//! let body = ChatRequest::new(&t.model).user("Reply with READY.").max_tokens(16).to_json();
//! let mut body = body;
//! body["stream"] = true.into();
//! let r = Request::post(&t.chat_path).json(&body).send_stream(None)?;
//! let s = stream::accumulate(&r.events);
//! println!("{:?} {}", s.finish_reasons, s.done);
//! # Ok::<(), shipgate_sdk::http::HttpError>(())
//! ```

use crate::http::SseEvent;
use serde_json::Value;

/// What a stream of `chat.completion.chunk` events added up to.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Accumulated {
    /// Chunks that parsed as JSON objects.
    pub chunks: usize,
    /// The first chunk's `id`.
    pub id: Option<String>,
    /// Whether every chunk had the same `id`.
    pub same_id: bool,
    /// The distinct `object` values seen (`chat.completion.chunk`).
    pub objects: Vec<String>,
    /// Content per choice index, concatenated.
    pub content: Vec<String>,
    /// Every finish reason, with its choice index, in order.
    pub finish_reasons: Vec<(u64, String)>,
    /// The `usage` object of the chunk that carried one.
    pub usage: Option<Value>,
    /// Whether `data: [DONE]` arrived.
    pub done: bool,
    /// Events after `[DONE]`.
    pub after_done: usize,
    /// Indexes of events whose data was not JSON (nor `[DONE]`).
    pub malformed: Vec<usize>,
    /// `error` events, or chunks carrying an `error` object: their text.
    pub errors: Vec<String>,
    /// When the first content arrived, ms after sending.
    pub first_content_ms: Option<u32>,
    /// When the last event arrived, ms after sending.
    pub last_event_ms: Option<u32>,
}

impl Accumulated {
    /// The content of choice 0.
    pub fn text(&self) -> &str {
        self.content.first().map_or("", String::as_str)
    }
}

/// Add up a stream's events as a client would.
pub fn accumulate(events: &[SseEvent]) -> Accumulated {
    let mut a = Accumulated {
        same_id: true,
        ..Accumulated::default()
    };
    for (i, e) in events.iter().enumerate() {
        a.last_event_ms = Some(e.at_ms);
        if a.done {
            a.after_done += 1;
            continue;
        }
        let data = e.data.trim();
        if data == "[DONE]" {
            a.done = true;
            continue;
        }
        let Ok(Value::Object(chunk)) = serde_json::from_str::<Value>(data) else {
            if e.event == "error" {
                a.errors.push(data.chars().take(200).collect());
            } else {
                a.malformed.push(i);
            }
            continue;
        };
        if e.event == "error" || chunk.contains_key("error") {
            let msg = chunk
                .get("error")
                .and_then(|x| x.get("message").or(Some(x)))
                .map_or_else(
                    || data.to_owned(),
                    |m| m.as_str().map_or_else(|| m.to_string(), str::to_owned),
                );
            a.errors.push(msg.chars().take(200).collect());
            continue;
        }
        a.chunks += 1;
        if let Some(id) = chunk.get("id").and_then(Value::as_str) {
            match &a.id {
                None => a.id = Some(id.to_owned()),
                Some(first) if first != id => a.same_id = false,
                Some(_) => {}
            }
        }
        if let Some(o) = chunk.get("object").and_then(Value::as_str)
            && !a.objects.iter().any(|x| x == o)
        {
            a.objects.push(o.to_owned());
        }
        if let Some(u) = chunk.get("usage").filter(|u| u.is_object()) {
            a.usage = Some(u.clone());
        }
        for c in chunk
            .get("choices")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            let index = c.get("index").and_then(Value::as_u64).unwrap_or(0);
            let slot = usize::try_from(index).unwrap_or(usize::MAX).min(15);
            if let Some(text) = c.pointer("/delta/content").and_then(Value::as_str) {
                if a.content.len() <= slot {
                    a.content.resize(slot + 1, String::new());
                }
                if !text.is_empty() {
                    a.first_content_ms.get_or_insert(e.at_ms);
                }
                a.content[slot].push_str(text);
            }
            if let Some(f) = c.get("finish_reason").and_then(Value::as_str) {
                a.finish_reasons.push((index, f.to_owned()));
            }
        }
    }
    a
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ev(data: &str, at: u32) -> SseEvent {
        SseEvent {
            event: String::new(),
            data: data.into(),
            id: String::new(),
            at_ms: at,
        }
    }

    fn chunk(id: &str, content: Option<&str>, finish: Option<&str>) -> String {
        serde_json::json!({
            "id": id, "object": "chat.completion.chunk",
            "choices": [{"index": 0, "delta": content.map_or(serde_json::json!({}), |c| serde_json::json!({"content": c})), "finish_reason": finish}]
        })
        .to_string()
    }

    #[test]
    fn a_good_stream_adds_up() {
        let usage = serde_json::json!({"id": "c1", "object": "chat.completion.chunk", "choices": [], "usage": {"total_tokens": 3}}).to_string();
        let events = [
            ev(&chunk("c1", Some(""), None), 5),
            ev(&chunk("c1", Some("REA"), None), 8),
            ev(&chunk("c1", Some("DY"), None), 9),
            ev(&chunk("c1", None, Some("stop")), 10),
            ev(&usage, 11),
            ev("[DONE]", 12),
        ];
        let a = accumulate(&events);
        assert_eq!(a.text(), "READY");
        assert_eq!(a.finish_reasons, vec![(0, "stop".into())]);
        assert!(a.done && a.same_id && a.malformed.is_empty() && a.errors.is_empty());
        assert_eq!(a.objects, vec!["chat.completion.chunk".to_owned()]);
        assert_eq!(a.first_content_ms, Some(8));
        assert_eq!(a.usage.unwrap()["total_tokens"], 3);
    }

    #[test]
    fn broken_streams_show_what_broke() {
        let events = [
            ev(&chunk("c1", Some("RE"), None), 5),
            ev("{not json", 6),
            ev(&chunk("c2", Some("AD"), None), 7),
            SseEvent {
                event: "error".into(),
                data: "{\"error\":{\"message\":\"upstream reset\"}}".into(),
                id: String::new(),
                at_ms: 8,
            },
        ];
        let a = accumulate(&events);
        assert!(!a.done && !a.same_id);
        assert_eq!(a.malformed, vec![1]);
        assert_eq!(a.errors, vec!["upstream reset".to_owned()]);
        assert!(a.finish_reasons.is_empty());
    }
}
