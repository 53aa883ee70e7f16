//! The HTTP contract (README: "The local listener"). `check_head` decides from the request line
//! and headers alone, before any body byte is read; `handle` finishes with the body.

use std::net::IpAddr;
use std::time::Instant;

use http::header::{self, HeaderValue};
use http::{Method, StatusCode};
use serde_json::{json, Value};

use crate::guard::{bearer, host_allowed, peer_allowed};
use crate::tab::{Lang, TabVerdict, TAB_EVENT_PATH, TAB_PATH, TAB_SCRIPT_PATH, TAB_STYLE_PATH};
use crate::Shared;

pub const CALL_CARD_PATH: &str = "/v1/call-card";
pub const STATUS_PATH: &str = "/v1/status";
pub const PAIR_PATH: &str = "/v1/pair";
/// Where the browser lands after signing in to the portal (the OAuth application's redirect
/// address). Open without a token: the `state` parameter ties it to a sign-in the app began.
pub const OAUTH_CALLBACK_PATH: &str = "/v1/oauth/callback";

/// `/relay` without its slash: redirected, so the page's relative links work.
const PREFIX_WITHOUT_SLASH: &str = "/relay";
/// Largest body of Bitrix24's POST that opens the widget (read and dropped).
const RELAY_POST_BODY: usize = 64 * 1024;

/// Largest `/v1/pair` body: `{"code":"123456"}` with room to spare.
const MAX_PAIR_BODY: usize = 1024;

/// An answer: status, JSON body, extra headers.
#[derive(Debug, Clone, PartialEq)]
pub struct Reply {
    pub status: StatusCode,
    pub body: Option<Value>,
    /// An HTML page instead of JSON (the OAuth callback, the call card's tab: a browser shows it).
    pub page: Option<Box<Page>>,
    /// One of the relay widget's files.
    pub asset: Option<crate::relay::Asset>,
    pub headers: Vec<(header::HeaderName, HeaderValue)>,
}

impl Reply {
    pub fn json(status: StatusCode, body: Value) -> Reply {
        Reply {
            status,
            body: Some(body),
            page: None,
            asset: None,
            headers: Vec::new(),
        }
    }

    /// A small HTML page for a browser tab.
    pub fn page(status: StatusCode, title: &str, message: &str) -> Reply {
        let page = format!(
            "<!doctype html><html><head><meta charset=\"utf-8\"><meta name=\"viewport\" content=\"width=device-width\">\
             <title>{title}</title><style>body{{font:16px system-ui,sans-serif;max-width:32rem;margin:15vh auto;padding:0 1rem;color:#1f2328}}\
             h1{{font-size:1.4rem}}@media(prefers-color-scheme:dark){{body{{background:#15181d;color:#e6e8eb}}}}</style></head>\
             <body><h1>{title}</h1><p>{message}</p></body></html>",
            title = escape_html(title),
            message = escape_html(message),
        );
        Reply {
            status,
            body: None,
            page: Some(Box::new(Page {
                html: page,
                csp: None,
            })),
            asset: None,
            headers: Vec::new(),
        }
    }

    /// The call-card tab's page for `verdict`, with the policy that lets it run its script.
    pub fn tab(verdict: &TabVerdict, lang: Lang, nonce: Option<&str>) -> Reply {
        let (library, portal) = match verdict {
            TabVerdict::Sent {
                library, portal, ..
            } if nonce.is_some() => (Some(library.as_str()), Some(portal.as_str())),
            _ => (None, None),
        };
        Reply {
            status: verdict.status(),
            body: None,
            page: Some(Box::new(Page {
                html: crate::tab::page(verdict, lang, nonce),
                csp: Some(crate::tab::content_security_policy(library, portal)),
            })),
            asset: None,
            headers: Vec::new(),
        }
    }

    fn asset(asset: crate::relay::Asset) -> Reply {
        Reply {
            status: StatusCode::OK,
            body: None,
            page: None,
            asset: Some(asset),
            headers: Vec::new(),
        }
    }

    pub fn error(status: StatusCode, code: codes::ErrorCode, message: impl Into<String>) -> Reply {
        Reply::json(status, json!({ "code": code, "message": message.into() }))
    }

