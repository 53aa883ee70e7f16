use companion::display::{check, DisplayError};

fn env(pairs: &'static [(&'static str, &'static str)]) -> impl Fn(&str) -> Option<String> {
    move |name| {
        pairs
            .iter()
            .find(|(k, _)| *k == name)
            .map(|(_, v)| v.to_string())
    }
}

#[test]
fn x11_or_wayland_is_enough() {
    assert_eq!(check(env(&[("DISPLAY", ":99")])), Ok(()));
    assert_eq!(check(env(&[("WAYLAND_DISPLAY", "wayland-0")])), Ok(()));
}

#[test]
fn no_display_is_an_explained_error() {
    let err = check(env(&[("DISPLAY", "  ")])).unwrap_err();
    assert_eq!(err, DisplayError::NoDisplay);
    let text = err.to_string();
    assert!(
        text.contains("DISPLAY") && text.contains("xvfb-run"),
        "{text}"
    );
}
