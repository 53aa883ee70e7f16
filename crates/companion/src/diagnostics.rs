//! `call-companion diagnostics --out FILE.zip`: what support needs (logs, the effective settings
//! with their sources, versions, the listener's and the portal's state) and nothing it must not
//! see. Every secret the app holds is looked up in the keyring and blanked wherever it appears;
//! token-like fields are blanked by name as a second net; phone numbers are masked unless asked.

use std::io::Write;
use std::path::Path;

use crate::portal::vault::{self, Vault};
use crate::secrets::Keyring;

pub const REDACTED: &str = "[redacted]";

/// One file of the archive.
pub struct Entry {
    pub name: String,
    pub text: String,
}

/// What start-up worked out, for `settings.txt`.
pub struct Facts {
    /// Each setting, its value and where it came from (`policy::apply_to_cli`).
    pub settings: Vec<(&'static str, String, crate::policy::Source)>,
    pub policy_path: std::path::PathBuf,
    pub policy_problem: Option<String>,
    pub listen_port: u16,
    /// The running app's portal state; `None` from the command line, which reconnects with the
    /// saved sign-in only when the app is not running: the running app's own state is the one
    /// support needs, and a support archive should not touch a live session.
    pub portal: Option<crate::status::PortalStatus>,
}

/// Collects everything and writes the archive to `out`; returns how many files it holds.
pub fn export(
    out: &Path,
    facts: &Facts,
    keyring: &Keyring,
    mask_phones: bool,
) -> std::io::Result<usize> {
    use crate::portal::{settings::SettingsFile, PortalDesk};
    let paths = crate::paths::AppPaths::for_current_user();
    let vault = Vault::new(Keyring::for_app());
    let secrets = known_secrets(keyring, &vault);
    let clean = |text: &str| redact(text, &secrets, mask_phones);

    let mut settings = format!("policy file: {}\n", facts.policy_path.display());
    settings.push_str(&match &facts.policy_problem {
        Some(problem) => format!("policy: NOT USED: {problem}\n"),
        None if facts.policy_path.exists() => "policy: in use\n".into(),
        None => "policy: none\n".into(),
    });
    settings.push_str("\nsetting = value (source)\n");
    for (key, value, source) in &facts.settings {
        settings.push_str(&format!("{key} = {value} ({source:?})\n"));
    }
    for file in ["window.json", "portal.json"] {
        let text = std::fs::read_to_string(paths.config_dir.join(file))
            .unwrap_or_else(|_| "(none)".into());
        settings.push_str(&format!("\n{file}:\n{text}\n"));
    }

    let port = facts.listen_port;
    let agent = crate::local_http::agent(std::time::Duration::from_secs(3));
    let answered = crate::local_http::send(agent.get(format!("http://127.0.0.1:{port}/v1/status")))
        .and_then(|answer| match answer.status {
            200..=299 => Ok(answer),
            status => Err(crate::local_http::Unreachable(format!("HTTP {status}"))),
        });
    let listener = match &answered {
        Ok(_) => format!("listener on 127.0.0.1:{port}: answering"),
        Err(e) => format!("listener on 127.0.0.1:{port}: not answering ({e})"),
    };
    let portal = match (&facts.portal, answered.is_ok()) {
        (Some(status), _) => serde_json::to_string(status).unwrap_or_default(),
        (None, true) => {
            "not checked: the app is running (export from its Settings for its live state)".into()
        }
        (None, false) => {
            let desk = PortalDesk::new(
                vault,
                SettingsFile::new(paths.config_dir.join("portal.json")),
            );
            desk.restore();
            serde_json::to_string(&desk.status()).unwrap_or_default()
        }
    };
    let portal = format!("portal: {portal}");

    let os = std::fs::read_to_string("/etc/os-release")
        .ok()
        .and_then(|s| {
            s.lines().find_map(|l| {
                l.strip_prefix("PRETTY_NAME=")
                    .map(|v| v.trim_matches('"').to_owned())
            })
        })
        .unwrap_or_else(|| std::env::consts::OS.to_owned());
    let versions = format!(
        "{} {}\nos: {os} ({})\ndata: {}\nlogs: {}\n",
        crate::app::PRODUCT_NAME,
        crate::app::VERSION,
        std::env::consts::ARCH,
        paths.data_dir.display(),
        paths.log_dir.display()
    );
    let mut entries = vec![
        Entry {
            name: "README.txt".into(),
            text: format!(
                "Call Companion diagnostics. Tokens and secrets are removed{}.\n",
                if mask_phones {
                    ", and phone numbers masked"
                } else {
                    "; phone numbers are kept"
                }
            ),
        },
        Entry {
            name: "versions.txt".into(),
            text: clean(&versions),
        },
        Entry {
            name: "settings.txt".into(),
            text: clean(&settings),
        },
        Entry {
            name: "status.txt".into(),
            text: clean(&format!("{listener}\n{portal}\n")),
        },
    ];
    entries.extend(log_entries(&paths.log_dir, &secrets, mask_phones));
    write_zip(out, &entries)?;
    Ok(entries.len())
}

/// The secrets this installation holds, to blank wherever they appear.
pub fn known_secrets(keyring: &Keyring, vault: &Vault) -> Vec<String> {
    let mut secrets = Vec::new();
    if let Ok(token) = keyring.pairing_token() {
        secrets.push(token.expose().to_owned());
    }
    if let Ok(Some(json)) = vault.get(vault::OAUTH_TOKENS) {
        if let Ok(value) = serde_json::from_str::<serde_json::Value>(&json) {
            for key in ["access_token", "refresh_token"] {
                if let Some(s) = value[key].as_str() {
                    secrets.push(s.to_owned());
                }
            }
        }
        secrets.push(json);
    }
    if let Ok(Some(secret)) = vault.get(vault::CLIENT_SECRET) {
        secrets.push(secret);
    }
    if let Ok(Some(url)) = vault.get(vault::WEBHOOK_URL) {
        // `https://portal/rest/1/<secret>/`: the secret alone may be quoted elsewhere.
        if let Some(secret) = url.trim_end_matches('/').rsplit('/').next() {
            secrets.push(secret.to_owned());
        }
        secrets.push(url);
    }
    secrets.retain(|s| s.len() >= 6);
    // Longest first, so a URL is blanked whole before the secret inside it.
    secrets.sort_by_key(|s| std::cmp::Reverse(s.len()));
    secrets
}

/// Blanks `secrets`, token-like fields and (when `phones`) phone numbers in `text`.
pub fn redact(text: &str, secrets: &[String], phones: bool) -> String {
    let mut out = text.to_owned();
    for secret in secrets {
        out = out.replace(secret.as_str(), REDACTED);
    }
    out = redact_fields(&out);
    if phones {
        out = mask_phones(&out);
    }
    out
}

/// `access_token=…`, `"refresh_token":"…"`, `Bearer …`, `AUTH_ID=…`: the value goes.
fn redact_fields(text: &str) -> String {
    const NAMES: &[&str] = &[
        "access_token",
        "refresh_token",
        "client_secret",
        "auth",
        "AUTH_ID",
        "REFRESH_ID",
        "APPLICATION_TOKEN",
        "token",
        "Bearer",
    ];
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    'scan: while !rest.is_empty() {
        for name in NAMES {
            if let Some(after) = rest.strip_prefix(name) {
                let preceded_by_word = out
                    .chars()
                    .last()
                    .is_some_and(|c| c.is_ascii_alphanumeric() || c == '_');
                let separator: String = after
                    .chars()
                    .take_while(|c| matches!(c, '"' | '\'' | ':' | '=' | ' '))
                    .collect();
                let value_start = &after[separator.len()..];
                let value_len = value_start
                    .find(|c: char| {
                        !(c.is_ascii_alphanumeric()
                            || matches!(c, '.' | '_' | '-' | '~' | '+' | '/'))
                    })
                    .unwrap_or(value_start.len());
                if !preceded_by_word && !separator.is_empty() && value_len >= 8 {
                    out.push_str(name);
                    out.push_str(&separator);
                    out.push_str(REDACTED);
                    rest = &value_start[value_len..];
                    continue 'scan;
                }
            }
        }
        let c = rest.chars().next().expect("not empty");
        out.push(c);
        rest = &rest[c.len_utf8()..];
    }
    out
}

