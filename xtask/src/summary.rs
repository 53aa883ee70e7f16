//! Adds up what the test runners report, for one closing line over all of them.

#[derive(Debug, Default, PartialEq, Eq)]
pub struct Totals {
    pub passed: u64,
    pub failed: u64,
    pub skipped: u64,
}

impl Totals {
    pub fn add(&mut self, other: Totals) {
        self.passed += other.passed;
        self.failed += other.failed;
        self.skipped += other.skipped;
    }

    pub fn line(&self) -> String {
        format!(
            "summary: {} passed, {} failed, {} skipped",
            self.passed, self.failed, self.skipped
        )
    }
}

/// The number just before `word` in `text` (`"3 passed"` → 3).
fn count_before(text: &str, word: &str) -> u64 {
    let tokens: Vec<&str> = text
        .split(|c: char| c.is_whitespace() || c == ';' || c == ',' || c == '|')
        .filter(|t| !t.is_empty())
        .collect();
    tokens
        .windows(2)
        .filter(|w| w[1].trim_end_matches('.') == word)
        .filter_map(|w| w[0].parse::<u64>().ok())
        .sum()
}

/// Sums `test result: ok. 3 passed; 0 failed; 1 ignored; ...` lines of `cargo test`.
pub fn parse_cargo(stdout: &str) -> Totals {
    let mut totals = Totals::default();
    for line in stdout.lines().filter(|l| l.starts_with("test result:")) {
        totals.add(Totals {
            passed: count_before(line, "passed"),
            failed: count_before(line, "failed"),
            skipped: count_before(line, "ignored"),
        });
    }
    totals
}

/// Reads Vitest's `Tests  1 failed | 5 passed | 2 skipped (8)` line.
pub fn parse_vitest(stdout: &str) -> Totals {
    let Some(line) = stdout
        .lines()
        .map(str::trim)
        .find(|l| l.starts_with("Tests "))
    else {
        return Totals::default();
    };
    Totals {
        passed: count_before(line, "passed"),
        failed: count_before(line, "failed"),
        skipped: count_before(line, "skipped") + count_before(line, "todo"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cargo_lines_add_up() {
        let out = "running 2 tests\ntest a ... ok\n\
                   test result: ok. 13 passed; 0 failed; 1 ignored; 0 measured; 0 filtered out; finished in 0.01s\n\
                   test result: FAILED. 2 passed; 3 failed; 0 ignored; 0 measured; 0 filtered out\n";
        assert_eq!(
            parse_cargo(out),
            Totals {
                passed: 15,
                failed: 3,
                skipped: 1
            }
        );
    }

    #[test]
    fn vitest_line() {
        let out = " Test Files  2 passed (2)\n      Tests  1 failed | 5 passed | 2 skipped (8)\n";
        assert_eq!(
            parse_vitest(out),
            Totals {
                passed: 5,
                failed: 1,
                skipped: 2
            }
        );
        assert_eq!(parse_vitest("nothing"), Totals::default());
    }
}
