//! When a caller no longer wants an answer: cancelled (the screen pop of a call the next call
//! replaced) or past a deadline (a pop that would come too late to help). A client given a
//! [`Stop`] makes no new attempt after it, cuts its request timeout to what is left, and wakes
//! from its back-off and pacing waits at once, so a stale pop stops spending the rate limit that
//! the whole call centre shares.

use std::future::Future;
use std::time::Duration;

use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stopped {
    Cancelled,
    /// The deadline passed; how long the caller allowed.
    Deadline(Duration),
}

#[derive(Clone, Default)]
pub struct Stop {
    cancelled: CancellationToken,
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
            cancelled: CancellationToken::new(),
            deadline: Some((now, now + within)),
        }
    }

    /// Every clone stops, and any of them waiting in [`Stop::sleep`] or [`Stop::run`] wakes.
    pub fn cancel(&self) {
        self.cancelled.cancel();
    }

    /// Why the caller stopped wanting the answer, if it did.
    pub fn check(&self) -> Result<(), Stopped> {
        if self.cancelled.is_cancelled() {
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
    pub async fn sleep(&self, wait: Duration) -> Result<(), Stopped> {
        self.run(tokio::time::sleep(wait)).await
    }

    /// Runs `work` until it ends, or drops it (a request in flight is abandoned) when cancelled
    /// or at the deadline.
    pub async fn run<F: Future>(&self, work: F) -> Result<F::Output, Stopped> {
        self.check()?;
        let deadline = async {
            match self.deadline {
                Some((_, at)) => tokio::time::sleep_until(at).await,
                None => std::future::pending().await,
            }
        };
        tokio::select! {
            biased;
            _ = self.cancelled.cancelled() => Err(Stopped::Cancelled),
            output = work => Ok(output),
            _ = deadline => Err(self.check().err().unwrap_or(Stopped::Cancelled)),
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

    #[tokio::test]
    async fn a_cancel_wakes_a_sleeper_at_once() {
        let stop = Stop::new();
        let other = stop.clone();
        let sleeper = tokio::spawn(async move {
            let started = Instant::now();
            (
                other.sleep(Duration::from_secs(30)).await,
                started.elapsed(),
            )
        });
        tokio::time::sleep(Duration::from_millis(50)).await;
        stop.cancel();
        let (result, slept) = sleeper.await.unwrap();
        assert_eq!(result, Err(Stopped::Cancelled));
        assert!(slept < Duration::from_secs(10), "{slept:?}");
        assert_eq!(stop.check(), Err(Stopped::Cancelled));
    }

    #[tokio::test]
    async fn a_deadline_cuts_a_wait_short_and_says_how_long_was_allowed() {
        let stop = Stop::within(Duration::from_millis(30));
        assert_eq!(stop.check(), Ok(()));
        assert!(stop.remaining().unwrap() <= Duration::from_millis(30));
        let started = Instant::now();
        assert_eq!(
            stop.sleep(Duration::from_secs(30)).await,
            Err(Stopped::Deadline(Duration::from_millis(30)))
        );
        assert!(started.elapsed() < Duration::from_secs(10));
        assert_eq!(stop.remaining(), Some(Duration::ZERO));
    }

    #[tokio::test]
    async fn a_short_wait_before_the_deadline_ends_normally() {
        let stop = Stop::within(Duration::from_secs(30));
        assert_eq!(stop.sleep(Duration::from_millis(5)).await, Ok(()));
        assert_eq!(Stop::new().sleep(Duration::ZERO).await, Ok(()));
        assert_eq!(Stop::new().remaining(), None);
    }

    #[tokio::test]
    async fn work_in_flight_is_dropped_when_cancelled() {
        let stop = Stop::new();
        let other = stop.clone();
        tokio::spawn(async move {
            tokio::time::sleep(Duration::from_millis(20)).await;
            other.cancel();
        });
        let never = std::future::pending::<()>();
        assert_eq!(stop.run(never).await, Err(Stopped::Cancelled));
        assert_eq!(Stop::new().run(async { 7 }).await, Ok(7));
    }
}