/// A run of digits, spaces, `+ ( ) -` with at least 7 digits is a phone number: all but its
/// last two digits go. ISO dates (`2026-11-26`) are not numbers.
fn mask_phones(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let chars: Vec<char> = text.chars().collect();
    let mut i = 0;
    while i < chars.len() {
        let starts = chars[i].is_ascii_digit()
            || (matches!(chars[i], '+' | '(')
                && chars
                    .get(i + 1)
                    .is_some_and(|c| c.is_ascii_digit() || *c == '('));
        let after_word = i > 0 && (chars[i - 1].is_ascii_alphanumeric() || chars[i - 1] == '_');
        if starts && !after_word {
            let mut j = i;
            while j < chars.len()
                && (chars[j].is_ascii_digit() || matches!(chars[j], '+' | '(' | ')' | '-' | ' '))
            {
                j += 1;
            }
            // Trailing separators are not part of the number.
            while j > i && !chars[j - 1].is_ascii_digit() {
                j -= 1;
            }
            let run: String = chars[i..j].iter().collect();
            let digits: String = run.chars().filter(char::is_ascii_digit).collect();
            let is_date = run.len() == 10 && run.as_bytes()[4] == b'-' && run.as_bytes()[7] == b'-';
            if digits.len() >= 7 && !is_date {
                out.push_str(&format!("[phone …{}]", &digits[digits.len() - 2..]));
                i = j;
                continue;
            }
        }
        out.push(chars[i]);
        i += 1;
    }
    out
}

