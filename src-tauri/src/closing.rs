//! The shell's side of closing without losing a word (`companion::closing`): the window's close
//! button, the tray's Quit and the end of the desktop session (SIGTERM, SIGHUP) first ask the
//! window to keep what the agent typed.

use companion::closing::{CloseGate, KEEP_NOTES_WITHIN};
use tauri::{AppHandle, Emitter, Manager, Runtime};

/// Sent to the window: keep every note now, then call `notes_kept`.
pub const KEEP_NOTES_EVENT: &str = "keep-notes";

/// Asks the window to keep its notes, then runs `then`, on a blocking thread: the GUI thread
/// stays free, since the window's save goes through it. A second request while closing is
/// dropped: the first one closes the app.
pub fn keep_notes_then<R: Runtime>(
    app: &AppHandle<R>,
    then: impl FnOnce(&AppHandle<R>) + Send + 'static,
) {
    if !app.state::<CloseGate>().begin() {
        return;
    }
    let _ = app.emit(KEEP_NOTES_EVENT, ());
    let app = app.clone();
    tauri::async_runtime::spawn_blocking(move || {
        if app.state::<CloseGate>().wait(KEEP_NOTES_WITHIN) {
            tracing::info!("the window kept its notes; closing");
        } else {
            tracing::warn!(
                code = "notes_not_confirmed",
                "the window did not confirm that it kept its notes; closing anyway"
            );
        }
        // Text the notes database refused is offered once more before the app goes.
        app.state::<crate::Shared>().keep_unsaved_before_exit();
        then(&app);
    });
}

/// The window's close button: held until the notes are kept, then the window goes (the last
/// window: the app ends).
pub fn hold_close<R: Runtime>(window: &tauri::WebviewWindow<R>) {
    let label = window.label().to_owned();
    let app = window.app_handle().clone();
    window.on_window_event(move |event| {
        if let tauri::WindowEvent::CloseRequested { api, .. } = event {
            api.prevent_close();
            let label = label.clone();
            keep_notes_then(&app, move |app| {
                if let Some(window) = app.get_webview_window(&label) {
                    let _ = window.destroy();
                }
            });
        }
    });
}

/// The tray's Quit.
pub fn quit<R: Runtime>(app: &AppHandle<R>) {
    keep_notes_then(app, |app| app.exit(0));
}

/// The desktop session ends (logging out sends SIGTERM or SIGHUP): keep the notes, then quit.
#[cfg(unix)]
pub fn on_session_end<R: Runtime>(app: &AppHandle<R>) {
    use tokio::signal::unix::{signal, SignalKind};
    for kind in [SignalKind::terminate(), SignalKind::hangup()] {
        let app = app.clone();
        tauri::async_runtime::spawn(async move {
            let Ok(mut signals) = signal(kind) else {
                tracing::warn!("cannot listen for the end of the session ({kind:?})");
                return;
            };
            if signals.recv().await.is_some() {
                tracing::info!("the session ends ({kind:?}): keeping notes before quitting");
                quit(&app);
            }
        });
    }
}

#[cfg(not(unix))]
pub fn on_session_end<R: Runtime>(_app: &AppHandle<R>) {}
