//! Bitrix24's two regions: the OAuth server and the JS library's address differ for Russian
//! portals (the Russian docs: `oauth.bitrix24.tech`, `api.bitrix24.tech` since 2026-02,
//! `sdk/bx24-js-sdk/index.md`) and international ones (the English docs: `oauth.bitrix.info`,
//! `api.bitrix24.com`). Which server a session uses: IT's, else the one the portal names (the
//! sign-in redirect's `server_domain`, the call card's `SERVER_ENDPOINT`) when it is one of
//! Bitrix24's; only a call card that names none falls back to a guess from the portal's domain.

use crate::portal::address::PortalAddress;

/// The OAuth servers a portal may name (`settings/oauth/index.md`); IT's policy may name another.
const KNOWN_OAUTH_SERVERS: [&str; 2] = bitrix::OAUTH_SERVERS;

/// Russian-region portals by their domain (`.ru`, `.by`, `.kz`): a guess, used only when neither
/// IT's policy nor the call card names the OAuth server (*unverified* for portals on their own
/// domain).
fn looks_russian(portal_domain: &str) -> bool {
    let host = portal_domain
        .split(':')
        .next()
        .unwrap_or_default()
        .to_ascii_lowercase();
    [".ru", ".by", ".kz"].iter().any(|tld| host.ends_with(tld))
}

/// `https://oauth.bitrix.info` for a host that is one of Bitrix24's OAuth servers.
fn known(host: &str) -> Option<String> {
    let host = host.trim().trim_end_matches('.').to_ascii_lowercase();
    KNOWN_OAUTH_SERVERS
        .contains(&host.as_str())
        .then(|| format!("https://{host}"))
}

/// IT's server (or the one the agent typed in the sign-in form's advanced field), as a base URL.
fn configured(server: Option<&str>) -> Option<String> {
    let server = server.map(str::trim).filter(|s| !s.is_empty())?;
    Some(
        PortalAddress::parse(server)
            .map(|a| a.base)
            .unwrap_or_else(|_| server.trim_end_matches('/').to_owned()),
    )
}

/// Where a session begun from the call card is refreshed: IT's server, else the one the call
/// card names if it is one of Bitrix24's, else the region's by the portal's domain.
pub fn oauth_server(
    policy: Option<&str>,
    server_endpoint: Option<&str>,
    portal_domain: &str,
) -> String {
    if let Some(server) = configured(policy) {
        return server;
    }
    let named = server_endpoint
        .and_then(|e| url::Url::parse(e).ok())
        .filter(|u| u.scheme() == "https" && u.port().is_none())
        .and_then(|u| u.host_str().and_then(known));
    match named {
        Some(server) => server,
        None if looks_russian(portal_domain) => "https://oauth.bitrix24.tech".to_owned(),
        None => "https://oauth.bitrix.info".to_owned(),
    }
}

/// Where a session begun in the browser is kept and refreshed (`settings/oauth/index.md`: the
/// redirect's `server_domain` names the authorization server): IT's (or the agent's) server when
/// set, else `server_domain` when it is one of Bitrix24's. Anything else is refused: a redirect
/// never sends the client secret to a host of its choosing.
pub fn oauth_server_from_redirect(
    configured_server: Option<&str>,
    server_domain: &str,
) -> Result<String, String> {
    if let Some(server) = configured(configured_server) {
        if !server_domain.is_empty() && known(server_domain).is_some_and(|named| named != server) {
            tracing::info!(
                server_domain,
                "the portal names another OAuth server than the one set; the one set is used"
            );
        }
        return Ok(server);
    }
    known(server_domain).ok_or_else(|| {
        if server_domain.trim().is_empty() {
            "the portal did not say which OAuth server signed you in (no server_domain)".to_owned()
        } else {
            format!(
                "the portal named the OAuth server {server_domain:?}, which is not one of \
                 Bitrix24's ({})",
                KNOWN_OAUTH_SERVERS.join(", ")
            )
        }
    })
}

/// Where the OAuth servers are reached: at their own address, except in tests, which stand the
/// simulator in for Bitrix24's servers. Only a server of [`KNOWN_OAUTH_SERVERS`] is mapped, and
/// the stand-in is set in code (`PortalDesk::with_oauth_stand_in`), never by what a portal or a
/// redirect says: a redirect cannot pick a host by it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct OAuthServers {
    stand_in: Option<String>,
}

impl OAuthServers {
    /// Bitrix24's servers are reached at `url` (the simulator's address).
    pub fn stood_in_by(url: &str) -> OAuthServers {
        OAuthServers {
            stand_in: Some(url.trim_end_matches('/').to_owned()),
        }
    }

    /// The address token requests for `server` (a base URL such as `https://oauth.bitrix.info`)
    /// go to.
    pub fn reach(&self, server: &str) -> String {
        let host = url::Url::parse(server)
            .ok()
            .filter(|u| u.scheme() == "https" && u.port().is_none())
            .and_then(|u| u.host_str().and_then(known));
        match (&self.stand_in, host) {
            (Some(stand_in), Some(_)) => stand_in.clone(),
            _ => server.to_owned(),
        }
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

    #[test]
    fn a_redirect_names_one_of_bitrix24s_servers_or_nothing_is_trusted() {
        let cases: &[(Option<&str>, &str, Result<&str, &str>)] = &[
            (None, "oauth.bitrix.info", Ok("https://oauth.bitrix.info")),
            (
                None,
                "OAUTH.bitrix24.tech",
                Ok("https://oauth.bitrix24.tech"),
            ),
            (None, "evil.example", Err("not one of Bitrix24's")),
            (None, "oauth.bitrix.info.evil.example", Err("not one of")),
            (None, "oauth.bitrix.info:8443", Err("not one of")),
            (None, "", Err("no server_domain")),
            // IT's server (or the agent's typed one) stands whatever the redirect says.
            (
                Some("https://sso.example.com/"),
                "evil.example",
                Ok("https://sso.example.com"),
            ),
            (
                Some(" "),
                "oauth.bitrix.info",
                Ok("https://oauth.bitrix.info"),
            ),
        ];
        for (configured, server_domain, expected) in cases {
            match (
                oauth_server_from_redirect(*configured, server_domain),
                expected,
            ) {
                (Ok(got), Ok(want)) => assert_eq!(&got, want, "{server_domain}"),
                (Err(got), Err(says)) => assert!(got.contains(says), "{server_domain}: {got}"),
                (got, want) => panic!("{server_domain}: {got:?}, expected {want:?}"),
            }
        }
    }

    #[test]
    fn only_bitrix24s_servers_are_stood_in_for() {
        let sim = OAuthServers::stood_in_by("http://127.0.0.1:9000/");
        assert_eq!(
            sim.reach("https://oauth.bitrix.info"),
            "http://127.0.0.1:9000"
        );
        assert_eq!(
            sim.reach("https://oauth.bitrix24.tech"),
            "http://127.0.0.1:9000"
        );
        assert_eq!(
            sim.reach("https://sso.example.com"),
            "https://sso.example.com"
        );
        assert_eq!(
            sim.reach("http://oauth.bitrix.info"),
            "http://oauth.bitrix.info"
        );
        let production = OAuthServers::default();
        assert_eq!(
            production.reach("https://oauth.bitrix.info"),
            "https://oauth.bitrix.info"
        );
    }
}
