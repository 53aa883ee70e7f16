//! Tauri commands: one-line wrappers over the core. Each is listed in build.rs and granted in
//! capabilities/main.json.

use companion::calls::CallsView;
use companion::card::model::{CardView, EntityKind};
use companion::mock::{MockFaults, MockVia, PostAnswer, ScenarioInfo};
use companion::policy::PolicyInfo;
use companion::portal::widget::{self, BoundWidget};
use companion::portal::{OAuthForm, WebhookForm};
use companion::prefs::WindowPrefs;
use companion::status::{AppStatus, PairingInfo, PortalStatus};
use companion::unsaved::NoteNow;
use companion::ErrorBody;
use notes::Note;
use tauri::Manager;
use tauri::{Runtime, State, Window};

use crate::Shared;

#[tauri::command]
pub fn app_status<R: Runtime>(_window: Window<R>, state: State<'_, Shared>) -> AppStatus {
    state.status()
}

#[tauri::command]
pub fn calls<R: Runtime>(_window: Window<R>, state: State<'_, Shared>) -> CallsView {
    state.desk.view()
}

#[tauri::command]
pub fn pairing_info<R: Runtime>(
    _window: Window<R>,
    state: State<'_, Shared>,
) -> Result<PairingInfo, ErrorBody> {
    state.pairing.info()
}

/// The keyring is a D-Bus round trip (or a prompt): never on the GUI thread.
#[tauri::command]
pub async fn rotate_pairing_token<R: Runtime>(window: Window<R>) -> Result<PairingInfo, ErrorBody> {
    off_gui(&window, |state| state.pairing.rotate()).await
}

#[tauri::command]
pub async fn begin_oauth_sign_in<R: Runtime>(
    window: Window<R>,
    form: OAuthForm,
) -> Result<PortalStatus, ErrorBody> {
    off_gui(&window, move |state| state.begin_oauth_sign_in(form)).await
}

#[tauri::command]
pub async fn reopen_sign_in_page<R: Runtime>(
    _window: Window<R>,
    state: State<'_, Shared>,
) -> Result<PortalStatus, ErrorBody> {
    blocking(state.portal.clone(), |portal| portal.reopen_sign_in_page()).await
}

#[tauri::command]
pub async fn sign_in_with_webhook<R: Runtime>(
    _window: Window<R>,
    state: State<'_, Shared>,
    form: WebhookForm,
) -> Result<PortalStatus, ErrorBody> {
    state.policy().webhook_allowed(&form)?;
    blocking(state.portal.clone(), move |portal| {
        portal.sign_in_webhook(&form)
    })
    .await
}

#[tauri::command]
pub async fn sign_out<R: Runtime>(
    _window: Window<R>,
    state: State<'_, Shared>,
) -> Result<PortalStatus, ErrorBody> {
    blocking(state.portal.clone(), |portal| portal.sign_out()).await
}

#[tauri::command]
pub fn policy_info<R: Runtime>(_window: Window<R>, state: State<'_, Shared>) -> PolicyInfo {
    state.policy_info()
}

#[tauri::command]
pub async fn export_diagnostics<R: Runtime>(
    window: Window<R>,
    keep_phone_numbers: bool,
) -> Result<String, ErrorBody> {
    off_gui(&window, move |state| {
        state.export_diagnostics(keep_phone_numbers)
    })
    .await
}

#[tauri::command]
pub async fn relay_widgets(state: State<'_, Shared>) -> Result<Vec<BoundWidget>, ErrorBody> {
    Ok(widget::list(&state.portal).await?)
}

#[tauri::command]
pub async fn install_relay_widget(
    state: State<'_, Shared>,
    handler: String,
    title: Option<String>,
) -> Result<Vec<BoundWidget>, ErrorBody> {
    Ok(widget::install_from(&state.portal, &handler, title.as_deref()).await?)
}

