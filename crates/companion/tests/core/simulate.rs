//! `simulate`: scenarios load, bodies get the content type the relay would use.

use companion::cli::SimulateArgs;
use companion::simulate::{content_type_for, posts, scenario, scenario_names};

#[test]
fn every_scenario_parses_and_does_what_its_name_says() {
    let names = scenario_names();
    for expected in [
        "incoming-contact",
        "shared-number",
        "lead",
        "outgoing-deal",
        "unknown-caller",
        "call-list",
        "state-changes",
        "entity-changed",
        "malformed",
    ] {
        assert!(
            names.iter().any(|n| n == expected),
            "{expected} in {names:?}"
        );
    }
    for name in &names {
        let scenario = scenario(name).unwrap();
        assert!(!scenario.description.is_empty());
        let parsed: Vec<_> = scenario
            .steps
            .iter()
            .map(|step| callcard::parse(&companion::simulate::post_of(step).body))
            .collect();
        if name == "malformed" {
            assert!(parsed.iter().all(|p| p.is_err()), "{name} is refused");
            continue;
        }
        let ids: Vec<String> = parsed
            .into_iter()
            .map(|p| p.unwrap_or_else(|e| panic!("{name}: {e}")).call_id)
            .collect();
        if name == "call-list" {
            assert!(
                ids.windows(2).all(|w| w[0] != w[1]),
                "a call list is several calls"
            );
        } else {
            assert!(
                ids.windows(2).all(|w| w[0] == w[1]),
                "{name}: one CALL_ID per scenario"
            );
        }
    }
    assert!(scenario("nope")
        .unwrap_err()
        .to_string()
        .contains("incoming-contact"));
}

#[test]
fn testers_add_scenarios_in_a_folder_without_rebuilding() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("my-case.json"),
        r#"{"description": "mine", "steps": [{"raw": "CALL_ID=mine-1&PHONE_NUMBER=100"}]}"#,
    )
    .unwrap();
    std::fs::write(
        dir.path().join("broken.json"),
        r#"{"description": "no steps", "steps": []}"#,
    )
    .unwrap();
    // The folder is read per call; the variable points this test (and only it) at its own.
    std::env::set_var("CALL_COMPANION_SCENARIOS", dir.path());
    let names = scenario_names();
    let mine = scenario("my-case");
    let broken = scenario("broken");
    std::env::remove_var("CALL_COMPANION_SCENARIOS");
    assert!(
        names.iter().any(|n| n == "my-case") && names.iter().any(|n| n == "incoming-contact"),
        "{names:?}"
    );
    assert_eq!(
        companion::simulate::post_of(&mine.unwrap().steps[0]).body,
        b"CALL_ID=mine-1&PHONE_NUMBER=100"
    );
    assert!(broken
        .unwrap_err()
        .to_string()
        .contains("payload or a raw body"));
}

#[test]
fn content_types_follow_the_payload_shape() {
    let fixture = |name: &str| {
        std::fs::read(format!(
            "{}/../../tests/fixtures/call-card/{name}",
            env!("CARGO_MANIFEST_DIR")
        ))
        .unwrap()
    };
    assert_eq!(
        content_type_for(&fixture("relay-envelope-object.json")),
        "application/json"
    );
    assert_eq!(
        content_type_for(&fixture("seed-docs-unbound.form")),
        "application/x-www-form-urlencoded"
    );
    assert_eq!(
        content_type_for(&fixture("seed-docs-print_r.txt")),
        "text/plain"
    );
    assert_eq!(
        content_type_for(&fixture("deeplink-base64.txt")),
        "text/plain"
    );
}

#[test]
fn stdin_and_files_are_sent_as_they_are() {
    let args = SimulateArgs {
        file: None,
        scenario: None,
        stdin: true,
        list: false,
        tab_form: false,
        port: 1,
    };
    let sent = posts(&args, &b"CALL_ID=x"[..]).unwrap();
    assert_eq!(sent.len(), 1);
    assert_eq!(sent[0].body, b"CALL_ID=x");
    let missing = SimulateArgs {
        file: Some("/nonexistent/payload.json".into()),
        scenario: None,
        stdin: false,
        list: false,
        tab_form: false,
        port: 1,
    };
    let error = posts(&missing, std::io::empty()).unwrap_err();
    assert_eq!(error.exit_code(), 66);
    assert!(error.to_string().contains("/nonexistent/payload.json"));
}
