//! A private X server per test, so tests never depend on (or disturb) a real display.

use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

pub struct Xvfb {
    child: Child,
    pub display: String,
}

static NEXT: AtomicU32 = AtomicU32::new(0);

impl Xvfb {
    pub fn start() -> Xvfb {
        Xvfb::start_with(&[])
    }

    /// One any local user may draw on (`-ac`): sessions of several users sharing a display, as
    /// on a terminal server (`shared_machine.rs`).
    pub fn start_shared() -> Xvfb {
        Xvfb::start_with(&["-ac"])
    }

    fn start_with(extra: &[&str]) -> Xvfb {
        // Spread display numbers by process id so parallel test runs do not collide.
        let base = 200 + (std::process::id() % 400) * 8;
        for _ in 0..32 {
            let n = base + NEXT.fetch_add(1, Ordering::SeqCst);
            if Path::new(&format!("/tmp/.X{n}-lock")).exists() {
                continue;
            }
            let mut child = Command::new("Xvfb")
                .args([
                    format!(":{n}").as_str(),
                    "-screen",
                    "0",
                    "1280x800x24",
                    "-nolisten",
                    "tcp",
                ])
                .args(extra)
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .process_group(0)
                .spawn()
                .expect("Xvfb is installed (cargo xtask test installs it: apt-get install xvfb)");
            let socket = format!("/tmp/.X11-unix/X{n}");
            let deadline = Instant::now() + Duration::from_secs(10);
            while Instant::now() < deadline {
                if let Ok(Some(_)) = child.try_wait() {
                    break; // display taken or Xvfb failed: try the next number
                }
                if Path::new(&socket).exists() {
                    return Xvfb {
                        child,
                        display: format!(":{n}"),
                    };
                }
                std::thread::sleep(Duration::from_millis(25));
            }
            let _ = child.kill();
            let _ = child.wait();
        }
        panic!("could not start Xvfb on any display number");
    }
}

impl Drop for Xvfb {
    fn drop(&mut self) {
        super::terminate_group(&mut self.child);
    }
}
