//! The call registry: every call the app heard of, keyed by `CALL_ID`. A repeat of a known call
//! is an update (state, bound entity), never a second pop. The registry is memory; the recent
//! calls are kept in the notes database (`notes::StoredCall`, written by the notes desk off the
//! listener's threads) so the list survives a restart. They hold phone numbers, never tokens.

use std::collections::VecDeque;
use std::path::Path;

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
    /// Known only from a `callcompanion://` link the app could not verify (`link_trust.rs`):
    /// shown, but its note is never sent; a report through a verified door clears it.
    #[serde(default)]
    pub unverified: bool,
    /// The number as people write it (`+7 495 123-45-67`), for the window; the context keeps
    /// the portal's spelling.
    #[serde(default)]
    pub number: Option<String>,
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
    revision: u64,
    /// The country national numbers are read in, to show numbers as people write them.
    region: String,
}

impl TrackedCall {
    /// The call as the notes database keeps it.
    pub fn to_stored(&self) -> notes::StoredCall {
        notes::StoredCall {
            call_id: self.context.call_id.clone(),
            // A context is plain data: serialising it cannot fail.
            context: serde_json::to_string(&self.context).unwrap_or_default(),
            first_seen_ms: self.first_seen_ms,
            updated_ms: self.updated_ms,
            reports: self.reports,
            unverified: self.unverified,
        }
    }

    /// A kept call; `None` (logged) for a row this version cannot read.
    pub fn from_stored(stored: notes::StoredCall) -> Option<TrackedCall> {
        match serde_json::from_str::<CallContext>(&stored.context) {
            Ok(context) => Some(TrackedCall {
                context,
                first_seen_ms: stored.first_seen_ms,
                updated_ms: stored.updated_ms,
                reports: stored.reports,
                unverified: stored.unverified,
                number: None,
            }),
            Err(e) => {
                tracing::warn!(call_id = %stored.call_id, "a kept call could not be read: {e}");
                None
            }
        }
    }
}

/// The recent calls an older version kept in `recent-calls.json`, to move into the notes
/// database. A missing file is no calls; an unreadable one is moved aside (`.corrupt-<time>`)
/// and the sentence says so.
pub fn read_old_list(file: &Path) -> (Vec<TrackedCall>, Option<String>) {
    match std::fs::read(file) {
        Ok(bytes) => match serde_json::from_slice::<Vec<TrackedCall>>(&bytes) {
            Ok(calls) => (calls.into_iter().take(RECENT_LIMIT).collect(), None),
            Err(e) => (
                Vec::new(),
                Some(crate::files::set_aside_sentence(
                    file,
                    &e.to_string(),
                    "the list starts empty",
                )),
            ),
        },
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => (Vec::new(), None),
        Err(e) => (
            Vec::new(),
            Some(format!(
                "recent calls in {} could not be read: {e}",
                file.display()
            )),
        ),
    }
}

impl CallRegistry {
    /// A fresh registry with `calls` (newest first), as kept at the last run, in this one's
    /// region.
    pub fn restored(&self, calls: Vec<TrackedCall>) -> CallRegistry {
        CallRegistry {
            calls: calls.into_iter().take(RECENT_LIMIT).collect(),
            ..CallRegistry::default()
        }
        .in_region(&self.region)
    }

    /// A registry that starts empty.
    pub fn in_memory() -> CallRegistry {
        CallRegistry::default()
    }

    /// Numbers are shown as people write them in `region` (an ISO country code).
    pub fn in_region(mut self, region: &str) -> CallRegistry {
        self.region = region.to_owned();
        for index in 0..self.calls.len() {
            self.spell_number(index);
        }
        self
    }

    /// The window's spelling of the call's number, kept with the call: worked out when its
    /// number may have changed, not on every view of the list.
    fn spell_number(&mut self, index: usize) {
        let call = &mut self.calls[index];
        call.number = call
            .context
            .phone_number
            .as_deref()
            .map(|n| crate::card::phone::display(n, &self.region));
    }

    /// Whether no call was reported (or restored) yet.
    pub fn is_empty(&self) -> bool {
        self.calls.is_empty()
    }

    /// Adds a new call or merges an update into a known one: what changed, and the call as it
    /// now stands (what to keep).
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
                let confirmed = std::mem::replace(&mut call.unverified, false);
                let change = if confirmed { Change::Updated } else { change };
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
                    unverified: false,
                    number: None,
                });
                self.calls.truncate(RECENT_LIMIT);
                (Change::New, 0)
            }
        };
        self.spell_number(index);
        let call = self.calls[index].clone();
        self.revision += 1;
        (change, call)
    }

    /// A call from a link the app could not verify: a new call is shown as unverified; a call
    /// the app knows is left as it is (`None`), since such a link may come from anyone.
    pub fn record_unverified(
        &mut self,
        context: CallContext,
        now_ms: u64,
    ) -> Option<(Change, TrackedCall)> {
        if self.call(&context.call_id).is_some() {
            return None;
        }
        let (change, _) = self.record(context, now_ms);
        let call = self.calls.front_mut()?;
        call.unverified = true;
        Some((change, call.clone()))
    }

    /// The call `call_id`, if the registry knows it.
    pub fn call(&self, call_id: &str) -> Option<&TrackedCall> {
        self.calls.iter().find(|c| c.context.call_id == call_id)
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
