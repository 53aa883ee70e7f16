//! The call-card tab the app serves itself: Bitrix24's form POST comes straight from the
//! portal's page to the listener, and this desk decides whether it is a genuine call for this
//! app's agent before anything pops.
//!
//! The proof costs no extra portal request: the screen pop's own `batch` is sent with the tab's
//! `AUTH_ID` to the portal the app is configured for (never the `DOMAIN` the request names),
//! with `user.current` and `app.info` in it. A forged or altered token is refused by the portal;
//! a genuine token of another user names that user; one of another application names it.
//! Only then is the card kept and the call reported. With no sign-in yet and IT's policy
//! presetting the portal and its application, the proven pair, refreshed once at IT's OAuth
//! server (which proves it is that application's and names the portal's `member_id`), becomes
//! the OAuth session (zero-touch sign-in).

mod gate;
mod region;

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use bitrix::models::User;
use bitrix::{Batch, BatchResponse, Client, OAuthApp, RestError, Secret, TokenSet};
use callcard::{CallContext, TabCredentials};
use listener::{same_origin, TabPost, TabVerdict};

use crate::card::{key_for, CardDesk};
use crate::desk::CallDesk;
use crate::policy::CallCardSignIn;
use crate::portal::address::PortalAddress;
use crate::portal::{CurrentPortal, PortalDesk, PortalError};
pub use region::{library_url, oauth_server, oauth_server_from_redirect, OAuthServers};

/// The proving request's own commands; their keys cannot clash with the card's.
const PROOF_USER: &str = "tab_me";
const PROOF_APP: &str = "tab_app";
/// The port the tab's user's own app published (`port_publish.rs`), read in the same request.
const PROOF_PORT: &str = "tab_port";
const TIMEOUT: Duration = Duration::from_secs(20);
/// Refused proofs allowed at once, and how fast the allowance comes back.
const REFUSALS_AT_ONCE: u32 = 5;
const REFUSAL_REFILL: Duration = Duration::from_secs(60);

pub struct TabDesk {
    portal: Arc<PortalDesk>,
    cards: Arc<CardDesk>,
    calls: Arc<CallDesk>,
    /// The application IT preset, for a sign-in from the first genuine tab.
    preset: Option<CallCardSignIn>,
    bucket: bitrix::BucketConfig,
    refusals: Mutex<gate::FailureGate>,
}

/// Who the tab must be for, before the portal is asked.
enum Agent {
    /// Signed in (or a saved sign-in): the call must be this user's.
    Known(u64),
    /// Nobody signed in: the first genuine call signs its user in with IT's application.
    ZeroTouch(CallCardSignIn),
    /// This agent's call-card session broke (its refresh token died): a genuine call of theirs
    /// renews it.
    Renew(u64, CallCardSignIn),
}

impl TabDesk {
    pub fn new(
        portal: Arc<PortalDesk>,
        cards: Arc<CardDesk>,
        calls: Arc<CallDesk>,
        preset: Option<CallCardSignIn>,
    ) -> TabDesk {
        TabDesk {
            portal,
            cards,
            calls,
            preset,
            bucket: bitrix::BucketConfig::default(),
            refusals: Mutex::new(gate::FailureGate::new(REFUSALS_AT_ONCE, REFUSAL_REFILL)),
        }
    }

    /// Paces the proving request with `bucket` (the benchmark measures latency, not pacing).
    pub fn with_bucket(mut self, bucket: bitrix::BucketConfig) -> TabDesk {
        self.bucket = bucket;
        self
    }

    /// The portal's address: the sign-in's, else the one IT preset for a zero-touch sign-in.
    fn portal_base(&self) -> Option<(PortalAddress, Option<CurrentPortal>)> {
        match self.portal.current_portal() {
            Some(current) => PortalAddress::parse(&current.base)
                .ok()
                .map(|a| (a, Some(current))),
            None => self
                .preset
                .as_ref()
                .and_then(|p| PortalAddress::parse(&p.portal).ok())
                .map(|a| (a, None)),
        }
    }

