//! A simulator per test and clients signed in to it.

use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use bitrix::{Client, OAuthApp, OAuthSession, Secret, TokenSet, TokenStore};
use portal_sim::{SimConfig, Simulator};

pub fn simulator() -> Simulator {
    simulator_with(SimConfig::default())
}

pub fn simulator_with(config: SimConfig) -> Simulator {
    Simulator::start(config).expect("the simulator starts on loopback")
}

pub fn webhook_client(sim: &Simulator) -> Client {
    Client::builder()
        .webhook(Secret::new(sim.endpoints().webhook_url))
        .timeout(Duration::from_secs(5))
        .build()
        .unwrap()
}

pub fn now_unix() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

pub fn app(sim: &Simulator) -> OAuthApp {
    let endpoints = sim.endpoints();
    OAuthApp {
        client_id: endpoints.client_id,
        client_secret: Secret::new(endpoints.client_secret),
        server: endpoints.oauth_url,
    }
}

/// Plays the agent's browser: opens the authorize page, which redirects to the app's address
/// with a code, and returns that redirect's query parameters.
pub fn authorize(sim: &Simulator, state: &str) -> Vec<(String, String)> {
    let url = bitrix::authorize_url(&sim.base_url(), &sim.endpoints().client_id, state);
    let agent = ureq::AgentBuilder::new().redirects(0).build();
    let response = agent.get(&url).call().expect("the authorize page answers");
    assert_eq!(response.status(), 302);
    let location = response.header("location").expect("a redirect").to_owned();
    let query = location
        .split_once('?')
        .map(|(_, q)| q.to_owned())
        .unwrap_or_default();
    form_urlencoded::parse(query.as_bytes())
        .into_owned()
        .collect()
}

pub async fn sign_in(sim: &Simulator) -> TokenSet {
    let redirect = authorize(sim, "st");
    let code = redirect
        .iter()
        .find(|(k, _)| k == "code")
        .map(|(_, v)| v.clone())
        .expect("a code");
    app(sim)
        .exchange_code(&code, now_unix(), Duration::from_secs(5))
        .await
        .expect("the code is exchanged")
}

/// Remembers every token pair it is given, as the keyring would.
#[derive(Default)]
pub struct MemoryStore(pub Mutex<Vec<TokenSet>>);

impl TokenStore for MemoryStore {
    fn save(&self, tokens: &TokenSet) -> Result<(), String> {
        self.0.lock().unwrap().push(tokens.clone());
        Ok(())
    }
}

pub async fn oauth_client(sim: &Simulator) -> (Client, Arc<OAuthSession>, Arc<MemoryStore>) {
    let store = Arc::new(MemoryStore::default());
    let session = Arc::new(OAuthSession::new(
        app(sim),
        sign_in(sim).await,
        store.clone(),
    ));
    let client = Client::builder()
        .oauth(session.clone())
        .timeout(Duration::from_secs(5))
        .build()
        .unwrap();
    (client, session, store)
}
