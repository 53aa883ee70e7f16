//! `docs/benchmarks.md` for people (each result beside its target) and `benchmarks.json` for tools.

use std::path::Path;

use serde_json::json;

use crate::app_bench::AppRun;
use crate::listener_bench::ListenerResult;
use crate::pop::PopResult;
use crate::sizes::Sizes;
use crate::stats::Summary;

/// What one run measured; a part left out (`--only`, or no release binary) is `None`/empty.
#[derive(Default)]
pub struct Results {
    pub pops: Vec<PopResult>,
    pub listener: Option<ListenerResult>,
    pub app: Option<Result<Vec<AppRun>, String>>,
    pub commands: Option<Result<Vec<crate::commands_bench::CommandsRun>, String>>,
    /// The same with WebKit's compositing off (an option for IT, not the default).
    pub app_without_compositing: Option<Result<Vec<AppRun>, String>>,
    pub sizes: Option<Sizes>,
}

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

fn met(ok: bool) -> &'static str {
    if ok {
        "met"
    } else {
        "missed"
    }
}

fn median(mut values: Vec<f64>) -> f64 {
    values.sort_by(|a, b| a.total_cmp(b));
    values.get(values.len() / 2).copied().unwrap_or(f64::NAN)
}

fn pop_section(md: &mut String, pops: &[PopResult]) {
    md.push_str(
        "## Screen pop: listener to ready CRM card (core, no webview)\n\n\
         The simulator adds the round trip to every request; the pipeline posts each call context to the real listener and waits \
         for the card. The baseline builds the same cards with one request per REST method, in sequence. Cases in turn: bound \
         contact, deal, lead, company; unbound number with one match (a contact), only a company, several, none. At 0 ms the pipeline pays for what the \
         baseline skips (the listener hop, a task on the runtime, one larger answer to read); the comparison that matters is where \
         the network costs.\n\n\
         | round trip | pops | p50 | p95 | p99 | requests per pop (max) | baseline p50 | baseline requests per pop | speed-up at p50 |\n\
         |---|---|---|---|---|---|---|---|---|\n",
    );
    for p in pops {
        md.push_str(&format!(
            "| {} ms | {} | {:.1} ms | {:.1} ms | {:.1} ms | {:.2} ({}) | {:.1} ms | {:.2} | {:.1}× |\n",
            p.rtt_ms, p.pipeline.count, p.pipeline.p50, p.pipeline.p95, p.pipeline.p99, p.requests_per_pop, p.max_requests_per_pop,
            p.baseline.p50, p.baseline_requests_per_pop, p.baseline.p50 / p.pipeline.p50.max(0.001)
        ));
    }
    md.push_str(
        "\nThrough the call card's own tab: Bitrix24's form POST (a fresh token for the agent) to the app's `/call-card/`, proved \
         by the portal in the screen pop's own `batch` (`user.current` beside the card's commands), until the card is ready.\n\n\
         | round trip | pops | p50 | p95 | p99 | requests per pop (max) |\n|---|---|---|---|---|---|\n",
    );
    for p in pops {
        md.push_str(&format!(
            "| {} ms | {} | {:.1} ms | {:.1} ms | {:.1} ms | {:.2} ({}) |\n",
            p.rtt_ms,
            p.tab.count,
            p.tab.p50,
            p.tab.p95,
            p.tab.p99,
            p.tab_requests_per_pop,
            p.tab_max_requests_per_pop,
        ));
    }
    md.push_str(
        "\nThrough Bitrix24's push channel: the relay's `pull.application.event.add` (the agent's own channel, with the app's \
         OAuth token) until the card is ready in the app, subscribed over the simulator's push server (WebSocket; each call 450 ms \
         after the previous one, past the 400 ms for which Bitrix's server holds what follows a send); the listener's pipeline above, for comparison. The push server holds each message for one \
         round trip: half for the publish to reach the portal, half for the message to come back to the app (the browser \
         and the app on one computer). Requests: the publish plus the pop's own. A real portal's push servers may add \
         more (not measured: no portal here).\n\n\
         | round trip | pops | p50 | p95 | p99 | requests per pop (max) | listener p50 | push − listener at p50 |\n\
         |---|---|---|---|---|---|---|---|\n",
    );
    for p in pops {
        md.push_str(&format!(
            "| {} ms | {} | {:.1} ms | {:.1} ms | {:.1} ms | {:.2} ({}) | {:.1} ms | {:+.1} ms |\n",
            p.rtt_ms,
            p.push.pops.count,
            p.push.pops.p50,
            p.push.pops.p95,
            p.push.pops.p99,
            p.push.requests_per_pop,
            p.push.max_requests_per_pop,
            p.pipeline.p50,
            p.push.pops.p50 - p.pipeline.p50,
        ));
    }
    if let Some(p) = pops.iter().find(|p| p.rtt_ms == 50) {
        let speedup = p.baseline.p50 / p.pipeline.p50.max(0.001);
        md.push_str(&format!(
            "\nTargets at 50 ms: p50 within one round trip + 25 ms (75 ms) — **{:.1} ms, {}**; at least 4× the baseline — **{:.1}×, {}**; \
             one portal request per pop in the common cases — **{:.2} on average, max {} ({})**.\n",
            p.pipeline.p50,
            met(p.pipeline.p50 <= 75.0),
            speedup,
            met(speedup >= 4.0),
            p.requests_per_pop,
            p.max_requests_per_pop,
            met(p.max_requests_per_pop <= 1),
        ));
        md.push_str(&format!(
            "Through the tab, the proof costs no request of its own: **{:.2} requests per pop on average, max {} ({})**.\n",
            p.tab_requests_per_pop,
            p.tab_max_requests_per_pop,
            met(p.tab_max_requests_per_pop <= 1),
        ));
    }
}

