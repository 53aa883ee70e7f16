//! The call card's POST to the app's own tab, judged by the core against the portal simulator:
//! one table of posts, each with the verdict it must get, what the portal was asked (one
//! request, the screen pop's own), and whether a call was shown. Then the zero-touch sign-in.

use companion::rt::Wait;
use std::sync::{Arc, Mutex};

use callcard::CallContext;
use companion::calls::{CallRegistry, Change};
use companion::card::model::Card;
use companion::card::CardDesk;
use companion::desk::CallDesk;
use companion::policy::CallCardSignIn;
use companion::portal::WebhookForm;
use companion::status::{PortalStatus, SignInMethod};
use companion::tab::TabDesk;
use listener::{TabPost, TabVerdict};
use portal_sim::call_card::{tab_form, IssuedTokens, TabForm};
use portal_sim::Faults;
use serde_json::{json, Value};

use crate::portal::{browse, Setup};

/// The app's desks wired as the shell wires them: a reported call shows its card.
struct App {
    tab: TabDesk,
    calls: Arc<CallDesk>,
    cards: Arc<CardDesk>,
    portal: Arc<companion::portal::PortalDesk>,
    shown: Arc<Mutex<Vec<CallContext>>>,
}

impl App {
    fn new(setup: &Setup, preset: Option<CallCardSignIn>) -> App {
        App::with_desk(setup.desk(), preset)
    }

    fn with_desk(desk: companion::portal::PortalDesk, preset: Option<CallCardSignIn>) -> App {
        let portal = Arc::new(desk);
        let cards = Arc::new(CardDesk::new(portal.clone(), "RU"));
        let shown = Arc::new(Mutex::new(Vec::new()));
        let (to_cards, record) = (cards.clone(), shown.clone());
        let calls = Arc::new(CallDesk::new(
            CallRegistry::in_memory(),
            Box::new(move |_, reported| {
                if let Some((Change::New | Change::Updated, call)) = reported {
                    record.lock().unwrap().push(call.context.clone());
                    to_cards.show(&call.context);
                }
            }),
        ));
        let tab = TabDesk::new(portal.clone(), cards.clone(), calls.clone(), preset);
        App {
            tab,
            calls,
            cards,
            portal,
            shown,
        }
    }

    fn post(&self, form: &TabForm, origin: &str) -> TabVerdict {
        let (_, query) = form.action.split_once('?').unwrap();
        let body = url::form_urlencoded::Serializer::new(String::new())
            .extend_pairs(form.fields.iter())
            .finish();
        // On the app's runtime, as the listener awaits it.
        companion::rt::block_on(self.tab.receive(&TabPost {
            origin: origin.to_owned(),
            query: query.to_owned(),
            body: body.into_bytes(),
            port: 47600,
        }))
    }
}

fn options(call_id: &str) -> Value {
    json!({
        "CALL_ID": call_id, "PHONE_NUMBER": "+79001234567", "CRM_ENTITY_TYPE": "CONTACT",
        "CRM_ENTITY_ID": "42", "CALL_DIRECTION": "incoming", "CALL_STATE": "connecting",
    })
}

fn form(setup: &Setup, call_id: &str, tokens: &IssuedTokens) -> TabForm {
    tab_form(
        &setup.sim.base_url(),
        "http://127.0.0.1:47600/call-card/",
        &options(call_id),
        tokens,
        "en",
        "0123456789abcdef0123456789abcdef",
    )
}

fn requests(setup: &Setup) -> u64 {
    setup.sim.stats().rest_requests
}

