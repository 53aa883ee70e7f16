//! The call context Bitrix24's call card hands to a `CALL_CARD` placement, and the one parser
//! every entry point uses (listener, deep link, pasted payload, `simulate`).
//!
//! Pure: no IO, no clock, no logging. Tokens in the input (`AUTH_ID`, `REFRESH_ID`,
//! `APPLICATION_TOKEN`, …) are never copied into a [`CallContext`]: it has no field that could
//! hold one. Only [`parse_tab_post`], for the call card's own POST to the app's tab, hands the
//! portal's credentials back, apart from the call and with a `Debug` that hides them.

mod context;
mod error;
mod fields;
mod formats;
mod tab;

pub use context::{
    CallContext, CallDirection, CallState, CrmEntityType, CrmRef, NoNumber, Portal, Source,
};
pub use error::ParseError;
pub use fields::no_number;
pub use formats::{parse, parse_deep_link, parse_options, RELAY_ENVELOPE_VERSION};
pub use tab::{parse_tab_post, TabCredentials};

/// Largest input the parser looks at. Real payloads are about 1 KiB.
pub const MAX_INPUT_BYTES: usize = 64 * 1024;
