//! The relay widget's files (`relay/` at the repository root), served at `/relay/` so the widget
//! can be tried without a web host. Bitrix24 opens a widget with a POST, so POST serves the page
//! too (its body, which carries the portal's tokens, is read and dropped unlooked-at).

pub const PREFIX: &str = "/relay/";

/// A served file: its content type and bytes.
pub type Asset = (&'static str, &'static [u8]);

const FILES: &[(&str, Asset)] = &[
    (
        "",
        (
            "text/html; charset=utf-8",
            include_bytes!("../../../relay/index.html"),
        ),
    ),
    (
        "index.html",
        (
            "text/html; charset=utf-8",
            include_bytes!("../../../relay/index.html"),
        ),
    ),
    (
        "relay.js",
        (
            "text/javascript; charset=utf-8",
            include_bytes!("../../../relay/relay.js"),
        ),
    ),
    (
        "callcard.js",
        (
            "text/javascript; charset=utf-8",
            include_bytes!("../../../relay/callcard.js"),
        ),
    ),
    (
        "relay.css",
        (
            "text/css; charset=utf-8",
            include_bytes!("../../../relay/relay.css"),
        ),
    ),
];

/// The file at `path` (`/relay/`, `/relay/relay.js`, …), if it is one of the widget's.
pub fn asset(path: &str) -> Option<Asset> {
    let name = path.strip_prefix(PREFIX)?;
    FILES.iter().find(|(n, _)| *n == name).map(|(_, a)| *a)
}

#[cfg(test)]
mod tests {
    #[test]
    fn serves_the_widget_files_and_nothing_else() {
        assert!(super::asset("/relay/").unwrap().0.starts_with("text/html"));
        assert!(super::asset("/relay/relay.js")
            .unwrap()
            .0
            .starts_with("text/javascript"));
        assert!(super::asset("/relay/callcard.js")
            .unwrap()
            .0
            .starts_with("text/javascript"));
        assert!(super::asset("/relay/../Cargo.toml").is_none());
        assert!(super::asset("/relay/README.md").is_none());
        assert!(super::asset("/v1/status").is_none());
    }
}
