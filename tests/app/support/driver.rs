//! The real app under Xvfb, reached through tauri-driver (which starts WebKitWebDriver, which
//! starts the app). Each instance has its own display and its own XDG folders.

use std::os::unix::process::CommandExt;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use serde_json::json;

use super::webdriver::Session;
use super::xvfb::Xvfb;

pub struct RunningApp {
    pub session: Session,
    pub home: PathBuf,
    /// The app's call listener port (a free one per run, passed as `--listen-port`).
    pub listen_port: u16,
    display: String,
    keyring_service: String,
    driver: Child,
    _xvfb: Xvfb,
    _home_guard: tempfile::TempDir,
}

impl RunningApp {
    /// Starts the app with `args` and opens a WebDriver session on its window.
    pub fn start(args: &[&str]) -> RunningApp {
        let xvfb = Xvfb::start();
        let home_guard = tempfile::tempdir().unwrap();
        let home = home_guard.path().to_owned();
        let port = super::free_port();
        let listen_port = super::free_port();
        // Each run has its own keyring entry, so runs never share (or leave behind) a token.
        let keyring_service = format!(
            "{}.e2e.{}.{}",
            companion::app::IDENTIFIER,
            std::process::id(),
            listen_port
        );
        let native_port = super::free_port();
        let driver_log = std::fs::File::create(home.join("tauri-driver.log")).unwrap();
        let mut driver = Command::new("tauri-driver")
            .args(["--port", &port.to_string(), "--native-port", &native_port.to_string()])
            .env("DISPLAY", &xvfb.display)
            .env_remove("WAYLAND_DISPLAY")
            .env("XDG_DATA_HOME", home.join("data"))
            .env("XDG_CONFIG_HOME", home.join("config"))
            .env("XDG_CACHE_HOME", home.join("cache"))
            .env("CALL_COMPANION_LOG", "info")
            .env("CALL_COMPANION_KEYRING_SERVICE", &keyring_service)
            .stdout(Stdio::null())
            .stderr(driver_log)
            .process_group(0)
            .spawn()
            .expect("tauri-driver is installed (cargo xtask test runs `cargo install tauri-driver --locked`)");
        // tauri-driver accepts connections before WebKitWebDriver (which it starts) is ready;
        // a session request in that gap is dropped, so wait for both.
        for (name, p) in [("tauri-driver", port), ("WebKitWebDriver", native_port)] {
            if !super::wait_for_port(p, Duration::from_secs(20)) {
                super::terminate_group(&mut driver);
                panic!("{name} did not listen on {p}");
            }
        }
        let mut args: Vec<String> = args.iter().map(|a| a.to_string()).collect();
        args.extend(["--listen-port".into(), listen_port.to_string()]);
        let capabilities = json!({
            "alwaysMatch": {
                "tauri:options": {
                    "application": super::app_binary(),
                    "args": args,
                }
            }
        });
        let session = match Session::new(port, capabilities) {
            Ok(session) => session,
            Err(e) => {
                super::terminate_group(&mut driver);
                let log =
                    std::fs::read_to_string(home.join("tauri-driver.log")).unwrap_or_default();
                panic!("cannot start a WebDriver session: {e}\ntauri-driver log:\n{log}");
            }
        };
        RunningApp {
            session,
            home,
            listen_port,
            display: xvfb.display.clone(),
            keyring_service,
            driver,
            _xvfb: xvfb,
            _home_guard: home_guard,
        }
    }

    /// A command as a user on this desktop would run it: the same display, XDG folders and
    /// keyring entry as the running app.
    pub fn command(&self, program: impl AsRef<std::ffi::OsStr>) -> Command {
        let mut command = Command::new(program);
        command
            .env("DISPLAY", &self.display)
            .env_remove("WAYLAND_DISPLAY")
            .env("XDG_DATA_HOME", self.home.join("data"))
            .env("XDG_CONFIG_HOME", self.home.join("config"))
            .env("XDG_CACHE_HOME", self.home.join("cache"))
            .env("CALL_COMPANION_KEYRING_SERVICE", &self.keyring_service);
        command
    }

    /// Runs `call-companion ARGS` (a subcommand such as `simulate`) beside the running app.
    pub fn cli(&self, args: &[&str]) -> std::process::Output {
        self.command(super::app_binary())
            .args(args)
            .stdin(Stdio::null())
            .output()
            .expect("the app binary runs")
    }

    /// Saves a screenshot of the window under `<target>/e2e-artifacts/NAME.png`.
    pub fn screenshot(&self, name: &str) -> PathBuf {
        let png = self.session.screenshot().expect("screenshot");
        assert!(png.starts_with(b"\x89PNG"), "WebDriver returned a PNG");
        let path = super::artifacts_dir().join(format!("{name}.png"));
        std::fs::write(&path, png).unwrap();
        path
    }

    /// The app's log files' text (XDG data folder of this run).
    pub fn log_text(&self) -> String {
        let dir = self
            .home
            .join("data")
            .join(companion::app::IDENTIFIER)
            .join("logs");
        let mut text = String::new();
        for entry in std::fs::read_dir(&dir).into_iter().flatten().flatten() {
            text.push_str(&std::fs::read_to_string(entry.path()).unwrap_or_default());
        }
        text
    }
}

impl Drop for RunningApp {
    fn drop(&mut self) {
        let _ = self.session.delete();
        super::terminate_group(&mut self.driver);
    }
}
