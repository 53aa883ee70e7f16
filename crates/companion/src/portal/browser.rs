//! Opens a web page in the agent's browser, and nothing else: `https`, or `http` to this computer
//! (the simulator, the app's own pages). A `file:`, `javascript:` or any other address is refused
//! before a program starts.
//!
//! `$BROWSER` is followed as its convention has it (a `:`-separated list whose first entry is
//! used, `%s` standing for the page), which the `opener` crate does not do (it runs the whole
//! value as one program); without it, `opener` starts the system's own opener (`xdg-open`, or the
//! copy it bundles when the system has none; WSL; `ShellExecute` on Windows; `open` on macOS).

use std::process::{Command, Stdio};

pub fn open(url: &str) -> Result<(), String> {
    let url = web_page(url)?;
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
        return crate::private::with_session_mask(&mut Command::new(program))
            .args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .map(|_| ())
            .map_err(|e| format!("cannot open the browser: {e}"));
    }
    opener::open(url).map_err(|e| format!("cannot open the browser: {e}"))
}

/// `url` when it is a web page the app may open.
fn web_page(url: &str) -> Result<&str, String> {
    let parsed = url::Url::parse(url).map_err(|e| format!("not a web address ({e})"))?;
    match parsed.scheme() {
        "https" if parsed.host().is_some() => Ok(url),
        "http" if bitrix::on_this_computer(&parsed) => Ok(url),
        scheme => Err(format!(
            "only https web pages are opened, not a {scheme}: address"
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_web_pages_are_opened() {
        for ok in [
            "https://team.bitrix24.com/crm/contact/details/12/",
            "http://127.0.0.1:47600/sim/call-card?scenario=known",
            "http://[::1]:8080/",
            "http://localhost:3000/",
        ] {
            assert_eq!(web_page(ok), Ok(ok));
        }
        for refused in [
            "http://team.bitrix24.com/",
            "file:///etc/passwd",
            "javascript:alert(1)",
            "callcompanion://call?x=1",
            "data:text/html,hi",
            "https://",
            "not a url",
        ] {
            assert!(web_page(refused).is_err(), "{refused}");
        }
        assert!(open("file:///etc/passwd").unwrap_err().contains("file:"));
    }
}
