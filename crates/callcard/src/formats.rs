//! The entry formats, each decoded to the same fields and then built by `fields::build`.

use base64::Engine as _;
use serde_json::{Map, Value};

use crate::context::{CallContext, Portal, Source};
use crate::error::{quote, ParseError};
use crate::fields::{self, kind};
use crate::MAX_INPUT_BYTES;

/// Version of the relay widget's JSON envelope this parser understands.
pub const RELAY_ENVELOPE_VERSION: u64 = 1;

const DEEP_LINK_SCHEME: &str = "callcompanion:";
const DEEP_LINK_HOST: &str = "call-card";

/// Parses any supported input, recognising the format by its shape:
/// `{…}` JSON (relay envelope, options object, or a form as JSON), `callcompanion://…`,
/// a PHP `print_r` dump (`Array (…)`), or a form body (`KEY=value&…`).
pub fn parse(input: &[u8]) -> Result<CallContext, ParseError> {
    if input.len() > MAX_INPUT_BYTES {
        return Err(ParseError::TooLarge {
            size: input.len(),
            limit: MAX_INPUT_BYTES,
        });
    }
    let text = std::str::from_utf8(input).map_err(|_| ParseError::NotUtf8)?;
    let text = text.trim_start_matches('\u{feff}').trim();
    if text.is_empty() {
        return Err(ParseError::Empty);
    }
    if text.starts_with('{') {
        let value: Value = serde_json::from_str(text).map_err(|e| ParseError::InvalidJson {
            reason: e.to_string(),
        })?;
        parse_json_value(&value)
    } else if starts_with_ignore_case(text, DEEP_LINK_SCHEME) {
        parse_deep_link(text)
    } else if text.starts_with("Array") {
        parse_print_r(text)
    } else if text.contains('=') && !text.contains('\n') {
        parse_form(text)
    } else {
        Err(ParseError::UnknownFormat)
    }
}

/// A placement-options object on its own, as `BX24.placement.info().options` or `getStatus`
/// give it (integers and booleans where the POST has strings).
pub fn parse_options(options: &Value) -> Result<CallContext, ParseError> {
    let Value::Object(map) = options else {
        return Err(ParseError::OptionsNotObject);
    };
    fields::build(map, None, Source::OptionsObject)
}

/// `callcompanion://call-card?p=<base64url JSON envelope>` or, typed by hand,
/// `callcompanion://call-card?CALL_ID=…&PHONE_NUMBER=…`.
pub fn parse_deep_link(link: &str) -> Result<CallContext, ParseError> {
    if link.len() > MAX_INPUT_BYTES {
        return Err(ParseError::TooLarge {
            size: link.len(),
            limit: MAX_INPUT_BYTES,
        });
    }
    let bad = |reason: String| ParseError::BadDeepLink { reason };
    let link = link.trim();
    if !starts_with_ignore_case(link, DEEP_LINK_SCHEME) {
        return Err(bad("it does not start with callcompanion:".into()));
    }
    let rest = &link[DEEP_LINK_SCHEME.len()..];
    let rest = rest.strip_prefix("//").unwrap_or(rest);
    let (path, query) = rest.split_once('?').unwrap_or((rest, ""));
    let query = query.split('#').next().unwrap_or_default();
    let host = path.trim_end_matches('/');
    if !host.eq_ignore_ascii_case(DEEP_LINK_HOST) {
        return Err(bad(format!(
            "unknown action {}, expected call-card",
            quote(host)
        )));
    }
    let pairs = form_fields(query);
    if let Some(Value::String(payload)) = pairs.get("p") {
        let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(payload.trim_end_matches('='))
            .map_err(|e| bad(format!("parameter p is not base64url: {e}")))?;
        let value: Value = serde_json::from_slice(&bytes)
            .map_err(|e| bad(format!("parameter p is not JSON: {e}")))?;
        let mut context = parse_json_value(&value)?;
        context.source = Source::DeepLink;
        return Ok(context);
    }
    if pairs.is_empty() {
        return Err(bad("it carries no call (no query parameters)".into()));
    }
    from_fields(&pairs, Source::DeepLink)
}

