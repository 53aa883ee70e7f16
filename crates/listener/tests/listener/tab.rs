//! The call-card tab the app serves (`/call-card/`): who may open it, the page it gets, and the
//! events its script sends back with the tab's nonce.

use crate::client::{config, start, Server};

const PORTAL: &str = "https://acme.bitrix24.ru";
const AUTH_ID: &str = "a1b2c3d4e5f6a7b8c9d0";
const FORM: &str = "AUTH_ID=a1b2c3d4e5f6a7b8c9d0&AUTH_EXPIRES=3600&REFRESH_ID=r1r2r3r4r5r6r7r8&member_id=m1&status=L&PLACEMENT=CALL_CARD&PLACEMENT_OPTIONS=%7B%22CALL_ID%22%3A%22externalCall.tab.1%22%2C%22PHONE_NUMBER%22%3A%22%2B79001234567%22%2C%22CALL_STATE%22%3A%22connecting%22%7D";

fn tab_server() -> Server {
    let server = start(config());
    *server.intake.tab_origin.lock().unwrap() = Some(PORTAL.into());
    server
}

fn post_tab(server: &Server, origin: Option<&str>, content_type: &str) -> crate::client::Req {
    let mut req = server
        .req(
            "POST",
            "/call-card/?DOMAIN=acme.bitrix24.ru&PROTOCOL=1&LANG=ru&APP_SID=abc",
        )
        .header("Content-Type", content_type)
        .body(FORM);
    if let Some(origin) = origin {
        req = req.header("Origin", origin);
    }
    req
}

fn nonce_of(page: &str) -> String {
    page.split("data-nonce=\"")
        .nth(1)
        .and_then(|rest| rest.split('"').next())
        .expect("the page carries the tab's nonce")
        .to_owned()
}

#[tokio::test]
async fn the_portals_post_gets_the_tab_and_its_events_reach_the_app_with_the_nonce() {
    let server = tab_server();
    // Browsers send `Origin: null` on this POST by default (HTTPS page to http:), or the
    // portal's origin under a looser referrer policy: both are the app's to prove.
    for origin in ["null", PORTAL] {
        let page = server
            .send(post_tab(
                &server,
                Some(origin),
                "application/x-www-form-urlencoded",
            ))
            .await;
        assert_eq!(page.status, 200, "{origin}: {:?}", page.body);
        let html = page.body.as_str().unwrap();
        assert!(
            html.contains("Передано в Call Companion"),
            "the portal's language: {html}"
        );
        assert!(!html.contains(AUTH_ID), "the page never echoes the token");
        let csp = page.header("content-security-policy").unwrap();
        assert!(
            csp.contains("script-src 'self' https://api.bitrix24.com;"),
            "{csp}"
        );
        assert!(csp.ends_with(&format!("frame-ancestors {PORTAL}")), "{csp}");
        assert_eq!(page.header("referrer-policy"), Some("no-referrer"));
    }
    assert_eq!(server.intake.tabs.lock().unwrap().len(), 2);
    assert_eq!(server.intake.tabs.lock().unwrap()[0].0, "null");

    let page = server
        .send(post_tab(
            &server,
            Some("null"),
            "application/x-www-form-urlencoded",
        ))
        .await;
    let nonce = nonce_of(page.body.as_str().unwrap());
    let own = format!("http://127.0.0.1:{}", server.port);
    let event = |nonce: &str, origin: &str, call_id: &str| {
        server
            .req("POST", "/call-card/event")
            .header("Origin", origin)
            .header("X-Tab-Nonce", nonce)
            .header("Content-Type", "application/json")
            .body(format!(
                r#"{{"v":1,"placement":"CALL_CARD","options":{{"CALL_ID":"{call_id}","CALL_STATE":"connected"}}}}"#
            ))
    };
    let sent = server.send(event(&nonce, &own, "externalCall.tab.1")).await;
    assert_eq!(
        (sent.status, sent.body["call_id"].as_str()),
        (202, Some("externalCall.tab.1"))
    );
    let calls = server.intake.calls.lock().unwrap().clone();
    assert_eq!(calls.len(), 1, "the event reached the app");
    assert_eq!(calls[0].state, callcard::CallState::Connected);

    for (name, req, status, code) in [
        (
            "another call",
            event(&nonce, &own, "externalCall.tab.2"),
            409,
            "tab_call_mismatch",
        ),
        (
            "a nonce never issued",
            event("00ff", &own, "externalCall.tab.1"),
            401,
            "tab_nonce_unknown",
        ),
        (
            "no nonce",
            event("", &own, "externalCall.tab.1"),
            401,
            "tab_nonce_unknown",
        ),
        (
            "the portal's page itself",
            event(&nonce, PORTAL, "externalCall.tab.1"),
            403,
            "forbidden_origin",
        ),
        (
            "a page of elsewhere",
            event(&nonce, "https://evil.test", "externalCall.tab.1"),
            403,
            "forbidden_origin",
        ),
    ] {
        let answer = server.send(req).await;
        assert_eq!(
            (answer.status, answer.code()),
            (status, code),
            "{name}: {:?}",
            answer.body
        );
    }
    assert_eq!(
        server.intake.calls.lock().unwrap().len(),
        1,
        "nothing else reached the app"
    );

    let script = server.send(server.req("GET", "/call-card/tab.js")).await;
    assert_eq!(script.status, 200);
    assert!(script
        .header("content-type")
        .unwrap()
        .starts_with("text/javascript"));
}