fn listener_section(md: &mut String, listener: &ListenerResult) {
    md.push_str(&format!(
        "\n## The listener (loopback)\n\n\
         | measure | result | target |\n|---|---|---|\n\
         | round trip per accepted call context, p50 / p99 (client, HTTP and listener together) | {:.2} / {:.2} ms | added latency p99 under 2 ms ({}) |\n\
         | throughput, 4 clients, keep-alive | {:.0} requests/s | — |\n\
         | good requests during a flood of bad ones (wrong token, foreign origin; {} sent) | {}/{} accepted, p50 {:.2} ms, p99 {:.2} ms | all accepted |\n\
         | resident memory of the benchmark process before / after the flood | {:.1} / {:.1} MiB | flat |\n",
        listener.latency.p50, listener.latency.p99, met(listener.latency.p99 < 2.0),
        listener.throughput_per_sec,
        listener.flood_bad_sent, listener.flood_good_ok, listener.flood_good_total, listener.flood_good.p50, listener.flood_good.p99,
        listener.rss_before_mib, listener.rss_after_mib,
    ));
}

fn app_section(md: &mut String, app: &Result<Vec<AppRun>, String>, heading: &str) {
    md.push_str(heading);
    md.push_str(
        "\
         Cold start: from starting the process to the window's report that its first content is painted (two animation frames \
         after the status is on screen). Memory: the app and every process it started (WebKit's web and network processes), \
         4 s after the first paint and 4 s after 100 calls (each a call context and its end, 120 ms apart, through the listener; \
         cards from the embedded simulator). RSS counts shared libraries once per process; PSS divides shared pages among the \
         processes that map them, so the PSS sum is what the tree costs the machine.\n\n",
    );
    let runs = match app {
        Ok(runs) if !runs.is_empty() => runs,
        Ok(_) => return md.push_str("No runs.\n"),
        Err(e) => return md.push_str(&format!("Not measured: {e}\n")),
    };
    md.push_str("| run | cold start | app's own measure | processes | idle RSS / PSS | after 100 calls RSS / PSS | calls accepted |\n|---|---|---|---|---|---|---|\n");
    for (i, r) in runs.iter().enumerate() {
        md.push_str(&format!(
            "| {} | {:.0} ms | {:.0} ms | {} | {:.1} / {:.1} MiB | {:.1} / {:.1} MiB | {} |\n",
            i + 1,
            r.cold_start_ms,
            r.reported_ms,
            r.idle.processes,
            r.idle.rss_mib,
            r.idle.pss_mib,
            r.after_calls.rss_mib,
            r.after_calls.pss_mib,
            r.calls_accepted
        ));
    }
    let cold = median(runs.iter().map(|r| r.cold_start_ms).collect());
    let idle_rss = median(runs.iter().map(|r| r.idle.rss_mib).collect());
    let idle_pss = median(runs.iter().map(|r| r.idle.pss_mib).collect());
    let after_pss = median(runs.iter().map(|r| r.after_calls.pss_mib).collect());
    let after_rss = median(runs.iter().map(|r| r.after_calls.rss_mib).collect());
    let growth = (after_pss / idle_pss - 1.0) * 100.0;
    md.push_str(&format!(
        "\nMedians of {} runs, against the targets: cold start to first paint **{cold:.0} ms** (under 1 s: {}); idle memory of the \
         whole process tree **{idle_pss:.1} MiB PSS** ({idle_rss:.1} MiB summed RSS) (under 150 MB: {} by PSS, {} by summed RSS); \
         after 100 calls **{after_pss:.1} MiB PSS** ({after_rss:.1} MiB RSS), growth **{growth:+.1}%** (no more than 10%: {}).\n",
        runs.len(),
        met(cold < 1000.0),
        met(idle_pss * 1.048_576 < 150.0),
        met(idle_rss * 1.048_576 < 150.0),
        met(growth <= 10.0),
    ));
    let last = &runs[runs.len() - 1];
    md.push_str(&format!(
        "\nWhere the memory is (run {}, PSS by process):\n\n| process | idle | after 100 calls |\n|---|---|---|\n",
        runs.len()
    ));
    for (name, idle) in &last.idle.by_process {
        let after = last
            .after_calls
            .by_process
            .iter()
            .find(|(n, _)| n == name)
            .map_or("gone".to_string(), |(_, pss)| format!("{pss:.1} MiB"));
        md.push_str(&format!("| {name} | {idle:.1} MiB | {after} |\n"));
    }
}

