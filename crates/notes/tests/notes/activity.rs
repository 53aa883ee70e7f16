//! Notes on the call itself: the call's activity holds the note (`crm.timeline.note.save`,
//! `itemType` 2) when the call card named it, exactly once through the same faults as comments.

use notes::{render_comment, Delivery, NoteState, NoteStore, OutboxPolicy, Target, Via};
use portal_sim::{Faults, SimConfig, Simulator};
use serde_json::json;

use super::{block, contact, copies, deliver, webhook_client};

const CALL: &str = "externalCall.act.1";

/// The note the simulated call's activity holds, if any.
fn activity_note(sim: &Simulator, activity: u64) -> Option<String> {
    sim.with_data(|d| d.timeline_notes.get(&(2, activity)).map(|n| n.text.clone()))
}

fn quick() -> OutboxPolicy {
    OutboxPolicy {
        base_delay_ms: 1,
        max_delay_ms: 1,
        reconcile_window: 200,
    }
}

/// Delivers until the note is sent (or `rounds` attempts), each attempt on the note as stored.
fn settle_down(store: &NoteStore, client: &bitrix::Client, rounds: usize) -> Vec<Delivery> {
    let mut seen = Vec::new();
    for round in 0..rounds {
        let note = store.get(CALL).unwrap().unwrap();
        if note.state == NoteState::Sent {
            break;
        }
        seen.push(deliver(store, client, &note, 10 + round as u64, &quick()).unwrap());
    }
    seen
}

#[test]
fn a_note_goes_on_the_calls_activity_when_the_card_named_it() {
    let sim = Simulator::start(SimConfig::default()).unwrap();
    let activity = sim.attach_call_activity(CALL, 3, 42);
    let dir = tempfile::tempdir().unwrap();
    let store = NoteStore::open(&dir.path().join("notes.sqlite3")).unwrap();
    let client = webhook_client(&sim);
    store
        .save_draft(CALL, "Клиент просит счёт", None, Some(&contact(42)), 1)
        .unwrap();
    let note = store.set_activity(CALL, activity).unwrap().unwrap();
    assert_eq!(note.activity_id, Some(activity));
    let note = store.queue(CALL, 2).unwrap();
    assert_eq!(
        deliver(&store, &client, &note, 3, &quick()).unwrap(),
        Delivery::OnActivity {
            activity_id: activity
        }
    );
    let sent = store.get(CALL).unwrap().unwrap();
    assert_eq!(
        (sent.state, sent.via, sent.comment_id),
        (NoteState::Sent, Some(Via::Activity), None)
    );
    assert_eq!(
        activity_note(&sim, activity),
        Some(render_comment("Клиент просит счёт", &note.id))
    );
    assert_eq!(
        copies(&sim, &contact(42), &note.id),
        0,
        "no comment as well"
    );

    // An edit replaces the activity's note; still one note, no comment.
    store
        .save_draft(CALL, "Клиент просит счёт до пятницы", None, None, 4)
        .unwrap();
    let note = store.queue(CALL, 5).unwrap();
    assert_eq!(
        deliver(&store, &client, &note, 6, &quick()).unwrap(),
        Delivery::OnActivity {
            activity_id: activity
        }
    );
    assert_eq!(
        activity_note(&sim, activity),
        Some(render_comment("Клиент просит счёт до пятницы", &note.id))
    );
    assert_eq!(copies(&sim, &contact(42), &note.id), 0);
    assert_eq!(sim.with_data(|d| d.timeline_notes.len()), 1);
}

#[test]
fn without_an_activity_the_note_is_a_comment() {
    let sim = Simulator::start(SimConfig::default()).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let store = NoteStore::open(&dir.path().join("notes.sqlite3")).unwrap();
    let client = webhook_client(&sim);
    store
        .save_draft(CALL, "Без звонка в CRM", None, Some(&contact(42)), 1)
        .unwrap();
    let note = store.queue(CALL, 2).unwrap();
    assert!(matches!(
        deliver(&store, &client, &note, 3, &quick()).unwrap(),
        Delivery::Added { .. }
    ));
    let sent = store.get(CALL).unwrap().unwrap();
    assert_eq!(
        (sent.state, sent.via),
        (NoteState::Sent, Some(Via::Comment))
    );
    assert_eq!(copies(&sim, &contact(42), &note.id), 1);
    assert_eq!(
        sim.with_data(|d| d.timeline_notes.len()),
        0,
        "no activity note"
    );
}

