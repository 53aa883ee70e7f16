//! The agent's data stays the agent's on a shared machine (terminal servers: many agents, one
//! disk). On Unix the app creates everything owner-only: the process's file-creation mask is
//! `077` from its first instruction, so the notes database and its WAL, settings, logs,
//! diagnostics archives, and what WebKitGTK's own processes write (they inherit the mask) come
//! out `0600` in `0700` folders. Files an older version (or a looser mask) left are repaired at
//! start-up, and a folder that is a symbolic link or another user's is refused.
//!
//! Programs the app starts for the agent (the browser) get the mask the session had. On Windows
//! the user's profile folders are the user's own already (their ACLs), so nothing is changed.

use std::path::Path;

/// The session's mask before [`restrict_new_files`], for the programs the app starts.
#[cfg(unix)]
static SESSION_MASK: std::sync::OnceLock<libc::mode_t> = std::sync::OnceLock::new();

/// From here on, everything this process and its helpers create is owner-only. Called first
/// thing in `main`, before any thread or file exists.
pub fn restrict_new_files() {
    #[cfg(unix)]
    {
        // SAFETY: umask only swaps the process's mask; it cannot fail.
        let before = unsafe { libc::umask(0o077) };
        let _ = SESSION_MASK.set(before);
    }
}

/// Gives a program the app starts for the agent the session's own mask back (a browser started
/// by the app must not create the agent's downloads owner-only).
pub fn with_session_mask(command: &mut std::process::Command) -> &mut std::process::Command {
    #[cfg(unix)]
    if let Some(&mask) = SESSION_MASK.get() {
        use std::os::unix::process::CommandExt;
        // SAFETY: umask is async-signal-safe; the closure allocates nothing.
        unsafe {
            command.pre_exec(move || {
                libc::umask(mask);
                Ok(())
            });
        }
    }
    command
}

/// Why [`create_dir`] refused a folder that exists: the app must not write there at all.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct NotOwnFolder(String);

/// Whether `error` is [`create_dir`]'s refusal of a folder that is not the user's own.
pub fn is_not_own(error: &std::io::Error) -> bool {
    error
        .get_ref()
        .is_some_and(|inner| inner.downcast_ref::<NotOwnFolder>().is_some())
}

/// Creates `dir` (and its parents) for the app, owner-only, and checks that it is a real folder
/// of this user: a symbolic link or another user's folder (planted in a shared place) is
/// refused rather than written into.
pub fn create_dir(dir: &Path) -> std::io::Result<()> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::{DirBuilderExt, MetadataExt, PermissionsExt};
        std::fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(dir)?;
        let meta = std::fs::symlink_metadata(dir)?;
        if meta.file_type().is_symlink() || !meta.is_dir() {
            return Err(std::io::Error::other(NotOwnFolder(format!(
                "{} is not a folder of its own (a link or a file)",
                dir.display()
            ))));
        }
        // SAFETY: getuid cannot fail.
        let me = unsafe { libc::getuid() };
        if meta.uid() != me {
            return Err(std::io::Error::other(NotOwnFolder(format!(
                "{} belongs to another user (uid {})",
                dir.display(),
                meta.uid()
            ))));
        }
        if meta.mode() & 0o077 != 0 {
            std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700))?;
        }
        Ok(())
    }
    #[cfg(not(unix))]
    std::fs::create_dir_all(dir)
}

/// Makes what is under `root` owner-only (folders `0700`, files `0600`), as an older version or
/// a looser mask may have left it. Links are not followed. The paths it changed.
pub fn repair(root: &Path) -> Vec<std::path::PathBuf> {
    let mut changed = Vec::new();
    #[cfg(unix)]
    repair_under(root, &mut changed);
    #[cfg(not(unix))]
    let _ = root;
    changed
}

