//! Bitrix24's push channel for an application (`pull.application.*`, bitrix24-push.md), as an
//! async client on tokio. Tauri-free: the app hands it a [`ConfigSource`] (its signed-in REST
//! client calling `pull.application.config.get`) and a runtime handle, and reads [`PushEvent`]s
//! and [`PushStatus`] changes from the [`Subscription`].
//!
//! Our choices (notes/push-contract.md): the private channel only (never the shared one: anyone
//! using the application can publish there), text mode, only `callcompanion`/`call` passes.

pub mod backoff;
mod client;
pub mod config;
pub mod dedupe;
pub mod envelope;
pub mod filter;

use std::future::Future;
use std::ops::RangeInclusive;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

pub use backoff::Backoff;
pub use client::{start, Subscription};
pub use config::{ConfigError, PushConfig};

/// How the client is connected.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Transport {
    WebSocket,
    LongPolling,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PushStatus {
    /// Fetching the config and opening the first connection.
    Connecting,
    Connected {
        transport: Transport,
    },
    /// Waiting `next_in` before reconnecting; `attempt` counts the failures in a row (0 when the
    /// server asked for the reconnect: a rotated channel, an expired config, a restart).
    Reconnecting {
        attempt: u32,
        next_in: Duration,
    },
    /// The portal will not give this session a push channel; `reason` says what to do.
    Unavailable {
        reason: String,
    },
}

/// An accepted event: `callcompanion`/`call` on the private channel.
#[derive(Debug, Clone, PartialEq)]
pub struct PushEvent {
    pub mid: String,
    pub module_id: String,
    pub command: String,
    /// The relay's envelope as published (an object, or `[]` when it had none).
    pub params: serde_json::Value,
}

/// Why no config: `permanent` when asking again will not help until the sign-in changes (a
/// webhook, no `pull` scope): the status says `reason`. Never holds a secret.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{reason}")]
pub struct SourceError {
    pub reason: String,
    pub permanent: bool,
}

impl SourceError {
    pub fn permanent(reason: impl Into<String>) -> SourceError {
        SourceError {
            reason: reason.into(),
            permanent: true,
        }
    }

    pub fn transient(reason: impl Into<String>) -> SourceError {
        SourceError {
            reason: reason.into(),
            permanent: false,
        }
    }
}

pub type ConfigFuture =
    Pin<Box<dyn Future<Output = Result<serde_json::Value, SourceError>> + Send>>;

/// Where the client gets `pull.application.config.get`'s `result` from.
pub trait ConfigSource: Send + Sync + 'static {
    fn fetch(&self) -> ConfigFuture;
}

impl<F, Fut> ConfigSource for F
where
    F: Fn() -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Result<serde_json::Value, SourceError>> + Send + 'static,
{
    fn fetch(&self) -> ConfigFuture {
        Box::pin(self())
    }
}

/// Told every status change, in order (the watch channel keeps only the latest).
pub type StatusObserver = Arc<dyn Fn(&PushStatus) + Send + Sync>;

/// Timings and limits; the defaults follow Bitrix24's documentation and clients. Tests shrink them.
#[derive(Clone)]
pub struct Options {
    pub backoff: Backoff,
    /// After `config_expire` / `server_restart`: the docs say a random 10–120 s.
    pub restart_delay: RangeInclusive<Duration>,
    /// After close code 4010 (wrong channel id): the JS client waits 5–35 s, then a new config.
    pub wrong_channel_delay: RangeInclusive<Duration>,
    /// WebSocket failures in a row before long polling (docs: "more than 4 times").
    pub websocket_failures: u32,
    /// While long polling, how often the WebSocket is tried again (docs: 10–30 min).
    pub websocket_retry: Duration,
    /// A long poll the server holds for 40 s is abandoned after this.
    pub poll_timeout: Duration,
    /// A long poll still open this long means the channel works (the JS client says 5 s).
    pub polling_connected_after: Duration,
    pub connect_timeout: Duration,
    /// No frame (and no ping: the server pings every 120 s) for this long: the socket is dead.
    pub idle_timeout: Duration,
    /// The config is refreshed at min(private.end, exp), but never sooner than this after a fetch.
    pub min_refresh: Duration,
    /// How many message ids are remembered to drop redeliveries.
    pub remembered_mids: usize,
    pub on_status: Option<StatusObserver>,
}

impl Default for Options {
    fn default() -> Options {
        Options {
            backoff: Backoff::default(),
            restart_delay: Duration::from_secs(10)..=Duration::from_secs(120),
            wrong_channel_delay: Duration::from_secs(5)..=Duration::from_secs(35),
            websocket_failures: 4,
            websocket_retry: Duration::from_secs(30 * 60),
            poll_timeout: Duration::from_secs(60),
            polling_connected_after: Duration::from_secs(5),
            connect_timeout: Duration::from_secs(20),
            idle_timeout: Duration::from_secs(250),
            min_refresh: Duration::from_secs(60),
            remembered_mids: 50,
            on_status: None,
        }
    }
}

impl std::fmt::Debug for Options {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Options")
            .field("backoff", &self.backoff)
            .field("restart_delay", &self.restart_delay)
            .field("websocket_failures", &self.websocket_failures)
            .finish_non_exhaustive()
    }
}
