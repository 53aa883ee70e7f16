//! Every status of the HTTP contract, against the real listener.

use crate::client::{config, fixture, start, ALLOWED_ORIGIN};

#[tokio::test]
async fn relay_envelope_is_accepted_and_a_repeat_is_an_update() {
    let server = start(config());
    let body = fixture("relay-envelope-object.json");
    let first = server
        .send(server.post_call("application/json", body.clone()))
        .await;
    assert_eq!(first.status, 202, "{:?}", first.body);
    assert_eq!(first.body["call_id"], "externalCall.aa11bb22.1723560000");
    assert_eq!(first.body["new"], true);
    let again = server
        .send(server.post_call("application/json; charset=utf-8", body))
        .await;
    assert_eq!(again.status, 202);
    assert_eq!(
        again.body["new"], false,
        "the same CALL_ID never pops twice"
    );
    assert_eq!(server.intake.calls.lock().unwrap().len(), 2);
}

#[tokio::test]
async fn bitrix24_form_body_and_pasted_text_are_accepted() {
    let server = start(config());
    let form = server
        .send(server.post_call(
            "application/x-www-form-urlencoded",
            fixture("docs-company-with-bindings.form"),
        ))
        .await;
    assert_eq!(form.status, 202, "{:?}", form.body);
    let pasted = server
        .send(server.post_call("text/plain", fixture("seed-docs-print_r.txt")))
        .await;
    assert_eq!(pasted.status, 202, "{:?}", pasted.body);
    let calls = server.intake.calls.lock().unwrap();
    assert_eq!(calls[0].entity.map(|e| e.id), Some(17));
    assert_eq!(calls[1].phone_number.as_deref(), Some("555555"));
}

#[tokio::test]
async fn bad_payload_is_400_with_the_parser_code_and_reported_to_the_app() {
    let server = start(config());
    let answer = server
        .send(server.post_call(
            "application/json",
            fixture("bad-missing-call-id.options.json"),
        ))
        .await;
    assert_eq!(answer.status, 400);
    assert_eq!(answer.code(), "missing_call_id");
    assert_eq!(answer.body["message"], "missing CALL_ID");
    assert_eq!(*server.intake.rejected.lock().unwrap(), ["missing_call_id"]);
    assert!(server.intake.calls.lock().unwrap().is_empty());
}

#[tokio::test]
async fn tokens_in_the_payload_are_not_echoed() {
    let server = start(config());
    let answer = server
        .send(server.post_call(
            "application/x-www-form-urlencoded",
            fixture("bad-options-not-json.form"),
        ))
        .await;
    assert_eq!(answer.status, 400);
    let text = answer.body.to_string();
    let form = String::from_utf8(fixture("bad-options-not-json.form")).unwrap();
    let auth_id = form
        .split('&')
        .find_map(|p| p.strip_prefix("AUTH_ID="))
        .unwrap();
    assert!(!auth_id.is_empty() && !text.contains(auth_id), "{text}");
}

#[tokio::test]
async fn missing_or_wrong_token_is_401_pairing_required() {
    let server = start(config());
    let body = fixture("relay-envelope-object.json");
    let missing = server
        .send(
            server
                .req("POST", "/v1/call-card")
                .header("Content-Type", "application/json")
                .body(body.clone()),
        )
        .await;
    assert_eq!(missing.status, 401);
    assert_eq!(missing.code(), "pairing_required");
    assert_eq!(missing.header("www-authenticate"), Some("Bearer"));
    let wrong = server
        .send(
            server
                .req("POST", "/v1/call-card")
                .bearer("cc1_wrong")
                .header("Content-Type", "application/json")
                .body(body),
        )
        .await;
    assert_eq!(wrong.status, 401);
    assert_eq!(wrong.code(), "pairing_required");
    assert!(server.intake.calls.lock().unwrap().is_empty());
}

#[tokio::test]
async fn forged_or_missing_host_is_403() {
    let server = start(config());
    for host in [
        Some("evil.example:47600".to_owned()),
        Some(format!("evil.example:{}", server.port)),
        Some("127.0.0.1".to_owned()),
        None,
    ] {
        let answer = server
            .send(
                server
                    .post_call("application/json", fixture("relay-envelope-object.json"))
                    .host(host.as_deref()),
            )
            .await;
        assert_eq!(
            (answer.status, answer.code()),
            (403, "forbidden_host"),
            "{host:?}"
        );
    }
    for host in [
        format!("localhost:{}", server.port),
        format!("[::1]:{}", server.port),
    ] {
        let answer = server
            .send(server.req("GET", "/v1/status").host(Some(&host)))
            .await;
        assert_eq!(answer.status, 200, "{host}");
    }
    assert!(server.intake.calls.lock().unwrap().is_empty());
}