    fn with_status(mut self, status: StatusCode) -> Reply {
        self.status = status;
        self
    }

    fn with(mut self, name: header::HeaderName, value: &str) -> Reply {
        if let Ok(value) = HeaderValue::from_str(value) {
            self.headers.push((name, value));
        }
        self
    }
}

/// An HTML page and, when it runs a script (the call card's tab), its own
/// Content-Security-Policy; a page without one runs nothing.
#[derive(Debug, Clone, PartialEq)]
pub struct Page {
    pub html: String,
    pub csp: Option<String>,
}

/// What a request asks for, once its head passed every check.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Route {
    Preflight {
        private_network: bool,
    },
    Status {
        paired: bool,
        /// A relay's random challenge: the answer proves this app holds the pairing token.
        challenge: Option<String>,
    },
    CallCard,
    Pair,
    OAuthCallback,
    Relay(crate::relay::Asset),
    /// Bitrix24's form POST opening the tab the app serves, from the portal's `origin`.
    Tab {
        origin: String,
    },
    /// A later event of a tab this app served, for its call.
    TabEvent {
        call_id: String,
    },
}

/// The checks that need no body, in the order that reveals least to a stranger: where the
/// request comes from, then how fast, then what it asks for, then whether it may.
pub fn check_head(
    parts: &http::request::Parts,
    peer: IpAddr,
    shared: &Shared,
    now: Instant,
) -> Result<(Route, usize), Reply> {
    if !peer_allowed(peer) {
        return Err(Reply::error(
            StatusCode::FORBIDDEN,
            codes::ErrorCode::ForbiddenPeer,
            "only this computer may connect",
        ));
    }
    let host =
        header_str(parts, header::HOST).or_else(|| parts.uri.authority().map(|a| a.as_str()));
    if !host_allowed(host, shared.port) {
        return Err(Reply::error(
            StatusCode::FORBIDDEN,
            codes::ErrorCode::ForbiddenHost,
            format!(
                "Host must be 127.0.0.1:{0}, localhost:{0} or [::1]:{0}",
                shared.port
            ),
        ));
    }
    // The widget's files are public and hold nothing secret: any page may load them (Bitrix24
    // opens the widget with a POST from the portal's origin).
    let path = parts.uri.path();
    if path == PREFIX_WITHOUT_SLASH {
        return Err(Reply::error(
            StatusCode::PERMANENT_REDIRECT,
            codes::ErrorCode::Moved,
            "see /relay/",
        )
        .with(header::LOCATION, crate::relay::PREFIX));
    }
    if let Some(asset) = crate::relay::asset(path) {
        return match parts.method {
            Method::GET | Method::HEAD | Method::POST => Ok((Route::Relay(asset), RELAY_POST_BODY)),
            _ => Err(Reply::error(
                StatusCode::METHOD_NOT_ALLOWED,
                codes::ErrorCode::MethodNotAllowed,
                "use GET or POST",
            )
            .with(header::ALLOW, "GET, HEAD, POST")),
        };
    }
    match path {
        TAB_SCRIPT_PATH | TAB_STYLE_PATH => {
            let asset: crate::relay::Asset = if path == TAB_SCRIPT_PATH {
                ("text/javascript; charset=utf-8", crate::tab::TAB_SCRIPT)
            } else {
                ("text/css; charset=utf-8", crate::tab::TAB_STYLE)
            };
            return match parts.method {
                Method::GET | Method::HEAD => Ok((Route::Relay(asset), 0)),
                _ => Err(Reply::error(
                    StatusCode::METHOD_NOT_ALLOWED,
                    codes::ErrorCode::MethodNotAllowed,
                    "use GET",
                )
                .with(header::ALLOW, "GET, HEAD")),
            };
        }
        TAB_PATH | TAB_PATH_WITHOUT_SLASH => return check_tab(parts, shared, now),
        TAB_EVENT_PATH => return check_tab_event(parts, shared, now),
        _ => {}
    }
    let origin = header_str(parts, header::ORIGIN);
    if let Some(origin) = origin {
        if !shared.origin_allowed(origin) {
            return Err(Reply::error(
                StatusCode::FORBIDDEN,
                codes::ErrorCode::ForbiddenOrigin,
                "this web page's origin is not allowed to reach Call Companion",
            ));
        }
    }
    paced(shared, origin.unwrap_or(""), now)?;
    let allowed_methods = match parts.uri.path() {
        CALL_CARD_PATH | PAIR_PATH => "POST, OPTIONS",
        STATUS_PATH => "GET, OPTIONS",
        OAUTH_CALLBACK_PATH => "GET",
        _ => {
            return Err(Reply::error(
                StatusCode::NOT_FOUND,
                codes::ErrorCode::NotFound,
                format!("no such endpoint; see {STATUS_PATH}"),
            ))
        }
    };
    let method = &parts.method;
    if method == Method::OPTIONS {
        let private_network = header_str(parts, "access-control-request-private-network")
            .is_some_and(|v| v.eq_ignore_ascii_case("true"));
        return Ok((Route::Preflight { private_network }, 0));
    }
    if !allowed_methods.split(", ").any(|m| m == method.as_str()) {
        return Err(Reply::error(
            StatusCode::METHOD_NOT_ALLOWED,
            codes::ErrorCode::MethodNotAllowed,
            format!("use {allowed_methods}"),
        )
        .with(header::ALLOW, allowed_methods));
    }
    let token = shared.pairing.token();
    let paired = bearer(header_str(parts, header::AUTHORIZATION)).is_some_and(|t| token.matches(t));
    let (route, limit, types): (Route, usize, &[&str]) = match parts.uri.path() {
        // Open without a token: the widget must find the app before it can pair. It says
        // nothing but the app's name, version and whether this caller is paired.
        STATUS_PATH => {
            let challenge = challenge(parts.uri.query().unwrap_or_default())?;
            return Ok((Route::Status { paired, challenge }, 0));
        }
        OAUTH_CALLBACK_PATH => return Ok((Route::OAuthCallback, 0)),
        PAIR_PATH => (Route::Pair, MAX_PAIR_BODY, &["application/json"]),
        _ => {
            if !paired {
                return Err(Reply::error(
                    StatusCode::UNAUTHORIZED,
                    codes::ErrorCode::PairingRequired,
                    "missing or wrong pairing token: pair with the code shown in Call Companion's settings",
                )
                .with(header::WWW_AUTHENTICATE, "Bearer"));
            }
            (
                Route::CallCard,
                shared.max_body,
                &[
                    "application/json",
                    "application/x-www-form-urlencoded",
                    "text/plain",
                ],
            )
        }
    };
    let content_type = header_str(parts, header::CONTENT_TYPE).unwrap_or("");
    let (media_type, charset_ok) = media_type(content_type);
    if !types.contains(&media_type.as_str()) || !charset_ok {
        return Err(Reply::error(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            codes::ErrorCode::UnsupportedMediaType,
            format!(
                "Content-Type {content_type:?} is not accepted; send {} (UTF-8)",
                types.join(" or ")
            ),
        ));
    }
    declared_length(parts, limit)?;
    Ok((route, limit))
}

