//! The recent calls beside the notes: kept across a reopening, newest first, pruned, and a
//! call's end queuing its note in the same transaction.

use notes::{NoteState, NoteStore, SendAtEnd, StoredCall, Target};

fn call(id: &str, first_seen_ms: u64, state: &str) -> StoredCall {
    StoredCall {
        call_id: id.to_owned(),
        context: format!(r#"{{"call_id":"{id}","state":"{state}"}}"#),
        first_seen_ms,
        updated_ms: first_seen_ms,
        reports: 1,
        unverified: false,
    }
}

/// A call known only from an unverified link stays so after a restart, and a database made
/// before the mark existed gains it (every call there was verified).
#[test]
fn an_unverified_call_stays_unverified_across_a_reopening_and_older_databases_gain_the_mark() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("notes.sqlite3");
    {
        let conn = rusqlite::Connection::open(&path).unwrap();
        conn.execute_batch(
            "CREATE TABLE calls (call_id TEXT PRIMARY KEY, context TEXT NOT NULL,
             first_seen_ms INTEGER NOT NULL, updated_ms INTEGER NOT NULL, reports INTEGER NOT NULL);
             INSERT INTO calls VALUES ('old', '{}', 1, 1, 1);",
        )
        .unwrap();
    }
    {
        let store = NoteStore::open(&path).unwrap();
        let kept = store.recent_calls(10).unwrap();
        assert_eq!(
            (kept[0].call_id.as_str(), kept[0].unverified),
            ("old", false)
        );
        let link = StoredCall {
            unverified: true,
            ..call("link", 2, "ringing")
        };
        store.save_call(&link, 10, None).unwrap();
    }
    let store = NoteStore::open(&path).unwrap();
    let kept = store.recent_calls(10).unwrap();
    assert_eq!(
        (kept[0].call_id.as_str(), kept[0].unverified),
        ("link", true)
    );
    // Confirmed by a verified door later: the mark goes.
    store
        .save_call(&call("link", 2, "connected"), 10, None)
        .unwrap();
    assert!(!store.recent_calls(10).unwrap()[0].unverified);
}

#[test]
fn calls_are_kept_newest_first_updated_in_place_and_pruned() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("notes.sqlite3");
    {
        let store = NoteStore::open(&path).unwrap();
        assert!(!store.has_calls().unwrap());
        for i in 0..55 {
            store
                .save_call(&call(&format!("c{i}"), 1000 + i, "ringing"), 50, None)
                .unwrap();
        }
        // An update keeps the call's place (its first sighting), whatever its new time.
        let mut ended = call("c10", 1010, "idle");
        ended.updated_ms = 9999;
        ended.reports = 2;
        store.save_call(&ended, 50, None).unwrap();
    }
    let store = NoteStore::open(&path).unwrap();
    assert!(store.has_calls().unwrap());
    let kept = store.recent_calls(100).unwrap();
    assert_eq!(kept.len(), 50);
    assert_eq!(kept[0].call_id, "c54");
    assert_eq!(kept[49].call_id, "c5", "the five oldest went");
    let c10 = kept.iter().find(|c| c.call_id == "c10").unwrap();
    assert_eq!(
        (c10.context.as_str(), c10.updated_ms, c10.reports),
        (r#"{"call_id":"c10","state":"idle"}"#, 9999, 2)
    );
    assert_eq!(store.recent_calls(3).unwrap().len(), 3);
}

#[test]
fn a_calls_end_queues_its_draft_in_the_same_transaction() {
    let dir = tempfile::tempdir().unwrap();
    let store = NoteStore::open(&dir.path().join("notes.sqlite3")).unwrap();
    let target = Target {
        kind: "contact".into(),
        id: 42,
    };
    let send = SendAtEnd {
        target: Some(target.clone()),
        now_ms: 5,
    };
    // A draft with text goes, to the record the call's card named.
    store
        .save_draft("typed", "Перезвонить в 10", None, None, 1)
        .unwrap();
    let queued = store
        .save_call(&call("typed", 1, "idle"), 50, Some(&send))
        .unwrap()
        .expect("queued");
    assert_eq!(
        (queued.state, queued.target, queued.next_attempt_ms),
        (NoteState::Queued, Some(target), 5)
    );
    // Without a known record it waits for one.
    store
        .save_draft("unbound", "Без записи", None, None, 1)
        .unwrap();
    let unbound = SendAtEnd {
        target: None,
        now_ms: 5,
    };
    let waiting = store
        .save_call(&call("unbound", 2, "idle"), 50, Some(&unbound))
        .unwrap()
        .unwrap();
    assert_eq!(waiting.state, NoteState::WaitingForRecord);
    // An empty draft, a call without a note, or a call's end without the agent's choice: nothing.
    store.save_draft("blank", "  \n", None, None, 1).unwrap();
    assert_eq!(
        store
            .save_call(&call("blank", 3, "idle"), 50, Some(&send))
            .unwrap(),
        None
    );
    assert_eq!(store.get("blank").unwrap().unwrap().state, NoteState::Draft);
    assert_eq!(
        store
            .save_call(&call("none", 4, "idle"), 50, Some(&send))
            .unwrap(),
        None
    );
    store.save_draft("kept", "Оставить", None, None, 1).unwrap();
    assert_eq!(
        store.save_call(&call("kept", 5, "idle"), 50, None).unwrap(),
        None
    );
    assert_eq!(store.get("kept").unwrap().unwrap().state, NoteState::Draft);
    // Every call is kept either way.
    assert_eq!(store.recent_calls(50).unwrap().len(), 5);
}
