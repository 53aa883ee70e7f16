//! The call-card tab the app serves itself (`/call-card/`): Bitrix24's form POST arrives here
//! straight from the portal's page, the app proves it (through its [`Intake`](crate::Intake))
//! and the tab shows one honest status line. An accepted tab gets a nonce, bound to its call,
//! that its script sends with the call card's later events (`/call-card/event`).

use std::collections::HashMap;
use std::time::{Duration, Instant};

use http::StatusCode;

use crate::routes::escape_html;

pub const TAB_PATH: &str = "/call-card/";
pub const TAB_EVENT_PATH: &str = "/call-card/event";
/// The tab's script and the relay widget's stylesheet (one look for both).
pub const TAB_SCRIPT_PATH: &str = "/call-card/tab.js";
pub const TAB_STYLE_PATH: &str = "/call-card/relay.css";
/// Marks a tab another session's app handed on to this one (`?…&callcompanion_hop=1`): it is
/// never handed on again, so two apps with stale ports cannot bounce a call card between them.
pub const TAB_HOP: &str = "callcompanion_hop";

/// `callcard.js` (following the call card, shared with the hosted relay) in front of `tab.js`:
/// one script, so the page's policy and routes stay as they are.
pub const TAB_SCRIPT: &[u8] = concat!(
    include_str!("../../../relay/callcard.js"),
    "\n",
    include_str!("../../../relay/tab.js")
)
.as_bytes();
pub const TAB_STYLE: &[u8] = include_bytes!("../../../relay/relay.css");

/// A tab's events are accepted this long after it opened (the card closes 65 s after the call;
/// an agent may keep a long call open for hours).
const NONCE_LIFETIME: Duration = Duration::from_secs(12 * 3600);
/// Tabs remembered at once; the oldest is forgotten first.
const NONCES_KEPT: usize = 64;

/// What the call card's POST carried, for the app to judge.
#[derive(Debug, Clone)]
pub struct TabPost {
    /// The `Origin` of the page that posted (checked against the portal's before this).
    pub origin: String,
    /// The handler address's query string (`DOMAIN`, `PROTOCOL`, `LANG`, `APP_SID`).
    pub query: String,
    /// The form: `AUTH_ID`, `REFRESH_ID`, `member_id`, `PLACEMENT_OPTIONS`, …
    pub body: Vec<u8>,
    /// The loopback port it arrived on (this app's listener).
    pub port: u16,
}

impl TabPost {
    /// Whether another session's app handed this tab on to this one.
    pub fn handed_on(&self) -> bool {
        form_urlencoded::parse(self.query.as_bytes()).any(|(k, _)| k == TAB_HOP)
    }
}

/// The app's judgement of a tab's POST.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TabVerdict {
    /// Proven and handed to the app; the tab forwards the call card's events.
    Sent {
        call_id: String,
        /// Bitrix24's JS library, at the portal's regional address.
        library: String,
        /// The portal's origin: the only page the tab may be shown in.
        portal: String,
    },
    /// The app is signed in to no portal (and IT preset none): nothing to prove the call with.
    NotSignedIn,
    /// The POST names another portal (its `Origin` or `member_id`) than the app's.
    ForeignPortal { portal: String },
    /// The portal did not accept the tab's token.
    NotProven { code: codes::ErrorCode },
    /// A genuine call of another user of the portal.
    OtherUser { user: String },
    /// A genuine call of another user of the portal, whose own app (on this computer: a
    /// terminal server) published the port it listens on: the browser is sent there
    /// (`307`, the same POST), where that app proves it again.
    HandedOn { user: String, port: u16 },
    /// The portal could not be asked (down, unreachable, rate-limited).
    PortalUnreachable { code: codes::ErrorCode },
    /// The POST is not a call card's (the parser's code and sentence).
    BadCall {
        code: codes::ErrorCode,
        message: String,
    },
}

