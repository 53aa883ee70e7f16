//! Logging with `tracing`: human-readable lines on stderr and a file per day in the log folder
//! (10 MiB parts, kept for two weeks; `log_files.rs`), both at the same level.

use std::path::Path;

use tracing_appender::non_blocking::WorkerGuard;

use crate::log_files::RotatingLog;
use tracing_subscriber::filter::{filter_fn, FilterExt as _};
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;
use tracing_subscriber::Layer as _;
use tracing_subscriber::{fmt, EnvFilter};

use crate::Error;

/// File name prefix of the log files: `call-companion.YYYY-MM-DD.log`.
pub const LOG_FILE_PREFIX: &str = "call-companion";
/// Days of logs kept, and the size at which a day's file continues in a new part.
const KEEP_LOG_DAYS: u32 = 14;
const MAX_LOG_FILE_BYTES: u64 = 10 * 1024 * 1024;

/// Target of events already printed to the user as a plain sentence on stderr: they go to the
/// log file only, so the terminal does not show them twice.
pub const REPORTED: &str = "reported";

/// Keeps the background log writer alive; drop it last so buffered lines reach the file.
pub struct LogGuard {
    _file: WorkerGuard,
}

/// Our crates: a bare level (`debug`) applies to these; everything else stays at `info`.
const OUR_CRATES: &[&str] = &[
    "call_companion",
    "call_companion_lib",
    "companion",
    "listener",
    "bitrix",
    "notes",
    "callcard",
    "portal_sim",
];

/// Libraries whose debug output carries secrets (HTTP clients print request URLs, which hold a
/// webhook's secret; hyper prints headers, which hold the pairing token): capped whatever the
/// filter says. Found by the suite's no-secret-in-logs check with the level set to `debug`.
const NEVER_BELOW_INFO: &[&str] = &[
    "reqwest",
    "hyper",
    "hyper_util",
    "h2",
    "rustls",
    "native_tls",
    // The Tauri stack: at debug it prints IPC payloads (a note's text, a webhook typed into
    // Settings) and window events.
    "tauri",
    "wry",
    "tao",
];

/// Parses a level or filter (`info`, `companion=debug,warn`). A bare `debug` or `trace` means our
/// crates at that level and every library at `info`.
pub fn parse_filter(filter: &str) -> Result<EnvFilter, Error> {
    let bad = |reason: String| Error::LogFilter {
        filter: filter.to_owned(),
        reason,
    };
    let trimmed = filter.trim();
    let mut directives = match trimmed.to_ascii_lowercase().as_str() {
        level @ ("debug" | "trace") => {
            let mut d = vec!["info".to_owned()];
            d.extend(OUR_CRATES.iter().map(|c| format!("{c}={level}")));
            d
        }
        _ => vec![trimmed.to_owned()],
    };
    directives.extend(NEVER_BELOW_INFO.iter().map(|c| format!("{c}=info")));
    // The agent's filter is checked on its own, so an error names what they typed.
    EnvFilter::builder()
        .parse(trimmed)
        .map_err(|e| bad(e.to_string()))?;
    EnvFilter::builder()
        .parse(directives.join(","))
        .map_err(|e| bad(e.to_string()))
}

/// Installs the global subscriber. Fails if the log folder cannot be written; stderr logging
/// is still worth having then, so the caller may fall back to [`init_stderr_only`].
pub fn init(log_dir: &Path, filter: &str) -> Result<LogGuard, Error> {
    let file_filter = parse_filter(filter)?;
    let stderr_filter = parse_filter(filter)?;
    let appender = RotatingLog::new(log_dir, LOG_FILE_PREFIX, MAX_LOG_FILE_BYTES, KEEP_LOG_DAYS)
        .map_err(|source| Error::Folder {
            path: log_dir.to_owned(),
            source,
        })?;
    let (writer, guard) = tracing_appender::non_blocking(appender);
    tracing_subscriber::registry()
        .with(
            fmt::layer()
                .with_writer(std::io::stderr)
                .with_filter(stderr_filter.and(not_reported())),
        )
        .with(
            fmt::layer()
                .with_ansi(false)
                .with_writer(writer)
                .with_filter(file_filter),
        )
        .try_init()
        .ok();
    Ok(LogGuard { _file: guard })
}

/// Stderr-only logging, for when the log folder is unavailable.
pub fn init_stderr_only(filter: &str) {
    let filter = parse_filter(filter).unwrap_or_else(|_| EnvFilter::new("info"));
    tracing_subscriber::registry()
        .with(
            fmt::layer()
                .with_writer(std::io::stderr)
                .with_filter(filter.and(not_reported())),
        )
        .try_init()
        .ok();
}

fn not_reported<S>() -> impl tracing_subscriber::layer::Filter<S> {
    filter_fn(|meta| meta.target() != REPORTED)
}
