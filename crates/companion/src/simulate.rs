//! `call-companion simulate`: posts call contexts to the running app's listener exactly as the
//! relay widget does (same endpoint, token, headers), or (`--via push`) publishes them through the
//! simulated portal with `pull.application.event.add` exactly as the relay does when it cannot
//! reach the listener, so testers and scripts drive the real paths.

use crate::local_http;
use std::io::Read;
use std::time::Duration;

use crate::cli::SimulateArgs;

/// Where testers' own scenarios live: `$XDG_CONFIG_HOME/<identifier>/scenarios` (or
/// `CALL_COMPANION_SCENARIOS`). The built-in ones come with the portal simulator.
pub fn scenarios_dir() -> std::path::PathBuf {
    std::env::var_os("CALL_COMPANION_SCENARIOS")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|| {
            crate::paths::AppPaths::for_current_user()
                .config_dir
                .join("scenarios")
        })
}

pub use portal_sim::scenarios::{Scenario, ScenarioStep};

/// The request a scenario step makes of the listener.
pub fn post_of(step: &ScenarioStep) -> Post {
    let body = match (&step.payload, &step.raw) {
        (_, Some(raw)) => raw.clone().into_bytes(),
        (Some(payload), None) => payload.to_string().into_bytes(),
        (None, None) => Vec::new(),
    };
    Post {
        delay: step.delay(),
        content_type: content_type_for(&body),
        body,
    }
}

/// One request to send.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Post {
    pub delay: Duration,
    pub content_type: &'static str,
    pub body: Vec<u8>,
}

#[derive(Debug, thiserror::Error)]
pub enum SimulateError {
    #[error("cannot read {path}: {source}")]
    Read {
        path: String,
        source: std::io::Error,
    },
    #[error(transparent)]
    Scenario(#[from] portal_sim::scenarios::ScenarioError),
    #[error(
        "Call Companion is not answering on 127.0.0.1:{port} ({reason}); start it, or pass --port"
    )]
    NotRunning { port: u16, reason: String },
    #[error(transparent)]
    Secret(#[from] crate::secrets::SecretError),
    #[error(
        "Call Companion is not signed in to a simulated portal: start it with --mock first ({0})"
    )]
    NotMock(String),
    #[error("the simulated portal at {base} did not issue a token: {reason}")]
    NoToken { base: String, reason: String },
    #[error("the simulated portal at {base} is not answering ({reason}); is the app still running with --mock?")]
    PortalUnreachable { base: String, reason: String },
}

impl SimulateError {
    /// Exit status, in the manner of sysexits: 65 bad data, 66 no input, 69 unavailable.
    pub fn exit_code(&self) -> u8 {
        match self {
            SimulateError::Read { .. } => 66,
            SimulateError::Scenario(_) => 65,
            SimulateError::NotRunning { .. }
            | SimulateError::Secret(_)
            | SimulateError::NotMock(_)
            | SimulateError::NoToken { .. }
            | SimulateError::PortalUnreachable { .. } => 69,
        }
    }
}

pub fn scenario_names() -> Vec<String> {
    portal_sim::scenarios::names(Some(&scenarios_dir()))
}

pub fn scenario(name: &str) -> Result<Scenario, SimulateError> {
    Ok(portal_sim::scenarios::load(name, Some(&scenarios_dir()))?)
}

/// The requests `args` asks for. Files and stdin are sent as they are, even when they will be
/// refused: seeing the app's answer to a bad payload is part of testing.
pub fn posts(args: &SimulateArgs, stdin: impl Read) -> Result<Vec<Post>, SimulateError> {
    if let Some(name) = &args.scenario {
        return Ok(scenario(name)?.steps.iter().map(post_of).collect());
    }
    let body = match &args.file {
        Some(path) => std::fs::read(path).map_err(|source| SimulateError::Read {
            path: path.display().to_string(),
            source,
        })?,
        None => {
            let mut body = Vec::new();
            stdin
                .take(callcard::MAX_INPUT_BYTES as u64 * 4)
                .read_to_end(&mut body)
                .map_err(|source| SimulateError::Read {
                    path: "standard input".into(),
                    source,
                })?;
            body
        }
    };
    Ok(vec![Post {
        delay: Duration::ZERO,
        content_type: content_type_for(&body),
        body,
    }])
}

