//! The call context Bitrix24's call card hands to a `CALL_CARD` placement, and the one parser
//! every entry point uses (listener, deep link, pasted payload, `simulate`).
//!
//! Pure: no IO, no clock, no logging. Tokens in the input (`AUTH_ID`, `REFRESH_ID`,
//! `APPLICATION_TOKEN`, …) are never copied into the output: [`CallContext`] has no field that
//! could hold one.

mod context;
mod error;
mod fields;
mod formats;

pub use context::{CallContext, CallDirection, CallState, CrmEntityType, CrmRef, Portal, Source};
pub use error::ParseError;
pub use formats::{parse, parse_deep_link, parse_options, RELAY_ENVELOPE_VERSION};

/// Largest input the parser looks at. Real payloads are about 1 KiB.
pub const MAX_INPUT_BYTES: usize = 64 * 1024;
