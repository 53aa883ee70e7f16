//! The one `batch` request behind a card, and reading its answer. A bound record brings what
//! surrounds it (companies, contacts, open deals, recent activities and comments, the
//! responsible user); an unbound number is looked up with `crm.duplicate.findbycomm`, once per
//! type, and the first match of each type has its card fetched in the same request on the
//! chance that it is the only match (the common case).
//!
//! `batch` references are substituted as Bitrix's server does (`CRestUtil::processBatchElement`,
//! see `../shared/bitrix24.md`): a reference that is a whole parameter takes the value as it is,
//! and one whose path is missing or `null` takes the deepest existing ancestor, so a filter by a
//! missing id would become an empty array, which the legacy lists treat as no condition at all.
//! So every reference here is written **inside text** (`"$result[…] "`, a trailing space): a
//! number is written in (`"42 "`, read as 42), anything else leaves the reference as written,
//! which matches nothing. Lists pass `start: -1` (nothing is paged, so nothing is counted), and
//! every row is checked against the subject before it is shown (`Links`).

use bitrix::models::{Activity, Company, Contact, Deal, Lead, Multifield, TimelineComment, User};
use bitrix::{Batch, BatchResponse, RestError};
use serde::de::DeserializeOwned;
use serde_json::{json, Value};

use super::model::{
    ActivityKind, ActivityLine, Candidate, Card, CommentLine, CrmCard, DealLine, EntityKind, Party,
    Person,
};
use crate::status::PortalAction;

const ACTIVITIES_SHOWN: usize = 8;
const COMMENTS_SHOWN: usize = 5;
const DEALS_SHOWN: usize = 10;
const CONTACTS_SHOWN: usize = 10;
/// The companies of a contact whose colleagues are listed, and the contacts of a deal.
const LINKS_FOLLOWED: usize = 5;
/// `crm.duplicate.findbycomm` names at most this many records per type.
pub const MATCHES_PER_TYPE: usize = 20;

/// Builds portal links from the signed-in portal's address and integer ids only.
#[derive(Debug, Clone)]
pub struct Links {
    pub base: String,
}

impl Links {
    pub fn record(&self, kind: EntityKind, id: u64) -> String {
        format!(
            "{}/crm/{}/details/{id}/",
            self.base.trim_end_matches('/'),
            kind.name()
        )
    }
}

/// An id in a command: a number, or a path into an earlier result (`dup_contact][CONTACT][0`
/// style, without `$result[` and the last `]`).
#[derive(Debug, Clone)]
pub enum Id {
    Known(u64),
    From(String),
}

impl Id {
    fn value(&self) -> Value {
        match self {
            Id::Known(id) => json!(id),
            Id::From(path) => json!(reference(path)),
        }
    }
}

/// `$result[path]` inside text: a number when the path leads to one, else the text itself.
fn reference(path: &str) -> String {
    format!("$result[{path}] ")
}

/// References to the first `n` entries of the list at `path`.
fn references(path: &str, n: usize) -> Value {
    json!((0..n)
        .map(|i| reference(&format!("{path}][{i}")))
        .collect::<Vec<_>>())
}

const PEOPLE: [&str; 8] = [
    "ID",
    "NAME",
    "SECOND_NAME",
    "LAST_NAME",
    "POST",
    "PHONE",
    "EMAIL",
    "COMPANY_ID",
];
const PEOPLE_ITEMS: [&str; 6] = ["id", "name", "secondName", "lastName", "post", "companyIds"];
const DEAL_FIELDS: [&str; 8] = [
    "ID",
    "TITLE",
    "STAGE_ID",
    "OPPORTUNITY",
    "CURRENCY_ID",
    "CONTACT_ID",
    "COMPANY_ID",
    "CLOSED",
];
const DEAL_ITEMS: [&str; 7] = [
    "id",
    "title",
    "stageId",
    "opportunity",
    "currencyId",
    "contactIds",
    "closed",
];

