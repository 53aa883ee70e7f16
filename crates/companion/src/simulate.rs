//! `call-companion simulate`: posts call contexts to the running app's listener exactly as the
//! relay widget does (same endpoint, token, headers), so testers and scripts drive the real path.

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
            | SimulateError::NoToken { .. } => 69,
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
    use crate::portal::settings::SettingsFile;
    let scenario = scenario(name)?;
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
    let first = scenario.steps.first();
    let options = first.and_then(ScenarioStep::options).unwrap_or_default();
    let lang = first
        .and_then(|s| s.payload.as_ref())
        .and_then(|p| p["portal"]["lang"].as_str())
        .unwrap_or("en")
        .to_owned();
    let no_token = |reason: String| SimulateError::NoToken {
        base: saved.base.clone(),
        reason,
    };
    let agent = ureq::AgentBuilder::new()
        .timeout(Duration::from_secs(10))
        .build();
    let tokens: portal_sim::call_card::IssuedTokens = agent
        .post(&format!("{}/sim/admin/tokens", saved.base))
        .send_json(serde_json::json!({ "user_id": saved.agent().unwrap_or(1) }))
        .map_err(|e| no_token(e.to_string()))?
        .into_json()
        .map_err(|e| no_token(e.to_string()))?;
    let mut sid = [0u8; 16];
    getrandom::fill(&mut sid).map_err(|e| no_token(e.to_string()))?;
    let sid: String = sid.iter().map(|b| format!("{b:02x}")).collect();
    Ok(portal_sim::call_card::tab_form(
        &saved.base,
        &crate::portal::widget::direct_handler(port),
        &options,
        &tokens,
        &lang,
        &sid,
    ))
}

/// The app's answer to one post.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Answer {
    pub status: u16,
    pub body: String,
}

/// Sends the posts in order, waiting each step's delay. Stops at the first transport failure;
/// HTTP errors are answers, returned for the caller to print.
pub fn send(
    posts: &[Post],
    port: u16,
    token: &str,
    mut each: impl FnMut(&Answer),
) -> Result<Vec<Answer>, SimulateError> {
    let agent = ureq::AgentBuilder::new()
        .timeout(Duration::from_secs(10))
        .build();
    let url = format!("http://127.0.0.1:{port}{}", listener::CALL_CARD_PATH);
    let mut answers = Vec::new();
    for post in posts {
        std::thread::sleep(post.delay);
        let result = agent
            .post(&url)
            .set("Authorization", &format!("Bearer {token}"))
            .set("Content-Type", post.content_type)
            .send_bytes(&post.body);
        let response = match result {
            Ok(response) | Err(ureq::Error::Status(_, response)) => response,
            Err(ureq::Error::Transport(e)) => {
                return Err(SimulateError::NotRunning {
                    port,
                    reason: e.kind().to_string(),
                })
            }
        };
        let status = response.status();
        let body = response.into_string().unwrap_or_default();
        let answer = Answer { status, body };
        each(&answer);
        answers.push(answer);
    }
    Ok(answers)
}
