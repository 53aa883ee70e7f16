use companion::language::{pick, Language, LanguageChoice::*};

#[test]
fn explicit_choice_wins() {
    assert_eq!(pick(Ru, Some("en"), Some("en_US.UTF-8")), Language::Ru);
    assert_eq!(pick(En, Some("ru"), Some("ru_RU.UTF-8")), Language::En);
}

#[test]
fn portal_lang_then_os_locale_then_english() {
    let cases: &[(Option<&str>, Option<&str>, Language)] = &[
        (Some("ru"), Some("en_US.UTF-8"), Language::Ru),
        (Some("en"), Some("ru_RU.UTF-8"), Language::En),
        (Some("de"), Some("ru_RU.UTF-8"), Language::En),
        (Some("kz"), None, Language::Ru),
        (Some(""), Some("ru_RU.UTF-8"), Language::Ru),
        (None, Some("ru-RU"), Language::Ru),
        (None, Some("be_BY"), Language::Ru),
        (None, Some("C"), Language::En),
        (None, Some("POSIX"), Language::En),
        (None, Some("en-GB"), Language::En),
        (None, None, Language::En),
    ];
    for (portal, os, expected) in cases {
        assert_eq!(
            pick(Auto, *portal, *os),
            *expected,
            "portal {portal:?}, os {os:?}"
        );
    }
}