/// Commands for `kind`'s record `id` and its surroundings, keyed `{prefix}subject` and so on.
pub fn add_record(mut batch: Batch, prefix: &str, kind: EntityKind, id: &Id) -> Batch {
    let key = |name: &str| format!("{prefix}{name}");
    let subject = key("subject");
    let id_value = id.value();
    batch = batch.add(
        &subject,
        &format!("crm.{}.get", kind.name()),
        json!({ "id": id_value }),
    );
    match kind {
        EntityKind::Contact => {
            // All of the contact's companies (`crm.item` `companyIds`), then the companies,
            // their contacts by primary link and through any link.
            let companies = references(
                &format!("{}][item][companyIds", key("links")),
                LINKS_FOLLOWED,
            );
            batch = batch
                .add(&key("links"), "crm.item.get", json!({ "entityTypeId": 3, "id": id_value }))
                .add(&key("companies"), "crm.company.list", json!({ "filter": { "ID": companies }, "select": ["ID", "TITLE", "PHONE", "EMAIL"], "start": -1 }))
                .add(&key("contacts"), "crm.contact.list", json!({ "filter": { "COMPANY_ID": companies, "!ID": id_value }, "select": PEOPLE, "order": { "ID": "ASC" }, "start": -1 }))
                .add(&key("colleagues"), "crm.item.list", json!({ "entityTypeId": 3, "filter": { "@companyIds": companies, "!=id": id_value }, "select": PEOPLE_ITEMS, "order": { "id": "ASC" }, "start": -1 }))
                // A deal's CONTACT_ID names its primary contact only (`crm-deal-list.md`): the
                // universal list finds the deals where this contact is any of the contacts.
                .add(&key("deals"), "crm.deal.list", json!({ "filter": { "CONTACT_ID": id_value, "CLOSED": "N" }, "select": DEAL_FIELDS, "order": { "ID": "DESC" }, "start": -1 }))
                .add(&key("deal_items"), "crm.item.list", json!({ "entityTypeId": 2, "filter": { "=contactIds": id_value, "=closed": "N" }, "select": DEAL_ITEMS, "order": { "id": "DESC" }, "start": -1 }));
        }
        EntityKind::Company => {
            batch = batch
                .add(&key("contacts"), "crm.contact.list", json!({ "filter": { "COMPANY_ID": id_value }, "select": PEOPLE, "order": { "ID": "ASC" }, "start": -1 }))
                .add(&key("colleagues"), "crm.item.list", json!({ "entityTypeId": 3, "filter": { "=companyIds": id_value }, "select": PEOPLE_ITEMS, "order": { "id": "ASC" }, "start": -1 }))
                .add(&key("deals"), "crm.deal.list", json!({ "filter": { "COMPANY_ID": id_value, "CLOSED": "N" }, "select": DEAL_FIELDS, "order": { "ID": "DESC" }, "start": -1 }));
        }
        EntityKind::Deal => {
            let contacts = references(
                &format!("{}][item][contactIds", key("links")),
                LINKS_FOLLOWED,
            );
            batch = batch
                .add(
                    &key("links"),
                    "crm.item.get",
                    json!({ "entityTypeId": 2, "id": id_value }),
                )
                .add(
                    &key("contacts"),
                    "crm.contact.list",
                    json!({ "filter": { "ID": contacts }, "select": PEOPLE, "start": -1 }),
                )
                .add(
                    &key("company"),
                    "crm.company.get",
                    json!({ "id": reference(&format!("{subject}][COMPANY_ID")) }),
                );
        }
        EntityKind::Lead => {}
    }
    batch
        .add(
            &key("activities"),
            "crm.activity.list",
            json!({
                "filter": { "OWNER_TYPE_ID": kind.type_id(), "OWNER_ID": id_value },
                "order": { "CREATED": "DESC" },
                "select": ["ID", "OWNER_TYPE_ID", "OWNER_ID", "TYPE_ID", "PROVIDER_ID", "SUBJECT", "DIRECTION", "COMPLETED", "CREATED", "START_TIME"],
                "start": -1,
            }),
        )
        .add(
            &key("comments"),
            "crm.timeline.comment.list",
            json!({ "filter": { "ENTITY_TYPE": kind.name(), "ENTITY_ID": id_value }, "order": { "CREATED": "DESC" }, "select": ["ID", "ENTITY_ID", "ENTITY_TYPE", "COMMENT", "CREATED"], "start": -1 }),
        )
        .add(&key("responsible"), "user.get", json!({ "ID": reference(&format!("{subject}][ASSIGNED_BY_ID")) }))
}

