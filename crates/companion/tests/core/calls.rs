//! The call registry: new calls, updates, merge rules, persistence.

use callcard::{CallState, CrmEntityType};
use companion::calls::{CallRegistry, Change, RECENT_LIMIT};

fn context(name: &str) -> callcard::CallContext {
    let text = std::fs::read(format!(
        "{}/../../tests/fixtures/call-card/{name}",
        env!("CARGO_MANIFEST_DIR")
    ))
    .unwrap();
    callcard::parse(&text).unwrap()
}

#[test]
fn a_repeated_call_id_is_an_update_not_a_new_call() {
    let mut registry = CallRegistry::in_memory();
    let first = context("relay-envelope-object.json");
    assert_eq!(registry.record(first.clone(), 1).0, Change::New);
    assert_eq!(registry.record(first.clone(), 2).0, Change::Unchanged);
    let mut idle = first.clone();
    idle.state = CallState::Idle;
    let (change, call) = registry.record(idle, 3);
    assert_eq!(change, Change::Updated);
    assert_eq!(
        (call.first_seen_ms, call.updated_ms, call.reports),
        (1, 3, 3)
    );
    let view = registry.view();
    assert_eq!(view.current.unwrap().context.state, CallState::Idle);
    assert!(view.recent.is_empty());
}

#[test]
fn an_update_lacking_a_value_keeps_the_earlier_one() {
    let mut registry = CallRegistry::in_memory();
    let first = context("relay-envelope-object.json");
    registry.record(first.clone(), 1);
    let mut sparse = first.clone();
    sparse.phone_number = None;
    sparse.entity = None;
    sparse.state = CallState::Unknown(String::new());
    let (_, call) = registry.record(sparse, 2);
    assert_eq!(call.context.phone_number, first.phone_number);
    assert_eq!(call.context.entity, first.entity);
    assert_eq!(call.context.state, first.state);
    let mut rebound = first.clone();
    rebound.entity = Some(callcard::CrmRef {
        entity_type: CrmEntityType::Deal,
        id: 9,
    });
    let (change, call) = registry.record(rebound, 3);
    assert_eq!(change, Change::Updated);
    assert_eq!(
        call.context.entity.unwrap().entity_type,
        CrmEntityType::Deal
    );
}

/// Call-list mode: `CallCard::EntityChanged` names the next client, then `getStatus` its
/// bindings. The previous client's bindings, link and activity do not stay beside the new one.
#[test]
fn the_next_client_replaces_the_previous_ones_bindings_and_activity() {
    let mut registry = CallRegistry::in_memory();
    let mut first = context("relay-entity-changed-new-bindings.json");
    first.uri = Some("/crm/lead/details/7/".into());
    registry.record(first.clone(), 1);
    // The event alone: another number, an unbound client (no record, no bindings yet).
    let mut next = first.clone();
    next.phone_number = Some("+79990000001".into());
    next.entity = None;
    next.bindings = vec![];
    next.uri = None;
    next.activity_id = None;
    let (_, call) = registry.record(next.clone(), 2);
    assert_eq!(call.context.phone_number.as_deref(), Some("+79990000001"));
    assert_eq!(
        (
            call.context.entity,
            call.context.bindings.len(),
            &call.context.uri
        ),
        (None, 0, &None)
    );
    assert_eq!(call.context.activity_id, None);
    assert_eq!(
        call.context.state, first.state,
        "the call's own fields stay"
    );
    // A state change of the same client lacks the client's fields: they stay.
    let mut connected = next.clone();
    connected.phone_number = None;
    connected.state = CallState::Idle;
    let (_, call) = registry.record(connected, 3);
    assert_eq!(call.context.phone_number.as_deref(), Some("+79990000001"));
    // The client has no number at all (`unknown`): said, not lacking.
    let mut unknown = context("entity-changed-unknown-number.json");
    unknown.call_id = first.call_id.clone();
    let (_, call) = registry.record(unknown, 4);
    assert_eq!(
        (call.context.phone_number.as_deref(), call.context.no_number),
        (None, Some(callcard::NoNumber::Unknown))
    );
    assert_eq!(call.context.entity.map(|e| e.id), Some(643));
    // A later report without a number keeps the reason.
    let mut quiet = first.clone();
    quiet.phone_number = None;
    quiet.entity = None;
    quiet.bindings = vec![];
    let (_, call) = registry.record(quiet, 5);
    assert_eq!(call.context.no_number, Some(callcard::NoNumber::Unknown));
    assert_eq!(call.context.entity.map(|e| e.id), Some(643));
}

