//! The REST methods the app uses, answering as the docs describe (see README.md in this crate
//! for the page each follows).

use std::collections::BTreeMap;

use serde_json::{json, Map, Value};

use crate::data::Record;
use crate::portal::{ApiError, Caller, Portal};
use crate::records::{self, PAGE};
use crate::{duplicates, items};

/// A method's answer before the envelope is added.
#[derive(Debug, Clone, PartialEq)]
pub struct Answer {
    pub result: Value,
    pub total: Option<usize>,
    pub next: Option<usize>,
}

impl Answer {
    pub(crate) fn value(result: Value) -> Answer {
        Answer {
            result,
            total: None,
            next: None,
        }
    }
}

/// Methods that change data (the "commit, then drop the answer" fault applies to them).
pub fn is_write(method: &str) -> bool {
    matches!(
        method,
        "crm.timeline.comment.add"
            | "crm.contact.add"
            | "crm.lead.add"
            | "crm.timeline.comment.update"
            | "crm.timeline.note.save"
            | "crm.timeline.note.delete"
            | "placement.bind"
            | "placement.unbind"
            | "user.option.set"
            | "crm.activity.todo.add"
    )
}

pub fn call(
    portal: &mut Portal,
    caller: &Caller,
    method: &str,
    params: &Map<String, Value>,
) -> Result<Answer, ApiError> {
    let method = method.to_ascii_lowercase();
    *portal
        .stats
        .calls_by_method
        .entry(method.clone())
        .or_default() += 1;
    let kind = |name: &str| -> Option<&'static str> {
        match name {
            "contact" => Some("contact"),
            "company" => Some("company"),
            "lead" => Some("lead"),
            "deal" => Some("deal"),
            _ => None,
        }
    };
    let parts: Vec<&str> = method.split('.').collect();
    match parts.as_slice() {
        ["crm", entity, "get"] if kind(entity).is_some() => {
            get(portal, entity, table(portal, entity), params)
        }
        ["crm", entity, "list"] if kind(entity).is_some() => {
            list_of(portal, entity, table(portal, entity), params)
        }
        ["crm", "item", "list"] => items::list(portal, params),
        ["crm", owner, linked, "items", "get"] => items::links(portal, owner, linked, params),
        ["crm", entity, "add"] if matches!(*entity, "contact" | "lead") => {
            add_person(portal, caller, entity, params)
        }
        ["crm", "item", "get"] => item_get(portal, params),
        ["crm", "duplicate", "findbycomm"] => duplicates::find_by_comm(portal, params),
        ["crm", "activity", "get"] => get(portal, "activity", &portal.data.activities, params),
        ["crm", "activity", "list"] => list(&portal.data.activities, params),
        ["crm", "activity", "todo", "add"] => crate::todo::add(portal, caller, params),
        ["crm", "timeline", "comment", "add"] => comment_add(portal, caller, params),
        ["crm", "timeline", "comment", "update"] => comment_update(portal, params),
        ["crm", "timeline", "comment", "list"] => list(&portal.data.comments, params),
        ["crm", "timeline", "note", "save"] => crate::timeline_note::save(portal, caller, params),
        ["crm", "timeline", "note", "get"] => crate::timeline_note::get(portal, params),
        ["crm", "timeline", "note", "delete"] => crate::timeline_note::delete(portal, params),
        ["user", "get"] => user_get(portal, params),
        ["user", "current"] => user_current(portal, caller),
        ["user", "option", "set"] => crate::user_option::set(portal, caller, params),
        ["user", "option", "get"] => crate::user_option::get(portal, caller, params),
        ["profile"] => profile(portal, caller),
        ["app", "info"] => app_info(portal, caller),
        ["pull", "application", "config", "get"] => crate::pull::config_get(portal, caller),
        ["pull", "application", "event", "add"] => crate::pull::event_add(portal, caller, params),
        ["placement", action] if matches!(*action, "bind" | "unbind" | "get") => {
            placement(portal, caller, action, params)
        }
        _ => Err(ApiError::new(
            404,
            "ERROR_METHOD_NOT_FOUND",
            "Method not found!",
        )),
    }
}

