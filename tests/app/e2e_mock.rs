//! Mock mode in the real window: the embedded simulator, the Mock panel's scenarios clicked
//! through WebDriver, a pasted print_r dump from the docs.

use std::path::Path;
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::e2e::ONE_AT_A_TIME;
use crate::support::driver::RunningApp;

fn wait_until(app: &RunningApp, what: &str, script: &str, ok: impl Fn(&Value) -> bool) -> Value {
    let deadline = Instant::now() + Duration::from_secs(25);
    loop {
        let value = app.session.execute(script).unwrap_or(Value::Null);
        if ok(&value) {
            return value;
        }
        if Instant::now() >= deadline {
            let log = app.log_text();
            let tail = &log[log.len().saturating_sub(6000)..];
            panic!("{what}: last seen {value}\nthe app's log ends with:\n{tail}");
        }
        std::thread::sleep(Duration::from_millis(150));
    }
}

const CARD: &str = "const c = document.querySelector('[data-testid=card]'); const id = document.querySelector('.call-id'); \
                    return c ? [c.dataset.state, c.innerText, id ? id.textContent : '', document.querySelector('[data-testid=call-number]')?.textContent.trim()] : null";

fn fire(app: &RunningApp, scenario: &str) {
    app.click(&format!("scenario-{scenario}"));
}

/// The app in mock mode, signed in to its embedded portal, the Mock panel open.
fn mock_app() -> RunningApp {
    let app = RunningApp::start(&["--mock", "--lang", "en", "--theme", "light"]);
    app.session
        .wait_for("[data-testid=mock-banner]", Duration::from_secs(30))
        .unwrap();
    wait_until(
        &app,
        "signed in to the embedded portal",
        "return document.querySelector('[data-testid=status-portal]')?.innerText",
        |v| v.as_str().is_some_and(|t| t.contains("Анна Смирнова")),
    );
    app.session
        .execute("document.querySelector('[data-testid=mock-panel]').open = true")
        .unwrap();
    app
}

#[test]
fn every_scenario_from_the_mock_panel_shows_what_it_should() {
    let _turn = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    let app = mock_app();
    app.screenshot("mock-panel-en-light");

    let expect = |scenario: &str, state: &str, needle: &str| {
        fire(&app, scenario);
        wait_until(&app, scenario, CARD, |v| {
            v[0] == state && v[1].as_str().is_some_and(|t| t.contains(needle))
        });
        app.screenshot(&format!("mock-{scenario}-en-light"));
    };
    expect("incoming-contact", "ready", "Ирина Сергеевна Петрова");
    expect("shared-number", "choose", "ООО «Ромашка»");
    expect("lead", "ready", "Заявка");
    expect("outgoing-deal", "ready", "Годовой контракт на обслуживание");
    expect("unknown-caller", "unknown", "Not in the CRM");
    // Three calls one after another; the last is a company's own number.
    expect("call-list", "ready", "АО «Северный Ветер»");
    fire(&app, "state-changes");
    wait_until(
        &app,
        "the call ends",
        "return document.querySelector('[data-testid=call-state]')?.innerText",
        |v| v.as_str() == Some("Not active"),
    );
    app.screenshot("mock-state-changes-en-light");
    // The call card binds the call to a deal mid-call: the card follows.
    fire(&app, "entity-changed");
    wait_until(&app, "the card re-pops on the deal", CARD, |v| {
        v[0] == "ready"
            && v[1].as_str().is_some_and(|t| {
                t.starts_with("DEAL") || t.contains("Годовой контракт на обслуживание")
            })
            && v[2] == "externalCall.sim0008.1732400700"
            && v[1].as_str().is_some_and(|t| !t.starts_with("CONTACT"))
    });
    app.screenshot("mock-entity-changed-en-light");
    fire(&app, "malformed");
    let banner = wait_until(
        &app,
        "the refusal is shown",
        "return document.querySelector('[data-testid=rejection]')?.innerText",
        |v| v.as_str().is_some_and(|t| t.contains("missing_call_id")),
    );
    assert!(banner.as_str().unwrap().contains("CALL_ID"));
    app.screenshot("mock-malformed-en-light");

    // The docs' print_r example, pasted.
    let dump = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("tests/fixtures/call-card/seed-docs-print_r.txt"),
    )
    .unwrap();
    app.session
        .execute("document.querySelector('[data-testid=mock-panel]').open = true")
        .unwrap();
    app.type_into("mock-paste", &dump);
    app.click("mock-send");
    let answer = wait_until(
        &app,
        "the listener's answer",
        "return document.querySelector('[data-testid=mock-answer]')?.innerText",
        |v| v.as_str().is_some_and(|t| t.contains("202")),
    );
    assert!(
        answer
            .as_str()
            .unwrap()
            .contains("externalCall.c3ee67f1a63f6e6117c230ab59cc49ea.1723556778"),
        "{answer}"
    );
    wait_until(&app, "the pasted call pops", CARD, |v| v[3] == "555555");
    app.screenshot("mock-pasted-print-r-en-light");

    // A fault while a call is on screen: the portal goes down, the retry shows it, it comes back.
    app.click("fault-portal_down");
    app.type_into("mock-paste", r#"{"CALL_ID":"mock.down.1","PHONE_NUMBER":"+79250210299","CRM_ENTITY_TYPE":"CONTACT","CRM_ENTITY_ID":"43","CALL_STATE":"connecting"}"#);
    app.click("mock-send");
    wait_until(&app, "the outage is shown", CARD, |v| v[0] == "failed");
    app.screenshot("mock-portal-down-en-light");
    app.click("fault-portal_down");
    app.session.execute("[...document.querySelectorAll('[data-testid=card-failed] button')].forEach(b => b.click())").unwrap();
    wait_until(&app, "the card comes back with the portal", CARD, |v| {
        v[0] == "ready"
    });
}

