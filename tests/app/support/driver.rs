//! The real app under Xvfb, reached through tauri-driver (which starts WebKitWebDriver, which
//! starts the app). An [`AppHome`] is what outlives one run of the app: its XDG folders, its
//! keyring entries, its listener port and a stand-in browser that records the pages the app
//! opens; start the app again in the same home to test a restart.

use std::os::unix::fs::PermissionsExt;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

use serde_json::json;

use super::webdriver::Session;
use super::xvfb::Xvfb;

pub struct AppHome {
    dir: tempfile::TempDir,
    /// Keyring entries live under this service, so runs never share (or leave behind) secrets.
    pub keyring_service: String,
    /// The app's call listener port, the same for every run in this home.
    pub listen_port: u16,
    /// A program WebKitWebDriver starts instead of the app, with the app and its arguments as
    /// its own (to run the app in a namespace of its own, say).
    pub app_wrapper: Option<PathBuf>,
    /// More environment for the app (`SSL_CERT_FILE`, `CALL_COMPANION_POLICY`).
    pub env: Vec<(String, String)>,
}

impl AppHome {
    pub fn new() -> AppHome {
        static RUN: AtomicU32 = AtomicU32::new(0);
        let dir = tempfile::tempdir().unwrap();
        let listen_port = super::free_port();
        let keyring_service = format!(
            "{}.e2e.{}.{}",
            companion::app::IDENTIFIER,
            std::process::id(),
            RUN.fetch_add(1, Ordering::SeqCst)
        );
        // The app opens web pages with $BROWSER; this one writes them down for the test.
        let browser = dir.path().join("browser.sh");
        std::fs::write(
            &browser,
            format!(
                "#!/bin/sh\nprintf '%s\\n' \"$1\" >> '{}'\n",
                dir.path().join("browser.log").display()
            ),
        )
        .unwrap();
        std::fs::set_permissions(&browser, std::fs::Permissions::from_mode(0o755)).unwrap();
        AppHome {
            dir,
            keyring_service,
            listen_port,
            app_wrapper: None,
            env: Vec::new(),
        }
    }

    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    /// A file in the app's config folder (`portal.json`, `window.json`).
    pub fn config_file(&self, name: &str) -> PathBuf {
        self.path()
            .join("config")
            .join(companion::app::IDENTIFIER)
            .join(name)
    }

    /// Signs the app in this home in to a portal with an incoming webhook, as an earlier run
    /// would have: the settings file and the keyring entry; the app checks them at start-up.
    pub fn sign_in_with_webhook(&self, base_url: &str, webhook_url: &str) {
        use companion::portal::settings::{PortalSettings, SettingsFile, SignIn};
        let config = self.path().join("config").join(companion::app::IDENTIFIER);
        let domain = base_url
            .trim_start_matches("http://")
            .trim_start_matches("https://")
            .to_owned();
        SettingsFile::new(config.join("portal.json"))
            .save(&PortalSettings {
                base: base_url.to_owned(),
                domain,
                sign_in: SignIn::Webhook { user_id: 1 },
                member_id: None,
                agent_id: Some(1),
            })
            .unwrap();
        companion::portal::vault::Vault::new(self.keyring())
            .put(companion::portal::vault::WEBHOOK_URL, webhook_url, false)
            .unwrap();
    }