pub(crate) fn table<'a>(portal: &'a Portal, entity: &str) -> &'a BTreeMap<u64, Record> {
    match entity {
        "contact" => &portal.data.contacts,
        "company" => &portal.data.companies,
        "lead" => &portal.data.leads,
        _ => &portal.data.deals,
    }
}

pub(crate) fn param<'a>(params: &'a Map<String, Value>, name: &str) -> Option<&'a Value> {
    params
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case(name))
        .map(|(_, v)| v)
}

pub(crate) fn id_param(params: &Map<String, Value>, name: &str) -> Option<u64> {
    match param(params, name)? {
        Value::Number(n) => n.as_u64(),
        Value::String(s) => s.trim().parse().ok(),
        _ => None,
    }
    .filter(|id| *id > 0)
}

pub(crate) fn object_param<'a>(
    params: &'a Map<String, Value>,
    name: &str,
) -> Option<&'a Map<String, Value>> {
    param(params, name).and_then(Value::as_object)
}

/// `crm.*.get`: the whole record. The id is read as PHP's `intval` reads it (so `"42 "` is 42
/// and an array is 1: *unverified*, see `records::intval`); a zero id is `ID is not defined or
/// invalid.`, a missing record `Not found`, a record the caller may not read `Access denied.`,
/// all HTTP 400 with an empty code (`crm-contact-get.md`; the period from the server code).
fn get(
    portal: &Portal,
    kind: &str,
    table: &BTreeMap<u64, Record>,
    params: &Map<String, Value>,
) -> Result<Answer, ApiError> {
    let id = param(params, "id").map(records::intval).unwrap_or(0);
    if id <= 0 {
        return Err(ApiError::new(400, "", "ID is not defined or invalid."));
    }
    let id = id as u64;
    let record = table
        .get(&id)
        .ok_or_else(|| ApiError::new(400, "", "Not found"))?;
    if portal.faults.denied(kind, id) {
        return Err(ApiError::new(400, "", "Access denied."));
    }
    Ok(Answer::value(Value::Object(record.clone())))
}

/// A legacy list, leaving out the records the caller may not read.
fn list_of(
    portal: &Portal,
    kind: &str,
    table: &BTreeMap<u64, Record>,
    params: &Map<String, Value>,
) -> Result<Answer, ApiError> {
    if portal.faults.denied_records.is_empty() {
        return list(table, params);
    }
    let readable: BTreeMap<u64, Record> = table
        .iter()
        .filter(|(id, _)| !portal.faults.denied(kind, **id))
        .map(|(id, r)| (*id, r.clone()))
        .collect();
    list(&readable, params)
}

pub(crate) fn list(
    table: &BTreeMap<u64, Record>,
    params: &Map<String, Value>,
) -> Result<Answer, ApiError> {
    let empty = Map::new();
    let filter = object_param(params, "filter").unwrap_or(&empty);
    let found: Vec<&Record> = table
        .values()
        .filter(|r| records::matches(r, filter))
        .collect();
    Ok(page(found, params, |r| {
        records::project(r, param(params, "select"))
    }))
}

/// A page of `found`, ordered by `order`; `start: -1` answers the first page with `total: 0`
/// and no `next` (`settings/performance/huge-data.md`).
pub(crate) fn page(
    mut found: Vec<&Record>,
    params: &Map<String, Value>,
    show: impl Fn(&Record) -> Value,
) -> Answer {
    records::sort(&mut found, param(params, "order"));
    let start = records::start_of(params);
    let total = found.len();
    let items: Vec<Value> = found
        .iter()
        .skip(start)
        .take(PAGE)
        .map(|r| show(r))
        .collect();
    if records::uncounted(params) {
        return Answer {
            result: Value::Array(items),
            total: Some(0),
            next: None,
        };
    }
    Answer {
        result: Value::Array(items),
        total: Some(total),
        next: records::next_after(start, total),
    }
}

/// The four classic records by their CRM type id (`crm/data-types.md#object_type`).
pub(crate) fn classic_kind(type_id: u64) -> Option<&'static str> {
    match type_id {
        1 => Some("lead"),
        2 => Some("deal"),
        3 => Some("contact"),
        4 => Some("company"),
        _ => None,
    }
}

