//! Abuse of the real listener with its production rate limit: 10 000 bad requests in a burst
//! (forged Host, foreign and `null` Origin, wrong token, malformed bodies, wrong methods and
//! paths) from many connections at once, while the paired widget keeps posting. Every bad
//! request gets its refusal (or 429 once its client is over the limit), never a 2xx, and every
//! good request goes through.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use crate::client::{config, start, Req, Server, ALLOWED_ORIGIN};

const BAD_REQUESTS: usize = 10_000;
const CONNECTIONS_AT_ONCE: usize = 16;

/// One kind of bad request and the statuses it may get.
fn bad(server: &Server, n: usize) -> (&'static str, Req, &'static [u16]) {
    match n % 8 {
        0 => (
            "forged Host",
            server
                .req("GET", "/v1/status")
                .host(Some("evil.example:80")),
            &[403],
        ),
        1 => (
            "foreign Origin",
            server
                .post_call("application/json", "{}")
                .header("Origin", "https://evil.example"),
            &[403],
        ),
        2 => (
            "null Origin",
            server
                .post_call("application/json", "{}")
                .header("Origin", "null"),
            &[403],
        ),
        3 => (
            "wrong token",
            server
                .req("POST", "/v1/call-card")
                .bearer("not-the-token")
                .header("Content-Type", "application/json")
                .body("{}"),
            &[401, 429],
        ),
        4 => (
            "malformed JSON",
            server.post_call("application/json", "{\"CALL_ID\": "),
            &[400, 429],
        ),
        5 => (
            "malformed form",
            server.post_call(
                "application/x-www-form-urlencoded",
                "PLACEMENT_OPTIONS=%7B%22CALL_ID&%%%",
            ),
            &[400, 429],
        ),
        6 => (
            "wrong method",
            server.req("DELETE", "/v1/call-card"),
            &[405, 429],
        ),
        _ => ("unknown path", server.req("GET", "/admin"), &[404, 429]),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ten_thousand_bad_requests_are_all_refused_and_the_widget_still_gets_through() {
    let mut production = config();
    production.rate = listener::RateLimit::default();
    let server = Arc::new(start(production));

    // The paired widget: its own origin, a call every 100 ms (inside its rate limit).
    let widget = {
        let server = server.clone();
        tokio::spawn(async move {
            let mut statuses = Vec::new();
            for n in 0..40 {
                let body = format!(
                    r#"{{"v":1,"placement":"CALL_CARD","options":{{"CALL_ID":"abuse.{n}","PHONE_NUMBER":"+79001234567"}}}}"#
                );
                let answer = server
                    .send(
                        server
                            .post_call("application/json", body)
                            .header("Origin", ALLOWED_ORIGIN),
                    )
                    .await;
                statuses.push(answer.status);
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
            statuses
        })
    };

    let mut tasks = Vec::new();
    for lane in 0..CONNECTIONS_AT_ONCE {
        let server = server.clone();
        tasks.push(tokio::spawn(async move {
            let mut seen: BTreeMap<(&'static str, u16), usize> = BTreeMap::new();
            let mut wrong = Vec::new();
            for n in (lane..BAD_REQUESTS).step_by(CONNECTIONS_AT_ONCE) {
                let (kind, request, allowed) = bad(&server, n);
                let status = server.send(request).await.status;
                *seen.entry((kind, status)).or_default() += 1;
                if !allowed.contains(&status) {
                    wrong.push(format!("{kind}: {status}"));
                }
            }
            (seen, wrong)
        }));
    }
    let mut seen: BTreeMap<(&'static str, u16), usize> = BTreeMap::new();
    let mut wrong = Vec::new();
    for task in tasks {
        let (lane_seen, lane_wrong) = task.await.unwrap();
        for (key, count) in lane_seen {
            *seen.entry(key).or_default() += count;
        }
        wrong.extend(lane_wrong);
    }
    let widget = widget.await.unwrap();
    // Printed for docs/reliability.md.
    println!("bad requests by kind and status: {seen:?}");
    assert_eq!(seen.values().sum::<usize>(), BAD_REQUESTS);
    assert!(
        wrong.is_empty(),
        "wrong statuses: {:?}",
        &wrong[..wrong.len().min(10)]
    );
    assert!(
        widget.iter().all(|s| *s == 202),
        "the widget's calls: {widget:?}"
    );
    assert_eq!(
        server.intake.calls.lock().unwrap().len(),
        40,
        "only the widget's calls reached the app"
    );
    // And it still answers afterwards.
    let after = server
        .send(
            server
                .req("GET", "/v1/status")
                .header("Origin", ALLOWED_ORIGIN),
        )
        .await;
    assert_eq!(after.status, 200);
}
