//! The recent calls, in the same database as their notes: one store, so a call's end and the
//! note it sends (when the agent chose "send notes at the end of a call") are one transaction:
//! after a crash either both happened or neither did. Each call is a row the app rewrites when
//! the call changes, not a file rewritten whole for every report.

use rusqlite::{params, Connection, OptionalExtension};

use crate::store::{NoteStore, StoreError, Target};
use crate::Note;

pub(crate) const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS calls (
    call_id TEXT PRIMARY KEY,
    context TEXT NOT NULL,
    first_seen_ms INTEGER NOT NULL,
    updated_ms INTEGER NOT NULL,
    reports INTEGER NOT NULL,
    unverified INTEGER NOT NULL DEFAULT 0
);
";

/// Columns a database made by an earlier version lacks.
pub(crate) const ADDED_COLUMNS: &[(&str, &str)] = &[("unverified", "INTEGER NOT NULL DEFAULT 0")];

/// A call as the recent-calls list keeps it. `context` is the app's JSON of the call context
/// (this crate does not read it); it holds phone numbers, never tokens.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredCall {
    pub call_id: String,
    pub context: String,
    pub first_seen_ms: u64,
    pub updated_ms: u64,
    pub reports: u32,
    /// Known only from a link the app could not verify.
    pub unverified: bool,
}

/// The call ended and the agent chose to send notes then: its note, if it is a draft with text,
/// goes to the CRM (to `target` when the call's record is known).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SendAtEnd {
    pub target: Option<Target>,
    pub now_ms: u64,
}

impl NoteStore {
    /// Keeps `call` (the newest `keep` calls stay, by when each was first heard of) and, with
    /// `send`, queues its note, in one transaction. The queued note, when one was.
    pub fn save_call(
        &self,
        call: &StoredCall,
        keep: usize,
        send: Option<&SendAtEnd>,
    ) -> Result<Option<Note>, StoreError> {
        let mut conn = self.conn();
        let tx = conn.transaction()?;
        tx.execute(
            "INSERT INTO calls (call_id, context, first_seen_ms, updated_ms, reports, unverified)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6)
             ON CONFLICT (call_id) DO UPDATE SET context = ?2, updated_ms = ?4, reports = ?5, unverified = ?6",
            params![
                call.call_id,
                call.context,
                call.first_seen_ms as i64,
                call.updated_ms as i64,
                call.reports,
                call.unverified
            ],
        )?;
        tx.execute(
            "DELETE FROM calls WHERE rowid NOT IN
             (SELECT rowid FROM calls ORDER BY first_seen_ms DESC, rowid DESC LIMIT ?1)",
            params![keep as i64],
        )?;
        let queued = match send {
            Some(send) => queue_at_end(&tx, &call.call_id, send)?,
            None => false,
        };
        tx.commit()?;
        drop(conn);
        if queued {
            self.get(&call.call_id)
        } else {
            Ok(None)
        }
    }

    /// The kept calls, newest first, at most `limit`.
    pub fn recent_calls(&self, limit: usize) -> Result<Vec<StoredCall>, StoreError> {
        let conn = self.reader();
        let mut statement = conn.prepare(
            "SELECT call_id, context, first_seen_ms, updated_ms, reports, unverified FROM calls
             ORDER BY first_seen_ms DESC, rowid DESC LIMIT ?1",
        )?;
        let calls = statement
            .query_map(params![limit as i64], |row| {
                Ok(StoredCall {
                    call_id: row.get(0)?,
                    context: row.get(1)?,
                    first_seen_ms: row.get::<_, i64>(2)? as u64,
                    updated_ms: row.get::<_, i64>(3)? as u64,
                    reports: row.get(4)?,
                    unverified: row.get(5)?,
                })
            })?
            .collect::<Result<Vec<_>, _>>()?;
        Ok(calls)
    }

    /// Whether any call is kept (an older version's list is imported only into an empty one).
    pub fn has_calls(&self) -> Result<bool, StoreError> {
        Ok(self
            .reader()
            .query_row("SELECT 1 FROM calls LIMIT 1", [], |_| Ok(()))
            .optional()?
            .is_some())
    }
}

/// A draft with text goes to the CRM; anything else (no note, an empty one, one already queued,
/// sent or failed) stays as it is. Whether it was queued.
fn queue_at_end(conn: &Connection, call_id: &str, send: &SendAtEnd) -> Result<bool, StoreError> {
    if let Some(target) = &send.target {
        crate::store::set_target_on(conn, call_id, target)?;
    }
    let queued = crate::store::queue_on(
        conn,
        call_id,
        send.now_ms,
        "state = 'draft' AND TRIM(text, ' ' || char(9) || char(10) || char(13)) <> ''",
    )?;
    Ok(queued > 0)
}
