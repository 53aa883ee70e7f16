//! HTTP on loopback: `/rest/…` (OAuth and webhook forms), `/oauth/authorize/`, `/oauth/token/`
//! and the `/sim/admin/…` controls. A runtime of its own on a background thread, so blocking
//! tests and the app's command line can start it alike.

use std::net::{Ipv4Addr, SocketAddr, TcpListener as StdListener};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use http::{header, Method, Request, Response, StatusCode};
use http_body_util::{BodyExt, Full, Limited};
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use serde_json::{json, Map, Value};
use tokio::sync::oneshot;

use crate::operating::OperatingTime;
use crate::portal::{ApiError, Caller, Faults, Portal, SimConfig};
use crate::{batch, methods, now, params::parse_php_query};

const MAX_BODY: usize = 1024 * 1024;

pub(crate) struct Shared {
    pub portal: Mutex<Portal>,
    pub base_url: String,
    /// The push server's WebSocket address (`ws://…/subws/`).
    pub push_url: String,
}

/// Marker: answer nothing and close the connection (the drop-after-commit fault).
struct Drop;

impl std::fmt::Display for Drop {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("answer dropped after commit (injected fault)")
    }
}
impl std::fmt::Debug for Drop {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        std::fmt::Display::fmt(self, f)
    }
}
impl std::error::Error for Drop {}

/// The served state, the bound address, the stop switch and the serving thread.
pub(crate) type Started = (
    Arc<Shared>,
    SocketAddr,
    oneshot::Sender<()>,
    std::thread::JoinHandle<()>,
);

pub(crate) fn start(config: SimConfig) -> std::io::Result<Started> {
    let listener = StdListener::bind(SocketAddr::from((Ipv4Addr::LOCALHOST, config.port)))?;
    listener.set_nonblocking(true)?;
    let address = listener.local_addr()?;
    let push_listener =
        StdListener::bind(SocketAddr::from((Ipv4Addr::LOCALHOST, config.push_port)))?;
    push_listener.set_nonblocking(true)?;
    let push_address = push_listener.local_addr()?;
    let base_url = match &config.public_url {
        Some(public) => public.trim_end_matches('/').to_owned(),
        None => format!("http://{address}"),
    };
    let mut portal = Portal::new(config, now());
    portal.pull.ws_url = format!("ws://{push_address}/subws/");
    portal.pull.lp_url = format!("http://{push_address}/sub/");
    let shared = Arc::new(Shared {
        push_url: portal.pull.ws_url.clone(),
        portal: Mutex::new(portal),
        base_url,
    });
    let (stop_tx, stop_rx) = oneshot::channel();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let served = shared.clone();
    let thread = std::thread::Builder::new().name("portal-sim".into()).spawn(move || {
        runtime.block_on(async move {
            let listener = match tokio::net::TcpListener::from_std(listener) {
                Ok(listener) => listener,
                Err(e) => {
                    tracing::error!("portal simulator cannot listen: {e}");
                    return;
                }
            };
            match tokio::net::TcpListener::from_std(push_listener) {
                Ok(push) => {
                    tokio::spawn(crate::pull::serve(push, served.clone()));
                }
                Err(e) => tracing::error!("portal simulator cannot serve push: {e}"),
            }
            let mut stop_rx = stop_rx;
            loop {
                tokio::select! {
                    _ = &mut stop_rx => break,
                    accepted = listener.accept() => {
                        let Ok((stream, _)) = accepted else { continue };
                        let shared = served.clone();
                        tokio::spawn(async move {
                            let service = service_fn(move |req| {
                                let shared = shared.clone();
                                async move { handle(req, &shared).await }
                            });
                            let _ = http1::Builder::new().serve_connection(TokioIo::new(stream), service).await;
                        });
                    }
                }
            }
        });
    })?;
    Ok((shared, address, stop_tx, thread))
}

