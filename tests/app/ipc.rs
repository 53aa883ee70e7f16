//! App commands through the real IPC path on Tauri's mock runtime, with the real compiled
//! context, so the capability files and the ACL are exercised too.

use call_companion_lib::AppState;
use companion::language::Language;
use companion::status::Theme;
use serde_json::{json, Value};
use tauri::ipc::{CallbackFn, InvokeBody};
use tauri::test::{get_ipc_response, mock_builder, MockRuntime, INVOKE_KEY};
use tauri::webview::InvokeRequest;
use tauri::{Manager, WebviewUrl, WebviewWindow, WebviewWindowBuilder};

fn app() -> tauri::App<MockRuntime> {
    call_companion_lib::app_builder(mock_builder(), AppState::new(Language::Ru, Theme::Dark))
        .build(call_companion_lib::context())
        .expect("the app builds on the mock runtime")
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
            "language": "ru",
            "theme": "dark",
        })
    );
}

#[test]
fn commands_are_denied_to_windows_without_a_capability() {
    let app = app();
    let err = invoke(&window(&app, "intruder"), "app_status")
        .expect_err("no capability grants app_status here");
    assert!(err.to_string().contains("not allowed"), "{err}");
}

#[test]
fn unknown_commands_are_rejected() {
    let app = app();
    assert!(invoke(&window(&app, "main"), "no_such_command").is_err());
}
