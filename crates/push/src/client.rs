//! The connection loop: config → WebSocket (or long polling) → events, and back again on every
//! close, expiry or system message (bitrix24-push.md §2–§4).

use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use futures_util::StreamExt;
use tokio::sync::{mpsc, watch};
use tokio::task::JoinHandle;
use tokio_tungstenite::tungstenite::{self, Message};

use crate::config::PushConfig;
use crate::dedupe::RecentMids;
use crate::envelope;
use crate::filter::{classify, System, Verdict};
use crate::{ConfigSource, Options, PushEvent, PushStatus, Transport};

/// A running client. Dropping it (or [`Subscription::stop`]) stops it.
pub struct Subscription {
    status: watch::Receiver<PushStatus>,
    events: Option<mpsc::UnboundedReceiver<PushEvent>>,
    task: JoinHandle<()>,
}

impl Subscription {
    pub fn status(&self) -> watch::Receiver<PushStatus> {
        self.status.clone()
    }

    /// The accepted events, in order (once: the receiver is handed over).
    pub fn take_events(&mut self) -> Option<mpsc::UnboundedReceiver<PushEvent>> {
        self.events.take()
    }

    pub fn stop(&self) {
        self.task.abort();
    }
}

impl Drop for Subscription {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// Starts the client on `runtime`.
pub fn start(
    runtime: &tokio::runtime::Handle,
    source: Arc<dyn ConfigSource>,
    options: Options,
) -> Subscription {
    let (status_tx, status) = watch::channel(PushStatus::Connecting);
    let (events_tx, events) = mpsc::unbounded_channel();
    if let Some(observe) = &options.on_status {
        observe(&PushStatus::Connecting);
    }
    let runner = Runner {
        recent: RecentMids::new(options.remembered_mids),
        source,
        options,
        status: status_tx,
        events: events_tx,
        config: None,
        failures: 0,
        websocket_failures: 0,
        polling_since: None,
    };
    Subscription {
        status,
        events: Some(events),
        task: runtime.spawn(runner.run()),
    }
}

/// What ends a session, and what comes next.
#[derive(Debug)]
enum Next {
    /// A new config first, after the wait.
    Refetch(Duration),
    /// The same config again, after the wait.
    Reconnect(Duration),
    /// A failure: back off.
    Failed,
}

struct Current {
    config: PushConfig,
    refresh_at: tokio::time::Instant,
}

struct Runner {
    source: Arc<dyn ConfigSource>,
    options: Options,
    status: watch::Sender<PushStatus>,
    events: mpsc::UnboundedSender<PushEvent>,
    recent: RecentMids,
    config: Option<Current>,
    /// Failures in a row (config or connection); reset when a connection opens.
    failures: u32,
    /// WebSocket opens that failed in a row.
    websocket_failures: u32,
    /// Long polling since then; the WebSocket is tried again after `websocket_retry`.
    polling_since: Option<Instant>,
}

impl Runner {
    async fn run(mut self) {
        loop {
            if self.config.is_none() {
                match self.source.fetch().await {
                    Ok(result) => match PushConfig::parse(&result) {
                        Ok(config) => {
                            tracing::debug!(?config, "push config");
                            self.config = Some(Current {
                                refresh_at: self.refresh_at(&config),
                                config,
                            });
                        }
                        Err(e) => {
                            tracing::warn!(code = "push_unavailable", "push: {e}");
                            self.unavailable(e.to_string()).await;
                            continue;
                        }
                    },
                    Err(e) if e.permanent => {
                        tracing::warn!(code = "push_unavailable", "push: {}", e.reason);
                        self.unavailable(e.reason).await;
                        continue;
                    }
                    Err(e) => {
                        tracing::warn!(
                            code = "push_config_failed",
                            "push: no config: {}",
                            e.reason
                        );
                        self.back_off().await;
                        continue;
                    }
                }
            }
            let Some(current) = &self.config else {
                continue;
            };
            let config = current.config.clone();
            let refresh_at = current.refresh_at;
            let polling_due = self
                .polling_since
                .is_some_and(|since| since.elapsed() < self.options.websocket_retry);
            let next = if config.has_websocket() && !(polling_due && config.has_long_polling()) {
                self.websocket(&config, refresh_at).await
            } else {
                self.long_poll(&config, refresh_at).await
            };
            match next {
                Next::Refetch(wait) => {
                    self.config = None;
                    self.wait(0, wait).await;
                }
                Next::Reconnect(wait) => self.wait(0, wait).await,
                Next::Failed => self.back_off().await,
            }
        }
    }

