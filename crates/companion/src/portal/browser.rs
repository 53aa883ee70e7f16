//! Opens a web page in the agent's browser: `$BROWSER` when set (the long-standing convention,
//! which `xdg-open` honours too), else the desktop's opener.

use std::process::{Command, Stdio};

pub fn open(url: &str) -> Result<(), String> {
    if let Some(browser) = std::env::var("BROWSER").ok().and_then(|b| {
        b.split(':')
            .map(str::trim)
            .find(|b| !b.is_empty())
            .map(str::to_owned)
    }) {
        let (program, args) = if browser.contains("%s") {
            let mut parts = browser.split_whitespace().map(|p| p.replace("%s", url));
            (parts.next().unwrap_or_default(), parts.collect::<Vec<_>>())
        } else {
            (browser.clone(), vec![url.to_owned()])
        };
        return spawn(Command::new(program).args(args));
    }
    #[cfg(target_os = "linux")]
    return spawn(Command::new("xdg-open").arg(url));
    #[cfg(target_os = "macos")]
    return spawn(Command::new("open").arg(url));
    #[cfg(windows)]
    return spawn(Command::new("rundll32").args(["url.dll,FileProtocolHandler", url]));
    #[allow(unreachable_code)]
    Err("no way to open a browser on this system".into())
}

fn spawn(command: &mut Command) -> Result<(), String> {
    command
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .map(|_| ())
        .map_err(|e| format!("cannot open the browser: {e}"))
}