impl TabVerdict {
    /// `sent`, or the refusal's [`codes::ErrorCode`]: the page's `<main data-code>`.
    pub fn code(&self) -> &'static str {
        use codes::ErrorCode as C;
        match self {
            TabVerdict::Sent { .. } => "sent",
            TabVerdict::NotSignedIn => C::TabNotSignedIn.as_str(),
            TabVerdict::ForeignPortal { .. } => C::TabForeignPortal.as_str(),
            TabVerdict::NotProven { .. } => C::TabNotProven.as_str(),
            TabVerdict::OtherUser { .. } => C::TabOtherUser.as_str(),
            TabVerdict::HandedOn { .. } => "handed_on",
            TabVerdict::PortalUnreachable { .. } => C::TabPortalUnreachable.as_str(),
            TabVerdict::BadCall { code, .. } => code.as_str(),
        }
    }

    pub fn status(&self) -> StatusCode {
        match self {
            TabVerdict::Sent { .. } => StatusCode::OK,
            TabVerdict::NotSignedIn => StatusCode::SERVICE_UNAVAILABLE,
            TabVerdict::ForeignPortal { .. }
            | TabVerdict::NotProven { .. }
            | TabVerdict::OtherUser { .. } => StatusCode::FORBIDDEN,
            TabVerdict::HandedOn { .. } => StatusCode::TEMPORARY_REDIRECT,
            TabVerdict::PortalUnreachable { .. } => StatusCode::BAD_GATEWAY,
            TabVerdict::BadCall { .. } => StatusCode::BAD_REQUEST,
        }
    }
}

/// The nonces of the tabs this app served, each bound to its call.
#[derive(Default)]
pub struct TabNonces {
    issued: HashMap<String, (String, Instant)>,
}

impl TabNonces {
    /// A new nonce for a tab showing `call_id`; `None` when the OS has no randomness.
    pub fn issue(&mut self, call_id: &str, now: Instant) -> Option<String> {
        let mut bytes = [0u8; 18];
        getrandom::fill(&mut bytes).ok()?;
        let nonce: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
        self.issued
            .retain(|_, (_, at)| now.saturating_duration_since(*at) < NONCE_LIFETIME);
        while self.issued.len() >= NONCES_KEPT {
            let oldest = self
                .issued
                .iter()
                .min_by_key(|(_, (_, at))| *at)
                .map(|(n, _)| n.clone());
            match oldest {
                Some(n) => self.issued.remove(&n),
                None => break,
            };
        }
        self.issued.insert(nonce.clone(), (call_id.to_owned(), now));
        Some(nonce)
    }

    /// The call a nonce was issued for, while it is valid.
    pub fn call_of(&self, nonce: &str, now: Instant) -> Option<String> {
        // Compared in constant time: a nonce is a bearer secret for its tab.
        self.issued
            .iter()
            .find(|(n, _)| crate::guard::same_secret(n.as_bytes(), nonce.as_bytes()))
            .filter(|(_, (_, at))| now.saturating_duration_since(*at) < NONCE_LIFETIME)
            .map(|(_, (call_id, _))| call_id.clone())
    }
}

/// The two languages of the tab; Russian when the portal's `LANG` says so.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lang {
    En,
    Ru,
}

impl Lang {
    /// From the handler address's `LANG` (`ru`, `ua`, `by`, `kz` read Russian).
    pub fn from_query(query: &str) -> Lang {
        let lang = form_urlencoded::parse(query.as_bytes())
            .find(|(k, _)| k == "LANG")
            .map(|(_, v)| v.to_ascii_lowercase())
            .unwrap_or_default();
        if ["ru", "ua", "by", "kz"].iter().any(|l| lang.starts_with(l)) {
            Lang::Ru
        } else {
            Lang::En
        }
    }

    fn code(self) -> &'static str {
        match self {
            Lang::En => "en",
            Lang::Ru => "ru",
        }
    }
}

