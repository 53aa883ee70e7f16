//! Reading the placement options' fields with the tolerance real payloads need: strings or
//! numbers, PHP's `"undefined"`/`"0"`/`""` for "none", `True`/`"Y"`/`false` for flags.

use serde_json::{Map, Value};

use crate::context::{
    CallContext, CallDirection, CallState, CrmEntityType, CrmRef, NoNumber, Portal, Source,
};
use crate::error::{quote, ParseError};

const MAX_CALL_ID: usize = 256;
const MAX_PHONE: usize = 64;
const MAX_TEXT: usize = 256;

/// Builds a context from a placement-options object (keys as Bitrix24 sends them).
pub(crate) fn build(
    options: &Map<String, Value>,
    portal: Option<Portal>,
    source: Source,
) -> Result<CallContext, ParseError> {
    let call_id =
        text(options.get("CALL_ID"), "CALL_ID", MAX_CALL_ID)?.ok_or(ParseError::MissingCallId)?;
    let line_number = text(options.get("LINE_NUMBER"), "LINE_NUMBER", MAX_TEXT)?;
    let line_name =
        text(options.get("LINE_NAME"), "LINE_NAME", MAX_TEXT)?.or_else(|| line_number.clone());
    let entity_type = entity_type(options.get("CRM_ENTITY_TYPE"), "CRM_ENTITY_TYPE")?;
    let entity_id = id(options.get("CRM_ENTITY_ID"), "CRM_ENTITY_ID")?;
    let entity = match (entity_type, entity_id) {
        (Some(entity_type), Some(id)) => Some(CrmRef { entity_type, id }),
        (None, Some(id)) => {
            return Err(ParseError::InvalidField {
                field: "CRM_ENTITY_TYPE",
                reason: format!("missing while CRM_ENTITY_ID is {id}"),
            })
        }
        _ => None,
    };
    let (phone_number, no_number) = phone(options.get("PHONE_NUMBER"))?;
    Ok(CallContext {
        call_id,
        phone_number,
        no_number,
        line_number,
        line_name,
        entity,
        bindings: bindings(options.get("CRM_BINDINGS"))?,
        activity_id: id(options.get("CRM_ACTIVITY_ID"), "CRM_ACTIVITY_ID")?,
        direction: direction(options.get("CALL_DIRECTION")),
        state: state(options.get("CALL_STATE")),
        call_list_mode: flag(options.get("CALL_LIST_MODE"), "CALL_LIST_MODE")?,
        uri: uri(options.get("URI")),
        portal,
        source,
    })
}

/// The portal fields of a form POST or print_r dump (`DOMAIN`, `PROTOCOL`, `LANG`, `member_id`).
pub(crate) fn portal(fields: &Map<String, Value>) -> Result<Option<Portal>, ParseError> {
    let domain = text(fields.get("DOMAIN"), "DOMAIN", MAX_TEXT)?;
    if let Some(domain) = &domain {
        let valid = domain.split(':').next().is_some_and(|host| {
            !host.is_empty()
                && host
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '.' || c == '-')
        });
        if !valid {
            return Err(ParseError::InvalidField {
                field: "DOMAIN",
                reason: format!("{} is not a host name", quote(domain)),
            });
        }
    }
    let lang = text(fields.get("LANG"), "LANG", 16)?;
    let member_id = text(fields.get("member_id"), "member_id", 64)?;
    let https = text(fields.get("PROTOCOL"), "PROTOCOL", 8)?.as_deref() != Some("0");
    if domain.is_none() && lang.is_none() && member_id.is_none() {
        return Ok(None);
    }
    Ok(Some(Portal {
        domain: domain.map(|d| d.to_ascii_lowercase()),
        https,
        lang,
        member_id,
    }))
}

/// A string or number as trimmed text; `None` when absent, null or empty.
pub(crate) fn text(
    value: Option<&Value>,
    field: &'static str,
    max_chars: usize,
) -> Result<Option<String>, ParseError> {
    let text = match value {
        None | Some(Value::Null) => return Ok(None),
        Some(Value::String(s)) => s.trim().to_owned(),
        Some(Value::Number(n)) => n.to_string(),
        Some(other) => {
            return Err(ParseError::InvalidField {
                field,
                reason: format!("expected text, got {}", kind(other)),
            })
        }
    };
    if text.is_empty() {
        return Ok(None);
    }
    if text.chars().count() > max_chars {
        return Err(ParseError::InvalidField {
            field,
            reason: format!("longer than {max_chars} characters"),
        });
    }
    if text.chars().any(char::is_control) {
        return Err(ParseError::InvalidField {
            field,
            reason: format!("{} contains control characters", quote(&text)),
        });
    }
    Ok(Some(text))
}