async fn handle(
    request: Request<Incoming>,
    shared: &Shared,
) -> Result<Response<Full<Bytes>>, Drop> {
    let (parts, body) = request.into_parts();
    let body = match Limited::new(body, MAX_BODY).collect().await {
        Ok(collected) => collected.to_bytes(),
        Err(_) => {
            return Ok(json_response(
                StatusCode::PAYLOAD_TOO_LARGE,
                &json!({"error": "INVALID_REQUEST", "error_description": "Request is too large"}),
            ))
        }
    };
    let path = parts.uri.path().to_owned();
    let query = parts.uri.query().unwrap_or_default().to_owned();
    let content_type = parts
        .headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    let mut params = parse_php_query(&query);
    if content_type.starts_with("application/json") {
        match serde_json::from_slice::<Value>(&body) {
            Ok(Value::Object(map)) => params.extend(map),
            Ok(_) | Err(_) if !body.is_empty() => {
                return Ok(json_response(
                    StatusCode::BAD_REQUEST,
                    &json!({"error": "INVALID_REQUEST", "error_description": "Invalid JSON body"}),
                ));
            }
            _ => {}
        }
    } else if !body.is_empty() {
        params.extend(parse_php_query(&String::from_utf8_lossy(&body)));
    }
    let bearer = parts
        .headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .map(str::to_owned);

    if let Some(rest) = path.strip_prefix("/rest/") {
        // Bitrix24's JS library in an application's iframe calls `/rest/` from the application's
        // own origin, so the portal answers cross-origin requests (a CORS preflight and
        // `Access-Control-Allow-Origin: *`; inferred from the library working from any app host,
        // the exact headers are *unverified*). The token travels in `auth`, never a cookie.
        if parts.method == Method::OPTIONS {
            let mut preflight = Response::new(Full::new(Bytes::new()));
            *preflight.status_mut() = StatusCode::NO_CONTENT;
            let headers = preflight.headers_mut();
            headers.insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, "*".parse().unwrap());
            headers.insert(
                header::ACCESS_CONTROL_ALLOW_METHODS,
                "GET, POST".parse().unwrap(),
            );
            headers.insert(
                header::ACCESS_CONTROL_ALLOW_HEADERS,
                "Content-Type".parse().unwrap(),
            );
            return Ok(preflight);
        }
        // The order of batch commands is meaningful; a JSON map may not keep it.
        if let Some(commands) = ordered_commands(&content_type, &body, &query) {
            params.insert(
                "cmd".into(),
                Value::Array(commands.into_iter().map(|(k, v)| json!([k, v])).collect()),
            );
        }
        return rest_call(shared, rest, params, bearer)
            .await
            .map(|mut answer| {
                answer
                    .headers_mut()
                    .insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, "*".parse().unwrap());
                answer
            });
    }
    let answer = match (parts.method.clone(), path.trim_end_matches('/')) {
        (Method::GET, "/oauth/authorize") => authorize(shared, &params),
        (Method::GET, "/sim/call-card") => call_card_page(shared, &query),
        (Method::POST, "/sim/admin/tokens") => {
            let user_id = params
                .get("user_id")
                .and_then(|v| {
                    v.as_u64()
                        .or_else(|| v.as_str().and_then(|s| s.parse().ok()))
                })
                .unwrap_or(1);
            if !lock(shared).data.users.contains_key(&user_id) {
                return Ok(json_response(
                    StatusCode::BAD_REQUEST,
                    &json!({"error": "user_not_found", "error_description": "User not found"}),
                ));
            }
            json_response(
                StatusCode::OK,
                &serde_json::to_value(issue(shared, user_id, false)).unwrap_or_default(),
            )
        }
        (Method::GET | Method::POST, "/oauth/token") => token(shared, &params),
        (Method::GET, "/sim/admin/faults") => json_response(
            StatusCode::OK,
            &serde_json::to_value(&lock(shared).faults).unwrap_or_default(),
        ),
        (Method::POST, "/sim/admin/faults") => set_faults(shared, &body),
        (Method::GET, "/sim/admin/stats") => json_response(
            StatusCode::OK,
            &serde_json::to_value(&lock(shared).stats).unwrap_or_default(),
        ),
        (Method::POST, "/sim/admin/reset") => {
            let mut portal = lock(shared);
            portal.stats = Default::default();
            portal.faults = Faults::default();
            portal.operating.clear();
            json_response(StatusCode::OK, &json!({"reset": true}))
        }
        _ => html(StatusCode::NOT_FOUND, "Not found"),
    };
    Ok(answer)
}

