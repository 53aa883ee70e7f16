//! The documented envelopes: `{"result", "total", "next", "time"}` on success and
//! `{"error", "error_description"}` on failure, read tolerantly (PHP sends numbers as strings
//! and empty objects as `[]`).

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::error::RestError;
use crate::models::de;

/// The `time` block: how long the call took and how much operating time the method has used.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ApiTime {
    #[serde(default, deserialize_with = "de::f64_lenient")]
    pub start: f64,
    #[serde(default, deserialize_with = "de::f64_lenient")]
    pub finish: f64,
    #[serde(default, deserialize_with = "de::f64_lenient")]
    pub duration: f64,
    #[serde(default, deserialize_with = "de::f64_lenient")]
    pub processing: f64,
    #[serde(default)]
    pub date_start: Option<String>,
    #[serde(default)]
    pub date_finish: Option<String>,
    /// Seconds of operating time this method used in the last ten minutes.
    #[serde(default, deserialize_with = "de::opt_f64_lenient")]
    pub operating: Option<f64>,
    /// Unix time when the oldest minute of operating time drops.
    #[serde(default, deserialize_with = "de::opt_f64_lenient")]
    pub operating_reset_at: Option<f64>,
}

/// A successful answer.
#[derive(Debug, Clone, PartialEq)]
pub struct Envelope {
    pub result: Value,
    pub total: Option<u64>,
    pub next: Option<u64>,
    pub time: Option<ApiTime>,
}

/// Reads an HTTP answer of a REST call. `now_unix` turns `operating_reset_at` into a wait.
pub fn read(status: u16, body: &str, method: &str, now_unix: f64) -> Result<Envelope, RestError> {
    let value: Value = match serde_json::from_str(body) {
        Ok(value) => value,
        Err(_) if status >= 500 => {
            return Err(RestError::Server {
                status,
                portal_code: String::new(),
                description: "the portal answered with a page instead of JSON".into(),
            })
        }
        Err(e) => {
            return Err(RestError::BadResponse(format!(
                "HTTP {status}, not JSON: {e}"
            )))
        }
    };
    if let Some(error) = error_of(&value) {
        let (code, description) = error;
        let mut error = RestError::from_portal(status, &code, &description, method);
        // An `operating_reset_at` in the refusal itself, if the portal sends one (the docs say
        // only that the last successful answer has it; the client falls back to that).
        if let RestError::OperationTimeLimit {
            until,
            retry_after_secs,
            ..
        } = &mut error
        {
            let reset_at = value
                .get("time")
                .and_then(|t| t.get("operating_reset_at"))
                .and_then(de::number_of);
            *until = reset_at.map(|at| at.ceil() as u64);
            *retry_after_secs = reset_at.map(|at| (at - now_unix).max(0.0));
        }
        return Err(error);
    }
    if !(200..300).contains(&status) {
        return Err(RestError::from_portal(
            status,
            "",
            "the portal answered with an error status",
            method,
        ));
    }
    let Value::Object(mut map) = value else {
        return Err(RestError::BadResponse(
            "the answer is not a JSON object".into(),
        ));
    };
    let Some(result) = map.remove("result") else {
        return Err(RestError::BadResponse("the answer has no result".into()));
    };
    Ok(Envelope {
        result,
        total: map.get("total").and_then(de::number_of).map(|n| n as u64),
        next: map.get("next").and_then(de::number_of).map(|n| n as u64),
        time: map
            .get("time")
            .and_then(|t| serde_json::from_value(t.clone()).ok()),
    })
}

