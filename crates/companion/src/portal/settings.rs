//! The portal's non-secret settings (`portal.json` in the config folder): which portal, how the
//! app signs in, the OAuth application's id. Secrets live in the [`Vault`](super::vault::Vault).

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "method", rename_all = "snake_case")]
pub enum SignIn {
    OAuth {
        client_id: String,
        oauth_server: String,
        /// Signed in by the call card's own POST to the app's tab (IT preset the application).
        #[serde(default, skip_serializing_if = "std::ops::Not::not")]
        via_call_card: bool,
    },
    Webhook {
        user_id: u64,
    },
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PortalSettings {
    /// `https://acme.bitrix24.ru`.
    pub base: String,
    pub domain: String,
    #[serde(flatten)]
    pub sign_in: SignIn,
    /// The portal's `member_id`, once known (an OAuth answer, or the first proven tab): a
    /// call card's POST naming another is refused.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub member_id: Option<String>,
    /// The signed-in user (the agent); a call card's POST for another user is refused. (Not
    /// `user_id`: the webhook sign-in's own field has that name in the same object.)
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub agent_id: Option<u64>,
}

impl PortalSettings {
    /// The agent this sign-in acts for, when known without asking the portal.
    pub fn agent(&self) -> Option<u64> {
        match &self.sign_in {
            SignIn::Webhook { user_id } => Some(*user_id),
            SignIn::OAuth { .. } => self.agent_id,
        }
    }
}

pub struct SettingsFile {
    path: PathBuf,
}

impl SettingsFile {
    pub fn new(path: impl Into<PathBuf>) -> SettingsFile {
        SettingsFile { path: path.into() }
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The saved settings; `Err` with a sentence when the file exists but cannot be used (an invalid
    /// one is moved aside).
    pub fn load(&self) -> Result<Option<PortalSettings>, String> {
        match std::fs::read(&self.path) {
            // Set aside, so the next sign-in cannot overwrite what may be worth a look.
            Ok(bytes) => serde_json::from_slice(&bytes).map(Some).map_err(|e| {
                crate::files::set_aside_sentence(
                    &self.path,
                    &format!("not valid: {e}"),
                    "sign in again",
                )
            }),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(format!("cannot read {}: {e}", self.path.display())),
        }
    }

    /// Written whole or not at all.
    pub fn save(&self, settings: &PortalSettings) -> std::io::Result<()> {
        let json = serde_json::to_vec_pretty(settings).map_err(std::io::Error::other)?;
        crate::files::write_atomically(&self.path, &json)
    }

    pub fn remove(&self) -> std::io::Result<()> {
        match std::fs::remove_file(&self.path) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(e),
            _ => Ok(()),
        }
    }
}
