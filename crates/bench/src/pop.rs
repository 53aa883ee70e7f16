//! Screen-pop latency: a call context posted to the real listener until the CRM card is ready in
//! the core (no webview), against the simulator with a given round trip per request; and the same
//! cards fetched the straightforward way, one request per REST method in sequence.

use companion::rt::Wait;
use std::path::{Path, PathBuf};
use std::sync::mpsc;
use std::sync::Arc;
use std::time::{Duration, Instant};

use bitrix::Client;
use callcard::CallContext;
use companion::calls::{CallRegistry, Change};
use companion::card::model::{Card, EntityKind};
use companion::card::{key_for, phone, CardDesk, Key};
use companion::desk::CallDesk;
use companion::intake::AppIntake;
use companion::portal::settings::SettingsFile;
use companion::portal::vault::Vault;
use companion::portal::{PortalDesk, WebhookForm};
use companion::secrets::Keyring;
use portal_sim::{Faults, SimConfig, Simulator};
use serde_json::{json, Value};

use crate::stats::{summarize, Summary};

/// The cases the screen-pop issue calls common, in turn.
const CASES: &[&str] = &[
    "bound-contact",
    "bound-deal",
    "bound-lead",
    "bound-company",
    "unbound-one-match",
    "unbound-only-company",
    "unbound-several-matches",
    "unbound-no-match",
];

pub struct PopResult {
    pub rtt_ms: u64,
    pub pipeline: Summary,
    pub requests_per_pop: f64,
    pub max_requests_per_pop: u64,
    /// The same cards through the call card's own POST to the app's tab (proved in the pop's
    /// own request).
    pub tab: Summary,
    pub tab_requests_per_pop: f64,
    pub tab_max_requests_per_pop: u64,
    pub baseline: Summary,
    pub baseline_requests_per_pop: f64,
    /// Published by the relay through Bitrix24's push channel.
    pub push: crate::push_pop::PushPops,
}

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/fixtures/screen-pop")
}

fn options(case: &str) -> Value {
    serde_json::from_slice(
        &std::fs::read(fixtures().join(format!("{case}.json"))).expect("fixture"),
    )
    .expect("fixture JSON")
}

