use thiserror::Error;

/// Why an input is not a call context we can use. Messages name the field and the problem;
/// they never quote token values (the parser does not keep them), and quote other values only
/// shortened.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum ParseError {
    #[error("payload too large: {size} bytes, at most {limit} accepted")]
    TooLarge { size: usize, limit: usize },
    #[error("payload is empty")]
    Empty,
    #[error("payload is not UTF-8 text")]
    NotUtf8,
    #[error("unrecognised payload: expected a Bitrix24 form body, a relay JSON envelope, a placement-options object, a callcompanion:// link or a print_r dump")]
    UnknownFormat,
    #[error("missing CALL_ID")]
    MissingCallId,
    #[error("missing PLACEMENT_OPTIONS")]
    MissingOptions,
    #[error("PLACEMENT is {found}, expected CALL_CARD")]
    WrongPlacement { found: String },
    #[error("PLACEMENT_OPTIONS is not JSON: {reason}")]
    OptionsNotJson { reason: String },
    #[error("PLACEMENT_OPTIONS is not a JSON object")]
    OptionsNotObject,
    #[error("not valid JSON: {reason}")]
    InvalidJson { reason: String },
    #[error("unsupported relay envelope version {found}; this app understands version 1")]
    UnsupportedVersion { found: String },
    #[error("{field} is invalid: {reason}")]
    InvalidField { field: &'static str, reason: String },
    #[error("not a Call Companion link: {reason}")]
    BadDeepLink { reason: String },
    #[error("not a print_r dump: {reason}")]
    BadPrintR { reason: String },
    #[error("the call card's POST carries no AUTH_ID to prove it came from the portal")]
    MissingAuth,
}

impl ParseError {
    /// Stable code for the UI and the listener's `{code, message}` answers.
    pub fn code(&self) -> codes::ErrorCode {
        match self {
            ParseError::TooLarge { .. } => codes::ErrorCode::PayloadTooLarge,
            ParseError::Empty => codes::ErrorCode::PayloadEmpty,
            ParseError::NotUtf8 => codes::ErrorCode::PayloadNotUtf8,
            ParseError::UnknownFormat => codes::ErrorCode::PayloadUnknownFormat,
            ParseError::MissingCallId => codes::ErrorCode::MissingCallId,
            ParseError::MissingOptions => codes::ErrorCode::MissingPlacementOptions,
            ParseError::WrongPlacement { .. } => codes::ErrorCode::WrongPlacement,
            ParseError::OptionsNotJson { .. } => codes::ErrorCode::PlacementOptionsNotJson,
            ParseError::OptionsNotObject => codes::ErrorCode::PlacementOptionsNotObject,
            ParseError::InvalidJson { .. } => codes::ErrorCode::InvalidJson,
            ParseError::UnsupportedVersion { .. } => codes::ErrorCode::UnsupportedEnvelopeVersion,
            ParseError::InvalidField { .. } => codes::ErrorCode::InvalidField,
            ParseError::BadDeepLink { .. } => codes::ErrorCode::BadDeepLink,
            ParseError::BadPrintR { .. } => codes::ErrorCode::BadPrintR,
            ParseError::MissingAuth => codes::ErrorCode::MissingAuth,
        }
    }
}

/// A value quoted in an error message: at most 40 characters, control characters escaped.
pub(crate) fn quote(value: &str) -> String {
    let mut short: String = value.chars().take(40).collect();
    if value.chars().count() > 40 {
        short.push('…');
    }
    format!("{short:?}")
}
