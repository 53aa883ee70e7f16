//! What the app shows, read tolerantly: ids and amounts arrive as strings or numbers, booleans
//! as `"Y"`/`"N"`, empty lists as `[]` or absent, and unknown fields are ignored.

use serde::{Deserialize, Serialize};

/// A phone, e-mail or web entry of a CRM record (`PHONE: [{VALUE, VALUE_TYPE}]`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE", default)]
pub struct Multifield {
    #[serde(deserialize_with = "de::opt_u64")]
    pub id: Option<u64>,
    pub value: String,
    pub value_type: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE", default)]
pub struct Contact {
    #[serde(deserialize_with = "de::u64_lenient")]
    pub id: u64,
    #[serde(deserialize_with = "de::opt_string")]
    pub honorific: Option<String>,
    #[serde(deserialize_with = "de::opt_string")]
    pub name: Option<String>,
    #[serde(deserialize_with = "de::opt_string")]
    pub second_name: Option<String>,
    #[serde(deserialize_with = "de::opt_string")]
    pub last_name: Option<String>,
    #[serde(deserialize_with = "de::opt_string")]
    pub post: Option<String>,
    #[serde(deserialize_with = "de::opt_u64")]
    pub company_id: Option<u64>,
    #[serde(deserialize_with = "de::multifields")]
    pub phone: Vec<Multifield>,
    #[serde(deserialize_with = "de::multifields")]
    pub email: Vec<Multifield>,
    #[serde(deserialize_with = "de::opt_u64")]
    pub assigned_by_id: Option<u64>,
    #[serde(deserialize_with = "de::opt_string")]
    pub type_id: Option<String>,
    #[serde(deserialize_with = "de::opt_string")]
    pub source_id: Option<String>,
    #[serde(deserialize_with = "de::opt_string")]
    pub comments: Option<String>,
    #[serde(deserialize_with = "de::opt_string")]
    pub date_create: Option<String>,
    #[serde(deserialize_with = "de::opt_string")]
    pub date_modify: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE", default)]
pub struct Company {
    #[serde(deserialize_with = "de::u64_lenient")]
    pub id: u64,
    #[serde(deserialize_with = "de::opt_string")]
    pub title: Option<String>,
    #[serde(deserialize_with = "de::opt_string")]
    pub company_type: Option<String>,
    #[serde(deserialize_with = "de::opt_string")]
    pub industry: Option<String>,
    #[serde(deserialize_with = "de::multifields")]
    pub phone: Vec<Multifield>,
    #[serde(deserialize_with = "de::multifields")]
    pub email: Vec<Multifield>,
    #[serde(deserialize_with = "de::multifields")]
    pub web: Vec<Multifield>,
    #[serde(deserialize_with = "de::opt_u64")]
    pub assigned_by_id: Option<u64>,
    #[serde(deserialize_with = "de::opt_string")]
    pub comments: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE", default)]
pub struct Lead {
    #[serde(deserialize_with = "de::u64_lenient")]
    pub id: u64,
    #[serde(deserialize_with = "de::opt_string")]
    pub title: Option<String>,
    #[serde(deserialize_with = "de::opt_string")]
    pub name: Option<String>,
    #[serde(deserialize_with = "de::opt_string")]
    pub last_name: Option<String>,
    #[serde(deserialize_with = "de::opt_string")]
    pub company_title: Option<String>,
    #[serde(deserialize_with = "de::opt_string")]
    pub status_id: Option<String>,
    #[serde(deserialize_with = "de::opt_string")]
    pub source_id: Option<String>,
    #[serde(deserialize_with = "de::opt_f64")]
    pub opportunity: Option<f64>,
    #[serde(deserialize_with = "de::opt_string")]
    pub currency_id: Option<String>,
    #[serde(deserialize_with = "de::multifields")]
    pub phone: Vec<Multifield>,
    #[serde(deserialize_with = "de::multifields")]
    pub email: Vec<Multifield>,
    #[serde(deserialize_with = "de::opt_u64")]
    pub assigned_by_id: Option<u64>,
    #[serde(deserialize_with = "de::opt_string")]
    pub date_create: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE", default)]
pub struct Deal {
    #[serde(deserialize_with = "de::u64_lenient")]
    pub id: u64,
    #[serde(deserialize_with = "de::opt_string")]
    pub title: Option<String>,
    #[serde(deserialize_with = "de::opt_string")]
    pub stage_id: Option<String>,
    #[serde(deserialize_with = "de::opt_u64")]
    pub category_id: Option<u64>,
    #[serde(deserialize_with = "de::opt_f64")]
    pub opportunity: Option<f64>,
    #[serde(deserialize_with = "de::opt_string")]
    pub currency_id: Option<String>,
    #[serde(deserialize_with = "de::opt_u64")]
    pub contact_id: Option<u64>,
    #[serde(deserialize_with = "de::opt_u64")]
    pub company_id: Option<u64>,
    #[serde(deserialize_with = "de::opt_u64")]
    pub assigned_by_id: Option<u64>,
    #[serde(deserialize_with = "de::yes_no")]
    pub closed: bool,
    #[serde(deserialize_with = "de::opt_string")]
    pub closedate: Option<String>,
    #[serde(deserialize_with = "de::opt_string")]
    pub date_create: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE", default)]
pub struct Activity {
    #[serde(deserialize_with = "de::u64_lenient")]
    pub id: u64,
    #[serde(deserialize_with = "de::opt_u64")]
    pub owner_type_id: Option<u64>,
    #[serde(deserialize_with = "de::opt_u64")]
    pub owner_id: Option<u64>,
    /// 1 meeting, 2 call, 3 task, 4 e-mail, 6 provider activity.
    #[serde(deserialize_with = "de::opt_u64")]
    pub type_id: Option<u64>,
    #[serde(deserialize_with = "de::opt_string")]
    pub provider_id: Option<String>,
    #[serde(deserialize_with = "de::opt_string")]
    pub subject: Option<String>,
    #[serde(deserialize_with = "de::opt_string")]
    pub description: Option<String>,
    /// 1 incoming, 2 outgoing.
    #[serde(deserialize_with = "de::opt_u64")]
    pub direction: Option<u64>,
    #[serde(deserialize_with = "de::yes_no")]
    pub completed: bool,
    #[serde(deserialize_with = "de::opt_u64")]
    pub responsible_id: Option<u64>,
    #[serde(deserialize_with = "de::opt_string")]
    pub created: Option<String>,
    #[serde(deserialize_with = "de::opt_string")]
    pub start_time: Option<String>,
    #[serde(deserialize_with = "de::opt_string")]
    pub deadline: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE", default)]
pub struct TimelineComment {
    #[serde(deserialize_with = "de::u64_lenient")]
    pub id: u64,
    #[serde(deserialize_with = "de::opt_u64")]
    pub entity_id: Option<u64>,
    #[serde(deserialize_with = "de::opt_string")]
    pub entity_type: Option<String>,
    #[serde(deserialize_with = "de::opt_string")]
    pub created: Option<String>,
    #[serde(deserialize_with = "de::opt_string")]
    pub comment: Option<String>,
    #[serde(deserialize_with = "de::opt_u64")]
    pub author_id: Option<u64>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE", default)]
pub struct User {
    #[serde(deserialize_with = "de::u64_lenient")]
    pub id: u64,
    #[serde(deserialize_with = "de::opt_string")]
    pub name: Option<String>,
    #[serde(deserialize_with = "de::opt_string")]
    pub last_name: Option<String>,
    #[serde(deserialize_with = "de::opt_string")]
    pub email: Option<String>,
    #[serde(deserialize_with = "de::opt_string")]
    pub work_position: Option<String>,
    #[serde(deserialize_with = "de::opt_string")]
    pub personal_photo: Option<String>,
    #[serde(deserialize_with = "de::opt_string")]
    pub time_zone: Option<String>,
}

impl User {
    /// "Name Last name", or the e-mail, or `#id`.
    pub fn display_name(&self) -> String {
        let parts: Vec<&str> = [self.name.as_deref(), self.last_name.as_deref()]
            .into_iter()
            .flatten()
            .filter(|s| !s.trim().is_empty())
            .collect();
        if !parts.is_empty() {
            parts.join(" ")
        } else if let Some(email) = self.email.as_deref().filter(|e| !e.is_empty()) {
            email.to_owned()
        } else {
            format!("#{}", self.id)
        }
    }
}

/// Tolerant field readers.
pub mod de {
    use serde::{Deserialize, Deserializer};
    use serde_json::Value;

