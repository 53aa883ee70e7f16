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
    pub fn code(&self) -> &'static str {
        match self {
            ParseError::TooLarge { .. } => "payload_too_large",
            ParseError::Empty => "payload_empty",
            ParseError::NotUtf8 => "payload_not_utf8",
            ParseError::UnknownFormat => "payload_unknown_format",
            ParseError::MissingCallId => "missing_call_id",
            ParseError::MissingOptions => "missing_placement_options",
            ParseError::WrongPlacement { .. } => "wrong_placement",
            ParseError::OptionsNotJson { .. } => "placement_options_not_json",
            ParseError::OptionsNotObject => "placement_options_not_object",
            ParseError::InvalidJson { .. } => "invalid_json",
            ParseError::UnsupportedVersion { .. } => "unsupported_envelope_version",
            ParseError::InvalidField { .. } => "invalid_field",
            ParseError::BadDeepLink { .. } => "bad_deep_link",
            ParseError::BadPrintR { .. } => "bad_print_r",
            ParseError::MissingAuth => "missing_auth",
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
