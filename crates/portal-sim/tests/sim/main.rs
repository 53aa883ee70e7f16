//! The simulator over HTTP, as any client (curl, a PHP SDK) would see it.

mod fidelity;
mod limits;
mod oauth;
mod push;
mod timeline_note;

use portal_sim::{SimConfig, Simulator};
use serde_json::{json, Value};

fn start(config: SimConfig) -> Simulator {
    Simulator::start(config).unwrap()
}

pub(crate) fn status_and_json(result: Result<ureq::Response, ureq::Error>) -> (u16, Value) {
    match result {
        Ok(r) => (r.status(), r.into_json().unwrap()),
        Err(ureq::Error::Status(code, r)) => (code, r.into_json().unwrap_or(Value::Null)),
        Err(e) => panic!("{e}"),
    }
}

#[test]
fn a_webhook_answers_get_form_and_json_alike() {
    let sim = start(SimConfig::default());
    let hook = sim.endpoints().webhook_url;
    let (status, body) = status_and_json(ureq::get(&format!("{hook}crm.contact.get?id=42")).call());
    assert_eq!(
        (status, body["result"]["NAME"].as_str()),
        (200, Some("Ирина"))
    );
    let (_, form) =
        status_and_json(ureq::post(&format!("{hook}crm.contact.get")).send_form(&[("id", "42")]));
    let (_, json) = status_and_json(
        ureq::post(&format!("{hook}crm.contact.get.json")).send_json(json!({"id": 42})),
    );
    assert_eq!(form["result"], json["result"]);
    assert!(json["time"]["operating_reset_at"].is_number());
}

#[test]
fn lists_carry_total_and_next() {
    let sim = start(SimConfig::default());
    let hook = sim.endpoints().webhook_url;
    let (_, first) =
        status_and_json(ureq::get(&format!("{hook}crm.contact.list?select[]=ID")).call());
    assert_eq!(
        (first["total"].as_u64(), first["next"].as_u64()),
        (Some(300), Some(50))
    );
    assert_eq!(first["result"][0], json!({"ID": "1"}));
    let (_, last) = status_and_json(ureq::get(&format!("{hook}crm.contact.list?start=250")).call());
    assert!(last.get("next").is_none());
    assert!(
        last["result"][0].get("PHONE").is_none(),
        "multifields only when selected"
    );
}

#[test]
fn a_form_encoded_batch_runs_its_commands_in_order() {
    let sim = start(SimConfig::default());
    let hook = sim.endpoints().webhook_url;
    let (status, body) = status_and_json(ureq::post(&format!("{hook}batch")).send_form(&[
        ("halt", "0"),
        ("cmd[zdeal]", "crm.deal.get?id=25"),
        (
            "cmd[acontact]",
            "crm.contact.get?id=$result[zdeal][CONTACT_ID]",
        ),
    ]));
    assert_eq!(status, 200);
    assert_eq!(body["result"]["result"]["acontact"]["ID"], "42");
    assert_eq!(body["result"]["result_error"], json!([]));
}

#[test]
fn the_bucket_overflows_into_query_limit_exceeded() {
    let sim = start(SimConfig {
        bucket_capacity: 3.0,
        bucket_drain_per_sec: 0.5,
        ..SimConfig::default()
    });
    let hook = sim.endpoints().webhook_url;
    let statuses: Vec<(u16, Value)> = (0..5)
        .map(|_| status_and_json(ureq::get(&format!("{hook}user.current")).call()))
        .collect();
    assert_eq!(
        statuses.iter().map(|(s, _)| *s).collect::<Vec<_>>(),
        [200, 200, 200, 503, 503]
    );
    assert_eq!(
        statuses[3].1,
        json!({"error": "QUERY_LIMIT_EXCEEDED", "error_description": "Too many requests"})
    );
    assert_eq!(sim.stats().query_limit_refusals, 2);
}

#[test]
fn faults_are_set_over_the_admin_endpoint() {
    let sim = start(SimConfig::default());
    let base = sim.base_url();
    let (status, _) = status_and_json(
        ureq::post(&format!("{base}/sim/admin/faults")).send_json(json!({"outage": true})),
    );
    assert_eq!(status, 200);
    let answer = ureq::get(&format!("{}user.current", sim.endpoints().webhook_url)).call();
    let Err(ureq::Error::Status(503, page)) = answer else {
        panic!("503 expected")
    };
    assert!(page.content_type().starts_with("text/html"));
    let (status, _) = status_and_json(
        ureq::post(&format!("{base}/sim/admin/faults")).send_json(json!({"no_such_fault": 1})),
    );
    assert_eq!(status, 400, "a typo in a fault is refused, not ignored");
    ureq::post(&format!("{base}/sim/admin/reset"))
        .call()
        .unwrap();
    assert!(
        ureq::get(&format!("{}user.current", sim.endpoints().webhook_url))
            .call()
            .is_ok()
    );
}

#[test]
fn an_unknown_application_gets_an_error_page_and_no_redirect() {
    let sim = start(SimConfig::default());
    let agent = ureq::AgentBuilder::new().redirects(0).build();
    let answer = agent
        .get(&format!(
            "{}/oauth/authorize/?client_id=local.unknown&state=s",
            sim.base_url()
        ))
        .call();
    let Err(ureq::Error::Status(400, page)) = answer else {
        panic!("400 expected")
    };
    assert!(page.header("location").is_none());
}

