//! The thin Tauri shell: parses the command line, starts logging, builds the window and wires
//! the core crates to commands. Logic lives in `crates/`, not here.

mod closing;
mod commands;

use std::process::ExitCode;
use std::sync::Arc;

use tokio::sync::mpsc::UnboundedReceiver;

use companion::cli::Cli;
use companion::events::AppEvent;
use companion::paths::AppPaths;
use companion::prefs::WindowPrefs;
use companion::secrets::Keyring;
use companion::{display, logging, subcommands};
use tauri::{AppHandle, Emitter, Manager, Runtime, UserAttentionType};
use tauri_plugin_deep_link::DeepLinkExt;

pub use companion::app_state::{AppState, DiagnosticsBase};

/// What the shell manages: the app, shared with the rules' callbacks and the event forwarder.
pub type Shared = Arc<AppState>;

/// The builder every runtime shares (the real one and the mock runtime in tests): state and
/// commands, no plugins that need a desktop session.
/// The Mock panel's permissions, granted in mock mode only.
const MOCK_PERMISSIONS: &[&str] = &[
    "allow-mock-scenarios",
    "allow-mock-run",
    "allow-mock-open-call-card",
    "allow-mock-post",
    "allow-mock-faults",
    "allow-set-mock-faults",
];

pub fn app_builder<R: Runtime>(builder: tauri::Builder<R>, state: AppState) -> tauri::Builder<R> {
    builder
        .manage(Arc::new(state))
        .manage(companion::closing::CloseGate::default())
        .setup(|app| {
            // The Mock panel's commands exist for a window in mock mode only: granted here, at
            // run time, never by the capability files the production window is built with.
            if app.state::<Shared>().status().mode == companion::status::Mode::Mock {
                let mut mock = tauri::ipc::CapabilityBuilder::new("mock-panel").window("main");
                for permission in MOCK_PERMISSIONS {
                    mock = mock.permission(*permission);
                }
                app.add_capability(mock)?;
            }
            if let Some(events) = app.state::<Shared>().start() {
                forward(app.handle().clone(), events);
            }
            Ok(())
        })
        .invoke_handler(tauri::generate_handler![
            commands::app_status,
            commands::calls,
            commands::pairing_info,
            commands::rotate_pairing_token,
            commands::begin_oauth_sign_in,
            commands::reopen_sign_in_page,
            commands::sign_in_with_webhook,
            commands::sign_out,
            commands::relay_widgets,
            commands::policy_info,
            commands::export_diagnostics,
            commands::install_relay_widget,
            commands::install_call_card_tab,
            commands::uninstall_relay_widget,
            commands::card,
            commands::choose_record,
            commands::reload_card,
            commands::open_record,
            commands::create_record,
            commands::search_crm,
            commands::window_prefs,
            commands::set_window_prefs,
            commands::note,
            commands::save_note,
            commands::send_note,
            commands::set_outcome,
            commands::outcomes,
            commands::note_history,
            commands::mock_scenarios,
            commands::mock_run,
            commands::mock_open_call_card,
            commands::mock_post,
            commands::mock_faults,
            commands::set_mock_faults,
            commands::window_painted,
            commands::notes_kept
        ])
}

/// Logged once the window manager was asked for a new call's attention (or focus).
pub const NEW_CALL_SHOWN: &str = "a new call was put before the agent";

/// Event the window listens to; its payload is the new `CallsView`.
pub const CALLS_EVENT: &str = "calls";
/// Sent when the app's status changes (the portal connection); its payload is the `AppStatus`.
pub const STATUS_EVENT: &str = "status";
/// Sent when a call's CRM card changes; its payload is a `CardView`.
pub const CARD_EVENT: &str = "card";
/// Sent when a note changes (saved, sending, sent, failed); its payload is the `Note`.
pub const NOTE_EVENT: &str = "note";

/// The app's compiled-in context (tauri.conf.json, embedded UI, capabilities).
pub fn context<R: Runtime>() -> tauri::Context<R> {
    tauri::generate_context!()
}

