//! A token bucket per client (keyed by `Origin`; requests without one share a bucket). The
//! clock is passed in, so the arithmetic is tested without sleeping.

use std::collections::HashMap;
use std::time::{Duration, Instant};

#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RateLimit {
    /// Requests a client may make at once.
    pub burst: u32,
    /// Requests per second refilled after that.
    pub per_second: f64,
}

impl Default for RateLimit {
    /// A call card posts a handful of times per call; a script may post a scenario quickly.
    fn default() -> RateLimit {
        RateLimit {
            burst: 30,
            per_second: 10.0,
        }
    }
}

/// Clients tracked at most; allowed origins bound the real number, this bounds memory anyway.
const MAX_CLIENTS: usize = 1024;

pub struct RateLimiter {
    limit: RateLimit,
    buckets: HashMap<String, (f64, Instant)>,
}

impl RateLimiter {
    pub fn new(limit: RateLimit) -> RateLimiter {
        RateLimiter {
            limit,
            buckets: HashMap::new(),
        }
    }

    /// Takes one request from `client`'s bucket, or says how long until one is available.
    pub fn check(&mut self, client: &str, now: Instant) -> Result<(), Duration> {
        if self.buckets.len() >= MAX_CLIENTS && !self.buckets.contains_key(client) {
            // Drop the buckets that have refilled: forgetting them changes nothing.
            let limit = self.limit;
            self.buckets.retain(|_, (tokens, at)| {
                refill(limit, *tokens, *at, now) < f64::from(limit.burst)
            });
            if self.buckets.len() >= MAX_CLIENTS {
                // Every tracked client is busy: a newcomer waits rather than growing the map.
                return Err(Duration::from_secs(1));
            }
        }
        let burst = f64::from(self.limit.burst);
        let (tokens, at) = self.buckets.get(client).copied().unwrap_or((burst, now));
        let tokens = refill(self.limit, tokens, at, now);
        if tokens >= 1.0 {
            self.buckets.insert(client.to_owned(), (tokens - 1.0, now));
            Ok(())
        } else {
            self.buckets.insert(client.to_owned(), (tokens, now));
            let wait = (1.0 - tokens) / self.limit.per_second.max(f64::MIN_POSITIVE);
            Err(Duration::from_secs_f64(wait.min(3600.0)))
        }
    }
}

fn refill(limit: RateLimit, tokens: f64, at: Instant, now: Instant) -> f64 {
    let elapsed = now.saturating_duration_since(at).as_secs_f64();
    (tokens + elapsed * limit.per_second).min(f64::from(limit.burst))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn burst_then_refill_per_client() {
        let mut limiter = RateLimiter::new(RateLimit {
            burst: 3,
            per_second: 2.0,
        });
        let t0 = Instant::now();
        for _ in 0..3 {
            assert!(limiter.check("a", t0).is_ok());
        }
        let wait = limiter.check("a", t0).unwrap_err();
        assert!((wait.as_secs_f64() - 0.5).abs() < 1e-9, "{wait:?}");
        assert!(
            limiter.check("b", t0).is_ok(),
            "clients have their own buckets"
        );
        assert!(limiter.check("a", t0 + Duration::from_millis(499)).is_err());
        assert!(limiter.check("a", t0 + Duration::from_millis(1000)).is_ok());
        assert!(limiter.check("a", t0 + Duration::from_secs(60)).is_ok());
    }

    #[test]
    fn memory_is_bounded() {
        let mut limiter = RateLimiter::new(RateLimit {
            burst: 1,
            per_second: 1.0,
        });
        let t0 = Instant::now();
        for i in 0..5000u64 {
            let _ = limiter.check(&i.to_string(), t0 + Duration::from_millis(i));
        }
        assert!(limiter.buckets.len() <= MAX_CLIENTS);
        assert!(
            limiter.check("late", t0 + Duration::from_secs(60)).is_ok(),
            "idle buckets are forgotten"
        );
    }
}
