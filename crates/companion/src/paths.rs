//! Where the app keeps its files. The layout follows Tauri's path resolver (so the shell and
//! the core agree without the core depending on Tauri): on Linux
//! `$XDG_DATA_HOME/<identifier>` for data, `…/logs` for logs, `$XDG_CONFIG_HOME/<identifier>`
//! for settings and `$XDG_CACHE_HOME/<identifier>` for caches.

use std::path::{Path, PathBuf};

use crate::app::IDENTIFIER;
use crate::Error;

/// The folders the platform names for this user (`None`: it knows none).
struct Platform {
    data_local: Option<PathBuf>,
    config: Option<PathBuf>,
    cache: Option<PathBuf>,
    runtime: Option<PathBuf>,
    home: Option<PathBuf>,
}

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
        AppPaths::from_platform(
            Platform {
                data_local: dirs::data_local_dir(),
                config: dirs::config_dir(),
                cache: dirs::cache_dir(),
                runtime: dirs::runtime_dir(),
                home: dirs::home_dir(),
            },
            user_id(),
        )
    }

    /// The folders from what the platform knows (see [`AppPaths::for_current_user`]).
    fn from_platform(platform: Platform, uid: u32) -> AppPaths {
        let fallback = || {
            platform
                .runtime
                .clone()
                .map(|d| d.join(IDENTIFIER))
                .unwrap_or_else(|| std::env::temp_dir().join(format!("{IDENTIFIER}-{uid}")))
        };
        let ours = |dir: Option<PathBuf>| dir.map(|d| d.join(IDENTIFIER)).unwrap_or_else(fallback);
        let data_dir = ours(platform.data_local.clone());
        let log_dir = if cfg!(target_os = "macos") {
            platform
                .home
                .clone()
                .map(|h| h.join("Library/Logs").join(IDENTIFIER))
                .unwrap_or_else(|| data_dir.join("logs"))
        } else {
            data_dir.join("logs")
        };
        AppPaths {
            config_dir: ours(platform.config.clone()),
            cache_dir: ours(platform.cache.clone()),
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

#[cfg(test)]
mod tests {
    use super::{AppPaths, Platform, IDENTIFIER};
    use std::path::PathBuf;

    fn nothing() -> Platform {
        Platform {
            data_local: None,
            config: None,
            cache: None,
            runtime: None,
            home: None,
        }
    }

    #[test]
    fn without_a_home_the_folders_are_the_users_own_never_a_shared_name() {
        let runtime = PathBuf::from("/run/user/1000");
        let paths = AppPaths::from_platform(
            Platform {
                runtime: Some(runtime.clone()),
                ..nothing()
            },
            1000,
        );
        assert_eq!(paths.data_dir, runtime.join(IDENTIFIER));
        assert_eq!(paths.config_dir, runtime.join(IDENTIFIER));
        let paths = AppPaths::from_platform(nothing(), 1000);
        assert_eq!(
            paths.data_dir,
            std::env::temp_dir().join(format!("{IDENTIFIER}-1000"))
        );
        let other = AppPaths::from_platform(nothing(), 1001);
        assert_ne!(
            other.data_dir, paths.data_dir,
            "each user a name of their own"
        );
        let home = PathBuf::from("/home/anna/.local/share");
        let usual = AppPaths::from_platform(
            Platform {
                data_local: Some(home.clone()),
                ..nothing()
            },
            1000,
        );
        assert_eq!(usual.data_dir, home.join(IDENTIFIER));
    }
}
