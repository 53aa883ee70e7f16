//! The local listener: a small HTTP server on loopback that the relay widget (inside Bitrix24's
//! call card) and `call-companion simulate` post call contexts to. Every request is checked for
//! peer, `Host`, `Origin`, rate and pairing token before its body is read; bodies go through the
//! one parser in `callcard`. No `tauri` here: the app passes an [`Intake`] that receives calls.

mod guard;
mod holder;
mod pairing;
mod rate;
mod relay;
mod routes;
mod server;
mod tab;

use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, Instant};

use callcard::{CallContext, ParseError};

pub use guard::{same_origin, same_secret, OriginAllowList};
pub use pairing::{
    mac as token_mac, Pairing, PairingCode, PairingToken, RedeemError, CODE_ATTEMPTS,
    CODE_LIFETIME, HELLO_CONTEXT,
};
pub use rate::RateLimit;
pub use routes::{CALL_CARD_PATH, OAUTH_CALLBACK_PATH, PAIR_PATH, STATUS_PATH};
pub use server::{bind, Bound, ListenError, Running};
pub use tab::{Lang as TabLang, TabPost, TabVerdict, TAB_EVENT_PATH, TAB_HOP, TAB_PATH};

/// Where the app receives what the listener accepts.
/// A future an [`Intake`] answers with, borrowing it.
pub type Pending<'a, T> = std::pin::Pin<Box<dyn std::future::Future<Output = T> + Send + 'a>>;

pub trait Intake: Send + Sync + 'static {
    /// A call context arrived. Says whether the call is new (a repeat of a known `CALL_ID` is
    /// an update and must not pop the window again).
    fn call(&self, context: CallContext) -> Accepted;
    /// A body was refused by the parser; testers see why in the app.
    fn rejected(&self, error: &ParseError);
    /// The browser came back from the portal's sign-in page with this query string (`code`,
    /// `state`, `domain`, …). Runs on a blocking thread: it may call the OAuth server.
    fn oauth_callback(&self, query: &str) -> CallbackPage {
        let _ = query;
        CallbackPage {
            ok: false,
            title: "Call Companion".into(),
            message: "No sign-in was started in Call Companion.".into(),
        }
    }
    /// The origin of the portal's page, the one page that may open the call-card tab this app
    /// serves (`/call-card/`); `None` while the app knows no portal.
    fn tab_origin(&self) -> Option<String> {
        None
    }
    /// Bitrix24's POST opening the tab, from `tab_origin`: the app proves it with the portal
    /// and hands the call on, or says why not. Awaited on the listener's task: the proof is a
    /// request to the portal, and whatever must block runs on the blocking pool.
    fn tab(&self, post: TabPost) -> Pending<'_, TabVerdict> {
        let _ = post;
        Box::pin(async { TabVerdict::NotSignedIn })
    }
}

/// What the browser tab shows after the OAuth redirect.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CallbackPage {
    pub ok: bool,
    pub title: String,
    pub message: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Accepted {
    pub new: bool,
}

#[derive(Debug, Clone)]
pub struct Config {
    /// 0 picks a free port (tests); the app uses 47600 unless told otherwise.
    pub port: u16,
    pub origins: OriginAllowList,
    pub rate: RateLimit,
    /// Time a client has to send the request head, and then the body.
    pub header_timeout: Duration,
    pub body_timeout: Duration,
    /// Connections served at once; more wait in the OS backlog.
    pub max_connections: usize,
    /// Largest accepted `/v1/call-card` body.
    pub max_body: usize,
    pub app_name: String,
    pub app_version: String,
}

impl Config {
    pub fn new(port: u16, app_name: &str, app_version: &str) -> Config {
        Config {
            port,
            origins: OriginAllowList::default(),
            rate: RateLimit::default(),
            header_timeout: Duration::from_secs(5),
            body_timeout: Duration::from_secs(10),
            max_connections: 32,
            max_body: callcard::MAX_INPUT_BYTES,
            app_name: app_name.to_owned(),
            app_version: app_version.to_owned(),
        }
    }
}

/// What every connection shares.
pub struct Shared {
    port: u16,
    origins: RwLock<OriginAllowList>,
    limiter: Mutex<rate::RateLimiter>,
    pairing: Arc<Pairing>,
    intake: Arc<dyn Intake>,
    tab_nonces: Mutex<tab::TabNonces>,
    max_body: usize,
    header_timeout: Duration,
    body_timeout: Duration,
    app_name: String,
    app_version: String,
}

impl Shared {
    fn origins(&self) -> OriginAllowList {
        self.origins
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// IT's allow-list, and the listener's own pages (`/relay/` served from here).
    fn origin_allowed(&self, origin: &str) -> bool {
        self.own_origin(origin) || self.origins().allows(origin)
    }

    /// A page this listener served (`/relay/`, the call-card tab).
    fn own_origin(&self, origin: &str) -> bool {
        [
            format!("http://127.0.0.1:{}", self.port),
            format!("http://localhost:{}", self.port),
            format!("http://[::1]:{}", self.port),
        ]
        .iter()
        .any(|o| o.eq_ignore_ascii_case(origin))
    }

    fn issue_tab_nonce(&self, call_id: &str, now: Instant) -> Option<String> {
        self.tab_nonces
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .issue(call_id, now)
    }

    fn tab_call(&self, nonce: &str, now: Instant) -> Option<String> {
        if nonce.is_empty() {
            return None;
        }
        self.tab_nonces
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .call_of(nonce, now)
    }

    fn rate_check(&self, client: &str, now: Instant) -> Result<(), Duration> {
        self.limiter
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .check(client, now)
    }
}
