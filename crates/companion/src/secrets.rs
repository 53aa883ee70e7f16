//! Secrets in the OS keyring (Secret Service on Linux, Keychain on macOS, Credential Manager on
//! Windows) and nowhere else: not in files, logs or error messages.

use listener::PairingToken;

/// Keyring entries live under this service name; `CALL_COMPANION_KEYRING_SERVICE` overrides it
/// so tests and side-by-side profiles do not share secrets.
pub fn service_name() -> String {
    std::env::var("CALL_COMPANION_KEYRING_SERVICE")
        .ok()
        .filter(|s| !s.trim().is_empty())
        .unwrap_or_else(|| crate::app::IDENTIFIER.to_owned())
}

const PAIRING_TOKEN: &str = "pairing-token";

#[derive(Debug, thiserror::Error)]
pub enum SecretError {
    /// No keyring daemon, locked and the user refused, no D-Bus session…
    #[error("the OS keyring is not available ({reason}); on Linux, Call Companion needs a Secret Service such as GNOME Keyring or KWallet")]
    Unavailable { reason: String },
    #[error("no pairing token is stored yet: start Call Companion once to create one")]
    NoToken,
    #[error("cannot create a random token: {0}")]
    Random(String),
}

impl SecretError {
    pub fn code(&self) -> &'static str {
        match self {
            SecretError::Unavailable { .. } => "keyring_unavailable",
            SecretError::NoToken => "no_pairing_token",
            SecretError::Random(_) => "random_unavailable",
        }
    }
}

pub struct Keyring {
    service: String,
}

impl Keyring {
    pub fn new(service: impl Into<String>) -> Keyring {
        Keyring {
            service: service.into(),
        }
    }

    /// The keyring for this user and profile.
    pub fn for_app() -> Keyring {
        Keyring::new(service_name())
    }

    fn entry(&self, account: &str) -> Result<keyring::Entry, SecretError> {
        keyring::Entry::new(&self.service, account).map_err(unavailable)
    }

    pub(crate) fn get(&self, account: &str) -> Result<Option<String>, SecretError> {
        match self.entry(account)?.get_password() {
            Ok(secret) => Ok(Some(secret)),
            Err(keyring::Error::NoEntry) => Ok(None),
            Err(e) => Err(unavailable(e)),
        }
    }

    pub(crate) fn set(&self, account: &str, secret: &str) -> Result<(), SecretError> {
        self.entry(account)?
            .set_password(secret)
            .map_err(unavailable)
    }

    pub fn delete_pairing_token(&self) -> Result<(), SecretError> {
        self.delete(PAIRING_TOKEN)
    }

    /// Removes an entry; one that is not there is already removed.
    pub(crate) fn delete(&self, account: &str) -> Result<(), SecretError> {
        match self.entry(account)?.delete_credential() {
            Ok(()) | Err(keyring::Error::NoEntry) => Ok(()),
            Err(e) => Err(unavailable(e)),
        }
    }

    /// Whether an entry exists (tests check that sign-out removed them).
    pub fn has(&self, account: &str) -> Result<bool, SecretError> {
        self.get(account).map(|s| s.is_some())
    }

    /// The stored pairing token; `NoToken` when none is (or what is stored is not one of ours).
    pub fn pairing_token(&self) -> Result<PairingToken, SecretError> {
        self.get(PAIRING_TOKEN)?
            .and_then(|t| PairingToken::from_stored(&t))
            .ok_or(SecretError::NoToken)
    }

    /// The stored token, or a new one stored now (first start).
    pub fn pairing_token_or_create(&self) -> Result<PairingToken, SecretError> {
        match self.pairing_token() {
            Err(SecretError::NoToken) => self.rotate_pairing_token(),
            other => other,
        }
    }

    /// A new token replaces the stored one; paired widgets must pair again.
    pub fn rotate_pairing_token(&self) -> Result<PairingToken, SecretError> {
        let token = PairingToken::generate().map_err(|e| SecretError::Random(e.to_string()))?;
        self.set(PAIRING_TOKEN, token.expose())?;
        Ok(token)
    }
}

/// keyring's errors may quote the platform's message, never the secret itself.
fn unavailable(error: keyring::Error) -> SecretError {
    SecretError::Unavailable {
        reason: error.to_string(),
    }
}
