//! Installs what a fresh Debian/Ubuntu machine lacks: apt packages (as root; otherwise the
//! exact command is printed), the UI's npm packages, and tauri-driver.

use std::path::Path;
use std::process::Command;

use crate::run::{run_step, Step};

/// To compile the app (Tauri on WebKitGTK).
pub const BUILD: &[&str] = &[
    "libwebkit2gtk-4.1-dev",
    "build-essential",
    "pkg-config",
    "file",
    "libssl-dev",
    "libayatana-appindicator3-dev",
    "librsvg2-dev",
    "libxdo-dev",
];

/// To run the window (the demo may run under Xvfb on a machine without a desktop).
pub const RUN: &[&str] = &[
    "xvfb",
    "xauth",
    "dbus",
    "dbus-x11",
    "at-spi2-core",
    "xdg-utils",
    "libglib2.0-bin",
];

/// To run the tests: WebDriver, a real keyring, screenshots.
pub const TEST: &[&str] = &[
    "webkit2gtk-driver",
    "gnome-keyring",
    "libsecret-tools",
    "imagemagick",
    "xdotool",
    "x11-utils",
    "desktop-file-utils",
    // dbus-monitor: the notification test watches the session bus.
    "dbus-bin",
    // The relay widget's browser tests: Debian's Chromium and its WebDriver.
    "chromium",
    "chromium-driver",
    // The fault tests: a small tmpfs in a private mount namespace (unshare, mount), a private
    // D-Bus session killed mid-run (dbus-daemon), the app found and killed by pgrep/pkill.
    "util-linux",
    "mount",
    "dbus-daemon",
    "procps",
    // The shared-computer tests create and remove Linux users (useradd, userdel; runuser is
    // util-linux's).
    "passwd",
];

/// Run by `sh -c` inside `dbus-run-session`: starts gnome-keyring with its secrets component,
/// unlocked with a throwaway password, then runs the command given as arguments.
pub const UNLOCK_KEYRING_AND_EXEC: &str =
    "printf test | gnome-keyring-daemon --unlock --components=secrets >/dev/null && exec \"$@\"";

pub fn ensure_system_packages(groups: &[&[&str]]) -> Result<(), String> {
    if Command::new("dpkg-query")
        .arg("--version")
        .output()
        .is_err()
    {
        println!("xtask: not a Debian/Ubuntu system; make sure the packages in xtask/src/deps.rs (or your distribution's equivalents) are installed");
        return Ok(());
    }
    let missing: Vec<&str> = groups
        .iter()
        .flat_map(|g| g.iter().copied())
        .filter(|p| !is_installed(p))
        .collect();
    if missing.is_empty() {
        return Ok(());
    }
    let install = format!(
        "apt-get install -y --no-install-recommends {}",
        missing.join(" ")
    );
    if !is_root() {
        return Err(format!(
            "missing system packages; install them with:\n  sudo apt-get update && sudo {install}"
        ));
    }
    run_step(Step::new("apt-get update", "apt-get").args(["update", "-q"]))?;
    run_step(
        Step::new(format!("install {}", missing.join(" ")), "apt-get")
            .args(["install", "-y", "-q", "--no-install-recommends"])
            .args(missing.iter().copied())
            .env("DEBIAN_FRONTEND", "noninteractive"),
    )
}

fn is_installed(package: &str) -> bool {
    Command::new("dpkg-query")
        .args(["-W", "-f=${Status}", package])
        .output()
        .is_ok_and(|out| String::from_utf8_lossy(&out.stdout).contains("install ok installed"))
}

fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|out| String::from_utf8_lossy(&out.stdout).trim() == "0")
}

/// `npm ci` when node_modules is missing or older than the lockfile.
pub fn ensure_node_modules(ui: &Path) -> Result<(), String> {
    let lock = ui.join("package-lock.json");
    let installed = ui.join("node_modules/.package-lock.json");
    let modified = |p: &Path| std::fs::metadata(p).and_then(|m| m.modified()).ok();
    let fresh = matches!((modified(&lock), modified(&installed)), (Some(l), Some(i)) if i >= l);
    if fresh {
        return Ok(());
    }
    run_step(
        Step::new("install the UI's npm packages", "npm")
            .args(["ci", "--no-audit", "--no-fund"])
            .dir(ui),
    )
}

/// tauri-driver bridges WebDriver to WebKitWebDriver for the end-to-end tests.
pub fn ensure_tauri_driver() -> Result<(), String> {
    if Command::new("tauri-driver").arg("--help").output().is_ok() {
        return Ok(());
    }
    run_step(Step::new("install tauri-driver", "cargo").args([
        "install",
        "tauri-driver",
        "--locked",
    ]))
}

/// `cargo deny` checks the dependencies' licences and bans (`deny.toml`).
pub fn ensure_cargo_deny() -> Result<(), String> {
    let installed = Command::new("cargo")
        .args(["deny", "--version"])
        .output()
        .is_ok_and(|o| o.status.success());
    if installed {
        return Ok(());
    }
    run_step(Step::new("install cargo-deny", "cargo").args(["install", "cargo-deny", "--locked"]))
}
