//! Any text as a `callcompanion://` link, as the desktop hands it over: no panic, and a refusal
//! always says why.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    // Both the link as typed and with the scheme the desktop always puts first.
    for link in [text.to_string(), format!("callcompanion://call-card?{text}")] {
        if let Err(error) = callcard::parse_deep_link(&link) {
            assert!(!error.code().is_empty());
            assert!(!error.to_string().is_empty());
        }
    }
});