/// The content type the relay would use for a body of this shape.
pub fn content_type_for(body: &[u8]) -> &'static str {
    let text = String::from_utf8_lossy(&body[..body.len().min(256)]);
    let text = text.trim_start_matches('\u{feff}').trim_start();
    if text.starts_with('{') {
        "application/json"
    } else if text.starts_with("Array")
        || text.to_ascii_lowercase().starts_with("callcompanion:")
        || text.contains('\n')
    {
        "text/plain"
    } else {
        "application/x-www-form-urlencoded"
    }
}

/// The form Bitrix24 would POST to the app's own call-card tab for scenario `name`'s first step,
/// on the simulated portal the app runs in mock mode (its address is in `portal.mock.json`),
/// with a fresh token pair for the mock agent.
pub fn tab_form(name: &str, port: u16) -> Result<portal_sim::call_card::TabForm, SimulateError> {
    let scenario = scenario(name)?;
    let first = scenario.steps.first();
    let options = first.and_then(ScenarioStep::options).unwrap_or_default();
    let lang = first
        .and_then(|s| s.payload.as_ref())
        .and_then(|p| p["portal"]["lang"].as_str())
        .unwrap_or("en")
        .to_owned();
    let (base, tokens) = mock_agent_tokens()?;
    let mut sid = [0u8; 16];
    getrandom::fill(&mut sid).map_err(|e| SimulateError::NoToken {
        base: base.clone(),
        reason: e.to_string(),
    })?;
    let sid: String = sid.iter().map(|b| format!("{b:02x}")).collect();
    Ok(portal_sim::call_card::tab_form(
        &base,
        &crate::portal::widget::direct_handler(port),
        &options,
        &tokens,
        &lang,
        &sid,
    ))
}

/// The simulated portal the app runs on in mock mode (its address is in `portal.mock.json`) and
/// a fresh token pair for the mock agent from it (`/sim/admin/tokens`), as a call card's tab
/// gets one.
pub fn mock_agent_tokens() -> Result<(String, portal_sim::call_card::IssuedTokens), SimulateError> {
    use crate::portal::settings::SettingsFile;
    let settings = SettingsFile::new(
        crate::paths::AppPaths::for_current_user()
            .config_dir
            .join("portal.mock.json"),
    );
    let saved = match settings.load() {
        Ok(Some(saved)) => saved,
        Ok(None) => {
            return Err(SimulateError::NotMock(format!(
                "no {}",
                settings.path().display()
            )))
        }
        Err(reason) => return Err(SimulateError::NotMock(reason)),
    };
    let no_token = |reason: String| SimulateError::NoToken {
        base: saved.base.clone(),
        reason,
    };
    let agent = local_http::agent(Duration::from_secs(10));
    let request = agent
        .post(format!("{}/sim/admin/tokens", saved.base))
        .header("Content-Type", "application/json")
        .body(serde_json::json!({ "user_id": saved.agent().unwrap_or(1) }).to_string());
    let answer = local_http::send(request).map_err(|e| no_token(e.to_string()))?;
    if !(200..300).contains(&answer.status) {
        return Err(no_token(format!("HTTP {}: {}", answer.status, answer.body)));
    }
    let tokens: portal_sim::call_card::IssuedTokens =
        serde_json::from_str(&answer.body).map_err(|e| no_token(e.to_string()))?;
    Ok((saved.base, tokens))
}

/// `MODULE_ID` of the events the relay publishes (lower case: the portal lower-cases it anyway).
pub const PUSH_MODULE_ID: &str = "callcompanion";
/// `COMMAND` of the events the relay publishes.
pub const PUSH_COMMAND: &str = "call";

/// One event to publish: the relay envelope of a scenario step, after its delay.
#[derive(Debug, Clone, PartialEq)]
pub struct PushStep {
    pub delay: Duration,
    /// The relay envelope (`{"v":1,"placement":"CALL_CARD","options":…,"portal":…}`).
    pub envelope: serde_json::Value,
}