/// `main` of the `call-companion` binary.
pub fn main_entry() -> ExitCode {
    // Before any thread or file: what the app writes is the agent's alone (shared machines).
    companion::private::restrict_new_files();
    companion::app::startup::mark_start();
    // One tokio runtime: the core's, which Tauri's commands and events use too.
    tauri::async_runtime::set(companion::rt::handle());
    let (mut cli, given) = match Cli::try_parse_with_given(std::env::args_os()) {
        Ok(parsed) => parsed,
        // Prints help/version to stdout (exit 0) or the usage error to stderr (exit 2).
        Err(e) => e.exit(),
    };
    // IT's policy: a broken file is reported (below, once logging runs) and ignored whole.
    let located = companion::policy::locate();
    let (policy, policy_error) = match companion::policy::load_located(&located) {
        Ok(policy) => (policy.unwrap_or_default(), None),
        Err(e) => (companion::policy::Policy::default(), Some(e)),
    };
    let applied = match companion::policy::apply_to_cli(
        &mut cli,
        |id| given.iter().any(|g| g == id),
        &policy,
    ) {
        Ok(applied) => applied,
        Err(refusal) => {
            eprintln!("call-companion: {refusal}");
            return ExitCode::from(77);
        }
    };

    let paths = AppPaths::for_current_user();
    let _log_guard = match paths
        .create_all()
        .and_then(|()| logging::init(&paths.log_dir, &cli.log_level))
    {
        Ok(guard) => Some(guard),
        // Someone else's folder (or a link to one): nothing of the agent's may land there.
        Err(e @ companion::Error::NotOwnFolder { .. }) => {
            eprintln!("call-companion: {e}");
            return ExitCode::from(73);
        }
        Err(e) => {
            logging::init_stderr_only(&cli.log_level);
            tracing::warn!(code = e.code().as_str(), "logging to stderr only: {e}");
            None
        }
    };
    if let Some(e) = &policy_error {
        tracing::warn!(code = e.code().as_str(), "{e}; starting without the policy");
    }
    if let Some(ignored) = &located.ignored_override {
        tracing::warn!(
            code = "policy_override_ignored",
            "{} ({}) is ignored: the machine's policy {} is in force",
            companion::policy::PATH_ENV,
            ignored.display(),
            located.path.display()
        );
    }
    for notice in &applied.notices {
        tracing::warn!(code = "policy_locked", "{notice}");
    }
    if let Some(command) = &cli.command {
        let startup = subcommands::Startup {
            cli: &cli,
            settings: &applied.settings,
            policy_path: &located.path,
            policy_error: policy_error.as_ref(),
        };
        return ExitCode::from(subcommands::run(command, &Keyring::for_app(), &startup));
    }
    let assembly = companion::assemble::assemble(
        &cli,
        &paths,
        policy,
        policy_error.as_ref(),
        applied.settings,
        located.path.clone(),
    );
    let assembly = match assembly {
        Ok(assembly) => assembly,
        Err(refused) => {
            eprintln!("call-companion: {refused}");
            return ExitCode::from(refused.exit_code());
        }
    };
    match run(assembly) {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            tracing::error!(target: logging::REPORTED, "{message}");
            eprintln!("call-companion: {message}");
            ExitCode::from(1)
        }
    }
}

