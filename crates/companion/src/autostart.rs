//! Start at login, as the agent (or IT's policy) chose. On Linux this is an XDG autostart entry,
//! `~/.config/autostart/call-companion.desktop`, pointing at the running binary; the app writes
//! it when the setting is on and removes it (only its own) when off. Windows and macOS come with
//! their installers' work: the setting says it is unavailable there rather than doing nothing.

use std::path::{Path, PathBuf};

const FILE_NAME: &str = "call-companion.desktop";
/// Marks the entry as the app's own, so it never removes one someone else wrote.
const MARKER: &str = "X-CallCompanion-Autostart=true";

pub struct Autostart {
    dir: PathBuf,
    exe: PathBuf,
}

impl Autostart {
    /// The current user's autostart folder and the running binary; `None` where not supported.
    pub fn for_current_user() -> Option<Autostart> {
        if !cfg!(target_os = "linux") {
            return None;
        }
        Some(Autostart {
            dir: dirs::config_dir()?.join("autostart"),
            exe: std::env::current_exe().ok()?,
        })
    }

    pub fn new(dir: impl Into<PathBuf>, exe: impl Into<PathBuf>) -> Autostart {
        Autostart {
            dir: dir.into(),
            exe: exe.into(),
        }
    }

    pub fn path(&self) -> PathBuf {
        self.dir.join(FILE_NAME)
    }

    /// Makes the entry match `on`: written (or rewritten for a moved binary) or removed.
    pub fn set(&self, on: bool) -> std::io::Result<()> {
        let path = self.path();
        if on {
            let entry = entry(&self.exe);
            if std::fs::read_to_string(&path).ok().as_deref() != Some(entry.as_str()) {
                crate::files::write_atomically(&path, entry.as_bytes())?;
            }
        } else if is_ours(&path) {
            std::fs::remove_file(&path)?;
        }
        Ok(())
    }

    pub fn is_on(&self) -> bool {
        is_ours(&self.path())
    }
}

fn is_ours(path: &Path) -> bool {
    std::fs::read_to_string(path).is_ok_and(|text| text.lines().any(|l| l.trim() == MARKER))
}

fn entry(exe: &Path) -> String {
    // Exec needs quoting when the path has spaces (desktop entry spec: double quotes).
    let exe = exe.display().to_string();
    let exec = if exe.contains(' ') {
        format!("\"{}\"", exe.replace('"', "\\\""))
    } else {
        exe
    };
    format!(
        "[Desktop Entry]\nType=Application\nName={}\nComment=Start Call Companion at login\nExec={exec}\nIcon={}\nTerminal=false\n{MARKER}\n",
        crate::app::PRODUCT_NAME,
        crate::app::BINARY_NAME
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn turns_on_and_off_and_never_removes_someone_elses_entry() {
        let dir = tempfile::tempdir().unwrap();
        let autostart = Autostart::new(
            dir.path().join("autostart"),
            "/opt/Call Companion/call-companion",
        );
        assert!(!autostart.is_on());
        autostart.set(true).unwrap();
        let text = std::fs::read_to_string(autostart.path()).unwrap();
        assert!(
            text.contains("Exec=\"/opt/Call Companion/call-companion\""),
            "{text}"
        );
        assert!(autostart.is_on());
        autostart.set(true).unwrap();
        autostart.set(false).unwrap();
        assert!(!autostart.path().exists());
        // An entry IT or the agent wrote by hand stays.
        std::fs::write(
            autostart.path(),
            "[Desktop Entry]\nExec=call-companion --lang ru\n",
        )
        .unwrap();
        autostart.set(false).unwrap();
        assert!(autostart.path().exists());
        assert!(!autostart.is_on());
    }
}
