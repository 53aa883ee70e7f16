//! `call-companion simulate`: posts call contexts to the running app's listener exactly as the
//! relay widget does (same endpoint, token, headers), so testers and scripts drive the real path.

use std::io::Read;
use std::time::Duration;

use serde::Deserialize;

use crate::cli::SimulateArgs;

/// Named scenarios, compiled in from `crates/companion/scenarios/*.json`. Testers add their own
/// as JSON files in the scenarios folder (`scenarios_dir`); one with the same name replaces the
/// built-in one.
const SCENARIOS: &[(&str, &str)] = &[
    (
        "incoming-contact",
        include_str!("../scenarios/incoming-contact.json"),
    ),
    (
        "shared-number",
        include_str!("../scenarios/shared-number.json"),
    ),
    ("lead", include_str!("../scenarios/lead.json")),
    (
        "outgoing-deal",
        include_str!("../scenarios/outgoing-deal.json"),
    ),
    (
        "unknown-caller",
        include_str!("../scenarios/unknown-caller.json"),
    ),
    ("call-list", include_str!("../scenarios/call-list.json")),
    (
        "state-changes",
        include_str!("../scenarios/state-changes.json"),
    ),
    (
        "entity-changed",
        include_str!("../scenarios/entity-changed.json"),
    ),
    ("malformed", include_str!("../scenarios/malformed.json")),
];

/// Where testers' own scenarios live: `$XDG_CONFIG_HOME/<identifier>/scenarios` (or
/// `CALL_COMPANION_SCENARIOS`).
pub fn scenarios_dir() -> std::path::PathBuf {
    std::env::var_os("CALL_COMPANION_SCENARIOS")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|| {
            crate::paths::AppPaths::for_current_user()
                .config_dir
                .join("scenarios")
        })
}

/// Every scenario's name and text: built-in ones, then the folder's (which win on a name clash).
fn all_scenarios() -> Vec<(String, String)> {
    let mut all: Vec<(String, String)> = SCENARIOS
        .iter()
        .map(|(n, t)| (n.to_string(), t.to_string()))
        .collect();
    let mut files: Vec<std::path::PathBuf> = std::fs::read_dir(scenarios_dir())
        .into_iter()
        .flatten()
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|e| e == "json"))
        .collect();
    files.sort();
    for path in files {
        let Some(name) = path.file_stem().map(|s| s.to_string_lossy().into_owned()) else {
            continue;
        };
        let text = std::fs::read_to_string(&path).unwrap_or_default();
        match all.iter_mut().find(|(n, _)| *n == name) {
            Some(existing) => existing.1 = text,
            None => all.push((name, text)),
        }
    }
    all
}

#[derive(Debug, Deserialize)]
pub struct Scenario {
    pub description: String,
    pub steps: Vec<ScenarioStep>,
}

#[derive(Debug, Deserialize)]
pub struct ScenarioStep {
    /// Wait before posting this step.
    #[serde(default)]
    pub delay_ms: u64,
    /// A relay envelope (or any JSON the listener accepts).
    #[serde(default)]
    pub payload: Option<serde_json::Value>,
    /// Or a body as it is: a form body, a `print_r` dump, broken JSON.
    #[serde(default)]
    pub raw: Option<String>,
}

impl ScenarioStep {
    pub fn post(&self) -> Post {
        let body = match (&self.payload, &self.raw) {
            (_, Some(raw)) => raw.clone().into_bytes(),
            (Some(payload), None) => payload.to_string().into_bytes(),
            (None, None) => Vec::new(),
        };
        Post {
            delay: Duration::from_millis(self.delay_ms),
            content_type: content_type_for(&body),
            body,
        }
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
    #[error("unknown scenario {0:?}; known: {known}", known = scenario_names().join(", "))]
    UnknownScenario(String),
    #[error("scenario {name} is broken: {reason}")]
    BrokenScenario { name: String, reason: String },
    #[error(
        "Call Companion is not answering on 127.0.0.1:{port} ({reason}); start it, or pass --port"
    )]
    NotRunning { port: u16, reason: String },
    #[error(transparent)]
    Secret(#[from] crate::secrets::SecretError),
}

impl SimulateError {
    /// Exit status, in the manner of sysexits: 65 bad data, 66 no input, 69 unavailable.
    pub fn exit_code(&self) -> u8 {
        match self {
            SimulateError::Read { .. } => 66,
            SimulateError::UnknownScenario(_) | SimulateError::BrokenScenario { .. } => 65,
            SimulateError::NotRunning { .. } | SimulateError::Secret(_) => 69,
        }
    }
}

pub fn scenario_names() -> Vec<String> {
    all_scenarios().into_iter().map(|(name, _)| name).collect()
}

pub fn scenario(name: &str) -> Result<Scenario, SimulateError> {
    let text = all_scenarios()
        .into_iter()
        .find(|(n, _)| n == name)
        .map(|(_, text)| text)
        .ok_or_else(|| SimulateError::UnknownScenario(name.to_owned()))?;
    let scenario: Scenario =
        serde_json::from_str(&text).map_err(|e| SimulateError::BrokenScenario {
            name: name.to_owned(),
            reason: e.to_string(),
        })?;
    if scenario.steps.is_empty()
        || scenario
            .steps
            .iter()
            .any(|s| s.payload.is_none() && s.raw.is_none())
    {
        return Err(SimulateError::BrokenScenario {
            name: name.to_owned(),
            reason: "every step needs a payload or a raw body".into(),
        });
    }
    Ok(scenario)
}

/// The requests `args` asks for. Files and stdin are sent as they are, even when they will be
/// refused: seeing the app's answer to a bad payload is part of testing.
pub fn posts(args: &SimulateArgs, stdin: impl Read) -> Result<Vec<Post>, SimulateError> {
    if let Some(name) = &args.scenario {
        return Ok(scenario(name)?
            .steps
            .iter()
            .map(ScenarioStep::post)
            .collect());
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