    /// The origin of the portal's page: the one page that may open the tab.
    pub fn origin(&self) -> Option<String> {
        self.portal_base().map(|(address, _)| address.base)
    }

    /// Judges a call card's POST to the tab; a genuine one for this app's agent is shown.
    pub async fn receive(&self, post: &TabPost) -> TabVerdict {
        let Some((address, current)) = self.portal_base() else {
            return TabVerdict::NotSignedIn;
        };
        let (context, credentials) = match callcard::parse_tab_post(&post.query, &post.body) {
            Ok(parsed) => parsed,
            Err(error) => {
                // Shown in the tab, logged by its code: the window's list of refused payloads is
                // for what a paired widget sent, not for any local POST.
                tracing::warn!(
                    code = error.code().as_str(),
                    "a call card's POST to the tab was not understood"
                );
                return TabVerdict::BadCall {
                    code: error.code(),
                    message: error.to_string(),
                };
            }
        };
        // `Origin: null` is what browsers send on this POST by default (an HTTPS page posting to
        // http:), so only a named other origin is refused; the token's proof decides the rest.
        let opaque = post.origin.is_empty() || post.origin == "null";
        if !opaque && !same_origin(&post.origin, &address.base) {
            return refuse(
                "tab_foreign_origin",
                TabVerdict::ForeignPortal {
                    portal: post.origin.clone(),
                },
            );
        }
        // The portal's name in the request must be the configured one's (it never chooses where
        // the token is proven).
        if let Some(domain) = &credentials.domain {
            if !domain.eq_ignore_ascii_case(&address.domain) {
                return refuse(
                    "tab_foreign_domain",
                    TabVerdict::ForeignPortal {
                        portal: domain.clone(),
                    },
                );
            }
        }
        let expected_member = current.as_ref().and_then(|c| c.member_id.clone());
        if let Some(expected) = &expected_member {
            if credentials.member_id.as_deref() != Some(expected.as_str()) {
                return refuse(
                    "tab_foreign_member_id",
                    TabVerdict::ForeignPortal {
                        portal: credentials
                            .domain
                            .clone()
                            .unwrap_or_else(|| post.origin.clone()),
                    },
                );
            }
        }
        let agent = match (&current, self.preset.clone()) {
            (
                Some(CurrentPortal {
                    via_call_card: true,
                    connected: false,
                    agent: Some(id),
                    ..
                }),
                Some(preset),
            ) => Agent::Renew(*id, preset),
            (Some(c), _) => match c.agent {
                Some(id) => Agent::Known(id),
                // A saved sign-in that does not say its user (older settings) waits for it.
                None => return TabVerdict::NotSignedIn,
            },
            (None, Some(preset)) if !self.portal.signed_out_by_agent() => Agent::ZeroTouch(preset),
            (None, _) => return TabVerdict::NotSignedIn,
        };
        // Which application's tab this must be: the one signed in with, else the one IT set up.
        let expected_app = current
            .as_ref()
            .and_then(|c| c.client_id.clone())
            .or_else(|| self.preset.as_ref().map(|p| p.client_id.clone()));
        if !self.refusals().open(Instant::now()) {
            return refuse(
                "tab_refusals_paused",
                TabVerdict::NotProven {
                    code: codes::ErrorCode::TooManyRefused,
                },
            );
        }
        let verdict = self
            .prove_and_show(
                (context, credentials),
                &address,
                agent,
                expected_app.as_deref(),
                (post.port, post.handed_on()),
            )
            .await;
        if matches!(verdict, TabVerdict::NotProven { .. }) {
            self.refusals().refused(Instant::now());
        }
        verdict
    }

