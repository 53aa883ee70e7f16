//! A small allowance for tabs the portal refuses: each refusal spends one, and it refills
//! slowly. While it is spent, tabs are refused without asking the portal, so POSTs with forged
//! or foreign tokens cannot turn into requests that spend the portal's rate limit, which every
//! agent behind the call centre's address shares (`limits.md`).

use std::time::{Duration, Instant};

pub struct FailureGate {
    allowance: f64,
    capacity: f64,
    refill_per_sec: f64,
    at: Option<Instant>,
}

impl FailureGate {
    /// `capacity` refusals at once, then one per `every`.
    pub fn new(capacity: u32, every: Duration) -> FailureGate {
        FailureGate {
            allowance: f64::from(capacity),
            capacity: f64::from(capacity),
            refill_per_sec: 1.0 / every.as_secs_f64().max(0.001),
            at: None,
        }
    }

    fn refill(&mut self, now: Instant) {
        let elapsed = self
            .at
            .map(|at| now.saturating_duration_since(at).as_secs_f64())
            .unwrap_or(0.0);
        self.allowance = (self.allowance + elapsed * self.refill_per_sec).min(self.capacity);
        self.at = Some(now);
    }

    /// Whether a tab may be proven now.
    pub fn open(&mut self, now: Instant) -> bool {
        self.refill(now);
        self.allowance >= 1.0
    }

    /// The portal refused a tab.
    pub fn refused(&mut self, now: Instant) {
        self.refill(now);
        self.allowance = (self.allowance - 1.0).max(0.0);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refusals_spend_the_allowance_and_it_comes_back_slowly() {
        let mut gate = FailureGate::new(3, Duration::from_secs(60));
        let t0 = Instant::now();
        for _ in 0..3 {
            assert!(gate.open(t0));
            gate.refused(t0);
        }
        assert!(!gate.open(t0), "spent");
        assert!(!gate.open(t0 + Duration::from_secs(59)));
        assert!(
            gate.open(t0 + Duration::from_secs(60)),
            "one back after a minute"
        );
        gate.refused(t0 + Duration::from_secs(60));
        assert!(!gate.open(t0 + Duration::from_secs(61)));
        assert!(gate.open(t0 + Duration::from_secs(600)));
    }
}