/// A tester opens a scenario as Bitrix24's call card in the browser (the Mock panel), and builds
/// a call card of their own from `simulate --tab-form`: both reach the app through its own tab.
#[test]
fn the_mock_panel_opens_a_call_card_in_the_browser_and_testers_get_the_tabs_form() {
    use crate::support::chromium::{Chromium, Network};
    use crate::support::tls::HttpsSite;

    let _turn = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    let app = mock_app();
    app.click("mock-via-browser");
    fire(&app, "incoming-contact");
    let opened = wait_until(
        &app,
        "the panel says where it opened the call card",
        "return document.querySelector('[data-testid=mock-opened]')?.innerText",
        |v| {
            v.as_str()
                .is_some_and(|t| t.contains("/sim/call-card?scenario=incoming-contact"))
        },
    );
    app.screenshot("mock-via-browser-en-light");
    let page = std::fs::read_to_string(app.home().join("browser.log")).unwrap();
    let page = page
        .lines()
        .last()
        .expect("the app opened a page")
        .to_owned();
    assert!(
        opened.as_str().unwrap().contains(&page),
        "{opened} / {page}"
    );

    // The agent's browser (here headless Chromium) shows it: the simulator's page POSTs the call
    // into the app's tab; both are on this computer, so no policy is involved.
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let library = HttpsSite::start(std::collections::HashMap::from([(
        "/api/v1/".to_owned(),
        (
            "text/javascript",
            std::fs::read(root.join("tests/fixtures/relay/bx24-standin.js")).unwrap(),
        ),
    )]));
    let network = Network {
        hosts: vec![("api.bitrix24.com".into(), Some(library.port))],
        public: vec![library.port],
    };
    let browser = Chromium::start(&network, None).unwrap_or_else(|e| panic!("{e}"));
    browser.session.navigate(&page).unwrap();
    wait_until(&app, "the scenario's card pops", CARD, |v| {
        v[0] == "ready"
            && v[1]
                .as_str()
                .is_some_and(|t| t.contains("Ирина Сергеевна Петрова"))
    });
    wait_until(
        &app,
        "the page's second step reaches the window",
        "return document.querySelector('[data-testid=call-state]')?.className",
        |v| v.as_str().is_some_and(|c| c.contains("connected")),
    );

    // Offline (no Bitrix24 library to load), the call still arrives and the tab says what is lost.
    drop(browser);
    let offline = Chromium::start(&Network::default(), None).unwrap_or_else(|e| panic!("{e}"));
    offline
        .session
        .navigate(&page.replace("incoming-contact", "lead"))
        .unwrap();
    wait_until(&app, "the offline tab's call pops", CARD, |v| {
        v[0] == "ready" && v[1].as_str().is_some_and(|t| t.contains("Заявка"))
    });
    offline.session.enter_frame("#appframe").unwrap();
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let note = offline
            .session
            .execute("return document.querySelector('[data-testid=events]').textContent")
            .unwrap();
        // The lead scenario's portal speaks Russian.
        if note
            .as_str()
            .is_some_and(|t| t.contains("did not load") || t.contains("не загрузилась"))
        {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the tab did not say the library is missing: {note}"
        );
        std::thread::sleep(Duration::from_millis(150));
    }
    drop(offline);

    // `simulate --tab-form`: the form Bitrix24 would POST, with a valid token for the mock agent.
    let port = app.listen_port.to_string();
    let out = app.cli(&[
        "simulate",
        "--scenario",
        "outgoing-deal",
        "--tab-form",
        "--port",
        &port,
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let form: Value = serde_json::from_slice(&out.stdout).unwrap();
    let action = form["action"].as_str().unwrap();
    assert!(
        action.starts_with(&format!("http://127.0.0.1:{port}/call-card/?DOMAIN=")),
        "{action}"
    );
    assert_eq!(form["fields"]["PLACEMENT"], "CALL_CARD");
    assert!(form["fields"]["AUTH_ID"]
        .as_str()
        .is_some_and(|t| t.len() > 20));
    let body: String = form["fields"]
        .as_object()
        .unwrap()
        .iter()
        .map(|(k, v)| {
            format!(
                "{}={}",
                k,
                crate::support::web::percent_encode(v.as_str().unwrap())
            )
        })
        .collect::<Vec<_>>()
        .join("&");
    let answer = ureq::post(action)
        .set("Content-Type", "application/x-www-form-urlencoded")
        .send_string(&body)
        .unwrap()
        .into_string()
        .unwrap();
    assert!(answer.contains("data-code=\"sent\""), "{answer}");
    wait_until(&app, "the tester's call pops", CARD, |v| {
        v[0] == "ready"
            && v[1]
                .as_str()
                .is_some_and(|t| t.contains("Годовой контракт на обслуживание"))
    });
}

/// Done-when of the push transport: another process holds the app's listener port, so nothing
/// reaches the app over loopback; a scenario published through Bitrix24's push channel (as the
/// relay would, `simulate --via push`) pops the card in the real window anyway.
#[test]
fn with_the_listener_port_taken_a_call_sent_through_bitrix24s_push_channel_pops_its_card() {
    let _turn = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    let home = crate::support::driver::AppHome::new();
    let squatter = std::net::TcpListener::bind(("127.0.0.1", home.listen_port))
        .expect("the test holds the app's port");
    let app = RunningApp::start_in(&home, &["--mock", "--lang", "en", "--theme", "light"]);
    app.session
        .wait_for("[data-testid=mock-banner]", Duration::from_secs(30))
        .unwrap();
    // The port is another program's: the app listens on a free one and says so.
    let listener = app
        .session
        .text_of("[data-testid=status-listener]")
        .unwrap();
    assert!(listener.contains("Listening on another port"), "{listener}");
    assert!(
        listener.contains(&format!("127.0.0.1:{} is held by", home.listen_port)),
        "{listener}"
    );
    app.screenshot("listener-elsewhere-en-light");
    // Signed in with the simulated portal's application, and subscribed to its push channel.
    wait_until(
        &app,
        "subscribed to the push channel",
        "return document.querySelector('[data-testid=status-push]')?.innerText",
        |v| {
            v.as_str()
                .map(str::to_lowercase)
                .is_some_and(|t| t.contains("connected") && !t.contains("not"))
        },
    );
    let sent = app.cli(&[
        "simulate",
        "--scenario",
        "incoming-contact",
        "--via",
        "push",
    ]);
    assert!(
        sent.status.success(),
        "simulate --via push: {}{}",
        String::from_utf8_lossy(&sent.stdout),
        String::from_utf8_lossy(&sent.stderr)
    );
    wait_until(&app, "the card popped by push", CARD, |v| {
        v[0] == "ready"
            && v[1]
                .as_str()
                .is_some_and(|t| t.contains("Ирина Сергеевна Петрова"))
    });
    app.screenshot("push-with-listener-port-taken-en-light");

    // This user's command line finds the app where it listens (its data folder says), and the
    // program on the usual port gets nothing.
    squatter.set_nonblocking(true).unwrap();
    let asked = home.listen_port.to_string();
    let sent = app.cli(&["simulate", "--scenario", "outgoing-deal", "--port", &asked]);
    assert!(
        sent.status.success(),
        "simulate: {}{}",
        String::from_utf8_lossy(&sent.stdout),
        String::from_utf8_lossy(&sent.stderr)
    );
    wait_until(
        &app,
        "the call sent to the listener elsewhere",
        "return document.querySelector('[data-testid=call-direction]')?.innerText",
        |v| v.as_str().is_some_and(|t| t.contains("Outgoing")),
    );
    assert!(
        squatter.accept().is_err(),
        "the program on the usual port was contacted"
    );
    drop(squatter);
}
