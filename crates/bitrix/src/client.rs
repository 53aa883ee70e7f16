//! The client: a builder with a base-URL override, one agent, the leaky bucket and the retry
//! policy around every call.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use serde::de::DeserializeOwned;
use serde_json::Value;

use crate::batch::{Batch, BatchResponse};
use crate::envelope::{self, ApiTime};
use crate::error::RestError;
use crate::http;
use crate::limiter::{BucketConfig, LeakyBucket, MethodPauses};
use crate::oauth::OAuthSession;
use crate::paging::Pages;
use crate::retry::{decide, is_read_only, wait_for_pause, Decision, RetryPolicy};
use crate::secret::{scrub, Secret};
use crate::stop::Stop;

/// How requests are signed.
#[derive(Clone)]
pub enum Auth {
    /// An incoming webhook URL `https://{portal}/rest/{user_id}/{secret}/`: the secret is the URL.
    Webhook(Secret),
    /// An OAuth session: `auth=<access token>` in each request body.
    OAuth(Arc<OAuthSession>),
    /// One access token and nothing to refresh it with: the call card's `AUTH_ID`, used to
    /// prove a tab's POST against the configured portal. An expired token is not retried.
    Token(Secret),
}

/// A successful call.
#[derive(Debug, Clone, PartialEq)]
pub struct Response {
    pub result: Value,
    pub total: Option<u64>,
    pub next: Option<u64>,
    pub time: Option<ApiTime>,
}

#[derive(Clone)]
pub struct Client {
    inner: Arc<Inner>,
    /// Set on a copy for one caller's requests (`Client::stopping`).
    stop: Option<Stop>,
}

struct Inner {
    agent: reqwest::Client,
    /// Ends with `/`; the method name and `.json` are appended.
    endpoint: String,
    auth: Auth,
    bucket: Mutex<LeakyBucket>,
    /// Methods the portal paused with `OPERATION_TIME_LIMIT` (per method, not the client).
    pauses: Mutex<MethodPauses>,
    retry: RetryPolicy,
    timeout: Duration,
}

pub struct ClientBuilder {
    auth: Option<Auth>,
    base_url: Option<String>,
    timeout: Duration,
    bucket: BucketConfig,
    retry: RetryPolicy,
}

impl Client {
    pub fn builder() -> ClientBuilder {
        ClientBuilder {
            auth: None,
            base_url: None,
            timeout: Duration::from_secs(20),
            bucket: BucketConfig::default(),
            retry: RetryPolicy::default(),
        }
    }

    /// The same client (one bucket, one session) whose requests end when `stop` says so: no
    /// attempt after it, waits cut short, each request's timeout no longer than what is left.
    pub fn stopping(&self, stop: Stop) -> Client {
        Client {
            inner: self.inner.clone(),
            stop: Some(stop),
        }
    }

    /// Waits `wait`, or until this client's caller stops wanting the answer.
    async fn wait(&self, wait: Duration) -> Result<(), RestError> {
        match &self.stop {
            Some(stop) => stop.sleep(wait).await.map_err(Into::into),
            None => {
                tokio::time::sleep(wait).await;
                Ok(())
            }
        }
    }

    /// Calls `method` with `params` (a JSON object), retrying as the policy says.
    pub async fn call(&self, method: &str, params: Value) -> Result<Response, RestError> {
        let body = |auth: Option<&str>| {
            let mut params = match &params {
                Value::Object(map) => map.clone(),
                Value::Null => Default::default(),
                other => {
                    return Err(RestError::Config(format!(
                        "parameters of {method} must be an object, not {other}"
                    )))
                }
            };
            if let Some(auth) = auth {
                params.insert("auth".into(), Value::String(auth.to_owned()));
            }
            Ok(Value::Object(params).to_string())
        };
        self.send(method, is_read_only(method), body).await
    }

    /// Calls `method` and reads its `result` as `T`.
    pub async fn call_as<T: DeserializeOwned>(
        &self,
        method: &str,
        params: Value,
    ) -> Result<T, RestError> {
        let response = self.call(method, params).await?;
        serde_json::from_value(response.result)
            .map_err(|e| RestError::BadResponse(format!("{method}: {e}")))
    }

    /// Runs one batch of at most 50 commands.
    pub async fn batch(&self, batch: &Batch) -> Result<BatchResponse, RestError> {
        batch.check()?;
        let response = self
            .send("batch", batch.is_read_only(), |auth| Ok(batch.body(auth)))
            .await?;
        let mut response = BatchResponse::read(&response.result, batch)?;
        self.note_operating_time(batch, &mut response, now_secs());
        Ok(response)
    }