#[test]
fn each_post_gets_its_verdict_and_only_a_genuine_one_shows_a_call() {
    let setup = Setup::new();
    let app = App::new(&setup, None);
    // Signed in with the Bitrix24 application: its client id and the portal's member_id are known.
    let url = app.portal.begin_oauth(&setup.form(true)).unwrap();
    assert!(app.portal.complete_oauth(&browse(&url)).ok);
    let base = setup.sim.base_url();
    let genuine = |user| setup.sim.issue_tokens(user);
    type Case<'a> = (
        &'static str,
        Box<dyn Fn() -> (TabForm, String) + 'a>,
        &'static str,
        bool,
    );
    let cases: Vec<Case> = vec![
        (
            "a genuine call, Origin: null (what browsers send by default)",
            Box::new(|| (form(&setup, "c.ok", &genuine(1)), "null".into())),
            "sent",
            true,
        ),
        (
            "the same, with the portal's origin named",
            Box::new(|| (form(&setup, "c.ok2", &genuine(1)), base.clone())),
            "sent",
            true,
        ),
        (
            "a token the portal never issued",
            Box::new(|| {
                let mut tokens = genuine(1);
                tokens.access_token = "f".repeat(70);
                (form(&setup, "c.forged", &tokens), "null".into())
            }),
            "tab_not_proven",
            false,
        ),
        (
            "a genuine token altered",
            Box::new(|| {
                let mut tokens = genuine(1);
                let last = tokens.access_token.pop().unwrap();
                tokens
                    .access_token
                    .push(if last == '0' { '1' } else { '0' });
                (form(&setup, "c.altered", &tokens), "null".into())
            }),
            "tab_not_proven",
            false,
        ),
        (
            "another user's genuine token",
            Box::new(|| (form(&setup, "c.other", &genuine(2)), "null".into())),
            "tab_other_user",
            false,
        ),
        (
            "another application's genuine token for the agent",
            Box::new(|| {
                (
                    form(&setup, "c.otherapp", &setup.sim.issue_other_app_tokens(1)),
                    "null".into(),
                )
            }),
            "tab_not_proven",
            false,
        ),
        (
            "another portal's member_id",
            Box::new(|| {
                let mut tokens = genuine(1);
                tokens.member_id = "0123456789abcdef0123456789abcdef".into();
                (form(&setup, "c.member", &tokens), "null".into())
            }),
            "tab_foreign_portal",
            false,
        ),
        (
            "a page of another origin",
            Box::new(|| {
                (
                    form(&setup, "c.origin", &genuine(1)),
                    "https://evil.test".into(),
                )
            }),
            "tab_foreign_portal",
            false,
        ),
        (
            "another portal's DOMAIN",
            Box::new(|| {
                let mut f = form(&setup, "c.domain", &genuine(1));
                f.action = f
                    .action
                    .replace("DOMAIN=127.0.0.1", "DOMAIN=evil.bitrix24.ru&X=");
                (f, "null".into())
            }),
            "tab_foreign_portal",
            false,
        ),
        (
            "no CALL_ID",
            Box::new(|| {
                let mut f = form(&setup, "c.none", &genuine(1));
                for (k, v) in f.fields.iter_mut() {
                    if k == "PLACEMENT_OPTIONS" {
                        *v = json!({ "PHONE_NUMBER": "+79001234567" }).to_string();
                    }
                }
                (f, "null".into())
            }),
            "missing_call_id",
            false,
        ),
    ];
    let mut report = Vec::new();
    for (name, make, want, shows) in &cases {
        let (form, origin) = make();
        let before_requests = requests(&setup);
        let before_shown = app.shown.lock().unwrap().len();
        let verdict = app.post(&form, &origin);
        let asked = requests(&setup) - before_requests;
        let shown = app.shown.lock().unwrap().len() > before_shown;
        report.push(format!(
            "{name}: {} ({asked} request(s)){}",
            verdict.code(),
            if shown { ", shown" } else { "" }
        ));
        assert_eq!(
            (verdict.code(), shown),
            (*want, *shows),
            "{}",
            report.join("\n")
        );
        if *shows {
            assert_eq!(
                asked, 1,
                "a genuine tab costs the screen pop's one request: {name}"
            );
            let call_id = app.shown.lock().unwrap().last().unwrap().call_id.clone();
            let card = app.cards.card(&call_id).expect("its card").card;
            assert!(
                matches!(card, Card::Ready { .. }),
                "{name}: the card came with the proof: {card:?}"
            );
        }
    }
    println!("{}", report.join("\n"));
    assert!(
        app.calls.view().last_rejection.is_none(),
        "a tab's POST is no paired widget's: the tab shows why, the window's list stays clean"
    );

    // The portal cannot be asked: nothing shown, and the tab says so.
    setup.sim.set_faults(Faults {
        outage: true,
        ..Faults::default()
    });
    let verdict = app.post(&form(&setup, "c.down", &genuine(1)), "null");
    assert_eq!(verdict.code(), "tab_portal_unreachable");
    assert!(!app
        .shown
        .lock()
        .unwrap()
        .iter()
        .any(|c| c.call_id == "c.down"));
}

