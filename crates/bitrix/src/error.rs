//! Every way a call can fail, as the agent can act on it. `code()` is stable (the UI branches on
//! it); the portal's own error code is kept for logs and tests.

use serde::Serialize;

#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum RestError {
    #[error("the portal session has expired")]
    ExpiredToken,
    #[error("the portal did not accept the sign-in ({portal_code}); sign in again")]
    NotSignedIn { portal_code: String },
    #[error("the portal refused access ({portal_code}): {description}")]
    AccessDenied {
        portal_code: String,
        description: String,
    },
    #[error("not found in the portal: {description}")]
    NotFound {
        portal_code: String,
        description: String,
    },
    #[error("the portal's request limit was reached (QUERY_LIMIT_EXCEEDED)")]
    QueryLimitExceeded,
    /// `429 OPERATION_TIME_LIMIT` (`limits.md`): this application (or webhook) used up the
    /// method's operating time; that method alone is paused, other methods keep working.
    #[error("{}", paused_text(.method, *.until))]
    OperationTimeLimit {
        /// The paused method (in a batch, the sub-request's own method).
        method: String,
        /// Unix time (seconds) when the method may run again: the `operating_reset_at` the
        /// portal last gave for it, or at most ten minutes after the block (`limits.md`).
        until: Option<u64>,
        /// Seconds from the block until then, for the retry loop.
        retry_after_secs: Option<f64>,
    },
    /// `403 INVALID_CREDENTIALS` (`_includes/system-errors.md`): the webhook (or token) is not
    /// accepted any more, e.g. the webhook was deleted or its user lost the rights it needs.
    #[error("the portal no longer accepts this sign-in (INVALID_CREDENTIALS): the webhook was removed or its user lacks the rights; sign in again")]
    InvalidCredentials { description: String },
    /// `403 user_access_error` (`_includes/system-errors.md`): the application is installed,
    /// but the administrator opened it to certain users only.
    #[error("the portal's administrator has opened this application to certain users only, not to you (user_access_error)")]
    AppAccessDenied { description: String },
    /// `APPLICATION_NOT_FOUND`: the application is no longer installed on the portal. Not in
    /// the docs' list of system errors (*unverified*: status and text).
    #[error("the application is not installed on the portal any more (APPLICATION_NOT_FOUND); ask IT to install it again")]
    AppNotFound { description: String },
    /// `503 OVERLOAD_LIMIT` (`_includes/system-errors.md`): "a manual individual block" of the
    /// portal's REST API, lifted by Bitrix24's support, so retrying soon cannot help.
    #[error("Bitrix24 blocked this portal's REST API for overload (OVERLOAD_LIMIT); the administrator must ask Bitrix24 support to lift it")]
    Overloaded { description: String },
    /// `500 PORTAL_DELETED` (`_includes/system-errors.md`): the portal was deleted (on a
    /// self-hosted one, its public part is closed).
    #[error("this Bitrix24 portal no longer exists or is closed (PORTAL_DELETED); sign in to another portal")]
    PortalDeleted { description: String },
    #[error("the portal does not know the method {method}")]
    MethodNotFound { method: String },
    #[error("the portal refused the request ({portal_code}): {description}")]
    BadRequest {
        portal_code: String,
        description: String,
    },
    #[error("the portal failed (HTTP {status}{}): {description}", code_suffix(.portal_code))]
    Server {
        status: u16,
        portal_code: String,
        description: String,
    },
    #[error("cannot reach the portal: {message}")]
    Transport {
        message: String,
        /// False when the request surely never left (DNS, refused connection): safe to resend.
        request_sent: bool,
    },
    #[error("the portal did not answer within {secs} s")]
    Timeout { secs: u64 },
    #[error("the portal answered with a redirect (HTTP {status}) to {location}; check the portal address")]
    Redirect { status: u16, location: String },
    #[error("the portal's answer could not be read: {0}")]
    BadResponse(String),
    /// The OAuth server refused (`settings/oauth/error-codes.md`); `code()`, `action()` and
    /// the text follow its documented code.
    #[error("{}", crate::oauth::error_text(.portal_code, .description))]
    OAuth {
        portal_code: String,
        description: String,
    },
    #[error("{0}")]
    Config(String),
    /// The caller stopped wanting the answer (`Stop::cancel`): no further attempt was made.
    #[error("stopped: the answer is no longer wanted")]
    Cancelled,
    /// The caller's deadline passed before an answer (`Stop::within`), retries included.
    #[error("no answer from the portal within {secs} s")]
    Deadline { secs: u64 },
}