    /// Each sub-request counts for its own method's operating time (`limits.md`): one refused
    /// with `OPERATION_TIME_LIMIT` inside an otherwise successful batch pauses that method (and
    /// says until when); one that ran tells its method's `operating_reset_at`.
    fn note_operating_time(&self, batch: &Batch, response: &mut BatchResponse, now: f64) {
        let mut pauses = self.pauses();
        for (key, time) in &response.times {
            if let (Some(method), false) = (batch.method_of(key), response.errors.contains_key(key))
            {
                pauses.succeeded(method, time.operating_reset_at);
            }
        }
        for (key, error) in response.errors.iter_mut() {
            if let RestError::OperationTimeLimit { method, .. } = error {
                let reported = response.times.get(key).and_then(|t| t.operating_reset_at);
                let until = pauses.block(method, reported, now);
                tracing::info!(method = %method, key = %key, until = until as u64, "a batch command's method is paused by the portal's operating-time limit");
                *error = paused(method, until, now);
            }
        }
    }

    fn pauses(&self) -> std::sync::MutexGuard<'_, MethodPauses> {
        self.inner.pauses.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Until when the portal paused `method` for this sign-in (`OPERATION_TIME_LIMIT`), if it
    /// still is.
    pub fn paused_until(&self, method: &str) -> Option<u64> {
        self.pauses()
            .paused_until(method, now_secs())
            .map(|until| until.ceil() as u64)
    }

    /// Runs any number of commands, 50 per request, one request after another. With `halt`,
    /// a failure stops the remaining batches too.
    pub async fn batch_all(&self, batch: &Batch) -> Result<BatchResponse, RestError> {
        let mut all = BatchResponse::default();
        for chunk in batch.chunks()? {
            let response = self.batch(&chunk).await?;
            let failed = !response.errors.is_empty();
            all.merge(response);
            if failed && chunk_halts(&chunk) {
                break;
            }
        }
        Ok(all)
    }

    /// Every item of a list method, 50 per request, fetched as the stream is read.
    pub fn list(&self, method: &str, params: Value) -> Pages {
        Pages::new(self.clone(), method, params)
    }

    async fn send(
        &self,
        method: &str,
        read_only: bool,
        body: impl Fn(Option<&str>) -> Result<String, RestError>,
    ) -> Result<Response, RestError> {
        let inner = &self.inner;
        let url = format!("{}{method}.json", inner.endpoint);
        let mut attempt = 0;
        let mut refreshed = false;
        loop {
            attempt += 1;
            self.still_wanted()?;
            // A paused method is not sent: the portal would refuse it again, and the request
            // would spend the rate limit the call centre shares.
            let paused_until = self.pauses().paused_until(method, now_secs());
            if let Some(until) = paused_until {
                match wait_for_pause(&inner.retry, until, now_secs()) {
                    Some(wait) => self.wait(wait).await?,
                    None => {
                        tracing::debug!(method, until = until as u64, "the method is paused");
                        return Err(paused(method, until, now_secs()));
                    }
                }
            }
            let wait = inner
                .bucket
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .reserve(Instant::now());
            if !wait.is_zero() {
                tracing::debug!(
                    method,
                    wait_ms = wait.as_millis() as u64,
                    "pacing to the portal's rate limit"
                );
                self.wait(wait).await?;
            }
            let (token, generation) = match &inner.auth {
                Auth::OAuth(session) => {
                    let access = session.access(now_unix());
                    let (token, generation) = self.until_stopped(access).await?;
                    (Some(token), generation)
                }
                Auth::Token(token) => (Some(token.clone()), 0),
                Auth::Webhook(_) => (None, 0),
            };
            let json = body(token.as_ref().map(Secret::expose))?;
            let timeout = match self.stop.as_ref().and_then(Stop::remaining) {
                // Pacing or a token refresh took what was left.
                Some(left) if left.is_zero() => {
                    return Err(self.still_wanted().err().unwrap_or(RestError::Cancelled))
                }
                Some(left) => left.min(inner.timeout),
                None => inner.timeout,
            };
            let request = inner.agent.post(&url);
            let exchange = http::send(request, Some(json), timeout);
            let outcome = self.until_stopped(exchange).await.and_then(|answer| {
                if (300..400).contains(&answer.status) {
                    return Err(RestError::Redirect {
                        status: answer.status,
                        location: answer.location.unwrap_or_default(),
                    });
                }
                envelope::read(answer.status, &answer.body, method, now_secs())
            });
            let error = match outcome {
                Ok(envelope) => {
                    if method != "batch" {
                        self.pauses().succeeded(
                            method,
                            envelope.time.as_ref().and_then(|t| t.operating_reset_at),
                        );
                    }
                    return Ok(Response {
                        result: envelope.result,
                        total: envelope.total,
                        next: envelope.next,
                        time: envelope.time,
                    });
                }
                Err(RestError::OperationTimeLimit { until, .. }) => {
                    let now = now_secs();
                    let until = self.pauses().block(method, until.map(|u| u as f64), now);
                    tracing::info!(
                        method,
                        until = until as u64,
                        "the portal paused this method (operating-time limit)"
                    );
                    paused(method, until, now)
                }
                Err(error) => self.scrubbed(error),
            };
            match decide(
                &inner.retry,
                attempt,
                &error,
                refreshed,
                read_only,
                jitter(),
            ) {
                Decision::Retry { after } => {
                    tracing::info!(
                        method,
                        attempt,
                        code = error.code().as_str(),
                        wait_ms = after.as_millis() as u64,
                        "retrying a portal call"
                    );
                    self.wait(after).await?;
                }
                Decision::RefreshAndRetry => match &inner.auth {
                    Auth::OAuth(session) => {
                        let refresh = session.refresh_after_expiry(generation, now_unix());
                        self.until_stopped(refresh).await?;
                        refreshed = true;
                    }
                    Auth::Webhook(_) | Auth::Token(_) => return Err(error),
                },
                Decision::GiveUp => {
                    tracing::debug!(
                        method,
                        attempt,
                        code = error.code().as_str(),
                        "portal call failed"
                    );
                    return Err(error);
                }
            }
        }
    }

