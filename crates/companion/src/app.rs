//! Facts about the app that several places must agree on (the bundler config repeats some of
//! them; a test in `tests/` checks tauri.conf.json against these).

/// Product name as people see it.
pub const PRODUCT_NAME: &str = "Call Companion";
/// Name of the executable and of the Linux package.
pub const BINARY_NAME: &str = "call-companion";
/// Reverse-domain identifier: names the data, config, cache and log folders.
pub const IDENTIFIER: &str = "io.callcompanion.desktop";
/// URL scheme of deep links (`callcompanion://call-card?...`).
pub const DEEP_LINK_SCHEME: &str = "callcompanion";
/// Default TCP port of the local listener on loopback.
pub const DEFAULT_LISTEN_PORT: u16 = 47600;
/// The app's version, from the workspace.
pub const VERSION: &str = env!("CARGO_PKG_VERSION");

/// Start-up timing: when `main` began, and the first paint the window reports, logged once so
/// `cargo xtask bench` (and anyone reading the log) can see the cold start.
pub mod startup {
    use std::sync::atomic::{AtomicBool, Ordering};
    use std::sync::OnceLock;
    use std::time::{Duration, Instant};

    static STARTED: OnceLock<Instant> = OnceLock::new();
    static PAINTED: AtomicBool = AtomicBool::new(false);

    /// The words the log line starts with; the benchmark looks for them.
    pub const FIRST_PAINT: &str = "first paint";

    /// Called first thing in `main`.
    pub fn mark_start() {
        let _ = STARTED.set(Instant::now());
    }

    /// The window painted its first content: the time since start the first time, `None` after.
    pub fn painted() -> Option<Duration> {
        if PAINTED.swap(true, Ordering::SeqCst) {
            return None;
        }
        Some(STARTED.get().map(Instant::elapsed).unwrap_or_default())
    }

    /// Logs "first paint N ms after start" the first time the window reports its paint.
    pub fn report_paint() {
        if let Some(elapsed) = painted() {
            let ms = elapsed.as_millis() as u64;
            tracing::info!(ms, "{FIRST_PAINT} {ms} ms after start");
        }
    }
}
