//! The call card's tab served by the app itself (`/call-card/`), end to end and in production's
//! conditions: the portal's page is the simulator's call card at `https://portal.test` (public to
//! the browser), it POSTs the call into a named iframe at `http://127.0.0.1:PORT/call-card/` of
//! the real app under Xvfb, and Local Network Access judges that navigation under the policy
//! each test writes. The app resolves `portal.test` and trusts this run's certificates like any
//! public portal (support/public.rs).

use std::time::Duration;

use portal_sim::SimConfig;
use serde_json::{json, Value};

use crate::e2e::ONE_AT_A_TIME;
use crate::e2e_card::card_state;
use crate::support::chromium::Chromium;
use crate::support::driver::{AppHome, RunningApp};
use crate::support::public::{policy, wait_until, PublicWeb};

/// The tab's status line, inside the portal page's iframe: `(state, code, text)`; `None` when the
/// iframe holds no page of ours (the browser blocked it, or an error page).
fn tab_status(browser: &Chromium) -> Option<(String, String, String)> {
    let session = &browser.session;
    session.leave_frames().ok()?;
    session.enter_frame("#appframe").ok()?;
    let now = session
        .execute("const r = document.querySelector('main.relay'); return r ? [r.dataset.state, r.dataset.code || '', r.textContent] : null;")
        .ok()?;
    let _ = session.leave_frames();
    let now = now.as_array()?.clone();
    Some((
        now[0].as_str()?.to_owned(),
        now[1].as_str()?.to_owned(),
        now[2].as_str()?.trim().to_owned(),
    ))
}

fn wait_tab(browser: &Chromium, state: &str, code: &str) -> String {
    let mut text = String::new();
    wait_until(
        &format!("the tab says {state} ({code})"),
        20,
        || match tab_status(browser) {
            Some((s, c, t)) if s == state && c == code => {
                text = t;
                Ok(())
            }
            other => Err(format!("{other:?}")),
        },
    );
    text
}

/// The call the window shows now, if any.
fn shown_call(app: &RunningApp) -> Option<String> {
    app.session
        .execute("const c = document.querySelector('.call-id'); return c ? c.textContent : null")
        .ok()
        .and_then(|v| v.as_str().map(str::to_owned))
}

/// The recent calls the app keeps in its notes database, as a JSON list of their contexts.
fn recent_calls(home: &AppHome) -> String {
    let path = home
        .path()
        .join("data")
        .join(companion::app::IDENTIFIER)
        .join("notes.sqlite3");
    if !path.exists() {
        return String::new();
    }
    let calls = notes::NoteStore::open(&path)
        .and_then(|store| store.recent_calls(50))
        .unwrap_or_default();
    let contexts: Vec<&str> = calls.iter().map(|c| c.context.as_str()).collect();
    format!("[{}]", contexts.join(","))
}

/// The stored context of `call_id` among the kept calls (wherever the list nests it).
fn find_context(value: &Value, call_id: &str) -> Option<Value> {
    match value {
        Value::Object(map) => {
            if map.get("call_id").and_then(Value::as_str) == Some(call_id) {
                return Some(value.clone());
            }
            map.values().find_map(|v| find_context(v, call_id))
        }
        Value::Array(items) => items.iter().find_map(|v| find_context(v, call_id)),
        _ => None,
    }
}

/// The simulator's call card for an explicit call, with the test knobs of `extra`.
fn card(web: &PublicWeb, call_id: &str, extra: &str) -> String {
    web.call_card(&format!(
        "CALL_ID={call_id}&PHONE_NUMBER=%2B79001234567&CRM_ENTITY_TYPE=CONTACT&CRM_ENTITY_ID=42&CALL_DIRECTION=incoming&CALL_STATE=connected&lang=en{extra}"
    ))
}