    /// Runs `work` (a request, a token refresh) until this client's caller stops wanting the
    /// answer: then it is dropped mid-flight. Its errors are scrubbed of the sign-in's secrets.
    async fn until_stopped<T>(
        &self,
        work: impl std::future::Future<Output = Result<T, RestError>>,
    ) -> Result<T, RestError> {
        let outcome = match &self.stop {
            Some(stop) => stop.run(work).await?,
            None => work.await,
        };
        outcome.map_err(|e| self.scrubbed(e))
    }

    /// Err when this client's caller no longer wants the answer (cancelled, or past its
    /// deadline).
    fn still_wanted(&self) -> Result<(), RestError> {
        match &self.stop {
            Some(stop) => stop.check().map_err(Into::into),
            None => Ok(()),
        }
    }

    fn scrubbed(&self, error: RestError) -> RestError {
        let secrets = auth_secrets(&self.inner.auth);
        let refs: Vec<&Secret> = secrets.iter().collect();
        error.map_text(|text| scrub(text, &refs))
    }

    /// The OAuth session's current tokens, when signed in with one.
    pub fn oauth_tokens(&self) -> Option<crate::oauth::TokenSet> {
        match &self.inner.auth {
            Auth::OAuth(session) => Some(session.tokens()),
            _ => None,
        }
    }

    /// Where methods are called (`…/rest/`), without the webhook secret.
    pub fn portal_origin(&self) -> String {
        url::Url::parse(&self.inner.endpoint)
            .map(|u| u.origin().ascii_serialization())
            .unwrap_or_default()
    }
}

/// `OPERATION_TIME_LIMIT` for `method`, paused until `until` (Unix seconds), seen at `now`.
fn paused(method: &str, until: f64, now: f64) -> RestError {
    RestError::OperationTimeLimit {
        method: method.to_owned(),
        until: Some(until.ceil() as u64),
        retry_after_secs: Some((until - now).max(0.0)),
    }
}

fn chunk_halts(batch: &Batch) -> bool {
    batch.body(None).starts_with("{\"halt\":1")
}

/// Every secret a sign-in holds, hidden from messages.
fn auth_secrets(auth: &Auth) -> Vec<Secret> {
    match auth {
        Auth::Webhook(url) => webhook_secrets(url),
        Auth::OAuth(session) => session.secrets(),
        Auth::Token(token) => vec![token.clone()],
    }
}

/// The webhook URL and its secret path segment, both hidden from messages.
fn webhook_secrets(url: &Secret) -> Vec<Secret> {
    let mut secrets = vec![url.clone()];
    if let Ok(parsed) = url::Url::parse(url.expose()) {
        if let Some(secret) = parsed.path_segments().and_then(|mut s| s.nth(2)) {
            secrets.push(Secret::new(secret));
        }
    }
    secrets
}

fn now_secs() -> f64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs_f64())
        .unwrap_or(0.0)
}

fn now_unix() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

