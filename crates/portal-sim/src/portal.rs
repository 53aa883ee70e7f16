//! The portal's state: its data, the OAuth application, issued codes and tokens, webhooks,
//! the leaky bucket, fault settings and counters. One `Mutex<Portal>` guards it all; every
//! request holds it briefly (latency is slept outside).

use std::collections::{BTreeMap, HashMap};
use std::io::Write;
use std::path::PathBuf;

use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use crate::data::{self, Data, Rng, Sizes};

/// How the simulated portal is set up.
#[derive(Debug, Clone)]
pub struct SimConfig {
    /// 0 picks a free port.
    pub port: u16,
    pub seed: u64,
    pub sizes: Sizes,
    /// The portal's name in answers (`domain`, `client_endpoint` use the real address).
    pub domain: String,
    pub client_id: String,
    pub client_secret: String,
    /// The OAuth application's redirect address, as set in its settings on the portal.
    pub redirect_uri: String,
    /// The scopes granted to the application.
    pub scope: String,
    /// Access tokens live this long (an hour on Bitrix24).
    pub access_ttl_secs: u64,
    /// Authorization codes live this long (30 s on Bitrix24).
    pub code_ttl_secs: u64,
    /// Leaky bucket: 50 / 2 per second (Enterprise 250 / 5).
    pub bucket_capacity: f64,
    pub bucket_drain_per_sec: f64,
    /// Every issued secret is appended here, one per line, so a test can check that none of them
    /// reached a log.
    pub token_ledger: Option<PathBuf>,
    pub faults: Faults,
    /// The address the simulator is reached at, when not its own (behind a TLS proxy, say):
    /// `DOMAIN`, `client_endpoint` and the links it hands out name it.
    pub public_url: Option<String>,
    /// Refuse `placement.bind` handlers on this computer (`127.0.0.1`), as a cloud portal may
    /// (*unverified*: Bitrix's server code accepts `127.0.0.1`).
    pub refuse_loopback_handlers: bool,
    /// Testers' own call scenarios, beside the built-in ones (`/sim/call-card?scenario=`).
    pub scenarios_dir: Option<PathBuf>,
    /// Another application installed on the portal (its client id): the call-card page hands
    /// out its tokens with `app=other`.
    pub other_client_id: String,
    /// The OAuth server of the portal's region (`settings/oauth/index.md`: `oauth.bitrix.info`,
    /// international portals; the Russian docs name `oauth.bitrix24.tech`): the redirect's
    /// `server_domain`, the token answer's `domain` and `server_endpoint` and the call card's
    /// `SERVER_ENDPOINT` name it. The simulator still answers at its own address.
    pub oauth_server_domain: String,
    /// The application's installation is finished (`app.info`'s `INSTALLED`,
    /// `common/system/app-info.md`); until it is, only administrators may use it (user 1 is the
    /// simulator's administrator) and the portal shows none of its widgets.
    pub app_installed: bool,
    /// The application's paid or trial period has expired: the OAuth server issues no tokens
    /// (`PAYMENT_REQUIRED`, `settings/oauth/error-codes.md`) and `app.info` says
    /// `PAYMENT_EXPIRED: "Y"`.
    pub app_payment_expired: bool,
    /// The push server's port (`pull.rs`); 0 picks a free one.
    pub push_port: u16,
    /// The key channel ids are signed with (HMAC-SHA1, `bitrix24-push.md` §1.5).
    pub push_signature_key: String,
    /// How long a long-polling request waits for a message before `304` (40 s on Bitrix24).
    pub push_poll_hold_ms: u64,
    /// After a WebSocket send, further messages wait this long and go out as one frame (400 ms).
    pub push_batch_ms: u64,
    /// The push server pings every WebSocket this often and ends one whose last ping got no
    /// pong (120 s).
    pub push_ping_ms: u64,
    /// An application channel lives this long (`CPullChannel::CHANNEL_TTL`, 43205 s).
    pub push_channel_ttl_secs: u64,
    /// Connections per private channel; one more closes the oldest with 4029 (100).
    pub push_max_connections_per_channel: usize,
}

