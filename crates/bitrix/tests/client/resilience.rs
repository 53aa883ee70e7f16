use std::time::{Duration, Instant};

use bitrix::{BucketConfig, Client, RetryPolicy, Secret};
use portal_sim::{Faults, SimConfig};
use serde_json::json;

use crate::support::{simulator, simulator_with, webhook_client};

fn fast_retries() -> RetryPolicy {
    RetryPolicy {
        max_attempts: 4,
        base_delay: Duration::from_millis(20),
        max_delay: Duration::from_millis(200),
    }
}

fn client(sim: &portal_sim::Simulator, bucket: BucketConfig) -> Client {
    Client::builder()
        .webhook(Secret::new(sim.endpoints().webhook_url))
        .bucket(bucket)
        .retry(fast_retries())
        .timeout(Duration::from_secs(5))
        .build()
        .unwrap()
}

#[tokio::test]
async fn the_client_paces_itself_so_the_portal_never_refuses() {
    let sim = simulator_with(SimConfig {
        bucket_capacity: 5.0,
        bucket_drain_per_sec: 20.0,
        ..SimConfig::default()
    });
    // A little under the portal's figures: requests arrive a moment after they are booked.
    let client = client(
        &sim,
        BucketConfig {
            capacity: 4.0,
            drain_per_sec: 18.0,
        },
    );
    let started = Instant::now();
    for id in 1..=15 {
        client
            .call("crm.contact.get", json!({"id": id}))
            .await
            .unwrap();
    }
    assert_eq!(sim.stats().query_limit_refusals, 0);
    // Ten beyond the burst at 20 a second: about half a second of pacing.
    assert!(
        started.elapsed() >= Duration::from_millis(400),
        "{:?}",
        started.elapsed()
    );
}

#[tokio::test]
async fn query_limit_exceeded_is_retried_after_a_back_off() {
    let sim = simulator_with(SimConfig {
        bucket_capacity: 3.0,
        bucket_drain_per_sec: 20.0,
        ..SimConfig::default()
    });
    // The client believes in a bigger bucket (other agents share the real one).
    let client = client(
        &sim,
        BucketConfig {
            capacity: 100.0,
            drain_per_sec: 100.0,
        },
    );
    for id in 1..=10 {
        client
            .call("crm.contact.get", json!({"id": id}))
            .await
            .expect("retries get through");
    }
    assert!(
        sim.stats().query_limit_refusals > 0,
        "the portal did refuse some"
    );
}

#[tokio::test]
async fn a_rate_limit_storm_longer_than_the_retries_is_reported() {
    let sim = simulator();
    let client = client(&sim, BucketConfig::default());
    sim.set_faults(Faults {
        rate_limit_storm: 10,
        ..Faults::default()
    });
    let error = client.call("user.current", json!({})).await.unwrap_err();
    assert_eq!(
        (error.code().as_str(), error.action()),
        ("query_limit_exceeded", bitrix::Action::TryLater)
    );
    assert_eq!(
        sim.stats().query_limit_refusals,
        4,
        "one try and three retries"
    );
}

#[tokio::test]
async fn operation_time_limit_is_waited_out_when_the_reset_is_near() {
    let sim = simulator();
    let client = client(&sim, BucketConfig::default());
    sim.set_faults(Faults {
        operation_limit_method: Some("crm.deal.list".into()),
        operation_limit_reset_secs: 60,
        ..Faults::default()
    });
    let error = client.call("crm.deal.list", json!({})).await.unwrap_err();
    assert_eq!(error.code().as_str(), "operation_time_limit");
    assert!(
        client.call("crm.contact.list", json!({})).await.is_ok(),
        "other methods still work"
    );
}

#[tokio::test]
async fn transient_server_errors_are_retried_for_reads() {
    let sim = simulator();
    let client = Client::builder()
        .webhook(Secret::new(sim.endpoints().webhook_url))
        .retry(RetryPolicy {
            max_attempts: 8,
            ..fast_retries()
        })
        .build()
        .unwrap();
    sim.set_faults(Faults {
        error_rate: 0.3,
        ..Faults::default()
    });
    for id in 1..=10 {
        client
            .call("crm.contact.get", json!({"id": id}))
            .await
            .expect("a read survives a flaky portal");
    }
    let failed = sim.stats().rest_requests - 10;
    assert!(failed > 0, "some answers were errors");
}

#[tokio::test]
async fn an_outage_is_a_portal_error_to_try_later() {
    let sim = simulator();
    let client = client(&sim, BucketConfig::default());
    sim.set_faults(Faults {
        outage: true,
        ..Faults::default()
    });
    let error = client.call("user.current", json!({})).await.unwrap_err();
    assert_eq!(
        (error.code().as_str(), error.action()),
        ("portal_error", bitrix::Action::TryLater)
    );
}

#[tokio::test]
async fn a_slow_portal_times_out() {
    let sim = simulator();
    let client = Client::builder()
        .webhook(Secret::new(sim.endpoints().webhook_url))
        .retry(RetryPolicy {
            max_attempts: 1,
            ..fast_retries()
        })
        .timeout(Duration::from_millis(300))
        .build()
        .unwrap();
    sim.set_faults(Faults {
        latency_ms: 1500,
        ..Faults::default()
    });
    let error = client.call("user.current", json!({})).await.unwrap_err();
    assert_eq!(error.code().as_str(), "timeout", "{error:?}");
}

