//! App commands through the real IPC path on Tauri's mock runtime, with the real compiled
//! context, so the capability files and the ACL are exercised too.

use call_companion_lib::AppState;
use companion::language::Language;
use companion::status::Theme;
use serde_json::{json, Value};
use tauri::ipc::{CallbackFn, InvokeBody};
use tauri::test::{get_ipc_response, mock_builder, MockRuntime, INVOKE_KEY};
use tauri::webview::InvokeRequest;
use tauri::{Listener, Manager, WebviewUrl, WebviewWindow, WebviewWindowBuilder};

fn app() -> tauri::App<MockRuntime> {
    let mut app =
        call_companion_lib::app_builder(mock_builder(), AppState::new(Language::Ru, Theme::Dark))
            .build(call_companion_lib::context())
            .expect("the app builds on the mock runtime");
    // Setup (which connects the call desk to the window) runs when the event loop starts; one
    // iteration of the mock loop does that, as `App::run` does in the real app.
    #[allow(deprecated)]
    app.run_iteration(|_, _| {});
    app
}

fn window(app: &tauri::App<MockRuntime>, label: &str) -> WebviewWindow<MockRuntime> {
    match app.get_webview_window(label) {
        Some(window) => window,
        None => WebviewWindowBuilder::new(app, label, WebviewUrl::default())
            .build()
            .unwrap(),
    }
}

fn invoke(window: &WebviewWindow<MockRuntime>, cmd: &str) -> Result<Value, Value> {
    let request = InvokeRequest {
        cmd: cmd.into(),
        callback: CallbackFn(0),
        error: CallbackFn(1),
        // On Linux the app's own pages are served from tauri://localhost; anything else is remote.
        url: "tauri://localhost".parse().unwrap(),
        body: InvokeBody::default(),
        headers: Default::default(),
        invoke_key: INVOKE_KEY.to_string(),
    };
    get_ipc_response(window, request).map(|body| body.deserialize::<Value>().unwrap())
}

#[test]
fn app_status_answers_through_the_ipc() {
    let app = app();
    let status = invoke(&window(&app, "main"), "app_status")
        .expect("app_status is allowed for the main window");
    assert_eq!(
        status,
        json!({
            "product_name": "Call Companion",
            "version": env!("CARGO_PKG_VERSION"),
            "mode": "normal",
            "listener": {"state": "stopped", "address": "127.0.0.1:47600"},
            "portal": {"state": "not_configured"},
            "push": {"state": "off"},
            "notices": [],
            "language": "ru",
            "theme": "dark",
        })
    );
}

#[test]
fn commands_are_denied_to_windows_without_a_capability() {
    let app = app();
    let intruder = window(&app, "intruder");
    for command in [
        "app_status",
        "calls",
        "pairing_info",
        "rotate_pairing_token",
    ] {
        let err = invoke(&intruder, command)
            .expect_err("no capability grants app commands to other windows");
        assert!(err.to_string().contains("not allowed"), "{command}: {err}");
    }
}

#[test]
fn calls_start_empty() {
    let app = app();
    let view = invoke(&window(&app, "main"), "calls").expect("calls is allowed");
    assert_eq!(
        view,
        json!({"revision": 0, "current": null, "recent": [], "last_rejection": null})
    );
}

#[test]
fn a_reported_call_reaches_the_window_as_an_event_and_through_calls() {
    let app = app();
    let main = window(&app, "main");
    let (tx, rx) = std::sync::mpsc::channel::<String>();
    app.listen(call_companion_lib::CALLS_EVENT, move |event| {
        let _ = tx.send(event.payload().to_owned());
    });
    let state = app.state::<call_companion_lib::Shared>().inner().clone();
    state
        .open_link("callcompanion://call-card?CALL_ID=ipc-1&PHONE_NUMBER=%2B79001234567&CALL_DIRECTION=incoming")
        .expect("a valid hand-typed link");

    let payload = rx
        .recv_timeout(std::time::Duration::from_secs(5))
        .expect("a calls event after the report");
    let event: Value = serde_json::from_str(&payload).unwrap();
    assert_eq!(event["current"]["context"]["call_id"], "ipc-1");
    assert_eq!(event["current"]["context"]["phone_number"], "+79001234567");
    assert_eq!(
        event["current"]["context"]["direction"],
        json!({"kind": "incoming"})
    );
    assert_eq!(
        event["current"]["unverified"], true,
        "a hand-typed link is unsigned"
    );

    let view = invoke(&main, "calls").unwrap();
    assert_eq!(view, event, "the command and the event agree");
}