/// `cmd` of a batch as sent, in order: from a JSON body, or `cmd[key]=…` pairs of a form or query.
fn ordered_commands(content_type: &str, body: &[u8], query: &str) -> Option<Vec<(String, String)>> {
    if content_type.starts_with("application/json") {
        #[derive(serde::Deserialize)]
        struct Body {
            cmd: Option<crate::batch::Commands>,
        }
        return serde_json::from_slice::<Body>(body).ok()?.cmd.map(|c| c.0);
    }
    let form = String::from_utf8_lossy(body);
    let commands: Vec<(String, String)> = form_urlencoded::parse(query.as_bytes())
        .chain(form_urlencoded::parse(form.as_bytes()))
        .filter_map(|(k, v)| {
            Some((
                k.strip_prefix("cmd[")?.strip_suffix(']')?.to_owned(),
                v.into_owned(),
            ))
        })
        .collect();
    (!commands.is_empty()).then_some(commands)
}

fn lock(shared: &Shared) -> std::sync::MutexGuard<'_, Portal> {
    shared.portal.lock().unwrap_or_else(|e| e.into_inner())
}

async fn rest_call(
    shared: &Shared,
    rest: &str,
    mut params: Map<String, Value>,
    bearer: Option<String>,
) -> Result<Response<Full<Bytes>>, Drop> {
    // /rest/{user_id}/{secret}/{method} is a webhook; /rest/{method} takes `auth`.
    let segments: Vec<&str> = rest.trim_end_matches('/').split('/').collect();
    let (webhook, method) = match segments.as_slice() {
        [user, secret, method] if user.parse::<u64>().is_ok() => (
            Some((user.parse::<u64>().unwrap_or(0), secret.to_string())),
            method.to_string(),
        ),
        [method] => (None, method.to_string()),
        _ => (None, String::new()),
    };
    let method = method.strip_suffix(".json").unwrap_or(&method).to_owned();
    let auth = match params.remove("auth") {
        Some(Value::String(token)) => Some(token),
        _ => bearer,
    };
    let started = now();
    let (outcome, latency, drop, outage) = {
        let mut portal = lock(shared);
        portal.stats.rest_requests += 1;
        let latency = portal.faults.latency_ms;
        if portal.faults.outage {
            (None, latency, false, true)
        } else {
            let outcome = serve_method(
                &mut portal,
                &method,
                webhook.as_ref().map(|(u, s)| (*u, s.as_str())),
                auth.as_deref(),
                &params,
                started,
            );
            let drop = matches!(&outcome, Ok((_, true, _))) && portal.take_drop_after_commit();
            (Some(outcome), latency, drop, false)
        }
    };
    if latency > 0 {
        tokio::time::sleep(Duration::from_millis(latency)).await;
    }
    if drop {
        return Err(Drop);
    }
    let Some(outcome) = outcome.filter(|_| !outage) else {
        return Ok(html(
            StatusCode::SERVICE_UNAVAILABLE,
            "The portal is under maintenance. Please try again later.",
        ));
    };
    let finished = now();
    // `operating` and `operating_reset_at` are the method's own for this application or
    // webhook (`limits.md`); `batch` itself is not accounted, so its `time` has neither (as
    // the docs' batch examples).
    let time = |operating: Option<OperatingTime>| {
        let mut time = json!({
            "start": started, "finish": finished, "duration": finished - started, "processing": finished - started,
            "date_start": crate::data::date(started as i64), "date_finish": crate::data::date(finished as i64),
        });
        if let Some(operating) = operating {
            time["operating"] = json!(operating.operating);
            if let Some(at) = operating.reset_at {
                time["operating_reset_at"] = json!(at);
            }
        }
        time
    };
    Ok(match outcome {
        Ok((answer, _, operating)) => {
            let mut body = json!({"result": answer.result, "time": time(operating)});
            if let Some(total) = answer.total {
                body["total"] = json!(total);
            }
            if let Some(next) = answer.next {
                body["next"] = json!(next);
            }
            json_response(StatusCode::OK, &body)
        }
        // An error answer carries no `time`: the docs show none, and say to take
        // `operating_reset_at` from the last successful answer (`limits.md`).
        Err(error) => {
            let body = error.body();
            json_response(
                StatusCode::from_u16(error.status).unwrap_or(StatusCode::BAD_REQUEST),
                &body,
            )
        }
    })
}