/// `PHONE_NUMBER`: a number, or why there is none. `hidden` (`get-status.md`) and `unknown`
/// (`call-card-entity-changed.md`) are placeholders, never numbers; `undefined`, `null` and an
/// empty value are read as `unknown` too. An absent key (or null) says nothing.
fn phone(value: Option<&Value>) -> Result<(Option<String>, Option<NoNumber>), ParseError> {
    if matches!(value, None | Some(Value::Null)) {
        return Ok((None, None));
    }
    let Some(number) = text(value, "PHONE_NUMBER", MAX_PHONE)? else {
        return Ok((None, Some(NoNumber::Unknown)));
    };
    Ok(match no_number(&number) {
        Some(reason) => (None, Some(reason)),
        None => (Some(number), None),
    })
}

/// The placeholders a `PHONE_NUMBER` may carry instead of a number.
pub fn no_number(value: &str) -> Option<NoNumber> {
    let value = value.trim();
    if value.eq_ignore_ascii_case("hidden") {
        Some(NoNumber::Hidden)
    } else if value.is_empty()
        || ["unknown", "undefined", "null"]
            .iter()
            .any(|w| value.eq_ignore_ascii_case(w))
    {
        Some(NoNumber::Unknown)
    } else {
        None
    }
}

/// A positive integer id; `"0"`, `0`, `""`, `"undefined"`, `"null"` and null mean none.
fn id(value: Option<&Value>, field: &'static str) -> Result<Option<u64>, ParseError> {
    match value {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Number(n)) => match n.as_u64() {
            Some(0) => Ok(None),
            Some(id) => Ok(Some(id)),
            None => Err(ParseError::InvalidField {
                field,
                reason: format!("{n} is not a positive integer"),
            }),
        },
        Some(Value::String(s)) => {
            let s = s.trim();
            if s.is_empty()
                || s == "0"
                || s.eq_ignore_ascii_case("undefined")
                || s.eq_ignore_ascii_case("null")
            {
                return Ok(None);
            }
            match s.parse::<u64>() {
                Ok(0) => Ok(None),
                Ok(id) => Ok(Some(id)),
                Err(_) => Err(ParseError::InvalidField {
                    field,
                    reason: format!("{} is not an id", quote(s)),
                }),
            }
        }
        Some(other) => Err(ParseError::InvalidField {
            field,
            reason: format!("expected an id, got {}", kind(other)),
        }),
    }
}

/// A type name (`CONTACT`, `lead`) or numeric id (`3`, `"3"`); empty or `0` mean none.
fn entity_type(
    value: Option<&Value>,
    field: &'static str,
) -> Result<Option<CrmEntityType>, ParseError> {
    let unknown = |raw: &str| ParseError::InvalidField {
        field,
        reason: format!("unknown CRM type {}", quote(raw)),
    };
    match value {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Number(n)) => match n.as_u64() {
            Some(0) => Ok(None),
            Some(id) => CrmEntityType::from_type_id(id)
                .map(Some)
                .ok_or_else(|| unknown(&n.to_string())),
            None => Err(unknown(&n.to_string())),
        },
        Some(Value::String(s)) => {
            let s = s.trim();
            if s.is_empty() || s == "0" || s.eq_ignore_ascii_case("undefined") {
                return Ok(None);
            }
            match s.parse::<u64>() {
                Ok(id) => CrmEntityType::from_type_id(id)
                    .map(Some)
                    .ok_or_else(|| unknown(s)),
                Err(_) => CrmEntityType::from_name(s)
                    .map(Some)
                    .ok_or_else(|| unknown(s)),
            }
        }
        Some(other) => Err(ParseError::InvalidField {
            field,
            reason: format!("expected a CRM type, got {}", kind(other)),
        }),
    }
}

