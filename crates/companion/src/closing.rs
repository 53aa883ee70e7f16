//! Closing without losing a word: before the app closes its window or quits (the window's close
//! button, the tray's Quit, the desktop session ending), it asks the window to keep what the
//! agent typed and waits for the window to say it has, or for a short while at most (a window
//! that hangs must not keep the app from quitting).

use std::sync::{Condvar, Mutex};
use std::time::Duration;

/// How long the app waits for the window to keep its notes before it closes anyway.
pub const KEEP_NOTES_WITHIN: Duration = Duration::from_secs(2);

#[derive(Default)]
pub struct CloseGate {
    state: Mutex<Gate>,
    kept: Condvar,
}

#[derive(Default)]
struct Gate {
    closing: bool,
    kept: bool,
}

impl CloseGate {
    /// Starts closing; false when closing has already started (the second close request goes
    /// through at once).
    pub fn begin(&self) -> bool {
        let mut gate = self.state.lock().unwrap_or_else(|e| e.into_inner());
        !std::mem::replace(&mut gate.closing, true)
    }

    /// The window kept its notes.
    pub fn kept(&self) {
        self.state.lock().unwrap_or_else(|e| e.into_inner()).kept = true;
        self.kept.notify_all();
    }

    /// Blocks until the window kept its notes or `within` passed; says which.
    pub fn wait(&self, within: Duration) -> bool {
        let gate = self.state.lock().unwrap_or_else(|e| e.into_inner());
        let (gate, _) = self
            .kept
            .wait_timeout_while(gate, within, |g| !g.kept)
            .unwrap_or_else(|e| e.into_inner());
        gate.kept
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    #[test]
    fn the_first_close_waits_for_the_window_and_a_second_goes_through() {
        let gate = Arc::new(CloseGate::default());
        assert!(gate.begin());
        assert!(!gate.begin());
        let window = gate.clone();
        let kept = std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(20));
            window.kept();
        });
        assert!(gate.wait(Duration::from_secs(30)));
        kept.join().unwrap();
    }

    #[test]
    fn a_window_that_never_answers_does_not_hold_the_app() {
        let gate = CloseGate::default();
        assert!(gate.begin());
        assert!(!gate.wait(Duration::from_millis(20)));
    }
}