#[tokio::test]
async fn foreign_origin_is_403_and_allowed_origin_gets_cors() {
    let server = start(config());
    let foreign = server
        .send(
            server
                .post_call("application/json", fixture("relay-envelope-object.json"))
                .header("Origin", "https://evil.example"),
        )
        .await;
    assert_eq!((foreign.status, foreign.code()), (403, "forbidden_origin"));
    assert_eq!(foreign.header("access-control-allow-origin"), None);
    let null = server
        .send(server.req("GET", "/v1/status").header("Origin", "null"))
        .await;
    assert_eq!(null.status, 403);
    let allowed = server
        .send(
            server
                .post_call("application/json", fixture("relay-envelope-object.json"))
                .header("Origin", ALLOWED_ORIGIN),
        )
        .await;
    assert_eq!(allowed.status, 202);
    assert_eq!(
        allowed.header("access-control-allow-origin"),
        Some(ALLOWED_ORIGIN)
    );
    assert_eq!(allowed.header("vary"), Some("Origin"));
}

#[tokio::test]
async fn preflight_answers_allowed_origins_with_private_network_access() {
    let server = start(config());
    let answer = server
        .send(
            server
                .req("OPTIONS", "/v1/call-card")
                .header("Origin", ALLOWED_ORIGIN)
                .header("Access-Control-Request-Method", "POST")
                .header(
                    "Access-Control-Request-Headers",
                    "authorization, content-type",
                )
                .header("Access-Control-Request-Private-Network", "true"),
        )
        .await;
    assert_eq!(answer.status, 204);
    assert_eq!(
        answer.header("access-control-allow-origin"),
        Some(ALLOWED_ORIGIN)
    );
    assert_eq!(
        answer.header("access-control-allow-private-network"),
        Some("true")
    );
    assert!(answer
        .header("access-control-allow-headers")
        .unwrap()
        .contains("authorization"));
    let without_pna = server
        .send(
            server
                .req("OPTIONS", "/v1/pair")
                .header("Origin", ALLOWED_ORIGIN),
        )
        .await;
    assert_eq!(without_pna.status, 204);
    assert_eq!(
        without_pna.header("access-control-allow-private-network"),
        None
    );
    let foreign = server
        .send(
            server
                .req("OPTIONS", "/v1/call-card")
                .header("Origin", "https://evil.example")
                .header("Access-Control-Request-Private-Network", "true"),
        )
        .await;
    assert_eq!(foreign.status, 403);
    assert_eq!(foreign.header("access-control-allow-private-network"), None);
}

#[tokio::test]
async fn status_is_open_but_says_only_whether_the_caller_is_paired() {
    let server = start(config());
    let stranger = server.send(server.req("GET", "/v1/status")).await;
    assert_eq!(stranger.status, 200);
    assert_eq!(
        stranger.body,
        serde_json::json!({"app": "Call Companion", "version": "9.9.9", "api": 1, "paired": false})
    );
    let paired = server
        .send(
            server
                .req("GET", "/v1/status")
                .bearer(server.token.expose()),
        )
        .await;
    assert_eq!(paired.body["paired"], true);
}

/// A relay widget asks the program on the port to prove it holds the pairing token before it
/// sends the token or a caller: the proof is HMAC-SHA256 over `callcompanion-hello-v1\n` and
/// the challenge, which only the holder of the token can make.
#[tokio::test]
async fn status_proves_the_token_for_a_challenge_without_showing_it() {
    let server = start(config());
    let challenge = "0123456789abcdefXYZ_-";
    let answer = server
        .send(server.req("GET", &format!("/v1/status?challenge={challenge}")))
        .await;
    assert_eq!(answer.status, 200);
    let proof = answer.body["proof"].as_str().unwrap();
    assert_eq!(
        proof,
        listener::token_mac(
            server.token.expose(),
            listener::HELLO_CONTEXT,
            challenge.as_bytes()
        )
    );
    assert!(!answer.body.to_string().contains(server.token.expose()));
    // Computed apart from this code (Python's hmac), for a token "k".
    assert_eq!(
        listener::token_mac("k", listener::HELLO_CONTEXT, b"0123456789abcdef"),
        "tyXgHS0dEcXl6jwf-iHrhKuWIbEXSBpc1i_ZiZolmuk"
    );
    for bad in ["short", &"a".repeat(129), "0123456789abcdef%2F%2F"] {
        let refused = server
            .send(server.req("GET", &format!("/v1/status?challenge={bad}")))
            .await;
        assert_eq!(
            (refused.status, refused.code()),
            (400, "bad_request"),
            "{bad}"
        );
    }
}