/// `crm.item.get`: the universal method answers `{"item": {...}}` with camelCase fields and
/// numeric ids.
fn item_get(portal: &Portal, params: &Map<String, Value>) -> Result<Answer, ApiError> {
    let type_id = id_param(params, "entityTypeId")
        .ok_or_else(|| ApiError::new(400, "INVALID_ARG_VALUE", "entityTypeId is required"))?;
    let entity = classic_kind(type_id)
        .ok_or_else(|| ApiError::new(400, "NOT_FOUND", "Smart process not found"))?;
    let id = id_param(params, "id")
        .ok_or_else(|| ApiError::new(400, "INVALID_ARG_VALUE", "id is required"))?;
    let record = table(portal, entity)
        .get(&id)
        .ok_or_else(|| ApiError::new(400, "NOT_FOUND", "Element not found"))?;
    Ok(Answer::value(
        json!({ "item": to_item(portal, entity, id, record) }),
    ))
}

/// A legacy record as the universal methods show it: camelCase names, numeric ids, and the
/// item's links (`contactIds`, `companyIds`; `universal/object-fields.md`).
pub(crate) fn to_item(
    portal: &Portal,
    entity: &str,
    id: u64,
    record: &Record,
) -> Map<String, Value> {
    let mut item = Map::new();
    for (key, value) in record {
        let name = match key.as_str() {
            "DATE_CREATE" => "createdTime".to_owned(),
            "DATE_MODIFY" => "updatedTime".to_owned(),
            "PHONE" | "EMAIL" | "WEB" => continue,
            other => camel(other),
        };
        let numeric = name == "id"
            || name.ends_with("Id")
                && !matches!(
                    name.as_str(),
                    "stageId" | "statusId" | "sourceId" | "typeId" | "currencyId"
                );
        let value = match value {
            Value::String(s) if numeric => s.parse::<u64>().map(Value::from).unwrap_or(Value::Null),
            other => other.clone(),
        };
        item.insert(name, value);
    }
    items::add_links(portal, entity, id, &mut item);
    item
}

fn camel(upper: &str) -> String {
    let mut out = String::new();
    for (i, part) in upper.split('_').enumerate() {
        let lower = part.to_ascii_lowercase();
        if i == 0 {
            out.push_str(&lower);
        } else {
            let mut chars = lower.chars();
            if let Some(first) = chars.next() {
                out.push(first.to_ascii_uppercase());
                out.extend(chars);
            }
        }
    }
    out
}

const COMMENT_ENTITIES: &[&str] = &["lead", "deal", "contact", "company", "order", "quote"];

fn comment_add(
    portal: &mut Portal,
    caller: &Caller,
    params: &Map<String, Value>,
) -> Result<Answer, ApiError> {
    let fields = object_param(params, "fields")
        .ok_or_else(|| ApiError::new(400, "", "Fields are not specified."))?;
    let entity_id = id_param(fields, "ENTITY_ID")
        .ok_or_else(|| ApiError::new(400, "", "ENTITY_ID is not defined or invalid."))?;
    let entity_type = param(fields, "ENTITY_TYPE")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_ascii_lowercase();
    if !COMMENT_ENTITIES.contains(&entity_type.as_str()) {
        return Err(ApiError::new(
            400,
            "",
            "ENTITY_TYPE is not defined or invalid.",
        ));
    }
    let exists = match entity_type.as_str() {
        "contact" | "company" | "lead" | "deal" => {
            table(portal, &entity_type).contains_key(&entity_id)
        }
        _ => true,
    };
    if !exists {
        return Err(ApiError::new(400, "", "Not found"));
    }
    let comment = param(fields, "COMMENT")
        .and_then(Value::as_str)
        .unwrap_or_default();
    if comment.trim().is_empty() {
        return Err(ApiError::new(400, "", "COMMENT is empty."));
    }
    let id = portal.next_comment_id;
    portal.next_comment_id += 1;
    let record = json!({
        "ID": id.to_string(), "ENTITY_ID": entity_id.to_string(), "ENTITY_TYPE": entity_type,
        "CREATED": crate::data::date(crate::now() as i64), "COMMENT": comment, "AUTHOR_ID": caller.user_id().to_string(), "FILES": [],
    });
    portal
        .data
        .comments
        .insert(id, record.as_object().cloned().unwrap_or_default());
    Ok(Answer::value(Value::from(id)))
}

