//! OAuth 2.0 for a Bitrix24 application: the authorize URL, the code exchange, and a session
//! that keeps the access token fresh. A refresh rotates the refresh token, so the new pair is
//! handed to the [`TokenStore`] before it is used; however many callers find the token expired
//! at once, one refresh happens.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::envelope::error_of;
use crate::error::RestError;
use crate::http;
use crate::models::de;
use crate::secret::{scrub, Secret};

/// Bitrix24's OAuth servers, one per region (`settings/oauth/index.md`): `oauth.bitrix.info`
/// (international portals; the English docs) and `oauth.bitrix24.tech` (Russian portals; the
/// Russian docs). The sign-in redirect's `server_domain` names the portal's; there is no default.
pub const OAUTH_SERVERS: [&str; 2] = ["oauth.bitrix.info", "oauth.bitrix24.tech"];

/// A Bitrix24 application's keys (a local application's, or a market app's).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OAuthApp {
    pub client_id: String,
    pub client_secret: Secret,
    /// Base URL of the OAuth server the portal's region uses (`https://oauth.bitrix.info`; the
    /// simulator's in tests).
    pub server: String,
}

/// What the token endpoint answers, as the app keeps it (in the keyring, as JSON).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TokenSet {
    pub access_token: Secret,
    pub refresh_token: Secret,
    /// Unix seconds.
    pub expires_at: u64,
    /// `https://{portal}/rest/`: where methods are called.
    pub client_endpoint: String,
    #[serde(default)]
    pub server_endpoint: Option<String>,
    #[serde(default)]
    pub member_id: Option<String>,
    #[serde(default)]
    pub scope: Option<String>,
    #[serde(default)]
    pub user_id: Option<u64>,
}

/// Where a rotated token pair is saved before it is used (the OS keyring in the app).
///
/// Bitrix24 refresh tokens work once. When two processes share a store (the app and a
/// `call-companion portal …` command), a refresh must happen in one of them at a time, and the
/// other must take the pair it saved rather than spend the dead refresh token: `refresh_guard`
/// and `load` make that possible. Their defaults suit a store used by one process.
pub trait TokenStore: Send + Sync {
    fn save(&self, tokens: &TokenSet) -> Result<(), String>;

    /// The pair saved last, by any process; `None` when unknown.
    fn load(&self) -> Option<TokenSet> {
        None
    }

    /// Held while a refresh is decided and done; other processes wait for it. Taken on the
    /// blocking pool (it may wait on a file lock) and held across the refresh's request.
    fn refresh_guard(&self) -> Option<Box<dyn std::any::Any + Send>> {
        None
    }
}

/// `https://{portal}/oauth/authorize/?client_id=…&state=…`: the page the agent signs in on. The
/// redirect address and scopes are part of the application's settings on the portal.
pub fn authorize_url(portal_base: &str, client_id: &str, state: &str) -> String {
    let query: String = form_urlencoded::Serializer::new(String::new())
        .append_pair("client_id", client_id)
        .append_pair("state", state)
        .finish();
    format!(
        "{}/oauth/authorize/?{query}",
        portal_base.trim_end_matches('/')
    )
}

impl OAuthApp {
    /// Trades the code from the redirect (it lives 30 seconds) for a token pair.
    pub async fn exchange_code(
        &self,
        code: &str,
        now_unix: u64,
        timeout: Duration,
    ) -> Result<TokenSet, RestError> {
        self.token_request(
            &[("grant_type", "authorization_code"), ("code", code)],
            now_unix,
            timeout,
            false,
        )
        .await
    }

    /// A new pair for a refresh token (which stops working once used).
    pub async fn refresh(
        &self,
        refresh_token: &Secret,
        now_unix: u64,
        timeout: Duration,
    ) -> Result<TokenSet, RestError> {
        self.token_request(
            &[
                ("grant_type", "refresh_token"),
                ("refresh_token", refresh_token.expose()),
            ],
            now_unix,
            timeout,
            true,
        )
        .await
    }

    async fn token_request(
        &self,
        grant: &[(&str, &str)],
        now_unix: u64,
        timeout: Duration,
        refreshing: bool,
    ) -> Result<TokenSet, RestError> {
        let agent = http::agent(timeout)?;
        let mut url = url::Url::parse(&format!(
            "{}/oauth/token/",
            self.server.trim_end_matches('/')
        ))
        .map_err(|_| RestError::Config("the OAuth server's address is not a URL".into()))?;
        url.query_pairs_mut()
            .extend_pairs(grant)
            .append_pair("client_id", &self.client_id)
            .append_pair("client_secret", self.client_secret.expose());
        let answer = http::send(agent.get(url), None, timeout).await?;
        let secrets: Vec<&Secret> = vec![&self.client_secret];
        let value: Value = serde_json::from_str(&answer.body).map_err(|_| {
            RestError::BadResponse(format!(
                "the OAuth server answered HTTP {} without JSON",
                answer.status
            ))
        })?;
        if let Some((code, description)) = error_of(&value) {
            let description = scrub(&description, &secrets);
            // A refresh token that no longer works means signing in again.
            if refreshing
                && matches!(
                    code.as_str(),
                    "invalid_grant" | "invalid_token" | "expired_token"
                )
            {
                return Err(RestError::NotSignedIn { portal_code: code });
            }
            return Err(RestError::OAuth {
                portal_code: code,
                description,
            });
        }
        if !(200..300).contains(&answer.status) {
            return Err(RestError::OAuth {
                portal_code: format!("http_{}", answer.status),
                description: "the OAuth server refused".into(),
            });
        }
        parse_tokens(&value, now_unix)
    }
}