impl Default for SimConfig {
    fn default() -> SimConfig {
        SimConfig {
            port: 0,
            seed: 1,
            sizes: Sizes::default(),
            domain: "acme.bitrix24.ru".into(),
            client_id: "local.6745a1b2c3d4e5.12345678".into(),
            client_secret: String::new(),
            redirect_uri: "http://127.0.0.1:47600/v1/oauth/callback".into(),
            scope: "crm,user,user_brief,placement,telephony,pull".into(),
            access_ttl_secs: 3600,
            code_ttl_secs: 30,
            bucket_capacity: 50.0,
            bucket_drain_per_sec: 2.0,
            token_ledger: std::env::var_os("PORTAL_SIM_TOKEN_LEDGER").map(PathBuf::from),
            faults: Faults::default(),
            public_url: None,
            refuse_loopback_handlers: false,
            scenarios_dir: None,
            other_client_id: "local.0000a1b2c3d4e5.87654321".into(),
            oauth_server_domain: "oauth.bitrix24.tech".into(),
            app_installed: true,
            app_payment_expired: false,
            push_port: 0,
            push_signature_key: "simulator-signature-key".into(),
            push_poll_hold_ms: 40_000,
            push_batch_ms: 400,
            push_ping_ms: 120_000,
            push_channel_ttl_secs: 43_205,
            push_max_connections_per_channel: 100,
        }
    }
}

/// Faults to inject, settable by flags and by `POST /sim/admin/faults`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Faults {
    /// Added to every REST answer.
    pub latency_ms: u64,
    /// Share of REST calls answered `500 INTERNAL_SERVER_ERROR` (0.0–1.0).
    pub error_rate: f64,
    /// Every REST call answers `503` with an HTML page, as a portal under maintenance does.
    pub outage: bool,
    /// The next REST call with any current access token finds it expired (one shot).
    pub expire_tokens: bool,
    /// The next N REST calls get `QUERY_LIMIT_EXCEEDED` whatever the bucket says.
    pub rate_limit_storm: u32,
    /// The next N writes are committed, then the connection is dropped without an answer.
    pub drop_after_commit: u32,
    /// Calls of this method answer `429 OPERATION_TIME_LIMIT` until `operation_limit_reset_secs`
    /// (at most 600) from now: a basket over the limit for every caller (`operating.rs`), so
    /// `time.operating` and `operating_reset_at` agree with the block.
    pub operation_limit_method: Option<String>,
    pub operation_limit_reset_secs: u64,
    /// Seconds of operating time each call of a method costs (method → seconds; `limits.md`).
    /// Nothing by default: the simulator's own run time is not measured.
    pub operating_costs: BTreeMap<String, f64>,
    /// The operating-time limit per method, application or webhook: 480 s when unset, as in
    /// the docs' example (`limits.md`).
    pub operating_limit_secs: Option<f64>,
    /// Every REST request is refused with this system error, as `_includes/system-errors.md`
    /// gives its status and text (until cleared).
    pub system_error: Option<SystemError>,
    /// Records the caller may not read, as `kind:id` (`contact:43`): their `crm.*.get` answers
    /// `400 {"error": "", "error_description": "Access denied."}` and lists leave them out.
    pub denied_records: Vec<String>,
    /// The push server restarts (one shot): every socket and long poll is dropped without a
    /// close frame; the message history is kept (the real one keeps it in redis).
    pub push_restart: bool,
    /// Every application channel is rotated now (one shot): `pull/channel_expire` with
    /// `action: "get_config"` goes to each old channel; the next config.get issues the new ids.
    pub push_expire_channels: bool,
    /// Every push socket is dropped abruptly (one shot), as a network failure (1006) would.
    pub push_drop_sockets: bool,
    /// Every push delivery (a WebSocket frame, a long-polling answer) waits this long.
    pub push_delay_ms: u64,
    /// The WebSocket endpoint refuses upgrades with HTTP 503 (long polling still works).
    pub push_refuse_websocket: bool,
}

impl Faults {
    pub fn denied(&self, kind: &str, id: u64) -> bool {
        let wanted = format!("{kind}:{id}");
        self.denied_records
            .iter()
            .any(|r| r.eq_ignore_ascii_case(&wanted))
    }
}