/// The answer, whether data was written, and the method's operating time (none for `batch`).
type Served = Result<(methods::Answer, bool, Option<OperatingTime>), ApiError>;

/// Limits, sign-in, injected faults, then the method. The flag says whether data was written.
fn serve_method(
    portal: &mut Portal,
    method: &str,
    webhook: Option<(u64, &str)>,
    auth: Option<&str>,
    params: &Map<String, Value>,
    now: f64,
) -> Served {
    if method.is_empty() {
        return Err(ApiError::new(
            404,
            "ERROR_METHOD_NOT_FOUND",
            "Method not found!",
        ));
    }
    if !portal.admit(now) {
        return Err(ApiError::new(
            503,
            "QUERY_LIMIT_EXCEEDED",
            "Too many requests",
        ));
    }
    // A system error injected for the whole portal answers before anything else runs.
    if let Some(error) = portal.system_failure() {
        return Err(error);
    }
    let caller: Caller = portal.authenticate(auth, webhook, now)?;
    if let Some(error) = portal.injected_failure(&caller, method, now) {
        return Err(error);
    }
    if method.eq_ignore_ascii_case("batch") {
        return batch::run(portal, &caller, params, now).map(|outcome| {
            (
                methods::Answer {
                    result: outcome.result,
                    total: None,
                    next: None,
                },
                outcome.wrote,
                None,
            )
        });
    }
    let wrote = methods::is_write(&method.to_ascii_lowercase());
    let answer = methods::call(portal, &caller, method, params)?;
    let operating = portal.operating_time(&caller, method, now);
    Ok((answer, wrote, Some(operating)))
}

/// The sign-in page. A real portal asks for a login first; the simulator signs in as user 1
/// (or `sim_user`) and sends the browser on to the application's redirect address with `code`,
/// `state`, `domain` (the portal's address), `member_id`, `scope` and `server_domain` (the
/// region's OAuth server) (`settings/oauth/index.md`). A sign-in that fails shows its error on
/// the portal's page and sends nothing back (same page); an application whose installation is
/// not finished is available to administrators only (`common/system/app-info.md`, `INSTALLED`).
fn authorize(shared: &Shared, params: &Map<String, Value>) -> Response<Full<Bytes>> {
    let text = |name: &str| {
        params
            .get(name)
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_owned()
    };
    let mut portal = lock(shared);
    if text("client_id") != portal.config.client_id {
        // Nothing goes back to the application: the portal shows the error itself.
        return html(
            StatusCode::BAD_REQUEST,
            "Приложение не найдено / Application not found",
        );
    }
    let user_id = text("sim_user").parse().unwrap_or(1);
    if !portal.data.users.contains_key(&user_id) {
        return html(StatusCode::BAD_REQUEST, "User not found");
    }
    if !portal.config.app_installed && user_id != 1 {
        return html(
            StatusCode::FORBIDDEN,
            "Приложение не установлено / The application is not installed",
        );
    }
    let code = portal.issue_code(user_id, now());
    let (_, domain) = crate::call_card::host_of(&shared.base_url);
    let query: String = form_urlencoded::Serializer::new(String::new())
        .append_pair("code", &code)
        .append_pair("state", &text("state"))
        .append_pair("domain", &domain)
        .append_pair("member_id", &member_id(portal.config.seed))
        .append_pair("scope", &portal.config.scope)
        .append_pair("server_domain", &portal.config.oauth_server_domain)
        .finish();
    let separator = if portal.config.redirect_uri.contains('?') {
        '&'
    } else {
        '?'
    };
    let location = format!("{}{separator}{query}", portal.config.redirect_uri);
    Response::builder()
        .status(StatusCode::FOUND)
        .header(header::LOCATION, location)
        .body(Full::new(Bytes::new()))
        .unwrap_or_default()
}

