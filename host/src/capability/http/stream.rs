//! Server-sent events out of a scrubbed streamed body, each with the time its
//! terminator arrived (measured on the raw body as it came in).
//!
//! The events are parsed from the body *after* the scrub, so a secret split
//! across two events is masked like any other (the scrub sees the whole
//! text). Parsing is `eventsource-stream`'s.

use crate::bindings::shipgate::plugin::http::SseEvent;
use eventsource_stream::Eventsource as _;
use futures_util::StreamExt as _;

/// Most events handed to a guest from one stream.
pub const MAX_EVENTS: usize = 10_000;

/// The events of `body`; the i-th gets the i-th terminator's arrival time
/// (the last one known, when the scrub merged lines).
pub async fn events(body: &[u8], boundaries: &[u32]) -> Vec<SseEvent> {
    let chunks = futures_util::stream::iter([Ok::<_, std::convert::Infallible>(body.to_vec())]);
    let parsed: Vec<_> = chunks.eventsource().take(MAX_EVENTS).collect().await;
    parsed
        .into_iter()
        .filter_map(Result::ok)
        .enumerate()
        .map(|(i, e)| SseEvent {
            event: crate::text::one_line(&e.event, 256),
            data: e.data,
            id: crate::text::one_line(&e.id, 256),
            at_ms: boundaries
                .get(i)
                .or(boundaries.last())
                .copied()
                .unwrap_or(0),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn events_keep_their_order_data_and_times() {
        let body = b"data: {\"a\":1}\n\nevent: error\ndata: x\ndata: y\n\ndata: [DONE]\n\n";
        let e = events(body, &[5, 9, 12]).await;
        assert_eq!(e.len(), 3);
        assert_eq!(e[0].data, "{\"a\":1}");
        assert_eq!(
            (e[1].event.as_str(), e[1].data.as_str(), e[1].at_ms),
            ("error", "x\ny", 9)
        );
        assert_eq!((e[2].data.as_str(), e[2].at_ms), ("[DONE]", 12));
        // A stream cut mid-event: the complete ones only.
        let e = events(b"data: one\n\ndata: tw", &[3]).await;
        assert_eq!(e.len(), 1);
    }
}
