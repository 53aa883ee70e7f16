//! The app's side of notes: drafts kept as the agent types, "Save to CRM", and a worker that
//! delivers the outbox whenever the portal is reachable. The window hears of every change.

use std::collections::HashMap;
use std::path::Path;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use notes::{deliver, Note, NoteStore, OutboxPolicy, SendAtEnd, StoreError, StoredCall, Target};

use crate::desk::now_ms;
use crate::portal::PortalDesk;
use crate::ErrorBody;

type Notify = Box<dyn Fn(&Note) + Send + Sync>;

pub struct NotesDesk {
    store: NoteStore,
    portal: Arc<PortalDesk>,
    policy: OutboxPolicy,
    notify: OnceLock<Notify>,
    /// Wakes the worker early (a note was queued, the portal came back). A wake while the
    /// worker is busy is kept for its next wait.
    wake: tokio::sync::Notify,
    /// Calls' activities named before their note's first keystroke (kept until the note exists;
    /// the window passes the call's activity with every save too, so a restart loses nothing).
    activities: Mutex<HashMap<String, u64>>,
    /// The calls to keep, in the order they changed: one task writes them on the blocking pool,
    /// so the door a call came through never waits for the disk.
    calls: OnceLock<tokio::sync::mpsc::UnboundedSender<CallChange>>,
}

/// A call that changed, as the rules hand it to the notes desk.
pub struct CallChange {
    pub call: StoredCall,
    /// The call's CRM activity, when its call card named it.
    pub activity_id: Option<u64>,
    /// The call ended and the agent chose to send notes then.
    pub send: Option<SendAtEnd>,
}

impl From<StoreError> for ErrorBody {
    fn from(e: StoreError) -> ErrorBody {
        ErrorBody::new(e.code(), e.to_string())
    }
}

impl NotesDesk {
    /// Opens the notes database; a damaged one is set aside and the sentence says where.
    pub fn open(
        path: &Path,
        portal: Arc<PortalDesk>,
    ) -> Result<(NotesDesk, Option<String>), StoreError> {
        let (store, notice) = NoteStore::open_or_set_aside(path)?;
        let desk = NotesDesk {
            store,
            portal,
            policy: OutboxPolicy::default(),
            notify: OnceLock::new(),
            wake: tokio::sync::Notify::new(),
            activities: Mutex::new(HashMap::new()),
            calls: OnceLock::new(),
        };
        Ok((desk, notice))
    }

    /// The recent calls kept at the last run, newest first.
    pub fn recent_calls(&self, limit: usize) -> Result<Vec<StoredCall>, StoreError> {
        self.store.recent_calls(limit)
    }

    /// Keeps calls an older version listed in its own file, unless calls are kept already.
    pub fn import_calls(&self, calls: &[StoredCall], keep: usize) -> Result<(), StoreError> {
        if self.store.has_calls()? {
            return Ok(());
        }
        // Oldest first, so each keeps its place in the list.
        for call in calls.iter().rev() {
            self.store.save_call(call, keep, None)?;
        }
        Ok(())
    }

    /// Queues a call's change to be kept: its activity named for its note, the call written
    /// and, at its end when the agent chose so, its note sent, in one transaction.
    pub fn keep_call(self: &Arc<Self>, change: CallChange) {
        let writer = self.calls.get_or_init(|| {
            let (sender, mut changes) = tokio::sync::mpsc::unbounded_channel::<CallChange>();
            let desk = Arc::downgrade(self);
            crate::rt::handle().spawn(async move {
                while let Some(change) = changes.recv().await {
                    let Some(desk) = desk.upgrade() else { break };
                    // One at a time, in order: a later state never lands before an earlier one.
                    let _ = tokio::task::spawn_blocking(move || desk.write_call(change)).await;
                }
            });
            sender
        });
        let _ = writer.send(change);
    }

    fn write_call(&self, change: CallChange) {
        if let Some(activity_id) = change.activity_id {
            self.activity_known(&change.call.call_id, activity_id);
        }
        match self.store.save_call(
            &change.call,
            crate::calls::RECENT_LIMIT,
            change.send.as_ref(),
        ) {
            Ok(Some(queued)) => {
                tracing::info!(call_id = %queued.call_id, "the call ended: its note goes to the CRM");
                self.tell(&queued);
                self.wake();
            }
            Ok(None) => {}
            // The call is on screen whatever the disk says; a note stays a draft to send by hand.
            Err(e) => tracing::warn!(
                code = e.code().as_str(),
                call_id = %change.call.call_id,
                "the call was not kept: {e}"
            ),
        }
    }

    pub fn with_policy(mut self, policy: OutboxPolicy) -> NotesDesk {
        self.policy = policy;
        self
    }

    pub fn on_change(&self, notify: Notify) {
        let _ = self.notify.set(notify);
    }

    fn tell(&self, note: &Note) {
        if let Some(notify) = self.notify.get() {
            notify(note);
        }
    }

    pub fn note(&self, call_id: &str) -> Result<Option<Note>, ErrorBody> {
        Ok(self.store.get(call_id)?)
    }

