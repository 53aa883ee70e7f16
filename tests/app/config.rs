//! tauri.conf.json agrees with the core's facts, and keeps its security settings.

use serde_json::Value;

fn config() -> Value {
    let text =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/tauri.conf.json")).unwrap();
    serde_json::from_str(&text).unwrap()
}

#[test]
fn names_match_the_core() {
    let c = config();
    assert_eq!(c["productName"], companion::app::PRODUCT_NAME);
    assert_eq!(c["mainBinaryName"], companion::app::BINARY_NAME);
    assert_eq!(c["identifier"], companion::app::IDENTIFIER);
    assert_eq!(c["version"], companion::app::VERSION);
    assert_eq!(
        c["plugins"]["deep-link"]["desktop"]["schemes"][0],
        companion::app::DEEP_LINK_SCHEME
    );
}

#[test]
fn csp_is_strict() {
    let csp = &config()["app"]["security"]["csp"];
    assert!(csp.is_object(), "a CSP is set: {csp}");
    assert_eq!(csp["default-src"], "'self'");
    for directive in ["script-src", "style-src"] {
        let value = csp[directive].as_str().unwrap();
        assert!(!value.contains("unsafe"), "{directive}: {value}");
    }
    assert_eq!(csp["object-src"], "'none'");
}

#[test]
fn one_capability_file_per_window() {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/src-tauri/capabilities");
    let windows: Vec<String> = config()["app"]["windows"]
        .as_array()
        .unwrap()
        .iter()
        .map(|w| w["label"].as_str().unwrap().to_owned())
        .collect();
    for window in &windows {
        let file: Value =
            serde_json::from_str(&std::fs::read_to_string(format!("{dir}/{window}.json")).unwrap())
                .unwrap();
        assert_eq!(
            file["windows"],
            serde_json::json!([window]),
            "capabilities/{window}.json names only its window"
        );
        let permissions = file["permissions"].as_array().unwrap();
        assert!(
            permissions
                .iter()
                .all(|p| p.as_str().is_some_and(|p| !p.ends_with(":default"))),
            "no broad default permission sets: {permissions:?}"
        );
    }
}
