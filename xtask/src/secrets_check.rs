//! After the test suite: no secret the portal simulator issued (tokens, codes, client and
//! webhook secrets, listed in its ledger) may appear in any log the tests kept, nor in the
//! tests' own output. Findings name the file and the secret's place in the ledger, never the
//! secret.

use std::path::{Path, PathBuf};

/// Secrets shorter than this are not looked for (they would match by chance).
const MIN_LEN: usize = 12;

pub struct Report {
    pub secrets: usize,
    pub files: usize,
    pub findings: Vec<String>,
}

pub fn scan(ledger: &Path, dirs: &[PathBuf], outputs: &[(&str, &str)]) -> Report {
    let text = std::fs::read_to_string(ledger).unwrap_or_default();
    let secrets: Vec<&str> = text
        .lines()
        .map(str::trim)
        .filter(|s| s.len() >= MIN_LEN)
        .collect();
    let mut report = Report {
        secrets: secrets.len(),
        files: 0,
        findings: Vec::new(),
    };
    let mut check = |name: &str, content: &str| {
        for (i, secret) in secrets.iter().enumerate() {
            if content.contains(secret) {
                report.findings.push(format!(
                    "{name} contains secret #{} of the simulator's ledger",
                    i + 1
                ));
            }
        }
    };
    for (name, content) in outputs {
        check(name, content);
    }
    let mut stack: Vec<PathBuf> = dirs.to_vec();
    while let Some(path) = stack.pop() {
        if path.is_dir() {
            stack.extend(
                std::fs::read_dir(&path)
                    .into_iter()
                    .flatten()
                    .flatten()
                    .map(|e| e.path()),
            );
        } else if let Ok(bytes) = std::fs::read(&path) {
            report.files += 1;
            check(
                &path.display().to_string(),
                &String::from_utf8_lossy(&bytes),
            );
        }
    }
    report
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_a_leaked_secret_without_printing_it() {
        let dir = std::env::temp_dir().join(format!("xtask-scan-{}", std::process::id()));
        let logs = dir.join("logs/run1");
        std::fs::create_dir_all(&logs).unwrap();
        let ledger = dir.join("ledger");
        std::fs::write(
            &ledger,
            "0123456789abcdef0123\nshort\nfedcba9876543210fedc\n",
        )
        .unwrap();
        std::fs::write(
            logs.join("app.log"),
            "INFO all good\nWARN token fedcba9876543210fedc here\n",
        )
        .unwrap();
        std::fs::write(logs.join("other.log"), "nothing\n").unwrap();
        let report = scan(
            &ledger,
            &[dir.join("logs")],
            &[("test output", "no secret here")],
        );
        assert_eq!((report.secrets, report.files), (2, 2));
        assert_eq!(report.findings.len(), 1);
        assert!(
            report.findings[0].contains("secret #2") && !report.findings[0].contains("fedcba"),
            "{:?}",
            report.findings
        );
        let clean = scan(&ledger, &[], &[("test output", "0123456789abcdef0123")]);
        assert_eq!(clean.findings.len(), 1);
        std::fs::remove_dir_all(dir).unwrap();
    }
}
