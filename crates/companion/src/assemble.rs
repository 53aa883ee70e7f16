//! Start-up without Tauri: from the command line, IT's policy and the folders to the assembled
//! app ([`assemble`]); then, once the window exists and this is the only instance, the listener
//! ([`serve`]) and the work that runs in the background ([`begin`]). The shell calls the three
//! in that order around building the window.

use std::sync::Arc;

use crate::app_state::{AppState, DiagnosticsBase};
use crate::calls::CallRegistry;
use crate::cli::Cli;
use crate::intake::AppIntake;
use crate::pairing::PairingDesk;
use crate::paths::AppPaths;
use crate::portal::settings::SettingsFile;
use crate::portal::vault::Vault;
use crate::portal::{PortalDesk, WebhookForm};
use crate::prefs::PrefsFile;
use crate::secrets::Keyring;
use crate::status::{loopback_address, ListenerStatus};
use crate::{display, language, logging};

/// The app, ready for its window.
pub struct Assembly {
    pub state: AppState,
    pub listener: listener::Config,
    /// Deep links given on the command line, opened once the window exists.
    pub links: Vec<String>,
    /// Mock mode's simulated portal.
    pub mock: Option<portal_sim::Simulator>,
    /// Held while the app runs: whether this process is the first, which alone reads and
    /// repairs the data folder's files.
    pub instance: crate::instance::Instance,
}

/// Why the app does not start; each with its exit code.
#[derive(Debug, thiserror::Error)]
pub enum Refused {
    #[error("{0}")]
    Usage(String),
    #[error("{0}")]
    NoDisplay(String),
    #[error("{0}")]
    Failed(String),
}

impl Refused {
    pub fn exit_code(&self) -> u8 {
        match self {
            Refused::Usage(_) => 2,
            Refused::NoDisplay(_) => 3,
            Refused::Failed(_) => 1,
        }
    }
}

