//! How long to wait before the next attempt (bitrix24-push.md §4.3): the documented schedule
//! (1st error 100 ms, 2nd 15 s, 3rd–5th 45 s, up to the 10th 10 min, then 1 h) plus 0–20 % jitter.
//! Injectable, so tests run the same logic in milliseconds.

use std::time::Duration;

#[derive(Debug, Clone, PartialEq)]
pub struct Backoff {
    /// `(up to this attempt, wait)`, ascending; attempts beyond the last use `after`.
    steps: Vec<(u32, Duration)>,
    after: Duration,
    /// The most added at random, as a fraction of the wait (0.2 = up to 20 %).
    jitter: f64,
}

impl Default for Backoff {
    /// The schedule from Bitrix24's documentation for a custom push client.
    fn default() -> Backoff {
        Backoff {
            steps: vec![
                (1, Duration::from_millis(100)),
                (2, Duration::from_secs(15)),
                (5, Duration::from_secs(45)),
                (10, Duration::from_secs(600)),
            ],
            after: Duration::from_secs(3600),
            jitter: 0.2,
        }
    }
}

impl Backoff {
    pub fn new(steps: Vec<(u32, Duration)>, after: Duration, jitter: f64) -> Backoff {
        Backoff {
            steps,
            after,
            jitter: jitter.clamp(0.0, 1.0),
        }
    }

    /// The same wait every time, no jitter (tests).
    pub fn constant(wait: Duration) -> Backoff {
        Backoff::new(Vec::new(), wait, 0.0)
    }

    /// The wait before attempt `attempt` (1 = after the first failure), without jitter.
    pub fn base(&self, attempt: u32) -> Duration {
        self.steps
            .iter()
            .find(|(up_to, _)| attempt <= *up_to)
            .map(|(_, wait)| *wait)
            .unwrap_or(self.after)
    }

    /// The wait with jitter; `random` in `[0, 1)`.
    pub fn delay_with(&self, attempt: u32, random: f64) -> Duration {
        let base = self.base(attempt);
        base + base.mul_f64(self.jitter * random.clamp(0.0, 1.0))
    }

    pub fn delay(&self, attempt: u32) -> Duration {
        self.delay_with(attempt, rand::random::<f64>())
    }

    /// The longest wait (for a push channel the portal refuses: asked again this rarely).
    pub fn longest(&self) -> Duration {
        self.steps
            .iter()
            .map(|(_, w)| *w)
            .chain([self.after])
            .max()
            .unwrap_or(self.after)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_documented_schedule() {
        let b = Backoff::default();
        let ms = Duration::from_millis;
        let s = Duration::from_secs;
        let cases = [
            (0, ms(100)),
            (1, ms(100)),
            (2, s(15)),
            (3, s(45)),
            (5, s(45)),
            (6, s(600)),
            (10, s(600)),
            (11, s(3600)),
            (1000, s(3600)),
        ];
        for (attempt, want) in cases {
            assert_eq!(b.base(attempt), want, "attempt {attempt}");
            assert_eq!(b.delay_with(attempt, 0.0), want);
            // at most 20 % more
            assert_eq!(b.delay_with(attempt, 1.0), want + want / 5);
            let random = b.delay(attempt);
            assert!(random >= want && random <= want + want / 5, "{random:?}");
        }
        assert_eq!(b.longest(), s(3600));
    }

    #[test]
    fn injected_schedules() {
        let c = Backoff::constant(Duration::from_millis(5));
        assert_eq!(c.delay(1), Duration::from_millis(5));
        assert_eq!(c.delay(99), Duration::from_millis(5));
        let two = Backoff::new(
            vec![(2, Duration::from_millis(1))],
            Duration::from_millis(9),
            0.5,
        );
        assert_eq!(two.delay_with(2, 0.0), Duration::from_millis(1));
        assert_eq!(two.delay_with(3, 1.0), Duration::from_micros(13_500));
    }
}
