//! Settings files the app cannot read are moved aside, never deleted or overwritten: the agent's
//! data may still be in them, and IT can look at what went wrong.

use std::path::{Path, PathBuf};

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
