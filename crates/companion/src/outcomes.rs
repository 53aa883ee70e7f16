//! The call's outcome, picked at wrap-up: the built-in list in the agent's language, unless IT's
//! policy names its own (`outcomes`). The label picked travels with the note (`notes::body`).

use crate::language::Language;

/// At most this many outcomes: each has a digit (Alt+1 … Alt+9).
pub const MOST: usize = 9;

pub fn built_in(language: Language) -> Vec<String> {
    let labels: [&str; 5] = match language {
        Language::Ru => [
            "Дозвонились",
            "Не ответил",
            "Перезвонить",
            "Ошибся номером",
            "Не интересно",
        ],
        Language::En => [
            "Reached",
            "No answer",
            "Call back",
            "Wrong number",
            "Not interested",
        ],
    };
    labels.map(str::to_owned).to_vec()
}

/// Why IT's list cannot be used, if it cannot.
pub fn check(list: &[String]) -> Result<(), String> {
    if list.is_empty() || list.len() > MOST {
        return Err(format!("name 1 to {MOST} outcomes, not {}", list.len()));
    }
    for (i, label) in list.iter().enumerate() {
        let trimmed = label.trim();
        if trimmed.is_empty() || trimmed.len() != label.len() || label.chars().count() > 40 {
            return Err(format!(
                "{label:?} must be 1 to 40 characters without spaces around"
            ));
        }
        if label.contains(['[', ']', '\n']) {
            return Err(format!("{label:?} may not contain [, ] or a line break"));
        }
        if list[..i].contains(label) {
            return Err(format!("{label:?} is named twice"));
        }
    }
    Ok(())
}
