//! After the test suite: no secret issued during it (the portal simulator's tokens, codes,
//! client and webhook secrets, and the pairing tokens and vault entries the test homes held, all
//! listed in one ledger) may appear in any file the tests kept (logs, settings, databases, and
//! inside diagnostics archives), nor in the tests' own output. Findings name the file and the
//! secret's place in the ledger, never the secret.

use std::io::Read;
use std::path::{Path, PathBuf};

/// Secrets shorter than this are not looked for (they would match by chance).
const MIN_LEN: usize = 12;

pub struct Report {
    pub secrets: usize,
    /// Files looked in, each entry of an archive counted as one.
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
    // Lossy is enough: the secrets are ASCII, and binary files (SQLite) are searched too.
    let check = |name: &str, content: &[u8], findings: &mut Vec<String>| {
        let content = String::from_utf8_lossy(content);
        for (i, secret) in secrets.iter().enumerate() {
            if content.contains(secret) {
                findings.push(format!("{name} contains secret #{} of the ledger", i + 1));
            }
        }
    };
    for (name, content) in outputs {
        check(name, content.as_bytes(), &mut report.findings);
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
            continue;
        }
        let Ok(bytes) = std::fs::read(&path) else {
            continue;
        };
        let name = path.display().to_string();
        if !path
            .extension()
            .is_some_and(|e| e.eq_ignore_ascii_case("zip"))
        {
            report.files += 1;
            check(&name, &bytes, &mut report.findings);
            continue;
        }
        // Deflated entries hide their text from a plain search: read each one.
        match entries(&bytes) {
            Ok(entries) => {
                for (entry, content) in entries {
                    report.files += 1;
                    match content {
                        Ok(content) => {
                            check(&format!("{name}!{entry}"), &content, &mut report.findings)
                        }
                        Err(e) => report
                            .findings
                            .push(format!("{name}!{entry} cannot be read: {e}")),
                    }
                }
            }
            // An archive nobody can check is not a clean one.
            Err(e) => report.findings.push(format!("{name} cannot be read: {e}")),
        }
    }
    report
}

/// A zip archive's entries: the name, and the name followed by the decompressed bytes (a secret
/// in an entry's name counts too).
type Entries = Vec<(String, Result<Vec<u8>, String>)>;

fn entries(bytes: &[u8]) -> Result<Entries, String> {
    let mut archive =
        zip::ZipArchive::new(std::io::Cursor::new(bytes)).map_err(|e| e.to_string())?;
    let mut entries = Vec::new();
    for i in 0..archive.len() {
        let mut file = match archive.by_index(i) {
            Ok(file) => file,
            Err(e) => {
                entries.push((format!("#{}", i + 1), Err(e.to_string())));
                continue;
            }
        };
        let name = file.name().to_owned();
        let mut content = name.clone().into_bytes();
        content.push(b'\n');
        let read = file
            .read_to_end(&mut content)
            .map(|_| content)
            .map_err(|e| e.to_string());
        entries.push((name, read));
    }
    Ok(entries)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    fn temp(label: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("xtask-{label}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        dir
    }

    #[test]
    fn finds_a_leaked_secret_without_printing_it() {
        let dir = temp("scan");
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

    fn deflated_zip(entries: &[(&str, &str)]) -> Vec<u8> {
        let mut zip = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
        let options = zip::write::SimpleFileOptions::default()
            .compression_method(zip::CompressionMethod::Deflated);
        for (name, text) in entries {
            zip.start_file(*name, options).unwrap();
            zip.write_all(text.as_bytes()).unwrap();
        }
        zip.finish().unwrap().into_inner()
    }

    #[test]
    fn looks_inside_zip_archives() {
        let dir = temp("scan-zip");
        let ledger = dir.join("ledger");
        let secret = "fedcba9876543210fedc";
        std::fs::write(&ledger, format!("0123456789abcdef0123\n{secret}\n")).unwrap();
        let filler = "INFO the call card reported a call\n".repeat(50);
        let leaky = deflated_zip(&[
            ("README.txt", "nothing\n"),
            (
                "logs/app.log",
                &format!("{filler}WARN token {secret}\n{filler}"),
            ),
        ]);
        // Otherwise a plain search would do, and this test would prove nothing.
        assert!(!String::from_utf8_lossy(&leaky).contains(secret));
        let homes = dir.join("homes");
        std::fs::create_dir_all(homes.join("a")).unwrap();
        std::fs::write(homes.join("a/diagnostics.zip"), &leaky).unwrap();
        let report = scan(&ledger, std::slice::from_ref(&homes), &[]);
        assert_eq!((report.secrets, report.files), (2, 2));
        assert_eq!(report.findings.len(), 1, "{:?}", report.findings);
        assert!(
            report.findings[0]
                .ends_with("diagnostics.zip!logs/app.log contains secret #2 of the ledger")
                && !report.findings[0].contains("fedcba"),
            "{:?}",
            report.findings
        );

        std::fs::write(
            homes.join("a/diagnostics.zip"),
            deflated_zip(&[("README.txt", "nothing\n"), ("logs/app.log", &filler)]),
        )
        .unwrap();
        let clean = scan(&ledger, std::slice::from_ref(&homes), &[]);
        assert_eq!(
            (clean.files, clean.findings.len()),
            (2, 0),
            "{:?}",
            clean.findings
        );

        std::fs::write(homes.join("a/broken.zip"), b"PK\x03\x04 not really").unwrap();
        let broken = scan(&ledger, &[homes], &[]);
        assert_eq!(broken.findings.len(), 1, "{:?}", broken.findings);
        assert!(
            broken.findings[0].contains("broken.zip cannot be read"),
            "{:?}",
            broken.findings
        );
        std::fs::remove_dir_all(dir).unwrap();
    }
}
