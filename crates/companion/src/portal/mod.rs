//! Signing in to the Bitrix24 portal and keeping the connection: OAuth through the system
//! browser (the redirect comes back to the local listener), or an incoming webhook. Secrets go
//! to the [`vault::Vault`]; the rest to `portal.json`. Network work here blocks: the shell calls
//! it from worker threads.

pub mod address;
pub mod browser;
pub mod settings;
pub mod vault;
pub mod widget;

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use bitrix::models::User;
use bitrix::{Client, OAuthApp, OAuthSession, RestError, Secret, TokenSet, TokenStore};
use listener::CallbackPage;
use serde::Deserialize;
use ts_rs::TS;

use crate::secrets::SecretError;
use crate::status::{PortalAction, PortalStatus, SignInMethod};
use crate::tab::{oauth_server_from_redirect, OAuthServers};
use crate::{ErrorBody, ErrorCode};
use address::{PortalAddress, WebhookUrl};
use settings::{PortalSettings, SettingsFile, SignIn};
use vault::Vault;

/// A sign-in the browser has not come back from after this long is forgotten.
const SIGN_IN_PATIENCE: Duration = Duration::from_secs(15 * 60);
const TIMEOUT: Duration = Duration::from_secs(20);
/// How long a refresh waits for another process's refresh (one token request) to finish.
const REFRESH_LOCK_PATIENCE: Duration = Duration::from_secs(30);

#[derive(Debug, thiserror::Error)]
pub enum PortalError {
    #[error("{0}")]
    BadAddress(String),
    #[error("{0}")]
    BadWebhook(String),
    #[error("enter the application's client id and client secret from its page on the portal")]
    MissingAppKeys,
    #[error(transparent)]
    Keyring(#[from] SecretError),
    #[error(transparent)]
    Rest(#[from] RestError),
    #[error("cannot save {path}: {reason}")]
    Settings { path: String, reason: String },
    #[error("another sign-in happened meanwhile")]
    SignedInMeanwhile,
    /// The sign-in came back for another portal than the one the agent chose, or the OAuth
    /// server's answer names another (`settings/oauth/index.md`: check `member_id` and
    /// `client_endpoint`).
    #[error("{0}")]
    WrongPortal(String),
    /// The redirect named an OAuth server that is not one of Bitrix24's, and IT set none.
    #[error(
        "{0}; if your company uses its own OAuth server, IT sets it in the policy (oauth_server)"
    )]
    UnknownOAuthServer(String),
    /// The sign-in's `state` guards the callback; a guessable one would let a page complete a
    /// sign-in the agent never started, so without the OS's random source there is none.
    #[error("cannot start a sign-in: the operating system's random source failed ({0})")]
    NoRandom(String),
    /// Work on the blocking pool did not finish (the runtime shut down under it).
    #[error("the sign-in was interrupted: {0}")]
    Interrupted(String),
}

impl PortalError {
    pub fn code(&self) -> ErrorCode {
        match self {
            PortalError::BadAddress(_) => ErrorCode::BadPortalAddress,
            PortalError::BadWebhook(_) => ErrorCode::BadWebhookUrl,
            PortalError::MissingAppKeys => ErrorCode::MissingAppKeys,
            PortalError::Keyring(e) => e.code(),
            PortalError::Rest(e) => e.code(),
            PortalError::Settings { .. } => ErrorCode::SettingsNotSaved,
            PortalError::SignedInMeanwhile => ErrorCode::SignedInMeanwhile,
            PortalError::WrongPortal(_) => ErrorCode::WrongPortal,
            PortalError::UnknownOAuthServer(_) => ErrorCode::UnknownOAuthServer,
            PortalError::NoRandom(_) => ErrorCode::RandomUnavailable,
            PortalError::Interrupted(_) => ErrorCode::SignInFailed,
        }
    }
}

impl From<PortalError> for ErrorBody {
    fn from(e: PortalError) -> ErrorBody {
        ErrorBody::new(e.code(), e.to_string())
    }
}

/// What the agent fills in to sign in with an OAuth application.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, TS)]
pub struct OAuthForm {
    pub portal: String,
    pub client_id: String,
    pub client_secret: String,
    /// Empty: the server the portal names when the browser comes back (`server_domain`, one of
    /// Bitrix24's two regional servers). IT's policy may set another.
    #[serde(default)]
    pub oauth_server: String,
    /// Keep the session in memory only (the keyring is unavailable and the agent agreed).
    #[serde(default)]
    pub session_only: bool,
    /// Empty: the application's redirect is this computer's usual listener address. Otherwise
    /// the relay's sign-in page (`relay/signed-in.html`, HTTPS), set as the application's
    /// redirect on computers several agents share: it sends the browser on to the port at the
    /// head of `state`, this app's own wherever it listens.
    #[serde(default)]
    pub redirect: String,
}

