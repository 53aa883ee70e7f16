//! The core crate's one integration-test binary.

mod bindings;
mod calls;
mod card;
mod cli;
mod display;
mod language;
mod logging;
mod policy;
mod portal;
mod secrets;
mod simulate;
mod status;
