//! Which language the window speaks. Bitrix24's users are largely Russian-speaking: the
//! portal's `LANG` (from the call payload) wins, then the OS locale, then English.

use serde::{Deserialize, Serialize};
use ts_rs::TS;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(rename_all = "lowercase")]
pub enum Language {
    En,
    Ru,
}

/// What the agent or IT asked for; `Auto` defers to [`pick`].
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    Default,
    clap::ValueEnum,
    serde::Serialize,
    serde::Deserialize,
    ts_rs::TS,
)]
#[serde(rename_all = "lowercase")]
pub enum LanguageChoice {
    #[default]
    Auto,
    En,
    Ru,
}

impl LanguageChoice {
    /// `auto`, `en` or `ru` (a policy file's spelling).
    pub fn from_name(name: &str) -> Option<LanguageChoice> {
        match name {
            "auto" => Some(LanguageChoice::Auto),
            "en" => Some(LanguageChoice::En),
            "ru" => Some(LanguageChoice::Ru),
            _ => None,
        }
    }
}

/// Languages whose speakers are commonly served by Russian-language Bitrix24 portals.
const RUSSIAN_FIRST: &[&str] = &["ru", "by", "be", "kz", "kk"];

impl Language {
    /// Reads a portal `LANG` (`ru`, `en`, `ua`, `de`, …) or a locale (`ru_RU.UTF-8`, `en-US`).
    /// Only the primary subtag counts. `None` for anything we cannot map.
    pub fn from_tag(tag: &str) -> Option<Language> {
        let primary = tag
            .split(['-', '_', '.', '@'])
            .next()
            .unwrap_or_default()
            .trim()
            .to_ascii_lowercase();
        if primary.is_empty() || primary == "c" || primary == "posix" {
            return None;
        }
        if RUSSIAN_FIRST.contains(&primary.as_str()) {
            Some(Language::Ru)
        } else {
            Some(Language::En)
        }
    }
}

/// Picks the window's language: an explicit choice, else the portal's `LANG`, else the OS
/// locale, else English.
pub fn pick(
    choice: LanguageChoice,
    portal_lang: Option<&str>,
    os_locale: Option<&str>,
) -> Language {
    match choice {
        LanguageChoice::En => Language::En,
        LanguageChoice::Ru => Language::Ru,
        LanguageChoice::Auto => portal_lang
            .and_then(Language::from_tag)
            .or_else(|| os_locale.and_then(Language::from_tag))
            .unwrap_or(Language::En),
    }
}

/// The OS locale as the platform reports it (`LANG`/`LC_*` on Linux).
pub fn os_locale() -> Option<String> {
    sys_locale::get_locale()
}
