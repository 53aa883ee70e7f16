//! An application's settings per user: `user.option.set` and `user.option.get`
//! (`api-reference/common/settings/user-option-set.md`, `user-option-get.md`). Application
//! context only (a webhook gets `403 ACCESS_DENIED`, "Application context required"); each
//! user reads and writes only their own values, per application; `set` overwrites only the keys
//! it is given and keeps each value's JSON type; `get` with `option` answers that key's value or
//! `null`, without it every key (an empty array when there are none).
//! *Unverified*: whether two applications on one portal see each other's user options (the
//! docs say "for the application"; kept apart here).

use std::collections::BTreeMap;

use serde_json::{Map, Value};

use crate::methods::{param, Answer};
use crate::portal::{ApiError, Caller, Portal};

/// (application, user) → their options.
pub type UserOptions = BTreeMap<(String, u64), Map<String, Value>>;

fn owner(caller: &Caller) -> Result<(String, u64), ApiError> {
    match caller {
        Caller::App { user_id, app } => Ok((app.clone(), *user_id)),
        Caller::Webhook { .. } => Err(ApiError::new(
            403,
            "ACCESS_DENIED",
            "Access denied! Application context required",
        )),
    }
}

pub fn set(
    portal: &mut Portal,
    caller: &Caller,
    params: &Map<String, Value>,
) -> Result<Answer, ApiError> {
    let key = owner(caller)?;
    // Without `options`, the request's own parameters are the settings (the docs' example).
    let given = match param(params, "options") {
        Some(Value::Object(options)) => options.clone(),
        Some(_) => Map::new(),
        None => params
            .iter()
            .filter(|(k, _)| !k.eq_ignore_ascii_case("auth"))
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect(),
    };
    if given.is_empty() {
        return Err(ApiError::new(
            400,
            "ERROR_ARGUMENT",
            "Argument 'options' is null or empty",
        ));
    }
    portal.user_options.entry(key).or_default().extend(given);
    Ok(Answer::value(Value::Bool(true)))
}

pub fn get(
    portal: &Portal,
    caller: &Caller,
    params: &Map<String, Value>,
) -> Result<Answer, ApiError> {
    let key = owner(caller)?;
    let options = portal.user_options.get(&key);
    Ok(Answer::value(
        match param(params, "option").and_then(Value::as_str) {
            Some(name) => options
                .and_then(|o| o.get(name))
                .cloned()
                .unwrap_or(Value::Null),
            None => match options {
                Some(o) if !o.is_empty() => Value::Object(o.clone()),
                _ => Value::Array(Vec::new()),
            },
        },
    ))
}
