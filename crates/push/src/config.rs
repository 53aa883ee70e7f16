//! `pull.application.config.get`'s answer (bitrix24-push.md §1.4), read tolerantly, and the
//! connection addresses built from it (§2.1). The private channel id is a bearer secret: it never
//! appears in `Debug`, in errors or in logs.

use serde_json::Value;

/// What the client needs from the config.
#[derive(Clone, PartialEq, Eq)]
pub struct PushConfig {
    pub version: u64,
    /// `websocket_secure`, else `websocket`.
    websocket: Option<String>,
    /// `long_pooling_secure` (the typo is Bitrix24's), else `long_polling`.
    long_polling: Option<String>,
    /// The private channel's signed id: the only channel the app listens on (push-contract.md).
    private_id: String,
    /// Only in the `shared` mode (Bitrix24's cloud push server in front of a self-hosted portal).
    client_id: Option<String>,
    /// Unix seconds: the earlier of the private channel's `end` and the config's `exp`.
    pub expires_at: Option<u64>,
}

impl std::fmt::Debug for PushConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PushConfig")
            .field("version", &self.version)
            .field("websocket", &self.websocket.is_some())
            .field("long_polling", &self.long_polling.is_some())
            .field("shared_mode", &self.client_id.is_some())
            .field("expires_at", &self.expires_at)
            .finish_non_exhaustive()
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ConfigError {
    #[error("the push configuration is not an object")]
    NotObject,
    #[error("the portal's push server is switched off")]
    Disabled,
    #[error("the push configuration has no private channel")]
    NoPrivateChannel,
    #[error("the push configuration names no address to connect to")]
    NoAddress,
    #[error("push server version {0} (JSON-RPC) is not supported")]
    Unsupported(u64),
}

impl PushConfig {
    /// Reads the `result` of `pull.application.config.get`.
    pub fn parse(result: &Value) -> Result<PushConfig, ConfigError> {
        let server = result.get("server").ok_or(ConfigError::NotObject)?;
        if !server.is_object() {
            return Err(ConfigError::NotObject);
        }
        if server.get("server_enabled").and_then(flag) == Some(false) {
            return Err(ConfigError::Disabled);
        }
        let version = server.get("version").and_then(number).unwrap_or(4);
        if version >= 5 {
            return Err(ConfigError::Unsupported(version));
        }
        let url = |secure: &str, plain: &str| {
            [secure, plain]
                .iter()
                .filter_map(|k| server.get(*k).and_then(Value::as_str))
                .map(str::trim)
                .find(|s| !s.is_empty())
                .map(str::to_owned)
        };
        let websocket = if server.get("websocket_enabled").and_then(flag) == Some(false) {
            None
        } else {
            url("websocket_secure", "websocket")
        };
        let long_polling = url("long_pooling_secure", "long_polling");
        if websocket.is_none() && long_polling.is_none() {
            return Err(ConfigError::NoAddress);
        }
        let private = result
            .get("channels")
            .and_then(|c| c.get("private"))
            .ok_or(ConfigError::NoPrivateChannel)?;
        let private_id = private
            .get("id")
            .and_then(Value::as_str)
            .filter(|s| !s.trim().is_empty())
            .ok_or(ConfigError::NoPrivateChannel)?
            .trim()
            .to_owned();
        let client_id = match server.get("mode").and_then(Value::as_str) {
            Some("shared") => result
                .get("clientId")
                .and_then(Value::as_str)
                .map(str::to_owned),
            _ => None,
        };
        let end = private
            .get("end")
            .and_then(Value::as_str)
            .and_then(parse_iso8601);
        let exp = result.get("exp").and_then(number);
        let expires_at = match (end, exp) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        };
        Ok(PushConfig {
            version,
            websocket,
            long_polling,
            private_id,
            client_id,
            expires_at,
        })
    }

    pub fn has_websocket(&self) -> bool {
        self.websocket.is_some()
    }

    pub fn has_long_polling(&self) -> bool {
        self.long_polling.is_some()
    }

    /// The WebSocket address: text mode (no `binaryMode`), the private channel only.
    pub fn websocket_url(&self, mid: Option<&str>) -> Option<String> {
        self.websocket
            .as_deref()
            .map(|base| self.with_query(base, mid))
    }

    pub fn long_polling_url(&self, mid: Option<&str>) -> Option<String> {
        self.long_polling
            .as_deref()
            .map(|base| self.with_query(base, mid))
    }

    fn with_query(&self, base: &str, mid: Option<&str>) -> String {
        let mut url = base.to_owned();
        url.push(if base.contains('?') { '&' } else { '?' });
        url.push_str("CHANNEL_ID=");
        url.push_str(&encode(&self.private_id));
        if let Some(client_id) = &self.client_id {
            url.push_str("&clientId=");
            url.push_str(&encode(client_id));
        }
        if let Some(mid) = mid {
            url.push_str("&mid=");
            url.push_str(&encode(mid));
        }
        url
    }
}