/// Binds the tab this app serves itself (`portal install-widget --direct`).
#[tauri::command]
pub async fn install_call_card_tab(
    state: State<'_, Shared>,
) -> Result<Vec<BoundWidget>, ErrorBody> {
    let handler = widget::direct_handler(state.wanted_port());
    Ok(widget::install_from(&state.portal, &handler, None).await?)
}

#[tauri::command]
pub async fn uninstall_relay_widget(
    state: State<'_, Shared>,
    handler: String,
) -> Result<Vec<BoundWidget>, ErrorBody> {
    Ok(widget::uninstall_from(&state.portal, &handler).await?)
}

/// Work that touches the disk, the keyring, SQLite or the network runs on the blocking pool: a
/// synchronous command would run on the GUI thread and freeze the window while it waits.
async fn off_gui<R: Runtime, T: Send + 'static>(
    window: &Window<R>,
    work: impl FnOnce(&Shared) -> Result<T, ErrorBody> + Send + 'static,
) -> Result<T, ErrorBody> {
    let handle = window.app_handle().clone();
    tauri::async_runtime::spawn_blocking(move || work(&handle.state::<Shared>()))
        .await
        .map_err(internal)?
}

/// Portal work waits on the network: off the async threads.
async fn blocking<T: Send + 'static, E: Into<ErrorBody> + Send + 'static>(
    portal: std::sync::Arc<companion::portal::PortalDesk>,
    work: impl FnOnce(&companion::portal::PortalDesk) -> Result<T, E> + Send + 'static,
) -> Result<T, ErrorBody> {
    tauri::async_runtime::spawn_blocking(move || work(&portal))
        .await
        .map_err(internal)?
        .map_err(Into::into)
}

#[tauri::command]
pub fn card<R: Runtime>(
    _window: Window<R>,
    state: State<'_, Shared>,
    call_id: String,
) -> Option<CardView> {
    state.card_or_load(&call_id)
}

#[tauri::command]
pub fn choose_record<R: Runtime>(
    _window: Window<R>,
    state: State<'_, Shared>,
    call_id: String,
    kind: EntityKind,
    id: u64,
) {
    state.cards.choose(&call_id, kind, id)
}

#[tauri::command]
pub fn reload_card<R: Runtime>(_window: Window<R>, state: State<'_, Shared>, call_id: String) {
    state.cards.reload(&call_id)
}

/// Starts the agent's browser (a process): off the GUI thread.
#[tauri::command]
pub async fn open_record<R: Runtime>(
    window: Window<R>,
    kind: EntityKind,
    id: u64,
) -> Result<(), ErrorBody> {
    off_gui(&window, move |state| state.cards.open_record(kind, id)).await
}

#[tauri::command]
pub async fn create_record(
    state: State<'_, Shared>,
    call_id: String,
    kind: EntityKind,
    name: String,
) -> Result<u64, ErrorBody> {
    state.cards.create_record(&call_id, kind, &name).await
}

#[tauri::command]
pub async fn search_crm(
    state: State<'_, Shared>,
    call_id: String,
    query: String,
) -> Result<(), ErrorBody> {
    state.cards.search(&call_id, &query).await
}

fn internal(e: impl std::fmt::Display) -> ErrorBody {
    ErrorBody::new(companion::ErrorCode::Internal, e.to_string())
}

#[tauri::command]
pub fn window_prefs<R: Runtime>(_window: Window<R>, state: State<'_, Shared>) -> WindowPrefs {
    state.prefs()
}

/// Writes `window.json` and the autostart entry off the GUI thread; the window itself is
/// changed through Tauri, which hands that to the GUI thread.
#[tauri::command]
pub async fn set_window_prefs<R: Runtime>(
    window: Window<R>,
    prefs: WindowPrefs,
) -> Result<WindowPrefs, ErrorBody> {
    let (before, saved) = off_gui(&window, move |state| {
        let before = state.prefs();
        state.set_prefs(prefs).map(|saved| (before, saved))
    })
    .await?;
    let state = window.state::<Shared>();
    if let Some(main) = window.app_handle().get_webview_window("main") {
        crate::apply_prefs(&main, saved, before.compact != saved.compact);
    }
    if before.language != saved.language {
        use tauri::Emitter;
        let _ = window
            .app_handle()
            .emit(crate::STATUS_EVENT, state.status());
    }
    Ok(saved)
}

