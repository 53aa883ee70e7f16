//! The notes database: one row per call's note, its text, where it goes, and where its delivery
//! stands. Each write is its own durable transaction.

use std::path::Path;
use std::sync::Mutex;

use rusqlite::{params, Connection, OptionalExtension};
use serde::Serialize;
use ts_rs::TS;

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("the notes database at {path} cannot be opened: {reason}")]
    Open { path: String, reason: String },
    #[error("the notes database at {path} is damaged and cannot be read: {reason}")]
    Damaged { path: String, reason: String },
    /// SQLite said SQLITE_FULL: the write was rolled back whole, earlier notes are intact.
    #[error("the disk is full, so this note is not saved on this computer yet; free some space and the app saves it again by itself")]
    DiskFull,
    #[error("the notes database failed: {0}")]
    Sql(rusqlite::Error),
    #[error("no note for call {0}")]
    NoNote(String),
    /// A write on the blocking pool did not finish (the runtime shut down under it).
    #[error("the notes database's write was interrupted: {0}")]
    Interrupted(String),
}

impl From<rusqlite::Error> for StoreError {
    fn from(e: rusqlite::Error) -> StoreError {
        match e.sqlite_error_code() {
            Some(rusqlite::ErrorCode::DiskFull) => StoreError::DiskFull,
            _ => StoreError::Sql(e),
        }
    }
}

impl StoreError {
    pub fn code(&self) -> codes::ErrorCode {
        match self {
            StoreError::Open { .. } => codes::ErrorCode::NotesUnavailable,
            StoreError::Damaged { .. } => codes::ErrorCode::NotesDamaged,
            StoreError::DiskFull => codes::ErrorCode::NotesDiskFull,
            StoreError::Sql(_) | StoreError::Interrupted(_) => codes::ErrorCode::NotesFailed,
            StoreError::NoNote(_) => codes::ErrorCode::NoNote,
        }
    }
}

/// Where a note goes: a CRM record (`contact`, `company`, `lead`, `deal`) and its id.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, TS)]
pub struct Target {
    pub kind: String,
    #[ts(type = "number")]
    pub id: u64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, TS)]
#[serde(rename_all = "snake_case")]
pub enum NoteState {
    /// Typed and kept on this computer; not asked to go to the CRM yet.
    Draft,
    /// Asked to go to the CRM, waiting for its turn (or for the portal to come back).
    Queued,
    /// Asked to go, but the call has no CRM record yet: pick or create one.
    WaitingForRecord,
    /// In the CRM as it is now.
    Sent,
    /// The CRM refused it (no permission, record deleted): kept here, see the reason.
    Failed,
}

impl NoteState {
    fn parse(text: &str) -> NoteState {
        match text {
            "queued" => NoteState::Queued,
            "waiting_for_record" => NoteState::WaitingForRecord,
            "sent" => NoteState::Sent,
            "failed" => NoteState::Failed,
            _ => NoteState::Draft,
        }
    }
}

/// Where the CRM holds a note (or where the send in flight goes).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, TS)]
#[serde(rename_all = "snake_case")]
pub enum Via {
    /// A timeline comment on the record (`crm.timeline.comment.add`), carrying the marker.
    Comment,
    /// The note of the call's own activity (`crm.timeline.note.save`, `itemType` 2).
    Activity,
}

impl Via {
    fn parse(text: Option<String>) -> Option<Via> {
        match text.as_deref() {
            Some("comment") => Some(Via::Comment),
            Some("activity") => Some(Via::Activity),
            _ => None,
        }
    }

    fn as_str(self) -> &'static str {
        match self {
            Via::Comment => "comment",
            Via::Activity => "activity",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, TS)]
pub struct Note {
    /// Random, 12 hex digits; also the marker in the CRM comment.
    pub id: String,
    pub call_id: String,
    pub phone: Option<String>,
    pub target: Option<Target>,
    pub text: String,
    pub state: NoteState,
    #[ts(type = "number")]
    pub updated_ms: u64,
    /// The CRM comment this note became, once sent.
    #[ts(type = "number | null")]
    pub comment_id: Option<u64>,
    /// What the CRM has ([`Note::body`]: an edit of the text or the outcome after sending
    /// differs and is sent again).
    pub sent_text: Option<String>,
    #[ts(type = "number | null")]
    pub sent_ms: Option<u64>,
    pub error_code: Option<codes::ErrorCode>,
    pub error_message: Option<String>,
    pub attempts: u32,
    #[ts(type = "number")]
    pub next_attempt_ms: u64,
    /// A send may have reached the portal without an answer: look before sending again.
    pub maybe_sent: bool,
    /// The call's CRM activity, once the call card named it (`CRM_ACTIVITY_ID`): a note not yet
    /// in the CRM goes there.
    #[ts(type = "number | null")]
    pub activity_id: Option<u64>,
    /// Where the CRM has the note (`sent_ms` set), or where the send under way goes.
    pub via: Option<Via>,
    /// The call's outcome the agent picked (a label from the wrap-up list), sent with the text.
    pub outcome: Option<String>,
}

