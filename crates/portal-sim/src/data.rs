//! Seeded, deterministic demo data: users, companies, contacts, leads, deals, activities and
//! timeline comments, stored the way the portal answers them (upper-case fields, ids and
//! amounts as strings, `Y`/`N`). Phones are stored in the mixed formats real portals hold.
//!
//! A few records are pinned so the call-card fixtures and scenarios meet known data: contact 42
//! (+7 900 123-45-67) works at company 17 (switchboard +7 495 123-45-67, shared by several
//! contacts) and has the open deal 25; +7 999 999-66-66 is nobody's number.

use std::collections::BTreeMap;

use serde_json::{json, Map, Value};

pub type Record = Map<String, Value>;

/// SplitMix64: small, fast, and the same sequence on every machine for a seed.
#[derive(Debug, Clone)]
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Rng {
        Rng(seed ^ 0x9E37_79B9_7F4A_7C15)
    }

    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    pub fn below(&mut self, n: u64) -> u64 {
        if n == 0 {
            0
        } else {
            self.next_u64() % n
        }
    }

    pub fn chance(&mut self, p: f64) -> bool {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64 * 1.0 < p
    }

    pub fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len() as u64) as usize]
    }
}

/// Sizes of the generated portal.
#[derive(Debug, Clone, Copy)]
pub struct Sizes {
    pub users: u64,
    pub companies: u64,
    pub contacts: u64,
    pub leads: u64,
    pub deals: u64,
    pub activities: u64,
    pub comments: u64,
}

impl Default for Sizes {
    fn default() -> Sizes {
        Sizes {
            users: 6,
            companies: 60,
            contacts: 300,
            leads: 100,
            deals: 200,
            activities: 700,
            comments: 150,
        }
    }
}

/// Every record of the portal, by kind and id.
#[derive(Debug, Clone, Default)]
pub struct Data {
    pub users: BTreeMap<u64, Record>,
    pub companies: BTreeMap<u64, Record>,
    pub contacts: BTreeMap<u64, Record>,
    pub leads: BTreeMap<u64, Record>,
    pub deals: BTreeMap<u64, Record>,
    pub activities: BTreeMap<u64, Record>,
    pub comments: BTreeMap<u64, Record>,
    /// A contact's companies when it has more than its `COMPANY_ID` (the primary one comes
    /// first): `crm.contact.company.items.get`, `crm.item` `companyIds`.
    pub contact_companies: BTreeMap<u64, Vec<u64>>,
    /// A deal's contacts when it has more than its `CONTACT_ID` (the primary one first):
    /// `crm.deal.contact.items.get`, `crm.item` `contactIds`.
    pub deal_contacts: BTreeMap<u64, Vec<u64>>,
    /// Notes pinned to timeline items (`crm.timeline.note.*`), by `(itemType, itemId)`.
    pub timeline_notes: crate::timeline_note::TimelineNotes,
}

impl Data {
    /// Every company `contact` is linked to, the primary one first.
    pub fn companies_of(&self, contact: u64) -> Vec<u64> {
        self.contact_companies
            .get(&contact)
            .cloned()
            .unwrap_or_else(|| primary(self.contacts.get(&contact), "COMPANY_ID"))
    }

    /// Every contact linked to `deal`, the primary one first.
    pub fn contacts_of(&self, deal: u64) -> Vec<u64> {
        self.deal_contacts
            .get(&deal)
            .cloned()
            .unwrap_or_else(|| primary(self.deals.get(&deal), "CONTACT_ID"))
    }

    /// Every contact linked to `company` through any binding.
    pub fn contacts_of_company(&self, company: u64) -> Vec<u64> {
        self.contacts
            .keys()
            .copied()
            .filter(|c| self.companies_of(*c).contains(&company))
            .collect()
    }
}

fn primary(record: Option<&Record>, field: &str) -> Vec<u64> {
    record
        .and_then(|r| r.get(field))
        .map(crate::records::intval)
        .filter(|id| *id > 0)
        .map(|id| vec![id as u64])
        .unwrap_or_default()
}

pub const PINNED_CONTACT: u64 = 42;
pub const PINNED_COMPANY: u64 = 17;
pub const PINNED_DEAL: u64 = 25;
pub const PINNED_CONTACT_PHONE: &str = "+7 (900) 123-45-67";
pub const PINNED_COMPANY_PHONE: &str = "+7 (495) 123-45-67";
pub const UNKNOWN_PHONE: &str = "+79999996666";
/// Company 18's number, which no contact shares: a lookup finds only the company.
pub const PINNED_LONE_COMPANY: u64 = 18;
pub const PINNED_LONE_COMPANY_PHONE: &str = "8 (812) 555-01-18";
/// A contact without a company (`COMPANY_ID` is `null`, as a real portal answers).
pub const PINNED_NO_COMPANY_CONTACT: u64 = 50;
/// A contact with a company and no deals.
pub const PINNED_NO_DEALS_CONTACT: u64 = 51;
/// The colleague of contact 42 who is a second contact on deal 25.
pub const PINNED_SECOND_CONTACT: u64 = 43;
/// A switchboard stored on 21 leads (60–80) and on company 19, written with the long-distance 8:
/// `crm.duplicate.findbycomm` returns 20 leads and no company for it.
pub const PINNED_BUSY_PHONE: &str = "8 (495) 777-00-00";
pub const PINNED_BUSY_COMPANY: u64 = 19;
pub const PINNED_BUSY_LEADS: std::ops::RangeInclusive<u64> = 60..=80;

