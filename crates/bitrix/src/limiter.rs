//! The portal's leaky bucket, mirrored on our side so the app slows itself down before the
//! portal says `QUERY_LIMIT_EXCEEDED`. The portal counts per source IP, shared with every other
//! agent behind the same NAT, so this is a courtesy, not a guarantee: the retry policy covers
//! the rest.

use std::collections::HashMap;
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

/// The block never outlasts this (`limits.md`: the minute baskets drop ten minutes after they
/// start), so it is the pause when the portal named no reset time.
pub const MAX_OPERATING_PAUSE_SECS: f64 = 600.0;

/// `OPERATION_TIME_LIMIT` pauses one method for this application or webhook, not the client
/// (`limits.md`: "Other applications, webhooks, and methods continue to function"). What to do
/// (same page): suspend calls to the blocked method and retry first at `operating_reset_at` of
/// its last successful answer. Pure: the caller passes the time (Unix seconds).
#[derive(Debug, Clone, Default)]
pub struct MethodPauses {
    /// Method (lower case) → `operating_reset_at` of its last successful answer.
    reset_at: HashMap<String, f64>,
    /// Method (lower case) → until when it is paused.
    paused: HashMap<String, f64>,
}

impl MethodPauses {
    pub fn new() -> MethodPauses {
        MethodPauses::default()
    }

    /// A successful answer of `method`: it runs, and its `time.operating_reset_at` (if any) is
    /// where the next block would end.
    pub fn succeeded(&mut self, method: &str, operating_reset_at: Option<f64>) {
        let method = method.to_ascii_lowercase();
        self.paused.remove(&method);
        match operating_reset_at {
            Some(at) if at > 0.0 => {
                self.reset_at.insert(method, at);
            }
            _ => {}
        }
    }

    /// The portal refused `method` with `OPERATION_TIME_LIMIT` at `now`; `reported` is an
    /// `operating_reset_at` in that answer, if it had one. Returns until when the method is
    /// paused: the reported reset, else the last successful answer's, if still ahead, never
    /// more than ten minutes away; ten minutes when neither is known (or both have passed and
    /// the block persists: the next basket's reset is not told).
    pub fn block(&mut self, method: &str, reported: Option<f64>, now: f64) -> f64 {
        let method = method.to_ascii_lowercase();
        let cap = now + MAX_OPERATING_PAUSE_SECS;
        let until = reported
            .filter(|at| *at > now)
            .or_else(|| self.reset_at.get(&method).copied().filter(|at| *at > now))
            .map_or(cap, |at| at.min(cap));
        self.paused.insert(method, until);
        until
    }

    /// Until when `method` is paused, if it is at `now`.
    pub fn paused_until(&self, method: &str, now: f64) -> Option<f64> {
        self.paused
            .get(&method.to_ascii_lowercase())
            .copied()
            .filter(|until| *until > now)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_block_pauses_that_method_until_its_last_reset_and_no_other() {
        let mut pauses = MethodPauses::new();
        pauses.succeeded("crm.deal.list", Some(1_000.0));
        pauses.succeeded("crm.contact.get", Some(900.0));
        assert_eq!(pauses.paused_until("crm.deal.list", 950.0), None);
        assert_eq!(pauses.block("CRM.DEAL.LIST", None, 950.0), 1_000.0);
        assert_eq!(pauses.paused_until("crm.deal.list", 950.0), Some(1_000.0));
        assert_eq!(pauses.paused_until("crm.deal.list", 999.5), Some(1_000.0));
        assert_eq!(
            pauses.paused_until("crm.deal.list", 1_000.0),
            None,
            "lifted at the reset"
        );
        assert_eq!(
            pauses.paused_until("crm.contact.get", 950.0),
            None,
            "other methods run"
        );
    }

    #[test]
    fn the_answers_own_reset_wins_and_nothing_waits_past_ten_minutes() {
        let mut pauses = MethodPauses::new();
        pauses.succeeded("crm.deal.list", Some(1_000.0));
        assert_eq!(pauses.block("crm.deal.list", Some(980.0), 950.0), 980.0);
        // A reset the portal put further than the docs' ten minutes is capped.
        assert_eq!(pauses.block("crm.deal.list", Some(5_000.0), 950.0), 1_550.0);
    }

    #[test]
    fn without_a_known_reset_the_pause_is_ten_minutes() {
        let mut pauses = MethodPauses::new();
        assert_eq!(pauses.block("crm.item.list", None, 100.0), 700.0);
        // A reset that has passed tells nothing about the next one.
        pauses.succeeded("crm.deal.list", Some(50.0));
        assert_eq!(pauses.block("crm.deal.list", None, 100.0), 700.0);
        assert_eq!(pauses.block("crm.deal.list", Some(90.0), 100.0), 700.0);
    }

    #[test]
    fn a_successful_answer_lifts_the_pause() {
        let mut pauses = MethodPauses::new();
        pauses.block("crm.deal.list", None, 100.0);
        pauses.succeeded("crm.deal.list", None);
        assert_eq!(pauses.paused_until("crm.deal.list", 101.0), None);
    }

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
