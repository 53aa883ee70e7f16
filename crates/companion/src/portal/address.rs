//! What the agent types as the portal, and the incoming-webhook URL, checked and normalised.

use crate::portal::PortalError;

/// A portal's base address: `https://acme.bitrix24.ru` (plain `http` only on this computer,
/// for the simulator).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PortalAddress {
    /// `scheme://host[:port]`, no trailing slash.
    pub base: String,
    /// The host, as the UI shows it.
    pub domain: String,
}

impl PortalAddress {
    /// Accepts `acme.bitrix24.ru`, `https://acme.bitrix24.ru/crm/…` (the path is dropped) and
    /// `http://127.0.0.1:PORT`.
    pub fn parse(input: &str) -> Result<PortalAddress, PortalError> {
        let input = input.trim();
        if input.is_empty() {
            return Err(PortalError::BadAddress(
                "enter the portal address, such as acme.bitrix24.ru".into(),
            ));
        }
        let with_scheme = if input.contains("://") {
            input.to_owned()
        } else {
            format!("https://{input}")
        };
        let url = url::Url::parse(&with_scheme)
            .map_err(|_| PortalError::BadAddress(format!("{input:?} is not a web address")))?;
        let host = url
            .host_str()
            .filter(|h| !h.is_empty())
            .ok_or_else(|| PortalError::BadAddress(format!("{input:?} has no host name")))?;
        let loopback = matches!(host, "127.0.0.1" | "localhost" | "[::1]");
        match url.scheme() {
            "https" => {}
            "http" if loopback => {}
            scheme => {
                return Err(PortalError::BadAddress(format!(
                    "the portal must be reached over https, not {scheme}"
                )))
            }
        }
        if !url.username().is_empty() || url.password().is_some() {
            return Err(PortalError::BadAddress(
                "the address must not contain a user name or password".into(),
            ));
        }
        if !loopback && !host.contains('.') {
            return Err(PortalError::BadAddress(format!(
                "{host:?} is not a full host name (such as acme.bitrix24.ru)"
            )));
        }
        let port = url.port().map(|p| format!(":{p}")).unwrap_or_default();
        let domain = format!("{host}{port}");
        Ok(PortalAddress {
            base: format!("{}://{domain}", url.scheme()),
            domain,
        })
    }
}

/// An incoming webhook: `https://{portal}/rest/{user_id}/{secret}/`, as Bitrix24 shows it (a
/// method name pasted along with it is dropped).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WebhookUrl {
    pub address: PortalAddress,
    pub user_id: u64,
    /// The URL the client calls methods under, ending with `/`. Holds the secret.
    pub url: String,
}

impl WebhookUrl {
    pub fn parse(input: &str) -> Result<WebhookUrl, PortalError> {
        let input = input.trim();
        let bad = || {
            PortalError::BadWebhook(
                "expected https://<portal>/rest/<user id>/<secret>/ as Bitrix24 shows it".into(),
            )
        };
        let url = url::Url::parse(input).map_err(|_| bad())?;
        let address =
            PortalAddress::parse(&url.origin().ascii_serialization()).map_err(|e| match e {
                PortalError::BadAddress(reason) => PortalError::BadWebhook(reason),
                other => other,
            })?;
        let segments: Vec<&str> = url
            .path_segments()
            .map(|s| s.filter(|p| !p.is_empty()).collect())
            .unwrap_or_default();
        match segments.as_slice() {
            ["rest", user, secret, ..] => {
                let user_id = user
                    .parse::<u64>()
                    .ok()
                    .filter(|u| *u > 0)
                    .ok_or_else(bad)?;
                if secret.len() < 8 || !secret.chars().all(|c| c.is_ascii_alphanumeric()) {
                    return Err(bad());
                }
                Ok(WebhookUrl {
                    url: format!("{}/rest/{user_id}/{secret}/", address.base),
                    address,
                    user_id,
                })
            }
            _ => Err(bad()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses() {
        let ok = |input: &str, base: &str| {
            assert_eq!(PortalAddress::parse(input).unwrap().base, base, "{input}")
        };
        ok("acme.bitrix24.ru", "https://acme.bitrix24.ru");
        ok(
            " https://Acme.Bitrix24.ru/crm/deal/ ",
            "https://acme.bitrix24.ru",
        );
        ok("http://127.0.0.1:8080/", "http://127.0.0.1:8080");
        for bad in [
            "",
            "http://acme.bitrix24.ru",
            "acme",
            "https://user:pw@acme.bitrix24.ru",
            "ftp://acme.bitrix24.ru",
        ] {
            assert!(PortalAddress::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn webhooks() {
        let hook =
            WebhookUrl::parse("https://acme.bitrix24.ru/rest/1/a1b2c3d4e5f6g7h8/profile.json")
                .unwrap();
        assert_eq!(
            (hook.user_id, hook.url.as_str()),
            (1, "https://acme.bitrix24.ru/rest/1/a1b2c3d4e5f6g7h8/")
        );
        assert_eq!(hook.address.domain, "acme.bitrix24.ru");
        for bad in [
            "https://acme.bitrix24.ru/rest/",
            "https://acme.bitrix24.ru/rest/x/secret123/",
            "http://acme.bitrix24.ru/rest/1/a1b2c3d4e5/",
            "acme",
        ] {
            assert!(WebhookUrl::parse(bad).is_err(), "{bad}");
        }
    }
}