const FIRST_RU_M: &[&str] = &[
    "Алексей",
    "Дмитрий",
    "Сергей",
    "Андрей",
    "Иван",
    "Михаил",
    "Николай",
    "Павел",
    "Олег",
    "Виктор",
];
const FIRST_RU_F: &[&str] = &[
    "Анна",
    "Ирина",
    "Екатерина",
    "Ольга",
    "Мария",
    "Наталья",
    "Татьяна",
    "Елена",
    "Светлана",
    "Юлия",
];
const LAST_RU: &[&str] = &[
    "Иванов",
    "Петров",
    "Смирнов",
    "Кузнецов",
    "Попов",
    "Соколов",
    "Лебедев",
    "Козлов",
    "Новиков",
    "Морозов",
    "Волков",
    "Фёдоров",
];
const PATRONYMIC_M: &[&str] = &[
    "Андреевич",
    "Сергеевич",
    "Игоревич",
    "Петрович",
    "Викторович",
];
const PATRONYMIC_F: &[&str] = &[
    "Андреевна",
    "Сергеевна",
    "Игоревна",
    "Петровна",
    "Викторовна",
];
const FIRST_EN: &[&str] = &[
    "James", "Emma", "Oliver", "Sophia", "William", "Mia", "Henry", "Amelia", "Lucas", "Grace",
];
const LAST_EN: &[&str] = &[
    "Smith", "Johnson", "Brown", "Taylor", "Walker", "Clarke", "Harris", "Evans", "Turner",
    "Wright",
];
const COMPANY_RU: &[&str] = &[
    "Ромашка",
    "Вектор",
    "СтройМонтаж",
    "ТехноПарк",
    "Северный Ветер",
    "Альфа-Логистик",
    "Медиагруп",
    "Гранит",
    "Полимер",
    "Светоч",
];
const COMPANY_EN: &[&str] = &[
    "Northwind",
    "Blue Harbor",
    "Acme Tools",
    "Brightline",
    "Silverleaf",
    "Oakridge",
    "Redstone",
    "Greenfield",
];
const FORMS_RU: &[&str] = &["ООО", "АО", "ИП", "ПАО"];
const FORMS_EN: &[&str] = &["Ltd", "LLC", "Inc.", "GmbH"];
const POSTS: &[&str] = &[
    "Директор",
    "Менеджер по закупкам",
    "Главный бухгалтер",
    "Head of Procurement",
    "Office Manager",
    "CTO",
    "Инженер",
];
const INDUSTRIES: &[&str] = &[
    "IT",
    "MANUFACTURING",
    "DELIVERY",
    "ENTERTAINMENT",
    "TELECOM",
    "CONSULTING",
    "FINANCE",
];
const COMPANY_TYPES: &[&str] = &["CUSTOMER", "PARTNER", "SUPPLIER", "COMPETITOR", "OTHER"];
const DEAL_STAGES: &[&str] = &[
    "NEW",
    "PREPARATION",
    "PREPAYMENT_INVOICE",
    "EXECUTING",
    "FINAL_INVOICE",
    "WON",
    "LOSE",
];
const DEAL_SUBJECTS: &[&str] = &[
    "Поставка оборудования",
    "Годовой контракт",
    "Внедрение CRM",
    "Server maintenance",
    "Office furniture",
    "Лицензии на ПО",
    "Консалтинг",
    "Fleet leasing",
];
const LEAD_STATUSES: &[&str] = &["NEW", "IN_PROCESS", "PROCESSED", "JUNK", "CONVERTED"];
const SOURCES: &[&str] = &[
    "CALL",
    "WEB",
    "EMAIL",
    "ADVERTISING",
    "PARTNER",
    "RECOMMENDATION",
];
const CALL_SUBJECTS: &[&str] = &[
    "Входящий звонок",
    "Исходящий звонок",
    "Incoming call",
    "Outgoing call",
    "Перезвонить по счёту",
];
const COMMENTS: &[&str] = &[
    "Клиент просил перезвонить после обеда.",
    "Отправили коммерческое предложение, ждём ответа.",
    "Interested in the annual plan; send the price list.",
    "Уточнить реквизиты для счёта.",
    "Prefers e-mail over calls.",
    "Договорились о встрече в офисе в четверг.",
];
const USERS: &[(&str, &str, &str)] = &[
    ("Анна", "Смирнова", "Руководитель отдела продаж"),
    ("Дмитрий", "Орлов", "Оператор колл-центра"),
    ("Emily", "Carter", "Call centre agent"),
    ("Ольга", "Белова", "Оператор колл-центра"),
    ("Максим", "Зайцев", "Менеджер по работе с клиентами"),
    ("Thomas", "Reed", "Account manager"),
];

