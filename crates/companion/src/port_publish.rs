//! Where the agent's relay finds this app. On a shared computer (a terminal server) every
//! session's app wants the same loopback port and only one gets it; the others listen on a
//! free port (`assemble::serve`). The app writes the port it holds into the agent's own
//! Bitrix24 user option for this application (`user.option.set`: per user, application context
//! only; `api-reference/common/settings/user-option-set.md`), and the relay widget, running in
//! the same agent's call card, reads it (`user.option.get`, `user-option-get.md`; `relay.js`).
//! A co-worker's app cannot write it: it has the co-worker's token, not this agent's. A webhook
//! sign-in has no application context, so nothing is published and the relay uses its address's
//! port, as before.

use std::sync::{Arc, Mutex};

use crate::portal::PortalDesk;

/// The user option's name (the relay reads the same).
pub const OPTION: &str = "callcompanion_port";

/// What was published last, for whom (portal and agent): published again only when it changes.
#[derive(Default)]
pub struct PortPublisher {
    done: Mutex<Option<(String, u16)>>,
}

impl PortPublisher {
    /// Publishes `port` for the agent signed in with the application, unless it is already.
    /// One request (`user.option.set`), on the runtime; a failure is logged and tried at the
    /// next sign-in change.
    pub fn publish(self: &Arc<Self>, portal: &PortalDesk, port: u16) {
        let Some(current) = portal.current_portal() else {
            return;
        };
        let (true, Some(_), Some(client)) = (current.connected, current.client_id, portal.client())
        else {
            return;
        };
        let whom = format!("{}#{}", current.base, current.agent.unwrap_or_default());
        {
            let mut done = self.done.lock().unwrap_or_else(|e| e.into_inner());
            if done.as_ref() == Some(&(whom.clone(), port)) {
                return;
            }
            *done = Some((whom, port));
        }
        let publisher = self.clone();
        crate::rt::handle().spawn(async move {
            let options = serde_json::json!({ "options": { OPTION: port } });
            match client.call("user.option.set", options).await {
                Ok(_) => tracing::info!(
                    port,
                    "the listener's port is published for the agent's relay"
                ),
                Err(e) => {
                    tracing::warn!(
                        code = e.code().as_str(),
                        "the listener's port could not be published for the agent's relay: {e}"
                    );
                    *publisher.done.lock().unwrap_or_else(|e| e.into_inner()) = None;
                }
            }
        });
    }
}
