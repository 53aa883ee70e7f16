//! The app's status as the "waiting for a call" screen shows it: mode, listener, portal,
//! language and theme. Built from facts only; nothing here pretends a component is running.

use serde::{Deserialize, Serialize};
use ts_rs::TS;

use crate::app;
use crate::language::Language;
use crate::ErrorBody;

/// How the app talks to Bitrix24: a real portal, or the embedded simulator for testers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(rename_all = "snake_case")]
pub enum Mode {
    Normal,
    Mock,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, TS, clap::ValueEnum)]
#[serde(rename_all = "snake_case")]
pub enum Theme {
    /// Follow the desktop's light/dark preference.
    System,
    Light,
    Dark,
}

/// The local listener the relay widget posts call contexts to.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, TS)]
#[serde(tag = "state", rename_all = "snake_case")]
pub enum ListenerStatus {
    /// Not started in this build or configuration; `address` is where it will listen.
    Stopped {
        address: String,
    },
    Listening {
        address: String,
    },
    /// The port asked for is another program's (a co-worker's app on a shared computer, or
    /// anything else): listening on a free port instead, which the agent's relay finds through
    /// the agent's own Bitrix24 user option (`port_publish.rs`). The OAuth sign-in, whose
    /// redirect address is `wanted`, cannot come back here.
    Elsewhere {
        address: String,
        wanted: String,
        reason: String,
    },
    /// Could not bind; `reason` says why in words an agent or IT can act on.
    Failed {
        address: String,
        reason: String,
    },
}

/// The connection to the Bitrix24 portal.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, TS)]
#[serde(tag = "state", rename_all = "snake_case")]
pub enum PortalStatus {
    /// No portal address or sign-in yet.
    NotConfigured,
    /// The browser is open on the portal's sign-in page; the app waits for it to come back.
    SigningIn {
        domain: String,
        authorize_url: String,
    },
    /// Checking a saved sign-in with the portal.
    Connecting { domain: String },
    Connected {
        domain: String,
        user_name: String,
        #[ts(type = "number")]
        user_id: u64,
        method: SignInMethod,
        /// The keyring was unavailable: the session ends when the app closes.
        session_only: bool,
        /// `app.info`'s `INSTALLED` for an OAuth application (`common/system/app-info.md`);
        /// `false`: its installation is not finished and the portal shows none of its widgets
        /// until an administrator opens it once (`app-installation/installation-finish.md`).
        /// Absent when unknown (a webhook, a call-card session).
        #[serde(skip_serializing_if = "Option::is_none")]
        #[ts(optional)]
        app_installed: Option<bool>,
    },
    /// Something needs the agent; `action` says what.
    Failed {
        domain: String,
        code: codes::ErrorCode,
        message: String,
        action: PortalAction,
    },
}

impl PortalStatus {
    /// A connected status that also says whether the application's installation is finished.
    pub fn with_installed(mut self, installed: Option<bool>) -> PortalStatus {
        if let PortalStatus::Connected { app_installed, .. } = &mut self {
            *app_installed = installed;
        }
        self
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, TS)]
#[serde(rename_all = "snake_case")]
pub enum SignInMethod {
    Oauth,
    Webhook,
    /// OAuth, begun by the call card's own POST to the app's tab with the application IT
    /// preset (zero-touch): the agent typed nothing.
    CallCard,
}

/// What the agent can do about a portal error.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, TS)]
#[serde(rename_all = "snake_case")]
pub enum PortalAction {
    TryLater,
    SignIn,
    AskAdmin,
    CheckConnection,
    Report,
    /// `APPLICATION_NOT_FOUND`: the application was removed from the portal; IT installs it again.
    ReinstallApp,
    /// `OVERLOAD_LIMIT`: Bitrix24 blocked the portal's REST API by hand; the portal's
    /// administrator asks Bitrix24 support (`_includes/system-errors.md`).
    ContactSupport,
    /// `PORTAL_DELETED`: the portal no longer exists; sign in to another one.
    OtherPortal,
}

