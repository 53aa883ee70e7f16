//! When a caller no longer wants an answer: cancelled (the screen pop of a call the next call
//! replaced) or past a deadline (a pop that would come too late to help). A client given a
//! [`Stop`] makes no new attempt after it, cuts its request timeout to what is left, and wakes
//! from its back-off and pacing waits at once, so a stale pop stops spending the rate limit that
//! the whole call centre shares.

use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stopped {
    Cancelled,
    /// The deadline passed; how long the caller allowed.
    Deadline(Duration),
}

#[derive(Clone, Default)]
pub struct Stop {
    cancelled: Arc<(Mutex<bool>, Condvar)>,
    /// When it was set, and the deadline.
    deadline: Option<(Instant, Instant)>,
}

impl Stop {
    /// Stops when cancelled only.
    pub fn new() -> Stop {
        Stop::default()
    }

    /// Stops when cancelled or `within` from now.
    pub fn within(within: Duration) -> Stop {
        let now = Instant::now();
        Stop {
            cancelled: Arc::default(),
            deadline: Some((now, now + within)),
        }
    }

    /// Every clone stops, and any of them asleep in [`Stop::sleep`] wakes.
    pub fn cancel(&self) {
        let (flag, wake) = &*self.cancelled;
        *flag.lock().unwrap_or_else(|e| e.into_inner()) = true;
        wake.notify_all();
    }

    /// Why the caller stopped wanting the answer, if it did.
    pub fn check(&self) -> Result<(), Stopped> {
        if *self.cancelled.0.lock().unwrap_or_else(|e| e.into_inner()) {
            return Err(Stopped::Cancelled);
        }
        match self.deadline {
            Some((set, at)) if Instant::now() >= at => Err(Stopped::Deadline(at - set)),
            _ => Ok(()),
        }
    }

    /// The time left before the deadline (none: no deadline).
    pub fn remaining(&self) -> Option<Duration> {
        self.deadline
            .map(|(_, at)| at.saturating_duration_since(Instant::now()))
    }

    /// Waits `wait`, or less: until cancelled or the deadline, whichever comes first.
    pub fn sleep(&self, wait: Duration) -> Result<(), Stopped> {
        let until = Instant::now() + wait;
        let (flag, wake) = &*self.cancelled;
        let mut cancelled = flag.lock().unwrap_or_else(|e| e.into_inner());
        loop {
            if *cancelled {
                return Err(Stopped::Cancelled);
            }
            let now = Instant::now();
            let end = match self.deadline {
                Some((_, at)) if at < until => at,
                _ => until,
            };
            if now >= end {
                drop(cancelled);
                return if now >= until { Ok(()) } else { self.check() };
            }
            cancelled = wake
                .wait_timeout(cancelled, end - now)
                .unwrap_or_else(|e| e.into_inner())
                .0;
        }
    }
}

impl std::fmt::Debug for Stop {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Stop")
            .field("stopped", &self.check().err())
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_cancel_wakes_a_sleeper_at_once() {
        let stop = Stop::new();
        let other = stop.clone();
        let sleeper = std::thread::spawn(move || {
            let started = Instant::now();
            (other.sleep(Duration::from_secs(30)), started.elapsed())
        });
        std::thread::sleep(Duration::from_millis(50));
        stop.cancel();
        let (result, slept) = sleeper.join().unwrap();
        assert_eq!(result, Err(Stopped::Cancelled));
        assert!(slept < Duration::from_secs(10), "{slept:?}");
        assert_eq!(stop.check(), Err(Stopped::Cancelled));
    }

    #[test]
    fn a_deadline_cuts_a_wait_short_and_says_how_long_was_allowed() {
        let stop = Stop::within(Duration::from_millis(30));
        assert_eq!(stop.check(), Ok(()));
        assert!(stop.remaining().unwrap() <= Duration::from_millis(30));
        let started = Instant::now();
        assert_eq!(
            stop.sleep(Duration::from_secs(30)),
            Err(Stopped::Deadline(Duration::from_millis(30)))
        );
        assert!(started.elapsed() < Duration::from_secs(10));
        assert_eq!(stop.remaining(), Some(Duration::ZERO));
    }

    #[test]
    fn a_short_wait_before_the_deadline_ends_normally() {
        let stop = Stop::within(Duration::from_secs(30));
        assert_eq!(stop.sleep(Duration::from_millis(5)), Ok(()));
        assert_eq!(Stop::new().sleep(Duration::ZERO), Ok(()));
        assert_eq!(Stop::new().remaining(), None);
    }
}
