//! Binding, timeouts and the port-in-use message.

use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::client::{config, send_to, start};

#[tokio::test]
async fn port_in_use_names_the_holder_and_does_not_panic() {
    let server = start(config());
    let mut second = config();
    second.port = server.port;
    match listener::bind(second) {
        Err(error @ listener::ListenError::PortInUse { .. }) => {
            assert_eq!(error.code(), "port_in_use");
            let message = error.to_string();
            assert!(
                message.contains(&format!(
                    "port {} on 127.0.0.1 is already in use",
                    server.port
                )),
                "{message}"
            );
            if cfg!(target_os = "linux") {
                assert!(
                    message.contains(&format!("pid {}", std::process::id())),
                    "{message}"
                );
            }
        }
        Err(other) => panic!("expected port_in_use, got {other}"),
        Ok(_) => panic!("the port was bound twice"),
    }
}

#[tokio::test]
async fn ipv6_loopback_answers_when_the_machine_has_it() {
    let server = start(config());
    if std::net::TcpListener::bind("[::1]:0").is_err() {
        eprintln!("no IPv6 loopback here; skipped");
        return;
    }
    let req = server
        .req("GET", "/v1/status")
        .host(Some(&format!("[::1]:{}", server.port)));
    let answer = send_to(&format!("[::1]:{}", server.port), req).await;
    assert_eq!(answer.status, 200);
}

#[tokio::test]
async fn a_client_that_never_finishes_its_head_is_cut_off() {
    let mut config = config();
    config.header_timeout = Duration::from_millis(300);
    let server = start(config);
    let mut stream = tokio::net::TcpStream::connect(("127.0.0.1", server.port))
        .await
        .unwrap();
    stream
        .write_all(b"POST /v1/call-card HTTP/1.1\r\nHost: 127.0.0.1\r\n")
        .await
        .unwrap();
    let started = Instant::now();
    let mut rest = Vec::new();
    let read = tokio::time::timeout(Duration::from_secs(10), stream.read_to_end(&mut rest)).await;
    assert!(read.is_ok(), "the server closed the connection");
    assert!(started.elapsed() < Duration::from_secs(10));
}

#[tokio::test]
async fn a_body_that_never_arrives_is_408() {
    let mut config = config();
    config.body_timeout = Duration::from_millis(300);
    let server = start(config);
    let mut stream = tokio::net::TcpStream::connect(("127.0.0.1", server.port))
        .await
        .unwrap();
    let head = format!(
        "POST /v1/call-card HTTP/1.1\r\nHost: 127.0.0.1:{}\r\nAuthorization: Bearer {}\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{{\"v\":1",
        server.port,
        server.token.expose()
    );
    stream.write_all(head.as_bytes()).await.unwrap();
    let answer = crate::client::read_answer(&mut stream).await;
    assert_eq!((answer.status, answer.code()), (408, "request_timeout"));
}
