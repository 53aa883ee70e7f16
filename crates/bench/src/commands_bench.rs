//! Command round trips from the window while the agent's note is saved without pause, on a disk
//! whose `fsync` is slow: the release app in mock mode under Xvfb, driven through WebDriver
//! (tauri-driver), its commands called by the window's own `invoke`. The slow disk is simulated
//! by a preloaded library (`slow-fsync/slow_fsync.c`, built here with the system's C compiler):
//! every `fsync` and `fdatasync` of the app's processes waits `fsync_delay_ms` before it runs
//! (SQLite's `synchronous=FULL` commits call them). strace's fault injection was tried first:
//! tracing the app slowed everything it did, fsync or not, and hid what was measured.
//!
//! A round trip is measured in the window, from `invoke` to its answer, for the commands the
//! window calls while a call is on (`app_status`, `calls`, `card`, `note`), one every 5 ms,
//! while another loop in the same window calls `save_note` back to back.

use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{json, Value};

#[path = "../../../tests/app/support/webdriver.rs"]
#[allow(dead_code)]
mod webdriver;

pub struct CommandsRun {
    pub fsync_delay_ms: u64,
    /// Each probe's round trip, in ms.
    pub round_trips: Vec<f64>,
    /// The same by command.
    pub by_command: Vec<(String, Vec<f64>)>,
    /// `save_note` calls answered during the probes, and their mean round trip (ms).
    pub saves: u64,
    pub save_mean_ms: f64,
}

const PROBES: usize = 400;

/// The window's side: a writer saving the note back to back, and the probes.
const WORKLOAD: &str = r#"
const invoke = window.__TAURI_INTERNALS__.invoke;
const callId = 'bench.commands';
const bench = { done: false, error: null, trips: [], byCommand: {}, saves: 0, saveMs: 0 };
window.__bench = bench;
let writing = true;
(async () => {
  let text = '';
  while (writing) {
    text += 'Клиент просит перезвонить. ';
    const t = performance.now();
    try { await invoke('save_note', { callId, text }); } catch (e) { bench.error = String(e && e.code || e); }
    bench.saveMs += performance.now() - t;
    bench.saves += 1;
  }
})();
(async () => {
  const probes = [
    ['app_status', {}], ['calls', {}], ['card', { callId }], ['note', { callId }],
  ];
  await new Promise(r => setTimeout(r, 300));
  for (let i = 0; i < PROBES; i++) {
    const [cmd, args] = probes[i % probes.length];
    const t = performance.now();
    try { await invoke(cmd, args); } catch (e) { bench.error = cmd + ': ' + String(e && e.code || e); }
    const took = performance.now() - t;
    bench.trips.push(took);
    (bench.byCommand[cmd] = bench.byCommand[cmd] || []).push(took);
    await new Promise(r => setTimeout(r, 5));
  }
  writing = false;
  bench.done = true;
})();
return true;
"#;

pub fn run(binary: &Path, display: &str, fsync_delay_ms: u64) -> Result<CommandsRun, String> {
    let profile = std::env::temp_dir().join(format!(
        "cc-bench-commands-{}-{fsync_delay_ms}",
        std::process::id()
    ));
    let _ = std::fs::remove_dir_all(&profile);
    std::fs::create_dir_all(&profile).map_err(|e| e.to_string())?;
    let wrapper = wrapper(&profile, fsync_delay_ms)?;
    let port = free_port()?;
    let native_port = free_port()?;
    let mut driver = Command::new("tauri-driver");
    driver
        .args([
            "--port",
            &port.to_string(),
            "--native-port",
            &native_port.to_string(),
        ])
        .env("DISPLAY", display)
        .env_remove("WAYLAND_DISPLAY")
        .env("CALL_COMPANION_LOG", "warn")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .process_group(0);
    for dir in ["config", "data", "cache", "state"] {
        let path = profile.join(dir);
        std::fs::create_dir_all(&path).map_err(|e| e.to_string())?;
        driver.env(format!("XDG_{}_HOME", dir.to_uppercase()), path);
    }
    let mut driver = driver
        .spawn()
        .map_err(|e| format!("cannot start tauri-driver (cargo xtask test installs it): {e}"))?;
    let result = measure(port, native_port, &wrapper, binary, fsync_delay_ms);
    crate::app_bench::stop(&mut driver);
    let _ = std::fs::remove_dir_all(&profile);
    result
}

fn measure(
    port: u16,
    native_port: u16,
    wrapper: &Path,
    binary: &Path,
    fsync_delay_ms: u64,
) -> Result<CommandsRun, String> {
    for p in [port, native_port] {
        if !wait_for_port(p, Duration::from_secs(20)) {
            return Err(format!("tauri-driver did not listen on {p}"));
        }
    }
    let listen_port = free_port()?;
    let capabilities = json!({
        "alwaysMatch": { "tauri:options": {
            "application": wrapper,
            "args": [binary, "--mock", "--listen-port", listen_port.to_string()],
        } }
    });
    let session = webdriver::Session::new(port, capabilities)?;
    session.wait_for("[data-testid=status-portal]", Duration::from_secs(30))?;
    session.execute(&WORKLOAD.replace("PROBES", &PROBES.to_string()))?;
    let deadline = Instant::now() + Duration::from_secs(300);
    let bench = loop {
        std::thread::sleep(Duration::from_millis(500));
        let bench = session.execute("return window.__bench")?;
        if bench["done"] == Value::Bool(true) {
            break bench;
        }
        if Instant::now() > deadline {
            return Err("the window's probes did not finish in 5 minutes".into());
        }
    };
    let _ = session.delete();
    if let Some(error) = bench["error"].as_str() {
        return Err(format!("a command failed in the window: {error}"));
    }
    let round_trips: Vec<f64> = bench["trips"]
        .as_array()
        .map(|a| a.iter().filter_map(Value::as_f64).collect())
        .unwrap_or_default();
    let saves = bench["saves"].as_u64().unwrap_or(0);
    let by_command = bench["byCommand"]
        .as_object()
        .map(|m| {
            m.iter()
                .map(|(cmd, trips)| {
                    let trips = trips.as_array().into_iter().flatten();
                    (cmd.clone(), trips.filter_map(Value::as_f64).collect())
                })
                .collect()
        })
        .unwrap_or_default();
    Ok(CommandsRun {
        fsync_delay_ms,
        round_trips,
        by_command,
        saves,
        save_mean_ms: bench["saveMs"].as_f64().unwrap_or(0.0) / saves.max(1) as f64,
    })
}