/// `[{ENTITY_TYPE, ENTITY_ID}, …]`; PHP may send the list as an object with numeric keys, or
/// `[]`/`{}` for none. Items with no id are skipped (the card sends none for "not bound").
fn bindings(value: Option<&Value>) -> Result<Vec<CrmRef>, ParseError> {
    let items: Vec<&Value> = match value {
        None | Some(Value::Null) => return Ok(vec![]),
        Some(Value::Array(items)) => items.iter().collect(),
        Some(Value::Object(map)) => map.values().collect(),
        Some(Value::String(s)) if s.trim().is_empty() => return Ok(vec![]),
        Some(other) => {
            return Err(ParseError::InvalidField {
                field: "CRM_BINDINGS",
                reason: format!("expected a list, got {}", kind(other)),
            })
        }
    };
    let mut refs = Vec::with_capacity(items.len());
    for item in items {
        let Value::Object(item) = item else {
            return Err(ParseError::InvalidField {
                field: "CRM_BINDINGS",
                reason: format!("expected {{ENTITY_TYPE, ENTITY_ID}}, got {}", kind(item)),
            });
        };
        let entity_type = entity_type(item.get("ENTITY_TYPE"), "CRM_BINDINGS.ENTITY_TYPE")?;
        let id = id(item.get("ENTITY_ID"), "CRM_BINDINGS.ENTITY_ID")?;
        match (entity_type, id) {
            (Some(entity_type), Some(id)) => {
                let binding = CrmRef { entity_type, id };
                if !refs.contains(&binding) {
                    refs.push(binding);
                }
            }
            (None, Some(id)) => {
                return Err(ParseError::InvalidField {
                    field: "CRM_BINDINGS.ENTITY_TYPE",
                    reason: format!("missing while ENTITY_ID is {id}"),
                })
            }
            _ => {}
        }
    }
    Ok(refs)
}

/// `"true"`/`"false"` (newer docs), `True`/`False` (older), booleans (`getStatus`), `Y`/`N`,
/// `1`/`0`; absent means false.
fn flag(value: Option<&Value>, field: &'static str) -> Result<bool, ParseError> {
    let bad = |raw: &str| ParseError::InvalidField {
        field,
        reason: format!("{} is not a yes/no value", quote(raw)),
    };
    match value {
        None | Some(Value::Null) => Ok(false),
        Some(Value::Bool(b)) => Ok(*b),
        Some(Value::Number(n)) => match n.as_u64() {
            Some(0) => Ok(false),
            Some(1) => Ok(true),
            _ => Err(bad(&n.to_string())),
        },
        Some(Value::String(s)) => match s.trim().to_ascii_lowercase().as_str() {
            "true" | "y" | "yes" | "1" => Ok(true),
            "false" | "n" | "no" | "0" | "" => Ok(false),
            _ => Err(bad(s)),
        },
        Some(other) => Err(ParseError::InvalidField {
            field,
            reason: format!("expected a yes/no value, got {}", kind(other)),
        }),
    }
}

fn word(value: Option<&Value>) -> String {
    match value {
        Some(Value::String(s)) => s
            .trim()
            .chars()
            .filter(|c| !c.is_control())
            .take(64)
            .collect(),
        Some(Value::Number(n)) => n.to_string(),
        _ => String::new(),
    }
}

fn direction(value: Option<&Value>) -> CallDirection {
    let raw = word(value);
    match raw.to_ascii_lowercase().as_str() {
        "incoming" => CallDirection::Incoming,
        "outgoing" | "outcoming" => CallDirection::Outgoing,
        "callback" => CallDirection::Callback,
        "incomingtransfer" | "incoming_transfer" => CallDirection::IncomingTransfer,
        _ => CallDirection::Unknown(raw),
    }
}

fn state(value: Option<&Value>) -> CallState {
    let raw = word(value);
    match raw.to_ascii_lowercase().as_str() {
        "idle" => CallState::Idle,
        "connecting" => CallState::Connecting,
        "connected" => CallState::Connected,
        _ => CallState::Unknown(raw),
    }
}

/// Only a path on the portal (`/crm/...`): the app builds links from the configured portal, so
/// anything absolute or protocol-relative is not a link we would follow.
fn uri(value: Option<&Value>) -> Option<String> {
    let Some(Value::String(s)) = value else {
        return None;
    };
    let s = s.trim();
    let is_path =
        s.starts_with('/') && !s.starts_with("//") && !s.contains('\\') && s.len() <= MAX_TEXT;
    (is_path && !s.chars().any(char::is_control)).then(|| s.to_owned())
}

pub(crate) fn kind(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "a list",
        Value::Object(_) => "an object",
    }
}