impl From<crate::Stopped> for RestError {
    fn from(stopped: crate::Stopped) -> RestError {
        match stopped {
            crate::Stopped::Cancelled => RestError::Cancelled,
            crate::Stopped::Deadline(allowed) => RestError::Deadline {
                secs: allowed.as_secs_f64().ceil() as u64,
            },
        }
    }
}

/// What the agent (or the app for them) can do about an error.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Action {
    /// The client already retried; trying again later may work.
    TryLater,
    /// Sign in to the portal again.
    SignIn,
    /// Ask the portal administrator for access (scope, rights, plan).
    AskAdmin,
    /// Check the portal address and the network.
    CheckConnection,
    /// Nothing to do: the record is gone, or this is a bug to report.
    Report,
    /// The application was removed from the portal: IT installs it again.
    ReinstallApp,
    /// Bitrix24 blocked the portal by hand: its administrator asks Bitrix24 support.
    ContactSupport,
    /// The portal is gone: sign in to another one.
    OtherPortal,
}

impl RestError {
    /// Stable, for the UI and logs.
    pub fn code(&self) -> codes::ErrorCode {
        match self {
            RestError::ExpiredToken => codes::ErrorCode::ExpiredToken,
            RestError::NotSignedIn { .. } => codes::ErrorCode::NotSignedIn,
            RestError::AccessDenied { .. } => codes::ErrorCode::AccessDenied,
            RestError::NotFound { .. } => codes::ErrorCode::NotFound,
            RestError::QueryLimitExceeded => codes::ErrorCode::QueryLimitExceeded,
            RestError::OperationTimeLimit { .. } => codes::ErrorCode::OperationTimeLimit,
            RestError::InvalidCredentials { .. } => codes::ErrorCode::InvalidCredentials,
            RestError::AppAccessDenied { .. } => codes::ErrorCode::AppAccessDenied,
            RestError::AppNotFound { .. } => codes::ErrorCode::AppNotInstalled,
            RestError::Overloaded { .. } => codes::ErrorCode::PortalOverloaded,
            RestError::PortalDeleted { .. } => codes::ErrorCode::PortalDeleted,
            RestError::MethodNotFound { .. } => codes::ErrorCode::MethodNotFound,
            RestError::BadRequest { .. } => codes::ErrorCode::BadRequest,
            RestError::Server { .. } => codes::ErrorCode::PortalError,
            RestError::Transport { .. } => codes::ErrorCode::NetworkError,
            RestError::Timeout { .. } => codes::ErrorCode::Timeout,
            RestError::Redirect { .. } => codes::ErrorCode::Redirect,
            RestError::BadResponse(_) => codes::ErrorCode::BadResponse,
            RestError::OAuth { portal_code, .. } => crate::oauth::error_code(portal_code),
            RestError::Config(_) => codes::ErrorCode::BadConfiguration,
            RestError::Cancelled => codes::ErrorCode::Cancelled,
            RestError::Deadline { .. } => codes::ErrorCode::Deadline,
        }
    }

    pub fn action(&self) -> Action {
        match self {
            RestError::ExpiredToken
            | RestError::NotSignedIn { .. }
            | RestError::InvalidCredentials { .. } => Action::SignIn,
            RestError::OAuth { portal_code, .. } => crate::oauth::error_action(portal_code),
            RestError::AccessDenied { .. } | RestError::AppAccessDenied { .. } => Action::AskAdmin,
            RestError::AppNotFound { .. } => Action::ReinstallApp,
            RestError::Overloaded { .. } => Action::ContactSupport,
            RestError::PortalDeleted { .. } => Action::OtherPortal,
            RestError::QueryLimitExceeded
            | RestError::OperationTimeLimit { .. }
            | RestError::Server { .. }
            | RestError::Timeout { .. }
            | RestError::Cancelled
            | RestError::Deadline { .. } => Action::TryLater,
            RestError::Transport { .. } | RestError::Redirect { .. } | RestError::Config(_) => {
                Action::CheckConnection
            }
            RestError::NotFound { .. }
            | RestError::MethodNotFound { .. }
            | RestError::BadRequest { .. }
            | RestError::BadResponse(_) => Action::Report,
        }
    }

