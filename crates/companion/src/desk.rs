//! The desk: where every call context ends up, whichever door it came through (listener, deep
//! link, command line). It keeps the registry in memory and tells the app what changed; it
//! writes nothing, so a door only hands a call over and returns (the notes desk keeps the call).

use std::sync::Mutex;
use std::time::{SystemTime, UNIX_EPOCH};

use callcard::{CallContext, ParseError};
use listener::{Accepted, Intake};

use crate::calls::{CallRegistry, CallsView, Change, Rejection, TrackedCall};

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
        *registry = CallRegistry::with_calls(calls);
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

    /// A payload the parser refused; kept for the window to show testers.
    pub fn reject(&self, error: &ParseError, via: &str) {
        tracing::warn!(
            code = error.code().as_str(),
            via,
            "call context refused: {error}"
        );
        let mut registry = self.lock();
        registry.reject(Rejection {
            code: error.code(),
            message: error.to_string(),
            via: via.to_owned(),
            at_ms: now_ms(),
        });
        let view = registry.view();
        drop(registry);
        (self.notify)(&view, None);
    }

    /// A `callcompanion://` link: parsed by the same parser; it only ever shows a call.
    pub fn open_link(&self, link: &str) -> Result<Change, ParseError> {
        match callcard::parse_deep_link(link) {
            Ok(context) => Ok(self.report(context)),
            Err(error) => {
                self.reject(&error, "deep_link");
                Err(error)
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