/// The lookup of an unbound number, once per type (one type reaching 20 matches would hide the
/// later ones), the first match of each type's card on the chance it is the only match, and the
/// names of every match for the picker.
pub fn add_lookup(mut batch: Batch, variants: &[String]) -> Batch {
    for (kind, name) in [
        (EntityKind::Lead, "LEAD"),
        (EntityKind::Contact, "CONTACT"),
        (EntityKind::Company, "COMPANY"),
    ] {
        batch = batch.add(
            &format!("dup_{}", kind.name()),
            "crm.duplicate.findbycomm",
            json!({ "type": "PHONE", "values": variants, "entity_type": name }),
        );
    }
    for (kind, prefix, name) in [
        (EntityKind::Contact, "c_", "CONTACT"),
        (EntityKind::Company, "k_", "COMPANY"),
        (EntityKind::Lead, "l_", "LEAD"),
    ] {
        batch = add_record(
            batch,
            prefix,
            kind,
            &Id::From(format!("dup_{}][{name}][0", kind.name())),
        );
    }
    let ids = |kind: &str, name: &str| references(&format!("dup_{kind}][{name}"), MATCHES_PER_TYPE);
    batch
        .add("dup_contacts", "crm.contact.list", json!({ "filter": { "ID": ids("contact", "CONTACT") }, "select": ["ID", "NAME", "SECOND_NAME", "LAST_NAME", "POST"], "start": -1 }))
        .add("dup_companies", "crm.company.list", json!({ "filter": { "ID": ids("company", "COMPANY") }, "select": ["ID", "TITLE"], "start": -1 }))
        .add("dup_leads", "crm.lead.list", json!({ "filter": { "ID": ids("lead", "LEAD") }, "select": ["ID", "TITLE", "NAME", "LAST_NAME"], "start": -1 }))
}

/// The card's key prefix in a lookup for a match of `kind`.
pub fn lookup_prefix(kind: EntityKind) -> &'static str {
    match kind {
        EntityKind::Contact => "c_",
        EntityKind::Company => "k_",
        EntityKind::Lead => "l_",
        EntityKind::Deal => "d_",
    }
}

/// What `crm.duplicate.findbycomm` found: ids per kind.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Matches {
    pub contacts: Vec<u64>,
    pub companies: Vec<u64>,
    pub leads: Vec<u64>,
}

impl Matches {
    /// The three lookups' answers; a failed one fails the card (nothing would say why a caller
    /// known to the CRM showed as unknown).
    pub fn read(response: &BatchResponse) -> Result<Matches, RestError> {
        let ids = |kind: &str, name: &str| -> Result<Vec<u64>, RestError> {
            let found = match response.get(&format!("dup_{kind}")) {
                Some(Ok(value)) => value.clone(),
                Some(Err(e)) => return Err(e.clone()),
                None => Value::Null,
            };
            Ok(found
                .get(name)
                .and_then(Value::as_array)
                .map(|ids| {
                    ids.iter()
                        .filter_map(bitrix::models::de::number_of)
                        .map(|n| n as u64)
                        .collect()
                })
                .unwrap_or_default())
        };
        Ok(Matches {
            contacts: ids("contact", "CONTACT")?,
            companies: ids("company", "COMPANY")?,
            leads: ids("lead", "LEAD")?,
        })
    }

    pub fn count(&self) -> usize {
        self.contacts.len() + self.companies.len() + self.leads.len()
    }

    /// Whether a type's list may have been cut at the portal's 20.
    pub fn cut(&self) -> bool {
        [&self.contacts, &self.companies, &self.leads]
            .iter()
            .any(|ids| ids.len() >= MATCHES_PER_TYPE)
    }

    pub fn only(&self) -> Option<(EntityKind, u64)> {
        if self.cut() {
            return None;
        }
        match (
            self.contacts.as_slice(),
            self.companies.as_slice(),
            self.leads.as_slice(),
        ) {
            ([id], [], []) => Some((EntityKind::Contact, *id)),
            ([], [id], []) => Some((EntityKind::Company, *id)),
            ([], [], [id]) => Some((EntityKind::Lead, *id)),
            _ => None,
        }
    }
}

