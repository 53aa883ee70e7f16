//! The screen pop in the real window: each screen-pop fixture posted with `simulate` to the app
//! signed in to the portal simulator, the card asserted in the DOM and photographed in both
//! themes; and the window does not take the keyboard when a call comes in.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use portal_sim::{SimConfig, Simulator};
use serde_json::Value;

use crate::e2e::ONE_AT_A_TIME;
use crate::support::driver::{AppHome, RunningApp};

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(format!("tests/fixtures/screen-pop/{name}.json"))
}

pub(crate) fn card_state(app: &RunningApp) -> String {
    app.session
        .execute("const c = document.querySelector('[data-testid=card]'); return c ? c.dataset.state : null")
        .ok()
        .and_then(|v| v.as_str().map(str::to_owned))
        .unwrap_or_default()
}

/// Posts a fixture as the relay widget would and waits for its card to settle.
pub(crate) fn pop(app: &RunningApp, name: &str, want: &str) -> String {
    let port = app.listen_port.to_string();
    let sent = app.cli(&[
        "simulate",
        "--file",
        fixture(name).to_str().unwrap(),
        "--port",
        &port,
    ]);
    assert!(
        sent.status.success(),
        "{name}: {}",
        String::from_utf8_lossy(&sent.stdout)
    );
    let call_id: Value = serde_json::from_str(
        String::from_utf8_lossy(&sent.stdout)
            .split_once(' ')
            .unwrap()
            .1
            .trim(),
    )
    .unwrap();
    let call_id = call_id["call_id"].as_str().unwrap().to_owned();
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let state = card_state(app);
        let current = app
            .session
            .execute(
                "const c = document.querySelector('.call-id'); return c ? c.textContent : null",
            )
            .unwrap();
        if state == want && current == Value::String(call_id.clone()) {
            return app.session.text_of("[data-testid=card]").unwrap();
        }
        assert!(
            Instant::now() < deadline,
            "{name}: card state {state:?}, wanted {want:?}"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

pub(crate) fn signed_in_app(home: &AppHome, sim: &Simulator, args: &[&str]) -> RunningApp {
    let endpoints = sim.endpoints();
    home.sign_in_with_webhook(&endpoints.base_url, &endpoints.webhook_url);
    let app = RunningApp::start_in(home, args);
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let portal = app
            .session
            .text_of("[data-testid=status-portal]")
            .unwrap_or_default();
        if portal.contains("Анна Смирнова") {
            return app;
        }
        assert!(
            Instant::now() < deadline,
            "the app did not sign in with the saved webhook: {portal}"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

fn every_case(theme: &str, lang: &str) {
    let _turn = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    let sim = Simulator::start(SimConfig::default()).unwrap();
    let home = AppHome::new();
    let app = signed_in_app(&home, &sim, &["--lang", lang, "--theme", theme]);
    let shot = |name: &str| app.screenshot(&format!("card-{name}-{lang}-{theme}"));

    let before = sim.stats().rest_requests;
    let text = pop(&app, "bound-contact", "ready");
    assert!(
        text.contains("Ирина Сергеевна Петрова")
            && text.contains("ООО «Ромашка»")
            && text.contains("Годовой контракт"),
        "{text}"
    );
    assert_eq!(
        sim.stats().rest_requests - before,
        1,
        "one request for the card"
    );
    shot("bound-contact");

    let text = pop(&app, "bound-deal", "ready");
    assert!(
        text.contains("Годовой контракт на обслуживание")
            && text.contains("Ирина Сергеевна Петрова"),
        "{text}"
    );
    assert!(
        text.contains(if lang == "ru" {
            "В работе"
        } else {
            "In progress"
        }),
        "{text}"
    );
    shot("bound-deal");

    let text = pop(&app, "bound-lead", "ready");
    assert!(text.contains("Заявка"), "{text}");
    shot("bound-lead");

    let text = pop(&app, "bound-company", "ready");
    assert!(
        text.contains("ООО «Ромашка»") && text.contains("Ирина Сергеевна Петрова"),
        "{text}"
    );
    shot("bound-company");

    let text = pop(&app, "unbound-one-match", "ready");
    assert!(text.contains("Ирина Сергеевна Петрова"), "{text}");
    shot("unbound-one-match");

    let text = pop(&app, "unbound-no-match", "unknown");
    assert!(
        text.contains(if lang == "ru" {
            "Нет в CRM"
        } else {
            "Not in the CRM"
        }),
        "{text}"
    );
    shot("unbound-no-match");
    let settle = |want: &str| {
        let deadline = Instant::now() + Duration::from_secs(20);
        while card_state(&app) != want {
            assert!(Instant::now() < deadline, "card never became {want:?}");
            std::thread::sleep(Duration::from_millis(100));
        }
        app.session.text_of("[data-testid=card]").unwrap()
    };
    if lang == "en" {
        // The agent creates a lead for the stranger, after confirming.
        app.click("card-create-lead");
        app.type_into("card-create-name", "Paul Walker");
        let form = app
            .session
            .text_of("[data-testid=card-create-form]")
            .unwrap();
        assert!(form.contains("+7 999 999-66-66"), "{form}");
        shot("unknown-create-lead");
        app.click("card-create-confirm");
        let text = settle("ready");
        assert!(
            text.contains("Paul Walker") && text.contains("+79999996666"),
            "{text}"
        );
        shot("created-lead");
    } else {
        // The agent searches by name instead.
        app.type_into("card-search", "Петрова");
        app.session
            .execute("document.querySelector('.quick.search button').click()")
            .unwrap();
        let text = settle("found");
        assert!(text.contains("Ирина Сергеевна Петрова"), "{text}");
        shot("found-by-name");
    }

    // 21 leads share a switchboard with a company: the company is still offered, and the
    // picker says the portal named only 20 leads.
    let text = pop(&app, "unbound-busy-switchboard", "choose");
    assert!(
        text.contains("ООО «Альфа-Сервис»")
            && text.contains(if lang == "ru" {
                "более чем у 20"
            } else {
                "More than 20 records"
            }),
        "{text}"
    );
    shot("unbound-busy-switchboard");

    let text = pop(&app, "unbound-several-matches", "choose");
    assert!(
        text.contains("ООО «Ромашка»") && text.contains("Oliver Evans"),
        "{text}"
    );
    // The number as people write it, in the picker and the header alike (the call card sent
    // `74951234567`).
    assert!(text.contains("+7 495 123-45-67"), "{text}");
    assert_eq!(
        app.session.text_of("[data-testid=call-number]").unwrap(),
        "+7 495 123-45-67"
    );
    shot("unbound-several-matches");
    // The agent picks the company: its card opens for this call.
    app.session
        .execute("[...document.querySelectorAll('[data-testid=card-choices] button')].find(b => b.textContent.includes('Ромашка')).click()")
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(20);
    while card_state(&app) != "ready" {
        assert!(Instant::now() < deadline, "the picked record did not load");
        std::thread::sleep(Duration::from_millis(100));
    }
    let subject = app.session.text_of("[data-testid=card-subject]").unwrap();
    assert!(subject.contains("ООО «Ромашка»"), "{subject}");
}

#[test]
fn every_screen_pop_case_in_english_light() {
    every_case("light", "en");
}

#[test]
fn every_screen_pop_case_in_russian_dark() {
    every_case("dark", "ru");
}

/// The X window that has the keyboard, as xdotool reports it.
fn focused_window(display: &str) -> String {
    let out = Command::new("xdotool")
        .arg("getwindowfocus")
        .env("DISPLAY", display)
        .output()
        .expect("xdotool is installed");
    String::from_utf8_lossy(&out.stdout).trim().to_owned()
}

#[test]
fn a_call_does_not_take_the_keyboard_from_the_agents_other_window() {
    let _turn = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    let sim = Simulator::start(SimConfig::default()).unwrap();
    let home = AppHome::new();
    let app = signed_in_app(&home, &sim, &["--lang", "en", "--theme", "light"]);
    let display = app.display().to_owned();
    // The softphone the agent types in, stood in for by another X client.
    let mut softphone = Command::new("xmessage")
        .args(["-name", "softphone", "Softphone"])
        .env("DISPLAY", &display)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("xmessage is installed");
    let deadline = Instant::now() + Duration::from_secs(10);
    let window = loop {
        let out = Command::new("xdotool")
            .args(["search", "--name", "^softphone$"])
            .env("DISPLAY", &display)
            .output()
            .unwrap();
        let found = String::from_utf8_lossy(&out.stdout)
            .lines()
            .next()
            .map(str::to_owned);
        if let Some(window) = found {
            break window;
        }
        assert!(
            Instant::now() < deadline,
            "the stand-in softphone window did not appear"
        );
        std::thread::sleep(Duration::from_millis(100));
    };
    let status = Command::new("xdotool")
        .args(["windowfocus", "--sync", &window])
        .env("DISPLAY", &display)
        .status()
        .unwrap();
    assert!(status.success());
    assert_eq!(focused_window(&display), window);

    pop(&app, "bound-contact", "ready");
    // The app says when it has asked the window manager for the call's attention.
    let deadline = Instant::now() + Duration::from_secs(10);
    while !app.log_text().contains(call_companion_lib::NEW_CALL_SHOWN) {
        assert!(
            Instant::now() < deadline,
            "the new call was never put before the agent"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    let focused = focused_window(&display);
    assert_eq!(
        focused, window,
        "the call took the keyboard from the agent's window"
    );
    let has_focus = app.session.execute("return document.hasFocus()").unwrap();
    assert_eq!(
        has_focus,
        Value::Bool(false),
        "the app's page has no keyboard focus"
    );

    // The agent who wants it asks for it in Settings: then a call brings the window forward.
    app.click("settings-toggle");
    app.click("pref-focus_on_call");
    let saved = wait_for_file(
        &home
            .path()
            .join("config")
            .join(companion::app::IDENTIFIER)
            .join("window.json"),
        "\"focus_on_call\": true",
    );
    assert!(saved.contains("\"compact\": false"), "{saved}");
    Command::new("xdotool")
        .args(["windowfocus", "--sync", &window])
        .env("DISPLAY", &display)
        .status()
        .unwrap();
    assert_eq!(focused_window(&display), window);
    pop(&app, "bound-deal", "ready");
    let deadline = Instant::now() + Duration::from_secs(10);
    while focused_window(&display) == window && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(100));
    }
    let focused = focused_window(&display);
    let _ = softphone.kill();
    let _ = softphone.wait();
    assert_ne!(
        focused, window,
        "with the setting on, the call brings the app forward"
    );
}

/// Waits until `path` exists and contains `needle`; returns its text.
pub(crate) fn wait_for_file(path: &Path, needle: &str) -> String {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let text = std::fs::read_to_string(path).unwrap_or_default();
        if text.contains(needle) {
            return text;
        }
        assert!(
            Instant::now() < deadline,
            "{} never contained {needle:?}: {text}",
            path.display()
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

#[test]
fn compact_mode_shrinks_the_window_to_the_essentials_and_is_remembered() {
    let _turn = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    let sim = Simulator::start(SimConfig::default()).unwrap();
    let home = AppHome::new();
    {
        let app = signed_in_app(&home, &sim, &["--lang", "en", "--theme", "light"]);
        let height = || {
            app.session
                .execute("return window.innerHeight")
                .unwrap()
                .as_f64()
                .unwrap()
        };
        let full = height();
        app.click("settings-toggle");
        app.click("pref-compact");
        wait_for_file(
            &home
                .path()
                .join("config")
                .join(companion::app::IDENTIFIER)
                .join("window.json"),
            "\"compact\": true",
        );
        let deadline = Instant::now() + Duration::from_secs(10);
        while height() >= full && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(100));
        }
        assert!(
            height() < full * 0.6,
            "compact window {} vs full {full}",
            height()
        );
        app.click("settings-toggle");
        let text = pop(&app, "bound-contact", "ready");
        assert!(text.contains("Ирина Сергеевна Петрова"));
        let activities_shown = app.session.execute("const a = document.querySelector('[data-testid=card-activities]'); return !!a && a.offsetParent !== null").unwrap();
        assert_eq!(
            activities_shown,
            Value::Bool(false),
            "compact mode leaves the history out"
        );
        app.screenshot("card-compact-en-light");
    }
    // The next start is compact too.
    let app = RunningApp::start_in(&home, &["--lang", "en", "--theme", "light"]);
    app.session
        .wait_for("[data-testid=app].compact", Duration::from_secs(30))
        .unwrap();
    let height = app
        .session
        .execute("return window.innerHeight")
        .unwrap()
        .as_f64()
        .unwrap();
    assert!(height < 400.0, "the window starts compact too: {height}");
}

#[test]
fn a_desktop_notification_for_each_new_call_when_the_agent_wants_one() {
    use std::io::BufRead;
    let _turn = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    let sim = Simulator::start(SimConfig::default()).unwrap();
    let home = AppHome::new();
    let app = signed_in_app(&home, &sim, &["--lang", "en", "--theme", "light"]);
    // Watch the session bus for what the app asks the desktop's notification service.
    let mut monitor = Command::new("dbus-monitor")
        .args([
            "--session",
            "type='method_call',interface='org.freedesktop.Notifications',member='Notify'",
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("dbus-monitor is installed (package dbus)");
    let (tx, rx) = std::sync::mpsc::channel::<String>();
    let stdout = monitor.stdout.take().unwrap();
    std::thread::spawn(move || {
        for line in std::io::BufReader::new(stdout)
            .lines()
            .map_while(Result::ok)
        {
            let _ = tx.send(line);
        }
    });
    std::thread::sleep(Duration::from_millis(300));
    let seen = |needle: &str, wait: Duration| {
        let deadline = Instant::now() + wait;
        while let Ok(line) = rx.recv_timeout(deadline.saturating_duration_since(Instant::now())) {
            if line.contains(needle) {
                return true;
            }
        }
        false
    };

    // Off by default: a call shows no notification.
    pop(&app, "bound-contact", "ready");
    assert!(
        !seen("+79001234567", Duration::from_secs(2)),
        "no notification unless asked"
    );

    app.click("settings-toggle");
    app.click("pref-notify_on_call");
    wait_for_file(
        &home
            .path()
            .join("config")
            .join(companion::app::IDENTIFIER)
            .join("window.json"),
        "\"notify_on_call\": true",
    );
    app.click("settings-toggle");
    pop(&app, "unbound-no-match", "unknown");
    let notified = seen("+7 999 999-66-66", Duration::from_secs(10));
    let _ = monitor.kill();
    let _ = monitor.wait();
    assert!(
        notified,
        "the app asked the desktop to show a notification with the caller's number"
    );
}
