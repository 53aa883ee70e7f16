//! The screen pop: from a call's context to its CRM card, in one request to the portal in the
//! common cases. Cards are cached briefly and loads are shared, so a call card re-posting the
//! same call (state changes) fetches nothing again; a change of the bound record re-pops.

pub mod fetch;
pub mod model;
pub mod phone;

use std::collections::HashMap;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

use bitrix::{Batch, Stop};
use callcard::{CallContext, CrmEntityType};

use crate::portal::PortalDesk;
use crate::ErrorCode;
use fetch::{Id, Links, Matches};
use model::{Card, CardView, EntityKind};

/// How long a loaded card is reused for another call or a re-post of the same one.
pub const CACHE_TTL: Duration = Duration::from_secs(60);
/// A preloaded card waits this long for its call to arrive.
const PRELOAD_TTL: Duration = Duration::from_secs(30);
/// A screen pop that has not finished by then has failed: later it would only distract, and its
/// retries would spend the rate limit the call centre shares. The agent can press Retry.
pub const POP_DEADLINE: Duration = Duration::from_secs(15);
/// Calls whose cards are kept: the current call and the recent list.
pub const TRACKED_LIMIT: usize = crate::calls::RECENT_LIMIT + 1;

/// What a card is about: a record, or a number still to look up.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Key {
    Record(EntityKind, u64),
    Number(String),
}

struct Tracked {
    context: CallContext,
    key: Option<Key>,
    card: Card,
    /// The agent's pick among several matches, kept for the whole call.
    chosen: Option<(EntityKind, u64)>,
    /// When the call was first tracked (a counter): the oldest call is forgotten first.
    since: u64,
}

#[derive(Default)]
struct State {
    calls: HashMap<String, Tracked>,
    cache: HashMap<Key, (Instant, Card)>,
    /// The load in flight for each record: its number and how to stop it. When the next call
    /// arrives, every load it does not need is cancelled; a cancelled one is replaced by the
    /// next load of the same record (the agent's Retry), whose answer alone counts.
    loads: HashMap<Key, (u64, Stop)>,
    loads_so_far: u64,
    /// Cards fetched for a call about to arrive (the tab's proving request), used once.
    preloaded: HashMap<Key, (Instant, Card)>,
    tracked_so_far: u64,
}

impl State {
    /// Keeps the cards of as many calls as the recent-calls list shows, and drops stale cache
    /// entries, so a day of calls does not grow the app.
    fn forget_old(&mut self, cache_ttl: Duration) {
        while self.calls.len() > TRACKED_LIMIT {
            let oldest = self
                .calls
                .iter()
                .min_by_key(|(_, t)| t.since)
                .map(|(id, _)| id.clone());
            match oldest {
                Some(id) => self.calls.remove(&id),
                None => break,
            };
        }
        self.cache.retain(|_, (at, _)| at.elapsed() < cache_ttl);
        self.preloaded
            .retain(|_, (at, _)| at.elapsed() < PRELOAD_TTL);
    }
}

type Notify = Box<dyn Fn(&CardView) + Send + Sync>;

pub struct CardDesk {
    portal: Arc<PortalDesk>,
    /// Country to read national numbers in (`RU`, `KZ`, …).
    region: String,
    state: Mutex<State>,
    notify: OnceLock<Notify>,
    cache_ttl: Duration,
    pop_deadline: Duration,
}

impl CardDesk {
    /// How long loaded cards are reused (`CACHE_TTL`; the benchmark turns it off to measure pops).
    pub fn with_cache_ttl(mut self, ttl: Duration) -> CardDesk {
        self.cache_ttl = ttl;
        self
    }

    /// How long a pop may take, retries included (`POP_DEADLINE`; tests shorten it).
    pub fn with_pop_deadline(mut self, deadline: Duration) -> CardDesk {
        self.pop_deadline = deadline;
        self
    }

