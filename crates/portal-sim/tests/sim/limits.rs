//! Operating time per method (`limits.md`) and the system errors any call may get
//! (`_includes/system-errors.md`), as a client sees them over HTTP.

use std::collections::BTreeMap;

use portal_sim::{Faults, SimConfig, Simulator, SystemError};
use serde_json::{json, Value};

use super::status_and_json;

fn sim_with(faults: Faults) -> Simulator {
    Simulator::start(SimConfig {
        faults,
        ..SimConfig::default()
    })
    .unwrap()
}

fn now() -> f64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs_f64()
}

#[test]
fn operating_time_adds_up_per_method_and_blocks_only_that_method() {
    let sim = sim_with(Faults {
        operating_costs: BTreeMap::from([("crm.deal.list".to_owned(), 200.0)]),
        ..Faults::default()
    });
    let hook = sim.endpoints().webhook_url;
    let started = now();
    // 200, 400, 600 s: the third call still runs (the check is before each call), the fourth
    // is refused (`limits.md`, limit 480 s as in the docs' example).
    let mut resets = Vec::new();
    for expected in [200.0, 400.0, 600.0] {
        let (status, body) = status_and_json(ureq::get(&format!("{hook}crm.deal.list")).call());
        assert_eq!(status, 200);
        assert_eq!(body["time"]["operating"].as_f64(), Some(expected));
        resets.push(body["time"]["operating_reset_at"].as_f64().unwrap());
    }
    assert!(
        resets.windows(2).all(|w| w[0] == w[1]),
        "one minute, one basket: {resets:?}"
    );
    assert!(
        (resets[0] - (started + 600.0)).abs() < 5.0,
        "ten minutes after the first call"
    );
    let (status, body) = status_and_json(ureq::get(&format!("{hook}crm.deal.list")).call());
    assert_eq!(
        (status, body["error"].as_str()),
        (429, Some("OPERATION_TIME_LIMIT"))
    );
    assert!(
        body.get("time").is_none(),
        "the docs show no time in an error answer"
    );
    // Other methods keep working, and tell their own operating time.
    let (status, body) = status_and_json(ureq::get(&format!("{hook}crm.contact.get?id=42")).call());
    assert_eq!(status, 200);
    assert_eq!(body["time"]["operating"].as_f64(), Some(0.0));

    // In a batch, each sub-request counts for its own method: the paused one fails inside an
    // answer that is still 200.
    let (status, body) = status_and_json(ureq::post(&format!("{hook}batch")).send_json(
        json!({"halt": 0, "cmd": {
            "deals": "crm.deal.list",
            "contact": "crm.contact.get?id=42",
        }}),
    ));
    assert_eq!(status, 200);
    let result = &body["result"];
    assert_eq!(
        result["result_error"]["deals"]["error"],
        "OPERATION_TIME_LIMIT"
    );
    assert_eq!(result["result"]["contact"]["ID"], "42");
    assert_eq!(
        result["result_time"]["deals"]["operating"].as_f64(),
        Some(600.0)
    );
    assert_eq!(
        result["result_time"]["deals"]["operating_reset_at"].as_f64(),
        Some(resets[0])
    );
    assert!(
        body["time"].get("operating").is_none(),
        "batch itself is not accounted"
    );
}

#[test]
fn an_injected_block_agrees_with_the_time_block_and_lifts_at_its_reset() {
    let sim = sim_with(Faults::default());
    let hook = sim.endpoints().webhook_url;
    let armed = now();
    sim.set_faults(Faults {
        operation_limit_method: Some("crm.deal.list".into()),
        operation_limit_reset_secs: 2,
        ..Faults::default()
    });
    let (status, body) = status_and_json(
        ureq::post(&format!("{hook}batch"))
            .send_json(json!({"cmd": {"deals": "crm.deal.list", "user": "user.current"}})),
    );
    assert_eq!(status, 200);
    let result = &body["result"];
    assert_eq!(
        result["result_error"]["deals"]["error"],
        "OPERATION_TIME_LIMIT"
    );
    assert!(
        result["result_time"]["deals"]["operating"]
            .as_f64()
            .unwrap()
            > 480.0
    );
    let reset = result["result_time"]["deals"]["operating_reset_at"]
        .as_f64()
        .unwrap();
    assert!((reset - (armed + 2.0)).abs() < 1.0, "{reset} vs {armed}");
    assert_eq!(result["result"]["user"]["ID"], "1");
    std::thread::sleep(std::time::Duration::from_secs_f64(
        (reset - now()).max(0.0) + 0.1,
    ));
    let (status, _) = status_and_json(ureq::get(&format!("{hook}crm.deal.list")).call());
    assert_eq!(status, 200, "lifted at its operating_reset_at");
}

#[test]
fn system_errors_answer_with_the_documented_status_code_and_text() {
    let sim = sim_with(Faults::default());
    let hook = sim.endpoints().webhook_url;
    let base = sim.base_url();
    let cases = [
        ("INVALID_CREDENTIALS", 403, "Invalid request credentials"),
        (
            "user_access_error",
            403,
            "The user does not have access to the application",
        ),
        ("APPLICATION_NOT_FOUND", 403, "Application not found"),
        ("OVERLOAD_LIMIT", 503, "REST API is blocked due to overload"),
        ("PORTAL_DELETED", 500, "Portal was deleted"),
    ];
    for (code, status, text) in cases {
        let (set, _) = status_and_json(
            ureq::post(&format!("{base}/sim/admin/faults"))
                .send_json(json!({"system_error": code})),
        );
        assert_eq!(set, 200, "{code}");
        let (got, body) = status_and_json(ureq::get(&format!("{hook}user.current")).call());
        assert_eq!(
            (got, body),
            (status, json!({"error": code, "error_description": text})),
            "{code}"
        );
        // The whole request fails, batch included (not each sub-request).
        let (got, _) = status_and_json(
            ureq::post(&format!("{hook}batch")).send_json(json!({"cmd": {"u": "user.current"}})),
        );
        assert_eq!(got, status, "{code} for a batch");
    }
    let (refused, _) = status_and_json(
        ureq::post(&format!("{base}/sim/admin/faults"))
            .send_json(json!({"system_error": "NO_SUCH_ERROR"})),
    );
    assert_eq!(refused, 400, "unknown names are refused");
    sim.set_faults(Faults {
        system_error: Some(SystemError::PortalDeleted),
        ..Faults::default()
    });
    sim.set_faults(Faults::default());
    let (status, body) = status_and_json(ureq::get(&format!("{hook}user.current")).call());
    assert_eq!(status, 200, "{body}");
    let _: Value = body;
}
