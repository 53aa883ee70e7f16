//! Secrets in the OS keyring (Secret Service on Linux, Keychain on macOS, Credential Manager on
//! Windows) and nowhere else: not in files, logs or error messages.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

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
    pub fn code(&self) -> codes::ErrorCode {
        match self {
            SecretError::Unavailable { .. } => codes::ErrorCode::KeyringUnavailable,
            SecretError::NoToken => codes::ErrorCode::NoPairingToken,
            SecretError::Random(_) => codes::ErrorCode::RandomUnavailable,
        }
    }
}

/// Where secrets are kept: the operating system's keyring in the app ([`OsKeyring`]); memory
/// where nothing may outlive the process ([`MemoryKeyring`]: the mock-runtime window tests, which
/// then need no Secret Service).
pub trait SecretStore: Send + Sync {
    fn get(&self, service: &str, account: &str) -> Result<Option<String>, SecretError>;
    fn set(&self, service: &str, account: &str, secret: &str) -> Result<(), SecretError>;
    /// Removes an entry; one that is not there is already removed.
    fn delete(&self, service: &str, account: &str) -> Result<(), SecretError>;
}

/// The operating system's keyring, through the `keyring` crate.
pub struct OsKeyring;

impl SecretStore for OsKeyring {
    fn get(&self, service: &str, account: &str) -> Result<Option<String>, SecretError> {
        match entry(service, account)?.get_password() {
            Ok(secret) => Ok(Some(secret)),
            Err(keyring::Error::NoEntry) => Ok(None),
            Err(e) => Err(unavailable(e)),
        }
    }

    fn set(&self, service: &str, account: &str, secret: &str) -> Result<(), SecretError> {
        entry(service, account)?
            .set_password(secret)
            .map_err(unavailable)
    }

    fn delete(&self, service: &str, account: &str) -> Result<(), SecretError> {
        match entry(service, account)?.delete_credential() {
            Ok(()) | Err(keyring::Error::NoEntry) => Ok(()),
            Err(e) => Err(unavailable(e)),
        }
    }
}

fn entry(service: &str, account: &str) -> Result<keyring::Entry, SecretError> {
    keyring::Entry::new(service, account).map_err(unavailable)
}

/// Secrets for the life of the process only.
#[derive(Default)]
pub struct MemoryKeyring(Mutex<HashMap<(String, String), String>>);

impl MemoryKeyring {
    fn entries(&self) -> std::sync::MutexGuard<'_, HashMap<(String, String), String>> {
        self.0.lock().unwrap_or_else(|e| e.into_inner())
    }
}

impl SecretStore for MemoryKeyring {
    fn get(&self, service: &str, account: &str) -> Result<Option<String>, SecretError> {
        Ok(self
            .entries()
            .get(&(service.to_owned(), account.to_owned()))
            .cloned())
    }

    fn set(&self, service: &str, account: &str, secret: &str) -> Result<(), SecretError> {
        self.entries()
            .insert((service.to_owned(), account.to_owned()), secret.to_owned());
        Ok(())
    }

    fn delete(&self, service: &str, account: &str) -> Result<(), SecretError> {
        self.entries()
            .remove(&(service.to_owned(), account.to_owned()));
        Ok(())
    }
}

/// One service's entries in a [`SecretStore`].
#[derive(Clone)]
pub struct Keyring {
    service: String,
    store: Arc<dyn SecretStore>,
}

impl Keyring {
    /// The operating system's keyring, under `service`.
    pub fn new(service: impl Into<String>) -> Keyring {
        Keyring::in_store(service, Arc::new(OsKeyring))
    }

    /// `service`'s entries in `store`.
    pub fn in_store(service: impl Into<String>, store: Arc<dyn SecretStore>) -> Keyring {
        Keyring {
            service: service.into(),
            store,
        }
    }

    /// The keyring for this user and profile.
    pub fn for_app() -> Keyring {
        Keyring::new(service_name())
    }

    pub(crate) fn get(&self, account: &str) -> Result<Option<String>, SecretError> {
        self.store.get(&self.service, account)
    }

    pub(crate) fn set(&self, account: &str, secret: &str) -> Result<(), SecretError> {
        self.store.set(&self.service, account, secret)
    }

    pub fn delete_pairing_token(&self) -> Result<(), SecretError> {
        self.delete(PAIRING_TOKEN)
    }

    /// Removes an entry; one that is not there is already removed.
    pub(crate) fn delete(&self, account: &str) -> Result<(), SecretError> {
        self.store.delete(&self.service, account)
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_memory_keyring_keeps_each_service_apart_and_forgets_on_delete() {
        let store: Arc<dyn SecretStore> = Arc::new(MemoryKeyring::default());
        let ours = Keyring::in_store("ours", store.clone());
        let theirs = Keyring::in_store("theirs", store);
        ours.set("webhook", "s3cret").unwrap();
        assert_eq!(ours.get("webhook").unwrap().as_deref(), Some("s3cret"));
        assert_eq!(theirs.get("webhook").unwrap(), None);
        let token = ours.pairing_token_or_create().unwrap();
        assert_eq!(ours.pairing_token().unwrap().expose(), token.expose());
        ours.delete("webhook").unwrap();
        ours.delete("webhook").unwrap();
        assert!(!ours.has("webhook").unwrap());
    }
}