#[test]
fn with_no_sign_in_and_no_preset_nothing_is_proven() {
    let setup = Setup::new();
    let app = App::new(&setup, None);
    assert_eq!(app.tab.origin(), None, "no page may open the tab");
    let verdict = app.post(&form(&setup, "c.1", &setup.sim.issue_tokens(1)), "null");
    assert_eq!(verdict, TabVerdict::NotSignedIn);
    assert_eq!(requests(&setup), 0);
}

#[test]
fn the_first_genuine_tab_signs_in_with_the_application_it_preset_and_it_lasts() {
    let setup = Setup::new();
    let preset = preset_of(&setup);
    let app = App::new(&setup, Some(preset.clone()));
    assert_eq!(app.tab.origin().as_deref(), Some(preset.portal.as_str()));
    // Another application's genuine pair for the same user signs nobody in.
    let verdict = app.post(
        &form(&setup, "c.zero.app", &setup.sim.issue_other_app_tokens(3)),
        "null",
    );
    assert_eq!(
        verdict,
        TabVerdict::NotProven {
            code: companion::ErrorCode::OtherApplication
        }
    );
    assert!(app.portal.client().is_none());

    let tokens = setup.sim.issue_tokens(3);
    let verdict = app.post(&form(&setup, "c.zero", &tokens), "null");
    assert_eq!(verdict.code(), "sent");
    match app.portal.status() {
        PortalStatus::Connected {
            user_id, method, ..
        } => {
            assert_eq!((user_id, method), (3, SignInMethod::CallCard))
        }
        other => panic!("not signed in: {other:?}"),
    }
    // The pair was refreshed at IT's OAuth server before it was kept: that server named the
    // portal's member_id, which now guards the next tabs.
    assert_eq!(setup.sim.stats().refreshes, 1);
    let current = app.portal.current_portal().unwrap();
    assert_eq!(current.member_id, Some(setup.sim.member_id()));
    // The agent is now user 3: another user's call is refused.
    let verdict = app.post(
        &form(&setup, "c.zero.other", &setup.sim.issue_tokens(1)),
        "null",
    );
    assert_eq!(verdict.code(), "tab_other_user");
    // The session refreshes like any other, and the rotated pair is kept: a restart reconnects.
    setup.sim.set_faults(Faults {
        expire_tokens: true,
        ..Faults::default()
    });
    app.portal
        .client()
        .unwrap()
        .call("user.current", json!({}))
        .wait()
        .unwrap();
    assert_eq!(setup.sim.stats().refreshes, 2);
    let restarted = setup.desk();
    restarted.restore();
    assert!(
        matches!(
            restarted.status(),
            PortalStatus::Connected {
                user_id: 3,
                method: SignInMethod::CallCard,
                ..
            }
        ),
        "{:?}",
        restarted.status()
    );
    let settings = std::fs::read_to_string(setup.dir.path().join("portal.json")).unwrap();
    assert!(!settings.contains(&tokens.access_token) && !settings.contains(&tokens.refresh_token));

    // The agent signs out: the next call card does not sign them back in by itself.
    restarted.sign_out().unwrap();
    let after = App::new(&setup, Some(preset));
    let verdict = after.post(
        &form(&setup, "c.zero.again", &setup.sim.issue_tokens(3)),
        "null",
    );
    assert_eq!(verdict, TabVerdict::NotSignedIn);
    assert!(after.portal.client().is_none());
}

fn preset_of(setup: &Setup) -> CallCardSignIn {
    let endpoints = setup.sim.endpoints();
    CallCardSignIn {
        portal: endpoints.base_url.clone(),
        client_id: endpoints.client_id.clone(),
        client_secret: endpoints.client_secret.clone(),
        oauth_server: Some(endpoints.oauth_url.clone()),
    }
}