/// The app with every `fsync` and `fdatasync` slowed: the preloaded library, built once per run.
fn wrapper(dir: &Path, fsync_delay_ms: u64) -> Result<PathBuf, String> {
    let path = dir.join("slow-fsync.sh");
    let script = if fsync_delay_ms == 0 {
        "#!/bin/sh\nexec \"$@\"\n".to_owned()
    } else {
        let library = dir.join("slow_fsync.so");
        let source = Path::new(env!("CARGO_MANIFEST_DIR")).join("slow-fsync/slow_fsync.c");
        let built = Command::new("cc")
            .args(["-shared", "-fPIC", "-O2", "-o"])
            .arg(&library)
            .arg(&source)
            .arg("-ldl")
            .status()
            .map_err(|e| format!("cannot run the C compiler (cc): {e}"))?;
        if !built.success() {
            return Err(format!("cc could not build {}", source.display()));
        }
        format!(
            "#!/bin/sh\nSLOW_FSYNC_MS={fsync_delay_ms} LD_PRELOAD={} exec \"$@\"\n",
            library.display()
        )
    };
    std::fs::write(&path, script).map_err(|e| e.to_string())?;
    std::fs::set_permissions(&path, std::os::unix::fs::PermissionsExt::from_mode(0o755))
        .map_err(|e| e.to_string())?;
    Ok(path)
}

fn free_port() -> Result<u16, String> {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .map_err(|e| e.to_string())
}

fn wait_for_port(port: u16, timeout: Duration) -> bool {
    let deadline = Instant::now() + timeout;
    while Instant::now() < deadline {
        if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    false
}

fn summary(run: &CommandsRun) -> crate::stats::Summary {
    summarize_ms(&run.round_trips)
}

fn summarize_ms(trips: &[f64]) -> crate::stats::Summary {
    let samples: Vec<Duration> = trips
        .iter()
        .map(|ms| Duration::from_secs_f64(ms / 1000.0))
        .collect();
    crate::stats::summarize(&samples)
}

pub fn section(md: &mut String, result: &Result<Vec<CommandsRun>, String>) {
    md.push_str(
        "\n## Command round trips from the window while the note is saved (release build, mock mode)\n\n\
         The window's own `invoke`, from the call to its answer, for the commands it calls while a call is on (`app_status`, \
         `calls`, `card`, `note`, in turn, one every 5 ms, 400 in all), while another loop in the window saves the note with \
         `save_note` back to back (each a SQLite commit with `synchronous=FULL`). The slow disk is simulated: a library preloaded into the app delays \
         every `fsync` and `fdatasync` of the app and its WebKit processes by the time given (`crates/bench/slow-fsync/`; tracing the app with strace instead slowed everything it did).\n\n",
    );
    let runs = match result {
        Ok(runs) if !runs.is_empty() => runs,
        Ok(_) => return md.push_str("No runs.\n"),
        Err(e) => return md.push_str(&format!("Not measured: {e}\n")),
    };
    md.push_str("| fsync delay | probes | p50 | p95 | p99 | max | p99 by command | notes saved meanwhile | mean save |\n|---|---|---|---|---|---|---|---|---|\n");
    for run in runs {
        let s = summary(run);
        let by_command: Vec<String> = run
            .by_command
            .iter()
            .map(|(cmd, trips)| format!("`{cmd}` {:.0} ms", summarize_ms(trips).p99))
            .collect();
        md.push_str(&format!(
            "| {} ms | {} | {:.1} ms | {:.1} ms | {:.1} ms | {:.1} ms | {} | {} | {:.1} ms |\n",
            run.fsync_delay_ms,
            s.count,
            s.p50,
            s.p95,
            s.p99,
            s.max,
            by_command.join(", "),
            run.saves,
            run.save_mean_ms
        ));
    }
    let worst = runs.iter().map(|r| summary(r).p99).fold(0.0, f64::max);
    md.push_str(&format!(
        "\nTarget: p99 under 16 ms (one frame) in every run, the slow disk included — **{:.1} ms, {}**. How it was before #21: \
         `docs/benchmarks-notes.md`.\n",
        worst,
        if worst < 16.0 { "met" } else { "not met" }
    ));
}

pub fn json(result: &Result<Vec<CommandsRun>, String>) -> Value {
    match result {
        Err(e) => json!({ "error": e }),
        Ok(runs) => json!(runs
            .iter()
            .map(|r| {
                let s = summary(r);
                json!({ "fsync_delay_ms": r.fsync_delay_ms, "p50": s.p50, "p95": s.p95, "p99": s.p99,
                        "max": s.max, "probes": s.count, "saves": r.saves, "save_mean_ms": r.save_mean_ms })
            })
            .collect::<Vec<_>>()),
    }
}
