//! The `.deb` as IT installs it: `apt-get install ./…deb`, the installed binary answers
//! `--version`, the installed `.desktop` entry is valid and hands `callcompanion:` links to the
//! app, and `apt-get purge` leaves nothing installed or running. Needs root (CI runs as root).

use std::path::{Path, PathBuf};
use std::process::Command;

/// Each check, by name, and whether it held (with what was seen when not).
pub fn run(deb: &Path) -> Vec<(String, Result<(), String>)> {
    let mut results = Vec::new();
    let mut check = |name: &str, result: Result<(), String>| {
        println!(
            "    {} {name}{}",
            if result.is_ok() { "ok" } else { "FAILED" },
            result
                .as_ref()
                .err()
                .map(|e| format!(": {e}"))
                .unwrap_or_default()
        );
        results.push((name.to_owned(), result));
    };
    if installed() {
        check("the package is not installed before the test", Err("call-companion is already installed here; the test would remove it (apt-get purge call-companion first)".into()));
        return results;
    }
    let install = sh(
        "apt-get",
        &[
            "install",
            "-y",
            "-q",
            "--no-install-recommends",
            &deb.display().to_string(),
        ],
    );
    let ok = install.is_ok();
    check("apt-get install ./call-companion.deb", install.map(|_| ()));
    if !ok {
        return results;
    }
    check(
        "the installed call-companion --version",
        sh("/usr/bin/call-companion", &["--version"]).and_then(|out| {
            if out.trim() == format!("call-companion {}", env!("CARGO_PKG_VERSION")) {
                Ok(())
            } else {
                Err(format!("printed {out:?}"))
            }
        }),
    );
    let desktop = desktop_entry();
    check(
        "the .desktop entry registers the callcompanion scheme and passes the link",
        desktop
            .as_ref()
            .map_err(Clone::clone)
            .and_then(|(path, text)| {
                let mime = text.lines().any(|l| {
                    l.trim() == "MimeType=x-scheme-handler/callcompanion;"
                        || l.trim() == "MimeType=x-scheme-handler/callcompanion"
                });
                let exec = text
                    .lines()
                    .any(|l| l.trim().starts_with("Exec=") && l.contains("%u"));
                match (mime, exec) {
                    (true, true) => {
                        sh("desktop-file-validate", &[&path.display().to_string()]).map(|_| ())
                    }
                    _ => Err(format!(
                        "{}: MimeType for the scheme {mime}, Exec with %u {exec}:\n{text}",
                        path.display()
                    )),
                }
            }),
    );
    let removed = sh("apt-get", &["purge", "-y", "-q", "call-companion"]);
    check("apt-get purge call-companion", removed.map(|_| ()));
    let leftovers: Vec<String> = [PathBuf::from("/usr/bin/call-companion")]
        .into_iter()
        .chain(desktop.ok().map(|(path, _)| path))
        .filter(|p| p.exists())
        .map(|p| p.display().to_string())
        .collect();
    let running = Command::new("pgrep")
        .args(["-x", "call-companion"])
        .output()
        .map(|o| o.status.success())
        .unwrap_or(false);
    check(
        "nothing of it is left installed or running",
        match (installed(), leftovers.is_empty(), running) {
            (false, true, false) => Ok(()),
            (still, _, running) => Err(format!(
                "installed {still}, files left {leftovers:?}, running {running}"
            )),
        },
    );
    results
}

fn installed() -> bool {
    Command::new("dpkg-query")
        .args(["-W", "-f=${Status}", "call-companion"])
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).contains("install ok installed"))
        .unwrap_or(false)
}

/// The package's `.desktop` file under /usr/share/applications and its text.
fn desktop_entry() -> Result<(PathBuf, String), String> {
    let listed = sh("dpkg-query", &["-L", "call-companion"])?;
    let path = listed
        .lines()
        .map(PathBuf::from)
        .find(|p| {
            p.starts_with("/usr/share/applications")
                && p.extension().is_some_and(|e| e == "desktop")
        })
        .ok_or("the package installs no .desktop entry")?;
    let text = std::fs::read_to_string(&path).map_err(|e| format!("{}: {e}", path.display()))?;
    Ok((path, text))
}

fn sh(program: &str, args: &[&str]) -> Result<String, String> {
    let out = Command::new(program)
        .args(args)
        .env("DEBIAN_FRONTEND", "noninteractive")
        .output()
        .map_err(|e| format!("{program}: {e}"))?;
    if out.status.success() {
        Ok(String::from_utf8_lossy(&out.stdout).into_owned())
    } else {
        Err(format!(
            "{program} {}: {}{}",
            args.join(" "),
            String::from_utf8_lossy(&out.stdout)
                .lines()
                .last()
                .unwrap_or_default(),
            String::from_utf8_lossy(&out.stderr).trim()
        ))
    }
}