fn run(assembly: companion::assemble::Assembly) -> Result<(), String> {
    let companion::assemble::Assembly {
        state,
        listener,
        links,
        mock,
        instance: _instance,
    } = assembly;
    // Single-instance first: a second launch (a deep link opened while the app runs) hands its
    // arguments to this one, whose deep-link plugin turns them into an open-url event.
    let builder = app_builder(tauri::Builder::default(), state)
        .plugin(tauri_plugin_single_instance::init(|app, argv, _cwd| {
            let has_link = argv
                .iter()
                .skip(1)
                .any(|a| a.starts_with(companion::app::DEEP_LINK_SCHEME));
            if !has_link {
                // Started again from the menu: the agent wants the window.
                if let Some(window) = app.get_webview_window("main") {
                    let _ = window.unminimize();
                    let _ = window.show();
                    let _ = window.set_focus();
                }
            }
        }))
        .plugin(tauri_plugin_deep_link::init())
        // Where the agent put the window, and its size, survive a restart.
        .plugin(
            tauri_plugin_window_state::Builder::default()
                .with_state_flags(
                    tauri_plugin_window_state::StateFlags::POSITION
                        | tauri_plugin_window_state::StateFlags::SIZE
                        | tauri_plugin_window_state::StateFlags::MAXIMIZED,
                )
                .build(),
        );
    // GTK panics when it cannot reach the display it was given; turn that into a sentence.
    let default_hook = std::panic::take_hook();
    std::panic::set_hook(Box::new(|_| {}));
    let built = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| builder.build(context())));
    std::panic::set_hook(default_hook);
    let app = match built {
        Ok(Ok(app)) => app,
        Ok(Err(e)) => return Err(format!("cannot start the window: {e}")),
        Err(panic) => {
            let reason = panic
                .downcast_ref::<String>()
                .cloned()
                .or_else(|| panic.downcast_ref::<&str>().map(|s| s.to_string()))
                .unwrap_or_else(|| "the GUI toolkit failed to start".into());
            // gtk-rs appends a Debug dump of its error; the first clause is the useful part.
            let reason = reason
                .split(": BoolError")
                .next()
                .unwrap_or_default()
                .to_owned();
            let display = display::describe(|name| std::env::var(name).ok());
            return Err(display::DisplayError::CannotOpen { display, reason }.to_string());
        }
    };
    // Past this point this is the only instance (the single-instance plugin has handed any
    // second launch's link to the first and exited), so the port is ours to take. The window's
    // first status request is answered by the event loop, which only starts below.
    let state = app.state::<Shared>();
    companion::assemble::serve(&state, listener);
    let linked = state.inner().clone();
    app.deep_link().on_open_url(move |event| {
        for url in event.urls() {
            let _ = linked.open_link(url.as_str());
        }
    });
    register_link_handler(app.handle());
    create_tray(app.handle());
    companion::assemble::begin(&state, links, mock);
    tracing::info!("window ready");
    app.run(|app, event| {
        // The window from the configuration exists once the event loop is ready.
        if let tauri::RunEvent::Ready = event {
            if let Some(window) = app.get_webview_window("main") {
                let prefs = app.state::<Shared>().prefs();
                apply_prefs(&window, prefs, prefs.compact);
                closing::hold_close(&window);
            }
            keep_window_state(app);
            closing::on_session_end(app);
        }
    });
    Ok(())
}

/// Points the `callcompanion` scheme at this binary for this user (Linux and Windows; macOS
/// reads it from the bundle). Idempotent; in the background so start-up does not wait on
/// `update-desktop-database`.
fn register_link_handler<R: Runtime>(app: &tauri::AppHandle<R>) {
    #[cfg(any(target_os = "linux", windows))]
    {
        let app = app.clone();
        tauri::async_runtime::spawn_blocking(move || {
            if let Err(e) = app.deep_link().register_all() {
                tracing::warn!("callcompanion:// links may not open this app: {e}");
            }
        });
    }
    #[cfg(not(any(target_os = "linux", windows)))]
    let _ = app;
}

/// Full height of the window, and the compact strip's.
const NORMAL_HEIGHT: f64 = 680.0;
const COMPACT_HEIGHT: f64 = 300.0;

