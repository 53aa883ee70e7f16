//! What the tray icon says: one line for the agent's glance (idle, on a call, signed out,
//! listener problem), in the window's language.

use crate::calls::CallsView;
use crate::language::Language;
use crate::status::{AppStatus, ListenerStatus, PortalStatus};
use callcard::CallState;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TrayState {
    Idle,
    OnCall,
    SignedOut,
    ListenerProblem,
}

/// The state worth showing first (a problem before a call before idle) and its words.
pub fn tray_status(status: &AppStatus, calls: &CallsView) -> (TrayState, String) {
    let ru = status.language == Language::Ru;
    if let ListenerStatus::Failed { reason, .. } = &status.listener {
        let text = if ru {
            format!("Call Companion: приём звонков не работает — {reason}")
        } else {
            format!("Call Companion: the call listener is not running — {reason}")
        };
        return (TrayState::ListenerProblem, text);
    }
    // Listening elsewhere (the port asked for is another program's) is no problem: the
    // agent's relay finds this port, and the window's status says where.
    let on_call = calls.current.as_ref().filter(|c| {
        matches!(
            c.context.state,
            CallState::Connecting | CallState::Connected
        )
    });
    if let Some(call) = on_call {
        let number = number_words(&call.context, call.number.as_deref(), ru, false);
        let text = if ru {
            format!("Call Companion: звонок {number}")
        } else {
            format!("Call Companion: on a call with {number}")
        };
        return (TrayState::OnCall, text);
    }
    match &status.portal {
        PortalStatus::Connected { .. }
        | PortalStatus::Connecting { .. }
        | PortalStatus::SigningIn { .. } => (
            TrayState::Idle,
            if ru {
                "Call Companion: ожидание звонка".into()
            } else {
                "Call Companion: waiting for a call".into()
            },
        ),
        PortalStatus::NotConfigured | PortalStatus::Failed { .. } => (
            TrayState::SignedOut,
            if ru {
                "Call Companion: нет входа в Битрикс24".into()
            } else {
                "Call Companion: not signed in to Bitrix24".into()
            },
        ),
    }
}

/// The title and text of the OS notification for a new call; `number` as the window shows it.
pub fn call_notification(
    context: &callcard::CallContext,
    number: Option<&str>,
    language: Language,
) -> (String, String) {
    let ru = language == Language::Ru;
    let summary = match (&context.direction, ru) {
        (callcard::CallDirection::Outgoing, false) => "Outgoing call",
        (callcard::CallDirection::Outgoing, true) => "Исходящий звонок",
        (_, false) => "Incoming call",
        (_, true) => "Входящий звонок",
    };
    let number = number_words(context, number, ru, true);
    let body = match context.line_name.as_deref() {
        Some(line) => format!("{number} · {line}"),
        None => number,
    };
    (summary.to_owned(), body)
}

/// Text as a Linux notification server reads a body: the Desktop Notifications spec lets the
/// server interpret a small markup there (`<b>`, `<i>`, `<a href>`, `<img>`), so the call's text
/// (a line name, a number: what the portal sent) is escaped and shown as written. Windows and
/// macOS show bodies as plain text and need none of this.
pub fn escape_markup(text: &str) -> String {
    let mut escaped = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => escaped.push_str("&amp;"),
            '<' => escaped.push_str("&lt;"),
            '>' => escaped.push_str("&gt;"),
            '"' => escaped.push_str("&quot;"),
            '\'' => escaped.push_str("&apos;"),
            c => escaped.push(c),
        }
    }
    escaped
}