    /// Signs the app in with the portal's application (OAuth), as after the browser sign-in:
    /// `portal.json` names the application and its OAuth server, the keyring holds the token
    /// pair (issued by the simulator for the agent) and the client secret. Unlike a webhook,
    /// this sign-in can subscribe to Bitrix24's push channel.
    pub fn sign_in_with_application(
        &self,
        base_url: &str,
        oauth_server: &str,
        client_id: &str,
        client_secret: &str,
        tokens: &portal_sim::call_card::IssuedTokens,
    ) {
        use companion::portal::settings::{PortalSettings, SettingsFile, SignIn};
        use companion::portal::vault;
        let config = self.path().join("config").join(companion::app::IDENTIFIER);
        let domain = base_url
            .trim_start_matches("http://")
            .trim_start_matches("https://")
            .to_owned();
        SettingsFile::new(config.join("portal.json"))
            .save(&PortalSettings {
                base: base_url.to_owned(),
                domain,
                sign_in: SignIn::OAuth {
                    client_id: client_id.to_owned(),
                    oauth_server: oauth_server.to_owned(),
                    via_call_card: false,
                },
                member_id: Some(tokens.member_id.clone()),
                agent_id: Some(tokens.user_id),
            })
            .unwrap();
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_secs();
        let stored = serde_json::json!({
            "access_token": tokens.access_token, "refresh_token": tokens.refresh_token,
            "expires_at": now + tokens.expires_in, "client_endpoint": tokens.client_endpoint,
            "server_endpoint": tokens.server_endpoint, "member_id": tokens.member_id,
            "scope": tokens.scope, "user_id": tokens.user_id,
        });
        let vault = vault::Vault::new(self.keyring());
        vault
            .put(vault::OAUTH_TOKENS, &stored.to_string(), false)
            .unwrap();
        vault
            .put(vault::CLIENT_SECRET, client_secret, false)
            .unwrap();
    }

    /// The keyring the app in this home uses.
    pub fn keyring(&self) -> companion::secrets::Keyring {
        companion::secrets::Keyring::new(self.keyring_service.clone())
    }

