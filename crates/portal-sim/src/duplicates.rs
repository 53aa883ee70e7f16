//! `crm.duplicate.findbycomm` (`api-reference/crm/duplicates/crm-duplicate-find-by-comm.md`, and
//! where the page is silent Bitrix's server code, the `crm` module's duplicate search):
//!
//! - numbers are compared after the portal's normalisation (`data::normalize_phone`), so
//!   `8 495 …` and `+7 495 …` are one number and an extension is ignored; e-mails compare
//!   case-insensitively;
//! - more than 20 `values` are cut to the first 20 (server code; the page says "maximum 20");
//! - each type gives at most 20 ids, the oldest first, in the order leads, contacts, companies;
//!   once one type reaches 20 the later types are not returned at all (the page's "Method
//!   Operation Features");
//! - `entity_type` limits the search to one type; nothing found is `[]`;
//! - records the caller may not read are still named (*unverified*: whether the portal filters
//!   them by permission), so the card can say that the agent may not see the one picked.

use serde_json::{json, Map, Value};

use crate::data::normalize_phone;
use crate::methods::{param, Answer};
use crate::portal::{ApiError, Portal};

const MOST_VALUES: usize = 20;
const MOST_PER_TYPE: usize = 20;

pub fn find_by_comm(portal: &Portal, params: &Map<String, Value>) -> Result<Answer, ApiError> {
    let kind = param(params, "type")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_ascii_uppercase();
    if kind != "PHONE" && kind != "EMAIL" {
        return Err(ApiError::new(
            400,
            "",
            "Communication type is not defined or invalid.",
        ));
    }
    let values: Vec<String> = match param(params, "values") {
        Some(Value::Array(items)) => items
            .iter()
            .filter_map(|v| match v {
                Value::String(s) => Some(s.clone()),
                Value::Number(n) => Some(n.to_string()),
                _ => None,
            })
            .collect(),
        Some(Value::Object(map)) => map
            .values()
            .filter_map(|v| v.as_str().map(str::to_owned))
            .collect(),
        _ => Vec::new(),
    };
    if values.is_empty() {
        return Err(ApiError::new(
            400,
            "",
            "Communication values is not defined.",
        ));
    }
    let normalise = |v: &str| {
        if kind == "PHONE" {
            normalize_phone(v)
        } else {
            v.trim().to_lowercase()
        }
    };
    let wanted: Vec<String> = values
        .iter()
        .take(MOST_VALUES)
        .map(|v| normalise(v))
        .filter(|v| !v.is_empty())
        .collect();
    let only = param(params, "entity_type")
        .and_then(Value::as_str)
        .map(str::to_ascii_uppercase)
        .filter(|s| !s.is_empty());
    let mut result = Map::new();
    for (name, table) in [
        ("LEAD", &portal.data.leads),
        ("CONTACT", &portal.data.contacts),
        ("COMPANY", &portal.data.companies),
    ] {
        if only.as_deref().is_some_and(|o| o != name) {
            continue;
        }
        // The table is ordered by id: the oldest first.
        let ids: Vec<Value> = table
            .iter()
            .filter(|(_, r)| {
                r.get(&kind)
                    .and_then(Value::as_array)
                    .is_some_and(|fields| {
                        fields.iter().any(|f| {
                            f.get("VALUE")
                                .and_then(Value::as_str)
                                .is_some_and(|v| wanted.contains(&normalise(v)))
                        })
                    })
            })
            .map(|(id, _)| Value::from(*id))
            .take(MOST_PER_TYPE)
            .collect();
        let full = ids.len() >= MOST_PER_TYPE;
        if !ids.is_empty() {
            result.insert(name.into(), Value::Array(ids));
        }
        if full {
            break;
        }
    }
    Ok(Answer {
        result: if result.is_empty() {
            json!([])
        } else {
            Value::Object(result)
        },
        total: None,
        next: None,
    })
}
