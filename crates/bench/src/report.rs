//! `docs/benchmarks.md` for people (each result beside its target) and `benchmarks.json` for tools.

use std::path::Path;

use serde_json::json;

use crate::listener_bench::ListenerResult;
use crate::pop::PopResult;
use crate::stats::Summary;

fn machine() -> String {
    let cpu = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("model name"))
                .and_then(|l| l.split(':').nth(1))
                .map(|s| s.trim().to_owned())
        })
        .unwrap_or_else(|| "unknown CPU".into());
    let cores = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(0);
    let memory = std::fs::read_to_string("/proc/meminfo")
        .ok()
        .and_then(|s| {
            s.lines()
                .next()
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|kb| kb.parse::<f64>().ok())
        })
        .map(|kb| format!("{:.1} GiB", kb / 1024.0 / 1024.0))
        .unwrap_or_default();
    format!("{cpu}, {cores} cores, {memory} RAM")
}

fn command(program: &str, args: &[&str]) -> String {
    std::process::Command::new(program)
        .args(args)
        .output()
        .ok()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_owned())
        .unwrap_or_default()
}

fn summary_json(s: &Summary) -> serde_json::Value {
    json!({ "count": s.count, "p50_ms": s.p50, "p95_ms": s.p95, "p99_ms": s.p99, "max_ms": s.max })
}

pub fn write(dir: &Path, pops: &[PopResult], listener: &ListenerResult) -> std::io::Result<()> {
    std::fs::create_dir_all(dir)?;
    let date = command("date", &["-u", "+%Y-%m-%d %H:%M UTC"]);
    let commit = command("git", &["rev-parse", "--short", "HEAD"]);
    let machine = machine();
    let mut md = format!(
        "# Benchmarks\n\nWritten by `cargo xtask bench` (optimised build: the release profile without LTO). Machine: {machine}. Date: {date}. Commit: `{commit}`.\n\
         These machines are shared and noisy: compare runs on one machine, not across machines.\n\n\
         ## Screen pop: listener to ready CRM card (core, no webview)\n\n\
         The simulator adds the round trip to every request; the pipeline posts each call context to the real listener and waits \
         for the card. The baseline builds the same cards with one request per REST method, in sequence. Cases in turn: bound \
         contact, deal, lead, company; unbound number with one match, several, none. At 0 ms the pipeline pays for what the \
         baseline skips (the listener hop, a worker thread, one larger answer to read); the comparison that matters is where \
         the network costs.\n\n\
         | round trip | pops | p50 | p95 | p99 | requests per pop (max) | baseline p50 | baseline requests per pop | speed-up at p50 |\n\
         |---|---|---|---|---|---|---|---|---|\n"
    );
    for p in pops {
        md.push_str(&format!(
            "| {} ms | {} | {:.1} ms | {:.1} ms | {:.1} ms | {:.2} ({}) | {:.1} ms | {:.2} | {:.1}× |\n",
            p.rtt_ms, p.pipeline.count, p.pipeline.p50, p.pipeline.p95, p.pipeline.p99, p.requests_per_pop, p.max_requests_per_pop,
            p.baseline.p50, p.baseline_requests_per_pop, p.baseline.p50 / p.pipeline.p50.max(0.001)
        ));
    }
    let at50 = pops.iter().find(|p| p.rtt_ms == 50);
    if let Some(p) = at50 {
        md.push_str(&format!(
            "\nTargets at 50 ms: p50 within one round trip + 25 ms (75 ms) — **{:.1} ms, {}**; at least 4× the baseline — **{:.1}×, {}**; \
             one portal request per pop in the common cases — **{:.2} on average, max {} {}**.\n",
            p.pipeline.p50,
            if p.pipeline.p50 <= 75.0 { "met" } else { "missed" },
            p.baseline.p50 / p.pipeline.p50.max(0.001),
            if p.baseline.p50 / p.pipeline.p50.max(0.001) >= 4.0 { "met" } else { "missed" },
            p.requests_per_pop,
            p.max_requests_per_pop,
            if p.max_requests_per_pop <= 1 { "(met)" } else { "(missed)" },
        ));
    }
    md.push_str(&format!(
        "\n## The listener (loopback)\n\n\
         | measure | result | target |\n|---|---|---|\n\
         | round trip per accepted call context, p50 / p99 (client, HTTP and listener together) | {:.2} / {:.2} ms | added latency p99 under 2 ms ({}) |\n\
         | throughput, 4 clients, keep-alive | {:.0} requests/s | — |\n\
         | good requests during a flood of bad ones (wrong token, foreign origin; {} sent) | {}/{} accepted, p50 {:.2} ms, p99 {:.2} ms | all accepted |\n\
         | resident memory of the benchmark process before / after the flood | {:.1} / {:.1} MiB | flat |\n",
        listener.latency.p50, listener.latency.p99, if listener.latency.p99 < 2.0 { "met" } else { "missed" },
        listener.throughput_per_sec,
        listener.flood_bad_sent, listener.flood_good_ok, listener.flood_good_total, listener.flood_good.p50, listener.flood_good.p99,
        listener.rss_before_mib, listener.rss_after_mib,
    ));
    md.push_str(
        "\n## Not measured yet\n\nCold start of the whole app to first paint, resident memory of the process tree idle and after \
         100 calls, and the sizes of the release binary, `.deb` and `.rpm` (measured by hand with `cargo xtask bundle` on 2026-11-25: \
         binary 12.9 MB, .deb 5.2 MiB — target under 6 MB, met — and .rpm 5.2 MiB) are still to be added to this run.\n",
    );
    std::fs::write(dir.join("benchmarks.md"), md)?;
    let data = json!({
        "machine": machine, "date": date, "commit": commit,
        "screen_pop": pops.iter().map(|p| json!({
            "rtt_ms": p.rtt_ms, "pipeline": summary_json(&p.pipeline), "requests_per_pop": p.requests_per_pop,
            "max_requests_per_pop": p.max_requests_per_pop, "baseline": summary_json(&p.baseline),
            "baseline_requests_per_pop": p.baseline_requests_per_pop,
        })).collect::<Vec<_>>(),
        "listener": {
            "latency": summary_json(&listener.latency), "throughput_per_sec": listener.throughput_per_sec,
            "flood": { "good": summary_json(&listener.flood_good), "good_ok": listener.flood_good_ok, "good_total": listener.flood_good_total,
                       "bad_sent": listener.flood_bad_sent, "rss_before_mib": listener.rss_before_mib, "rss_after_mib": listener.rss_after_mib },
        },
    });
    std::fs::write(
        dir.join("benchmarks.json"),
        serde_json::to_string_pretty(&data).unwrap_or_default(),
    )
}