    fn set(&self, status: PushStatus) {
        if *self.status.borrow() == status {
            return;
        }
        tracing::info!(?status, "push status");
        if let Some(observe) = &self.options.on_status {
            observe(&status);
        }
        self.status.send_replace(status);
    }

    async fn unavailable(&mut self, reason: String) {
        self.config = None;
        self.set(PushStatus::Unavailable { reason });
        // Asked again rarely: a sign-in that changes restarts the client anyway.
        tokio::time::sleep(self.options.backoff.longest()).await;
    }

    async fn back_off(&mut self) {
        self.failures += 1;
        let wait = self.options.backoff.delay(self.failures);
        self.wait(self.failures, wait).await;
    }

    async fn wait(&self, attempt: u32, wait: Duration) {
        self.set(PushStatus::Reconnecting {
            attempt,
            next_in: wait,
        });
        tokio::time::sleep(wait).await;
    }

    fn opened(&mut self, transport: Transport) {
        self.failures = 0;
        if transport == Transport::WebSocket {
            self.websocket_failures = 0;
            self.polling_since = None;
        }
        self.set(PushStatus::Connected { transport });
    }

    /// min(private.end, exp), but not sooner than `min_refresh`.
    fn refresh_at(&self, config: &PushConfig) -> tokio::time::Instant {
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_secs())
            .unwrap_or(0);
        let wait = match config.expires_at {
            Some(at) => Duration::from_secs(at.saturating_sub(now)),
            // Nothing says when: the JS clients check every minute; a day is the cloud's exp.
            None => Duration::from_secs(86_400),
        };
        tokio::time::Instant::now() + wait.max(self.options.min_refresh)
    }

    /// A WebSocket open failed; `refused`: the server answered the upgrade with an HTTP error.
    fn websocket_failed(&mut self, config: &PushConfig, refused: bool) -> Next {
        if !config.has_long_polling() {
            return Next::Failed;
        }
        if self.polling_since.is_some() {
            // The periodic retry from long polling: back to polling at once.
            self.polling_since = Some(Instant::now());
            return Next::Reconnect(Duration::ZERO);
        }
        self.websocket_failures += 1;
        if refused || self.websocket_failures > self.options.websocket_failures {
            tracing::warn!(
                code = "push_long_polling",
                refused,
                failures = self.websocket_failures,
                "push: the WebSocket does not work, long polling instead"
            );
            self.websocket_failures = 0;
            self.polling_since = Some(Instant::now());
            return Next::Reconnect(Duration::ZERO);
        }
        Next::Failed
    }

    async fn websocket(&mut self, config: &PushConfig, refresh_at: tokio::time::Instant) -> Next {
        let Some(url) = config.websocket_url(self.recent.last()) else {
            return Next::Failed;
        };
        let connect = tokio::time::timeout(
            self.options.connect_timeout,
            tokio_tungstenite::connect_async(url),
        )
        .await;
        let mut socket = match connect {
            Ok(Ok((socket, _))) => socket,
            Ok(Err(tungstenite::Error::Http(response))) => {
                tracing::warn!(
                    code = "push_websocket_refused",
                    status = response.status().as_u16(),
                    "push: the server refused the WebSocket"
                );
                return self.websocket_failed(config, true);
            }
            Ok(Err(e)) => {
                tracing::warn!(
                    code = "push_websocket_failed",
                    "push: cannot open the WebSocket: {}",
                    describe(&e)
                );
                return self.websocket_failed(config, false);
            }
            Err(_) => {
                tracing::warn!(
                    code = "push_websocket_failed",
                    "push: opening the WebSocket timed out"
                );
                return self.websocket_failed(config, false);
            }
        };
        self.opened(Transport::WebSocket);
        loop {
            tokio::select! {
                read = tokio::time::timeout(self.options.idle_timeout, socket.next()) => {
                    let message = match read {
                        Err(_) => {
                            tracing::warn!(code = "push_idle", "push: nothing from the server for too long");
                            return Next::Failed;
                        }
                        Ok(None) => {
                            tracing::info!("push: the WebSocket ended");
                            return Next::Failed;
                        }
                        Ok(Some(Err(e))) => {
                            tracing::info!("push: the WebSocket broke: {}", describe(&e));
                            return Next::Failed;
                        }
                        Ok(Some(Ok(message))) => message,
                    };
                    match message {
                        Message::Text(text) => {
                            if let Some(next) = self.frame(text.as_str()) {
                                let _ = socket.close(None).await;
                                return next;
                            }
                        }
                        Message::Close(frame) => {
                            let code = frame.as_ref().map(|f| u16::from(f.code));
                            tracing::info!(?code, "push: the server closed the WebSocket");
                            if code == Some(4010) {
                                return Next::Refetch(pick(&self.options.wrong_channel_delay));
                            }
                            return Next::Failed;
                        }
                        // Pings are answered by tungstenite as we read; binary is not ours.
                        _ => {}
                    }
                }
                _ = tokio::time::sleep_until(refresh_at) => {
                    tracing::info!("push: the channel or config expires: fetching a new one");
                    let _ = socket.close(None).await;
                    return Next::Refetch(Duration::ZERO);
                }
            }
        }
    }

