//! One HTTP exchange on `reqwest`, with transport failures described by kind and host only: a
//! URL can carry a webhook secret or a client secret, so it never reaches an error message.

use std::collections::HashMap;
use std::sync::{Mutex, OnceLock};
use std::time::Duration;

use crate::error::RestError;

pub(crate) struct Answer {
    pub status: u16,
    pub body: String,
    pub location: Option<String>,
}

/// A client that never follows redirects (a redirect would resend the token elsewhere), trusts
/// the operating system's certificate store (native TLS: corporate proxies install their roots
/// there) and takes its proxy from the environment (`HTTPS_PROXY`, `HTTP_PROXY`, `ALL_PROXY`,
/// `NO_PROXY`) and, on Windows and macOS, from the system's settings (reqwest's `system-proxy`).
///
/// One per connect timeout for the whole process, shared by every client: loading the
/// certificate store takes tens of milliseconds (measured: a tab's proof paid 40 ms for it), and
/// a shared pool lets a call card's proof reuse the connection the app's own session keeps to the
/// portal. Its connections live on the tokio runtime that opened them: the app has one.
pub(crate) fn agent(connect_timeout: Duration) -> Result<reqwest::Client, RestError> {
    static AGENTS: OnceLock<Mutex<HashMap<Duration, reqwest::Client>>> = OnceLock::new();
    let connect_timeout = connect_timeout.min(Duration::from_secs(10));
    let mut agents = AGENTS
        .get_or_init(Mutex::default)
        .lock()
        .unwrap_or_else(|e| e.into_inner());
    if let Some(agent) = agents.get(&connect_timeout) {
        return Ok(agent.clone());
    }
    let agent = reqwest::Client::builder()
        .connect_timeout(connect_timeout)
        .redirect(reqwest::redirect::Policy::none())
        .user_agent(concat!("CallCompanion/", env!("CARGO_PKG_VERSION")))
        .build()
        .map_err(|e| RestError::Config(format!("TLS is unavailable: {}", e.without_url())))?;
    agents.insert(connect_timeout, agent.clone());
    Ok(agent)
}

/// Sends `request` with `json` as its body (already serialised: `batch` needs its commands in
/// order, which a `serde_json::Map` may not keep). `timeout` bounds the whole exchange.
pub(crate) async fn send(
    request: reqwest::RequestBuilder,
    json: Option<String>,
    timeout: Duration,
) -> Result<Answer, RestError> {
    let request = match json {
        Some(body) => request
            .header(reqwest::header::CONTENT_TYPE, "application/json")
            .body(body),
        None => request,
    };
    let (agent, request) = request.timeout(timeout).build_split();
    let request = request
        .map_err(|_| RestError::Config("the portal address is not a valid https URL".into()))?;
    let host = request.url().host_str().unwrap_or_default().to_owned();
    let response = agent
        .execute(request)
        .await
        .map_err(|e| transport_error(&e, &host, timeout))?;
    let status = response.status().as_u16();
    let location = response
        .headers()
        .get(reqwest::header::LOCATION)
        .and_then(|v| v.to_str().ok())
        .map(location_without_secrets);
    let body = response.text().await.map_err(|e| {
        if e.is_timeout() {
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

/// Whether a failed request may have reached the portal decides whether a write is resent
/// (`retry.rs`): only a failure to connect proves it did not. reqwest says `is_connect` for DNS,
/// refused and timed-out connections (and for a proxy that refused the tunnel); anything after
/// that (a reset, a timeout while waiting for the answer) may have come after the portal acted.
pub(crate) fn transport_error(error: &reqwest::Error, host: &str, timeout: Duration) -> RestError {
    if error.is_builder() {
        return RestError::Config(format!(
            "the portal address for {host} is not a valid https URL"
        ));
    }
    if error.is_redirect() {
        return RestError::Redirect {
            status: 0,
            location: host.to_owned(),
        };
    }
    if error.is_connect() {
        let message = if is_dns(error) {
            format!("cannot find {host} (DNS)")
        } else if error.is_timeout() || has_io_kind(error, std::io::ErrorKind::TimedOut) {
            format!("{host} did not accept a connection in time")
        } else {
            format!("cannot connect to {host}")
        };
        return RestError::Transport {
            message,
            request_sent: false,
        };
    }
    if error.is_timeout() {
        return RestError::Timeout {
            secs: timeout.as_secs(),
        };
    }
    RestError::Transport {
        message: format!("{host}: the connection failed before the answer came"),
        request_sent: true,
    }
}

/// reqwest has no kind for a failed name lookup; hyper's resolver error names itself.
fn is_dns(error: &reqwest::Error) -> bool {
    let mut source = std::error::Error::source(error);
    while let Some(e) = source {
        let text = format!("{e:?}");
        if text.contains("dns error") || text.contains("failed to lookup address") {
            return true;
        }
        source = e.source();
    }
    false
}

fn has_io_kind(error: &reqwest::Error, kind: std::io::ErrorKind) -> bool {
    let mut source = std::error::Error::source(error);
    while let Some(e) = source {
        if e.downcast_ref::<std::io::Error>()
            .is_some_and(|io| io.kind() == kind)
        {
            return true;
        }
        source = e.source();
    }
    false
}

/// Scheme, host and path of a redirect target; its query (which may hold a token) is dropped.
fn location_without_secrets(location: &str) -> String {
    location
        .split(['?', '#'])
        .next()
        .unwrap_or_default()
        .to_owned()
}
