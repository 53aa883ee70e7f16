//! The rules between the desks (`companion::app_state`), without a window: what the app
//! publishes on its event stream, and what a call's change makes the other desks do.

use std::sync::Arc;
use std::time::{Duration, Instant};

use companion::app_state::AppState;
use companion::events::AppEvent;
use companion::language::Language;
use companion::notes_desk::NotesDesk;
use companion::status::Theme;
use notes::NoteState;
use tokio::sync::mpsc::UnboundedReceiver;

fn call(id: &str, state: &str) -> callcard::CallContext {
    let json = format!(
        r#"{{"CALL_ID":"{id}","PHONE_NUMBER":"+79001234567","CRM_ENTITY_TYPE":"CONTACT","CRM_ENTITY_ID":"42","CALL_STATE":"{state}"}}"#
    );
    callcard::parse(json.as_bytes()).unwrap()
}

/// The events published until `done` says enough (30 s at most).
fn until(
    events: &mut UnboundedReceiver<AppEvent>,
    done: impl Fn(&[AppEvent]) -> bool,
) -> Vec<AppEvent> {
    let deadline = Instant::now() + Duration::from_secs(30);
    let mut seen = Vec::new();
    while !done(&seen) {
        match events.try_recv() {
            Ok(event) => seen.push(event),
            Err(_) if Instant::now() < deadline => std::thread::sleep(Duration::from_millis(5)),
            Err(_) => panic!("not published in 30 s; seen: {seen:?}"),
        }
    }
    seen
}

fn kind(event: &AppEvent) -> &'static str {
    match event {
        AppEvent::Calls(_) => "calls",
        AppEvent::Status(_) => "status",
        AppEvent::Card(_) => "card",
        AppEvent::Note(_) => "note",
        AppEvent::NewCall { .. } => "new call",
    }
}

#[test]
fn a_new_call_is_published_with_the_agents_preferences_and_its_card_follows() {
    let app = Arc::new(AppState::new(Language::En, Theme::Light));
    let mut prefs = app.prefs();
    prefs.notify_on_call = true;
    prefs.focus_on_call = false;
    app.set_prefs(prefs).unwrap();
    let mut events = app.start().expect("the event stream");
    assert!(app.start().is_none(), "the stream has one reader");

    app.desk.report(call("rules.1", "connecting"));
    let seen = until(&mut events, |seen| {
        seen.iter()
            .any(|e| matches!(e, AppEvent::Card(v) if v.call_id == "rules.1"))
    });
    let kinds: Vec<&str> = seen.iter().map(kind).collect();
    assert_eq!(&kinds[..3], ["calls", "new call", "status"], "{kinds:?}");
    match &seen[1] {
        AppEvent::NewCall {
            context,
            notify,
            focus,
            ..
        } => {
            assert_eq!(context.call_id, "rules.1");
            assert!(*notify && !*focus, "the agent's choices");
        }
        other => panic!("{other:?}"),
    }
    // Not signed in: the card says so rather than loading for ever.
    let card = seen.iter().rev().find_map(|e| match e {
        AppEvent::Card(view) => Some(view.card.clone()),
        _ => None,
    });
    assert_eq!(card, Some(companion::card::model::Card::NoPortal));

    // An update of the same call is not a new call.
    app.desk.report(call("rules.1", "connected"));
    let seen = until(&mut events, |seen| {
        seen.iter().any(|e| matches!(e, AppEvent::Calls(_)))
    });
    assert!(
        !seen.iter().any(|e| matches!(e, AppEvent::NewCall { .. })),
        "{seen:?}"
    );
}