    async fn long_poll(&mut self, config: &PushConfig, refresh_at: tokio::time::Instant) -> Next {
        let agent = match poll_agent(self.options.poll_timeout) {
            Ok(agent) => agent,
            Err(reason) => {
                tracing::warn!(code = "push_poll_failed", "push: {reason}");
                return Next::Failed;
            }
        };
        let started = Instant::now();
        let mut connected = false;
        loop {
            if config.has_websocket() && started.elapsed() >= self.options.websocket_retry {
                tracing::info!("push: trying the WebSocket again");
                return Next::Reconnect(Duration::ZERO);
            }
            let Some(url) = config.long_polling_url(self.recent.last()) else {
                return Next::Failed;
            };
            // Dropped (and the request with it) when the config must be fetched again.
            let rx = poll_once(&agent, &url);
            tokio::pin!(rx);
            let connected_after = tokio::time::sleep(self.options.polling_connected_after);
            tokio::pin!(connected_after);
            let result = loop {
                tokio::select! {
                    result = &mut rx => break result,
                    _ = &mut connected_after, if !connected => {
                        connected = true;
                        self.opened(Transport::LongPolling);
                    }
                    _ = tokio::time::sleep_until(refresh_at) => return Next::Refetch(Duration::ZERO),
                }
            };
            match result {
                Poll::Messages(body) => {
                    if !connected {
                        connected = true;
                        self.opened(Transport::LongPolling);
                    }
                    if let Some(next) = self.frame(&body) {
                        return next;
                    }
                }
                Poll::NotModified(last) => {
                    if !connected {
                        connected = true;
                        self.opened(Transport::LongPolling);
                    }
                    if let Some(mid) = last {
                        self.recent.set_last(&mid);
                    }
                }
                Poll::WrongChannel => {
                    return Next::Refetch(pick(&self.options.wrong_channel_delay));
                }
                Poll::Failed(reason) => {
                    tracing::warn!(
                        code = "push_poll_failed",
                        "push: long poll failed: {reason}"
                    );
                    return Next::Failed;
                }
            }
        }
    }

    /// One frame's messages, in order; a system message's instruction comes back once the
    /// whole frame is read (a call behind it in the same frame is not lost).
    fn frame(&mut self, text: &str) -> Option<Next> {
        let mut next = None;
        for item in envelope::split(text) {
            let message = match item {
                Ok(message) => message,
                Err(e) => {
                    tracing::warn!(code = "push_message_unreadable", "push: {e}");
                    continue;
                }
            };
            if !self.recent.first_time(&message.mid) {
                tracing::debug!(mid = %message.mid, "push: a message seen already");
                continue;
            }
            let body = message.body;
            match classify(&body) {
                Verdict::Accept => {
                    tracing::info!(mid = %message.mid, "push: a call");
                    let _ = self.events.send(PushEvent {
                        mid: message.mid,
                        module_id: body.module_id,
                        command: body.command,
                        params: body.params,
                    });
                }
                Verdict::System(system) => {
                    tracing::info!(?system, "push: the server asks to reconnect");
                    next = Some(match system {
                        System::ChannelExpire => Next::Refetch(Duration::ZERO),
                        System::ConfigExpire | System::ServerRestart => {
                            Next::Refetch(pick(&self.options.restart_delay))
                        }
                    });
                }
                Verdict::Ignore => {
                    tracing::info!(
                        code = "push_event_ignored",
                        module_id = %short(&body.module_id),
                        command = %short(&body.command),
                        "push: an event that is not a call for this app, ignored"
                    );
                }
            }
        }
        next
    }
}

