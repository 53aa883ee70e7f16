//! Any bytes as a call-card body (every format the listener accepts): no panic, and a refusal
//! always says why.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Err(error) = callcard::parse(data) {
        assert!(!error.code().is_empty());
        assert!(!error.to_string().is_empty());
    }
});