/// 2026-01-05 09:00 Moscow time: generated dates are offsets from here.
const BASE_UNIX: i64 = 1_767_592_800;

pub fn date(unix: i64) -> String {
    // Civil date from days since the epoch (Howard Hinnant's algorithm), in UTC+3.
    let local = unix + 3 * 3600;
    let days = local.div_euclid(86_400);
    let secs = local.rem_euclid(86_400);
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}+03:00",
        secs / 3600,
        secs % 3600 / 60,
        secs % 60
    )
}

/// A Russian number written one of the ways portals store them.
fn phone_in_format(digits10: &str, format: u64) -> String {
    let (a, b, c, d) = (
        &digits10[0..3],
        &digits10[3..6],
        &digits10[6..8],
        &digits10[8..10],
    );
    match format % 4 {
        0 => format!("+7 ({a}) {b}-{c}-{d}"),
        1 => format!("8{digits10}"),
        2 => format!("+7{digits10}"),
        _ => format!("7{a}{b}{c}{d}"),
    }
}

fn phone(rng: &mut Rng, mobile: bool) -> String {
    let code = if mobile {
        *rng.pick(&["900", "903", "915", "916", "925", "926", "985"])
    } else {
        *rng.pick(&["495", "499", "812", "343"])
    };
    let mut digits = format!("{code}{:07}", rng.below(10_000_000));
    if digits == "9999996666" {
        digits = "9999996667".into();
    }
    phone_in_format(&digits, rng.below(4))
}

fn multifield(id: &mut u64, value: &str, value_type: &str, type_id: &str) -> Value {
    *id += 1;
    json!({"ID": id.to_string(), "VALUE": value, "VALUE_TYPE": value_type, "TYPE_ID": type_id})
}

fn transliterate(text: &str) -> String {
    const MAP: &[(char, &str)] = &[
        ('а', "a"),
        ('б', "b"),
        ('в', "v"),
        ('г', "g"),
        ('д', "d"),
        ('е', "e"),
        ('ё', "e"),
        ('ж', "zh"),
        ('з', "z"),
        ('и', "i"),
        ('й', "y"),
        ('к', "k"),
        ('л', "l"),
        ('м', "m"),
        ('н', "n"),
        ('о', "o"),
        ('п', "p"),
        ('р', "r"),
        ('с', "s"),
        ('т', "t"),
        ('у', "u"),
        ('ф', "f"),
        ('х', "kh"),
        ('ц', "ts"),
        ('ч', "ch"),
        ('ш', "sh"),
        ('щ', "sch"),
        ('ъ', ""),
        ('ы', "y"),
        ('ь', ""),
        ('э', "e"),
        ('ю', "yu"),
        ('я', "ya"),
    ];
    text.to_lowercase()
        .chars()
        .map(|c| {
            MAP.iter()
                .find(|(k, _)| *k == c)
                .map(|(_, v)| v.to_string())
                .unwrap_or_else(|| {
                    if c.is_ascii_alphanumeric() {
                        c.to_string()
                    } else {
                        String::new()
                    }
                })
        })
        .collect()
}

