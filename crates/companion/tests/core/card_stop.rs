//! Pops that know when to stop: the next call cancels the previous call's pop in flight (here
//! in its back-off, while the portal refuses every request with `QUERY_LIMIT_EXCEEDED`, which the
//! client retries), and every pop has a deadline. Counted in the simulator's requests.

use std::sync::mpsc::{channel, Receiver};
use std::sync::Arc;
use std::time::Duration;

use companion::card::model::{Card, CardView};
use companion::card::CardDesk;
use portal_sim::{Faults, SimConfig, Simulator};

struct Rig {
    sim: Simulator,
    desk: Arc<CardDesk>,
    views: Receiver<CardView>,
    _dir: tempfile::TempDir,
}

/// A desk signed in to a portal that then refuses every request as over its rate limit.
fn refusing_portal(deadline: Option<Duration>) -> Rig {
    let sim = Simulator::start(SimConfig::default()).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let mut desk = CardDesk::new(crate::card::signed_in(&sim, dir.path()), "RU");
    if let Some(deadline) = deadline {
        desk = desk.with_pop_deadline(deadline);
    }
    let desk = Arc::new(desk);
    let (tx, views) = channel();
    desk.on_change(Box::new(move |view| {
        let _ = tx.send(view.clone());
    }));
    sim.set_faults(Faults {
        rate_limit_storm: 1000,
        ..Faults::default()
    });
    Rig {
        sim,
        desk,
        views,
        _dir: dir,
    }
}

fn call(id: &str) -> callcard::CallContext {
    let mut context = callcard::parse(
        &std::fs::read(crate::card::fixtures().join("bound-contact.json")).unwrap(),
    )
    .unwrap();
    context.call_id = id.into();
    context
}

/// A call with no number and no record: showing it sends nothing itself.
fn nothing_to_look_up(id: &str) -> callcard::CallContext {
    let mut context = call(id);
    context.entity = None;
    context.bindings.clear();
    context.phone_number = None;
    context
}

/// The next card of `call_id` that is not loading.
fn settled(rig: &Rig, call_id: &str) -> Card {
    loop {
        let view = rig
            .views
            .recv_timeout(Duration::from_secs(30))
            .expect("the card settles");
        if view.call_id == call_id && !matches!(view.card, Card::Loading) {
            return view.card;
        }
    }
}

fn wait_for_requests(sim: &Simulator, at_least: u64) {
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while sim.stats().rest_requests < at_least {
        assert!(
            std::time::Instant::now() < deadline,
            "no request reached the portal"
        );
        std::thread::sleep(Duration::from_millis(5));
    }
}

fn failed_code(card: &Card) -> &str {
    match card {
        Card::Failed { code, .. } => code.as_str(),
        other => panic!("not a failed card: {other:?}"),
    }
}

/// Shows the call `stale`, waits until its first request is out, then shows a next call with
/// nothing to look up (so only the stale pop talks to the portal). The requests counted before
/// `stale` was shown, and just before the next call.
fn stale_then_next(rig: &Rig) -> (u64, u64) {
    let before = rig.sim.stats().rest_requests;
    rig.desk.show(&call("stale"));
    wait_for_requests(&rig.sim, before + 1);
    let sent_before_the_next_call = rig.sim.stats().rest_requests;
    rig.desk.show(&nothing_to_look_up("next"));
    (before, sent_before_the_next_call)
}

#[test]
fn the_next_call_stops_the_previous_pop_in_its_back_off() {
    let rig = refusing_portal(None);
    let (_, sent_before_the_next_call) = stale_then_next(&rig);
    // The stale pop's card settles only when its load has returned: no attempt can follow.
    assert_eq!(failed_code(&settled(&rig, "stale")), "cancelled");
    assert_eq!(
        rig.sim.stats().rest_requests,
        sent_before_the_next_call,
        "no attempt for the old call after the next one arrived"
    );
    // Not fetched again when the portal changes either: only the agent's Retry loads it.
    rig.desk.portal_changed();
    assert_eq!(rig.sim.stats().rest_requests, sent_before_the_next_call);
}

#[test]
fn left_alone_the_same_pop_retries_until_its_attempts_run_out() {
    // The control: without a next call the client makes all its attempts (four).
    let rig = refusing_portal(None);
    let before = rig.sim.stats().rest_requests;
    rig.desk.show(&call("alone"));
    assert_eq!(failed_code(&settled(&rig, "alone")), "query_limit_exceeded");
    assert_eq!(rig.sim.stats().rest_requests - before, 4);
}

#[test]
fn a_pop_past_its_deadline_stops_and_says_so() {
    // The first back-off is at least 500 ms: a 200 ms deadline ends the pop inside it.
    let rig = refusing_portal(Some(Duration::from_millis(200)));
    let before = rig.sim.stats().rest_requests;
    rig.desk.show(&call("slow"));
    let card = settled(&rig, "slow");
    assert_eq!(failed_code(&card), "deadline");
    assert_eq!(rig.sim.stats().rest_requests - before, 1);
    let Card::Failed { message, .. } = card else {
        unreachable!()
    };
    assert!(message.contains("within 1 s"), "{message}");
}

#[test]
fn retry_on_a_stopped_pop_loads_again_even_while_its_request_is_still_out() {
    let rig = refusing_portal(None);
    // The portal takes 800 ms to answer and refuses only the first request: the stale pop's.
    rig.sim.set_faults(Faults {
        latency_ms: 800,
        rate_limit_storm: 1,
        ..Faults::default()
    });
    stale_then_next(&rig);
    // The stale pop says it was stopped (at once: its request is still out for 800 ms). Read
    // here, so the retried card below is not mistaken for it whichever comes first.
    assert_eq!(failed_code(&settled(&rig, "stale")), "cancelled");
    // The agent goes back to the first call and presses Retry while its request is out: a new
    // load starts at once, and the cancelled one's answer no longer counts.
    rig.desk.reload("stale");
    assert!(
        matches!(settled(&rig, "stale"), Card::Ready { .. }),
        "the retried card loads"
    );
}

#[test]
fn the_next_call_abandons_the_previous_pops_request_on_the_wire() {
    let rig = refusing_portal(None);
    // The portal takes 5 s to answer: the stale pop's one request is still out when the next
    // call arrives, and the client drops it there rather than wait for its answer.
    rig.sim.set_faults(Faults {
        latency_ms: 5_000,
        ..Faults::default()
    });
    let (before, _) = stale_then_next(&rig);
    // Had the client waited, the portal's answer (a good one) would have made the card ready.
    assert_eq!(failed_code(&settled(&rig, "stale")), "cancelled");
    assert_eq!(
        rig.sim.stats().rest_requests,
        before + 1,
        "no attempt after it"
    );
}