/// `/v1/status`'s `challenge`: 16 to 128 base64url characters, or none.
fn challenge(query: &str) -> Result<Option<String>, Reply> {
    let Some((_, value)) = form_urlencoded::parse(query.as_bytes()).find(|(k, _)| k == "challenge")
    else {
        return Ok(None);
    };
    let fits = (16..=128).contains(&value.len())
        && value
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
    if !fits {
        return Err(Reply::error(
            StatusCode::BAD_REQUEST,
            codes::ErrorCode::BadRequest,
            "challenge must be 16 to 128 base64url characters",
        ));
    }
    Ok(Some(value.into_owned()))
}

/// `429 rate_limited` with `Retry-After` once `client` (an origin) spent its burst.
fn paced(shared: &Shared, client: &str, now: Instant) -> Result<(), Reply> {
    shared.rate_check(client, now).map_err(|wait| {
        let seconds = (wait.as_secs_f64().ceil() as u64).max(1).to_string();
        Reply::error(
            StatusCode::TOO_MANY_REQUESTS,
            codes::ErrorCode::RateLimited,
            format!("too many requests; retry in {seconds} s"),
        )
        .with(header::RETRY_AFTER, &seconds)
    })
}

/// A `Content-Length` over `limit` is refused before the body is read.
fn declared_length(parts: &http::request::Parts, limit: usize) -> Result<(), Reply> {
    match header_str(parts, header::CONTENT_LENGTH).map(|l| l.trim().parse::<u64>()) {
        Some(Ok(length)) if length > limit as u64 => Err(too_large(limit)),
        Some(Err(_)) => Err(Reply::error(
            StatusCode::BAD_REQUEST,
            codes::ErrorCode::BadRequest,
            "Content-Length is not a number",
        )),
        _ => Ok(()),
    }
}

