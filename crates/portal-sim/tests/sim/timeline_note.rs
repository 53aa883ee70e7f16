//! Notes on timeline items and the call's own activity (`crm.timeline.note.*`,
//! `api-reference/crm/timeline/note/`).

use portal_sim::{Faults, SimConfig, Simulator};
use serde_json::{json, Value};

use crate::status_and_json;

fn call(hook: &str, method: &str, body: Value) -> (u16, Value) {
    status_and_json(ureq::post(&format!("{hook}{method}")).send_json(body))
}

#[test]
fn a_call_gets_one_activity_of_its_own() {
    let sim = Simulator::start(SimConfig::default()).unwrap();
    let hook = sim.endpoints().webhook_url;
    let id = sim.attach_call_activity("externalCall.t1.1", 3, 42);
    assert_eq!(
        sim.attach_call_activity("externalCall.t1.1", 3, 42),
        id,
        "one per call"
    );
    let (status, body) = call(&hook, "crm.activity.get", json!({"id": id}));
    assert_eq!(status, 200);
    let activity = &body["result"];
    assert_eq!(
        (
            activity["OWNER_TYPE_ID"].as_str(),
            activity["OWNER_ID"].as_str(),
            activity["TYPE_ID"].as_str(),
            activity["PROVIDER_ID"].as_str(),
            activity["PROVIDER_TYPE_ID"].as_str(),
            activity["ORIGIN_ID"].as_str(),
        ),
        (
            Some("3"),
            Some("42"),
            Some("2"),
            Some("VOXIMPLANT_CALL"),
            Some("CALL"),
            Some("VI_externalCall.t1.1")
        )
    );
}

#[test]
fn a_note_on_the_calls_activity_is_saved_replaced_read_and_deleted() {
    let sim = Simulator::start(SimConfig::default()).unwrap();
    let hook = sim.endpoints().webhook_url;
    let activity = sim.attach_call_activity("externalCall.t2.1", 3, 42);
    let on = |extra: Value| {
        let mut body = json!({"ownerTypeId": 3, "ownerId": 42, "itemType": 2, "itemId": activity});
        body.as_object_mut()
            .unwrap()
            .extend(extra.as_object().unwrap().clone());
        body
    };
    // No note yet.
    let (status, body) = call(&hook, "crm.timeline.note.get", on(json!({})));
    assert_eq!((status, body["error"].as_str()), (400, Some("NOT_FOUND")));

    let (status, body) = call(
        &hook,
        "crm.timeline.note.save",
        on(json!({"text": "first"})),
    );
    assert_eq!((status, &body["result"]), (200, &json!(true)));
    // Saving again replaces: one note, the new text.
    let (_, body) = call(
        &hook,
        "crm.timeline.note.save",
        on(json!({"text": "second"})),
    );
    assert_eq!(body["result"], json!(true));
    let (status, body) = call(&hook, "crm.timeline.note.get", on(json!({})));
    assert_eq!(status, 200);
    assert_eq!(body["result"]["text"], "second");
    assert_eq!(body["result"]["createdById"], 1);
    assert!(body["result"]["updatedTime"]
        .as_str()
        .unwrap()
        .contains('T'));
    assert_eq!(sim.with_data(|d| d.timeline_notes.len()), 1);

    let (_, body) = call(&hook, "crm.timeline.note.delete", on(json!({})));
    assert_eq!(body["result"], json!(true));
    let (status, _) = call(&hook, "crm.timeline.note.get", on(json!({})));
    assert_eq!(status, 400);
}

#[test]
fn a_note_needs_its_items_owner_and_every_field() {
    let sim = Simulator::start(SimConfig::default()).unwrap();
    let hook = sim.endpoints().webhook_url;
    let activity = sim.attach_call_activity("externalCall.t3.1", 3, 42);
    let (status, body) = call(
        &hook,
        "crm.timeline.note.save",
        json!({"ownerTypeId": 3, "ownerId": 43, "itemType": 2, "itemId": activity, "text": "x"}),
    );
    assert_eq!(
        (status, body["error"].as_str()),
        (400, Some("NOT_FOUND")),
        "another owner"
    );
    let (status, body) = call(
        &hook,
        "crm.timeline.note.save",
        json!({"ownerTypeId": 3, "ownerId": 42, "itemType": 2, "itemId": 999_999, "text": "x"}),
    );
    assert_eq!(
        (status, body["error"].as_str()),
        (400, Some("NOT_FOUND")),
        "no such activity"
    );
    let (status, body) = call(
        &hook,
        "crm.timeline.note.save",
        json!({"ownerTypeId": 3, "ownerId": 42, "itemType": 2, "itemId": activity}),
    );
    assert_eq!(
        (status, body["error"].as_str()),
        (400, Some("100")),
        "no text"
    );
    sim.set_faults(Faults {
        denied_records: vec!["contact:42".into()],
        ..Faults::default()
    });
    let (status, body) = call(
        &hook,
        "crm.timeline.note.save",
        json!({"ownerTypeId": 3, "ownerId": 42, "itemType": 2, "itemId": activity, "text": "x"}),
    );
    assert_eq!(
        (status, body["error"].as_str()),
        (400, Some("ACCESS_DENIED"))
    );
}

