//! Faults the mock can inject, by order, by request header, or at a rate.
//!
//! # Security
//!
//! A fault is chosen by whoever sends the request (through the host's
//! fault field, for a plugin), so every size and delay is capped: a request
//! cannot make the mock allocate or wait without bound.

use std::str::FromStr;

/// Longest delay a fault may ask for, in milliseconds.
pub const MAX_FAULT_DELAY_MS: u64 = 60_000;
/// Largest body a `huge` fault may ask for, in bytes.
pub const MAX_FAULT_BODY_BYTES: usize = 16 * 1024 * 1024;
/// Most steps in a fault sequence (`a|b|c`).
pub const MAX_FAULT_STEPS: usize = 16;

/// One injected fault.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Fault {
    /// Answer normally.
    None,
    /// This status with an OpenAI-shaped error body.
    Status(u16),
    /// 429 with `retry-after: N` seconds.
    RateLimit(u32),
    /// 429 with `retry-after-ms: N`.
    RateLimitMs(u32),
    /// Wait this many ms before the headers, then answer normally.
    Delay(u64),
    /// Send part of the body, then drop the connection.
    DropMidBody,
    /// A success body cut off mid-JSON.
    Truncated,
    /// A body that is not JSON, with `content-type: application/json`.
    InvalidJson,
    /// `500 Internal Server Error` as text/plain.
    TextPlain500,
    /// A 502 HTML error page.
    Html502,
    /// 200 with an empty body.
    Empty,
    /// 200 with a body of this many bytes.
    Huge(usize),
    /// 302 to another origin.
    Redirect,
    /// A success body without `choices` and `usage`.
    MissingFields,
    /// A success body with unknown extra fields.
    ExtraFields,
    /// CometAPI-style: 500 `invalid_request` with `(request id: ...)` in the message.
    CometInvalidRequest,
    /// CometAPI-style: 503 `model_not_found`.
    CometModelNotFound,
    /// LiteLLM-style error: `{"error": {"message", "type", "param", "code": "400"}}` under 400.
    Litellm,
    /// A 401 whose message echoes the whole key that was sent.
    EchoKey,
    /// Answer a bad key with 400 instead of 401 (some gateways do).
    BadKeyAs400,
    /// Accept any key, or none (a gateway with auth switched off).
    AcceptAnyKey,
    /// Answer 200 to a request that should be refused (no `model`, empty
    /// `messages`, an unknown model): a gateway that validates nothing.
    AcceptInvalid,
    /// Ignore `max_tokens` / `max_completion_tokens`.
    IgnoreMaxTokens,
    /// Report a `usage.total_tokens` below prompt + completion.
    BadUsage,
    /// Usage counts of 2^64 - 1 (a client must not overflow adding them).
    HugeUsage,
    /// An extra field nested 8 deep under 400 KB keys (a client must bound
    /// what it records of a response's shape).
    DeepKeys,
    /// Answer without an `x-request-id` header.
    NoRequestId,
    /// Answer from another model than the one asked for.
    WrongModel,
    /// A hostile server: 200 echoing every request header in the body and
    /// `Authorization` in an `x-echo-authorization` response header.
    EchoHeaders,
    /// A reflecting server that re-encodes the `Authorization` header it got.
    EchoEncoded(EchoForm),
    /// The caller's `Authorization` value as the request id: in `x-request-id`
    /// and as `(request id: …)` in an error message.
    EchoKeyAsRequestId,
    /// A streamed answer that goes wrong (a non-streamed request is answered
    /// normally).
    Stream(StreamFault),
}

/// How a streamed answer goes wrong.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StreamFault {
    /// The connection drops halfway through the content.
    Dropped,
    /// Ends with `[DONE]` but without a finish reason.
    NoFinishReason,
    /// Ends cleanly, without `data: [DONE]`.
    NoDone,
    /// One chunk's data is not JSON.
    CorruptChunk,
    /// A pause of this many ms between two content chunks.
    Stall(u64),
    /// This many ms before the first chunk.
    SlowFirst(u64),
    /// An `error` event mid-stream, then the end.
    ErrorEvent,
}

/// Which requests a standing behaviour applies to: how a gateway answers a
/// kind of bad request, whatever order requests arrive in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum When {
    /// No `Authorization` header.
    NoKey,
    /// An `Authorization` header with a key the mock does not accept.
    BadKey,
    /// A chat request without `model`.
    NoModel,
    /// A chat request without `messages`.
    NoMessages,
    /// A chat request with `messages: []`.
    EmptyMessages,
    /// A chat request naming a model the mock does not know.
    UnknownModel,
    /// Every request.
    Any,
}

