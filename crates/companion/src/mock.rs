//! Mock mode: the whole app runs for real against the portal simulator embedded on a loopback
//! port. The Mock panel's actions go through the same listener as a real call card would use
//! (HTTP with the pairing token), never around it.

use std::sync::Arc;

use listener::Pairing;
use serde::{Deserialize, Serialize};
use ts_rs::TS;

use crate::simulate::{self, Post};
use crate::ErrorBody;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, TS)]
pub struct ScenarioInfo {
    pub name: String,
    pub description: String,
}

/// The faults the panel switches, while a call is on screen.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, TS)]
#[serde(default)]
pub struct MockFaults {
    /// 1.5 s added to every portal answer.
    pub slow: bool,
    pub portal_down: bool,
    pub rate_limit_storm: bool,
    /// The next call finds the access token expired.
    pub expired_token: bool,
    /// Writes are committed, then the answer is lost.
    pub drop_after_commit: bool,
}

/// How the panel's scenarios reach the app (the browser's call card is `open_call_card`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, TS)]
#[serde(rename_all = "snake_case")]
pub enum MockVia {
    /// Posted to the loopback listener with the pairing token, as the relay widget does.
    #[default]
    Listener,
    /// Published through the simulated portal with `pull.application.event.add` on the mock
    /// agent's channel, as the relay widget does when it cannot reach the listener.
    Push,
}

/// What the listener answered to a pasted payload.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, TS)]
pub struct PostAnswer {
    pub status: u16,
    pub body: String,
}

/// The simulated agent mock mode signs in as (the simulator's webhook belongs to user 1).
pub const MOCK_AGENT: u64 = 1;

pub struct MockDesk {
    sim: portal_sim::Simulator,
    listen_port: u16,
    pairing: Arc<Pairing>,
    faults: std::sync::Mutex<MockFaults>,
}

impl MockDesk {
    pub fn new(sim: portal_sim::Simulator, listen_port: u16, pairing: Arc<Pairing>) -> MockDesk {
        MockDesk {
            sim,
            listen_port,
            pairing,
            faults: std::sync::Mutex::new(MockFaults::default()),
        }
    }

    pub fn simulator(&self) -> &portal_sim::Simulator {
        &self.sim
    }

    pub fn scenarios(&self) -> Vec<ScenarioInfo> {
        simulate::scenario_names()
            .into_iter()
            .map(|name| {
                let description = simulate::scenario(&name)
                    .map(|s| s.description)
                    .unwrap_or_else(|e| e.to_string());
                ScenarioInfo { name, description }
            })
            .collect()
    }

    /// Posts the scenario's steps to the listener, waiting between them, in the background.
    pub fn run_scenario(&self, name: &str) -> Result<(), ErrorBody> {
        self.run_scenario_via(name, MockVia::Listener)
    }

    /// Sends the scenario's steps the way `via` says, waiting between them, in the background.
    pub fn run_scenario_via(&self, name: &str, via: MockVia) -> Result<(), ErrorBody> {
        let scenario = simulate::scenario(name)
            .map_err(|e| ErrorBody::new(codes::ErrorCode::BadScenario, e.to_string()))?;
        if via == MockVia::Push {
            // The mock agent is the simulator's user 1 (mock mode signs in with its webhook).
            let tokens = self.sim.issue_tokens(MOCK_AGENT);
            let base = self.sim.base_url();
            let steps = simulate::push_steps(&scenario, &simulate::domain_of(&base));
            let name = name.to_owned();
            std::thread::spawn(
                move || match simulate::publish(&steps, &base, &tokens, |_| {}) {
                    Ok(answers) => {
                        for answer in answers.iter().filter(|a| a.status != 200) {
                            tracing::warn!(scenario = %name, status = answer.status, "the simulated portal refused a push: {}", answer.body);
                        }
                    }
                    Err(e) => {
                        tracing::warn!(scenario = %name, "the scenario could not be published: {e}")
                    }
                },
            );
            return Ok(());
        }
        let posts: Vec<Post> = scenario.steps.iter().map(simulate::post_of).collect();
        let (port, token) = (self.listen_port, self.pairing.token());
        let name = name.to_owned();
        std::thread::spawn(move || {
            if let Err(e) = simulate::send(&posts, port, token.expose(), |_| {}) {
                tracing::warn!(scenario = %name, "the scenario could not reach the listener: {e}");
            }
        });
        Ok(())
    }

