//! Pairing: the long per-install token every request carries, and the short one-time code the
//! app shows so a relay widget can obtain that token once.

use std::sync::{Mutex, RwLock};
use std::time::{Duration, Instant};

use base64::Engine as _;

/// The per-install secret. `Debug` never prints it; only [`PairingToken::expose`] does, for the
/// keyring, `token show` and the `/v1/pair` answer.
#[derive(Clone, PartialEq, Eq)]
pub struct PairingToken(String);

const TOKEN_PREFIX: &str = "cc1_";
const TOKEN_BYTES: usize = 32;

impl PairingToken {
    /// 256 random bits from the OS, base64url, with a prefix that makes a leaked one easy to
    /// recognise (secret scanners, logs).
    pub fn generate() -> Result<PairingToken, getrandom::Error> {
        let mut bytes = [0u8; TOKEN_BYTES];
        getrandom::fill(&mut bytes)?;
        Ok(PairingToken(format!(
            "{TOKEN_PREFIX}{}",
            base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
        )))
    }

    /// A token read back from the keyring; `None` when it is not one of ours.
    pub fn from_stored(text: &str) -> Option<PairingToken> {
        let body = text.trim().strip_prefix(TOKEN_PREFIX)?;
        let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(body)
            .ok()?;
        (bytes.len() == TOKEN_BYTES).then(|| PairingToken(text.trim().to_owned()))
    }

    pub fn expose(&self) -> &str {
        &self.0
    }

    /// Compares in time independent of where the first difference is.
    pub fn matches(&self, presented: &str) -> bool {
        crate::guard::same_secret(self.0.as_bytes(), presented.as_bytes())
    }

    /// HMAC-SHA256 keyed with the token over `context` then `data`, base64url: proves knowledge
    /// of the token without showing it. Each use has its own context (`HELLO_CONTEXT`, the
    /// app's signed links), so a value made for one never fits another.
    pub fn mac(&self, context: &[u8], data: &[u8]) -> String {
        mac(self.expose(), context, data)
    }
}

/// [`PairingToken::mac`] for a token as text (what the relay holds).
pub fn mac(token: &str, context: &[u8], data: &[u8]) -> String {
    use hmac::Mac as _;
    let mut mac = hmac::Hmac::<sha2::Sha256>::new_from_slice(token.as_bytes())
        .expect("HMAC takes a key of any length");
    mac.update(context);
    mac.update(data);
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(mac.finalize().into_bytes())
}

/// What the app signs to prove, on `/v1/status?challenge=…`, that it holds the pairing token a
/// relay widget holds: a program squatting the port cannot, so the widget sends it nothing.
pub const HELLO_CONTEXT: &[u8] = b"callcompanion-hello-v1\n";

impl std::fmt::Debug for PairingToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("PairingToken(<redacted>)")
    }
}

/// How long a code shown in the app stays valid, and how many wrong guesses burn it.
pub const CODE_LIFETIME: Duration = Duration::from_secs(5 * 60);
pub const CODE_ATTEMPTS: u32 = 5;

/// A one-time code as the app shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PairingCode {
    pub code: String,
    pub expires_in: Duration,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum RedeemError {
    #[error("no pairing code is open: open Settings in Call Companion to show one")]
    NoCode,
    #[error("the pairing code has expired: Call Companion shows a new one in Settings")]
    Expired,
    #[error("wrong pairing code; {left} attempts left")]
    Wrong { left: u32 },
    #[error("too many wrong pairing codes: Call Companion shows a new one in Settings")]
    Burned,
}

struct OpenCode {
    code: String,
    issued: Instant,
    attempts_left: u32,
}

/// The token and the open code, shared by the listener and the app's settings screen.
pub struct Pairing {
    token: RwLock<PairingToken>,
    code: Mutex<Option<OpenCode>>,
}

impl Pairing {
    pub fn new(token: PairingToken) -> Pairing {
        Pairing {
            token: RwLock::new(token),
            code: Mutex::new(None),
        }
    }

    pub fn token(&self) -> PairingToken {
        self.token.read().unwrap_or_else(|e| e.into_inner()).clone()
    }

    /// Replaces the token (rotation): every paired widget must pair again.
    pub fn set_token(&self, token: PairingToken) {
        *self.token.write().unwrap_or_else(|e| e.into_inner()) = token;
        *self.code.lock().unwrap_or_else(|e| e.into_inner()) = None;
    }

    /// The open code, or a new one when none is open or the last one expired or was used.
    pub fn current_code(&self, now: Instant) -> Result<PairingCode, getrandom::Error> {
        let mut slot = self.code.lock().unwrap_or_else(|e| e.into_inner());
        let reusable = slot.as_ref().is_some_and(|open| {
            open.attempts_left > 0 && now.duration_since(open.issued) < CODE_LIFETIME
        });
        if !reusable {
            *slot = Some(OpenCode {
                code: six_digits()?,
                issued: now,
                attempts_left: CODE_ATTEMPTS,
            });
        }
        let open = slot.as_ref().expect("set above");
        Ok(PairingCode {
            code: open.code.clone(),
            expires_in: CODE_LIFETIME.saturating_sub(now.duration_since(open.issued)),
        })
    }

    /// Exchanges a code for the token. A code works once; wrong guesses count against it.
    pub fn redeem(&self, presented: &str, now: Instant) -> Result<PairingToken, RedeemError> {
        let mut slot = self.code.lock().unwrap_or_else(|e| e.into_inner());
        let Some(open) = slot.as_mut() else {
            return Err(RedeemError::NoCode);
        };
        if open.attempts_left == 0 {
            return Err(RedeemError::Burned);
        }
        if now.duration_since(open.issued) >= CODE_LIFETIME {
            *slot = None;
            return Err(RedeemError::Expired);
        }
        let presented: String = presented
            .chars()
            .filter(|c| !c.is_whitespace() && *c != '-')
            .collect();
        if PairingToken(open.code.clone()).matches(&presented) {
            *slot = None;
            return Ok(self.token());
        }
        open.attempts_left -= 1;
        match open.attempts_left {
            0 => Err(RedeemError::Burned),
            left => Err(RedeemError::Wrong { left }),
        }
    }
}

/// A uniformly random six-digit code (rejection sampling: no modulo bias).
fn six_digits() -> Result<String, getrandom::Error> {
    loop {
        let mut bytes = [0u8; 4];
        getrandom::fill(&mut bytes)?;
        let n = u32::from_le_bytes(bytes);
        if n < u32::MAX - u32::MAX % 1_000_000 {
            return Ok(format!("{:06}", n % 1_000_000));
        }
    }
}