impl Note {
    /// What the CRM is to hold: the outcome on a line of its own above the text.
    pub fn body(&self) -> String {
        body(self.outcome.as_deref(), &self.text)
    }
}

/// The note as the CRM holds it; [`BODY_SQL`] says the same in SQL, over the columns.
pub fn body(outcome: Option<&str>, text: &str) -> String {
    match outcome.filter(|o| !o.is_empty()) {
        Some(outcome) => format!("[{outcome}]\n{text}"),
        None => text.to_owned(),
    }
}

/// [`body`] of a row, for the statements that compare it with what was sent.
const BODY_SQL: &str =
    "(CASE WHEN COALESCE(outcome, '') = '' THEN text ELSE '[' || outcome || ']' || char(10) || text END)";

/// The notes database; a clone is another handle on the same connections (the outbox hands
/// one to the blocking pool for each write).
#[derive(Clone)]
pub struct NoteStore {
    connections: std::sync::Arc<Connections>,
}

struct Connections {
    /// Reads go through a connection of their own: in WAL mode a reader does not wait for a
    /// commit, so the window reading a note never waits behind a save's `fsync` (measured:
    /// `cargo xtask bench`, command round trips on a slow disk). Declared first, so it closes
    /// first: the writer, closing last, checkpoints and removes the WAL as before.
    reader: Mutex<Connection>,
    conn: Mutex<Connection>,
}

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS notes (
    id TEXT PRIMARY KEY,
    call_id TEXT NOT NULL UNIQUE,
    phone TEXT,
    target_kind TEXT,
    target_id INTEGER,
    text TEXT NOT NULL,
    state TEXT NOT NULL,
    updated_ms INTEGER NOT NULL,
    comment_id INTEGER,
    sent_text TEXT,
    sent_ms INTEGER,
    error_code TEXT,
    error_message TEXT,
    attempts INTEGER NOT NULL DEFAULT 0,
    next_attempt_ms INTEGER NOT NULL DEFAULT 0,
    maybe_sent INTEGER NOT NULL DEFAULT 0,
    activity_id INTEGER,
    via TEXT,
    outcome TEXT
);
CREATE INDEX IF NOT EXISTS notes_phone ON notes (phone);
CREATE INDEX IF NOT EXISTS notes_target ON notes (target_kind, target_id);
";

const COLUMNS: &str = "id, call_id, phone, target_kind, target_id, text, state, updated_ms, comment_id, sent_text, sent_ms, error_code, error_message, attempts, next_attempt_ms, maybe_sent, activity_id, via, outcome";

/// Columns added after the first release, for databases made before them.
const ADDED_COLUMNS: &[(&str, &str)] = &[
    ("activity_id", "INTEGER"),
    ("via", "TEXT"),
    ("outcome", "TEXT"),
];

fn row_to_note(row: &rusqlite::Row<'_>) -> rusqlite::Result<Note> {
    let kind: Option<String> = row.get(3)?;
    let id: Option<i64> = row.get(4)?;
    Ok(Note {
        id: row.get(0)?,
        call_id: row.get(1)?,
        phone: row.get(2)?,
        target: kind.zip(id).map(|(kind, id)| Target {
            kind,
            id: id as u64,
        }),
        text: row.get(5)?,
        state: NoteState::parse(&row.get::<_, String>(6)?),
        updated_ms: row.get::<_, i64>(7)? as u64,
        comment_id: row.get::<_, Option<i64>>(8)?.map(|v| v as u64),
        sent_text: row.get(9)?,
        sent_ms: row.get::<_, Option<i64>>(10)?.map(|v| v as u64),
        error_code: row
            .get::<_, Option<String>>(11)?
            .map(|code| codes::ErrorCode::parse(&code)),
        error_message: row.get(12)?,
        attempts: row.get::<_, i64>(13)? as u32,
        next_attempt_ms: row.get::<_, i64>(14)? as u64,
        maybe_sent: row.get::<_, i64>(15)? != 0,
        activity_id: row.get::<_, Option<i64>>(16)?.map(|v| v as u64),
        // Rows from before `via` was kept: a comment, if anything.
        via: Via::parse(row.get(17)?).or_else(|| {
            (row.get::<_, Option<i64>>(8).ok().flatten().is_some()
                || row.get::<_, i64>(15).ok() == Some(1))
            .then_some(Via::Comment)
        }),
        outcome: row.get(18)?,
    })
}

