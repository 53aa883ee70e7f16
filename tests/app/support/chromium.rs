//! Debian's headless Chromium through its chromedriver, for the browser tests, in production's
//! conditions (`shared/browsers.md`, measured again in docs/browsers.md): the test hosts resolve
//! to loopback ports that Chromium is told are public (`--ip-address-space-overrides`, which
//! needs `IP:port`), so Local Network Access gates every request from them to the app as it does
//! from a real portal; and the enterprise policy under test is written where Chromium reads
//! managed policies, `/etc/chromium/policies/managed/`, inside a private mount namespace of this
//! browser's own (`unshare`), so tests with different policies run side by side and the machine's
//! `/etc` is never touched.

use std::os::unix::fs::PermissionsExt;
use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use serde_json::{json, Value};

use super::webdriver::Session;

/// Where test host names lead, and which loopback ports count as public addresses.
#[derive(Debug, Clone, Default)]
pub struct Network {
    /// `(host, port)`: `host` resolves to `127.0.0.1`, on `port` when given (Bitrix24's library
    /// host, whose URL has no port).
    pub hosts: Vec<(String, Option<u16>)>,
    /// Loopback ports Chromium treats as public internet addresses.
    pub public: Vec<u16>,
}

impl Network {
    fn args(&self) -> Vec<String> {
        let mut args = Vec::new();
        if !self.hosts.is_empty() {
            let rules: Vec<String> = self
                .hosts
                .iter()
                .map(|(host, port)| match port {
                    Some(port) => format!("MAP {host} 127.0.0.1:{port}"),
                    None => format!("MAP {host} 127.0.0.1"),
                })
                .collect();
            args.push(format!("--host-resolver-rules={}", rules.join(", ")));
        }
        if !self.public.is_empty() {
            let spaces: Vec<String> = self
                .public
                .iter()
                .map(|port| format!("127.0.0.1:{port}=public"))
                .collect();
            args.push(format!("--ip-address-space-overrides={}", spaces.join(",")));
        }
        args
    }
}

pub struct Chromium {
    driver: Child,
    pub session: Session,
    _profile: tempfile::TempDir,
    _etc: tempfile::TempDir,
}

impl Chromium {
    /// A browser on `network`, with the enterprise `policy` (JSON, as IT deploys it) if any.
    /// An error says what to install when chromium, chromedriver or unshare is missing.
    pub fn start(network: &Network, policy: Option<&Value>) -> Result<Chromium, String> {
        Chromium::start_as(network, policy, None)
    }

    /// The same, run by the Linux `user` (root starts it: the policy is mounted for it in a
    /// mount namespace of root's, then `runuser`), with a profile that user owns.
    pub fn start_as(
        network: &Network,
        policy: Option<&Value>,
        user: Option<&str>,
    ) -> Result<Chromium, String> {
        let binary = ["/usr/bin/chromium", "/usr/bin/chromium-browser"]
            .into_iter()
            .find(|p| Path::new(p).exists())
            .ok_or("chromium is not installed (apt-get install chromium chromium-driver)")?;
        // /etc/chromium as this browser sees it: the package's preferences and the policy.
        let etc = tempfile::tempdir().map_err(|e| e.to_string())?;
        let managed = etc.path().join("policies").join("managed");
        std::fs::create_dir_all(&managed).map_err(|e| e.to_string())?;
        for entry in std::fs::read_dir("/etc/chromium")
            .into_iter()
            .flatten()
            .flatten()
        {
            if entry.file_type().is_ok_and(|t| t.is_file()) {
                let _ = std::fs::copy(entry.path(), etc.path().join(entry.file_name()));
            }
        }
        if let Some(policy) = policy {
            std::fs::write(managed.join("call-companion-test.json"), policy.to_string())
                .map_err(|e| e.to_string())?;
        }
        let port = super::free_port();
        let profile = tempfile::tempdir().map_err(|e| e.to_string())?;
        let mut command = Command::new("unshare");
        match user {
            None => command.args(["--user", "--map-root-user", "--mount", "sh", "-c"]),
            Some(_) => command.args(["--mount", "sh", "-c"]),
        };
        command
            .arg("mount --bind \"$0\" /etc/chromium && exec \"$@\"")
            .arg(etc.path());
        if let Some(user) = user {
            for dir in [etc.path(), &managed] {
                std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o755))
                    .map_err(|e| e.to_string())?;
            }
            let owned = Command::new("chown")
                .arg(user)
                .arg(profile.path())
                .status()
                .map_err(|e| e.to_string())?;
            if !owned.success() {
                return Err(format!("cannot give {user} the browser's profile"));
            }
            command
                .args(["runuser", "-u", user, "--", "env"])
                .arg(format!("HOME={}", profile.path().display()));
        }
        let mut driver = command
            .arg("chromedriver")
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .process_group(0)
            .spawn()
            .map_err(|e| {
                format!(
                    "cannot start chromedriver (apt-get install chromium-driver util-linux): {e}"
                )
            })?;
        let session = if super::wait_for_port(port, Duration::from_secs(20)) {
            Session::new(
                port,
                capabilities(binary, &profile.path().display().to_string(), network),
            )
        } else {
            Err("chromedriver did not open its port (does /etc/chromium exist?)".into())
        };
        match session {
            Ok(session) => Ok(Chromium {
                driver,
                session,
                _profile: profile,
                _etc: etc,
            }),
            Err(e) => {
                super::terminate_group(&mut driver);
                Err(e)
            }
        }
    }

    /// The policies this browser runs under, as `chrome://policy` lists them (names only).
    pub fn policies(&self) -> Vec<String> {
        let _ = self.session.navigate("chrome://policy");
        std::thread::sleep(Duration::from_millis(300));
        let found = self
            .session
            .execute(
                "const names = []; const walk = (n) => { if (!n) return; if (n.shadowRoot) walk(n.shadowRoot); \
                 for (const c of n.children || []) walk(c); if (n.classList && n.classList.contains('name')) names.push(n.textContent.trim()); }; \
                 walk(document.body); return names;",
            )
            .unwrap_or(Value::Null);
        serde_json::from_value(found).unwrap_or_default()
    }
}

fn capabilities(binary: &str, profile: &str, network: &Network) -> Value {
    let mut args = vec![
        "--headless=new".to_owned(),
        // The tests run as root in CI (and as root in their own user namespace anyway), where
        // Chromium's sandbox cannot start.
        "--no-sandbox".to_owned(),
        "--disable-gpu".to_owned(),
        "--disable-dev-shm-usage".to_owned(),
        "--no-first-run".to_owned(),
        "--disable-background-networking".to_owned(),
        "--disable-component-update".to_owned(),
        "--disable-sync".to_owned(),
        "--window-size=900,700".to_owned(),
        // The certificates are this run's own (support/tls.rs).
        "--ignore-certificate-errors".to_owned(),
        format!("--user-data-dir={profile}"),
    ];
    args.extend(network.args());
    json!({ "alwaysMatch": {
        "browserName": "chrome",
        "goog:chromeOptions": { "binary": binary, "args": args },
    }})
}

impl Drop for Chromium {
    fn drop(&mut self) {
        let _ = self.session.delete();
        super::terminate_group(&mut self.driver);
    }
}
