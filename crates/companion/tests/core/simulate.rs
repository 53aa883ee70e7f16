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
        via: None,
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
        via: None,
        port: 1,
    };
    let error = posts(&missing, std::io::empty()).unwrap_err();
    assert_eq!(error.exit_code(), 66);
    assert!(error.to_string().contains("/nonexistent/payload.json"));
}

/// `--via push` publishes what the hosted relay publishes: our module and command, the agent's
/// own id as a string, and the relay envelope unchanged as PARAMS, which the app's one parser
/// reads as it reads the listener's.
#[test]
fn push_publishes_each_step_as_the_relay_would() {
    use companion::simulate::{envelope_of, event_add_params, push_steps};
    let params = event_add_params(7, &serde_json::json!({"v": 1}));
    assert_eq!(params["MODULE_ID"], "callcompanion");
    assert_eq!(params["COMMAND"], "call");
    assert_eq!(
        params["USER_ID"],
        serde_json::json!("7"),
        "a string, never a number"
    );
    assert_eq!(params["PARAMS"], serde_json::json!({"v": 1}));
    assert_eq!(
        params.as_object().unwrap().len(),
        4,
        "nothing else: no auth, no shared channel"
    );

    for name in scenario_names() {
        let scenario = scenario(&name).unwrap();
        let steps = push_steps(&scenario, "127.0.0.1:9");
        assert_eq!(steps.len(), scenario.steps.len(), "{name}");
        for (step, pushed) in scenario.steps.iter().zip(&steps) {
            assert_eq!(pushed.delay, step.delay());
            let envelope = &pushed.envelope;
            assert_eq!(envelope["v"], 1, "{name}: a relay envelope");
            // The app's one parser reads PARAMS as the listener's body, with the same verdict.
            let by_push = callcard::parse(envelope.to_string().as_bytes());
            let by_listener = callcard::parse(&companion::simulate::post_of(step).body);
            match (by_push, by_listener) {
                (Ok(push), Ok(listener)) => {
                    assert_eq!(push.call_id, listener.call_id, "{name}");
                    assert_eq!(push.phone_number, listener.phone_number, "{name}");
                    assert_eq!(push.state, listener.state, "{name}");
                }
                (Err(_), Err(_)) => assert_eq!(name, "malformed"),
                (push, listener) => panic!("{name}: by push {push:?}, by listener {listener:?}"),
            }
        }
    }
    // A bare options object is wrapped as relay.js wraps the card's options.
    let bare: portal_sim::scenarios::ScenarioStep = serde_json::from_value(
        serde_json::json!({"payload": {"CALL_ID": "c1", "PHONE_NUMBER": "+100"}}),
    )
    .unwrap();
    assert_eq!(
        envelope_of(&bare, "portal.test"),
        serde_json::json!({"v": 1, "placement": "CALL_CARD",
            "options": {"CALL_ID": "c1", "PHONE_NUMBER": "+100"},
            "portal": {"domain": "portal.test", "lang": "en"}})
    );
}

/// What `--via push` sends is accepted by the simulated portal's `pull.application.event.add`
/// (the portal's validation: OAuth, our own USER_ID as a string, lower-case module, PARAMS an
/// object) and published once per step.
#[test]
fn push_steps_are_published_by_the_simulated_portal() {
    use companion::simulate::{domain_of, publish, push_steps};
    let sim = portal_sim::Simulator::start(portal_sim::SimConfig::default()).unwrap();
    let tokens = sim.issue_tokens(companion::mock::MOCK_AGENT);
    let base = sim.base_url();
    let steps = push_steps(&scenario("state-changes").unwrap(), &domain_of(&base));
    let steps: Vec<_> = steps
        .into_iter()
        .map(|mut s| {
            s.delay = std::time::Duration::ZERO;
            s
        })
        .collect();
    let answers = publish(&steps, &base, &tokens, |_| {}).unwrap();
    assert_eq!(answers.len(), steps.len());
    for answer in &answers {
        assert_eq!(answer.status, 200, "{}", answer.body);
        let body: serde_json::Value = serde_json::from_str(&answer.body).unwrap();
        assert_eq!(body["result"], true, "{}", answer.body);
    }
    assert_eq!(sim.stats().push_published, steps.len() as u64);
}
