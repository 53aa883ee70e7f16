//! The relay widget on the portal: bound to the call card (`placement.bind`, placement
//! `CALL_CARD`), removed (`placement.unbind`) and listed (`placement.get`). Only an
//! administrator signed in with the Bitrix24 application may do this; a webhook cannot.

use std::collections::BTreeMap;

use bitrix::{Client, RestError};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use ts_rs::TS;

pub const PLACEMENT: &str = "CALL_CARD";
pub const DEFAULT_TITLE_EN: &str = "Call Companion";
pub const DEFAULT_TITLE_RU: &str = "Call Companion";

/// One widget bound to the call card, as the portal lists it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
pub struct BoundWidget {
    pub handler: String,
    pub title: String,
    /// Titles by language (`en`, `ru`, …).
    pub titles: BTreeMap<String, String>,
}

#[derive(Debug, thiserror::Error)]
pub enum WidgetError {
    #[error("{0}")]
    BadHandler(String),
    #[error("not signed in to a portal: sign in from Settings (or with the app) first")]
    NotSignedIn,
    #[error("a webhook cannot install widgets: sign in with the Bitrix24 application (OAuth) as an administrator")]
    NeedsApplication,
    #[error("only a portal administrator can install or remove widgets ({0})")]
    NotAdministrator(String),
    #[error("the Bitrix24 application lacks the placement scope: add `placement` (and `telephony`) to its scopes on the portal, then sign in again")]
    MissingScope,
    #[error("this handler is already bound to the call card")]
    AlreadyBound,
    /// `ERROR_PLACEMENT_NOT_FOUND`: the `CALL_CARD` placement exists only for applications with
    /// the `telephony` scope (`widgets/telephony/call-card.md`).
    #[error("the Bitrix24 application lacks the telephony scope, without which the call card has no place for it: add `telephony` to its scopes on the portal, then sign in again")]
    MissingTelephonyScope,
    #[error("the portal refused {handler} as the call card's address ({code}: {description})")]
    HandlerRefused {
        handler: String,
        code: String,
        description: String,
    },
    #[error(transparent)]
    Rest(RestError),
}

impl WidgetError {
    pub fn code(&self) -> codes::ErrorCode {
        match self {
            WidgetError::BadHandler(_) => codes::ErrorCode::BadWidgetHandler,
            WidgetError::NotSignedIn => codes::ErrorCode::NotSignedIn,
            WidgetError::NeedsApplication => codes::ErrorCode::WidgetNeedsApplication,
            WidgetError::NotAdministrator(_) => codes::ErrorCode::WidgetNeedsAdministrator,
            WidgetError::MissingScope => codes::ErrorCode::WidgetMissingScope,
            WidgetError::AlreadyBound => codes::ErrorCode::WidgetAlreadyBound,
            WidgetError::MissingTelephonyScope => codes::ErrorCode::WidgetMissingTelephonyScope,
            WidgetError::HandlerRefused { .. } => codes::ErrorCode::WidgetHandlerRefused,
            WidgetError::Rest(e) => e.code(),
        }
    }
}

impl From<RestError> for WidgetError {
    fn from(error: RestError) -> WidgetError {
        match &error {
            RestError::AccessDenied {
                portal_code,
                description,
            } => match portal_code.as_str() {
                "WRONG_AUTH_TYPE" => WidgetError::NeedsApplication,
                "insufficient_scope" => WidgetError::MissingScope,
                _ => WidgetError::NotAdministrator(description.clone()),
            },
            // Bitrix's server code answers a duplicate with ERROR_CORE ("Handler already
            // binded"); older simulators and portals with a code of its own.
            RestError::BadRequest {
                portal_code,
                description,
            } if portal_code == "ERROR_PLACEMENT_HANDLER_ALREADY_BINDED"
                || (portal_code == "ERROR_CORE" && description.contains("already binded")) =>
            {
                WidgetError::AlreadyBound
            }
            RestError::BadRequest { portal_code, .. } | RestError::NotFound { portal_code, .. }
                if portal_code == "ERROR_PLACEMENT_NOT_FOUND" =>
            {
                WidgetError::MissingTelephonyScope
            }
            _ => WidgetError::Rest(error),
        }
    }
}

impl From<WidgetError> for crate::error::ErrorBody {
    fn from(e: WidgetError) -> crate::error::ErrorBody {
        crate::error::ErrorBody::new(e.code(), e.to_string())
    }
}

/// The call-card widgets, as the signed-in administrator sees them (Settings).
pub async fn list(desk: &super::PortalDesk) -> Result<Vec<BoundWidget>, WidgetError> {
    bound(&desk.client().ok_or(WidgetError::NotSignedIn)?).await
}

/// Installs the widget from Settings and answers the new list.
pub async fn install_from(
    desk: &super::PortalDesk,
    handler: &str,
    title: Option<&str>,
) -> Result<Vec<BoundWidget>, WidgetError> {
    let client = desk.client().ok_or(WidgetError::NotSignedIn)?;
    install(&client, handler, title).await?;
    bound(&client).await
}

/// Removes one widget from Settings and answers the new list.
pub async fn uninstall_from(
    desk: &super::PortalDesk,
    handler: &str,
) -> Result<Vec<BoundWidget>, WidgetError> {
    let client = desk.client().ok_or(WidgetError::NotSignedIn)?;
    uninstall(&client, Some(handler)).await?;
    bound(&client).await
}

