//! `batch` references, substituted as Bitrix's server does (`CRestUtil::processBatchStructure` and
//! `processBatchElement` in the `rest` module; the docs, `settings/how-to-call-rest-api/batch.md`,
//! show only `$result[key][FIELD]`):
//!
//! - a reference is `$` + a root (`result`, `error`, `total`, `next`, `time`) + everything up to
//!   the next whitespace; its path is every `[…]` in that run;
//! - the path is walked key by key and **stops at the first key that is missing or `null`**: the
//!   deepest existing ancestor is what is substituted (a missing `[CONTACT]` gives the whole
//!   result it was looked up in);
//! - a parameter that is **only** the reference takes that value as it is (an array stays an
//!   array);
//! - a reference inside other text is replaced by the value when it is a string or a number; any
//!   other value (an array, a boolean) leaves the reference in the text as it was written.

use serde_json::{Map, Value};

const ROOTS: [&str; 5] = ["result", "error", "total", "next", "time"];

/// What earlier commands left, by root: `result`, `error`, `total`, `next`, `time`.
pub struct Earlier<'a> {
    pub roots: [(&'static str, &'a Map<String, Value>); 5],
}

impl<'a> Earlier<'a> {
    pub fn new(
        result: &'a Map<String, Value>,
        error: &'a Map<String, Value>,
        total: &'a Map<String, Value>,
        next: &'a Map<String, Value>,
        time: &'a Map<String, Value>,
    ) -> Earlier<'a> {
        Earlier {
            roots: [
                (ROOTS[0], result),
                (ROOTS[1], error),
                (ROOTS[2], total),
                (ROOTS[3], next),
                (ROOTS[4], time),
            ],
        }
    }

    fn root(&self, name: &str) -> Option<&'a Map<String, Value>> {
        self.roots
            .iter()
            .find(|(root, _)| root.eq_ignore_ascii_case(name))
            .map(|(_, map)| *map)
    }
}

/// Substitutes every reference in `value` (its strings, at any depth).
pub fn substitute(value: &mut Value, earlier: &Earlier) {
    match value {
        Value::String(text) => {
            if let Some(replaced) = element(text, earlier) {
                *value = replaced;
            }
        }
        Value::Array(items) => items.iter_mut().for_each(|v| substitute(v, earlier)),
        Value::Object(map) => map.values_mut().for_each(|v| substitute(v, earlier)),
        _ => {}
    }
}

/// One parameter's text after substitution; `None` when it holds no reference.
fn element(text: &str, earlier: &Earlier) -> Option<Value> {
    let matches = find_references(text, earlier);
    if matches.is_empty() {
        return None;
    }
    let mut query = text.to_owned();
    for (whole, root, path) in matches {
        if path.is_empty() {
            continue;
        }
        let Some(map) = earlier.root(&root) else {
            continue;
        };
        let found = walk(map, &path);
        if whole == query {
            return Some(found);
        }
        let piece = match &found {
            Value::String(s) => s.clone(),
            Value::Number(n) => n.to_string(),
            // PHP's is_numeric/is_string both fail: the reference stays as written.
            _ => continue,
        };
        query = query.replace(&whole, &piece);
    }
    Some(Value::String(query))
}

/// `$root…` runs in `text` (up to whitespace), with the root's name and the `[…]` path.
fn find_references(text: &str, earlier: &Earlier) -> Vec<(String, String, Vec<String>)> {
    let mut out = Vec::new();
    let mut rest = text;
    while let Some(at) = rest.find('$') {
        let after = &rest[at + 1..];
        let root = ROOTS.iter().find(|root| {
            after
                .get(..root.len())
                .is_some_and(|head| head.eq_ignore_ascii_case(root))
        });
        let Some(root) = root.filter(|r| earlier.root(r).is_some()) else {
            rest = after;
            continue;
        };
        let end = after.find(char::is_whitespace).unwrap_or(after.len());
        let run = &after[root.len()..end];
        out.push((
            format!("${}", &after[..end]),
            (*root).to_owned(),
            path_of(run),
        ));
        rest = &after[end..];
    }
    out
}

