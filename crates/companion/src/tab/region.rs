//! Bitrix24's two regions: the OAuth server and the JS library's address differ for Russian
//! portals (the Russian docs: `oauth.bitrix24.tech`, `api.bitrix24.tech` since 2026-02,
//! `sdk/bx24-js-sdk/index.md`) and international ones (the English docs: `oauth.bitrix.info`,
//! `api.bitrix24.com`). Which one a portal is in, when nothing says: guessed from its domain.

use crate::portal::address::PortalAddress;

/// The OAuth servers a call card may name (`settings/oauth/index.md`); IT's policy may name another.
const KNOWN_OAUTH_SERVERS: &[&str] = &["oauth.bitrix.info", "oauth.bitrix24.tech"];

/// Russian-region portals by their domain (`.ru`, `.by`, `.kz`): a guess, used only when neither
/// IT's policy nor the portal names the OAuth server.
fn looks_russian(portal_domain: &str) -> bool {
    let host = portal_domain
        .split(':')
        .next()
        .unwrap_or_default()
        .to_ascii_lowercase();
    [".ru", ".by", ".kz"].iter().any(|tld| host.ends_with(tld))
}

/// Where a session begun from the call card is refreshed: IT's server, else the one the call
/// card names if it is one of Bitrix24's, else the region's by the portal's domain.
pub fn oauth_server(
    policy: Option<&str>,
    server_endpoint: Option<&str>,
    portal_domain: &str,
) -> String {
    if let Some(server) = policy.map(str::trim).filter(|s| !s.is_empty()) {
        return PortalAddress::parse(server)
            .map(|a| a.base)
            .unwrap_or_else(|_| server.trim_end_matches('/').to_owned());
    }
    let named = server_endpoint
        .and_then(|e| url::Url::parse(e).ok())
        .filter(|u| u.scheme() == "https")
        .and_then(|u| u.host_str().map(str::to_ascii_lowercase))
        .filter(|host| KNOWN_OAUTH_SERVERS.contains(&host.as_str()));
    match named {
        Some(host) => format!("https://{host}"),
        None if looks_russian(portal_domain) => "https://oauth.bitrix24.tech".to_owned(),
        None => "https://oauth.bitrix.info".to_owned(),
    }
}

/// Bitrix24's JS library at the portal's regional address.
pub fn library_url(portal_domain: &str, oauth_server: Option<&str>) -> &'static str {
    const INTERNATIONAL: &str = "https://api.bitrix24.com/api/v1/";
    const RUSSIAN: &str = "https://api.bitrix24.tech/api/v1/";
    match oauth_server {
        Some(server) if server.contains("oauth.bitrix24.tech") => RUSSIAN,
        Some(server) if server.contains("oauth.bitrix.info") => INTERNATIONAL,
        _ if looks_russian(portal_domain) => RUSSIAN,
        _ => INTERNATIONAL,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_library_and_the_oauth_server_follow_the_region() {
        assert_eq!(
            library_url("acme.bitrix24.ru", None),
            "https://api.bitrix24.tech/api/v1/"
        );
        assert_eq!(
            library_url("acme.bitrix24.com", None),
            "https://api.bitrix24.com/api/v1/"
        );
        assert_eq!(
            library_url("crm.acme.com", Some("https://oauth.bitrix24.tech")),
            "https://api.bitrix24.tech/api/v1/"
        );
        let server = |policy, endpoint, domain| oauth_server(policy, endpoint, domain);
        assert_eq!(
            server(None, Some("https://oauth.bitrix24.tech/rest/"), "acme.com"),
            "https://oauth.bitrix24.tech"
        );
        assert_eq!(
            server(
                None,
                Some("https://evil.example/rest/"),
                "acme.bitrix24.com"
            ),
            "https://oauth.bitrix.info"
        );
        assert_eq!(
            server(
                None,
                Some("http://oauth.bitrix24.tech/rest/"),
                "acme.bitrix24.com"
            ),
            "https://oauth.bitrix.info"
        );
        assert_eq!(
            server(None, None, "acme.bitrix24.ru"),
            "https://oauth.bitrix24.tech"
        );
        assert_eq!(
            server(Some("https://sso.example.com/"), None, "acme.bitrix24.ru"),
            "https://sso.example.com"
        );
    }
}
