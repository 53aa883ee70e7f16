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
        // A PHP array: a list or a map, its values the candidates. An empty one adds no
        // condition at all (server code: `CSqlUtil::PrepareWhere` skips it), so the list runs
        // unfiltered on that field.
        let wanted: Vec<&Value> = match wanted {
            Value::Array(items) => items.iter().collect(),
            Value::Object(map) => map.values().collect(),
            other => vec![other],
        };
        if wanted.is_empty() {
            return true;
        }
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

/// Numbers compare as numbers (ids are strings on the wire), the rest as text; a nested array
/// equals nothing.
fn compare(a: &Value, b: &Value) -> Option<Ordering> {
    if b.is_array() || b.is_object() {
        return None;
    }
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
    start_param(params).max(0) as usize
}

/// `start: -1`: the first page without counting `total` (`settings/performance/huge-data.md`:
/// the answer has `total: 0` and no `next`).
pub fn uncounted(params: &Map<String, Value>) -> bool {
    start_param(params) == -1
}

fn start_param(params: &Map<String, Value>) -> i64 {
    params
        .get("start")
        .map(text)
        .and_then(|s| s.trim().parse::<i64>().ok())
        .unwrap_or(0)
}

/// PHP's `intval`: leading digits of a string ("42 " is 42, "abc" 0), 1 for a non-empty array,
/// 0 for an empty one. What a legacy `crm.*.get` makes of its `id` (*unverified*: assumed from
/// the server's habit of casting ids with `(int)`).
pub fn intval(value: &Value) -> i64 {
    match value {
        Value::Number(n) => n
            .as_i64()
            .or_else(|| n.as_f64().map(|f| f as i64))
            .unwrap_or(0),
        Value::String(s) => {
            let t = s.trim_start();
            let (sign, digits) = match t.strip_prefix('-') {
                Some(rest) => (-1, rest),
                None => (1, t.strip_prefix('+').unwrap_or(t)),
            };
            let end = digits
                .find(|c: char| !c.is_ascii_digit())
                .unwrap_or(digits.len());
            digits[..end].parse::<i64>().map(|n| sign * n).unwrap_or(0)
        }
        Value::Bool(b) => i64::from(*b),
        Value::Array(items) => i64::from(!items.is_empty()),
        Value::Object(map) => i64::from(!map.is_empty()),
        Value::Null => 0,
    }
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
        // an empty array adds no condition; a number with a trailing space is that number
        assert!(f(json!({"CONTACT_ID": [], "ID": "12 "})));
        assert!(!f(json!({"ID": ["$result[dup][CONTACT][0] "]})));
        assert!(!f(json!({"ID": [[12]]})));
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
    fn intval_is_phps() {
        for (v, n) in [
            (json!("42 "), 42),
            (json!(" 42abc"), 42),
            (json!("$result[x][0] "), 0),
            (json!([]), 0),
            (json!([5, 6]), 1),
            (json!({"ID": "9"}), 1),
            (json!(null), 0),
            (json!(17), 17),
            (json!("-3"), -3),
        ] {
            assert_eq!(intval(&v), n, "{v}");
        }
    }

    #[test]
    fn paging() {
        assert_eq!(next_after(0, 120), Some(50));
        assert_eq!(next_after(100, 120), None);
        assert_eq!(next_after(0, 50), None);
    }
}
