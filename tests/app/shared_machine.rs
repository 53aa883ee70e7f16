//! A shared computer (a terminal server): two Linux users, created here, each running the real
//! app in a session of their own (their own home, D-Bus session and keyring) on one display and
//! one loopback. The first takes the port asked for; the second finds it taken, listens
//! elsewhere and says by whom; each user's own `simulate` (their own pairing token from their
//! own keyring) reaches only that user's app. Needs root to create the users, as on CI.
//!
//! The third test is a whole shift on a terminal server: each user's OAuth sign-in from their
//! own window (one cannot finish the other's), the direct tab and the relay widget in each
//! user's own Chromium, each call reaching only its agent's app.

use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use std::os::unix::fs::PermissionsExt;

use portal_sim::SimConfig;
use serde_json::json;

use crate::support::public::{policy, wait_until, PublicWeb};
use crate::support::webdriver::Session;
use crate::support::{app_binary, free_port, terminate_group, wait_for_port};

/// A Linux user made for this test, removed with everything it ran.
struct Agent {
    name: String,
    home: PathBuf,
    app: Option<Child>,
    output: PathBuf,
}

impl Agent {
    fn create(name: &str, dir: &Path) -> Agent {
        let home = dir.join(name);
        let made = Command::new("useradd")
            .args(["--create-home", "--shell", "/bin/sh", "--home-dir"])
            .arg(&home)
            .arg(name)
            .output()
            .expect("useradd runs");
        assert!(
            made.status.success(),
            "useradd {name}: {}",
            String::from_utf8_lossy(&made.stderr)
        );
        Agent {
            name: name.to_owned(),
            output: dir.join(format!("{name}.out")),
            home,
            app: None,
        }
    }

    /// `script` as this user, in a D-Bus session of their own with an unlocked keyring; the
    /// session's address is left in `~/bus` for the user's later commands.
    fn session(&self, display: &str, script: &str) -> Command {
        let mut command = Command::new("runuser");
        command.args(self.session_args(display, script, &[]));
        command
    }

    /// `runuser`'s arguments for `script` in a session of this user's, with `env` added.
    fn session_args(&self, display: &str, script: &str, env: &[String]) -> Vec<String> {
        let mut args: Vec<String> = ["-u", &self.name, "--", "env", "-i"]
            .map(str::to_owned)
            .to_vec();
        args.push(format!("HOME={}", self.home.display()));
        args.push(format!("DISPLAY={display}"));
        args.extend(["PATH=/usr/bin:/bin:/usr/sbin".into(), "LANG=C.UTF-8".into()]);
        args.extend(env.iter().cloned());
        args.extend(["dbus-run-session", "--", "sh", "-c"].map(str::to_owned));
        args.push(format!(
            "echo \"$DBUS_SESSION_BUS_ADDRESS\" > \"$HOME/bus\"; printf x | gnome-keyring-daemon --unlock --components=secrets >/dev/null; {script}"
        ));
        args
    }

    /// The real app with its window under WebDriver, run by this user in a session of theirs
    /// that reaches the test's public web (`net`); `$BROWSER` writes each page the app opens to
    /// `~/browsed`.
    fn window(&self, display: &str, port: u16, net: &Net, args: &[&str]) -> Window {
        let browser = self.home.join("browser.sh");
        std::fs::write(&browser, "#!/bin/sh\necho \"$1\" >> \"$HOME/browsed\"\n").unwrap();
        std::fs::set_permissions(&browser, std::fs::Permissions::from_mode(0o755)).unwrap();
        let (driver_port, native_port) = (free_port(), free_port());
        let script = format!(
            "exec '{}' --port {driver_port} --native-port {native_port}",
            net.driver.display()
        );
        let env = [
            format!("SSL_CERT_FILE={}", net.ca.display()),
            format!("BROWSER={}", browser.display()),
            "CALL_COMPANION_LOG=info".to_owned(),
        ];
        let log = std::fs::File::create(&self.output).unwrap();
        let mut driver = Command::new("unshare")
            .args(["--mount", "sh", "-c"])
            .arg("mount --bind \"$0\" /etc/hosts && exec \"$@\"")
            .arg(&net.hosts)
            .arg("runuser")
            .args(self.session_args(display, &script, &env))
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .process_group(0)
            .spawn()
            .expect("unshare and runuser run");
        for p in [driver_port, native_port] {
            assert!(
                wait_for_port(p, Duration::from_secs(30)),
                "{}'s WebDriver did not listen: {}",
                self.name,
                std::fs::read_to_string(&self.output).unwrap_or_default()
            );
        }
        let mut all: Vec<String> = args.iter().map(|a| a.to_string()).collect();
        all.extend(["--listen-port".into(), port.to_string()]);
        let capabilities = serde_json::json!({ "alwaysMatch": { "tauri:options": {
            "application": app_binary(), "args": all,
        }}});
        match Session::new(driver_port, capabilities) {
            Ok(session) => Window { session, driver },
            Err(e) => {
                terminate_group(&mut driver);
                panic!("{}'s window: {e}", self.name)
            }
        }
    }