fn parse_json_value(value: &Value) -> Result<CallContext, ParseError> {
    let Value::Object(map) = value else {
        return Err(ParseError::InvalidJson {
            reason: format!("expected an object, got {}", kind(value)),
        });
    };
    if map.contains_key("v") {
        parse_envelope(map)
    } else if map.contains_key("PLACEMENT_OPTIONS") || map.contains_key("PLACEMENT") {
        // A form POST logged as JSON: same fields, same rules.
        from_fields(map, Source::PlacementForm)
    } else {
        fields::build(map, None, Source::OptionsObject)
    }
}

/// The relay widget's envelope:
/// `{"v": 1, "placement": "CALL_CARD", "options": {…} or "…", "portal": {"domain", "lang", "member_id", "protocol"}}`.
fn parse_envelope(map: &Map<String, Value>) -> Result<CallContext, ParseError> {
    match map.get("v") {
        Some(Value::Number(n)) if n.as_u64() == Some(RELAY_ENVELOPE_VERSION) => {}
        Some(Value::String(s)) if s.trim() == RELAY_ENVELOPE_VERSION.to_string() => {}
        Some(other) => {
            return Err(ParseError::UnsupportedVersion {
                found: quote(&other.to_string()),
            })
        }
        None => unreachable!("checked by the caller"),
    }
    check_placement(map.get("placement"))?;
    let options = options_object(map.get("options"))?;
    let portal = match map.get("portal") {
        None | Some(Value::Null) => None,
        Some(Value::Object(p)) => {
            let renamed: Map<String, Value> = p
                .iter()
                .filter_map(|(k, v)| {
                    let key = match k.as_str() {
                        "domain" => "DOMAIN",
                        "lang" => "LANG",
                        "member_id" => "member_id",
                        "protocol" => "PROTOCOL",
                        _ => return None,
                    };
                    Some((key.to_owned(), v.clone()))
                })
                .collect();
            fields::portal(&renamed)?
        }
        Some(other) => {
            return Err(ParseError::InvalidField {
                field: "portal",
                reason: format!("expected an object, got {}", kind(other)),
            })
        }
    };
    fields::build(&options, portal, Source::RelayEnvelope)
}

/// The fields of a form POST (or its JSON / print_r / deep-link equivalents).
pub(crate) fn from_fields(
    fields_map: &Map<String, Value>,
    source: Source,
) -> Result<CallContext, ParseError> {
    check_placement(fields_map.get("PLACEMENT"))?;
    let portal: Option<Portal> = fields::portal(fields_map)?;
    let options = match fields_map.get("PLACEMENT_OPTIONS") {
        Some(value) => options_object(Some(value))?,
        // A hand-typed deep link carries the options' keys directly.
        None if source == Source::DeepLink => fields_map.clone(),
        None => return Err(ParseError::MissingOptions),
    };
    fields::build(&options, portal, source)
}

fn check_placement(placement: Option<&Value>) -> Result<(), ParseError> {
    match placement {
        None | Some(Value::Null) => Ok(()),
        Some(Value::String(p)) if p.trim().eq_ignore_ascii_case("CALL_CARD") => Ok(()),
        Some(Value::String(p)) => Err(ParseError::WrongPlacement {
            found: quote(p.trim()).trim_matches('"').to_owned(),
        }),
        Some(other) => Err(ParseError::WrongPlacement {
            found: kind(other).to_owned(),
        }),
    }
}

