//! One limiter per target, shared by every plugin of a run: at most
//! `max_in_flight` requests at once, at most `requests_per_second` on
//! average (a token bucket that allows a burst of one second's worth), and a
//! pause for everyone when the target answers 429 with `retry-after`. However
//! many checks run at once, the operator's limits hold.

use std::sync::Mutex;
use std::time::Duration;
use tokio::sync::{Semaphore, SemaphorePermit};
use tokio::time::Instant;

/// What the operator allows against one target (`[run]` in the plan).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RateLimit {
    /// Requests in flight at once.
    pub max_in_flight: u32,
    /// Requests started per second, on average.
    pub requests_per_second: u32,
}

/// The limiter.
#[derive(Debug)]
pub struct TargetLimiter {
    limit: RateLimit,
    in_flight: Semaphore,
    bucket: Mutex<Bucket>,
    paused_until: Mutex<Option<Instant>>,
}

#[derive(Debug)]
struct Bucket {
    tokens: f64,
    at: Instant,
}

/// Held while one attempt is in flight.
#[derive(Debug)]
pub struct Slot<'a> {
    _permit: SemaphorePermit<'a>,
}

impl TargetLimiter {
    /// A limiter for `limit` (zeros are read as one).
    pub fn new(limit: RateLimit) -> TargetLimiter {
        let limit = RateLimit {
            max_in_flight: limit.max_in_flight.max(1),
            requests_per_second: limit.requests_per_second.max(1),
        };
        TargetLimiter {
            in_flight: Semaphore::new(limit.max_in_flight as usize),
            bucket: Mutex::new(Bucket {
                tokens: f64::from(limit.requests_per_second),
                at: Instant::now(),
            }),
            paused_until: Mutex::new(None),
            limit,
        }
    }

    /// The limits.
    pub fn limit(&self) -> RateLimit {
        self.limit
    }

    /// Wait for a pause to end, a token and a free slot, in that order.
    pub async fn acquire(&self) -> Slot<'_> {
        loop {
            let until = *self.paused_until.lock().expect("limiter lock");
            match until {
                Some(t) if t > Instant::now() => tokio::time::sleep_until(t).await,
                _ => break,
            }
        }
        loop {
            let wait = {
                let mut b = self.bucket.lock().expect("limiter lock");
                let rate = f64::from(self.limit.requests_per_second);
                let now = Instant::now();
                b.tokens = (b.tokens + now.duration_since(b.at).as_secs_f64() * rate).min(rate);
                b.at = now;
                if b.tokens >= 1.0 {
                    b.tokens -= 1.0;
                    None
                } else {
                    Some(Duration::from_secs_f64((1.0 - b.tokens) / rate))
                }
            };
            match wait {
                None => break,
                Some(w) => tokio::time::sleep(w).await,
            }
        }
        let permit = self
            .in_flight
            .acquire()
            .await
            .expect("the limiter's semaphore is never closed");
        Slot { _permit: permit }
    }

    /// The target asked everyone to wait (a 429 with `retry-after`): no
    /// request of this run starts before `wait` has passed.
    pub fn pause_for(&self, wait: Duration) {
        let until = Instant::now() + wait;
        let mut p = self.paused_until.lock().expect("limiter lock");
        if p.is_none_or(|t| t < until) {
            *p = Some(until);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;
    use std::sync::atomic::{AtomicU32, Ordering};

    #[tokio::test(start_paused = true)]
    async fn in_flight_and_rate_are_bounded() {
        let l = Arc::new(TargetLimiter::new(RateLimit {
            max_in_flight: 2,
            requests_per_second: 5,
        }));
        let now = Arc::new(AtomicU32::new(0));
        let peak = Arc::new(AtomicU32::new(0));
        let start = Instant::now();
        let mut tasks = Vec::new();
        for _ in 0..15 {
            let (l, now, peak) = (l.clone(), now.clone(), peak.clone());
            tasks.push(tokio::spawn(async move {
                let _slot = l.acquire().await;
                let n = now.fetch_add(1, Ordering::SeqCst) + 1;
                peak.fetch_max(n, Ordering::SeqCst);
                tokio::time::sleep(Duration::from_millis(10)).await;
                now.fetch_sub(1, Ordering::SeqCst);
            }));
        }
        for t in tasks {
            t.await.unwrap();
        }
        assert_eq!(peak.load(Ordering::SeqCst), 2);
        // A burst of 5, then 10 more at 5 per second: about 2 s.
        let took = start.elapsed();
        assert!(took >= Duration::from_millis(1900), "{took:?}");
        assert!(took < Duration::from_millis(2500), "{took:?}");
    }

    #[tokio::test(start_paused = true)]
    async fn a_pause_holds_every_request() {
        let l = TargetLimiter::new(RateLimit {
            max_in_flight: 4,
            requests_per_second: 100,
        });
        let start = Instant::now();
        l.pause_for(Duration::from_secs(3));
        l.pause_for(Duration::from_secs(1)); // a shorter pause never shortens one
        let _slot = l.acquire().await;
        assert!(start.elapsed() >= Duration::from_secs(3));
    }
}
