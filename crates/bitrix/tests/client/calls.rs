use std::time::Duration;

use bitrix::models::{Contact, Deal, User};
use bitrix::{Client, RestError, Secret};
use portal_sim::SimConfig;
use serde_json::json;

use crate::support::{oauth_client, simulator, simulator_with, webhook_client};

#[tokio::test]
async fn a_contact_is_read_into_the_typed_model() {
    let sim = simulator();
    let client = webhook_client(&sim);
    let contact: Contact = client
        .call_as("crm.contact.get", json!({"id": 42}))
        .await
        .unwrap();
    assert_eq!(
        (
            contact.id,
            contact.name.as_deref(),
            contact.last_name.as_deref()
        ),
        (42, Some("Ирина"), Some("Петрова"))
    );
    assert_eq!(contact.company_id, Some(17));
    assert_eq!(contact.phone[0].value, "+7 (900) 123-45-67");
    let deal: Deal = client
        .call_as("crm.deal.get", json!({"id": "25"}))
        .await
        .unwrap();
    assert_eq!((deal.contact_id, deal.closed), (Some(42), false));
}

#[tokio::test]
async fn the_envelope_carries_time_and_the_user_is_known() {
    let sim = simulator();
    let (client, _, _) = oauth_client(&sim).await;
    let response = client.call("user.current", json!({})).await.unwrap();
    let time = response.time.expect("a time block");
    assert!(time.finish >= time.start && time.operating_reset_at.is_some());
    let user: User = serde_json::from_value(response.result).unwrap();
    assert_eq!(user.display_name(), "Анна Смирнова");
}

#[tokio::test]
async fn duplicates_by_phone_match_by_digits_not_by_spelling() {
    let sim = simulator();
    let client = webhook_client(&sim);
    let found = client
        .call(
            "crm.duplicate.findbycomm",
            json!({"type": "PHONE", "values": ["+7 900 123 45 67"]}),
        )
        .await
        .unwrap()
        .result;
    assert_eq!(found["CONTACT"], json!([42]));
    let shared = client
        .call(
            "crm.duplicate.findbycomm",
            json!({"type": "PHONE", "values": ["74951234567"]}),
        )
        .await
        .unwrap()
        .result;
    assert!(
        shared["COMPANY"].as_array().unwrap().contains(&json!(17)),
        "{shared}"
    );
    assert!(
        shared["CONTACT"].as_array().unwrap().len() >= 2,
        "the switchboard reaches several contacts: {shared}"
    );
    let nobody = client
        .call(
            "crm.duplicate.findbycomm",
            json!({"type": "PHONE", "values": ["+79999996666"]}),
        )
        .await
        .unwrap()
        .result;
    assert_eq!(nobody, json!([]), "nothing found is an empty PHP array");
}

#[tokio::test]
async fn each_error_class_is_typed_and_says_what_to_do() {
    let sim = simulator();
    let webhook = webhook_client(&sim);
    let error = webhook
        .call("crm.contact.get", json!({"id": 999_999}))
        .await
        .unwrap_err();
    assert_eq!(
        (error.code().as_str(), error.action()),
        ("not_found", bitrix::Action::Report)
    );
    let error = webhook
        .call("crm.no.such.method", json!({}))
        .await
        .unwrap_err();
    assert_eq!(error.code().as_str(), "method_not_found");
    let error = webhook
        .call(
            "crm.duplicate.findbycomm",
            json!({"type": "FAX", "values": ["1"]}),
        )
        .await
        .unwrap_err();
    assert_eq!(error.code().as_str(), "bad_request");
    // A webhook is no application: `app.info` names its scopes and the plan, no `INSTALLED`.
    let info = webhook.call("app.info", json!({})).await.unwrap().result;
    assert!(
        info["SCOPE"].is_array() && info.get("INSTALLED").is_none(),
        "{info}"
    );

    let forged = format!("{}/rest/1/notthesecret/", sim.base_url());
    let error = Client::builder()
        .webhook(Secret::new(forged))
        .build()
        .unwrap()
        .call("user.current", json!({}))
        .await
        .unwrap_err();
    // `403 INVALID_CREDENTIALS` (`_includes/system-errors.md`): its own state, to sign in again.
    assert_eq!(
        (error.code().as_str(), error.action()),
        ("invalid_credentials", bitrix::Action::SignIn)
    );

    let (oauth, session, _) = oauth_client(&sim).await;
    let tokens = session.tokens();
    assert_eq!(
        oauth.call("app.info", json!({})).await.unwrap().result["CODE"],
        sim.endpoints().client_id
    );
    // A token the portal never issued.
    let raw = ureq::post(&format!("{}crm.contact.get.json", tokens.client_endpoint))
        .send_json(json!({"id": 1, "auth": "nope"}));
    let ureq::Error::Status(401, answer) = raw.unwrap_err() else {
        panic!("401 expected")
    };
    assert_eq!(
        answer.into_json::<serde_json::Value>().unwrap()["error"],
        "invalid_token"
    );
    let raw = ureq::post(&format!("{}crm.contact.get.json", tokens.client_endpoint))
        .send_json(json!({"id": 1}));
    let ureq::Error::Status(401, answer) = raw.unwrap_err() else {
        panic!("401 expected")
    };
    assert_eq!(
        answer.into_json::<serde_json::Value>().unwrap()["error"],
        "NO_AUTH_FOUND"
    );
}