#[tokio::test]
async fn a_page_of_another_origin_or_an_app_without_a_portal_is_refused_unread() {
    let server = tab_server();
    let foreign = server
        .send(post_tab(
            &server,
            Some("https://evil.test"),
            "application/x-www-form-urlencoded",
        ))
        .await;
    assert_eq!(foreign.status, 403);
    let html = foreign.body.as_str().unwrap();
    assert!(html.contains("data-code=\"tab_foreign_portal\""), "{html}");
    assert!(!html.contains("<script"), "a refusal runs nothing");
    assert!(!foreign
        .header("content-security-policy")
        .unwrap()
        .contains("frame-ancestors"));

    let wrong_type = server
        .send(post_tab(&server, Some("null"), "application/json"))
        .await;
    assert_eq!(wrong_type.status, 415);
    let opened = server.send(server.req("GET", "/call-card/")).await;
    assert_eq!((opened.status, opened.header("allow")), (405, Some("POST")));
    assert!(
        server.intake.tabs.lock().unwrap().is_empty(),
        "the app saw none of these"
    );

    *server.intake.tab_origin.lock().unwrap() = None;
    let nobody = server
        .send(post_tab(
            &server,
            Some("null"),
            "application/x-www-form-urlencoded",
        ))
        .await;
    assert_eq!(nobody.status, 503);
    assert!(nobody.body.as_str().unwrap().contains("tab_not_signed_in"));
    assert!(server.intake.tabs.lock().unwrap().is_empty());
}

/// A colleague's call card handed on to their app's port: a 307 (the browser sends the same
/// POST there), the query marked so it is never handed on again, nothing of the form echoed.
#[tokio::test]
async fn a_tab_handed_on_redirects_the_same_post_to_the_other_port_once() {
    let server = tab_server();
    *server.intake.hand_on.lock().unwrap() = Some(51234);
    let page = server
        .send(post_tab(
            &server,
            Some("null"),
            "application/x-www-form-urlencoded",
        ))
        .await;
    assert_eq!(page.status, 307, "{:?}", page.body);
    assert_eq!(
        page.header("location").unwrap(),
        "http://127.0.0.1:51234/call-card/?DOMAIN=acme.bitrix24.ru&PROTOCOL=1&LANG=ru&APP_SID=abc&callcompanion_hop=1"
    );
    let html = page.body.as_str().unwrap();
    assert!(html.contains("data-code=\"handed_on\""), "{html}");
    assert!(
        html.contains("Дмитрий Орлов") && !html.contains(AUTH_ID),
        "{html}"
    );
    assert_eq!(*server.intake.arrived_on.lock().unwrap(), [server.port]);
    // Arriving already handed on, it is the app's own to judge (here: shown).
    let again = server
        .send(
            server
                .req(
                    "POST",
                    "/call-card/?DOMAIN=acme.bitrix24.ru&PROTOCOL=1&LANG=ru&APP_SID=abc&callcompanion_hop=1",
                )
                .header("Content-Type", "application/x-www-form-urlencoded")
                .header("Origin", "null")
                .body(FORM),
        )
        .await;
    assert_eq!(again.status, 200, "{:?}", again.body);
}