#[test]
fn a_note_on_a_comment_uses_item_type_1() {
    let sim = Simulator::start(SimConfig::default()).unwrap();
    let hook = sim.endpoints().webhook_url;
    let (_, added) = call(
        &hook,
        "crm.timeline.comment.add",
        json!({"fields": {"ENTITY_ID": 42, "ENTITY_TYPE": "contact", "COMMENT": "hello"}}),
    );
    let comment = added["result"].as_u64().unwrap();
    let (status, body) = call(
        &hook,
        "crm.timeline.note.save",
        json!({"ownerTypeId": 3, "ownerId": 42, "itemType": 1, "itemId": comment, "text": "on it"}),
    );
    assert_eq!((status, &body["result"]), (200, &json!(true)));
}

#[test]
fn a_comment_update_answers_true() {
    let sim = Simulator::start(SimConfig::default()).unwrap();
    let hook = sim.endpoints().webhook_url;
    let (_, added) = call(
        &hook,
        "crm.timeline.comment.add",
        json!({"fields": {"ENTITY_ID": 42, "ENTITY_TYPE": "contact", "COMMENT": "hello"}}),
    );
    let id = added["result"].as_u64().unwrap();
    let (status, body) = call(
        &hook,
        "crm.timeline.comment.update",
        json!({"id": id, "fields": {"COMMENT": "hello again"}}),
    );
    assert_eq!((status, &body["result"]), (200, &json!(true)));
}

#[test]
fn a_note_save_whose_answer_is_dropped_was_committed() {
    let sim = Simulator::start(SimConfig::default()).unwrap();
    let hook = sim.endpoints().webhook_url;
    let activity = sim.attach_call_activity("externalCall.t4.1", 3, 42);
    sim.set_faults(Faults {
        drop_after_commit: 1,
        ..Faults::default()
    });
    let lost = ureq::post(&format!("{hook}crm.timeline.note.save")).send_json(
        json!({"ownerTypeId": 3, "ownerId": 42, "itemType": 2, "itemId": activity, "text": "kept"}),
    );
    assert!(lost.is_err(), "the answer is dropped");
    assert_eq!(sim.stats().dropped_after_commit, 1);
    assert_eq!(
        sim.with_data(|d| d.timeline_notes.get(&(2, activity)).map(|n| n.text.clone())),
        Some("kept".to_owned())
    );
}

#[test]
fn the_call_card_page_names_the_calls_activity_after_the_post() {
    let sim = Simulator::start(SimConfig::default()).unwrap();
    let page = ureq::get(&format!(
        "{}/sim/call-card?scenario=incoming-contact&activity=1&handler=https://app.example.test/tab",
        sim.base_url()
    ))
    .call()
    .unwrap()
    .into_string()
    .unwrap();
    let id = sim.with_data(|d| {
        d.activities
            .iter()
            .find(|(_, a)| {
                a.get("ORIGIN_ID").and_then(Value::as_str)
                    == Some("VI_externalCall.sim0001.1732400000")
            })
            .map(|(id, a)| {
                assert_eq!(
                    (a["OWNER_TYPE_ID"].as_str(), a["OWNER_ID"].as_str()),
                    (Some("3"), Some("42"))
                );
                *id
            })
            .expect("the call has its activity")
    });
    // The later step's getStatus answers the id as an integer; the form POST says "undefined".
    assert!(
        page.contains(&format!("\"CRM_ACTIVITY_ID\":{id}")),
        "getStatus names it"
    );
    assert!(page.contains("undefined"), "the POST does not yet");
}