fn comment_update(portal: &mut Portal, params: &Map<String, Value>) -> Result<Answer, ApiError> {
    let id = id_param(params, "id")
        .ok_or_else(|| ApiError::new(400, "", "ID is not defined or invalid."))?;
    let comment = object_param(params, "fields")
        .and_then(|f| param(f, "COMMENT"))
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_owned();
    if comment.trim().is_empty() {
        return Err(ApiError::new(400, "", "COMMENT is empty."));
    }
    let record = portal
        .data
        .comments
        .get_mut(&id)
        .ok_or_else(|| ApiError::new(400, "", "Not found"))?;
    record.insert("COMMENT".into(), Value::String(comment));
    // `true`, as Bitrix's server code answers (the crm module's timeline comment REST handler);
    // the docs page (`crm-timeline-comment-update.md`) shows the comment's id instead.
    Ok(Answer::value(Value::Bool(true)))
}

fn public_user(record: &Record) -> Value {
    Value::Object(record.clone())
}

fn user_get(portal: &Portal, params: &Map<String, Value>) -> Result<Answer, ApiError> {
    let empty = Map::new();
    let mut filter = object_param(params, "FILTER")
        .or_else(|| object_param(params, "filter"))
        .unwrap_or(&empty)
        .clone();
    for key in ["ID", "ACTIVE", "EMAIL", "NAME", "LAST_NAME"] {
        if let Some(value) = params.get(key) {
            filter.insert(key.into(), value.clone());
        }
    }
    // ACTIVE is a boolean on users; the filter says Y/true.
    let active = filter.remove("ACTIVE").map(|v| {
        matches!(v.as_str(), Some("Y") | Some("true") | Some("1")) || v == Value::Bool(true)
    });
    let mut found: Vec<&Record> = portal
        .data
        .users
        .values()
        .filter(|u| {
            records::matches(u, &filter)
                && match active {
                    None => true,
                    Some(a) => u.get("ACTIVE") == Some(&Value::Bool(a)),
                }
        })
        .collect();
    records::sort(&mut found, None);
    let start = records::start_of(params);
    let total = found.len();
    let items = found
        .iter()
        .skip(start)
        .take(PAGE)
        .map(|r| public_user(r))
        .collect();
    Ok(Answer {
        result: Value::Array(items),
        total: Some(total),
        next: records::next_after(start, total),
    })
}

fn user_current(portal: &Portal, caller: &Caller) -> Result<Answer, ApiError> {
    portal
        .data
        .users
        .get(&caller.user_id())
        .map(|u| Answer::value(public_user(u)))
        .ok_or_else(|| ApiError::new(401, "user_not_found", "User not found"))
}

fn profile(portal: &Portal, caller: &Caller) -> Result<Answer, ApiError> {
    let user = portal
        .data
        .users
        .get(&caller.user_id())
        .ok_or_else(|| ApiError::new(401, "user_not_found", "User not found"))?;
    Ok(Answer::value(json!({
        "ID": user["ID"], "ADMIN": caller.user_id() == 1, "NAME": user["NAME"], "LAST_NAME": user["LAST_NAME"],
        "PERSONAL_GENDER": "", "PERSONAL_PHOTO": user["PERSONAL_PHOTO"], "TIME_ZONE": user["TIME_ZONE"], "TIME_ZONE_OFFSET": 10800,
    })))
}