    /// The pages the app opened in this user's browser.
    fn browsed(&self) -> Vec<String> {
        std::fs::read_to_string(self.home.join("browsed"))
            .unwrap_or_default()
            .lines()
            .map(str::to_owned)
            .collect()
    }

    /// Starts the real app, its output kept for the test to read.
    fn start(&mut self, display: &str, port: u16) {
        let out = std::fs::File::create(&self.output).unwrap();
        let script = format!("exec '{}' --listen-port {port}", app_binary().display());
        let child = self
            .session(display, &script)
            .stdout(out.try_clone().unwrap())
            .stderr(out)
            .process_group(0)
            .spawn()
            .expect("runuser runs");
        self.app = Some(child);
    }

    /// The app's data folder in this user's home.
    fn data(&self) -> PathBuf {
        self.home
            .join(".local/share")
            .join(companion::app::IDENTIFIER)
    }

    /// The app's log files (plain text; what it printed is kept beside them for a failure).
    fn output(&self) -> String {
        let mut text = String::new();
        for entry in std::fs::read_dir(self.data().join("logs"))
            .into_iter()
            .flatten()
            .flatten()
        {
            text.push_str(&std::fs::read_to_string(entry.path()).unwrap_or_default());
        }
        text
    }

    fn wait_for(&self, what: &str, check: impl Fn(&str) -> bool) -> String {
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            let text = self.output();
            if check(&text) {
                return text;
            }
            assert!(
                Instant::now() < deadline,
                "{}: no {what} in its log:\n{text}\nprinted:\n{}",
                self.name,
                std::fs::read_to_string(&self.output).unwrap_or_default()
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// `call-companion ARGS` as this user, in the running app's D-Bus session (its keyring).
    fn cli(&self, args: &[&str]) -> std::process::Output {
        let bus = std::fs::read_to_string(self.home.join("bus")).unwrap();
        Command::new("runuser")
            .args(["-u", &self.name, "--", "env", "-i"])
            .arg(format!("HOME={}", self.home.display()))
            .arg(format!("DBUS_SESSION_BUS_ADDRESS={}", bus.trim()))
            .args(["PATH=/usr/bin:/bin", "LANG=C.UTF-8"])
            .arg(app_binary())
            .args(args)
            .stdin(Stdio::null())
            .output()
            .expect("runuser runs")
    }

    /// Waits until this user's app, finding `port` taken, names what holds it and listens on a
    /// port of its own; returns that port.
    fn listens_elsewhere(&self, port: u16) -> u16 {
        let said = self.wait_for("listener elsewhere", |t| {
            t.contains("window ready") && t.contains("listening for call contexts port=")
        });
        assert!(
            said.contains(&format!("127.0.0.1:{port} is held by")),
            "{said}"
        );
        let own: u16 = said
            .split("listening for call contexts port=")
            .nth(1)
            .and_then(|rest| rest.split(|c: char| !c.is_ascii_digit()).next())
            .and_then(|p| p.parse().ok())
            .unwrap();
        assert_ne!(own, port, "{said}");
        own
    }

    /// Waits for the first page the app opened in this user's browser.
    fn wait_browsed(&self) -> String {
        let mut page = String::new();
        wait_until(
            &format!("{}'s browser opens the portal", self.name),
            30,
            || match self.browsed().first() {
                Some(first) => {
                    page = first.clone();
                    Ok(())
                }
                None => Err("nothing yet".into()),
            },
        );
        page
    }

    /// This user's `simulate --scenario NAME --port PORT`, which must succeed.
    fn simulate(&self, scenario: &str, port: u16) {
        let sent = self.cli(&[
            "simulate",
            "--scenario",
            scenario,
            "--port",
            &port.to_string(),
        ]);
        assert!(
            sent.status.success(),
            "{} simulate {scenario}: {}{}",
            self.name,
            String::from_utf8_lossy(&sent.stdout),
            String::from_utf8_lossy(&sent.stderr)
        );
    }
}

impl Drop for Agent {
    fn drop(&mut self) {
        if let Some(app) = &mut self.app {
            terminate_group(app);
        }
        let _ = Command::new("pkill")
            .args(["-KILL", "-u", &self.name])
            .status();
        let _ = Command::new("userdel").args(["-r", &self.name]).output();
    }
}

fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
}

/// What both tests share: root, one test at a time, homes under a folder others may enter, a
/// display every user may draw on. `None` (said) without root.
fn shared_computer() -> Option<(
    std::sync::MutexGuard<'static, ()>,
    tempfile::TempDir,
    crate::support::xvfb::Xvfb,
)> {
    if !is_root() {
        eprintln!("skipped: creating Linux users needs root (CI runs as root)");
        return None;
    }
    let turn = crate::e2e::ONE_AT_A_TIME
        .lock()
        .unwrap_or_else(|e| e.into_inner());
    let dir = tempfile::Builder::new()
        .prefix("cc-shared-")
        .tempdir_in("/tmp")
        .unwrap();
    std::fs::set_permissions(
        dir.path(),
        std::os::unix::fs::PermissionsExt::from_mode(0o755),
    )
    .unwrap();
    Some((turn, dir, crate::support::xvfb::Xvfb::start_shared()))
}

#[test]
fn two_agents_on_one_computer_each_get_only_their_own_calls() {
    let Some((_turn, dir, display)) = shared_computer() else {
        return;
    };
    let tag = std::process::id() % 100_000;
    let mut first = Agent::create(&format!("cc-a{tag}"), dir.path());
    let mut second = Agent::create(&format!("cc-b{tag}"), dir.path());
    let port = free_port();

    first.start(&display.display, port);
    first.wait_for("listener on the port asked for", |t| {
        t.contains(&format!("listening for call contexts port={port}"))
            && t.contains("window ready")
    });
    second.start(&display.display, port);
    // The second session says the port is taken and by whom, and listens elsewhere.
    second.listens_elsewhere(port);

    // Each user's own command line, with their own pairing token, the same --port.
    for (agent, scenario) in [(&first, "incoming-contact"), (&second, "outgoing-deal")] {
        agent.simulate(scenario, port);
    }
    let first_call = "externalCall.sim0001";
    let second_call = "externalCall.sim0002";
    let mine = first.wait_for("its call", |t| t.contains(first_call));
    let theirs = second.wait_for("its call", |t| t.contains(second_call));
    assert!(
        !mine.contains(second_call),
        "the first app got the second's call"
    );
    assert!(
        !theirs.contains(first_call),
        "the second app got the first's call"
    );

    // What each app wrote is its own user's only.
    for agent in [&first, &second] {
        let meta = std::fs::metadata(agent.data()).unwrap();
        let mode = std::os::unix::fs::MetadataExt::mode(&meta);
        assert_eq!(mode & 0o077, 0, "{}'s data folder is private", agent.name);
    }
}

/// Something else holds the port first (any local program): the agent's app listens elsewhere
/// and says what holds it, the agent's own `simulate` reaches the app, and the holder is never
/// contacted: no token, no caller.
#[test]
fn a_program_squatting_the_port_gets_nothing_and_the_agent_is_told() {
    let Some((_turn, dir, display)) = shared_computer() else {
        return;
    };
    let squatter = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    squatter.set_nonblocking(true).unwrap();
    let port = squatter.local_addr().unwrap().port();
    let tag = std::process::id() % 100_000;
    let mut agent = Agent::create(&format!("cc-s{tag}"), dir.path());
    agent.start(&display.display, port);
    agent.listens_elsewhere(port);
    agent.simulate("incoming-contact", port);
    agent.wait_for("its call", |t| t.contains("externalCall.sim0001"));
    assert!(
        squatter.accept().is_err(),
        "the program holding the port was contacted"
    );
}

/// What the users' sessions need to reach the test's public web as they would a real portal:
/// the test's host names (an `/etc/hosts` root mounts for their sessions), the run's CA and
/// `tauri-driver`, where they may read them.
struct Net {
    hosts: PathBuf,
    ca: PathBuf,
    driver: PathBuf,
}

impl Net {
    fn new(dir: &Path) -> Net {
        let hosts = dir.join("hosts");
        let mut text = std::fs::read_to_string("/etc/hosts").unwrap_or_default();
        text.push_str(&format!(
            "\n127.0.0.1 {}\n",
            crate::support::tls::HOSTS.join(" ")
        ));
        std::fs::write(&hosts, text).unwrap();
        let ca = dir.join("ca.pem");
        std::fs::copy(&crate::support::tls::certs().ca_file, &ca).unwrap();
        let found = Command::new("sh")
            .args(["-c", "command -v tauri-driver"])
            .output()
            .unwrap();
        let driver = dir.join("tauri-driver");
        std::fs::copy(String::from_utf8_lossy(&found.stdout).trim(), &driver)
            .expect("tauri-driver is installed (cargo xtask test installs it)");
        for (file, mode) in [(&hosts, 0o644), (&ca, 0o644), (&driver, 0o755)] {
            std::fs::set_permissions(file, std::fs::Permissions::from_mode(mode)).unwrap();
        }
        Net { hosts, ca, driver }
    }
}

/// A user's app window under WebDriver; closing it ends the app.
struct Window {
    session: Session,
    driver: Child,
}

impl Window {
    fn text(&self, test_id: &str) -> String {
        self.session
            .text_of(&format!("[data-testid={test_id}]"))
            .unwrap_or_default()
    }

