//! The screen pop against the portal simulator: every fixture in `tests/fixtures/screen-pop/`
//! becomes a card, compared with its `.expected` rendering, with the HTTP requests it took.

use companion::rt::Wait;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use companion::card::model::{Card, Party};
use companion::card::{key_for, CardDesk};
use companion::portal::settings::SettingsFile;
use companion::portal::vault::Vault;
use companion::portal::{PortalDesk, WebhookForm};
use companion::secrets::Keyring;
use portal_sim::{SimConfig, Simulator};

pub fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/fixtures/screen-pop")
}

/// A desk signed in to `sim` with its webhook, for this session only (no keyring needed).
pub fn signed_in(sim: &Simulator, dir: &Path) -> Arc<PortalDesk> {
    let portal = PortalDesk::new(
        Vault::new(Keyring::new("io.callcompanion.test.card")),
        SettingsFile::new(dir.join("portal.json")),
    );
    portal
        .sign_in_webhook(&WebhookForm {
            url: sim.endpoints().webhook_url,
            session_only: true,
        })
        .expect("the simulator's webhook works");
    Arc::new(portal)
}

fn party(label: &str, p: &Party, out: &mut String) {
    out.push_str(&format!(
        "{label}: {} #{} {}",
        serde_json::to_value(p.kind).unwrap().as_str().unwrap(),
        p.id,
        p.title
    ));
    for extra in [&p.detail, &p.stage].into_iter().flatten() {
        out.push_str(&format!(" · {extra}"));
    }
    out.push('\n');
    if !p.phones.is_empty() {
        out.push_str(&format!("  phones: {}\n", p.phones.join(", ")));
    }
    if !p.emails.is_empty() {
        out.push_str(&format!("  emails: {}\n", p.emails.join(", ")));
    }
    out.push_str(&format!("  url: {}\n", p.url));
}

/// A readable rendering of a card for review in a diff.
fn render(card: &Card, base: &str) -> String {
    let mut out = String::new();
    match card {
        Card::Ready { record } => {
            out.push_str(&format!("ready in {} request(s)\n", record.requests));
            party("subject", &record.subject, &mut out);
            if let Some(company) = &record.company {
                party("company", company, &mut out);
            }
            for contact in &record.contacts {
                party("contact", contact, &mut out);
            }
            for deal in &record.deals {
                out.push_str(&format!(
                    "deal: #{} {} · {} · {:?} {}\n",
                    deal.id,
                    deal.title,
                    deal.stage.as_deref().unwrap_or("-"),
                    deal.amount,
                    deal.currency.as_deref().unwrap_or("")
                ));
            }
            for a in &record.activities {
                out.push_str(&format!(
                    "activity: #{} {:?} {:?} {} · {} · done={}\n",
                    a.id,
                    a.kind,
                    a.incoming,
                    a.at.as_deref().unwrap_or("-"),
                    a.subject,
                    a.completed
                ));
            }
            for c in &record.comments {
                out.push_str(&format!(
                    "comment: #{} {} · {}\n",
                    c.id,
                    c.at.as_deref().unwrap_or("-"),
                    c.text
                ));
            }
            if let Some(r) = &record.responsible {
                out.push_str(&format!(
                    "responsible: #{} {} · {}\n",
                    r.id,
                    r.name,
                    r.position.as_deref().unwrap_or("-")
                ));
            }
        }
        Card::Choose {
            number,
            candidates,
            cut,
        } => {
            out.push_str(&format!("choose for {number}\n"));
            if *cut {
                out.push_str("cut: more records may share this number\n");
            }
            for c in candidates {
                out.push_str(&format!(
                    "candidate: {:?} #{} {} · {}\n",
                    c.kind,
                    c.id,
                    c.title,
                    c.detail.as_deref().unwrap_or("-")
                ));
            }
        }
        other => out.push_str(&format!("{}\n", serde_json::to_string(other).unwrap())),
    }
    out.replace(base, "<portal>")
}

