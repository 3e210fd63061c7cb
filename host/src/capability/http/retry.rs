//! The retry policy: bounded attempts, exponential backoff with jitter, a total
//! budget, and `retry-after` honoured up to a cap. Pure functions.
//!
//! Defaults follow the official OpenAI SDKs: delay `min(base * 2^n, max)`
//! times jitter in `(0.75, 1]`; `retry-after-ms`, then `retry-after` (seconds
//! or an HTTP date), honoured when `0 < delay <= cap`.

use std::time::{Duration, SystemTime};

/// The retry policy of a run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Most attempts per request, including the first.
    pub max_attempts: u32,
    /// Total time the policy may spend on one request.
    pub budget: Duration,
    /// First backoff delay.
    pub base_delay: Duration,
    /// Largest backoff delay.
    pub max_delay: Duration,
    /// Longest `retry-after` honoured; a longer one ends the retries.
    pub retry_after_cap: Duration,
}

/// What `retry-after-ms`/`retry-after` asked for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RetryAfter {
    /// No usable header.
    None,
    /// Wait this long.
    Wait(Duration),
    /// Asked for longer than the cap.
    TooLong(Duration),
}

/// Read `retry-after-ms` then `retry-after` from response headers.
pub fn retry_after(headers: &[(String, String)], cap: Duration, now: SystemTime) -> RetryAfter {
    let get = |n: &str| {
        headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(n))
            .map(|(_, v)| v.trim())
    };
    let wait = get("retry-after-ms")
        .and_then(|v| v.parse::<f64>().ok())
        .filter(|ms| ms.is_finite() && *ms > 0.0)
        .map(|ms| Duration::from_micros((ms * 1000.0) as u64))
        .or_else(|| {
            let v = get("retry-after")?;
            if let Ok(secs) = v.parse::<f64>() {
                (secs.is_finite() && secs > 0.0).then(|| Duration::from_micros((secs * 1e6) as u64))
            } else {
                httpdate::parse_http_date(v).ok()?.duration_since(now).ok()
            }
        });
    match wait {
        None => RetryAfter::None,
        Some(d) if d.is_zero() => RetryAfter::None,
        Some(d) if d <= cap => RetryAfter::Wait(d),
        Some(d) => RetryAfter::TooLong(d),
    }
}

impl RetryPolicy {
    /// Backoff before retry number `retry` (1 for the first retry); `jitter` in `[0, 1)`.
    pub fn backoff(&self, retry: u32, jitter: f64) -> Duration {
        let exp = self
            .base_delay
            .saturating_mul(1u32 << (retry.saturating_sub(1)).min(20));
        let d = exp.min(self.max_delay);
        d.mul_f64(1.0 - 0.25 * jitter.clamp(0.0, 1.0))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p() -> RetryPolicy {
        RetryPolicy {
            max_attempts: 3,
            budget: Duration::from_secs(20),
            base_delay: Duration::from_millis(500),
            max_delay: Duration::from_secs(8),
            retry_after_cap: Duration::from_secs(60),
        }
    }

    fn h(k: &str, v: &str) -> Vec<(String, String)> {
        vec![(k.to_owned(), v.to_owned())]
    }

    #[test]
    fn backoff_grows_and_caps() {
        let p = p();
        assert_eq!(p.backoff(1, 0.0), Duration::from_millis(500));
        assert_eq!(p.backoff(2, 0.0), Duration::from_millis(1000));
        assert_eq!(p.backoff(10, 0.0), Duration::from_secs(8));
        assert_eq!(p.backoff(1, 1.0), Duration::from_millis(375));
    }

    #[test]
    fn reads_retry_after_forms() {
        let now = SystemTime::now();
        let cap = Duration::from_secs(60);
        assert_eq!(
            retry_after(&h("retry-after-ms", "250"), cap, now),
            RetryAfter::Wait(Duration::from_millis(250))
        );
        assert_eq!(
            retry_after(&h("Retry-After", "2"), cap, now),
            RetryAfter::Wait(Duration::from_secs(2))
        );
        assert_eq!(
            retry_after(&h("retry-after", "600"), cap, now),
            RetryAfter::TooLong(Duration::from_secs(600))
        );
        assert_eq!(
            retry_after(&h("retry-after", "0"), cap, now),
            RetryAfter::None
        );
        assert_eq!(
            retry_after(&h("retry-after", "soon"), cap, now),
            RetryAfter::None
        );
        let date = httpdate::fmt_http_date(now + Duration::from_secs(30));
        match retry_after(&h("retry-after", &date), cap, now) {
            RetryAfter::Wait(d) => {
                assert!(d > Duration::from_secs(28) && d <= Duration::from_secs(30))
            }
            other => panic!("{other:?}"),
        }
    }
}