/// The call's end sends its note when the agent chose that, and only then.
#[test]
fn a_calls_end_sends_its_note_when_the_agent_chose_so() {
    for send_at_end in [true, false] {
        let dir = tempfile::tempdir().unwrap();
        let app = AppState::new(Language::Ru, Theme::Dark);
        let (notes, _) =
            NotesDesk::open(&dir.path().join("notes.sqlite3"), app.portal.clone()).unwrap();
        let app = Arc::new(app.with_notes(notes));
        let mut prefs = app.prefs();
        prefs.send_notes_on_call_end = send_at_end;
        app.set_prefs(prefs).unwrap();
        let mut events = app.start().unwrap();

        app.desk.report(call("rules.2", "connected"));
        let notes = app.notes().unwrap();
        notes
            .save_draft("rules.2", "Перезвонить завтра в 10", None, None)
            .unwrap();
        app.desk.report(call("rules.2", "idle"));
        // The call's end is kept (with its note's fate, in one transaction) off this thread.
        let deadline = Instant::now() + Duration::from_secs(10);
        while !notes
            .recent_calls(10)
            .unwrap()
            .first()
            .is_some_and(|c| c.context.contains("\"idle\""))
        {
            assert!(Instant::now() < deadline, "the call's end was not kept");
            std::thread::sleep(Duration::from_millis(5));
        }
        let state = notes.note("rules.2").unwrap().unwrap().state;
        if send_at_end {
            // No record yet (not signed in, so no card): it waits for one, on its way.
            assert_eq!(state, NoteState::WaitingForRecord);
            let seen = until(&mut events, |seen| {
                seen.iter().any(
                    |e| matches!(e, AppEvent::Note(n) if n.state == NoteState::WaitingForRecord),
                )
            });
            assert!(!seen.is_empty());
        } else {
            assert_eq!(state, NoteState::Draft, "kept as typed");
        }
    }
}

/// Text the notes database refuses is held by the app, not the window: `note` returns it with
/// the refusal, "Save to CRM" does not queue it, and the app keeps it by itself once the
/// database takes writes again (the window hears of it). The refusal is real: another
/// connection holds the database's write lock, as another process could.
#[test]
fn text_the_database_refuses_is_held_and_kept_by_the_app_once_it_can() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("notes.sqlite3");
    let app = AppState::new(Language::En, Theme::Light);
    let (notes, _) = NotesDesk::open(&path, app.portal.clone()).unwrap();
    let app = Arc::new(
        app.with_notes(notes)
            .with_unsaved_retry(Duration::from_millis(50)),
    );
    let mut events = app.start().unwrap();
    app.desk.report(call("held.1", "connected"));

    let lock = rusqlite::Connection::open(&path).unwrap();
    lock.execute_batch("BEGIN EXCLUSIVE").unwrap();
    let refused = app.save_note("held.1", "Клиент ждёт счёт").unwrap_err();
    assert_eq!(refused.code, "notes_failed", "{refused:?}");
    let now = app.note("held.1").unwrap();
    assert_eq!(now.stored, None);
    let held = now.unsaved.expect("the app holds the text");
    assert_eq!(
        (held.text.as_str(), held.error.code),
        ("Клиент ждёт счёт", refused.code)
    );
    assert_eq!(
        app.send_note("held.1").unwrap_err().code,
        refused.code,
        "text the database has not taken is not sent"
    );

    lock.execute_batch("ROLLBACK").unwrap();
    let seen = until(&mut events, |seen| {
        seen.iter()
            .any(|e| matches!(e, AppEvent::Note(n) if n.text == "Клиент ждёт счёт"))
    });
    assert!(!seen.is_empty());
    let now = app.note("held.1").unwrap();
    assert_eq!(now.unsaved, None);
    assert_eq!(now.stored.unwrap().text, "Клиент ждёт счёт");
    assert_eq!(app.send_note("held.1").unwrap().text, "Клиент ждёт счёт");
}