fn sizes_section(md: &mut String, sizes: &Sizes) {
    let mib = |bytes: u64| bytes as f64 / 1_048_576.0;
    let mb = |bytes: u64| bytes as f64 / 1_000_000.0;
    md.push_str("\n## Sizes (`cargo xtask bundle`: release profile, LTO, stripped)\n\n| file | size | target |\n|---|---|---|\n");
    md.push_str(&format!(
        "| release binary | {:.1} MB ({:.1} MiB) | — |\n",
        mb(sizes.binary.1),
        mib(sizes.binary.1)
    ));
    match &sizes.deb {
        Some((_, bytes)) => md.push_str(&format!(
            "| .deb | {:.2} MB ({:.2} MiB) | under 6 MB ({}) |\n",
            mb(*bytes),
            mib(*bytes),
            met(mb(*bytes) < 6.0)
        )),
        None => md.push_str("| .deb | not built | under 6 MB |\n"),
    }
    match &sizes.rpm {
        Some((_, bytes)) => md.push_str(&format!(
            "| .rpm | {:.2} MB ({:.2} MiB) | — |\n",
            mb(*bytes),
            mib(*bytes)
        )),
        None => md.push_str("| .rpm | not built | — |\n"),
    }
}

fn tree_json(tree: &crate::tree::TreeMemory) -> serde_json::Value {
    json!({
        "processes": tree.processes, "rss_mib": tree.rss_mib, "pss_mib": tree.pss_mib,
        "pss_mib_by_process": tree.by_process.iter().map(|(name, pss)| json!({ "name": name, "pss_mib": pss })).collect::<Vec<_>>(),
    })
}

fn app_json(app: &Result<Vec<AppRun>, String>) -> serde_json::Value {
    match app {
        Err(e) => json!({ "error": e }),
        Ok(runs) => json!(runs.iter().map(|r| json!({
            "cold_start_ms": r.cold_start_ms, "reported_ms": r.reported_ms, "calls_accepted": r.calls_accepted,
            "idle": tree_json(&r.idle),
            "after_calls": tree_json(&r.after_calls),
        })).collect::<Vec<_>>()),
    }
}

