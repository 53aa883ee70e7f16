use std::sync::{Arc, Condvar, Mutex};
use std::time::Duration;

use bitrix::{Action, Client, OAuthSession, RestError, Secret, TokenSet, TokenStore};
use portal_sim::{Faults, SimConfig};
use serde_json::json;

use crate::support::{
    app, authorize, now_unix, oauth_client, sign_in, simulator, simulator_with, MemoryStore,
};

#[tokio::test]
async fn the_redirect_carries_code_state_and_portal() {
    let sim = simulator();
    let redirect = authorize(&sim, "xyz");
    let get = |k: &str| {
        redirect
            .iter()
            .find(|(key, _)| key == k)
            .map(|(_, v)| v.as_str())
    };
    assert_eq!(get("state"), Some("xyz"));
    // The portal's own address (`settings/oauth/index.md`), and its region's OAuth server.
    let portal = sim.base_url().split_once("://").unwrap().1.to_owned();
    assert_eq!(get("domain"), Some(portal.as_str()));
    assert_eq!(get("server_domain"), Some("oauth.bitrix24.tech"));
    assert!(get("code").is_some_and(|c| c.len() >= 16));
    assert_eq!(get("member_id"), Some(sim.member_id().as_str()));
}

#[tokio::test]
async fn a_code_works_once_and_a_wrong_secret_is_refused() {
    let sim = simulator();
    let redirect = authorize(&sim, "s");
    let code = redirect
        .iter()
        .find(|(k, _)| k == "code")
        .unwrap()
        .1
        .clone();
    let mut wrong = app(&sim);
    wrong.client_secret = bitrix::Secret::new("not-the-secret");
    let error = wrong
        .exchange_code(&code, now_unix(), Duration::from_secs(5))
        .await
        .unwrap_err();
    assert_eq!(
        (error.code().as_str(), error.portal_code()),
        ("oauth_invalid_client", Some("invalid_client"))
    );
    let tokens = app(&sim)
        .exchange_code(&code, now_unix(), Duration::from_secs(5))
        .await
        .unwrap();
    assert!(tokens.client_endpoint.ends_with("/rest/"));
    let again = app(&sim)
        .exchange_code(&code, now_unix(), Duration::from_secs(5))
        .await
        .unwrap_err();
    assert_eq!(again.portal_code(), Some("invalid_grant"));
}

#[tokio::test]
async fn codes_expire() {
    let sim = simulator_with(SimConfig {
        code_ttl_secs: 0,
        ..SimConfig::default()
    });
    let redirect = authorize(&sim, "s");
    let code = redirect
        .iter()
        .find(|(k, _)| k == "code")
        .unwrap()
        .1
        .clone();
    let error = app(&sim)
        .exchange_code(&code, now_unix(), Duration::from_secs(5))
        .await
        .unwrap_err();
    assert_eq!(error.portal_code(), Some("invalid_grant"));
}

#[tokio::test]
async fn an_expired_token_is_refreshed_once_however_many_calls_find_it() {
    let sim = simulator();
    let (client, session, store) = oauth_client(&sim).await;
    let first = session.tokens();
    // Both calls are in flight when the portal declares the token expired.
    sim.set_faults(Faults {
        expire_tokens: true,
        latency_ms: 300,
        ..Faults::default()
    });
    let threads: Vec<_> = (0..2)
        .map(|i| {
            let client = client.clone();
            tokio::spawn(async move { client.call("crm.contact.get", json!({"id": 40 + i})).await })
        })
        .collect();
    for thread in threads {
        let contact = thread
            .await
            .unwrap()
            .expect("the call succeeds after the refresh");
        assert!(contact.result["ID"].is_string());
    }
    assert_eq!(session.refresh_count(), 1);
    assert_eq!(sim.stats().refreshes, 1);
    // The rotated pair was saved before it was used, and the old refresh token is dead.
    let saved = store.0.lock().unwrap().clone();
    assert_eq!(saved.len(), 1);
    assert_eq!(saved[0], session.tokens());
    assert_ne!(saved[0].refresh_token, first.refresh_token);
    let error = app(&sim)
        .refresh(&first.refresh_token, now_unix(), Duration::from_secs(5))
        .await
        .unwrap_err();
    assert_eq!(error.code().as_str(), "not_signed_in");
}

