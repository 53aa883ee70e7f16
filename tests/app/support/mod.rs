//! Helpers for running the real app: Xvfb, tauri-driver, a small WebDriver client.

pub mod chromium;
pub mod driver;
pub mod proxy;
pub mod public;
pub mod tls;
pub mod web;
pub mod webdriver;
pub mod xvfb;

use std::net::{TcpListener, TcpStream};
use std::path::PathBuf;
use std::time::{Duration, Instant};

/// The debug binary cargo built for these tests.
pub fn app_binary() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_call-companion"))
}

/// `<target>/e2e-artifacts`: screenshots, and each test home (`homes/`), kept after the run.
pub fn artifacts_dir() -> PathBuf {
    let bin = app_binary();
    let target = bin
        .parent()
        .and_then(|p| p.parent())
        .expect("binary is in <target>/debug");
    let dir = target.join("e2e-artifacts");
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// A loopback port nobody listens on right now, never handed out twice in this run. Taken below
/// the kernel's ephemeral range (32768 and up on Linux): a port picked with `bind(0)` and released
/// could be given next to a WebDriver or a browser asking for any port, before the app binds it.
pub fn free_port() -> u16 {
    use std::sync::atomic::{AtomicU16, Ordering};
    // Each test binary starts somewhere else in 20000..30000, so parallel binaries rarely meet.
    static NEXT: AtomicU16 = AtomicU16::new(0);
    let _ = NEXT.compare_exchange(
        0,
        20_000 + (std::process::id() % 500) as u16 * 20,
        Ordering::SeqCst,
        Ordering::SeqCst,
    );
    loop {
        let port = NEXT.fetch_add(1, Ordering::SeqCst);
        assert!(port < 32_000, "no free port below the ephemeral range");
        if TcpListener::bind(("127.0.0.1", port)).is_ok() {
            return port;
        }
    }
}

pub fn wait_for_port(port: u16, timeout: Duration) -> bool {
    let deadline = Instant::now() + timeout;
    while Instant::now() < deadline {
        if TcpStream::connect(("127.0.0.1", port)).is_ok() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    false
}

/// Sends SIGTERM to a process group, then SIGKILL if it lingers.
pub fn terminate_group(child: &mut std::process::Child) {
    let group = format!("-{}", child.id());
    let _ = std::process::Command::new("kill")
        .args(["-TERM", "--", &group])
        .status();
    let deadline = Instant::now() + Duration::from_secs(3);
    while Instant::now() < deadline {
        if let Ok(Some(_)) = child.try_wait() {
            wait_until_group_is_gone(&group);
            return;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let _ = std::process::Command::new("kill")
        .args(["-KILL", "--", &group])
        .status();
    let _ = child.wait();
    wait_until_group_is_gone(&group);
}

/// The app holds a per-user single-instance name on D-Bus; the next test's app must not find
/// this one still alive, or it would hand its start-up to it and exit.
fn wait_until_group_is_gone(group: &str) {
    let deadline = Instant::now() + Duration::from_secs(5);
    while Instant::now() < deadline {
        let alive = std::process::Command::new("kill")
            .args(["-0", "--", group])
            .stderr(std::process::Stdio::null())
            .status()
            .is_ok_and(|s| s.success());
        if !alive {
            return;
        }
        let _ = std::process::Command::new("kill")
            .args(["-KILL", "--", group])
            .stderr(std::process::Stdio::null())
            .status();
        std::thread::sleep(Duration::from_millis(50));
    }
}
