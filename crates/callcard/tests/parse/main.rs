//! The callcard crate's one integration-test binary.

mod fixtures;
mod formats;
mod never_panics;