pub fn run(rtt_ms: u64, pops: usize, baseline_pops: usize) -> PopResult {
    // The portal's own rate limit is not what is measured here.
    let sim = Simulator::start(SimConfig {
        bucket_capacity: 1e9,
        bucket_drain_per_sec: 1e9,
        ..SimConfig::default()
    })
    .expect("simulator");
    let dir = std::env::temp_dir().join(format!("cc-bench-{}-{rtt_ms}", std::process::id()));
    // One agent's pops are far apart; here they come back to back, so the client's pacing to the
    // portal's 2 requests a second would be what is measured. It is off.
    let portal = Arc::new(
        PortalDesk::new(
            Vault::new(Keyring::new("io.callcompanion.bench")),
            SettingsFile::new(dir.join("portal.json")),
        )
        .with_bucket(bitrix::BucketConfig {
            capacity: 1e9,
            drain_per_sec: 1e9,
        }),
    );
    portal
        .sign_in_webhook(&WebhookForm {
            url: sim.endpoints().webhook_url,
            session_only: true,
        })
        .expect("sign-in to the simulator");
    sim.set_faults(Faults {
        latency_ms: rtt_ms,
        ..Faults::default()
    });

    let cards = Arc::new(CardDesk::new(portal.clone(), "RU").with_cache_ttl(Duration::ZERO));
    let (tx, rx) = mpsc::channel::<(String, Instant)>();
    cards.on_change(Box::new(move |view| {
        if !matches!(view.card, Card::Loading) {
            let _ = tx.send((view.call_id.clone(), Instant::now()));
        }
    }));
    let to_cards = cards.clone();
    let calls = Arc::new(CallDesk::new(
        CallRegistry::in_memory(),
        Box::new(move |_, reported| {
            if let Some((Change::New | Change::Updated, context)) = reported {
                to_cards.show(&context.context);
            }
        }),
    ));
    let runtime = tokio::runtime::Runtime::new().expect("runtime");
    let token = listener::PairingToken::generate().expect("random");
    let pairing = Arc::new(listener::Pairing::new(token.clone()));
    let mut config = listener::Config::new(0, "bench", "0");
    config.rate = listener::RateLimit {
        burst: 1_000_000,
        per_second: 1_000_000.0,
    };
    let bound = listener::bind(config).expect("listener");
    let port = bound.port();
    let tab = companion::tab::TabDesk::new(portal.clone(), cards.clone(), calls.clone(), None)
        .with_bucket(bitrix::BucketConfig {
            capacity: 1e9,
            drain_per_sec: 1e9,
        });
    let intake = Arc::new(AppIntake {
        calls: calls.clone(),
        portal: portal.clone(),
        tab: Arc::new(tab),
    });
    let _running = runtime
        .block_on(async { bound.serve(pairing, intake) })
        .expect("serve");
    let agent = ureq::AgentBuilder::new().build();
    let url = format!("http://127.0.0.1:{port}/v1/call-card");

    let mut samples = Vec::with_capacity(pops);
    let mut requests = Vec::with_capacity(pops);
    for i in 0..pops {
        let mut body = options(CASES[i % CASES.len()]);
        let call_id = format!("bench.{rtt_ms}.{i}");
        body["CALL_ID"] = json!(call_id);
        let before = sim.stats().rest_requests;
        let started = Instant::now();
        agent
            .post(&url)
            .set("Authorization", &format!("Bearer {}", token.expose()))
            .send_json(body)
            .expect("the listener accepts");
        let ready = card_ready(&rx, &call_id);
        samples.push(ready - started);
        requests.push(sim.stats().rest_requests - before);
    }

    // The call card's own POST to the app's tab: the form Bitrix24's page submits, with a fresh
    // token for the signed-in agent; the tab's page is answered once the call is proven.
    let tab_url = format!("http://127.0.0.1:{port}{}", listener::TAB_PATH);
    let mut tab_samples = Vec::with_capacity(pops);
    let mut tab_requests = Vec::with_capacity(pops);
    for i in 0..pops {
        let mut fields = options(CASES[i % CASES.len()]);
        let call_id = format!("bench.tab.{rtt_ms}.{i}");
        fields["CALL_ID"] = json!(call_id);
        let tokens = sim.issue_tokens(1);
        let form = portal_sim::call_card::tab_form(
            &sim.base_url(),
            &tab_url,
            &fields,
            &tokens,
            "en",
            "0123456789abcdef",
        );
        let (action, query) = form.action.split_once('?').expect("a query");
        let body = form_urlencoded::Serializer::new(String::new())
            .extend_pairs(form.fields.iter())
            .finish();
        let before = sim.stats().rest_requests;
        let started = Instant::now();
        agent
            .post(&format!("{action}?{query}"))
            .set("Content-Type", "application/x-www-form-urlencoded")
            .send_string(&body)
            .expect("the tab is accepted");
        let ready = card_ready(&rx, &call_id);
        tab_samples.push(ready - started);
        tab_requests.push(sim.stats().rest_requests - before);
    }

    let client = portal.client().expect("signed in");
    let mut baseline = Vec::with_capacity(baseline_pops);
    let mut baseline_requests = Vec::with_capacity(baseline_pops);
    for i in 0..baseline_pops {
        let context = callcard::parse(options(CASES[i % CASES.len()]).to_string().as_bytes())
            .expect("fixture");
        let before = sim.stats().rest_requests;
        let started = Instant::now();
        sequential(&client, &context);
        baseline.push(started.elapsed());
        baseline_requests.push(sim.stats().rest_requests - before);
    }
    // Last: it signs the same desk in with the application instead of the webhook. The simulator
    // answers a request one round trip late but publishes at once; on a network the publish
    // reaches the portal half a round trip after it is sent and the message reaches the app half
    // a round trip later (the browser and the app on one computer), so each delivery is held for
    // one round trip.
    sim.set_faults(Faults {
        latency_ms: rtt_ms,
        push_delay_ms: rtt_ms,
        ..Faults::default()
    });
    let push = crate::push_pop::measure(&sim, &portal, &calls, &runtime, &rx, pops / 2, |i| {
        let call_id = format!("bench.push.{rtt_ms}.{i}");
        let mut options = options(CASES[i % CASES.len()]);
        options["CALL_ID"] = json!(call_id);
        (call_id, options)
    });
    let _ = std::fs::remove_dir_all(dir);
    let mean = |v: &[u64]| v.iter().sum::<u64>() as f64 / v.len().max(1) as f64;
    PopResult {
        rtt_ms,
        pipeline: summarize(&samples),
        requests_per_pop: mean(&requests),
        max_requests_per_pop: requests.iter().copied().max().unwrap_or(0),
        tab: summarize(&tab_samples),
        tab_requests_per_pop: mean(&tab_requests),
        tab_max_requests_per_pop: tab_requests.iter().copied().max().unwrap_or(0),
        baseline: summarize(&baseline),
        baseline_requests_per_pop: mean(&baseline_requests),
        push,
    }
}