#[test]
fn an_activity_named_mid_call_takes_an_unsent_note_but_a_comment_stays_a_comment() {
    let sim = Simulator::start(SimConfig::default()).unwrap();
    let activity = sim.attach_call_activity(CALL, 3, 42);
    let dir = tempfile::tempdir().unwrap();
    let store = NoteStore::open(&dir.path().join("notes.sqlite3")).unwrap();
    let client = webhook_client(&sim);

    // Typed before the card named the activity, sent after: the activity.
    store
        .save_draft(CALL, "Начало разговора", None, Some(&contact(42)), 1)
        .unwrap();
    assert!(store.set_activity(CALL, activity).unwrap().is_some());
    assert!(
        store.set_activity(CALL, activity).unwrap().is_none(),
        "nothing changes twice"
    );
    let note = store.queue(CALL, 2).unwrap();
    assert!(matches!(
        deliver(&store, &client, &note, 3, &quick()).unwrap(),
        Delivery::OnActivity { .. }
    ));

    // Sent as a comment before the activity was known: it stays a comment, edits update it.
    let other = "externalCall.act.2";
    let later = sim.attach_call_activity(other, 3, 42);
    store
        .save_draft(other, "Первая версия", None, Some(&contact(42)), 4)
        .unwrap();
    let note = store.queue(other, 5).unwrap();
    let Delivery::Added { comment_id } = deliver(&store, &client, &note, 6, &quick()).unwrap()
    else {
        panic!("a comment first")
    };
    assert!(
        store.set_activity(other, later).unwrap().is_none(),
        "a sent note does not move"
    );
    store
        .save_draft(other, "Вторая версия", None, None, 7)
        .unwrap();
    let note = store.queue(other, 8).unwrap();
    assert_eq!(
        deliver(&store, &client, &note, 9, &quick()).unwrap(),
        Delivery::Updated { comment_id }
    );
    assert_eq!(copies(&sim, &contact(42), &note.id), 1);
    assert_eq!(activity_note(&sim, later), None);
}

#[test]
fn a_lost_comment_is_adopted_before_the_activity_is_tried() {
    let sim = Simulator::start(SimConfig::default()).unwrap();
    let activity = sim.attach_call_activity(CALL, 3, 42);
    let dir = tempfile::tempdir().unwrap();
    let store = NoteStore::open(&dir.path().join("notes.sqlite3")).unwrap();
    let client = webhook_client(&sim);
    store
        .save_draft(CALL, "Отправлено вслепую", None, Some(&contact(42)), 1)
        .unwrap();
    let note = store.queue(CALL, 2).unwrap();
    // The comment is committed, its answer lost...
    sim.set_faults(Faults {
        drop_after_commit: 1,
        ..Faults::default()
    });
    assert!(matches!(
        deliver(&store, &client, &note, 3, &quick()).unwrap(),
        Delivery::Retry { .. }
    ));
    // ...then the card names the activity: the comment found is the note; nothing on the activity.
    store.set_activity(CALL, activity).unwrap();
    let note = store.get(CALL).unwrap().unwrap();
    assert!(matches!(
        deliver(&store, &client, &note, 4, &quick()).unwrap(),
        Delivery::Adopted { .. }
    ));
    assert_eq!(copies(&sim, &contact(42), &note.id), 1);
    assert_eq!(activity_note(&sim, activity), None);
}