    use super::Multifield;

    /// A number or a numeric string.
    pub fn number_of(value: &Value) -> Option<f64> {
        match value {
            Value::Number(n) => n.as_f64(),
            Value::String(s) => s.trim().parse().ok(),
            _ => None,
        }
    }

    pub fn u64_lenient<'de, D: Deserializer<'de>>(d: D) -> Result<u64, D::Error> {
        Ok(opt_u64(d)?.unwrap_or(0))
    }

    /// `5`, `"5"`; `0`, `""`, `null` and anything else mean none.
    pub fn opt_u64<'de, D: Deserializer<'de>>(d: D) -> Result<Option<u64>, D::Error> {
        let value = Value::deserialize(d)?;
        Ok(number_of(&value)
            .filter(|n| *n >= 1.0 && n.fract() == 0.0)
            .map(|n| n as u64))
    }

    pub fn opt_f64<'de, D: Deserializer<'de>>(d: D) -> Result<Option<f64>, D::Error> {
        Ok(number_of(&Value::deserialize(d)?))
    }

    pub fn f64_lenient<'de, D: Deserializer<'de>>(d: D) -> Result<f64, D::Error> {
        Ok(number_of(&Value::deserialize(d)?).unwrap_or(0.0))
    }

    pub fn opt_f64_lenient<'de, D: Deserializer<'de>>(d: D) -> Result<Option<f64>, D::Error> {
        opt_f64(d)
    }

