//! The spellings of a caller's number a portal may have stored, for `crm.duplicate.findbycomm`
//! (which compares what it is given with what is stored). A short internal extension is searched
//! as it is: turning `105` into an international number would find a stranger.

use phonenumber::country::Id;
use phonenumber::Mode;

/// Numbers with fewer digits than this are extensions, not phone numbers.
const SHORTEST_PUBLIC_NUMBER: usize = 7;
/// `crm.duplicate.findbycomm` takes at most 20 values.
const MAX_VARIANTS: usize = 20;

/// `region` is the ISO country to read national numbers in (`RU`, `KZ`, `DE`, …).
pub fn variants(raw: &str, region: &str) -> Vec<String> {
    let digits: String = raw.chars().filter(char::is_ascii_digit).collect();
    let mut out: Vec<String> = Vec::new();
    let mut add = |v: String| {
        if !v.is_empty() && !out.contains(&v) && out.len() < MAX_VARIANTS {
            out.push(v);
        }
    };
    if digits.len() < SHORTEST_PUBLIC_NUMBER {
        add(raw.trim().to_owned());
        return out;
    }
    let region_id = region_of(region);
    match parse(raw, region_id) {
        Some(number) => {
            let e164 = number.format().mode(Mode::E164).to_string();
            let national: String = number
                .format()
                .mode(Mode::National)
                .to_string()
                .chars()
                .filter(char::is_ascii_digit)
                .collect();
            add(e164.clone());
            add(e164.trim_start_matches('+').to_owned());
            add(national);
            add(number.national().value().to_string());
            add(number.format().mode(Mode::International).to_string());
        }
        None => add(digits.clone()),
    }
    // Russia and Kazakhstan share +7, and portals keep both the 7 and the long-distance 8 forms;
    // a number in a range the metadata does not know yet still gets both.
    let seven = matches!(region_id, Some(Id::RU) | Some(Id::KZ)) || digits.starts_with('7');
    if seven && digits.len() == 11 && (digits.starts_with('7') || digits.starts_with('8')) {
        let rest = &digits[1..];
        add(format!("+7{rest}"));
        add(format!("7{rest}"));
        add(format!("8{rest}"));
        add(rest.to_owned());
    }
    add(raw.trim().to_owned());
    out
}

/// The number as people write it, in its international form (`+7 495 123-45-67`), so an agent
/// reads one spelling everywhere; an extension, or a number no metadata knows, as it came.
pub fn display(raw: &str, region: &str) -> String {
    let digits = raw.chars().filter(char::is_ascii_digit).count();
    match parse(raw, region_of(region)) {
        Some(number) if digits >= SHORTEST_PUBLIC_NUMBER => {
            number.format().mode(Mode::International).to_string()
        }
        _ => raw.trim().to_owned(),
    }
}

fn region_of(region: &str) -> Option<Id> {
    region.trim().to_ascii_uppercase().parse().ok()
}

/// Read as a national number of the region first ("8 495…" is Moscow, not Vietnam), then as
/// an international one (the portal sends PHONE_NUMBER as digits without the +); valid only.
fn parse(raw: &str, region: Option<Id>) -> Option<phonenumber::PhoneNumber> {
    let digits: String = raw.chars().filter(char::is_ascii_digit).collect();
    let international = if raw.trim_start().starts_with('+') {
        raw.trim().to_owned()
    } else {
        format!("+{digits}")
    };
    let found = [raw.trim(), international.as_str()]
        .into_iter()
        .filter_map(|c| phonenumber::parse(region, c).ok())
        .find(phonenumber::is_valid);
    found
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn russian_numbers_in_every_stored_spelling() {
        let v = variants("79001234567", "RU");
        for expected in ["+79001234567", "79001234567", "89001234567", "9001234567"] {
            assert!(v.contains(&expected.to_owned()), "{expected} in {v:?}");
        }
        assert_eq!(variants("8 (495) 123-45-67", "RU")[0], "+74951234567");
    }

    #[test]
    fn other_regions_and_international_numbers() {
        let de = variants("030 1234567", "DE");
        assert!(
            de.contains(&"+49301234567".to_owned()) && de.contains(&"0301234567".to_owned()),
            "{de:?}"
        );
        let uk = variants("+44 20 7946 0958", "RU");
        assert!(uk.contains(&"+442079460958".to_owned()), "{uk:?}");
    }

    #[test]
    fn numbers_outside_known_ranges_still_get_their_spellings() {
        let v = variants("78125550118", "RU");
        assert!(v.contains(&"88125550118".to_owned()), "{v:?}");
    }

    #[test]
    fn extensions_are_not_normalised() {
        assert_eq!(variants("105", "RU"), ["105"]);
        assert_eq!(variants("555555", "RU"), ["555555"]);
    }

    #[test]
    fn numbers_are_shown_as_people_write_them() {
        for (raw, region, shown) in [
            ("74951234567", "RU", "+7 495 123-45-67"),
            ("+79001234567", "RU", "+7 900 123-45-67"),
            ("8 (495) 123-45-67", "RU", "+7 495 123-45-67"),
            ("77012345678", "KZ", "+7 701 234 5678"),
            ("030 1234567", "DE", "+49 30 1234567"),
            ("442079460958", "RU", "+44 20 7946 0958"),
            ("105", "RU", "105"),
            (" 12345678901234 ", "RU", "12345678901234"),
        ] {
            assert_eq!(display(raw, region), shown, "{raw} in {region}");
        }
    }

    #[test]
    fn junk_is_searched_as_digits() {
        let v = variants("12345678901234", "RU");
        assert!(v.contains(&"12345678901234".to_owned()));
    }
}
