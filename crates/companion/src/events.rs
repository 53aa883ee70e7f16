//! What the core tells the shell, one way: the app publishes these on one stream, in order,
//! and the shell forwards them to the window (and to the tray, the notification centre and the
//! window manager, which only the shell can reach).

use crate::calls::{CallContext, CallsView};
use crate::card::model::CardView;
use crate::language::Language;
use crate::status::AppStatus;

#[derive(Debug, Clone)]
pub enum AppEvent {
    /// The calls changed (the window's `calls` event; the tray's text follows).
    Calls(Box<CallsView>),
    /// The app's status changed (the window's `status` event; the tray's text follows).
    Status(AppStatus),
    /// A call's CRM card changed (the window's `card` event).
    Card(CardView),
    /// A note changed: saved, sending, sent, failed (the window's `note` event).
    Note(notes::Note),
    /// A new call arrived. The shell shows a notification when `notify`, and takes the focus
    /// when `focus`, else only asks for attention: a call never takes the keyboard from the
    /// softphone unless the agent asked for it.
    NewCall {
        context: Box<CallContext>,
        /// The caller's number as people write it (the window's spelling), for the notification.
        number: Option<String>,
        notify: bool,
        focus: bool,
        language: Language,
    },
}