/// Everything the window needs, built from the command line (with IT's policy applied), the
/// user's folders and what the policy and its settings' sources say.
pub fn assemble(
    cli: &Cli,
    paths: &AppPaths,
    policy: crate::policy::Policy,
    policy_error: Option<&crate::policy::PolicyError>,
    settings: Vec<(&'static str, String, crate::policy::Source)>,
    policy_path: std::path::PathBuf,
) -> Result<Assembly, Refused> {
    tracing::info!(version = crate::app::VERSION, data = %paths.data_dir.display(), logs = %paths.log_dir.display(), "starting Call Companion");
    let origins = listener::OriginAllowList::new(&cli.allowed_origins)
        .map_err(|e| Refused::Usage(format!("--allow-origin: {e}")))?;

    let env = |name: &str| std::env::var(name).ok();
    if let Err(e) = display::check(env) {
        tracing::error!(target: logging::REPORTED, code = "no_display", "{e}");
        return Err(Refused::NoDisplay(e.to_string()));
    }

    let os_locale = language::os_locale();
    let language = language::pick(cli.lang, None, os_locale.as_deref());
    // A second launch hands its link to the running app in `run`; until then it leaves the
    // running app's files alone (no reading, no setting aside).
    let instance = crate::instance::Instance::claim(&paths.data_dir);
    if instance.is_first() {
        // What an older version (or a looser mask) left readable by others becomes the agent's.
        let mut repaired = Vec::new();
        for dir in [
            &paths.data_dir,
            &paths.config_dir,
            &paths.cache_dir,
            &paths.log_dir,
        ] {
            repaired.extend(crate::private::repair(dir));
        }
        if !repaired.is_empty() {
            tracing::warn!(
                count = repaired.len(),
                first = %repaired[0].display(),
                "files other users could read were made the agent's own"
            );
        }
    }
    let registry = CallRegistry::in_memory();
    let (pairing, keyring_error) = PairingDesk::open(Keyring::for_app());
    if let Some(e) = keyring_error {
        tracing::warn!(
            code = e.code().as_str(),
            "pairing token kept for this run only: {e}"
        );
    }
    // Mock mode's portal: the simulator, started first so the desk reaches its OAuth server.
    let mock = if cli.mock {
        let sim = portal_sim::Simulator::start(portal_sim::SimConfig {
            redirect_uri: format!("http://127.0.0.1:{}/v1/oauth/callback", cli.listen_port),
            scenarios_dir: Some(crate::simulate::scenarios_dir()),
            ..Default::default()
        });
        match sim {
            Ok(sim) => Some(sim),
            Err(e) => {
                return Err(Refused::Failed(format!(
                    "cannot start the portal simulator for mock mode: {e}"
                )))
            }
        }
    } else {
        None
    };
    // Mock mode keeps its sign-in apart (its own keyring entries and settings file), so a
    // tester's session never replaces a real one.
    let portal = if cli.mock {
        PortalDesk::new(
            Vault::new(Keyring::new(format!(
                "{}.mock",
                crate::secrets::service_name()
            ))),
            SettingsFile::new(paths.config_dir.join("portal.mock.json")),
        )
        .with_oauth_stand_in(&mock.as_ref().map(|sim| sim.base_url()).unwrap_or_default())
    } else {
        PortalDesk::new(
            Vault::new(Keyring::for_app()),
            SettingsFile::new(paths.config_dir.join("portal.json")),
        )
    };
    let state = AppState::with(
        language,
        cli.theme,
        registry,
        pairing,
        portal,
        &cli.phone_region,
    )
    .with_policy(policy, policy_error.map(ToString::to_string))
    .with_diagnostics(DiagnosticsBase {
        settings,
        policy_path,
        listen_port: cli.listen_port,
    })
    .with_language_sources(cli.lang, os_locale.clone());
    // The preferences, then the login entry kept in step with them: the first instance's.
    let state = if instance.is_first() {
        state
            .with_prefs(PrefsFile::new(paths.config_dir.join("window.json")))
            .with_autostart(crate::autostart::Autostart::for_current_user())
    } else {
        state
    };
    let state = if instance.is_first() {
        let state = open_notes(state, &paths.data_dir.join("notes.sqlite3"))
            .with_listening_file(paths.data_dir.join(crate::listening::FILE));
        restore_calls(&state, &paths.data_dir.join("recent-calls.json"));
        state
    } else {
        state
    };

    let mut config = listener::Config::new(
        cli.listen_port,
        crate::app::PRODUCT_NAME,
        crate::app::VERSION,
    );
    config.origins = origins;

    if mock.is_some() {
        state.set_mode(crate::status::Mode::Mock);
    }

    Ok(Assembly {
        state,
        listener: config,
        links: cli.links.clone(),
        mock,
        instance,
    })
}

/// The recent calls kept in the notes database, after moving there the list an older version
/// kept in its own file (read, imported, then removed; kept in memory only when the database
/// is unavailable).
pub fn restore_calls(state: &AppState, old_file: &std::path::Path) {
    use crate::calls::{read_old_list, TrackedCall, RECENT_LIMIT};
    let (old, warning) = read_old_list(old_file);
    if let Some(warning) = warning {
        state.notice(crate::ErrorCode::RecentCallsUnreadable, warning);
    }
    let Some(notes) = &state.notes else {
        state.desk.restore(old);
        return;
    };
    if !old.is_empty() {
        let stored: Vec<_> = old.iter().map(TrackedCall::to_stored).collect();
        match notes.import_calls(&stored, RECENT_LIMIT) {
            Ok(()) => {
                tracing::info!(
                    calls = old.len(),
                    "recent calls moved into the notes database"
                );
                let _ = std::fs::remove_file(old_file);
            }
            Err(e) => tracing::warn!(code = e.code().as_str(), "recent calls not moved: {e}"),
        }
    }
    match notes.recent_calls(RECENT_LIMIT) {
        Ok(kept) => state.desk.restore(
            kept.into_iter()
                .filter_map(TrackedCall::from_stored)
                .collect(),
        ),
        Err(e) => {
            tracing::warn!(code = e.code().as_str(), "recent calls not read: {e}");
            state.desk.restore(old);
        }
    }
}

/// The notes database, set aside first when damaged; the window hears what happened.
fn open_notes(state: AppState, path: &std::path::Path) -> AppState {
    match crate::notes_desk::NotesDesk::open(path, state.portal.clone()) {
        Ok((notes, damaged)) => {
            if let Some(sentence) = damaged {
                state.notice(crate::ErrorCode::NotesDamaged, sentence);
            }
            state.with_notes(notes)
        }
        Err(e) => {
            let sentence = match &e {
                notes::StoreError::DiskFull => "the disk is full, so the notes database cannot be opened; free some space and start Call Companion again".to_owned(),
                other => other.to_string(),
            };
            state.notice(
                e.code(),
                format!("{sentence}; until then notes typed stay in the window only"),
            );
            state
        }
    }
}

/// Binds and serves the listener, with the call card's tab and the OAuth callback behind it.
/// Only the one instance does this (the single-instance check has run), so the port is its to
/// take. A port another program holds (a co-worker's app on a shared computer, or anything
/// else) is said in the status, and the app listens on a free port instead, which it publishes
/// for the agent's relay (`port_publish.rs`); push can still bring calls either way.
pub fn serve(state: &AppState, config: listener::Config) {
    let wanted = loopback_address(config.port);
    let asked = config.clone();
    let mut elsewhere = config.clone();
    elsewhere.port = 0;
    let (bound, taken) = match listener::bind(config) {
        Ok(bound) => (bound, None),
        Err(listener::ListenError::PortInUse { holder, .. }) => {
            let reason = match holder {
                Some(holder) => format!("{wanted} is held by {holder}"),
                None => format!("{wanted} is held by another program"),
            };
            tracing::warn!(
                code = "port_in_use",
                "{reason}; listening on a free port instead"
            );
            match listener::bind(elsewhere) {
                Ok(bound) => (bound, Some(reason)),
                Err(e) => return listener_failed(state, wanted, &e),
            }
        }
        Err(e) => return listener_failed(state, wanted, &e),
    };
    let (asked_port, bound_port) = (asked.port, bound.port());
    let address = loopback_address(bound_port);
    let tab = crate::tab::TabDesk::new(
        state.portal.clone(),
        state.cards.clone(),
        state.desk.clone(),
        state.policy().call_card_sign_in(),
    );
    let intake = Arc::new(AppIntake {
        calls: state.desk.clone(),
        portal: state.portal.clone(),
        tab: Arc::new(tab),
    });
    let pairing = state.pairing.pairing();
    if taken.is_some() {
        state
            .callback_port
            .remember(asked, pairing.clone(), intake.clone());
    }
    match crate::rt::block_on(async move { bound.serve(pairing, intake) }) {
        Ok(running) => {
            state.keep_listener(running);
            if let Some(file) = &state.listening_file {
                crate::listening::record(file, asked_port, bound_port);
            }
            state.set_listener_status(match taken {
                None => ListenerStatus::Listening { address },
                Some(reason) => ListenerStatus::Elsewhere {
                    address,
                    wanted,
                    reason,
                },
            });
        }
        Err(e) => listener_failed(state, wanted, &e),
    }
}

fn listener_failed(state: &AppState, address: String, e: &listener::ListenError) {
    tracing::error!(code = e.code().as_str(), "{e}");
    state.set_listener_status(ListenerStatus::Failed {
        address,
        reason: e.to_string(),
    });
}

/// The work that runs for as long as the app does: deep links given at start, the notes
/// outbox, and the sign-in (mock mode's, at once; a saved one, checked with the portal).
pub fn begin(state: &AppState, links: Vec<String>, mock: Option<portal_sim::Simulator>) {
    for link in links {
        let _ = state.open_link(&link);
    }
    // The outbox is delivered in the background for as long as the app runs.
    if let Some(notes) = &state.notes {
        notes.start_worker();
    }
    match mock {
        // Mock mode: signed in to the embedded simulator at once.
        Some(sim) => {
            // With the simulated portal's application (OAuth), as an agent would sign in: a
            // webhook could not subscribe to the push channel the Mock panel can choose.
            if let Err(reason) = crate::mock::sign_in_mock_agent(&state.portal, &sim) {
                tracing::warn!(
                    code = "mock_sign_in_failed",
                    "mock mode could not sign in with the application ({reason}); using the webhook"
                );
                let _ = state.portal.sign_in_webhook(&WebhookForm {
                    url: sim.endpoints().webhook_url,
                    session_only: true,
                });
            }
            // The call card's tab is this app's own, as `portal install-widget --direct` binds it.
            sim.bind_call_card(
                &crate::portal::widget::direct_handler(state.listen_port()),
                crate::app::PRODUCT_NAME,
            );
            state.set_mock(crate::mock::MockDesk::new(
                sim,
                state.listen_port(),
                state.pairing.pairing(),
            ));
            tracing::info!("mock mode: signed in to the embedded portal simulator");
        }
        // The saved portal sign-in is checked with the portal in the background.
        None => {
            let portal = state.portal.clone();
            crate::rt::handle().spawn_blocking(move || portal.restore());
        }
    }
}