/// A token pair for `user_id`, with what a call card's page hands out beside it; of another
/// application than the simulated one when `other_app`.
pub(crate) fn issue(
    shared: &Shared,
    user_id: u64,
    other_app: bool,
) -> crate::call_card::IssuedTokens {
    let mut portal = lock(shared);
    let app = if other_app {
        portal.config.other_client_id.clone()
    } else {
        portal.config.client_id.clone()
    };
    let (access, refresh) = portal.issue_tokens_for(user_id, &app, now());
    crate::call_card::IssuedTokens {
        access_token: access,
        refresh_token: refresh,
        expires_in: portal.config.access_ttl_secs,
        member_id: member_id(portal.config.seed),
        user_id,
        client_endpoint: format!("{}/rest/", shared.base_url),
        // The OAuth server's REST address (`settings/oauth/index.md`), of the portal's region.
        server_endpoint: format!("https://{}/rest/", portal.config.oauth_server_domain),
        scope: portal.config.scope.clone(),
    }
}

/// `/sim/call-card?scenario=NAME` (or `options=JSON`, or the options' own keys): the portal's
/// page around a call card, POSTing the call into the bound `CALL_CARD` handler (or
/// `handler=URL`) with a fresh token pair for `user` (1 by default). Test knobs: `auth=forged`
/// (a token the portal never issued), `auth=altered` (an issued one with its last character
/// changed), `member_id=…` (another portal's id), `app=other` (a token of another application
/// installed on the portal), `activity=1` (the call gets its CRM activity once the card is open:
/// `timeline_note::attach_to_page`).
fn call_card_page(shared: &Shared, query: &str) -> Response<Full<Bytes>> {
    let params: std::collections::HashMap<String, String> =
        form_urlencoded::parse(query.as_bytes())
            .into_owned()
            .collect();
    let get = |name: &str| params.get(name).map(|v| v.trim()).filter(|v| !v.is_empty());
    let (title, options, mut steps, scenario_lang) = match get("scenario") {
        Some(name) => {
            let dir = lock(shared).config.scenarios_dir.clone();
            let scenario = match crate::scenarios::load(name, dir.as_deref()) {
                Ok(scenario) => scenario,
                Err(e) => return html(StatusCode::NOT_FOUND, &escape_text(&e.to_string())),
            };
            let mut steps = scenario.steps.iter();
            let first = steps.next().and_then(|s| s.options()).unwrap_or_default();
            let later: Vec<crate::call_card::PageStep> = steps
                .filter_map(|s| {
                    Some(crate::call_card::PageStep {
                        delay_ms: s.delay_ms,
                        options: s.options()?,
                    })
                })
                .collect();
            let lang = scenario
                .steps
                .first()
                .and_then(|s| s.payload.as_ref())
                .and_then(|p| p["portal"]["lang"].as_str())
                .map(str::to_owned);
            (format!("Call card: {name}"), first, later, lang)
        }
        None => {
            let options = match get("options") {
                Some(text) => match serde_json::from_str::<Value>(text) {
                    Ok(value @ Value::Object(_)) => value,
                    _ => return html(StatusCode::BAD_REQUEST, "options must be a JSON object"),
                },
                None => {
                    let keys = [
                        "CALL_ID",
                        "PHONE_NUMBER",
                        "LINE_NUMBER",
                        "LINE_NAME",
                        "CRM_ENTITY_TYPE",
                        "CRM_ENTITY_ID",
                        "CRM_ACTIVITY_ID",
                        "CALL_DIRECTION",
                        "CALL_STATE",
                        "CALL_LIST_MODE",
                    ];
                    let map: Map<String, Value> = keys
                        .iter()
                        .filter_map(|k| {
                            get(k).map(|v| (k.to_string(), Value::String(v.to_owned())))
                        })
                        .collect();
                    if map.is_empty() {
                        return html(StatusCode::BAD_REQUEST, "say which call: scenario=NAME, options=JSON, or CALL_ID=…&PHONE_NUMBER=…");
                    }
                    Value::Object(map)
                }
            };
            ("Call card".to_owned(), options, Vec::new(), None)
        }
    };
    let lang = get("lang")
        .map(str::to_owned)
        .or(scenario_lang)
        .unwrap_or_else(|| "en".into());
    let user_id = get("user").and_then(|u| u.parse().ok()).unwrap_or(1);
    let handler = match get("handler") {
        Some(handler) => handler.to_owned(),
        None => {
            let portal = lock(shared);
            let bound = portal
                .placements
                .iter()
                .find(|p| p["placement"] == "CALL_CARD")
                .and_then(|p| p["handler"].as_str())
                .map(str::to_owned);
            match bound {
                Some(handler) => handler,
                None => return html(
                    StatusCode::NOT_FOUND,
                    "No application is bound to the call card (CALL_CARD). Bind one (call-companion portal install-widget --direct), or pass &amp;handler=URL.",
                ),
            }
        }
    };
    if !lock(shared).data.users.contains_key(&user_id) {
        return html(StatusCode::BAD_REQUEST, "User not found");
    }
    if get("activity").is_some() {
        crate::timeline_note::attach_to_page(&mut lock(shared), &options, &mut steps, user_id);
    }
    let mut tokens = issue(shared, user_id, get("app") == Some("other"));
    match get("auth") {
        Some("forged") => tokens.access_token = lock(shared).new_secret(35),
        Some("altered") => {
            let last = tokens.access_token.pop().unwrap_or('0');
            tokens
                .access_token
                .push(if last == '0' { '1' } else { '0' });
        }
        _ => {}
    }
    if let Some(member) = get("member_id") {
        tokens.member_id = member.to_owned();
    }
    let sid = lock(shared).random_hex(16);
    let form =
        crate::call_card::tab_form(&shared.base_url, &handler, &options, &tokens, &lang, &sid);
    let page = crate::call_card::Page {
        title: &title,
        form: &form,
        tokens: &tokens,
        lang: &lang,
        options: &options,
        steps: &steps,
    };
    Response::builder()
        .status(StatusCode::OK)
        .header(header::CONTENT_TYPE, "text/html; charset=utf-8")
        .header(header::CACHE_CONTROL, "no-store")
        .body(Full::new(Bytes::from(page.html())))
        .unwrap_or_default()
}

