//! Call scenarios: what a call card does over one call (or a call list), step by step. The
//! simulator's call-card page (`/sim/call-card?scenario=NAME`) plays them in a browser, and
//! `call-companion simulate` posts them to the app's listener. Built in, plus the testers' own
//! JSON files from a folder (one with a built-in's name replaces it).

use std::path::Path;
use std::time::Duration;

use serde::Deserialize;
use serde_json::Value;

/// The built-in scenarios, compiled in from `crates/portal-sim/scenarios/*.json`.
const BUILT_IN: &[(&str, &str)] = &[
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

#[derive(Debug, Clone, Deserialize)]
pub struct Scenario {
    pub description: String,
    pub steps: Vec<ScenarioStep>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct ScenarioStep {
    /// Wait before this step.
    #[serde(default)]
    pub delay_ms: u64,
    /// A relay envelope (`{"v":1,…,"options":{…}}`) or a bare options object.
    #[serde(default)]
    pub payload: Option<Value>,
    /// Or a body as it is: a form body, a `print_r` dump, broken JSON.
    #[serde(default)]
    pub raw: Option<String>,
}

impl ScenarioStep {
    pub fn delay(&self) -> Duration {
        Duration::from_millis(self.delay_ms)
    }

    /// The placement options this step shows in a call card: the envelope's `options`, a bare
    /// options object, or a raw body that is one of those as JSON. `None` for any other raw body.
    pub fn options(&self) -> Option<Value> {
        let value = match (&self.payload, &self.raw) {
            (Some(payload), None) => payload.clone(),
            (_, Some(raw)) => serde_json::from_str(raw).ok()?,
            (None, None) => return None,
        };
        match value.get("options") {
            Some(Value::String(text)) => serde_json::from_str(text).ok(),
            Some(options @ Value::Object(_)) => Some(options.clone()),
            _ if value.is_object() && value.get("v").is_none() => Some(value),
            _ => None,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ScenarioError {
    #[error("unknown scenario {name:?}; known: {known}")]
    Unknown { name: String, known: String },
    #[error("scenario {name} is broken: {reason}")]
    Broken { name: String, reason: String },
}

/// Every scenario's name and text: built-in ones, then `dir`'s JSON files (which win on a name
/// clash).
pub fn all(dir: Option<&Path>) -> Vec<(String, String)> {
    let mut all: Vec<(String, String)> = BUILT_IN
        .iter()
        .map(|(n, t)| (n.to_string(), t.to_string()))
        .collect();
    let mut files: Vec<std::path::PathBuf> = dir
        .and_then(|d| std::fs::read_dir(d).ok())
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

pub fn names(dir: Option<&Path>) -> Vec<String> {
    all(dir).into_iter().map(|(name, _)| name).collect()
}

/// The scenario `name`, checked: at least one step, each with a payload or a raw body.
pub fn load(name: &str, dir: Option<&Path>) -> Result<Scenario, ScenarioError> {
    let all = all(dir);
    let text = all
        .iter()
        .find(|(n, _)| n == name)
        .map(|(_, text)| text.clone())
        .ok_or_else(|| ScenarioError::Unknown {
            name: name.to_owned(),
            known: all
                .iter()
                .map(|(n, _)| n.as_str())
                .collect::<Vec<_>>()
                .join(", "),
        })?;
    let broken = |reason: String| ScenarioError::Broken {
        name: name.to_owned(),
        reason,
    };
    let scenario: Scenario = serde_json::from_str(&text).map_err(|e| broken(e.to_string()))?;
    if scenario.steps.is_empty()
        || scenario
            .steps
            .iter()
            .any(|s| s.payload.is_none() && s.raw.is_none())
    {
        return Err(broken("every step needs a payload or a raw body".into()));
    }
    Ok(scenario)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_built_in_scenario_loads_and_shows_a_call() {
        for (name, _) in BUILT_IN {
            let scenario = load(name, None).unwrap();
            let first = scenario.steps[0].options();
            assert!(
                first.is_some(),
                "{name}: its first step is a call card's options"
            );
        }
        assert!(matches!(
            load("nope", None),
            Err(ScenarioError::Unknown { .. })
        ));
    }
}