#[test]
fn issued_secrets_are_written_to_the_ledger() {
    let ledger = std::env::temp_dir().join(format!("sim-ledger-{}", std::process::id()));
    let sim = start(SimConfig {
        token_ledger: Some(ledger.clone()),
        ..SimConfig::default()
    });
    let endpoints = sim.endpoints();
    let text = std::fs::read_to_string(&ledger).unwrap();
    assert!(text.contains(&endpoints.client_secret));
    assert!(endpoints.webhook_url.contains(text.lines().nth(1).unwrap()));
    let _ = std::fs::remove_file(ledger);
}

/// `user.option.set/get` (`common/settings/user-option-*.md`): per user, per application,
/// only the given keys overwritten, a value's JSON type kept, `null` for a missing key, an
/// empty array for none, and `403 ACCESS_DENIED` for a webhook.
#[test]
fn user_options_belong_to_the_user_and_the_application() {
    let sim = start(SimConfig::default());
    let rest = |method: &str, body: Value| {
        status_and_json(ureq::post(&format!("{}/rest/{method}", sim.base_url())).send_json(body))
    };
    let agent = sim.issue_tokens(3).access_token;
    let other = sim.issue_tokens(4).access_token;
    assert_eq!(
        rest("user.option.get", json!({"auth": agent})).1["result"],
        json!([])
    );
    let (status, set) = rest(
        "user.option.set",
        json!({"auth": agent, "options": {"callcompanion_port": 51234, "kept": "x"}}),
    );
    assert_eq!((status, set["result"].clone()), (200, json!(true)));
    rest(
        "user.option.set",
        json!({"auth": agent, "options": {"callcompanion_port": 51235}}),
    );
    let (_, one) = rest(
        "user.option.get",
        json!({"auth": agent, "option": "callcompanion_port"}),
    );
    assert_eq!(one["result"], json!(51235), "a number stays a number");
    let (_, all) = rest("user.option.get", json!({"auth": agent}));
    assert_eq!(
        all["result"],
        json!({"callcompanion_port": 51235, "kept": "x"})
    );
    let (_, theirs) = rest(
        "user.option.get",
        json!({"auth": other, "option": "callcompanion_port"}),
    );
    assert_eq!(
        theirs["result"],
        Value::Null,
        "another user's value is not shown"
    );
    assert_eq!(
        sim.user_option(&sim.endpoints().client_id, 3, "callcompanion_port"),
        Some(json!(51235))
    );
    let (status, empty) = rest("user.option.set", json!({"auth": agent, "options": {}}));
    assert_eq!(
        (status, empty["error"].as_str()),
        (400, Some("ERROR_ARGUMENT"))
    );
    let hook = sim.endpoints().webhook_url;
    let (status, denied) =
        status_and_json(ureq::post(&format!("{hook}user.option.get")).send_json(json!({})));
    assert_eq!(
        (status, denied["error"].as_str()),
        (403, Some("ACCESS_DENIED"))
    );
}

/// `crm.activity.todo.add` (`crm/timeline/activities/todo/crm-activity-todo-add.md`): a to-do on
/// a record's timeline, `{"id"}` back, listed as the universal activity; each documented error.
#[test]
fn a_to_do_lands_on_the_records_timeline_and_bad_ones_get_the_documented_errors() {
    let sim = start(SimConfig::default());
    let hook = sim.endpoints().webhook_url;
    let call = |body: Value| {
        status_and_json(ureq::post(&format!("{hook}crm.activity.todo.add")).send_json(body))
    };
    let (status, added) = call(json!({
        "ownerTypeId": 3, "ownerId": 42, "deadline": "2026-12-03T10:00:00+03:00",
        "title": "Перезвонить", "description": "[cc:1a2b3c4d5e6f]", "pingOffsets": [0, 15],
    }));
    assert_eq!(status, 200, "{added}");
    let id = added["result"]["id"]
        .as_u64()
        .expect("the new activity's id");
    let (_, listed) = status_and_json(ureq::post(&format!("{hook}crm.activity.list")).send_json(
        json!({
            "filter": {"OWNER_TYPE_ID": 3, "OWNER_ID": 42, "PROVIDER_ID": "CRM_TODO"},
            "select": ["ID", "SUBJECT", "DESCRIPTION", "DEADLINE", "COMPLETED", "RESPONSIBLE_ID"],
        }),
    ));
    let todo = listed["result"]
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["ID"] == json!(id.to_string()))
        .cloned()
        .expect("listed");
    assert_eq!(todo["SUBJECT"], "Перезвонить");
    assert_eq!(todo["DESCRIPTION"], "[cc:1a2b3c4d5e6f]");
    assert_eq!(todo["DEADLINE"], "2026-12-03T10:00:00+03:00");
    assert_eq!(
        (todo["COMPLETED"].clone(), todo["RESPONSIBLE_ID"].clone()),
        (json!("N"), json!("1"))
    );

    for (body, code) in [
        (
            json!({"ownerId": 42, "deadline": "2026-12-03T10:00:00"}),
            "100",
        ),
        (json!({"ownerTypeId": 3, "ownerId": 42}), "100"),
        (
            json!({"ownerTypeId": 3, "ownerId": 42, "deadline": "завтра"}),
            "WRONG_DATETIME_FORMAT",
        ),
        (
            json!({"ownerTypeId": 3, "ownerId": 999999, "deadline": "2026-12-03T10:00:00"}),
            "OWNER_NOT_FOUND",
        ),
        (
            json!({"ownerTypeId": 77, "ownerId": 42, "deadline": "2026-12-03T10:00:00"}),
            "NOT_FOUND",
        ),
    ] {
        let (status, error) = call(body.clone());
        assert_eq!(
            (status, error["error"].as_str()),
            (400, Some(code)),
            "{body}"
        );
    }
}
