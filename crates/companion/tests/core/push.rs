//! The push channel end to end against the simulator's push server: a call the relay publishes
//! with `pull.application.event.add` pops once, through every fault; what is not ours never pops.

use companion::rt::Wait;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use companion::calls::{CallRegistry, Change};
use companion::desk::CallDesk;
use companion::portal::PortalDesk;
use companion::push_desk::{PushDesk, WEBHOOK_REASON};
use companion::status::{PortalStatus, PushStatus, PushTransport};
use listener::Intake;
use portal_sim::{Faults, SimConfig};
use serde_json::{json, Value};

use crate::portal::{browse, Setup};

struct Rig {
    setup: Setup,
    portal: Arc<PortalDesk>,
    calls: Arc<CallDesk>,
    push: Arc<PushDesk>,
    /// New pops per CALL_ID.
    pops: Arc<Mutex<HashMap<String, u32>>>,
    statuses: Arc<Mutex<Vec<PushStatus>>>,
    _runtime: tokio::runtime::Runtime,
}

fn fast() -> push::Options {
    push::Options {
        backoff: push::Backoff::constant(Duration::from_millis(50)),
        restart_delay: Duration::from_millis(20)..=Duration::from_millis(60),
        wrong_channel_delay: Duration::from_millis(20)..=Duration::from_millis(60),
        polling_connected_after: Duration::from_millis(300),
        ..Default::default()
    }
}

impl Rig {
    fn new(config: SimConfig) -> Rig {
        let setup = Setup::with(config);
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .unwrap();
        let portal = Arc::new(setup.desk());
        let pops: Arc<Mutex<HashMap<String, u32>>> = Arc::default();
        let counted = pops.clone();
        let calls = Arc::new(CallDesk::new(
            CallRegistry::in_memory(),
            Box::new(move |_, reported| {
                if let Some((Change::New, context)) = reported {
                    *counted
                        .lock()
                        .unwrap()
                        .entry(context.context.call_id.clone())
                        .or_default() += 1;
                }
            }),
        ));
        let push = Arc::new(
            PushDesk::new(portal.clone(), calls.clone(), runtime.handle().clone())
                .with_options(fast()),
        );
        let statuses: Arc<Mutex<Vec<PushStatus>>> = Arc::default();
        let (seen, watched) = (statuses.clone(), push.clone());
        push.on_change(Box::new(move || {
            seen.lock().unwrap().push(watched.status())
        }));
        let follower = push.clone();
        portal.on_change(Box::new(move || follower.portal_changed()));
        Rig {
            setup,
            portal,
            calls,
            push,
            pops,
            statuses,
            _runtime: runtime,
        }
    }

    fn sign_in(&self) -> u64 {
        let url = self.portal.begin_oauth(&self.setup.form(true)).unwrap();
        assert!(self.portal.complete_oauth(&browse(&url)).ok);
        match self.portal.status() {
            PortalStatus::Connected { user_id, .. } => user_id,
            other => panic!("{other:?}"),
        }
    }

