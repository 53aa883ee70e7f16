//! Text the agent typed that the notes database refused (a full disk, a locked or missing
//! database): held in memory by call, newest text only, until the database takes it. The app
//! offers it again every [`RETRY_EVERY`] and once more before it exits; nothing here is dropped
//! while the app runs. The window only shows it (`note` returns it with the refusal).

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Duration;

use serde::Serialize;
use ts_rs::TS;

use crate::ErrorBody;

/// How often held text is offered to the database again.
pub const RETRY_EVERY: Duration = Duration::from_secs(5);

/// A call's text the database has not taken yet, and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, TS)]
pub struct UnsavedText {
    pub text: String,
    /// The database's last refusal.
    pub error: ErrorBody,
}

/// A call's note as the window should show it: what the database keeps, and newer text it
/// has not taken yet.
#[derive(Debug, Clone, PartialEq, Serialize, TS)]
pub struct NoteNow {
    pub stored: Option<notes::Note>,
    pub unsaved: Option<UnsavedText>,
}

#[derive(Default)]
pub struct Unsaved {
    state: Mutex<Held>,
}

#[derive(Default)]
struct Held {
    texts: HashMap<String, UnsavedText>,
    /// A task offers the texts again (one at a time).
    offering: bool,
}

impl Unsaved {
    /// Holds `text` for the call (replacing older text); true when no task offers held text
    /// yet, so the caller starts one.
    pub fn hold(&self, call_id: &str, text: &str, error: ErrorBody) -> bool {
        let mut state = self.lock();
        let start = !std::mem::replace(&mut state.offering, true);
        state.texts.insert(
            call_id.to_owned(),
            UnsavedText {
                text: text.to_owned(),
                error,
            },
        );
        start
    }

    /// The offering task's end, when nothing is held any more (else it goes on).
    pub fn done_offering(&self) -> bool {
        let mut state = self.lock();
        if state.texts.is_empty() {
            state.offering = false;
        }
        !state.offering
    }

    /// The database took `text` for the call: held text is dropped only when it is that text
    /// (newer text held meanwhile stays).
    pub fn kept(&self, call_id: &str, text: &str) {
        let mut state = self.lock();
        if state.texts.get(call_id).is_some_and(|h| h.text == text) {
            state.texts.remove(call_id);
        }
    }

    /// The database took newer text for the call than anything held.
    pub fn superseded(&self, call_id: &str) {
        self.lock().texts.remove(call_id);
    }

    pub fn get(&self, call_id: &str) -> Option<UnsavedText> {
        self.lock().texts.get(call_id).cloned()
    }

    /// Everything held, to offer again.
    pub fn all(&self) -> Vec<(String, String)> {
        self.lock()
            .texts
            .iter()
            .map(|(call, held)| (call.clone(), held.text.clone()))
            .collect()
    }

    /// Another refusal for text still held.
    pub fn refused_again(&self, call_id: &str, text: &str, error: ErrorBody) {
        if let Some(held) = self.lock().texts.get_mut(call_id) {
            if held.text == text {
                held.error = error;
            }
        }
    }

    pub fn is_empty(&self) -> bool {
        self.lock().texts.is_empty()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Held> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ErrorCode;

    fn full() -> ErrorBody {
        ErrorBody::new(ErrorCode::NotesDiskFull, "the disk is full")
    }

    #[test]
    fn newest_text_is_held_and_only_its_own_save_releases_it() {
        let unsaved = Unsaved::default();
        assert!(unsaved.hold("a", "first", full()));
        assert!(
            !unsaved.hold("a", "second", full()),
            "already offered again"
        );
        assert!(!unsaved.hold("b", "other", full()));
        // An older text's save arriving late does not release the newer text.
        unsaved.kept("a", "first");
        assert_eq!(unsaved.get("a").unwrap().text, "second");
        unsaved.kept("a", "second");
        assert_eq!(unsaved.get("a"), None);
        assert_eq!(unsaved.all(), vec![("b".to_owned(), "other".to_owned())]);
        assert!(!unsaved.done_offering(), "text is still held");
        unsaved.superseded("b");
        assert!(unsaved.is_empty());
        assert!(unsaved.done_offering());
        assert!(unsaved.hold("c", "later", full()), "a new task offers it");
    }

    #[test]
    fn a_new_refusal_replaces_the_reason_shown() {
        let unsaved = Unsaved::default();
        unsaved.hold("a", "text", full());
        let locked = ErrorBody::new(ErrorCode::NotesFailed, "database is locked");
        unsaved.refused_again("a", "older", locked.clone());
        assert_eq!(unsaved.get("a").unwrap().error, full());
        unsaved.refused_again("a", "text", locked.clone());
        assert_eq!(unsaved.get("a").unwrap().error, locked);
    }
}
