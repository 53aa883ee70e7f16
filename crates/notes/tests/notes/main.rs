//! Notes against the portal simulator: every fault the outbox must survive, and the counts that
//! prove each note reached the CRM exactly once.

mod activity;
mod calls;
mod disk;
mod outcome;

use std::sync::Arc;
use std::time::Duration;

use bitrix::{Client, OAuthApp, OAuthSession, RetryPolicy, Secret, TokenSet, TokenStore};
use notes::{marker, Delivery, NoteState, NoteStore, OutboxPolicy, Target};
use portal_sim::{Faults, SimConfig, Simulator};
use serde_json::{json, Value};

/// The tests are plain threads (the chaos test kills processes); the portal's requests run on
/// one tokio runtime, as in the app.
fn block<F: std::future::Future>(work: F) -> F::Output {
    static RUNTIME: std::sync::OnceLock<tokio::runtime::Runtime> = std::sync::OnceLock::new();
    RUNTIME
        .get_or_init(|| tokio::runtime::Runtime::new().expect("a tokio runtime"))
        .block_on(work)
}

/// [`notes::deliver`] on the tests' runtime.
fn deliver(
    store: &NoteStore,
    client: &Client,
    note: &notes::Note,
    now_ms: u64,
    policy: &OutboxPolicy,
) -> Result<Delivery, notes::StoreError> {
    block(notes::deliver(store, client, note, now_ms, policy))
}

fn quick_retries() -> RetryPolicy {
    RetryPolicy {
        max_attempts: 2,
        base_delay: Duration::from_millis(10),
        max_delay: Duration::from_millis(50),
    }
}

fn webhook_client(sim: &Simulator) -> Client {
    Client::builder()
        .webhook(Secret::new(sim.endpoints().webhook_url))
        .retry(quick_retries())
        .timeout(Duration::from_secs(5))
        .build()
        .unwrap()
}

struct NoStore;
impl TokenStore for NoStore {
    fn save(&self, _: &TokenSet) -> Result<(), String> {
        Ok(())
    }
}

fn oauth_client(sim: &Simulator) -> Client {
    let endpoints = sim.endpoints();
    let agent = ureq::AgentBuilder::new().redirects(0).build();
    let url = bitrix::authorize_url(&sim.base_url(), &endpoints.client_id, "s");
    let location = agent
        .get(&url)
        .call()
        .unwrap()
        .header("location")
        .unwrap()
        .to_owned();
    let code = location
        .split("code=")
        .nth(1)
        .unwrap()
        .split('&')
        .next()
        .unwrap()
        .to_owned();
    let app = OAuthApp {
        client_id: endpoints.client_id,
        client_secret: Secret::new(endpoints.client_secret),
        server: endpoints.oauth_url,
    };
    let tokens = block(app.exchange_code(&code, now_s(), Duration::from_secs(5))).unwrap();
    let session = Arc::new(OAuthSession::new(app, tokens, Arc::new(NoStore)));
    Client::builder()
        .oauth(session)
        .retry(quick_retries())
        .timeout(Duration::from_secs(5))
        .build()
        .unwrap()
}

fn now_s() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

/// Comments in the CRM that carry `note_id`'s marker.
fn copies(sim: &Simulator, target: &Target, note_id: &str) -> usize {
    sim.with_data(|d| {
        d.comments
            .values()
            .filter(|c| {
                c["ENTITY_TYPE"] == target.kind.as_str()
                    && c["ENTITY_ID"].as_str() == Some(target.id.to_string().as_str())
            })
            .filter(|c| {
                c["COMMENT"]
                    .as_str()
                    .unwrap_or_default()
                    .contains(&marker(note_id))
            })
            .count()
    })
}

fn contact(id: u64) -> Target {
    Target {
        kind: "contact".into(),
        id,
    }
}

