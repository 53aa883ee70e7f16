//! `batch`: up to 50 commands in one HTTP request (one unit of the portal's rate limit), run in
//! order, later ones reading earlier results through `$result[key][FIELD]`. The answer has a
//! result or an error per command; with `halt` the portal stops at the first error.

use std::collections::BTreeMap;

use serde_json::Value;

use crate::envelope::{error_of, ApiTime};
use crate::error::RestError;
use crate::models::de;
use crate::query::build_query;
use crate::retry::is_read_only;

/// The portal refuses more with `ERROR_BATCH_LENGTH_EXCEEDED`.
pub const MAX_BATCH_COMMANDS: usize = 50;

#[derive(Debug, Clone, Default, PartialEq)]
pub struct Batch {
    halt: bool,
    commands: Vec<(String, String, Value)>,
}

impl Batch {
    pub fn new() -> Batch {
        Batch::default()
    }

    /// Stop at the first failing command (later ones are not run).
    pub fn halt(mut self, halt: bool) -> Batch {
        self.halt = halt;
        self
    }

    /// Adds a command. Keys name results (`$result[key]`): letters, digits and `_`.
    pub fn add(mut self, key: &str, method: &str, params: Value) -> Batch {
        self.commands
            .push((key.to_owned(), method.to_owned(), params));
        self
    }

    pub fn len(&self) -> usize {
        self.commands.len()
    }

    pub fn is_empty(&self) -> bool {
        self.commands.is_empty()
    }

    pub fn keys(&self) -> impl Iterator<Item = &str> {
        self.commands.iter().map(|(k, _, _)| k.as_str())
    }

    /// The method of the command under `key`.
    pub(crate) fn method_of(&self, key: &str) -> Option<&str> {
        self.commands
            .iter()
            .find(|(k, _, _)| k == key)
            .map(|(_, m, _)| m.as_str())
    }

    pub(crate) fn is_read_only(&self) -> bool {
        self.commands
            .iter()
            .all(|(_, method, _)| is_read_only(method))
    }

    pub(crate) fn check(&self) -> Result<(), RestError> {
        let mut seen = std::collections::HashSet::new();
        for (key, method, _) in &self.commands {
            if key.is_empty() || !key.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
                return Err(RestError::Config(format!(
                    "batch key {key:?}: use letters, digits and _"
                )));
            }
            if !seen.insert(key) {
                return Err(RestError::Config(format!(
                    "batch key {key:?} is used twice"
                )));
            }
            if method.is_empty() || method.eq_ignore_ascii_case("batch") {
                return Err(RestError::Config(format!(
                    "batch command {key:?}: a batch cannot run {method:?}"
                )));
            }
        }
        if self.commands.len() > MAX_BATCH_COMMANDS {
            return Err(RestError::Config(format!(
                "a batch holds at most {MAX_BATCH_COMMANDS} commands; use Client::batch_all"
            )));
        }
        Ok(())
    }

    /// Splits into batches of at most 50. A command that reads another's result must land in
    /// the same one, so such a reference across a split is refused.
    pub fn chunks(&self) -> Result<Vec<Batch>, RestError> {
        let chunks: Vec<Batch> = self
            .commands
            .chunks(MAX_BATCH_COMMANDS)
            .map(|c| Batch {
                halt: self.halt,
                commands: c.to_vec(),
            })
            .collect();
        for (i, chunk) in chunks.iter().enumerate() {
            let own: Vec<&str> = chunk.keys().collect();
            for (key, _, params) in &chunk.commands {
                for referenced in references(params) {
                    if !own.contains(&referenced.as_str()) && self.keys().any(|k| k == referenced) {
                        return Err(RestError::Config(format!(
                            "batch command {key:?} reads $result[{referenced}], which falls into another batch of 50 (part {})",
                            i + 1
                        )));
                    }
                }
            }
        }
        Ok(chunks)
    }

    /// The request body: `{"halt": 0|1, "cmd": {key: "method?query", …}}`, commands in order.
    pub(crate) fn body(&self, auth: Option<&str>) -> String {
        let mut body = format!("{{\"halt\":{},\"cmd\":{{", u8::from(self.halt));
        for (i, (key, method, params)) in self.commands.iter().enumerate() {
            if i > 0 {
                body.push(',');
            }
            let query = build_query(params);
            let command = if query.is_empty() {
                method.clone()
            } else {
                format!("{method}?{query}")
            };
            body.push_str(&Value::String(key.clone()).to_string());
            body.push(':');
            body.push_str(&Value::String(command).to_string());
        }
        body.push('}');
        if let Some(auth) = auth {
            body.push_str(",\"auth\":");
            body.push_str(&Value::String(auth.to_owned()).to_string());
        }
        body.push('}');
        body
    }
}

