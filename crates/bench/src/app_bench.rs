//! The whole app under Xvfb: cold start to the first painted window, and the memory of its
//! process tree (the app, WebKit's web and network processes) idle and after 100 calls. Each run
//! starts from an empty profile (fresh config, data and cache folders) in mock mode, so the
//! window shows real cards from the embedded simulator.

use std::io::{BufRead, BufReader};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use serde_json::json;

use crate::tree::{tree_memory, TreeMemory};

pub struct AppRun {
    pub cold_start_ms: f64,
    /// The app's own measure: from `main` to the window's report of its first paint.
    pub reported_ms: f64,
    pub idle: TreeMemory,
    pub after_calls: TreeMemory,
    pub calls_accepted: u32,
}

pub const CALLS: u32 = 100;
const PORT: u16 = 47_931;
/// Numbers the simulator knows (contact, company switchboard, lead, lone company) and one it
/// does not, so the cards differ.
const NUMBERS: [&str; 5] = [
    "+79001234567",
    "+74951234567",
    "+79161112233",
    "88125550118",
    "+79999996666",
];

pub fn run(
    binary: &Path,
    display: &str,
    index: usize,
    extra_env: &[(&str, &str)],
) -> Result<AppRun, String> {
    let profile =
        std::env::temp_dir().join(format!("cc-bench-profile-{}-{index}", std::process::id()));
    let _ = std::fs::remove_dir_all(&profile);
    let env = [
        ("XDG_CONFIG_HOME", profile.join("config")),
        ("XDG_DATA_HOME", profile.join("data")),
        ("XDG_CACHE_HOME", profile.join("cache")),
        ("XDG_STATE_HOME", profile.join("state")),
    ];
    for (_, dir) in &env {
        std::fs::create_dir_all(dir).map_err(|e| e.to_string())?;
    }
    let started = Instant::now();
    let mut child = Command::new(binary)
        .args(["--mock", "--listen-port", &PORT.to_string()])
        .envs(env.iter().map(|(k, v)| (*k, v.as_os_str())))
        .env("DISPLAY", display)
        .env("CALL_COMPANION_LOG", "info")
        .envs(extra_env.iter().copied())
        .env_remove("WAYLAND_DISPLAY")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .process_group(0)
        .spawn()
        .map_err(|e| format!("cannot start {}: {e}", binary.display()))?;
    let result = measure(&mut child, binary, &env, started);
    stop(&mut child);
    let _ = std::fs::remove_dir_all(&profile);
    result
}

fn measure(
    child: &mut Child,
    binary: &Path,
    env: &[(&str, PathBuf)],
    started: Instant,
) -> Result<AppRun, String> {
    let stderr = child.stderr.take().ok_or("no stderr")?;
    let (lines, painted) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            if line.contains(companion::app::startup::FIRST_PAINT) {
                let _ = lines.send((started.elapsed(), line));
            }
        }
    });
    let (cold_start, line) = painted
        .recv_timeout(Duration::from_secs(30))
        .map_err(|_| "the window never reported its first paint (30 s)".to_string())?;
    let reported_ms = reported_paint_ms(&line).unwrap_or(f64::NAN);

    // Idle: the window up, mock mode signed in, nothing happening.
    std::thread::sleep(Duration::from_secs(4));
    let idle = tree_memory(child.id());

    let token = pairing_token(binary, env)?;
    let agent = ureq::AgentBuilder::new()
        .timeout(Duration::from_secs(10))
        .build();
    let url = format!("http://127.0.0.1:{PORT}/v1/call-card");
    let mut accepted = 0;
    for n in 0..CALLS {
        let number = NUMBERS[n as usize % NUMBERS.len()];
        let mut both_accepted = true;
        for state in ["connected", "idle"] {
            let body = json!({"CALL_ID": format!("bench.{n}"), "PHONE_NUMBER": number, "CALL_STATE": state, "CALL_TYPE": 2});
            let sent = agent
                .post(&url)
                .set("Authorization", &format!("Bearer {token}"))
                .send_json(body);
            both_accepted &= sent.is_ok();
            // An agent's calls are seconds apart; this leaves each card time to load and paint,
            // and stays inside the listener's rate limit (10 a second after a burst of 30).
            std::thread::sleep(Duration::from_millis(120));
        }
        if both_accepted {
            accepted += 1;
        }
    }
    std::thread::sleep(Duration::from_secs(4));
    let after_calls = tree_memory(child.id());
    Ok(AppRun {
        cold_start_ms: cold_start.as_secs_f64() * 1000.0,
        reported_ms,
        idle,
        after_calls,
        calls_accepted: accepted,
    })
}