pub fn generate(seed: u64, sizes: Sizes) -> Data {
    let mut rng = Rng::new(seed);
    let mut data = Data::default();
    let mut field_id = 0u64;
    let when = |rng: &mut Rng| BASE_UNIX - rng.below(300 * 86_400) as i64;

    for id in 1..=sizes.users {
        let (name, last, position) = USERS[(id as usize - 1) % USERS.len()];
        let email = format!(
            "{}.{}@acme.example",
            transliterate(name),
            transliterate(last)
        );
        let record = json!({
            "ID": id.to_string(), "ACTIVE": true, "NAME": name, "LAST_NAME": last, "SECOND_NAME": "",
            "EMAIL": email, "WORK_POSITION": position, "PERSONAL_PHOTO": "", "TIME_ZONE": "Europe/Moscow",
            "UF_DEPARTMENT": [1], "IS_ONLINE": if id <= 3 { "Y" } else { "N" }, "USER_TYPE": "employee",
        });
        data.users
            .insert(id, record.as_object().cloned().unwrap_or_default());
    }
    let user = |rng: &mut Rng| (1 + rng.below(sizes.users)).to_string();

    for id in 1..=sizes.companies {
        let russian = rng.chance(0.7);
        let title = if russian {
            format!("{} «{}»", rng.pick(FORMS_RU), rng.pick(COMPANY_RU))
        } else {
            format!("{} {}", rng.pick(COMPANY_EN), rng.pick(FORMS_EN))
        };
        let created = when(&mut rng);
        let mut phones = vec![multifield(
            &mut field_id,
            &phone(&mut rng, false),
            "WORK",
            "PHONE",
        )];
        if rng.chance(0.3) {
            phones.push(multifield(
                &mut field_id,
                &phone(&mut rng, true),
                "MOBILE",
                "PHONE",
            ));
        }
        let domain = format!(
            "{}{}.example",
            transliterate(&title.replace(['«', '»'], ""))
                .chars()
                .take(12)
                .collect::<String>(),
            id
        );
        let record = json!({
            "ID": id.to_string(), "TITLE": title, "COMPANY_TYPE": rng.pick(COMPANY_TYPES), "INDUSTRY": rng.pick(INDUSTRIES),
            "PHONE": phones, "EMAIL": [multifield(&mut field_id, &format!("info@{domain}"), "WORK", "EMAIL")],
            "WEB": [multifield(&mut field_id, &format!("https://{domain}"), "WORK", "WEB")],
            "ASSIGNED_BY_ID": user(&mut rng), "CREATED_BY_ID": "1", "OPENED": "Y", "HAS_PHONE": "Y", "HAS_EMAIL": "Y",
            "COMMENTS": "", "DATE_CREATE": date(created), "DATE_MODIFY": date(created + rng.below(30 * 86_400) as i64),
            "REVENUE": format!("{}.00", 1_000_000 * (1 + rng.below(500))), "CURRENCY_ID": "RUB",
        });
        data.companies
            .insert(id, record.as_object().cloned().unwrap_or_default());
    }

    pin_company(&mut data, &mut field_id);

    for id in 1..=sizes.contacts {
        let russian = rng.chance(0.75);
        let female = rng.chance(0.5);
        let (name, last, second) = if russian {
            let last = rng.pick(LAST_RU).to_string();
            if female {
                (
                    rng.pick(FIRST_RU_F).to_string(),
                    format!("{last}а"),
                    if rng.chance(0.5) {
                        rng.pick(PATRONYMIC_F).to_string()
                    } else {
                        String::new()
                    },
                )
            } else {
                (
                    rng.pick(FIRST_RU_M).to_string(),
                    last,
                    if rng.chance(0.5) {
                        rng.pick(PATRONYMIC_M).to_string()
                    } else {
                        String::new()
                    },
                )
            }
        } else {
            (
                rng.pick(FIRST_EN).to_string(),
                rng.pick(LAST_EN).to_string(),
                String::new(),
            )
        };
        let company = if rng.chance(0.7) {
            1 + rng.below(sizes.companies)
        } else {
            0
        };
        let mut phones = vec![multifield(
            &mut field_id,
            &phone(&mut rng, true),
            "MOBILE",
            "PHONE",
        )];
        // Some reach the company's switchboard: one number, several contacts.
        if company != 0 && rng.chance(0.25) {
            let switchboard = data.companies[&company]["PHONE"][0]["VALUE"]
                .as_str()
                .unwrap_or_default()
                .to_owned();
            phones.push(multifield(&mut field_id, &switchboard, "WORK", "PHONE"));
        }
        let created = when(&mut rng);
        let email = format!(
            "{}.{}{}@mail.example",
            transliterate(&name),
            transliterate(&last),
            id
        );
        let record = json!({
            "ID": id.to_string(), "HONORIFIC": "", "NAME": name, "SECOND_NAME": second, "LAST_NAME": last,
            "POST": if company != 0 { rng.pick(POSTS).to_string() } else { String::new() },
            "COMPANY_ID": if company != 0 { json!(company.to_string()) } else { Value::Null }, "PHONE": phones,
            "EMAIL": [multifield(&mut field_id, &email, "WORK", "EMAIL")],
            "ASSIGNED_BY_ID": user(&mut rng), "CREATED_BY_ID": "1", "TYPE_ID": "CLIENT", "SOURCE_ID": rng.pick(SOURCES),
            "OPENED": "Y", "HAS_PHONE": "Y", "HAS_EMAIL": "Y", "COMMENTS": "",
            "DATE_CREATE": date(created), "DATE_MODIFY": date(created + rng.below(30 * 86_400) as i64),
        });
        data.contacts
            .insert(id, record.as_object().cloned().unwrap_or_default());
    }

    for id in 1..=sizes.leads {
        let (name, last) = if rng.chance(0.7) {
            (
                rng.pick(FIRST_RU_M).to_string(),
                rng.pick(LAST_RU).to_string(),
            )
        } else {
            (
                rng.pick(FIRST_EN).to_string(),
                rng.pick(LAST_EN).to_string(),
            )
        };
        let created = when(&mut rng);
        let record = json!({
            "ID": id.to_string(), "TITLE": format!("Заявка: {}", rng.pick(DEAL_SUBJECTS)), "NAME": name, "LAST_NAME": last,
            "COMPANY_TITLE": if rng.chance(0.5) { rng.pick(COMPANY_RU).to_string() } else { String::new() },
            "STATUS_ID": rng.pick(LEAD_STATUSES), "SOURCE_ID": rng.pick(SOURCES),
            "OPPORTUNITY": format!("{}.00", 10_000 * (1 + rng.below(100))), "CURRENCY_ID": "RUB",
            "PHONE": [multifield(&mut field_id, &phone(&mut rng, true), "MOBILE", "PHONE")], "EMAIL": [],
            "ASSIGNED_BY_ID": user(&mut rng), "OPENED": "Y", "HAS_PHONE": "Y", "DATE_CREATE": date(created),
            "DATE_MODIFY": date(created + 3600),
        });
        data.leads
            .insert(id, record.as_object().cloned().unwrap_or_default());
    }

    for id in 1..=sizes.deals {
        let stage = *rng.pick(DEAL_STAGES);
        let contact = 1 + rng.below(sizes.contacts);
        let company = data.contacts[&contact]["COMPANY_ID"]
            .as_str()
            .unwrap_or("0")
            .to_owned();
        let created = when(&mut rng);
        let closed = matches!(stage, "WON" | "LOSE");
        let record = json!({
            "ID": id.to_string(), "TITLE": format!("{} #{id}", rng.pick(DEAL_SUBJECTS)), "STAGE_ID": stage, "CATEGORY_ID": "0",
            "OPPORTUNITY": format!("{}.00", 5_000 * (1 + rng.below(400))), "CURRENCY_ID": "RUB",
            "CONTACT_ID": contact.to_string(), "COMPANY_ID": company, "ASSIGNED_BY_ID": user(&mut rng),
            "CLOSED": if closed { "Y" } else { "N" }, "OPENED": "Y", "PROBABILITY": null, "SOURCE_ID": rng.pick(SOURCES),
            "BEGINDATE": date(created), "CLOSEDATE": date(created + 30 * 86_400), "DATE_CREATE": date(created), "DATE_MODIFY": date(created + 86_400),
        });
        data.deals
            .insert(id, record.as_object().cloned().unwrap_or_default());
    }

    pin_known_records(&mut data, &mut field_id);
    link_more(&mut data, seed, sizes);
    pin_links(&mut data, &mut field_id);

    for id in 1..=sizes.activities {
        let (owner_type, owner) = match rng.below(10) {
            0..=5 => (3, 1 + rng.below(sizes.contacts)),
            6..=7 => (2, 1 + rng.below(sizes.deals)),
            8 => (4, 1 + rng.below(sizes.companies)),
            _ => (1, 1 + rng.below(sizes.leads)),
        };
        // Calls dominate a call centre's history.
        let (type_id, provider, subject) = match rng.below(10) {
            0..=5 => (2, "VOXIMPLANT_CALL", rng.pick(CALL_SUBJECTS).to_string()),
            6..=7 => (4, "CRM_EMAIL", "Re: коммерческое предложение".to_string()),
            8 => (1, "CRM_MEETING", "Встреча в офисе".to_string()),
            _ => (6, "CRM_TODO", "Перезвонить клиенту".to_string()),
        };
        let start = when(&mut rng);
        let completed = rng.chance(0.8);
        let record = json!({
            "ID": id.to_string(), "OWNER_TYPE_ID": owner_type.to_string(), "OWNER_ID": owner.to_string(), "TYPE_ID": type_id.to_string(),
            "PROVIDER_ID": provider, "PROVIDER_TYPE_ID": if type_id == 2 { "CALL" } else { "" }, "SUBJECT": subject,
            "DESCRIPTION": "", "DESCRIPTION_TYPE": "1", "DIRECTION": (1 + rng.below(2)).to_string(),
            "COMPLETED": if completed { "Y" } else { "N" }, "STATUS": if completed { "2" } else { "1" }, "PRIORITY": "2",
            "RESPONSIBLE_ID": user(&mut rng), "AUTHOR_ID": "1", "CREATED": date(start), "LAST_UPDATED": date(start + 600),
            "START_TIME": date(start), "END_TIME": date(start + 300), "DEADLINE": date(start + 86_400),
        });
        data.activities
            .insert(id, record.as_object().cloned().unwrap_or_default());
    }

    for id in 1..=sizes.comments {
        let (entity_type, entity) = match rng.below(4) {
            0 | 1 => ("contact", 1 + rng.below(sizes.contacts)),
            2 => ("deal", 1 + rng.below(sizes.deals)),
            _ => ("company", 1 + rng.below(sizes.companies)),
        };
        let record = json!({
            "ID": id.to_string(), "ENTITY_ID": entity.to_string(), "ENTITY_TYPE": entity_type, "CREATED": date(when(&mut rng)),
            "COMMENT": rng.pick(COMMENTS), "AUTHOR_ID": user(&mut rng), "FILES": [],
        });
        data.comments
            .insert(id, record.as_object().cloned().unwrap_or_default());
    }
    pin_history(&mut data);
    data
}