    /// Opens the simulated portal's call-card page for scenario `name` in the agent's browser:
    /// the call reaches the app the way a real call card sends it, by the browser's form POST to
    /// the app's own tab (bound on the simulator when mock mode starts).
    pub fn open_call_card(&self, name: &str) -> Result<String, ErrorBody> {
        simulate::scenario(name)
            .map_err(|e| ErrorBody::new(codes::ErrorCode::BadScenario, e.to_string()))?;
        let query: String = url::form_urlencoded::Serializer::new(String::new())
            .append_pair("scenario", name)
            .finish();
        let url = format!("{}/sim/call-card?{query}", self.sim.base_url());
        crate::portal::browser::open(&url)
            .map_err(|message| ErrorBody::new(codes::ErrorCode::BrowserNotOpened, message))?;
        Ok(url)
    }

    /// Posts a pasted payload to the listener as it is and returns its answer.
    pub fn post(&self, body: &str) -> Result<PostAnswer, ErrorBody> {
        let post = Post {
            delay: std::time::Duration::ZERO,
            content_type: simulate::content_type_for(body.as_bytes()),
            body: body.as_bytes().to_vec(),
        };
        let answers = simulate::send(
            &[post],
            self.listen_port,
            self.pairing.token().expose(),
            |_| {},
        )
        .map_err(|e| ErrorBody::new(codes::ErrorCode::ListenerUnreachable, e.to_string()))?;
        let answer = answers.into_iter().next().ok_or_else(|| {
            ErrorBody::new(codes::ErrorCode::NoAnswer, "the listener did not answer")
        })?;
        Ok(PostAnswer {
            status: answer.status,
            body: answer.body,
        })
    }

    pub fn faults(&self) -> MockFaults {
        *self.faults.lock().unwrap_or_else(|e| e.into_inner())
    }

    pub fn set_faults(&self, faults: MockFaults) -> MockFaults {
        self.sim.set_faults(portal_sim::Faults {
            latency_ms: if faults.slow { 1500 } else { 0 },
            outage: faults.portal_down,
            rate_limit_storm: if faults.rate_limit_storm { 1000 } else { 0 },
            expire_tokens: faults.expired_token,
            drop_after_commit: if faults.drop_after_commit { 1000 } else { 0 },
            ..Default::default()
        });
        *self.faults.lock().unwrap_or_else(|e| e.into_inner()) = faults;
        faults
    }
}

/// Signs the mock agent (the simulator's user 1) in with the simulated portal's application,
/// through the real OAuth flow: the portal's authorize page (the simulator signs its user in at
/// once) redirects to the app's callback, whose query this hands to the portal desk, which
/// exchanges the code at the (simulated) OAuth server. An OAuth session, unlike a webhook, can
/// subscribe to Bitrix24's push channel, so the Mock panel's push transport works. The desk must
/// reach Bitrix24's OAuth servers at the simulator (`PortalDesk::with_oauth_stand_in`).
pub fn sign_in_mock_agent(
    portal: &crate::portal::PortalDesk,
    sim: &portal_sim::Simulator,
) -> Result<(), String> {
    let endpoints = sim.endpoints();
    let form = |session_only| crate::portal::OAuthForm {
        portal: endpoints.base_url.clone(),
        client_id: endpoints.client_id.clone(),
        client_secret: endpoints.client_secret.clone(),
        oauth_server: String::new(),
        session_only,
        redirect: String::new(),
    };
    let url = match portal.begin_oauth(&form(false)) {
        Ok(url) => url,
        // No keyring here: the mock sign-in lasts for this run.
        Err(crate::portal::PortalError::Keyring(e)) => {
            tracing::warn!(
                code = e.code().as_str(),
                "mock mode keeps its sign-in in memory: {e}"
            );
            portal.begin_oauth(&form(true)).map_err(|e| e.to_string())?
        }
        Err(e) => return Err(e.to_string()),
    };
    let agent = crate::local_http::agent(std::time::Duration::from_secs(10));
    let location = match crate::local_http::send(agent.get(&url)) {
        Ok(answer) => answer
            .location
            .ok_or("the simulated portal did not send the browser back")?,
        Err(e) => return Err(format!("the simulated portal's sign-in page: {e}")),
    };
    let query = location.split_once('?').map_or("", |(_, q)| q);
    let page = portal.complete_oauth(query);
    if page.ok {
        Ok(())
    } else {
        Err(page.message)
    }
}
