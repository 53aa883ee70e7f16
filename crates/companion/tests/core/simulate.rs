//! `simulate`: scenarios load, bodies get the content type the relay would use.

use companion::cli::SimulateArgs;
use companion::simulate::{content_type_for, posts, scenario, scenario_names};

#[test]
fn every_scenario_parses_and_its_steps_are_one_call() {
    assert!(scenario_names().len() >= 3);
    for name in scenario_names() {
        let scenario = scenario(name).unwrap();
        assert!(!scenario.description.is_empty());
        let ids: Vec<String> = scenario
            .steps
            .iter()
            .map(|step| {
                callcard::parse(step.payload.to_string().as_bytes())
                    .unwrap_or_else(|e| panic!("{name}: {e}"))
                    .call_id
            })
            .collect();
        assert!(
            ids.windows(2).all(|w| w[0] == w[1]),
            "{name}: one CALL_ID per scenario"
        );
    }
    assert!(scenario("nope")
        .unwrap_err()
        .to_string()
        .contains("incoming-contact"));
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
        port: 1,
    };
    let sent = posts(&args, &b"CALL_ID=x"[..]).unwrap();
    assert_eq!(sent.len(), 1);
    assert_eq!(sent[0].body, b"CALL_ID=x");
    let missing = SimulateArgs {
        file: Some("/nonexistent/payload.json".into()),
        scenario: None,
        stdin: false,
        port: 1,
    };
    let error = posts(&missing, std::io::empty()).unwrap_err();
    assert_eq!(error.exit_code(), 66);
    assert!(error.to_string().contains("/nonexistent/payload.json"));
}