/// `getStatus` brings the call's activity once it exists; a report without it keeps it.
#[test]
fn the_activity_id_arrives_with_get_status_and_stays() {
    let mut registry = CallRegistry::in_memory();
    registry.record(context("getstatus-activity-undefined.options.json"), 1);
    let mut later = context("getstatus-activity-integer.options.json");
    later.call_id = context("getstatus-activity-undefined.options.json").call_id;
    let (change, call) = registry.record(later.clone(), 2);
    assert_eq!(
        (change, call.context.activity_id),
        (Change::Updated, Some(12043))
    );
    let mut closing = later;
    closing.activity_id = None;
    closing.state = CallState::Idle;
    let (_, call) = registry.record(closing, 3);
    assert_eq!(call.context.activity_id, Some(12043));
}

#[test]
fn newest_call_is_current_and_the_list_is_bounded() {
    let mut registry = CallRegistry::in_memory();
    let base = context("no-phone-number.options.json");
    for i in 0..(RECENT_LIMIT + 5) {
        let mut call = base.clone();
        call.call_id = format!("call-{i}");
        registry.record(call, i as u64);
    }
    let view = registry.view();
    assert_eq!(
        view.current.unwrap().context.call_id,
        format!("call-{}", RECENT_LIMIT + 4)
    );
    assert_eq!(view.recent.len(), RECENT_LIMIT - 1);
}

#[test]
fn a_late_update_of_the_previous_call_does_not_take_the_screen() {
    let mut registry = CallRegistry::in_memory();
    let base = context("no-phone-number.options.json");
    let (mut first, mut second) = (base.clone(), base);
    first.call_id = "first".into();
    second.call_id = "second".into();
    registry.record(first.clone(), 1);
    registry.record(second, 2);
    // The first call's card says it ended after the second call began.
    first.state = CallState::Idle;
    let (change, call) = registry.record(first, 3);
    assert_eq!(
        (change, call.context.call_id.as_str()),
        (Change::Updated, "first")
    );
    let view = registry.view();
    assert_eq!(view.current.unwrap().context.call_id, "second");
    assert_eq!(view.recent[0].context.state, CallState::Idle);
}

/// The app as it starts: its notes database at `path`, its rules bound.
fn app_with_notes(
    path: &std::path::Path,
) -> (
    std::sync::Arc<companion::app_state::AppState>,
    tokio::sync::mpsc::UnboundedReceiver<companion::events::AppEvent>,
) {
    use companion::app_state::AppState;
    let app = AppState::new(
        companion::language::Language::En,
        companion::status::Theme::Light,
    );
    let (notes, _) = companion::notes_desk::NotesDesk::open(path, app.portal.clone()).unwrap();
    let app = std::sync::Arc::new(app.with_notes(notes));
    let events = app.start().unwrap();
    (app, events)
}

