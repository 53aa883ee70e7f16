//! Portal secrets (OAuth tokens, the client secret, the webhook URL) in the OS keyring, or, when
//! the agent chose so because the keyring is unavailable, in memory for this run only. Never in
//! a file.

use std::collections::HashMap;
use std::sync::Mutex;

use crate::secrets::{Keyring, SecretError};

pub const OAUTH_TOKENS: &str = "portal-oauth-tokens";
pub const CLIENT_SECRET: &str = "portal-client-secret";
pub const WEBHOOK_URL: &str = "portal-webhook-url";
pub const ALL: &[&str] = &[OAUTH_TOKENS, CLIENT_SECRET, WEBHOOK_URL];

pub struct Vault {
    keyring: Keyring,
    memory: Mutex<HashMap<&'static str, String>>,
}

impl Vault {
    pub fn new(keyring: Keyring) -> Vault {
        Vault {
            keyring,
            memory: Mutex::new(HashMap::new()),
        }
    }

    /// Whether the keyring answers at all.
    pub fn probe(&self) -> Result<(), SecretError> {
        self.keyring.get("probe").map(|_| ())
    }

    pub fn put(
        &self,
        account: &'static str,
        secret: &str,
        session_only: bool,
    ) -> Result<(), SecretError> {
        if session_only {
            self.memory
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .insert(account, secret.to_owned());
            Ok(())
        } else {
            self.keyring.set(account, secret)?;
            // The keyring has the newest now; a copy kept in memory while it was away is stale.
            self.memory
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .remove(account);
            Ok(())
        }
    }

    pub fn get(&self, account: &'static str) -> Result<Option<String>, SecretError> {
        if let Some(secret) = self
            .memory
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get(account)
        {
            return Ok(Some(secret.clone()));
        }
        self.keyring.get(account)
    }

    /// Removes every portal secret, from memory and from the keyring.
    pub fn clear(&self) -> Result<(), SecretError> {
        self.memory
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clear();
        ALL.iter()
            .try_for_each(|account| self.keyring.delete(account))
    }
}