    fn refusals(&self) -> std::sync::MutexGuard<'_, gate::FailureGate> {
        self.refusals.lock().unwrap_or_else(|e| e.into_inner())
    }

    async fn prove_and_show(
        &self,
        (context, credentials): (CallContext, TabCredentials),
        address: &PortalAddress,
        agent: Agent,
        expected_app: Option<&str>,
        (own_port, arrived_handed_on): (u16, bool),
    ) -> TabVerdict {
        let client = match Client::builder()
            .access_token(Secret::new(credentials.auth_id.clone()))
            .base_url(format!("{}/rest/", address.base))
            .bucket(self.bucket)
            .timeout(TIMEOUT)
            .build()
        {
            Ok(client) => client,
            Err(e) => return unreachable(&e),
        };
        let key = key_for(&context, None);
        let proof = Batch::new()
            .add(PROOF_USER, "user.current", serde_json::json!({}))
            .add(PROOF_APP, "app.info", serde_json::json!({}))
            // `user.option.get` with `option`: that key's value or null
            // (`api-reference/common/settings/user-option-get.md`); a refusal (a webhook-less
            // scope, say) fails this command alone, as `batch` answers each on its own.
            .add(
                PROOF_PORT,
                "user.option.get",
                serde_json::json!({ "option": crate::port_publish::OPTION }),
            );
        let (card, response) = match self.cards.fetch(&client, key.as_ref(), proof).await {
            Ok(fetched) => fetched,
            Err(e) => return from_rest_error(&e),
        };
        let user = match proven_user(&response, expected_app) {
            Ok(user) => user,
            Err(verdict) => return verdict,
        };
        let elsewhere =
            published_port(&response).filter(|&port| port != own_port && !arrived_handed_on);
        let other = match &agent {
            Agent::Known(id) | Agent::Renew(id, _) => *id != user.id,
            Agent::ZeroTouch(_) => true,
        };
        if let (true, Some(port)) = (other, elsewhere) {
            // Another agent's call, and their app listens elsewhere on this computer (a
            // terminal server): the browser takes the same POST there, if an app answers
            // there (one that quit leaves its port in the option). A session with no sign-in
            // never signs in a colleague whose own app is known.
            if an_app_answers(port).await {
                return handed_on(&user, port);
            }
            tracing::warn!(
                code = "tab_owner_app_gone",
                user_id = user.id,
                port,
                "a call card for another user was refused: their app published a port where nothing answers"
            );
            return TabVerdict::OtherUser {
                user: user.display_name(),
            };
        }
        match agent {
            Agent::Known(id) if id != user.id => {
                tracing::warn!(
                    code = "tab_other_user",
                    user_id = user.id,
                    agent = id,
                    "a call card for another user was refused"
                );
                return TabVerdict::OtherUser {
                    user: user.display_name(),
                };
            }
            Agent::Known(_) => {
                if let Some(member_id) = credentials.member_id.clone() {
                    // May save the settings file: on the blocking pool.
                    let (portal, base) = (self.portal.clone(), address.base.clone());
                    let _ = tokio::task::spawn_blocking(move || {
                        portal.pin_member_id(&base, &member_id)
                    })
                    .await;
                }
            }
            Agent::Renew(id, _) if id != user.id => {
                return TabVerdict::OtherUser {
                    user: user.display_name(),
                };
            }
            Agent::ZeroTouch(preset) | Agent::Renew(_, preset) => {
                if let Err(verdict) = self.sign_in(&preset, address, &credentials, &user).await {
                    return verdict;
                }
            }
        }
        let call_id = context.call_id.clone();
        self.cards.preload(&context, card);
        self.calls.report(context);
        tracing::info!(call_id = %call_id, "a call arrived through the call card's tab");
        TabVerdict::Sent {
            call_id,
            library: library_url(&address.domain, self.oauth_server_hint().as_deref()).to_owned(),
            portal: address.base.clone(),
        }
    }

    /// The proven pair becomes the session of the application IT preset. It is refreshed once
    /// first, at IT's OAuth server with IT's keys: that proves it is that application's pair
    /// (a refresh token works only with its own client id), that the server is the right one,
    /// and names the portal's `member_id` and endpoint from the OAuth server's own answer.
    async fn sign_in(
        &self,
        preset: &CallCardSignIn,
        address: &PortalAddress,
        credentials: &TabCredentials,
        user: &User,
    ) -> Result<(), TabVerdict> {
        let not_signed_in = |code: &str, why: &str| {
            tracing::warn!(code, "no sign-in from the call card: {why}");
            TabVerdict::NotSignedIn
        };
        let Some(refresh) = credentials.refresh_id.clone() else {
            return Err(not_signed_in(
                "tab_no_refresh_token",
                "the call card sent no REFRESH_ID",
            ));
        };
        let app = OAuthApp {
            client_id: preset.client_id.clone(),
            client_secret: Secret::new(preset.client_secret.clone()),
            server: oauth_server(
                preset.oauth_server.as_deref(),
                credentials.server_endpoint.as_deref(),
                &address.domain,
            ),
        };
        // Bitrix24's servers are reached where the portal desk reaches them (the simulator in
        // tests); the session keeps the server's own address.
        let reached = OAuthApp {
            server: self.portal.oauth_servers().reach(&app.server),
            ..app.clone()
        };
        let refresh = Secret::new(refresh);
        let tokens: TokenSet = reached
            .refresh(&refresh, now_unix(), TIMEOUT)
            .await
            .map_err(|e| not_signed_in(e.code().as_str(), &e.to_string()))?;
        let endpoint_origin = url::Url::parse(&tokens.client_endpoint)
            .map(|u| u.origin().ascii_serialization())
            .unwrap_or_default();
        if !same_origin(&endpoint_origin, &address.base) {
            return Err(not_signed_in(
                "tab_other_portal",
                "the OAuth server names another portal",
            ));
        }
        if let (Some(named), Some(posted)) = (&tokens.member_id, &credentials.member_id) {
            if named != posted {
                return Err(not_signed_in(
                    "tab_other_portal",
                    "the OAuth server names another portal's member_id",
                ));
            }
        }
        if tokens.user_id.is_some_and(|id| id != user.id) {
            return Err(not_signed_in(
                "tab_other_user",
                "the OAuth server names another user",
            ));
        }
        // Keeps the session in the keyring and the settings file: on the blocking pool.
        let (portal, adopted_address, adopted_user) =
            (self.portal.clone(), address.clone(), user.clone());
        let adopted = tokio::task::spawn_blocking(move || {
            portal.adopt_call_card_session(&adopted_address, app, tokens, &adopted_user)
        })
        .await
        .unwrap_or_else(|e| Err(PortalError::Interrupted(e.to_string())));
        match adopted {
            Ok(_) => Ok(()),
            // Someone signed in (or out) meanwhile; a call of whoever is signed in still pops.
            Err(PortalError::SignedInMeanwhile) => match self.portal.current_portal() {
                Some(now) if now.agent == Some(user.id) => Ok(()),
                Some(_) => Err(TabVerdict::OtherUser {
                    user: user.display_name(),
                }),
                None => Err(TabVerdict::NotSignedIn),
            },
            Err(e) => Err(not_signed_in(e.code().as_str(), &e.to_string())),
        }
    }

    /// The OAuth server in use, which tells the portal's region.
    fn oauth_server_hint(&self) -> Option<String> {
        self.preset.as_ref().and_then(|p| p.oauth_server.clone())
    }
}

