//! Bitrix24's own POST that opens a `CALL_CARD` tab served by the app: the call goes through the
//! one parser like every other input, and the portal's credentials are handed back separately,
//! only so the app can prove the POST against the portal it is configured for (and, for a
//! zero-touch sign-in, keep them in the keyring). They are never part of a [`CallContext`].

use serde_json::{Map, Value};

use crate::context::{CallContext, Source};
use crate::error::ParseError;
use crate::fields::text;
use crate::formats::{form_fields, from_fields};
use crate::MAX_INPUT_BYTES;

/// The portal's credentials from a tab's POST (`AUTH_ID`, `REFRESH_ID`, …). `Debug` hides the
/// tokens; nothing here implements `Display` or `Serialize`.
#[derive(Clone, PartialEq, Eq)]
pub struct TabCredentials {
    /// `AUTH_ID`: an access token of the application whose tab this is, for the agent.
    pub auth_id: String,
    /// `REFRESH_ID`, when sent.
    pub refresh_id: Option<String>,
    /// `AUTH_EXPIRES`: seconds the access token lives (3600 on Bitrix24).
    pub expires_in: Option<u64>,
    /// `member_id`: the portal's id.
    pub member_id: Option<String>,
    /// `DOMAIN` as the request names it (never trusted to choose where to prove the token).
    pub domain: Option<String>,
    /// `LANG` of the agent's portal session.
    pub lang: Option<String>,
    /// `SERVER_ENDPOINT` (newer portals): the OAuth server's REST address.
    pub server_endpoint: Option<String>,
}

impl std::fmt::Debug for TabCredentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TabCredentials")
            .field("auth_id", &"***")
            .field("refresh_id", &self.refresh_id.as_ref().map(|_| "***"))
            .field("expires_in", &self.expires_in)
            .field("member_id", &self.member_id)
            .field("domain", &self.domain)
            .field("lang", &self.lang)
            .field("server_endpoint", &self.server_endpoint)
            .finish()
    }
}

/// Reads the call card's POST to the tab: `query` is the handler address's query string
/// (`DOMAIN`, `PROTOCOL`, `LANG`, `APP_SID`), `body` the form (`AUTH_ID`, `PLACEMENT`,
/// `PLACEMENT_OPTIONS`, …); a field in the body wins over the same one in the query.
pub fn parse_tab_post(
    query: &str,
    body: &[u8],
) -> Result<(CallContext, TabCredentials), ParseError> {
    if body.len() > MAX_INPUT_BYTES || query.len() > MAX_INPUT_BYTES {
        return Err(ParseError::TooLarge {
            size: body.len().max(query.len()),
            limit: MAX_INPUT_BYTES,
        });
    }
    let body = std::str::from_utf8(body).map_err(|_| ParseError::NotUtf8)?;
    let mut fields: Map<String, Value> = form_fields(query);
    for (key, value) in form_fields(body) {
        fields.insert(key, value);
    }
    if fields.is_empty() {
        return Err(ParseError::Empty);
    }
    let context = from_fields(&fields, Source::PlacementForm)?;
    let auth_id = secret(fields.get("AUTH_ID"), "AUTH_ID")?.ok_or(ParseError::MissingAuth)?;
    let credentials = TabCredentials {
        auth_id,
        refresh_id: secret(fields.get("REFRESH_ID"), "REFRESH_ID")?,
        expires_in: text(fields.get("AUTH_EXPIRES"), "AUTH_EXPIRES", 12)?
            .and_then(|s| s.parse().ok()),
        member_id: text(fields.get("member_id"), "member_id", 64)?,
        domain: context.portal.as_ref().and_then(|p| p.domain.clone()),
        lang: text(fields.get("LANG"), "LANG", 16)?,
        server_endpoint: text(fields.get("SERVER_ENDPOINT"), "SERVER_ENDPOINT", 256)?,
    };
    Ok((context, credentials))
}

/// A token: printable ASCII, at most 512 characters. Unlike other fields, an error never quotes
/// any part of it (it may be a genuine secret, slightly damaged).
fn secret(value: Option<&Value>, field: &'static str) -> Result<Option<String>, ParseError> {
    let text = match value {
        None | Some(Value::Null) => return Ok(None),
        Some(Value::String(s)) => s.trim(),
        Some(_) => "\u{0}",
    };
    if text.is_empty() {
        return Ok(None);
    }
    if text.len() > 512 || !text.chars().all(|c| c.is_ascii_graphic()) {
        return Err(ParseError::InvalidField {
            field,
            reason: "not a token (at most 512 printable ASCII characters)".into(),
        });
    }
    Ok(Some(text.to_owned()))
}

#[cfg(test)]
mod tests {
    use super::*;

    const BODY: &str = "AUTH_ID=a1b2c3d4e5f6&AUTH_EXPIRES=3600&REFRESH_ID=r9r8r7r6&member_id=m1&status=L&PLACEMENT=CALL_CARD&PLACEMENT_OPTIONS=%7B%22CALL_ID%22%3A%22externalCall.1%22%2C%22PHONE_NUMBER%22%3A%22%2B79001234567%22%7D";

    #[test]
    fn the_call_and_the_credentials_come_apart() {
        let (context, credentials) = parse_tab_post(
            "DOMAIN=acme.bitrix24.ru&PROTOCOL=1&LANG=ru&APP_SID=x",
            BODY.as_bytes(),
        )
        .unwrap();
        assert_eq!(context.call_id, "externalCall.1");
        assert_eq!(
            context.portal.unwrap().domain.as_deref(),
            Some("acme.bitrix24.ru")
        );
        assert_eq!(credentials.auth_id, "a1b2c3d4e5f6");
        assert_eq!(credentials.refresh_id.as_deref(), Some("r9r8r7r6"));
        assert_eq!(credentials.expires_in, Some(3600));
        assert_eq!(credentials.member_id.as_deref(), Some("m1"));
        assert_eq!(credentials.lang.as_deref(), Some("ru"));
        let shown = format!("{credentials:?}");
        assert!(
            !shown.contains("a1b2c3d4e5f6") && !shown.contains("r9r8r7r6"),
            "{shown}"
        );
    }

    #[test]
    fn a_post_without_a_token_or_with_a_bad_call_is_refused() {
        let no_token = BODY.replace("AUTH_ID=a1b2c3d4e5f6&", "");
        assert_eq!(
            parse_tab_post("", no_token.as_bytes()).unwrap_err(),
            ParseError::MissingAuth
        );
        let no_call = BODY.replace("%22CALL_ID%22%3A%22externalCall.1%22%2C", "");
        assert_eq!(
            parse_tab_post("", no_call.as_bytes()).unwrap_err(),
            ParseError::MissingCallId
        );
        assert_eq!(parse_tab_post("", b"").unwrap_err(), ParseError::Empty);
        // A damaged token is refused without a word of it in the message.
        let damaged = BODY.replace("AUTH_ID=a1b2c3d4e5f6", "AUTH_ID=a1b2c3%0Ad4e5f6");
        let error = parse_tab_post("", damaged.as_bytes()).unwrap_err();
        assert!(!error.to_string().contains("a1b2c3"), "{error}");
    }
}