/// One saved session shared by two processes (the app and a `portal` command): the keyring and
/// a lock file in the app; a slot and a flag here.
#[derive(Default)]
struct SharedStore {
    saved: Mutex<Option<TokenSet>>,
    busy: Arc<(Mutex<bool>, Condvar)>,
}

struct Release(Arc<(Mutex<bool>, Condvar)>);

impl Drop for Release {
    fn drop(&mut self) {
        *self.0 .0.lock().unwrap() = false;
        self.0 .1.notify_all();
    }
}

impl TokenStore for SharedStore {
    fn save(&self, tokens: &TokenSet) -> Result<(), String> {
        *self.saved.lock().unwrap() = Some(tokens.clone());
        Ok(())
    }

    fn load(&self) -> Option<TokenSet> {
        self.saved.lock().unwrap().clone()
    }

    fn refresh_guard(&self) -> Option<Box<dyn std::any::Any + Send>> {
        let (busy, free) = &*self.busy;
        let mut taken = free
            .wait_while(busy.lock().unwrap(), |taken| *taken)
            .unwrap();
        *taken = true;
        Some(Box::new(Release(self.busy.clone())))
    }
}

#[tokio::test]
async fn two_processes_sharing_a_session_refresh_it_once_and_the_other_takes_the_new_pair() {
    let sim = simulator();
    let store = Arc::new(SharedStore::default());
    let first = sign_in(&sim).await;
    store.save(&first).unwrap();
    // Each "process" restores the saved pair into its own session.
    let clients: Vec<_> = (0..2)
        .map(|_| {
            let session = Arc::new(OAuthSession::new(
                app(&sim),
                store.load().unwrap(),
                store.clone(),
            ));
            let client = Client::builder()
                .oauth(session.clone())
                .timeout(Duration::from_secs(5))
                .build()
                .unwrap();
            (client, session)
        })
        .collect();
    sim.set_faults(Faults {
        expire_tokens: true,
        latency_ms: 300,
        ..Faults::default()
    });
    let threads: Vec<_> = clients
        .iter()
        .map(|(client, _)| {
            let client = client.clone();
            tokio::spawn(async move { client.call("user.current", json!({})).await })
        })
        .collect();
    for thread in threads {
        thread
            .await
            .unwrap()
            .expect("both succeed: one refreshed, the other took the saved pair");
    }
    assert_eq!(sim.stats().refreshes, 1);
    let saved = store.load().unwrap();
    assert_ne!(saved.refresh_token, first.refresh_token);
    for (_, session) in &clients {
        assert_eq!(session.tokens(), saved, "both sessions hold the live pair");
    }
}

#[tokio::test]
async fn a_token_about_to_expire_is_refreshed_before_the_call() {
    let sim = simulator_with(SimConfig {
        access_ttl_secs: 30,
        ..SimConfig::default()
    });
    let store = Arc::new(MemoryStore::default());
    let session = Arc::new(
        OAuthSession::new(app(&sim), sign_in(&sim).await, store.clone())
            .with_margin(Duration::from_secs(60)),
    );
    let client = Client::builder().oauth(session.clone()).build().unwrap();
    client.call("user.current", json!({})).await.unwrap();
    assert_eq!(
        session.refresh_count(),
        1,
        "30 s left is inside the 60 s margin"
    );
    assert_eq!(sim.stats().calls_by_method.get("user.current"), Some(&1));
}