/// What the agent fills in to sign in with an incoming webhook.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, TS)]
pub struct WebhookForm {
    pub url: String,
    #[serde(default)]
    pub session_only: bool,
}

struct Pending {
    state: String,
    address: PortalAddress,
    /// The application's keys; its server is known when the browser comes back.
    app: OAuthApp,
    /// IT's (or the agent's) OAuth server, which the redirect's `server_domain` cannot change.
    configured_server: Option<String>,
    session_only: bool,
    started: Instant,
}

struct Inner {
    status: PortalStatus,
    client: Option<Client>,
    pending: Option<Pending>,
    /// The settings of the sign-in in use (saved or session-only).
    current: Option<PortalSettings>,
}

/// The portal the app works with: where it is, its id and the agent, for proving a call card's
/// POST to the app's tab.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CurrentPortal {
    /// `https://acme.bitrix24.ru`.
    pub base: String,
    pub domain: String,
    pub member_id: Option<String>,
    pub agent: Option<u64>,
    /// Whether a client is signed in now (not only saved).
    pub connected: bool,
    /// The OAuth application's client id, when signed in with one.
    pub client_id: Option<String>,
    /// The session began from the call card (zero-touch).
    pub via_call_card: bool,
}

type Notify = Box<dyn Fn() + Send + Sync>;

pub struct PortalDesk {
    inner: Mutex<Inner>,
    vault: Arc<Vault>,
    settings: SettingsFile,
    notify: Arc<OnceLock<Notify>>,
    /// The keyring refused a refreshed token pair: the session now lasts until the app closes.
    tokens_in_memory_only: Arc<AtomicBool>,
    /// The agent signed out (kept in `portal.signed-out` across restarts).
    signed_out: AtomicBool,
    /// The client-side pacing (the portal's limits by default).
    bucket: bitrix::BucketConfig,
    /// Where Bitrix24's OAuth servers are reached (their own address but in tests).
    oauth_servers: OAuthServers,
}

impl PortalDesk {
    /// Paces requests with `bucket` instead of the portal's published limits (an Enterprise
    /// plan, or the benchmark, which measures latency rather than pacing).
    pub fn with_bucket(mut self, bucket: bitrix::BucketConfig) -> PortalDesk {
        self.bucket = bucket;
        self
    }

    /// Reaches Bitrix24's OAuth servers (`oauth.bitrix.info`, `oauth.bitrix24.tech`) at `url`
    /// instead: tests stand the simulator in for them. Other servers are reached as they are.
    pub fn with_oauth_stand_in(mut self, url: &str) -> PortalDesk {
        self.oauth_servers = OAuthServers::stood_in_by(url);
        self
    }

    /// Where Bitrix24's OAuth servers are reached.
    pub fn oauth_servers(&self) -> &OAuthServers {
        &self.oauth_servers
    }

    /// The application's keys at the address its server is reached at.
    fn reached(&self, app: &OAuthApp) -> OAuthApp {
        OAuthApp {
            server: self.oauth_servers.reach(&app.server),
            ..app.clone()
        }
    }

    fn client_builder(&self) -> bitrix::ClientBuilder {
        Client::builder().bucket(self.bucket)
    }

    pub fn new(vault: Vault, settings: SettingsFile) -> PortalDesk {
        let (status, current) = match settings.load() {
            Ok(Some(saved)) => (
                PortalStatus::Connecting {
                    domain: saved.domain.clone(),
                },
                Some(saved),
            ),
            Ok(None) => (PortalStatus::NotConfigured, None),
            Err(reason) => (settings_invalid(&reason), None),
        };
        let signed_out = signed_out_marker(&settings).exists();
        PortalDesk {
            inner: Mutex::new(Inner {
                status,
                client: None,
                pending: None,
                current,
            }),
            vault: Arc::new(vault),
            settings,
            notify: Arc::default(),
            tokens_in_memory_only: Arc::default(),
            signed_out: AtomicBool::new(signed_out),
            bucket: bitrix::BucketConfig::default(),
            oauth_servers: OAuthServers::default(),
        }
    }

    /// Called after every status change (the shell emits it to the window).
    pub fn on_change(&self, notify: Notify) {
        let _ = self.notify.set(notify);
    }

    pub fn status(&self) -> PortalStatus {
        let mut status = self.lock().status.clone();
        if let PortalStatus::Connected { session_only, .. } = &mut status {
            *session_only |= self.tokens_in_memory_only.load(Ordering::SeqCst);
        }
        status
    }

    /// The signed-in client, for the CRM card and notes.
    pub fn client(&self) -> Option<Client> {
        self.lock().client.clone()
    }

