//! The one error vocabulary. Every code the window receives (a failed command, a failed card, a
//! refused payload, a note that could not be sent, a start-up notice) and every code the local
//! listener answers a relay or the call card's tab with is a variant here, so the UI branches on a
//! TypeScript union generated from this enum and a code that does not exist cannot be written.
//!
//! The strings are a contract with relays, tabs and stored notes: never change one that has
//! shipped. Messages for people live with the UI (`ui/src/lib/errors.ts`, English and Russian),
//! which has one for every code (a UI test checks it against [`ErrorCode::ALL`]).

use serde::{Deserialize, Serialize};

macro_rules! codes {
    ($($(#[doc = $doc:literal])* $variant:ident = $code:literal,)*) => {
        /// A stable, machine-readable error code.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, ts_rs::TS)]
        pub enum ErrorCode {
            $($(#[doc = $doc])* #[serde(rename = $code)] $variant,)*
        }

        impl ErrorCode {
            /// Every code, in declaration order.
            pub const ALL: &'static [ErrorCode] = &[$(ErrorCode::$variant,)*];

            /// The code as it travels: `snake_case`, the same as its JSON form.
            pub const fn as_str(self) -> &'static str {
                match self {
                    $(ErrorCode::$variant => $code,)*
                }
            }
        }
    };
}

codes! {
    // The Bitrix24 portal and its REST API (crates/bitrix).
    ExpiredToken = "expired_token",
    NotSignedIn = "not_signed_in",
    AccessDenied = "access_denied",
    NotFound = "not_found",
    QueryLimitExceeded = "query_limit_exceeded",
    OperationTimeLimit = "operation_time_limit",
    InvalidCredentials = "invalid_credentials",
    AppAccessDenied = "app_access_denied",
    AppNotInstalled = "app_not_installed",
    PortalOverloaded = "portal_overloaded",
    PortalDeleted = "portal_deleted",
    MethodNotFound = "method_not_found",
    BadRequest = "bad_request",
    PortalError = "portal_error",
    NetworkError = "network_error",
    Timeout = "timeout",
    Redirect = "redirect",
    BadResponse = "bad_response",
    BadConfiguration = "bad_configuration",
    Cancelled = "cancelled",
    Deadline = "deadline",
    OAuthInvalidClient = "oauth_invalid_client",
    PaymentRequired = "payment_required",
    OAuthInvalidGrant = "oauth_invalid_grant",
    OAuthInvalidRequest = "oauth_invalid_request",
    OAuthInvalidScope = "oauth_invalid_scope",
    SignInFailed = "sign_in_failed",

    // The notes store (crates/notes).
    NotesUnavailable = "notes_unavailable",
    NotesDamaged = "notes_damaged",
    NotesDiskFull = "notes_disk_full",
    NotesFailed = "notes_failed",
    NoNote = "no_note",
    UnknownOutcome = "unknown_outcome",

    // A call context that could not be read (crates/callcard).
    PayloadTooLarge = "payload_too_large",
    PayloadEmpty = "payload_empty",
    PayloadNotUtf8 = "payload_not_utf8",
    PayloadUnknownFormat = "payload_unknown_format",
    MissingCallId = "missing_call_id",
    MissingPlacementOptions = "missing_placement_options",
    WrongPlacement = "wrong_placement",
    PlacementOptionsNotJson = "placement_options_not_json",
    PlacementOptionsNotObject = "placement_options_not_object",
    InvalidJson = "invalid_json",
    UnsupportedEnvelopeVersion = "unsupported_envelope_version",
    InvalidField = "invalid_field",
    BadDeepLink = "bad_deep_link",
    LinkUnverified = "link_unverified",
    BadPrintR = "bad_print_r",
    MissingAuth = "missing_auth",

    // The local listener's HTTP answers (crates/listener).
    PortInUse = "port_in_use",
    ListenFailed = "listen_failed",
    ForbiddenHost = "forbidden_host",
    ForbiddenOrigin = "forbidden_origin",
    ForbiddenPeer = "forbidden_peer",
    MethodNotAllowed = "method_not_allowed",
    Moved = "moved",
    PairingRequired = "pairing_required",
    PairingCodeNotOpen = "pairing_code_not_open",
    PairingCodeExpired = "pairing_code_expired",
    PairingCodeWrong = "pairing_code_wrong",
    PairingCodeBurned = "pairing_code_burned",
    RateLimited = "rate_limited",
    RequestTimeout = "request_timeout",
    UnsupportedMediaType = "unsupported_media_type",
    Internal = "internal",

    // The call card's tab (crates/listener, crates/companion/src/tab).
    TabNotSignedIn = "tab_not_signed_in",
    TabForeignPortal = "tab_foreign_portal",
    TabNotProven = "tab_not_proven",
    TabOtherUser = "tab_other_user",
    TabPortalUnreachable = "tab_portal_unreachable",
    TabCallMismatch = "tab_call_mismatch",
    TabNonceUnknown = "tab_nonce_unknown",
    NoUser = "no_user",
    OtherApplication = "other_application",
    TooManyRefused = "too_many_refused",

    // The app (crates/companion).
    NoDisplay = "no_display",
    FolderUnavailable = "folder_unavailable",
    FolderNotOwn = "folder_not_own",
    InvalidLogFilter = "invalid_log_filter",
    KeyringUnavailable = "keyring_unavailable",
    NoPairingToken = "no_pairing_token",
    RandomUnavailable = "random_unavailable",
    BadWidgetHandler = "bad_widget_handler",
    WidgetNeedsApplication = "widget_needs_application",
    WidgetNeedsAdministrator = "widget_needs_administrator",
    WidgetMissingScope = "widget_missing_scope",
    WidgetAlreadyBound = "widget_already_bound",
    WidgetMissingTelephonyScope = "widget_missing_telephony_scope",
    WidgetHandlerRefused = "widget_handler_refused",
    BadPortalAddress = "bad_portal_address",
    BadWebhookUrl = "bad_webhook_url",
    MissingAppKeys = "missing_app_keys",
    SettingsNotSaved = "settings_not_saved",
    SettingsInvalid = "settings_invalid",
    SignInRefused = "sign_in_refused",
    CallbackNotHeld = "callback_not_held",
    SignedInMeanwhile = "signed_in_meanwhile",
    WrongPortal = "wrong_portal",
    UnknownOAuthServer = "unknown_oauth_server",
    PolicyUnreadable = "policy_unreadable",
    PolicyInvalid = "policy_invalid",
    PolicyUntrusted = "policy_untrusted",
    LockedByPolicy = "locked_by_policy",
    AutostartNotSaved = "autostart_not_saved",
    PrefsNotSaved = "prefs_not_saved",
    PrefsInvalid = "prefs_invalid",
    RecentCallsUnreadable = "recent_calls_unreadable",
    DiagnosticsUnavailable = "diagnostics_unavailable",
    DiagnosticsNotWritten = "diagnostics_not_written",
    BrowserNotOpened = "browser_not_opened",
    UnknownCall = "unknown_call",
    NameRequired = "name_required",
    NotSupported = "not_supported",
    QueryTooShort = "query_too_short",
    NotLoaded = "not_loaded",
    MockOff = "mock_off",
    BadScenario = "bad_scenario",
    ListenerUnreachable = "listener_unreachable",
    NoAnswer = "no_answer",
    /// The window could not reach the app at all (made by the UI, never by the app).
    IpcFailed = "ipc_failed",
    /// A code stored by a version that knew codes this one does not.
    UnknownError = "unknown_error",
}

impl ErrorCode {
    /// The code a string names; [`ErrorCode::UnknownError`] for one this version does not know
    /// (read back from a note stored by a later version).
    pub fn parse(code: &str) -> ErrorCode {
        ErrorCode::ALL
            .iter()
            .copied()
            .find(|c| c.as_str() == code)
            .unwrap_or(ErrorCode::UnknownError)
    }
}

impl std::fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl PartialEq<str> for ErrorCode {
    fn eq(&self, other: &str) -> bool {
        self.as_str() == other
    }
}

impl PartialEq<&str> for ErrorCode {
    fn eq(&self, other: &&str) -> bool {
        self.as_str() == *other
    }
}

#[cfg(test)]
mod tests {
    use super::ErrorCode;

    #[test]
    fn every_code_is_unique_snake_case_and_its_own_json() {
        let mut seen = std::collections::BTreeSet::new();
        for code in ErrorCode::ALL {
            let text = code.as_str();
            assert!(seen.insert(text), "{text} twice");
            assert!(
                text.chars()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_'),
                "{text} is not snake_case"
            );
            let json = serde_json::to_string(code).unwrap();
            assert_eq!(json, format!("\"{text}\""));
            assert_eq!(serde_json::from_str::<ErrorCode>(&json).unwrap(), *code);
            assert_eq!(ErrorCode::parse(text), *code);
        }
        assert_eq!(ErrorCode::parse("from_the_future"), ErrorCode::UnknownError);
    }
}
