//! Tauri commands: one-line wrappers over the core. Each is listed in build.rs and granted in
//! capabilities/main.json.

use companion::status::AppStatus;
use tauri::{Runtime, State, Window};

use crate::AppState;

#[tauri::command]
pub fn app_status<R: Runtime>(_window: Window<R>, state: State<'_, AppState>) -> AppStatus {
    state.status()
}