#[test]
fn every_note_reaches_the_crm_exactly_once_through_every_fault() {
    let sim = Simulator::start(SimConfig::default()).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("notes.sqlite3");
    let policy = OutboxPolicy {
        base_delay_ms: 1,
        max_delay_ms: 1,
        reconcile_window: 200,
    };
    let targets = [
        contact(42),
        contact(43),
        Target {
            kind: "deal".into(),
            id: 25,
        },
        Target {
            kind: "company".into(),
            id: 17,
        },
    ];
    let mut store = NoteStore::open(&path).unwrap();
    let count = 24;
    for i in 0..count {
        let call = format!("call-{i}");
        store
            .save_draft(
                &call,
                &format!("Note {i}: перезвонить клиенту"),
                Some("+79001234567"),
                Some(&targets[i % targets.len()]),
                1,
            )
            .unwrap();
        store.queue(&call, 1).unwrap();
    }
    let webhook = webhook_client(&sim);
    let oauth = oauth_client(&sim);
    // Each round: the fault that strikes, and which client sends.
    let rounds: Vec<(&str, Faults, &Client)> = vec![
        (
            "outage",
            Faults {
                outage: true,
                ..Faults::default()
            },
            &webhook,
        ),
        (
            "rate-limit storm",
            Faults {
                rate_limit_storm: 40,
                ..Faults::default()
            },
            &webhook,
        ),
        (
            "commit then drop the answer",
            Faults {
                drop_after_commit: 8,
                ..Faults::default()
            },
            &webhook,
        ),
        (
            "expired token",
            Faults {
                expire_tokens: true,
                ..Faults::default()
            },
            &oauth,
        ),
        (
            "commit then drop again",
            Faults {
                drop_after_commit: 4,
                ..Faults::default()
            },
            &oauth,
        ),
        (
            "flaky portal",
            Faults {
                error_rate: 0.3,
                ..Faults::default()
            },
            &webhook,
        ),
    ];
    let mut outcomes: std::collections::BTreeMap<&str, usize> = Default::default();
    let mut clock = 10;
    for (round, (name, faults, client)) in rounds.iter().enumerate() {
        sim.set_faults(faults.clone());
        for note in store.due(clock).unwrap() {
            let outcome = deliver(&store, client, &note, clock, &policy).unwrap();
            *outcomes
                .entry(match outcome {
                    Delivery::Added { .. } => "added",
                    Delivery::Adopted { .. } => "adopted after a lost answer",
                    Delivery::Updated { .. } => "updated",
                    Delivery::OnActivity { .. } => "saved on the call's activity",
                    Delivery::Retry { .. } => "retried later",
                    Delivery::Failed { .. } => "failed",
                    Delivery::Skipped => "skipped",
                })
                .or_default() += 1;
        }
        clock += 10;
        if round == 3 {
            // More calls come in while the portal misbehaves.
            for i in count..count + 12 {
                let call = format!("call-{i}");
                store
                    .save_draft(
                        &call,
                        &format!("Note {i}: договорились о встрече"),
                        None,
                        Some(&targets[i % targets.len()]),
                        clock,
                    )
                    .unwrap();
                store.queue(&call, clock).unwrap();
            }
        }
        if round == 2 {
            // The app is killed and started again mid-way: the outbox is on disk.
            drop(store);
            store = NoteStore::open(&path).unwrap();
        }
        eprintln!(
            "after round {round} ({name}): {} queued",
            store.due(u64::MAX).unwrap().len()
        );
    }
    sim.set_faults(Faults::default());
    for _ in 0..10 {
        for note in store.due(u64::MAX).unwrap() {
            let outcome = deliver(&store, &webhook, &note, clock, &policy).unwrap();
            *outcomes
                .entry(if matches!(outcome, Delivery::Adopted { .. }) {
                    "adopted after a lost answer"
                } else {
                    "added"
                })
                .or_default() += 1;
        }
        clock += 10;
    }
    let notes = store.all().unwrap();
    let in_crm: Vec<usize> = notes
        .iter()
        .map(|n| copies(&sim, n.target.as_ref().unwrap(), &n.id))
        .collect();
    let sent = notes.iter().filter(|n| n.state == NoteState::Sent).count();
    let stats = sim.stats();
    println!(
        "notes: {}, sent: {sent}, comments in the CRM: {}, duplicates: {}, missing: {}; outcomes: {outcomes:?}; portal: {} answers dropped after commit, {} rate-limit refusals",
        notes.len(),
        in_crm.iter().sum::<usize>(),
        in_crm.iter().filter(|c| **c > 1).count(),
        in_crm.iter().filter(|c| **c == 0).count(),
        stats.dropped_after_commit,
        stats.query_limit_refusals,
    );
    assert_eq!(notes.len(), count + 12);
    assert!(
        in_crm.iter().all(|c| *c == 1),
        "each note exactly once: {in_crm:?}"
    );
    assert_eq!(sent, count + 12);
    assert!(stats.refreshes >= 1, "the expired token did strike");
    assert!(
        stats.dropped_after_commit >= 12,
        "the lost-answer fault did strike"
    );
    assert!(
        outcomes
            .get("adopted after a lost answer")
            .copied()
            .unwrap_or(0)
            >= 12,
        "{outcomes:?}"
    );
    for note in &notes {
        assert!(note.comment_id.is_some() && note.sent_text.as_deref() == Some(note.text.as_str()));
    }
}