/// The number in the app's log line "first paint N ms after start" (the line may carry
/// terminal colour codes and fields around it).
fn reported_paint_ms(line: &str) -> Option<f64> {
    let rest = &line[line.find(companion::app::startup::FIRST_PAINT)?
        + companion::app::startup::FIRST_PAINT.len()..];
    rest.split_whitespace().next()?.parse().ok()
}

/// The running app's pairing token, read from the keyring as a script would.
fn pairing_token(binary: &Path, env: &[(&str, PathBuf)]) -> Result<String, String> {
    let output = Command::new(binary)
        .args(["token", "show"])
        .envs(env.iter().map(|(k, v)| (*k, v.as_os_str())))
        .output()
        .map_err(|e| e.to_string())?;
    if !output.status.success() {
        return Err(format!(
            "no pairing token (is a keyring running?): {}",
            String::from_utf8_lossy(&output.stderr).trim()
        ));
    }
    Ok(String::from_utf8_lossy(&output.stdout).trim().to_owned())
}

/// Ends the app and everything it started (its process group), politely first.
pub fn stop(child: &mut Child) {
    let group = format!("-{}", child.id());
    let _ = Command::new("kill").args(["-TERM", "--", &group]).status();
    let deadline = Instant::now() + Duration::from_secs(5);
    while Instant::now() < deadline {
        if let Ok(Some(_)) = child.try_wait() {
            break;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let _ = Command::new("kill").args(["-KILL", "--", &group]).status();
    let _ = child.wait();
    // The single-instance name on the session bus goes with the process; give D-Bus a moment.
    std::thread::sleep(Duration::from_millis(500));
}

/// A private X server for the runs.
pub struct Xvfb {
    child: Child,
    pub display: String,
}

impl Xvfb {
    pub fn start() -> Result<Xvfb, String> {
        for n in 880..920 {
            if Path::new(&format!("/tmp/.X{n}-lock")).exists() {
                continue;
            }
            let mut child = Command::new("Xvfb")
                .args([
                    &format!(":{n}"),
                    "-screen",
                    "0",
                    "1280x800x24",
                    "-nolisten",
                    "tcp",
                ])
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .map_err(|e| format!("cannot start Xvfb (apt-get install xvfb): {e}"))?;
            let socket = format!("/tmp/.X11-unix/X{n}");
            let deadline = Instant::now() + Duration::from_secs(10);
            while Instant::now() < deadline {
                if let Ok(Some(_)) = child.try_wait() {
                    break;
                }
                if Path::new(&socket).exists() {
                    return Ok(Xvfb {
                        child,
                        display: format!(":{n}"),
                    });
                }
                std::thread::sleep(Duration::from_millis(25));
            }
            let _ = child.kill();
            let _ = child.wait();
        }
        Err("no free X display number for Xvfb".into())
    }
}

impl Drop for Xvfb {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn reads_the_reported_paint_time_through_colour_codes() {
        let line = "\u{1b}[2m2026-11-26T19:00:00Z\u{1b}[0m \u{1b}[32m INFO\u{1b}[0m call_companion: first paint 734 ms after start \u{1b}[3mms\u{1b}[0m\u{1b}[2m=\u{1b}[0m734";
        assert_eq!(super::reported_paint_ms(line), Some(734.0));
        assert_eq!(super::reported_paint_ms("nothing here"), None);
    }
}