/// `/call-card` as a handler address may be bound without its slash.
const TAB_PATH_WITHOUT_SLASH: &str = "/call-card";

/// The call card's POST to the tab: not from a page of another origin, paced like everything
/// else, a form no larger than a call card's. What it proves is the app's to judge.
///
/// Browsers send `Origin: null` on this POST when the portal's HTTPS page posts to the app's
/// `http:` address under the default referrer policy (the fetch spec's downgrade rule; measured
/// in docs/browsers.md), so a missing or `null` origin is not refused here: the portal's proof of
/// the token decides. A page that names another origin is refused before anything is read.
fn check_tab(
    parts: &http::request::Parts,
    shared: &Shared,
    now: Instant,
) -> Result<(Route, usize), Reply> {
    let lang = Lang::from_query(parts.uri.query().unwrap_or_default());
    let origin = header_str(parts, header::ORIGIN)
        .unwrap_or_default()
        .to_owned();
    if parts.method != Method::POST {
        return Err(Reply::page(
            StatusCode::METHOD_NOT_ALLOWED,
            "Call Companion",
            "Bitrix24 opens this page in the call card of a call; it cannot be opened on its own.",
        )
        .with(header::ALLOW, "POST"));
    }
    let Some(portal) = shared.intake.tab_origin() else {
        return Err(Reply::tab(&TabVerdict::NotSignedIn, lang, None));
    };
    let opaque = origin.is_empty() || origin == "null";
    if !opaque && !crate::guard::same_origin(&origin, &portal) {
        return Err(Reply::tab(
            &TabVerdict::ForeignPortal {
                portal: origin.clone(),
            },
            lang,
            None,
        ));
    }
    if let Err(wait) = shared.rate_check(&origin, now) {
        let seconds = (wait.as_secs_f64().ceil() as u64).max(1).to_string();
        return Err(Reply::tab(
            &TabVerdict::PortalUnreachable {
                code: codes::ErrorCode::RateLimited,
            },
            lang,
            None,
        )
        .with(header::RETRY_AFTER, &seconds)
        .with_status(StatusCode::TOO_MANY_REQUESTS));
    }
    let content_type = header_str(parts, header::CONTENT_TYPE).unwrap_or("");
    let (media_type, charset_ok) = media_type(content_type);
    if media_type != "application/x-www-form-urlencoded" || !charset_ok {
        return Err(Reply::tab(
            &TabVerdict::BadCall {
                code: codes::ErrorCode::UnsupportedMediaType,
                message: format!("Content-Type {content_type:?} is not a form"),
            },
            lang,
            None,
        )
        .with_status(StatusCode::UNSUPPORTED_MEDIA_TYPE));
    }
    declared_length(parts, shared.max_body)?;
    Ok((Route::Tab { origin }, shared.max_body))
}