#[test]
fn an_edit_after_sending_updates_the_same_comment() {
    let sim = Simulator::start(SimConfig::default()).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let store = NoteStore::open(&dir.path().join("notes.sqlite3")).unwrap();
    let client = webhook_client(&sim);
    let policy = OutboxPolicy::default();
    store
        .save_draft("c1", "Первая версия", None, Some(&contact(42)), 1)
        .unwrap();
    let note = store.queue("c1", 1).unwrap();
    let Delivery::Added { comment_id } = deliver(&store, &client, &note, 2, &policy).unwrap()
    else {
        panic!()
    };
    let edited = store
        .save_draft("c1", "Вторая версия", None, None, 3)
        .unwrap();
    assert_eq!(
        edited.state,
        NoteState::Draft,
        "an edit waits for Save again"
    );
    let note = store.queue("c1", 4).unwrap();
    assert_eq!(
        deliver(&store, &client, &note, 5, &policy).unwrap(),
        Delivery::Updated { comment_id }
    );
    assert_eq!(copies(&sim, &contact(42), &note.id), 1);
    let text = sim.with_data(|d| {
        d.comments[&comment_id]["COMMENT"]
            .as_str()
            .unwrap()
            .to_owned()
    });
    assert!(text.starts_with("Вторая версия"), "{text}");
    assert_eq!(store.get("c1").unwrap().unwrap().state, NoteState::Sent);
}

#[test]
fn a_note_without_a_record_waits_and_a_deleted_record_keeps_the_note() {
    let sim = Simulator::start(SimConfig::default()).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let store = NoteStore::open(&dir.path().join("notes.sqlite3")).unwrap();
    let client = webhook_client(&sim);
    let policy = OutboxPolicy::default();
    store
        .save_draft(
            "unknown",
            "Новый клиент, спрашивал цены",
            Some("+79999996666"),
            None,
            1,
        )
        .unwrap();
    assert_eq!(
        store.queue("unknown", 1).unwrap().state,
        NoteState::WaitingForRecord
    );
    assert!(
        store.due(u64::MAX).unwrap().is_empty(),
        "nothing to send without a record"
    );
    // The agent created a lead for the caller: the note goes there.
    let note = store
        .set_target(
            "unknown",
            &Target {
                kind: "lead".into(),
                id: 7,
            },
        )
        .unwrap()
        .unwrap();
    assert_eq!(note.state, NoteState::Queued);
    assert!(matches!(
        deliver(&store, &client, &note, 2, &policy).unwrap(),
        Delivery::Added { .. }
    ));

    store
        .save_draft("gone", "Запись удалена", None, Some(&contact(999_999)), 1)
        .unwrap();
    let note = store.queue("gone", 1).unwrap();
    assert_eq!(
        deliver(&store, &client, &note, 2, &policy).unwrap(),
        Delivery::Failed {
            code: codes::ErrorCode::NotFound
        }
    );
    let kept = store.get("gone").unwrap().unwrap();
    assert_eq!(
        (kept.state, kept.text.as_str(), kept.error_code),
        (
            NoteState::Failed,
            "Запись удалена",
            Some(codes::ErrorCode::NotFound)
        )
    );
}

#[test]
fn drafts_survive_reopening_and_history_finds_earlier_notes() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("notes.sqlite3");
    {
        let store = NoteStore::open(&path).unwrap();
        store
            .save_draft(
                "a",
                "Первый звонок",
                Some("+79001234567"),
                Some(&contact(42)),
                1,
            )
            .unwrap();
        store
            .save_draft("b", "Второй звонок", Some("+79001234567"), None, 2)
            .unwrap();
    }
    let store = NoteStore::open(&path).unwrap();
    assert_eq!(store.get("a").unwrap().unwrap().text, "Первый звонок");
    let earlier = store
        .history(Some("+79001234567"), Some(&contact(42)), "c", 10)
        .unwrap();
    assert_eq!(
        earlier
            .iter()
            .map(|n| n.call_id.as_str())
            .collect::<Vec<_>>(),
        ["b", "a"]
    );
    let _: Value = json!(null);
}