/// The picker's choices, named from the lists fetched with the lookup.
pub fn candidates(response: &BatchResponse, matches: &Matches) -> Vec<Candidate> {
    let mut out = Vec::new();
    let contacts: Vec<Contact> = list(response, "dup_contacts");
    for id in &matches.contacts {
        let contact = contacts.iter().find(|c| c.id == *id);
        out.push(Candidate {
            kind: EntityKind::Contact,
            id: *id,
            title: contact
                .map(contact_name)
                .unwrap_or_else(|| format!("#{id}")),
            detail: contact
                .and_then(|c| c.post.clone())
                .filter(|p| !p.is_empty()),
        });
    }
    let companies: Vec<Company> = list(response, "dup_companies");
    for id in &matches.companies {
        let title = companies
            .iter()
            .find(|c| c.id == *id)
            .and_then(|c| c.title.clone())
            .unwrap_or_else(|| format!("#{id}"));
        out.push(Candidate {
            kind: EntityKind::Company,
            id: *id,
            title,
            detail: None,
        });
    }
    let leads: Vec<Lead> = list(response, "dup_leads");
    for id in &matches.leads {
        let lead = leads.iter().find(|l| l.id == *id);
        out.push(Candidate {
            kind: EntityKind::Lead,
            id: *id,
            title: lead
                .and_then(|l| l.title.clone())
                .unwrap_or_else(|| format!("#{id}")),
            detail: lead.map(lead_person).filter(|p| !p.is_empty()),
        });
    }
    out
}

/// A row of a universal list (`crm.item.list`): camelCase fields, links as lists of ids.
fn items(response: &BatchResponse, key: &str) -> Vec<Value> {
    match response.get(key) {
        Some(Ok(value)) => value
            .get("items")
            .and_then(Value::as_array)
            .cloned()
            .unwrap_or_default(),
        _ => Vec::new(),
    }
}

fn id_of(value: &Value, field: &str) -> Option<u64> {
    value
        .get(field)
        .and_then(bitrix::models::de::number_of)
        .map(|n| n as u64)
        .filter(|n| *n > 0)
}

fn ids_of(value: &Value, field: &str) -> Vec<u64> {
    value
        .get(field)
        .and_then(Value::as_array)
        .map(|ids| {
            ids.iter()
                .filter_map(bitrix::models::de::number_of)
                .map(|n| n as u64)
                .collect()
        })
        .unwrap_or_default()
}

fn text_of(value: &Value, field: &str) -> Option<String> {
    value
        .get(field)
        .and_then(Value::as_str)
        .map(str::to_owned)
        .filter(|s| !s.trim().is_empty())
}