/// The call card's tab served by the app itself, on this computer's listener.
pub fn direct_handler(listen_port: u16) -> String {
    format!("http://127.0.0.1:{listen_port}{}", listener::TAB_PATH)
}

/// The widget's address as the portal will open it: HTTPS, or plain HTTP on this computer (the
/// app's own tab, or its copy of the relay widget; the portal's page loads it in the agent's
/// browser). Bitrix24 refuses a host without a dot (`widgets/index.md`), so not `localhost`.
pub fn check_handler(handler: &str) -> Result<String, WidgetError> {
    let handler = handler.trim();
    let bad = |why: &str| WidgetError::BadHandler(format!("{handler:?} {why}"));
    let rest = if let Some(rest) = handler.strip_prefix("https://") {
        rest
    } else if let Some(rest) = handler.strip_prefix("http://") {
        let host = rest.split(['/', '?', '#']).next().unwrap_or_default();
        let name = host.rsplit_once(':').map_or(host, |(name, _)| name);
        if name == "localhost" {
            return Err(bad(
                "names localhost, which Bitrix24 refuses (ERROR_WRONG_HANDLER_URL): use 127.0.0.1",
            ));
        }
        if !matches!(name, "127.0.0.1" | "[::1]") {
            return Err(bad(
                "must be an https:// address (plain http only on this computer)",
            ));
        }
        rest
    } else {
        return Err(bad("must start with https://"));
    };
    let host = rest.split(['/', '?', '#']).next().unwrap_or_default();
    if host.is_empty() || handler.chars().any(char::is_whitespace) {
        return Err(bad("is not a web address"));
    }
    Ok(handler.to_owned())
}

/// Binds the widget at `handler` to the call card, titled in English and Russian.
pub async fn install(
    client: &Client,
    handler: &str,
    title: Option<&str>,
) -> Result<(), WidgetError> {
    let handler = check_handler(handler)?;
    let (en, ru) = match title.map(str::trim).filter(|t| !t.is_empty()) {
        Some(title) => (title, title),
        None => (DEFAULT_TITLE_EN, DEFAULT_TITLE_RU),
    };
    let binding = client.call(
        "placement.bind",
        json!({
            "PLACEMENT": PLACEMENT,
            "HANDLER": handler,
            "TITLE": en,
            "LANG_ALL": { "en": { "TITLE": en }, "ru": { "TITLE": ru } },
        }),
    );
    binding.await.map_err(|error| match error {
        RestError::BadRequest {
            portal_code,
            description,
        } if portal_code == "ERROR_WRONG_HANDLER_URL" => WidgetError::HandlerRefused {
            handler: handler.clone(),
            code: portal_code,
            description,
        },
        other => WidgetError::from(other),
    })?;
    Ok(())
}

/// Unbinds the widget at `handler`, or every call-card widget of this application; returns
/// how many are gone. Counted from the lists before and after: the answer's `count` grows by
/// two per handler (`placement-unbind.md`), which may not hold on every portal version.
pub async fn uninstall(client: &Client, handler: Option<&str>) -> Result<u64, WidgetError> {
    let before = bound(client).await?.len() as u64;
    let mut params = json!({ "PLACEMENT": PLACEMENT });
    if let Some(handler) = handler {
        params["HANDLER"] = Value::from(handler.trim());
    }
    let answer = client.call("placement.unbind", params).await?;
    let after = bound(client).await?.len() as u64;
    let removed = before.saturating_sub(after);
    if removed == 0 && count(&answer.result["count"]) > 0 {
        tracing::warn!(
            "the portal says it removed handlers, but the call card lists the same ones"
        );
    }
    Ok(removed)
}

/// The call-card widgets this application has bound.
pub async fn bound(client: &Client) -> Result<Vec<BoundWidget>, WidgetError> {
    let answer = client.call("placement.get", json!({})).await?;
    let items = answer.result.as_array().cloned().unwrap_or_default();
    Ok(items
        .iter()
        .filter(|item| text(&item["placement"]).eq_ignore_ascii_case(PLACEMENT))
        .map(|item| BoundWidget {
            handler: text(&item["handler"]),
            title: text(&item["title"]),
            titles: item["langAll"]
                .as_object()
                .map(|langs| {
                    langs
                        .iter()
                        .map(|(lang, v)| (lang.clone(), text(&v["TITLE"])))
                        .collect()
                })
                .unwrap_or_default(),
        })
        .collect())
}

fn text(value: &Value) -> String {
    match value {
        Value::String(s) => s.clone(),
        Value::Null => String::new(),
        other => other.to_string(),
    }
}

/// Numbers often arrive as strings from PHP.
fn count(value: &Value) -> u64 {
    match value {
        Value::Number(n) => n.as_u64().unwrap_or(0),
        Value::String(s) => s.trim().parse().unwrap_or(0),
        _ => 0,
    }
}

#[cfg(test)]
mod tests {
    use super::check_handler;

    #[test]
    fn handlers_must_be_https_or_this_computer() {
        assert!(check_handler("https://relay.example.com/relay/").is_ok());
        assert!(check_handler("http://127.0.0.1:47600/relay/").is_ok());
        assert!(check_handler(&super::direct_handler(47600)).is_ok());
        for bad in [
            "http://relay.example.com/",
            "http://localhost/relay/",
            "ftp://x/",
            "https://",
            "relay.example.com",
            "https://a b/",
        ] {
            let error = check_handler(bad).unwrap_err();
            assert_eq!(error.code(), "bad_widget_handler", "{bad}");
        }
    }
}