    /// A string; numbers are written out, `null`/`""`/`[]` mean none.
    pub fn opt_string<'de, D: Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
        Ok(match Value::deserialize(d)? {
            Value::String(s) if !s.is_empty() => Some(s),
            Value::Number(n) => Some(n.to_string()),
            _ => None,
        })
    }

    /// `"Y"`, `"N"`, `true`, `1`, `"1"`.
    pub fn yes_no<'de, D: Deserializer<'de>>(d: D) -> Result<bool, D::Error> {
        Ok(match Value::deserialize(d)? {
            Value::Bool(b) => b,
            Value::String(s) => matches!(
                s.trim().to_ascii_uppercase().as_str(),
                "Y" | "YES" | "TRUE" | "1"
            ),
            Value::Number(n) => n.as_f64().is_some_and(|n| n != 0.0),
            _ => false,
        })
    }

    /// A list of multifields; a PHP empty object (`{}` or `[]`), `null` or junk is an empty list,
    /// and entries without a value are dropped.
    pub fn multifields<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<Multifield>, D::Error> {
        let items = match Value::deserialize(d)? {
            Value::Array(items) => items,
            Value::Object(map) => map.into_iter().map(|(_, v)| v).collect(),
            _ => Vec::new(),
        };
        Ok(items
            .into_iter()
            .filter_map(|item| serde_json::from_value::<Multifield>(item).ok())
            .filter(|m| !m.value.trim().is_empty())
            .collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn contacts_as_portals_send_them() {
        let contact: Contact = serde_json::from_value(json!({
            "ID": "42", "NAME": "Ирина", "LAST_NAME": "Петрова", "COMPANY_ID": "0",
            "PHONE": [{"ID": "7", "VALUE": "+7 (495) 123-45-67", "VALUE_TYPE": "WORK", "TYPE_ID": "PHONE"}, {"VALUE": ""}],
            "EMAIL": {}, "ASSIGNED_BY_ID": 3, "UF_CRM_SOMETHING": [1, 2], "POST": null
        }))
        .unwrap();
        assert_eq!(contact.id, 42);
        assert_eq!(contact.company_id, None);
        assert_eq!(contact.phone.len(), 1);
        assert_eq!(contact.phone[0].id, Some(7));
        assert!(contact.email.is_empty());
        assert_eq!(contact.assigned_by_id, Some(3));
    }

    #[test]
    fn deals_with_string_amounts_and_yes_no() {
        let deal: Deal = serde_json::from_value(
            json!({"ID": 5, "OPPORTUNITY": "150000.00", "CLOSED": "N", "CONTACT_ID": "42"}),
        )
        .unwrap();
        assert_eq!(deal.opportunity, Some(150000.0));
        assert!(!deal.closed);
        assert_eq!(deal.contact_id, Some(42));
    }

    #[test]
    fn user_display_name_falls_back() {
        let user: User = serde_json::from_value(
            json!({"ID": "1", "NAME": "", "LAST_NAME": null, "EMAIL": "a@b.c"}),
        )
        .unwrap();
        assert_eq!(user.display_name(), "a@b.c");
    }
}