/// Without a notes database the typed text is still the agent's while the app runs.
#[test]
fn without_a_notes_database_typed_text_is_held_and_shown_again() {
    let app = Arc::new(AppState::new(Language::En, Theme::Light));
    assert_eq!(
        app.note("held.2").unwrap_err().code,
        "notes_unavailable",
        "nothing held, nothing to show"
    );
    let refused = app.save_note("held.2", "Перезвонить").unwrap_err();
    assert_eq!(refused.code, "notes_unavailable");
    let held = app.note("held.2").unwrap().unsaved.unwrap();
    assert_eq!(held.text, "Перезвонить");
    app.save_note("held.2", "Перезвонить в пятницу")
        .unwrap_err();
    assert_eq!(
        app.note("held.2").unwrap().unsaved.unwrap().text,
        "Перезвонить в пятницу",
        "the newest text is held"
    );
}

/// A call known only from an unverified link keeps its note on this computer: "Save to CRM"
/// is refused with the reason; once the call card confirms the call, it may be sent.
#[test]
fn the_note_of_a_call_from_an_unverified_link_is_not_sent() {
    let dir = tempfile::tempdir().unwrap();
    let app = AppState::new(Language::En, Theme::Light);
    let (notes, _) =
        NotesDesk::open(&dir.path().join("notes.sqlite3"), app.portal.clone()).unwrap();
    let app = Arc::new(app.with_notes(notes));
    let _events = app.start().unwrap();
    app.open_link("callcompanion://call-card?CALL_ID=link.1&PHONE_NUMBER=%2B79001234567")
        .unwrap();
    app.save_note("link.1", "Кто-то прислал ссылку").unwrap();
    let refused = app.send_note("link.1").unwrap_err();
    assert_eq!(refused.code, "link_unverified", "{refused:?}");
    assert_eq!(
        app.note("link.1").unwrap().stored.unwrap().state,
        NoteState::Draft
    );
    // The call card reports the same call through a verified door.
    app.desk.report(call("link.1", "connected"));
    assert_eq!(app.send_note("link.1").unwrap().call_id, "link.1");
}

/// The call's outcome: picked from the offered list only (IT's, else the built-in one in the
/// window's language), kept with the note, and "Save to CRM" takes an outcome with no text.
#[test]
fn an_outcome_is_picked_from_the_list_and_kept_with_the_note() {
    let dir = tempfile::tempdir().unwrap();
    let app = AppState::new(Language::Ru, Theme::Light);
    assert_eq!(app.outcomes()[..2], ["Дозвонились", "Не ответил"]);
    let policy = companion::policy::parse(
        "[locked]\noutcomes = [\"Sale\", \"No sale\", \"Call back\"]\n",
        "policy.toml",
    )
    .unwrap();
    let app = app.with_policy(policy, None);
    assert_eq!(app.outcomes(), ["Sale", "No sale", "Call back"]);
    let (notes, _) =
        NotesDesk::open(&dir.path().join("notes.sqlite3"), app.portal.clone()).unwrap();
    let app = Arc::new(app.with_notes(notes));
    let _events = app.start().unwrap();
    app.desk.report(call("outcome.1", "connected"));

    let refused = app
        .set_outcome("outcome.1", Some("Дозвонились"))
        .unwrap_err();
    assert_eq!(refused.code, "unknown_outcome", "{refused:?}");
    assert!(
        app.note("outcome.1").unwrap().stored.is_none(),
        "nothing kept"
    );
    let note = app.set_outcome("outcome.1", Some("No sale")).unwrap();
    assert_eq!(
        (note.outcome.as_deref(), note.text.as_str()),
        (Some("No sale"), "")
    );
    app.save_note("outcome.1", "Нашли дешевле").unwrap();
    let kept = app.note("outcome.1").unwrap().stored.unwrap();
    assert_eq!(kept.body(), "[No sale]\nНашли дешевле");
    let cleared = app.set_outcome("outcome.1", None).unwrap();
    assert_eq!(cleared.outcome, None);
}

