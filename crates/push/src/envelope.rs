//! One text frame of the v4 push server, split into its messages (bitrix24-push.md §2.3):
//! `#!NGINXNMS!#{"id":…,"mid":"…","channel":"-","tag":…,"time":…,"text":{…}}#!NGINXNME!#`, several
//! envelopes per frame with nothing between them. Also tolerated: the documented but unseen
//! `format=json` form (a JSON array of the same objects), and `text` given as a JSON string.

use serde_json::Value;

const START: &str = "#!NGINXNMS!#";
const END: &str = "#!NGINXNME!#";

/// One message as the server delivered it.
#[derive(Debug, Clone, PartialEq)]
pub struct Envelope {
    /// The numeric counter part of `mid`.
    pub id: u64,
    /// 26 decimal digits: what a reconnect resumes from.
    pub mid: String,
    pub body: Body,
}

/// The portal's message (`text` in the envelope, §5.5).
#[derive(Debug, Clone, PartialEq)]
pub struct Body {
    pub module_id: String,
    pub command: String,
    /// An object, or `[]` when the event had no params (PHP's empty array): both are kept as sent.
    pub params: Value,
    pub extra: Value,
}

/// Why one envelope was skipped: said in the log without its content (params may be personal).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EnvelopeError {
    #[error("an envelope is not JSON")]
    NotJson,
    #[error("an envelope has no {0}")]
    Missing(&'static str),
}

/// The messages in one frame, in order; each bad one is an error in its place.
pub fn split(frame: &str) -> Vec<Result<Envelope, EnvelopeError>> {
    let trimmed = frame.trim();
    if !trimmed.contains(START) && trimmed.starts_with('[') {
        return match serde_json::from_str::<Vec<Value>>(trimmed) {
            Ok(items) => items.into_iter().map(|v| envelope(&v)).collect(),
            Err(_) => vec![Err(EnvelopeError::NotJson)],
        };
    }
    let mut out = Vec::new();
    let mut rest = frame;
    while let Some(start) = rest.find(START) {
        let after = &rest[start + START.len()..];
        let Some(end) = after.find(END) else {
            // A frame cut in the middle of an envelope: the part is not a message.
            out.push(Err(EnvelopeError::NotJson));
            break;
        };
        out.push(parse(&after[..end]));
        rest = &after[end + END.len()..];
    }
    out
}

/// One envelope's JSON.
pub fn parse(json: &str) -> Result<Envelope, EnvelopeError> {
    let value: Value = serde_json::from_str(json).map_err(|_| EnvelopeError::NotJson)?;
    envelope(&value)
}