#[tokio::test]
async fn a_refused_refresh_means_signing_in_again() {
    let sim = simulator();
    let (client, session, _) = oauth_client(&sim).await;
    // Someone else used the refresh token (another install with the same keys).
    let tokens = session.tokens();
    app(&sim)
        .refresh(&tokens.refresh_token, now_unix(), Duration::from_secs(5))
        .await
        .unwrap();
    sim.set_faults(Faults {
        expire_tokens: true,
        ..Faults::default()
    });
    let error = client.call("user.current", json!({})).await.unwrap_err();
    assert_eq!(
        (error.code().as_str(), error.action()),
        ("not_signed_in", bitrix::Action::SignIn)
    );
}

#[tokio::test]
async fn the_token_answer_names_the_regions_oauth_server() {
    for region in bitrix::OAUTH_SERVERS {
        let sim = simulator_with(SimConfig {
            oauth_server_domain: region.into(),
            ..SimConfig::default()
        });
        let redirect = authorize(&sim, "s");
        assert!(redirect.contains(&("server_domain".into(), region.into())));
        let tokens = sign_in(&sim).await;
        assert_eq!(
            tokens.server_endpoint.as_deref(),
            Some(format!("https://{region}/rest/").as_str())
        );
        assert_eq!(tokens.member_id, Some(sim.member_id()));
    }
}

/// Each error of `settings/oauth/error-codes.md` the OAuth server answers becomes a code and an
/// action the window shows, in a sentence that never carries the client secret.
#[tokio::test]
async fn each_oauth_server_error_says_what_to_do() {
    let timeout = Duration::from_secs(5);
    let code_of = |sim: &portal_sim::Simulator| {
        authorize(sim, "s")
            .into_iter()
            .find(|(k, _)| k == "code")
            .unwrap()
            .1
    };
    let sim = simulator();
    let unpaid = simulator_with(SimConfig {
        app_payment_expired: true,
        ..SimConfig::default()
    });
    let used = code_of(&sim);
    app(&sim)
        .exchange_code(&used, now_unix(), timeout)
        .await
        .unwrap();
    let mut wrong = app(&sim);
    wrong.client_secret = Secret::new("not-the-secret");
    let unpaid_refresh = Secret::new(unpaid.issue_tokens(1).refresh_token);
    let cases: Vec<(&str, RestError, &str, Action, &str)> = vec![
        (
            "wrong keys",
            wrong
                .exchange_code(&code_of(&sim), now_unix(), timeout)
                .await
                .unwrap_err(),
            "oauth_invalid_client",
            Action::AskAdmin,
            "client id and secret",
        ),
        (
            "a code used already",
            app(&sim)
                .exchange_code(&used, now_unix(), timeout)
                .await
                .unwrap_err(),
            "oauth_invalid_grant",
            Action::SignIn,
            "sign in again",
        ),
        (
            "no code at all",
            app(&sim)
                .exchange_code("", now_unix(), timeout)
                .await
                .unwrap_err(),
            "oauth_invalid_request",
            Action::Report,
            "malformed",
        ),
        (
            "an unpaid application signing in",
            app(&unpaid)
                .exchange_code(&code_of(&unpaid), now_unix(), timeout)
                .await
                .unwrap_err(),
            "payment_required",
            Action::AskAdmin,
            "paid or trial period",
        ),
        (
            "an unpaid application refreshing",
            app(&unpaid)
                .refresh(&unpaid_refresh, now_unix(), timeout)
                .await
                .unwrap_err(),
            "payment_required",
            Action::AskAdmin,
            "administrator renews it",
        ),
        (
            "a refresh token that no longer works",
            app(&sim)
                .refresh(&Secret::new("dead"), now_unix(), timeout)
                .await
                .unwrap_err(),
            "not_signed_in",
            Action::SignIn,
            "sign in again",
        ),
    ];
    for (what, error, code, action, says) in cases {
        assert_eq!(
            (error.code().as_str(), error.action()),
            (code, action),
            "{what}"
        );
        let text = error.to_string();
        assert!(text.contains(says), "{what}: {text}");
        for secret in [
            sim.endpoints().client_secret,
            unpaid.endpoints().client_secret,
        ] {
            assert!(!text.contains(&secret), "{what}: {text}");
        }
    }
}
