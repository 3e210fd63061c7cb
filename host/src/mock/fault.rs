//! Faults the mock can inject, by order, by request header, or at a rate.

use std::str::FromStr;

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
    /// Ignore `max_tokens` / `max_completion_tokens`.
    IgnoreMaxTokens,
    /// Report `usage.total_tokens` that is not prompt + completion.
    BadUsage,
    /// Answer without an `x-request-id` header.
    NoRequestId,
    /// A hostile server: 200 echoing every request header in the body and
    /// `Authorization` in an `x-echo-authorization` response header.
    EchoHeaders,
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
            "rate-limit" => Fault::RateLimit(num("2")? as u32),
            "rate-limit-ms" => Fault::RateLimitMs(num("250")? as u32),
            "delay" => Fault::Delay(num("1500")?),
            "drop" => Fault::DropMidBody,
            "truncated" => Fault::Truncated,
            "invalid-json" => Fault::InvalidJson,
            "text-500" => Fault::TextPlain500,
            "html-502" => Fault::Html502,
            "empty" => Fault::Empty,
            "huge" => Fault::Huge(num("10000000")? as usize),
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
            "ignore-max-tokens" => Fault::IgnoreMaxTokens,
            "bad-usage" => Fault::BadUsage,
            "no-request-id" => Fault::NoRequestId,
            _ => {
                return Err(format!(
                    "unknown fault {name:?}; known: status:N, rate-limit:S, rate-limit-ms:MS, delay:MS, drop, truncated, \
                     invalid-json, text-500, html-502, empty, huge:BYTES, redirect, missing-fields, extra-fields, \
                     comet-invalid-request, comet-model-not-found, litellm, echo-key, bad-key-400, echo-headers, accept-any-key, ignore-max-tokens, bad-usage, no-request-id"
                ));
            }
        })
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
    }
}