fn envelope(value: &Value) -> Result<Envelope, EnvelopeError> {
    let mid = match value.get("mid") {
        Some(Value::String(s)) if !s.is_empty() => s.clone(),
        Some(Value::Number(n)) => n.to_string(),
        _ => return Err(EnvelopeError::Missing("mid")),
    };
    let id = match value.get("id") {
        Some(Value::Number(n)) => n.as_u64(),
        Some(Value::String(s)) => s.parse().ok(),
        _ => None,
    }
    .ok_or(EnvelopeError::Missing("id"))?;
    let text = match value.get("text") {
        Some(Value::String(s)) => serde_json::from_str(s).map_err(|_| EnvelopeError::NotJson)?,
        Some(v @ Value::Object(_)) => v.clone(),
        _ => return Err(EnvelopeError::Missing("text")),
    };
    let field = |name: &'static str| match text.get(name) {
        Some(Value::String(s)) => Ok(s.clone()),
        _ => Err(EnvelopeError::Missing(name)),
    };
    Ok(Envelope {
        id,
        mid,
        body: Body {
            module_id: field("module_id")?,
            command: field("command")?,
            params: text.get("params").cloned().unwrap_or(Value::Array(vec![])),
            extra: text.get("extra").cloned().unwrap_or(Value::Null),
        },
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn wrap(json: &str) -> String {
        format!("{START}{json}{END}")
    }

    const CALL: &str = r#"{"id":320146,"mid":"14526134350000000000320146","channel":"-","tag":"412","time":"Tue, 22 Sep 2026 10:20:38 GMT","text":{"module_id":"callcompanion","command":"call","params":{"v":1,"options":{"CALL_ID":"x"}},"extra":{"server_time_unix":1790072438.151759,"revision_web":19}}}"#;
    const EMPTY_PARAMS: &str = r#"{"id":7,"mid":"14526134350000000000000007","channel":"-","tag":"1","time":"x","text":{"module_id":"application","command":"ping","params":[],"extra":{}}}"#;

    #[test]
    fn frames_split_into_their_envelopes() {
        // (frame, expected: Ok(mid, module, command) or Err)
        type Want = Result<(&'static str, &'static str, &'static str), EnvelopeError>;
        let call: Want = Ok(("14526134350000000000320146", "callcompanion", "call"));
        let empty: Want = Ok(("14526134350000000000000007", "application", "ping"));
        let cases: Vec<(String, Vec<Want>)> = vec![
            (wrap(CALL), vec![call.clone()]),
            // several envelopes in one frame, nothing between them
            (
                format!("{}{}", wrap(CALL), wrap(EMPTY_PARAMS)),
                vec![call.clone(), empty.clone()],
            ),
            // a bad one in the middle does not hide the others
            (
                format!("{}{}{}", wrap(CALL), wrap("{nope"), wrap(EMPTY_PARAMS)),
                vec![call.clone(), Err(EnvelopeError::NotJson), empty.clone()],
            ),
            (
                wrap(r#"{"id":1,"text":{"module_id":"a","command":"b"}}"#),
                vec![Err(EnvelopeError::Missing("mid"))],
            ),
            (
                wrap(r#"{"id":1,"mid":"1","text":{"command":"b"}}"#),
                vec![Err(EnvelopeError::Missing("module_id"))],
            ),
            // a frame cut short
            (
                format!("{}{START}{{\"id\":1", wrap(CALL)),
                vec![call.clone(), Err(EnvelopeError::NotJson)],
            ),
            // the documented `format=json` array
            (
                format!("[{CALL},{EMPTY_PARAMS}]"),
                vec![call.clone(), empty.clone()],
            ),
            // `text` as a JSON string
            (
                wrap(&format!(
                    r#"{{"id":5,"mid":"5","text":{}}}"#,
                    serde_json::to_string(r#"{"module_id":"m","command":"c","params":{}}"#)
                        .unwrap()
                )),
                vec![Ok(("5", "m", "c"))],
            ),
            (String::new(), vec![]),
            ("noise".into(), vec![]),
        ];
        for (frame, want) in cases {
            let got: Vec<_> = split(&frame)
                .into_iter()
                .map(|r| r.map(|e| (e.mid, e.body.module_id, e.body.command)))
                .collect();
            let want: Vec<_> = want
                .into_iter()
                .map(|r| r.map(|(m, a, b)| (m.to_owned(), a.to_owned(), b.to_owned())))
                .collect();
            assert_eq!(got, want, "frame {frame}");
        }
    }

    #[test]
    fn id_is_a_number_and_params_are_kept_as_sent() {
        let e = parse(CALL).unwrap();
        assert_eq!(e.id, 320146);
        assert_eq!(e.body.params, json!({"v":1,"options":{"CALL_ID":"x"}}));
        assert_eq!(e.body.extra["revision_web"], 19);
        let e = parse(EMPTY_PARAMS).unwrap();
        assert_eq!(e.body.params, json!([]));
        // an id beyond 2^53 (JSON numbers are u64 here, not f64)
        let big =
            parse(r#"{"id":39740714326123456,"mid":"1","text":{"module_id":"a","command":"b"}}"#)
                .unwrap();
        assert_eq!(big.id, 39740714326123456);
    }
}
