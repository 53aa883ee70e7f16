//! The call's outcome travels with its note: on a line of its own above the text, in the same
//! exactly-once delivery; a changed outcome is an edit of the note, alone or with the text.

use notes::{render_comment, Delivery, NoteState, NoteStore, OutboxPolicy};
use portal_sim::{SimConfig, Simulator};

use super::{contact, copies, deliver, webhook_client};

const CALL: &str = "externalCall.outcome.1";

fn comment_of(sim: &Simulator, id: u64) -> String {
    sim.with_data(|d| {
        d.comments
            .get(&id)
            .and_then(|c| c["COMMENT"].as_str().map(str::to_owned))
    })
    .unwrap_or_default()
}

#[test]
fn the_outcome_goes_with_the_note_and_an_outcome_alone_is_a_note() {
    let sim = Simulator::start(SimConfig::default()).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let store = NoteStore::open(&dir.path().join("notes.sqlite3")).unwrap();
    let client = webhook_client(&sim);
    let policy = OutboxPolicy::default();

    // Picked before anything was typed: the note exists, with the outcome alone.
    let note = store
        .set_outcome(
            CALL,
            Some("No answer"),
            Some("+79001234567"),
            Some(&contact(42)),
            1,
        )
        .unwrap();
    assert_eq!(
        (note.text.as_str(), note.body().as_str()),
        ("", "[No answer]\n")
    );
    let note = store.queue(CALL, 2).unwrap();
    let Delivery::Added { comment_id } = deliver(&store, &client, &note, 3, &policy).unwrap()
    else {
        panic!("sent");
    };
    assert_eq!(
        comment_of(&sim, comment_id),
        render_comment("[No answer]\n", &note.id)
    );

    // Text typed afterwards, and the outcome changed: one comment, edited.
    store
        .save_draft(CALL, "Перезвонить в 14:00", None, None, 4)
        .unwrap();
    let note = store
        .set_outcome(CALL, Some("Call back"), None, None, 5)
        .unwrap();
    assert_eq!(
        note.state,
        NoteState::Draft,
        "a sent note with a new outcome waits for Save"
    );
    let note = store.queue(CALL, 6).unwrap();
    assert_eq!(
        deliver(&store, &client, &note, 7, &policy).unwrap(),
        Delivery::Updated { comment_id }
    );
    assert_eq!(
        comment_of(&sim, comment_id),
        render_comment("[Call back]\nПерезвонить в 14:00", &note.id)
    );
    let sent = store.get(CALL).unwrap().unwrap();
    assert_eq!(sent.state, NoteState::Sent);
    assert_eq!(
        sent.sent_text.as_deref(),
        Some("[Call back]\nПерезвонить в 14:00")
    );

    // Picking the same outcome again changes nothing; Save sends nothing.
    let same = store
        .set_outcome(CALL, Some("Call back"), None, None, 8)
        .unwrap();
    assert_eq!(same.state, NoteState::Sent);
    // Cleared: the text alone, sent as an edit.
    store.set_outcome(CALL, None, None, None, 9).unwrap();
    let note = store.queue(CALL, 10).unwrap();
    deliver(&store, &client, &note, 11, &policy).unwrap();
    assert_eq!(
        comment_of(&sim, comment_id),
        render_comment("Перезвонить в 14:00", &note.id)
    );
    assert_eq!(copies(&sim, &contact(42), &note.id), 1);
}
