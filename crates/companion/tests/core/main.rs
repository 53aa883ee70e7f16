//! The core crate's one integration-test binary.

mod bindings;
mod cli;
mod display;
mod language;
mod logging;
mod status;