#[test]
fn the_activity_path_stays_exactly_once_through_dropped_answers_crashes_and_outages() {
    let sim = Simulator::start(SimConfig::default()).unwrap();
    let activity = sim.attach_call_activity(CALL, 3, 42);
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("notes.sqlite3");
    let client = webhook_client(&sim);

    // 1. The save is committed and its answer dropped: the next attempt saves the same again.
    {
        let store = NoteStore::open(&path).unwrap();
        store
            .save_draft(CALL, "Первая", None, Some(&contact(42)), 1)
            .unwrap();
        store.set_activity(CALL, activity).unwrap();
        store.queue(CALL, 2).unwrap();
        sim.set_faults(Faults {
            drop_after_commit: 1,
            ..Faults::default()
        });
        let seen = settle_down(&store, &client, 5);
        assert!(
            matches!(seen[0], Delivery::Retry { .. }),
            "the lost answer: {seen:?}"
        );
        assert!(matches!(seen.last(), Some(Delivery::OnActivity { .. })));
        assert_eq!(sim.stats().dropped_after_commit, 1);
    }
    // 2. A crash between the send and its record: the process marked the send, the portal
    //    committed it, nothing recorded the answer. A new process finishes it.
    {
        let store = NoteStore::open(&path).unwrap();
        store.save_draft(CALL, "Вторая", None, None, 3).unwrap();
        let note = store.queue(CALL, 4).unwrap();
        store.begin_send(&note.id, Via::Activity).unwrap();
        let saved = block(client.call(
            "crm.timeline.note.save",
            json!({"ownerTypeId": 3, "ownerId": 42, "itemType": 2, "itemId": activity,
                   "text": render_comment("Вторая", &note.id)}),
        ))
        .unwrap();
        assert_eq!(saved.result, json!(true), "the portal answers true");
    }
    {
        let store = NoteStore::open(&path).unwrap();
        let note = store.get(CALL).unwrap().unwrap();
        assert_eq!(note.state, NoteState::Queued, "the crash left it queued");
        let seen = settle_down(&store, &client, 3);
        assert!(matches!(seen.last(), Some(Delivery::OnActivity { .. })));
    }
    // 3. An outage: the edit waits, then goes to the same activity.
    let store = NoteStore::open(&path).unwrap();
    store.save_draft(CALL, "Третья", None, None, 5).unwrap();
    let note = store.queue(CALL, 6).unwrap();
    sim.set_faults(Faults {
        outage: true,
        ..Faults::default()
    });
    assert!(matches!(
        deliver(&store, &client, &note, 7, &quick()).unwrap(),
        Delivery::Retry { .. }
    ));
    sim.set_faults(Faults::default());
    let seen = settle_down(&store, &client, 3);
    assert!(matches!(seen.last(), Some(Delivery::OnActivity { .. })));

    let note = store.get(CALL).unwrap().unwrap();
    assert_eq!(
        (note.state, note.via, note.comment_id),
        (NoteState::Sent, Some(Via::Activity), None)
    );
    assert_eq!(
        activity_note(&sim, activity),
        Some(render_comment("Третья", &note.id)),
        "the last text, once"
    );
    assert_eq!(sim.with_data(|d| d.timeline_notes.len()), 1);
    assert_eq!(
        copies(&sim, &contact(42), &note.id),
        0,
        "never a comment too"
    );
}

#[test]
fn another_note_on_the_activity_is_left_alone_and_ours_becomes_a_comment() {
    let sim = Simulator::start(SimConfig::default()).unwrap();
    let activity = sim.attach_call_activity(CALL, 3, 42);
    let client = webhook_client(&sim);
    block(client.call(
        "crm.timeline.note.save",
        json!({"ownerTypeId": 3, "ownerId": 42, "itemType": 2, "itemId": activity,
               "text": "Расшифровка звонка"}),
    ))
    .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let store = NoteStore::open(&dir.path().join("notes.sqlite3")).unwrap();
    store
        .save_draft(CALL, "Моя заметка", None, Some(&contact(42)), 1)
        .unwrap();
    store.set_activity(CALL, activity).unwrap();
    let note = store.queue(CALL, 2).unwrap();
    assert!(matches!(
        deliver(&store, &client, &note, 3, &quick()).unwrap(),
        Delivery::Added { .. }
    ));
    assert_eq!(
        activity_note(&sim, activity).as_deref(),
        Some("Расшифровка звонка")
    );
    assert_eq!(copies(&sim, &contact(42), &note.id), 1);
    assert_eq!(store.get(CALL).unwrap().unwrap().via, Some(Via::Comment));
}

