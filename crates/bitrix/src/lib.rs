//! A Bitrix24 REST client (no `tauri`): calls `{portal}/rest/{method}.json`, reads the documented
//! envelopes into typed results and errors, runs `batch` with `$result` references, pages lists,
//! keeps an OAuth session fresh (one refresh however many callers find the token expired), and
//! paces itself with a leaky bucket like the portal's. Async on `reqwest` and the app's one tokio
//! runtime; a caller's [`Stop`] drops its request mid-flight.
//!
//! Secrets (access and refresh tokens, client secret, webhook secret) are [`Secret`]s: no
//! `Display`, a redacted `Debug`, and the client scrubs them from every error message.

mod batch;
mod client;
mod envelope;
mod error;
mod http;
mod limiter;
pub mod models;
mod oauth;
mod paging;
mod query;
mod retry;
mod secret;
mod stop;

pub use batch::{Batch, BatchResponse, MAX_BATCH_COMMANDS};
pub use client::{on_this_computer, Auth, Client, ClientBuilder, Response};
pub use envelope::ApiTime;
pub use error::{Action, RestError};
pub use limiter::{BucketConfig, LeakyBucket, MethodPauses, MAX_OPERATING_PAUSE_SECS};
pub use oauth::{authorize_url, OAuthApp, OAuthSession, TokenSet, TokenStore, OAUTH_SERVERS};
pub use paging::Pages;
pub use query::build_query;
pub use retry::{decide, is_read_only, wait_for_pause, Decision, RetryPolicy};
pub use secret::Secret;
pub use stop::{Stop, Stopped};
