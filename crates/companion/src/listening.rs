//! Where this user's app listens, for this user's own command line. On a shared computer the
//! port asked for may be another session's and the app listens elsewhere (`assemble::serve`);
//! `simulate`, run by the same user, reads the port here (a file in the user's own `0700` data
//! folder, which other users cannot read or plant) instead of knocking on the co-worker's app.

use std::path::Path;

/// The file's name in the data folder.
pub const FILE: &str = "listening.json";

/// Writes `{"asked": …, "port": …}` when the app listens elsewhere than asked, removes the
/// file when it listens where asked. A failure is logged: the command line then uses the port
/// it is given, as before.
pub fn record(file: &Path, asked: u16, port: u16) {
    let result = if asked == port {
        match std::fs::remove_file(file) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(e),
            _ => Ok(()),
        }
    } else {
        let text = serde_json::json!({ "asked": asked, "port": port }).to_string();
        crate::files::write_atomically(file, text.as_bytes())
    };
    if let Err(e) = result {
        tracing::warn!(code = "settings_not_saved", "{}: {e}", file.display());
    }
}

/// The port the app listens on, for a command line told `asked`: the recorded one when the app
/// recorded that it listens elsewhere than `asked`, else `asked`.
pub fn port_for(file: &Path, asked: u16) -> u16 {
    let recorded = std::fs::read(file)
        .ok()
        .and_then(|bytes| serde_json::from_slice::<serde_json::Value>(&bytes).ok());
    match recorded {
        Some(value) if value["asked"].as_u64() == Some(u64::from(asked)) => value["port"]
            .as_u64()
            .and_then(|p| u16::try_from(p).ok())
            .filter(|p| *p != 0)
            .unwrap_or(asked),
        _ => asked,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_recorded_port_is_used_only_for_the_port_it_was_asked_for() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join(FILE);
        assert_eq!(port_for(&file, 47600), 47600, "nothing recorded");
        record(&file, 47600, 53111);
        assert_eq!(port_for(&file, 47600), 53111);
        assert_eq!(port_for(&file, 47700), 47700, "asked for another port");
        record(&file, 47600, 47600);
        assert!(!file.exists(), "where asked: nothing to say");
        std::fs::write(&file, b"{not json").unwrap();
        assert_eq!(port_for(&file, 47600), 47600);
    }
}
