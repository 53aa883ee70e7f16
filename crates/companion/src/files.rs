//! The app's small files: each is written whole or not at all, and one the app cannot read is
//! moved aside, never deleted or overwritten (the agent's data may still be in it, and IT can look
//! at what went wrong).

use std::io::Write;
use std::path::{Path, PathBuf};

/// Replaces `path` with `bytes` so that a crash or power loss at any moment leaves either the old
/// file or the new one: written to a temporary file beside it (created only for this user, 0600 on
/// Unix), flushed to the disk, renamed over the old one, and the rename itself flushed by syncing
/// the folder (on Unix: the standard library cannot open a folder to sync it on Windows).
pub fn write_atomically(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let dir = match path.parent() {
        Some(dir) if !dir.as_os_str().is_empty() => dir,
        _ => Path::new("."),
    };
    crate::private::create_dir(dir)?;
    let mut file = tempfile::Builder::new()
        .prefix(".partial-")
        .tempfile_in(dir)?;
    file.write_all(bytes)?;
    file.as_file().sync_all()?;
    file.persist(path).map_err(|e| e.error)?;
    #[cfg(unix)]
    std::fs::File::open(dir)?.sync_all()?;
    Ok(())
}

/// Renames `path` to `<name>.corrupt-<unix seconds>` (with a counter when that exists) and
/// answers the new path.
pub fn set_aside(path: &Path) -> std::io::Result<PathBuf> {
    let stamp = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let mut aside = path.with_file_name(format!("{name}.corrupt-{stamp}"));
    let mut n = 1;
    while aside.exists() {
        aside = path.with_file_name(format!("{name}.corrupt-{stamp}-{n}"));
        n += 1;
    }
    std::fs::rename(path, &aside)?;
    Ok(aside)
}

/// What the log and the window say about a file that was set aside (or could not be).
pub fn set_aside_sentence(path: &Path, reason: &str, fallback: &str) -> String {
    match set_aside(path) {
        Ok(aside) => format!(
            "{} could not be read ({reason}); it is kept as {} and {fallback}",
            path.display(),
            aside.display()
        ),
        Err(e) => format!(
            "{} could not be read ({reason}) nor moved aside ({e}); {fallback}",
            path.display()
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_file_is_replaced_whole_and_nothing_is_left_beside_it() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("new folder").join("recent-calls.json");
        write_atomically(&path, b"first").unwrap();
        write_atomically(&path, b"second").unwrap();
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "second");
        let names: Vec<_> = std::fs::read_dir(path.parent().unwrap())
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(names, ["recent-calls.json"]);
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&path).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600, "{mode:o}");
        }
    }

    #[test]
    fn a_failed_write_leaves_the_old_file() {
        let dir = tempfile::tempdir().unwrap();
        // The target is a folder: the rename fails, the temporary file goes, the folder stays.
        let path = dir.path().join("settings.json");
        std::fs::create_dir(&path).unwrap();
        std::fs::write(path.join("keep"), "x").unwrap();
        assert!(write_atomically(&path, b"new").is_err());
        assert_eq!(std::fs::read_to_string(path.join("keep")).unwrap(), "x");
        let names: Vec<_> = std::fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(names, ["settings.json"]);
    }

    #[test]
    fn a_second_bad_file_never_overwrites_the_first() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("window.json");
        std::fs::write(&path, "first").unwrap();
        let first = set_aside(&path).unwrap();
        std::fs::write(&path, "second").unwrap();
        let second = set_aside(&path).unwrap();
        assert_ne!(first, second);
        assert_eq!(std::fs::read_to_string(first).unwrap(), "first");
        assert_eq!(std::fs::read_to_string(second).unwrap(), "second");
        assert!(!path.exists());
        let sentence = set_aside_sentence(&path, "gone", "the defaults are used");
        assert!(sentence.contains("nor moved aside"), "{sentence}");
    }
}