/// `encodeURIComponent`: what the JS clients send (`:` as `%3A`, `/` as `%2F`).
fn encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        match b {
            b'A'..=b'Z'
            | b'a'..=b'z'
            | b'0'..=b'9'
            | b'-'
            | b'_'
            | b'.'
            | b'!'
            | b'~'
            | b'*'
            | b'\''
            | b'('
            | b')' => out.push(b as char),
            _ => out.push_str(&format!("%{b:02X}")),
        }
    }
    out
}

/// `true`/`false`, PHP's `"Y"`/`"N"`, `1`/`0`.
fn flag(v: &Value) -> Option<bool> {
    match v {
        Value::Bool(b) => Some(*b),
        Value::Number(n) => n.as_f64().map(|n| n != 0.0),
        Value::String(s) => match s.trim().to_ascii_uppercase().as_str() {
            "Y" | "TRUE" | "1" => Some(true),
            "N" | "FALSE" | "0" | "" => Some(false),
            _ => None,
        },
        _ => None,
    }
}

fn number(v: &Value) -> Option<u64> {
    match v {
        Value::Number(n) => n.as_u64().or_else(|| n.as_f64().map(|f| f as u64)),
        Value::String(s) => s.trim().parse().ok(),
        _ => None,
    }
}

/// `2026-04-01T05:05:23+03:00` (PHP's `date('c')`), also `Z` and fractions, as unix seconds.
pub fn parse_iso8601(s: &str) -> Option<u64> {
    let s = s.trim();
    let (date, rest) = s.split_once('T')?;
    let mut d = date.split('-');
    let (y, m, day): (i64, i64, i64) = (
        d.next()?.parse().ok()?,
        d.next()?.parse().ok()?,
        d.next()?.parse().ok()?,
    );
    let (time, offset) = match rest.find(['+', '-', 'Z']) {
        Some(i) => rest.split_at(i),
        None => (rest, ""),
    };
    let mut t = time.split(':');
    let h: i64 = t.next()?.parse().ok()?;
    let min: i64 = t.next()?.parse().ok()?;
    let sec: i64 = t
        .next()
        .map(|s| s.split('.').next().unwrap_or("0"))
        .unwrap_or("0")
        .parse()
        .ok()?;
    let offset_secs = match offset {
        "" | "Z" => 0,
        o => {
            let sign = if o.starts_with('-') { -1 } else { 1 };
            let o = &o[1..];
            let (oh, om) = match o.split_once(':') {
                Some((a, b)) => (a, b),
                None if o.len() == 4 => o.split_at(2),
                None => (o, "0"),
            };
            sign * (oh.parse::<i64>().ok()? * 3600 + om.parse::<i64>().ok()? * 60)
        }
    };
    if !(1..=12).contains(&m) || !(1..=31).contains(&day) || h > 23 || min > 59 || sec > 60 {
        return None;
    }
    let days = days_from_civil(y, m, day);
    let unix = days * 86400 + h * 3600 + min * 60 + sec - offset_secs;
    u64::try_from(unix).ok()
}