#[test]
fn the_direct_tab_is_blocked_without_a_policy_pops_the_card_with_one_and_refuses_forgeries() {
    let _turn = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    let web = PublicWeb::start(SimConfig::default());
    let mut home = AppHome::new();
    let app = web.signed_in_app(&mut home, &["--lang", "en", "--theme", "light"]);
    // What `call-companion portal install-widget --direct` binds.
    let handler = companion::portal::widget::direct_handler(home.listen_port);
    web.sim.bind_call_card(&handler, "Call Companion");
    let scenario = web.call_card("scenario=incoming-contact");
    let first_call = "externalCall.sim0001.1732400000";

    // A browser as installed: the portal's POST into the iframe never reaches the app.
    let bare = web.browser(None);
    bare.session.navigate(&scenario).unwrap();
    // The frame's load ends either way (the app's page, or the browser's refusal).
    wait_until("the tab's frame finishes loading", 20, || {
        match bare
            .session
            .execute("return document.body.dataset.tabLoads || null")
        {
            Ok(Value::String(_)) => Ok(()),
            other => Err(format!("{other:?}")),
        }
    });
    assert_eq!(
        tab_status(&bare),
        None,
        "the browser did not load the app's tab"
    );
    let log = bare.session.text_of("[data-testid=sim-log]").unwrap();
    assert!(
        !log.contains("tab → portal"),
        "no tab spoke to the portal's page: {log}"
    );
    assert_eq!(shown_call(&app), None, "nothing popped");
    std::fs::write(
        crate::support::artifacts_dir().join("tab-blocked-without-policy.png"),
        bare.session.screenshot().unwrap(),
    )
    .unwrap();
    drop(bare);

    // One policy naming the portal: the card pops, and the tab forwards the call's changes.
    let browser = web.browser(Some(policy::direct_tab(&web.portal())));
    let policies = browser.policies();
    assert!(
        policies
            .iter()
            .any(|p| p == "LoopbackNetworkAllowedForUrls"),
        "in force: {policies:?}"
    );
    browser.session.navigate(&scenario).unwrap();
    // The scenario's portal speaks Russian (LANG=ru), and so does the tab.
    let text = wait_tab(&browser, "sent", "sent");
    assert!(text.contains("Передано в Call Companion"), "{text}");
    wait_until("the window shows the caller's card", 20, || {
        match (shown_call(&app), card_state(&app)) {
            (Some(call), state) if call == first_call && state == "ready" => Ok(()),
            other => Err(format!("{other:?}")),
        }
    });
    let shown = app.session.text_of("[data-testid=card]").unwrap();
    assert!(shown.contains("Петрова"), "{shown}");
    // The scenario's second step: the portal's page fires CallStateChanged into the tab.
    wait_until("the call's new state reaches the window", 20, || {
        let class = app
            .session
            .execute("const s = document.querySelector('[data-testid=call-state]'); return s ? s.className : ''")
            .unwrap();
        if class.as_str().unwrap_or_default().contains("connected") {
            Ok(())
        } else {
            Err(class.to_string())
        }
    });
    // The call's activity comes to exist, then the agent binds the call to the deal in the card:
    // EntityChanged carries no bindings and no activity; the tab's getStatus after it brings the
    // current ones (`get-status.md`), and the app keeps them for the call.
    browser.session.leave_frames().unwrap();
    browser
        .session
        .execute(
            "simCallCard.createActivity(12043); simCallCard.changeClient({ PHONE_NUMBER: '+79001234567', CRM_ENTITY_TYPE: 'DEAL', CRM_ENTITY_ID: 25, CRM_BINDINGS: [{ ENTITY_TYPE: 'DEAL', ENTITY_ID: 25 }, { ENTITY_TYPE: 'CONTACT', ENTITY_ID: 42 }] });",
        )
        .unwrap();
    wait_until(
        "getStatus's activity and bindings reach the app",
        20,
        || {
            let recent: Value = serde_json::from_str(&recent_calls(&home)).unwrap_or(Value::Null);
            let context = find_context(&recent, first_call).unwrap_or(Value::Null);
            let bindings: Vec<(String, u64)> = context["bindings"]
                .as_array()
                .into_iter()
                .flatten()
                .map(|b| {
                    (
                        b["entity_type"]["kind"]
                            .as_str()
                            .unwrap_or_default()
                            .to_owned(),
                        b["id"].as_u64().unwrap_or_default(),
                    )
                })
                .collect();
            let want = vec![("deal".to_owned(), 25), ("contact".to_owned(), 42)];
            if context["activity_id"] == json!(12043) && bindings == want {
                Ok(())
            } else {
                Err(context.to_string())
            }
        },
    );
    assert!(
        web.library.seen().iter().any(|r| r.path == "/api/v1/"),
        "the tab loaded Bitrix24's library from its own address"
    );
    let log = browser.session.text_of("[data-testid=sim-log]").unwrap();
    for seen in [
        "getInitData",
        "placementBindEvent CallCard::CallStateChanged",
        "getStatus",
    ] {
        assert!(
            log.contains(seen),
            "the tab's library asked for {seen}: {log}"
        );
    }
    app.screenshot("tab-direct-window");
    std::fs::write(
        crate::support::artifacts_dir().join("tab-direct-sent.png"),
        browser.session.screenshot().unwrap(),
    )
    .unwrap();
    let settings_before = std::fs::read_to_string(home.config_file("portal.json")).unwrap();

    // Forgeries and strangers: refused in the tab, nothing pops, nothing is kept.
    let cases = [
        (
            "a forged token",
            "externalCall.forged.1",
            "&auth=forged",
            "tab_not_proven",
        ),
        (
            "an altered token",
            "externalCall.forged.2",
            "&auth=altered",
            "tab_not_proven",
        ),
        (
            "another portal's member_id",
            "externalCall.forged.3",
            "&member_id=0123456789abcdef0123456789abcdef",
            "tab_foreign_portal",
        ),
        (
            "another user's genuine token",
            "externalCall.forged.4",
            "&user=2",
            "tab_other_user",
        ),
    ];
    for (name, call_id, knob, code) in cases {
        browser
            .session
            .navigate(&card(&web, call_id, knob))
            .unwrap();
        let text = wait_tab(&browser, "refused", code);
        assert!(!text.is_empty(), "{name}: the tab says why");
        assert_eq!(
            shown_call(&app).as_deref(),
            Some(first_call),
            "{name}: nothing popped"
        );
        assert!(
            !recent_calls(&home).contains(call_id),
            "{name}: nothing kept"
        );
        if call_id.ends_with('4') {
            assert!(
                text.contains("belongs to"),
                "names whose call it is: {text}"
            );
            std::fs::write(
                crate::support::artifacts_dir().join("tab-refused-other-user.png"),
                browser.session.screenshot().unwrap(),
            )
            .unwrap();
        }
    }
    drop(browser);

    // A stranger's page that names its origin (a looser referrer policy than the browser's
    // default), POSTing a genuine token of the agent (stolen, say): refused for its origin before
    // the portal is asked. With the default `Origin: null` the same POST would be proven by the
    // portal and pop, as the agent's own: the token is what the app trusts (docs/browsers.md).
    // Its owner got the agent's click on the browser's prompt.
    let stranger = web.browser(Some(
        json!({ "LoopbackNetworkAllowedForUrls": [web.portal(), web.evil_origin()] }),
    ));
    let tokens = web.sim.issue_tokens(1);
    let form = portal_sim::call_card::tab_form(
        &web.portal(),
        &handler,
        &json!({ "CALL_ID": "externalCall.forged.5", "PHONE_NUMBER": "+79001234567", "CALL_STATE": "connected" }),
        &tokens,
        "en",
        "0123456789abcdef0123456789abcdef",
    );
    stranger
        .session
        .navigate(&web.evil_page(&form.to_json()))
        .unwrap();
    wait_until("the stranger's tab is refused", 20, || {
        let session = &stranger.session;
        session.leave_frames().map_err(|e| e.to_string())?;
        session.enter_frame("#tab").map_err(|e| e.to_string())?;
        let code = session
            .execute(
                "const r = document.querySelector('main.relay'); return r ? r.dataset.code : null",
            )
            .map_err(|e| e.to_string())?;
        if code == "tab_foreign_portal" {
            Ok(())
        } else {
            Err(code.to_string())
        }
    });
    assert_eq!(
        shown_call(&app).as_deref(),
        Some(first_call),
        "a stranger's page popped nothing"
    );
    assert!(!recent_calls(&home).contains("externalCall.forged.5"));
    let settings_after = std::fs::read_to_string(home.config_file("portal.json")).unwrap();
    assert_eq!(
        serde_json::from_str::<Value>(&settings_before).unwrap(),
        serde_json::from_str::<Value>(&settings_after).unwrap(),
        "the sign-in is as it was"
    );
    assert!(
        !home
            .keyring()
            .has(companion::portal::vault::OAUTH_TOKENS)
            .unwrap(),
        "no tab's tokens were kept"
    );
    let log = app.log_text();
    for secret in [&tokens.access_token, &tokens.refresh_token] {
        assert!(
            !log.contains(secret.as_str()),
            "a tab's token reached the log"
        );
    }
}

