//! What the shell keeps for the lifetime of the app.

use std::sync::RwLock;

use companion::language::Language;
use companion::status::{AppStatus, Theme};

pub struct AppState {
    status: RwLock<AppStatus>,
}

impl AppState {
    pub fn new(language: Language, theme: Theme) -> AppState {
        AppState {
            status: RwLock::new(AppStatus::initial(language, theme)),
        }
    }

    pub fn status(&self) -> AppStatus {
        // A poisoned lock only means a writer panicked mid-update; the status is still readable.
        self.status
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }
}
