//! Requests to this computer (the app's listener, the simulated portal) from the command line,
//! mock mode and diagnostics: on the app's runtime, never through a proxy (a call centre's
//! `HTTPS_PROXY` is for Bitrix24), no redirect followed.

use std::time::Duration;

/// One answer, whatever its status.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Answer {
    pub status: u16,
    pub body: String,
    /// The `Location` header, when there is one.
    pub location: Option<String>,
}

/// What went wrong before any answer came (the listener or the simulator is not running).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Unreachable(pub String);

impl std::fmt::Display for Unreachable {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// Sends `request` (made with [`agent`]) and reads the whole answer.
pub fn send(request: reqwest::RequestBuilder) -> Result<Answer, Unreachable> {
    crate::rt::block_on(async move {
        let response = request.send().await.map_err(|e| Unreachable(reason(&e)))?;
        let status = response.status().as_u16();
        let location = response
            .headers()
            .get(reqwest::header::LOCATION)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);
        let body = response.text().await.map_err(|e| Unreachable(reason(&e)))?;
        Ok(Answer {
            status,
            body,
            location,
        })
    })
}

/// A client for loopback requests, each bounded by `timeout`.
pub fn agent(timeout: Duration) -> reqwest::Client {
    reqwest::Client::builder()
        .no_proxy()
        .redirect(reqwest::redirect::Policy::none())
        .timeout(timeout)
        .build()
        // Only a TLS backend that cannot start fails here; loopback requests are plain HTTP.
        .unwrap_or_default()
}

fn reason(error: &reqwest::Error) -> String {
    if error.is_connect() {
        "Connection Failed: nothing accepts connections there".into()
    } else if error.is_timeout() {
        "timed out".into()
    } else if error.is_body() || error.is_decode() {
        "the answer was cut off".into()
    } else {
        "the request failed".into()
    }
}
