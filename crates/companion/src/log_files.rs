//! The log file writer: a file per day (`call-companion.2026-11-26.log`), a new part when a file
//! reaches its size limit (`call-companion.2026-11-26.1.log`, …), and files older than the kept
//! days deleted. tracing-appender rotates by time only; a chatty day must not fill a disk.

use std::fs::{File, OpenOptions};
use std::io::Write;
use std::path::PathBuf;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

pub struct RotatingLog {
    dir: PathBuf,
    prefix: String,
    max_bytes: u64,
    keep_days: u32,
    current: Option<Current>,
}

struct Current {
    day: u32,
    part: u32,
    file: File,
    size: u64,
}

impl RotatingLog {
    /// Opens (or continues) today's file in `dir` and deletes files older than `keep_days`.
    pub fn new(
        dir: impl Into<PathBuf>,
        prefix: &str,
        max_bytes: u64,
        keep_days: u32,
    ) -> std::io::Result<RotatingLog> {
        let dir = dir.into();
        crate::private::create_dir(&dir)?;
        let mut log = RotatingLog {
            dir,
            prefix: prefix.to_owned(),
            max_bytes: max_bytes.max(1024),
            keep_days,
            current: None,
        };
        // A restart continues the day's last part.
        let day = today();
        let mut last = 0;
        while log.dir.join(file_name(&log.prefix, day, last + 1)).exists() {
            last += 1;
        }
        log.open(day, last)?;
        Ok(log)
    }

    /// Opens the first part of `day` with room left, starting at `part`.
    fn open(&mut self, day: u32, mut part: u32) -> std::io::Result<()> {
        loop {
            let path = self.dir.join(file_name(&self.prefix, day, part));
            let size = std::fs::metadata(&path).map(|m| m.len()).unwrap_or(0);
            if size < self.max_bytes {
                let file = OpenOptions::new().create(true).append(true).open(&path)?;
                self.current = Some(Current {
                    day,
                    part,
                    file,
                    size,
                });
                self.prune(day);
                return Ok(());
            }
            part += 1;
        }
    }

    fn prune(&self, today: u32) {
        let Ok(entries) = std::fs::read_dir(&self.dir) else {
            return;
        };
        let names = entries
            .flatten()
            .filter_map(|e| e.file_name().into_string().ok());
        for name in expired(names, &self.prefix, today, self.keep_days) {
            let _ = std::fs::remove_file(self.dir.join(name));
        }
    }
}

impl Write for RotatingLog {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let day = today();
        let (same_day, full, part) = match &self.current {
            Some(c) => (
                c.day == day,
                c.size > 0 && c.size + buf.len() as u64 > self.max_bytes,
                c.part,
            ),
            None => (false, false, 0),
        };
        if !same_day {
            self.open(day, 0)?;
        } else if full {
            self.open(day, part + 1)?;
        }
        let current = self.current.as_mut().expect("opened above");
        current.file.write_all(buf)?;
        current.size += buf.len() as u64;
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        match &mut self.current {
            Some(c) => c.file.flush(),
            None => Ok(()),
        }
    }
}

/// `prefix.YYYY-MM-DD.log` for the first part, `prefix.YYYY-MM-DD.N.log` after it.
pub fn file_name(prefix: &str, day: u32, part: u32) -> String {
    let (y, m, d) = civil(day);
    match part {
        0 => format!("{prefix}.{y:04}-{m:02}-{d:02}.log"),
        n => format!("{prefix}.{y:04}-{m:02}-{d:02}.{n}.log"),
    }
}

/// Log files among `names` older than `keep_days` before `today` (days since 1970-01-01).
pub fn expired<'a>(
    names: impl IntoIterator<Item = String> + 'a,
    prefix: &'a str,
    today: u32,
    keep_days: u32,
) -> Vec<String> {
    names
        .into_iter()
        .filter(|name| {
            let Some(rest) = name.strip_prefix(prefix).and_then(|r| r.strip_prefix('.')) else {
                return false;
            };
            let date = rest.get(..10).unwrap_or_default();
            match day_of(date) {
                Some(day) => rest.ends_with(".log") && day + keep_days <= today,
                None => false,
            }
        })
        .collect()
}

