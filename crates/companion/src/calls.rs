//! The call registry: every call the app heard of, keyed by `CALL_ID`. A repeat of a known call
//! is an update (state, bound entity), never a second pop. Recent calls are kept in a small
//! JSON file so the list survives a restart; it holds phone numbers, never tokens.

use std::collections::VecDeque;
use std::path::{Path, PathBuf};

pub use callcard::{CallContext, CallState};

use serde::{Deserialize, Serialize};
use ts_rs::TS;

/// Calls remembered, newest first.
pub const RECENT_LIMIT: usize = 50;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
pub struct TrackedCall {
    pub context: CallContext,
    /// When the app first heard of the call, and last heard of it (Unix ms).
    #[ts(type = "number")]
    pub first_seen_ms: u64,
    #[ts(type = "number")]
    pub updated_ms: u64,
    /// How many times the call card reported it.
    pub reports: u32,
}

/// What an incoming context did to the registry.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, TS)]
#[serde(rename_all = "snake_case")]
pub enum Change {
    /// A call not seen before: the window shows it.
    New,
    /// A known call changed (state, entity, …).
    Updated,
    /// A known call reported again with nothing new.
    Unchanged,
}

/// A payload the parser refused, for testers to read in the app.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, TS)]
pub struct Rejection {
    pub code: codes::ErrorCode,
    pub message: String,
    /// Where it came from: `listener`, `deep_link`.
    pub via: String,
    #[ts(type = "number")]
    pub at_ms: u64,
}

/// What the window shows: the current call, the recent ones and the last refused payload.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, TS)]
pub struct CallsView {
    /// Grows with every change, so the window can drop an answer older than an event it
    /// already showed.
    #[ts(type = "number")]
    pub revision: u64,
    pub current: Option<TrackedCall>,
    pub recent: Vec<TrackedCall>,
    pub last_rejection: Option<Rejection>,
}

#[derive(Debug, Default)]
pub struct CallRegistry {
    /// Newest first; the first is the current call.
    calls: VecDeque<TrackedCall>,
    last_rejection: Option<Rejection>,
    store: Option<PathBuf>,
    revision: u64,
}

impl CallRegistry {
    /// A registry kept in `store`. A missing file is an empty list; an unreadable one is moved
    /// aside (`.corrupt-<time>`), reported, and the app starts with an empty list.
    pub fn open(store: &Path) -> (CallRegistry, Option<String>) {
        let mut registry = CallRegistry {
            store: Some(store.to_owned()),
            ..CallRegistry::default()
        };
        let warning = match std::fs::read(store) {
            Ok(bytes) => match serde_json::from_slice::<Vec<TrackedCall>>(&bytes) {
                Ok(calls) => {
                    registry.calls = calls.into_iter().take(RECENT_LIMIT).collect();
                    None
                }
                Err(e) => Some(crate::files::set_aside_sentence(
                    store,
                    &e.to_string(),
                    "the list starts empty",
                )),
            },
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
            Err(e) => Some(format!(
                "recent calls in {} could not be read: {e}",
                store.display()
            )),
        };
        (registry, warning)
    }

    /// A registry in memory only (tests, and when the data folder is unavailable).
    pub fn in_memory() -> CallRegistry {
        CallRegistry::default()
    }

    /// Adds a new call or merges an update into a known one, and saves the list.
    pub fn report(
        &mut self,
        context: CallContext,
        now_ms: u64,
    ) -> Result<(Change, TrackedCall), std::io::Error> {
        let reported = self.record(context, now_ms);
        self.save()?;
        Ok(reported)
    }