fn app_info(portal: &Portal, caller: &Caller) -> Result<Answer, ApiError> {
    let Caller::App { app, .. } = caller else {
        // A webhook gets its scopes and the portal's plan, nothing about an application
        // (Bitrix's server code, `rest` module; summarised in the project's bitrix24.md). The
        // docs page shows only the application's answer and the `ACCESS_DENIED` of a call
        // outside any application or webhook. SCOPE as a list: *unverified*.
        let scope: Vec<&str> = portal.config.scope.split(',').map(str::trim).collect();
        return Ok(Answer::value(
            json!({"SCOPE": scope, "LICENSE": "ru_company"}),
        ));
    };
    // `CODE` is the application's client id; `INSTALLED` false until the installation is
    // finished (`BX24.installFinish()`); `PAYMENT_EXPIRED` `Y` once the paid or trial period is
    // over (`common/system/app-info.md`).
    Ok(Answer::value(json!({
        "ID": if *app == portal.config.client_id { 17 } else { 18 }, "CODE": app, "VERSION": 1, "STATUS": "L",
        "INSTALLED": *app != portal.config.client_id || portal.config.app_installed,
        "PAYMENT_EXPIRED": if portal.config.app_payment_expired && *app == portal.config.client_id { "Y" } else { "N" },
        "DAYS": null, "LANGUAGE_ID": "ru", "LICENSE": "ru_company",
        "LICENSE_TYPE": "company", "LICENSE_FAMILY": "company",
    })))
}

/// A placement handler as the portal checks it (`widgets/index.md`): http or https, a host with a
/// dot (so `localhost` fails; `127.0.0.1` passes in Bitrix's server code, and a cloud portal may
/// refuse it: *unverified*, `refuse_loopback` plays that).
fn check_handler(handler: &str, refuse_loopback: bool) -> Result<(), ApiError> {
    let wrong = || ApiError::new(400, "ERROR_WRONG_HANDLER_URL", "Wrong handler URL");
    let (scheme, rest) = handler.split_once("://").ok_or_else(wrong)?;
    if !matches!(scheme.to_ascii_lowercase().as_str(), "http" | "https") {
        return Err(wrong());
    }
    let authority = rest.split(['/', '?', '#']).next().unwrap_or_default();
    let host = authority.rsplit_once(':').map_or(authority, |(h, _)| h);
    if host.is_empty() || !host.contains('.') {
        return Err(wrong());
    }
    if refuse_loopback && (host.starts_with("127.") || host == "[::1]") {
        return Err(wrong());
    }
    Ok(())
}

/// `placement.*` need an application (scope `placement`); a webhook cannot bind a widget.
fn placement(
    portal: &mut Portal,
    caller: &Caller,
    action: &str,
    params: &Map<String, Value>,
) -> Result<Answer, ApiError> {
    if !matches!(caller, Caller::App { .. }) {
        return Err(ApiError::new(
            403,
            "WRONG_AUTH_TYPE",
            "Current authorization type is denied for this method Application context required",
        ));
    }
    if !portal
        .config
        .scope
        .split(',')
        .any(|s| s.trim() == "placement")
    {
        return Err(ApiError::new(
            403,
            "insufficient_scope",
            "The request requires higher privileges than provided by the access token",
        ));
    }
    // "Who can call it: an administrator" (placement-bind.md, -get.md, -unbind.md). The seeded
    // portal's administrator is user 1.
    if caller.user_id() != 1 {
        return Err(ApiError::new(
            403,
            "ACCESS_DENIED",
            "Access denied! Administrator rights required",
        ));
    }
    let text = |name: &str| {
        param(params, name)
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_owned()
    };
    let required = |name: &str, value: &str| {
        if value.is_empty() {
            Err(ApiError::new(
                400,
                "ERROR_ARGUMENT",
                &format!("Argument '{name}' is null or empty"),
            ))
        } else {
            Ok(())
        }
    };
    match action {
        "bind" => {
            let (place, handler) = (text("PLACEMENT").to_ascii_uppercase(), text("HANDLER"));
            required("PLACEMENT", &place)?;
            required("HANDLER", &handler)?;
            // The call card's placement exists only for an application with `telephony`
            // (`widgets/telephony/call-card.md`).
            if place == "CALL_CARD"
                && !portal
                    .config
                    .scope
                    .split(',')
                    .any(|s| s.trim() == "telephony")
            {
                return Err(ApiError::new(
                    400,
                    "ERROR_PLACEMENT_NOT_FOUND",
                    "Placement not found",
                ));
            }
            check_handler(&handler, portal.config.refuse_loopback_handlers)?;
            if portal
                .placements
                .iter()
                .any(|p| p["placement"] == place.as_str() && p["handler"] == handler.as_str())
            {
                // Bitrix's server code (its `rest` module): a duplicate is an ERROR_CORE.
                return Err(ApiError::new(
                    400,
                    "ERROR_CORE",
                    "Unable to set placement handler: Handler already binded",
                ));
            }
            let lang_all = param(params, "LANG_ALL").cloned().unwrap_or(json!({}));
            portal.placements.push(json!({
                "placement": place, "handler": handler, "title": text("TITLE"), "description": text("DESCRIPTION"),
                "langAll": lang_all, "options": [],
            }));
            Ok(Answer::value(Value::Bool(true)))
        }
        "unbind" => {
            let (place, handler) = (text("PLACEMENT").to_ascii_uppercase(), text("HANDLER"));
            required("PLACEMENT", &place)?;
            let before = portal.placements.len();
            portal.placements.retain(|p| {
                !(p["placement"] == place.as_str()
                    && (handler.is_empty() || p["handler"] == handler.as_str()))
            });
            // `count` grows by 2 per removed handler (`placement-unbind.md`).
            Ok(Answer::value(
                json!({ "count": 2 * (before - portal.placements.len()) }),
            ))
        }
        _ => Ok(Answer::value(Value::Array(portal.placements.clone()))),
    }
}

