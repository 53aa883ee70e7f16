//! The core crate's one integration-test binary.

mod bindings;
mod calls;
mod card;
mod card_stop;
mod cli;
mod display;
mod language;
mod logging;
mod notes_chaos;
mod policy;
mod portal;
mod portal_errors;
mod portal_faults;
mod push;
mod rules;
mod secrets;
mod simulate;
mod status;
mod tab;

/// This test binary running only the ignored test `name`, in a process of its own: for checks
/// that kill their process or change what the whole process sees (its D-Bus session).
pub fn alone(name: &str) -> std::process::Command {
    let mut command = std::process::Command::new(std::env::current_exe().unwrap());
    command.args([
        "--exact",
        name,
        "--ignored",
        "--nocapture",
        "--test-threads=1",
    ]);
    command
}