/// An event from a tab this app served: same origin as the tab (this listener), its nonce.
fn check_tab_event(
    parts: &http::request::Parts,
    shared: &Shared,
    now: Instant,
) -> Result<(Route, usize), Reply> {
    let origin = header_str(parts, header::ORIGIN).unwrap_or_default();
    if !shared.own_origin(origin) {
        return Err(Reply::error(
            StatusCode::FORBIDDEN,
            codes::ErrorCode::ForbiddenOrigin,
            "only the call-card tab this app served may send its events",
        ));
    }
    paced(shared, origin, now)?;
    if parts.method != Method::POST {
        return Err(Reply::error(
            StatusCode::METHOD_NOT_ALLOWED,
            codes::ErrorCode::MethodNotAllowed,
            "use POST",
        )
        .with(header::ALLOW, "POST"));
    }
    let nonce = header_str(parts, "x-tab-nonce").unwrap_or_default();
    let Some(call_id) = shared.tab_call(nonce, now) else {
        return Err(Reply::error(
            StatusCode::UNAUTHORIZED,
            codes::ErrorCode::TabNonceUnknown,
            "this tab is not one Call Companion opened (or it is too old): reopen the call card's tab",
        ));
    };
    let (media_type, charset_ok) =
        media_type(header_str(parts, header::CONTENT_TYPE).unwrap_or(""));
    if media_type != "application/json" || !charset_ok {
        return Err(Reply::error(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            codes::ErrorCode::UnsupportedMediaType,
            "send application/json (UTF-8)",
        ));
    }
    declared_length(parts, shared.max_body)?;
    Ok((Route::TabEvent { call_id }, shared.max_body))
}

pub fn too_large(limit: usize) -> Reply {
    Reply::error(
        StatusCode::PAYLOAD_TOO_LARGE,
        codes::ErrorCode::PayloadTooLarge,
        format!("the body is larger than {limit} bytes"),
    )
}

/// Answers a request whose head passed [`check_head`], given its whole body.
pub fn handle(route: Route, body: &[u8], shared: &Shared, now: Instant) -> Reply {
    match route {
        Route::Preflight { private_network } => {
            let mut reply = Reply {
                status: StatusCode::NO_CONTENT,
                body: None,
                page: None,
                asset: None,
                headers: Vec::new(),
            }
            .with(header::ACCESS_CONTROL_ALLOW_METHODS, "GET, POST, OPTIONS")
            .with(
                header::ACCESS_CONTROL_ALLOW_HEADERS,
                "authorization, content-type",
            )
            .with(header::ACCESS_CONTROL_MAX_AGE, "600");
            if private_network {
                // Chrome's Private Network Access: a public page may reach this loopback server.
                reply = reply.with(
                    header::HeaderName::from_static("access-control-allow-private-network"),
                    "true",
                );
            }
            reply
        }
        Route::Status { paired, challenge } => {
            let mut answer = json!({ "app": shared.app_name, "version": shared.app_version, "api": 1, "paired": paired });
            if let Some(challenge) = challenge {
                answer["proof"] = shared
                    .pairing
                    .token()
                    .mac(crate::HELLO_CONTEXT, challenge.as_bytes())
                    .into();
            }
            Reply::json(StatusCode::OK, answer)
        }
        Route::Pair => pair(body, shared, now),
        Route::Relay(asset) => Reply::asset(asset),
        Route::TabEvent { call_id } => accept_call(body, shared, Some(&call_id)),
        // Served by `oauth_callback` (on the blocking pool) and `tab` (awaited).
        Route::OAuthCallback | Route::Tab { .. } => Reply::error(
            StatusCode::INTERNAL_SERVER_ERROR,
            codes::ErrorCode::Internal,
            "misrouted request",
        ),
        Route::CallCard => accept_call(body, shared, None),
    }
}

/// A call context through the one parser to the app; a tab's event (`only`) may update only the
/// call the tab was opened for.
fn accept_call(body: &[u8], shared: &Shared, only: Option<&str>) -> Reply {
    match callcard::parse(body) {
        Ok(context) if only.is_some_and(|id| id != context.call_id) => Reply::error(
            StatusCode::CONFLICT,
            codes::ErrorCode::TabCallMismatch,
            "this tab was opened for another call",
        ),
        Ok(context) => {
            let call_id = context.call_id.clone();
            let accepted = shared.intake.call(context);
            Reply::json(
                StatusCode::ACCEPTED,
                json!({ "call_id": call_id, "new": accepted.new }),
            )
        }
        Err(error) => {
            shared.intake.rejected(&error);
            Reply::error(StatusCode::BAD_REQUEST, error.code(), error.to_string())
        }
    }
}