/// On a shared computer the port asked for may be another session's: the app listens on a
/// free one, signs in by holding the usual port only while its sign-in is pending (the OAuth
/// redirect comes there), lets it go after, and publishes the port it listens on in the agent's
/// own Bitrix24 user option, where the agent's relay reads it (`port_publish.rs`). The
/// simulator keeps user options per application and user, as `user.option.set` does. Runs in a
/// process of its own: the sign-in opens "the browser", here `$BROWSER=true`.
#[test]
fn on_a_taken_port_the_app_listens_elsewhere_signs_in_on_the_usual_one_and_publishes_its_own() {
    let output = crate::alone("rules::taken_port_inside")
        .env("BROWSER", "true")
        .output()
        .unwrap();
    let printed = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success() && printed.contains("1 passed"),
        "{printed}{}",
        String::from_utf8_lossy(&output.stderr)
    );
}

#[test]
#[ignore = "run by on_a_taken_port_the_app_listens_elsewhere_signs_in_on_the_usual_one_and_publishes_its_own"]
fn taken_port_inside() {
    use companion::status::{ListenerStatus, PortalStatus};
    let sim = portal_sim::Simulator::start(portal_sim::SimConfig::default()).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let app = app_on(&sim, dir.path());
    let _events = app.start().unwrap();

    // Another session holds the usual port.
    let coworker = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let usual = coworker.local_addr().unwrap().port();
    sim.set_redirect_uri(&format!("http://127.0.0.1:{usual}/v1/oauth/callback"));
    companion::assemble::serve(
        &app,
        listener::Config::new(usual, "Call Companion", "9.9.9"),
    );
    let ListenerStatus::Elsewhere {
        address,
        wanted,
        reason,
    } = app.status().listener
    else {
        panic!("{:?}", app.status().listener);
    };
    assert_eq!(wanted, format!("127.0.0.1:{usual}"));
    assert!(reason.contains("is held by"), "{reason}");
    let mine = app.listen_port();
    assert_ne!(mine, usual);
    assert_eq!(address, format!("127.0.0.1:{mine}"));

    let form = companion::portal::OAuthForm {
        portal: sim.base_url(),
        client_id: sim.endpoints().client_id,
        client_secret: sim.endpoints().client_secret,
        oauth_server: String::new(),
        session_only: true,
        redirect: String::new(),
    };
    // While the co-worker holds it, no sign-in starts: its redirect would go to them.
    let refused = app.begin_oauth_sign_in(form.clone()).unwrap_err();
    assert_eq!(refused.code, "callback_not_held");
    assert_eq!(refused.params["address"], wanted);
    assert_eq!(app.portal.status(), PortalStatus::NotConfigured);
    // With the relay's sign-in page as the application's redirect, it starts on this app's own
    // port, which leads `state` for the page to send the browser back to; the page must be https.
    let relayed = companion::portal::OAuthForm {
        redirect: "https://widgets.example/relay/signed-in.html".into(),
        ..form.clone()
    };
    let PortalStatus::SigningIn { authorize_url, .. } =
        app.begin_oauth_sign_in(relayed.clone()).unwrap()
    else {
        panic!("{:?}", app.portal.status());
    };
    assert!(
        authorize_url.contains(&format!("state={mine}.")),
        "{authorize_url}"
    );
    let plain = companion::portal::OAuthForm {
        redirect: "http://widgets.example/relay/signed-in.html".into(),
        ..relayed
    };
    assert_eq!(
        app.begin_oauth_sign_in(plain).unwrap_err().code,
        "bad_portal_address"
    );

    // Free now: the sign-in holds it, and the browser comes back there.
    drop(coworker);
    let PortalStatus::SigningIn { authorize_url, .. } = app.begin_oauth_sign_in(form).unwrap()
    else {
        panic!("{:?}", app.portal.status());
    };
    let no_redirects = ureq::AgentBuilder::new().redirects(0).build();
    let sent_back = no_redirects.get(&authorize_url).call().unwrap();
    let callback = sent_back.header("location").unwrap().to_owned();
    assert!(
        callback.starts_with(&format!("http://127.0.0.1:{usual}/")),
        "{callback}"
    );
    let page = ureq::get(&callback).call().unwrap().into_string().unwrap();
    assert!(page.contains("Signed in"), "{page}");
    let PortalStatus::Connected { user_id, .. } = app.portal.status() else {
        panic!("signed in: {:?}", app.portal.status());
    };
    // The sign-in ended: the usual port is free for others again.
    let deadline = Instant::now() + Duration::from_secs(10);
    while std::net::TcpListener::bind(("127.0.0.1", usual)).is_err() {
        assert!(Instant::now() < deadline, "the usual port was kept");
        std::thread::sleep(Duration::from_millis(20));
    }
    // The relay finds this app where it listens.
    wait_published(&sim, user_id, mine);
}