/// Reads the card keyed under `prefix` for record `id`; a subject that failed makes the whole
/// card fail, and every row that does not belong to the subject is dropped.
pub fn read_card(
    response: &BatchResponse,
    prefix: &str,
    kind: EntityKind,
    id: u64,
    links: &Links,
    requests: u32,
) -> Card {
    let key = |name: &str| format!("{prefix}{name}");
    let subject = match response.get(&key("subject")) {
        Some(Ok(value)) => value.clone(),
        Some(Err(error)) => return failed(error),
        None => {
            return Card::Failed {
                code: codes::ErrorCode::NotLoaded,
                message: "the record was not loaded".into(),
                action: PortalAction::TryLater,
                paused_until: None,
            }
        }
    };
    if id_of(&subject, "ID") != Some(id) {
        return Card::Failed {
            code: codes::ErrorCode::BadResponse,
            message: "the portal answered with another record".into(),
            action: PortalAction::Report,
            paused_until: None,
        };
    }
    let subject_party = match kind {
        EntityKind::Contact => from_value::<Contact>(&subject).map(|c| contact_party(&c, links)),
        EntityKind::Company => from_value::<Company>(&subject).map(|c| company_party(&c, links)),
        EntityKind::Deal => from_value::<Deal>(&subject).map(|d| Party {
            kind,
            id: d.id,
            title: d.title.clone().unwrap_or_else(|| format!("#{}", d.id)),
            detail: None,
            stage: d.stage_id.clone(),
            phones: Vec::new(),
            emails: Vec::new(),
            url: links.record(kind, d.id),
        }),
        EntityKind::Lead => from_value::<Lead>(&subject).map(|l| Party {
            kind,
            id: l.id,
            title: l.title.clone().unwrap_or_else(|| format!("#{}", l.id)),
            detail: Some(lead_person(&l)).filter(|p| !p.is_empty()),
            stage: l.status_id.clone(),
            phones: values(&l.phone),
            emails: values(&l.email),
            url: links.record(kind, l.id),
        }),
    };
    let Some(subject_party) = subject_party else {
        return Card::Failed {
            code: codes::ErrorCode::BadResponse,
            message: "the portal's answer for the record could not be read".into(),
            action: PortalAction::Report,
            paused_until: None,
        };
    };
    let one =
        |name: &str| -> Option<Value> { response.get(&key(name)).and_then(Result::ok).cloned() };
    // The subject's links, from its universal view; its primary link alone if that failed.
    let linked = |field: &str, primary: &str| -> Vec<u64> {
        let from_item = one("links")
            .map(|v| ids_of(&v["item"], field))
            .unwrap_or_default();
        if from_item.is_empty() {
            id_of(&subject, primary).into_iter().collect()
        } else {
            from_item
        }
    };
    let mut company = None;
    let mut contacts: Vec<Party> = Vec::new();
    let mut add_contact = |party: Party| {
        let is_subject = kind == EntityKind::Contact && party.id == id;
        if !is_subject && !contacts.iter().any(|c| c.id == party.id) {
            contacts.push(party);
        }
    };
    match kind {
        EntityKind::Contact => {
            let companies = linked("companyIds", "COMPANY_ID");
            let rows: Vec<Company> = list::<Company>(response, &key("companies"))
                .into_iter()
                .filter(|c| companies.contains(&c.id))
                .collect();
            let primary = id_of(&subject, "COMPANY_ID").or(companies.first().copied());
            company = rows
                .iter()
                .find(|c| Some(c.id) == primary)
                .or(rows.first())
                .map(|c| company_party(c, links));
            for c in list::<Contact>(response, &key("contacts")) {
                if c.company_id.is_some_and(|k| companies.contains(&k)) {
                    add_contact(contact_party(&c, links));
                }
            }
            for item in items(response, &key("colleagues")) {
                if ids_of(&item, "companyIds")
                    .iter()
                    .any(|k| companies.contains(k))
                {
                    if let Some(party) = item_party(&item, links) {
                        add_contact(party);
                    }
                }
            }
        }
        EntityKind::Company => {
            for c in list::<Contact>(response, &key("contacts")) {
                if c.company_id == Some(id) {
                    add_contact(contact_party(&c, links));
                }
            }
            for item in items(response, &key("colleagues")) {
                if ids_of(&item, "companyIds").contains(&id) {
                    if let Some(party) = item_party(&item, links) {
                        add_contact(party);
                    }
                }
            }
        }
        EntityKind::Deal => {
            let linked_contacts = linked("contactIds", "CONTACT_ID");
            let mut rows: Vec<Contact> = list::<Contact>(response, &key("contacts"))
                .into_iter()
                .filter(|c| linked_contacts.contains(&c.id))
                .collect();
            rows.sort_by_key(|c| linked_contacts.iter().position(|l| *l == c.id));
            for c in rows {
                add_contact(contact_party(&c, links));
            }
            company = one("company")
                .filter(|c| {
                    id_of(c, "ID").is_some() && id_of(c, "ID") == id_of(&subject, "COMPANY_ID")
                })
                .and_then(|v| from_value::<Company>(&v))
                .map(|c| company_party(&c, links));
        }
        EntityKind::Lead => {}
    }
    contacts.truncate(CONTACTS_SHOWN);
    let deals = read_deals(response, prefix, kind, id, links);
    let activities = list::<Value>(response, &key("activities"))
        .into_iter()
        .filter(|a| {
            id_of(a, "OWNER_ID") == Some(id) && id_of(a, "OWNER_TYPE_ID") == Some(kind.type_id())
        })
        .filter_map(|a| from_value::<Activity>(&a))
        .take(ACTIVITIES_SHOWN)
        .map(|a| ActivityLine {
            id: a.id,
            kind: match (a.type_id, a.provider_id.as_deref()) {
                (Some(2), _) | (_, Some("VOXIMPLANT_CALL")) => ActivityKind::Call,
                (Some(4), _) | (_, Some("CRM_EMAIL")) => ActivityKind::Email,
                (Some(1), _) | (_, Some("CRM_MEETING")) => ActivityKind::Meeting,
                (Some(3), _) | (_, Some("CRM_TODO") | Some("CRM_TASKS_TASK")) => ActivityKind::Task,
                _ => ActivityKind::Other,
            },
            subject: a.subject.unwrap_or_default(),
            incoming: a.direction.map(|d| d == 1),
            at: a.start_time.or(a.created),
            completed: a.completed,
        })
        .collect();
    let comments = list::<TimelineComment>(response, &key("comments"))
        .into_iter()
        .filter(|c| {
            c.entity_id == Some(id)
                && c.entity_type
                    .as_deref()
                    .is_some_and(|t| t.eq_ignore_ascii_case(kind.name()))
        })
        .take(COMMENTS_SHOWN)
        .map(|c| CommentLine {
            id: c.id,
            text: c.comment.unwrap_or_default(),
            at: c.created,
        })
        .collect();
    let responsible = list::<User>(response, &key("responsible"))
        .into_iter()
        .find(|u| Some(u.id) == id_of(&subject, "ASSIGNED_BY_ID"))
        .map(|u| Person {
            id: u.id,
            name: u.display_name(),
            position: u.work_position,
        });
    Card::Ready {
        record: Box::new(CrmCard {
            subject: subject_party,
            company,
            contacts,
            deals,
            activities,
            comments,
            responsible,
            requests,
        }),
    }
}