/// The relay envelope the hosted relay would publish for a scenario step: a step that is an
/// envelope as it is; a bare options object (or a raw body that is one as JSON) wrapped the way
/// relay.js wraps the card's options (`portal` = the portal's domain and the language); any
/// other raw body (a form body, a dump, broken JSON) as the envelope's `options` string, which
/// the app refuses as it refuses it from the listener.
pub fn envelope_of(step: &ScenarioStep, domain: &str) -> serde_json::Value {
    use serde_json::{json, Value};
    if let Some(payload @ Value::Object(map)) = &step.payload {
        if map.contains_key("v") {
            return payload.clone();
        }
    }
    let lang = step
        .payload
        .as_ref()
        .and_then(|p| p["portal"]["lang"].as_str())
        .unwrap_or("en");
    let options = match (step.options(), &step.raw) {
        (Some(options), _) => options,
        (None, Some(raw)) => Value::String(raw.clone()),
        (None, None) => json!({}),
    };
    json!({
        "v": 1,
        "placement": "CALL_CARD",
        "options": options,
        "portal": {"domain": domain, "lang": lang},
    })
}

/// The scenario's steps as the relay would publish them on the portal `domain`.
pub fn push_steps(scenario: &Scenario, domain: &str) -> Vec<PushStep> {
    scenario
        .steps
        .iter()
        .map(|step| PushStep {
            delay: step.delay(),
            envelope: envelope_of(step, domain),
        })
        .collect()
}

/// The parameters of `pull.application.event.add` for `envelope`, as the relay sends them: our
/// module and command, the agent's own id **as a string** (a non-admin's must be a string; never
/// omitted, which would publish on the application's shared channel that every agent receives),
/// and the envelope unchanged as `PARAMS`.
pub fn event_add_params(user_id: u64, envelope: &serde_json::Value) -> serde_json::Value {
    serde_json::json!({
        "MODULE_ID": PUSH_MODULE_ID,
        "COMMAND": PUSH_COMMAND,
        "USER_ID": user_id.to_string(),
        "PARAMS": envelope,
    })
}

/// The host (and port) of a portal's base address: the relay envelope's `portal.domain`.
pub fn domain_of(base: &str) -> String {
    let rest = base.split_once("://").map_or(base, |(_, rest)| rest);
    rest.split('/').next().unwrap_or_default().to_owned()
}

/// Publishes the steps in order with `pull.application.event.add` on the portal at `base`
/// (`https://portal/`, without `/rest/`), with the agent's OAuth token, waiting each step's
/// delay. Stops at the first transport failure; the portal's answers (errors too) are returned
/// for the caller to print.
pub fn publish(
    steps: &[PushStep],
    base: &str,
    tokens: &portal_sim::call_card::IssuedTokens,
    mut each: impl FnMut(&Answer),
) -> Result<Vec<Answer>, SimulateError> {
    let agent = local_http::agent(Duration::from_secs(10));
    let url = format!(
        "{}/rest/pull.application.event.add.json",
        base.trim_end_matches('/')
    );
    let mut answers = Vec::new();
    for step in steps {
        std::thread::sleep(step.delay);
        let mut body = event_add_params(tokens.user_id, &step.envelope);
        body["auth"] = serde_json::Value::String(tokens.access_token.clone());
        let request = agent
            .post(&url)
            .header("Content-Type", "application/json")
            .body(body.to_string());
        let answer = local_http::send(request).map(Answer::from).map_err(|e| {
            SimulateError::PortalUnreachable {
                base: base.to_owned(),
                reason: e.0,
            }
        })?;
        each(&answer);
        answers.push(answer);
    }
    Ok(answers)
}

/// The app's answer to one post.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Answer {
    pub status: u16,
    pub body: String,
}

impl From<local_http::Answer> for Answer {
    fn from(answer: local_http::Answer) -> Answer {
        Answer {
            status: answer.status,
            body: answer.body,
        }
    }
}

/// Sends the posts in order, waiting each step's delay. Stops at the first transport failure;
/// HTTP errors are answers, returned for the caller to print.
pub fn send(
    posts: &[Post],
    port: u16,
    token: &str,
    mut each: impl FnMut(&Answer),
) -> Result<Vec<Answer>, SimulateError> {
    let agent = local_http::agent(Duration::from_secs(10));
    let url = format!("http://127.0.0.1:{port}{}", listener::CALL_CARD_PATH);
    let mut answers = Vec::new();
    for post in posts {
        std::thread::sleep(post.delay);
        let request = agent
            .post(&url)
            .header("Authorization", format!("Bearer {token}"))
            .header("Content-Type", post.content_type)
            .body(post.body.clone());
        let answer = local_http::send(request)
            .map(Answer::from)
            .map_err(|e| SimulateError::NotRunning { port, reason: e.0 })?;
        each(&answer);
        answers.push(answer);
    }
    Ok(answers)
}
