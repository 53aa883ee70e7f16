//! The relay widget (`relay/`) in Debian's headless Chromium. A page on one origin plays the
//! Bitrix24 call card (`tests/fixtures/relay/portal.html`) and embeds the widget from another
//! origin in an iframe; a stand-in for Bitrix24's library (`bx24-standin.js`) is served at the
//! library's place. The widget talks to the real listener through a recording proxy, so the
//! tests read every byte it sent.

use std::collections::HashMap;
use std::net::TcpListener;
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use callcard::{CallContext, CallState, CrmEntityType, ParseError};
use listener::{Accepted, Config, Intake, OriginAllowList, Pairing, PairingToken, Running};
use serde_json::{json, Value};

use crate::support::chromium::Chromium;
use crate::support::web::{RecordingProxy, StaticSite};

const AUTH_ID: &str = "auth-4f1c9e0b7d2a45e8a3c6";
const REFRESH_ID: &str = "refresh-9b8a7c6d5e4f3a2b1c0d";
const BITRIX24_LIBRARY: &str = "https://api.bitrix24.com/api/v1/";

#[derive(Default)]
struct Received {
    calls: Mutex<Vec<CallContext>>,
}

impl Intake for Received {
    fn call(&self, context: CallContext) -> Accepted {
        let mut calls = self.calls.lock().unwrap();
        let new = !calls.iter().any(|c| c.call_id == context.call_id);
        calls.push(context);
        Accepted { new }
    }

    fn rejected(&self, error: &ParseError) {
        panic!("the widget sent something the parser refused: {error}");
    }
}

/// The real listener, as the app runs it, for widgets served from `widget_origin`.
struct App {
    pairing: Arc<Pairing>,
    received: Arc<Received>,
    port: u16,
    _running: Running,
}

impl App {
    fn start(widget_origin: &str) -> App {
        let mut config = Config::new(0, "Call Companion", "9.9.9");
        config.origins = OriginAllowList::new([widget_origin]).unwrap();
        let pairing = Arc::new(Pairing::new(PairingToken::generate().unwrap()));
        let received = Arc::new(Received::default());
        let bound = listener::bind(config).unwrap();
        let port = bound.port();
        // On Tauri's async runtime, as the app serves it.
        let (serving, intake) = (pairing.clone(), received.clone());
        let running =
            tauri::async_runtime::block_on(async move { bound.serve(serving, intake) }).unwrap();
        App {
            pairing,
            received,
            port,
            _running: running,
        }
    }

    fn code(&self) -> String {
        self.pairing.current_code(Instant::now()).unwrap().code
    }