fn escape_text(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

pub(crate) fn member_id(seed: u64) -> String {
    let mut rng = crate::data::Rng::new(seed ^ 0x6d65_6d62);
    format!("{:016x}{:016x}", rng.next_u64(), rng.next_u64())
}

/// `/oauth/token/`: the authorization-code and refresh-token grants (`settings/oauth/index.md`,
/// `auto-renewal.md`). Errors use the codes of `settings/oauth/error-codes.md`:
/// `invalid_request` (a parameter missing, or a grant type it does not know: the docs list no
/// `unsupported_grant_type`), `invalid_client` (wrong keys), `invalid_grant` (a code or refresh
/// token that does not work), `PAYMENT_REQUIRED` (the application's paid or trial period is
/// over). The HTTP statuses are the simulator's choice (the docs give none): as in RFC 6749,
/// and 402 for `PAYMENT_REQUIRED`.
fn token(shared: &Shared, params: &Map<String, Value>) -> Response<Full<Bytes>> {
    let text = |name: &str| {
        params
            .get(name)
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_owned()
    };
    let mut portal = lock(shared);
    let now = now();
    let oauth_error = |status: StatusCode, code: &str, description: &str| {
        json_response(
            status,
            &json!({"error": code, "error_description": description}),
        )
    };
    let grant_type = text("grant_type");
    let grant = match grant_type.as_str() {
        "authorization_code" => "code",
        "refresh_token" => "refresh_token",
        _ => "",
    };
    if grant.is_empty()
        || text(grant).is_empty()
        || text("client_id").is_empty()
        || text("client_secret").is_empty()
    {
        return oauth_error(
            StatusCode::BAD_REQUEST,
            "invalid_request",
            "Invalid request: grant_type, client_id, client_secret and the grant are required",
        );
    }
    if text("client_id") != portal.config.client_id
        || text("client_secret") != portal.config.client_secret
    {
        return oauth_error(
            StatusCode::UNAUTHORIZED,
            "invalid_client",
            "Invalid client credentials",
        );
    }
    if portal.config.app_payment_expired {
        return oauth_error(
            StatusCode::PAYMENT_REQUIRED,
            "PAYMENT_REQUIRED",
            "Payment required",
        );
    }
    let user_id = match grant {
        "code" => match portal.codes.remove(&text("code")) {
            Some(grant) if grant.expires_at > now => {
                portal.stats.code_exchanges += 1;
                grant.user_id
            }
            Some(_) => {
                return oauth_error(
                    StatusCode::BAD_REQUEST,
                    "invalid_grant",
                    "The authorization code has expired",
                )
            }
            None => {
                return oauth_error(
                    StatusCode::BAD_REQUEST,
                    "invalid_grant",
                    "Invalid authorization code",
                )
            }
        },
        _ => match portal.refresh.remove(&text("refresh_token")) {
            Some((user_id, app)) if app == portal.config.client_id => {
                portal.stats.refreshes += 1;
                user_id
            }
            Some((user_id, app)) => {
                // Another application's refresh token stays that application's.
                portal.refresh.insert(text("refresh_token"), (user_id, app));
                return oauth_error(
                    StatusCode::BAD_REQUEST,
                    "invalid_grant",
                    "Invalid refresh token",
                );
            }
            None => {
                return oauth_error(
                    StatusCode::BAD_REQUEST,
                    "invalid_grant",
                    "Invalid refresh token",
                )
            }
        },
    };
    let (access, refresh) = portal.issue_tokens(user_id, now);
    let ttl = portal.config.access_ttl_secs;
    // `domain` and `server_endpoint` name the OAuth server, `client_endpoint` the portal
    // (`settings/oauth/index.md`).
    let oauth_server = portal.config.oauth_server_domain.clone();
    let body = json!({
        "access_token": access,
        "expires": now as u64 + ttl,
        "expires_in": ttl,
        "scope": portal.config.scope,
        "domain": oauth_server,
        "server_endpoint": format!("https://{oauth_server}/rest/"),
        "status": "L",
        "client_endpoint": format!("{}/rest/", shared.base_url),
        "member_id": member_id(portal.config.seed),
        "user_id": user_id,
        "refresh_token": refresh,
    });
    json_response(StatusCode::OK, &body)
}

fn set_faults(shared: &Shared, body: &[u8]) -> Response<Full<Bytes>> {
    match serde_json::from_slice::<Faults>(body) {
        Ok(faults) => {
            let mut portal = lock(shared);
            portal.faults = faults;
            portal.arm_operation_limit(now());
            crate::pull::apply_faults(&mut portal, now());
            json_response(
                StatusCode::OK,
                &serde_json::to_value(&portal.faults).unwrap_or_default(),
            )
        }
        Err(e) => json_response(
            StatusCode::BAD_REQUEST,
            &json!({"error": "INVALID_REQUEST", "error_description": e.to_string()}),
        ),
    }
}

fn json_response(status: StatusCode, body: &Value) -> Response<Full<Bytes>> {
    Response::builder()
        .status(status)
        .header(header::CONTENT_TYPE, "application/json; charset=utf-8")
        .body(Full::new(Bytes::from(body.to_string())))
        .unwrap_or_default()
}

fn html(status: StatusCode, message: &str) -> Response<Full<Bytes>> {
    let page = format!("<!doctype html><html><head><meta charset=\"utf-8\"><title>Bitrix24</title></head><body><p>{message}</p></body></html>");
    Response::builder()
        .status(status)
        .header(header::CONTENT_TYPE, "text/html; charset=utf-8")
        .body(Full::new(Bytes::from(page)))
        .unwrap_or_default()
}