/// `crm.contact.add` / `crm.lead.add`: `fields` with `NAME`, `LAST_NAME`, `TITLE` (leads),
/// `PHONE: [{VALUE, VALUE_TYPE}]`; answers the new id.
fn add_person(
    portal: &mut Portal,
    caller: &Caller,
    entity: &str,
    params: &Map<String, Value>,
) -> Result<Answer, ApiError> {
    let fields = object_param(params, "fields")
        .ok_or_else(|| ApiError::new(400, "", "Fields are not specified."))?;
    let text = |name: &str| {
        param(fields, name)
            .and_then(Value::as_str)
            .unwrap_or_default()
            .trim()
            .to_owned()
    };
    let (name, last_name, title) = (text("NAME"), text("LAST_NAME"), text("TITLE"));
    if name.is_empty() && last_name.is_empty() && title.is_empty() {
        return Err(ApiError::new(
            400,
            "",
            if entity == "lead" {
                "The TITLE field is required."
            } else {
                "The NAME or LAST_NAME field is required."
            },
        ));
    }
    let phones: Vec<Value> = match param(fields, "PHONE") {
        Some(Value::Array(items)) => items
            .iter()
            .filter_map(|item| item.get("VALUE").and_then(Value::as_str))
            .map(|value| json!({"ID": "0", "VALUE": value, "VALUE_TYPE": "WORK", "TYPE_ID": "PHONE"}))
            .collect(),
        _ => Vec::new(),
    };
    let table = if entity == "lead" {
        &mut portal.data.leads
    } else {
        &mut portal.data.contacts
    };
    let id = table.keys().max().copied().unwrap_or(0) + 1;
    let now = crate::data::date(crate::now() as i64);
    let mut record = json!({
        "ID": id.to_string(), "NAME": name, "LAST_NAME": last_name, "SECOND_NAME": "", "PHONE": phones, "EMAIL": [],
        "ASSIGNED_BY_ID": caller.user_id().to_string(), "CREATED_BY_ID": caller.user_id().to_string(), "OPENED": "Y",
        "SOURCE_ID": param(fields, "SOURCE_ID").and_then(Value::as_str).unwrap_or("CALL"), "DATE_CREATE": now, "DATE_MODIFY": now,
    });
    if entity == "lead" {
        record["TITLE"] = json!(if title.is_empty() {
            format!("{name} {last_name}").trim().to_owned()
        } else {
            title
        });
        record["STATUS_ID"] = json!("NEW");
    } else {
        record["COMPANY_ID"] = json!("0");
        record["POST"] = json!("");
        record["TYPE_ID"] = json!("CLIENT");
    }
    table.insert(id, record.as_object().cloned().unwrap_or_default());
    Ok(Answer::value(Value::from(id)))
}
