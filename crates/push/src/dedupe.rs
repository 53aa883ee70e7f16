//! The last message ids seen: a message redelivered (a replay after a reconnect that overlaps
//! what already arrived, or the same message on two transports) is handed on once.

use std::collections::VecDeque;

#[derive(Debug, Clone)]
pub struct RecentMids {
    cap: usize,
    seen: VecDeque<String>,
    last: Option<String>,
}

impl RecentMids {
    pub fn new(cap: usize) -> RecentMids {
        RecentMids {
            cap: cap.max(1),
            seen: VecDeque::new(),
            last: None,
        }
    }

    /// Records `mid`; false when it was among the last `cap` seen.
    pub fn first_time(&mut self, mid: &str) -> bool {
        self.last = Some(mid.to_owned());
        if self.seen.iter().any(|m| m == mid) {
            return false;
        }
        if self.seen.len() == self.cap {
            self.seen.pop_front();
        }
        self.seen.push_back(mid.to_owned());
        true
    }

    /// The latest message id received: where a reconnect resumes.
    pub fn last(&self) -> Option<&str> {
        self.last.as_deref()
    }

    /// The server told us where the channel stands (long polling's `Last-Message-Id`).
    pub fn set_last(&mut self, mid: &str) {
        if !mid.is_empty() {
            self.last = Some(mid.to_owned());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_redelivered_mid_passes_once() {
        // (cap, mids in order, which pass)
        let cases: &[(usize, &[&str], &[bool])] = &[
            (
                3,
                &["a", "b", "a", "c", "b"],
                &[true, true, false, true, false],
            ),
            // beyond the window a mid is new again
            (2, &["a", "b", "c", "a"], &[true, true, true, true]),
            (2, &["a", "a", "a"], &[true, false, false]),
            (0, &["a", "a"], &[true, false]),
        ];
        for (cap, mids, want) in cases {
            let mut recent = RecentMids::new(*cap);
            let got: Vec<bool> = mids.iter().map(|m| recent.first_time(m)).collect();
            assert_eq!(&got, want, "cap {cap} {mids:?}");
            assert_eq!(recent.last(), mids.last().copied());
        }
    }

    #[test]
    fn last_mid_follows_the_server() {
        let mut recent = RecentMids::new(4);
        assert_eq!(recent.last(), None);
        recent.set_last("");
        assert_eq!(recent.last(), None);
        recent.set_last("0001");
        assert_eq!(recent.last(), Some("0001"));
        recent.first_time("0002");
        assert_eq!(recent.last(), Some("0002"));
    }
}