#[test]
fn a_refused_link_is_shown_not_dropped() {
    let app = app();
    let state = app.state::<call_companion_lib::Shared>().inner().clone();
    state
        .open_link("callcompanion://call-card?PHONE_NUMBER=%2B79001234567")
        .expect_err("no CALL_ID");
    let view = invoke(&window(&app, "main"), "calls").unwrap();
    assert_eq!(view["current"], Value::Null);
    assert_eq!(view["last_rejection"]["code"], "missing_call_id");
    assert_eq!(view["last_rejection"]["via"], "deep_link");
}

#[test]
fn pairing_code_is_six_digits_and_rotation_issues_a_new_one() {
    let app = app();
    let main = window(&app, "main");
    let info = invoke(&main, "pairing_info").expect("pairing_info is allowed");
    let code = info["code"].as_str().unwrap();
    assert!(
        code.len() == 6 && code.bytes().all(|b| b.is_ascii_digit()),
        "{info}"
    );
    assert_eq!(
        info["token_in_keyring"], false,
        "the mock-runtime state keeps no keyring"
    );
    assert!(info["expires_in_secs"].as_u64().unwrap() > 0);
    // The same code until it expires or is used, so Settings can show a stable number.
    assert_eq!(invoke(&main, "pairing_info").unwrap()["code"], code);

    let rotated = invoke(&main, "rotate_pairing_token").expect("rotation is allowed");
    let new_code = rotated["code"].as_str().unwrap();
    assert!(new_code.len() == 6, "{rotated}");
    assert_eq!(invoke(&main, "pairing_info").unwrap()["code"], new_code);
}

#[test]
fn unknown_commands_are_rejected() {
    let app = app();
    assert!(invoke(&window(&app, "main"), "no_such_command").is_err());
}

/// The Mock panel's commands are granted only to a window in mock mode: the production
/// window's capability files do not name them, so the ACL refuses them before any code runs.
#[test]
fn the_mock_panels_commands_exist_only_in_mock_mode() {
    let production = app();
    let refused = invoke(&window(&production, "main"), "mock_scenarios").unwrap_err();
    assert!(
        refused.to_string().contains("not allowed"),
        "refused by the ACL: {refused}"
    );
    let state = AppState::new(Language::En, Theme::Light);
    state.set_mode(companion::status::Mode::Mock);
    let mut mock = call_companion_lib::app_builder(mock_builder(), state)
        .build(call_companion_lib::context())
        .unwrap();
    #[allow(deprecated)]
    mock.run_iteration(|_, _| {});
    // Granted; the command itself answers (this state has no simulator: mock_off).
    let answered = invoke(&window(&mock, "main"), "mock_scenarios");
    let text = format!("{answered:?}");
    assert!(!text.contains("not allowed"), "{text}");
}

#[test]
fn locked_window_settings_hold_against_the_window() {
    let policy = companion::policy::parse(
        "[defaults]\nfocus_on_call = true\n\n[locked]\ncompact = true\nlanguage = \"ru\"\n",
        "policy.toml",
    )
    .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let state = AppState::new(Language::En, Theme::Light)
        .with_policy(policy, Some("a problem".into()))
        .with_prefs(companion::prefs::PrefsFile::new(
            dir.path().join("window.json"),
        ));
    let app = call_companion_lib::app_builder(mock_builder(), state)
        .build(call_companion_lib::context())
        .unwrap();
    let main = window(&app, "main");
    assert_eq!(
        invoke(&main, "policy_info").unwrap(),
        json!({"locked": ["compact", "language"], "problem": "a problem", "autostart_available": false,
               "portal": {"portal": null, "sign_in": null, "oauth_client_id": null, "oauth_server": null, "oauth_redirect": null, "client_secret_preset": false}})
    );
    // No window.json yet: the presets, then the locks.
    let prefs = invoke(&main, "window_prefs").unwrap();
    assert_eq!(
        (
            prefs["focus_on_call"].clone(),
            prefs["compact"].clone(),
            prefs["language"].clone()
        ),
        (json!(true), json!(true), json!("ru"))
    );
    // The window asks to leave compact mode and switch to English: the locks stay.
    let state = app.state::<call_companion_lib::Shared>();
    let mut wanted = state.prefs();
    wanted.compact = false;
    wanted.always_on_top = true;
    wanted.language = companion::language::LanguageChoice::En;
    let saved = state.set_prefs(wanted).unwrap();
    assert!(saved.compact && saved.always_on_top);
    assert_eq!(saved.language, companion::language::LanguageChoice::Ru);
    let file = std::fs::read_to_string(dir.path().join("window.json")).unwrap();
    assert!(file.contains("\"compact\": true"), "{file}");
}