/// Puts the window in the state the preferences describe. `resize` when compact mode changed:
/// otherwise the agent's own size stays.
pub(crate) fn apply_prefs<R: Runtime>(
    window: &tauri::WebviewWindow<R>,
    prefs: WindowPrefs,
    resize: bool,
) {
    let _ = window.set_always_on_top(prefs.always_on_top);
    if resize {
        let width = window
            .inner_size()
            .ok()
            .zip(window.scale_factor().ok())
            .map(|(size, scale)| size.to_logical::<f64>(scale).width)
            .unwrap_or(440.0);
        let (height, min_height) = if prefs.compact {
            (COMPACT_HEIGHT, 240.0)
        } else {
            (NORMAL_HEIGHT, 480.0)
        };
        let _ = window.set_min_size(Some(tauri::LogicalSize::new(360.0, min_height)));
        let _ = window.set_size(tauri::LogicalSize::new(width, height));
    }
}

const TRAY_ID: &str = "main";

/// The tray icon: status at a glance, a menu to bring the window back or quit. Its absence (no
/// tray on this desktop, no AppIndicator library) costs nothing but the icon.
fn create_tray<R: Runtime>(app: &tauri::AppHandle<R>) {
    use tauri::menu::{Menu, MenuItem, PredefinedMenuItem};
    use tauri::tray::{MouseButton, MouseButtonState, TrayIconBuilder, TrayIconEvent};
    let russian = app.state::<Shared>().status().language == companion::language::Language::Ru;
    let build = || -> tauri::Result<()> {
        let show = MenuItem::with_id(
            app,
            "show",
            if russian {
                "Показать Call Companion"
            } else {
                "Show Call Companion"
            },
            true,
            None::<&str>,
        )?;
        let quit = MenuItem::with_id(
            app,
            "quit",
            if russian { "Выйти" } else { "Quit" },
            true,
            None::<&str>,
        )?;
        let menu = Menu::with_items(app, &[&show, &PredefinedMenuItem::separator(app)?, &quit])?;
        let mut tray = TrayIconBuilder::with_id(TRAY_ID)
            .menu(&menu)
            .show_menu_on_left_click(false)
            .on_menu_event(|app, event| match event.id().as_ref() {
                "show" => bring_forward(app),
                "quit" => closing::quit(app),
                _ => {}
            })
            .on_tray_icon_event(|tray, event| {
                if let TrayIconEvent::Click {
                    button: MouseButton::Left,
                    button_state: MouseButtonState::Up,
                    ..
                } = event
                {
                    bring_forward(tray.app_handle());
                }
            });
        if let Some(icon) = app.default_window_icon() {
            tray = tray.icon(icon.clone());
        }
        tray.build(app)?;
        Ok(())
    };
    // The AppIndicator loader panics when the library is missing: a missing tray is not worth a crash.
    let default_hook = std::panic::take_hook();
    std::panic::set_hook(Box::new(|_| {}));
    let built = std::panic::catch_unwind(std::panic::AssertUnwindSafe(build));
    std::panic::set_hook(default_hook);
    match built {
        Ok(Ok(())) => update_tray(app),
        Ok(Err(e)) => tracing::warn!(code = "no_tray", "no tray icon: {e}"),
        Err(_) => tracing::warn!(
            code = "no_tray",
            "no tray icon: the desktop's AppIndicator library is missing"
        ),
    }
}

/// The agent asked for the window (tray click or menu).
fn bring_forward<R: Runtime>(app: &tauri::AppHandle<R>) {
    if let Some(window) = app.get_webview_window("main") {
        let _ = window.unminimize();
        let _ = window.show();
        let _ = window.set_focus();
    }
}

/// Refreshes the tray's tooltip without waiting for the GUI thread: the listener's worker and
/// the portal's threads call this (Tauri's `set_tooltip` from another thread blocks until the
/// GUI thread has run it; on the GUI thread it runs at once).
fn update_tray<R: Runtime>(app: &tauri::AppHandle<R>) {
    let state = app.state::<Shared>();
    let (_, text) = companion::tray::tray_status(&state.status(), &state.desk.view());
    let handle = app.clone();
    let _ = app.run_on_main_thread(move || {
        if let Some(tray) = handle.tray_by_id(TRAY_ID) {
            let _ = tray.set_tooltip(Some(text));
        }
    });
}