#[tokio::test]
async fn insufficient_scope_is_access_denied() {
    let sim = simulator_with(SimConfig {
        scope: "crm,user".into(),
        ..SimConfig::default()
    });
    let (client, _, _) = oauth_client(&sim).await;
    let error = client
        .call(
            "placement.bind",
            json!({"PLACEMENT": "CALL_CARD", "HANDLER": "https://x.example/"}),
        )
        .await
        .unwrap_err();
    assert_eq!(
        (error.code().as_str(), error.portal_code(), error.action()),
        (
            "access_denied",
            Some("insufficient_scope"),
            bitrix::Action::AskAdmin
        )
    );
}

#[tokio::test]
async fn placements_bind_list_and_unbind() {
    let sim = simulator();
    let (client, _, _) = oauth_client(&sim).await;
    let bound = client
        .call("placement.bind", json!({"PLACEMENT": "CALL_CARD", "HANDLER": "https://relay.example/", "TITLE": "Call Companion", "LANG_ALL": {"ru": {"TITLE": "Компаньон"}}})).await
        .unwrap();
    assert_eq!(bound.result, json!(true));
    let again = client
        .call(
            "placement.bind",
            json!({"PLACEMENT": "CALL_CARD", "HANDLER": "https://relay.example/"}),
        )
        .await
        .unwrap_err();
    // Bitrix's server code: a duplicate is ERROR_CORE "Handler already binded".
    assert_eq!(again.portal_code(), Some("ERROR_CORE"));
    assert!(again.to_string().contains("already binded"), "{again}");
    // widgets/index.md: the host must contain a dot, so `localhost` is refused; `127.0.0.1`
    // passes (server code).
    for wrong in [
        "http://localhost:47600/call-card/",
        "ftp://relay.example/",
        "relay",
    ] {
        let refused = client
            .call(
                "placement.bind",
                json!({"PLACEMENT": "CALL_CARD", "HANDLER": wrong}),
            )
            .await
            .unwrap_err();
        assert_eq!(
            refused.portal_code(),
            Some("ERROR_WRONG_HANDLER_URL"),
            "{wrong}"
        );
    }
    client
        .call(
            "placement.bind",
            json!({"PLACEMENT": "CALL_CARD", "HANDLER": "http://127.0.0.1:47600/call-card/"}),
        )
        .await
        .unwrap();
    let listed = client
        .call("placement.get", json!({}))
        .await
        .unwrap()
        .result;
    assert_eq!(listed[0]["placement"], "CALL_CARD");
    assert_eq!(listed.as_array().unwrap().len(), 2);
    // placement-unbind.md: `count` grows by 2 per removed handler.
    assert_eq!(
        client
            .call("placement.unbind", json!({"PLACEMENT": "CALL_CARD"}))
            .await
            .unwrap()
            .result,
        json!({"count": 4})
    );
}

#[tokio::test]
async fn a_portal_that_refuses_loopback_handlers_says_so() {
    let sim = portal_sim::Simulator::start(portal_sim::SimConfig {
        refuse_loopback_handlers: true,
        ..Default::default()
    })
    .unwrap();
    let (client, _, _) = oauth_client(&sim).await;
    let refused = client
        .call(
            "placement.bind",
            json!({"PLACEMENT": "CALL_CARD", "HANDLER": "http://127.0.0.1:47600/call-card/"}),
        )
        .await
        .unwrap_err();
    assert_eq!(refused.portal_code(), Some("ERROR_WRONG_HANDLER_URL"));
}

#[tokio::test]
async fn secrets_never_reach_an_error_message() {
    let sim = simulator();
    let endpoints = sim.endpoints();
    let secret = endpoints
        .webhook_url
        .trim_end_matches('/')
        .rsplit('/')
        .next()
        .unwrap()
        .to_owned();
    // The portal goes away: the transport error names the host, not the URL.
    let client = webhook_client(&sim);
    drop(sim);
    let error = client.call("user.current", json!({})).await.unwrap_err();
    assert_eq!(error.code().as_str(), "network_error");
    let shown = format!("{error} {error:?}");
    assert!(!shown.contains(&secret), "{shown}");
    assert!(shown.contains("127.0.0.1"), "{shown}");
}

#[tokio::test]
async fn redirects_are_not_followed() {
    // A portal address that moved answers 301; following it would resend the token elsewhere.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    std::thread::spawn(move || {
        use std::io::{Read, Write};
        if let Ok((mut stream, _)) = listener.accept() {
            let mut buf = [0u8; 4096];
            let _ = stream.read(&mut buf);
            let _ = stream.write_all(b"HTTP/1.1 301 Moved Permanently\r\nLocation: https://elsewhere.example/rest/user.current.json?auth=leak\r\nContent-Length: 0\r\n\r\n");
        }
    });
    let client = Client::builder()
        .webhook(Secret::new(format!(
            "http://127.0.0.1:{port}/rest/1/abcdefgh/"
        )))
        .timeout(Duration::from_secs(5))
        .build()
        .unwrap();
    let error = client.call("user.current", json!({})).await.unwrap_err();
    assert!(
        matches!(&error, RestError::Redirect { status: 301, location } if location == "https://elsewhere.example/rest/user.current.json"),
        "{error:?}"
    );
}
