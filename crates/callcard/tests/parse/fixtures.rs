//! Data-driven: every file in `tests/fixtures/call-card/` is parsed, and the result (context or
//! error) must equal the JSON in `<file>.expected`. `UPDATE_EXPECT=1` rewrites the expectations;
//! review the diff before committing.

use std::path::{Path, PathBuf};

use serde_json::{json, Value};

/// Token values that appear in the fixtures (the docs' examples); no output may contain them.
const TOKENS: &[&str] = &[
    "4172bb6600705a0700005a4b00000001f0f107c42ca5bd5f61030c5d9c3e4d60d11b5a",
    "31f1e26600705a0700005a4b00000001f0f107b1918506d8a2ed9ecf76e8fdac962471",
    "5b2f8c1d7e3a9046b8c5d2f1a7e3b904",
];

fn fixtures_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/fixtures/call-card")
}

fn outcome(input: &[u8]) -> Value {
    match callcard::parse(input) {
        Ok(context) => json!({ "ok": context }),
        Err(e) => json!({ "error": { "code": e.code(), "message": e.to_string() } }),
    }
}

#[test]
fn every_fixture_parses_to_its_expectation() {
    let update = std::env::var_os("UPDATE_EXPECT").is_some();
    let mut inputs: Vec<PathBuf> = std::fs::read_dir(fixtures_dir())
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| {
            let name = p.file_name().unwrap().to_string_lossy();
            !name.ends_with(".expected") && name != "README.md"
        })
        .collect();
    inputs.sort();
    assert!(inputs.len() >= 20, "fixtures found: {inputs:?}");

    let mut failures = Vec::new();
    for input in &inputs {
        let name = input.file_name().unwrap().to_string_lossy().into_owned();
        let bytes = std::fs::read(input).unwrap();
        let actual = serde_json::to_string_pretty(&outcome(&bytes)).unwrap() + "\n";
        for token in TOKENS {
            assert!(
                !actual.contains(token),
                "{name}: a token leaked into the parse result"
            );
        }
        if name.starts_with("bad-") != actual.contains("\"error\"") {
            failures.push(format!(
                "{name}: files named bad-* must fail and only they\n{actual}"
            ));
        }
        let expected_path = input.with_file_name(format!("{name}.expected"));
        if update {
            std::fs::write(&expected_path, &actual).unwrap();
            continue;
        }
        let expected = std::fs::read_to_string(&expected_path).unwrap_or_default();
        if expected != actual {
            failures.push(format!("{name}:\n{}", line_diff(&expected, &actual)));
        }
    }
    assert!(
        failures.is_empty(),
        "{} fixture(s) differ (UPDATE_EXPECT=1 rewrites):\n\n{}",
        failures.len(),
        failures.join("\n\n")
    );
}

/// `-` lines expected, `+` lines actual; equal lines omitted.
fn line_diff(expected: &str, actual: &str) -> String {
    let e: Vec<&str> = expected.lines().collect();
    let a: Vec<&str> = actual.lines().collect();
    let mut out = String::new();
    for i in 0..e.len().max(a.len()) {
        match (e.get(i), a.get(i)) {
            (Some(x), Some(y)) if x == y => {}
            (x, y) => {
                if let Some(x) = x {
                    out.push_str(&format!("  -{x}\n"));
                }
                if let Some(y) = y {
                    out.push_str(&format!("  +{y}\n"));
                }
            }
        }
    }
    out
}
