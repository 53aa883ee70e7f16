//! The simulator answers as Bitrix24's server does where the app once shared a misunderstanding
//! with it: one table of calls, each with the JSON pointer it checks and the value the server
//! gives (the docs page or server code is cited in the simulator's source and README).

use portal_sim::{Faults, SimConfig, Simulator};
use serde_json::{json, Value};

use crate::status_and_json;

fn call(sim: &Simulator, method: &str, params: &Value) -> (u16, Value) {
    let hook = sim.endpoints().webhook_url;
    status_and_json(ureq::post(&format!("{hook}{method}.json")).send_json(params.clone()))
}

#[test]
fn the_portal_answers_as_its_server_does() {
    let sim = Simulator::start(SimConfig::default()).unwrap();
    sim.set_faults(Faults {
        denied_records: vec!["contact:44".into()],
        ..Faults::default()
    });
    let batch = |cmd: Value| json!({"halt": 0, "cmd": cmd});
    // (what, method, params, pointer, expected)
    let cases: Vec<(&str, &str, Value, &str, Value)> = vec![
        (
            "8 495 and +7 495 are one number",
            "crm.duplicate.findbycomm",
            json!({"type": "PHONE", "values": ["84951234567"], "entity_type": "CONTACT"}),
            "/result/CONTACT",
            json!([42, 43, 44]),
        ),
        (
            "an extension is ignored",
            "crm.duplicate.findbycomm",
            json!({"type": "PHONE", "values": ["+7 900 123-45-67;105"]}),
            "/result/CONTACT",
            json!([42]),
        ),
        (
            "20 leads at most, the oldest first",
            "crm.duplicate.findbycomm",
            json!({"type": "PHONE", "values": ["74957770000"]}),
            "/result/LEAD",
            json!((60..=79).collect::<Vec<u64>>()),
        ),
        (
            "a full type drops the later ones",
            "crm.duplicate.findbycomm",
            json!({"type": "PHONE", "values": ["74957770000"]}),
            "/result/COMPANY",
            Value::Null,
        ),
        (
            "asked alone, the company is there",
            "crm.duplicate.findbycomm",
            json!({"type": "PHONE", "values": ["74957770000"], "entity_type": "COMPANY"}),
            "/result/COMPANY",
            json!([19]),
        ),
        (
            "more than 20 values are cut to 20",
            "crm.duplicate.findbycomm",
            json!({"type": "PHONE", "values": (0..20).map(|i| format!("1000{i}")).chain(["79001234567".to_owned()]).collect::<Vec<_>>()}),
            "/result",
            json!([]),
        ),
        (
            "start -1 counts nothing",
            "crm.contact.list",
            json!({"filter": {"COMPANY_ID": 17}, "select": ["ID"], "start": -1}),
            "/total",
            json!(0),
        ),
        (
            "an empty array adds no condition",
            "crm.deal.list",
            json!({"filter": {"CONTACT_ID": []}, "select": ["ID"]}),
            "/total",
            json!(200),
        ),
        (
            "a get reads its id as intval",
            "crm.contact.get",
            json!({"id": "42 "}),
            "/result/ID",
            json!("42"),
        ),
        (
            "an array id is 1",
            "crm.contact.get",
            json!({"id": {"CONTACT": [42]}}),
            "/result/ID",
            json!("1"),
        ),
        (
            "a contact without a company has a null COMPANY_ID",
            "crm.contact.get",
            json!({"id": 50}),
            "/result/COMPANY_ID",
            Value::Null,
        ),
        (
            "a record the agent may not read",
            "crm.contact.get",
            json!({"id": 44}),
            "/error_description",
            json!("Access denied."),
        ),
        (
            "lists leave it out",
            "crm.contact.list",
            json!({"filter": {"ID": [43, 44]}, "select": ["ID"]}),
            "/result",
            json!([{"ID": "43"}]),
        ),
        (
            "a contact's companies",
            "crm.contact.company.items.get",
            json!({"id": 42}),
            "/result",
            json!([{"COMPANY_ID": 17, "SORT": 10, "ROLE_ID": 0, "IS_PRIMARY": "Y"}, {"COMPANY_ID": 18, "SORT": 20, "ROLE_ID": 0, "IS_PRIMARY": "N"}]),
        ),
        (
            "a deal's contacts",
            "crm.item.get",
            json!({"entityTypeId": 2, "id": 25}),
            "/result/item/contactIds",
            json!([42, 43]),
        ),
        (
            "deals through any contact link",
            "crm.item.list",
            json!({"entityTypeId": 2, "filter": {"=contactIds": 43, "=closed": "N"}, "select": ["id"]}),
            "/result/items/0/id",
            json!(25),
        ),
        (
            "batch: a missing step gives the ancestor",
            "batch",
            batch(
                json!({"dup": "crm.duplicate.findbycomm?type=PHONE&values[]=70000000000&entity_type=CONTACT",
                       "c": "crm.contact.get?id=$result[dup][CONTACT][0]"}),
            ),
            "/result/result_error/c/error_description",
            json!("ID is not defined or invalid."),
        ),
        (
            "batch: an embedded missing reference stays as text",
            "batch",
            batch(
                json!({"dup": "crm.duplicate.findbycomm?type=PHONE&values[]=70000000000&entity_type=CONTACT",
                       "deals": "crm.deal.list?filter[CONTACT_ID]=$result[dup][CONTACT][0]%20&select[]=ID&start=-1"}),
            ),
            "/result/result/deals",
            json!([]),
        ),
        (
            "batch: a whole empty list runs the list unfiltered",
            "batch",
            batch(
                json!({"dup": "crm.duplicate.findbycomm?type=PHONE&values[]=70000000000&entity_type=CONTACT",
                       "deals": "crm.deal.list?filter[CONTACT_ID]=$result[dup][CONTACT]&select[]=ID&start=-1"}),
            ),
            "/result/result/deals/49/ID",
            json!("50"),
        ),
        (
            "batch: a null field gives the whole record",
            "batch",
            batch(json!({"c": "crm.contact.get?id=50",
                       "k": "crm.company.get?id=$result[c][COMPANY_ID]"})),
            "/result/result/k/ID",
            json!("1"),
        ),
        (
            "batch: $total",
            "batch",
            batch(
                json!({"l": "crm.contact.list?filter[COMPANY_ID]=17&select[]=ID",
                       "n": "crm.contact.list?filter[ID]=$total[l]&select[]=ID"}),
            ),
            "/result/result/n/0/ID",
            json!("7"),
        ),
    ];
    let mut failures = Vec::new();
    for (what, method, params, pointer, expected) in cases {
        let (status, body) = call(&sim, method, &params);
        let got = body.pointer(pointer).cloned().unwrap_or(Value::Null);
        if got != expected {
            failures.push(format!(
                "{what}: {method} {params} → HTTP {status} {pointer} = {got}, expected {expected}"
            ));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

/// Bitrix24's JS library calls `/rest/` from the application's own origin: the portal allows it.
#[test]
fn rest_answers_other_origins() {
    let sim = Simulator::start(SimConfig::default()).unwrap();
    let url = format!("{}/rest/user.current.json", sim.base_url());
    let preflight = ureq::request("OPTIONS", &url)
        .set("Origin", "https://widget.test")
        .set("Access-Control-Request-Method", "POST")
        .call()
        .unwrap();
    assert_eq!(preflight.status(), 204);
    assert_eq!(preflight.header("Access-Control-Allow-Origin"), Some("*"));
    let answer = match ureq::post(&url)
        .set("Origin", "https://widget.test")
        .send_form(&[("auth", "not-a-token")])
    {
        Ok(r) => r,
        Err(ureq::Error::Status(_, r)) => r,
        Err(e) => panic!("{e}"),
    };
    assert_eq!(answer.header("Access-Control-Allow-Origin"), Some("*"));
}
