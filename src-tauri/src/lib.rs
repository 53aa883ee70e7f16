//! The thin Tauri shell: parses the command line, starts logging, builds the window and wires
//! the core crates to commands. Logic lives in `crates/`, not here.

mod commands;
mod state;

use std::process::ExitCode;

use companion::cli::Cli;
use companion::paths::AppPaths;
use companion::{display, language, logging};
use tauri::Runtime;

pub use state::AppState;

/// The builder every runtime shares (the real one and the mock runtime in tests): state and
/// commands, no plugins that need a desktop session.
pub fn app_builder<R: Runtime>(builder: tauri::Builder<R>, state: AppState) -> tauri::Builder<R> {
    builder
        .manage(state)
        .invoke_handler(tauri::generate_handler![commands::app_status])
}

/// The app's compiled-in context (tauri.conf.json, embedded UI, capabilities).
pub fn context<R: Runtime>() -> tauri::Context<R> {
    tauri::generate_context!()
}

/// `main` of the `call-companion` binary.
pub fn main_entry() -> ExitCode {
    let cli = match Cli::try_parse_args(std::env::args_os()) {
        Ok(cli) => cli,
        // Prints help/version to stdout (exit 0) or the usage error to stderr (exit 2).
        Err(e) => e.exit(),
    };

    let paths = AppPaths::for_current_user();
    let _log_guard = match paths
        .create_all()
        .and_then(|()| logging::init(&paths.log_dir, &cli.log_level))
    {
        Ok(guard) => Some(guard),
        Err(e) => {
            logging::init_stderr_only(&cli.log_level);
            tracing::warn!(code = e.code(), "logging to stderr only: {e}");
            None
        }
    };
    tracing::info!(version = companion::app::VERSION, data = %paths.data_dir.display(), logs = %paths.log_dir.display(), "starting Call Companion");

    let env = |name: &str| std::env::var(name).ok();
    if let Err(e) = display::check(env) {
        tracing::error!(target: logging::REPORTED, code = "no_display", "{e}");
        eprintln!("call-companion: {e}");
        return ExitCode::from(3);
    }

    let os_locale = language::os_locale();
    let language = language::pick(cli.lang, None, os_locale.as_deref());
    let state = AppState::new(language, cli.theme);

    match run(state) {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            tracing::error!(target: logging::REPORTED, "{message}");
            eprintln!("call-companion: {message}");
            ExitCode::from(1)
        }
    }
}

fn run(state: AppState) -> Result<(), String> {
    let builder =
        app_builder(tauri::Builder::default(), state).plugin(tauri_plugin_deep_link::init());
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
    tracing::info!("window ready");
    app.run(|_, _| {});
    Ok(())
}