#[test]
fn a_zero_touch_pair_that_cannot_be_refreshed_at_its_server_signs_nobody_in() {
    // Without REFRESH_ID there is no session to keep.
    let setup = Setup::new();
    let app = App::new(&setup, Some(preset_of(&setup)));
    let mut f = form(&setup, "c.norefresh", &setup.sim.issue_tokens(1));
    f.fields.retain(|(k, _)| k != "REFRESH_ID");
    assert_eq!(app.post(&f, "null"), TabVerdict::NotSignedIn);
    assert!(app.portal.client().is_none());
    // With no server set, the one the call card names (Bitrix24's, reached here at a port
    // where nothing answers): nothing is kept.
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let nowhere = format!("http://{}", closed.local_addr().unwrap());
    drop(closed);
    let app = App::with_desk(
        setup.desk().with_oauth_stand_in(&nowhere),
        Some(CallCardSignIn {
            oauth_server: None,
            ..preset_of(&setup)
        }),
    );
    let verdict = app.post(
        &form(&setup, "c.noserver", &setup.sim.issue_tokens(1)),
        "null",
    );
    assert_eq!(verdict, TabVerdict::NotSignedIn);
    assert!(app.portal.client().is_none() && app.portal.current_portal().is_none());
}

/// With no server in IT's preset, the call card's `SERVER_ENDPOINT` names the region's OAuth
/// server; the session keeps it and is refreshed there.
#[test]
fn a_zero_touch_session_keeps_the_server_the_call_card_names() {
    let setup = Setup::with(portal_sim::SimConfig {
        oauth_server_domain: "oauth.bitrix.info".into(),
        ..portal_sim::SimConfig::default()
    });
    let preset = CallCardSignIn {
        oauth_server: None,
        ..preset_of(&setup)
    };
    let app = App::with_desk(setup.regional_desk(), Some(preset));
    let verdict = app.post(
        &form(&setup, "c.region", &setup.sim.issue_tokens(3)),
        "null",
    );
    assert_eq!(verdict.code(), "sent", "{verdict:?}");
    let saved: Value = serde_json::from_str(
        &std::fs::read_to_string(setup.dir.path().join("portal.json")).unwrap(),
    )
    .unwrap();
    assert_eq!(saved["oauth_server"], "https://oauth.bitrix.info");
    let refreshes = setup.sim.stats().refreshes;
    setup.sim.set_faults(Faults {
        expire_tokens: true,
        ..Faults::default()
    });
    app.portal
        .client()
        .unwrap()
        .call("user.current", json!({}))
        .wait()
        .unwrap();
    assert_eq!(setup.sim.stats().refreshes, refreshes + 1);
}

/// The OAuth server's answer must name the portal the call card's POST named (`member_id`).
#[test]
fn a_zero_touch_pair_whose_server_names_another_portal_signs_nobody_in() {
    let setup = Setup::new();
    let app = App::new(&setup, Some(preset_of(&setup)));
    let mut tokens = setup.sim.issue_tokens(3);
    tokens.member_id = "0123456789abcdef0123456789abcdef".into();
    // No member_id is known for the portal yet, so the POST's own is what the answer must match.
    assert_eq!(
        app.post(&form(&setup, "c.other", &tokens), "null"),
        TabVerdict::NotSignedIn
    );
    assert!(app.portal.client().is_none());
}

#[test]
fn a_broken_call_card_session_is_renewed_by_the_agents_next_call() {
    let setup = Setup::new();
    let app = App::new(&setup, Some(preset_of(&setup)));
    assert_eq!(
        app.post(&form(&setup, "c.first", &setup.sim.issue_tokens(3)), "null")
            .code(),
        "sent"
    );
    // A restart while the portal is down: the saved session cannot reconnect.
    setup.sim.set_faults(Faults {
        outage: true,
        ..Faults::default()
    });
    let broken = App::new(&setup, Some(preset_of(&setup)));
    broken.portal.restore();
    assert!(broken.portal.client().is_none());
    setup.sim.set_faults(Faults::default());
    // Another user's call does not take the session over; the agent's own call renews it.
    let verdict = broken.post(&form(&setup, "c.other", &setup.sim.issue_tokens(1)), "null");
    assert_eq!(verdict.code(), "tab_other_user");
    let verdict = broken.post(&form(&setup, "c.renew", &setup.sim.issue_tokens(3)), "null");
    assert_eq!(verdict.code(), "sent");
    assert!(matches!(
        broken.portal.status(),
        PortalStatus::Connected { user_id: 3, .. }
    ));
    let card = broken.cards.card("c.renew").unwrap().card;
    assert!(matches!(card, Card::Ready { .. }), "{card:?}");
    broken.portal.sign_out().unwrap();
}

