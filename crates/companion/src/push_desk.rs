//! The app's subscription to Bitrix24's push channel (issue #20): started while the agent is
//! signed in with the application (OAuth, including a call-card session), stopped on sign-out.
//! Each accepted event is the relay's envelope; it goes through the one parser to the same
//! [`CallDesk`] as the listener, so a call seen both ways is one call (one pop).
//!
//! A webhook cannot receive push events (`pull.application.config.get` needs an application's
//! OAuth context, bitrix24-push.md §1.1), and an application without the `pull` scope neither:
//! the status says so.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock};

use listener::Intake;

use crate::desk::CallDesk;
use crate::portal::PortalDesk;
use crate::status::{PortalStatus, PushStatus, SignInMethod};

pub const WEBHOOK_REASON: &str =
    "a webhook cannot receive Bitrix24's push events: sign in with the application (OAuth)";
pub const NO_SCOPE_REASON: &str =
    "the application has no pull scope: add the pull scope to the application on the portal, then sign in again";

type Notify = Box<dyn Fn() + Send + Sync>;

struct Running {
    /// Which sign-in it serves: another sign-in restarts it.
    key: String,
    _subscription: push::Subscription,
}

struct Shared {
    status: Mutex<PushStatus>,
    /// Bumped on every start and stop: a stopped client's late status is not shown.
    generation: AtomicU64,
    notify: OnceLock<Notify>,
}

impl Shared {
    fn set(&self, status: PushStatus) {
        {
            let mut current = self.status.lock().unwrap_or_else(|e| e.into_inner());
            if *current == status {
                return;
            }
            *current = status;
        }
        if let Some(notify) = self.notify.get() {
            notify();
        }
    }
}

pub struct PushDesk {
    portal: Arc<PortalDesk>,
    calls: Arc<CallDesk>,
    runtime: tokio::runtime::Handle,
    options: push::Options,
    running: Mutex<Option<Running>>,
    shared: Arc<Shared>,
}

impl PushDesk {
    /// The client runs on `runtime` (the app's one tokio runtime: Tauri's).
    pub fn new(
        portal: Arc<PortalDesk>,
        calls: Arc<CallDesk>,
        runtime: tokio::runtime::Handle,
    ) -> PushDesk {
        PushDesk {
            portal,
            calls,
            runtime,
            options: push::Options::default(),
            running: Mutex::new(None),
            shared: Arc::new(Shared {
                status: Mutex::new(PushStatus::Off),
                generation: AtomicU64::new(0),
                notify: OnceLock::new(),
            }),
        }
    }

    /// Other timings (tests shorten the waits).
    pub fn with_options(mut self, options: push::Options) -> PushDesk {
        self.options = options;
        self
    }

    /// Called after every status change (the shell emits the app's status to the window).
    pub fn on_change(&self, notify: Notify) {
        let _ = self.shared.notify.set(notify);
    }

    pub fn status(&self) -> PushStatus {
        self.shared
            .status
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// The portal's sign-in changed (or may have): start, keep, or stop the subscription.
    pub fn portal_changed(&self) {
        let (domain, user_id, method) = match self.portal.status() {
            PortalStatus::Connected {
                domain,
                user_id,
                method,
                ..
            } => (domain, user_id, method),
            _ => return self.stop(PushStatus::Off),
        };
        if method == SignInMethod::Webhook {
            return self.stop(PushStatus::Unavailable {
                reason: WEBHOOK_REASON.into(),
            });
        }
        let Some(client) = self.portal.client() else {
            return self.stop(PushStatus::Off);
        };
        let tokens = client.oauth_tokens();
        if let Some(scope) = tokens.as_ref().and_then(|t| t.scope.as_deref()) {
            if !scope
                .split([',', ' '])
                .any(|s| s.trim().eq_ignore_ascii_case("pull"))
            {
                return self.stop(PushStatus::Unavailable {
                    reason: NO_SCOPE_REASON.into(),
                });
            }
        }
        let client_id = self
            .portal
            .current_portal()
            .and_then(|p| p.client_id)
            .unwrap_or_default();
        let key = format!("{domain}\n{user_id}\n{client_id}");
        let mut running = self.running.lock().unwrap_or_else(|e| e.into_inner());
        if running.as_ref().is_some_and(|r| r.key == key) {
            return;
        }
        *running = None;
        let generation = self.shared.generation.fetch_add(1, Ordering::SeqCst) + 1;
        let shared = self.shared.clone();
        let mut options = self.options.clone();
        let outer = options.on_status.take();
        options.on_status = Some(Arc::new(move |status: &push::PushStatus| {
            if let Some(outer) = &outer {
                outer(status);
            }
            if shared.generation.load(Ordering::SeqCst) == generation {
                shared.set(status.into());
            }
        }));
        let source = Arc::new(PortalConfig {
            portal: self.portal.clone(),
        });
        tracing::info!("push: subscribing to the application's channel");
        let mut subscription = push::start(&self.runtime, source, options);
        if let Some(mut events) = subscription.take_events() {
            let calls = self.calls.clone();
            // In order, off the async threads: parsing and the rules a call sets off.
            self.runtime.spawn_blocking(move || {
                while let Some(event) = events.blocking_recv() {
                    deliver(&calls, &event);
                }
            });
        }
        *running = Some(Running {
            key,
            _subscription: subscription,
        });
    }

    fn stop(&self, status: PushStatus) {
        self.shared.generation.fetch_add(1, Ordering::SeqCst);
        if self
            .running
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .take()
            .is_some()
        {
            tracing::info!("push: unsubscribed");
        }
        self.shared.set(status);
    }
}

/// One accepted event: the relay's envelope, through the one parser, to the call desk.
pub fn deliver(calls: &CallDesk, event: &push::PushEvent) {
    let parsed = serde_json::to_vec(&event.params)
        .map_err(|e| callcard::ParseError::InvalidJson {
            reason: e.to_string(),
        })
        .and_then(|bytes| callcard::parse(&bytes));
    match parsed {
        Ok(context) => {
            calls.call(context);
        }
        Err(error) => calls.reject(&error, "push"),
    }
}

/// `pull.application.config.get` with the signed-in client.
struct PortalConfig {
    portal: Arc<PortalDesk>,
}

impl push::ConfigSource for PortalConfig {
    fn fetch(&self) -> push::ConfigFuture {
        let portal = self.portal.clone();
        Box::pin(async move {
            let client = portal
                .client()
                .ok_or_else(|| push::SourceError::transient("not signed in"))?;
            client
                .call("pull.application.config.get", serde_json::json!({}))
                .await
                .map(|response| response.result)
                .map_err(source_error)
        })
    }
}

/// What a REST error means for the subscription. The client's errors are scrubbed of secrets.
fn source_error(error: bitrix::RestError) -> push::SourceError {
    match error.portal_code() {
        Some("insufficient_scope") => push::SourceError::permanent(NO_SCOPE_REASON),
        Some("WRONG_AUTH_TYPE") => push::SourceError::permanent(WEBHOOK_REASON),
        _ => push::SourceError::transient(format!("{}: {error}", error.code())),
    }
}