    /// Adds a new call or merges an update into a known one, in memory: what changed does not
    /// depend on whether the list can be saved (`snapshot` is what to save).
    pub fn record(&mut self, context: CallContext, now_ms: u64) -> (Change, TrackedCall) {
        // An update stays where the call is: a late "ended" from the previous call must not
        // push the agent's current call off the screen. The newest call to start is current.
        let (change, index) = match self
            .calls
            .iter()
            .position(|c| c.context.call_id == context.call_id)
        {
            Some(index) => {
                let call = &mut self.calls[index];
                let merged = merge(&call.context, context);
                let change = if merged == call.context {
                    Change::Unchanged
                } else {
                    Change::Updated
                };
                call.context = merged;
                call.updated_ms = now_ms;
                call.reports = call.reports.saturating_add(1);
                (change, index)
            }
            None => {
                self.calls.push_front(TrackedCall {
                    context,
                    first_seen_ms: now_ms,
                    updated_ms: now_ms,
                    reports: 1,
                });
                self.calls.truncate(RECENT_LIMIT);
                (Change::New, 0)
            }
        };
        let call = self.calls[index].clone();
        self.revision += 1;
        (change, call)
    }

    /// The list as it is to be saved, with its revision: (revision, file, JSON). `None` for a
    /// registry in memory only.
    pub fn snapshot(&self) -> Option<(u64, PathBuf, Result<Vec<u8>, std::io::Error>)> {
        let store = self.store.clone()?;
        let json = serde_json::to_vec_pretty(&self.calls).map_err(std::io::Error::other);
        Some((self.revision, store, json))
    }

    pub fn reject(&mut self, rejection: Rejection) {
        self.last_rejection = Some(rejection);
        self.revision += 1;
    }

    pub fn view(&self) -> CallsView {
        CallsView {
            revision: self.revision,
            current: self.calls.front().cloned(),
            recent: self.calls.iter().skip(1).cloned().collect(),
            last_rejection: self.last_rejection.clone(),
        }
    }

    fn save(&self) -> Result<(), std::io::Error> {
        let Some((_, store, json)) = self.snapshot() else {
            return Ok(());
        };
        // A crash mid-write leaves the old list, not half a file.
        crate::files::write_atomically(&store, &json?)
    }
}

/// A later report of the same call: its values win, except that a value it lacks does not
/// erase one an earlier report had (a card that lost the number still shows it).
///
/// A report about another client (a number, a "no number" or a bound record other than the
/// earlier one: `CallCard::EntityChanged` when a call list moves on, or a lead created from the
/// card) replaces the client's fields whole: the previous client's bindings, link, number and
/// activity never linger beside the new client (a note is never saved on another client's
/// activity; `getStatus` names the current one). `hidden`/`unknown` is a statement, not a lack.
fn merge(old: &CallContext, new: CallContext) -> CallContext {
    let says_number = new.phone_number.is_some() || new.no_number.is_some();
    let other_number =
        says_number && (new.phone_number != old.phone_number || new.no_number != old.no_number);
    let other_record = new.entity.is_some() && new.entity != old.entity;
    let merged = if other_number || other_record {
        CallContext {
            phone_number: new.phone_number.clone(),
            no_number: new.no_number,
            entity: new.entity,
            bindings: new.bindings.clone(),
            uri: new.uri.clone(),
            activity_id: new.activity_id,
            ..old.clone()
        }
    } else {
        old.clone()
    };
    let old = &merged;
    let phone_number = new.phone_number.or_else(|| old.phone_number.clone());
    CallContext {
        no_number: match phone_number {
            Some(_) => None,
            None => new.no_number.or(old.no_number),
        },
        phone_number,
        line_number: new.line_number.or_else(|| old.line_number.clone()),
        line_name: new.line_name.or_else(|| old.line_name.clone()),
        entity: new.entity.or(old.entity),
        bindings: if new.bindings.is_empty() {
            old.bindings.clone()
        } else {
            new.bindings
        },
        activity_id: new.activity_id.or(old.activity_id),
        direction: match new.direction {
            callcard::CallDirection::Unknown(ref v) if v.is_empty() => old.direction.clone(),
            direction => direction,
        },
        state: match new.state {
            CallState::Unknown(ref v) if v.is_empty() => old.state.clone(),
            state => state,
        },
        uri: new.uri.or_else(|| old.uri.clone()),
        portal: new.portal.or_else(|| old.portal.clone()),
        ..new
    }
}