/// A number in [0, 1) that differs between processes and calls; not for cryptography.
fn jitter() -> f64 {
    use std::hash::{BuildHasher, Hasher};
    let mut hasher = std::collections::hash_map::RandomState::new().build_hasher();
    hasher.write_u128(
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or(0),
    );
    (hasher.finish() >> 11) as f64 / (1u64 << 53) as f64
}

impl ClientBuilder {
    pub fn webhook(mut self, url: Secret) -> ClientBuilder {
        self.auth = Some(Auth::Webhook(url));
        self
    }

    pub fn oauth(mut self, session: Arc<OAuthSession>) -> ClientBuilder {
        self.auth = Some(Auth::OAuth(session));
        self
    }

    /// Signs every request with this access token alone (needs [`ClientBuilder::base_url`]).
    pub fn access_token(mut self, token: Secret) -> ClientBuilder {
        self.auth = Some(Auth::Token(token));
        self
    }

    /// Calls go to `base_url` instead of the webhook URL or the session's `client_endpoint`
    /// (tests, a proxy).
    pub fn base_url(mut self, base_url: impl Into<String>) -> ClientBuilder {
        self.base_url = Some(base_url.into());
        self
    }

    pub fn timeout(mut self, timeout: Duration) -> ClientBuilder {
        self.timeout = timeout;
        self
    }

    pub fn bucket(mut self, bucket: BucketConfig) -> ClientBuilder {
        self.bucket = bucket;
        self
    }

    pub fn retry(mut self, retry: RetryPolicy) -> ClientBuilder {
        self.retry = retry;
        self
    }

    pub fn build(self) -> Result<Client, RestError> {
        let auth = self.auth.ok_or_else(|| {
            RestError::Config("no sign-in: give a webhook URL or an OAuth session".into())
        })?;
        let endpoint = match (&self.base_url, &auth) {
            (Some(base), _) => base.clone(),
            (None, Auth::Webhook(url)) => url.expose().to_owned(),
            (None, Auth::OAuth(session)) => session.tokens().client_endpoint,
            (None, Auth::Token(_)) => {
                return Err(RestError::Config(
                    "an access token alone needs the portal's address (base_url)".into(),
                ))
            }
        };
        let endpoint = check_endpoint(&endpoint).map_err(|e| {
            let secrets = auth_secrets(&auth);
            let refs: Vec<&Secret> = secrets.iter().collect();
            e.map_text(|t| scrub(t, &refs))
        })?;
        Ok(Client {
            stop: None,
            inner: Arc::new(Inner {
                agent: http::agent(self.timeout)?,
                endpoint,
                auth,
                bucket: Mutex::new(LeakyBucket::new(self.bucket)),
                pauses: Mutex::new(MethodPauses::new()),
                retry: self.retry,
                timeout: self.timeout,
            }),
        })
    }
}

/// Whether `url` names this computer (a loopback address or `localhost`): the one place plain
/// `http` is accepted (the simulator, the app's own pages).
pub fn on_this_computer(url: &url::Url) -> bool {
    match url.host() {
        Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
        Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
        Some(url::Host::Domain(name)) => name.eq_ignore_ascii_case("localhost"),
        None => false,
    }
}

/// `https://…/` (plain `http` only on this computer, for the simulator), ending with `/`.
pub(crate) fn check_endpoint(endpoint: &str) -> Result<String, RestError> {
    let url = url::Url::parse(endpoint)
        .map_err(|_| RestError::Config(format!("{endpoint:?} is not a URL")))?;
    match url.scheme() {
        "https" => {}
        "http" if on_this_computer(&url) => {}
        scheme => {
            return Err(RestError::Config(format!(
                "{endpoint:?}: the portal must be reached over https, not {scheme}"
            )))
        }
    }
    let mut text = url.to_string();
    if !text.ends_with('/') {
        text.push('/');
    }
    Ok(text)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn endpoints_need_https_except_on_loopback() {
        assert_eq!(
            check_endpoint("https://acme.bitrix24.ru/rest").unwrap(),
            "https://acme.bitrix24.ru/rest/"
        );
        assert!(check_endpoint("http://127.0.0.1:9000/rest/").is_ok());
        assert!(check_endpoint("http://acme.bitrix24.ru/rest/").is_err());
        assert!(check_endpoint("acme.bitrix24.ru").is_err());
    }

    #[test]
    fn errors_while_building_never_show_the_webhook_secret() {
        let error = Client::builder()
            .webhook(Secret::new("http://acme.bitrix24.ru/rest/1/s3cr3tvalue/"))
            .build()
            .err()
            .unwrap();
        assert!(!error.to_string().contains("s3cr3tvalue"), "{error}");
    }
}