/// Waits (10 s at most) until the notes database keeps `count` calls.
fn kept(app: &companion::app_state::AppState, count: usize) -> Vec<notes::StoredCall> {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    loop {
        let calls = app.notes().unwrap().recent_calls(RECENT_LIMIT).unwrap();
        if calls.len() == count {
            return calls;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "{} calls kept, not {count}",
            calls.len()
        );
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
}

#[test]
fn recent_calls_are_kept_beside_the_notes_and_survive_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("notes.sqlite3");
    let shown = {
        let (app, _events) = app_with_notes(&path);
        app.desk.report(context("seed-docs-unbound.form"));
        let mut talking = context("getstatus-contact-outgoing.options.json");
        talking.state = CallState::Connected;
        app.desk.report(talking.clone());
        let ended = callcard::CallContext {
            state: CallState::Idle,
            ..talking
        };
        assert_eq!(app.desk.report(ended), Change::Updated);
        let calls = kept(&app, 2);
        // Written in order: the last state is the one kept.
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
        while !kept(&app, 2)[0].context.contains("\"idle\"") {
            assert!(std::time::Instant::now() < deadline, "{calls:?}");
            std::thread::sleep(std::time::Duration::from_millis(10));
        }
        app.desk.view()
    };
    // The next start shows them as they were.
    let (app, _events) = app_with_notes(&path);
    companion::assemble::restore_calls(&app, &dir.path().join("recent-calls.json"));
    let restored = app.desk.view();
    assert_eq!(restored.current, shown.current);
    assert_eq!(restored.recent, shown.recent);
    assert_eq!(restored.current.unwrap().context.state, CallState::Idle);
}

#[test]
fn an_older_versions_list_moves_into_the_database_and_a_corrupt_one_is_kept_aside() {
    use companion::calls::{read_old_list, TrackedCall};
    let dir = tempfile::tempdir().unwrap();
    let old_file = dir.path().join("recent-calls.json");
    let mut old = CallRegistry::in_memory();
    old.record(context("seed-docs-unbound.form"), 1);
    old.record(context("getstatus-contact-outgoing.options.json"), 2);
    let view = old.view();
    let list: Vec<TrackedCall> = view.current.iter().chain(&view.recent).cloned().collect();
    std::fs::write(&old_file, serde_json::to_vec(&list).unwrap()).unwrap();

    let (app, _events) = app_with_notes(&dir.path().join("notes.sqlite3"));
    companion::assemble::restore_calls(&app, &old_file);
    assert_eq!(app.desk.view().current, view.current);
    assert_eq!(app.desk.view().recent, view.recent);
    assert_eq!(
        kept(&app, 2)[0].call_id,
        view.current.unwrap().context.call_id
    );
    assert!(!old_file.exists(), "moved, not left to be read again");

    // A damaged old list is kept aside, and said so.
    std::fs::write(&old_file, b"{not json").unwrap();
    let (calls, warning) = read_old_list(&old_file);
    assert!(calls.is_empty());
    let warning = warning.unwrap();
    assert!(warning.contains("could not be read"), "{warning}");
    let aside: Vec<_> = std::fs::read_dir(dir.path())
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.to_string_lossy().contains("recent-calls.json.corrupt-"))
        .collect();
    assert_eq!(aside.len(), 1, "{aside:?}");
    assert!(
        warning.contains(&aside[0].display().to_string()),
        "{warning}"
    );
    assert_eq!(std::fs::read(&aside[0]).unwrap(), b"{not json");
}

#[test]
fn the_desk_tells_each_report_and_what_it_changed() {
    use companion::desk::CallDesk;
    use std::sync::{Arc, Mutex};
    let registry = CallRegistry::in_memory();
    let told = Arc::new(Mutex::new(Vec::new()));
    let sink = told.clone();
    let desk = CallDesk::new(
        registry,
        Box::new(move |_, reported| {
            if let Some((change, context)) = reported {
                sink.lock()
                    .unwrap()
                    .push((change, context.context.call_id.clone()));
            }
        }),
    );
    let first = context("seed-docs-unbound.form");
    let second = context("getstatus-contact-outgoing.options.json");
    assert_eq!(desk.report(first.clone()), Change::New);
    assert_eq!(desk.report(second.clone()), Change::New);
    assert_eq!(desk.report(second.clone()), Change::Unchanged);
    assert_eq!(
        *told.lock().unwrap(),
        [
            (Change::New, first.call_id.clone()),
            (Change::New, second.call_id.clone()),
            (Change::Unchanged, second.call_id.clone()),
        ]
    );
    assert_eq!(desk.view().current.unwrap().context.call_id, second.call_id);
}

