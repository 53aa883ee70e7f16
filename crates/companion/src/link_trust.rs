//! Signed deep links. Any web page (after the browser's prompt) or local program can open a
//! `callcompanion://` link, so a link proves nothing by itself. The relay widget signs each link
//! it builds with the pairing token it shares with this app only (HMAC-SHA256 over a fixed
//! context and the link's query, appended as a last `sig` parameter, base64url); the app checks
//! the signature with its own token. A link without a valid signature is shown as
//! *unverified*: it may pop a new call, but never changes a call the app knows and never sends
//! a note (the rules in `desk.rs` and `note_rules.rs`).

use base64::Engine as _;
use hmac::{Hmac, Mac};
use sha2::Sha256;

/// Signed before the query, so a signature made for something else never fits a link.
const CONTEXT: &[u8] = b"callcompanion-link-v1\n";
const SIG: &str = "&sig=";

/// What the app can tell of a link's origin.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Trust {
    /// Signed with this app's pairing token: built by the agent's own paired relay.
    Signed,
    /// No signature (typed by hand, an older relay, a relay not paired yet).
    Unsigned,
    /// A signature that does not match: another app's pairing, a token rotated since, or forged.
    BadSignature,
}

/// The link as the parser should read it (without its signature), and whether it is signed.
pub fn check(link: &str, token: &str) -> (String, Trust) {
    let link = link.trim();
    let (head, fragment) = match link.split_once('#') {
        Some((head, _)) => (head, true),
        None => (link, false),
    };
    let Some((_, query)) = head.split_once('?') else {
        return (link.to_owned(), Trust::Unsigned);
    };
    let Some((signed, sig)) = query.rsplit_once(SIG) else {
        return (link.to_owned(), Trust::Unsigned);
    };
    let unsigned_link = &head[..head.len() - sig.len() - SIG.len()];
    // A fragment after a signature is not signed: the link is read as if unsigned.
    if fragment {
        return (unsigned_link.to_owned(), Trust::BadSignature);
    }
    let Ok(sig) = base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(sig) else {
        return (unsigned_link.to_owned(), Trust::BadSignature);
    };
    let trust = if mac(token, signed).verify_slice(&sig).is_ok() {
        Trust::Signed
    } else {
        Trust::BadSignature
    };
    (unsigned_link.to_owned(), trust)
}

/// `link` signed with `token`, as the relay signs it (`relay/relay.js`).
pub fn sign(link: &str, token: &str) -> String {
    let query = link.split_once('?').map(|(_, q)| q).unwrap_or_default();
    let sig = mac(token, query).finalize().into_bytes();
    format!(
        "{link}{SIG}{}",
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(sig)
    )
}

fn mac(token: &str, query: &str) -> Hmac<Sha256> {
    let mut mac =
        Hmac::<Sha256>::new_from_slice(token.as_bytes()).expect("HMAC takes a key of any length");
    mac.update(CONTEXT);
    mac.update(query.as_bytes());
    mac
}

#[cfg(test)]
mod tests {
    use super::*;

    const LINK: &str = "callcompanion://call-card?p=eyJ2IjoxfQ";

    #[test]
    fn a_link_signed_with_the_token_is_signed_and_read_without_its_signature() {
        let signed = sign(LINK, "token-a");
        assert!(signed.starts_with(&format!("{LINK}&sig=")), "{signed}");
        assert_eq!(check(&signed, "token-a"), (LINK.to_owned(), Trust::Signed));
    }

    #[test]
    fn another_token_a_changed_query_or_a_mangled_signature_is_not_signed() {
        let signed = sign(LINK, "token-a");
        assert_eq!(check(&signed, "token-b").1, Trust::BadSignature);
        let changed = signed.replace("p=eyJ2IjoxfQ", "p=eyJ2IjoyfQ");
        assert_eq!(check(&changed, "token-a").1, Trust::BadSignature);
        assert_eq!(
            check(&format!("{signed}x"), "token-a").1,
            Trust::BadSignature
        );
        assert_eq!(
            check(&format!("{LINK}&sig=%%%"), "token-a").1,
            Trust::BadSignature
        );
        assert_eq!(
            check(&format!("{signed}#frag"), "token-a"),
            (LINK.to_owned(), Trust::BadSignature)
        );
    }

    #[test]
    fn a_link_without_a_signature_is_unsigned_and_unchanged() {
        assert_eq!(check(LINK, "token-a"), (LINK.to_owned(), Trust::Unsigned));
        let fields = "callcompanion://call-card?CALL_ID=1&PHONE_NUMBER=%2B7900";
        assert_eq!(check(fields, "t"), (fields.to_owned(), Trust::Unsigned));
        assert_eq!(check("callcompanion://call-card", "t").1, Trust::Unsigned);
    }

    /// The relay signs in the browser with WebCrypto (`relay/relay.js`); this is the value both
    /// must compute for the same token and query (the relay's browser test checks its side).
    #[test]
    fn the_signature_is_hmac_sha256_of_the_context_and_the_query() {
        let signed = sign("callcompanion://call-card?p=abc", "k");
        let sig = signed.rsplit_once("&sig=").unwrap().1;
        let mut mac = Hmac::<Sha256>::new_from_slice(b"k").unwrap();
        mac.update(b"callcompanion-link-v1\np=abc");
        let want =
            base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(mac.finalize().into_bytes());
        assert_eq!(sig, want);
    }
}
