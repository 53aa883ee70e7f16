//! A local stand-in for a Bitrix24 cloud portal, faithful to the documented behaviour of the
//! methods the app uses: envelopes and error codes with their HTTP statuses, `batch` with
//! `$result` references and `halt`, list paging, the leaky-bucket limit, OAuth (authorize and
//! token endpoints, one-hour access tokens, rotating refresh tokens, 30-second codes) and
//! incoming webhooks. Seeded demo data; faults on demand. See this crate's README for the docs
//! page each behaviour follows.

mod batch;
pub mod call_card;
pub mod data;
mod duplicates;
mod items;
mod methods;
mod operating;
mod params;
mod portal;
mod pull;
mod records;
mod references;
pub mod scenarios;
mod server;
pub mod timeline_note;
mod todo;
mod user_option;

use std::net::SocketAddr;
use std::sync::Arc;

use serde::Serialize;

pub use data::Sizes;
pub use portal::{Faults, SimConfig, Stats, SystemError};

/// Unix time with fractions, as the portal's `time` block has it.
pub(crate) fn now() -> f64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs_f64())
        .unwrap_or(0.0)
}

/// How to reach a running simulator; `--json` prints this as one line.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Endpoints {
    pub base_url: String,
    /// A ready incoming-webhook URL for user 1.
    pub webhook_url: String,
    pub client_id: String,
    pub client_secret: String,
    /// The OAuth server (authorize lives on the portal, `base_url`; token exchange here).
    pub oauth_url: String,
}

/// A running simulator; stops when dropped.
pub struct Simulator {
    shared: Arc<server::Shared>,
    address: SocketAddr,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Simulator {
    pub fn start(config: SimConfig) -> std::io::Result<Simulator> {
        let (shared, address, stop, thread) = server::start(config)?;
        Ok(Simulator {
            shared,
            address,
            stop: Some(stop),
            thread: Some(thread),
        })
    }

    pub fn address(&self) -> SocketAddr {
        self.address
    }

    pub fn base_url(&self) -> String {
        self.shared.base_url.clone()
    }

    pub fn endpoints(&self) -> Endpoints {
        let portal = self.portal();
        Endpoints {
            base_url: self.base_url(),
            webhook_url: format!(
                "{}/rest/1/{}/",
                self.base_url(),
                portal.webhook_secret(1).unwrap_or_default()
            ),
            client_id: portal.config.client_id.clone(),
            client_secret: portal.config.client_secret.clone(),
            oauth_url: self.base_url(),
        }
    }

    pub fn member_id(&self) -> String {
        server::member_id(self.portal().config.seed)
    }

    /// A fresh token pair for `user_id`, as the portal hands one to a call card's tab.
    pub fn issue_tokens(&self, user_id: u64) -> call_card::IssuedTokens {
        server::issue(&self.shared, user_id, false)
    }

    /// A token pair another application installed on the portal got for `user_id`.
    pub fn issue_other_app_tokens(&self, user_id: u64) -> call_card::IssuedTokens {
        server::issue(&self.shared, user_id, true)
    }

    /// Binds `handler` to the call card, as an administrator's `placement.bind` would.
    pub fn bind_call_card(&self, handler: &str, title: &str) {
        let mut portal = self.portal();
        portal.placements.retain(|p| p["handler"] != handler);
        portal.placements.push(serde_json::json!({
            "placement": "CALL_CARD", "handler": handler, "title": title, "description": "",
            "langAll": { "en": { "TITLE": title }, "ru": { "TITLE": title } }, "options": [],
        }));
    }

    pub fn stats(&self) -> Stats {
        self.portal().stats.clone()
    }

    pub fn set_faults(&self, faults: Faults) {
        let mut portal = self.portal();
        portal.faults = faults;
        portal.arm_operation_limit(now());
        pull::apply_faults(&mut portal, now());
    }

    /// The push server's WebSocket address (`ws://127.0.0.1:PORT/subws/`), as
    /// `pull.application.config.get` names it; long polling is `http://…/sub/` on the same port.
    pub fn push_url(&self) -> String {
        self.shared.push_url.clone()
    }

    /// The OAuth application's redirect address (it depends on where the app listens).
    pub fn set_redirect_uri(&self, uri: &str) {
        self.portal().config.redirect_uri = uri.to_owned();
    }

    /// Gives a call its CRM activity (a `VOXIMPLANT_CALL` activity owned by the bound item), as
    /// the portal does once the call is registered; the same id for the same call. See
    /// `timeline_note.rs`.
    pub fn attach_call_activity(&self, call_id: &str, owner_type_id: u64, owner_id: u64) -> u64 {
        timeline_note::attach_call_activity(
            &mut self.portal(),
            call_id,
            owner_type_id,
            owner_id,
            1,
            true,
        )
    }

    /// A user's value of an application's user option (`user.option.set`), as the portal keeps
    /// it: tests read what the app published.
    pub fn user_option(&self, app: &str, user_id: u64, name: &str) -> Option<serde_json::Value> {
        self.portal()
            .user_options
            .get(&(app.to_owned(), user_id))
            .and_then(|options| options.get(name).cloned())
    }

    /// Reads the portal's data (tests compare answers with it).
    pub fn with_data<T>(&self, read: impl FnOnce(&data::Data) -> T) -> T {
        read(&self.portal().data)
    }

    fn portal(&self) -> std::sync::MutexGuard<'_, portal::Portal> {
        self.shared.portal.lock().unwrap_or_else(|e| e.into_inner())
    }
}

impl Drop for Simulator {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}
