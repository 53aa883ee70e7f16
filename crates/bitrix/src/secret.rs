//! A string that must never be shown: no `Display`, a redacted `Debug`. Serialises as the plain
//! string, because the keyring is the one place it is written to.

use serde::{Deserialize, Serialize};

#[derive(Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(transparent)]
pub struct Secret(String);

impl Secret {
    pub fn new(value: impl Into<String>) -> Secret {
        Secret(value.into())
    }

    /// The value, for the one place that sends it (a request body, the keyring).
    pub fn expose(&self) -> &str {
        &self.0
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Secret(***)")
    }
}

/// Replaces every occurrence of each secret (of a length worth hiding) with `***`.
pub(crate) fn scrub(text: &str, secrets: &[&Secret]) -> String {
    let mut text = text.to_owned();
    for secret in secrets {
        if secret.0.len() >= 4 {
            text = text.replace(&secret.0, "***");
        }
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_hides_the_value_and_scrub_removes_it() {
        let s = Secret::new("abcd1234");
        assert_eq!(format!("{s:?}"), "Secret(***)");
        assert_eq!(scrub("token abcd1234 here", &[&s]), "token *** here");
    }
}
