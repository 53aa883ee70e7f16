//! How the window behaves on a call, as the agent chose in Settings (`window.json` in the
//! config folder). A missing or unreadable file means the defaults: never take the keyboard,
//! not on top, full size.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use ts_rs::TS;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, TS)]
#[serde(default)]
pub struct WindowPrefs {
    /// Bring the window to the front and give it the keyboard when a call arrives.
    pub focus_on_call: bool,
    /// Keep the window above other windows.
    pub always_on_top: bool,
    /// A narrow strip with the essentials instead of the full card.
    pub compact: bool,
    /// An OS notification for each new call.
    pub notify_on_call: bool,
    /// Send the call's note to the CRM when the call ends (the call card reports it idle).
    pub send_notes_on_call_end: bool,
    /// The window's language; `auto` follows the portal's `LANG`, then the OS.
    pub language: crate::language::LanguageChoice,
    /// Start the app when the agent logs in (autostart.rs).
    pub start_at_login: bool,
}

impl WindowPrefs {
    /// The agent's saved choices, or the policy's presets when the agent never chose (no
    /// `window.json`), then the policy's locks over either.
    pub fn under_policy(saved: Option<WindowPrefs>, policy: &crate::policy::Policy) -> WindowPrefs {
        let start = saved.unwrap_or_else(|| WindowPrefs::default().overlaid(&policy.defaults));
        start.overlaid(&policy.locked)
    }

    /// These prefs with every value `settings` names.
    pub fn overlaid(mut self, settings: &crate::policy::Settings) -> WindowPrefs {
        self.focus_on_call = settings.focus_on_call.unwrap_or(self.focus_on_call);
        self.always_on_top = settings.always_on_top.unwrap_or(self.always_on_top);
        self.compact = settings.compact.unwrap_or(self.compact);
        self.notify_on_call = settings.notify_on_call.unwrap_or(self.notify_on_call);
        self.start_at_login = settings.autostart.unwrap_or(self.start_at_login);
        if let Some(language) = settings
            .language
            .as_deref()
            .and_then(crate::language::LanguageChoice::from_name)
        {
            self.language = language;
        }
        self
    }

    /// The names of the prefs `locked` fixes (Settings shows them as set by IT).
    pub fn locked_names(locked: &crate::policy::Settings) -> Vec<String> {
        [
            ("focus_on_call", locked.focus_on_call.is_some()),
            ("always_on_top", locked.always_on_top.is_some()),
            ("compact", locked.compact.is_some()),
            ("notify_on_call", locked.notify_on_call.is_some()),
            ("language", locked.language.is_some()),
            ("start_at_login", locked.autostart.is_some()),
        ]
        .into_iter()
        .filter(|(_, locked)| *locked)
        .map(|(name, _)| name.to_owned())
        .collect()
    }
}

pub struct PrefsFile {
    path: PathBuf,
}

impl PrefsFile {
    pub fn new(path: impl Into<PathBuf>) -> PrefsFile {
        PrefsFile { path: path.into() }
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The saved preferences; the defaults (and a sentence for the log) when the file is bad, which
    /// is moved aside so the next save cannot overwrite it.
    pub fn load(&self) -> (WindowPrefs, Option<String>) {
        match std::fs::read(&self.path) {
            Ok(bytes) => match serde_json::from_slice(&bytes) {
                Ok(prefs) => (prefs, None),
                Err(e) => (
                    WindowPrefs::default(),
                    Some(crate::files::set_aside_sentence(
                        &self.path,
                        &format!("not valid: {e}"),
                        "the defaults are used",
                    )),
                ),
            },
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => (WindowPrefs::default(), None),
            Err(e) => (
                WindowPrefs::default(),
                Some(format!(
                    "cannot read {}: {e}; using the defaults",
                    self.path.display()
                )),
            ),
        }
    }

    /// Written whole or not at all.
    pub fn save(&self, prefs: &WindowPrefs) -> std::io::Result<()> {
        let json = serde_json::to_vec_pretty(prefs).map_err(std::io::Error::other)?;
        crate::files::write_atomically(&self.path, &json)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn saved_read_back_and_bad_files_fall_back_to_defaults() {
        let dir = tempfile::tempdir().unwrap();
        let file = PrefsFile::new(dir.path().join("window.json"));
        assert_eq!(file.load(), (WindowPrefs::default(), None));
        let prefs = WindowPrefs {
            focus_on_call: true,
            always_on_top: false,
            compact: true,
            notify_on_call: true,
            send_notes_on_call_end: true,
            language: crate::language::LanguageChoice::Ru,
            start_at_login: true,
        };
        file.save(&prefs).unwrap();
        assert_eq!(file.load().0, prefs);
        std::fs::write(file.path(), "{not json").unwrap();
        let (loaded, warning) = file.load();
        assert_eq!(loaded, WindowPrefs::default());
        assert!(warning.unwrap().contains("not valid"));
        assert!(
            !file.path().exists(),
            "set aside, so a later save cannot overwrite it"
        );
        // A file from a newer version with a key this one does not know still loads.
        std::fs::write(file.path(), r#"{"compact": true, "opacity": 0.9}"#).unwrap();
        assert!(file.load().0.compact);
    }
}