/// The user the portal proved the token to be, of the expected application when it is known.
fn proven_user(response: &BatchResponse, expected_app: Option<&str>) -> Result<User, TabVerdict> {
    let not_proven =
        |code: codes::ErrorCode| refuse("tab_not_proven", TabVerdict::NotProven { code });
    let user: User = match response.get(PROOF_USER) {
        Some(Ok(value)) => serde_json::from_value(value.clone())
            .map_err(|_| not_proven(codes::ErrorCode::BadResponse))?,
        Some(Err(e)) => return Err(from_rest_error(e)),
        None => return Err(not_proven(codes::ErrorCode::NoUser)),
    };
    if let Some(expected) = expected_app {
        // `app.info`'s `CODE` is the application's client id (`common/system/app-info.md`).
        let code = match response.get(PROOF_APP) {
            Some(Ok(info)) => info["CODE"].as_str().unwrap_or_default().to_owned(),
            _ => String::new(),
        };
        if code != expected {
            tracing::warn!(
                code = "tab_other_application",
                "a call card's token of another application was refused"
            );
            return Err(TabVerdict::NotProven {
                code: codes::ErrorCode::OtherApplication,
            });
        }
    }
    Ok(user)
}

/// The port the tab's user's app published, when it is one.
fn published_port(response: &BatchResponse) -> Option<u16> {
    let value = match response.get(PROOF_PORT) {
        Some(Ok(value)) => value.clone(),
        _ => return None,
    };
    // Stored as a number; a string of digits is read the same (the relay does too).
    let port = match &value {
        serde_json::Value::Number(n) => n.as_u64(),
        serde_json::Value::String(s) => s.trim().parse().ok(),
        _ => None,
    }?;
    u16::try_from(port).ok().filter(|&p| p != 0)
}

