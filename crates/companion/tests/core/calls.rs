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
    assert_eq!(registry.report(first.clone(), 1).unwrap().0, Change::New);
    assert_eq!(
        registry.report(first.clone(), 2).unwrap().0,
        Change::Unchanged
    );
    let mut idle = first.clone();
    idle.state = CallState::Idle;
    let (change, call) = registry.report(idle, 3).unwrap();
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
    registry.report(first.clone(), 1).unwrap();
    let mut sparse = first.clone();
    sparse.phone_number = None;
    sparse.entity = None;
    sparse.state = CallState::Unknown(String::new());
    let (_, call) = registry.report(sparse, 2).unwrap();
    assert_eq!(call.context.phone_number, first.phone_number);
    assert_eq!(call.context.entity, first.entity);
    assert_eq!(call.context.state, first.state);
    let mut rebound = first.clone();
    rebound.entity = Some(callcard::CrmRef {
        entity_type: CrmEntityType::Deal,
        id: 9,
    });
    let (change, call) = registry.report(rebound, 3).unwrap();
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
    registry.report(first.clone(), 1).unwrap();
    // The event alone: another number, an unbound client (no record, no bindings yet).
    let mut next = first.clone();
    next.phone_number = Some("+79990000001".into());
    next.entity = None;
    next.bindings = vec![];
    next.uri = None;
    next.activity_id = None;
    let (_, call) = registry.report(next.clone(), 2).unwrap();
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
    let (_, call) = registry.report(connected, 3).unwrap();
    assert_eq!(call.context.phone_number.as_deref(), Some("+79990000001"));
    // The client has no number at all (`unknown`): said, not lacking.
    let mut unknown = context("entity-changed-unknown-number.json");
    unknown.call_id = first.call_id.clone();
    let (_, call) = registry.report(unknown, 4).unwrap();
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
    let (_, call) = registry.report(quiet, 5).unwrap();
    assert_eq!(call.context.no_number, Some(callcard::NoNumber::Unknown));
    assert_eq!(call.context.entity.map(|e| e.id), Some(643));
}

/// `getStatus` brings the call's activity once it exists; a report without it keeps it.
#[test]
fn the_activity_id_arrives_with_get_status_and_stays() {
    let mut registry = CallRegistry::in_memory();
    registry
        .report(context("getstatus-activity-undefined.options.json"), 1)
        .unwrap();
    let mut later = context("getstatus-activity-integer.options.json");
    later.call_id = context("getstatus-activity-undefined.options.json").call_id;
    let (change, call) = registry.report(later.clone(), 2).unwrap();
    assert_eq!(
        (change, call.context.activity_id),
        (Change::Updated, Some(12043))
    );
    let mut closing = later;
    closing.activity_id = None;
    closing.state = CallState::Idle;
    let (_, call) = registry.report(closing, 3).unwrap();
    assert_eq!(call.context.activity_id, Some(12043));
}

#[test]
fn newest_call_is_current_and_the_list_is_bounded() {
    let mut registry = CallRegistry::in_memory();
    let base = context("no-phone-number.options.json");
    for i in 0..(RECENT_LIMIT + 5) {
        let mut call = base.clone();
        call.call_id = format!("call-{i}");
        registry.report(call, i as u64).unwrap();
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
    registry.report(first.clone(), 1).unwrap();
    registry.report(second, 2).unwrap();
    // The first call's card says it ended after the second call began.
    first.state = CallState::Idle;
    let (change, call) = registry.report(first, 3).unwrap();
    assert_eq!(
        (change, call.context.call_id.as_str()),
        (Change::Updated, "first")
    );
    let view = registry.view();
    assert_eq!(view.current.unwrap().context.call_id, "second");
    assert_eq!(view.recent[0].context.state, CallState::Idle);
}

#[test]
fn recent_calls_survive_a_restart_and_a_corrupt_file_is_kept_aside() {
    let dir = tempfile::tempdir().unwrap();
    let store = dir.path().join("recent-calls.json");
    let (mut registry, warning) = CallRegistry::open(&store);
    assert_eq!(warning, None);
    registry
        .report(context("seed-docs-unbound.form"), 1)
        .unwrap();
    registry
        .report(context("getstatus-contact-outgoing.options.json"), 2)
        .unwrap();
    let (reopened, warning) = CallRegistry::open(&store);
    assert_eq!(warning, None);
    assert_eq!(reopened.view().current, registry.view().current);
    assert_eq!(reopened.view().recent.len(), 1);
    let saved = std::fs::read_to_string(&store).unwrap();
    assert!(
        !saved.contains("AUTH_ID") && !saved.contains("REFRESH_ID"),
        "{saved}"
    );

    std::fs::write(&store, b"{not json").unwrap();
    let (empty, warning) = CallRegistry::open(&store);
    assert!(empty.view().current.is_none());
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
fn a_list_that_cannot_be_saved_still_pops_each_new_call() {
    use companion::desk::CallDesk;
    use std::sync::{Arc, Mutex};
    let dir = tempfile::tempdir().unwrap();
    // The store's folder is a file: every save fails, as on a full or read-only disk.
    std::fs::write(dir.path().join("data"), b"").unwrap();
    let (registry, _) = CallRegistry::open(&dir.path().join("data").join("recent-calls.json"));
    let told = Arc::new(Mutex::new(Vec::new()));
    let sink = told.clone();
    let desk = CallDesk::new(
        registry,
        Box::new(move |_, reported| {
            if let Some((change, context)) = reported {
                sink.lock().unwrap().push((change, context.call_id.clone()));
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

#[test]
fn the_desk_saves_the_list_after_each_report() {
    use companion::desk::CallDesk;
    let dir = tempfile::tempdir().unwrap();
    let store = dir.path().join("recent-calls.json");
    let (registry, _) = CallRegistry::open(&store);
    let desk = CallDesk::new(registry, Box::new(|_, _| {}));
    desk.report(context("seed-docs-unbound.form"));
    desk.report(context("getstatus-contact-outgoing.options.json"));
    let (reopened, warning) = CallRegistry::open(&store);
    assert_eq!(warning, None);
    assert_eq!(reopened.view().current, desk.view().current);
    assert_eq!(reopened.view().recent.len(), 1);
}
