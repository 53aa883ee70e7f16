//! One HTTP exchange, with transport failures described by kind and host only: a URL can carry
//! a webhook secret or a client secret, so it never reaches an error message.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use crate::error::RestError;

pub(crate) struct Answer {
    pub status: u16,
    pub body: String,
    pub location: Option<String>,
}

/// An agent that never follows redirects (a redirect would resend the token elsewhere) and
/// trusts the operating system's certificate store (corporate proxies install their roots there).
///
/// One per timeout for the whole process, shared by every client: loading the certificate store
/// takes tens of milliseconds (measured: a tab's proof paid 40 ms for it), and a shared pool lets
/// a call card's proof reuse the connection the app's own session keeps to the portal.
pub(crate) fn agent(timeout: Duration) -> Result<ureq::Agent, RestError> {
    static AGENTS: OnceLock<Mutex<HashMap<Duration, ureq::Agent>>> = OnceLock::new();
    let mut agents = AGENTS
        .get_or_init(Mutex::default)
        .lock()
        .unwrap_or_else(|e| e.into_inner());
    if let Some(agent) = agents.get(&timeout) {
        return Ok(agent.clone());
    }
    let tls = native_tls::TlsConnector::new()
        .map_err(|e| RestError::Config(format!("TLS is unavailable: {e}")))?;
    let agent = ureq::AgentBuilder::new()
        .timeout_connect(timeout.min(Duration::from_secs(10)))
        .timeout(timeout)
        .redirects(0)
        .tls_connector(Arc::new(tls))
        .user_agent(concat!("CallCompanion/", env!("CARGO_PKG_VERSION")))
        .build();
    agents.insert(timeout, agent.clone());
    Ok(agent)
}

/// Sends `request` with `json` as its body (already serialised: `batch` needs its commands in
/// order, which a `serde_json::Map` may not keep).
pub(crate) fn send(
    request: ureq::Request,
    json: Option<&str>,
    timeout: Duration,
) -> Result<Answer, RestError> {
    let host = request
        .request_url()
        .ok()
        .map(|u| u.host().to_owned())
        .unwrap_or_default();
    let result = match json {
        Some(body) => request
            .set("Content-Type", "application/json")
            .send_string(body),
        None => request.call(),
    };
    let response = match result {
        Ok(response) => response,
        Err(ureq::Error::Status(_, response)) => response,
        Err(ureq::Error::Transport(transport)) => {
            return Err(transport_error(&transport, &host, timeout))
        }
    };
    let status = response.status();
    let location = response.header("location").map(location_without_secrets);
    let body = response.into_string().map_err(|e| {
        if is_timeout(&e) {
            RestError::Timeout {
                secs: timeout.as_secs(),
            }
        } else {
            RestError::Transport {
                message: format!("{host}: the answer was cut off"),
                request_sent: true,
            }
        }
    })?;
    Ok(Answer {
        status,
        body,
        location,
    })
}

fn transport_error(transport: &ureq::Transport, host: &str, timeout: Duration) -> RestError {
    use ureq::ErrorKind::*;
    let io_timeout = std::error::Error::source(transport)
        .and_then(|s| s.downcast_ref::<std::io::Error>())
        .is_some_and(is_timeout);
    match transport.kind() {
        Dns => RestError::Transport {
            message: format!("cannot find {host} (DNS)"),
            request_sent: false,
        },
        ConnectionFailed if io_timeout => RestError::Transport {
            message: format!("{host} did not accept a connection in time"),
            request_sent: false,
        },
        ConnectionFailed => RestError::Transport {
            message: format!("cannot connect to {host}"),
            request_sent: false,
        },
        InvalidUrl | UnknownScheme | InvalidProxyUrl => RestError::Config(format!(
            "the portal address for {host} is not a valid https URL"
        )),
        TooManyRedirects => RestError::Redirect {
            status: 0,
            location: host.to_owned(),
        },
        Io if io_timeout => RestError::Timeout {
            secs: timeout.as_secs(),
        },
        kind => RestError::Transport {
            message: format!("{host}: {kind}"),
            request_sent: true,
        },
    }
}

fn is_timeout(e: &std::io::Error) -> bool {
    matches!(
        e.kind(),
        std::io::ErrorKind::TimedOut | std::io::ErrorKind::WouldBlock
    )
}

/// Scheme, host and path of a redirect target; its query (which may hold a token) is dropped.
fn location_without_secrets(location: &str) -> String {
    location
        .split(['?', '#'])
        .next()
        .unwrap_or_default()
        .to_owned()
}