    fn wait_for(&self, what: &str, done: impl Fn(&Rig) -> bool) {
        let deadline = Instant::now() + Duration::from_secs(30);
        while !done(self) {
            assert!(
                Instant::now() < deadline,
                "waited too long for {what}: {:?}, {:?}, rejected {:?}",
                self.push.status(),
                self.setup.sim.stats(),
                self.calls.view().last_rejection
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    fn connected(&self, transport: PushTransport) {
        self.wait_for("connected", |r| {
            r.push.status() == PushStatus::Connected { transport }
        });
    }

    fn pops(&self, call_id: &str) -> u32 {
        self.pops.lock().unwrap().get(call_id).copied().unwrap_or(0)
    }

    /// Waits until everything published before now has been handled: the channel and the desk
    /// keep the order, so once a call published last pops, no earlier message is still on its way
    /// (an event, not a sleep, for the checks that nothing more happened).
    fn settled(&self, user_id: u64) {
        let sentinel = format!("push.sentinel.{}", self.pops.lock().unwrap().len());
        self.publish(call_event(user_id, &sentinel));
        self.wait_for("everything published before", |r| r.pops(&sentinel) == 1);
    }

    /// What the relay does in the call card: `BX24.callMethod('pull.application.event.add', …)`
    /// with the agent's own token (the signed-in client's).
    fn publish(&self, params: Value) -> Value {
        let client = self.portal.client().unwrap();
        client
            .call("pull.application.event.add", params)
            .wait()
            .unwrap()
            .result
    }
}

fn envelope(call_id: &str) -> Value {
    let mut envelope: Value = serde_json::from_str(
        &std::fs::read_to_string(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../../tests/fixtures/call-card/relay-envelope-object.json"
        ))
        .unwrap(),
    )
    .unwrap();
    envelope["options"]["CALL_ID"] = json!(call_id);
    envelope
}

fn call_event(user_id: u64, call_id: &str) -> Value {
    json!({
        "MODULE_ID": "callcompanion",
        "COMMAND": "call",
        "USER_ID": user_id.to_string(),
        "PARAMS": envelope(call_id),
    })
}

fn sim() -> SimConfig {
    SimConfig {
        push_poll_hold_ms: 1_000,
        push_batch_ms: 20,
        ..Default::default()
    }
}

#[test]
fn a_call_published_by_the_relay_pops_once_and_the_listener_does_not_pop_it_again() {
    let rig = Rig::new(sim());
    assert_eq!(rig.push.status(), PushStatus::Off);
    let user = rig.sign_in();
    rig.connected(PushTransport::WebSocket);
    assert_eq!(rig.publish(call_event(user, "push.one")), json!(true));
    rig.wait_for("the call", |r| r.pops("push.one") == 1);
    // The same call through the listener (the relay also POSTs it): the same call, no new pop.
    let context = callcard::parse(&serde_json::to_vec(&envelope("push.one")).unwrap()).unwrap();
    assert!(!rig.calls.call(context).new);
    rig.settled(user);
    assert_eq!(rig.pops("push.one"), 1);
    // Signing out stops the subscription.
    rig.portal.sign_out().unwrap();
    assert_eq!(rig.push.status(), PushStatus::Off);
    rig.wait_for("no socket", |r| r.setup.sim.stats().push_connections == 0);
}

#[test]
fn nothing_published_while_reconnecting_is_lost_and_nothing_pops_twice() {
    let rig = Rig::new(sim());
    let user = rig.sign_in();
    rig.connected(PushTransport::WebSocket);
    // A first call: the client then has a mid to resume from (before any message on a first
    // connection it has none, and what a drop then hides cannot be asked for again).
    rig.publish(call_event(user, "push.warm-up"));
    rig.wait_for("the first call", |r| r.pops("push.warm-up") == 1);
    let faults: [(&str, Faults); 3] = [
        (
            "restart",
            Faults {
                push_restart: true,
                ..Default::default()
            },
        ),
        (
            "drop",
            Faults {
                push_drop_sockets: true,
                ..Default::default()
            },
        ),
        (
            "expire",
            Faults {
                push_expire_channels: true,
                ..Default::default()
            },
        ),
    ];
    let mut published = Vec::new();
    for (name, fault) in faults {
        rig.statuses.lock().unwrap().clear();
        rig.setup.sim.set_faults(fault);
        // Published at once, while the client is (or is about to be) reconnecting.
        for i in 0..3 {
            let call_id = format!("push.{name}.{i}");
            rig.publish(call_event(user, &call_id));
            published.push(call_id);
        }
        for call_id in &published {
            rig.wait_for(call_id, |r| r.pops(call_id) >= 1);
        }
        rig.connected(PushTransport::WebSocket);
        let seen = rig.statuses.lock().unwrap().clone();
        let reconnecting = seen
            .iter()
            .position(|s| matches!(s, PushStatus::Reconnecting { .. }))
            .unwrap_or_else(|| panic!("{name}: no Reconnecting in {seen:?}"));
        assert!(
            seen[reconnecting..].contains(&PushStatus::Connected {
                transport: PushTransport::WebSocket
            }),
            "{name}: {seen:?}"
        );
    }
    // Slow deliveries too.
    rig.setup.sim.set_faults(Faults {
        push_delay_ms: 300,
        ..Default::default()
    });
    rig.publish(call_event(user, "push.slow"));
    published.push("push.slow".into());
    rig.wait_for("the slow call", |r| r.pops("push.slow") == 1);
    rig.settled(user);
    for call_id in &published {
        assert_eq!(rig.pops(call_id), 1, "{call_id}");
    }
}

#[test]
fn a_refused_websocket_falls_back_to_long_polling_which_delivers() {
    let rig = Rig::new(sim());
    rig.setup.sim.set_faults(Faults {
        push_refuse_websocket: true,
        ..Default::default()
    });
    let user = rig.sign_in();
    rig.connected(PushTransport::LongPolling);
    rig.publish(call_event(user, "push.polled"));
    rig.wait_for("the polled call", |r| r.pops("push.polled") == 1);
    // A second one, resumed by mid across polls.
    rig.publish(call_event(user, "push.polled.2"));
    rig.wait_for("the second", |r| r.pops("push.polled.2") == 1);
    rig.settled(user);
    assert_eq!(rig.pops("push.polled"), 1);
}

#[test]
fn the_shared_channel_another_application_and_a_foreign_command_never_pop() {
    let rig = Rig::new(sim());
    let user = rig.sign_in();
    rig.connected(PushTransport::WebSocket);
    // The application's shared channel: no USER_ID (any user of the app could publish there).
    let mut shared = call_event(user, "push.shared");
    shared.as_object_mut().unwrap().remove("USER_ID");
    rig.publish(shared);
    // Another application of the same portal, to the same user.
    let other = rig.setup.sim.issue_other_app_tokens(user);
    let stranger = bitrix::Client::builder()
        .access_token(bitrix::Secret::new(other.access_token.clone()))
        .base_url(other.client_endpoint.clone())
        .build()
        .unwrap();
    stranger
        .call(
            "pull.application.event.add",
            call_event(user, "push.other-app"),
        )
        .wait()
        .unwrap();
    // Our application and channel, another command.
    let mut foreign = call_event(user, "push.foreign");
    foreign["COMMAND"] = json!("hangup");
    rig.publish(foreign);
    // Then a real call: once it pops, everything published before it has been handled.
    rig.publish(call_event(user, "push.after"));
    rig.wait_for("the real call", |r| r.pops("push.after") == 1);
    for call_id in ["push.shared", "push.other-app", "push.foreign"] {
        assert_eq!(rig.pops(call_id), 0, "{call_id}");
    }
    assert_eq!(rig.pops.lock().unwrap().len(), 1);
}

#[test]
fn a_webhook_sign_in_says_push_is_unavailable() {
    let rig = Rig::new(sim());
    rig.portal
        .sign_in_webhook(&companion::portal::WebhookForm {
            url: rig.setup.sim.endpoints().webhook_url,
            session_only: true,
        })
        .unwrap();
    assert_eq!(
        rig.push.status(),
        PushStatus::Unavailable {
            reason: WEBHOOK_REASON.into()
        }
    );
}
