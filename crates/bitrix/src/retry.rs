//! When to try again, as a pure function: back off on the portal's limits and on transient
//! failures, refresh once on an expired token, stop on everything else. A write whose request may
//! have reached the portal is never resent blindly: its caller reconciles (notes do).

use std::time::Duration;

use crate::error::RestError;

#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RetryPolicy {
    /// Attempts in all, the first included.
    pub max_attempts: u32,
    /// The first back-off; doubles each attempt.
    pub base_delay: Duration,
    /// No single wait is longer than this; a limit that lifts later is given up on.
    pub max_delay: Duration,
}

impl Default for RetryPolicy {
    fn default() -> RetryPolicy {
        // The portal drains 2 requests a second: half a second frees a slot.
        RetryPolicy {
            max_attempts: 4,
            base_delay: Duration::from_millis(500),
            max_delay: Duration::from_secs(8),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Decision {
    Retry { after: Duration },
    RefreshAndRetry,
    GiveUp,
}

/// `attempt` is how many attempts were made (1 after the first); `refreshed` whether this call
/// already refreshed the token; `read_only` whether resending cannot change data; `jitter` in
/// `[0, 1)` spreads agents behind one NAT apart (tests pass a fixed value).
pub fn decide(
    policy: &RetryPolicy,
    attempt: u32,
    error: &RestError,
    refreshed: bool,
    read_only: bool,
    jitter: f64,
) -> Decision {
    if let RestError::ExpiredToken = error {
        return if refreshed {
            Decision::GiveUp
        } else {
            Decision::RefreshAndRetry
        };
    }
    if attempt >= policy.max_attempts {
        return Decision::GiveUp;
    }
    let backoff = || {
        let factor = 2u32.saturating_pow(attempt.saturating_sub(1));
        let base = policy
            .base_delay
            .saturating_mul(factor)
            .min(policy.max_delay);
        // Up to a quarter more, never past the cap.
        base.mul_f64(1.0 + jitter.clamp(0.0, 1.0) * 0.25)
            .min(policy.max_delay)
    };
    match error {
        // Refused before any work was done: always safe to resend.
        RestError::QueryLimitExceeded => Decision::Retry { after: backoff() },
        // The method is paused until its reset (`limits.md`); waiting is worth it only when
        // that is near. The client refuses the method itself meanwhile (`MethodPauses`).
        RestError::OperationTimeLimit {
            retry_after_secs, ..
        } => match retry_after_secs {
            Some(secs) if Duration::from_secs_f64(*secs) <= policy.max_delay => Decision::Retry {
                after: Duration::from_secs_f64(*secs).max(backoff()),
            },
            Some(_) => Decision::GiveUp,
            None => Decision::Retry { after: backoff() },
        },
        RestError::Transport {
            request_sent: false,
            ..
        } => Decision::Retry { after: backoff() },
        RestError::Transport {
            request_sent: true, ..
        }
        | RestError::Timeout { .. }
        | RestError::Server { .. }
            if read_only =>
        {
            Decision::Retry { after: backoff() }
        }
        _ => Decision::GiveUp,
    }
}

/// A call of a method paused until `until` (Unix seconds) at `now`: how long to wait for it when
/// that is within one back-off (`max_delay`), or `None` to refuse it at once without asking the
/// portal (it would only answer `OPERATION_TIME_LIMIT` again).
pub fn wait_for_pause(policy: &RetryPolicy, until: f64, now: f64) -> Option<Duration> {
    let left = Duration::from_secs_f64((until - now).max(0.0));
    (left <= policy.max_delay).then_some(left)
}

/// Methods that only read: resending them after an unclear failure cannot change data.
pub fn is_read_only(method: &str) -> bool {
    let method = method.to_ascii_lowercase();
    let last = method.rsplit('.').next().unwrap_or_default();
    matches!(
        last,
        "get" | "list" | "current" | "fields" | "findbycomm" | "info"
    ) || matches!(
        method.as_str(),
        "profile" | "app.info" | "user.current" | "server.time" | "scope" | "methods"
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    const P: RetryPolicy = RetryPolicy {
        max_attempts: 4,
        base_delay: Duration::from_millis(500),
        max_delay: Duration::from_secs(8),
    };

    fn server() -> RestError {
        RestError::Server {
            status: 500,
            portal_code: "INTERNAL_SERVER_ERROR".into(),
            description: String::new(),
        }
    }

    #[test]
    fn query_limit_backs_off_doubling_up_to_the_attempt_limit() {
        let e = RestError::QueryLimitExceeded;
        assert_eq!(
            decide(&P, 1, &e, false, false, 0.0),
            Decision::Retry {
                after: Duration::from_millis(500)
            }
        );
        assert_eq!(
            decide(&P, 2, &e, false, false, 0.0),
            Decision::Retry {
                after: Duration::from_millis(1000)
            }
        );
        assert_eq!(
            decide(&P, 3, &e, false, false, 0.0),
            Decision::Retry {
                after: Duration::from_millis(2000)
            }
        );
        assert_eq!(decide(&P, 4, &e, false, false, 0.0), Decision::GiveUp);
    }

    #[test]
    fn jitter_adds_at_most_a_quarter_and_never_passes_the_cap() {
        let e = RestError::QueryLimitExceeded;
        assert_eq!(
            decide(&P, 1, &e, false, true, 0.99),
            Decision::Retry {
                after: Duration::from_millis(500).mul_f64(1.2475)
            }
        );
        let long = RetryPolicy {
            max_attempts: 10,
            ..P
        };
        assert_eq!(
            decide(&long, 9, &e, false, true, 0.99),
            Decision::Retry {
                after: Duration::from_secs(8)
            }
        );
    }

    #[test]
    fn expired_token_refreshes_once() {
        let e = RestError::ExpiredToken;
        assert_eq!(
            decide(&P, 1, &e, false, false, 0.0),
            Decision::RefreshAndRetry
        );
        assert_eq!(decide(&P, 2, &e, true, false, 0.0), Decision::GiveUp);
        // Even on the last attempt: a refresh is not a back-off.
        assert_eq!(
            decide(&P, 4, &e, false, true, 0.0),
            Decision::RefreshAndRetry
        );
    }

    #[test]
    fn operation_time_limit_waits_for_the_reset_when_it_is_near() {
        let near = RestError::OperationTimeLimit {
            method: "crm.deal.list".into(),
            until: Some(1_003),
            retry_after_secs: Some(3.0),
        };
        assert_eq!(
            decide(&P, 1, &near, false, true, 0.0),
            Decision::Retry {
                after: Duration::from_secs(3)
            }
        );
        let far = RestError::OperationTimeLimit {
            method: "crm.deal.list".into(),
            until: Some(1_120),
            retry_after_secs: Some(120.0),
        };
        assert_eq!(decide(&P, 1, &far, false, true, 0.0), Decision::GiveUp);
    }

    #[test]
    fn a_paused_method_waits_only_for_a_near_end() {
        assert_eq!(
            wait_for_pause(&P, 1_003.0, 1_000.0),
            Some(Duration::from_secs(3))
        );
        assert_eq!(wait_for_pause(&P, 1_000.0, 1_000.0), Some(Duration::ZERO));
        assert_eq!(wait_for_pause(&P, 1_600.0, 1_000.0), None);
    }

    #[test]
    fn transient_failures_are_retried_only_when_resending_is_safe() {
        let unsent = RestError::Transport {
            message: "refused".into(),
            request_sent: false,
        };
        let sent = RestError::Transport {
            message: "reset".into(),
            request_sent: true,
        };
        let timeout = RestError::Timeout { secs: 20 };
        for e in [&sent, &timeout, &server()] {
            assert!(
                matches!(decide(&P, 1, e, false, true, 0.0), Decision::Retry { .. }),
                "{e:?} on a read"
            );
            assert_eq!(
                decide(&P, 1, e, false, false, 0.0),
                Decision::GiveUp,
                "{e:?} on a write"
            );
        }
        assert!(matches!(
            decide(&P, 1, &unsent, false, false, 0.0),
            Decision::Retry { .. }
        ));
    }

    #[test]
    fn the_rest_stop_at_once() {
        let errors = [
            RestError::NotSignedIn {
                portal_code: "invalid_token".into(),
            },
            RestError::AccessDenied {
                portal_code: "insufficient_scope".into(),
                description: String::new(),
            },
            RestError::NotFound {
                portal_code: String::new(),
                description: "Not found".into(),
            },
            RestError::MethodNotFound { method: "x".into() },
            RestError::BadRequest {
                portal_code: "INVALID_REQUEST".into(),
                description: String::new(),
            },
            RestError::Redirect {
                status: 301,
                location: "x".into(),
            },
            RestError::BadResponse("x".into()),
            // A manual block, lifted by Bitrix24's support (`_includes/system-errors.md`).
            RestError::Overloaded {
                description: String::new(),
            },
            RestError::InvalidCredentials {
                description: String::new(),
            },
            RestError::AppAccessDenied {
                description: String::new(),
            },
            RestError::AppNotFound {
                description: String::new(),
            },
            RestError::PortalDeleted {
                description: String::new(),
            },
        ];
        for e in &errors {
            assert_eq!(
                decide(&P, 1, e, false, true, 0.0),
                Decision::GiveUp,
                "{e:?}"
            );
        }
    }

    #[test]
    fn reads_and_writes() {
        for m in [
            "crm.contact.get",
            "crm.deal.list",
            "user.current",
            "crm.duplicate.findbycomm",
            "profile",
            "app.info",
            "placement.get",
        ] {
            assert!(is_read_only(m), "{m}");
        }
        for m in [
            "crm.timeline.comment.add",
            "crm.timeline.comment.update",
            "placement.bind",
            "batch",
        ] {
            assert!(!is_read_only(m), "{m}");
        }
    }
}