/// Days since 1970-01-01 (Howard Hinnant's algorithm).
fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = if y >= 0 { y } else { y - 399 } / 400;
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146097 + doe - 719468
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const PRIVATE: &str = "a3f1c2d4e5b60718293a4b5c6d7e8f90:0f1e2d3c4b5a69788796a5b4c3d2e1f0.6adab1d3e14218151c65d499bd4210870ccaa029";
    const SHARED: &str =
        "5e6f708192a3b4c5d6e7f8091a2b3c4d.2478b35b3b91ac77897d08203ec3236993a217e5";
    const ENCODED: &str = "a3f1c2d4e5b60718293a4b5c6d7e8f90%3A0f1e2d3c4b5a69788796a5b4c3d2e1f0.6adab1d3e14218151c65d499bd4210870ccaa029";

    fn doc_example() -> Value {
        json!({
            "server": {
                "version": 4, "server_enabled": true, "mode": "personal", "hostname": "rtc-cloud",
                "long_polling": "http://rtc.example/sub/", "long_pooling_secure": "https://rtc.example/sub/",
                "websocket_enabled": true,
                "websocket": "ws://rtc.example/subws/", "websocket_secure": "wss://rtc.example/subws/",
                "publish_enabled": false, "config_timestamp": 1774965918
            },
            "api": {"revision_web": 19, "revision_mobile": 3},
            "channels": {
                "shared": {"id": SHARED, "start": "2026-03-31T17:05:18+03:00", "end": "2026-04-01T05:05:23+03:00", "type": "shared"},
                "private": {"id": PRIVATE, "public_id": "x", "start": "2026-03-31T17:05:18+03:00", "end": "2026-04-01T05:05:23+03:00", "type": "private"}
            },
            "exp": 1775052318,
            "publicChannels": false
        })
    }

    fn with(mut base: Value, path: &[&str], value: Value) -> Value {
        let mut at = &mut base;
        for key in &path[..path.len() - 1] {
            at = at.get_mut(*key).unwrap();
        }
        if value.is_null() {
            at.as_object_mut().unwrap().remove(path[path.len() - 1]);
        } else {
            at[path[path.len() - 1]] = value;
        }
        base
    }

    #[test]
    fn addresses_name_the_private_channel_only() {
        let config = PushConfig::parse(&doc_example()).unwrap();
        // (mid, websocket, long polling)
        let cases = [
            (
                None,
                format!("wss://rtc.example/subws/?CHANNEL_ID={ENCODED}"),
                format!("https://rtc.example/sub/?CHANNEL_ID={ENCODED}"),
            ),
            (
                Some("14526134350000000000320146"),
                format!(
                    "wss://rtc.example/subws/?CHANNEL_ID={ENCODED}&mid=14526134350000000000320146"
                ),
                format!(
                    "https://rtc.example/sub/?CHANNEL_ID={ENCODED}&mid=14526134350000000000320146"
                ),
            ),
        ];
        for (mid, ws, lp) in cases {
            assert_eq!(config.websocket_url(mid).unwrap(), ws);
            assert_eq!(config.long_polling_url(mid).unwrap(), lp);
            assert!(!ws.contains("5e6f708192a3b4c5"), "never the shared channel");
            assert!(!ws.contains("binaryMode"));
        }
        // 2026-04-01T05:05:23+03:00 = 1775009123, earlier than exp
        assert_eq!(config.expires_at, Some(1775009123));
        let debug = format!("{config:?}");
        assert!(!debug.contains("a3f1c2d4"), "{debug}");
    }

    #[test]
    fn configs_read_tolerantly() {
        type Check = fn(&PushConfig);
        let cases: Vec<(&str, Value, Result<Check, ConfigError>)> = vec![
            (
                "only plain ws and lp given",
                with(
                    with(doc_example(), &["server", "websocket_secure"], Value::Null),
                    &["server", "long_pooling_secure"],
                    Value::Null,
                ),
                Ok(|c| {
                    assert!(c
                        .websocket_url(None)
                        .unwrap()
                        .starts_with("ws://rtc.example/subws/?"));
                    assert!(c
                        .long_polling_url(None)
                        .unwrap()
                        .starts_with("http://rtc.example/sub/?"));
                }),
            ),
            (
                "websocket disabled: long polling only",
                with(
                    doc_example(),
                    &["server", "websocket_enabled"],
                    json!(false),
                ),
                Ok(|c| {
                    assert!(!c.has_websocket());
                    assert!(c.has_long_polling());
                }),
            ),
            (
                "shared mode adds clientId",
                with(
                    with(doc_example(), &["server", "mode"], json!("shared")),
                    &["clientId"],
                    json!("fcda45d0"),
                ),
                Ok(|c| {
                    assert!(c
                        .websocket_url(Some("1"))
                        .unwrap()
                        .ends_with(&format!("{ENCODED}&clientId=fcda45d0&mid=1")))
                }),
            ),
            (
                "clientId ignored in personal mode",
                with(doc_example(), &["clientId"], json!("fcda45d0")),
                Ok(|c| assert!(!c.websocket_url(None).unwrap().contains("clientId"))),
            ),
            (
                "PHP strings for numbers and flags; exp earlier than end",
                with(
                    with(
                        with(doc_example(), &["server", "version"], json!("4")),
                        &["server", "server_enabled"],
                        json!("Y"),
                    ),
                    &["exp"],
                    json!("1775000000"),
                ),
                Ok(|c| {
                    assert_eq!(c.version, 4);
                    assert_eq!(c.expires_at, Some(1775000000));
                }),
            ),
            (
                "no exp, no end: nothing to refresh at",
                with(
                    with(doc_example(), &["exp"], Value::Null),
                    &["channels", "private", "end"],
                    Value::Null,
                ),
                Ok(|c| assert_eq!(c.expires_at, None)),
            ),
            (
                "server off",
                with(doc_example(), &["server", "server_enabled"], json!(false)),
                Err(ConfigError::Disabled),
            ),
            (
                "version 5",
                with(doc_example(), &["server", "version"], json!(5)),
                Err(ConfigError::Unsupported(5)),
            ),
            (
                "no private channel",
                with(doc_example(), &["channels", "private"], Value::Null),
                Err(ConfigError::NoPrivateChannel),
            ),
            (
                "empty private id",
                with(doc_example(), &["channels", "private", "id"], json!("")),
                Err(ConfigError::NoPrivateChannel),
            ),
            (
                "no address",
                with(
                    with(
                        with(
                            with(doc_example(), &["server", "websocket_secure"], Value::Null),
                            &["server", "websocket"],
                            Value::Null,
                        ),
                        &["server", "long_pooling_secure"],
                        Value::Null,
                    ),
                    &["server", "long_polling"],
                    Value::Null,
                ),
                Err(ConfigError::NoAddress),
            ),
            ("not a config", json!([]), Err(ConfigError::NotObject)),
        ];
        for (name, input, want) in cases {
            match (PushConfig::parse(&input), want) {
                (Ok(config), Ok(check)) => check(&config),
                (Err(got), Err(want)) => assert_eq!(got, want, "{name}"),
                (got, _) => panic!("{name}: {got:?}"),
            }
        }
    }

    #[test]
    fn iso_dates() {
        let cases = [
            ("1970-01-01T00:00:00+00:00", Some(0)),
            ("1970-01-01T03:00:00+03:00", Some(0)),
            ("2026-04-01T05:05:23+03:00", Some(1775009123)),
            ("2026-04-01T02:05:23Z", Some(1775009123)),
            ("2026-04-01T02:05:23.5Z", Some(1775009123)),
            ("2026-03-31T21:05:23-0500", Some(1775009123)),
            ("2024-02-29T00:00:00+00:00", Some(1709164800)),
            ("yesterday", None),
            ("2026-13-01T00:00:00Z", None),
        ];
        for (input, want) in cases {
            assert_eq!(parse_iso8601(input), want, "{input}");
        }
    }
}
