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
    #[error(
        "the portal's operating-time limit for this method was reached (OPERATION_TIME_LIMIT)"
    )]
    OperationTimeLimit {
        /// Seconds until the portal lets the method run again, when it said.
        retry_after_secs: Option<f64>,
    },
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
}

impl RestError {
    /// Stable, for the UI and logs.
    pub fn code(&self) -> &'static str {
        match self {
            RestError::ExpiredToken => "expired_token",
            RestError::NotSignedIn { .. } => "not_signed_in",
            RestError::AccessDenied { .. } => "access_denied",
            RestError::NotFound { .. } => "not_found",
            RestError::QueryLimitExceeded => "query_limit_exceeded",
            RestError::OperationTimeLimit { .. } => "operation_time_limit",
            RestError::MethodNotFound { .. } => "method_not_found",
            RestError::BadRequest { .. } => "bad_request",
            RestError::Server { .. } => "portal_error",
            RestError::Transport { .. } => "network_error",
            RestError::Timeout { .. } => "timeout",
            RestError::Redirect { .. } => "redirect",
            RestError::BadResponse(_) => "bad_response",
            RestError::OAuth { portal_code, .. } => crate::oauth::error_code(portal_code),
            RestError::Config(_) => "bad_configuration",
        }
    }

    pub fn action(&self) -> Action {
        match self {
            RestError::ExpiredToken | RestError::NotSignedIn { .. } => Action::SignIn,
            RestError::OAuth { portal_code, .. } => crate::oauth::error_action(portal_code),
            RestError::AccessDenied { .. } => Action::AskAdmin,
            RestError::QueryLimitExceeded
            | RestError::OperationTimeLimit { .. }
            | RestError::Server { .. }
            | RestError::Timeout { .. } => Action::TryLater,
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
            "invalid_token"
            | "NO_AUTH_FOUND"
            | "INVALID_CREDENTIALS"
            | "authorization_error"
            | "invalid_grant"
            | "user_not_found" => RestError::NotSignedIn {
                portal_code: portal_code.to_owned(),
            },
            "insufficient_scope"
            | "ACCESS_DENIED"
            | "WRONG_AUTH_TYPE"
            | "PAYMENT_REQUIRED"
            | "OVERLOAD_LIMIT"
            | "user_access_error"
            | "ERROR_ACCESS_DENIED"
            | "APPLICATION_NOT_FOUND"
            | "PORTAL_DELETED" => {
                let (portal_code, description) = owned();
                RestError::AccessDenied {
                    portal_code,
                    description,
                }
            }
            "QUERY_LIMIT_EXCEEDED" => RestError::QueryLimitExceeded,
            "OPERATION_TIME_LIMIT" => RestError::OperationTimeLimit {
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
            // The legacy crm.*.get answer a missing id with an empty code and "Not found".
            "" if description.eq_ignore_ascii_case("not found") => {
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
            RestError::MethodNotFound { .. } => Some("ERROR_METHOD_NOT_FOUND"),
            _ => None,
        }
    }
}

fn code_suffix(code: &str) -> String {
    if code.is_empty() {
        String::new()
    } else {
        format!(", {code}")
    }
}