/// Done-when: IT's policy presets the portal and its application; nobody signs in; the first
/// call card opened in the browser signs the agent in, shows the caller, and the sign-in stays
/// after a restart.
#[test]
fn the_first_genuine_tab_signs_the_agent_in_when_it_presets_the_application() {
    let _turn = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    let web = PublicWeb::start(SimConfig::default());
    let mut home = AppHome::new();
    web.connect_app(&mut home);
    let it = tempfile::tempdir().unwrap();
    home.env.push((
        "CALL_COMPANION_POLICY".into(),
        preset_policy(&web, it.path()).display().to_string(),
    ));
    web.sim.bind_call_card(
        &companion::portal::widget::direct_handler(home.listen_port),
        "Call Companion",
    );
    let app = RunningApp::start_in(&home, &["--lang", "en", "--theme", "light"]);
    app.session
        .wait_for("[data-testid=waiting]", Duration::from_secs(30))
        .unwrap();
    let before = app.session.text_of("[data-testid=status-portal]").unwrap();
    assert!(
        !before.contains("Анна Смирнова"),
        "nobody is signed in yet: {before}"
    );

    let browser = web.browser(Some(policy::direct_tab(&web.portal())));
    // Another application's genuine pair for the agent: not IT's application, nobody signed in.
    browser
        .session
        .navigate(&web.call_card("scenario=lead&app=other"))
        .unwrap();
    let text = wait_tab(&browser, "refused", "tab_not_proven");
    assert!(text.contains("other_application"), "{text}");
    browser
        .session
        .navigate(&web.call_card("scenario=incoming-contact"))
        .unwrap();
    wait_tab(&browser, "sent", "sent");
    wait_until("the window shows the caller's card", 30, || {
        match (shown_call(&app), card_state(&app)) {
            (Some(_), state) if state == "ready" => Ok(()),
            other => Err(format!("{other:?}")),
        }
    });
    assert!(app
        .session
        .text_of("[data-testid=card]")
        .unwrap()
        .contains("Петрова"));
    app.click("settings-toggle");
    let signed_in = app
        .session
        .text_of("[data-testid=portal-signed-in]")
        .unwrap();
    assert!(signed_in.contains("Анна Смирнова"), "{signed_in}");
    assert!(
        signed_in.contains("from the call card"),
        "says how: {signed_in}"
    );
    app.screenshot("tab-zero-touch-signed-in");
    let settings = std::fs::read_to_string(home.config_file("portal.json")).unwrap();
    let settings: Value = serde_json::from_str(&settings).unwrap();
    assert_eq!(settings["method"], "o_auth", "{settings}");
    assert_eq!(settings["via_call_card"], true, "{settings}");
    assert!(home
        .keyring()
        .has(companion::portal::vault::OAUTH_TOKENS)
        .unwrap());
    drop(browser);
    drop(app);

    // A restart: still signed in, with no browser and no new call.
    let app = RunningApp::start_in(&home, &["--lang", "en", "--theme", "light"]);
    app.click("settings-toggle");
    wait_until("the app signs in again at start-up", 30, || {
        let portal = app
            .session
            .text_of("[data-testid=portal-signed-in]")
            .unwrap_or_default();
        if portal.contains("Анна Смирнова") && portal.contains("from the call card") {
            Ok(())
        } else {
            Err(portal)
        }
    });
}

