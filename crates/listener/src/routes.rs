//! The HTTP contract (README: "The local listener"). `check_head` decides from the request line
//! and headers alone, before any body byte is read; `handle` finishes with the body.

use std::net::IpAddr;
use std::time::Instant;

use http::header::{self, HeaderValue};
use http::{Method, StatusCode};
use serde_json::{json, Value};

use crate::guard::{bearer, host_allowed, peer_allowed};
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
    /// An HTML page instead of JSON (only the OAuth callback, which a browser shows).
    pub page: Option<String>,
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
            page: Some(page),
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

    pub fn error(status: StatusCode, code: &str, message: impl Into<String>) -> Reply {
        Reply::json(status, json!({ "code": code, "message": message.into() }))
    }

    fn with(mut self, name: header::HeaderName, value: &str) -> Reply {
        if let Ok(value) = HeaderValue::from_str(value) {
            self.headers.push((name, value));
        }
        self
    }
}

/// What a request asks for, once its head passed every check.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Route {
    Preflight { private_network: bool },
    Status { paired: bool },
    CallCard,
    Pair,
    OAuthCallback,
    Relay(crate::relay::Asset),
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
            "forbidden_peer",
            "only this computer may connect",
        ));
    }
    let host =
        header_str(parts, header::HOST).or_else(|| parts.uri.authority().map(|a| a.as_str()));
    if !host_allowed(host, shared.port) {
        return Err(Reply::error(
            StatusCode::FORBIDDEN,
            "forbidden_host",
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
        return Err(Reply::error(StatusCode::PERMANENT_REDIRECT, "moved", "see /relay/")
            .with(header::LOCATION, crate::relay::PREFIX));
    }
    if let Some(asset) = crate::relay::asset(path) {
        return match parts.method {
            Method::GET | Method::HEAD | Method::POST => Ok((Route::Relay(asset), RELAY_POST_BODY)),
            _ => Err(Reply::error(
                StatusCode::METHOD_NOT_ALLOWED,
                "method_not_allowed",
                "use GET or POST",
            )
            .with(header::ALLOW, "GET, HEAD, POST")),
        };
    }
    let origin = header_str(parts, header::ORIGIN);
    if let Some(origin) = origin {
        if !shared.origin_allowed(origin) {
            return Err(Reply::error(
                StatusCode::FORBIDDEN,
                "forbidden_origin",
                "this web page's origin is not allowed to reach Call Companion",
            ));
        }
    }
    if let Err(wait) = shared.rate_check(origin.unwrap_or(""), now) {
        let seconds = (wait.as_secs_f64().ceil() as u64).max(1).to_string();
        return Err(Reply::error(
            StatusCode::TOO_MANY_REQUESTS,
            "rate_limited",
            format!("too many requests; retry in {seconds} s"),
        )
        .with(header::RETRY_AFTER, &seconds));
    }
    let allowed_methods = match parts.uri.path() {
        CALL_CARD_PATH | PAIR_PATH => "POST, OPTIONS",
        STATUS_PATH => "GET, OPTIONS",
        OAUTH_CALLBACK_PATH => "GET",
        _ => {
            return Err(Reply::error(
                StatusCode::NOT_FOUND,
                "not_found",
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
            "method_not_allowed",
            format!("use {allowed_methods}"),
        )
        .with(header::ALLOW, allowed_methods));
    }
    let token = shared.pairing.token();
    let paired = bearer(header_str(parts, header::AUTHORIZATION)).is_some_and(|t| token.matches(t));
    let (route, limit, types): (Route, usize, &[&str]) = match parts.uri.path() {
        // Open without a token: the widget must find the app before it can pair. It says
        // nothing but the app's name, version and whether this caller is paired.
        STATUS_PATH => return Ok((Route::Status { paired }, 0)),
        OAUTH_CALLBACK_PATH => return Ok((Route::OAuthCallback, 0)),
        PAIR_PATH => (Route::Pair, MAX_PAIR_BODY, &["application/json"]),
        _ => {
            if !paired {
                return Err(Reply::error(
                    StatusCode::UNAUTHORIZED,
                    "pairing_required",
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
            "unsupported_media_type",
            format!(
                "Content-Type {content_type:?} is not accepted; send {} (UTF-8)",
                types.join(" or ")
            ),
        ));
    }
    let length = header_str(parts, header::CONTENT_LENGTH).map(|l| l.trim().parse::<u64>());
    match length {
        Some(Ok(length)) if length > limit as u64 => Err(too_large(limit)),
        Some(Err(_)) => Err(Reply::error(
            StatusCode::BAD_REQUEST,
            "bad_request",
            "Content-Length is not a number",
        )),
        _ => Ok((route, limit)),
    }
}

pub fn too_large(limit: usize) -> Reply {
    Reply::error(
        StatusCode::PAYLOAD_TOO_LARGE,
        "payload_too_large",
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
        Route::Status { paired } => Reply::json(
            StatusCode::OK,
            json!({ "app": shared.app_name, "version": shared.app_version, "api": 1, "paired": paired }),
        ),
        Route::Pair => pair(body, shared, now),
        Route::Relay(asset) => Reply::asset(asset),
        // Served by `oauth_callback` off the async threads (it waits on the portal).
        Route::OAuthCallback => Reply::error(
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal",
            "misrouted request",
        ),
        Route::CallCard => match callcard::parse(body) {
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
        },
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
            "bad_request",
            r#"expected {"code": "123456"}"#,
        );
    };
    match shared.pairing.redeem(&code, now) {
        Ok(token) => Reply::json(StatusCode::OK, json!({ "token": token.expose() })),
        Err(error) => {
            let code = match error {
                crate::RedeemError::NoCode => "pairing_code_not_open",
                crate::RedeemError::Expired => "pairing_code_expired",
                crate::RedeemError::Wrong { .. } => "pairing_code_wrong",
                crate::RedeemError::Burned => "pairing_code_burned",
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

fn escape_html(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}
