//! What IT ships: the release binary and the packages `cargo xtask bundle` builds.

use std::path::{Path, PathBuf};

pub struct Sizes {
    pub binary: (PathBuf, u64),
    pub deb: Option<(PathBuf, u64)>,
    pub rpm: Option<(PathBuf, u64)>,
}

pub fn measure(binary: &Path, bundles: Option<&Path>) -> Sizes {
    let size = |path: &Path| std::fs::metadata(path).map(|m| m.len()).unwrap_or(0);
    let newest = |kind: &str| -> Option<(PathBuf, u64)> {
        let dir = bundles?.join(kind);
        std::fs::read_dir(dir)
            .ok()?
            .flatten()
            .map(|e| e.path())
            .filter(|p| p.extension().is_some_and(|x| x == kind))
            .max_by_key(|p| std::fs::metadata(p).and_then(|m| m.modified()).ok())
            .map(|p| {
                let bytes = size(&p);
                (p, bytes)
            })
    };
    Sizes {
        binary: (binary.to_owned(), size(binary)),
        deb: newest("deb"),
        rpm: newest("rpm"),
    }
}
