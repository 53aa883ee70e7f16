//! Notes on timeline items (`crm.timeline.note.save` / `get` / `delete`,
//! `api-reference/crm/timeline/note/`) and the call's own CRM activity, which the call card names
//! as `CRM_ACTIVITY_ID` once it exists (`widgets/telephony/call-card.md`, `get-status.md`).
//!
//! What the docs say, and what the simulator chose where they are silent:
//!
//! - `crm.timeline.note.save` (`ownerTypeId`, `ownerId`, `itemType`, `itemId`, `text`, all
//!   required) answers `true`; saving again **replaces** the item's note
//!   (`crm-timeline-note-save.md`). `itemType` is `1` for a history record (a timeline comment)
//!   and `2` for an activity (`note/index.md`: "pass `itemType = 2` and the activity identifier";
//!   the save page's "2 — deal" is a slip of its translation).
//! - `crm.timeline.note.get` answers `{text, createdById, createdTime, updatedById,
//!   updatedTime}` (`crm-timeline-note-get.md`); `crm.timeline.note.delete` answers `true`.
//! - Errors (`400`, the pages' tables): `NOT_FOUND` "Element not found", `ACCESS_DENIED`, `100`
//!   when a required field is missing.
//! - *Unverified*: one note per timeline item whatever owner names it; the owner must be the
//!   item's owner (for an activity, its `OWNER_TYPE_ID`/`OWNER_ID`), else `NOT_FOUND`; `get` of
//!   an item without a note answers `NOT_FOUND` (the docs show no answer for it); an empty `text`
//!   is refused with `100`.
//! - The call's activity (*unverified* beyond the docs' example of `crm.activity.get`, which shows
//!   `TYPE_ID` 2, `PROVIDER_ID` `VOXIMPLANT_CALL`, `PROVIDER_TYPE_ID` `CALL`): owned by the item
//!   the call is bound to, `ORIGIN_ID` `VI_<CALL_ID>` (as Bitrix's telephony module writes it,
//!   *server code*), one per call.

use std::collections::BTreeMap;

use serde_json::{json, Map, Value};

use crate::call_card::PageStep;
use crate::methods::Answer;
use crate::portal::{ApiError, Caller, Portal};

/// A note pinned to one timeline item.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TimelineNote {
    pub text: String,
    pub created_by: u64,
    pub created: String,
    pub updated_by: u64,
    pub updated: String,
}

/// Every note, by `(itemType, itemId)`.
pub type TimelineNotes = BTreeMap<(u64, u64), TimelineNote>;

/// `itemType` 2: an activity.
pub const ACTIVITY: u64 = 2;
/// `itemType` 1: a history record (a timeline comment).
pub const HISTORY: u64 = 1;

/// A parameter by name, any case (PHP reads `ownerTypeId` and `OWNERTYPEID` alike: *unverified*).
fn param<'a>(params: &'a Map<String, Value>, name: &str) -> Option<&'a Value> {
    params
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case(name))
        .map(|(_, v)| v)
}

/// A positive integer parameter, sent as a number or a string.
fn id_param(params: &Map<String, Value>, name: &str) -> Option<u64> {
    match param(params, name)? {
        Value::Number(n) => n.as_u64(),
        Value::String(s) => s.trim().parse().ok(),
        _ => None,
    }
    .filter(|id| *id > 0)
}

fn not_found() -> ApiError {
    ApiError::new(400, "NOT_FOUND", "Element not found")
}

fn required(name: &str) -> ApiError {
    ApiError::new(
        400,
        "100",
        &format!("Required fields are not provided: {name}"),
    )
}

/// The item the parameters name, checked: it exists, `ownerTypeId`/`ownerId` own it, and the
/// caller may read the owner.
fn item(portal: &Portal, params: &Map<String, Value>) -> Result<(u64, u64), ApiError> {
    let owner_type = id_param(params, "ownerTypeId").ok_or_else(|| required("ownerTypeId"))?;
    let owner = id_param(params, "ownerId").ok_or_else(|| required("ownerId"))?;
    let item_type = id_param(params, "itemType").ok_or_else(|| required("itemType"))?;
    let item_id = id_param(params, "itemId").ok_or_else(|| required("itemId"))?;
    let kind = crate::methods::classic_kind(owner_type).ok_or_else(not_found)?;
    let owned = match item_type {
        ACTIVITY => portal.data.activities.get(&item_id).is_some_and(|a| {
            a.get("OWNER_TYPE_ID").and_then(Value::as_str) == Some(owner_type.to_string().as_str())
                && a.get("OWNER_ID").and_then(Value::as_str) == Some(owner.to_string().as_str())
        }),
        HISTORY => portal.data.comments.get(&item_id).is_some_and(|c| {
            c.get("ENTITY_TYPE").and_then(Value::as_str) == Some(kind)
                && c.get("ENTITY_ID").and_then(Value::as_str) == Some(owner.to_string().as_str())
        }),
        _ => false,
    };
    if !owned {
        return Err(not_found());
    }
    if portal.faults.denied(kind, owner) {
        return Err(ApiError::new(400, "ACCESS_DENIED", "Access denied"));
    }
    Ok((item_type, item_id))
}

/// `crm.timeline.note.save`: the item's note is now `text` (replacing any), `true`.
pub fn save(
    portal: &mut Portal,
    caller: &Caller,
    params: &Map<String, Value>,
) -> Result<Answer, ApiError> {
    let key = item(portal, params)?;
    let text = param(params, "text")
        .and_then(Value::as_str)
        .filter(|t| !t.trim().is_empty())
        .ok_or_else(|| required("text"))?
        .to_owned();
    let now = crate::data::date(crate::now() as i64);
    let user = caller.user_id();
    portal
        .data
        .timeline_notes
        .entry(key)
        .and_modify(|n| {
            n.text = text.clone();
            n.updated_by = user;
            n.updated = now.clone();
        })
        .or_insert_with(|| TimelineNote {
            text: text.clone(),
            created_by: user,
            created: now.clone(),
            updated_by: user,
            updated: now.clone(),
        });
    Ok(answer(Value::Bool(true)))
}

