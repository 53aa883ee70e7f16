//! The call-card tab the app serves itself: Bitrix24's form POST comes straight from the
//! portal's page to the listener, and this desk decides whether it is a genuine call for this
//! app's agent before anything pops.
//!
//! The proof costs no extra request: the screen pop's own `batch` is sent with the tab's
//! `AUTH_ID` to the portal the app is configured for (never the `DOMAIN` the request names),
//! with `user.current` in it. A forged or altered token is refused by the portal; a genuine
//! token of another user names that user. Only then is the card kept and the call reported.
//! With no sign-in yet and IT's policy presetting the portal and its application, the proven
//! token pair becomes the OAuth session (zero-touch sign-in).

use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use bitrix::models::User;
use bitrix::{Batch, Client, OAuthApp, RestError, Secret, TokenSet};
use callcard::{CallContext, TabCredentials};
use listener::{TabPost, TabVerdict};

use crate::card::{key_for, CardDesk};
use crate::desk::CallDesk;
use crate::policy::CallCardSignIn;
use crate::portal::address::PortalAddress;
use crate::portal::{CurrentPortal, PortalDesk};

/// The proving request's own command; its key cannot clash with the card's.
const PROOF_KEY: &str = "tab_me";
const TIMEOUT: Duration = Duration::from_secs(20);

/// The OAuth servers a call card may name for a zero-touch session (`settings/oauth/index.md`:
/// international and Russian regions); IT's policy may name another.
const KNOWN_OAUTH_SERVERS: &[&str] = &["oauth.bitrix.info", "oauth.bitrix24.tech"];

pub struct TabDesk {
    portal: Arc<PortalDesk>,
    cards: Arc<CardDesk>,
    calls: Arc<CallDesk>,
    /// The application IT preset, for a sign-in from the first genuine tab.
    preset: Option<CallCardSignIn>,
    bucket: bitrix::BucketConfig,
}

