//! The OAuth server and `app.info` as the simulator plays them (`settings/oauth/index.md`,
//! `settings/oauth/error-codes.md`, `api-reference/common/system/app-info.md`).

use std::collections::HashMap;

use portal_sim::{SimConfig, Simulator};
use serde_json::{json, Value};

use crate::status_and_json;

/// The redirect's query after signing in as `user` (the redirect address is not followed).
fn sign_in(sim: &Simulator, user: u64) -> Result<HashMap<String, String>, u16> {
    let agent = ureq::AgentBuilder::new().redirects(0).build();
    let answer = agent
        .get(&format!(
            "{}/oauth/authorize/?client_id={}&state=st&sim_user={user}",
            sim.base_url(),
            sim.endpoints().client_id
        ))
        .call();
    match answer {
        Ok(response) if response.status() == 302 => {
            let location = response.header("location").unwrap().to_owned();
            let query = location.split_once('?').unwrap().1;
            Ok(form_urlencoded::parse(query.as_bytes())
                .into_owned()
                .collect())
        }
        Ok(response) => Err(response.status()),
        Err(ureq::Error::Status(status, page)) => {
            assert!(page.header("location").is_none(), "no redirect on failure");
            Err(status)
        }
        Err(e) => panic!("{e}"),
    }
}

fn token(sim: &Simulator, params: &[(&str, &str)]) -> (u16, Value) {
    let mut request = ureq::get(&format!("{}/oauth/token/", sim.base_url()));
    for (k, v) in params {
        request = request.query(k, v);
    }
    status_and_json(request.call())
}

fn exchange(sim: &Simulator, code: &str) -> (u16, Value) {
    let endpoints = sim.endpoints();
    token(
        sim,
        &[
            ("grant_type", "authorization_code"),
            ("client_id", &endpoints.client_id),
            ("client_secret", &endpoints.client_secret),
            ("code", code),
        ],
    )
}

#[test]
fn each_region_names_its_own_oauth_server() {
    for region in ["oauth.bitrix.info", "oauth.bitrix24.tech"] {
        let sim = Simulator::start(SimConfig {
            oauth_server_domain: region.into(),
            ..SimConfig::default()
        })
        .unwrap();
        let redirect = sign_in(&sim, 1).unwrap();
        let portal_host = sim.base_url().split_once("://").unwrap().1.to_owned();
        assert_eq!(redirect["server_domain"], region);
        assert_eq!(redirect["domain"], portal_host, "the portal's own address");
        assert_eq!(redirect["member_id"], sim.member_id());
        assert_eq!(redirect["state"], "st");

        let (status, tokens) = exchange(&sim, &redirect["code"]);
        assert_eq!(status, 200, "{tokens}");
        assert_eq!(tokens["domain"], region, "the OAuth server's domain");
        assert_eq!(tokens["server_endpoint"], format!("https://{region}/rest/"));
        assert_eq!(
            tokens["client_endpoint"],
            format!("{}/rest/", sim.base_url())
        );
        assert_eq!(tokens["member_id"], json!(sim.member_id()));

        let endpoints = sim.endpoints();
        let (status, renewed) = token(
            &sim,
            &[
                ("grant_type", "refresh_token"),
                ("client_id", &endpoints.client_id),
                ("client_secret", &endpoints.client_secret),
                ("refresh_token", tokens["refresh_token"].as_str().unwrap()),
            ],
        );
        assert_eq!((status, &renewed["domain"]), (200, &json!(region)));
        assert_eq!(
            sim.issue_tokens(1).server_endpoint,
            format!("https://{region}/rest/"),
            "the call card's SERVER_ENDPOINT"
        );
    }
}

type Case<'a> = (&'a str, Vec<(&'a str, &'a str)>, u16, &'a str);

