//! Where the app keeps its files. The layout follows Tauri's path resolver (so the shell and
//! the core agree without the core depending on Tauri): on Linux
//! `$XDG_DATA_HOME/<identifier>` for data, `…/logs` for logs, `$XDG_CONFIG_HOME/<identifier>`
//! for settings and `$XDG_CACHE_HOME/<identifier>` for caches.

use std::path::{Path, PathBuf};

use crate::app::IDENTIFIER;
use crate::Error;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AppPaths {
    pub data_dir: PathBuf,
    pub config_dir: PathBuf,
    pub cache_dir: PathBuf,
    pub log_dir: PathBuf,
}

impl AppPaths {
    /// The platform's folders for this user. Without a home (a locked-down service account)
    /// they fall back to the user's runtime folder, else a folder of this user's own under the
    /// temp dir: never a name another user could have made first (`create_all` refuses a
    /// folder that is another user's or a link).
    pub fn for_current_user() -> AppPaths {
        let fallback = || {
            dirs::runtime_dir()
                .map(|d| d.join(IDENTIFIER))
                .unwrap_or_else(|| std::env::temp_dir().join(format!("{IDENTIFIER}-{}", user_id())))
        };
        let data_dir = dirs::data_local_dir()
            .map(|d| d.join(IDENTIFIER))
            .unwrap_or_else(fallback);
        let log_dir = if cfg!(target_os = "macos") {
            dirs::home_dir()
                .map(|h| h.join("Library/Logs").join(IDENTIFIER))
                .unwrap_or_else(|| data_dir.join("logs"))
        } else {
            data_dir.join("logs")
        };
        AppPaths {
            config_dir: dirs::config_dir()
                .map(|d| d.join(IDENTIFIER))
                .unwrap_or_else(fallback),
            cache_dir: dirs::cache_dir()
                .map(|d| d.join(IDENTIFIER))
                .unwrap_or_else(fallback),
            log_dir,
            data_dir,
        }
    }

    /// All folders under one root; for tests and portable runs.
    pub fn under(root: &Path) -> AppPaths {
        AppPaths {
            data_dir: root.join("data"),
            config_dir: root.join("config"),
            cache_dir: root.join("cache"),
            log_dir: root.join("data").join("logs"),
        }
    }

    /// Creates the folders that must exist before the app writes anything.
    pub fn create_all(&self) -> Result<(), Error> {
        for dir in [
            &self.data_dir,
            &self.config_dir,
            &self.cache_dir,
            &self.log_dir,
        ] {
            crate::private::create_dir(dir).map_err(|source| {
                if crate::private::is_not_own(&source) {
                    Error::NotOwnFolder {
                        path: dir.clone(),
                        reason: source.to_string(),
                    }
                } else {
                    Error::Folder {
                        path: dir.clone(),
                        source,
                    }
                }
            })?;
        }
        Ok(())
    }
}

/// This user's id, to name a fallback folder apart from other users' (`0` where none applies).
fn user_id() -> u32 {
    #[cfg(unix)]
    // SAFETY: getuid cannot fail.
    return unsafe { libc::getuid() };
    #[cfg(not(unix))]
    0
}
