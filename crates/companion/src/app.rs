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