/// Whether a Call Companion answers on `port` (its status, open without a token).
async fn an_app_answers(port: u16) -> bool {
    let asked = crate::local_http::agent(Duration::from_millis(800))
        .get(format!("http://127.0.0.1:{port}/v1/status"))
        .send()
        .await;
    match asked {
        Ok(answer) if answer.status().is_success() => answer
            .text()
            .await
            .ok()
            .and_then(|text| serde_json::from_str::<serde_json::Value>(&text).ok())
            .is_some_and(|status| status.get("app").is_some()),
        _ => false,
    }
}

fn handed_on(user: &User, port: u16) -> TabVerdict {
    tracing::info!(
        code = "tab_handed_on",
        user_id = user.id,
        port,
        "a call card for another user was handed on to the port their app published"
    );
    TabVerdict::HandedOn {
        user: user.display_name(),
        port,
    }
}

fn refuse(code: &'static str, verdict: TabVerdict) -> TabVerdict {
    tracing::warn!(code, "a call card's POST to the tab was refused");
    verdict
}

/// The portal refused the token (not proven), or could not be asked at all.
fn from_rest_error(error: &RestError) -> TabVerdict {
    match error {
        RestError::ExpiredToken
        | RestError::NotSignedIn { .. }
        | RestError::InvalidCredentials { .. }
        | RestError::AccessDenied { .. }
        | RestError::AppAccessDenied { .. }
        | RestError::AppNotFound { .. }
        | RestError::OAuth { .. } => refuse(
            "tab_not_proven",
            TabVerdict::NotProven { code: error.code() },
        ),
        other => unreachable(other),
    }
}

fn unreachable(error: &RestError) -> TabVerdict {
    tracing::warn!(
        code = error.code().as_str(),
        "a call card's tab could not be proven: {error}"
    );
    TabVerdict::PortalUnreachable { code: error.code() }
}

fn now_unix() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn origins_compare_as_browsers_send_them() {
        assert!(same_origin(
            "https://acme.bitrix24.ru",
            "https://acme.bitrix24.ru"
        ));
        assert!(same_origin(
            "https://ACME.bitrix24.ru:443",
            "https://acme.bitrix24.ru"
        ));
        assert!(!same_origin(
            "https://acme.bitrix24.ru.evil.test",
            "https://acme.bitrix24.ru"
        ));
        assert!(!same_origin("", "https://acme.bitrix24.ru"));
        assert!(!same_origin(
            "http://acme.bitrix24.ru",
            "https://acme.bitrix24.ru"
        ));
    }
}