#[test]
fn an_activity_of_another_record_or_gone_makes_a_comment() {
    let sim = Simulator::start(SimConfig::default()).unwrap();
    // The activity belongs to contact 43; the card shows contact 42.
    let activity = sim.attach_call_activity(CALL, 3, 43);
    let dir = tempfile::tempdir().unwrap();
    let store = NoteStore::open(&dir.path().join("notes.sqlite3")).unwrap();
    let client = webhook_client(&sim);
    store
        .save_draft(CALL, "Не та запись", None, Some(&contact(42)), 1)
        .unwrap();
    store.set_activity(CALL, activity).unwrap();
    let note = store.queue(CALL, 2).unwrap();
    assert!(matches!(
        deliver(&store, &client, &note, 3, &quick()).unwrap(),
        Delivery::Added { .. }
    ));
    assert_eq!(copies(&sim, &contact(42), &note.id), 1);
    assert_eq!(activity_note(&sim, activity), None);
}

#[test]
fn permission_refused_on_the_activity_fails_the_note_but_keeps_it() {
    let sim = Simulator::start(SimConfig::default()).unwrap();
    let activity = sim.attach_call_activity(CALL, 3, 42);
    sim.set_faults(Faults {
        denied_records: vec!["contact:42".into()],
        ..Faults::default()
    });
    let dir = tempfile::tempdir().unwrap();
    let store = NoteStore::open(&dir.path().join("notes.sqlite3")).unwrap();
    let client = webhook_client(&sim);
    store
        .save_draft(CALL, "Нет прав", None, Some(&contact(42)), 1)
        .unwrap();
    store.set_activity(CALL, activity).unwrap();
    let note = store.queue(CALL, 2).unwrap();
    assert!(matches!(
        deliver(&store, &client, &note, 3, &quick()).unwrap(),
        Delivery::Failed { .. }
    ));
    let kept = store.get(CALL).unwrap().unwrap();
    assert_eq!(
        (kept.state, kept.text.as_str()),
        (NoteState::Failed, "Нет прав")
    );
}

#[test]
fn a_database_from_before_activities_gains_the_columns() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("notes.sqlite3");
    {
        let conn = rusqlite::Connection::open(&path).unwrap();
        conn.execute_batch(
            "CREATE TABLE notes (id TEXT PRIMARY KEY, call_id TEXT NOT NULL UNIQUE, phone TEXT,
             target_kind TEXT, target_id INTEGER, text TEXT NOT NULL, state TEXT NOT NULL,
             updated_ms INTEGER NOT NULL, comment_id INTEGER, sent_text TEXT, sent_ms INTEGER,
             error_code TEXT, error_message TEXT, attempts INTEGER NOT NULL DEFAULT 0,
             next_attempt_ms INTEGER NOT NULL DEFAULT 0, maybe_sent INTEGER NOT NULL DEFAULT 0);
             INSERT INTO notes VALUES ('0123456789ab', 'old', NULL, 'contact', 42, 'Старая', 'sent',
             1, 77, 'Старая', 1, NULL, NULL, 0, 0, 0);",
        )
        .unwrap();
    }
    let store = NoteStore::open(&path).unwrap();
    let old = store.get("old").unwrap().unwrap();
    assert_eq!(
        (old.comment_id, old.via, old.activity_id),
        (Some(77), Some(Via::Comment), None)
    );
    drop(store);
    // Opening again leaves the columns as they are.
    let store = NoteStore::open(&path).unwrap();
    let target = Target {
        kind: "contact".into(),
        id: 42,
    };
    store
        .save_draft("new", "Новая", None, Some(&target), 2)
        .unwrap();
    assert_eq!(store.all().unwrap().len(), 2);
}