/// `{"error": CODE, "error_description": TEXT}`, when the value is one.
pub fn error_of(value: &Value) -> Option<(String, String)> {
    let code = value.get("error")?;
    let code = match code {
        Value::String(s) => s.clone(),
        Value::Null => return None,
        other => other.to_string(),
    };
    let description = value
        .get("error_description")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_owned();
    Some((code, description))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn success_with_paging_and_time() {
        let body = r#"{"result":[{"ID":"1"}],"total":"120","next":50,"time":{"start":1.5,"finish":"2.5","duration":1,"processing":0.5,"date_start":"x","date_finish":"y","operating":"0.2","operating_reset_at":1700000600}}"#;
        let envelope = read(200, body, "crm.contact.list", 0.0).unwrap();
        assert_eq!(envelope.total, Some(120));
        assert_eq!(envelope.next, Some(50));
        assert_eq!(envelope.time.unwrap().operating, Some(0.2));
    }

    #[test]
    fn errors_by_code_and_status() {
        let cases = [
            (
                401,
                r#"{"error":"expired_token","error_description":"The access token provided has expired."}"#,
                "expired_token",
            ),
            (
                401,
                r#"{"error":"invalid_token","error_description":"The access token provided is invalid."}"#,
                "not_signed_in",
            ),
            (
                401,
                r#"{"error":"NO_AUTH_FOUND","error_description":"Wrong authorization data"}"#,
                "not_signed_in",
            ),
            (
                403,
                r#"{"error":"insufficient_scope","error_description":"The request requires higher privileges."}"#,
                "access_denied",
            ),
            (
                503,
                r#"{"error":"QUERY_LIMIT_EXCEEDED","error_description":"Too many requests"}"#,
                "query_limit_exceeded",
            ),
            (
                429,
                r#"{"error":"OPERATION_TIME_LIMIT","error_description":"Method is blocked"}"#,
                "operation_time_limit",
            ),
            (
                404,
                r#"{"error":"ERROR_METHOD_NOT_FOUND","error_description":"Method not found!"}"#,
                "method_not_found",
            ),
            (
                400,
                r#"{"error":"","error_description":"Not found"}"#,
                "not_found",
            ),
            (
                400,
                r#"{"error":"NOT_FOUND","error_description":"Element not found"}"#,
                "not_found",
            ),
            (
                400,
                r#"{"error":"INVALID_REQUEST","error_description":"Https required."}"#,
                "bad_request",
            ),
            (
                500,
                r#"{"error":"INTERNAL_SERVER_ERROR","error_description":"Internal server error"}"#,
                "portal_error",
            ),
            (502, "<html>Bad gateway</html>", "portal_error"),
            // `_includes/system-errors.md`, with the docs' own texts.
            (
                403,
                r#"{"error":"INVALID_CREDENTIALS","error_description":"Invalid request credentials"}"#,
                "invalid_credentials",
            ),
            (
                403,
                r#"{"error":"user_access_error","error_description":"The user does not have access to the application"}"#,
                "app_access_denied",
            ),
            (
                503,
                r#"{"error":"OVERLOAD_LIMIT","error_description":"REST API is blocked due to overload"}"#,
                "portal_overloaded",
            ),
            (
                500,
                r#"{"error":"PORTAL_DELETED","error_description":"Portal was deleted"}"#,
                "portal_deleted",
            ),
            (
                403,
                r#"{"error":"APPLICATION_NOT_FOUND","error_description":"Application not found"}"#,
                "app_not_installed",
            ),
            (200, "not json", "bad_response"),
        ];
        for (status, body, code) in cases {
            let error = read(status, body, "crm.contact.get", 0.0).unwrap_err();
            assert_eq!(error.code(), code, "{status} {body}");
        }
    }

    #[test]
    fn operation_time_limit_says_when_to_retry() {
        let body = r#"{"error":"OPERATION_TIME_LIMIT","error_description":"x","time":{"operating_reset_at":1000.0}}"#;
        let error = read(429, body, "crm.deal.list", 990.0).unwrap_err();
        assert_eq!(
            error,
            RestError::OperationTimeLimit {
                method: "crm.deal.list".into(),
                until: Some(1000),
                retry_after_secs: Some(10.0)
            }
        );
    }
}
