//! The fault scenarios an episode runs under: what the interposer answers
//! to each attempt of the application's requests.

use serde::{Deserialize, Serialize};

/// How many attempts of one logical request a transient scenario spoils
/// before it lets the request through: a client allowed a few attempts
/// recovers.
pub const TRANSIENT_ATTEMPTS: u32 = 2;
/// The `Retry-After` the `rate-limited` scenario asks for, in seconds.
pub const RETRY_AFTER_SECS: u64 = 1;
/// How long `slow-first-byte` holds the answer back, ms.
pub const SLOW_FIRST_BYTE_MS: u64 = 1_500;

/// One episode's fault scenario.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Scenario {
    /// Every request goes through.
    Clean,
    /// 429 with `Retry-After: 1` for the first attempts of each request.
    RateLimited,
    /// 503 for the first attempts of each request, then through.
    Outage,
    /// 400 `invalid_request_error` for every attempt: must not be retried.
    NonRetryable,
    /// 401 for every attempt: must not be retried.
    Unauthorized,
    /// Headers, then no body until the stall ends: the client must time out.
    Stall,
    /// The connection is dropped on the first attempt, then through.
    Reset,
    /// The answer is held back before its first byte, then through.
    SlowFirstByte,
    /// A streamed answer ends cleanly halfway: no finish reason, no `[DONE]`.
    TruncatedStream,
    /// A streamed answer's connection drops halfway.
    DroppedStream,
    /// One chunk of a streamed answer is not JSON.
    CorruptChunk,
}

/// How a streamed answer is spoiled.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StreamSpoil {
    /// End it cleanly after half its events.
    Truncate,
    /// Drop the connection after half its events.
    Drop,
    /// Replace one chunk with text that is not JSON.
    Corrupt,
}

/// What the interposer does with one attempt.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Injected {
    /// Answer with this status and an OpenAI-shaped error body.
    Status {
        /// HTTP status.
        status: u16,
        /// `Retry-After`, seconds.
        retry_after: Option<u64>,
    },
    /// Send headers, then hold the body for this long, then close.
    Stall {
        /// ms.
        ms: u64,
    },
    /// Drop the connection without an answer.
    Reset,
    /// Forward, and spoil a streamed answer this way (a whole answer goes
    /// through untouched).
    Stream(StreamSpoil),
    /// Wait this long, then forward.
    Delay {
        /// ms.
        ms: u64,
    },
}

impl Scenario {
    /// Every scenario, in the order a default episode set runs them.
    pub const ALL: [Scenario; 11] = [
        Scenario::Clean,
        Scenario::RateLimited,
        Scenario::Outage,
        Scenario::NonRetryable,
        Scenario::Unauthorized,
        Scenario::Stall,
        Scenario::Reset,
        Scenario::SlowFirstByte,
        Scenario::TruncatedStream,
        Scenario::DroppedStream,
        Scenario::CorruptChunk,
    ];

    /// Its name, as in plans and records.
    pub fn name(self) -> &'static str {
        match self {
            Scenario::Clean => "clean",
            Scenario::RateLimited => "rate-limited",
            Scenario::Outage => "outage",
            Scenario::NonRetryable => "non-retryable",
            Scenario::Unauthorized => "unauthorized",
            Scenario::Stall => "stall",
            Scenario::Reset => "reset",
            Scenario::SlowFirstByte => "slow-first-byte",
            Scenario::TruncatedStream => "truncated-stream",
            Scenario::DroppedStream => "dropped-stream",
            Scenario::CorruptChunk => "corrupt-chunk",
        }
    }

    /// The scenario with this name.
    ///
    /// # Errors
    ///
    /// The name is unknown; the message lists every scenario.
    pub fn parse(name: &str) -> Result<Scenario, String> {
        Scenario::ALL
            .into_iter()
            .find(|s| s.name() == name)
            .ok_or_else(|| {
                let all: Vec<&str> = Scenario::ALL.iter().map(|s| s.name()).collect();
                format!(
                    "unknown scenario `{name}`; the scenarios are {}",
                    all.join(", ")
                )
            })
    }

    /// From which attempt (1-based) the scenario lets a request through, when
    /// it is transient; `None` when it never does (or never interferes).
    pub fn clears_at(self) -> Option<u32> {
        match self {
            Scenario::RateLimited | Scenario::Outage => Some(TRANSIENT_ATTEMPTS + 1),
            Scenario::Reset => Some(2),
            _ => None,
        }
    }

    /// What to do with attempt `attempt` (1-based) of a logical request;
    /// `stall_ms` is how long a stall lasts.
    pub fn inject(self, attempt: u32, stall_ms: u64) -> Option<Injected> {
        let spoiled = self.clears_at().is_some_and(|c| attempt < c);
        match self {
            Scenario::Clean => None,
            Scenario::RateLimited if spoiled => Some(Injected::Status {
                status: 429,
                retry_after: Some(RETRY_AFTER_SECS),
            }),
            Scenario::Outage if spoiled => Some(Injected::Status {
                status: 503,
                retry_after: None,
            }),
            Scenario::NonRetryable => Some(Injected::Status {
                status: 400,
                retry_after: None,
            }),
            Scenario::Unauthorized => Some(Injected::Status {
                status: 401,
                retry_after: None,
            }),
            Scenario::Stall => Some(Injected::Stall { ms: stall_ms }),
            Scenario::Reset if spoiled => Some(Injected::Reset),
            Scenario::SlowFirstByte => Some(Injected::Delay {
                ms: SLOW_FIRST_BYTE_MS,
            }),
            Scenario::TruncatedStream => Some(Injected::Stream(StreamSpoil::Truncate)),
            Scenario::DroppedStream => Some(Injected::Stream(StreamSpoil::Drop)),
            Scenario::CorruptChunk => Some(Injected::Stream(StreamSpoil::Corrupt)),
            _ => None,
        }
    }
}

impl Injected {
    /// A short name, as recorded on the exchange.
    pub fn name(self) -> String {
        match self {
            Injected::Status { status, .. } => format!("status-{status}"),
            Injected::Stall { .. } => "stall".into(),
            Injected::Reset => "reset".into(),
            Injected::Delay { ms } => format!("delay-{ms}ms"),
            Injected::Stream(StreamSpoil::Truncate) => "truncated-stream".into(),
            Injected::Stream(StreamSpoil::Drop) => "dropped-stream".into(),
            Injected::Stream(StreamSpoil::Corrupt) => "corrupt-chunk".into(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn transient_scenarios_clear_and_the_others_do_not() {
        assert!(matches!(
            Scenario::RateLimited.inject(1, 0),
            Some(Injected::Status {
                status: 429,
                retry_after: Some(1)
            })
        ));
        assert!(Scenario::RateLimited.inject(2, 0).is_some());
        assert_eq!(Scenario::RateLimited.inject(3, 0), None);
        assert_eq!(Scenario::Reset.inject(1, 0), Some(Injected::Reset));
        assert_eq!(Scenario::Reset.inject(2, 0), None);
        assert!(Scenario::NonRetryable.inject(9, 0).is_some());
        assert_eq!(Scenario::Clean.inject(1, 0), None);
        assert_eq!(
            Scenario::Stall.inject(1, 7),
            Some(Injected::Stall { ms: 7 })
        );
    }

    #[test]
    fn names_round_trip_and_a_typo_lists_them_all() {
        for s in Scenario::ALL {
            assert_eq!(Scenario::parse(s.name()), Ok(s));
        }
        let e = Scenario::parse("rate-limit").unwrap_err();
        assert!(
            e.contains("rate-limited") && e.contains("slow-first-byte"),
            "{e}"
        );
    }
}