/// The log files, newest first, as archive entries (redacted).
pub fn log_entries(log_dir: &Path, secrets: &[String], phones: bool) -> Vec<Entry> {
    let mut files: Vec<_> = std::fs::read_dir(log_dir)
        .into_iter()
        .flatten()
        .flatten()
        .filter(|e| e.file_name().to_string_lossy().ends_with(".log"))
        .collect();
    files.sort_by_key(|e| std::cmp::Reverse(e.file_name()));
    files
        .into_iter()
        .map(|e| Entry {
            name: format!("logs/{}", e.file_name().to_string_lossy()),
            text: redact(
                &String::from_utf8_lossy(&std::fs::read(e.path()).unwrap_or_default()),
                secrets,
                phones,
            ),
        })
        .collect()
}

/// Writes the entries as a zip archive (deflated).
pub fn write_zip(path: &Path, entries: &[Entry]) -> std::io::Result<()> {
    let file = std::fs::File::create(path)?;
    let mut zip = zip::ZipWriter::new(file);
    let options = zip::write::SimpleFileOptions::default()
        .compression_method(zip::CompressionMethod::Deflated);
    for entry in entries {
        zip.start_file(entry.name.as_str(), options)
            .map_err(std::io::Error::other)?;
        zip.write_all(entry.text.as_bytes())?;
    }
    zip.finish().map_err(std::io::Error::other)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_fields_and_phones_are_blanked_and_the_rest_is_kept() {
        let secrets = vec![
            "https://acme.bitrix24.ru/rest/1/s3cr3tw3bh00k/".to_owned(),
            "s3cr3tw3bh00k".to_owned(),
        ];
        let text = "2026-11-26T10:00:00Z INFO call from +7 (900) 123-45-67 on line 74950000000, \
                    webhook https://acme.bitrix24.ru/rest/1/s3cr3tw3bh00k/ secret s3cr3tw3bh00k \
                    {\"access_token\":\"abcdef0123456789\"} Authorization: Bearer 0123456789abcdef port 47600 v0.1.0";
        let out = redact(text, &secrets, true);
        assert!(
            !out.contains("s3cr3tw3bh00k")
                && !out.contains("abcdef0123456789")
                && !out.contains("0123456789abcdef"),
            "{out}"
        );
        assert!(
            !out.contains("123-45-67")
                && out.contains("[phone …67]")
                && out.contains("[phone …00]"),
            "{out}"
        );
        assert!(
            out.contains("2026-11-26T10:00:00Z")
                && out.contains("port 47600")
                && out.contains("v0.1.0"),
            "{out}"
        );
        let kept = redact(text, &secrets, false);
        assert!(
            kept.contains("+7 (900) 123-45-67") && !kept.contains("s3cr3tw3bh00k"),
            "{kept}"
        );
    }
}
