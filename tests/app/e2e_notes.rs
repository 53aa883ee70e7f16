//! A note in the real window: kept through `kill -9`, saved to the CRM while the portal is down,
//! delivered once when it comes back.

use std::process::Command;
use std::time::{Duration, Instant};

use portal_sim::{Faults, SimConfig, Simulator};
use serde_json::Value;

use crate::e2e::ONE_AT_A_TIME;
use crate::e2e_card::{pop, signed_in_app};
use crate::support::driver::{AppHome, RunningApp};

const NOTE: &str = "Ирина просит перезвонить в 14:00 по счёту № 1184";

fn note_state(app: &RunningApp) -> String {
    app.session
        .execute("const s = document.querySelector('[data-testid=note-status]'); return s ? s.dataset.state : null")
        .ok()
        .and_then(|v| v.as_str().map(str::to_owned))
        .unwrap_or_default()
}

fn wait_note(app: &RunningApp, want: &str, within: Duration) {
    let deadline = Instant::now() + within;
    while note_state(app) != want {
        let status = app
            .session
            .text_of("[data-testid=note-status]")
            .unwrap_or_default();
        assert!(
            Instant::now() < deadline,
            "note never became {want:?}: {status}"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

fn comments_with_note(sim: &Simulator) -> usize {
    sim.with_data(|d| {
        d.comments
            .values()
            .filter(|c| c["COMMENT"].as_str().unwrap_or_default().starts_with(NOTE))
            .count()
    })
}

#[test]
fn a_note_survives_kill_9_and_reaches_the_crm_once_after_an_outage() {
    let _turn = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    let sim = Simulator::start(SimConfig::default()).unwrap();
    let home = AppHome::new();
    {
        let app = signed_in_app(&home, &sim, &["--lang", "en", "--theme", "light"]);
        pop(&app, "bound-contact", "ready");
        app.type_into("note-text", NOTE);
        wait_note(&app, "draft", Duration::from_secs(10));
        // Power cut: no chance to save anything more.
        let killed = Command::new("pkill")
            .args([
                "-KILL",
                "-f",
                &format!("call-companion.*--listen-port {}", home.listen_port),
            ])
            .status()
            .unwrap();
        assert!(killed.success(), "the app was running and is killed");
    }
    // Started again: the last call is shown with its note (the sign-in is restored too).
    let app = RunningApp::start_in(&home, &["--lang", "en", "--theme", "light"]);
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let value = app.session.execute("const a = document.querySelector('[data-testid=note-text]'); return a ? a.value : null").unwrap();
        if value == Value::String(NOTE.into()) {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the draft did not come back after kill -9: {value}"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    app.screenshot("note-back-after-kill-en-light");

    // The portal is down when the agent saves.
    sim.set_faults(Faults {
        outage: true,
        ..Faults::default()
    });
    app.click("note-send");
    let deadline = Instant::now() + Duration::from_secs(20);
    while !app
        .session
        .text_of("[data-testid=note-status]")
        .unwrap_or_default()
        .contains("trying again")
    {
        assert!(
            Instant::now() < deadline,
            "the note did not say it will retry"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    assert_eq!(comments_with_note(&sim), 0);
    app.screenshot("note-waiting-for-portal-en-light");
    sim.set_faults(Faults::default());
    wait_note(&app, "sent", Duration::from_secs(60));
    app.screenshot("note-saved-in-crm-en-light");
    let copies = comments_with_note(&sim);
    println!("comments carrying the note in the CRM: {copies}");
    assert_eq!(copies, 1, "the note reached the CRM exactly once");
}

#[test]
fn with_the_setting_on_a_note_goes_to_the_crm_when_the_call_ends() {
    let _turn = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    let sim = Simulator::start(SimConfig::default()).unwrap();
    let home = AppHome::new();
    let app = signed_in_app(&home, &sim, &["--lang", "ru", "--theme", "dark"]);
    app.click("settings-toggle");
    app.click("pref-send_notes_on_call_end");
    crate::e2e_card::wait_for_file(
        &home
            .path()
            .join("config")
            .join(companion::app::IDENTIFIER)
            .join("window.json"),
        "\"send_notes_on_call_end\": true",
    );
    let call = |state: &str| {
        let path = home.path().join(format!("call-{state}.json"));
        std::fs::write(
            &path,
            format!(r#"{{"CALL_ID":"end.1","PHONE_NUMBER":"+79001234567","CRM_ENTITY_TYPE":"CONTACT","CRM_ENTITY_ID":"42","CALL_DIRECTION":"incoming","CALL_STATE":"{state}"}}"#),
        )
        .unwrap();
        let sent = app.cli(&[
            "simulate",
            "--file",
            path.to_str().unwrap(),
            "--port",
            &home.listen_port.to_string(),
        ]);
        assert!(sent.status.success());
    };
    call("connected");
    app.session
        .wait_for("[data-testid=card-subject]", Duration::from_secs(20))
        .unwrap();
    let text = "Договорились: счёт до пятницы";
    app.type_into("note-text", text);
    wait_note(&app, "draft", Duration::from_secs(10));
    assert!(sim.with_data(|d| !d
        .comments
        .values()
        .any(|c| c["COMMENT"].as_str().unwrap_or_default().starts_with(text))));
    call("idle");
    wait_note(&app, "sent", Duration::from_secs(30));
    let copies = sim.with_data(|d| {
        d.comments
            .values()
            .filter(|c| c["COMMENT"].as_str().unwrap_or_default().starts_with(text))
            .count()
    });
    assert_eq!(copies, 1);
    app.screenshot("note-sent-at-call-end-ru-dark");
}
