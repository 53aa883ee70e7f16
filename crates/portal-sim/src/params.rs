//! Request parameters as a portal reads them: a query string or form body in PHP's nested form
//! (`filter[CONTACT_ID]=5`, `values[]=x`), or a JSON body, merged into one JSON object.

use serde_json::{Map, Value};

/// Parses `a=1&filter[X]=2&values[]=3` into `{"a":"1","filter":{"X":"2"},"values":["3"]}`.
pub fn parse_php_query(query: &str) -> Map<String, Value> {
    let mut root = Map::new();
    for (key, value) in form_urlencoded::parse(query.as_bytes()) {
        let (base, path) = split_key(&key);
        if base.is_empty() {
            continue;
        }
        insert(&mut root, base, &path, Value::String(value.into_owned()));
    }
    for value in root.values_mut() {
        listify(value);
    }
    root
}

fn split_key(key: &str) -> (String, Vec<String>) {
    let Some(open) = key.find('[') else {
        return (key.to_owned(), Vec::new());
    };
    let base = key[..open].to_owned();
    let mut path = Vec::new();
    let mut rest = &key[open..];
    while let Some(stripped) = rest.strip_prefix('[') {
        match stripped.find(']') {
            Some(end) => {
                path.push(stripped[..end].to_owned());
                rest = &stripped[end + 1..];
            }
            None => break,
        }
    }
    (base, path)
}

fn insert(map: &mut Map<String, Value>, key: String, path: &[String], value: Value) {
    if path.is_empty() {
        map.insert(key, value);
        return;
    }
    let child = map.entry(key).or_insert_with(|| Value::Object(Map::new()));
    if !child.is_object() {
        *child = Value::Object(Map::new());
    }
    let child = child.as_object_mut().expect("made an object above");
    let next = if path[0].is_empty() {
        child.len().to_string()
    } else {
        path[0].clone()
    };
    insert(child, next, &path[1..], value);
}

/// Objects keyed `0..n` become lists, as PHP arrays do in JSON.
fn listify(value: &mut Value) {
    if let Value::Object(map) = value {
        for child in map.values_mut() {
            listify(child);
        }
        let sequential =
            !map.is_empty() && (0..map.len()).all(|i| map.contains_key(&i.to_string()));
        if sequential {
            let items = (0..map.len())
                .map(|i| map.remove(&i.to_string()).unwrap_or(Value::Null))
                .collect();
            *value = Value::Array(items);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn nested_php_parameters() {
        let map = parse_php_query("id=5&filter%5BCONTACT_ID%5D=%24result%5Bc%5D%5BID%5D&select[]=ID&select[]=TITLE&values[0]=x&order[DATE]=DESC");
        assert_eq!(
            Value::Object(map),
            json!({"id": "5", "filter": {"CONTACT_ID": "$result[c][ID]"}, "select": ["ID", "TITLE"], "values": ["x"], "order": {"DATE": "DESC"}})
        );
    }
}
