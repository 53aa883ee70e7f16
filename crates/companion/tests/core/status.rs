use companion::language::Language;
use companion::status::{AppStatus, Theme};

#[test]
fn initial_status_serialises_as_the_ui_expects() {
    let status = AppStatus::initial(Language::Ru, Theme::Dark);
    let json = serde_json::to_value(&status).unwrap();
    assert_eq!(
        json,
        serde_json::json!({
            "product_name": "Call Companion",
            "version": companion::app::VERSION,
            "mode": "normal",
            "listener": {"state": "stopped", "address": "127.0.0.1:47600"},
            "portal": {"state": "not_configured"},
            "push": {"state": "off"},
            "language": "ru",
            "theme": "dark",
            "notices": [],
        })
    );
}

#[test]
fn errors_serialise_as_code_and_message() {
    let err = companion::Error::from(companion::display::DisplayError::NoDisplay);
    let json = serde_json::to_value(&err).unwrap();
    assert_eq!(json["code"], "no_display");
    assert!(json["message"].as_str().unwrap().contains("DISPLAY"));
}
