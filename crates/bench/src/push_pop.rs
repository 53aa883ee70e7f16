//! The screen pop through Bitrix24's push channel (issue #20): from the relay's
//! `pull.application.event.add` until the card is ready, against the simulator's push server, with
//! the app signed in with the simulated application (a webhook cannot subscribe) and subscribed by
//! the app's own `PushDesk` on a tokio runtime.

use companion::rt::Wait;
use std::sync::mpsc::Receiver;
use std::sync::Arc;
use std::time::{Duration, Instant};

use companion::desk::CallDesk;
use companion::portal::{OAuthForm, PortalDesk};
use companion::push_desk::PushDesk;
use companion::status::{PortalStatus, PushStatus};
use portal_sim::Simulator;
use serde_json::{json, Value};

use crate::stats::{summarize, Summary};

const BATCH_WINDOW: Duration = Duration::from_millis(450);

pub struct PushPops {
    pub pops: Summary,
    /// REST requests per pop: the relay's `event.add` and the pop's own.
    pub requests_per_pop: f64,
    pub max_requests_per_pop: u64,
}

/// Signs `portal` in with the simulator's application and measures `pops` calls, each published
/// as the relay does (the envelope of `bodies(i)`). `ready` receives (CALL_ID, when the card was
/// ready) from the card desk.
pub fn measure(
    sim: &Simulator,
    portal: &Arc<PortalDesk>,
    calls: &Arc<CallDesk>,
    runtime: &tokio::runtime::Runtime,
    ready: &Receiver<(String, Instant)>,
    pops: usize,
    body: impl Fn(usize) -> (String, Value),
) -> PushPops {
    let push = Arc::new(PushDesk::new(
        portal.clone(),
        calls.clone(),
        runtime.handle().clone(),
    ));
    let follower = push.clone();
    portal.on_change(Box::new(move || follower.portal_changed()));
    let user_id = sign_in(sim, portal);
    let deadline = Instant::now() + Duration::from_secs(30);
    while !matches!(push.status(), PushStatus::Connected { .. }) {
        assert!(
            Instant::now() < deadline,
            "not subscribed: {:?}",
            push.status()
        );
        std::thread::sleep(Duration::from_millis(10));
    }
    let client = portal.client().expect("signed in");
    let mut samples = Vec::with_capacity(pops);
    let mut requests = Vec::with_capacity(pops);
    for i in 0..pops {
        // An agent's calls are far apart: wait out the push server's batching window after the
        // previous send (400 ms, bitrix24-push.md §2.3), which would otherwise hold this one.
        std::thread::sleep(BATCH_WINDOW);
        let (call_id, options) = body(i);
        let event = json!({
            "MODULE_ID": "callcompanion",
            "COMMAND": "call",
            // As the relay sends it (relay/callcard.js): the agent's own id, as text.
            "USER_ID": user_id.to_string(),
            "PARAMS": { "v": 1, "placement": "CALL_CARD", "options": options },
        });
        let before = sim.stats().rest_requests;
        let started = Instant::now();
        client
            .call("pull.application.event.add", event)
            .wait()
            .expect("the portal publishes");
        let at = crate::pop::card_ready(ready, &call_id);
        samples.push(at - started);
        requests.push(sim.stats().rest_requests - before);
    }
    let mean = requests.iter().sum::<u64>() as f64 / requests.len().max(1) as f64;
    PushPops {
        pops: summarize(&samples),
        requests_per_pop: mean,
        max_requests_per_pop: requests.iter().copied().max().unwrap_or(0),
    }
}

/// The OAuth flow without a browser: the simulator's authorize page signs its user in at once.
fn sign_in(sim: &Simulator, portal: &PortalDesk) -> u64 {
    let endpoints = sim.endpoints();
    let url = portal
        .begin_oauth(&OAuthForm {
            portal: endpoints.base_url.clone(),
            client_id: endpoints.client_id,
            client_secret: endpoints.client_secret,
            oauth_server: endpoints.oauth_url,
            session_only: true,
            redirect: String::new(),
        })
        .expect("sign-in starts");
    let agent = ureq::AgentBuilder::new().redirects(0).build();
    let location = match agent.get(&url).call() {
        Ok(response) | Err(ureq::Error::Status(_, response)) => response
            .header("Location")
            .map(str::to_owned)
            .expect("sent back"),
        Err(e) => panic!("the sign-in page: {e}"),
    };
    let query = location.split_once('?').map_or("", |(_, q)| q);
    assert!(portal.complete_oauth(query).ok, "the code is exchanged");
    match portal.status() {
        PortalStatus::Connected { user_id, .. } => user_id,
        other => panic!("not signed in: {other:?}"),
    }
}