    fn wait_text(&self, test_id: &str, what: &str, ok: impl Fn(&str) -> bool) -> String {
        let mut seen = String::new();
        wait_until(what, 30, || {
            seen = self.text(test_id);
            if ok(&seen) {
                Ok(())
            } else {
                Err(seen.clone())
            }
        });
        seen
    }

    /// Starts the OAuth sign-in from Settings, with the portal's application.
    fn sign_in(&self, web: &PublicWeb) {
        let endpoints = web.sim.endpoints();
        if self.text("portal-form").is_empty() {
            self.session.press("settings-toggle");
        }
        crate::support::driver::fill_oauth_form(&self.session, &web.portal(), &endpoints);
        self.session.press("portal-submit");
    }

    /// The relay's pairing code, as the agent reads it in Settings.
    fn pairing_code(&self) -> String {
        // A call that popped may have covered Settings.
        if self.text("pairing-code").is_empty() {
            self.session.press("settings-toggle");
        }
        let code: String = self
            .wait_text("pairing-code", "the pairing code", |t| {
                t.chars().filter(char::is_ascii_digit).count() == 6
            })
            .chars()
            .filter(char::is_ascii_digit)
            .collect();
        code
    }

    fn shown_call(&self) -> String {
        self.session
            .execute("const c = document.querySelector('.call-id'); return c ? c.textContent : ''")
            .ok()
            .and_then(|v| v.as_str().map(str::to_owned))
            .unwrap_or_default()
    }

