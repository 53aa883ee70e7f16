//! The hosted relay widget (`relay/`) in Debian's headless Chromium, in production's conditions:
//! the portal's page is the simulator's call card at `https://portal.test` (a public address to
//! the browser), it POSTs the call into a named iframe at the widget's host `https://widget.test`,
//! Bitrix24's library (a stand-in speaking its protocol) is loaded from its real address, and the
//! widget's `fetch` to the app on 127.0.0.1 is judged by Local Network Access under the
//! enterprise policy each test writes. Blocked without what it needs, working with it.
//!
//! The widget talks to the real listener through a recording proxy, so the tests read every
//! byte it sent.

use std::net::TcpListener;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use callcard::{CallContext, CallState, CrmEntityType, ParseError};
use listener::{Accepted, Config, Intake, OriginAllowList, Pairing, PairingToken, Running};
use portal_sim::SimConfig;
use serde_json::{json, Value};

use crate::support::chromium::Chromium;
use crate::support::public::{policy, PublicWeb};
use crate::support::web::{percent_encode, RecordingProxy};

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

    /// Waits until the latest call received satisfies `check`, and returns every call so far.
    /// (The widget forwards each event's data, then getStatus's answer: how many requests an
    /// event makes depends on timing, what the app ends up with does not.)
    fn until(&self, what: &str, check: impl Fn(&CallContext) -> bool) -> Vec<CallContext> {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let calls = self.received.calls.lock().unwrap().clone();
            if calls.last().is_some_and(&check) {
                return calls;
            }
            assert!(
                Instant::now() < deadline,
                "{what}: calls received: {calls:#?}"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    fn code(&self) -> String {
        self.pairing.current_code(Instant::now()).unwrap().code
    }
}

/// The simulator's call-card page for a call, with the widget as the tab (its listener port in
/// the handler address, as IT registers it for a port other than 47600).
/// A portal whose application lacks the `pull` scope: the widget cannot publish through
/// Bitrix24 either, so these tests see what the listener path alone does (and that the widget
/// says the push failed too).
fn without_push() -> SimConfig {
    SimConfig {
        scope: "crm,user,user_brief,placement,telephony".into(),
        ..SimConfig::default()
    }
}

fn card_page(web: &PublicWeb, call_id: &str, lang: &str, listener_port: u16) -> String {
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
    let handler = format!("{}/relay/?port={listener_port}", web.widget_origin());
    let query: String = url_encode(&[
        ("options", options.to_string()),
        ("lang", lang.to_owned()),
        ("handler", handler),
    ]);
    web.call_card(&query)
}

fn url_encode(pairs: &[(&str, String)]) -> String {
    pairs
        .iter()
        .map(|(k, v)| format!("{k}={}", percent_encode(v)))
        .collect::<Vec<_>>()
        .join("&")
}

struct Browser {
    chromium: Chromium,
}

impl Browser {
    fn start(web: &PublicWeb, policy: Option<Value>) -> Browser {
        Browser {
            chromium: web.browser(policy),
        }
    }

    /// Opens the portal's call card; the widget loads in its iframe.
    fn open_card(&self, url: &str) {
        let session = &self.chromium.session;
        session.leave_frames().unwrap();
        session.navigate(url).unwrap();
        session.enter_frame("#appframe").unwrap();
    }

    /// The tokens the portal's page handed the tab.
    fn portal_tokens(&self) -> (String, String) {
        let session = &self.chromium.session;
        session.leave_frames().unwrap();
        let init = session
            .execute("return JSON.parse(document.getElementById('sim-config').textContent).init;")
            .unwrap();
        session.enter_frame("#appframe").unwrap();
        (
            init["AUTH_ID"].as_str().unwrap().to_owned(),
            init["REFRESH_ID"].as_str().unwrap().to_owned(),
        )
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
                .execute("const r = document.querySelector('.relay'); return r ? [r.dataset.state, document.querySelector('[data-testid=status-text]').textContent, document.querySelector('[data-testid=detail]').textContent] : ['none', '', ''];")
                .unwrap();
            let text = format!("{} {}", now[1].as_str().unwrap(), now[2].as_str().unwrap());
            if now[0] == state && text.contains(needle) {
                return text;
            }
            assert!(
                Instant::now() < deadline,
                "the widget stayed at {now} instead of {state}"
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// Fires a call card event from the portal's page into the widget.
    fn fire(&self, event: &str, arg: Value) {
        let session = &self.chromium.session;
        session.leave_frames().unwrap();
        session
            .execute(&format!("simCallCard.fire({}, {arg});", Value::from(event)))
            .unwrap();
        session.enter_frame("#appframe").unwrap();
    }

    /// The call's CRM activity comes to exist on the portal's page (`simCallCard.createActivity`).
    fn create_activity(&self, id: u64) {
        self.on_portal_page(&format!("simCallCard.createActivity({id});"));
    }

    /// The call card moves to another client: getStatus's data become `status`, and
    /// `CallCard::EntityChanged` fires (`simCallCard.changeClient`).
    fn change_client(&self, status: Value) {
        self.on_portal_page(&format!("simCallCard.changeClient({status});"));
    }

    fn on_portal_page(&self, script: &str) {
        let session = &self.chromium.session;
        session.leave_frames().unwrap();
        session.execute(script).unwrap();
        session.enter_frame("#appframe").unwrap();
    }

    fn events_bound(&self) -> Vec<String> {
        let session = &self.chromium.session;
        session.leave_frames().unwrap();
        let bound = session.execute("return simCallCard.bound();").unwrap();
        session.enter_frame("#appframe").unwrap();
        serde_json::from_value(bound).unwrap()
    }
}

fn no_tokens_in(proxy: &RecordingProxy, tokens: &[String]) {
    let seen = proxy.seen();
    assert!(!seen.is_empty());
    for request in seen {
        let all = request.everything();
        for token in tokens {
            assert!(
                !all.contains(token.as_str()),
                "a portal token left the browser: {all}"
            );
        }
    }
}

#[test]
fn with_both_policies_the_widget_pairs_then_forwards_the_call_and_its_changes_without_tokens() {
    let web = PublicWeb::start(without_push());
    let app = App::start(&web.widget_origin());
    let proxy = RecordingProxy::start(app.port);
    let browser = Browser::start(
        &web,
        Some(policy::relay(&web.widget_origin(), &web.portal())),
    );

    // Unpaired: the app is there, the widget asks for the code; nothing reaches the app yet.
    browser.open_card(&card_page(&web, "externalCall.relay.1", "en", proxy.port));
    let status = browser.wait_state("pairing");
    assert!(status.contains("Pairing needed"), "{status}");
    let (auth, refresh) = browser.portal_tokens();
    let session = &browser.chromium.session;
    let code = app.code();
    let wrong = if code == "000000" { "111111" } else { "000000" };
    session.type_into("[data-testid=pair-code]", wrong).unwrap();
    session.click("[data-testid=pair-submit]").unwrap();
    let refused = browser.wait_text("pairing", "not accepted");
    assert!(refused.contains("wrong pairing code"), "{refused}");
    session.type_into("[data-testid=pair-code]", &code).unwrap();
    session.click("[data-testid=pair-submit]").unwrap();
    assert!(browser
        .wait_state("sent")
        .contains("Sent to the app on this computer"));
    let calls = app.until("the call", |c| c.call_id == "externalCall.relay.1");
    let first = calls.last().unwrap();
    assert_eq!(first.call_id, "externalCall.relay.1");
    assert_eq!(first.phone_number.as_deref(), Some("+79001234567"));
    assert_eq!(first.state, CallState::Connecting);
    let portal = first.portal.as_ref().expect("the portal is named");
    assert_eq!(
        portal.domain.as_deref(),
        Some(format!("portal.test:{}", web.portal_port).as_str())
    );
    assert_eq!(portal.lang.as_deref(), Some("en"));

    // The call card's events are forwarded for the same call, as the portal delivers them
    // (the first argument only).
    let bound = browser.events_bound();
    for event in [
        "CallCard::CallStateChanged",
        "CallCard::EntityChanged",
        "CallCard::BeforeClose",
    ] {
        assert!(
            bound.iter().any(|b| b == event),
            "{event} not bound: {bound:?}"
        );
    }
    browser.fire("CallCard::CallStateChanged", json!("connected"));
    app.until("the new state", |c| {
        (c.call_id.as_str(), &c.state) == ("externalCall.relay.1", &CallState::Connected)
    });
    // getStatus after init and after each event: the call's activity, once it exists, reaches
    // the app with the next event (no event announces it).
    browser.create_activity(12043);
    browser.fire("CallCard::CallStateChanged", json!("connected"));
    let calls = app.until("the activity id", |c| c.activity_id == Some(12043));
    assert_eq!(calls.last().unwrap().state, CallState::Connected);
    // The agent binds the call to a contact in the card, with the contact's deal.
    browser.change_client(json!({
        "PHONE_NUMBER": "+79001234567", "CRM_ENTITY_TYPE": "CONTACT", "CRM_ENTITY_ID": 42,
        "CRM_BINDINGS": [{ "ENTITY_TYPE": "CONTACT", "ENTITY_ID": 42 }, { "ENTITY_TYPE": "DEAL", "ENTITY_ID": 25 }],
    }));
    let calls = app.until("the new bindings", |c| c.bindings.len() == 2);
    let last = calls.last().unwrap();
    let entity = last.entity.expect("the new binding arrived");
    assert_eq!(
        (entity.entity_type, entity.id),
        (CrmEntityType::Contact, 42)
    );
    assert_eq!(last.state, CallState::Connected, "the state is kept");
    assert_eq!(
        last.activity_id,
        Some(12043),
        "getStatus names the activity"
    );
    // Call-list mode: the next client. The event carries no bindings; what the widget forwards
    // never pairs the new client with the previous one's bindings, and getStatus brings the new.
    let before = calls.len();
    browser.change_client(json!({
        "PHONE_NUMBER": "+79161234567", "CRM_ENTITY_TYPE": "LEAD", "CRM_ENTITY_ID": 7,
        "CRM_BINDINGS": [{ "ENTITY_TYPE": "LEAD", "ENTITY_ID": 7 }],
    }));
    let calls = app.until("the next client's bindings", |c| {
        c.bindings
            .iter()
            .map(|b| (b.entity_type, b.id))
            .collect::<Vec<_>>()
            == [(CrmEntityType::Lead, 7)]
    });
    for call in &calls[before..] {
        assert!(
            call.bindings.iter().all(|b| b.id == 7),
            "the previous client's bindings were forwarded with the next one: {call:#?}"
        );
        assert_eq!(call.phone_number.as_deref(), Some("+79161234567"));
    }
    // A caller who hid the number: no number, and why (`hidden`), never a number to look up.
    browser.change_client(json!({
        "PHONE_NUMBER": "hidden", "CRM_ENTITY_TYPE": "", "CRM_ENTITY_ID": 0, "CRM_BINDINGS": [],
    }));
    app.until("the hidden number, then getStatus's answer", |c| {
        c.no_number == Some(callcard::NoNumber::Hidden)
            && c.phone_number.is_none()
            && c.activity_id == Some(12043)
    });
    browser.fire("CallCard::BeforeClose", Value::Null);
    app.until("a closed card ends the call", |c| {
        c.state == CallState::Idle
    });

    // The fallback link carries the same call, no token, and works in the app's parser; it is
    // signed (WebCrypto, asynchronously) with the pairing token, which the app checks.
    let token = app.pairing.token();
    let deadline = Instant::now() + Duration::from_secs(10);
    let link = loop {
        let link = session
            .attribute("[data-testid=open-link]", "href")
            .unwrap()
            .unwrap();
        if link.contains("&sig=") || Instant::now() > deadline {
            break link;
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    assert!(
        !link.contains(token.expose()),
        "the token itself never goes in a link"
    );
    let (unsigned, trust) = companion::link_trust::check(&link, token.expose());
    assert_eq!(trust, companion::link_trust::Trust::Signed, "{link}");
    assert_eq!(
        companion::link_trust::check(&link, "another agent's token").1,
        companion::link_trust::Trust::BadSignature
    );
    let from_link = callcard::parse_deep_link(&unsigned).unwrap();
    assert_eq!(from_link.call_id, "externalCall.relay.1");
    assert_eq!(from_link.no_number, Some(callcard::NoNumber::Hidden));
    assert_eq!(from_link.activity_id, Some(12043));

    // Paired: the next call card goes straight through.
    browser.open_card(&card_page(&web, "externalCall.relay.2", "en", proxy.port));
    browser.wait_state("sent");
    app.until("the next call", |c| c.call_id == "externalCall.relay.2");

    no_tokens_in(&proxy, &[auth, refresh]);
    let posts: Vec<_> = proxy
        .seen()
        .into_iter()
        .filter(|r| r.method == "POST" && r.path == "/v1/call-card")
        .collect();
    assert_eq!(posts.len(), app.received.calls.lock().unwrap().len());
    for post in posts {
        assert_eq!(post.header("origin"), Some(web.widget_origin().as_str()));
        let body: Value = serde_json::from_slice(&post.body).unwrap();
        assert_eq!(
            (body["v"].as_u64(), body["placement"].as_str()),
            (Some(1), Some("CALL_CARD"))
        );
    }
}

/// README used to tell IT to set `LocalNetworkAccessAllowedForUrls` alone. Measured: the
/// widget's iframe is still refused (it needs the permission delegated too), as with no policy.
#[test]
fn without_policy_or_with_the_old_single_policy_the_widget_is_blocked_and_offers_the_link() {
    let web = PublicWeb::start(without_push());
    let app = App::start(&web.widget_origin());
    let proxy = RecordingProxy::start(app.port);
    for (name, policy) in [
        ("no policy", None),
        (
            "the old single policy",
            Some(policy::relay_single(&web.widget_origin(), &web.portal())),
        ),
    ] {
        let browser = Browser::start(&web, policy);
        browser.open_card(&card_page(
            &web,
            "externalCall.relay.blocked",
            "en",
            proxy.port,
        ));
        let status = browser.wait_text("blocked", "failed too");
        assert!(
            status.contains("blocked the connection"),
            "{name}: {status}"
        );
        let session = &browser.chromium.session;
        let link = session
            .attribute("[data-testid=open-link]", "href")
            .unwrap()
            .unwrap();
        assert!(
            link.starts_with("callcompanion://call-card?p="),
            "{name}: {link}"
        );
        assert!(
            callcard::parse_deep_link(&link).is_ok(),
            "{name}: the link carries the call"
        );
        assert!(
            session
                .attribute("[data-testid=retry]", "hidden")
                .unwrap()
                .is_none(),
            "{name}: Retry is offered"
        );
        std::fs::write(
            crate::support::artifacts_dir()
                .join(format!("relay-blocked-{}.png", name.replace(' ', "-"))),
            session.screenshot().unwrap(),
        )
        .unwrap();
    }
    assert!(
        proxy.seen().is_empty(),
        "nothing reached the app: {:?}",
        proxy.seen()
    );
    assert!(app.received.calls.lock().unwrap().is_empty());
}

#[test]
fn says_when_the_app_is_not_running_and_retry_reaches_it_once_it_is() {
    let web = PublicWeb::start(without_push());
    let browser = Browser::start(
        &web,
        Some(policy::relay(&web.widget_origin(), &web.portal())),
    );
    // A port nobody listens on yet: the app is not running.
    let reserved = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = reserved.local_addr().unwrap().port();
    drop(reserved);
    browser.open_card(&card_page(&web, "externalCall.relay.3", "en", port));
    let status = browser.wait_state("not-running");
    assert!(status.contains("not running"), "{status}");
    let (auth, refresh) = browser.portal_tokens();
    let session = &browser.chromium.session;
    assert!(session
        .attribute("[data-testid=retry]", "hidden")
        .unwrap()
        .is_none());
    let link = session
        .attribute("[data-testid=open-link]", "href")
        .unwrap()
        .unwrap();
    assert!(link.starts_with("callcompanion://call-card?p="), "{link}");
    assert!(!link.contains(&auth));

    // The app starts: Retry finds it, and it needs pairing first.
    let app = App::start(&web.widget_origin());
    let proxy = RecordingProxy::start_on(TcpListener::bind(("127.0.0.1", port)).unwrap(), app.port);
    session.click("[data-testid=retry]").unwrap();
    browser.wait_state("pairing");
    session
        .type_into("[data-testid=pair-code]", &app.code())
        .unwrap();
    session.click("[data-testid=pair-submit]").unwrap();
    browser.wait_state("sent");
    app.until("the call", |c| c.call_id == "externalCall.relay.3");
    no_tokens_in(&proxy, &[auth, refresh]);

    // Another program answers where the paired widget looks for the app (a co-worker's app
    // holding the port on a shared computer, or anything else): it cannot prove the pairing
    // token, so it gets neither the token nor the caller, and the agent is told.
    let squatter = App::start(&web.widget_origin());
    let squatted = RecordingProxy::start(squatter.port);
    browser.open_card(&card_page(
        &web,
        "externalCall.relay.3b",
        "en",
        squatted.port,
    ));
    let status = browser.wait_state("other");
    assert!(status.contains("Another program"), "{status}");
    let seen = squatted.seen();
    assert!(!seen.is_empty(), "the widget asked the program on the port");
    for request in &seen {
        assert_eq!(request.method, "GET", "{}", request.path);
        assert!(
            request.path.starts_with("/v1/status?challenge="),
            "{}",
            request.path
        );
        assert_eq!(
            request.header("authorization"),
            None,
            "the token never left"
        );
        assert!(!String::from_utf8_lossy(&request.body).contains("+7"));
    }
    assert!(squatter.received.calls.lock().unwrap().is_empty());
    std::fs::write(
        crate::support::artifacts_dir().join("relay-other-program-en.png"),
        session.screenshot().unwrap(),
    )
    .unwrap();
    // The paired app, where it is, still gets the next call: the widget proves it first.
    browser.open_card(&card_page(&web, "externalCall.relay.3c", "en", port));
    browser.wait_state("sent");
    app.until("the call after", |c| c.call_id == "externalCall.relay.3c");
}

#[test]
fn speaks_the_portals_language_and_names_an_origin_the_app_refuses() {
    let web = PublicWeb::start(without_push());
    // The app allows some other origin, not this widget's.
    let app = App::start("https://relay.example.com");
    let proxy = RecordingProxy::start(app.port);
    let browser = Browser::start(
        &web,
        Some(policy::relay(&web.widget_origin(), &web.portal())),
    );
    browser.open_card(&card_page(&web, "externalCall.relay.4", "ru", proxy.port));
    let status = browser.wait_state("refused");
    assert!(status.contains("не принимает"), "{status}");
    assert!(
        status.contains(&web.widget_origin()),
        "says which origin to allow: {status}"
    );
    let session = &browser.chromium.session;
    assert_eq!(
        session.text_of("[data-testid=open-link]").unwrap(),
        "Открыть в Call Companion"
    );
    assert!(app.received.calls.lock().unwrap().is_empty());
    let (auth, refresh) = browser.portal_tokens();
    no_tokens_in(&proxy, &[auth, refresh]);

    // Outside a call card (no Bitrix24 around it) the widget says so instead of waiting.
    session.leave_frames().unwrap();
    session
        .navigate(&format!("{}/relay/", web.widget_origin()))
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        let state = session
            .execute("return document.querySelector('.relay').dataset.state;")
            .unwrap();
        if state == "no-bitrix" {
            break;
        }
        assert!(Instant::now() < deadline, "stayed at {state}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// Done-when: the widget in Chromium under the two policies → the listener of the real app
/// under Xvfb → the portal simulator → the card in the window.
#[test]
fn a_call_from_the_widget_in_chromium_pops_its_card_in_the_real_window() {
    use crate::e2e_card::card_state;
    use crate::support::driver::AppHome;

    let _turn = crate::e2e::ONE_AT_A_TIME
        .lock()
        .unwrap_or_else(|e| e.into_inner());
    let web = PublicWeb::start(without_push());
    let origin = web.widget_origin();
    let mut home = AppHome::new();
    let app = web.signed_in_app(
        &mut home,
        &[
            "--lang",
            "en",
            "--theme",
            "light",
            "--allow-origin",
            &origin,
        ],
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

    let browser = Browser::start(&web, Some(policy::relay(&origin, &web.portal())));
    let call_id = "externalCall.relay.e2e.1732600000";
    browser.open_card(&card_page(&web, call_id, "en", home.listen_port));
    browser.wait_state("pairing");
    let session = &browser.chromium.session;
    session.type_into("[data-testid=pair-code]", &code).unwrap();
    session.click("[data-testid=pair-submit]").unwrap();
    browser.wait_state("sent");
    browser.fire("CallCard::CallStateChanged", json!("connected"));
    browser.wait_state("sent");

    crate::support::public::wait_until("the window shows the card", 20, || {
        let shown = app
            .session
            .execute(
                "const c = document.querySelector('.call-id'); return c ? c.textContent : null",
            )
            .unwrap();
        if shown == call_id && card_state(&app) == "ready" {
            Ok(())
        } else {
            Err(format!("{shown} / {}", card_state(&app)))
        }
    });
    let card = app.session.text_of("[data-testid=card]").unwrap();
    assert!(card.contains("Петрова"), "{card}");
    app.screenshot("relay-e2e-window");
    session.leave_frames().unwrap();
    let png = session.screenshot().unwrap();
    std::fs::write(
        crate::support::artifacts_dir().join("relay-e2e-widget.png"),
        png,
    )
    .unwrap();
}

/// Done-when of the push transport, in the production conditions of `browsers.md` with no
/// browser policy at all: the widget on its public origin cannot reach 127.0.0.1, publishes the
/// call through Bitrix24's push channel (`pull.application.event.add` on the agent's own
/// channel), says so, and the card pops in the real window of the app signed in with the
/// application.
#[test]
fn without_any_policy_the_widget_sends_the_call_through_bitrix24_and_the_card_pops() {
    use crate::e2e_card::card_state;
    use crate::support::driver::AppHome;

    let _turn = crate::e2e::ONE_AT_A_TIME
        .lock()
        .unwrap_or_else(|e| e.into_inner());
    let web = PublicWeb::start(SimConfig::default());
    let mut home = AppHome::new();
    let app = web.application_signed_in_app(&mut home, &["--lang", "en", "--theme", "light"]);
    let published = web.sim.stats().push_published;

    let browser = Browser::start(&web, None);
    let call_id = "externalCall.relay.push.1732600000";
    browser.open_card(&card_page(&web, call_id, "en", home.listen_port));
    let status = browser.wait_text("pushed", "Bitrix24");
    assert!(status.contains("Sent through Bitrix24"), "{status}");
    assert!(web.sim.stats().push_published > published);

    crate::support::public::wait_until("the window shows the card", 20, || {
        let shown = app
            .session
            .execute(
                "const c = document.querySelector('.call-id'); return c ? c.textContent : null",
            )
            .unwrap();
        if shown == call_id && card_state(&app) == "ready" {
            Ok(())
        } else {
            Err(format!("{shown} / {}", card_state(&app)))
        }
    });
    let card = app.session.text_of("[data-testid=card]").unwrap();
    assert!(card.contains("Петрова"), "{card}");
    app.screenshot("relay-push-window");
    let session = &browser.chromium.session;
    session.leave_frames().unwrap();
    std::fs::write(
        crate::support::artifacts_dir().join("relay-push-widget.png"),
        session.screenshot().unwrap(),
    )
    .unwrap();
}

/// A terminal server: a co-worker's app holds the port the widget's address names, and this
/// agent's app listens on another, which it published in the agent's own Bitrix24 user option
/// (`user.option.set`, as `port_publish.rs` does). The widget reads it as the same agent, pairs
/// with its own app and sends it the calls; the co-worker's app is never asked anything.
#[test]
fn on_a_shared_computer_the_widget_finds_its_agents_app_on_the_port_it_published() {
    let web = PublicWeb::start(without_push());
    let coworker = App::start(&web.widget_origin());
    let coworkers_port = RecordingProxy::start(coworker.port);
    let mine = App::start(&web.widget_origin());
    let my_port = RecordingProxy::start(mine.port);
    let browser = Browser::start(
        &web,
        Some(policy::relay(&web.widget_origin(), &web.portal())),
    );
    // The page's own tokens are the agent's (application context): publish as the app would.
    browser.open_card(&card_page(
        &web,
        "externalCall.shared.0",
        "en",
        coworkers_port.port,
    ));
    // Before the app published anything the widget looks where its address says, and finds
    // an app it is not paired with (it sends nothing but the status question).
    browser.wait_state("pairing");
    let asked_before = coworkers_port.seen().len();
    let (auth, refresh) = browser.portal_tokens();
    let published = ureq::post(&format!(
        "http://{}/rest/user.option.set",
        web.sim.address()
    ))
    .send_json(json!({ "auth": auth, "options": { "callcompanion_port": my_port.port } }))
    .unwrap()
    .into_json::<Value>()
    .unwrap();
    assert_eq!(published["result"], true);

    browser.open_card(&card_page(
        &web,
        "externalCall.shared.1",
        "en",
        coworkers_port.port,
    ));
    browser.wait_state("pairing");
    let session = &browser.chromium.session;
    session
        .type_into("[data-testid=pair-code]", &mine.code())
        .unwrap();
    session.click("[data-testid=pair-submit]").unwrap();
    browser.wait_state("sent");
    mine.until("the call", |c| c.call_id == "externalCall.shared.1");

    // The next call: the remembered port, proven first.
    browser.open_card(&card_page(
        &web,
        "externalCall.shared.2",
        "en",
        coworkers_port.port,
    ));
    browser.wait_state("sent");
    mine.until("the next call", |c| c.call_id == "externalCall.shared.2");

    let asked: Vec<_> = coworkers_port
        .seen()
        .iter()
        .map(|r| (r.path.clone(), r.header("authorization").is_some()))
        .collect();
    assert_eq!(
        asked.len(),
        asked_before,
        "the co-worker's app was asked after the port was published: {asked:?}"
    );
    assert!(asked.iter().all(|(_, token)| !token), "{asked:?}");
    assert!(coworker.received.calls.lock().unwrap().is_empty());
    no_tokens_in(&my_port, &[auth, refresh]);
}
