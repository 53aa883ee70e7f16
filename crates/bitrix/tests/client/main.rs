//! The client against the portal simulator over real loopback HTTP.
//!   calls: single calls, typed models, errors by class
//!   batch: references, per-command errors, halt, splitting
//!   paging: lists page by 50
//!   oauth: sign-in, refresh on expiry (one refresh for concurrent callers), rotation
//!   resilience: rate limits, retries, timeouts, dropped answers

mod batch;
mod calls;
mod oauth;
mod paging;
mod resilience;
mod support;