/// The caller's number, or why there is none: hidden by the caller, or not known.
/// The caller's number (as the window shows it, else as the call card sent it), or why there
/// is none.
fn number_words(
    context: &callcard::CallContext,
    shown: Option<&str>,
    ru: bool,
    capital: bool,
) -> String {
    if let Some(number) = &context.phone_number {
        return shown.unwrap_or(number).to_owned();
    }
    let words = match (context.no_number, ru) {
        (Some(callcard::NoNumber::Hidden), true) => "номер скрыт абонентом",
        (Some(callcard::NoNumber::Hidden), false) => "number hidden by the caller",
        (_, true) => "номер не определён",
        (_, false) => "number not shown",
    };
    if capital {
        let mut chars = words.chars();
        chars
            .next()
            .map(|first| first.to_uppercase().chain(chars).collect())
            .unwrap_or_default()
    } else {
        words.to_owned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::status::Theme;

    fn status(language: Language) -> AppStatus {
        AppStatus::initial(language, Theme::System)
    }

    fn calls(state: &str) -> CallsView {
        let context = callcard::parse(
            format!(r#"{{"CALL_ID":"x","PHONE_NUMBER":"+79001234567","CALL_STATE":"{state}"}}"#)
                .as_bytes(),
        )
        .unwrap();
        let call = crate::calls::TrackedCall {
            context,
            first_seen_ms: 0,
            updated_ms: 0,
            reports: 1,
            unverified: false,
            number: None,
        };
        CallsView {
            revision: 1,
            current: Some(call),
            recent: vec![],
            last_rejection: None,
        }
    }

    #[test]
    fn problems_first_then_the_call_then_the_portal() {
        let empty = CallsView {
            revision: 0,
            current: None,
            recent: vec![],
            last_rejection: None,
        };
        assert_eq!(
            tray_status(&status(Language::En), &empty).0,
            TrayState::SignedOut
        );
        let (state, text) = tray_status(&status(Language::Ru), &calls("connected"));
        assert_eq!(state, TrayState::OnCall);
        assert!(text.contains("+79001234567"), "{text}");
        assert_eq!(
            tray_status(&status(Language::En), &calls("idle")).0,
            TrayState::SignedOut
        );
        let mut failed = status(Language::En);
        failed.listener = ListenerStatus::Failed {
            address: "127.0.0.1:47600".into(),
            reason: "port 47600 is in use".into(),
        };
        let (state, text) = tray_status(&failed, &calls("connected"));
        assert_eq!(state, TrayState::ListenerProblem);
        assert!(text.contains("in use"));
        let mut connected = status(Language::En);
        connected.portal = PortalStatus::Connecting {
            domain: "acme.bitrix24.ru".into(),
        };
        assert_eq!(
            tray_status(&connected, &calls("idle")),
            (TrayState::Idle, "Call Companion: waiting for a call".into())
        );
    }

    #[test]
    fn notifications_name_the_direction_number_and_line() {
        let context = callcard::parse(br#"{"CALL_ID":"x","PHONE_NUMBER":"+79001234567","LINE_NAME":"Sales","CALL_DIRECTION":"incoming"}"#).unwrap();
        assert_eq!(
            call_notification(&context, Some("+7 900 123-45-67"), Language::Ru),
            ("Входящий звонок".into(), "+7 900 123-45-67 · Sales".into())
        );
        assert_eq!(
            call_notification(&context, None, Language::En).1,
            "+79001234567 · Sales",
            "as the call card sent it when the window has no spelling of its own"
        );
        let hidden = callcard::parse(br#"{"CALL_ID":"x","CALL_DIRECTION":"outgoing"}"#).unwrap();
        assert_eq!(
            call_notification(&hidden, None, Language::En),
            ("Outgoing call".into(), "Number not shown".into())
        );
        let withheld = callcard::parse(
            br#"{"CALL_ID":"x","PHONE_NUMBER":"hidden","CALL_DIRECTION":"incoming"}"#,
        )
        .unwrap();
        assert_eq!(
            call_notification(&withheld, None, Language::Ru),
            ("Входящий звонок".into(), "Номер скрыт абонентом".into())
        );
        assert_eq!(
            call_notification(&withheld, None, Language::En).1,
            "Number hidden by the caller"
        );
        let unknown = callcard::parse(br#"{"CALL_ID":"x","PHONE_NUMBER":"unknown"}"#).unwrap();
        assert_eq!(
            call_notification(&unknown, None, Language::Ru).1,
            "Номер не определён"
        );
    }

    #[test]
    fn a_line_name_with_markup_reaches_the_notification_as_text() {
        let call = callcard::parse(
            br#"{"CALL_ID":"x","PHONE_NUMBER":"+79001234567","LINE_NAME":"<b>Sales</b> & <a href='https://evil.test'>\"win\"</a><img src=x>"}"#,
        )
        .unwrap();
        let (_, body) = call_notification(&call, None, Language::En);
        let shown = escape_markup(&body);
        assert!(!shown.contains('<') && !shown.contains('>'), "{shown}");
        assert_eq!(
            shown,
            "+79001234567 · &lt;b&gt;Sales&lt;/b&gt; &amp; &lt;a href=&apos;https://evil.test&apos;&gt;&quot;win&quot;&lt;/a&gt;&lt;img src=x&gt;"
        );
        assert_eq!(escape_markup("Отдел продаж"), "Отдел продаж");
    }
}
