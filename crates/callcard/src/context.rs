use serde::{Deserialize, Serialize};
use ts_rs::TS;

/// One call as the call card describes it, with every quirk of the payload resolved.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
pub struct CallContext {
    /// `CALL_ID`, e.g. `externalCall.<hex>.<unix time>`; the key calls are tracked by.
    pub call_id: String,
    /// The other party's number as the portal normalised it; `None` when unknown.
    pub phone_number: Option<String>,
    /// Why there is no number, when the payload says so (`PHONE_NUMBER` is `hidden`, `unknown`,
    /// `undefined` or empty); `None` when a number came or the key was absent. Never looked up.
    #[serde(default)]
    pub no_number: Option<NoNumber>,
    /// The company line the call came in on or went out from.
    pub line_number: Option<String>,
    /// The line's name; falls back to the number, like the call card does.
    pub line_name: Option<String>,
    /// The primary CRM item bound to the call, if any.
    pub entity: Option<CrmRef>,
    /// Every bound CRM item (newer portals); the primary one is among them when both are sent.
    pub bindings: Vec<CrmRef>,
    /// The CRM activity recording this call, if one exists yet.
    #[ts(type = "number | null")]
    pub activity_id: Option<u64>,
    pub direction: CallDirection,
    pub state: CallState,
    /// The card walks through a call list (one client after another).
    pub call_list_mode: bool,
    /// Portal path of the bound item (`/crm/company/details/17/`), relative paths only.
    pub uri: Option<String>,
    /// The portal the call came from, when the input says.
    pub portal: Option<Portal>,
    /// Which entry format the context was read from.
    pub source: Source,
}

/// A `PHONE_NUMBER` that is no number.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(rename_all = "snake_case")]
pub enum NoNumber {
    /// `hidden`: the caller hid the number (`getStatus`, `ui-interaction/call-card/get-status.md`).
    Hidden,
    /// `unknown`: the client has no number (`CallCard::EntityChanged`,
    /// `ui-interaction/call-card/call-card-entity-changed.md`); also `undefined` and empty, which
    /// a script or a portal may send for the same (*unverified*: not in the docs).
    Unknown,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, TS)]
pub struct CrmRef {
    pub entity_type: CrmEntityType,
    #[ts(type = "number")]
    pub id: u64,
}

/// CRM object types (`crm/data-types.md`): names on newer portals, numeric ids on older ones.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(tag = "kind", content = "type_id", rename_all = "snake_case")]
pub enum CrmEntityType {
    Lead,
    Deal,
    Contact,
    Company,
    Quote,
    SmartInvoice,
    /// A smart process (dynamic type), ids from 128 up.
    Dynamic(u32),
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(tag = "kind", content = "value", rename_all = "snake_case")]
pub enum CallDirection {
    Incoming,
    /// `outgoing`, and the older docs' spelling `outcoming`.
    Outgoing,
    Callback,
    IncomingTransfer,
    /// A value this version does not know (or none), kept as sent.
    Unknown(String),
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(tag = "kind", content = "value", rename_all = "snake_case")]
pub enum CallState {
    Idle,
    Connecting,
    Connected,
    /// The docs say more states will come: kept as sent rather than rejected.
    Unknown(String),
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
pub struct Portal {
    /// Host name, e.g. `xxx.bitrix24.com`.
    pub domain: Option<String>,
    /// `https` unless the portal said `PROTOCOL=0`.
    pub https: bool,
    /// The portal user's language (`LANG`), e.g. `ru`.
    pub lang: Option<String>,
    pub member_id: Option<String>,
}

/// The entry format a context came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(rename_all = "snake_case")]
pub enum Source {
    /// Bitrix24's own form POST to a placement handler.
    PlacementForm,
    /// The relay widget's versioned JSON envelope.
    RelayEnvelope,
    /// A bare placement-options object (as `getStatus` returns it).
    OptionsObject,
    /// A `callcompanion://call-card?…` link.
    DeepLink,
    /// A PHP `print_r` dump pasted by a tester.
    PrintR,
}

impl CrmEntityType {
    /// The numeric type id of `crm.item.*` methods.
    pub fn type_id(self) -> u32 {
        match self {
            CrmEntityType::Lead => 1,
            CrmEntityType::Deal => 2,
            CrmEntityType::Contact => 3,
            CrmEntityType::Company => 4,
            CrmEntityType::Quote => 7,
            CrmEntityType::SmartInvoice => 31,
            CrmEntityType::Dynamic(id) => id,
        }
    }

    pub fn from_type_id(id: u64) -> Option<CrmEntityType> {
        Some(match id {
            1 => CrmEntityType::Lead,
            2 => CrmEntityType::Deal,
            3 => CrmEntityType::Contact,
            4 => CrmEntityType::Company,
            7 => CrmEntityType::Quote,
            31 => CrmEntityType::SmartInvoice,
            128..=0xFFFF_FFFF => CrmEntityType::Dynamic(id as u32),
            _ => return None,
        })
    }

    /// Names as the call card sends them (`CONTACT`, `lead`, `SMART_INVOICE`, `DYNAMIC_128`).
    pub fn from_name(name: &str) -> Option<CrmEntityType> {
        let upper = name.trim().to_ascii_uppercase();
        Some(match upper.as_str() {
            "LEAD" => CrmEntityType::Lead,
            "DEAL" => CrmEntityType::Deal,
            "CONTACT" => CrmEntityType::Contact,
            "COMPANY" => CrmEntityType::Company,
            "QUOTE" => CrmEntityType::Quote,
            "SMART_INVOICE" => CrmEntityType::SmartInvoice,
            other => {
                let id = other.strip_prefix("DYNAMIC_")?.parse::<u64>().ok()?;
                return CrmEntityType::from_type_id(id)
                    .filter(|t| matches!(t, CrmEntityType::Dynamic(_)));
            }
        })
    }
}
