//! A saved OAuth session under faults: shared by two processes (the app and a
//! `call-companion portal …` command), and the OS keyring going away while the app runs.

use companion::rt::Wait;
use std::process::Command;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use companion::portal::vault;
use companion::portal::PortalDesk;
use companion::status::PortalStatus;
use portal_sim::Faults;
use serde_json::json;

use crate::portal::{browse, Setup};

fn signed_in(setup: &Setup) -> PortalDesk {
    let desk = setup.desk();
    let url = desk.begin_oauth(&setup.form(false)).unwrap();
    assert!(desk.complete_oauth(&browse(&url)).ok);
    desk
}

fn session_only(desk: &PortalDesk) -> bool {
    match desk.status() {
        PortalStatus::Connected { session_only, .. } => session_only,
        other => panic!("not connected: {other:?}"),
    }
}

#[test]
fn the_app_and_a_portal_command_share_one_saved_session_and_refresh_it_once() {
    let setup = Setup::new();
    let app = signed_in(&setup);
    // The command restores the same keyring entries in its own desk, as its own process would.
    let command = setup.desk();
    command.restore();
    assert!(!session_only(&command));

    setup.sim.set_faults(Faults {
        expire_tokens: true,
        latency_ms: 300,
        ..Faults::default()
    });
    let threads: Vec<_> = [app.client().unwrap(), command.client().unwrap()]
        .into_iter()
        .map(|client| std::thread::spawn(move || client.call("user.current", json!({})).wait()))
        .collect();
    for thread in threads {
        thread.join().unwrap().expect("neither signs the other out");
    }
    assert_eq!(setup.sim.stats().refreshes, 1, "one refresh, taken by both");

    // The pair in the keyring is the live one: a restart signs in with it.
    let restarted = setup.desk();
    restarted.restore();
    assert!(matches!(restarted.status(), PortalStatus::Connected { .. }));
    assert_eq!(setup.sim.stats().refreshes, 1);
}

const PRIVATE_BUS: &str = "CALL_COMPANION_TEST_PRIVATE_BUS";
const INSIDE: &str = "portal_faults::keyring_goes_away_inside_a_private_session";

#[test]
fn the_keyring_going_away_mid_run_keeps_the_session_for_this_run_and_says_so() {
    // The D-Bus session dies in this check, so it runs in its own process and session.
    let output = crate::alone(INSIDE).env(PRIVATE_BUS, "1").output().unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        output.status.success() && stdout.contains(&format!("test {INSIDE} ... ok")),
        "the check in its own D-Bus session failed:\n{stdout}\n{stderr}"
    );
}

/// Kills the private bus however the check ends; gnome-keyring-daemon leaves with its bus.
#[derive(Default)]
struct StopOnDrop(std::sync::Mutex<Vec<String>>);

impl Drop for StopOnDrop {
    fn drop(&mut self) {
        for pid in self.0.lock().unwrap().iter() {
            let _ = Command::new("kill").args(["-KILL", pid]).status();
        }
    }
}

#[test]
fn a_pair_kept_in_memory_while_the_keyring_was_away_gives_way_to_the_keyring_once_it_is_back() {
    let setup = Setup::new();
    let vault = vault::Vault::new(setup.keyring());
    vault
        .put(vault::OAUTH_TOKENS, "kept in memory", true)
        .unwrap();
    vault
        .put(vault::OAUTH_TOKENS, "in the keyring again", false)
        .unwrap();
    assert_eq!(
        vault.get(vault::OAUTH_TOKENS).unwrap().as_deref(),
        Some("in the keyring again"),
        "a stale copy in memory would be adopted and its spent refresh token used"
    );
    vault.clear().unwrap();
}

#[test]
#[ignore = "run by the_keyring_going_away_mid_run_keeps_the_session_for_this_run_and_says_so"]
fn keyring_goes_away_inside_a_private_session() {
    if std::env::var_os(PRIVATE_BUS).is_none() {
        return;
    }
    let home = tempfile::tempdir().unwrap();
    let _stop = StopOnDrop::default();
    // Only this process runs here, and libdbus reads the address once, at first use.
    std::env::set_var("XDG_DATA_HOME", home.path());
    let bus = Command::new("dbus-daemon")
        .args(["--session", "--fork", "--print-address=1", "--print-pid=1"])
        .output()
        .expect("dbus-daemon runs");
    let printed = String::from_utf8_lossy(&bus.stdout);
    let mut lines = printed.lines();
    let address = lines.next().expect("the bus address").trim().to_owned();
    let bus_pid = lines.next().expect("the bus pid").trim().to_owned();
    _stop.0.lock().unwrap().push(bus_pid.clone());
    std::env::set_var("DBUS_SESSION_BUS_ADDRESS", &address);
    let keyring = Command::new("sh")
        .args([
            "-c",
            "printf test | gnome-keyring-daemon --unlock --components=secrets",
        ])
        .output()
        .unwrap();
    assert!(keyring.status.success(), "gnome-keyring-daemon starts");
    // It returns before it owns the Secret Service's name on a busy machine: wait for that.
    let owned = || {
        Command::new("dbus-send")
            .args([
                "--session",
                "--print-reply",
                "--dest=org.freedesktop.DBus",
                "/org/freedesktop/DBus",
                "org.freedesktop.DBus.NameHasOwner",
                "string:org.freedesktop.secrets",
            ])
            .output()
            .is_ok_and(|o| String::from_utf8_lossy(&o.stdout).contains("boolean true"))
    };
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while !owned() && std::time::Instant::now() < deadline {
        std::thread::sleep(std::time::Duration::from_millis(50));
    }

    let setup = Setup::new();
    let desk = signed_in(&setup);
    assert!(!session_only(&desk));
    assert!(setup.keyring().has(vault::OAUTH_TOKENS).unwrap());
    let told = Arc::new(AtomicUsize::new(0));
    let counter = told.clone();
    desk.on_change(Box::new(move || {
        counter.fetch_add(1, Ordering::SeqCst);
    }));

    // The session bus, and the Secret Service with it, goes away.
    let killed = Command::new("kill")
        .args(["-KILL", &bus_pid])
        .status()
        .unwrap();
    assert!(killed.success());
    let gone = setup.keyring().has(vault::OAUTH_TOKENS).unwrap_err();
    assert_eq!(gone.code(), "keyring_unavailable");

    // The token expires: the refresh spends the old refresh token, so the new pair must be kept
    // somewhere; it is kept for this run, and the window is told the session ends with the app.
    setup.sim.set_faults(Faults {
        expire_tokens: true,
        ..Faults::default()
    });
    let client = desk.client().unwrap();
    client
        .call("user.current", json!({}))
        .wait()
        .expect("the call still succeeds");
    assert_eq!(setup.sim.stats().refreshes, 1);
    assert!(
        session_only(&desk),
        "the window says the session is for this run only"
    );
    assert!(told.load(Ordering::SeqCst) >= 1, "the window was told");
    client
        .call("crm.contact.get", json!({"id": 42}))
        .wait()
        .expect("the kept pair works");
    assert_eq!(setup.sim.stats().refreshes, 1);
    // gnome-keyring-daemon exits by itself once its bus is gone.
}