impl FromStr for When {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Ok(match s.trim() {
            "no-key" => When::NoKey,
            "bad-key" => When::BadKey,
            "no-model" => When::NoModel,
            "no-messages" => When::NoMessages,
            "empty-messages" => When::EmptyMessages,
            "unknown-model" => When::UnknownModel,
            "any" => When::Any,
            other => {
                return Err(format!(
                    "unknown condition {other:?}; known: no-key, bad-key, no-model, no-messages, empty-messages, unknown-model, any"
                ));
            }
        })
    }
}

/// A standing behaviour: `WHEN=FAULT`, such as `bad-key=bad-key-400`.
pub fn parse_behaviour(s: &str) -> Result<(When, Fault), String> {
    let (w, f) = s
        .split_once('=')
        .ok_or_else(|| format!("{s:?} is not WHEN=FAULT (e.g. bad-key=bad-key-400)"))?;
    Ok((w.parse()?, f.parse()?))
}

/// How [`Fault::EchoEncoded`] re-encodes the `Authorization` value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EchoForm {
    /// Base64 of a longer text holding the whole header value (misaligned).
    Base64Header,
    /// Every byte percent-encoded.
    UrlEncoded,
    /// Every character as a JSON `\uXXXX` escape.
    JsonEscaped,
    /// Split in two, across two response headers.
    SplitHeaders,
    /// Split in two, across `x-request-id` and `request-id` (headers a
    /// proxy passes on).
    SplitRequestIds,
    /// `content-encoding: gzip` on a body the client cannot read without decoding.
    ContentEncoded,
    /// The same, declared in a second `content-encoding` header after an
    /// `identity` one.
    SecondEncoding,
    /// Base64 of a longer text, wrapped in 76-character lines (MIME, as
    /// Python's `base64.encodebytes`), in a JSON string.
    MimeBase64,
    /// Split in two across two headers of one name, another header between.
    InterleavedHeaders,
    /// Lower-cased.
    LowerCase,
    /// Cut to its first 30 characters (a log excerpt).
    Cut,
    /// In a UTF-16LE text body.
    Utf16,
    /// In a hex dump of the header line (offsets and hex bytes).
    HexDump,
}

