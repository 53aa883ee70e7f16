//! Tauri commands: one-line wrappers over the core. Each is listed in build.rs and granted in
//! capabilities/main.json.

use companion::calls::CallsView;
use companion::status::{AppStatus, PairingInfo};
use companion::ErrorBody;
use tauri::{Runtime, State, Window};

use crate::AppState;

#[tauri::command]
pub fn app_status<R: Runtime>(_window: Window<R>, state: State<'_, AppState>) -> AppStatus {
    state.status()
}

#[tauri::command]
pub fn calls<R: Runtime>(_window: Window<R>, state: State<'_, AppState>) -> CallsView {
    state.desk.view()
}

#[tauri::command]
pub fn pairing_info<R: Runtime>(
    _window: Window<R>,
    state: State<'_, AppState>,
) -> Result<PairingInfo, ErrorBody> {
    state.pairing.info()
}

#[tauri::command]
pub fn rotate_pairing_token<R: Runtime>(
    _window: Window<R>,
    state: State<'_, AppState>,
) -> Result<PairingInfo, ErrorBody> {
    state.pairing.rotate()
}