    /// Keeps what the agent typed; `target` is the call's CRM record when known.
    pub fn save_draft(
        &self,
        call_id: &str,
        text: &str,
        phone: Option<&str>,
        target: Option<Target>,
    ) -> Result<Note, ErrorBody> {
        let note = self
            .store
            .save_draft(call_id, text, phone, target.as_ref(), now_ms())?;
        self.written(call_id, note)
    }

    /// The agent picked (or cleared) the call's outcome; it goes to the CRM with the note.
    pub fn set_outcome(
        &self,
        call_id: &str,
        outcome: Option<&str>,
        phone: Option<&str>,
        target: Option<Target>,
    ) -> Result<Note, ErrorBody> {
        let note = self
            .store
            .set_outcome(call_id, outcome, phone, target.as_ref(), now_ms())?;
        self.written(call_id, note)
    }

    /// After a write of the call's note: the activity the call card named meanwhile, and the
    /// window told.
    fn written(&self, call_id: &str, mut note: Note) -> Result<Note, ErrorBody> {
        let pending = self
            .activities
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .remove(call_id);
        if let Some(activity_id) = pending {
            if let Some(with_activity) = self.store.set_activity(call_id, activity_id)? {
                note = with_activity;
            }
        }
        self.tell(&note);
        Ok(note)
    }

    /// The call card named the call's CRM activity (`CRM_ACTIVITY_ID`, often only in a later
    /// update of the call): a note not yet in the CRM goes there; one already sent as a comment
    /// stays that comment (no second copy).
    pub fn activity_known(&self, call_id: &str, activity_id: u64) {
        match self.store.get(call_id) {
            Ok(Some(_)) => match self.store.set_activity(call_id, activity_id) {
                Ok(Some(note)) => {
                    self.tell(&note);
                    self.wake();
                }
                Ok(None) => {}
                Err(e) => tracing::warn!(code = e.code().as_str(), "{e}"),
            },
            Ok(None) => {
                let mut pending = self.activities.lock().unwrap_or_else(|e| e.into_inner());
                // Bounded like the calls the window lists.
                if pending.len() >= 64 {
                    pending.clear();
                }
                pending.insert(call_id.to_owned(), activity_id);
            }
            Err(e) => tracing::warn!(code = e.code().as_str(), "{e}"),
        }
    }

    /// "Save to CRM".
    pub fn send(&self, call_id: &str, target: Option<Target>) -> Result<Note, ErrorBody> {
        if let Some(target) = &target {
            self.store.set_target(call_id, target)?;
        }
        let note = self.store.queue(call_id, now_ms())?;
        self.tell(&note);
        self.wake();
        Ok(note)
    }

    /// The call's record is known or changed: an unsent note goes there.
    pub fn record_known(&self, call_id: &str, target: Target) {
        match self.store.set_target(call_id, &target) {
            Ok(Some(note)) => {
                self.tell(&note);
                self.wake();
            }
            Ok(None) => {}
            Err(e) => tracing::warn!(code = e.code().as_str(), "{e}"),
        }
    }

    /// Earlier notes about the same number or record.
    pub fn history(
        &self,
        call_id: &str,
        phone: Option<&str>,
        target: Option<&Target>,
    ) -> Result<Vec<Note>, ErrorBody> {
        Ok(self.store.history(phone, target, call_id, 10)?)
    }

    pub fn wake(&self) {
        self.wake.notify_one();
    }

    /// Sends what is due, for as long as the app runs: one task on the runtime, which sleeps
    /// until the next note is due (a minute at most) or until woken. SQLite waits on the
    /// blocking pool.
    pub fn start_worker(self: &Arc<Self>) {
        let desk = self.clone();
        crate::rt::handle().spawn(async move {
            loop {
                desk.deliver_due().await;
                let store = desk.store.clone();
                let wait = match tokio::task::spawn_blocking(move || store.next_due_ms()).await {
                    Ok(Ok(Some(at))) => {
                        Duration::from_millis(at.saturating_sub(now_ms()).clamp(50, 60_000))
                    }
                    _ => Duration::from_secs(60),
                };
                let _ = tokio::time::timeout(wait, desk.wake.notified()).await;
            }
        });
    }

    /// One pass over the outbox (also what tests call).
    pub async fn deliver_due(&self) {
        let Some(client) = self.portal.client() else {
            return;
        };
        let store = self.store.clone();
        let due = match tokio::task::spawn_blocking(move || store.due(now_ms())).await {
            Ok(Ok(due)) => due,
            Ok(Err(e)) => {
                tracing::error!(code = e.code().as_str(), "{e}");
                return;
            }
            Err(e) => {
                tracing::error!(
                    code = "notes_failed",
                    "reading the outbox was interrupted: {e}"
                );
                return;
            }
        };
        for note in due {
            match deliver(&self.store, &client, &note, now_ms(), &self.policy).await {
                Ok(_) => {
                    let (store, call_id) = (self.store.clone(), note.call_id.clone());
                    if let Ok(Ok(Some(updated))) =
                        tokio::task::spawn_blocking(move || store.get(&call_id)).await
                    {
                        self.tell(&updated);
                    }
                }
                Err(e) => tracing::error!(code = e.code().as_str(), "{e}"),
            }
        }
    }
}