// Notes are SQLite with `synchronous=FULL`: every command is off the GUI thread. The window
// sends one call's note commands one after another (ui/src/lib/api.ts), so a slower save never
// lands after a newer one.

#[tauri::command]
pub async fn note<R: Runtime>(window: Window<R>, call_id: String) -> Result<NoteNow, ErrorBody> {
    off_gui(&window, move |state| state.note(&call_id)).await
}

#[tauri::command]
pub async fn save_note<R: Runtime>(
    window: Window<R>,
    call_id: String,
    text: String,
) -> Result<Note, ErrorBody> {
    off_gui(&window, move |state| state.save_note(&call_id, &text)).await
}

#[tauri::command]
pub async fn send_note<R: Runtime>(window: Window<R>, call_id: String) -> Result<Note, ErrorBody> {
    off_gui(&window, move |state| state.send_note(&call_id)).await
}

#[tauri::command]
pub async fn set_outcome<R: Runtime>(
    window: Window<R>,
    call_id: String,
    outcome: Option<String>,
) -> Result<Note, ErrorBody> {
    off_gui(&window, move |state| {
        state.set_outcome(&call_id, outcome.as_deref())
    })
    .await
}

#[tauri::command]
pub fn outcomes<R: Runtime>(_window: Window<R>, state: State<'_, Shared>) -> Vec<String> {
    state.outcomes()
}

#[tauri::command]
pub async fn note_history<R: Runtime>(
    window: Window<R>,
    call_id: String,
) -> Result<Vec<Note>, ErrorBody> {
    off_gui(&window, move |state| state.note_history(&call_id)).await
}

#[tauri::command]
pub fn mock_scenarios<R: Runtime>(
    _window: Window<R>,
    state: State<'_, Shared>,
) -> Result<Vec<ScenarioInfo>, ErrorBody> {
    Ok(state.mock()?.scenarios())
}

/// Posts to the listener or publishes through the simulated portal: network, off the GUI thread.
#[tauri::command]
pub async fn mock_run<R: Runtime>(
    window: Window<R>,
    name: String,
    via: Option<MockVia>,
) -> Result<(), ErrorBody> {
    off_gui(&window, move |state| {
        state
            .mock()?
            .run_scenario_via(&name, via.unwrap_or_default())
    })
    .await
}

/// Opens the simulated portal's call-card page for a scenario in the agent's browser.
#[tauri::command]
pub async fn mock_open_call_card<R: Runtime>(
    window: Window<R>,
    name: String,
) -> Result<String, ErrorBody> {
    off_gui(&window, move |state| state.mock()?.open_call_card(&name)).await
}

#[tauri::command]
pub async fn mock_post<R: Runtime>(
    window: Window<R>,
    body: String,
) -> Result<PostAnswer, ErrorBody> {
    off_gui(&window, move |state| state.mock()?.post(&body)).await
}

#[tauri::command]
pub fn mock_faults<R: Runtime>(
    _window: Window<R>,
    state: State<'_, Shared>,
) -> Result<MockFaults, ErrorBody> {
    Ok(state.mock()?.faults())
}

#[tauri::command]
pub fn set_mock_faults<R: Runtime>(
    _window: Window<R>,
    state: State<'_, Shared>,
    faults: MockFaults,
) -> Result<MockFaults, ErrorBody> {
    Ok(state.mock()?.set_faults(faults))
}

/// The window kept every note it was asked to keep before the app closes (`closing.rs`).
#[tauri::command]
pub fn notes_kept<R: Runtime>(window: Window<R>) {
    window.state::<companion::closing::CloseGate>().kept()
}

/// The window painted its first content after start (logged once: the cold-start measure).
#[tauri::command]
pub fn window_painted<R: Runtime>(_window: Window<R>) {
    companion::app::startup::report_paint()
}