/// The call card's POST to the tab, judged by the app (awaited: it asks the portal); an
/// accepted tab gets a nonce for its events.
pub async fn tab(origin: &str, query: &str, body: Vec<u8>, shared: &Shared) -> Reply {
    let lang = Lang::from_query(query);
    let verdict = shared
        .intake
        .tab(crate::tab::TabPost {
            origin: origin.to_owned(),
            query: query.to_owned(),
            body,
            port: shared.port,
        })
        .await;
    let now = Instant::now();
    let nonce = match &verdict {
        TabVerdict::Sent { call_id, .. } => shared.issue_tab_nonce(call_id, now),
        _ => None,
    };
    let reply = Reply::tab(&verdict, lang, nonce.as_deref());
    match &verdict {
        // The same POST, body and all, to the agent's own app (a 307 keeps method and body), its
        // query marked so it is never handed on again.
        TabVerdict::HandedOn { port, .. } => {
            let separator = if query.is_empty() { "" } else { "&" };
            let location = format!(
                "http://127.0.0.1:{port}{TAB_PATH}?{query}{separator}{}=1",
                crate::tab::TAB_HOP
            );
            reply.with(header::LOCATION, &location)
        }
        _ => reply,
    }
}

fn pair(body: &[u8], shared: &Shared, now: Instant) -> Reply {
    let code = serde_json::from_slice::<Value>(body)
        .ok()
        .and_then(|v| match v.get("code") {
            Some(Value::String(code)) => Some(code.clone()),
            Some(Value::Number(n)) => Some(format!("{n:0>6}")),
            _ => None,
        });
    let Some(code) = code else {
        return Reply::error(
            StatusCode::BAD_REQUEST,
            codes::ErrorCode::BadRequest,
            r#"expected {"code": "123456"}"#,
        );
    };
    match shared.pairing.redeem(&code, now) {
        Ok(token) => Reply::json(StatusCode::OK, json!({ "token": token.expose() })),
        Err(error) => {
            let code = match error {
                crate::RedeemError::NoCode => codes::ErrorCode::PairingCodeNotOpen,
                crate::RedeemError::Expired => codes::ErrorCode::PairingCodeExpired,
                crate::RedeemError::Wrong { .. } => codes::ErrorCode::PairingCodeWrong,
                crate::RedeemError::Burned => codes::ErrorCode::PairingCodeBurned,
            };
            Reply::error(StatusCode::UNAUTHORIZED, code, error.to_string())
        }
    }
}

/// CORS answers for an allowed origin; added to every reply, errors included, so the widget
/// can read why a request failed.
pub fn cors(reply: &mut Reply, origin: Option<&str>, shared: &Shared) {
    if let Some(origin) = origin.filter(|o| shared.origin_allowed(o)) {
        if let Ok(value) = HeaderValue::from_str(origin) {
            reply
                .headers
                .push((header::ACCESS_CONTROL_ALLOW_ORIGIN, value));
        }
    }
    reply
        .headers
        .push((header::VARY, HeaderValue::from_static("Origin")));
}

fn header_str(parts: &http::request::Parts, name: impl header::AsHeaderName) -> Option<&str> {
    parts.headers.get(name).and_then(|v| v.to_str().ok())
}

/// `application/json; charset=UTF-8` → (`application/json`, true). Only UTF-8 is accepted.
fn media_type(content_type: &str) -> (String, bool) {
    let mut parts = content_type.split(';');
    let media = parts.next().unwrap_or("").trim().to_ascii_lowercase();
    let charset_ok = parts.all(|p| {
        let (name, value) = p.split_once('=').unwrap_or((p, ""));
        !name.trim().eq_ignore_ascii_case("charset")
            || value.trim().trim_matches('"').eq_ignore_ascii_case("utf-8")
    });
    (media, charset_ok)
}

/// The browser's return from the portal's sign-in page: the app finishes the sign-in (it
/// exchanges the code, which takes a round trip to the OAuth server) and the tab says how it went.
pub fn oauth_callback(query: &str, shared: &Shared) -> Reply {
    let outcome = shared.intake.oauth_callback(query);
    let status = if outcome.ok {
        StatusCode::OK
    } else {
        StatusCode::BAD_REQUEST
    };
    Reply::page(status, &outcome.title, &outcome.message)
}

pub(crate) fn escape_html(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}
