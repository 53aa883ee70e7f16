//! Call Companion's core. Nothing here depends on `tauri`: the shell in `src-tauri` wires these
//! pieces to windows and commands, and everything testable is tested here without a webview.

pub mod app;
pub mod bindings;
pub mod cli;
pub mod display;
pub mod error;
pub mod language;
pub mod logging;
pub mod paths;
pub mod status;

pub use error::{Error, ErrorBody};