pub fn write(dir: &Path, results: &Results) -> std::io::Result<()> {
    std::fs::create_dir_all(dir)?;
    let date = command("date", &["-u", "+%Y-%m-%d %H:%M UTC"]);
    let commit = command("git", &["rev-parse", "--short", "HEAD"]);
    let machine = machine();
    let mut md = format!(
        "# Benchmarks\n\nWritten by `cargo xtask bench` (core parts: the release profile without LTO; the app and sizes: the \
         release build `cargo xtask bundle` makes). Machine: {machine}. Date: {date}. Commit: `{commit}`.\n\
         These machines are shared and noisy: compare runs on one machine, not across machines.\n\n"
    );
    let mut missing = Vec::new();
    if results.pops.is_empty() {
        missing.push("the screen pop");
    } else {
        pop_section(&mut md, &results.pops);
    }
    match &results.listener {
        Some(listener) => listener_section(&mut md, listener),
        None => missing.push("the listener"),
    }
    match &results.app {
        Some(app) => {
            app_section(
                &mut md,
                app,
                "\n## The whole app under Xvfb (release build, mock mode, empty profile each run)\n\n",
            );
            if let Some(variant) = &results.app_without_compositing {
                app_section(
                    &mut md,
                    variant,
                    &format!(
                        "\n### The same with `{}=1`\n\nAn option IT can set for the agents' session, not the default (ARCHITECTURE.md, \"WebKitGTK's compositing stays on\").\n\n",
                        crate::WITHOUT_COMPOSITING
                    ),
                );
            }
        }
        None => missing.push("the whole app (needs --app)"),
    }
    match &results.commands {
        Some(commands) => crate::commands_bench::section(&mut md, commands),
        None => missing.push("the commands' round trips (needs --app)"),
    }
    match &results.sizes {
        Some(sizes) => sizes_section(&mut md, sizes),
        None => missing.push("the sizes (needs --app)"),
    }
    if !missing.is_empty() {
        md.push_str(&format!(
            "\n## Not measured in this run\n\n{}.\n",
            missing.join(", ")
        ));
    }
    // What profiling found behind the numbers: written by people, kept beside the results.
    if let Ok(notes) = std::fs::read_to_string(dir.join("benchmarks-notes.md")) {
        md.push('\n');
        md.push_str(&notes);
    }
    std::fs::write(dir.join("benchmarks.md"), md)?;
    let data = json!({
        "machine": machine, "date": date, "commit": commit,
        "screen_pop": results.pops.iter().map(|p| json!({
            "rtt_ms": p.rtt_ms, "pipeline": summary_json(&p.pipeline), "requests_per_pop": p.requests_per_pop,
            "max_requests_per_pop": p.max_requests_per_pop, "baseline": summary_json(&p.baseline),
            "tab": summary_json(&p.tab), "tab_requests_per_pop": p.tab_requests_per_pop,
            "tab_max_requests_per_pop": p.tab_max_requests_per_pop,
            "baseline_requests_per_pop": p.baseline_requests_per_pop,
            "push": summary_json(&p.push.pops), "push_requests_per_pop": p.push.requests_per_pop,
            "push_max_requests_per_pop": p.push.max_requests_per_pop,
        })).collect::<Vec<_>>(),
        "listener": results.listener.as_ref().map(|listener| json!({
            "latency": summary_json(&listener.latency), "throughput_per_sec": listener.throughput_per_sec,
            "flood": { "good": summary_json(&listener.flood_good), "good_ok": listener.flood_good_ok, "good_total": listener.flood_good_total,
                       "bad_sent": listener.flood_bad_sent, "rss_before_mib": listener.rss_before_mib, "rss_after_mib": listener.rss_after_mib },
        })),
        "app": results.app.as_ref().map(app_json),
        "app_without_compositing": results.app_without_compositing.as_ref().map(app_json),
        "commands": results.commands.as_ref().map(crate::commands_bench::json),
        "sizes": results.sizes.as_ref().map(|s| json!({
            "binary_bytes": s.binary.1, "deb_bytes": s.deb.as_ref().map(|d| d.1), "rpm_bytes": s.rpm.as_ref().map(|r| r.1),
        })),
    });
    std::fs::write(
        dir.join("benchmarks.json"),
        serde_json::to_string_pretty(&data).unwrap_or_default(),
    )
}
