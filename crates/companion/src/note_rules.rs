//! A call's note as the window's commands see it: each save names the call's number, record
//! and activity (which the app knows, the window does not need to), and text the database
//! refuses is held by the app ([`crate::unsaved`]) and offered again until it is kept. Called
//! on the blocking pool (SQLite).

use std::sync::Arc;

use notes::Note;

use crate::app_state::AppState;
use crate::unsaved::{NoteNow, RETRY_EVERY};
use crate::ErrorBody;

impl AppState {
    /// The call's note: what the database keeps and newer text it has not taken yet.
    pub fn note(&self, call_id: &str) -> Result<NoteNow, ErrorBody> {
        let unsaved = self.unsaved.get(call_id);
        let stored = match self.notes() {
            Ok(notes) => notes.note(call_id),
            Err(e) => Err(e),
        };
        match (stored, unsaved) {
            (Ok(stored), unsaved) => {
                // Kept meanwhile: the retry's write lands (and is told) before it lets go.
                let unsaved = unsaved.filter(|u| stored.as_ref().is_none_or(|s| s.text != u.text));
                Ok(NoteNow { stored, unsaved })
            }
            // No database: the held text is still the agent's.
            (Err(_), Some(unsaved)) => Ok(NoteNow {
                stored: None,
                unsaved: Some(unsaved),
            }),
            (Err(e), None) => Err(e),
        }
    }

    /// Keeps what the agent typed. When the database refuses, the text is held and offered
    /// again until kept; the refusal still goes back, so the window can say so.
    pub fn save_note(self: &Arc<Self>, call_id: &str, text: &str) -> Result<Note, ErrorBody> {
        match self.write_note(call_id, text) {
            Ok(note) => {
                // This save is the newest text: anything held for the call is older.
                self.unsaved.superseded(call_id);
                Ok(note)
            }
            Err(error) => {
                tracing::warn!(code = error.code.as_str(), call_id, "a note was not kept on this computer yet; the app holds it and tries again: {}", error.message);
                if self.unsaved.hold(call_id, text, error.clone()) {
                    self.offer_unsaved_again();
                }
                Err(error)
            }
        }
    }

    /// The wrap-up outcomes the agent picks from: IT's list, else the built-in one in the
    /// window's language.
    pub fn outcomes(&self) -> Vec<String> {
        self.policy()
            .outcomes()
            .unwrap_or_else(|| crate::outcomes::built_in(self.status().language))
    }

    /// The agent picked the call's outcome from the list (`None`: cleared). It is kept with the
    /// note and goes to the CRM with it.
    pub fn set_outcome(&self, call_id: &str, outcome: Option<&str>) -> Result<Note, ErrorBody> {
        if let Some(picked) = outcome {
            if !self.outcomes().iter().any(|o| o == picked) {
                return Err(ErrorBody::new(
                    codes::ErrorCode::UnknownOutcome,
                    format!("{picked:?} is not one of the call outcomes offered"),
                )
                .with("outcome", picked));
            }
        }
        let facts = self.notes_for(call_id)?;
        facts
            .notes
            .set_outcome(call_id, outcome, facts.phone.as_deref(), facts.target)
    }

    /// "Save to CRM". Text the database has not taken is not queued, nor the note of a call
    /// known only from an unverified link (whoever made the link chose its record).
    pub fn send_note(&self, call_id: &str) -> Result<Note, ErrorBody> {
        if self.call_unverified(call_id) {
            return Err(ErrorBody::new(
                codes::ErrorCode::LinkUnverified,
                "this call came from a link the app could not verify, so its note is not sent to the CRM",
            ));
        }
        if let Some(held) = self.unsaved.get(call_id) {
            return Err(held.error);
        }
        let facts = self.notes_for(call_id)?;
        facts.notes.send(call_id, facts.target)
    }

    /// Earlier notes about the call's number or record.
    pub fn note_history(&self, call_id: &str) -> Result<Vec<Note>, ErrorBody> {
        let (phone, target) = self.call_facts(call_id);
        self.notes()?
            .history(call_id, phone.as_deref(), target.as_ref())
    }

    /// Offers every held text to the database once; what it takes, the window hears of as a
    /// kept note. Also the last attempt before the app exits.
    pub fn keep_unsaved_now(&self) {
        for (call_id, text) in self.unsaved.all() {
            match self.write_note(&call_id, &text) {
                Ok(_) => {
                    tracing::info!(call_id, "a held note is kept on this computer now");
                    self.unsaved.kept(&call_id, &text);
                }
                Err(error) => self.unsaved.refused_again(&call_id, &text, error),
            }
        }
    }

    /// Before the app exits: one more attempt, and a clear line in the log for what is lost.
    pub fn keep_unsaved_before_exit(&self) {
        self.keep_unsaved_now();
        let lost = self.unsaved.all().len();
        if lost > 0 {
            tracing::error!(
                code = "notes_lost_at_exit",
                calls = lost,
                "the notes database did not take the text of some calls before the app exited"
            );
        }
    }

    fn write_note(&self, call_id: &str, text: &str) -> Result<Note, ErrorBody> {
        let facts = self.notes_for(call_id)?;
        facts
            .notes
            .save_draft(call_id, text, facts.phone.as_deref(), facts.target)
    }

    /// The notes desk, told the call's activity when its call card named it, and the call's
    /// number and record: what every write of a call's note needs first.
    fn notes_for(&self, call_id: &str) -> Result<NoteFacts<'_>, ErrorBody> {
        let notes = self.notes()?;
        if let Some(activity_id) = self.call_activity(call_id) {
            notes.activity_known(call_id, activity_id);
        }
        let (phone, target) = self.call_facts(call_id);
        Ok(NoteFacts {
            notes,
            phone,
            target,
        })
    }

    /// One task on the runtime offers held text every [`RETRY_EVERY`] (SQLite on the blocking
    /// pool) until nothing is held.
    fn offer_unsaved_again(self: &Arc<Self>) {
        let app = Arc::downgrade(self);
        let every = self.unsaved_retry.unwrap_or(RETRY_EVERY);
        crate::rt::handle().spawn(async move {
            loop {
                tokio::time::sleep(every).await;
                let Some(app) = app.upgrade() else { break };
                let done = tokio::task::spawn_blocking(move || {
                    app.keep_unsaved_now();
                    app.unsaved.done_offering()
                })
                .await
                .unwrap_or(true);
                if done {
                    break;
                }
            }
        });
    }
}

/// What a write of a call's note needs: the desk, and the call's number and record.
struct NoteFacts<'a> {
    notes: &'a Arc<crate::notes_desk::NotesDesk>,
    phone: Option<String>,
    target: Option<notes::Target>,
}
