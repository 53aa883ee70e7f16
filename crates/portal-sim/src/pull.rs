//! Bitrix24's Push & Pull for applications: the REST methods `pull.application.config.get` and
//! `pull.application.event.add` (Bitrix's `pull` module, `lib/rest.php`), the application
//! channels they name and sign, and the push server (protocol v4, "Bitrix Push server 2.0") on a
//! port of its own: WebSocket at `/subws/`, long polling at `/sub/`, text mode only.
//! `/work/shared/bitrix24-push.md` is the fact sheet; the README maps each behaviour to its
//! source.
//!
//! The WebSocket is accepted through hyper's upgrade on the same HTTP server that answers long
//! polling: one port serves both paths, as the real server does, and refusing an upgrade (the
//! `push_refuse_websocket` fault) is an ordinary HTTP 503 answer.

use std::collections::{HashMap, VecDeque};
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use futures_util::{SinkExt, StreamExt};
use hmac::{Hmac, Mac};
use http::{header, HeaderValue, Method, Request, Response, StatusCode};
use http_body_util::Full;
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use serde_json::{json, Map, Value};
use sha1::Sha1;
use tokio::sync::mpsc;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
use tokio_tungstenite::tungstenite::protocol::{CloseFrame, Role, WebSocketConfig};
use tokio_tungstenite::tungstenite::Message as Frame;
use tokio_tungstenite::WebSocketStream;

use crate::methods::{param, Answer};
use crate::portal::{ApiError, Caller, Portal, SimConfig};
use crate::server::Shared;

/// Messages are kept a day (`messageTTL` 86400; the portal sends `expiry` 86400).
const HISTORY_SECS: f64 = 86_400.0;
/// A reconnect with `mid` replays at most 100 messages per channel and 200 in all.
const REPLAY_PER_CHANNEL: usize = 100;
const REPLAY_TOTAL: usize = 200;
const WRONG_CHANNEL: (u16, &str) = (4010, "Wrong Channel Id.");
const TOO_MANY: (u16, &str) = (4029, "Too many connections");
/// `Expires` of a long poll that timed out: the clients recognise the answer by it.
const POLL_EXPIRES: &str = "Thu, 01 Jan 1973 11:11:01 GMT";

/// An application channel: 32 hex characters, with a public id when it is a user's.
#[derive(Debug, Clone)]
struct Channel {
    id: String,
    public_id: Option<String>,
    start: f64,
}

/// A stored message: one publish, on one or more channels.
#[derive(Debug)]
pub(crate) struct Message {
    counter: u64,
    mid: String,
    /// The portal's JSON body, written into the envelope's `text` as it is.
    body: String,
    at: f64,
}

/// What the push server tells a connection.
#[derive(Debug)]
pub(crate) enum Push {
    Messages(Vec<Arc<Message>>),
    /// Close with a code and reason (4029).
    Close(u16, &'static str),
    /// Drop the socket without a close frame.
    Drop,
}

struct Connection {
    id: u64,
    /// The raw channel ids (private and public parts) it receives on.
    receivers: Vec<String>,
    /// Its channels that have a public id: the per-channel connection cap counts these.
    capped: Vec<String>,
    tx: mpsc::UnboundedSender<Push>,
}

/// The push side of the portal: channels per (client id, user; 0 is the shared one), the
/// history per channel and the open connections, oldest first.
pub(crate) struct Pull {
    key: String,
    start_date: u64,
    counter: u64,
    pub(crate) ws_url: String,
    pub(crate) lp_url: String,
    channels: HashMap<(String, u64), Channel>,
    public_channels: HashMap<u64, (String, f64)>,
    history: HashMap<String, VecDeque<Arc<Message>>>,
    connections: Vec<Connection>,
    next_connection: u64,
}

impl Pull {
    pub(crate) fn new(config: &SimConfig, now: f64) -> Pull {
        Pull {
            key: config.push_signature_key.clone(),
            start_date: now as u64,
            counter: 0,
            ws_url: String::new(),
            lp_url: String::new(),
            channels: HashMap::new(),
            public_channels: HashMap::new(),
            history: HashMap::new(),
            connections: Vec::new(),
            next_connection: 1,
        }
    }

