//! `batch`: commands run in order; `$result[key][FIELD]…` in a command's parameters reads an
//! earlier command's result; with `halt` the first error stops the rest. The HTTP answer is
//! 200 whatever the commands did.

use serde_json::{json, Map, Value};

use crate::methods::{self, is_write};
use crate::params::parse_php_query;
use crate::portal::{ApiError, Caller, Portal};
use crate::references;

pub const MAX_COMMANDS: usize = 50;

pub struct BatchOutcome {
    pub result: Value,
    /// Whether a write was committed (the drop-after-commit fault then applies).
    pub wrote: bool,
}

pub fn run(
    portal: &mut Portal,
    caller: &Caller,
    params: &Map<String, Value>,
    now: f64,
) -> Result<BatchOutcome, ApiError> {
    let halt = match params.get("halt") {
        Some(Value::Bool(b)) => *b,
        Some(Value::Number(n)) => n.as_u64() == Some(1),
        Some(Value::String(s)) => matches!(s.as_str(), "1" | "true" | "Y"),
        _ => false,
    };
    // The server puts the commands in order as `[[key, command], …]`.
    let commands: Vec<(String, String)> = match params.get("cmd") {
        Some(Value::Array(items)) => items
            .iter()
            .enumerate()
            .map(|(i, item)| match item {
                Value::Array(pair) if pair.len() == 2 => (text(&pair[0]), text(&pair[1])),
                other => (i.to_string(), text(other)),
            })
            .collect(),
        Some(Value::Object(map)) => map.iter().map(|(k, v)| (k.clone(), text(v))).collect(),
        _ => Vec::new(),
    };
    if commands.is_empty() {
        return Err(ApiError::new(400, "ERROR_BATCH_EMPTY", "Batch is empty"));
    }
    let mut results = Map::new();
    let mut errors = Map::new();
    let mut totals = Map::new();
    let mut nexts = Map::new();
    let mut times = Map::new();
    let mut wrote = false;
    for (index, (key, command)) in commands.into_iter().enumerate() {
        // The docs: sub-requests beyond the limit end with ERROR_BATCH_LENGTH_EXCEEDED; the
        // request as a whole still answers 200.
        if index >= MAX_COMMANDS {
            let error = ApiError::new(
                400,
                "ERROR_BATCH_LENGTH_EXCEEDED",
                "Max batch length exceeded",
            );
            errors.insert(key, error.body());
            continue;
        }
        let (method, query) = command.split_once('?').unwrap_or((command.as_str(), ""));
        let mut sub_params = parse_php_query(query);
        let earlier = references::Earlier::new(&results, &errors, &totals, &nexts, &times);
        for value in sub_params.values_mut() {
            references::substitute(value, &earlier);
        }
        let outcome = if method.eq_ignore_ascii_case("batch") {
            Err(ApiError::new(
                400,
                "ERROR_BATCH_METHOD_NOT_ALLOWED",
                "Method is not allowed for batch usage",
            ))
        } else {
            portal
                .injected_failure(caller, method, now)
                .map_or_else(|| methods::call(portal, caller, method, &sub_params), Err)
        };
        // Each sub-request counts for its own method's operating time (`limits.md`).
        let operating = portal.operating_time(caller, method, now);
        times.insert(
            key.clone(),
            json!({"start": now, "finish": now, "duration": 0.001, "processing": 0.001,
                   "operating": operating.operating, "operating_reset_at": operating.reset_at}),
        );
        match outcome {
            Ok(answer) => {
                wrote |= is_write(&method.to_ascii_lowercase());
                results.insert(key.clone(), answer.result);
                if let Some(total) = answer.total {
                    totals.insert(key.clone(), Value::from(total));
                }
                if let Some(next) = answer.next {
                    nexts.insert(key.clone(), Value::from(next));
                }
            }
            Err(error) => {
                errors.insert(key, error.body());
                if halt {
                    break;
                }
            }
        }
    }
    // PHP writes an empty associative array as [].
    let block = |map: Map<String, Value>| {
        if map.is_empty() {
            json!([])
        } else {
            Value::Object(map)
        }
    };
    Ok(BatchOutcome {
        result: json!({
            "result": block(results),
            "result_error": block(errors),
            "result_total": block(totals),
            "result_next": block(nexts),
            "result_time": block(times),
        }),
        wrote,
    })
}

fn text(value: &Value) -> String {
    value.as_str().map(str::to_owned).unwrap_or_default()
}

/// A JSON object's entries in the order they were written.
pub struct Commands(pub Vec<(String, String)>);

impl<'de> serde::Deserialize<'de> for Commands {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Commands, D::Error> {
        struct Visitor;
        impl<'de> serde::de::Visitor<'de> for Visitor {
            type Value = Commands;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("an object or a list of commands")
            }
            fn visit_map<A: serde::de::MapAccess<'de>>(
                self,
                mut map: A,
            ) -> Result<Commands, A::Error> {
                let mut out = Vec::new();
                while let Some((key, value)) = map.next_entry::<String, Value>()? {
                    out.push((key, text(&value)));
                }
                Ok(Commands(out))
            }
            fn visit_seq<A: serde::de::SeqAccess<'de>>(
                self,
                mut seq: A,
            ) -> Result<Commands, A::Error> {
                let mut out = Vec::new();
                while let Some(value) = seq.next_element::<Value>()? {
                    out.push((out.len().to_string(), text(&value)));
                }
                Ok(Commands(out))
            }
        }
        deserializer.deserialize_any(Visitor)
    }
}
