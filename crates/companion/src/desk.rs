//! The desk: where every call context ends up, whichever door it came through (listener, deep
//! link, command line). It keeps the registry and tells the window what changed.

use std::sync::Mutex;
use std::time::{SystemTime, UNIX_EPOCH};

use callcard::{CallContext, ParseError};
use listener::{Accepted, Intake};

use crate::calls::{CallRegistry, CallsView, Change, Rejection};

/// Told after every change, with the new view and, for a reported call, what changed and the
/// call as it now stands (`Change::New`: a call to show).
pub type Notify = Box<dyn Fn(&CallsView, Option<(Change, &CallContext)>) + Send + Sync>;

pub struct CallDesk {
    registry: Mutex<CallRegistry>,
    /// The revision of the list last written: reports save outside the registry's lock, and
    /// an older list never overwrites a newer one.
    saved: Mutex<u64>,
    notify: Notify,
}

impl CallDesk {
    pub fn new(registry: CallRegistry, notify: Notify) -> CallDesk {
        CallDesk {
            registry: Mutex::new(registry),
            saved: Mutex::new(0),
            notify,
        }
    }

    pub fn view(&self) -> CallsView {
        self.lock().view()
    }

    /// A context from any door. A registry that cannot save still shows the call: the list
    /// on disk is a convenience, the call on screen is the product.
    pub fn report(&self, context: CallContext) -> Change {
        let mut registry = self.lock();
        let (change, call) = registry.record(context, now_ms());
        tracing::info!(call_id = %call.context.call_id, ?change, "call reported");
        let view = registry.view();
        let snapshot = registry.snapshot();
        drop(registry);
        (self.notify)(&view, Some((change, &call.context)));
        if let Some(snapshot) = snapshot {
            self.save(snapshot);
        }
        change
    }

    /// Writes the list unless a newer one was written meanwhile. A failure is logged: the
    /// call is on screen whatever the disk says.
    fn save(&self, (revision, store, json): (u64, std::path::PathBuf, std::io::Result<Vec<u8>>)) {
        let mut saved = self.saved.lock().unwrap_or_else(|e| e.into_inner());
        if *saved >= revision {
            return;
        }
        match json.and_then(|json| crate::files::write_atomically(&store, &json)) {
            Ok(()) => *saved = revision,
            Err(e) => tracing::warn!(
                code = "recent_calls_not_saved",
                "recent calls not saved in {}: {e}",
                store.display()
            ),
        }
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

fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}