#[test]
fn a_webhook_sign_in_learns_the_member_id_from_the_first_proven_tab() {
    let setup = Setup::new();
    let app = App::new(&setup, None);
    app.portal
        .sign_in_webhook(&WebhookForm {
            url: setup.sim.endpoints().webhook_url,
            session_only: true,
        })
        .unwrap();
    assert_eq!(app.portal.current_portal().unwrap().member_id, None);
    assert_eq!(
        app.post(&form(&setup, "c.hook", &setup.sim.issue_tokens(1)), "null")
            .code(),
        "sent"
    );
    assert_eq!(
        app.portal.current_portal().unwrap().member_id,
        Some(setup.sim.member_id())
    );
    let mut tokens = setup.sim.issue_tokens(1);
    tokens.member_id = "0123456789abcdef0123456789abcdef".into();
    assert_eq!(
        app.post(&form(&setup, "c.hook2", &tokens), "null").code(),
        "tab_foreign_portal"
    );
}

#[test]
fn refused_tabs_pause_the_proofs_before_they_spend_the_portals_limit() {
    let setup = Setup::new();
    let app = App::new(&setup, None);
    let url = app.portal.begin_oauth(&setup.form(true)).unwrap();
    assert!(app.portal.complete_oauth(&browse(&url)).ok);
    let forged = || {
        let mut tokens = setup.sim.issue_tokens(1);
        tokens.access_token = "f".repeat(70);
        form(&setup, "c.forged", &tokens)
    };
    for _ in 0..5 {
        let before = requests(&setup);
        assert_eq!(app.post(&forged(), "null").code(), "tab_not_proven");
        assert_eq!(requests(&setup) - before, 1);
    }
    let before = requests(&setup);
    assert_eq!(
        app.post(&forged(), "null"),
        TabVerdict::NotProven {
            code: companion::ErrorCode::TooManyRefused
        }
    );
    let genuine = app.post(
        &form(&setup, "c.paused", &setup.sim.issue_tokens(1)),
        "null",
    );
    assert_eq!(
        genuine.code(),
        "tab_not_proven",
        "paused for everyone a while"
    );
    assert_eq!(
        requests(&setup),
        before,
        "the portal was not asked while paused"
    );
}

/// What a colleague's app does on a terminal server: publishes the port it listens on in its
/// agent's own user option (`user.option.set` with that agent's token, as `port_publish.rs`).
fn publish_port(setup: &Setup, user: u64, port: Value) {
    let tokens = setup.sim.issue_tokens(user);
    let answer: Value = ureq::post(&format!(
        "http://{}/rest/user.option.set",
        setup.sim.address()
    ))
    .send_json(json!({ "auth": tokens.access_token, "options": { "callcompanion_port": port } }))
    .unwrap()
    .into_json()
    .unwrap();
    assert_eq!(answer["result"], true);
}

/// A colleague's app on a port of its own: answers its status as the listener does.
fn a_colleagues_app() -> u16 {
    use std::io::{Read, Write};
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    std::thread::spawn(move || {
        for mut stream in listener.incoming().flatten() {
            let mut request = [0u8; 1024];
            let _ = stream.read(&mut request);
            let body = r#"{"app":"Call Companion","version":"9.9.9","api":1,"paired":true}"#;
            let _ = write!(
                stream,
                "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                body.len()
            );
        }
    });
    port
}

/// A port where nothing answers (an app that quit).
fn a_port_nobody_holds() -> u16 {
    let held = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    held.local_addr().unwrap().port()
}

