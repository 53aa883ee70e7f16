//! `cargo xtask bench`: measures, in one run, the screen pop (listener to ready CRM card, against
//! the portal simulator at several round-trip times, next to a one-request-per-method baseline)
//! and the listener (latency, throughput, a flood of bad requests). Writes `docs/benchmarks.md`
//! and `docs/benchmarks.json`. Numbers, not assertions: the targets are written beside them.

mod listener_bench;
mod pop;
mod report;
mod stats;

fn main() {
    let pops: usize = std::env::var("BENCH_POPS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(140);
    let out = std::env::args()
        .nth(1)
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|| "docs".into());
    let mut results = Vec::new();
    for rtt in [0u64, 50, 150] {
        eprintln!(
            "bench: screen pop at {rtt} ms round trip ({pops} pops, baseline on {})",
            pops / 4
        );
        results.push(pop::run(rtt, pops, pops / 4));
    }
    eprintln!("bench: listener");
    let listener = listener_bench::run();
    report::write(&out, &results, &listener).expect("the results are written");
    eprintln!(
        "bench: results in {}/benchmarks.md and benchmarks.json",
        out.display()
    );
}