/// The status line and the sentence under it, in the tab's language.
fn words(verdict: &TabVerdict, lang: Lang) -> (&'static str, String) {
    let ru = lang == Lang::Ru;
    let pick = |en: &'static str, ru_text: &'static str| if ru { ru_text } else { en };
    match verdict {
        TabVerdict::Sent { .. } => (
            pick("Sent to Call Companion", "Передано в Call Companion"),
            pick(
                "The caller's card is in the Call Companion window.",
                "Карточка клиента — в окне Call Companion.",
            )
            .to_owned(),
        ),
        TabVerdict::NotSignedIn => (
            pick(
                "Call Companion is not signed in to a portal",
                "Call Companion не подключён к порталу",
            ),
            pick(
                "Sign in from Call Companion → Settings → Bitrix24 portal, then reopen this tab.",
                "Войдите в Call Companion → Настройки → Портал Битрикс24 и откройте вкладку снова.",
            )
            .to_owned(),
        ),
        TabVerdict::ForeignPortal { portal } => (
            pick(
                "Call Companion works with another portal",
                "Call Companion работает с другим порталом",
            ),
            format!(
                "{} {portal}.",
                pick(
                    "This call came from a different portal than the one Call Companion is set up for:",
                    "Звонок пришёл не с того портала, к которому подключён Call Companion:"
                )
            ),
        ),
        TabVerdict::NotProven { code } => (
            pick(
                "Call Companion could not confirm this call with the portal",
                "Call Companion не смог подтвердить звонок на портале",
            ),
            format!(
                "{} ({code})",
                pick(
                    "The portal did not accept the tab's sign-in. Reopen the tab; if this repeats, ask IT.",
                    "Портал не принял вход вкладки. Откройте вкладку снова; если повторится, обратитесь в ИТ."
                )
            ),
        ),
        TabVerdict::OtherUser { user } => (
            pick(
                "This call is not for the agent signed in to Call Companion",
                "Этот звонок не для сотрудника, вошедшего в Call Companion",
            ),
            format!(
                "{} {user}.",
                pick(
                    "The call card belongs to",
                    "Карточка звонка принадлежит пользователю"
                )
            ),
        ),
        TabVerdict::HandedOn { user, .. } => (
            pick(
                "Passed to this agent's Call Companion",
                "Передано в Call Companion этого сотрудника",
            ),
            format!(
                "{} {user}.",
                pick(
                    "The call card belongs to",
                    "Карточка звонка принадлежит пользователю"
                )
            ),
        ),
        TabVerdict::PortalUnreachable { code } => (
            pick(
                "Call Companion could not reach the portal to confirm this call",
                "Call Companion не смог связаться с порталом, чтобы подтвердить звонок",
            ),
            format!(
                "{} ({code})",
                pick(
                    "Check the connection, then reopen the tab.",
                    "Проверьте связь и откройте вкладку снова."
                )
            ),
        ),
        TabVerdict::BadCall { message, .. } => (
            pick(
                "Call Companion refused the call",
                "Call Companion отклонил звонок",
            ),
            message.clone(),
        ),
    }
}

/// The page the tab shows. An accepted tab loads Bitrix24's library and its script, which
/// forwards the call card's events with `nonce`; a refused one runs nothing.
pub fn page(verdict: &TabVerdict, lang: Lang, nonce: Option<&str>) -> String {
    let (status, detail) = words(verdict, lang);
    let state = match verdict {
        TabVerdict::Sent { .. } => "sent",
        _ => "refused",
    };
    let scripts = match (verdict, nonce) {
        (
            TabVerdict::Sent {
                call_id, library, ..
            },
            Some(nonce),
        ) => {
            format!(
            "<script src=\"{library}\"></script><script src=\"{TAB_SCRIPT_PATH}\" defer></script>",
            library = escape_html(library),
        ) + &format!(
            "<template id=\"tab\" data-nonce=\"{}\" data-call=\"{}\" data-lang=\"{}\"></template>",
            escape_html(nonce),
            escape_html(call_id),
            lang.code()
        )
        }
        _ => String::new(),
    };
    format!(
        "<!doctype html><html lang=\"{lang}\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
         <meta name=\"referrer\" content=\"no-referrer\"><title>Call Companion</title>\
         <link rel=\"stylesheet\" href=\"{TAB_STYLE_PATH}\">{scripts}</head><body>\
         <main class=\"relay\" data-state=\"{state}\" data-code=\"{code}\">\
         <p class=\"status\" role=\"status\" aria-live=\"polite\" data-testid=\"status\">\
         <span class=\"mark\" aria-hidden=\"true\"></span><span class=\"text\" data-testid=\"status-text\">{status}</span></p>\
         <p class=\"detail\" data-testid=\"detail\">{detail}</p>\
         <p class=\"detail\" data-testid=\"events\" hidden></p>\
         </main></body></html>",
        lang = lang.code(),
        code = escape_html(verdict.code()),
        status = escape_html(status),
        detail = escape_html(&detail),
    )
}

