//! The links between records: `crm.item.list` over the universal view of leads, deals, contacts
//! and companies, the items' `contactIds` / `companyIds`, and the legacy link methods
//! (`crm.contact.company.items.get`, `crm.deal.contact.items.get`,
//! `crm.company.contact.items.get`).
//!
//! Docs: `api-reference/crm/universal/crm-item-list.md` (filter prefixes, `items`),
//! `universal/object-fields.md` (`contactIds` on deals and companies, `companyIds` on contacts),
//! `crm/contacts/company/crm-contact-company-items-get.md` and the deal and company pages alike
//! (`COMPANY_ID`/`CONTACT_ID`, `SORT`, `ROLE_ID`, `IS_PRIMARY`). *Unverified*: that a filter on a
//! multiple field (`contactIds`, `companyIds`) matches an item linked through any of its links,
//! and that `@` with an empty list matches nothing; the app never relies on either alone.

use std::cmp::Ordering;

use serde_json::{json, Map, Value};

use crate::data::Record;
use crate::methods::{self, object_param, param, Answer};
use crate::portal::{ApiError, Portal};
use crate::records;

/// Adds the item's links to its universal view.
pub fn add_links(portal: &Portal, entity: &str, id: u64, item: &mut Map<String, Value>) {
    let data = &portal.data;
    match entity {
        "deal" => {
            item.insert("contactIds".into(), json!(data.contacts_of(id)));
        }
        "contact" => {
            item.insert("companyIds".into(), json!(data.companies_of(id)));
        }
        "company" => {
            item.insert("contactIds".into(), json!(data.contacts_of_company(id)));
        }
        _ => {}
    }
}

/// `crm.item.list`: `{"items": […]}`, filtered with the universal prefixes, paged like every list.
pub fn list(portal: &Portal, params: &Map<String, Value>) -> Result<Answer, ApiError> {
    let entity = param(params, "entityTypeId")
        .map(records::intval)
        .and_then(|id| u64::try_from(id).ok())
        .and_then(methods::classic_kind)
        .ok_or_else(|| ApiError::new(400, "NOT_FOUND", "Smart process not found"))?;
    let empty = Map::new();
    let filter = object_param(params, "filter").unwrap_or(&empty);
    let items: Vec<Record> = methods::table(portal, entity)
        .iter()
        .filter(|(id, _)| !portal.faults.denied(entity, **id))
        .map(|(id, record)| methods::to_item(portal, entity, *id, record))
        .filter(|item| matches(item, filter))
        .collect();
    let select: Vec<String> = match param(params, "select") {
        Some(Value::Array(names)) => names
            .iter()
            .filter_map(Value::as_str)
            .map(str::to_owned)
            .collect(),
        _ => Vec::new(),
    };
    let order = param(params, "order")
        .cloned()
        .unwrap_or(json!({"id": "ASC"}));
    let mut by_order = params.clone();
    by_order.insert("order".into(), order);
    let answer = methods::page(items.iter().collect(), &by_order, |item| {
        if select.is_empty() || select.iter().any(|s| s == "*") {
            return Value::Object(item.clone());
        }
        Value::Object(
            item.iter()
                .filter(|(k, _)| select.iter().any(|s| s.eq_ignore_ascii_case(k)))
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect(),
        )
    });
    Ok(Answer {
        result: json!({ "items": answer.result }),
        ..answer
    })
}

/// The universal filter: `@` (in), `!@`, `=`, `!=`, `!`, `>`, `>=`, `<`, `<=`, `%`; on a multiple
/// field a value matches when any of the item's values does.
fn matches(item: &Map<String, Value>, filter: &Map<String, Value>) -> bool {
    filter.iter().all(|(key, wanted)| {
        let (op, field) = split(key);
        let Some((_, actual)) = item.iter().find(|(k, _)| k.eq_ignore_ascii_case(field)) else {
            return false;
        };
        let actual: Vec<&Value> = match actual {
            Value::Array(values) => values.iter().collect(),
            other => vec![other],
        };
        let wanted: Vec<&Value> = match wanted {
            Value::Array(values) => values.iter().collect(),
            other => vec![other],
        };
        let any = |test: &dyn Fn(Ordering) -> bool| {
            actual
                .iter()
                .any(|a| wanted.iter().any(|w| compare(a, w).is_some_and(test)))
        };
        match op {
            "" | "=" | "@" => any(&|o| o == Ordering::Equal),
            "!" | "!=" | "!@" => !any(&|o| o == Ordering::Equal),
            ">" => any(&|o| o == Ordering::Greater),
            ">=" => any(&|o| o != Ordering::Less),
            "<" => any(&|o| o == Ordering::Less),
            "<=" => any(&|o| o != Ordering::Greater),
            "%" => actual.iter().any(|a| {
                wanted
                    .iter()
                    .any(|w| text(a).to_lowercase().contains(&text(w).to_lowercase()))
            }),
            _ => false,
        }
    })
}

fn split(key: &str) -> (&str, &str) {
    for op in ["!@", ">=", "<=", "!=", "@", "=", "!", ">", "<", "%"] {
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

/// `crm.{owner}.{linked}.items.get` (`id`): the owner's links, the primary one first.
pub fn links(
    portal: &Portal,
    owner: &str,
    linked: &str,
    params: &Map<String, Value>,
) -> Result<Answer, ApiError> {
    let id = param(params, "id").map(records::intval).unwrap_or(0);
    if id <= 0 {
        return Err(ApiError::new(400, "", "ID is not defined or invalid."));
    }
    let id = id as u64;
    let data = &portal.data;
    let (exists, ids, field) = match (owner, linked) {
        ("contact", "company") => (
            data.contacts.contains_key(&id),
            data.companies_of(id),
            "COMPANY_ID",
        ),
        ("deal", "contact") => (
            data.deals.contains_key(&id),
            data.contacts_of(id),
            "CONTACT_ID",
        ),
        ("company", "contact") => (
            data.companies.contains_key(&id),
            data.contacts_of_company(id),
            "CONTACT_ID",
        ),
        _ => {
            return Err(ApiError::new(
                404,
                "ERROR_METHOD_NOT_FOUND",
                "Method not found!",
            ))
        }
    };
    if !exists {
        return Err(ApiError::new(400, "", "Not found"));
    }
    if portal.faults.denied(owner, id) {
        return Err(ApiError::new(400, "", "Access denied."));
    }
    let rows: Vec<Value> = ids
        .iter()
        .enumerate()
        .map(|(i, linked_id)| {
            json!({ field: linked_id, "SORT": 10 * (i + 1), "ROLE_ID": 0, "IS_PRIMARY": if i == 0 { "Y" } else { "N" } })
        })
        .collect();
    Ok(Answer {
        result: Value::Array(rows),
        total: None,
        next: None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn universal_filters_match_any_link() {
        let item = json!({"id": 25, "closed": "N", "contactIds": [42, 43]});
        let item = item.as_object().unwrap();
        let f = |v: Value| matches(item, v.as_object().unwrap());
        assert!(f(json!({"=contactIds": 43, "=closed": "N"})));
        assert!(f(json!({"@contactIds": ["7 ", "43 "]})));
        assert!(!f(json!({"@contactIds": []})));
        assert!(!f(json!({"=contactIds": "$result[x][0] "})));
        assert!(f(json!({"!=id": 24, ">id": 1})));
    }
}