/// The stable code for an OAuth server's error (`settings/oauth/error-codes.md`).
pub(crate) fn error_code(portal_code: &str) -> codes::ErrorCode {
    match portal_code {
        "invalid_client" => codes::ErrorCode::OAuthInvalidClient,
        "PAYMENT_REQUIRED" => codes::ErrorCode::PaymentRequired,
        "invalid_grant" => codes::ErrorCode::OAuthInvalidGrant,
        "invalid_request" => codes::ErrorCode::OAuthInvalidRequest,
        "invalid_scope" | "insufficient_scope" => codes::ErrorCode::OAuthInvalidScope,
        _ => codes::ErrorCode::SignInFailed,
    }
}

/// What the agent does about an OAuth server's error: the keys, the payment and the
/// permissions are IT's (or the portal administrator's); a refused code means signing in again.
pub(crate) fn error_action(portal_code: &str) -> crate::Action {
    match portal_code {
        "invalid_client" | "PAYMENT_REQUIRED" | "invalid_scope" | "insufficient_scope" => {
            crate::Action::AskAdmin
        }
        "invalid_request" => crate::Action::Report,
        _ => crate::Action::SignIn,
    }
}

/// The sentence for an OAuth server's error, from its "what to do" column
/// (`settings/oauth/error-codes.md`).
pub(crate) fn error_text(portal_code: &str, description: &str) -> String {
    match portal_code {
        "invalid_client" => "the OAuth server did not accept the application's client id and \
            secret (invalid_client): they are wrong, or the application is not installed on this \
            portal; ask IT to check them"
            .into(),
        "PAYMENT_REQUIRED" => "the application's paid or trial period on this portal is over \
            (PAYMENT_REQUIRED): the OAuth server issues no tokens until the portal's \
            administrator renews it"
            .into(),
        "invalid_grant" => "the portal's sign-in code was refused (invalid_grant): it works \
            once and for 30 seconds; sign in again"
            .into(),
        "invalid_request" => format!(
            "the OAuth server called the request malformed (invalid_request): {description}"
        ),
        "invalid_scope" | "insufficient_scope" => format!(
            "the application asks for more permissions than its card on the portal grants \
             ({portal_code}); ask IT to add them"
        ),
        _ => format!("sign-in failed ({portal_code}): {description}"),
    }
}

fn parse_tokens(value: &Value, now_unix: u64) -> Result<TokenSet, RestError> {
    let text = |key: &str| {
        value
            .get(key)
            .and_then(Value::as_str)
            .filter(|s| !s.is_empty())
            .map(str::to_owned)
    };
    let missing = |key: &str| RestError::BadResponse(format!("the OAuth answer has no {key}"));
    let expires_in = value
        .get("expires_in")
        .and_then(de::number_of)
        .unwrap_or(3600.0) as u64;
    Ok(TokenSet {
        access_token: Secret::new(text("access_token").ok_or_else(|| missing("access_token"))?),
        refresh_token: Secret::new(text("refresh_token").ok_or_else(|| missing("refresh_token"))?),
        expires_at: now_unix + expires_in,
        client_endpoint: text("client_endpoint").ok_or_else(|| missing("client_endpoint"))?,
        server_endpoint: text("server_endpoint"),
        member_id: text("member_id"),
        scope: text("scope"),
        user_id: value
            .get("user_id")
            .and_then(de::number_of)
            .map(|n| n as u64),
    })
}

/// A signed-in OAuth session shared by every request of a client.
pub struct OAuthSession {
    app: OAuthApp,
    store: Arc<dyn TokenStore>,
    state: Mutex<SessionState>,
    /// Held across a refresh (its request included), so callers that find the token expired
    /// at once wait for one refresh instead of each spending the refresh token.
    refreshing: tokio::sync::Mutex<()>,
    refreshes: AtomicU64,
    /// Refresh this long before the token expires, so a request never leaves with a token
    /// about to die on the way.
    margin: Duration,
    timeout: Duration,
}

struct SessionState {
    tokens: TokenSet,
    generation: u64,
}

impl OAuthSession {
    pub fn new(app: OAuthApp, tokens: TokenSet, store: Arc<dyn TokenStore>) -> OAuthSession {
        OAuthSession {
            app,
            store,
            state: Mutex::new(SessionState {
                tokens,
                generation: 0,
            }),
            refreshing: tokio::sync::Mutex::new(()),
            refreshes: AtomicU64::new(0),
            margin: Duration::from_secs(60),
            timeout: Duration::from_secs(20),
        }
    }

    pub fn with_margin(mut self, margin: Duration) -> OAuthSession {
        self.margin = margin;
        self
    }

