//! Is there a display to open a window on? Checked before the GUI toolkit starts, because GTK
//! aborts the process with a panic when it cannot connect, and an agent or IT person deserves a
//! sentence instead.

use thiserror::Error;

#[derive(Debug, Error, PartialEq, Eq)]
pub enum DisplayError {
    #[error(
        "no display to open the Call Companion window on: neither DISPLAY nor WAYLAND_DISPLAY \
         is set. Start it from a desktop session, or for headless use run it under Xvfb \
         (e.g. `xvfb-run call-companion`). `call-companion --help` works without a display."
    )]
    NoDisplay,
    #[error(
        "cannot open the display {display:?}: {reason}. Check that the X server or Wayland \
         compositor is running and that this user may connect to it."
    )]
    CannotOpen { display: String, reason: String },
}

/// Checks the environment for a display on platforms that need one (Linux and the BSDs).
/// `var` looks up an environment variable; passing it in keeps this pure and testable.
pub fn check(var: impl Fn(&str) -> Option<String>) -> Result<(), DisplayError> {
    if !cfg!(any(
        target_os = "linux",
        target_os = "freebsd",
        target_os = "openbsd",
        target_os = "netbsd"
    )) {
        return Ok(());
    }
    let set = |name: &str| var(name).is_some_and(|v| !v.trim().is_empty());
    if set("DISPLAY") || set("WAYLAND_DISPLAY") {
        Ok(())
    } else {
        Err(DisplayError::NoDisplay)
    }
}

/// The display name people would look for in a message (`:99`, `wayland-0`).
pub fn describe(var: impl Fn(&str) -> Option<String>) -> String {
    var("WAYLAND_DISPLAY")
        .filter(|v| !v.is_empty())
        .or_else(|| var("DISPLAY"))
        .unwrap_or_default()
}