    /// The portal in use: the current sign-in's, else the saved one's (being reconnected).
    pub fn current_portal(&self) -> Option<CurrentPortal> {
        let (current, status, connected) = {
            let inner = self.lock();
            (
                inner.current.clone(),
                inner.status.clone(),
                inner.client.is_some(),
            )
        };
        // Read from `portal.json` once, at start-up: a tab's POST never waits on the disk.
        let settings = current?;
        let agent = match status {
            PortalStatus::Connected { user_id, .. } if connected => Some(user_id),
            _ => settings.agent(),
        };
        let (client_id, via_call_card) = match &settings.sign_in {
            SignIn::OAuth {
                client_id,
                via_call_card,
                ..
            } => (Some(client_id.clone()), *via_call_card),
            SignIn::Webhook { .. } => (None, false),
        };
        Some(CurrentPortal {
            base: settings.base.clone(),
            domain: settings.domain.clone(),
            member_id: settings.member_id.clone(),
            agent,
            connected,
            client_id,
            via_call_card,
        })
    }

    /// Remembers the portal's `member_id` learnt from a call card the portal proved, for a
    /// webhook sign-in (which does not say it; an OAuth answer does). Only while the same portal
    /// is signed in the same way: a sign-in that changed meanwhile is left alone.
    pub fn pin_member_id(&self, base: &str, member_id: &str) {
        let updated = {
            let mut inner = self.lock();
            let Some(current) = inner.current.as_mut() else {
                return;
            };
            if current.member_id.is_some()
                || current.base != base
                || !matches!(current.sign_in, SignIn::Webhook { .. })
            {
                return;
            }
            current.member_id = Some(member_id.to_owned());
            current.clone()
        };
        if self.settings.path().exists() {
            if let Err(e) = self.settings.save(&updated) {
                tracing::warn!(
                    code = "settings_not_saved",
                    "the portal's member_id was not saved: {e}"
                );
            }
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn set(&self, status: PortalStatus, client: Option<Client>) {
        {
            let mut inner = self.lock();
            inner.status = status;
            inner.client = client;
        }
        if let Some(notify) = self.notify.get() {
            notify();
        }
    }

    /// Reconnects with the saved sign-in, if any (at start-up, on a worker thread).
    pub fn restore(&self) {
        let saved = match self.settings.load() {
            Ok(Some(saved)) => saved,
            Ok(None) => return,
            Err(reason) => return self.set(settings_invalid(&reason), None),
        };
        let domain = saved.domain.clone();
        self.lock().current = Some(saved.clone());
        let client = match &saved.sign_in {
            SignIn::Webhook { .. } => match self.vault.get(vault::WEBHOOK_URL) {
                Ok(Some(url)) => self
                    .client_builder()
                    .webhook(Secret::new(url))
                    .timeout(TIMEOUT)
                    .build()
                    .map_err(PortalError::from),
                Ok(None) => Err(PortalError::Rest(RestError::NotSignedIn {
                    portal_code: "no_saved_session".into(),
                })),
                Err(e) => Err(e.into()),
            },
            SignIn::OAuth {
                client_id,
                oauth_server,
                ..
            } => self.restore_oauth(client_id, oauth_server),
        };
        match client.and_then(|client| signed_in_user(&client).map(|found| (client, found))) {
            Ok((client, (user, installed))) => {
                let method = match saved.sign_in {
                    SignIn::OAuth {
                        via_call_card: true,
                        ..
                    } => SignInMethod::CallCard,
                    SignIn::OAuth { .. } => SignInMethod::Oauth,
                    SignIn::Webhook { .. } => SignInMethod::Webhook,
                };
                tracing::info!(domain = %domain, "signed in to the portal again");
                let status = connected(&domain, &user, method, false).with_installed(installed);
                self.set(status, Some(client));
            }
            Err(e) => {
                tracing::warn!(
                    code = e.code().as_str(),
                    "the saved portal sign-in did not work: {e}"
                );
                self.set(failed_from(&domain, &e), None);
            }
        }
    }

    fn restore_oauth(&self, client_id: &str, oauth_server: &str) -> Result<Client, PortalError> {
        let no_session = || {
            PortalError::Rest(RestError::NotSignedIn {
                portal_code: "no_saved_session".into(),
            })
        };
        let tokens: TokenSet = self
            .vault
            .get(vault::OAUTH_TOKENS)?
            .and_then(|json| serde_json::from_str(&json).ok())
            .ok_or_else(no_session)?;
        let secret = self
            .vault
            .get(vault::CLIENT_SECRET)?
            .ok_or_else(no_session)?;
        let app = OAuthApp {
            client_id: client_id.to_owned(),
            client_secret: Secret::new(secret),
            server: oauth_server.to_owned(),
        };
        let store = Arc::new(self.token_store(false));
        let session = Arc::new(OAuthSession::new(self.reached(&app), tokens, store));
        Ok(self
            .client_builder()
            .oauth(session)
            .timeout(TIMEOUT)
            .build()?)
    }

    /// Starts an OAuth sign-in and returns the portal page to open in the browser.
    pub fn begin_oauth(&self, form: &OAuthForm) -> Result<String, PortalError> {
        self.begin_oauth_returning(form, None)
    }

    /// The same, `state` led by the port the browser must come back to (`PORT.` then the
    /// random part), which the relay's sign-in page reads.
    pub fn begin_oauth_returning(
        &self,
        form: &OAuthForm,
        return_port: Option<u16>,
    ) -> Result<String, PortalError> {
        let address = PortalAddress::parse(&form.portal)?;
        if form.client_id.trim().is_empty() || form.client_secret.trim().is_empty() {
            return Err(PortalError::MissingAppKeys);
        }
        if !form.session_only {
            // Say so now, not after the agent signed in: the form then offers a session-only sign-in.
            self.vault.probe()?;
        }
        // No default: the portal names its region's server when the browser comes back.
        let configured_server = match form.oauth_server.trim() {
            "" => None,
            other => Some(
                PortalAddress::parse(other)
                    .map_err(|_| {
                        PortalError::BadAddress(format!(
                            "the OAuth server {other:?} is not an https address"
                        ))
                    })?
                    .base,
            ),
        };
        let redirect = form.redirect.trim();
        if !redirect.is_empty()
            && !url::Url::parse(redirect).is_ok_and(|u| u.scheme() == "https" && u.host().is_some())
        {
            return Err(PortalError::BadAddress(format!(
                "the sign-in's return page {redirect:?} is not an https address"
            )));
        }
        let random = random_state(getrandom::fill)?;
        // The port the browser must come back to leads `state`, for the relay's sign-in page.
        let state = match return_port {
            Some(port) => format!("{port}.{random}"),
            None => random,
        };
        let url = bitrix::authorize_url(&address.base, form.client_id.trim(), &state);
        let app = OAuthApp {
            client_id: form.client_id.trim().to_owned(),
            client_secret: Secret::new(form.client_secret.trim()),
            server: String::new(),
        };
        self.lock().pending = Some(Pending {
            state,
            address: address.clone(),
            app,
            configured_server,
            session_only: form.session_only,
            started: Instant::now(),
        });
        tracing::info!(domain = %address.domain, "portal sign-in started in the browser");
        self.set(
            PortalStatus::SigningIn {
                domain: address.domain,
                authorize_url: url.clone(),
            },
            None,
        );
        Ok(url)
    }

    /// Starts an OAuth sign-in and opens the portal's page in the agent's browser. When no
    /// browser opens, the status still carries the address for the window to offer.
    pub fn begin_oauth_in_browser(
        &self,
        form: &OAuthForm,
        return_port: Option<u16>,
    ) -> Result<PortalStatus, PortalError> {
        let url = self.begin_oauth_returning(form, return_port)?;
        if let Err(reason) = browser::open(&url) {
            tracing::warn!(code = "browser_not_opened", "{reason}");
        }
        Ok(self.status())
    }

    /// Opens the pending sign-in page again (the agent closed the tab).
    pub fn reopen_sign_in_page(&self) -> Result<PortalStatus, PortalError> {
        if let PortalStatus::SigningIn { authorize_url, .. } = self.status() {
            browser::open(&authorize_url)
                .map_err(|reason| PortalError::Rest(RestError::Config(reason)))?;
        }
        Ok(self.status())
    }

    /// The browser came back to the listener: checks `state`, trades the code for tokens, saves
    /// them and greets the user. The page tells the agent how it went.
    pub fn complete_oauth(&self, query: &str) -> CallbackPage {
        let params: Vec<(String, String)> = url::form_urlencoded::parse(query.as_bytes())
            .into_owned()
            .collect();
        let get = |name: &str| {
            params
                .iter()
                .find(|(k, _)| k == name)
                .map(|(_, v)| v.as_str())
                .unwrap_or_default()
        };
        let pending = {
            let mut inner = self.lock();
            match inner.pending.take() {
                Some(p)
                    if listener::same_secret(p.state.as_bytes(), get("state").as_bytes())
                        && p.started.elapsed() < SIGN_IN_PATIENCE =>
                {
                    p
                }
                other => {
                    inner.pending = other;
                    return page(false, "Sign-in not recognised", "This sign-in was not started by Call Companion, or it took too long. Start it again from Call Companion's settings.");
                }
            }
        };
        let domain = pending.address.domain.clone();
        if !get("error").is_empty() || get("code").is_empty() {
            let message = format!(
                "The portal did not sign you in ({}). Try again from Call Companion's settings.",
                if get("error").is_empty() {
                    "no code"
                } else {
                    get("error")
                }
            );
            self.set(
                failed(
                    domain,
                    ErrorCode::SignInRefused,
                    &message,
                    PortalAction::SignIn,
                ),
                None,
            );
            return page(false, "Sign-in failed", &message);
        }
        let redirect = Redirect {
            code: get("code"),
            domain: get("domain"),
            member_id: get("member_id"),
            server_domain: get("server_domain"),
        };
        match self.finish_oauth(&pending, &redirect) {
            Ok((client, user, installed)) => {
                let name = user.display_name();
                tracing::info!(domain = %domain, "signed in to the portal");
                let status = connected(&domain, &user, SignInMethod::Oauth, pending.session_only)
                    .with_installed(installed);
                self.set(status, Some(client));
                let mut message = format!("Signed in to {domain} as {name}. You can close this tab and go back to Call Companion.");
                if installed == Some(false) {
                    message.push(' ');
                    message.push_str(INSTALL_UNFINISHED);
                }
                page(true, "Signed in", &message)
            }
            Err(e) => {
                tracing::warn!(code = e.code().as_str(), "portal sign-in failed: {e}");
                let status = failed_from(&domain, &e);
                self.set(status, None);
                page(
                    false,
                    "Sign-in failed",
                    &format!("{e}. Try again from Call Companion's settings."),
                )
            }
        }
    }

    /// Checks the redirect (`settings/oauth/index.md`: `domain`, `member_id`, `server_domain`),
    /// trades its code at the portal's OAuth server, checks that the answer is the chosen
    /// portal's, and asks the portal who signed in and whether the application's installation is
    /// finished (`app.info`'s `INSTALLED`).
    fn finish_oauth(
        &self,
        pending: &Pending,
        redirect: &Redirect<'_>,
    ) -> Result<(Client, User, Option<bool>), PortalError> {
        let chosen = &pending.address.domain;
        if !redirect.domain.eq_ignore_ascii_case(chosen) {
            return Err(PortalError::WrongPortal(format!(
                "the sign-in came back from {:?}, not from {chosen}: sign in to {chosen} in the browser",
                redirect.domain
            )));
        }
        if redirect.member_id.is_empty() {
            return Err(PortalError::WrongPortal(format!(
                "the sign-in came back without the portal's member_id; {chosen} cannot be told apart from another portal"
            )));
        }
        let server = oauth_server_from_redirect(
            pending.configured_server.as_deref(),
            redirect.server_domain,
        )
        .map_err(PortalError::UnknownOAuthServer)?;
        let app = OAuthApp {
            server,
            ..pending.app.clone()
        };
        let reached = self.reached(&app);
        let tokens =
            crate::rt::block_on(reached.exchange_code(redirect.code, now_unix(), TIMEOUT))?;
        if tokens.member_id.as_deref() != Some(redirect.member_id) {
            return Err(PortalError::WrongPortal(
                "the OAuth server's answer names another portal (member_id) than the sign-in: nothing was kept".into(),
            ));
        }
        let endpoint = url::Url::parse(&tokens.client_endpoint)
            .map(|u| u.origin().ascii_serialization())
            .unwrap_or_default();
        if !listener::same_origin(&endpoint, &pending.address.base) {
            return Err(PortalError::WrongPortal(format!(
                "the OAuth server's answer sends the app to another portal than {chosen} (client_endpoint): nothing was kept"
            )));
        }
        // Saved before anything uses them: the refresh token rotates with the first refresh.
        self.vault.put(
            vault::OAUTH_TOKENS,
            &serde_json::to_string(&tokens).unwrap_or_default(),
            pending.session_only,
        )?;
        self.vault.put(
            vault::CLIENT_SECRET,
            pending.app.client_secret.expose(),
            pending.session_only,
        )?;
        let store = Arc::new(self.token_store(pending.session_only));
        let session = Arc::new(OAuthSession::new(self.reached(&app), tokens, store));
        let client = self
            .client_builder()
            .oauth(session)
            .timeout(TIMEOUT)
            .build()?;
        let (user, installed) = signed_in_user(&client)?;
        if installed == Some(false) {
            tracing::warn!(
                code = "app_install_unfinished",
                "the application's installation on the portal is not finished: no widget shows"
            );
        }
        let settings = PortalSettings {
            base: pending.address.base.clone(),
            domain: pending.address.domain.clone(),
            sign_in: SignIn::OAuth {
                client_id: app.client_id.clone(),
                oauth_server: app.server.clone(),
                via_call_card: false,
            },
            member_id: tokens_member_id(&client),
            agent_id: Some(user.id),
        };
        self.save_settings(&settings, pending.session_only)?;
        self.mark_signed_out(false);
        self.lock().current = Some(settings);
        Ok((client, user, installed))
    }

    /// Zero-touch sign-in: the call card's own POST to the app's tab, proven by the portal,
    /// carried an access and refresh token of the application IT preset; they become the
    /// session (in the keyring, refreshed like any other). When the keyring refuses, the
    /// session lasts until the app closes, and the status says so.
    pub fn adopt_call_card_session(
        &self,
        address: &PortalAddress,
        app: OAuthApp,
        tokens: TokenSet,
        user: &User,
    ) -> Result<PortalStatus, PortalError> {
        let settings = PortalSettings {
            base: address.base.clone(),
            domain: address.domain.clone(),
            sign_in: SignIn::OAuth {
                client_id: app.client_id.clone(),
                oauth_server: app.server.clone(),
                via_call_card: true,
            },
            member_id: tokens.member_id.clone(),
            agent_id: Some(user.id),
        };
        // Only where nobody is signed in (or this very agent's call-card session broke): a
        // sign-in, sign-out or another tab that got here first wins.
        {
            let mut inner = self.lock();
            let replaceable = match &inner.current {
                None => inner.pending.is_none() && inner.client.is_none(),
                Some(current) => {
                    inner.client.is_none()
                        && current.agent_id == Some(user.id)
                        && current.base == address.base
                        && matches!(
                            current.sign_in,
                            SignIn::OAuth {
                                via_call_card: true,
                                ..
                            }
                        )
                }
            };
            if !replaceable {
                return Err(PortalError::SignedInMeanwhile);
            }
            inner.current = Some(settings.clone());
        }
        let kept = self.keep_call_card_session(&settings, &app, &tokens);
        let (session_only, client) = match kept {
            Ok(kept) => kept,
            Err(e) => {
                let mut inner = self.lock();
                if inner.current.as_ref() == Some(&settings) && inner.client.is_none() {
                    inner.current = None;
                }
                return Err(e);
            }
        };
        let status = connected(&address.domain, user, SignInMethod::CallCard, session_only);
        {
            let mut inner = self.lock();
            if inner.current.as_ref() != Some(&settings) {
                // Signed out (or in otherwise) while this was saved: that choice stands.
                return Err(PortalError::SignedInMeanwhile);
            }
            inner.status = status.clone();
            inner.client = Some(client);
        }
        tracing::info!(domain = %address.domain, user_id = user.id, "signed in to the portal from the call card");
        if let Some(notify) = self.notify.get() {
            notify();
        }
        Ok(status)
    }

    /// The keyring (or, when it refuses, memory) and `portal.json` for a call card's session, and
    /// its client.
    fn keep_call_card_session(
        &self,
        settings: &PortalSettings,
        app: &OAuthApp,
        tokens: &TokenSet,
    ) -> Result<(bool, Client), PortalError> {
        let json = serde_json::to_string(tokens).unwrap_or_default();
        let session_only = match self
            .vault
            .put(vault::OAUTH_TOKENS, &json, false)
            .and_then(|()| {
                self.vault
                    .put(vault::CLIENT_SECRET, app.client_secret.expose(), false)
            }) {
            Ok(()) => false,
            Err(e) => {
                tracing::warn!(
                    code = e.code().as_str(),
                    "the call card's session is kept for this run only: {e}"
                );
                self.vault.put(vault::OAUTH_TOKENS, &json, true)?;
                self.vault
                    .put(vault::CLIENT_SECRET, app.client_secret.expose(), true)?;
                true
            }
        };
        let store = Arc::new(self.token_store(session_only));
        let session = Arc::new(OAuthSession::new(self.reached(app), tokens.clone(), store));
        let client = self
            .client_builder()
            .oauth(session)
            .timeout(TIMEOUT)
            .build()?;
        self.save_settings(settings, session_only)?;
        self.mark_signed_out(false);
        Ok((session_only, client))
    }

    /// The agent signed out: no call card signs them in again by itself until they sign in.
    pub fn signed_out_by_agent(&self) -> bool {
        self.signed_out.load(Ordering::SeqCst)
    }

    fn mark_signed_out(&self, on: bool) {
        if self.signed_out.swap(on, Ordering::SeqCst) == on {
            return;
        }
        let marker = signed_out_marker(&self.settings);
        let result = if on {
            marker
                .parent()
                .map(std::fs::create_dir_all)
                .unwrap_or(Ok(()))
                .and_then(|()| std::fs::write(&marker, b""))
        } else {
            match std::fs::remove_file(&marker) {
                Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(e),
                _ => Ok(()),
            }
        };
        if let Err(e) = result {
            tracing::warn!(code = "settings_not_saved", "{}: {e}", marker.display());
        }
    }

    /// Signs in with an incoming webhook after checking that it works.
    pub fn sign_in_webhook(&self, form: &WebhookForm) -> Result<PortalStatus, PortalError> {
        let hook = WebhookUrl::parse(&form.url)?;
        if !form.session_only {
            self.vault.probe()?;
        }
        let client = self
            .client_builder()
            .webhook(Secret::new(hook.url.clone()))
            .timeout(TIMEOUT)
            .build()?;
        let user = current_user(&client)?;
        self.vault
            .put(vault::WEBHOOK_URL, &hook.url, form.session_only)?;
        let settings = PortalSettings {
            base: hook.address.base.clone(),
            domain: hook.address.domain.clone(),
            sign_in: SignIn::Webhook {
                user_id: hook.user_id,
            },
            member_id: None,
            agent_id: Some(user.id),
        };
        self.save_settings(&settings, form.session_only)?;
        self.mark_signed_out(false);
        self.lock().current = Some(settings);
        tracing::info!(domain = %hook.address.domain, "signed in to the portal with a webhook");
        let status = connected(
            &hook.address.domain,
            &user,
            SignInMethod::Webhook,
            form.session_only,
        );
        self.set(status.clone(), Some(client));
        Ok(status)
    }

    fn save_settings(
        &self,
        settings: &PortalSettings,
        session_only: bool,
    ) -> Result<(), PortalError> {
        if session_only {
            // Nothing outlives the session: a restart asks to sign in again.
            return self.settings.remove().map_err(|e| PortalError::Settings {
                path: self.settings.path().display().to_string(),
                reason: e.to_string(),
            });
        }
        self.settings
            .save(settings)
            .map_err(|e| PortalError::Settings {
                path: self.settings.path().display().to_string(),
                reason: e.to_string(),
            })
    }

    /// Where a session's refreshed tokens go; a new session starts with them in the keyring.
    fn token_store(&self, session_only: bool) -> VaultTokenStore {
        self.tokens_in_memory_only.store(false, Ordering::SeqCst);
        VaultTokenStore {
            vault: self.vault.clone(),
            session_only,
            refresh_lock: self.settings.path().with_extension("refresh.lock"),
            in_memory_only: self.tokens_in_memory_only.clone(),
            notify: self.notify.clone(),
        }
    }

    /// Forgets the portal: keyring entries, settings, the client.
    pub fn sign_out(&self) -> Result<PortalStatus, PortalError> {
        {
            let mut inner = self.lock();
            inner.pending = None;
            inner.current = None;
        }
        let keyring = self.vault.clear();
        let file = self.settings.remove();
        self.mark_signed_out(true);
        self.set(PortalStatus::NotConfigured, None);
        keyring?;
        file.map_err(|e| PortalError::Settings {
            path: self.settings.path().display().to_string(),
            reason: e.to_string(),
        })?;
        tracing::info!("signed out of the portal");
        Ok(PortalStatus::NotConfigured)
    }
}

/// Saves each rotated token pair before the session uses it, and lets the app and a `portal`
/// command share one saved session without spending each other's refresh token.
struct VaultTokenStore {
    vault: Arc<Vault>,
    session_only: bool,
    /// Locked (flock) while a refresh is decided; the file itself holds nothing.
    refresh_lock: std::path::PathBuf,
    in_memory_only: Arc<AtomicBool>,
    notify: Arc<OnceLock<Notify>>,
}

impl VaultTokenStore {
    /// The window hears when the session starts or stops ending with the app.
    fn set_in_memory_only(&self, on: bool) {
        if self.in_memory_only.swap(on, Ordering::SeqCst) != on {
            if let Some(notify) = self.notify.get() {
                notify();
            }
        }
    }
}

impl TokenStore for VaultTokenStore {
    fn save(&self, tokens: &TokenSet) -> Result<(), String> {
        let json = serde_json::to_string(tokens).map_err(|e| e.to_string())?;
        match self
            .vault
            .put(vault::OAUTH_TOKENS, &json, self.session_only)
        {
            Ok(()) => {
                // The keyring is back (if it was away): the session outlives the app again.
                self.set_in_memory_only(false);
                Ok(())
            }
            Err(e) => {
                // The old refresh token is already spent: keep the new pair for this run and
                // tell the window the session now ends with the app.
                let _ = self.vault.put(vault::OAUTH_TOKENS, &json, true);
                self.set_in_memory_only(true);
                Err(e.to_string())
            }
        }
    }

    fn load(&self) -> Option<TokenSet> {
        let json = self.vault.get(vault::OAUTH_TOKENS).ok()??;
        serde_json::from_str(&json).ok()
    }

    fn refresh_guard(&self) -> Option<Box<dyn std::any::Any + Send>> {
        if self.session_only {
            return None;
        }
        if let Some(dir) = self.refresh_lock.parent() {
            let _ = std::fs::create_dir_all(dir);
        }
        let file = match std::fs::OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&self.refresh_lock)
        {
            Ok(file) => file,
            Err(e) => {
                tracing::warn!(
                    code = "refresh_lock_unavailable",
                    "refreshing without the lock: {e}"
                );
                return None;
            }
        };
        // Bounded: a stopped `portal` command holding the lock must not stall every REST call.
        let deadline = Instant::now() + REFRESH_LOCK_PATIENCE;
        loop {
            match file.try_lock() {
                // Unlocked when the file is closed.
                Ok(()) => return Some(Box::new(file)),
                Err(std::fs::TryLockError::WouldBlock) if Instant::now() < deadline => {
                    std::thread::sleep(Duration::from_millis(50));
                }
                Err(e) => {
                    tracing::warn!(
                        code = "refresh_lock_unavailable",
                        "refreshing without the lock: {e}"
                    );
                    return None;
                }
            }
        }
    }
}

/// Where an agent's sign-out is remembered, beside `portal.json`.
fn signed_out_marker(settings: &SettingsFile) -> std::path::PathBuf {
    settings.path().with_extension("signed-out")
}

/// The portal's `member_id` from an OAuth session's token answer.
fn tokens_member_id(client: &Client) -> Option<String> {
    client.oauth_tokens().and_then(|t| t.member_id)
}

fn current_user(client: &Client) -> Result<User, PortalError> {
    let asking = client.call_as::<User>("user.current", serde_json::json!({}));
    Ok(crate::rt::block_on(asking)?)
}

/// What the agent is told when `app.info` says the installation is not finished.
const INSTALL_UNFINISHED: &str = "The application's installation on the portal is not finished, so its tab will not appear in the call card: a portal administrator opens the application once in Bitrix24 (Applications), which finishes it.";

/// The redirect's parameters (`settings/oauth/index.md`).
struct Redirect<'a> {
    code: &'a str,
    domain: &'a str,
    member_id: &'a str,
    server_domain: &'a str,
}