#[tokio::test]
async fn wrong_method_is_405_and_unknown_path_404() {
    let server = start(config());
    let get = server
        .send(
            server
                .req("GET", "/v1/call-card")
                .bearer(server.token.expose()),
        )
        .await;
    assert_eq!((get.status, get.code()), (405, "method_not_allowed"));
    assert_eq!(get.header("allow"), Some("POST, OPTIONS"));
    let delete = server.send(server.req("DELETE", "/v1/status")).await;
    assert_eq!(delete.status, 405);
    let unknown = server.send(server.req("GET", "/admin")).await;
    assert_eq!((unknown.status, unknown.code()), (404, "not_found"));
}

#[tokio::test]
async fn oversized_body_is_413() {
    let server = start(config());
    let mut big = br#"{"CALL_ID":"x","PAD":""#.to_vec();
    big.resize(big.len() + 100 * 1024, b'a');
    big.extend(br#""}"#);
    let answer = server.send(server.post_call("application/json", big)).await;
    assert_eq!((answer.status, answer.code()), (413, "payload_too_large"));
    assert!(server.intake.calls.lock().unwrap().is_empty());
}

#[tokio::test]
async fn oversized_chunked_body_is_413_while_streaming() {
    use tokio::io::AsyncWriteExt;
    let server = start(config());
    let mut stream = tokio::net::TcpStream::connect(("127.0.0.1", server.port))
        .await
        .unwrap();
    let head = format!(
        "POST /v1/call-card HTTP/1.1\r\nHost: 127.0.0.1:{}\r\nAuthorization: Bearer {}\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n",
        server.port,
        server.token.expose()
    );
    stream.write_all(head.as_bytes()).await.unwrap();
    let chunk = "a".repeat(16 * 1024);
    for _ in 0..5 {
        let _ = stream
            .write_all(format!("{:x}\r\n{chunk}\r\n", chunk.len()).as_bytes())
            .await;
    }
    let _ = stream.write_all(b"0\r\n\r\n").await;
    let answer = crate::client::read_answer(&mut stream).await;
    assert_eq!(answer.status, 413);
}

#[tokio::test]
async fn wrong_content_type_is_415() {
    let server = start(config());
    for content_type in [
        "multipart/form-data; boundary=x",
        "application/xml",
        "application/json; charset=windows-1251",
    ] {
        let answer = server
            .send(server.post_call(content_type, fixture("relay-envelope-object.json")))
            .await;
        assert_eq!(
            (answer.status, answer.code()),
            (415, "unsupported_media_type"),
            "{content_type}"
        );
    }
    let missing = server
        .send(
            server
                .req("POST", "/v1/call-card")
                .bearer(server.token.expose())
                .body(fixture("relay-envelope-object.json")),
        )
        .await;
    assert_eq!(missing.status, 415);
}

#[tokio::test]
async fn too_many_requests_is_429_with_retry_after() {
    let mut config = config();
    config.rate = listener::RateLimit {
        burst: 3,
        per_second: 0.5,
    };
    let server = start(config);
    for _ in 0..3 {
        assert_eq!(
            server.send(server.req("GET", "/v1/status")).await.status,
            200
        );
    }
    let limited = server.send(server.req("GET", "/v1/status")).await;
    assert_eq!((limited.status, limited.code()), (429, "rate_limited"));
    assert_eq!(limited.header("retry-after"), Some("2"));
    let other_client = server
        .send(
            server
                .req("GET", "/v1/status")
                .header("Origin", ALLOWED_ORIGIN),
        )
        .await;
    assert_eq!(other_client.status, 200, "limits are per client");
}

#[tokio::test]
async fn the_oauth_callback_is_a_page_for_the_browser_and_needs_no_token() {
    let server = start(config());
    let ok = server
        .send(server.req(
            "GET",
            "/v1/oauth/callback?code=abc&state=expected&domain=acme.bitrix24.ru",
        ))
        .await;
    assert_eq!(ok.status, 200);
    assert!(ok.header("content-type").unwrap().starts_with("text/html"));
    assert_eq!(
        ok.header("referrer-policy"),
        Some("no-referrer"),
        "the code in the address must not leak onward"
    );
    assert!(ok
        .header("content-security-policy")
        .unwrap()
        .contains("default-src 'none'"));
    let page = ok.body.as_str().unwrap();
    assert!(
        page.contains("Signed in &lt;b&gt;"),
        "text is escaped: {page}"
    );
    assert_eq!(
        server.intake.callbacks.lock().unwrap()[0],
        "code=abc&state=expected&domain=acme.bitrix24.ru"
    );

    let refused = server
        .send(server.req("GET", "/v1/oauth/callback?code=abc&state=forged"))
        .await;
    assert_eq!(refused.status, 400);
    let post = server.send(server.req("POST", "/v1/oauth/callback")).await;
    assert_eq!(post.status, 405);
    let rebound = server
        .send(
            server
                .req("GET", "/v1/oauth/callback?state=expected")
                .host(Some("evil.example")),
        )
        .await;
    assert_eq!(rebound.status, 403, "a DNS-rebinding page cannot reach it");
}

#[tokio::test]
async fn the_relay_widget_is_served_to_any_page_even_by_post_and_nothing_else_is() {
    let server = start(config());
    let page = server.send(server.req("GET", "/relay/")).await;
    assert_eq!(page.status, 200);
    assert!(page
        .header("content-type")
        .unwrap()
        .starts_with("text/html"));
    assert!(page.body.as_str().unwrap().contains("relay.js"));

    // Bitrix24 opens the widget with a POST from the portal, tokens in the form: the page comes
    // back whatever the origin, and the body is not looked at.
    let opened = server
        .send(
            server
                .req("POST", "/relay/")
                .header("Origin", "https://some-other-portal.bitrix24.de")
                .header("Content-Type", "application/x-www-form-urlencoded")
                .body("AUTH_ID=secret-auth&REFRESH_ID=secret-refresh&PLACEMENT=CALL_CARD"),
        )
        .await;
    assert_eq!(opened.status, 200);
    assert!(!opened.body.as_str().unwrap().contains("secret-auth"));

    let script = server.send(server.req("GET", "/relay/relay.js")).await;
    assert_eq!(script.status, 200);
    assert!(script
        .header("content-type")
        .unwrap()
        .starts_with("text/javascript"));
    assert_eq!(script.header("x-content-type-options"), Some("nosniff"));

    // The widget served from here may post to here without IT listing this origin.
    let own = server
        .send(
            server
                .post_call("application/json", fixture("relay-envelope-object.json"))
                .header("Origin", &format!("http://127.0.0.1:{}", server.port)),
        )
        .await;
    assert_eq!(own.status, 202, "{:?}", own.body);
    let own_cors = format!("http://127.0.0.1:{}", server.port);
    assert_eq!(
        own.header("access-control-allow-origin"),
        Some(own_cors.as_str())
    );
    let other_port = server
        .send(
            server
                .post_call("application/json", fixture("relay-envelope-object.json"))
                .header("Origin", &format!("http://127.0.0.1:{}", server.port + 1)),
        )
        .await;
    assert_eq!(other_port.code(), "forbidden_origin");

    let bare = server.send(server.req("GET", "/relay")).await;
    assert_eq!(
        (bare.status, bare.header("location")),
        (308, Some("/relay/"))
    );
    let elsewhere = server.send(server.req("GET", "/relay/README.md")).await;
    assert_eq!(elsewhere.status, 404);
    let put = server.send(server.req("PUT", "/relay/")).await;
    assert_eq!((put.status, put.code()), (405, "method_not_allowed"));
    // Still only for this computer's own names: DNS rebinding gets nothing.
    let rebound = server
        .send(server.req("GET", "/relay/").host(Some("evil.example:80")))
        .await;
    assert_eq!(rebound.status, 403);
}

/// Every error code README's contract names is one the app can answer: each is a string the
/// listener, the parser or the tab's verdicts write (README once named one that did not exist).
#[test]
fn every_code_the_readme_promises_exists() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let readme = std::fs::read_to_string(root.join("README.md")).unwrap();
    let start = readme
        .find("### The local listener (HTTP contract")
        .expect("README has the contract");
    let section = &readme[start..];
    let section = &section[..section[4..].find("\n### ").map_or(section.len(), |i| i + 4)];
    let mut sources = String::new();
    for dir in [
        "crates/listener/src",
        "crates/callcard/src",
        "crates/companion/src/tab",
    ] {
        for entry in std::fs::read_dir(root.join(dir)).unwrap().flatten() {
            sources.push_str(&std::fs::read_to_string(entry.path()).unwrap_or_default());
        }
    }
    let codes: Vec<&str> = section
        .split('`')
        .skip(1)
        .step_by(2)
        .flat_map(|quoted| quoted.split([' ', '/']))
        // `print_r` is PHP's dump format, named beside the codes.
        .filter(|word| *word != "print_r")
        .filter(|word| {
            word.contains('_')
                && word
                    .chars()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
        })
        .collect();
    assert!(
        codes.len() >= 15,
        "the contract's codes were found: {codes:?}"
    );
    // Each is a code of the one vocabulary, and one the listener, the parser or the tab answers.
    let missing: Vec<&&str> = codes
        .iter()
        .filter(|code| {
            let known = codes::ErrorCode::parse(code);
            known == codes::ErrorCode::UnknownError || !sources.contains(&format!("::{known:?}"))
        })
        .collect();
    assert!(
        missing.is_empty(),
        "README promises codes nobody answers: {missing:?}"
    );
}