/// A believable history for the pinned records, so their cards show what a real one would.
fn pin_history(data: &mut Data) {
    let mut activity_id = data.activities.keys().max().copied().unwrap_or(0);
    let day = 86_400;
    // (owner type, owner, type, provider, subject, direction, completed, days ago in seconds)
    type Row = (u64, u64, u64, &'static str, &'static str, u64, bool, i64);
    let history: [Row; 6] = [
        (
            3,
            PINNED_CONTACT,
            2,
            "VOXIMPLANT_CALL",
            "Входящий звонок: вопрос по счёту № 1184",
            1,
            true,
            2 * day,
        ),
        (
            3,
            PINNED_CONTACT,
            4,
            "CRM_EMAIL",
            "Акт сверки за III квартал",
            2,
            true,
            6 * day,
        ),
        (
            2,
            PINNED_DEAL,
            1,
            "CRM_MEETING",
            "Встреча: продление договора на 2026 год",
            2,
            false,
            -3 * day,
        ),
        (
            3,
            PINNED_CONTACT,
            2,
            "VOXIMPLANT_CALL",
            "Исходящий звонок: напомнить об оплате",
            2,
            true,
            12 * day,
        ),
        (
            2,
            PINNED_DEAL,
            6,
            "CRM_TODO",
            "Подготовить коммерческое предложение",
            2,
            false,
            -day,
        ),
        (
            4,
            PINNED_COMPANY,
            2,
            "VOXIMPLANT_CALL",
            "Входящий звонок в приёмную",
            1,
            true,
            20 * day,
        ),
    ];
    for (owner_type, owner, type_id, provider, subject, direction, completed, ago) in history {
        activity_id += 1;
        let at = BASE_UNIX - ago;
        let record = json!({
            "ID": activity_id.to_string(), "OWNER_TYPE_ID": owner_type.to_string(), "OWNER_ID": owner.to_string(), "TYPE_ID": type_id.to_string(),
            "PROVIDER_ID": provider, "SUBJECT": subject, "DESCRIPTION": "", "DIRECTION": direction.to_string(),
            "COMPLETED": if completed { "Y" } else { "N" }, "RESPONSIBLE_ID": "2", "AUTHOR_ID": "2",
            "CREATED": date(at), "LAST_UPDATED": date(at), "START_TIME": date(at), "END_TIME": date(at + 300), "DEADLINE": date(at + day),
        });
        data.activities
            .insert(activity_id, record.as_object().cloned().unwrap_or_default());
    }
    let mut comment_id = data.comments.keys().max().copied().unwrap_or(0);
    for (entity_type, entity, text, ago) in [
        (
            "contact",
            PINNED_CONTACT,
            "Предпочитает звонки после 14:00. Решения по оплате принимает сама.",
            3 * day,
        ),
        (
            "contact",
            PINNED_CONTACT,
            "Просила присылать счета на почту бухгалтерии, не на личную.",
            30 * day,
        ),
        (
            "deal",
            PINNED_DEAL,
            "Клиент готов продлить, если сохраним цену прошлого года.",
            4 * day,
        ),
    ] {
        comment_id += 1;
        let record = json!({
            "ID": comment_id.to_string(), "ENTITY_ID": entity.to_string(), "ENTITY_TYPE": entity_type,
            "CREATED": date(BASE_UNIX - ago), "COMMENT": text, "AUTHOR_ID": "2", "FILES": [],
        });
        data.comments
            .insert(comment_id, record.as_object().cloned().unwrap_or_default());
    }
}

