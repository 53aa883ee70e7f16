//! The one `batch` request behind a card, and reading its answer. A bound record brings what
//! surrounds it (company, contacts, open deals, recent activities and comments, the responsible
//! user) through `$result` references; an unbound number is looked up with
//! `crm.duplicate.findbycomm`, and the first matching contact's card is fetched in the same
//! request on the chance that it is the only match (the common case).

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

/// An id in a command: a number, or a reference to an earlier result.
#[derive(Debug, Clone)]
pub enum Id {
    Known(u64),
    From(String),
}

impl Id {
    fn value(&self) -> Value {
        match self {
            Id::Known(id) => json!(id),
            Id::From(reference) => json!(reference),
        }
    }
}

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
    let people = json!([
        "ID",
        "NAME",
        "SECOND_NAME",
        "LAST_NAME",
        "POST",
        "PHONE",
        "EMAIL"
    ]);
    let deal_fields = json!(["ID", "TITLE", "STAGE_ID", "OPPORTUNITY", "CURRENCY_ID"]);
    match kind {
        EntityKind::Contact => {
            batch = batch
                .add(&key("company"), "crm.company.get", json!({ "id": format!("$result[{subject}][COMPANY_ID]") }))
                // Colleagues on the same company; `>COMPANY_ID` keeps a contact without a company
                // from listing every other contact without one.
                .add(
                    &key("contacts"),
                    "crm.contact.list",
                    json!({ "filter": { "COMPANY_ID": format!("$result[{subject}][COMPANY_ID]"), ">COMPANY_ID": 0, "!ID": id_value }, "select": people, "order": { "ID": "ASC" } }),
                )
                .add(&key("deals"), "crm.deal.list", json!({ "filter": { "CONTACT_ID": id_value, "CLOSED": "N" }, "select": deal_fields, "order": { "ID": "DESC" } }));
        }
        EntityKind::Company => {
            batch = batch
                .add(&key("contacts"), "crm.contact.list", json!({ "filter": { "COMPANY_ID": id_value }, "select": people, "order": { "ID": "ASC" } }))
                .add(&key("deals"), "crm.deal.list", json!({ "filter": { "COMPANY_ID": id_value, "CLOSED": "N" }, "select": deal_fields, "order": { "ID": "DESC" } }));
        }
        EntityKind::Deal => {
            batch = batch
                .add(
                    &key("contact"),
                    "crm.contact.get",
                    json!({ "id": format!("$result[{subject}][CONTACT_ID]") }),
                )
                .add(
                    &key("company"),
                    "crm.company.get",
                    json!({ "id": format!("$result[{subject}][COMPANY_ID]") }),
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
                "select": ["ID", "TYPE_ID", "PROVIDER_ID", "SUBJECT", "DIRECTION", "COMPLETED", "CREATED", "START_TIME"],
            }),
        )
        .add(
            &key("comments"),
            "crm.timeline.comment.list",
            json!({ "filter": { "ENTITY_TYPE": kind.name(), "ENTITY_ID": id_value }, "order": { "CREATED": "DESC" }, "select": ["ID", "COMMENT", "CREATED"] }),
        )
        .add(&key("responsible"), "user.get", json!({ "ID": format!("$result[{subject}][ASSIGNED_BY_ID]") }))
}

/// The lookup of an unbound number, and the first contact's card on the chance it is the one.
pub fn add_lookup(batch: Batch, variants: &[String]) -> Batch {
    let batch = batch.add(
        "dup",
        "crm.duplicate.findbycomm",
        json!({ "type": "PHONE", "values": variants }),
    );
    let batch = add_record(
        batch,
        "c_",
        EntityKind::Contact,
        &Id::From("$result[dup][CONTACT][0]".into()),
    );
    // Names for the picker when the number is shared.
    batch
        .add("dup_contacts", "crm.contact.list", json!({ "filter": { "ID": "$result[dup][CONTACT]" }, "select": ["ID", "NAME", "SECOND_NAME", "LAST_NAME", "POST"] }))
        .add("dup_companies", "crm.company.list", json!({ "filter": { "ID": "$result[dup][COMPANY]" }, "select": ["ID", "TITLE"] }))
        .add("dup_leads", "crm.lead.list", json!({ "filter": { "ID": "$result[dup][LEAD]" }, "select": ["ID", "TITLE", "NAME", "LAST_NAME"] }))
}