/// The page's Content-Security-Policy: its own files, the library's host, events to this app
/// only; an accepted tab is shown only inside the portal's page (`frame_ancestor`). A refusal
/// holds nothing worth framing and must show in whatever page posted.
pub fn content_security_policy(library: Option<&str>, frame_ancestor: Option<&str>) -> String {
    let library_origin = library
        .and_then(url_origin)
        .map(|o| format!(" {o}"))
        .unwrap_or_default();
    let ancestors = frame_ancestor
        .and_then(crate::guard::normalise_origin)
        .map(|o| format!("; frame-ancestors {o}"))
        .unwrap_or_default();
    format!(
        "default-src 'none'; script-src 'self'{library_origin}; style-src 'self'; connect-src 'self'; \
         img-src 'self' data:; base-uri 'none'; form-action 'none'{ancestors}"
    )
}

/// `https://api.bitrix24.com/api/v1/` → `https://api.bitrix24.com`.
fn url_origin(url: &str) -> Option<String> {
    let (scheme, rest) = url.split_once("://")?;
    let host = rest.split(['/', '?', '#']).next()?;
    (!host.is_empty()
        && host
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || ".-:[]".contains(c)))
    .then(|| format!("{scheme}://{host}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nonces_are_bound_to_their_call_and_expire() {
        let mut nonces = TabNonces::default();
        let now = Instant::now();
        let a = nonces.issue("call.a", now).unwrap();
        let b = nonces.issue("call.b", now).unwrap();
        assert_ne!(a, b);
        assert_eq!(nonces.call_of(&a, now).as_deref(), Some("call.a"));
        assert_eq!(nonces.call_of(&b, now).as_deref(), Some("call.b"));
        assert_eq!(nonces.call_of("0000", now), None);
        assert_eq!(nonces.call_of(&a, now + NONCE_LIFETIME), None);
        for i in 0..NONCES_KEPT {
            nonces.issue(&format!("c{i}"), now + Duration::from_secs(1 + i as u64));
        }
        assert_eq!(nonces.call_of(&a, now), None, "the oldest is forgotten");
    }

    #[test]
    fn pages_escape_and_speak_the_portals_language() {
        let refused = TabVerdict::OtherUser {
            user: "<b>Иван</b>".into(),
        };
        let page_ru = page(&refused, Lang::from_query("DOMAIN=x&LANG=ru"), None);
        assert!(page_ru.contains("&lt;b&gt;Иван&lt;/b&gt;"), "{page_ru}");
        assert!(page_ru.contains("не для сотрудника"));
        assert!(!page_ru.contains("<script"), "a refused tab runs nothing");
        let sent = TabVerdict::Sent {
            call_id: "c\"1".into(),
            library: "https://api.bitrix24.com/api/v1/".into(),
            portal: "https://acme.bitrix24.ru".into(),
        };
        let page_en = page(&sent, Lang::from_query(""), Some("abc"));
        assert!(page_en.contains("Sent to Call Companion"));
        assert!(page_en.contains("data-call=\"c&quot;1\""));
        assert!(
            !content_security_policy(None, Some("https://x; script-src *"))
                .contains("frame-ancestors")
        );
        assert_eq!(
            content_security_policy(Some("https://api.bitrix24.com/api/v1/"), Some("https://acme.bitrix24.ru")),
            "default-src 'none'; script-src 'self' https://api.bitrix24.com; style-src 'self'; connect-src 'self'; img-src 'self' data:; base-uri 'none'; form-action 'none'; frame-ancestors https://acme.bitrix24.ru"
        );
    }
}