/// Every non-empty `[…]` in `run`, as PHP's `/\[([^\]]+)\]/` finds them.
fn path_of(run: &str) -> Vec<String> {
    let mut path = Vec::new();
    let mut rest = run;
    while let Some(open) = rest.find('[') {
        let inner = &rest[open + 1..];
        let Some(close) = inner.find(']') else { break };
        if close > 0 {
            path.push(inner[..close].to_owned());
            rest = &inner[close + 1..];
        } else {
            rest = &inner[1..];
        }
    }
    path
}

/// Walks `path` from `root`, stopping at the first key that is missing or `null` (PHP's
/// `isset`): the deepest value reached is the answer.
fn walk(root: &Map<String, Value>, path: &[String]) -> Value {
    let Some(first) = root.get(&path[0]).filter(|v| !v.is_null()) else {
        return Value::Object(root.clone());
    };
    let mut current = first;
    for step in &path[1..] {
        let next = match current {
            Value::Object(map) => map.get(step),
            Value::Array(items) => step.parse::<usize>().ok().and_then(|i| items.get(i)),
            _ => None,
        };
        match next.filter(|v| !v.is_null()) {
            Some(v) => current = v,
            None => break,
        }
    }
    current.clone()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    /// One table of cases: the parameter as written, and what the server makes of it.
    #[test]
    fn references_follow_the_server() {
        let result = json!({
            "deal": {"ID": "25", "CONTACT_ID": "42", "COMPANY_ID": null, "IDS": [7, 8], "Y": true},
            "list": [{"ID": "3"}],
            "dup": [],
            "found": {"CONTACT": [42, 43]},
        });
        let result = result.as_object().unwrap();
        let error = json!({"bad": {"error": "", "error_description": "Not found"}});
        let total = json!({"list": 1});
        let empty = Map::new();
        let earlier = Earlier::new(
            result,
            error.as_object().unwrap(),
            total.as_object().unwrap(),
            &empty,
            &empty,
        );
        let cases = [
            // a whole reference keeps the value's type
            (json!("$result[deal][CONTACT_ID]"), json!("42")),
            (json!("$result[deal][IDS]"), json!([7, 8])),
            (json!("$result[list][0][ID]"), json!("3")),
            (json!("$result[found][CONTACT]"), json!([42, 43])),
            // a missing or null step gives the deepest existing ancestor
            (json!("$result[dup][CONTACT][0]"), json!([])),
            (
                json!("$result[found][COMPANY]"),
                json!({"CONTACT": [42, 43]}),
            ),
            (json!("$result[deal][COMPANY_ID]"), result["deal"].clone()),
            (json!("$result[gone][ID]"), Value::Object(result.clone())),
            // inside text: strings and numbers are written in, anything else stays as written
            (
                json!("deal $result[deal][ID] of $result[deal][CONTACT_ID]"),
                json!("deal 25 of 42"),
            ),
            (json!("$result[found][CONTACT][1] "), json!("43 ")),
            (
                json!("$result[dup][CONTACT][0] "),
                json!("$result[dup][CONTACT][0] "),
            ),
            (json!("$result[deal][Y] "), json!("$result[deal][Y] ")),
            // the run reaches the next whitespace: trailing text is replaced with it
            (json!("($result[deal][ID])!"), json!("(25")),
            // the other roots
            (json!("$total[list]"), json!(1)),
            (json!("$error[bad][error_description]"), json!("Not found")),
            (json!("$next[list]"), json!({})),
            // no path, unknown root: nothing to do
            (json!("$result"), json!("$result")),
            (json!("$price[1]"), json!("$price[1]")),
            (
                json!({"filter": {"ID": ["$result[list][0][ID] ", "$result[list][1][ID] "]}}),
                json!({"filter": {"ID": ["3 ", "$result[list][1][ID] "]}}),
            ),
        ];
        let mut failures = Vec::new();
        for (written, expected) in cases {
            let mut value = written.clone();
            substitute(&mut value, &earlier);
            if value != expected {
                failures.push(format!("{written} → {value}, expected {expected}"));
            }
        }
        assert!(failures.is_empty(), "{}", failures.join("\n"));
    }
}
