//! A shared computer (a terminal server): two Linux users, created here, each running the real
//! app in a session of their own (their own home, D-Bus session and keyring) on one display and
//! one loopback. The first takes the port asked for; the second finds it taken, listens
//! elsewhere and says by whom; each user's own `simulate` (their own pairing token from their
//! own keyring) reaches only that user's app. Needs root to create the users, as on CI.
//!
//! Not covered here (see docs/reliability.md): the relay and the direct tab per user (the relay
//! is tested with two listeners in Chromium, `relay.rs`), and an OAuth sign-in across users.

use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::support::{app_binary, free_port, terminate_group};

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
        command
            .args(["-u", &self.name, "--", "env", "-i"])
            .arg(format!("HOME={}", self.home.display()))
            .arg(format!("DISPLAY={display}"))
            .args(["PATH=/usr/bin:/bin:/usr/sbin", "LANG=C.UTF-8"])
            .args(["dbus-run-session", "--", "sh", "-c"])
            .arg(format!(
                "echo \"$DBUS_SESSION_BUS_ADDRESS\" > \"$HOME/bus\"; printf x | gnome-keyring-daemon --unlock --components=secrets >/dev/null; {script}"
            ));
        command
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
    let said = second.wait_for("listener elsewhere", |t| {
        t.contains("window ready") && t.contains("listening for call contexts port=")
    });
    // The second session says the port is taken and by whom, and listens elsewhere.
    assert!(
        said.contains(&format!("127.0.0.1:{port} is held by")),
        "{said}"
    );
    assert!(!said.contains(&format!("listening for call contexts port={port}\n")));

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
    let said = agent.wait_for("listener elsewhere", |t| {
        t.contains("window ready") && t.contains("listening for call contexts port=")
    });
    assert!(
        said.contains(&format!("127.0.0.1:{port} is held by")),
        "{said}"
    );
    agent.simulate("incoming-contact", port);
    agent.wait_for("its call", |t| t.contains("externalCall.sim0001"));
    assert!(
        squatter.accept().is_err(),
        "the program holding the port was contacted"
    );
}
