//! Who may talk to the listener: checks on the peer, `Host`, `Origin` and the bearer token.
//! Pure functions over header values, so each rule is tested on its own.

use std::net::IpAddr;

/// Only this machine: the listener binds loopback, and this re-checks the accepted peer.
pub fn peer_allowed(peer: IpAddr) -> bool {
    match peer {
        IpAddr::V4(v4) => v4.is_loopback(),
        IpAddr::V6(v6) => {
            v6.is_loopback() || v6.to_ipv4_mapped().is_some_and(|v4| v4.is_loopback())
        }
    }
}

/// DNS rebinding defence: a page on `evil.example` that resolves to 127.0.0.1 still sends
/// `Host: evil.example:47600`. Only the loopback names with our port pass.
pub fn host_allowed(host: Option<&str>, port: u16) -> bool {
    let Some(host) = host else { return false };
    let host = host.trim().to_ascii_lowercase();
    ["127.0.0.1", "localhost", "[::1]"]
        .iter()
        .any(|name| host == format!("{name}:{port}"))
}

/// Origins the listener answers, normalised (`scheme://host[:port]`, lower case, no path).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct OriginAllowList(Vec<String>);

impl OriginAllowList {
    /// Entries that are not a plain origin are refused, so a typo cannot open the door.
    pub fn new<I, S>(origins: I) -> Result<OriginAllowList, String>
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        let mut list = Vec::new();
        for origin in origins {
            let origin = origin.as_ref();
            let normal = normalise_origin(origin).ok_or_else(|| {
                format!("{origin:?} is not an origin (expected https://host or https://host:port)")
            })?;
            if !list.contains(&normal) {
                list.push(normal);
            }
        }
        Ok(OriginAllowList(list))
    }

    pub fn allows(&self, origin: &str) -> bool {
        normalise_origin(origin).is_some_and(|o| self.0.contains(&o))
    }

    pub fn as_slice(&self) -> &[String] {
        &self.0
    }
}

pub(crate) fn normalise_origin(origin: &str) -> Option<String> {
    let origin = origin.trim().to_ascii_lowercase();
    let (scheme, rest) = origin.split_once("://")?;
    if !matches!(scheme, "https" | "http") || rest.is_empty() {
        return None;
    }
    let rest = rest.strip_suffix('/').unwrap_or(rest);
    let valid = rest
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | ':' | '[' | ']'));
    let default_port = if scheme == "https" { ":443" } else { ":80" };
    let rest = rest.strip_suffix(default_port).unwrap_or(rest);
    valid.then(|| format!("{scheme}://{rest}"))
}

/// Whether two origins are the same (`https://Acme.bitrix24.ru:443` = `https://acme.bitrix24.ru`).
pub fn same_origin(a: &str, b: &str) -> bool {
    matches!((normalise_origin(a), normalise_origin(b)), (Some(a), Some(b)) if a == b)
}

/// Compares two secrets in time that depends on their length only.
pub fn same_secret(a: &[u8], b: &[u8]) -> bool {
    use subtle::ConstantTimeEq;
    a.ct_eq(b).into()
}

/// The token from `Authorization: Bearer <token>`; the scheme is case-insensitive.
pub fn bearer(authorization: Option<&str>) -> Option<&str> {
    let value = authorization?.trim();
    let (scheme, token) = value.split_once(' ')?;
    scheme
        .eq_ignore_ascii_case("bearer")
        .then(|| token.trim())
        .filter(|t| !t.is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn peers() {
        assert!(peer_allowed("127.0.0.1".parse().unwrap()));
        assert!(peer_allowed("::1".parse().unwrap()));
        assert!(peer_allowed("::ffff:127.0.0.1".parse().unwrap()));
        assert!(!peer_allowed("192.168.1.5".parse().unwrap()));
        assert!(!peer_allowed("::ffff:10.0.0.1".parse().unwrap()));
    }

    #[test]
    fn hosts() {
        for ok in [
            "127.0.0.1:47600",
            "localhost:47600",
            "LOCALHOST:47600",
            "[::1]:47600",
        ] {
            assert!(host_allowed(Some(ok), 47600), "{ok}");
        }
        for bad in [
            None,
            Some("127.0.0.1"),
            Some("127.0.0.1:80"),
            Some("evil.example:47600"),
            Some("localhost.evil.example:47600"),
            Some(""),
        ] {
            assert!(!host_allowed(bad, 47600), "{bad:?}");
        }
    }

    #[test]
    fn origins() {
        let list = OriginAllowList::new([
            "https://Acme.Bitrix24.ru/",
            "https://relay.example:8443",
            "http://localhost:5173",
        ])
        .unwrap();
        assert!(list.allows("https://acme.bitrix24.ru"));
        assert!(list.allows("https://acme.bitrix24.ru:443"));
        assert!(list.allows("https://relay.example:8443"));
        assert!(list.allows("http://localhost:5173"));
        for bad in [
            "null",
            "https://acme.bitrix24.ru.evil.example",
            "http://acme.bitrix24.ru",
            "https://relay.example",
            "file://",
            "",
        ] {
            assert!(!list.allows(bad), "{bad}");
        }
        assert!(OriginAllowList::new(["acme.bitrix24.ru"]).is_err());
        assert!(OriginAllowList::new(["https://acme.bitrix24.ru/path"]).is_err());
    }

    #[test]
    fn bearer_tokens() {
        assert_eq!(bearer(Some("Bearer abc")), Some("abc"));
        assert_eq!(bearer(Some("bearer   abc ")), Some("abc"));
        assert_eq!(bearer(Some("Basic abc")), None);
        assert_eq!(bearer(Some("Bearer ")), None);
        assert_eq!(bearer(None), None);
    }
}
