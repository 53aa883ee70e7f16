//! Reading records the way the legacy `crm.*.list` methods do: `filter` with the operator
//! prefixes (`=`, `!`, `>`, `>=`, `<`, `<=`, `%`), `order`, `select` (multifields only when
//! named, `*` for the rest), pages of 50.

use std::cmp::Ordering;

use serde_json::{Map, Value};

use crate::data::Record;

pub const PAGE: usize = 50;

/// Fields a list leaves out unless `select` names them.
const MULTIFIELDS: &[&str] = &["PHONE", "EMAIL", "WEB", "IM"];

pub fn matches(record: &Record, filter: &Map<String, Value>) -> bool {
    filter.iter().all(|(key, wanted)| {
        let (op, field) = split_operator(key);
        let field = field.to_ascii_uppercase();
        let actual = record.get(&field).unwrap_or(&Value::Null);
        let wanted: Vec<&Value> = match wanted {
            Value::Array(items) => items.iter().collect(),
            other => vec![other],
        };
        let any = |test: &dyn Fn(&Value) -> bool| wanted.iter().any(|w| test(w));
        match op {
            "" | "=" => any(&|w| compare(actual, w) == Some(Ordering::Equal)),
            "!" | "!=" => !any(&|w| compare(actual, w) == Some(Ordering::Equal)),
            ">" => any(&|w| compare(actual, w) == Some(Ordering::Greater)),
            ">=" => any(&|w| {
                matches!(
                    compare(actual, w),
                    Some(Ordering::Greater | Ordering::Equal)
                )
            }),
            "<" => any(&|w| compare(actual, w) == Some(Ordering::Less)),
            "<=" => any(&|w| matches!(compare(actual, w), Some(Ordering::Less | Ordering::Equal))),
            "%" => any(&|w| {
                text(actual)
                    .to_lowercase()
                    .contains(&text(w).to_lowercase())
            }),
            _ => false,
        }
    })
}

fn split_operator(key: &str) -> (&str, &str) {
    for op in [">=", "<=", "!=", "=", "!", ">", "<", "%"] {
        if let Some(field) = key.strip_prefix(op) {
            return (op, field);
        }
    }
    ("", key)
}

fn text(value: &Value) -> String {
    match value {
        Value::String(s) => s.clone(),
        Value::Null => String::new(),
        other => other.to_string(),
    }
}

/// Numbers compare as numbers (ids are strings on the wire), the rest as text.
fn compare(a: &Value, b: &Value) -> Option<Ordering> {
    let (ta, tb) = (text(a), text(b));
    match (ta.trim().parse::<f64>(), tb.trim().parse::<f64>()) {
        (Ok(x), Ok(y)) => x.partial_cmp(&y),
        _ => Some(ta.cmp(&tb)),
    }
}

pub fn sort(records: &mut [&Record], order: Option<&Value>) {
    let keys: Vec<(String, bool)> = match order {
        Some(Value::Object(map)) => map
            .iter()
            .map(|(k, v)| (k.to_ascii_uppercase(), text(v).eq_ignore_ascii_case("DESC")))
            .collect(),
        _ => Vec::new(),
    };
    records.sort_by(|a, b| {
        for (field, descending) in &keys {
            let ordering = compare(
                a.get(field).unwrap_or(&Value::Null),
                b.get(field).unwrap_or(&Value::Null),
            )
            .unwrap_or(Ordering::Equal);
            let ordering = if *descending {
                ordering.reverse()
            } else {
                ordering
            };
            if ordering != Ordering::Equal {
                return ordering;
            }
        }
        compare(
            a.get("ID").unwrap_or(&Value::Null),
            b.get("ID").unwrap_or(&Value::Null),
        )
        .unwrap_or(Ordering::Equal)
    });
}

/// The fields a list answers with.
pub fn project(record: &Record, select: Option<&Value>) -> Value {
    let names: Vec<String> = match select {
        Some(Value::Array(items)) => items.iter().map(|v| text(v).to_ascii_uppercase()).collect(),
        Some(Value::Object(map)) => map.values().map(|v| text(v).to_ascii_uppercase()).collect(),
        _ => Vec::new(),
    };
    let everything = names.is_empty() || names.iter().any(|n| n == "*");
    let mut out = Map::new();
    for (key, value) in record {
        let multi = MULTIFIELDS.contains(&key.as_str());
        let wanted = names.iter().any(|n| n == key) || (everything && !multi);
        if wanted {
            out.insert(key.clone(), value.clone());
        }
    }
    Value::Object(out)
}

/// Where a list starts (`start`, 0 when absent or junk) and, for a page ending at `end` of
/// `total`, where the next one starts.
pub fn start_of(params: &Map<String, Value>) -> usize {
    params
        .get("start")
        .map(text)
        .and_then(|s| s.trim().parse::<i64>().ok())
        .unwrap_or(0)
        .max(0) as usize
}

pub fn next_after(start: usize, total: usize) -> Option<usize> {
    (start + PAGE < total).then_some(start + PAGE)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn record(v: Value) -> Record {
        v.as_object().cloned().unwrap()
    }

    #[test]
    fn filters_with_operators() {
        let r = record(
            json!({"ID": "12", "CLOSED": "N", "TITLE": "Годовой контракт", "CONTACT_ID": "42"}),
        );
        let f = |v: Value| matches(&r, v.as_object().unwrap());
        assert!(f(json!({"CONTACT_ID": 42, "CLOSED": "N"})));
        assert!(f(
            json!({"=CONTACT_ID": "42", ">ID": 10, "<=ID": "12", "%TITLE": "контракт"})
        ));
        assert!(!f(json!({"!CLOSED": "N"})));
        assert!(f(json!({"ID": ["1", "12"]})));
        assert!(!f(json!({"contact_id": 7})));
    }

    #[test]
    fn lists_leave_out_multifields_unless_selected() {
        let r = record(json!({"ID": "1", "NAME": "A", "PHONE": [{"VALUE": "1"}]}));
        assert_eq!(project(&r, None), json!({"ID": "1", "NAME": "A"}));
        assert_eq!(
            project(&r, Some(&json!(["ID", "PHONE"]))),
            json!({"ID": "1", "PHONE": [{"VALUE": "1"}]})
        );
        assert_eq!(
            project(&r, Some(&json!(["*", "PHONE"]))),
            json!({"ID": "1", "NAME": "A", "PHONE": [{"VALUE": "1"}]})
        );
    }

    #[test]
    fn paging() {
        assert_eq!(next_after(0, 120), Some(50));
        assert_eq!(next_after(100, 120), None);
        assert_eq!(next_after(0, 50), None);
    }
}