/// Who the tab is for, before the portal is asked.
enum Agent {
    /// Signed in (or a saved sign-in): the call must be this user's.
    Known(u64),
    /// Signed in as nobody yet: the first genuine call signs its user in.
    ZeroTouch(CallCardSignIn),
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
    pub fn receive(&self, post: &TabPost) -> TabVerdict {
        let (context, credentials) = match callcard::parse_tab_post(&post.query, &post.body) {
            Ok(parsed) => parsed,
            Err(error) => {
                self.calls.reject(&error, "call_card_tab");
                return TabVerdict::BadCall {
                    code: error.code().to_owned(),
                    message: error.to_string(),
                };
            }
        };
        let Some((address, current)) = self.portal_base() else {
            return TabVerdict::NotSignedIn;
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
        let agent = match current.as_ref().and_then(|c| c.agent) {
            Some(id) => Agent::Known(id),
            None if current.is_none() => match self.preset.clone() {
                Some(preset) => Agent::ZeroTouch(preset),
                None => return TabVerdict::NotSignedIn,
            },
            // A saved sign-in that does not say its user (older settings) waits for it.
            None => return TabVerdict::NotSignedIn,
        };
        self.prove_and_show(
            context,
            credentials,
            &address,
            agent,
            expected_member.is_none(),
        )
    }

    fn prove_and_show(
        &self,
        context: CallContext,
        credentials: TabCredentials,
        address: &PortalAddress,
        agent: Agent,
        pin_member_id: bool,
    ) -> TabVerdict {
        let token = Secret::new(credentials.auth_id.clone());
        let client = match Client::builder()
            .access_token(token)
            .base_url(format!("{}/rest/", address.base))
            .bucket(self.bucket)
            .timeout(TIMEOUT)
            .build()
        {
            Ok(client) => client,
            Err(e) => return unreachable(&e),
        };
        let key = key_for(&context, None);
        let proof = Batch::new().add(PROOF_KEY, "user.current", serde_json::json!({}));
        let (card, response) = match self.cards.fetch(&client, key.as_ref(), proof) {
            Ok(fetched) => fetched,
            Err(e) => return from_rest_error(&e),
        };
        let user: User = match response.get(PROOF_KEY) {
            Some(Ok(value)) => match serde_json::from_value(value.clone()) {
                Ok(user) => user,
                Err(_) => {
                    return refuse(
                        "tab_not_proven",
                        TabVerdict::NotProven {
                            code: "bad_response".into(),
                        },
                    )
                }
            },
            Some(Err(e)) => return from_rest_error(e),
            None => {
                return refuse(
                    "tab_not_proven",
                    TabVerdict::NotProven {
                        code: "no_user".into(),
                    },
                )
            }
        };
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
                if pin_member_id {
                    if let Some(member_id) = &credentials.member_id {
                        self.portal.pin_member_id(member_id);
                    }
                }
            }
            Agent::ZeroTouch(preset) => {
                if let Err(verdict) = self.sign_in(&preset, address, &credentials, &user) {
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

    /// The proven token pair becomes the session of the application IT preset.
    fn sign_in(
        &self,
        preset: &CallCardSignIn,
        address: &PortalAddress,
        credentials: &TabCredentials,
        user: &User,
    ) -> Result<(), TabVerdict> {
        let Some(refresh) = credentials.refresh_id.clone() else {
            // An access token alone would die within the hour: no session to keep.
            tracing::warn!(
                code = "tab_no_refresh_token",
                "the call card sent no REFRESH_ID; no zero-touch sign-in"
            );
            return Err(TabVerdict::NotSignedIn);
        };
        let server = oauth_server(
            preset.oauth_server.as_deref(),
            credentials.server_endpoint.as_deref(),
        );
        let now = now_unix();
        let tokens = TokenSet {
            access_token: Secret::new(credentials.auth_id.clone()),
            refresh_token: Secret::new(refresh),
            expires_at: now + credentials.expires_in.unwrap_or(3600).min(3600),
            client_endpoint: format!("{}/rest/", address.base),
            server_endpoint: credentials.server_endpoint.clone(),
            member_id: credentials.member_id.clone(),
            scope: None,
            user_id: Some(user.id),
        };
        let app = OAuthApp {
            client_id: preset.client_id.clone(),
            client_secret: Secret::new(preset.client_secret.clone()),
            server,
        };
        self.portal
            .adopt_call_card_session(address, app, tokens, user)
            .map(|_| ())
            .map_err(|e| {
                tracing::warn!(
                    code = e.code(),
                    "the call card's session could not be kept: {e}"
                );
                TabVerdict::NotSignedIn
            })
    }

    /// The OAuth server in use, which tells the portal's region.
    fn oauth_server_hint(&self) -> Option<String> {
        self.preset.as_ref().and_then(|p| p.oauth_server.clone())
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
        | RestError::AccessDenied { .. }
        | RestError::OAuth { .. } => refuse(
            "tab_not_proven",
            TabVerdict::NotProven {
                code: error.code().to_owned(),
            },
        ),
        other => unreachable(other),
    }
}

fn unreachable(error: &RestError) -> TabVerdict {
    tracing::warn!(
        code = error.code(),
        "a call card's tab could not be proven: {error}"
    );
    TabVerdict::PortalUnreachable {
        code: error.code().to_owned(),
    }
}

fn same_origin(a: &str, b: &str) -> bool {
    let normal = |o: &str| {
        let o = o.trim().trim_end_matches('/').to_ascii_lowercase();
        o.strip_suffix(":443")
            .filter(|_| o.starts_with("https://"))
            .map(str::to_owned)
            .unwrap_or(o)
    };
    !a.is_empty() && normal(a) == normal(b)
}

/// Where a zero-touch session is refreshed: IT's server, else the one the call card names if it
/// is one of Bitrix24's, else the international one.
pub fn oauth_server(policy: Option<&str>, server_endpoint: Option<&str>) -> String {
    if let Some(server) = policy.map(str::trim).filter(|s| !s.is_empty()) {
        return PortalAddress::parse(server)
            .map(|a| a.base)
            .unwrap_or_else(|_| server.trim_end_matches('/').to_owned());
    }
    let named = server_endpoint
        .and_then(|e| url::Url::parse(e).ok())
        .filter(|u| u.scheme() == "https")
        .and_then(|u| u.host_str().map(str::to_ascii_lowercase))
        .filter(|host| KNOWN_OAUTH_SERVERS.contains(&host.as_str()));
    match named {
        Some(host) => format!("https://{host}"),
        None => "https://oauth.bitrix.info".to_owned(),
    }
}

/// Bitrix24's JS library at the portal's regional address: `api.bitrix24.tech` for Russian
/// portals (the Russian docs since 2026-02, `sdk/bx24-js-sdk/index.md`), `api.bitrix24.com`
/// otherwise (the English docs).
pub fn library_url(portal_domain: &str, oauth_server: Option<&str>) -> &'static str {
    const INTERNATIONAL: &str = "https://api.bitrix24.com/api/v1/";
    const RUSSIAN: &str = "https://api.bitrix24.tech/api/v1/";
    if let Some(server) = oauth_server {
        if server.contains("oauth.bitrix24.tech") {
            return RUSSIAN;
        }
        if server.contains("oauth.bitrix.info") {
            return INTERNATIONAL;
        }
    }
    let host = portal_domain
        .split(':')
        .next()
        .unwrap_or_default()
        .to_ascii_lowercase();
    if [".ru", ".by", ".kz"].iter().any(|tld| host.ends_with(tld)) {
        RUSSIAN
    } else {
        INTERNATIONAL
    }
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
    fn the_library_and_the_oauth_server_follow_the_region() {
        assert_eq!(
            library_url("acme.bitrix24.ru", None),
            "https://api.bitrix24.tech/api/v1/"
        );
        assert_eq!(
            library_url("acme.bitrix24.com", None),
            "https://api.bitrix24.com/api/v1/"
        );
        assert_eq!(
            library_url("crm.acme.com", Some("https://oauth.bitrix24.tech")),
            "https://api.bitrix24.tech/api/v1/"
        );
        assert_eq!(
            oauth_server(None, Some("https://oauth.bitrix24.tech/rest/")),
            "https://oauth.bitrix24.tech"
        );
        assert_eq!(
            oauth_server(None, Some("https://evil.example/rest/")),
            "https://oauth.bitrix.info"
        );
        assert_eq!(
            oauth_server(None, Some("http://oauth.bitrix24.tech/rest/")),
            "https://oauth.bitrix.info"
        );
        assert_eq!(
            oauth_server(Some("https://sso.example.com/"), None),
            "https://sso.example.com"
        );
    }

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