    fn wait_call(&self, call_id: &str) {
        wait_until(&format!("the window shows {call_id}"), 30, || {
            match self.shown_call() {
                shown if shown == call_id => Ok(()),
                other => Err(other),
            }
        });
    }

    fn screenshot(&self, name: &str) {
        crate::support::driver::save_screenshot(&self.session, name);
    }
}

impl Drop for Window {
    fn drop(&mut self) {
        let _ = self.session.delete();
        terminate_group(&mut self.driver);
    }
}

/// The portal's sign-in page in the agent's browser for `user`: the simulator signs them in at
/// once and sends the browser to the redirect address; returns the page found there.
fn browse_sign_in(web: &PublicWeb, page: &str, user: u64) -> String {
    let path = page
        .strip_prefix(&web.portal())
        .unwrap_or_else(|| panic!("the portal's page: {page}"));
    let agent = ureq::AgentBuilder::new().redirects(0).build();
    let portal = agent
        .get(&format!(
            "http://{}{path}&sim_user={user}",
            web.sim.address()
        ))
        .call()
        .unwrap();
    assert_eq!(portal.status(), 302);
    let back = portal.header("location").unwrap().to_owned();
    match agent.get(&back).call() {
        Ok(answer) => answer.into_string().unwrap(),
        Err(ureq::Error::Status(_, answer)) => answer.into_string().unwrap(),
        Err(e) => panic!("{back}: {e}"),
    }
}

/// The portal's call card for `user` with the relay widget as its tab, the widget's address
/// naming `port` (as IT bound it).
fn relay_card(web: &PublicWeb, call_id: &str, user: u64, port: u16) -> String {
    let options = json!({
        "CALL_ID": call_id, "PHONE_NUMBER": "+79001234567", "CRM_ENTITY_TYPE": "CONTACT",
        "CRM_ENTITY_ID": "42", "CALL_DIRECTION": "incoming", "CALL_STATE": "connecting",
    });
    let handler = format!("{}/relay/?port={port}", web.widget_origin());
    let encode = crate::support::web::percent_encode;
    web.call_card(&format!(
        "options={}&lang=en&user={user}&handler={}",
        encode(&options.to_string()),
        encode(&handler)
    ))
}

/// The relay's state in the portal page's iframe, with its status text.
fn relay_state(browser: &crate::support::chromium::Chromium) -> (String, String) {
    let session = &browser.session;
    let _ = session.leave_frames();
    if session.enter_frame("#appframe").is_err() {
        return ("none".into(), String::new());
    }
    let now = session
        .execute("const r = document.querySelector('.relay'); return r ? [r.dataset.state, r.textContent] : ['none', ''];")
        .unwrap_or_default();
    (
        now[0].as_str().unwrap_or_default().to_owned(),
        now[1].as_str().unwrap_or_default().trim().to_owned(),
    )
}

fn wait_relay(browser: &crate::support::chromium::Chromium, state: &str) {
    wait_until(
        &format!("the relay says {state}"),
        20,
        || match relay_state(browser) {
            (s, _) if s == state => Ok(()),
            other => Err(format!("{other:?}")),
        },
    );
}

/// A shift on a terminal server, every door of it: two Linux users, each with the real app and
/// its window in a session of their own, each with their own Chromium.
/// - Sign-in: the first holds the port the application's redirect names and signs in from its
///   window; the second's sign-in is refused (it does not hold that address) and says why; a
///   code the second obtains for themself and sends to the first's address does not finish the
///   first's sign-in; the first's own does. Once the first quits, the second signs in (holding
///   the address only while pending) and publishes the port it listens on; the first comes back.
/// - The direct tab: each agent's call card posts to the one bound address; the first's app
///   shows its own agent's call and hands the second's on to the second's app.
/// - The relay: each agent's widget finds and pairs with its own agent's app, and each call
///   reaches only that app.
#[test]
fn on_a_terminal_server_each_agents_sign_in_tab_and_relay_stay_theirs() {
    let Some((_turn, dir, display)) = shared_computer() else {
        return;
    };
    let port = free_port();
    let web = PublicWeb::start(SimConfig {
        redirect_uri: format!("http://127.0.0.1:{port}/v1/oauth/callback"),
        // No push: each call must take the listener's path.
        scope: "crm,user,user_brief,placement,telephony".into(),
        ..SimConfig::default()
    });
    web.sim.bind_call_card(
        &companion::portal::widget::direct_handler(port),
        "Call Companion",
    );
    let net = Net::new(dir.path());
    let tag = std::process::id() % 100_000;
    let first = Agent::create(&format!("cc-f{tag}"), dir.path());
    let second = Agent::create(&format!("cc-g{tag}"), dir.path());
    let widget = web.widget_origin();
    let args = [
        "--lang",
        "en",
        "--theme",
        "light",
        "--allow-origin",
        &widget,
    ];

    let first_window = first.window(&display.display, port, &net, &args);
    first.wait_for("the usual port", |t| {
        t.contains(&format!("listening for call contexts port={port}"))
    });
    let second_window = second.window(&display.display, port, &net, &args);
    let second_port = second.listens_elsewhere(port);

    // Sign-in. The first starts; the second cannot, and nothing reaches the portal for it.
    first_window.sign_in(&web);
    let first_page = first.wait_browsed();
    second_window.sign_in(&web);
    let refused = second_window.wait_text("portal-error", "the second is told", |t| {
        t.contains("another program holds that address")
    });
    assert!(refused.contains(&format!("127.0.0.1:{port}")), "{refused}");
    second_window.screenshot("terminal-server-sign-in-refused-en-light");
    assert!(
        second.browsed().is_empty(),
        "no sign-in page for the second"
    );
    // The second gets a code for themself (state of their choosing) and sends it to the first's
    // address: the first's pending sign-in is not theirs to finish.
    let forged = browse_sign_in(
        &web,
        &first_page.replace(
            first_page
                .split("state=")
                .nth(1)
                .unwrap()
                .split('&')
                .next()
                .unwrap(),
            "chosen-by-the-co-worker",
        ),
        2,
    );
    assert!(!forged.contains("Signed in"), "{forged}");
    let page = browse_sign_in(&web, &first_page, 1);
    assert!(page.contains("Анна Смирнова"), "{page}");
    first_window.wait_text("portal-signed-in", "the first is signed in", |t| {
        t.contains("Анна Смирнова")
    });
    assert!(!first_window.text("portal-signed-in").contains("Орлов"));

    // The first quits; the second signs in on the freed address and publishes its own port.
    drop(first_window);
    wait_until("the usual port is free", 30, || {
        std::net::TcpListener::bind(("127.0.0.1", port))
            .map(drop)
            .map_err(|e| e.to_string())
    });
    second_window.sign_in(&web);
    let second_page = second.wait_browsed();
    assert!(browse_sign_in(&web, &second_page, 2).contains("Дмитрий Орлов"));
    second_window.wait_text("portal-signed-in", "the second is signed in", |t| {
        t.contains("Дмитрий Орлов")
    });
    let client_id = web.sim.endpoints().client_id;
    let published = |user: u64, expected: u16| {
        wait_until(
            &format!("user {user} publishes {expected}"),
            30,
            || match web.sim.user_option(&client_id, user, "callcompanion_port") {
                Some(p) if p == json!(expected) => Ok(()),
                other => Err(format!("{other:?}")),
            },
        )
    };
    published(2, second_port);
    wait_until("the second lets the usual port go", 30, || {
        std::net::TcpListener::bind(("127.0.0.1", port))
            .map(drop)
            .map_err(|e| e.to_string())
    });
    let first_window = first.window(&display.display, port, &net, &args);
    if first_window.text("portal-signed-in").is_empty() {
        first_window.session.press("settings-toggle");
    }
    first_window.wait_text("portal-signed-in", "the first is back", |t| {
        t.contains("Анна Смирнова")
    });
    published(1, port);

    // The direct tab, from each agent's own browser, to the one address the portal binds.
    let direct = policy::direct_tab(&web.portal());
    let first_browser = crate::support::chromium::Chromium::start_as(
        &web.network(),
        Some(&direct),
        Some(&first.name),
    )
    .unwrap();
    let second_browser = crate::support::chromium::Chromium::start_as(
        &web.network(),
        Some(&direct),
        Some(&second.name),
    )
    .unwrap();
    first_browser
        .session
        .navigate(&web.call_card("scenario=incoming-contact&user=1"))
        .unwrap();
    first_window.wait_call("externalCall.sim0001.1732400000");
    second_browser
        .session
        .navigate(&web.call_card("scenario=outgoing-deal&user=2"))
        .unwrap();
    second_window.wait_call("externalCall.sim0002.1732400100");
    second_window.screenshot("terminal-server-tab-handed-on-en-light");
    assert!(first.output().contains("tab_handed_on"));
    drop((first_browser, second_browser));

    // The relay widget, each agent's own, paired with their own app.
    let relay = policy::relay(&widget, &web.portal());
    for (agent, window, user, call) in [
        (&second, &second_window, 2, "externalCall.relay.second"),
        (&first, &first_window, 1, "externalCall.relay.first"),
    ] {
        let browser = crate::support::chromium::Chromium::start_as(
            &web.network(),
            Some(&relay),
            Some(&agent.name),
        )
        .unwrap();
        browser
            .session
            .navigate(&relay_card(&web, call, user, port))
            .unwrap();
        wait_relay(&browser, "pairing");
        let code = window.pairing_code();
        browser
            .session
            .type_into("[data-testid=pair-code]", &code)
            .unwrap();
        browser.session.click("[data-testid=pair-submit]").unwrap();
        wait_relay(&browser, "sent");
        window.wait_call(call);
    }
    let (mine, theirs) = (first.output(), second.output());
    for (log, foreign) in [
        (&mine, ["sim0002", "relay.second"]),
        (&theirs, ["sim0001", "relay.first"]),
    ] {
        for call in foreign {
            assert!(!log.contains(call), "{call} reached the wrong app");
        }
    }
}
