//! Debian's headless Chromium through its chromedriver, for the relay widget's browser tests.

use std::os::unix::process::CommandExt;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use serde_json::json;

use super::webdriver::Session;

pub struct Chromium {
    driver: Child,
    pub session: Session,
    _profile: tempfile::TempDir,
}

impl Chromium {
    /// An error that says what to install when chromium or chromedriver is missing.
    pub fn start() -> Result<Chromium, String> {
        let binary = ["/usr/bin/chromium", "/usr/bin/chromium-browser"]
            .into_iter()
            .find(|p| std::path::Path::new(p).exists())
            .ok_or("chromium is not installed (apt-get install chromium chromium-driver)")?;
        let port = super::free_port();
        let driver = Command::new("chromedriver")
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .process_group(0)
            .spawn()
            .map_err(|e| format!("cannot start chromedriver (apt-get install chromium-driver): {e}"))?;
        let mut driver = driver;
        let profile = tempfile::tempdir().map_err(|e| e.to_string())?;
        let session = if super::wait_for_port(port, Duration::from_secs(20)) {
            Session::new(port, capabilities(binary, &profile.path().display().to_string()))
        } else {
            Err("chromedriver did not open its port".into())
        };
        match session {
            Ok(session) => Ok(Chromium {
                driver,
                session,
                _profile: profile,
            }),
            Err(e) => {
                super::terminate_group(&mut driver);
                Err(e)
            }
        }
    }
}

fn capabilities(binary: &str, profile: &str) -> serde_json::Value {
    json!({ "alwaysMatch": {
        "browserName": "chrome",
        "goog:chromeOptions": {
            "binary": binary,
            "args": [
                "--headless=new",
                // The tests run as root in CI, where Chromium's sandbox cannot start.
                "--no-sandbox",
                "--disable-gpu",
                "--disable-dev-shm-usage",
                "--no-first-run",
                "--window-size=900,700",
                format!("--user-data-dir={profile}"),
            ],
        },
    }})
}

impl Drop for Chromium {
    fn drop(&mut self) {
        let _ = self.session.delete();
        super::terminate_group(&mut self.driver);
    }
}