/// The signed-in user and, for an application, whether its installation is finished
/// (`app.info`'s `INSTALLED`, `common/system/app-info.md`; a webhook's answer has none), in one
/// request. `app.info` failing says nothing either way.
fn signed_in_user(client: &Client) -> Result<(User, Option<bool>), PortalError> {
    let batch = bitrix::Batch::new()
        .add("me", "user.current", serde_json::json!({}))
        .add("app", "app.info", serde_json::json!({}));
    let answer = crate::rt::block_on(client.batch(&batch))?;
    let user = match answer.get("me") {
        Some(Ok(value)) => serde_json::from_value::<User>(value.clone())
            .map_err(|e| RestError::BadResponse(format!("user.current: {e}")))?,
        Some(Err(e)) => return Err(e.clone().into()),
        None => return Err(RestError::BadResponse("user.current: no answer".into()).into()),
    };
    let installed = match answer.get("app") {
        Some(Ok(info)) => info.get("INSTALLED").and_then(flag),
        _ => None,
    };
    Ok((user, installed))
}

/// `true`/`false`, and the PHP spellings `"Y"`/`"N"`, `1`/`0`.
fn flag(value: &serde_json::Value) -> Option<bool> {
    use serde_json::Value;
    match value {
        Value::Bool(b) => Some(*b),
        Value::Number(n) => n.as_f64().map(|n| n != 0.0),
        Value::String(s) => match s.trim().to_ascii_uppercase().as_str() {
            "Y" | "TRUE" | "1" => Some(true),
            "N" | "FALSE" | "0" | "" => Some(false),
            _ => None,
        },
        _ => None,
    }
}