#[cfg(unix)]
fn repair_under(path: &Path, changed: &mut Vec<std::path::PathBuf>) {
    use std::os::unix::fs::{MetadataExt, PermissionsExt};
    let Ok(meta) = std::fs::symlink_metadata(path) else {
        return;
    };
    let wanted = if meta.is_dir() {
        0o700
    } else if meta.is_file() {
        0o600
    } else {
        return;
    };
    if meta.mode() & 0o077 != 0
        && std::fs::set_permissions(path, std::fs::Permissions::from_mode(wanted)).is_ok()
    {
        changed.push(path.to_owned());
    }
    if meta.is_dir() {
        for entry in std::fs::read_dir(path).into_iter().flatten().flatten() {
            repair_under(&entry.path(), changed);
        }
    }
}

#[cfg(all(test, unix))]
mod tests {
    use std::os::unix::fs::{MetadataExt, PermissionsExt};

    fn mode(path: &std::path::Path) -> u32 {
        std::fs::symlink_metadata(path).unwrap().mode() & 0o777
    }

    #[test]
    fn what_an_older_version_left_readable_is_made_owner_only() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().join("data");
        std::fs::create_dir_all(root.join("logs")).unwrap();
        std::fs::write(root.join("notes.sqlite3"), "x").unwrap();
        std::fs::write(root.join("logs").join("a.log"), "x").unwrap();
        for (path, m) in [
            (root.clone(), 0o755),
            (root.join("logs"), 0o775),
            (root.join("notes.sqlite3"), 0o644),
            (root.join("logs").join("a.log"), 0o640),
        ] {
            std::fs::set_permissions(&path, std::fs::Permissions::from_mode(m)).unwrap();
        }
        // A link out of the folder is left alone, and so is what it points at.
        let outside = dir.path().join("outside");
        std::fs::write(&outside, "x").unwrap();
        std::fs::set_permissions(&outside, std::fs::Permissions::from_mode(0o644)).unwrap();
        std::os::unix::fs::symlink(&outside, root.join("link")).unwrap();

        let changed = super::repair(&root);
        assert_eq!(changed.len(), 4, "{changed:?}");
        assert_eq!(mode(&root), 0o700);
        assert_eq!(mode(&root.join("logs")), 0o700);
        assert_eq!(mode(&root.join("notes.sqlite3")), 0o600);
        assert_eq!(mode(&root.join("logs").join("a.log")), 0o600);
        assert_eq!(mode(&outside), 0o644);
        assert!(super::repair(&root).is_empty(), "nothing left to do");
    }

    #[test]
    fn a_folder_that_is_a_link_is_refused_and_a_new_one_is_owner_only() {
        let dir = tempfile::tempdir().unwrap();
        let made = dir.path().join("a").join("b");
        super::create_dir(&made).unwrap();
        assert_eq!(mode(&made), 0o700);
        assert_eq!(mode(&dir.path().join("a")), 0o700);
        let loose = dir.path().join("loose");
        std::fs::create_dir(&loose).unwrap();
        std::fs::set_permissions(&loose, std::fs::Permissions::from_mode(0o755)).unwrap();
        super::create_dir(&loose).unwrap();
        assert_eq!(mode(&loose), 0o700);
        let link = dir.path().join("link");
        std::os::unix::fs::symlink(&made, &link).unwrap();
        let refused = super::create_dir(&link).unwrap_err();
        assert!(super::is_not_own(&refused), "{refused}");
        assert!(
            refused.to_string().contains("not a folder of its own"),
            "{refused}"
        );
        let other = super::create_dir(&dir.path().join("a").join("b").join("c\0"));
        assert!(
            other.as_ref().is_err_and(|e| !super::is_not_own(e)),
            "another failure is not a refusal: {other:?}"
        );
        assert_eq!(std::fs::metadata(&made).unwrap().uid(), unsafe {
            libc::getuid()
        });
    }

    #[test]
    fn the_programs_the_app_starts_get_the_sessions_mask_back() {
        let umask = |command: &mut std::process::Command| {
            let out = command.args(["-c", "umask"]).output().unwrap();
            String::from_utf8_lossy(&out.stdout).trim().to_owned()
        };
        let session = umask(&mut std::process::Command::new("sh"));
        super::restrict_new_files();
        assert_eq!(umask(&mut std::process::Command::new("sh")), "0077");
        assert_eq!(
            umask(super::with_session_mask(&mut std::process::Command::new(
                "sh"
            ))),
            session
        );
    }
}