/// When the card of `call_id` was ready (the card desk reports every call's card).
pub fn card_ready(rx: &mpsc::Receiver<(String, Instant)>, call_id: &str) -> Instant {
    loop {
        let (id, at) = rx.recv_timeout(Duration::from_secs(30)).expect("a card");
        if id == call_id {
            return at;
        }
    }
}

/// The straightforward way: each piece of the card with its own request, one after another.
fn sequential(client: &Client, context: &CallContext) {
    match key_for(context, None) {
        Some(Key::Record(kind, id)) => record(client, kind, id),
        Some(Key::Number(number)) => {
            let found = client
                .call(
                    "crm.duplicate.findbycomm",
                    json!({ "type": "PHONE", "values": phone::variants(&number, "RU") }),
                )
                .wait()
                .map(|r| r.result)
                .unwrap_or(Value::Null);
            let ids = |key: &str| -> Vec<u64> {
                found
                    .get(key)
                    .and_then(Value::as_array)
                    .map(|a| a.iter().filter_map(Value::as_u64).collect())
                    .unwrap_or_default()
            };
            let (contacts, companies, leads) = (ids("CONTACT"), ids("COMPANY"), ids("LEAD"));
            match (
                contacts.len() + companies.len() + leads.len(),
                contacts.first(),
            ) {
                (1, Some(id)) => record(client, EntityKind::Contact, *id),
                (0, _) => {}
                _ => {
                    // The picker's names, one record at a time.
                    for id in contacts {
                        let _ = client.call("crm.contact.get", json!({ "id": id })).wait();
                    }
                    for id in companies {
                        let _ = client.call("crm.company.get", json!({ "id": id })).wait();
                    }
                    for id in leads {
                        let _ = client.call("crm.lead.get", json!({ "id": id })).wait();
                    }
                }
            }
        }
        None => {}
    }
}

fn record(client: &Client, kind: EntityKind, id: u64) {
    let subject = client
        .call(&format!("crm.{}.get", kind.name()), json!({ "id": id }))
        .wait()
        .map(|r| r.result)
        .unwrap_or(Value::Null);
    let field = |name: &str| {
        subject
            .get(name)
            .and_then(|v| {
                v.as_str()
                    .and_then(|s| s.parse::<u64>().ok())
                    .or_else(|| v.as_u64())
            })
            .unwrap_or(0)
    };
    match kind {
        EntityKind::Contact => {
            let company = field("COMPANY_ID");
            if company > 0 {
                let _ = client
                    .call("crm.company.get", json!({ "id": company }))
                    .wait();
                let _ = client
                    .call(
                        "crm.contact.list",
                        json!({ "filter": { "COMPANY_ID": company } }),
                    )
                    .wait();
            }
            let _ = client
                .call(
                    "crm.deal.list",
                    json!({ "filter": { "CONTACT_ID": id, "CLOSED": "N" } }),
                )
                .wait();
        }
        EntityKind::Company => {
            let _ = client
                .call(
                    "crm.contact.list",
                    json!({ "filter": { "COMPANY_ID": id } }),
                )
                .wait();
            let _ = client
                .call(
                    "crm.deal.list",
                    json!({ "filter": { "COMPANY_ID": id, "CLOSED": "N" } }),
                )
                .wait();
        }
        EntityKind::Deal => {
            let _ = client
                .call("crm.contact.get", json!({ "id": field("CONTACT_ID") }))
                .wait();
            let _ = client
                .call("crm.company.get", json!({ "id": field("COMPANY_ID") }))
                .wait();
        }
        EntityKind::Lead => {}
    }
    let _ = client
        .call(
            "crm.activity.list",
            json!({ "filter": { "OWNER_TYPE_ID": kind.type_id(), "OWNER_ID": id } }),
        )
        .wait();
    let _ = client
        .call(
            "crm.timeline.comment.list",
            json!({ "filter": { "ENTITY_TYPE": kind.name(), "ENTITY_ID": id } }),
        )
        .wait();
    let _ = client
        .call("user.get", json!({ "ID": field("ASSIGNED_BY_ID") }))
        .wait();
}
