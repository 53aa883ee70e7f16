//! Parameters as PHP's `http_build_query` writes them (`filter[CONTACT_ID]=5&select[0]=ID`):
//! the form `batch` commands are written in.

use serde_json::Value;

pub fn build_query(params: &Value) -> String {
    let mut pairs = Vec::new();
    match params {
        Value::Object(map) => {
            for (key, value) in map {
                flatten(key.clone(), value, &mut pairs);
            }
        }
        Value::Array(items) => {
            for (i, value) in items.iter().enumerate() {
                flatten(i.to_string(), value, &mut pairs);
            }
        }
        _ => {}
    }
    pairs
        .iter()
        .map(|(k, v)| format!("{}={}", encode(k), encode(v)))
        .collect::<Vec<_>>()
        .join("&")
}

fn flatten(key: String, value: &Value, out: &mut Vec<(String, String)>) {
    match value {
        Value::Null => {}
        Value::Bool(b) => out.push((key, if *b { "1" } else { "0" }.into())),
        Value::Number(n) => out.push((key, n.to_string())),
        Value::String(s) => out.push((key, s.clone())),
        Value::Array(items) => {
            for (i, item) in items.iter().enumerate() {
                flatten(format!("{key}[{i}]"), item, out);
            }
        }
        Value::Object(map) => {
            for (k, item) in map {
                flatten(format!("{key}[{k}]"), item, out);
            }
        }
    }
}

fn encode(text: &str) -> String {
    form_urlencoded::byte_serialize(text.as_bytes()).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn nested_like_php() {
        let q = build_query(&json!({
            "filter": {"CONTACT_ID": "$result[c][ID]", "CLOSED": "N"},
            "select": ["ID", "TITLE"],
            "start": 0,
            "skip": null,
        }));
        // serde_json may or may not keep key order (a feature another crate can turn on).
        let mut pairs: Vec<&str> = q.split('&').collect();
        pairs.sort();
        assert_eq!(
            pairs,
            [
                "filter%5BCLOSED%5D=N",
                "filter%5BCONTACT_ID%5D=%24result%5Bc%5D%5BID%5D",
                "select%5B0%5D=ID",
                "select%5B1%5D=TITLE",
                "start=0",
            ]
        );
    }
}