/// What `crm.duplicate.findbycomm` found: ids per kind.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Matches {
    pub contacts: Vec<u64>,
    pub companies: Vec<u64>,
    pub leads: Vec<u64>,
}

impl Matches {
    pub fn read(response: &BatchResponse) -> Result<Matches, RestError> {
        let found = match response.get("dup") {
            Some(Ok(value)) => value.clone(),
            Some(Err(e)) => return Err(e.clone()),
            None => Value::Null,
        };
        let ids = |key: &str| -> Vec<u64> {
            found
                .get(key)
                .and_then(Value::as_array)
                .map(|ids| {
                    ids.iter()
                        .filter_map(bitrix::models::de::number_of)
                        .map(|n| n as u64)
                        .collect()
                })
                .unwrap_or_default()
        };
        Ok(Matches {
            contacts: ids("CONTACT"),
            companies: ids("COMPANY"),
            leads: ids("LEAD"),
        })
    }

    pub fn count(&self) -> usize {
        self.contacts.len() + self.companies.len() + self.leads.len()
    }

    pub fn only(&self) -> Option<(EntityKind, u64)> {
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
            detail: contact.and_then(|c| c.post.clone()),
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

/// Reads the card keyed under `prefix`; a subject that failed makes the whole card fail.
pub fn read_card(
    response: &BatchResponse,
    prefix: &str,
    kind: EntityKind,
    links: &Links,
    requests: u32,
) -> Card {
    let key = |name: &str| format!("{prefix}{name}");
    let subject = match response.get(&key("subject")) {
        Some(Ok(value)) => value.clone(),
        Some(Err(error)) => return failed(error),
        None => {
            return Card::Failed {
                code: "not_loaded".into(),
                message: "the record was not loaded".into(),
                action: PortalAction::TryLater,
            }
        }
    };
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
            code: "bad_response".into(),
            message: "the portal's answer for the record could not be read".into(),
            action: PortalAction::Report,
        };
    };
    let one =
        |name: &str| -> Option<Value> { response.get(&key(name)).and_then(Result::ok).cloned() };
    let company = one("company")
        .and_then(|v| from_value::<Company>(&v))
        .filter(|c| c.id > 0)
        .map(|c| company_party(&c, links));
    let mut contacts: Vec<Party> = list::<Contact>(response, &key("contacts"))
        .iter()
        .map(|c| contact_party(c, links))
        .collect();
    if let Some(contact) = one("contact")
        .and_then(|v| from_value::<Contact>(&v))
        .filter(|c| c.id > 0)
    {
        contacts.insert(0, contact_party(&contact, links));
    }
    contacts.truncate(CONTACTS_SHOWN);
    let mut deals: Vec<DealLine> = list::<Deal>(response, &key("deals"))
        .into_iter()
        .map(|d| DealLine {
            id: d.id,
            url: links.record(EntityKind::Deal, d.id),
            title: d.title.unwrap_or_else(|| format!("#{}", d.id)),
            stage: d.stage_id,
            amount: d.opportunity,
            currency: d.currency_id,
        })
        .collect();
    deals.truncate(DEALS_SHOWN);
    let activities = list::<Activity>(response, &key("activities"))
        .into_iter()
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
        .take(COMMENTS_SHOWN)
        .map(|c| CommentLine {
            id: c.id,
            text: c.comment.unwrap_or_default(),
            at: c.created,
        })
        .collect();
    let responsible = list::<User>(response, &key("responsible"))
        .into_iter()
        .next()
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

pub fn failed(error: &RestError) -> Card {
    let message = match error {
        RestError::NotFound { .. } => "This record is no longer in the CRM.".to_owned(),
        RestError::AccessDenied { .. } => {
            "You have no permission to see this record in Bitrix24.".to_owned()
        }
        other => other.to_string(),
    };
    Card::Failed {
        code: error.code().into(),
        message,
        action: error.action().into(),
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
