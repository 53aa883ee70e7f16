//! The core crate's one integration-test binary.

mod bindings;
mod calls;
mod card;
mod cli;
mod display;
mod language;
mod logging;
mod notes_chaos;
mod policy;
mod portal;
mod portal_faults;
mod secrets;
mod simulate;
mod status;