/// Keys of the `$result[key]…` references in a command's parameters.
fn references(params: &Value) -> Vec<String> {
    let mut found = Vec::new();
    let mut stack = vec![params];
    while let Some(value) = stack.pop() {
        match value {
            Value::String(s) => {
                let mut rest = s.as_str();
                while let Some(at) = rest.find("$result[") {
                    rest = &rest[at + 8..];
                    if let Some(end) = rest.find(']') {
                        found.push(rest[..end].to_owned());
                    }
                }
            }
            Value::Array(items) => stack.extend(items),
            Value::Object(map) => stack.extend(map.values()),
            _ => {}
        }
    }
    found
}

/// Per-command outcomes of a batch.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct BatchResponse {
    pub results: BTreeMap<String, Value>,
    pub errors: BTreeMap<String, RestError>,
    pub totals: BTreeMap<String, u64>,
    pub nexts: BTreeMap<String, u64>,
    /// Each command's `time` (`result_time`): every sub-request counts for its own method's
    /// operating time (`limits.md`), so its `operating_reset_at` is that method's.
    pub times: BTreeMap<String, ApiTime>,
}

impl BatchResponse {
    /// The command's result, its error, or `None` when it did not run (after a halt).
    pub fn get(&self, key: &str) -> Option<Result<&Value, &RestError>> {
        if let Some(error) = self.errors.get(key) {
            return Some(Err(error));
        }
        self.results.get(key).map(Ok)
    }

    /// Reads `result` of a successful `batch` call.
    pub(crate) fn read(result: &Value, batch: &Batch) -> Result<BatchResponse, RestError> {
        let Value::Object(outer) = result else {
            return Err(RestError::BadResponse(
                "batch answered without its result object".into(),
            ));
        };
        let mut response = BatchResponse::default();
        for (key, value) in per_key(outer.get("result")) {
            response.results.insert(key, value);
        }
        for (key, value) in per_key(outer.get("result_error")) {
            let (code, description) =
                error_of(&value).unwrap_or_else(|| (String::new(), value.to_string()));
            let method = batch
                .commands
                .iter()
                .find(|(k, _, _)| *k == key)
                .map(|(_, m, _)| m.as_str())
                .unwrap_or_default();
            // Sub-requests carry no HTTP status of their own.
            response.errors.insert(
                key.clone(),
                RestError::from_portal(400, &code, &description, method),
            );
            response.results.remove(&key);
        }
        for (key, value) in per_key(outer.get("result_total")) {
            if let Some(n) = de::number_of(&value) {
                response.totals.insert(key, n as u64);
            }
        }
        for (key, value) in per_key(outer.get("result_next")) {
            if let Some(n) = de::number_of(&value) {
                response.nexts.insert(key, n as u64);
            }
        }
        for (key, value) in per_key(outer.get("result_time")) {
            if let Ok(time) = serde_json::from_value::<ApiTime>(value) {
                response.times.insert(key, time);
            }
        }
        Ok(response)
    }

    pub(crate) fn merge(&mut self, other: BatchResponse) {
        self.results.extend(other.results);
        self.errors.extend(other.errors);
        self.totals.extend(other.totals);
        self.nexts.extend(other.nexts);
        self.times.extend(other.times);
    }
}