    /// Reads the documented error envelope (`error`, `error_description`) with its HTTP status.
    pub fn from_portal(
        status: u16,
        portal_code: &str,
        description: &str,
        method: &str,
    ) -> RestError {
        let owned = || (portal_code.to_owned(), description.to_owned());
        match portal_code {
            "expired_token" => RestError::ExpiredToken,
            "INVALID_CREDENTIALS" => RestError::InvalidCredentials {
                description: description.to_owned(),
            },
            "user_access_error" => RestError::AppAccessDenied {
                description: description.to_owned(),
            },
            "APPLICATION_NOT_FOUND" => RestError::AppNotFound {
                description: description.to_owned(),
            },
            // Not QUERY_LIMIT_EXCEEDED's twin although both are 503: the docs call it a manual
            // block lifted by support, so it is not retried (the Go SDK's docs draw the same line).
            "OVERLOAD_LIMIT" => RestError::Overloaded {
                description: description.to_owned(),
            },
            "PORTAL_DELETED" => RestError::PortalDeleted {
                description: description.to_owned(),
            },
            "invalid_token"
            | "NO_AUTH_FOUND"
            | "authorization_error"
            | "invalid_grant"
            | "user_not_found" => RestError::NotSignedIn {
                portal_code: portal_code.to_owned(),
            },
            "insufficient_scope"
            | "ACCESS_DENIED"
            | "WRONG_AUTH_TYPE"
            | "PAYMENT_REQUIRED"
            | "ERROR_ACCESS_DENIED" => {
                let (portal_code, description) = owned();
                RestError::AccessDenied {
                    portal_code,
                    description,
                }
            }
            "QUERY_LIMIT_EXCEEDED" => RestError::QueryLimitExceeded,
            "OPERATION_TIME_LIMIT" => RestError::OperationTimeLimit {
                method: method.to_owned(),
                until: None,
                retry_after_secs: None,
            },
            "ERROR_METHOD_NOT_FOUND" => RestError::MethodNotFound {
                method: method.to_owned(),
            },
            "NOT_FOUND" | "ERROR_NOT_FOUND" => {
                let (portal_code, description) = owned();
                RestError::NotFound {
                    portal_code,
                    description,
                }
            }
            // The legacy crm.*.get answer with an empty code and HTTP 400: "Not found" for a
            // missing id, "Access denied" for a record the user may not read
            // (`crm-contact-get.md`; the server code adds a period: "Not found.").
            "" if plain(description).eq_ignore_ascii_case("access denied") => {
                let (portal_code, description) = owned();
                RestError::AccessDenied {
                    portal_code,
                    description,
                }
            }
            "" if plain(description).eq_ignore_ascii_case("not found") => {
                let (portal_code, description) = owned();
                RestError::NotFound {
                    portal_code,
                    description,
                }
            }
            _ if status >= 500 => {
                let (portal_code, description) = owned();
                RestError::Server {
                    status,
                    portal_code,
                    description,
                }
            }
            _ if status == 404 => {
                let (portal_code, description) = owned();
                RestError::NotFound {
                    portal_code,
                    description,
                }
            }
            _ if status == 401 => RestError::NotSignedIn {
                portal_code: portal_code.to_owned(),
            },
            _ if status == 403 => {
                let (portal_code, description) = owned();
                RestError::AccessDenied {
                    portal_code,
                    description,
                }
            }
            _ => {
                let (portal_code, description) = owned();
                RestError::BadRequest {
                    portal_code,
                    description,
                }
            }
        }
    }

    /// The same error with every free text passed through `f` (the client scrubs secrets).
    pub(crate) fn map_text(self, f: impl Fn(&str) -> String) -> RestError {
        match self {
            RestError::AccessDenied {
                portal_code,
                description,
            } => RestError::AccessDenied {
                portal_code,
                description: f(&description),
            },
            RestError::NotFound {
                portal_code,
                description,
            } => RestError::NotFound {
                portal_code,
                description: f(&description),
            },
            RestError::BadRequest {
                portal_code,
                description,
            } => RestError::BadRequest {
                portal_code,
                description: f(&description),
            },
            RestError::Server {
                status,
                portal_code,
                description,
            } => RestError::Server {
                status,
                portal_code,
                description: f(&description),
            },
            RestError::OAuth {
                portal_code,
                description,
            } => RestError::OAuth {
                portal_code,
                description: f(&description),
            },
            RestError::Transport {
                message,
                request_sent,
            } => RestError::Transport {
                message: f(&message),
                request_sent,
            },
            RestError::Redirect { status, location } => RestError::Redirect {
                status,
                location: f(&location),
            },
            RestError::InvalidCredentials { description } => RestError::InvalidCredentials {
                description: f(&description),
            },
            RestError::AppAccessDenied { description } => RestError::AppAccessDenied {
                description: f(&description),
            },
            RestError::AppNotFound { description } => RestError::AppNotFound {
                description: f(&description),
            },
            RestError::Overloaded { description } => RestError::Overloaded {
                description: f(&description),
            },
            RestError::PortalDeleted { description } => RestError::PortalDeleted {
                description: f(&description),
            },
            RestError::BadResponse(text) => RestError::BadResponse(f(&text)),
            RestError::Config(text) => RestError::Config(f(&text)),
            other => other,
        }
    }

