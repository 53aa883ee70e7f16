//! Pairing as Settings shows it: the one-time code, and rotating the token (kept in the
//! keyring when there is one, for this run only when there is not).

use std::sync::Arc;
use std::time::Instant;

use listener::{Pairing, PairingToken};

use crate::secrets::{Keyring, SecretError};
use crate::status::PairingInfo;
use crate::ErrorBody;

pub struct PairingDesk {
    pairing: Arc<Pairing>,
    keyring: Option<Keyring>,
}

impl PairingDesk {
    /// Loads the token from `keyring` (creating it on first start). Without a usable keyring
    /// the token lives in memory for this run; the warning says why, for the log.
    pub fn open(keyring: Keyring) -> (PairingDesk, Option<SecretError>) {
        match keyring.pairing_token_or_create() {
            Ok(token) => (
                PairingDesk {
                    pairing: Arc::new(Pairing::new(token)),
                    keyring: Some(keyring),
                },
                None,
            ),
            Err(e) => (PairingDesk::ephemeral(), Some(e)),
        }
    }

    /// A token for this run only (tests, or no keyring).
    pub fn ephemeral() -> PairingDesk {
        let token = PairingToken::generate().expect("the OS random source works");
        PairingDesk {
            pairing: Arc::new(Pairing::new(token)),
            keyring: None,
        }
    }

    pub fn pairing(&self) -> Arc<Pairing> {
        self.pairing.clone()
    }

    pub fn info(&self) -> Result<PairingInfo, ErrorBody> {
        let code = self.pairing.current_code(Instant::now()).map_err(|e| {
            ErrorBody::new(
                codes::ErrorCode::RandomUnavailable,
                format!("cannot create a pairing code: {e}"),
            )
        })?;
        Ok(PairingInfo {
            code: code.code,
            expires_in_secs: code.expires_in.as_secs() as u32,
            token_in_keyring: self.keyring.is_some(),
        })
    }

    /// A new token; every paired widget must pair again with a new code.
    pub fn rotate(&self) -> Result<PairingInfo, ErrorBody> {
        let token = match &self.keyring {
            Some(keyring) => keyring
                .rotate_pairing_token()
                .map_err(|e| ErrorBody::new(e.code(), e.to_string()))?,
            None => PairingToken::generate()
                .map_err(|e| ErrorBody::new(codes::ErrorCode::RandomUnavailable, e.to_string()))?,
        };
        self.pairing.set_token(token);
        tracing::info!("pairing token rotated");
        self.info()
    }
}
