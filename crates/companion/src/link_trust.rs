//! Signed deep links. Any web page (after the browser's prompt) or local program can open a
//! `callcompanion://` link, so a link proves nothing by itself. The relay widget signs each link
//! it builds with the pairing token it shares with this app only (HMAC-SHA256 over a fixed
//! context and the link's query, appended as a last `sig` parameter, base64url); the app checks
//! the signature with its own token. A link without a valid signature is shown as
//! *unverified*: it may pop a new call, but never changes a call the app knows and never sends
//! a note (the rules in `desk.rs` and `note_rules.rs`).

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
    let want = listener::token_mac(token, CONTEXT, signed.as_bytes());
    let trust = if listener::same_secret(want.as_bytes(), sig.as_bytes()) {
        Trust::Signed
    } else {
        Trust::BadSignature
    };
    (unsigned_link.to_owned(), trust)
}

/// `link` signed with `token`, as the relay signs it (`relay/relay.js`).
pub fn sign(link: &str, token: &str) -> String {
    let query = link.split_once('?').map(|(_, q)| q).unwrap_or_default();
    let sig = listener::token_mac(token, CONTEXT, query.as_bytes());
    format!("{link}{SIG}{sig}")
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

    /// The relay signs in the browser with WebCrypto (`relay/relay.js`); the value here was
    /// computed apart from this code (Python's `hmac` over the context and the query).
    #[test]
    fn the_signature_is_hmac_sha256_of_the_context_and_the_query() {
        let signed = sign("callcompanion://call-card?p=abc", "k");
        assert_eq!(
            signed.rsplit_once("&sig=").unwrap().1,
            "D_UgFRPKDd8iPRsJoygZaqVZTzAUUym6Kcgrc4E4v-c"
        );
    }
}
