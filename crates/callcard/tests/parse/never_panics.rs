//! Whatever arrives, the parser answers with a context or an explained error, never a panic.

use proptest::prelude::*;
use serde_json::{json, Map, Value};

fn check(input: &[u8]) {
    if let Err(e) = callcard::parse(input) {
        assert!(!e.to_string().is_empty());
    }
}

/// Strings shaped like each format, so the fuzzing reaches past the format sniffing.
const PREFIXES: &[&str] = &[
    "{",
    "{\"v\":1,\"options\":",
    "Array\n(\n    [PLACEMENT_OPTIONS] => ",
    "Array\n(\n",
    "callcompanion://call-card?",
    "callcompanion://call-card?p=",
    "PLACEMENT=CALL_CARD&PLACEMENT_OPTIONS=",
    "DOMAIN=",
];

fn json_value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(|n| json!(n)),
        any::<f64>().prop_map(|n| json!(n)),
        ".{0,12}".prop_map(Value::String),
        prop_oneof![
            Just("0"),
            Just("undefined"),
            Just("CONTACT"),
            Just("128"),
            Just("True"),
            Just("")
        ]
        .prop_map(|s| json!(s)),
    ];
    leaf.prop_recursive(3, 24, 4, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
            prop::collection::vec((".{0,6}", inner), 0..4)
                .prop_map(|kv| Value::Object(kv.into_iter().collect())),
        ]
    })
}

const KEYS: &[&str] = &[
    "CALL_ID",
    "PHONE_NUMBER",
    "LINE_NUMBER",
    "LINE_NAME",
    "CRM_ENTITY_TYPE",
    "CRM_ENTITY_ID",
    "CRM_BINDINGS",
    "CRM_ACTIVITY_ID",
    "CALL_DIRECTION",
    "CALL_STATE",
    "CALL_LIST_MODE",
    "URI",
];

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    #[test]
    fn arbitrary_bytes(bytes in prop::collection::vec(any::<u8>(), 0..512)) {
        check(&bytes);
    }

    #[test]
    fn format_shaped_text(prefix in prop::sample::select(PREFIXES), rest in "(?s).{0,300}") {
        check(format!("{prefix}{rest}").as_bytes());
    }

    #[test]
    fn options_with_arbitrary_field_values(values in prop::collection::vec((prop::sample::select(KEYS), json_value()), 0..12)) {
        let options: Map<String, Value> = values.into_iter().map(|(k, v)| (k.to_owned(), v)).collect();
        let _ = callcard::parse_options(&Value::Object(options.clone()));
        check(json!({"v": 1, "options": options}).to_string().as_bytes());
        check(json!({"v": 1, "options": Value::Object(options).to_string()}).to_string().as_bytes());
    }
}

#[test]
fn deeply_nested_input_is_refused_not_overflowed() {
    let nested_json = "[".repeat(60_000);
    check(format!("{{\"v\":1,\"options\":{nested_json}").as_bytes());
    let mut print_r = String::from("Array\n(\n");
    for _ in 0..1000 {
        print_r.push_str("[A] => Array\n(\n");
    }
    check(print_r.as_bytes());
}
