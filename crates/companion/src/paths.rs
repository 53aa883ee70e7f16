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
    /// The platform's folders for this user. Falls back to a folder under the temp dir when
    /// the platform knows no home (a locked-down service account), rather than failing.
    pub fn for_current_user() -> AppPaths {
        let fallback = || std::env::temp_dir().join(IDENTIFIER);
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
            std::fs::create_dir_all(dir).map_err(|source| Error::Folder {
                path: dir.clone(),
                source,
            })?;
        }
        Ok(())
    }
}