/// An OS notification for a new call (when the agent turned it on). On its own thread: the
/// desktop's notification service may be slow or absent.
/// Forwards the core's events, in order, to the window, the tray, the notification centre and
/// the window manager: the shell's whole part in what happens.
fn forward<R: Runtime>(app: AppHandle<R>, mut events: UnboundedReceiver<AppEvent>) {
    tauri::async_runtime::spawn(async move {
        while let Some(event) = events.recv().await {
            match event {
                AppEvent::Calls(view) => {
                    let _ = app.emit(CALLS_EVENT, view);
                    update_tray(&app);
                }
                AppEvent::Status(status) => {
                    if let Err(e) = app.emit(STATUS_EVENT, status) {
                        tracing::warn!("cannot tell the window about the new status: {e}");
                    }
                    update_tray(&app);
                }
                AppEvent::Card(view) => {
                    let _ = app.emit(CARD_EVENT, view);
                }
                AppEvent::Note(note) => {
                    let _ = app.emit(NOTE_EVENT, note);
                }
                AppEvent::NewCall {
                    context,
                    number,
                    notify,
                    focus,
                    language,
                } => {
                    if notify {
                        notify_new_call(&context, number.as_deref(), language);
                    }
                    if let Some(window) = app.get_webview_window("main") {
                        if focus {
                            let _ = window.unminimize();
                            let _ = window.show();
                            let _ = window.set_focus();
                        } else {
                            let _ = window
                                .request_user_attention(Some(UserAttentionType::Informational));
                        }
                    }
                    // The end-to-end tests wait for this line, not for a time.
                    tracing::info!(call_id = %context.call_id, focus, "{NEW_CALL_SHOWN}");
                }
            }
        }
    });
}

fn notify_new_call(
    context: &companion::calls::CallContext,
    number: Option<&str>,
    language: companion::language::Language,
) {
    let (summary, body) = companion::tray::call_notification(context, number, language);
    // Linux notification servers read markup in a body; the others show it as text.
    #[cfg(all(unix, not(target_os = "macos")))]
    let body = companion::tray::escape_markup(&body);
    tauri::async_runtime::spawn_blocking(move || {
        let shown = notify_rust::Notification::new()
            .appname(companion::app::PRODUCT_NAME)
            .summary(&summary)
            .body(&body)
            .timeout(notify_rust::Timeout::Milliseconds(6000))
            .show();
        if let Err(e) = shown {
            tracing::warn!(
                code = "notification_failed",
                "cannot show a notification: {e}"
            );
        }
    });
}

/// Saves the window's position and size shortly after the agent moves or resizes it, not only at
/// a clean exit: a logout or a crash then loses nothing.
fn keep_window_state<R: Runtime>(app: &tauri::AppHandle<R>) {
    use tauri_plugin_window_state::{AppHandleExt, StateFlags};
    let Some(window) = app.get_webview_window("main") else {
        return;
    };
    let moved = Arc::new(tokio::sync::Notify::new());
    let marker = moved.clone();
    window.on_window_event(move |event| {
        if matches!(
            event,
            tauri::WindowEvent::Moved(_) | tauri::WindowEvent::Resized(_)
        ) {
            marker.notify_one();
        }
    });
    // Woken by a move, not by a clock: 700 ms after the first move the place is saved (a drag
    // in progress then is saved again once it ends).
    let app = app.clone();
    tauri::async_runtime::spawn(async move {
        loop {
            moved.notified().await;
            tokio::time::sleep(std::time::Duration::from_millis(700)).await;
            let app = app.clone();
            let saved = tauri::async_runtime::spawn_blocking(move || {
                app.save_window_state(
                    StateFlags::POSITION | StateFlags::SIZE | StateFlags::MAXIMIZED,
                )
                .map_err(|e| e.to_string())
            })
            .await;
            if let Ok(Err(e)) = saved {
                tracing::warn!(
                    code = "window_state_not_saved",
                    "the window's place was not saved: {e}"
                );
            }
        }
    });
}