#[test]
fn every_screen_pop_fixture_gives_its_card_in_the_expected_requests() {
    let sim = Simulator::start(SimConfig::default()).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let portal = signed_in(&sim, dir.path());
    let desk = CardDesk::new(portal, "RU");
    let update = std::env::var_os("UPDATE_EXPECT").is_some();
    let mut paths: Vec<PathBuf> = std::fs::read_dir(fixtures())
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|e| e == "json"))
        .collect();
    paths.sort();
    assert!(paths.len() >= 10, "fixtures found: {paths:?}");
    let mut failures = Vec::new();
    for path in &paths {
        let context =
            callcard::parse(&std::fs::read(path).unwrap()).expect("fixtures are valid payloads");
        // `NAME.faults`: the simulator's faults while this fixture pops.
        let faults = std::fs::read(path.with_extension("faults"))
            .map(|f| serde_json::from_slice(&f).expect("a fixture's faults parse"))
            .unwrap_or_default();
        sim.set_faults(faults);
        let before = sim.stats().rest_requests;
        let card = match key_for(&context, None) {
            Some(key) => desk.load(&key),
            None => Card::NothingToLookUp,
        };
        let requests = sim.stats().rest_requests - before;
        sim.set_faults(Default::default());
        let text = format!(
            "{}http requests: {requests}\n",
            render(&card, &sim.base_url())
        );
        let expected_path = path.with_extension("expected");
        if update {
            std::fs::write(&expected_path, &text).unwrap();
            continue;
        }
        let expected = std::fs::read_to_string(&expected_path).unwrap_or_default();
        if expected != text {
            failures.push(format!(
                "--- {}\n--- expected\n{expected}\n--- got\n{text}",
                path.display()
            ));
        }
    }
    assert!(
        failures.is_empty(),
        "{} card(s) differ (UPDATE_EXPECT=1 rewrites them):\n{}",
        failures.len(),
        failures.join("\n")
    );
}

#[test]
fn the_common_cases_take_exactly_one_request() {
    let sim = Simulator::start(SimConfig::default()).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let desk = CardDesk::new(signed_in(&sim, dir.path()), "RU");
    for name in [
        "bound-contact",
        "bound-deal",
        "bound-lead",
        "bound-company",
        "unbound-one-match",
        "unbound-several-matches",
        "unbound-no-match",
    ] {
        let context =
            callcard::parse(&std::fs::read(fixtures().join(format!("{name}.json"))).unwrap())
                .unwrap();
        let before = sim.stats().rest_requests;
        let card = desk.load(&key_for(&context, None).unwrap());
        assert_eq!(sim.stats().rest_requests - before, 1, "{name}: {card:?}");
        assert!(!matches!(card, Card::Failed { .. }), "{name}: {card:?}");
    }
}

#[test]
fn re_posts_and_state_updates_fetch_nothing_and_an_entity_change_re_pops() {
    let sim = Simulator::start(SimConfig::default()).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let desk = Arc::new(CardDesk::new(signed_in(&sim, dir.path()), "RU"));
    let (tx, rx) = std::sync::mpsc::channel();
    desk.on_change(Box::new(move |view| {
        let _ = tx.send(view.clone());
    }));
    let wait_ready = || loop {
        let view = rx
            .recv_timeout(std::time::Duration::from_secs(10))
            .expect("a card");
        if !matches!(view.card, Card::Loading) {
            return view;
        }
    };
    let mut context =
        callcard::parse(&std::fs::read(fixtures().join("bound-contact.json")).unwrap()).unwrap();
    desk.show(&context);
    let first = wait_ready();
    assert!(matches!(first.card, Card::Ready { .. }));
    let requests = sim.stats().rest_requests;
    context.state = callcard::CallState::Connected;
    desk.show(&context);
    desk.show(&context);
    assert_eq!(
        sim.stats().rest_requests,
        requests,
        "state updates reuse the card"
    );
    // Another call about the same contact within the cache time: no request either.
    let mut other = context.clone();
    other.call_id = "pop.contact.again".into();
    desk.show(&other);
    assert!(matches!(wait_ready().card, Card::Ready { .. }));
    assert_eq!(sim.stats().rest_requests, requests);
    // The agent created a deal in the call card: the entity changed, the card follows.
    context.entity = Some(callcard::CrmRef {
        entity_type: callcard::CrmEntityType::Deal,
        id: 25,
    });
    desk.show(&context);
    let repop = wait_ready();
    let Card::Ready { record } = repop.card else {
        panic!("{repop:?}")
    };
    assert_eq!(record.subject.id, 25);
    assert_eq!(sim.stats().rest_requests, requests + 1);
}

#[test]
fn a_picked_match_is_remembered_for_the_call() {
    let sim = Simulator::start(SimConfig::default()).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let desk = Arc::new(CardDesk::new(signed_in(&sim, dir.path()), "RU"));
    let (tx, rx) = std::sync::mpsc::channel();
    desk.on_change(Box::new(move |view| {
        let _ = tx.send(view.clone());
    }));
    let context =
        callcard::parse(&std::fs::read(fixtures().join("unbound-several-matches.json")).unwrap())
            .unwrap();
    desk.show(&context);
    let next = || loop {
        let view = rx.recv_timeout(std::time::Duration::from_secs(10)).unwrap();
        if !matches!(view.card, Card::Loading) {
            return view.card;
        }
    };
    let Card::Choose { candidates, .. } = next() else {
        panic!()
    };
    assert!(candidates.len() >= 4, "{candidates:?}");
    let pick = candidates.iter().find(|c| c.id == 43).unwrap();
    desk.choose(&context.call_id, pick.kind, pick.id);
    let Card::Ready { record } = next() else {
        panic!()
    };
    assert_eq!(record.subject.id, 43);
    // The call card posts a state update: the pick stays.
    desk.show(&context);
    let Some(view) = desk.card(&context.call_id) else {
        panic!()
    };
    let Card::Ready { record } = view.card else {
        panic!()
    };
    assert_eq!(record.subject.id, 43);
}