/// Open deals of the subject: a contact's through any of the deal's contacts, a company's.
fn read_deals(
    response: &BatchResponse,
    prefix: &str,
    kind: EntityKind,
    id: u64,
    links: &Links,
) -> Vec<DealLine> {
    let mut deals: Vec<DealLine> = Vec::new();
    let open = |closed: Option<String>| closed.as_deref() != Some("Y");
    for deal in list::<Value>(response, &format!("{prefix}deals")) {
        let belongs = match kind {
            EntityKind::Contact => id_of(&deal, "CONTACT_ID") == Some(id),
            EntityKind::Company => id_of(&deal, "COMPANY_ID") == Some(id),
            _ => false,
        };
        if belongs && open(text_of(&deal, "CLOSED")) {
            if let Some(d) = from_value::<Deal>(&deal) {
                deals.push(DealLine {
                    id: d.id,
                    url: links.record(EntityKind::Deal, d.id),
                    title: d.title.unwrap_or_else(|| format!("#{}", d.id)),
                    stage: d.stage_id,
                    amount: d.opportunity,
                    currency: d.currency_id,
                });
            }
        }
    }
    if kind == EntityKind::Contact {
        for item in items(response, &format!("{prefix}deal_items")) {
            let Some(deal_id) = id_of(&item, "id") else {
                continue;
            };
            if !ids_of(&item, "contactIds").contains(&id)
                || !open(text_of(&item, "closed"))
                || deals.iter().any(|d| d.id == deal_id)
            {
                continue;
            }
            deals.push(DealLine {
                id: deal_id,
                url: links.record(EntityKind::Deal, deal_id),
                title: text_of(&item, "title").unwrap_or_else(|| format!("#{deal_id}")),
                stage: text_of(&item, "stageId"),
                amount: item
                    .get("opportunity")
                    .and_then(bitrix::models::de::number_of),
                currency: text_of(&item, "currencyId"),
            });
        }
    }
    deals.sort_by_key(|d| std::cmp::Reverse(d.id));
    deals.truncate(DEALS_SHOWN);
    deals
}

/// A contact from a universal list (no phones or e-mails there).
fn item_party(item: &Value, links: &Links) -> Option<Party> {
    let id = id_of(item, "id")?;
    let contact = Contact {
        id,
        name: text_of(item, "name"),
        second_name: text_of(item, "secondName"),
        last_name: text_of(item, "lastName"),
        post: text_of(item, "post"),
        ..Contact::default()
    };
    Some(contact_party(&contact, links))
}

pub fn failed(error: &RestError) -> Card {
    let message = match error {
        RestError::NotFound { .. } => "This record is no longer in the CRM.".to_owned(),
        RestError::AccessDenied { .. } => {
            "You have no permission to see this record in Bitrix24.".to_owned()
        }
        other => other.to_string(),
    };
    Card::Failed {
        code: error.code(),
        message,
        action: error.action().into(),
        paused_until: match error {
            RestError::OperationTimeLimit { until, .. } => *until,
            _ => None,
        },
    }
}