    /// `hex(HMAC-SHA1(key, data))`, as the portal signs and the push server verifies.
    pub(crate) fn sign(&self, data: &str) -> String {
        let mut mac =
            Hmac::<Sha1>::new_from_slice(self.key.as_bytes()).expect("HMAC takes any key");
        mac.update(data.as_bytes());
        mac.finalize()
            .into_bytes()
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect()
    }

    /// The id the portal hands out: `priv:pub.sig` for a user's channel, `id.sig` for the shared.
    fn signed(&self, channel: &Channel) -> String {
        match &channel.public_id {
            Some(public) => {
                let data = format!("{}:{public}", channel.id);
                let sig = self.sign(&data);
                format!("{data}.{sig}")
            }
            None => format!("{}.{}", channel.id, self.sign(&channel.id)),
        }
    }

    fn signed_public(&self, public: &str) -> String {
        format!("{public}.{}", self.sign(&format!("public:{public}")))
    }

    /// The raw channel ids a `CHANNEL_ID` names, with the ones under the connection cap; `None`
    /// when any part is malformed or badly signed (the server then takes no channel at all).
    fn parse_channel_ids(&self, value: &str) -> Option<(Vec<String>, Vec<String>)> {
        if value.is_empty() {
            return None;
        }
        let (mut receivers, mut capped) = (Vec::new(), Vec::new());
        for part in value.split('/') {
            let (private, public, signature) = split_channel_id(part)?;
            let data = match public {
                Some(public) => format!("{private}:{public}"),
                None => private.to_owned(),
            };
            if signature? != self.sign(&data) {
                return None;
            }
            receivers.push(private.to_owned());
            if let Some(public) = public {
                receivers.push(public.to_owned());
                capped.push(private.to_owned());
            }
        }
        Some((receivers, capped))
    }
}

/// `^([a-f0-9]{32})(?::([a-f0-9]{32}))?(?:\.([a-f0-9]{32,128}))?$`.
fn split_channel_id(part: &str) -> Option<(&str, Option<&str>, Option<&str>)> {
    let hex = |s: &str| s.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'));
    let private = part.get(..32).filter(|p| hex(p))?;
    let mut rest = &part[32..];
    let mut public = None;
    if let Some(after) = rest.strip_prefix(':') {
        public = Some(after.get(..32).filter(|p| hex(p))?);
        rest = &after[32..];
    }
    let mut signature = None;
    if let Some(after) = rest.strip_prefix('.') {
        if !(32..=128).contains(&after.len()) || !hex(after) {
            return None;
        }
        signature = Some(after);
        rest = "";
    }
    rest.is_empty().then_some((private, public, signature))
}

fn answer(result: Value) -> Answer {
    Answer {
        result,
        total: None,
        next: None,
    }
}

/// Application context and the `pull` scope: the REST framework checks the scope before the
/// method runs; the method itself refuses a caller without an OAuth client id.
fn application(portal: &Portal, caller: &Caller) -> Result<String, ApiError> {
    if !portal.config.scope.split(',').any(|s| s.trim() == "pull") {
        return Err(ApiError::new(
            403,
            "insufficient_scope",
            "The request requires higher privileges than provided by the access token",
        ));
    }
    match caller {
        Caller::App { app, .. } => Ok(app.clone()),
        Caller::Webhook { .. } => Err(ApiError::new(
            403,
            "WRONG_AUTH_TYPE",
            "Get access to application config available only for application authorization.",
        )),
    }
}

/// The application's channel of `user` (0: its shared channel), issued anew once its 43205 s
/// are over, in which case `channel_expire` goes to the old one (`CPullChannel::Get`).
fn channel(portal: &mut Portal, app: &str, user: u64, now: f64) -> Channel {
    let ttl = portal.config.push_channel_ttl_secs as f64;
    let key = (app.to_owned(), user);
    let old = match portal.pull.channels.get(&key) {
        Some(current) if current.start + ttl > now => return current.clone(),
        other => other.cloned(),
    };
    let fresh = new_channel(portal, user, now);
    portal.pull.channels.insert(key, fresh.clone());
    if let Some(old) = old {
        expire(portal, app, user, &old, &fresh, now);
    }
    fresh
}

fn new_channel(portal: &mut Portal, user: u64, now: f64) -> Channel {
    let id = portal.new_secret(16);
    let public_id = (user != 0).then(|| portal.new_secret(16));
    Channel {
        id,
        public_id,
        start: now.floor(),
    }
}

/// `pull/channel_expire` to the old channel: `action: "get_config"` (the channel's type is the
/// client id, not `shared`), with `new_channel` for the shared one (`sendChannelExpired`).
fn expire(portal: &mut Portal, app: &str, user: u64, old: &Channel, fresh: &Channel, now: f64) {
    let mut params = format!(
        r#"{{"action":"get_config","channel":{{"id":{},"type":{}}}"#,
        Value::String(portal.pull.signed(old)),
        Value::String(app.to_owned())
    );
    if user == 0 {
        let new_channel = channel_json(portal, fresh, app);
        params.push_str(&format!(r#","new_channel":{new_channel}"#));
    }
    params.push('}');
    let body = body(portal, "pull", "channel_expire", &params, now);
    publish(portal, std::slice::from_ref(&old.id), body, now);
}

fn channel_json(portal: &Portal, channel: &Channel, kind: &str) -> Value {
    let ttl = portal.config.push_channel_ttl_secs as i64;
    let start = channel.start as i64;
    let mut value = json!({
        "id": portal.pull.signed(channel),
        "start": crate::data::date(start),
        "end": crate::data::date(start + ttl),
        "type": kind,
    });
    if let Some(public) = &channel.public_id {
        value["public_id"] = json!(portal.pull.signed_public(public));
    }
    value
}

/// `pull.application.config.get` (`CACHE`, `REOPEN` have no effect).
pub(crate) fn config_get(portal: &mut Portal, caller: &Caller) -> Result<Answer, ApiError> {
    let app = application(portal, caller)?;
    let user = caller.user_id();
    let now = crate::now();
    let shared = channel(portal, &app, 0, now);
    let private = channel(portal, &app, user, now);
    let public_channel = match portal.pull.public_channels.get(&user) {
        Some(found) => found.clone(),
        None => {
            let made = (portal.new_secret(16), now.floor());
            portal.pull.public_channels.insert(user, made.clone());
            made
        }
    };
    let ttl = portal.config.push_channel_ttl_secs as i64;
    let pull = &portal.pull;
    let mut public = Map::new();
    public.insert(
        user.to_string(),
        json!({
            "user_id": user,
            "public_id": public_channel.0,
            "signature": pull.sign(&format!("public:{}", public_channel.0)),
            "start": crate::data::date(public_channel.1 as i64),
            "end": crate::data::date(public_channel.1 as i64 + ttl),
        }),
    );
    Ok(answer(json!({
        "server": {
            "version": 4,
            "server_enabled": true,
            "mode": "personal",
            "long_polling": pull.lp_url,
            "long_pooling_secure": pull.lp_url,
            "websocket_enabled": true,
            "websocket": pull.ws_url,
            "websocket_secure": pull.ws_url,
            "publish_enabled": false,
            "publish": "",
            "publish_secure": "",
            "config_timestamp": pull.start_date,
        },
        "api": {"revision_web": 19, "revision_mobile": 3},
        "channels": {
            "shared": channel_json(portal, &shared, "shared"),
            "private": channel_json(portal, &private, "private"),
        },
        "exp": now as u64 + 86_400,
        "publicChannels": public,
    })))
}

/// `pull.application.event.add`, validated in the code's order: auth, `USER_ID`, `MODULE_ID`,
/// `COMMAND`, `PARAMS`; then `true`, whatever happens to the message.
pub(crate) fn event_add(
    portal: &mut Portal,
    caller: &Caller,
    params: &Map<String, Value>,
) -> Result<Answer, ApiError> {
    let app = application(portal, caller)?;
    let bad = |code: &str, text: &str| ApiError::new(400, code, text);
    let me = caller.user_id();
    let users: Vec<u64> = if me == 1 {
        // The administrator: a number, a list, or a JSON string of either; `intval`, ids <= 0
        // dropped; none at all (or 0) is the shared channel.
        let mut value = param(params, "USER_ID").cloned().unwrap_or(Value::Null);
        if let Value::String(text) = &value {
            value = serde_json::from_str(text).unwrap_or(value);
        }
        match value {
            Value::Array(list) => {
                let mut ids: Vec<u64> = Vec::new();
                for id in list.iter().map(crate::records::intval) {
                    if id > 0 && !ids.contains(&(id as u64)) {
                        ids.push(id as u64);
                    }
                }
                ids
            }
            Value::Object(map) => {
                let mut ids: Vec<u64> = Vec::new();
                for id in map.values().map(crate::records::intval) {
                    if id > 0 && !ids.contains(&(id as u64)) {
                        ids.push(id as u64);
                    }
                }
                ids
            }
            other => vec![crate::records::intval(&other).max(0) as u64],
        }
    } else {
        match param(params, "USER_ID") {
            None | Some(Value::Null) => vec![0],
            // `$params['USER_ID'] === $USER->GetId()`: the caller's own id, as a string.
            Some(Value::String(id)) if *id == me.to_string() => vec![me],
            Some(_) => {
                return Err(bad(
                    "USER_ID_ACCESS_ERROR",
                    "Only admin can send notifications to other channels",
                ))
            }
        }
    };
    let module_id = match param(params, "MODULE_ID") {
        None | Some(Value::Null) => "application".to_owned(),
        Some(value) => {
            let text = scalar(value).unwrap_or_default();
            if text
                .bytes()
                .any(|b| !matches!(b, b'a'..=b'z' | b'0'..=b'9' | b'.' | b'_'))
            {
                return Err(bad("MODULE_ID_ERROR", "Module ID format error"));
            }
            text.to_lowercase()
        }
    };
    let command = param(params, "COMMAND")
        .and_then(scalar)
        .unwrap_or_default();
    if command.is_empty()
        || command
            .bytes()
            .any(|b| !(b.is_ascii_alphanumeric() || b"_:|.-".contains(&b)))
    {
        return Err(bad("COMMAND_ERROR", "Command format error"));
    }
    let event_params = match param(params, "PARAMS") {
        None | Some(Value::Null) => Value::Array(Vec::new()),
        Some(Value::String(text)) => match serde_json::from_str::<Value>(text) {
            Ok(value @ (Value::Object(_) | Value::Array(_))) => value,
            _ => return Err(bad("PARAMS_ERROR", "Params format error")),
        },
        Some(value @ (Value::Object(_) | Value::Array(_))) => value.clone(),
        Some(_) => return Err(bad("PARAMS_ERROR", "Params format error")),
    };
    let now = crate::now();
    let params_text = match &event_params {
        Value::Object(map) if map.is_empty() => "[]".to_owned(),
        other => other.to_string(),
    };
    let body = body(portal, &module_id, &command, &params_text, now);
    let channels: Vec<String> = users
        .iter()
        .map(|user| channel(portal, &app, *user, now).id)
        .collect();
    if !channels.is_empty() {
        publish(portal, &channels, body, now);
    }
    Ok(answer(Value::Bool(true)))
}

/// A string or number as PHP's string functions see it.
fn scalar(value: &Value) -> Option<String> {
    match value {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

/// The body as the portal encodes it (`Event::prepareParameters`), in PHP's key order.
fn body(portal: &Portal, module_id: &str, command: &str, params: &str, now: f64) -> String {
    format!(
        r#"{{"module_id":{},"command":{},"params":{params},"extra":{{"server_time":{},"server_time_unix":{now:.6},"server_name":{},"revision_web":19,"revision_mobile":3}}}}"#,
        Value::String(module_id.to_owned()),
        Value::String(command.to_owned()),
        Value::String(crate::data::date(now as i64)),
        Value::String(portal.config.domain.clone()),
    )
}

/// Stores a message on `channels` and hands it to every connection receiving on one of them.
pub(crate) fn publish(portal: &mut Portal, channels: &[String], body: String, now: f64) {
    let pull = &mut portal.pull;
    pull.counter += 1;
    let message = Arc::new(Message {
        counter: pull.counter,
        mid: format!("{:010}{:016}", pull.start_date, pull.counter),
        body,
        at: now,
    });
    for channel in channels {
        let stored = pull.history.entry(channel.clone()).or_default();
        while stored
            .front()
            .is_some_and(|m| m.at + HISTORY_SECS < now || stored.len() >= REPLAY_PER_CHANNEL)
        {
            stored.pop_front();
        }
        stored.push_back(message.clone());
    }
    for connection in &pull.connections {
        if connection.receivers.iter().any(|r| channels.contains(r)) {
            let _ = connection.tx.send(Push::Messages(vec![message.clone()]));
        }
    }
    portal.stats.push_published += 1;
}

/// The one-shot push faults, taken as soon as they are set.
pub(crate) fn apply_faults(portal: &mut Portal, now: f64) {
    if std::mem::take(&mut portal.faults.push_expire_channels) {
        let mut keys: Vec<(String, u64)> = portal.pull.channels.keys().cloned().collect();
        keys.sort();
        for (app, user) in keys {
            let Some(old) = portal.pull.channels.get(&(app.clone(), user)).cloned() else {
                continue;
            };
            let fresh = new_channel(portal, user, now);
            portal
                .pull
                .channels
                .insert((app.clone(), user), fresh.clone());
            expire(portal, &app, user, &old, &fresh, now);
        }
    }
    let restart = std::mem::take(&mut portal.faults.push_restart);
    let drop = std::mem::take(&mut portal.faults.push_drop_sockets);
    if restart || drop {
        for connection in portal.pull.connections.drain(..) {
            let _ = connection.tx.send(Push::Drop);
        }
        portal.stats.push_connections = 0;
    }
}

/// A new connection: registered (the oldest on a full channel closed with 4029), with what it
/// missed since `mid`.
fn register(
    portal: &mut Portal,
    receivers: Vec<String>,
    capped: Vec<String>,
    mid: Option<&str>,
) -> (u64, mpsc::UnboundedReceiver<Push>, Vec<Arc<Message>>) {
    let limit = portal.config.push_max_connections_per_channel.max(1);
    let pull = &mut portal.pull;
    for channel in &capped {
        let on_channel = pull
            .connections
            .iter()
            .filter(|c| c.capped.contains(channel))
            .count();
        if on_channel >= limit {
            if let Some(index) = pull
                .connections
                .iter()
                .position(|c| c.capped.contains(channel))
            {
                let oldest = pull.connections.remove(index);
                let _ = oldest.tx.send(Push::Close(TOO_MANY.0, TOO_MANY.1));
            }
        }
    }
    let mut missed: Vec<Arc<Message>> = Vec::new();
    if let Some(mid) = mid {
        for channel in &receivers {
            if let Some(stored) = pull.history.get(channel) {
                let newer: Vec<&Arc<Message>> =
                    stored.iter().filter(|m| m.mid.as_str() > mid).collect();
                let skip = newer.len().saturating_sub(REPLAY_PER_CHANNEL);
                missed.extend(newer.into_iter().skip(skip).cloned());
            }
        }
        missed.sort_by_key(|m| m.counter);
        missed.dedup_by_key(|m| m.counter);
        let skip = missed.len().saturating_sub(REPLAY_TOTAL);
        missed.drain(..skip);
    }
    let (tx, rx) = mpsc::unbounded_channel();
    let id = pull.next_connection;
    pull.next_connection += 1;
    pull.connections.push(Connection {
        id,
        receivers,
        capped,
        tx,
    });
    portal.stats.push_connections = portal.pull.connections.len() as u64;
    (id, rx, missed)
}

fn unregister(shared: &Shared, id: u64) {
    let mut portal = lock(shared);
    portal.pull.connections.retain(|c| c.id != id);
    portal.stats.push_connections = portal.pull.connections.len() as u64;
}

fn lock(shared: &Shared) -> std::sync::MutexGuard<'_, Portal> {
    shared.portal.lock().unwrap_or_else(|e| e.into_inner())
}

/// Text-mode envelopes, one per message, stamped at dispatch (`connection.js`).
fn envelopes(messages: &[Arc<Message>]) -> String {
    let now = std::time::SystemTime::now();
    let millis = now
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis())
        .unwrap_or(0)
        .to_string();
    let tag = &millis[millis.len().saturating_sub(3)..];
    let time = httpdate::fmt_http_date(now);
    messages
        .iter()
        .map(|m| {
            format!(
                r##"#!NGINXNMS!#{{"id":{},"mid":"{}","channel":"-","tag":"{tag}","time":"{time}","text":{}}}#!NGINXNME!#"##,
                m.counter, m.mid, m.body
            )
        })
        .collect()
}

/// Waits `push_delay_ms`, counts the delivery and renders the messages.
async fn deliver(shared: &Shared, messages: &[Arc<Message>]) -> String {
    let delay = lock(shared).faults.push_delay_ms;
    if delay > 0 {
        tokio::time::sleep(Duration::from_millis(delay)).await;
    }
    lock(shared).stats.push_delivered += messages.len() as u64;
    envelopes(messages)
}

/// Serves the push server's port until the runtime stops.
pub(crate) async fn serve(listener: tokio::net::TcpListener, shared: Arc<Shared>) {
    loop {
        let Ok((stream, _)) = listener.accept().await else {
            continue;
        };
        let shared = shared.clone();
        tokio::spawn(async move {
            let service = service_fn(move |request| {
                let shared = shared.clone();
                async move { handle(request, shared).await }
            });
            let _ = http1::Builder::new()
                .serve_connection(TokioIo::new(stream), service)
                .with_upgrades()
                .await;
        });
    }
}

/// Marker: close the connection without an answer (a dropped long poll).
#[derive(Debug)]
struct Dropped;

impl std::fmt::Display for Dropped {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("push connection dropped (injected fault)")
    }
}
impl std::error::Error for Dropped {}

type Answered = Result<Response<Full<Bytes>>, Dropped>;

fn text(status: StatusCode, body: String) -> Response<Full<Bytes>> {
    Response::builder()
        .status(status)
        .header(header::CONTENT_TYPE, "text/plain")
        .header(header::ACCESS_CONTROL_ALLOW_ORIGIN, "*")
        .body(Full::new(Bytes::from(body)))
        .unwrap_or_default()
}

async fn handle(request: Request<Incoming>, shared: Arc<Shared>) -> Answered {
    let query: HashMap<String, String> =
        form_urlencoded::parse(request.uri().query().unwrap_or_default().as_bytes())
            .into_owned()
            .collect();
    let mid = query
        .get("mid")
        .filter(|m| m.len() == 26 && m.bytes().all(|b| b.is_ascii_digit()))
        .cloned();
    let channels = lock(&shared)
        .pull
        .parse_channel_ids(query.get("CHANNEL_ID").map_or("", String::as_str));
    let path = request.uri().path().trim_end_matches('/').to_owned();
    if request.method() == Method::OPTIONS {
        return Ok(text(StatusCode::OK, String::new()));
    }
    match path.as_str() {
        "/subws" => Ok(websocket(request, shared, channels, mid)),
        "/sub" => long_poll(shared, channels, mid).await,
        _ => Ok(text(StatusCode::NOT_FOUND, "Not found".into())),
    }
}

fn websocket(
    mut request: Request<Incoming>,
    shared: Arc<Shared>,
    channels: Option<(Vec<String>, Vec<String>)>,
    mid: Option<String>,
) -> Response<Full<Bytes>> {
    let headers = request.headers();
    let upgrade = headers
        .get(header::UPGRADE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.eq_ignore_ascii_case("websocket"));
    let Some(key) = headers.get(header::SEC_WEBSOCKET_KEY).cloned() else {
        return text(StatusCode::BAD_REQUEST, "Bad Request".into());
    };
    if !upgrade {
        return text(StatusCode::BAD_REQUEST, "Bad Request".into());
    }
    if lock(&shared).faults.push_refuse_websocket {
        return text(
            StatusCode::SERVICE_UNAVAILABLE,
            "Service Unavailable".into(),
        );
    }
    let accept = tokio_tungstenite::tungstenite::handshake::derive_accept_key(key.as_bytes());
    let on_upgrade = hyper::upgrade::on(&mut request);
    tokio::spawn(async move {
        let Ok(upgraded) = on_upgrade.await else {
            return;
        };
        let mut config = WebSocketConfig::default();
        config.max_message_size = Some(1024 * 1024);
        let socket =
            WebSocketStream::from_raw_socket(TokioIo::new(upgraded), Role::Server, Some(config))
                .await;
        run_socket(socket, shared, channels, mid).await;
    });
    Response::builder()
        .status(StatusCode::SWITCHING_PROTOCOLS)
        .header(header::UPGRADE, "websocket")
        .header(header::CONNECTION, "Upgrade")
        .header(
            header::SEC_WEBSOCKET_ACCEPT,
            HeaderValue::from_str(&accept).unwrap_or(HeaderValue::from_static("")),
        )
        .body(Full::new(Bytes::new()))
        .unwrap_or_default()
}

fn close_frame(code: u16, reason: &str) -> Frame {
    Frame::Close(Some(CloseFrame {
        code: CloseCode::from(code),
        reason: format!("{code}: {reason}").into(),
    }))
}

async fn run_socket<S>(
    socket: WebSocketStream<S>,
    shared: Arc<Shared>,
    channels: Option<(Vec<String>, Vec<String>)>,
    mid: Option<String>,
) where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin,
{
    let (mut sink, mut stream) = socket.split();
    let Some((receivers, capped)) = channels else {
        let _ = sink
            .send(close_frame(WRONG_CHANNEL.0, WRONG_CHANNEL.1))
            .await;
        // Let the client read the close frame and answer it.
        let _ = tokio::time::timeout(Duration::from_secs(2), stream.next()).await;
        return;
    };
    let (id, mut rx, missed, batch, ping_every) = {
        let mut portal = lock(&shared);
        let (id, rx, missed) = register(&mut portal, receivers, capped, mid.as_deref());
        (
            id,
            rx,
            missed,
            Duration::from_millis(portal.config.push_batch_ms),
            Duration::from_millis(portal.config.push_ping_ms.max(1)),
        )
    };
    let mut pending = missed;
    let mut window: Option<Pin<Box<tokio::time::Sleep>>> = None;
    let mut ping = tokio::time::interval_at(tokio::time::Instant::now() + ping_every, ping_every);
    let mut answered_ping = true;
    if !pending.is_empty() {
        let frame = deliver(&shared, &pending).await;
        pending.clear();
        if sink.send(Frame::Text(frame.into())).await.is_err() {
            unregister(&shared, id);
            return;
        }
        window = Some(Box::pin(tokio::time::sleep(batch)));
    }
    loop {
        tokio::select! {
            command = rx.recv() => {
                let mut next = None;
                match command {
                    Some(Push::Messages(messages)) => {
                        pending.extend(messages);
                        while let Ok(more) = rx.try_recv() {
                            match more {
                                Push::Messages(messages) => pending.extend(messages),
                                other => {
                                    next = Some(other);
                                    break;
                                }
                            }
                        }
                    }
                    Some(other) => next = Some(other),
                    None => break,
                }
                if window.is_none() && !pending.is_empty() {
                    let frame = deliver(&shared, &pending).await;
                    pending.clear();
                    if sink.send(Frame::Text(frame.into())).await.is_err() {
                        break;
                    }
                    window = Some(Box::pin(tokio::time::sleep(batch)));
                }
                match next {
                    Some(Push::Close(code, reason)) => {
                        let _ = sink.send(close_frame(code, reason)).await;
                        let _ = tokio::time::timeout(Duration::from_secs(2), stream.next()).await;
                        break;
                    }
                    Some(Push::Drop) => break,
                    _ => {}
                }
            }
            _ = async { window.as_mut().expect("guarded").await }, if window.is_some() => {
                window = None;
                if !pending.is_empty() {
                    let frame = deliver(&shared, &pending).await;
                    pending.clear();
                    if sink.send(Frame::Text(frame.into())).await.is_err() {
                        break;
                    }
                }
            }
            _ = ping.tick() => {
                if !answered_ping {
                    break;
                }
                answered_ping = false;
                if sink.send(Frame::Ping(Bytes::from_static(b"ws ping"))).await.is_err() {
                    break;
                }
            }
            frame = stream.next() => match frame {
                Some(Ok(Frame::Pong(_))) => answered_ping = true,
                // A text-mode client's frames are not read (`websocket.js`).
                Some(Ok(Frame::Close(_))) | Some(Err(_)) | None => break,
                Some(Ok(_)) => {}
            },
        }
    }
    unregister(&shared, id);
}

/// `/sub/`: one answer per request: the messages since `mid`, or the first to arrive within the
/// hold, or `304` (`polling.js`).
async fn long_poll(
    shared: Arc<Shared>,
    channels: Option<(Vec<String>, Vec<String>)>,
    mid: Option<String>,
) -> Answered {
    let Some((receivers, capped)) = channels else {
        return Ok(text(
            StatusCode::BAD_REQUEST,
            format!("{}: {}", WRONG_CHANNEL.0, WRONG_CHANNEL.1),
        ));
    };
    let (id, mut rx, missed, hold, last) = {
        let mut portal = lock(&shared);
        let last = receivers
            .iter()
            .filter_map(|r| portal.pull.history.get(r)?.back().map(|m| m.mid.clone()))
            .max();
        let (id, rx, missed) = register(&mut portal, receivers, capped, mid.as_deref());
        let hold = Duration::from_millis(portal.config.push_poll_hold_ms);
        (id, rx, missed, hold, last)
    };
    if !missed.is_empty() {
        unregister(&shared, id);
        return Ok(text(StatusCode::OK, deliver(&shared, &missed).await));
    }
    let outcome = tokio::time::timeout(hold, rx.recv()).await;
    unregister(&shared, id);
    match outcome {
        Ok(Some(Push::Messages(mut messages))) => {
            while let Ok(Push::Messages(more)) = rx.try_recv() {
                messages.extend(more);
            }
            Ok(text(StatusCode::OK, deliver(&shared, &messages).await))
        }
        Ok(Some(Push::Close(code, reason))) => {
            let status = if code == 4029 {
                StatusCode::TOO_MANY_REQUESTS
            } else {
                StatusCode::BAD_REQUEST
            };
            Ok(text(status, format!("{code}: {reason}")))
        }
        Ok(Some(Push::Drop)) | Ok(None) => Err(Dropped),
        Err(_) => {
            let last = mid.or(last).unwrap_or_default();
            Response::builder()
                .status(StatusCode::NOT_MODIFIED)
                .header("Last-Message-Id", last)
                .header(header::EXPIRES, POLL_EXPIRES)
                .header(header::ACCESS_CONTROL_EXPOSE_HEADERS, "Last-Message-Id")
                .header(header::ACCESS_CONTROL_ALLOW_ORIGIN, "*")
                .body(Full::new(Bytes::new()))
                .map_err(|_| Dropped)
        }
    }
}