#[test]
fn without_a_portal_the_card_says_so() {
    let dir = tempfile::tempdir().unwrap();
    let portal = Arc::new(PortalDesk::new(
        Vault::new(Keyring::new("io.callcompanion.test.none")),
        SettingsFile::new(dir.path().join("portal.json")),
    ));
    let desk = Arc::new(CardDesk::new(portal, "RU"));
    let context =
        callcard::parse(&std::fs::read(fixtures().join("bound-contact.json")).unwrap()).unwrap();
    desk.show(&context);
    assert_eq!(desk.card(&context.call_id).unwrap().card, Card::NoPortal);
}

#[test]
fn a_long_day_of_calls_keeps_only_the_recent_cards() {
    let dir = tempfile::tempdir().unwrap();
    let portal = Arc::new(PortalDesk::new(
        Vault::new(Keyring::new("io.callcompanion.test.none")),
        SettingsFile::new(dir.path().join("portal.json")),
    ));
    let desk = Arc::new(CardDesk::new(portal, "RU"));
    let template =
        callcard::parse(&std::fs::read(fixtures().join("bound-contact.json")).unwrap()).unwrap();
    let call = |n: usize| callcard::CallContext {
        call_id: format!("day.{n}"),
        ..template.clone()
    };
    let limit = companion::card::TRACKED_LIMIT;
    let kept = |range: std::ops::Range<usize>| -> Vec<usize> {
        range
            .filter(|n| desk.card(&call(*n).call_id).is_some())
            .collect()
    };
    for n in 0..limit {
        desk.show(&call(n));
    }
    assert_eq!(kept(0..limit), (0..limit).collect::<Vec<_>>());
    // An update of the oldest call does not make it new: age counts from its arrival.
    desk.show(&callcard::CallContext {
        state: callcard::CallState::Idle,
        ..call(0)
    });
    let calls = limit * 3;
    for n in limit..calls {
        desk.show(&call(n));
    }
    assert_eq!(kept(0..calls), (calls - limit..calls).collect::<Vec<_>>());
}

#[test]
fn an_unknown_caller_becomes_a_lead_or_is_found_by_name() {
    let sim = Simulator::start(SimConfig::default()).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let desk = Arc::new(CardDesk::new(signed_in(&sim, dir.path()), "RU"));
    let (tx, rx) = std::sync::mpsc::channel();
    desk.on_change(Box::new(move |view| {
        let _ = tx.send(view.clone());
    }));
    let next = || loop {
        let view = rx.recv_timeout(std::time::Duration::from_secs(10)).unwrap();
        if !matches!(view.card, Card::Loading) {
            return view.card;
        }
    };
    let context =
        callcard::parse(&std::fs::read(fixtures().join("unbound-no-match.json")).unwrap()).unwrap();
    desk.show(&context);
    assert!(matches!(next(), Card::Unknown { .. }));

    // Searching by name offers what matches.
    desk.search(&context.call_id, "Петрова").wait().unwrap();
    let Card::Found { candidates, .. } = next() else {
        panic!()
    };
    assert!(candidates.iter().any(|c| c.id == 42), "{candidates:?}");
    assert_eq!(
        desk.search(&context.call_id, "П").wait().unwrap_err().code,
        "query_too_short"
    );

    // A contact needs a name; a lead does not.
    assert_eq!(
        desk.create_record(
            &context.call_id,
            companion::card::model::EntityKind::Contact,
            " "
        )
        .wait()
        .unwrap_err()
        .code,
        "name_required"
    );
    let id = desk
        .create_record(
            &context.call_id,
            companion::card::model::EntityKind::Lead,
            "Павел",
        )
        .wait()
        .unwrap();
    let Card::Ready { record } = next() else {
        panic!()
    };
    assert_eq!(record.subject.id, id);
    assert!(
        record.subject.title.contains("Павел")
            && record.subject.phones.contains(&"+79999996666".to_owned()),
        "{:?}",
        record.subject
    );
    // The next call from that number finds the new lead.
    let mut again = context.clone();
    again.call_id = "pop.none.again".into();
    let card = desk.load(&key_for(&again, None).unwrap());
    let Card::Ready { record } = card else {
        panic!("{card:?}")
    };
    assert_eq!(record.subject.id, id);
}