/// The shell binds the listener, then restores the saved sign-in on a worker thread, and only
/// then starts the app's events: published all the same.
#[test]
fn the_port_is_published_when_the_sign_in_came_before_the_app_started() {
    let sim = portal_sim::Simulator::start(portal_sim::SimConfig::default()).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let app = app_on(&sim, dir.path());
    companion::assemble::serve(&app, listener::Config::new(0, "Call Companion", "9.9.9"));
    sign_in(&app, &sim);
    let _events = app.start().unwrap();
    wait_published(&sim, 1, app.listen_port());
}

/// A saved sign-in restored before the listener is bound (start-up races them): the port is
/// published once the listener is there, not only on the next sign-in change.
#[test]
fn the_port_is_published_whichever_comes_first_the_sign_in_or_the_listener() {
    let sim = portal_sim::Simulator::start(portal_sim::SimConfig::default()).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let app = app_on(&sim, dir.path());
    let _events = app.start().unwrap();
    let endpoints = sim.endpoints();
    sign_in(&app, &sim);
    let option = || sim.user_option(&endpoints.client_id, 1, companion::port_publish::OPTION);
    std::thread::sleep(Duration::from_millis(200));
    assert_eq!(option(), None, "no listener yet, nothing to publish");

    companion::assemble::serve(&app, listener::Config::new(0, "Call Companion", "9.9.9"));
    wait_published(&sim, 1, app.listen_port());
}

/// The app signing in to `sim` (Bitrix24's OAuth server is the simulator here, as in mock
/// mode), its secrets in memory and its settings in `dir`; not started.
fn app_on(sim: &portal_sim::Simulator, dir: &std::path::Path) -> Arc<AppState> {
    let portal = companion::portal::PortalDesk::new(
        companion::portal::vault::Vault::new(companion::secrets::Keyring::in_store(
            "io.callcompanion.test-publish",
            Arc::new(companion::secrets::MemoryKeyring::default()),
        )),
        companion::portal::settings::SettingsFile::new(dir.join("portal.json")),
    )
    .with_oauth_stand_in(&sim.base_url());
    Arc::new(AppState::with(
        Language::En,
        Theme::Light,
        companion::calls::CallRegistry::in_memory(),
        companion::pairing::PairingDesk::ephemeral(),
        portal,
        "RU",
    ))
}

/// Signs the app in with the simulator's application (user 1), as the browser would.
fn sign_in(app: &AppState, sim: &portal_sim::Simulator) {
    let endpoints = sim.endpoints();
    let url = app
        .portal
        .begin_oauth(&companion::portal::OAuthForm {
            portal: sim.base_url(),
            client_id: endpoints.client_id,
            client_secret: endpoints.client_secret,
            oauth_server: String::new(),
            session_only: true,
            redirect: String::new(),
        })
        .unwrap();
    assert!(app.portal.complete_oauth(&crate::portal::browse(&url)).ok);
}

/// Waits until `user`'s option names `port`, as the agent's relay would read it.
fn wait_published(sim: &portal_sim::Simulator, user: u64, port: u16) {
    let client_id = sim.endpoints().client_id;
    let option = || sim.user_option(&client_id, user, companion::port_publish::OPTION);
    let deadline = Instant::now() + Duration::from_secs(10);
    while option() != Some(serde_json::json!(port)) {
        assert!(Instant::now() < deadline, "published: {:?}", option());
        std::thread::sleep(Duration::from_millis(20));
    }
}