fn connected(domain: &str, user: &User, method: SignInMethod, session_only: bool) -> PortalStatus {
    PortalStatus::Connected {
        domain: domain.to_owned(),
        user_name: user.display_name(),
        user_id: user.id,
        method,
        session_only,
        app_installed: None,
    }
}

/// `portal.json` cannot be used (an invalid one is already set aside by `load`): the agent is
/// asked to sign in again, with the reason.
fn settings_invalid(reason: &str) -> PortalStatus {
    tracing::warn!(code = "settings_invalid", "{reason}");
    failed(
        String::new(),
        ErrorCode::SettingsInvalid,
        reason,
        PortalAction::SignIn,
    )
}

fn failed(domain: String, code: ErrorCode, message: &str, action: PortalAction) -> PortalStatus {
    PortalStatus::Failed {
        domain,
        code,
        message: message.to_owned(),
        action,
    }
}

fn failed_from(domain: &str, error: &PortalError) -> PortalStatus {
    let action = match error {
        PortalError::Rest(e) => e.action().into(),
        PortalError::Keyring(_) => PortalAction::CheckConnection,
        PortalError::UnknownOAuthServer(_) => PortalAction::AskAdmin,
        _ => PortalAction::SignIn,
    };
    failed(domain.to_owned(), error.code(), &error.to_string(), action)
}

fn page(ok: bool, title: &str, message: &str) -> CallbackPage {
    CallbackPage {
        ok,
        title: format!("Call Companion: {title}"),
        message: message.to_owned(),
    }
}

fn now_unix() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

/// The sign-in's `state`: 16 bytes from the OS's random source, in hex; none without it.
fn random_state(
    fill: impl FnOnce(&mut [u8]) -> Result<(), getrandom::Error>,
) -> Result<String, PortalError> {
    let mut buf = [0u8; 16];
    fill(&mut buf).map_err(|e| PortalError::NoRandom(e.to_string()))?;
    Ok(buf.iter().map(|b| format!("{b:02x}")).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn no_sign_in_state_without_the_os_random_source() {
        let state = random_state(getrandom::fill).unwrap();
        assert_eq!(state.len(), 32);
        assert_ne!(state, random_state(getrandom::fill).unwrap());
        let refused = random_state(|_| Err(getrandom::Error::UNSUPPORTED)).unwrap_err();
        assert_eq!(refused.code(), "random_unavailable");
        assert!(refused.to_string().contains("random source"), "{refused}");
    }
}