/// The company the fixtures name, before contacts are generated (some reach its switchboard).
fn pin_company(data: &mut Data, field_id: &mut u64) {
    if let Some(company) = data.companies.get_mut(&PINNED_COMPANY) {
        company.insert("TITLE".into(), json!("ООО «Ромашка»"));
        company.insert(
            "EMAIL".into(),
            json!([multifield(
                field_id,
                "info@romashka.example",
                "WORK",
                "EMAIL"
            )]),
        );
        company.insert(
            "PHONE".into(),
            json!([multifield(field_id, PINNED_COMPANY_PHONE, "WORK", "PHONE")]),
        );
    }
}

/// The contact and deal the fixtures name, and two colleagues on the same switchboard (stored in
/// other spellings of the number).
fn pin_known_records(data: &mut Data, field_id: &mut u64) {
    // After the contacts: nobody shares this one's number.
    if let Some(company) = data.companies.get_mut(&PINNED_LONE_COMPANY) {
        company.insert("TITLE".into(), json!("АО «Северный Ветер»"));
        company.insert(
            "EMAIL".into(),
            json!([multifield(
                field_id,
                "office@sevveter.example",
                "WORK",
                "EMAIL"
            )]),
        );
        company.insert(
            "PHONE".into(),
            json!([multifield(
                field_id,
                PINNED_LONE_COMPANY_PHONE,
                "WORK",
                "PHONE"
            )]),
        );
    }
    for (id, spelling) in [
        (PINNED_CONTACT + 1, "+74951234567"),
        (PINNED_CONTACT + 2, "7 495 123 45 67"),
    ] {
        if let Some(colleague) = data.contacts.get_mut(&id) {
            colleague.insert("COMPANY_ID".into(), json!(PINNED_COMPANY.to_string()));
            let mut phones = colleague
                .get("PHONE")
                .and_then(Value::as_array)
                .cloned()
                .unwrap_or_default();
            phones.truncate(1);
            phones.push(multifield(field_id, spelling, "WORK", "PHONE"));
            colleague.insert("PHONE".into(), Value::Array(phones));
        }
    }
    if let Some(contact) = data.contacts.get_mut(&PINNED_CONTACT) {
        contact.insert("NAME".into(), json!("Ирина"));
        contact.insert("SECOND_NAME".into(), json!("Сергеевна"));
        contact.insert("LAST_NAME".into(), json!("Петрова"));
        contact.insert("POST".into(), json!("Главный бухгалтер"));
        contact.insert("COMPANY_ID".into(), json!(PINNED_COMPANY.to_string()));
        contact.insert(
            "EMAIL".into(),
            json!([multifield(
                field_id,
                "i.petrova@romashka.example",
                "WORK",
                "EMAIL"
            )]),
        );
        contact.insert(
            "PHONE".into(),
            json!([
                multifield(field_id, PINNED_CONTACT_PHONE, "MOBILE", "PHONE"),
                multifield(field_id, PINNED_COMPANY_PHONE, "WORK", "PHONE")
            ]),
        );
    }
    if let Some(deal) = data.deals.get_mut(&PINNED_DEAL) {
        deal.insert("TITLE".into(), json!("Годовой контракт на обслуживание"));
        deal.insert("STAGE_ID".into(), json!("EXECUTING"));
        deal.insert("CLOSED".into(), json!("N"));
        deal.insert("CONTACT_ID".into(), json!(PINNED_CONTACT.to_string()));
        deal.insert("COMPANY_ID".into(), json!(PINNED_COMPANY.to_string()));
        deal.insert("OPPORTUNITY".into(), json!("480000.00"));
    }
}