#[tokio::test]
async fn a_write_whose_answer_was_lost_is_not_resent_blindly() {
    let sim = simulator();
    let client = client(&sim, BucketConfig::default());
    sim.set_faults(Faults {
        drop_after_commit: 1,
        ..Faults::default()
    });
    let comment = json!({"fields": {"ENTITY_ID": 42, "ENTITY_TYPE": "contact", "COMMENT": "Called back about the invoice"}});
    let error = client
        .call("crm.timeline.comment.add", comment)
        .await
        .unwrap_err();
    assert!(
        matches!(
            error,
            bitrix::RestError::Transport {
                request_sent: true,
                ..
            }
        ),
        "{error:?}"
    );
    // It was committed once and not sent again: the caller must reconcile, not repeat.
    let saved = webhook_client(&sim)
        .call(
            "crm.timeline.comment.list",
            json!({"filter": {"ENTITY_ID": 42, "ENTITY_TYPE": "contact"}}),
        )
        .await
        .unwrap()
        .result;
    let copies = saved
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| c["COMMENT"] == "Called back about the invoice")
        .count();
    assert_eq!(copies, 1);
    assert_eq!(sim.stats().calls_by_method["crm.timeline.comment.add"], 1);
}

fn now_secs() -> f64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs_f64()
}

fn until_of(error: &bitrix::RestError) -> u64 {
    match error {
        bitrix::RestError::OperationTimeLimit { until, .. } => until.expect("says until when"),
        other => panic!("not OPERATION_TIME_LIMIT: {other:?}"),
    }
}

#[tokio::test]
async fn operation_time_limit_pauses_that_method_until_its_last_reset_and_not_the_client() {
    let sim = simulator_with(SimConfig {
        faults: Faults {
            operating_costs: [("crm.deal.list".to_owned(), 300.0)].into(),
            ..Faults::default()
        },
        ..SimConfig::default()
    });
    let client = client(&sim, BucketConfig::default());
    let first = client.call("crm.deal.list", json!({})).await.unwrap();
    let reset_at = first.time.unwrap().operating_reset_at.unwrap();
    assert!((reset_at - (now_secs() + 600.0)).abs() < 5.0);
    client.call("crm.deal.list", json!({})).await.unwrap();
    // 600 s used, over the 480 s limit: the next call is refused and the method paused until
    // the last successful answer's operating_reset_at (`limits.md`).
    let error = client.call("crm.deal.list", json!({})).await.unwrap_err();
    assert_eq!(
        (error.code().as_str(), error.action()),
        ("operation_time_limit", bitrix::Action::TryLater)
    );
    assert_eq!(until_of(&error), reset_at.ceil() as u64);
    assert!(error.to_string().contains("crm.deal.list"), "{error}");
    assert_eq!(
        client.paused_until("crm.deal.list"),
        Some(reset_at.ceil() as u64)
    );
    // Paused: refused here, without a request.
    let requests = sim.stats().rest_requests;
    let again = client.call("crm.deal.list", json!({})).await.unwrap_err();
    assert_eq!(until_of(&again), reset_at.ceil() as u64);
    assert_eq!(
        sim.stats().rest_requests,
        requests,
        "no request for a paused method"
    );
    // Other methods keep working.
    client.call("crm.contact.list", json!({})).await.unwrap();
    assert_eq!(client.paused_until("crm.contact.list"), None);
}

#[tokio::test]
async fn a_paused_sub_request_fails_alone_inside_a_successful_batch() {
    let sim = simulator();
    let client = client(&sim, BucketConfig::default());
    sim.set_faults(Faults {
        operation_limit_method: Some("crm.deal.list".into()),
        operation_limit_reset_secs: 120,
        ..Faults::default()
    });
    let started = now_secs();
    let batch = bitrix::Batch::new()
        .add("deals", "crm.deal.list", json!({}))
        .add("contact", "crm.contact.get", json!({"id": 42}));
    let response = client.batch(&batch).await.unwrap();
    assert_eq!(response.get("contact").unwrap().unwrap()["ID"], "42");
    let error = response.get("deals").unwrap().unwrap_err();
    assert_eq!(error.code().as_str(), "operation_time_limit");
    let until = until_of(error) as f64;
    assert!(
        (until - (started + 120.0)).abs() < 3.0,
        "the sub-request's own operating_reset_at: {until} vs {started}"
    );
    // The method is paused for single calls too, without a request.
    let requests = sim.stats().rest_requests;
    assert_eq!(
        client
            .call("crm.deal.list", json!({}))
            .await
            .unwrap_err()
            .code(),
        "operation_time_limit"
    );
    assert_eq!(sim.stats().rest_requests, requests);
}

#[tokio::test]
async fn system_errors_reach_the_caller_as_their_own_states_without_retries() {
    let sim = simulator();
    let client = client(&sim, BucketConfig::default());
    let cases = [
        (
            portal_sim::SystemError::InvalidCredentials,
            "invalid_credentials",
            bitrix::Action::SignIn,
        ),
        (
            portal_sim::SystemError::UserAccessError,
            "app_access_denied",
            bitrix::Action::AskAdmin,
        ),
        (
            portal_sim::SystemError::ApplicationNotFound,
            "app_not_installed",
            bitrix::Action::ReinstallApp,
        ),
        (
            portal_sim::SystemError::OverloadLimit,
            "portal_overloaded",
            bitrix::Action::ContactSupport,
        ),
        (
            portal_sim::SystemError::PortalDeleted,
            "portal_deleted",
            bitrix::Action::OtherPortal,
        ),
    ];
    for (injected, code, action) in cases {
        sim.set_faults(Faults {
            system_error: Some(injected),
            ..Faults::default()
        });
        let requests = sim.stats().rest_requests;
        // A read: a plain server error would be retried; these are not.
        let error = client
            .call("crm.contact.get", json!({"id": 42}))
            .await
            .unwrap_err();
        assert_eq!(
            (error.code().as_str(), error.action()),
            (code, action),
            "{injected:?}"
        );
        assert_eq!(
            sim.stats().rest_requests,
            requests + 1,
            "{injected:?}: not retried"
        );
    }
}