impl FromStr for Fault {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let (name, arg) = match s.split_once(':') {
            Some((n, a)) => (n.trim(), Some(a.trim())),
            None => (s.trim(), None),
        };
        let num = |what: &str| -> Result<u64, String> {
            arg.ok_or_else(|| format!("fault `{name}` needs a number, e.g. {name}:{what}"))?
                .parse::<u64>()
                .map_err(|_| format!("fault `{s}`: {:?} is not a number", arg.unwrap_or_default()))
        };
        Ok(match name {
            "none" | "ok" => Fault::None,
            "status" => {
                let n = num("503")?;
                if !(100..=599).contains(&n) {
                    return Err(format!("fault `{s}`: {n} is not an HTTP status"));
                }
                Fault::Status(n as u16)
            }
            "rate-limit" => {
                Fault::RateLimit(capped(num("2")?, MAX_FAULT_DELAY_MS / 1000, s)? as u32)
            }
            "rate-limit-ms" => {
                Fault::RateLimitMs(capped(num("250")?, MAX_FAULT_DELAY_MS, s)? as u32)
            }
            "delay" => Fault::Delay(capped(num("1500")?, MAX_FAULT_DELAY_MS, s)?),
            "drop" => Fault::DropMidBody,
            "truncated" => Fault::Truncated,
            "invalid-json" => Fault::InvalidJson,
            "text-500" => Fault::TextPlain500,
            "html-502" => Fault::Html502,
            "empty" => Fault::Empty,
            "huge" => {
                Fault::Huge(capped(num("1000000")?, MAX_FAULT_BODY_BYTES as u64, s)? as usize)
            }
            "redirect" => Fault::Redirect,
            "missing-fields" => Fault::MissingFields,
            "extra-fields" => Fault::ExtraFields,
            "comet-invalid-request" => Fault::CometInvalidRequest,
            "comet-model-not-found" => Fault::CometModelNotFound,
            "litellm" => Fault::Litellm,
            "echo-key" => Fault::EchoKey,
            "bad-key-400" => Fault::BadKeyAs400,
            "echo-headers" => Fault::EchoHeaders,
            "accept-any-key" => Fault::AcceptAnyKey,
            "accept-invalid" => Fault::AcceptInvalid,
            "ignore-max-tokens" => Fault::IgnoreMaxTokens,
            "bad-usage" => Fault::BadUsage,
            "no-request-id" => Fault::NoRequestId,
            "wrong-model" => Fault::WrongModel,
            "echo-base64-header" => Fault::EchoEncoded(EchoForm::Base64Header),
            "echo-url-encoded" => Fault::EchoEncoded(EchoForm::UrlEncoded),
            "echo-json-escaped" => Fault::EchoEncoded(EchoForm::JsonEscaped),
            "echo-split-headers" => Fault::EchoEncoded(EchoForm::SplitHeaders),
            "echo-content-encoded" => Fault::EchoEncoded(EchoForm::ContentEncoded),
            "echo-second-encoding" => Fault::EchoEncoded(EchoForm::SecondEncoding),
            "echo-split-request-ids" => Fault::EchoEncoded(EchoForm::SplitRequestIds),
            "echo-mime-base64" => Fault::EchoEncoded(EchoForm::MimeBase64),
            "echo-interleaved-headers" => Fault::EchoEncoded(EchoForm::InterleavedHeaders),
            "echo-lowercase" => Fault::EchoEncoded(EchoForm::LowerCase),
            "echo-cut" => Fault::EchoEncoded(EchoForm::Cut),
            "echo-utf16" => Fault::EchoEncoded(EchoForm::Utf16),
            "echo-hex-dump" => Fault::EchoEncoded(EchoForm::HexDump),
            "huge-usage" => Fault::HugeUsage,
            "deep-keys" => Fault::DeepKeys,
            "echo-key-as-request-id" => Fault::EchoKeyAsRequestId,
            "stream-drop" => Fault::Stream(StreamFault::Dropped),
            "stream-no-finish" => Fault::Stream(StreamFault::NoFinishReason),
            "stream-no-done" => Fault::Stream(StreamFault::NoDone),
            "stream-corrupt" => Fault::Stream(StreamFault::CorruptChunk),
            "stream-error" => Fault::Stream(StreamFault::ErrorEvent),
            "stream-stall" => Fault::Stream(StreamFault::Stall(capped(
                num("3000")?,
                MAX_FAULT_DELAY_MS,
                s,
            )?)),
            "stream-slow-first" => Fault::Stream(StreamFault::SlowFirst(capped(
                num("2000")?,
                MAX_FAULT_DELAY_MS,
                s,
            )?)),
            _ => {
                return Err(format!(
                    "unknown fault {name:?}; known: status:N, rate-limit:S, rate-limit-ms:MS, delay:MS, drop, truncated, \
                     invalid-json, text-500, html-502, empty, huge:BYTES, redirect, missing-fields, extra-fields, \
                     comet-invalid-request, comet-model-not-found, litellm, echo-key, bad-key-400, echo-headers, accept-any-key, accept-invalid, ignore-max-tokens, bad-usage, no-request-id, wrong-model, \
                     echo-base64-header, echo-url-encoded, echo-json-escaped, echo-split-headers, echo-content-encoded, echo-second-encoding, echo-split-request-ids, echo-mime-base64, echo-interleaved-headers, echo-lowercase, echo-cut, echo-utf16, echo-hex-dump, \
                     echo-key-as-request-id, huge-usage, deep-keys, stream-drop, stream-no-finish, stream-no-done, stream-corrupt, stream-error, stream-stall:MS, stream-slow-first:MS"
                ));
            }
        })
    }
}

fn capped(n: u64, max: u64, s: &str) -> Result<u64, String> {
    if n > max {
        Err(format!("fault `{s}`: {n} is over the cap of {max}"))
    } else {
        Ok(n)
    }
}

impl Fault {
    /// Parse a fault or a sequence `a|b|c` (one per attempt), every step checked.
    ///
    /// # Errors
    ///
    /// The first step that does not parse, or too many steps.
    pub fn parse_sequence(s: &str) -> Result<Vec<Fault>, String> {
        let steps: Vec<&str> = s.split('|').collect();
        if steps.len() > MAX_FAULT_STEPS {
            return Err(format!(
                "{} steps in a fault sequence, over the cap of {MAX_FAULT_STEPS}",
                steps.len()
            ));
        }
        steps.into_iter().map(str::parse).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_known_faults() {
        assert_eq!("status:503".parse::<Fault>().unwrap(), Fault::Status(503));
        assert_eq!(
            "rate-limit:2".parse::<Fault>().unwrap(),
            Fault::RateLimit(2)
        );
        assert_eq!("drop".parse::<Fault>().unwrap(), Fault::DropMidBody);
    }

    #[test]
    fn rejects_unknown_and_malformed() {
        assert!("explode".parse::<Fault>().unwrap_err().contains("known"));
        assert!("status".parse::<Fault>().is_err());
        assert!("status:9999".parse::<Fault>().is_err());
        assert!("delay:soon".parse::<Fault>().is_err());
        assert!(
            "huge:1000000000".parse::<Fault>().is_err(),
            "1 GB is over the cap"
        );
        assert!("delay:999999999".parse::<Fault>().is_err());
        assert_eq!(Fault::parse_sequence("status:503|ok").unwrap().len(), 2);
        assert!(Fault::parse_sequence(&"ok|".repeat(20)).is_err());
    }
}
