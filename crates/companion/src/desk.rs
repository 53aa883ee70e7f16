//! The desk: where every call context ends up, whichever door it came through (listener, deep
//! link, command line). It keeps the registry in memory and tells the app what changed; it
//! writes nothing, so a door only hands a call over and returns (the notes desk keeps the call).

use std::sync::Mutex;
use std::time::{SystemTime, UNIX_EPOCH};

use callcard::{CallContext, ParseError};
use listener::{Accepted, Intake};

use crate::calls::{CallRegistry, CallsView, Change, Rejection, TrackedCall};
use crate::link_trust::Trust;

/// Told after every change, with the new view and, for a reported call, what changed and the
/// call as it now stands (`Change::New`: a call to show).
pub type Notify = Box<dyn Fn(&CallsView, Option<(Change, &TrackedCall)>) + Send + Sync>;

pub struct CallDesk {
    registry: Mutex<CallRegistry>,
    notify: Notify,
}

impl CallDesk {
    pub fn new(registry: CallRegistry, notify: Notify) -> CallDesk {
        CallDesk {
            registry: Mutex::new(registry),
            notify,
        }
    }

    pub fn view(&self) -> CallsView {
        self.lock().view()
    }

    /// The calls kept at the last run (newest first), shown as recent until a call comes in;
    /// nothing when calls were reported meanwhile.
    pub fn restore(&self, calls: Vec<TrackedCall>) {
        let mut registry = self.lock();
        if !registry.is_empty() {
            return;
        }
        *registry = registry.restored(calls);
        let view = registry.view();
        drop(registry);
        (self.notify)(&view, None);
    }

    /// A context from any door.
    pub fn report(&self, context: CallContext) -> Change {
        let mut registry = self.lock();
        let (change, call) = registry.record(context, now_ms());
        tracing::info!(call_id = %call.context.call_id, ?change, "call reported");
        let view = registry.view();
        drop(registry);
        (self.notify)(&view, Some((change, &call)));
        change
    }

    /// The call `call_id`, if the desk knows it (a copy of that call only, not the view).
    pub fn find(&self, call_id: &str) -> Option<TrackedCall> {
        self.lock().call(call_id).cloned()
    }

    /// A payload the parser refused; kept for the window to show testers.
    pub fn reject(&self, error: &ParseError, via: &str) {
        tracing::warn!(
            code = error.code().as_str(),
            via,
            "call context refused: {error}"
        );
        self.refuse(error.code(), error.to_string(), via);
    }

    /// Keeps a refusal for the window to show.
    fn refuse(&self, code: codes::ErrorCode, message: String, via: &str) {
        let mut registry = self.lock();
        registry.reject(Rejection {
            code,
            message,
            via: via.to_owned(),
            at_ms: now_ms(),
        });
        let view = registry.view();
        drop(registry);
        (self.notify)(&view, None);
    }

    /// A `callcompanion://` link: parsed by the same parser. One the paired relay signed with
    /// `token` is any other report; one without a valid signature may only show a new call,
    /// marked unverified (`link_trust.rs`).
    pub fn open_link(&self, link: &str, token: &str) -> Result<Change, ParseError> {
        let (link, trust) = crate::link_trust::check(link, token);
        let context = match callcard::parse_deep_link(&link) {
            Ok(context) => context,
            Err(error) => {
                self.reject(&error, "deep_link");
                return Err(error);
            }
        };
        if trust == Trust::Signed {
            return Ok(self.report(context));
        }
        if trust == Trust::BadSignature {
            tracing::warn!(
                code = "link_unverified",
                "a link's signature does not match this app's pairing (forged, or signed before the token was rotated)"
            );
        }
        let mut registry = self.lock();
        let call_id = context.call_id.clone();
        match registry.record_unverified(context, now_ms()) {
            Some((change, call)) => {
                tracing::info!(call_id = %call.context.call_id, "call shown from an unverified link");
                let view = registry.view();
                drop(registry);
                (self.notify)(&view, Some((change, &call)));
                Ok(change)
            }
            None => {
                drop(registry);
                tracing::warn!(code = "link_unverified", call_id = %call_id, "an unverified link for a known call was refused");
                self.refuse(
                    codes::ErrorCode::LinkUnverified,
                    format!(
                        "a link the app could not verify named call {call_id}, which the app knows already: an unverified link never changes a call"
                    ),
                    "deep_link",
                );
                Ok(Change::Unchanged)
            }
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, CallRegistry> {
        self.registry.lock().unwrap_or_else(|e| e.into_inner())
    }
}

impl Intake for CallDesk {
    fn call(&self, context: CallContext) -> Accepted {
        Accepted {
            new: self.report(context) == Change::New,
        }
    }

    fn rejected(&self, error: &ParseError) {
        self.reject(error, "listener");
    }
}

/// The time now, as the app keeps it (Unix ms): calls, notes and the rules share it.
pub(crate) fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}
