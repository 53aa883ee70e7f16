//! What the window shows for a call's CRM record (generated into the UI's bindings).

use serde::{Deserialize, Serialize};
use ts_rs::TS;

use crate::status::PortalAction;

#[derive(Debug, Clone, PartialEq, Serialize, TS)]
pub struct CardView {
    pub call_id: String,
    pub card: Card,
}

#[derive(Debug, Clone, PartialEq, Serialize, TS)]
#[serde(tag = "state", rename_all = "snake_case")]
pub enum Card {
    /// No portal signed in: the call's own details show, nothing more.
    NoPortal,
    /// Nothing in the payload to look up (no number, nothing bound).
    NothingToLookUp,
    Loading,
    Ready {
        record: Box<CrmCard>,
    },
    /// A shared number: several records match and the agent picks one. `number` as people
    /// write it (`+7 495 123-45-67`).
    Choose {
        number: String,
        candidates: Vec<Candidate>,
        /// More records may share the number than the portal names (20 per type).
        cut: bool,
    },
    /// Nobody in the CRM has this number (as people write it).
    Unknown {
        number: String,
    },
    /// Records the agent searched for by name, to pick the caller from.
    Found {
        query: String,
        candidates: Vec<Candidate>,
    },
    Failed {
        code: codes::ErrorCode,
        message: String,
        action: PortalAction,
        /// `operation_time_limit`: Unix time (seconds) until which Bitrix24 paused this kind of
        /// request for the app (the window shows it in the agent's own time). Absent otherwise.
        #[serde(skip_serializing_if = "Option::is_none")]
        #[ts(optional, type = "number")]
        paused_until: Option<u64>,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, TS)]
#[serde(rename_all = "snake_case")]
pub enum EntityKind {
    Contact,
    Company,
    Lead,
    Deal,
}

impl EntityKind {
    /// The CRM object type id (`crm/data-types.md`).
    pub fn type_id(self) -> u64 {
        match self {
            EntityKind::Lead => 1,
            EntityKind::Deal => 2,
            EntityKind::Contact => 3,
            EntityKind::Company => 4,
        }
    }

    /// The name used in method names, timeline comments and portal paths.
    pub fn name(self) -> &'static str {
        match self {
            EntityKind::Lead => "lead",
            EntityKind::Deal => "deal",
            EntityKind::Contact => "contact",
            EntityKind::Company => "company",
        }
    }
}

/// The record the card is about, and everything around it.
#[derive(Debug, Clone, PartialEq, Serialize, TS)]
pub struct CrmCard {
    pub subject: Party,
    /// The contact's or the deal's company.
    pub company: Option<Party>,
    /// The company's other contacts, or the deal's contact.
    pub contacts: Vec<Party>,
    /// Open deals, newest first.
    pub deals: Vec<DealLine>,
    /// Recent activities (calls, e-mails, meetings, tasks), newest first.
    pub activities: Vec<ActivityLine>,
    /// Recent timeline comments, newest first.
    pub comments: Vec<CommentLine>,
    pub responsible: Option<Person>,
    /// HTTP requests the card took (one in the common cases).
    pub requests: u32,
}

#[derive(Debug, Clone, PartialEq, Serialize, TS)]
pub struct Party {
    pub kind: EntityKind,
    #[ts(type = "number")]
    pub id: u64,
    pub title: String,
    /// The contact's position, or the lead's person.
    pub detail: Option<String>,
    /// The deal's stage or the lead's status (a code such as `EXECUTING`).
    pub stage: Option<String>,
    pub phones: Vec<String>,
    pub emails: Vec<String>,
    /// The record in Bitrix24, built from the signed-in portal and the integer id only.
    pub url: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, TS)]
pub struct DealLine {
    #[ts(type = "number")]
    pub id: u64,
    pub title: String,
    pub stage: Option<String>,
    pub amount: Option<f64>,
    pub currency: Option<String>,
    pub url: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, TS)]
#[serde(rename_all = "snake_case")]
pub enum ActivityKind {
    Call,
    Email,
    Meeting,
    Task,
    Other,
}

#[derive(Debug, Clone, PartialEq, Serialize, TS)]
pub struct ActivityLine {
    #[ts(type = "number")]
    pub id: u64,
    pub kind: ActivityKind,
    pub subject: String,
    /// `Some(true)` incoming, `Some(false)` outgoing.
    pub incoming: Option<bool>,
    /// ISO 8601 as the portal wrote it.
    pub at: Option<String>,
    pub completed: bool,
}

#[derive(Debug, Clone, PartialEq, Serialize, TS)]
pub struct CommentLine {
    #[ts(type = "number")]
    pub id: u64,
    pub text: String,
    pub at: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, TS)]
pub struct Person {
    #[ts(type = "number")]
    pub id: u64,
    pub name: String,
    pub position: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, TS)]
pub struct Candidate {
    pub kind: EntityKind,
    #[ts(type = "number")]
    pub id: u64,
    pub title: String,
    pub detail: Option<String>,
}