    /// Waits for the app to open a web page in the browser and returns its address.
    pub fn next_browsed_page(&self, seen: usize) -> String {
        let log = self.path().join("browser.log");
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            let pages: Vec<String> = std::fs::read_to_string(&log)
                .unwrap_or_default()
                .lines()
                .map(str::to_owned)
                .collect();
            if let Some(page) = pages.get(seen) {
                return page.clone();
            }
            assert!(Instant::now() < deadline, "the app opened no web page");
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// The app's log files' text.
    pub fn log_text(&self) -> String {
        let dir = self
            .path()
            .join("data")
            .join(companion::app::IDENTIFIER)
            .join("logs");
        let mut text = String::new();
        for entry in std::fs::read_dir(&dir).into_iter().flatten().flatten() {
            text.push_str(&std::fs::read_to_string(entry.path()).unwrap_or_default());
        }
        text
    }

    /// Starts the app with `args` without WebDriver, as another session on this computer
    /// would: a D-Bus session and an unlocked keyring of its own (so it is not the first
    /// app's second instance), its output in `session.log` here.
    pub fn start_in_own_session(&self, display: &str, args: &[&str]) -> Child {
        let out = std::fs::File::create(self.path().join("session.log")).unwrap();
        let mut command = Command::new("dbus-run-session");
        command.args(["--", "sh", "-c"]).arg(
            "printf x | gnome-keyring-daemon --unlock --components=secrets >/dev/null; exec \"$@\"",
        );
        command.arg("sh");
        if let Some(wrapper) = &self.app_wrapper {
            command.arg(wrapper);
        }
        command
            .arg(super::app_binary())
            .args(args)
            .args(["--listen-port", &self.listen_port.to_string()]);
        self.apply(&mut command, display);
        command
            .env("CALL_COMPANION_LOG", "info")
            .stdout(out.try_clone().unwrap())
            .stderr(out)
            .process_group(0)
            .spawn()
            .expect("dbus-run-session runs")
    }

    fn apply(&self, command: &mut Command, display: &str) {
        command
            .env("DISPLAY", display)
            .env_remove("WAYLAND_DISPLAY")
            .env("XDG_DATA_HOME", self.path().join("data"))
            .env("XDG_CONFIG_HOME", self.path().join("config"))
            .env("XDG_CACHE_HOME", self.path().join("cache"))
            .env("CALL_COMPANION_KEYRING_SERVICE", &self.keyring_service)
            .env("BROWSER", self.path().join("browser.sh"))
            // An English desktop, so a Russian window can only come from the portal or Settings.
            .env("LANG", "C.UTF-8")
            .env_remove("LC_ALL")
            .env_remove("LC_MESSAGES")
            .envs(self.env.iter().map(|(k, v)| (k, v)));
    }
}

impl Drop for AppHome {
    /// Keeps what the app and the test wrote, and adds this home's own secrets to the ledger,
    /// for the suite-wide check that no secret reached a file; leaves no keyring entries behind.
    fn drop(&mut self) {
        let kept = super::artifacts_dir()
            .join("homes")
            .join(&self.keyring_service);
        // All but `cache/`, which holds only WebKit's caches (the app keeps nothing there).
        copy_tree(self.path(), &kept, &[self.path().join("cache")]);
        if let Some(ledger) = std::env::var_os("PORTAL_SIM_TOKEN_LEDGER") {
            append_to_ledger(Path::new(&ledger), &self.secrets());
        }
        let _ = self.keyring().delete_pairing_token();
        let _ = companion::portal::vault::Vault::new(self.keyring()).clear();
    }
}

impl AppHome {
    /// The secrets this home's keyring holds: the pairing token the app made, and the vault's
    /// entries (from the OAuth JSON also the tokens alone, as diagnostics blanks them; not its
    /// endpoints, which settings and logs may rightly hold).
    fn secrets(&self) -> Vec<String> {
        use companion::portal::vault::{self, Vault};
        let mut secrets = Vec::new();
        if let Ok(token) = self.keyring().pairing_token() {
            secrets.push(token.expose().to_owned());
        }
        let vault = Vault::new(self.keyring());
        for account in vault::ALL {
            let Ok(Some(value)) = vault.get(account) else {
                continue;
            };
            if *account == vault::OAUTH_TOKENS {
                if let Ok(json) = serde_json::from_str::<serde_json::Value>(&value) {
                    for key in ["access_token", "refresh_token"] {
                        if let Some(token) = json[key].as_str().filter(|t| t.len() >= 12) {
                            secrets.push(token.to_owned());
                        }
                    }
                }
            }
            secrets.push(value);
        }
        secrets
    }
}

/// One line per secret, in one append (the simulator appends to the same file meanwhile).
fn append_to_ledger(ledger: &Path, secrets: &[String]) {
    use std::io::Write;
    if secrets.is_empty() {
        return;
    }
    let lines: String = secrets.iter().map(|s| format!("{}\n", s.trim())).collect();
    if let Ok(mut file) = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(ledger)
    {
        let _ = file.write_all(lines.as_bytes());
    }
}

/// Copies regular files and folders (not sockets, fifos or links), skipping `except`; errors
/// are ignored: keeping files must not fail a test.
pub fn copy_tree(from: &Path, to: &Path, except: &[PathBuf]) {
    for entry in std::fs::read_dir(from).into_iter().flatten().flatten() {
        let path = entry.path();
        let Ok(kind) = entry.file_type() else {
            continue;
        };
        if except.contains(&path) {
            continue;
        }
        if kind.is_dir() {
            copy_tree(&path, &to.join(entry.file_name()), except);
        } else if kind.is_file() {
            let _ = std::fs::create_dir_all(to);
            let _ = std::fs::copy(&path, to.join(entry.file_name()));
        }
    }
}

/// Fills Settings' sign-in form (Settings open) with the portal's application: `portal` as the
/// agent types it, the keys and the OAuth server from `endpoints`.
pub fn fill_oauth_form(session: &Session, portal: &str, endpoints: &portal_sim::Endpoints) {
    session.fill("portal-address", portal);
    session.fill("portal-client-id", &endpoints.client_id);
    session.fill("portal-client-secret", &endpoints.client_secret);
    session
        .execute("document.querySelector('[data-testid=portal-form] details').open = true")
        .unwrap();
    session.fill("portal-oauth-server", &endpoints.oauth_url);
}

/// Saves the window's screenshot under `<target>/e2e-artifacts/NAME.png`.
pub fn save_screenshot(session: &Session, name: &str) -> PathBuf {
    let png = session.screenshot().expect("screenshot");
    assert!(png.starts_with(b"\x89PNG"), "WebDriver returned a PNG");
    let path = super::artifacts_dir().join(format!("{name}.png"));
    std::fs::write(&path, png).unwrap();
    path
}

pub struct RunningApp {
    pub session: Session,
    /// Its own home when started with [`RunningApp::start`].
    owned_home: Option<AppHome>,
    home_path: PathBuf,
    pub listen_port: u16,
    display: String,
    keyring_service: String,
    driver: Child,
    _xvfb: Xvfb,
}

impl RunningApp {
    /// Starts the app with `args` in a home of its own.
    pub fn start(args: &[&str]) -> RunningApp {
        let home = AppHome::new();
        let mut app = RunningApp::start_in(&home, args);
        app.owned_home = Some(home);
        app
    }