/// `PLACEMENT_OPTIONS` as an object, or as the JSON string of one. PHP sends an empty one as `[]`.
fn options_object(value: Option<&Value>) -> Result<Map<String, Value>, ParseError> {
    match value {
        None | Some(Value::Null) => Err(ParseError::MissingOptions),
        Some(Value::Object(map)) => Ok(map.clone()),
        Some(Value::Array(items)) if items.is_empty() => Ok(Map::new()),
        Some(Value::String(text)) => {
            let text = text.trim();
            if text.is_empty() {
                return Err(ParseError::MissingOptions);
            }
            match serde_json::from_str::<Value>(text) {
                Ok(Value::Object(map)) => Ok(map),
                Ok(Value::Array(items)) if items.is_empty() => Ok(Map::new()),
                Ok(_) => Err(ParseError::OptionsNotObject),
                Err(e) => Err(ParseError::OptionsNotJson {
                    reason: e.to_string(),
                }),
            }
        }
        Some(_) => Err(ParseError::OptionsNotObject),
    }
}

/// `application/x-www-form-urlencoded`, as Bitrix24 posts to a placement handler.
fn parse_form(body: &str) -> Result<CallContext, ParseError> {
    from_fields(&form_fields(body), Source::PlacementForm)
}

/// Form pairs as a map of strings; the first of repeated keys wins.
pub(crate) fn form_fields(body: &str) -> Map<String, Value> {
    let mut map = Map::new();
    for (key, value) in form_urlencoded::parse(body.as_bytes()) {
        map.entry(key.into_owned())
            .or_insert_with(|| Value::String(value.into_owned()));
    }
    map
}

/// PHP's `print_r` of the POST, as the docs and integrators' logs show it:
/// `Array ( [DOMAIN] => … [PLACEMENT_OPTIONS] => {…} )`. Nested arrays become objects, so
/// `[PLACEMENT_OPTIONS] => Array ( [CALL_ID] => … )` works too.
fn parse_print_r(text: &str) -> Result<CallContext, ParseError> {
    let lines: Vec<&str> = text
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .collect();
    let mut at = 1;
    let map = print_r_array(
        &lines,
        &mut at,
        lines.first().copied().unwrap_or_default(),
        0,
    )?;
    from_fields(&map, Source::PrintR)
}

const MAX_PRINT_R_DEPTH: usize = 8;

/// Reads one array whose opener (`Array`, then `(` on the next line, or `Array (`) was `opener`;
/// `lines[*at]` is the line after it.
fn print_r_array(
    lines: &[&str],
    at: &mut usize,
    opener: &str,
    depth: usize,
) -> Result<Map<String, Value>, ParseError> {
    let bad = |reason: &str| ParseError::BadPrintR {
        reason: reason.to_owned(),
    };
    if depth > MAX_PRINT_R_DEPTH {
        return Err(bad("arrays nested too deep"));
    }
    match opener {
        "Array (" | "Array(" => {}
        "Array" if lines.get(*at) == Some(&"(") => *at += 1,
        "Array" => return Err(bad("expected \"(\" after \"Array\"")),
        _ => return Err(bad("expected \"Array\"")),
    }
    let mut map = Map::new();
    let mut last_key: Option<String> = None;
    while let Some(line) = lines.get(*at).copied() {
        *at += 1;
        if line == ")" {
            return Ok(map);
        }
        if let Some(entry) = line.strip_prefix('[') {
            let Some((key, value)) = entry.split_once("] =>") else {
                return Err(bad("expected \"[KEY] => value\""));
            };
            let value = value.trim();
            let value = if matches!(value, "Array" | "Array (" | "Array(") {
                Value::Object(print_r_array(lines, at, value, depth + 1)?)
            } else {
                Value::String(value.to_owned())
            };
            map.entry(key.to_owned()).or_insert(value);
            last_key = Some(key.to_owned());
        } else if let Some(Value::String(previous)) = last_key.as_ref().and_then(|k| map.get_mut(k))
        {
            // A value that spans lines (print_r does not escape newlines).
            previous.push('\n');
            previous.push_str(line);
        } else {
            return Err(bad("text outside any [KEY] => value entry"));
        }
    }
    Err(bad("missing closing \")\""))
}

fn starts_with_ignore_case(text: &str, prefix: &str) -> bool {
    text.len() >= prefix.len()
        && text.as_bytes()[..prefix.len()].eq_ignore_ascii_case(prefix.as_bytes())
}
