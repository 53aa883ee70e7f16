use base64::Engine as _;
use callcard::{
    parse, parse_deep_link, parse_options, CallState, ParseError, Source, MAX_INPUT_BYTES,
};
use serde_json::json;

#[test]
fn size_is_capped() {
    let big = format!(
        "{{\"CALL_ID\": \"x\", \"pad\": \"{}\"}}",
        "a".repeat(MAX_INPUT_BYTES)
    );
    assert!(matches!(
        parse(big.as_bytes()),
        Err(ParseError::TooLarge { .. })
    ));
    let link = format!(
        "callcompanion://call-card?CALL_ID={}",
        "a".repeat(MAX_INPUT_BYTES)
    );
    assert!(matches!(
        parse_deep_link(&link),
        Err(ParseError::TooLarge { .. })
    ));
}

#[test]
fn not_utf8_is_an_error() {
    assert_eq!(parse(b"CALL_ID=\xff\xfe"), Err(ParseError::NotUtf8));
}

#[test]
fn getstatus_object_is_read_directly() {
    let context =
        parse_options(&json!({"CALL_ID": 17, "CALL_STATE": "connected", "CALL_LIST_MODE": 1}))
            .unwrap();
    assert_eq!(context.call_id, "17");
    assert_eq!(context.state, CallState::Connected);
    assert!(context.call_list_mode);
    assert_eq!(context.source, Source::OptionsObject);
    assert_eq!(
        parse_options(&json!("CALL_ID")),
        Err(ParseError::OptionsNotObject)
    );
}

#[test]
fn deep_link_with_padded_base64_and_fragment() {
    let envelope = json!({"v": 1, "options": {"CALL_ID": "padded", "PHONE_NUMBER": "+1 555"}});
    let padded = base64::engine::general_purpose::URL_SAFE.encode(envelope.to_string());
    let context =
        parse_deep_link(&format!("CallCompanion://call-card/?p={padded}#ignored")).unwrap();
    assert_eq!(context.call_id, "padded");
    assert_eq!(context.phone_number.as_deref(), Some("+1 555"));
    assert_eq!(context.source, Source::DeepLink);
}

#[test]
fn deep_link_errors_explain() {
    let cases = [
        (
            "https://call-card?CALL_ID=1",
            "does not start with callcompanion:",
        ),
        ("callcompanion://call-card", "carries no call"),
        ("callcompanion://call-card?p=%%%", "not base64url"),
        ("callcompanion://call-card?p=bm90IGpzb24", "not JSON"),
    ];
    for (link, needle) in cases {
        let err = parse_deep_link(link).unwrap_err();
        assert_eq!(err.code(), "bad_deep_link", "{link}");
        assert!(err.to_string().contains(needle), "{link}: {err}");
    }
}

#[test]
fn control_characters_and_long_values_are_rejected_with_the_field_name() {
    let err = parse_options(&json!({"CALL_ID": "a\u{0}b"})).unwrap_err();
    assert!(err.to_string().starts_with("CALL_ID is invalid"), "{err}");
    let err = parse_options(&json!({"CALL_ID": "x", "PHONE_NUMBER": "1".repeat(65)})).unwrap_err();
    assert!(
        err.to_string().starts_with("PHONE_NUMBER is invalid"),
        "{err}"
    );
    let err = parse_options(&json!({"CALL_ID": "x", "CRM_ENTITY_ID": "12"})).unwrap_err();
    assert_eq!(
        err.to_string(),
        "CRM_ENTITY_TYPE is invalid: missing while CRM_ENTITY_ID is 12"
    );
}

#[test]
fn envelope_options_must_be_an_object() {
    let err = parse(json!({"v": 1, "options": "[1, 2]"}).to_string().as_bytes()).unwrap_err();
    assert_eq!(err, ParseError::OptionsNotObject);
    let err = parse(json!({"v": 1}).to_string().as_bytes()).unwrap_err();
    assert_eq!(err, ParseError::MissingOptions);
    let err = parse(
        json!({"v": 1, "placement": "CRM_LEAD_LIST_MENU", "options": {}})
            .to_string()
            .as_bytes(),
    )
    .unwrap_err();
    assert_eq!(
        err.to_string(),
        "PLACEMENT is CRM_LEAD_LIST_MENU, expected CALL_CARD"
    );
}

#[test]
fn php_empty_options_mean_missing_call_id() {
    let err = parse(b"PLACEMENT=CALL_CARD&PLACEMENT_OPTIONS=%5B%5D").unwrap_err();
    assert_eq!(err, ParseError::MissingCallId);
}

#[test]
fn placeholders_are_no_number_and_say_why() {
    use callcard::NoNumber;
    let cases = [
        (json!("hidden"), None, Some(NoNumber::Hidden)),
        (json!(" Hidden "), None, Some(NoNumber::Hidden)),
        (json!("unknown"), None, Some(NoNumber::Unknown)),
        (json!("UNDEFINED"), None, Some(NoNumber::Unknown)),
        (json!("null"), None, Some(NoNumber::Unknown)),
        (json!(""), None, Some(NoNumber::Unknown)),
        (json!("  "), None, Some(NoNumber::Unknown)),
        (serde_json::Value::Null, None, None),
        (json!("+79001234567"), Some("+79001234567"), None),
        (json!(79001234567u64), Some("79001234567"), None),
    ];
    for (phone, number, reason) in cases {
        let context = parse_options(&json!({"CALL_ID": "c", "PHONE_NUMBER": phone})).unwrap();
        assert_eq!(
            (context.phone_number.as_deref(), context.no_number),
            (number, reason),
            "{phone}"
        );
    }
    let absent = parse_options(&json!({"CALL_ID": "c"})).unwrap();
    assert_eq!((absent.phone_number, absent.no_number), (None, None));
    assert_eq!(callcard::no_number("hidden"), Some(NoNumber::Hidden));
    assert_eq!(callcard::no_number("84951234567"), None);
}
