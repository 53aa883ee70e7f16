//! `crm.activity.todo.add`: a universal activity (a to-do) on a CRM record's timeline
//! (`api-reference/crm/timeline/activities/todo/crm-activity-todo-add.md`).
//!
//! What the docs say: `ownerTypeId`, `ownerId` and `deadline` are required; `title`,
//! `description`, `responsibleId`, `parentActivityId`, `pingOffsets`, `colorId` are optional;
//! the answer is `{"id": N}`; errors (`400`) `100` "Required fields are missing", `NOT_FOUND`
//! (the CRM entity), `ACCESS_DENIED`, `OWNER_NOT_FOUND`, `WRONG_DATETIME_FORMAT`.
//!
//! What the simulator chose where they are silent (*unverified*): the owner's type is one of the
//! four classic records (1 lead, 2 deal, 3 contact, 4 company), else `NOT_FOUND`; a missing
//! owner is `OWNER_NOT_FOUND`; `deadline` is ISO 8601 with a time (`2025-02-03T15:00:00`, an
//! offset or `Z` allowed), anything else `WRONG_DATETIME_FORMAT`; the responsible user defaults
//! to the caller; the to-do then lists with `crm.activity.list` as `TYPE_ID` 6, `PROVIDER_ID`
//! `CRM_TODO` (the docs' universal activity), `SUBJECT` the title, `DESCRIPTION`, `DEADLINE`,
//! `COMPLETED` `N`. It is a write for `drop_after_commit`.

use serde_json::{json, Map, Value};

use crate::methods::{id_param, param, table, Answer};
use crate::portal::{ApiError, Caller, Portal};

pub fn add(
    portal: &mut Portal,
    caller: &Caller,
    params: &Map<String, Value>,
) -> Result<Answer, ApiError> {
    let missing = || ApiError::new(400, "100", "Required fields are missing");
    let owner_type = id_param(params, "ownerTypeId").ok_or_else(missing)?;
    let owner = id_param(params, "ownerId").ok_or_else(missing)?;
    let deadline = param(params, "deadline")
        .and_then(Value::as_str)
        .filter(|d| !d.trim().is_empty())
        .ok_or_else(missing)?;
    if !is_datetime(deadline) {
        return Err(ApiError::new(
            400,
            "WRONG_DATETIME_FORMAT",
            "Incorrect date format",
        ));
    }
    let kind = crate::methods::classic_kind(owner_type)
        .ok_or_else(|| ApiError::new(400, "NOT_FOUND", "Not found."))?;
    if !table(portal, kind).contains_key(&owner) {
        return Err(ApiError::new(400, "OWNER_NOT_FOUND", "Owner not found."));
    }
    if portal.faults.denied(kind, owner) {
        return Err(ApiError::new(400, "ACCESS_DENIED", "Access denied."));
    }
    let text = |name: &str| {
        param(params, name)
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_owned()
    };
    let responsible = id_param(params, "responsibleId").unwrap_or_else(|| caller.user_id());
    let id = portal.data.activities.keys().max().copied().unwrap_or(0) + 1;
    let now = crate::data::date(crate::now() as i64);
    let record = json!({
        "ID": id.to_string(), "OWNER_TYPE_ID": owner_type.to_string(), "OWNER_ID": owner.to_string(),
        "TYPE_ID": "6", "PROVIDER_ID": "CRM_TODO", "PROVIDER_TYPE_ID": "TODO",
        "SUBJECT": text("title"), "DESCRIPTION": text("description"), "DESCRIPTION_TYPE": "1",
        "DIRECTION": "0", "COMPLETED": "N", "STATUS": "1", "PRIORITY": "2",
        "RESPONSIBLE_ID": responsible.to_string(), "AUTHOR_ID": caller.user_id().to_string(),
        "CREATED": now, "LAST_UPDATED": now, "START_TIME": now, "END_TIME": deadline,
        "DEADLINE": deadline,
    });
    portal
        .data
        .activities
        .insert(id, record.as_object().cloned().unwrap_or_default());
    Ok(Answer::value(json!({ "id": id })))
}

/// `YYYY-MM-DDTHH:MM[:SS]` with an optional offset or `Z`.
fn is_datetime(text: &str) -> bool {
    let bytes = text.as_bytes();
    let digits = |range: std::ops::Range<usize>| {
        bytes
            .get(range)
            .is_some_and(|b| b.iter().all(u8::is_ascii_digit))
    };
    text.len() >= 16
        && digits(0..4)
        && bytes[4] == b'-'
        && digits(5..7)
        && bytes[7] == b'-'
        && digits(8..10)
        && bytes[10] == b'T'
        && digits(11..13)
        && bytes[13] == b':'
        && digits(14..16)
}

#[cfg(test)]
mod tests {
    #[test]
    fn deadlines_are_iso_datetimes() {
        for ok in [
            "2025-02-03T15:00:00",
            "2025-02-03T15:00",
            "2025-02-03T15:00:00+03:00",
        ] {
            assert!(super::is_datetime(ok), "{ok}");
        }
        for bad in [
            "2025-02-03",
            "03.02.2025 15:00",
            "tomorrow",
            "2025-02-03 15:00:00",
        ] {
            assert!(!super::is_datetime(bad), "{bad}");
        }
    }
}