fn from_value<T: DeserializeOwned>(value: &Value) -> Option<T> {
    serde_json::from_value(value.clone()).ok()
}

/// A list result; a failed command or junk reads as an empty list.
fn list<T: DeserializeOwned>(response: &BatchResponse, key: &str) -> Vec<T> {
    match response.get(key) {
        Some(Ok(Value::Array(items))) => items.iter().filter_map(from_value).collect(),
        _ => Vec::new(),
    }
}

fn values(fields: &[Multifield]) -> Vec<String> {
    fields.iter().map(|f| f.value.clone()).collect()
}

fn contact_name(c: &Contact) -> String {
    let parts: Vec<&str> = [
        c.name.as_deref(),
        c.second_name.as_deref(),
        c.last_name.as_deref(),
    ]
    .into_iter()
    .flatten()
    .filter(|p| !p.trim().is_empty())
    .collect();
    if parts.is_empty() {
        format!("#{}", c.id)
    } else {
        parts.join(" ")
    }
}

fn lead_person(l: &Lead) -> String {
    [l.name.as_deref(), l.last_name.as_deref()]
        .into_iter()
        .flatten()
        .filter(|p| !p.trim().is_empty())
        .collect::<Vec<_>>()
        .join(" ")
}

fn contact_party(c: &Contact, links: &Links) -> Party {
    Party {
        kind: EntityKind::Contact,
        id: c.id,
        title: contact_name(c),
        detail: c.post.clone(),
        stage: None,
        phones: values(&c.phone),
        emails: values(&c.email),
        url: links.record(EntityKind::Contact, c.id),
    }
}

fn company_party(c: &Company, links: &Links) -> Party {
    Party {
        kind: EntityKind::Company,
        id: c.id,
        title: c.title.clone().unwrap_or_else(|| format!("#{}", c.id)),
        detail: None,
        stage: None,
        phones: values(&c.phone),
        emails: values(&c.email),
        url: links.record(EntityKind::Company, c.id),
    }
}

/// Contacts (by first or last name), companies and leads (by title) whose names contain `query`.
pub fn add_search(batch: Batch, query: &str) -> Batch {
    let people = json!(["ID", "NAME", "SECOND_NAME", "LAST_NAME", "POST"]);
    batch
        .add("by_last_name", "crm.contact.list", json!({ "filter": { "%LAST_NAME": query }, "select": people, "order": { "LAST_NAME": "ASC" } }))
        .add("by_name", "crm.contact.list", json!({ "filter": { "%NAME": query }, "select": people, "order": { "NAME": "ASC" } }))
        .add("companies", "crm.company.list", json!({ "filter": { "%TITLE": query }, "select": ["ID", "TITLE"], "order": { "TITLE": "ASC" } }))
        .add("leads", "crm.lead.list", json!({ "filter": { "%TITLE": query }, "select": ["ID", "TITLE", "NAME", "LAST_NAME"], "order": { "ID": "DESC" } }))
}

/// At most this many search results are offered.
const FOUND_SHOWN: usize = 20;

pub fn search_results(response: &BatchResponse) -> Vec<Candidate> {
    let mut out: Vec<Candidate> = Vec::new();
    for key in ["by_last_name", "by_name"] {
        for contact in list::<Contact>(response, key) {
            if !out
                .iter()
                .any(|c| c.kind == EntityKind::Contact && c.id == contact.id)
            {
                out.push(Candidate {
                    kind: EntityKind::Contact,
                    id: contact.id,
                    title: contact_name(&contact),
                    detail: contact.post.clone(),
                });
            }
        }
    }
    for company in list::<Company>(response, "companies") {
        out.push(Candidate {
            kind: EntityKind::Company,
            id: company.id,
            title: company
                .title
                .clone()
                .unwrap_or_else(|| format!("#{}", company.id)),
            detail: None,
        });
    }
    for lead in list::<Lead>(response, "leads") {
        out.push(Candidate {
            kind: EntityKind::Lead,
            id: lead.id,
            title: lead
                .title
                .clone()
                .unwrap_or_else(|| format!("#{}", lead.id)),
            detail: Some(lead_person(&lead)).filter(|p| !p.is_empty()),
        });
    }
    out.truncate(FOUND_SHOWN);
    out
}