#[test]
fn token_errors_use_the_documented_codes() {
    let sim = Simulator::start(SimConfig::default()).unwrap();
    let endpoints = sim.endpoints();
    let (id, secret) = (
        endpoints.client_id.as_str(),
        endpoints.client_secret.as_str(),
    );
    let code = sign_in(&sim, 1).unwrap()["code"].clone();
    // What is wrong, the parameters sent, the HTTP status and the documented code.
    let cases: &[Case] = &[
        (
            "no grant type",
            vec![
                ("client_id", id),
                ("client_secret", secret),
                ("code", &code),
            ],
            400,
            "invalid_request",
        ),
        (
            "a grant type the server does not know",
            vec![
                ("grant_type", "password"),
                ("client_id", id),
                ("client_secret", secret),
            ],
            400,
            "invalid_request",
        ),
        (
            "no code",
            vec![
                ("grant_type", "authorization_code"),
                ("client_id", id),
                ("client_secret", secret),
            ],
            400,
            "invalid_request",
        ),
        (
            "no client secret",
            vec![
                ("grant_type", "authorization_code"),
                ("client_id", id),
                ("code", &code),
            ],
            400,
            "invalid_request",
        ),
        (
            "a wrong client secret",
            vec![
                ("grant_type", "authorization_code"),
                ("client_id", id),
                ("client_secret", "wrong"),
                ("code", &code),
            ],
            401,
            "invalid_client",
        ),
        (
            "another application's client id",
            vec![
                ("grant_type", "authorization_code"),
                ("client_id", "local.other"),
                ("client_secret", secret),
                ("code", &code),
            ],
            401,
            "invalid_client",
        ),
        (
            "a code the portal never issued",
            vec![
                ("grant_type", "authorization_code"),
                ("client_id", id),
                ("client_secret", secret),
                ("code", "nope"),
            ],
            400,
            "invalid_grant",
        ),
        (
            "a refresh token the portal never issued",
            vec![
                ("grant_type", "refresh_token"),
                ("client_id", id),
                ("client_secret", secret),
                ("refresh_token", "nope"),
            ],
            400,
            "invalid_grant",
        ),
    ];
    for (what, params, status, error) in cases {
        let (got, body) = token(&sim, params);
        assert_eq!(
            (got, body["error"].as_str()),
            (*status, Some(*error)),
            "{what}: {body}"
        );
        assert!(body["error_description"].is_string(), "{what}");
    }
    // None of the refusals spent the code.
    assert_eq!(exchange(&sim, &code).0, 200);
    assert_eq!(
        exchange(&sim, &code).1["error"],
        "invalid_grant",
        "a code works once"
    );
}

#[test]
fn an_expired_payment_gets_no_tokens() {
    let sim = Simulator::start(SimConfig {
        app_payment_expired: true,
        ..SimConfig::default()
    })
    .unwrap();
    let code = sign_in(&sim, 1).unwrap()["code"].clone();
    let (status, body) = exchange(&sim, &code);
    assert_eq!(
        body,
        json!({"error": "PAYMENT_REQUIRED", "error_description": "Payment required"})
    );
    assert_eq!(status, 402);
    let tokens = sim.issue_tokens(1);
    let (_, info) = status_and_json(
        ureq::post(&format!("{}/rest/app.info", sim.base_url()))
            .send_json(json!({"auth": tokens.access_token})),
    );
    assert_eq!(info["result"]["PAYMENT_EXPIRED"], "Y");
}

#[test]
fn app_info_tells_an_application_whether_its_installation_is_finished() {
    for installed in [true, false] {
        let sim = Simulator::start(SimConfig {
            app_installed: installed,
            ..SimConfig::default()
        })
        .unwrap();
        let tokens = sim.issue_tokens(1);
        let (status, info) = status_and_json(
            ureq::post(&format!("{}/rest/app.info", sim.base_url()))
                .send_json(json!({"auth": tokens.access_token})),
        );
        assert_eq!(status, 200);
        assert_eq!(info["result"]["INSTALLED"], json!(installed));
        assert_eq!(info["result"]["CODE"], sim.endpoints().client_id);
        assert_eq!(info["result"]["PAYMENT_EXPIRED"], "N");
        // Until then only administrators may use the application: user 1 is one, user 3 not.
        assert!(sign_in(&sim, 1).is_ok());
        assert_eq!(
            sign_in(&sim, 3).map(|_| 302),
            if installed { Ok(302) } else { Err(403) }
        );
    }
}

#[test]
fn app_info_answers_a_webhook_with_its_scope_and_the_plan() {
    let sim = Simulator::start(SimConfig::default()).unwrap();
    let (status, body) = status_and_json(
        ureq::post(&format!("{}app.info", sim.endpoints().webhook_url)).send_json(json!({})),
    );
    assert_eq!(status, 200, "{body}");
    let result = &body["result"];
    assert!(result["SCOPE"].as_array().unwrap().contains(&json!("crm")));
    assert_eq!(result["LICENSE"], "ru_company");
    for absent in ["INSTALLED", "CODE", "ID"] {
        assert!(result.get(absent).is_none(), "{absent}: {result}");
    }
}