/// Days since 1970-01-01, in UTC (the file names use UTC dates, as before).
fn today() -> u32 {
    let since = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or(Duration::ZERO);
    (since.as_secs() / 86_400) as u32
}

/// Days since 1970-01-01 → (year, month, day). Howard Hinnant's civil-from-days.
fn civil(days: u32) -> (i64, u32, u32) {
    let z = days as i64 + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let y = yoe + era * 400 + i64::from(m <= 2);
    (y, m, d)
}

/// `YYYY-MM-DD` → days since 1970-01-01.
fn day_of(date: &str) -> Option<u32> {
    let mut parts = date.split('-');
    let y: i64 = parts.next()?.parse().ok()?;
    let m: i64 = parts.next()?.parse().ok()?;
    let d: i64 = parts.next()?.parse().ok()?;
    if !(1..=12).contains(&m) || !(1..=31).contains(&d) {
        return None;
    }
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = if m > 2 { m - 3 } else { m + 9 };
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let day = u32::try_from(era * 146_097 + doe - 719_468).ok()?;
    // 2026-02-30 is no date: not a name this writer made.
    (civil(day) == (if m <= 2 { y + 1 } else { y }, m as u32, d as u32)).then_some(day)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_round_trip_and_name_the_files() {
        for day in [0, 59, 60, 365, 10_956, 20_783, 20_784, 40_000] {
            let (y, m, d) = civil(day);
            assert_eq!(day_of(&format!("{y:04}-{m:02}-{d:02}")), Some(day));
        }
        assert_eq!(civil(20_783), (2026, 11, 26));
        assert_eq!(
            file_name("call-companion", 20_783, 0),
            "call-companion.2026-11-26.log"
        );
        assert_eq!(
            file_name("call-companion", 20_783, 2),
            "call-companion.2026-11-26.2.log"
        );
    }

    #[test]
    fn files_past_the_kept_days_expire_and_nothing_else_does() {
        let names = [
            "call-companion.2026-11-26.log",
            "call-companion.2026-11-13.log",
            "call-companion.2026-11-12.log",
            "call-companion.2026-11-12.3.log",
            "call-companion.2026-02-30.log",
            "other.2020-01-01.log",
            "call-companion.notes.txt",
        ]
        .map(String::from);
        let mut gone = expired(names, "call-companion", 20_783, 14);
        gone.sort();
        assert_eq!(
            gone,
            [
                "call-companion.2026-11-12.3.log",
                "call-companion.2026-11-12.log"
            ]
        );
    }

    #[test]
    fn a_full_file_continues_in_the_next_part() {
        let dir = tempfile::tempdir().unwrap();
        let old = dir.path().join("call-companion.2001-01-01.log");
        std::fs::write(&old, "old").unwrap();
        let mut log = RotatingLog::new(dir.path(), "call-companion", 1024, 14).unwrap();
        assert!(!old.exists(), "a file older than the kept days is deleted");
        let line = [b'x'; 100];
        for _ in 0..25 {
            log.write_all(&line).unwrap();
        }
        log.flush().unwrap();
        let mut sizes: Vec<(String, u64)> = std::fs::read_dir(dir.path())
            .unwrap()
            .flatten()
            .map(|e| {
                (
                    e.file_name().into_string().unwrap(),
                    e.metadata().unwrap().len(),
                )
            })
            .collect();
        sizes.sort();
        assert_eq!(sizes.len(), 3, "{sizes:?}");
        assert!(sizes.iter().all(|(_, size)| *size <= 1024), "{sizes:?}");
        assert_eq!(sizes.iter().map(|(_, s)| s).sum::<u64>(), 2500);
        // A restart continues the day's last part, so the parts stay in order.
        drop(log);
        let mut again = RotatingLog::new(dir.path(), "call-companion", 1024, 14).unwrap();
        again.write_all(b"more").unwrap();
        let last = dir.path().join(file_name("call-companion", today(), 2));
        assert_eq!(std::fs::metadata(last).unwrap().len(), 504);
    }
}