/// The system errors any call may get (`_includes/system-errors.md`), injectable by name.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum SystemError {
    /// `403`: a wrong or revoked webhook, or a user without the rights it needs.
    #[serde(rename = "INVALID_CREDENTIALS")]
    InvalidCredentials,
    /// `403`: the administrator opened the application to certain users only.
    #[serde(rename = "user_access_error")]
    UserAccessError,
    /// The application is not installed on the portal. Not in the docs' list: its status and
    /// text are *unverified* (403 and "Application not found" here).
    #[serde(rename = "APPLICATION_NOT_FOUND")]
    ApplicationNotFound,
    /// `503`: Bitrix24 blocked the portal's REST API by hand.
    #[serde(rename = "OVERLOAD_LIMIT")]
    OverloadLimit,
    /// `500`: the portal was deleted (its public part closed).
    #[serde(rename = "PORTAL_DELETED")]
    PortalDeleted,
}

impl SystemError {
    /// The status, code and text `_includes/system-errors.md` gives.
    pub fn answer(self) -> ApiError {
        match self {
            SystemError::InvalidCredentials => {
                ApiError::new(403, "INVALID_CREDENTIALS", "Invalid request credentials")
            }
            SystemError::UserAccessError => ApiError::new(
                403,
                "user_access_error",
                "The user does not have access to the application",
            ),
            SystemError::ApplicationNotFound => {
                ApiError::new(403, "APPLICATION_NOT_FOUND", "Application not found")
            }
            SystemError::OverloadLimit => {
                ApiError::new(503, "OVERLOAD_LIMIT", "REST API is blocked due to overload")
            }
            SystemError::PortalDeleted => {
                ApiError::new(500, "PORTAL_DELETED", "Portal was deleted")
            }
        }
    }
}

/// What the portal saw, for tests and benchmarks.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Stats {
    /// HTTP requests to `/rest/` (a batch is one).
    pub rest_requests: u64,
    /// Method calls, batch sub-requests included.
    pub calls_by_method: BTreeMap<String, u64>,
    pub query_limit_refusals: u64,
    pub code_exchanges: u64,
    pub refreshes: u64,
    pub dropped_after_commit: u64,
    /// Messages published to push channels (one per `pull.application.event.add` that passed
    /// validation, and per system message such as `channel_expire`).
    pub push_published: u64,
    /// Messages written to push connections (one per message per connection).
    pub push_delivered: u64,
    /// Push connections open now (WebSockets and waiting long polls).
    pub push_connections: u64,
}

/// An error as the portal answers it.
#[derive(Debug, Clone, PartialEq)]
pub struct ApiError {
    pub status: u16,
    pub code: String,
    pub description: String,
}

impl ApiError {
    pub fn new(status: u16, code: &str, description: &str) -> ApiError {
        ApiError {
            status,
            code: code.into(),
            description: description.into(),
        }
    }

    pub fn body(&self) -> Value {
        json!({"error": self.code, "error_description": self.description})
    }
}

/// Who a request acts as.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Caller {
    /// An OAuth application (its client id) acting for a user.
    App { user_id: u64, app: String },
    /// An incoming webhook of a user.
    Webhook { user_id: u64 },
}

impl Caller {
    pub fn user_id(&self) -> u64 {
        match self {
            Caller::App { user_id, .. } | Caller::Webhook { user_id } => *user_id,
        }
    }
}

pub(crate) struct Grant {
    pub user_id: u64,
    pub expires_at: f64,
    /// The application (client id) it was issued to.
    pub app: String,
}

pub struct Portal {
    pub config: SimConfig,
    pub data: Data,
    pub faults: Faults,
    pub stats: Stats,
    pub placements: Vec<Value>,
    pub(crate) codes: HashMap<String, Grant>,
    pub(crate) access: HashMap<String, Grant>,
    pub(crate) refresh: HashMap<String, (u64, String)>,
    /// user id → webhook secret.
    pub(crate) webhooks: BTreeMap<u64, String>,
    pub(crate) next_comment_id: u64,
    bucket_level: f64,
    bucket_at: f64,
    fault_rng: Rng,
    secret_rng: Rng,
    operation_limit_until: f64,
    pub(crate) operating: crate::operating::Operating,
    /// Push & Pull: channels, message history, connections (`pull.rs`).
    pub(crate) pull: crate::pull::Pull,
    /// Applications' settings per user (`user_option.rs`).
    pub user_options: crate::user_option::UserOptions,
}