/// A random wait in `range`.
fn pick(range: &std::ops::RangeInclusive<Duration>) -> Duration {
    let (lo, hi) = (*range.start(), *range.end());
    if hi <= lo {
        return lo;
    }
    lo + (hi - lo).mul_f64(rand::random::<f64>())
}

fn short(s: &str) -> String {
    s.chars().take(64).collect()
}

/// A WebSocket error in words that never carry the address (it holds the channel id).
fn describe(e: &tungstenite::Error) -> String {
    match e {
        tungstenite::Error::Io(io) => format!("{}", io.kind()),
        tungstenite::Error::Tls(_) => "TLS failed".into(),
        tungstenite::Error::Url(_) => "bad address".into(),
        tungstenite::Error::Http(r) => format!("HTTP {}", r.status().as_u16()),
        tungstenite::Error::ConnectionClosed | tungstenite::Error::AlreadyClosed => "closed".into(),
        tungstenite::Error::Protocol(p) => format!("protocol: {p}"),
        tungstenite::Error::Capacity(_) => "message too large".into(),
        _ => "failed".into(),
    }
}

#[derive(Debug)]
enum Poll {
    Messages(String),
    NotModified(Option<String>),
    WrongChannel,
    Failed(String),
}

/// The 304 of a long poll that waited 40 s carries this `Expires` (bitrix24-push.md §3).
const MAGIC_EXPIRES: &str = "Thu, 01 Jan 1973 11:11:01 GMT";
const MAX_BODY: u64 = 8 * 1024 * 1024;

/// The long-polling client: no redirect followed, the system's proxy (like the REST client),
/// native TLS, each poll bounded by `timeout`.
fn poll_agent(timeout: Duration) -> Result<reqwest::Client, String> {
    reqwest::Client::builder()
        .timeout(timeout)
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .map_err(|_| "TLS is unavailable".to_owned())
}

async fn poll_once(agent: &reqwest::Client, url: &str) -> Poll {
    let mut response = match agent.get(url).send().await {
        Ok(response) => response,
        // Without the address: it holds the channel id.
        Err(e) if e.is_timeout() => return Poll::Failed("timed out".into()),
        Err(e) if e.is_connect() => return Poll::Failed("cannot connect".into()),
        Err(_) => return Poll::Failed("the connection failed".into()),
    };
    let header = |name: &str| {
        response
            .headers()
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(|v| v.trim().to_owned())
    };
    match response.status().as_u16() {
        200 => {
            let mut body = Vec::new();
            loop {
                match response.chunk().await {
                    Ok(Some(chunk)) if (body.len() + chunk.len()) as u64 <= MAX_BODY => {
                        body.extend_from_slice(&chunk)
                    }
                    Ok(Some(_)) => return Poll::Failed("the answer is too large".into()),
                    Ok(None) => break,
                    Err(_) => return Poll::Failed("the answer was cut off".into()),
                }
            }
            match String::from_utf8(body) {
                Ok(body) => Poll::Messages(body),
                Err(_) => Poll::Failed("the answer is not UTF-8".into()),
            }
        }
        304 if header("Expires").as_deref() == Some(MAGIC_EXPIRES) => {
            Poll::NotModified(header("Last-Message-Id").filter(|m| !m.is_empty()))
        }
        400 => {
            let body = response.text().await.unwrap_or_default();
            if body.trim_start().starts_with("4010") {
                Poll::WrongChannel
            } else {
                Poll::Failed("HTTP 400".into())
            }
        }
        status => Poll::Failed(format!("HTTP {status}")),
    }
}
