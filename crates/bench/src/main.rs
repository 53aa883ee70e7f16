//! `cargo xtask bench`: measures, in one run, the screen pop (listener to ready CRM card, against
//! the portal simulator at several round-trip times, next to a one-request-per-method baseline),
//! the listener (latency, throughput, a flood of bad requests), the whole app under Xvfb (cold
//! start, memory of its process tree) and the sizes of what IT installs. Writes
//! `docs/benchmarks.md` and `docs/benchmarks.json`. Numbers, not assertions: the targets are
//! written beside them.
//!
//! usage: bench OUT_DIR [--app RELEASE_BINARY] [--bundles BUNDLE_DIR] [--only pop,listener,app,commands,sizes]

mod app_bench;
mod commands_bench;
mod listener_bench;
mod pop;
mod push_pop;
mod report;
mod sizes;
mod stats;
mod tree;

use std::path::PathBuf;

fn main() {
    let mut args = std::env::args().skip(1);
    let mut out = PathBuf::from("docs");
    let (mut app, mut bundles, mut only) = (None, None, None::<String>);
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--app" => app = args.next().map(PathBuf::from),
            "--bundles" => bundles = args.next().map(PathBuf::from),
            "--only" => only = args.next(),
            _ => out = PathBuf::from(arg),
        }
    }
    let wanted = |part: &str| {
        only.as_deref()
            .is_none_or(|o| o.split(',').any(|p| p == part))
    };
    let pops: usize = env_number("BENCH_POPS", 140);
    let mut results = report::Results::default();
    if wanted("pop") {
        for rtt in [0u64, 50, 150] {
            eprintln!(
                "bench: screen pop at {rtt} ms round trip ({pops} pops, baseline on {})",
                pops / 4
            );
            results.pops.push(pop::run(rtt, pops, pops / 4));
        }
    }
    if wanted("listener") {
        eprintln!("bench: listener");
        results.listener = Some(listener_bench::run());
    }
    if let (true, Some(binary)) = (wanted("app"), &app) {
        results.app = Some(run_app(binary, env_number("BENCH_APP_RUNS", 5), &[]));
        // What IT could save by switching WebKit's compositing off (not the default; see
        // ARCHITECTURE.md for why).
        results.app_without_compositing = Some(run_app(
            binary,
            env_number("BENCH_APP_RUNS", 5).min(3),
            &[(WITHOUT_COMPOSITING, "1")],
        ));
    }
    if let (true, Some(binary)) = (wanted("commands"), &app) {
        results.commands = Some(run_commands(binary));
    }
    if let (true, Some(binary)) = (wanted("sizes"), &app) {
        results.sizes = Some(sizes::measure(binary, bundles.as_deref()));
    }
    report::write(&out, &results).expect("the results are written");
    eprintln!(
        "bench: results in {}/benchmarks.md and benchmarks.json",
        out.display()
    );
}

fn env_number(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

pub const WITHOUT_COMPOSITING: &str = "WEBKIT_DISABLE_COMPOSITING_MODE";

fn run_app(
    binary: &std::path::Path,
    runs: usize,
    env: &[(&str, &str)],
) -> Result<Vec<app_bench::AppRun>, String> {
    let xvfb = app_bench::Xvfb::start()?;
    let mut done = Vec::new();
    for index in 0..runs {
        eprintln!(
            "bench: the app under Xvfb, run {} of {runs} (cold start, memory idle and after {} calls)",
            index + 1,
            app_bench::CALLS
        );
        done.push(app_bench::run(binary, &xvfb.display, index, env)?);
    }
    Ok(done)
}

/// Slow `fsync` for the commands' round trips: none, and a disk that takes 100 ms to make a
/// write durable (a busy spinning disk, a network disk on a terminal server).
pub const FSYNC_DELAYS_MS: [u64; 2] = [0, 100];

fn run_commands(binary: &std::path::Path) -> Result<Vec<commands_bench::CommandsRun>, String> {
    let xvfb = app_bench::Xvfb::start()?;
    FSYNC_DELAYS_MS
        .iter()
        .map(|delay| {
            eprintln!("bench: command round trips from the window, fsync slowed by {delay} ms");
            commands_bench::run(binary, &xvfb.display, *delay)
        })
        .collect()
}