impl From<bitrix::Action> for PortalAction {
    fn from(action: bitrix::Action) -> PortalAction {
        match action {
            bitrix::Action::TryLater => PortalAction::TryLater,
            bitrix::Action::SignIn => PortalAction::SignIn,
            bitrix::Action::AskAdmin => PortalAction::AskAdmin,
            bitrix::Action::CheckConnection => PortalAction::CheckConnection,
            bitrix::Action::Report => PortalAction::Report,
            bitrix::Action::ReinstallApp => PortalAction::ReinstallApp,
            bitrix::Action::ContactSupport => PortalAction::ContactSupport,
            bitrix::Action::OtherPortal => PortalAction::OtherPortal,
        }
    }
}

/// Bitrix24's push channel (`pull.application.*`), as the window shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, TS)]
#[serde(tag = "state", rename_all = "snake_case")]
pub enum PushStatus {
    /// Not signed in: nothing to subscribe to.
    Off,
    Connecting,
    Connected {
        transport: PushTransport,
    },
    /// Waiting before the next attempt; `attempt` counts failures in a row (0: the server asked
    /// for the reconnect).
    Reconnecting {
        attempt: u32,
        #[ts(type = "number")]
        next_in_ms: u64,
    },
    /// This sign-in cannot receive push events; `reason` says what to do.
    Unavailable {
        reason: String,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, TS)]
pub enum PushTransport {
    #[serde(rename = "websocket")]
    WebSocket,
    #[serde(rename = "long_polling")]
    LongPolling,
}

impl From<&push::PushStatus> for PushStatus {
    fn from(status: &push::PushStatus) -> PushStatus {
        match status {
            push::PushStatus::Connecting => PushStatus::Connecting,
            push::PushStatus::Connected { transport } => PushStatus::Connected {
                transport: match transport {
                    push::Transport::WebSocket => PushTransport::WebSocket,
                    push::Transport::LongPolling => PushTransport::LongPolling,
                },
            },
            push::PushStatus::Reconnecting { attempt, next_in } => PushStatus::Reconnecting {
                attempt: *attempt,
                next_in_ms: next_in.as_millis() as u64,
            },
            push::PushStatus::Unavailable { reason } => PushStatus::Unavailable {
                reason: reason.clone(),
            },
        }
    }
}

/// What Settings shows to pair a relay widget.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, TS)]
pub struct PairingInfo {
    /// The one-time six-digit code the widget asks the agent for.
    pub code: String,
    pub expires_in_secs: u32,
    /// False when the OS keyring is unavailable: the token then lasts until the app closes.
    pub token_in_keyring: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, TS)]
pub struct AppStatus {
    pub product_name: String,
    pub version: String,
    pub mode: Mode,
    pub listener: ListenerStatus,
    pub portal: PortalStatus,
    /// Bitrix24's push channel: calls published by the call card reach the app through it.
    pub push: PushStatus,
    pub language: Language,
    pub theme: Theme,
    /// What start-up found wrong and worked around (a settings file set aside, notes that
    /// cannot be kept): the window shows each until dismissed; each is also in the log.
    pub notices: Vec<ErrorBody>,
}

impl AppStatus {
    /// The status at start-up, before any component has started.
    pub fn initial(language: Language, theme: Theme) -> AppStatus {
        AppStatus {
            product_name: app::PRODUCT_NAME.to_owned(),
            version: app::VERSION.to_owned(),
            mode: Mode::Normal,
            listener: ListenerStatus::Stopped {
                address: loopback_address(app::DEFAULT_LISTEN_PORT),
            },
            portal: PortalStatus::NotConfigured,
            push: PushStatus::Off,
            language,
            theme,
            notices: Vec::new(),
        }
    }
}

/// `127.0.0.1:PORT`: the address the relay widget and `simulate` use.
pub fn loopback_address(port: u16) -> String {
    format!("127.0.0.1:{port}")
}

impl Theme {
    pub fn as_str(self) -> &'static str {
        match self {
            Theme::System => "system",
            Theme::Light => "light",
            Theme::Dark => "dark",
        }
    }
}
