//! `POST /v1/pair`: the one-time code for the token, and the code's limits.

use std::time::{Duration, Instant};

use listener::{PairingToken, CODE_ATTEMPTS};
use serde_json::json;

use crate::client::{config, fixture, start};

#[tokio::test]
async fn the_code_shown_in_the_app_buys_the_token_once() {
    let server = start(config());
    let code = server.pairing.current_code(Instant::now()).unwrap();
    assert_eq!(code.code.len(), 6);
    assert!(code.code.bytes().all(|b| b.is_ascii_digit()));
    let pair = |code: String| {
        server
            .req("POST", "/v1/pair")
            .header("Content-Type", "application/json")
            .body(json!({ "code": code }).to_string())
    };
    let answer = server.send(pair(code.code.clone())).await;
    assert_eq!(answer.status, 200, "{:?}", answer.body);
    let token = answer.body["token"].as_str().unwrap().to_owned();
    assert_eq!(token, server.token.expose());
    let reused = server.send(pair(code.code)).await;
    assert_eq!(
        (reused.status, reused.code()),
        (401, "pairing_code_not_open")
    );
    let call = server
        .send(
            server
                .req("POST", "/v1/call-card")
                .bearer(&token)
                .header("Content-Type", "application/json")
                .body(fixture("relay-envelope-object.json")),
        )
        .await;
    assert_eq!(call.status, 202);
}

#[tokio::test]
async fn wrong_guesses_burn_the_code() {
    let server = start(config());
    let code = server.pairing.current_code(Instant::now()).unwrap().code;
    let wrong = if code == "000000" { "111111" } else { "000000" };
    let pair = |code: &str| {
        server
            .req("POST", "/v1/pair")
            .header("Content-Type", "application/json")
            .body(json!({ "code": code }).to_string())
    };
    for left in (1..CODE_ATTEMPTS).rev() {
        let answer = server.send(pair(wrong)).await;
        assert_eq!((answer.status, answer.code()), (401, "pairing_code_wrong"));
        assert!(answer.body["message"]
            .as_str()
            .unwrap()
            .contains(&format!("{left} attempts left")));
    }
    assert_eq!(server.send(pair(wrong)).await.code(), "pairing_code_burned");
    let right_too_late = server.send(pair(&code)).await;
    assert_eq!(
        right_too_late.code(),
        "pairing_code_burned",
        "a burned code stays burned"
    );
    assert_ne!(
        server.pairing.current_code(Instant::now()).unwrap().code,
        "",
        "the app shows a new code"
    );
}

#[test]
fn codes_expire_and_rotation_invalidates_the_old_token() {
    let token = PairingToken::generate().unwrap();
    let pairing = listener::Pairing::new(token.clone());
    let t0 = Instant::now();
    let code = pairing.current_code(t0).unwrap();
    assert_eq!(
        pairing
            .current_code(t0 + Duration::from_secs(60))
            .unwrap()
            .code,
        code.code,
        "the shown code stays while valid"
    );
    assert_eq!(
        pairing.redeem(&code.code, t0 + listener::CODE_LIFETIME),
        Err(listener::RedeemError::Expired)
    );
    let fresh = pairing.current_code(t0 + listener::CODE_LIFETIME).unwrap();
    assert_eq!(
        pairing.redeem(
            &format!("{}-{}", &fresh.code[..3], &fresh.code[3..]),
            t0 + listener::CODE_LIFETIME
        ),
        Ok(token.clone()),
        "typed with a dash"
    );
    let rotated = PairingToken::generate().unwrap();
    pairing.set_token(rotated.clone());
    assert!(!pairing.token().matches(token.expose()));
    assert!(pairing.token().matches(rotated.expose()));
}

#[test]
fn tokens_are_long_random_and_never_printed() {
    let a = PairingToken::generate().unwrap();
    let b = PairingToken::generate().unwrap();
    assert_ne!(a, b);
    assert!(a.expose().len() >= 40);
    assert_eq!(format!("{a:?}"), "PairingToken(<redacted>)");
    assert_eq!(PairingToken::from_stored(a.expose()), Some(a.clone()));
    assert_eq!(PairingToken::from_stored("cc1_short"), None);
    assert_eq!(PairingToken::from_stored("hunter2"), None);
}

#[tokio::test]
async fn malformed_pair_request_is_400_or_415() {
    let server = start(config());
    let not_json = server
        .send(
            server
                .req("POST", "/v1/pair")
                .header("Content-Type", "application/json")
                .body("code=1"),
        )
        .await;
    assert_eq!((not_json.status, not_json.code()), (400, "bad_request"));
    let form = server
        .send(
            server
                .req("POST", "/v1/pair")
                .header("Content-Type", "application/x-www-form-urlencoded")
                .body("code=1"),
        )
        .await;
    assert_eq!(form.status, 415);
}