impl Portal {
    pub fn new(mut config: SimConfig, now: f64) -> Portal {
        let data = data::generate(config.seed, config.sizes);
        let next_comment_id = data.comments.keys().max().copied().unwrap_or(0) + 1;
        // Secrets differ between runs even with one seed; the data does not.
        let nonce = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos() as u64)
            .unwrap_or(0);
        let mut secret_rng =
            Rng::new(config.seed ^ nonce ^ u64::from(std::process::id()).rotate_left(32));
        if config.client_secret.is_empty() {
            config.client_secret = hex(&mut secret_rng, 25);
        }
        let faults = config.faults.clone();
        let mut portal = Portal {
            data,
            faults,
            stats: Stats::default(),
            placements: Vec::new(),
            codes: HashMap::new(),
            access: HashMap::new(),
            refresh: HashMap::new(),
            webhooks: BTreeMap::new(),
            next_comment_id,
            bucket_level: 0.0,
            bucket_at: now,
            fault_rng: Rng::new(config.seed.wrapping_add(1)),
            secret_rng,
            operation_limit_until: 0.0,
            operating: Default::default(),
            pull: crate::pull::Pull::new(&config, now),
            user_options: Default::default(),
            config,
        };
        let client_secret = portal.config.client_secret.clone();
        portal.record_secret(&client_secret);
        let webhook = portal.new_secret(8);
        portal.webhooks.insert(1, webhook);
        portal.arm_operation_limit(now);
        portal
    }

    pub(crate) fn arm_operation_limit(&mut self, now: f64) {
        self.operation_limit_until = now + self.faults.operation_limit_reset_secs as f64;
        let limit = self.operating_limit();
        let until = self.operation_limit_until;
        let method = self.faults.operation_limit_method.clone();
        self.operating.force(method.as_deref(), limit, until, now);
    }

    fn operating_limit(&self) -> f64 {
        self.faults
            .operating_limit_secs
            .unwrap_or(crate::operating::DEFAULT_LIMIT_SECS)
    }

    /// The method's `operating` and `operating_reset_at` for this caller (`limits.md`).
    pub(crate) fn operating_time(
        &mut self,
        caller: &Caller,
        method: &str,
        now: f64,
    ) -> crate::operating::OperatingTime {
        self.operating.time(caller, method, now)
    }

    /// A system error injected for every request (`Faults::system_error`).
    pub(crate) fn system_failure(&self) -> Option<ApiError> {
        self.faults.system_error.map(SystemError::answer)
    }

    /// A fresh random secret of `bytes` bytes, in hex, written to the ledger.
    pub(crate) fn new_secret(&mut self, bytes: usize) -> String {
        let secret = hex(&mut self.secret_rng, bytes);
        self.record_secret(&secret);
        secret
    }

    fn record_secret(&self, secret: &str) {
        if let Some(path) = &self.config.token_ledger {
            if let Ok(mut file) = std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(path)
            {
                let _ = writeln!(file, "{secret}");
            }
        }
    }

    pub fn webhook_secret(&self, user_id: u64) -> Option<&str> {
        self.webhooks.get(&user_id).map(String::as_str)
    }

    /// Adds one request to the bucket; false when it overflows (the request is refused and does
    /// not count).
    pub(crate) fn admit(&mut self, now: f64) -> bool {
        self.bucket_level = (self.bucket_level
            - (now - self.bucket_at) * self.config.bucket_drain_per_sec)
            .max(0.0);
        self.bucket_at = now;
        if self.faults.rate_limit_storm > 0 {
            self.faults.rate_limit_storm -= 1;
            self.stats.query_limit_refusals += 1;
            return false;
        }
        if self.bucket_level + 1.0 > self.config.bucket_capacity {
            self.stats.query_limit_refusals += 1;
            return false;
        }
        self.bucket_level += 1.0;
        true
    }

    /// Who the request is; `expired_token` / `invalid_token` / `NO_AUTH_FOUND` otherwise.
    pub(crate) fn authenticate(
        &mut self,
        auth: Option<&str>,
        webhook: Option<(u64, &str)>,
        now: f64,
    ) -> Result<Caller, ApiError> {
        if let Some((user_id, secret)) = webhook {
            return match self.webhooks.get(&user_id) {
                Some(known) if known == secret => Ok(Caller::Webhook { user_id }),
                _ => Err(ApiError::new(
                    403,
                    "INVALID_CREDENTIALS",
                    "Invalid request credentials",
                )),
            };
        }
        let Some(token) = auth.filter(|t| !t.is_empty()) else {
            return Err(ApiError::new(
                401,
                "NO_AUTH_FOUND",
                "Wrong authorization data",
            ));
        };
        if self.faults.expire_tokens {
            self.faults.expire_tokens = false;
            for grant in self.access.values_mut() {
                grant.expires_at = now - 1.0;
            }
        }
        match self.access.get(token) {
            Some(grant) if grant.expires_at > now => Ok(Caller::App {
                user_id: grant.user_id,
                app: grant.app.clone(),
            }),
            Some(_) => Err(ApiError::new(
                401,
                "expired_token",
                "The access token provided has expired.",
            )),
            None => Err(ApiError::new(
                401,
                "invalid_token",
                "The access token provided is invalid.",
            )),
        }
    }

    /// Failures that strike before the method runs: the method's operating time already over
    /// the limit for this caller (`limits.md`: checked before each call; the status and code
    /// are the docs', the text is *unverified*, the docs give none), then injected errors. A
    /// call that runs is charged its operating time (`Faults::operating_costs`).
    pub(crate) fn injected_failure(
        &mut self,
        caller: &Caller,
        method: &str,
        now: f64,
    ) -> Option<ApiError> {
        // `batch` itself is not accounted for in operating; its sub-requests are (`limits.md`).
        let accounted = !method.eq_ignore_ascii_case("batch");
        let limit = self.operating_limit();
        if accounted && self.operating.blocked(caller, method, limit, now) {
            return Some(ApiError::new(
                429,
                "OPERATION_TIME_LIMIT",
                "Method is blocked due to operation time limit.",
            ));
        }
        if self.faults.error_rate > 0.0 && self.fault_rng.chance(self.faults.error_rate) {
            return Some(ApiError::new(
                500,
                "INTERNAL_SERVER_ERROR",
                "Internal server error",
            ));
        }
        let cost = self
            .faults
            .operating_costs
            .iter()
            .find(|(m, _)| m.eq_ignore_ascii_case(method))
            .map_or(0.0, |(_, secs)| *secs);
        if accounted {
            self.operating.charge(caller, method, cost, now);
        }
        None
    }

    /// Takes one "drop the answer after committing" charge, if a write has one.
    pub(crate) fn take_drop_after_commit(&mut self) -> bool {
        if self.faults.drop_after_commit > 0 {
            self.faults.drop_after_commit -= 1;
            self.stats.dropped_after_commit += 1;
            true
        } else {
            false
        }
    }

    pub(crate) fn issue_code(&mut self, user_id: u64, now: f64) -> String {
        let code = self.new_secret(16);
        self.codes.insert(
            code.clone(),
            Grant {
                user_id,
                expires_at: now + self.config.code_ttl_secs as f64,
                app: self.config.client_id.clone(),
            },
        );
        code
    }

    /// Random hex that is no secret (an `APP_SID`), not written to the ledger.
    pub(crate) fn random_hex(&mut self, bytes: usize) -> String {
        hex(&mut self.fault_rng, bytes)
    }

    /// A new access/refresh pair of the application for `user_id`.
    pub(crate) fn issue_tokens(&mut self, user_id: u64, now: f64) -> (String, String) {
        let app = self.config.client_id.clone();
        self.issue_tokens_for(user_id, &app, now)
    }

    /// A new pair issued to application `app` (another application installed on the portal).
    /// A refresh token works only with the client id it was issued to (`settings/oauth/index.md`).
    pub(crate) fn issue_tokens_for(
        &mut self,
        user_id: u64,
        app: &str,
        now: f64,
    ) -> (String, String) {
        let access = self.new_secret(35);
        let refresh = self.new_secret(35);
        self.access.insert(
            access.clone(),
            Grant {
                user_id,
                expires_at: now + self.config.access_ttl_secs as f64,
                app: app.to_owned(),
            },
        );
        self.refresh
            .insert(refresh.clone(), (user_id, app.to_owned()));
        (access, refresh)
    }
}

fn hex(rng: &mut Rng, bytes: usize) -> String {
    let mut out = String::with_capacity(bytes * 2);
    for _ in 0..bytes {
        out.push_str(&format!("{:02x}", rng.next_u64() as u8));
    }
    out
}