    pub fn new(portal: Arc<PortalDesk>, region: impl Into<String>) -> CardDesk {
        CardDesk {
            portal,
            region: region.into(),
            state: Mutex::default(),
            notify: OnceLock::new(),
            cache_ttl: CACHE_TTL,
            pop_deadline: POP_DEADLINE,
        }
    }

    /// Called with every card change (the shell emits it to the window).
    pub fn on_change(&self, notify: Notify) {
        let _ = self.notify.set(notify);
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn tell(&self, call_id: &str, card: &Card) {
        if let Some(notify) = self.notify.get() {
            notify(&CardView {
                call_id: call_id.to_owned(),
                card: card.clone(),
            });
        }
    }

    /// The card of a call, as last shown.
    pub fn card(&self, call_id: &str) -> Option<CardView> {
        self.lock().calls.get(call_id).map(|t| CardView {
            call_id: call_id.to_owned(),
            card: t.card.clone(),
        })
    }

    /// A call arrived or changed: shows its card, loading it in the background when needed. A
    /// call not seen before cancels the loads in flight that its card does not need: the pops
    /// of calls it replaced make no further request.
    pub fn show(self: &Arc<Self>, context: &CallContext) {
        self.show_with(context, false, true);
    }

    /// Loads the card again, ignoring the cache (the agent pressed "retry").
    pub fn reload(self: &Arc<Self>, call_id: &str) {
        let context = self.lock().calls.get(call_id).map(|t| t.context.clone());
        if let Some(context) = context {
            self.show_with(&context, true, false);
        }
    }

    /// The agent picked one of several records sharing the number.
    pub fn choose(self: &Arc<Self>, call_id: &str, kind: EntityKind, id: u64) {
        let context = {
            let mut state = self.lock();
            let Some(tracked) = state.calls.get_mut(call_id) else {
                return;
            };
            tracked.chosen = Some((kind, id));
            tracked.context.clone()
        };
        self.show_with(&context, false, false);
    }

    /// The portal connection changed: cards that waited for it (or failed on it) load again.
    pub fn portal_changed(self: &Arc<Self>) {
        let waiting: Vec<CallContext> = {
            let mut state = self.lock();
            state.cache.clear();
            state
                .calls
                .values()
                // A pop the next call cancelled stays for the agent's Retry: a sign-in does not
                // fetch the cards of calls that are over.
                .filter(|t| match &t.card {
                    Card::NoPortal => true,
                    Card::Failed { code, .. } => *code != ErrorCode::Cancelled,
                    _ => false,
                })
                .map(|t| t.context.clone())
                .collect()
        };
        for context in waiting {
            self.show_with(&context, true, false);
        }
    }

    fn show_with(self: &Arc<Self>, context: &CallContext, fresh: bool, arriving: bool) {
        let call_id = context.call_id.clone();
        let connected = self.portal.client().is_some();
        let next = {
            let mut state = self.lock();
            let chosen = state.calls.get(&call_id).and_then(|t| t.chosen);
            let key = key_for(context, chosen);
            if arriving && !state.calls.contains_key(&call_id) {
                for (stale, (_, stop)) in &state.loads {
                    if key.as_ref() != Some(stale) {
                        tracing::info!("a newer call arrived: the previous pop stops");
                        stop.cancel();
                    }
                }
            }
            let previous = state.calls.get(&call_id);
            let unchanged = previous.is_some_and(|t| {
                t.key == key && !matches!(t.card, Card::Failed { .. } | Card::NoPortal)
            });
            if unchanged && !fresh {
                // A state update of the same call about the same record: nothing to fetch.
                if let Some(tracked) = state.calls.get_mut(&call_id) {
                    tracked.context = context.clone();
                }
                return;
            }
            let preloaded = key
                .as_ref()
                .and_then(|k| state.preloaded.remove(k))
                .filter(|(at, _)| at.elapsed() < PRELOAD_TTL)
                .map(|(_, card)| card);
            let cached = preloaded.or_else(|| {
                key.as_ref()
                    .filter(|_| !fresh)
                    .and_then(|k| state.cache.get(k))
                    .filter(|(at, _)| at.elapsed() < self.cache_ttl)
                    .map(|(_, card)| card.clone())
            });
            let (card, load) = match (&key, connected, cached) {
                // A card the tab's proof brought shows even while the session is away.
                (Some(_), _, Some(card)) if !connected => (card, None),
                (_, false, _) => (Card::NoPortal, None),
                (None, true, _) => (Card::NothingToLookUp, None),
                (Some(_), true, Some(card)) => (card, None),
                (Some(key), true, None) => {
                    let running = state
                        .loads
                        .get(key)
                        .is_some_and(|(_, stop)| stop.check().is_ok());
                    let load = (!running).then(|| {
                        state.loads_so_far += 1;
                        let number = state.loads_so_far;
                        let stop = Stop::within(self.pop_deadline);
                        state.loads.insert(key.clone(), (number, stop.clone()));
                        (key.clone(), number, stop)
                    });
                    (Card::Loading, load)
                }
            };
            if fresh {
                if let Some(key) = &key {
                    state.cache.remove(key);
                }
            }
            let since = match state.calls.get(&call_id) {
                Some(t) => t.since,
                None => {
                    state.tracked_so_far += 1;
                    state.tracked_so_far
                }
            };
            state.calls.insert(
                call_id.clone(),
                Tracked {
                    context: context.clone(),
                    key,
                    card: card.clone(),
                    chosen,
                    since,
                },
            );
            state.forget_old(self.cache_ttl);
            (card, load)
        };
        let (card, load) = next;
        self.tell(&call_id, &card);
        if let Some((key, number, stop)) = load {
            let desk = self.clone();
            crate::rt::handle().spawn(async move {
                let card = desk.load_until(&key, stop).await;
                desk.finish(&key, number, card);
            });
        }
    }

    /// A load ended; the answer of one a newer load of the same record replaced is dropped.
    fn finish(&self, key: &Key, number: u64, card: Card) {
        let updated: Vec<String> = {
            let mut state = self.lock();
            if state.loads.get(key).map(|(n, _)| *n) != Some(number) {
                return;
            }
            state.loads.remove(key);
            if !matches!(card, Card::Failed { .. } | Card::NoPortal | Card::Loading) {
                state
                    .cache
                    .insert(key.clone(), (Instant::now(), card.clone()));
            }
            let mut updated = Vec::new();
            for (call_id, tracked) in state.calls.iter_mut() {
                if tracked.key.as_ref() == Some(key) {
                    tracked.card = card.clone();
                    updated.push(call_id.clone());
                }
            }
            updated
        };
        for call_id in updated {
            self.tell(&call_id, &card);
        }
    }

    /// Creates a lead or a contact with the call's number (the agent confirmed it), and shows
    /// its card for the call: one request to create (awaited), then the card loads.
    pub async fn create_record(
        self: &Arc<Self>,
        call_id: &str,
        kind: EntityKind,
        name: &str,
    ) -> Result<u64, crate::ErrorBody> {
        let error = crate::ErrorBody::new;
        let client = self
            .portal
            .client()
            .ok_or_else(|| error(ErrorCode::NotSignedIn, "sign in to a Bitrix24 portal first"))?;
        let context = self
            .lock()
            .calls
            .get(call_id)
            .map(|t| t.context.clone())
            .ok_or_else(|| error(ErrorCode::UnknownCall, "this call is no longer shown"))?;
        let number = context.phone_number.clone().unwrap_or_default();
        let spelled = phone::variants(&number, &self.region)
            .into_iter()
            .next()
            .unwrap_or_else(|| number.clone());
        let name = name.trim();
        let phone = if number.is_empty() {
            serde_json::json!([])
        } else {
            serde_json::json!([{ "VALUE": spelled, "VALUE_TYPE": "WORK" }])
        };
        let (method, fields) = match kind {
            EntityKind::Lead => (
                "crm.lead.add",
                serde_json::json!({ "TITLE": format!("{} {}", if name.is_empty() { "Call from" } else { name }, spelled).trim(), "NAME": name, "PHONE": phone, "SOURCE_ID": "CALL" }),
            ),
            EntityKind::Contact => {
                if name.is_empty() {
                    return Err(error(ErrorCode::NameRequired, "a contact needs a name"));
                }
                (
                    "crm.contact.add",
                    serde_json::json!({ "NAME": name, "PHONE": phone, "SOURCE_ID": "CALL", "OPENED": "Y" }),
                )
            }
            _ => {
                return Err(error(
                    ErrorCode::NotSupported,
                    "only a lead or a contact can be created from a call",
                ))
            }
        };
        let id = client
            .call(method, serde_json::json!({ "fields": fields }))
            .await
            .map_err(|e| crate::ErrorBody::new(e.code(), e.to_string()))?
            .result;
        let id = bitrix::models::de::number_of(&id)
            .map(|n| n as u64)
            .filter(|id| *id > 0)
            .ok_or_else(|| {
                error(
                    ErrorCode::BadResponse,
                    "the portal did not say the new record's id",
                )
            })?;
        tracing::info!(kind = kind.name(), id, "CRM record created from a call");
        self.choose(call_id, kind, id);
        Ok(id)
    }

    /// Searches contacts, companies and leads by name for a caller the number did not find:
    /// one request, awaited.
    pub async fn search(&self, call_id: &str, query: &str) -> Result<(), crate::ErrorBody> {
        let query = query.trim();
        const SHORTEST: usize = 2;
        if query.chars().count() < SHORTEST {
            return Err(crate::ErrorBody::new(
                ErrorCode::QueryTooShort,
                format!("type at least {SHORTEST} characters"),
            )
            .with("min", SHORTEST));
        }
        let client = self.portal.client().ok_or_else(|| {
            crate::ErrorBody::new(ErrorCode::NotSignedIn, "sign in to a Bitrix24 portal first")
        })?;
        let batch = fetch::add_search(Batch::new(), query);
        let card = match client.batch(&batch).await {
            Ok(response) => Card::Found {
                query: query.to_owned(),
                candidates: fetch::search_results(&response),
            },
            Err(e) => fetch::failed(&e),
        };
        let known = {
            let mut state = self.lock();
            match state.calls.get_mut(call_id) {
                Some(tracked) => {
                    tracked.card = card.clone();
                    true
                }
                None => false,
            }
        };
        if known {
            self.tell(call_id, &card);
        }
        Ok(())
    }

    /// Opens a record in Bitrix24 in the agent's browser. The address is built from the
    /// signed-in portal and the integer id only.
    pub fn open_record(&self, kind: EntityKind, id: u64) -> Result<(), crate::ErrorBody> {
        let client = self.portal.client().ok_or_else(|| {
            crate::ErrorBody::new(ErrorCode::NotSignedIn, "sign in to a Bitrix24 portal first")
        })?;
        let url = Links {
            base: client.portal_origin(),
        }
        .record(kind, id);
        crate::portal::browser::open(&url)
            .map_err(|message| crate::ErrorBody::new(ErrorCode::BrowserNotOpened, message))
    }

    /// Fetches the card for `key` now (blocking): one request, within the pop's deadline.
    pub fn load(&self, key: &Key) -> Card {
        crate::rt::block_on(self.load_until(key, Stop::within(self.pop_deadline)))
    }

    /// Fetches the card for `key` until `stop` says the answer is not wanted.
    pub async fn load_until(&self, key: &Key, stop: Stop) -> Card {
        let Some(client) = self.portal.client() else {
            return Card::NoPortal;
        };
        let client = client.stopping(stop);
        let started = Instant::now();
        let card = match self.fetch(&client, Some(key), Batch::new()).await {
            Ok((card, _)) => card,
            Err(error) => fetch::failed(&error),
        };
        tracing::info!(
            elapsed_ms = started.elapsed().as_millis() as u64,
            state = card_state(&card),
            "CRM card loaded"
        );
        card
    }

    /// The card for `key` (nothing to look up without one), fetched with `client`. `first`'s
    /// commands ride in the first request (the call-card tab's proof), whose whole answer comes
    /// back too. An error of that first request is returned as is; later ones become the card.
    pub async fn fetch(
        &self,
        client: &bitrix::Client,
        key: Option<&Key>,
        first: Batch,
    ) -> Result<(Card, bitrix::BatchResponse), bitrix::RestError> {
        let links = Links {
            base: client.portal_origin(),
        };
        match key {
            None => Ok((Card::NothingToLookUp, client.batch(&first).await?)),
            Some(Key::Record(kind, id)) => {
                let response = client
                    .batch(&fetch::add_record(first, "", *kind, &Id::Known(*id)))
                    .await?;
                let card = fetch::read_card(&response, "", *kind, *id, &links, 1);
                Ok((card, response))
            }
            Some(Key::Number(number)) => {
                let variants = phone::variants(number, &self.region);
                let response = client.batch(&fetch::add_lookup(first, &variants)).await?;
                let card = match Matches::read(&response) {
                    Err(error) => fetch::failed(&error),
                    Ok(matches) if matches.count() == 0 => Card::Unknown {
                        number: phone::display(number, &self.region),
                    },
                    Ok(matches) => match matches.only() {
                        Some((kind, id)) => fetch::read_card(
                            &response,
                            fetch::lookup_prefix(kind),
                            kind,
                            id,
                            &links,
                            1,
                        ),
                        None => Card::Choose {
                            number: phone::display(number, &self.region),
                            candidates: fetch::candidates(&response, &matches),
                            cut: matches.cut(),
                        },
                    },
                };
                Ok((card, response))
            }
        }
    }

    /// A card fetched elsewhere for this call (the call-card tab's proving request): shown
    /// without asking the portal again when the call arrives.
    pub fn preload(&self, context: &CallContext, card: Card) {
        if matches!(card, Card::Loading | Card::NoPortal) {
            return;
        }
        if let Some(key) = key_for(context, None) {
            let mut state = self.lock();
            if matches!(
                card,
                Card::Ready { .. } | Card::Choose { .. } | Card::Unknown { .. }
            ) {
                state
                    .cache
                    .insert(key.clone(), (Instant::now(), card.clone()));
            }
            state.preloaded.insert(key, (Instant::now(), card));
        }
    }
}

fn card_state(card: &Card) -> &'static str {
    match card {
        Card::NoPortal => "no_portal",
        Card::NothingToLookUp => "nothing_to_look_up",
        Card::Loading => "loading",
        Card::Ready { .. } => "ready",
        Card::Choose { .. } => "choose",
        Card::Unknown { .. } => "unknown",
        Card::Found { .. } => "found",
        Card::Failed { .. } => "failed",
    }
}

/// What to fetch for a call: the agent's pick, the bound record, another bound one, or the number.
pub fn key_for(context: &CallContext, chosen: Option<(EntityKind, u64)>) -> Option<Key> {
    if let Some((kind, id)) = chosen {
        return Some(Key::Record(kind, id));
    }
    let supported = |entity_type: CrmEntityType| match entity_type {
        CrmEntityType::Contact => Some(EntityKind::Contact),
        CrmEntityType::Company => Some(EntityKind::Company),
        CrmEntityType::Lead => Some(EntityKind::Lead),
        CrmEntityType::Deal => Some(EntityKind::Deal),
        _ => None,
    };
    let bound = context
        .entity
        .iter()
        .chain(context.bindings.iter())
        .find_map(|r| {
            supported(r.entity_type)
                .filter(|_| r.id > 0)
                .map(|kind| Key::Record(kind, r.id))
        });
    bound.or_else(|| {
        context
            .phone_number
            .as_deref()
            .map(str::trim)
            .filter(|n| !n.is_empty())
            .map(|n| Key::Number(n.to_owned()))
    })
}
