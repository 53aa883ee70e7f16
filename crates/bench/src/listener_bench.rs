//! The listener on loopback: round-trip latency per accepted call context, throughput, and good
//! requests (from the allowed origin, with the token) during a flood of bad ones.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use callcard::{CallContext, ParseError};
use listener::{Accepted, Intake};
use serde_json::json;

use crate::stats::{rss_mib, summarize, Summary};

struct Sink;

impl Intake for Sink {
    fn call(&self, _: CallContext) -> Accepted {
        Accepted { new: true }
    }
    fn rejected(&self, _: &ParseError) {}
}

pub struct ListenerResult {
    pub latency: Summary,
    pub throughput_per_sec: f64,
    pub flood_good: Summary,
    pub flood_good_ok: u64,
    pub flood_good_total: u64,
    pub flood_bad_sent: u64,
    pub rss_before_mib: f64,
    pub rss_after_mib: f64,
}

const ORIGIN: &str = "https://acme.bitrix24.ru";

pub fn run() -> ListenerResult {
    let runtime = tokio::runtime::Runtime::new().expect("runtime");
    let token = listener::PairingToken::generate().expect("random");
    let pairing = Arc::new(listener::Pairing::new(token.clone()));
    let mut config = listener::Config::new(0, "bench", "0");
    config.rate = listener::RateLimit {
        burst: 1_000_000,
        per_second: 1_000_000.0,
    };
    config.origins = listener::OriginAllowList::new([ORIGIN]).expect("origin");
    let bound = listener::bind(config).expect("listener");
    let port = bound.port();
    let _running = runtime
        .block_on(async { bound.serve(pairing, Arc::new(Sink)) })
        .expect("serve");
    let url = format!("http://127.0.0.1:{port}/v1/call-card");
    let bearer = format!("Bearer {}", token.expose());
    let body = json!({"CALL_ID": "bench.listener", "PHONE_NUMBER": "+79001234567", "CALL_STATE": "connected"});
    let post = |agent: &ureq::Agent| {
        agent
            .post(&url)
            .set("Authorization", &bearer)
            .set("Origin", ORIGIN)
            .send_json(body.clone())
            .is_ok()
    };

    let agent = ureq::AgentBuilder::new().build();
    for _ in 0..200 {
        post(&agent);
    }
    let mut samples = Vec::new();
    for _ in 0..2000 {
        let started = Instant::now();
        post(&agent);
        samples.push(started.elapsed());
    }
    let latency = summarize(&samples);

    let started = Instant::now();
    let per_thread = 1000;
    std::thread::scope(|scope| {
        for _ in 0..4 {
            scope.spawn(|| {
                let agent = ureq::AgentBuilder::new().build();
                for _ in 0..per_thread {
                    post(&agent);
                }
            });
        }
    });
    let throughput_per_sec = (4 * per_thread) as f64 / started.elapsed().as_secs_f64();

    let rss_before_mib = rss_mib();
    let stop = Arc::new(AtomicBool::new(false));
    let bad_sent = Arc::new(AtomicU64::new(0));
    let mut flooders = Vec::new();
    for i in 0..4 {
        let (stop, bad_sent, url) = (stop.clone(), bad_sent.clone(), url.clone());
        flooders.push(std::thread::spawn(move || {
            let agent = ureq::AgentBuilder::new()
                .timeout(Duration::from_secs(5))
                .build();
            while !stop.load(Ordering::Relaxed) {
                let request = agent.post(&url);
                let request = if i % 2 == 0 {
                    request.set("Authorization", "Bearer wrong-token")
                } else {
                    request.set("Origin", "https://evil.example")
                };
                let _ = request.send_string("{\"CALL_ID\":\"x\"}");
                bad_sent.fetch_add(1, Ordering::Relaxed);
            }
        }));
    }
    std::thread::sleep(Duration::from_millis(300));
    let mut good = Vec::new();
    let mut ok = 0;
    let total = 500;
    for _ in 0..total {
        let started = Instant::now();
        if post(&agent) {
            ok += 1;
        }
        good.push(started.elapsed());
    }
    stop.store(true, Ordering::Relaxed);
    for flooder in flooders {
        let _ = flooder.join();
    }
    ListenerResult {
        latency,
        throughput_per_sec,
        flood_good: summarize(&good),
        flood_good_ok: ok,
        flood_good_total: total,
        flood_bad_sent: bad_sent.load(Ordering::Relaxed),
        rss_before_mib,
        rss_after_mib: rss_mib(),
    }
}