impl NoteStore {
    /// Opens (or creates) the database file. WAL with full synchronous commits: a commit that
    /// returned is on disk, whatever happens to the process or the machine next.
    pub fn open(path: &Path) -> Result<NoteStore, StoreError> {
        let fail = |e: rusqlite::Error| match e.sqlite_error_code() {
            Some(rusqlite::ErrorCode::DiskFull) => StoreError::DiskFull,
            Some(rusqlite::ErrorCode::NotADatabase | rusqlite::ErrorCode::DatabaseCorrupt) => {
                StoreError::Damaged {
                    path: path.display().to_string(),
                    reason: e.to_string(),
                }
            }
            _ => StoreError::Open {
                path: path.display().to_string(),
                reason: e.to_string(),
            },
        };
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir).map_err(|e| StoreError::Open {
                path: path.display().to_string(),
                reason: e.to_string(),
            })?;
        }
        let conn = Connection::open(path).map_err(fail)?;
        conn.pragma_update(None, "journal_mode", "WAL")
            .map_err(fail)?;
        conn.pragma_update(None, "synchronous", "FULL")
            .map_err(fail)?;
        conn.busy_timeout(std::time::Duration::from_secs(5))
            .map_err(fail)?;
        conn.execute_batch(SCHEMA).map_err(fail)?;
        conn.execute_batch(crate::calls::SCHEMA).map_err(fail)?;
        add_missing_columns(&conn, "notes", ADDED_COLUMNS).map_err(fail)?;
        add_missing_columns(&conn, "calls", crate::calls::ADDED_COLUMNS).map_err(fail)?;
        let reader = Connection::open_with_flags(
            path,
            rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY | rusqlite::OpenFlags::SQLITE_OPEN_NO_MUTEX,
        )
        .map_err(fail)?;
        reader
            .busy_timeout(std::time::Duration::from_secs(5))
            .map_err(fail)?;
        Ok(NoteStore {
            connections: std::sync::Arc::new(Connections {
                reader: Mutex::new(reader),
                conn: Mutex::new(conn),
            }),
        })
    }

    /// Opens the database; a damaged one is moved aside whole (never deleted: its notes may
    /// still be recovered by hand) and a fresh one started. The sentence says where it went.
    pub fn open_or_set_aside(path: &Path) -> Result<(NoteStore, Option<String>), StoreError> {
        match NoteStore::open(path) {
            Err(StoreError::Damaged { reason, .. }) => {
                let stamp = std::time::SystemTime::now()
                    .duration_since(std::time::UNIX_EPOCH)
                    .map(|d| d.as_secs())
                    .unwrap_or(0);
                let mut aside = path.with_extension(format!("sqlite3.damaged-{stamp}"));
                let mut n = 1;
                while aside.exists() {
                    aside = path.with_extension(format!("sqlite3.damaged-{stamp}-{n}"));
                    n += 1;
                }
                // The WAL and index first: a fresh database must never meet the old WAL.
                for suffix in ["-wal", "-shm", ""] {
                    let from = format!("{}{suffix}", path.display());
                    let to = format!("{}{suffix}", aside.display());
                    match std::fs::rename(&from, &to) {
                        Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
                            return Err(StoreError::Damaged {
                                path: path.display().to_string(),
                                reason: format!("{reason}; it could not be moved aside: {e}"),
                            })
                        }
                        _ => {}
                    }
                }
                let store = NoteStore::open(path)?;
                let notice = format!(
                    "the notes database {} was damaged ({reason}); it is kept as {} and a new one was started",
                    path.display(),
                    aside.display()
                );
                Ok((store, Some(notice)))
            }
            other => other.map(|store| (store, None)),
        }
    }

    pub(crate) fn conn(&self) -> std::sync::MutexGuard<'_, Connection> {
        self.connections
            .conn
            .lock()
            .unwrap_or_else(|e| e.into_inner())
    }

    pub(crate) fn reader(&self) -> std::sync::MutexGuard<'_, Connection> {
        self.connections
            .reader
            .lock()
            .unwrap_or_else(|e| e.into_inner())
    }

    pub fn get(&self, call_id: &str) -> Result<Option<Note>, StoreError> {
        Ok(self
            .reader()
            .query_row(
                &format!("SELECT {COLUMNS} FROM notes WHERE call_id = ?1"),
                params![call_id],
                row_to_note,
            )
            .optional()?)
    }

    fn must(&self, call_id: &str) -> Result<Note, StoreError> {
        self.get(call_id)?
            .ok_or_else(|| StoreError::NoNote(call_id.to_owned()))
    }

    /// Keeps the draft's text (creating the note on the first keystroke). A sent note edited
    /// goes back to waiting for "Save to CRM".
    pub fn save_draft(
        &self,
        call_id: &str,
        text: &str,
        phone: Option<&str>,
        target: Option<&Target>,
        now_ms: u64,
    ) -> Result<Note, StoreError> {
        {
            let conn = self.conn();
            let existing: Option<String> = conn
                .query_row(
                    "SELECT id FROM notes WHERE call_id = ?1",
                    params![call_id],
                    |r| r.get(0),
                )
                .optional()?;
            match existing {
                None => {
                    conn.execute(
                        &format!("INSERT INTO notes ({COLUMNS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6, 'draft', ?7, NULL, NULL, NULL, NULL, NULL, 0, 0, 0, NULL, NULL, NULL)"),
                        params![new_id(), call_id, phone, target.map(|t| t.kind.clone()), target.map(|t| t.id as i64), text, now_ms as i64],
                    )?;
                }
                Some(_) => {
                    // Queued or failed notes keep their state (the outbox sends the newest text);
                    // a sent one is a draft again until saved.
                    conn.execute(
                        "UPDATE notes SET text = ?2, updated_ms = ?3, phone = COALESCE(phone, ?4),
                         state = CASE WHEN state = 'sent' AND (CASE WHEN COALESCE(outcome, '') = '' THEN ?2 ELSE '[' || outcome || ']' || char(10) || ?2 END) <> COALESCE(sent_text, '') THEN 'draft' ELSE state END
                         WHERE call_id = ?1",
                        params![call_id, text, now_ms as i64, phone],
                    )?;
                }
            }
        }
        self.must(call_id)
    }

    /// The agent picked the call's outcome (`None`: cleared), creating the note if it has none
    /// yet. Like an edit of the text, a changed outcome makes a sent note a draft again.
    pub fn set_outcome(
        &self,
        call_id: &str,
        outcome: Option<&str>,
        phone: Option<&str>,
        target: Option<&Target>,
        now_ms: u64,
    ) -> Result<Note, StoreError> {
        if self.get(call_id)?.is_none() {
            self.save_draft(call_id, "", phone, target, now_ms)?;
        }
        self.conn().execute(
            &format!(
                "UPDATE notes SET outcome = ?2, updated_ms = ?3,
                 state = CASE WHEN state = 'sent' AND {BODY_SQL} <> COALESCE(sent_text, '') THEN 'draft' ELSE state END
                 WHERE call_id = ?1"
            ),
            params![call_id, outcome.filter(|o| !o.is_empty()), now_ms as i64],
        )?;
        self.must(call_id)
    }

    /// The call's CRM record changed (or the agent picked one): the note goes there.
    pub fn set_target(&self, call_id: &str, target: &Target) -> Result<Option<Note>, StoreError> {
        set_target_on(&self.conn(), call_id, target)?;
        self.get(call_id)
    }

    /// The call's CRM activity became known: a note not yet in the CRM goes there (a note already
    /// sent stays where it is, so nothing is written twice). `None` when nothing changed.
    pub fn set_activity(
        &self,
        call_id: &str,
        activity_id: u64,
    ) -> Result<Option<Note>, StoreError> {
        let changed = self.conn().execute(
            "UPDATE notes SET activity_id = ?2
             WHERE call_id = ?1 AND sent_ms IS NULL AND activity_id IS NOT ?2
             AND NOT (maybe_sent = 1 AND via = 'activity')",
            params![call_id, activity_id as i64],
        )?;
        if changed == 0 {
            return Ok(None);
        }
        self.get(call_id)
    }

    /// "Save to CRM": into the outbox (or waiting for a record when the call has none).
    pub fn queue(&self, call_id: &str, now_ms: u64) -> Result<Note, StoreError> {
        queue_on(
            &self.conn(),
            call_id,
            now_ms,
            &format!("state <> 'sent' OR {BODY_SQL} <> COALESCE(sent_text, '')"),
        )?;
        self.must(call_id)
    }

    /// Notes whose turn has come.
    pub fn due(&self, now_ms: u64) -> Result<Vec<Note>, StoreError> {
        let conn = self.reader();
        let mut statement = conn.prepare(&format!("SELECT {COLUMNS} FROM notes WHERE state = 'queued' AND next_attempt_ms <= ?1 ORDER BY updated_ms"))?;
        let now = i64::try_from(now_ms).unwrap_or(i64::MAX);
        let notes = statement
            .query_map(params![now], row_to_note)?
            .collect::<Result<Vec<_>, _>>()?;
        Ok(notes)
    }

    /// The earliest time a queued note waits for, if any.
    pub fn next_due_ms(&self) -> Result<Option<u64>, StoreError> {
        Ok(self
            .reader()
            .query_row(
                "SELECT MIN(next_attempt_ms) FROM notes WHERE state = 'queued'",
                [],
                |r| r.get::<_, Option<i64>>(0),
            )?
            .map(|v| v as u64))
    }

    /// Records that a send `via` a channel is about to go out (so a crash right after is treated
    /// as "maybe sent"): a first comment, or any save on the activity that does not yet hold the
    /// note (an update of what the CRM already has cannot make a second copy).
    pub fn begin_send(&self, id: &str, via: Via) -> Result<(), StoreError> {
        self.conn().execute(
            "UPDATE notes SET attempts = attempts + 1,
             maybe_sent = CASE
                 WHEN ?2 = 'comment' AND comment_id IS NULL THEN 1
                 WHEN ?2 = 'activity' AND NOT (COALESCE(via, '') = 'activity' AND sent_ms IS NOT NULL) THEN 1
                 ELSE maybe_sent END,
             via = CASE WHEN comment_id IS NULL THEN ?2 ELSE via END
             WHERE id = ?1",
            params![id, via.as_str()],
        )?;
        Ok(())
    }

    /// The call's activity has `text` as its note.
    pub fn mark_sent_on_activity(
        &self,
        id: &str,
        text: &str,
        now_ms: u64,
    ) -> Result<(), StoreError> {
        self.conn().execute(
            &format!("UPDATE notes SET via = 'activity', sent_text = ?2, sent_ms = ?3, maybe_sent = 0, attempts = 0,
             error_code = NULL, error_message = NULL,
             state = CASE WHEN {BODY_SQL} = ?2 THEN 'sent' ELSE 'queued' END, next_attempt_ms = ?3
             WHERE id = ?1"),
            params![id, text, now_ms as i64],
        )?;
        Ok(())
    }

    /// The CRM has `text` as comment `comment_id`. If the agent typed more meanwhile, the note
    /// stays queued to send the newer text.
    pub fn mark_sent(
        &self,
        id: &str,
        comment_id: u64,
        text: &str,
        now_ms: u64,
    ) -> Result<(), StoreError> {
        self.conn().execute(
            &format!("UPDATE notes SET comment_id = ?2, via = 'comment', sent_text = ?3, sent_ms = ?4, maybe_sent = 0, attempts = 0,
             error_code = NULL, error_message = NULL,
             state = CASE WHEN {BODY_SQL} = ?3 THEN 'sent' ELSE 'queued' END, next_attempt_ms = ?4
             WHERE id = ?1"),
            params![id, comment_id as i64, text, now_ms as i64],
        )?;
        Ok(())
    }

    /// Try again at `retry_at_ms`; `unknown` when the request may have reached the portal.
    pub fn mark_retry(
        &self,
        id: &str,
        code: codes::ErrorCode,
        message: &str,
        retry_at_ms: u64,
        unknown: bool,
    ) -> Result<(), StoreError> {
        self.conn().execute(
            "UPDATE notes SET error_code = ?2, error_message = ?3, next_attempt_ms = ?4,
             maybe_sent = CASE WHEN ?5 THEN maybe_sent ELSE 0 END WHERE id = ?1",
            params![id, code.as_str(), message, retry_at_ms as i64, unknown],
        )?;
        Ok(())
    }

    /// The CRM refused for good: keep the note, say why.
    pub fn mark_failed(
        &self,
        id: &str,
        code: codes::ErrorCode,
        message: &str,
    ) -> Result<(), StoreError> {
        self.conn().execute(
            "UPDATE notes SET state = 'failed', error_code = ?2, error_message = ?3, maybe_sent = 0 WHERE id = ?1",
            params![id, code.as_str(), message],
        )?;
        Ok(())
    }

    /// Earlier notes about the same number or record, newest first (the card shows them).
    pub fn history(
        &self,
        phone: Option<&str>,
        target: Option<&Target>,
        except_call: &str,
        limit: usize,
    ) -> Result<Vec<Note>, StoreError> {
        let conn = self.reader();
        let mut statement = conn.prepare(&format!(
            "SELECT {COLUMNS} FROM notes WHERE call_id <> ?1 AND text <> ''
             AND ((?2 IS NOT NULL AND phone = ?2) OR (?3 IS NOT NULL AND target_kind = ?3 AND target_id = ?4))
             ORDER BY updated_ms DESC LIMIT ?5"
        ))?;
        let notes = statement
            .query_map(
                params![
                    except_call,
                    phone,
                    target.map(|t| t.kind.clone()),
                    target.map(|t| t.id as i64),
                    limit as i64
                ],
                row_to_note,
            )?
            .collect::<Result<Vec<_>, _>>()?;
        Ok(notes)
    }

    pub fn all(&self) -> Result<Vec<Note>, StoreError> {
        let conn = self.reader();
        let mut statement =
            conn.prepare(&format!("SELECT {COLUMNS} FROM notes ORDER BY updated_ms"))?;
        let notes = statement
            .query_map([], row_to_note)?
            .collect::<Result<Vec<_>, _>>()?;
        Ok(notes)
    }
}

/// `ALTER TABLE … ADD COLUMN` for each column an older database lacks (one transaction each,
/// idempotent: a column already there is left alone).
fn add_missing_columns(
    conn: &Connection,
    table: &str,
    added: &[(&str, &str)],
) -> rusqlite::Result<()> {
    let mut have = Vec::new();
    {
        let mut statement = conn.prepare(&format!("PRAGMA table_info({table})"))?;
        let names = statement.query_map([], |r| r.get::<_, String>(1))?;
        for name in names {
            have.push(name?);
        }
    }
    for (name, kind) in added {
        if !have.iter().any(|h| h == name) {
            conn.execute_batch(&format!("ALTER TABLE {table} ADD COLUMN {name} {kind}"))?;
        }
    }
    Ok(())
}

fn new_id() -> String {
    let mut bytes = [0u8; 6];
    if getrandom::fill(&mut bytes).is_err() {
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or(0);
        bytes
            .iter_mut()
            .enumerate()
            .for_each(|(i, b)| *b = (nanos >> (i * 8)) as u8);
    }
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Names the note's record unless the note is (or may be) in the CRM already.
pub(crate) fn set_target_on(
    conn: &Connection,
    call_id: &str,
    target: &Target,
) -> Result<usize, StoreError> {
    Ok(conn.execute(
        "UPDATE notes SET target_kind = ?2, target_id = ?3,
         state = CASE WHEN state = 'waiting_for_record' THEN 'queued' ELSE state END
         WHERE call_id = ?1 AND sent_ms IS NULL AND maybe_sent = 0",
        params![call_id, target.kind, target.id as i64],
    )?)
}

/// Puts the call's note in the outbox (or waiting for a record when it has none) when it meets
/// `condition` (SQL over the note's columns). How many notes were queued.
pub(crate) fn queue_on(
    conn: &Connection,
    call_id: &str,
    now_ms: u64,
    condition: &str,
) -> Result<usize, StoreError> {
    Ok(conn.execute(
        &format!(
            "UPDATE notes SET state = CASE WHEN target_id IS NULL THEN 'waiting_for_record' ELSE 'queued' END,
             next_attempt_ms = ?2, error_code = NULL, error_message = NULL
             WHERE call_id = ?1 AND ({condition})"
        ),
        params![call_id, now_ms as i64],
    )?)
}