/// Deep links (`companion::link_trust`): one the paired relay signed is any other report; one
/// without a valid signature shows a new call as unverified and never changes a known call.
#[test]
fn an_unsigned_link_only_shows_a_new_call_and_a_signed_one_is_trusted() {
    use companion::link_trust::sign;
    let desk = companion::desk::CallDesk::new(CallRegistry::in_memory(), Box::new(|_, _| {}));
    let token = "the agent's pairing token";
    let link = |state: &str| {
        format!("callcompanion://call-card?CALL_ID=link-1&PHONE_NUMBER=%2B79001234567&CALL_STATE={state}")
    };

    assert_eq!(desk.open_link(&link("connecting"), token), Ok(Change::New));
    let shown = desk.view().current.unwrap();
    assert!(shown.unverified);
    assert_eq!(shown.context.state, CallState::Connecting);

    // Unsigned, or signed with another app's token: the known call stays as it was, and the
    // refusal is shown.
    for forged in [link("idle"), sign(&link("idle"), "someone else's token")] {
        assert_eq!(desk.open_link(&forged, token), Ok(Change::Unchanged));
        let view = desk.view();
        assert_eq!(
            view.current.as_ref().unwrap().context.state,
            CallState::Connecting
        );
        let refused = view.last_rejection.unwrap();
        assert_eq!(refused.code, "link_unverified");
        assert_eq!(refused.via, "deep_link");
    }

    // Signed by the paired relay: the call is confirmed and changes.
    assert_eq!(
        desk.open_link(&sign(&link("connected"), token), token),
        Ok(Change::Updated)
    );
    let confirmed = desk.view().current.unwrap();
    assert!(!confirmed.unverified);
    assert_eq!(confirmed.context.state, CallState::Connected);

    // A new call from a forged signature is shown, unverified.
    let other = "callcompanion://call-card?CALL_ID=link-2&PHONE_NUMBER=%2B79001234568";
    assert_eq!(
        desk.open_link(&sign(other, "someone else's token"), token),
        Ok(Change::New)
    );
    assert!(desk.view().current.unwrap().unverified);
}

/// The window reads each call's number as people write it in the agent's region; the context
/// keeps the portal's spelling (what is stored and what lookups start from).
#[test]
fn the_view_shows_numbers_as_people_write_them() {
    let mut registry = CallRegistry::in_memory().in_region("RU");
    let mut call = context("relay-envelope-object.json");
    for (digits, shown) in [
        ("74951234567", "+7 495 123-45-67"),
        ("89001234567", "+7 900 123-45-67"),
        ("105", "105"),
    ] {
        call.call_id = format!("c.{digits}");
        call.phone_number = Some(digits.into());
        let (_, reported) = registry.record(call.clone(), 1);
        assert_eq!(reported.number.as_deref(), Some(shown));
        let current = registry.view().current.unwrap();
        assert_eq!(current.number.as_deref(), Some(shown));
        assert_eq!(current.context.phone_number.as_deref(), Some(digits));
    }
    call.call_id = "c.hidden".into();
    call.phone_number = None;
    let (_, reported) = registry.record(call, 2);
    assert_eq!(reported.number, None);
    // The calls kept at the last run, restored at start-up: spelled in the same region (a
    // national `8…` number reads as Russian only there).
    let kept: Vec<_> = registry
        .view()
        .recent
        .into_iter()
        .map(|c| companion::calls::TrackedCall { number: None, ..c })
        .collect();
    let restored = registry.restored(kept).view();
    let spelled: Vec<_> = restored
        .current
        .iter()
        .chain(&restored.recent)
        .map(|c| c.number.clone())
        .collect();
    assert_eq!(
        spelled,
        [
            Some("105".to_owned()),
            Some("+7 900 123-45-67".to_owned()),
            Some("+7 495 123-45-67".to_owned())
        ]
    );
}