    fn state(&self) -> std::sync::MutexGuard<'_, SessionState> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The current token if it is not about to expire, and its generation.
    fn fresh(&self, now_unix: u64) -> Result<(Secret, u64), u64> {
        let state = self.state();
        if state.tokens.expires_at > now_unix + self.margin.as_secs() {
            Ok((state.tokens.access_token.clone(), state.generation))
        } else {
            Err(state.generation)
        }
    }

    /// The access token to send (refreshed first when it is about to expire) and its generation.
    pub(crate) async fn access(
        self: &Arc<Self>,
        now_unix: u64,
    ) -> Result<(Secret, u64), RestError> {
        match self.fresh(now_unix) {
            Ok(fresh) => Ok(fresh),
            Err(generation) => {
                self.refresh_once(generation, now_unix).await?;
                let state = self.state();
                Ok((state.tokens.access_token.clone(), state.generation))
            }
        }
    }

    /// The portal said `expired_token` to a request sent with `generation`'s token. Refreshes
    /// unless another caller already did.
    pub(crate) async fn refresh_after_expiry(
        self: &Arc<Self>,
        generation: u64,
        now_unix: u64,
    ) -> Result<(), RestError> {
        self.refresh_once(generation, now_unix).await
    }

    /// Refreshes the pair of `generation` unless another caller already did. The refresh runs
    /// as a task of its own, to the end, even when the caller stops waiting (a pop cancelled by
    /// the next call): the old refresh token dies when the server answers, so an answer dropped
    /// half-read would sign the agent out.
    async fn refresh_once(
        self: &Arc<Self>,
        generation: u64,
        now_unix: u64,
    ) -> Result<(), RestError> {
        let session = self.clone();
        tokio::spawn(async move {
            let _refreshing = session.refreshing.lock().await;
            if session.state().generation != generation {
                return Ok(());
            }
            session.refresh_locked(now_unix).await
        })
        .await
        .unwrap_or_else(|_| Err(RestError::Config("the token refresh failed".into())))
    }

    /// Called with `refreshing` held.
    async fn refresh_locked(&self, now_unix: u64) -> Result<(), RestError> {
        let store = self.store.clone();
        // Another process may have refreshed already: this session's refresh token is then
        // dead, and the pair it saved is the one to use.
        let (_guard, saved) = tokio::task::spawn_blocking(move || {
            let guard = store.refresh_guard();
            (guard, store.load())
        })
        .await
        .map_err(|_| RestError::Config("the token store failed".into()))?;
        let refresh_token = {
            let mut state = self.state();
            if let Some(saved) = saved {
                if saved.refresh_token != state.tokens.refresh_token {
                    state.tokens = saved;
                    state.generation += 1;
                    if state.tokens.expires_at > now_unix + self.margin.as_secs() {
                        tracing::info!("took the portal session another process refreshed");
                        return Ok(());
                    }
                }
            }
            state.tokens.refresh_token.clone()
        };
        let fresh = self
            .app
            .refresh(&refresh_token, now_unix, self.timeout)
            .await?;
        self.refreshes.fetch_add(1, Ordering::SeqCst);
        // The old refresh token is dead now; the new one must outlive this process.
        let store = self.store.clone();
        let keep = fresh.clone();
        let saved = tokio::task::spawn_blocking(move || store.save(&keep))
            .await
            .unwrap_or_else(|_| Err("the token store failed".into()));
        if let Err(reason) = saved {
            tracing::warn!(
                code = "token_not_saved",
                "the refreshed portal session is kept in memory only: {reason}"
            );
        }
        let mut state = self.state();
        state.tokens = fresh;
        state.generation += 1;
        tracing::info!("portal session refreshed");
        Ok(())
    }

    pub fn tokens(&self) -> TokenSet {
        self.state
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .tokens
            .clone()
    }

    /// Refreshes done by this session (tests count them).
    pub fn refresh_count(&self) -> u64 {
        self.refreshes.load(Ordering::SeqCst)
    }

    pub(crate) fn secrets(&self) -> Vec<Secret> {
        let state = self.state();
        vec![
            state.tokens.access_token.clone(),
            state.tokens.refresh_token.clone(),
            self.app.client_secret.clone(),
        ]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn authorize_url_carries_client_and_state() {
        assert_eq!(
            authorize_url("https://acme.bitrix24.ru/", "local.abc", "s t"),
            "https://acme.bitrix24.ru/oauth/authorize/?client_id=local.abc&state=s+t"
        );
    }

    #[test]
    fn token_answer_is_read() {
        let value = serde_json::json!({
            "access_token": "a", "refresh_token": "r", "expires_in": "3600", "client_endpoint": "https://acme.bitrix24.ru/rest/",
            "member_id": "m", "scope": "crm,user", "user_id": 1, "status": "L", "domain": "oauth.bitrix24.tech"
        });
        let tokens = parse_tokens(&value, 100).unwrap();
        assert_eq!(tokens.expires_at, 3700);
        assert_eq!(tokens.user_id, Some(1));
        assert!(parse_tokens(&serde_json::json!({"access_token": "a"}), 0).is_err());
    }
}