/// A terminal server: the port every call card posts to is held by the app of a colleague's
/// session, which nobody signed in to yet (IT preset the application); this agent's app is
/// signed in and listens on another port, which it published in the agent's own user option.
/// The agent's call card, in Chromium under the direct tab's policy, reaches the colleague's
/// app, which proves it, sends the browser on with a 307 instead of signing the agent in there,
/// and the agent's own app proves it again and pops the card. A call card of a user with no app
/// elsewhere still signs that session in (its own agent's first call).
#[test]
fn on_a_shared_computer_a_colleagues_app_hands_the_agents_tab_on_to_the_agents_app() {
    let _turn = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    let web = PublicWeb::start(SimConfig::default());
    let it = tempfile::tempdir().unwrap();
    let mut door_home = AppHome::new();
    web.connect_app(&mut door_home);
    door_home.env.push((
        "CALL_COMPANION_POLICY".into(),
        preset_policy(&web, it.path()).display().to_string(),
    ));
    web.sim.bind_call_card(
        &companion::portal::widget::direct_handler(door_home.listen_port),
        "Call Companion",
    );
    // The agent (the portal's user 2), signed in with the application, on a port of its own.
    let mut home = AppHome::new();
    let mine = web.application_signed_in_app_as(&mut home, &["--lang", "ru", "--theme", "dark"], 2);
    let client_id = web.sim.endpoints().client_id;
    wait_until("the agent's app publishes its port", 30, || {
        match web.sim.user_option(&client_id, 2, "callcompanion_port") {
            Some(port) if port == json!(home.listen_port) => Ok(()),
            other => Err(format!("{other:?}")),
        }
    });
    let display = crate::support::xvfb::Xvfb::start();
    let mut door = door_home.start_in_own_session(&display.display, &["--lang", "en"]);
    assert!(
        crate::support::wait_for_port(door_home.listen_port, Duration::from_secs(30)),
        "the colleague's app listens: {}",
        std::fs::read_to_string(door_home.path().join("session.log")).unwrap_or_default()
    );

    let browser = web.browser(Some(policy::direct_tab(&web.portal())));
    browser
        .session
        .navigate(&web.call_card("scenario=incoming-contact&user=2"))
        .unwrap();
    let text = wait_tab(&browser, "sent", "sent");
    assert!(text.contains("Call Companion"), "{text}");
    wait_until("the agent's window shows the caller's card", 30, || match (
        shown_call(&mine),
        card_state(&mine),
    ) {
        (Some(call), state) if call.contains("sim0001") && state == "ready" => Ok(()),
        other => Err(format!("{other:?}")),
    });
    mine.screenshot("tab-handed-on-ru-dark");
    let door_log = door_home.log_text();
    assert!(door_log.contains("tab_handed_on"), "{door_log}");
    assert!(
        !door_log.contains("a call arrived"),
        "the colleague's app showed nothing: {door_log}"
    );
    assert!(
        web.sim
            .user_option(&client_id, 1, "callcompanion_port")
            .is_none(),
        "nobody was signed in at the colleague's app"
    );

    // The colleague's own first call signs their session in there, and stays there.
    browser
        .session
        .navigate(&web.call_card("scenario=outgoing-deal&user=1"))
        .unwrap();
    wait_tab(&browser, "sent", "sent");
    wait_until("the colleague's app shows their call", 30, || {
        let log = door_home.log_text();
        if log.contains("externalCall.sim0002") && log.contains("a call arrived") {
            Ok(())
        } else {
            Err(log)
        }
    });
    assert!(
        !home.log_text().contains("sim0002"),
        "the agent's app never saw the colleague's call"
    );
    crate::support::terminate_group(&mut door);
}

/// IT's policy presetting the portal's application (it holds the client secret, as IT deploys
/// it, outside the app's folders), in `dir`.
fn preset_policy(web: &PublicWeb, dir: &std::path::Path) -> std::path::PathBuf {
    let endpoints = web.sim.endpoints();
    let file = dir.join("policy.toml");
    std::fs::write(
        &file,
        format!(
            "[locked]\nportal = \"{portal}\"\nsign_in = \"oauth\"\noauth_client_id = \"{id}\"\noauth_client_secret = \"{secret}\"\noauth_server = \"{portal}\"\n",
            portal = web.portal(),
            id = endpoints.client_id,
            secret = endpoints.client_secret,
        ),
    )
    .unwrap();
    file
}
