//! The portal's leaky bucket, mirrored on our side so the app slows itself down before the
//! portal says `QUERY_LIMIT_EXCEEDED`. The portal counts per source IP, shared with every other
//! agent behind the same NAT, so this is a courtesy, not a guarantee: the retry policy covers
//! the rest.

use std::time::{Duration, Instant};

#[derive(Debug, Clone, Copy, PartialEq)]
pub struct BucketConfig {
    /// Requests the bucket holds before the portal refuses (50; Enterprise 250).
    pub capacity: f64,
    /// Requests drained per second (2; Enterprise 5).
    pub drain_per_sec: f64,
}

impl Default for BucketConfig {
    fn default() -> BucketConfig {
        BucketConfig {
            capacity: 50.0,
            drain_per_sec: 2.0,
        }
    }
}

#[derive(Debug, Clone)]
pub struct LeakyBucket {
    config: BucketConfig,
    level: f64,
    at: Option<Instant>,
}

impl LeakyBucket {
    pub fn new(config: BucketConfig) -> LeakyBucket {
        LeakyBucket {
            config,
            level: 0.0,
            at: None,
        }
    }

    /// Books one request and says how long to wait before sending it. Booking ahead keeps
    /// concurrent callers in order.
    pub fn reserve(&mut self, now: Instant) -> Duration {
        let elapsed = self
            .at
            .map(|at| now.saturating_duration_since(at).as_secs_f64())
            .unwrap_or(0.0);
        self.level = (self.level - elapsed * self.config.drain_per_sec).max(0.0);
        self.at = Some(now);
        self.level += 1.0;
        let over = self.level - self.config.capacity;
        if over <= 0.0 {
            Duration::ZERO
        } else {
            Duration::from_secs_f64(over / self.config.drain_per_sec)
        }
    }

    pub fn level(&self) -> f64 {
        self.level
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_burst_up_to_capacity_goes_at_once_then_requests_are_paced_by_the_drain() {
        let mut bucket = LeakyBucket::new(BucketConfig {
            capacity: 50.0,
            drain_per_sec: 2.0,
        });
        let t0 = Instant::now();
        for _ in 0..50 {
            assert_eq!(bucket.reserve(t0), Duration::ZERO);
        }
        assert_eq!(bucket.reserve(t0), Duration::from_millis(500));
        assert_eq!(bucket.reserve(t0), Duration::from_millis(1000));
        // Ten seconds later twenty have drained: 52 - 20 + 1 = 33, under the limit.
        assert_eq!(bucket.reserve(t0 + Duration::from_secs(10)), Duration::ZERO);
        assert!((bucket.level() - 33.0).abs() < 1e-9);
    }

    #[test]
    fn enterprise_limits() {
        let mut bucket = LeakyBucket::new(BucketConfig {
            capacity: 250.0,
            drain_per_sec: 5.0,
        });
        let t0 = Instant::now();
        for _ in 0..250 {
            assert_eq!(bucket.reserve(t0), Duration::ZERO);
        }
        assert_eq!(bucket.reserve(t0), Duration::from_millis(200));
    }
}