/// Second companies for some contacts and second contacts for some deals, as the CRM allows
/// (`crm.contact.company.items.get`, `crm.deal.contact.items.get`). A random stream of its own,
/// so the rest of the portal stays as it was for a seed.
fn link_more(data: &mut Data, seed: u64, sizes: Sizes) {
    let mut rng = Rng::new(seed ^ 0x6c69_6e6b);
    if sizes.companies < 2 || sizes.contacts < 2 {
        return;
    }
    let contacts: Vec<u64> = data.contacts.keys().copied().collect();
    for id in contacts {
        let mut companies = data.companies_of(id);
        if !companies.is_empty() && rng.chance(0.1) {
            let other = 1 + rng.below(sizes.companies);
            if !companies.contains(&other) {
                companies.push(other);
                data.contact_companies.insert(id, companies);
            }
        }
    }
    let deals: Vec<u64> = data.deals.keys().copied().collect();
    for id in deals {
        let mut contacts = data.contacts_of(id);
        if !contacts.is_empty() && rng.chance(0.15) {
            let other = 1 + rng.below(sizes.contacts);
            if !contacts.contains(&other) {
                contacts.push(other);
                data.deal_contacts.insert(id, contacts);
            }
        }
    }
}

/// The links and shapes the screen-pop fixtures name.
fn pin_links(data: &mut Data, field_id: &mut u64) {
    // Contact 42 also works for company 18; colleague 43 is deal 25's second contact.
    data.contact_companies
        .insert(PINNED_CONTACT, vec![PINNED_COMPANY, PINNED_LONE_COMPANY]);
    data.deal_contacts
        .insert(PINNED_DEAL, vec![PINNED_CONTACT, PINNED_SECOND_CONTACT]);
    if let Some(contact) = data.contacts.get_mut(&PINNED_NO_COMPANY_CONTACT) {
        contact.insert("COMPANY_ID".into(), Value::Null);
        contact.insert("POST".into(), json!(""));
    }
    data.contact_companies.remove(&PINNED_NO_COMPANY_CONTACT);
    // Contact 51 has a company and no deal at all, through any link.
    if let Some(contact) = data.contacts.get_mut(&PINNED_NO_DEALS_CONTACT) {
        contact.insert("COMPANY_ID".into(), json!(PINNED_BUSY_COMPANY.to_string()));
    }
    data.contact_companies.remove(&PINNED_NO_DEALS_CONTACT);
    for (id, deal) in data.deals.iter_mut() {
        if deal.get("CONTACT_ID") == Some(&json!(PINNED_NO_DEALS_CONTACT.to_string())) {
            deal.insert(
                "CONTACT_ID".into(),
                json!((PINNED_NO_DEALS_CONTACT + 1).to_string()),
            );
            if let Some(contacts) = data.deal_contacts.get_mut(id) {
                contacts[0] = PINNED_NO_DEALS_CONTACT + 1;
            }
        }
    }
    for contacts in data.deal_contacts.values_mut() {
        contacts.retain(|c| *c != PINNED_NO_DEALS_CONTACT);
    }
    // The busy switchboard.
    if let Some(company) = data.companies.get_mut(&PINNED_BUSY_COMPANY) {
        company.insert("TITLE".into(), json!("ООО «Альфа-Сервис»"));
        company.insert(
            "PHONE".into(),
            json!([multifield(field_id, PINNED_BUSY_PHONE, "WORK", "PHONE")]),
        );
    }
    for id in PINNED_BUSY_LEADS {
        if let Some(lead) = data.leads.get_mut(&id) {
            lead.insert(
                "PHONE".into(),
                json!([multifield(field_id, "+7 495 777-00-00", "WORK", "PHONE")]),
            );
        }
    }
}