/// A per-key block: an object, or `[]` when empty (PHP).
fn per_key(block: Option<&Value>) -> Vec<(String, Value)> {
    match block {
        Some(Value::Object(map)) => map.iter().map(|(k, v)| (k.clone(), v.clone())).collect(),
        Some(Value::Array(items)) => items
            .iter()
            .enumerate()
            .map(|(i, v)| (i.to_string(), v.clone()))
            .collect(),
        _ => Vec::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn body_keeps_the_command_order() {
        let batch = Batch::new()
            .add("zeta", "crm.deal.get", json!({"id": 5}))
            .add(
                "alpha",
                "crm.contact.get",
                json!({"id": "$result[zeta][CONTACT_ID]"}),
            )
            .halt(true);
        assert_eq!(
            batch.body(Some("tok")),
            r#"{"halt":1,"cmd":{"zeta":"crm.deal.get?id=5","alpha":"crm.contact.get?id=%24result%5Bzeta%5D%5BCONTACT_ID%5D"},"auth":"tok"}"#
        );
    }

    #[test]
    fn splitting_keeps_references_inside_one_batch() {
        let mut batch = Batch::new();
        for i in 0..120 {
            batch = batch.add(&format!("c{i}"), "crm.contact.get", json!({"id": i + 1}));
        }
        let chunks = batch.chunks().unwrap();
        assert_eq!(
            chunks.iter().map(Batch::len).collect::<Vec<_>>(),
            [50, 50, 20]
        );
        let crossing = batch.add(
            "late",
            "crm.company.get",
            json!({"id": "$result[c0][COMPANY_ID]"}),
        );
        let error = crossing.chunks().unwrap_err();
        assert!(error.to_string().contains("$result[c0]"), "{error}");
    }

    #[test]
    fn bad_keys_and_nesting_are_refused() {
        assert!(Batch::new()
            .add("a b", "crm.contact.get", json!({}))
            .check()
            .is_err());
        assert!(Batch::new()
            .add("a", "x.get", json!({}))
            .add("a", "y.get", json!({}))
            .check()
            .is_err());
        assert!(Batch::new().add("a", "batch", json!({})).check().is_err());
    }

    #[test]
    fn answer_with_results_errors_and_empty_blocks() {
        let batch = Batch::new()
            .add("deal", "crm.deal.get", json!({}))
            .add("contact", "crm.contact.get", json!({}))
            .add("list", "crm.deal.list", json!({}));
        let result = json!({
            "result": {"deal": {"ID": "5"}, "list": [{"ID": "1"}]},
            "result_error": {"contact": {"error": "", "error_description": "Not found"}},
            "result_total": {"list": "51"},
            "result_next": {"list": 50},
            "result_time": []
        });
        let response = BatchResponse::read(&result, &batch).unwrap();
        assert_eq!(response.get("deal").unwrap().unwrap()["ID"], "5");
        assert_eq!(
            response.get("contact").unwrap().unwrap_err().code(),
            "not_found"
        );
        assert_eq!(response.totals["list"], 51);
        assert_eq!(response.nexts["list"], 50);
        assert!(response.get("missing").is_none());
        let limited = BatchResponse::read(
            &json!({
                "result": {"deal": {"ID": "5"}},
                "result_error": {"list": {"error": "OPERATION_TIME_LIMIT", "error_description": ""}},
                "result_time": {"deal": {"start": 1, "operating": 2.5, "operating_reset_at": 1700000600}},
            }),
            &batch,
        )
        .unwrap();
        assert!(matches!(
            limited.get("list").unwrap().unwrap_err(),
            RestError::OperationTimeLimit { method, .. } if method == "crm.deal.list"
        ));
        assert_eq!(
            limited.times["deal"].operating_reset_at,
            Some(1_700_000_600.0)
        );
        let empty = BatchResponse::read(&json!({"result": [], "result_error": [], "result_total": [], "result_next": [], "result_time": []}), &batch).unwrap();
        assert!(empty.results.is_empty() && empty.errors.is_empty());
    }
}
