//! Call Companion's core. Nothing here depends on `tauri`: the shell in `src-tauri` wires these
//! pieces to windows and commands, and everything testable is tested here without a webview.

pub mod app;
pub mod app_state;
pub mod assemble;
pub mod autostart;
pub mod bindings;
pub mod callback_port;
pub mod calls;
pub mod card;
pub mod cli;
pub mod closing;
pub mod desk;
pub mod diagnostics;
pub mod display;
pub mod error;
pub mod events;
pub mod files;
pub mod instance;
pub mod intake;
pub mod language;
pub mod link_trust;
pub mod listening;
pub mod local_http;
pub mod log_files;
pub mod logging;
pub mod mock;
pub mod note_rules;
pub mod notes_desk;
pub mod outcomes;
pub mod pairing;
pub mod paths;
pub mod policy;
pub mod port_publish;
pub mod portal;
pub mod prefs;
pub mod private;
pub mod push_desk;
pub mod rt;
pub mod secrets;
pub mod simulate;
pub mod status;
pub mod subcommands;
pub mod tab;
pub mod tray;
pub mod unsaved;

pub use error::{Error, ErrorBody, ErrorCode};