/// Digits of a phone number, separators dropped.
pub fn phone_digits(phone: &str) -> String {
    phone.chars().filter(char::is_ascii_digit).collect()
}

/// A phone number as `crm.duplicate.findbycomm` compares it (server code: the `crm` module's
/// `NormalizePhone`): the extension after `;` or `#` ignored, digits only, and for ten digits or
/// more a leading `8` becomes `7` (not `80`–`82`) and a leading `011`, `00` or `0` is dropped.
/// So `8 495 …` and `+7 495 …` are one number.
pub fn normalize_phone(phone: &str) -> String {
    let number = phone.split([';', '#']).next().unwrap_or_default();
    let digits = phone_digits(number);
    if digits.len() < 10 {
        return digits;
    }
    if digits.starts_with('8') && !matches!(digits.as_bytes().get(1), Some(b'0'..=b'2')) {
        return format!("7{}", &digits[1..]);
    }
    for prefix in ["011", "00", "0"] {
        if let Some(rest) = digits.strip_prefix(prefix) {
            return rest.to_owned();
        }
    }
    digits
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn same_seed_same_portal_and_pinned_records_hold() {
        let a = generate(7, Sizes::default());
        let b = generate(7, Sizes::default());
        assert_eq!(a.contacts, b.contacts);
        assert_ne!(generate(8, Sizes::default()).contacts, a.contacts);
        assert_eq!(a.contacts[&PINNED_CONTACT]["COMPANY_ID"], "17");
        assert_eq!(a.deals[&PINNED_DEAL]["CONTACT_ID"], "42");
        let shared = a
            .contacts
            .values()
            .filter(|c| {
                c["PHONE"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .any(|p| phone_digits(p["VALUE"].as_str().unwrap()) == "74951234567")
            })
            .count();
        assert!(shared >= 1);
        let formats: std::collections::HashSet<char> = a
            .contacts
            .values()
            .map(|c| {
                c["PHONE"][0]["VALUE"]
                    .as_str()
                    .unwrap()
                    .chars()
                    .next()
                    .unwrap()
            })
            .collect();
        assert!(
            formats.contains(&'+') && formats.contains(&'8') && formats.contains(&'7'),
            "{formats:?}"
        );
    }

    #[test]
    fn phones_normalise_as_the_portal_does() {
        for (written, normal) in [
            ("8 (495) 123-45-67", "74951234567"),
            ("+7 495 123 45 67", "74951234567"),
            ("+7 495 123-45-67;105", "74951234567"),
            ("74951234567#12", "74951234567"),
            ("8 800 555 35 35", "78005553535"),
            // 80–82 stay: "8 10" is the old international prefix, not a trunk 8
            ("8 10 49 30 1234567", "81049301234567"),
            ("0049 30 1234567", "49301234567"),
            ("011 1 212 555 0100", "12125550100"),
            ("030 1234 5678", "3012345678"),
            ("105", "105"),
        ] {
            assert_eq!(normalize_phone(written), normal, "{written}");
        }
    }

    #[test]
    fn dates_are_iso_with_moscow_offset() {
        assert_eq!(date(1_767_592_800), "2026-01-05T09:00:00+03:00");
        assert_eq!(date(0), "1970-01-01T03:00:00+03:00");
    }
}