/// `crm.timeline.note.get`: the item's note.
pub fn get(portal: &Portal, params: &Map<String, Value>) -> Result<Answer, ApiError> {
    let key = item(portal, params)?;
    let note = portal.data.timeline_notes.get(&key).ok_or_else(not_found)?;
    Ok(answer(json!({
        "text": note.text, "createdById": note.created_by, "createdTime": note.created,
        "updatedById": note.updated_by, "updatedTime": note.updated,
    })))
}

/// `crm.timeline.note.delete`: `true`.
pub fn delete(portal: &mut Portal, params: &Map<String, Value>) -> Result<Answer, ApiError> {
    let key = item(portal, params)?;
    portal
        .data
        .timeline_notes
        .remove(&key)
        .ok_or_else(not_found)?;
    Ok(answer(Value::Bool(true)))
}

fn answer(result: Value) -> Answer {
    Answer {
        result,
        total: None,
        next: None,
    }
}

/// The call's activity: a `VOXIMPLANT_CALL` activity owned by `owner_type_id`/`owner_id`,
/// created on first ask and the same one after (one per `call_id`). Its id.
pub fn attach_call_activity(
    portal: &mut Portal,
    call_id: &str,
    owner_type_id: u64,
    owner_id: u64,
    responsible: u64,
    incoming: bool,
) -> u64 {
    let origin = format!("VI_{call_id}");
    if let Some((id, _)) = portal
        .data
        .activities
        .iter()
        .find(|(_, a)| a.get("ORIGIN_ID").and_then(Value::as_str) == Some(origin.as_str()))
    {
        return *id;
    }
    let id = portal.data.activities.keys().max().copied().unwrap_or(0) + 1;
    let now = crate::now() as i64;
    let record = json!({
        "ID": id.to_string(), "OWNER_TYPE_ID": owner_type_id.to_string(), "OWNER_ID": owner_id.to_string(),
        "TYPE_ID": "2", "PROVIDER_ID": "VOXIMPLANT_CALL", "PROVIDER_TYPE_ID": "CALL",
        "SUBJECT": if incoming { "Входящий звонок" } else { "Исходящий звонок" },
        "DESCRIPTION": "", "DESCRIPTION_TYPE": "1", "DIRECTION": if incoming { "1" } else { "2" },
        "COMPLETED": "N", "STATUS": "1", "PRIORITY": "2", "RESPONSIBLE_ID": responsible.to_string(),
        "AUTHOR_ID": responsible.to_string(), "CREATED": crate::data::date(now), "LAST_UPDATED": crate::data::date(now),
        "START_TIME": crate::data::date(now), "END_TIME": crate::data::date(now), "DEADLINE": crate::data::date(now),
        "ORIGIN_ID": origin,
    });
    portal
        .data
        .activities
        .insert(id, record.as_object().cloned().unwrap_or_default());
    id
}

/// The type id of a call card's `CRM_ENTITY_TYPE` (a name on newer portals, a number on older).
fn entity_type_id(value: &Value) -> Option<u64> {
    let text = match value {
        Value::Number(n) => return n.as_u64(),
        Value::String(s) => s.trim().to_ascii_uppercase(),
        _ => return None,
    };
    match text.as_str() {
        "LEAD" => Some(1),
        "DEAL" => Some(2),
        "CONTACT" => Some(3),
        "COMPANY" => Some(4),
        other => other.parse().ok(),
    }
}

/// The call-card page's `activity=1`: the call gets its activity once the card is open. The
/// form POST still says `CRM_ACTIVITY_ID: "undefined"` (the activity is created later, as the
/// docs say of the POST); every later step, and so `getStatus`, names it. A page without later
/// steps gets one, a second on, with the same call. Nothing happens for a call bound to nothing.
pub fn attach_to_page(portal: &mut Portal, first: &Value, steps: &mut Vec<PageStep>, user: u64) {
    let owner_type = first.get("CRM_ENTITY_TYPE").and_then(entity_type_id);
    let owner = first.get("CRM_ENTITY_ID").and_then(|v| match v {
        Value::Number(n) => n.as_u64(),
        Value::String(s) => s.trim().parse().ok(),
        _ => None,
    });
    let (Some(owner_type), Some(owner), Some(call_id)) = (
        owner_type,
        owner.filter(|o| *o > 0),
        first.get("CALL_ID").and_then(Value::as_str),
    ) else {
        return;
    };
    let incoming = first.get("CALL_DIRECTION").and_then(Value::as_str) != Some("outgoing");
    let id = attach_call_activity(portal, call_id, owner_type, owner, user, incoming);
    if steps.is_empty() {
        steps.push(PageStep {
            delay_ms: 1000,
            options: first.clone(),
        });
    }
    for step in steps.iter_mut() {
        if step.options.get("CALL_ID").and_then(Value::as_str) == Some(call_id) {
            if let Value::Object(options) = &mut step.options {
                options.insert("CRM_ACTIVITY_ID".into(), Value::String(id.to_string()));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entity_types_by_name_or_number() {
        assert_eq!(entity_type_id(&json!("CONTACT")), Some(3));
        assert_eq!(entity_type_id(&json!("deal")), Some(2));
        assert_eq!(entity_type_id(&json!("4")), Some(4));
        assert_eq!(entity_type_id(&json!(1)), Some(1));
        assert_eq!(entity_type_id(&json!("")), None);
    }
}
