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

    /// A context from any door. A registry that cannot save still shows the call: the list
    /// on disk is a convenience, the call on screen is the product.
    pub fn report(&self, context: CallContext) -> Change {
        let mut registry = self.lock();
        let fallback = context.clone();
        let (change, context) = match registry.report(context, now_ms()) {
            Ok((change, call)) => {
                tracing::info!(call_id = %call.context.call_id, ?change, "call reported");
                (change, call.context)
            }
            Err(e) => {
                tracing::warn!("recent calls not saved: {e}");
                (Change::Updated, fallback)
            }
        };
        let view = registry.view();
        drop(registry);
        (self.notify)(&view, Some((change, &context)));
        change
    }

    /// A payload the parser refused; kept for the window to show testers.
    pub fn reject(&self, error: &ParseError, via: &str) {
        tracing::warn!(code = error.code(), via, "call context refused: {error}");
        let mut registry = self.lock();
        registry.reject(Rejection {
            code: error.code().to_owned(),
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