/// A shared computer: this app holds the port every call card posts to. A colleague's genuine
/// call card is handed on, in the same one request that proves it, to the port their own app
/// published, when an app answers there; never twice, never to this app's own port, and only a
/// port number.
#[test]
fn a_colleagues_tab_goes_to_the_port_their_app_published_and_no_further() {
    let setup = Setup::new();
    let app = App::new(&setup, None);
    let url = app.portal.begin_oauth(&setup.form(true)).unwrap();
    assert!(app.portal.complete_oauth(&browse(&url)).ok);
    let colleague = |call: &str| form(&setup, call, &setup.sim.issue_tokens(2));
    let refused = |call: &str| app.post(&colleague(call), "null").code();

    // Not published yet: refused, as before.
    assert_eq!(refused("c.none"), "tab_other_user");
    // Published, but their app quit: refused, never sent to a dead end.
    publish_port(&setup, 2, json!(a_port_nobody_holds()));
    assert_eq!(refused("c.gone"), "tab_other_user");
    let theirs = a_colleagues_app();
    publish_port(&setup, 2, json!(theirs));
    let before = requests(&setup);
    let verdict = app.post(&colleague("c.handed"), "null");
    assert_eq!(
        verdict,
        TabVerdict::HandedOn {
            user: "Дмитрий Орлов".into(),
            port: theirs
        }
    );
    assert_eq!(
        requests(&setup) - before,
        1,
        "proof, card and port: one request"
    );
    // Already handed on once (stale ports on both sides): refused, never bounced back.
    let mut hop = colleague("c.hop");
    hop.action.push_str("&callcompanion_hop=1");
    assert_eq!(app.post(&hop, "null").code(), "tab_other_user");
    // The colleague's option names this app's own port, or something that is no port.
    for port in [
        json!(47600),
        json!(0),
        json!(70000),
        json!("51x"),
        json!(null),
    ] {
        publish_port(&setup, 2, port.clone());
        assert_eq!(refused("c.bad"), "tab_other_user", "{port}");
    }
    publish_port(&setup, 2, json!(theirs.to_string()));
    assert_eq!(refused("c.text"), "handed_on");
    // The agent's own call is shown here whatever their option says.
    publish_port(&setup, 1, json!(a_colleagues_app()));
    assert_eq!(
        app.post(&form(&setup, "c.mine", &setup.sim.issue_tokens(1)), "null")
            .code(),
        "sent"
    );
    let shown: Vec<String> = app
        .shown
        .lock()
        .unwrap()
        .iter()
        .map(|c| c.call_id.clone())
        .collect();
    assert_eq!(shown, ["c.mine"]);
}

/// A session nobody signed in to yet (IT preset the application) does not sign a colleague in
/// when their own app is known: it hands the tab on, or refuses it when that app is gone; an
/// unknown user's tab still signs in.
#[test]
fn a_session_with_no_sign_in_hands_a_colleague_with_an_app_on_instead_of_signing_them_in() {
    let setup = Setup::new();
    let app = App::new(&setup, Some(preset_of(&setup)));
    publish_port(&setup, 2, json!(a_colleagues_app()));
    let verdict = app.post(
        &form(&setup, "c.zero.2", &setup.sim.issue_tokens(2)),
        "null",
    );
    assert_eq!(verdict.code(), "handed_on");
    assert!(app.portal.client().is_none(), "nobody signed in");
    publish_port(&setup, 4, json!(a_port_nobody_holds()));
    let verdict = app.post(
        &form(&setup, "c.zero.4", &setup.sim.issue_tokens(4)),
        "null",
    );
    assert_eq!(verdict.code(), "tab_other_user");
    assert!(app.portal.client().is_none(), "nobody signed in");
    // Handed on to it by a colleague's app: this is the right app, it signs its agent in.
    let mut hop = form(&setup, "c.zero.3", &setup.sim.issue_tokens(3));
    hop.action.push_str("&callcompanion_hop=1");
    assert_eq!(app.post(&hop, "null").code(), "sent");
    assert_eq!(app.portal.current_portal().unwrap().agent, Some(3));
}