    /// Starts the app with `args` in `home` and opens a WebDriver session on its window. Tried
    /// twice: WebKitWebDriver picks the app's inspector port itself, from the range every other
    /// process on the machine (a browser test's Chromium, say) picks from too, and when another
    /// took it first the session never comes up.
    pub fn start_in(home: &AppHome, args: &[&str]) -> RunningApp {
        match RunningApp::try_start_in(home, args) {
            Ok(app) => app,
            Err(first) => {
                eprintln!("the app's WebDriver session did not come up; trying once more: {first}");
                RunningApp::try_start_in(home, args).unwrap_or_else(|again| panic!("{again}"))
            }
        }
    }

    fn try_start_in(home: &AppHome, args: &[&str]) -> Result<RunningApp, String> {
        let xvfb = Xvfb::start();
        let port = super::free_port();
        let native_port = super::free_port();
        let driver_log = std::fs::File::create(home.path().join("tauri-driver.log")).unwrap();
        let mut command = Command::new("tauri-driver");
        command.args([
            "--port",
            &port.to_string(),
            "--native-port",
            &native_port.to_string(),
        ]);
        home.apply(&mut command, &xvfb.display);
        let mut driver = command
            .env("CALL_COMPANION_LOG", "info")
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
                return Err(format!("{name} did not listen on {p}"));
            }
        }
        let mut args: Vec<String> = args.iter().map(|a| a.to_string()).collect();
        args.extend(["--listen-port".into(), home.listen_port.to_string()]);
        let application = match &home.app_wrapper {
            Some(wrapper) => {
                args.insert(0, super::app_binary().display().to_string());
                wrapper.clone()
            }
            None => super::app_binary(),
        };
        let capabilities = json!({
            "alwaysMatch": {
                "tauri:options": {
                    "application": application,
                    "args": args,
                }
            }
        });
        let session = match Session::new(port, capabilities) {
            Ok(session) => session,
            Err(e) => {
                super::terminate_group(&mut driver);
                let log = std::fs::read_to_string(home.path().join("tauri-driver.log"))
                    .unwrap_or_default();
                return Err(format!(
                    "cannot start a WebDriver session: {e}\ntauri-driver log:\n{log}"
                ));
            }
        };
        Ok(RunningApp {
            session,
            owned_home: None,
            home_path: home.path().to_owned(),
            listen_port: home.listen_port,
            display: xvfb.display.clone(),
            keyring_service: home.keyring_service.clone(),
            driver,
            _xvfb: xvfb,
        })
    }

    pub fn home(&self) -> &Path {
        &self.home_path
    }

    /// The X display the app runs on.
    pub fn display(&self) -> &str {
        &self.display
    }

    /// A command as a user on this desktop would run it: the same display, XDG folders and
    /// keyring entry as the running app.
    pub fn command(&self, program: impl AsRef<std::ffi::OsStr>) -> Command {
        let mut command = Command::new(program);
        command
            .env("DISPLAY", &self.display)
            .env_remove("WAYLAND_DISPLAY")
            .env("XDG_DATA_HOME", self.home_path.join("data"))
            .env("XDG_CONFIG_HOME", self.home_path.join("config"))
            .env("XDG_CACHE_HOME", self.home_path.join("cache"))
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

    /// Types into an input the way a person does (the framework sees an `input` event).
    pub fn type_into(&self, test_id: &str, text: &str) {
        self.session.fill(test_id, text);
    }

    pub fn click(&self, test_id: &str) {
        self.session.press(test_id);
    }

    /// Saves a screenshot of the window under `<target>/e2e-artifacts/NAME.png`.
    pub fn screenshot(&self, name: &str) -> PathBuf {
        save_screenshot(&self.session, name)
    }

    /// The app's log files' text (XDG data folder of this run).
    pub fn log_text(&self) -> String {
        let dir = self
            .home_path
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
        // The owned home (if any) drops after the app has stopped.
        self.owned_home.take();
    }
}