    /// Waits until `n` calls arrived and returns them.
    fn calls(&self, n: usize) -> Vec<CallContext> {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let calls = self.received.calls.lock().unwrap().clone();
            if calls.len() >= n || Instant::now() > deadline {
                assert_eq!(calls.len(), n, "calls received: {calls:#?}");
                return calls;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

/// The portal's page and the widget's host, on two origins.
struct Sites {
    portal: StaticSite,
    widget: StaticSite,
}

impl Sites {
    fn start() -> Sites {
        let root = Path::new(env!("CARGO_MANIFEST_DIR"));
        let read = |path: &str| std::fs::read(root.join(path)).unwrap();
        let index = String::from_utf8(read("relay/index.html")).unwrap();
        assert!(index.contains(BITRIX24_LIBRARY), "the widget loads Bitrix24's library");
        // The stand-in takes the library's place; the widget's own files are served as they are.
        let index = index.replace(BITRIX24_LIBRARY, "/bx24-standin.js");
        let widget: HashMap<String, (&'static str, Vec<u8>)> = HashMap::from([
            ("/relay/".into(), ("text/html; charset=utf-8", index.into_bytes())),
            ("/relay/relay.js".into(), ("text/javascript", read("relay/relay.js"))),
            ("/relay/relay.css".into(), ("text/css", read("relay/relay.css"))),
            (
                "/bx24-standin.js".into(),
                ("text/javascript", read("tests/fixtures/relay/bx24-standin.js")),
            ),
        ]);
        let portal = HashMap::from([(
            "/".into(),
            ("text/html; charset=utf-8", read("tests/fixtures/relay/portal.html")),
        )]);
        Sites {
            portal: StaticSite::start(portal),
            widget: StaticSite::start(widget),
        }
    }

    /// The widget's origin: the app must allow it.
    fn widget_origin(&self) -> String {
        format!("http://127.0.0.1:{}", self.widget.port)
    }

    /// The portal is `localhost`, the widget `127.0.0.1`: two sites, as in real life.
    fn portal_url(&self) -> String {
        format!("http://localhost:{}/", self.portal.port)
    }
}

/// What Bitrix24 hands the widget for a call (tokens included, as it does).
fn placement_data(call_id: &str, lang: &str) -> Value {
    let options = json!({
        "CALL_ID": call_id,
        "PHONE_NUMBER": "+79001234567",
        "LINE_NUMBER": "74950000000",
        "LINE_NAME": "Sales",
        "CRM_ENTITY_TYPE": "",
        "CRM_ENTITY_ID": "0",
        "CRM_ACTIVITY_ID": "undefined",
        "CALL_DIRECTION": "incoming",
        "CALL_STATE": "connecting",
        "CALL_LIST_MODE": "false",
    });
    json!({
        "DOMAIN": "acme.bitrix24.ru", "PROTOCOL": "1", "LANG": lang, "APP_SID": "f3a9c1",
        "AUTH_ID": AUTH_ID, "AUTH_EXPIRES": "3600", "REFRESH_ID": REFRESH_ID,
        "member_id": "5c1d0e9f8a7b6c5d", "status": "L", "PLACEMENT": "CALL_CARD",
        "PLACEMENT_OPTIONS": options.to_string(),
    })
}

struct Browser {
    chromium: Chromium,
}

impl Browser {
    fn start() -> Browser {
        Browser {
            chromium: Chromium::start().unwrap_or_else(|e| panic!("{e}")),
        }
    }

    /// Opens the portal's page and a call card with the widget at `widget_port`'s listener.
    fn open_card(&self, sites: &Sites, listener_port: u16, data: &Value) {
        let session = &self.chromium.session;
        session.navigate(&sites.portal_url()).unwrap();
        let src = format!("{}/relay/?port={listener_port}", sites.widget_origin());
        session
            .execute(&format!("openCard({}, {data});", Value::from(src)))
            .unwrap();
        session.enter_frame("#widget").unwrap();
    }

    fn wait_state(&self, state: &str) -> String {
        self.wait_text(state, "")
    }

    /// Waits for the widget's status line to reach `state` with `needle` in its text, and
    /// returns the text.
    fn wait_text(&self, state: &str, needle: &str) -> String {
        let session = &self.chromium.session;
        let deadline = Instant::now() + Duration::from_secs(15);
        loop {
            let now = session
                .execute("const r = document.querySelector('.relay'); return [r.dataset.state, document.querySelector('[data-testid=status-text]').textContent, document.querySelector('[data-testid=detail]').textContent];")
                .unwrap();
            let text = format!("{} {}", now[1].as_str().unwrap(), now[2].as_str().unwrap());
            if now[0] == state && text.contains(needle) {
                return text;
            }
            assert!(Instant::now() < deadline, "the widget stayed at {now} instead of {state}");
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// Fires a call card event from the portal's page into the widget.
    fn fire(&self, event: &str, args: Value) {
        let session = &self.chromium.session;
        session.leave_frames().unwrap();
        let args = args.as_array().unwrap().iter().map(Value::to_string);
        session
            .execute(&format!(
                "fireEvent({}, {});",
                Value::from(event),
                args.collect::<Vec<_>>().join(", ")
            ))
            .unwrap();
        session.enter_frame("#widget").unwrap();
    }

    fn events_bound(&self) -> Vec<String> {
        let session = &self.chromium.session;
        session.leave_frames().unwrap();
        let bound = session.execute("return window.bound;").unwrap();
        session.enter_frame("#widget").unwrap();
        serde_json::from_value(bound).unwrap()
    }
}

fn no_tokens_in(proxy: &RecordingProxy) {
    let seen = proxy.seen();
    assert!(!seen.is_empty());
    for request in seen {
        let all = request.everything();
        assert!(
            !all.contains(AUTH_ID) && !all.contains(REFRESH_ID),
            "a portal token left the browser: {all}"
        );
    }
}

#[test]
fn pairs_with_the_code_then_forwards_the_call_and_its_changes_without_tokens() {
    let sites = Sites::start();
    let app = App::start(&sites.widget_origin());
    let proxy = RecordingProxy::start(app.port);
    let browser = Browser::start();

    // Unpaired: the app is there, the widget asks for the code; nothing reaches the app yet.
    browser.open_card(&sites, proxy.port, &placement_data("externalCall.relay.1", "en"));
    let status = browser.wait_state("pairing");
    assert!(status.contains("Pairing needed"), "{status}");
    let session = &browser.chromium.session;
    let code = app.code();
    let wrong = if code == "000000" { "111111" } else { "000000" };
    session.type_into("[data-testid=pair-code]", wrong).unwrap();
    session.click("[data-testid=pair-submit]").unwrap();
    let refused = browser.wait_text("pairing", "not accepted");
    assert!(refused.contains("wrong pairing code"), "{refused}");
    session.type_into("[data-testid=pair-code]", &code).unwrap();
    session.click("[data-testid=pair-submit]").unwrap();
    assert!(browser.wait_state("sent").contains("Sent to Call Companion"));
    let first = &app.calls(1)[0];
    assert_eq!(first.call_id, "externalCall.relay.1");
    assert_eq!(first.phone_number.as_deref(), Some("+79001234567"));
    assert_eq!(first.state, CallState::Connecting);
    let portal = first.portal.as_ref().expect("the portal is named");
    assert_eq!(portal.domain.as_deref(), Some("acme.bitrix24.ru"));
    assert_eq!(portal.lang.as_deref(), Some("en"));

    // The call card's events are forwarded for the same call.
    let bound = browser.events_bound();
    for event in ["CallCard::CallStateChanged", "CallCard::EntityChanged", "CallCard::BeforeClose"] {
        assert!(bound.iter().any(|b| b == event), "{event} not bound: {bound:?}");
    }
    browser.fire("CallCard::CallStateChanged", json!(["connected", {}]));
    let calls = app.calls(2);
    assert_eq!((calls[1].call_id.as_str(), &calls[1].state), ("externalCall.relay.1", &CallState::Connected));
    browser.fire(
        "CallCard::EntityChanged",
        json!([{ "PHONE_NUMBER": "+79001234567", "CRM_ENTITY_TYPE": "CONTACT", "CRM_ENTITY_ID": 42 }]),
    );
    let calls = app.calls(3);
    let entity = calls[2].entity.expect("the new binding arrived");
    assert_eq!((entity.entity_type, entity.id), (CrmEntityType::Contact, 42));
    assert_eq!(calls[2].state, CallState::Connected, "the state is kept");
    browser.fire("CallCard::BeforeClose", json!([]));
    let calls = app.calls(4);
    assert_eq!(calls[3].state, CallState::Idle, "a closed card ends the call");

    // The fallback link carries the same call, no token, and works in the app's parser.
    let link = session.attribute("[data-testid=open-link]", "href").unwrap().unwrap();
    let from_link = callcard::parse_deep_link(&link).unwrap();
    assert_eq!(from_link.call_id, "externalCall.relay.1");
    assert_eq!(from_link.entity.map(|e| e.id), Some(42));

    // Paired: the next call card goes straight through.
    browser.open_card(&sites, proxy.port, &placement_data("externalCall.relay.2", "en"));
    browser.wait_state("sent");
    assert_eq!(app.calls(5)[4].call_id, "externalCall.relay.2");

    no_tokens_in(&proxy);
    let posts: Vec<_> = proxy.seen().into_iter().filter(|r| r.method == "POST" && r.path == "/v1/call-card").collect();
    assert_eq!(posts.len(), 5);
    for post in posts {
        assert_eq!(post.header("origin"), Some(sites.widget_origin().as_str()));
        let body: Value = serde_json::from_slice(&post.body).unwrap();
        assert_eq!((body["v"].as_u64(), body["placement"].as_str()), (Some(1), Some("CALL_CARD")));
    }
}

#[test]
fn says_when_the_app_is_not_running_and_retry_reaches_it_once_it_is() {
    let sites = Sites::start();
    let browser = Browser::start();
    // A port nobody listens on yet: the app is not running.
    let reserved = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = reserved.local_addr().unwrap().port();
    drop(reserved);
    browser.open_card(&sites, port, &placement_data("externalCall.relay.3", "en"));
    let status = browser.wait_state("not-running");
    assert!(status.contains("not running"), "{status}");
    let session = &browser.chromium.session;
    assert!(session.attribute("[data-testid=retry]", "hidden").unwrap().is_none());
    let link = session.attribute("[data-testid=open-link]", "href").unwrap().unwrap();
    assert!(link.starts_with("callcompanion://call-card?p="), "{link}");
    assert!(!link.contains(AUTH_ID));

    // The app starts: Retry finds it, and it needs pairing first.
    let app = App::start(&sites.widget_origin());
    let proxy = RecordingProxy::start_on(TcpListener::bind(("127.0.0.1", port)).unwrap(), app.port);
    session.click("[data-testid=retry]").unwrap();
    browser.wait_state("pairing");
    session.type_into("[data-testid=pair-code]", &app.code()).unwrap();
    session.click("[data-testid=pair-submit]").unwrap();
    browser.wait_state("sent");
    assert_eq!(app.calls(1)[0].call_id, "externalCall.relay.3");
    no_tokens_in(&proxy);
}

#[test]
fn speaks_the_portals_language_and_names_an_origin_the_app_refuses() {
    let sites = Sites::start();
    // The app allows some other origin, not this widget's.
    let app = App::start("https://relay.example.com");
    let proxy = RecordingProxy::start(app.port);
    let browser = Browser::start();
    browser.open_card(&sites, proxy.port, &placement_data("externalCall.relay.4", "ru"));
    let status = browser.wait_state("refused");
    assert!(status.contains("не принимает"), "{status}");
    assert!(status.contains(&sites.widget_origin()), "says which origin to allow: {status}");
    let session = &browser.chromium.session;
    assert_eq!(session.text_of("[data-testid=open-link]").unwrap(), "Открыть в Call Companion");
    assert!(app.received.calls.lock().unwrap().is_empty());
    no_tokens_in(&proxy);

    // Outside a call card (no Bitrix24 around it) the widget says so instead of waiting.
    session.leave_frames().unwrap();
    session
        .navigate(&format!("{}/relay/", sites.widget_origin()))
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        let state = session.execute("return document.querySelector('.relay').dataset.state;").unwrap();
        if state == "no-bitrix" {
            break;
        }
        assert!(Instant::now() < deadline, "stayed at {state}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// Done-when: the widget in Chromium → the listener of the real app under Xvfb → the portal
/// simulator → the card in the window.
#[test]
fn a_call_from_the_widget_in_chromium_pops_its_card_in_the_real_window() {
    use crate::e2e_card::{card_state, signed_in_app};
    use crate::support::driver::AppHome;
    use portal_sim::{SimConfig, Simulator};

    let _turn = crate::e2e::ONE_AT_A_TIME
        .lock()
        .unwrap_or_else(|e| e.into_inner());
    let sim = Simulator::start(SimConfig::default()).unwrap();
    let sites = Sites::start();
    let origin = sites.widget_origin();
    let home = AppHome::new();
    let app = signed_in_app(
        &home,
        &sim,
        &["--lang", "en", "--theme", "light", "--allow-origin", &origin],
    );
    // The agent reads the code in Settings and types it into the tab.
    app.click("settings-toggle");
    let code: String = app
        .session
        .text_of("[data-testid=pairing-code]")
        .unwrap()
        .chars()
        .filter(char::is_ascii_digit)
        .collect();
    assert_eq!(code.len(), 6, "{code}");

    let browser = Browser::start();
    let call_id = "externalCall.relay.e2e.1732600000";
    browser.open_card(&sites, home.listen_port, &placement_data(call_id, "en"));
    browser.wait_state("pairing");
    let session = &browser.chromium.session;
    session.type_into("[data-testid=pair-code]", &code).unwrap();
    session.click("[data-testid=pair-submit]").unwrap();
    browser.wait_state("sent");
    browser.fire("CallCard::CallStateChanged", json!(["connected", {}]));
    browser.wait_state("sent");

    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let shown = app
            .session
            .execute("const c = document.querySelector('.call-id'); return c ? c.textContent : null")
            .unwrap();
        if shown == call_id && card_state(&app) == "ready" {
            break;
        }
        assert!(Instant::now() < deadline, "the window shows {shown} / {}", card_state(&app));
        std::thread::sleep(Duration::from_millis(100));
    }
    let card = app.session.text_of("[data-testid=card]").unwrap();
    assert!(card.contains("Петрова"), "{card}");
    app.screenshot("relay-e2e-window");
    session.leave_frames().unwrap();
    let png = session.screenshot().unwrap();
    std::fs::write(crate::support::artifacts_dir().join("relay-e2e-widget.png"), png).unwrap();
}
