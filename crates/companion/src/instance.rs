//! Which process owns the data folder. A second launch (a deep link handed to the running app,
//! a second click on the menu entry) runs `main` before the single-instance hand-off; it must
//! not open, repair or set aside the files the running app is using.

use std::fs::{File, OpenOptions, TryLockError};
use std::path::Path;

pub enum Instance {
    /// This process owns the data folder while the claim lives (the lock goes with the file).
    First(Option<File>),
    /// Another Call Companion owns it.
    Second,
}

impl Instance {
    /// Claims `<data_dir>/instance.lock`. A folder that cannot hold the lock does not stop the
    /// app: it runs as the first, as it did before the lock existed.
    pub fn claim(data_dir: &Path) -> Instance {
        let _ = std::fs::create_dir_all(data_dir);
        let file = match OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(data_dir.join("instance.lock"))
        {
            Ok(file) => file,
            Err(e) => {
                tracing::warn!(code = "instance_lock_unavailable", "{e}");
                return Instance::First(None);
            }
        };
        match file.try_lock() {
            Ok(()) => Instance::First(Some(file)),
            Err(TryLockError::WouldBlock) => Instance::Second,
            Err(TryLockError::Error(e)) => {
                tracing::warn!(code = "instance_lock_unavailable", "{e}");
                Instance::First(None)
            }
        }
    }

    pub fn is_first(&self) -> bool {
        matches!(self, Instance::First(_))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_second_claim_waits_for_the_first_to_go() {
        let dir = tempfile::tempdir().unwrap();
        let first = Instance::claim(dir.path());
        assert!(first.is_first());
        assert!(!Instance::claim(dir.path()).is_first());
        drop(first);
        assert!(Instance::claim(dir.path()).is_first());
    }
}
