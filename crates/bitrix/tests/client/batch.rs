use bitrix::{Batch, RestError};
use serde_json::json;

use crate::support::{oauth_client, simulator, webhook_client};

#[tokio::test]
async fn one_request_follows_references_from_a_deal_to_its_contact_and_company() {
    let sim = simulator();
    let client = webhook_client(&sim);
    let batch = Batch::new()
        .add("deal", "crm.deal.get", json!({"id": 25}))
        .add("contact", "crm.contact.get", json!({"id": "$result[deal][CONTACT_ID]"}))
        .add("company", "crm.company.get", json!({"id": "$result[contact][COMPANY_ID]"}))
        .add("deals", "crm.deal.list", json!({"filter": {"CONTACT_ID": "$result[deal][CONTACT_ID]", "CLOSED": "N"}, "select": ["ID", "TITLE"]}))
        .add("missing", "crm.contact.get", json!({"id": 999_999}));
    let before = sim.stats().rest_requests;
    let response = client.batch(&batch).await.unwrap();
    assert_eq!(
        sim.stats().rest_requests - before,
        1,
        "a batch is one HTTP request"
    );
    assert_eq!(response.get("contact").unwrap().unwrap()["ID"], "42");
    assert_eq!(response.get("company").unwrap().unwrap()["ID"], "17");
    let deals = response.get("deals").unwrap().unwrap().as_array().unwrap();
    assert!(deals.iter().any(|d| d["ID"] == "25"));
    assert!(response.totals.contains_key("deals"));
    let missing = response.get("missing").unwrap().unwrap_err();
    assert_eq!(missing.code(), "not_found");
}

#[tokio::test]
async fn halt_stops_at_the_first_failing_command() {
    let sim = simulator();
    let (client, _, _) = oauth_client(&sim).await;
    let batch = Batch::new()
        .add("first", "crm.contact.get", json!({"id": 1}))
        .add("broken", "crm.contact.get", json!({"id": 999_999}))
        .add("after", "crm.contact.get", json!({"id": 2}))
        .halt(true);
    let response = client.batch(&batch).await.unwrap();
    assert!(response.get("first").unwrap().is_ok());
    assert!(response.get("broken").unwrap().is_err());
    assert!(response.get("after").is_none(), "not run after the halt");
    let without_halt = client.batch(&batch.clone().halt(false)).await.unwrap();
    assert!(without_halt.get("after").unwrap().is_ok());
}

#[tokio::test]
async fn more_than_fifty_commands_go_in_several_requests() {
    let sim = simulator();
    let client = webhook_client(&sim);
    let mut batch = Batch::new();
    for id in 1..=120 {
        batch = batch.add(&format!("c{id}"), "crm.contact.get", json!({"id": id}));
    }
    assert!(
        matches!(client.batch(&batch).await, Err(RestError::Config(_))),
        "one batch holds 50"
    );
    let before = sim.stats().rest_requests;
    let response = client.batch_all(&batch).await.unwrap();
    assert_eq!(sim.stats().rest_requests - before, 3);
    assert_eq!(response.results.len(), 120);
    assert_eq!(response.get("c120").unwrap().unwrap()["ID"], "120");
}

#[tokio::test]
async fn the_portal_refuses_sub_requests_past_the_fiftieth() {
    let sim = simulator();
    let mut cmd = serde_json::Map::new();
    for i in 0..51 {
        cmd.insert(format!("c{i:02}"), json!("user.current"));
    }
    let url = format!("{}batch.json", sim.endpoints().webhook_url);
    // The request succeeds; the sub-requests past the fiftieth fail.
    let answer: serde_json::Value = ureq::post(&url)
        .send_json(json!({"halt": 0, "cmd": cmd}))
        .unwrap()
        .into_json()
        .unwrap();
    assert_eq!(answer["result"]["result"].as_object().unwrap().len(), 50);
    assert_eq!(
        answer["result"]["result_error"]["c50"]["error"],
        "ERROR_BATCH_LENGTH_EXCEEDED"
    );
}