    /// The portal's own code, for logs and tests.
    pub fn portal_code(&self) -> Option<&str> {
        match self {
            RestError::NotSignedIn { portal_code }
            | RestError::AccessDenied { portal_code, .. }
            | RestError::NotFound { portal_code, .. }
            | RestError::BadRequest { portal_code, .. }
            | RestError::Server { portal_code, .. }
            | RestError::OAuth { portal_code, .. } => Some(portal_code),
            RestError::ExpiredToken => Some("expired_token"),
            RestError::QueryLimitExceeded => Some("QUERY_LIMIT_EXCEEDED"),
            RestError::OperationTimeLimit { .. } => Some("OPERATION_TIME_LIMIT"),
            RestError::InvalidCredentials { .. } => Some("INVALID_CREDENTIALS"),
            RestError::AppAccessDenied { .. } => Some("user_access_error"),
            RestError::AppNotFound { .. } => Some("APPLICATION_NOT_FOUND"),
            RestError::Overloaded { .. } => Some("OVERLOAD_LIMIT"),
            RestError::PortalDeleted { .. } => Some("PORTAL_DELETED"),
            RestError::MethodNotFound { .. } => Some("ERROR_METHOD_NOT_FOUND"),
            _ => None,
        }
    }
}

/// "Bitrix24 paused crm.deal.list for this application until 14:05 UTC": the window says the
/// time in the agent's own zone from `until`; logs and notes keep this text.
fn paused_text(method: &str, until: Option<u64>) -> String {
    let method = if method.is_empty() {
        "this method"
    } else {
        method
    };
    match until {
        Some(at) => {
            let minutes = at / 60 % (24 * 60);
            format!(
                "Bitrix24 paused {method} for this application until {:02}:{:02} UTC: its operating-time limit was reached (OPERATION_TIME_LIMIT)",
                minutes / 60,
                minutes % 60
            )
        }
        None => format!(
            "Bitrix24 paused {method} for this application for up to ten minutes: its operating-time limit was reached (OPERATION_TIME_LIMIT)"
        ),
    }
}

fn code_suffix(code: &str) -> String {
    if code.is_empty() {
        String::new()
    } else {
        format!(", {code}")
    }
}

/// A description without the trailing period the server code adds.
fn plain(description: &str) -> &str {
    description.trim().trim_end_matches('.')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_system_error_is_its_own_state_with_its_own_action() {
        let cases = [
            (
                403,
                "INVALID_CREDENTIALS",
                "invalid_credentials",
                Action::SignIn,
            ),
            (
                403,
                "user_access_error",
                "app_access_denied",
                Action::AskAdmin,
            ),
            (
                403,
                "APPLICATION_NOT_FOUND",
                "app_not_installed",
                Action::ReinstallApp,
            ),
            (
                503,
                "OVERLOAD_LIMIT",
                "portal_overloaded",
                Action::ContactSupport,
            ),
            (500, "PORTAL_DELETED", "portal_deleted", Action::OtherPortal),
            (
                503,
                "QUERY_LIMIT_EXCEEDED",
                "query_limit_exceeded",
                Action::TryLater,
            ),
            (
                429,
                "OPERATION_TIME_LIMIT",
                "operation_time_limit",
                Action::TryLater,
            ),
        ];
        for (status, portal_code, code, action) in cases {
            let error = RestError::from_portal(status, portal_code, "x", "crm.deal.list");
            assert_eq!(
                (error.code().as_str(), error.action()),
                (code, action),
                "{portal_code}"
            );
            assert_eq!(error.portal_code(), Some(portal_code));
            assert!(error.to_string().contains(portal_code), "{error}");
        }
    }

    #[test]
    fn a_paused_method_says_which_and_until_when() {
        let error = RestError::OperationTimeLimit {
            method: "crm.deal.list".into(),
            // 2026-12-01 14:05:30 UTC
            until: Some(1_796_133_930),
            retry_after_secs: None,
        };
        assert_eq!(
            error.to_string(),
            "Bitrix24 paused crm.deal.list for this application until 14:05 UTC: its operating-time limit was reached (OPERATION_TIME_LIMIT)"
        );
    }
}
