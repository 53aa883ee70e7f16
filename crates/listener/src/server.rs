//! Sockets and HTTP/1.1: binding loopback, accepting with a connection cap, timeouts on the
//! request head and body, and turning [`Reply`]s into responses.

use std::convert::Infallible;
use std::net::{Ipv4Addr, Ipv6Addr, SocketAddr, TcpListener as StdListener};
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, Instant};

use bytes::Bytes;
use http::{header, Request, Response, StatusCode};
use http_body_util::{BodyExt, Full, Limited};
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::net::TcpListener;
use tokio::sync::Semaphore;
use tokio::task::JoinHandle;

use crate::routes::{self, Reply};
use crate::{holder, rate, Config, Intake, OriginAllowList, Pairing, Shared};

/// A keep-alive connection is closed after this long, whatever it does.
const MAX_CONNECTION_LIFETIME: Duration = Duration::from_secs(120);
/// Of a refused request's body, this much is read and dropped so the client sees the answer
/// instead of a connection reset.
const DRAIN_LIMIT: usize = 256 * 1024;

#[derive(Debug, thiserror::Error)]
pub enum ListenError {
    #[error("port {port} on 127.0.0.1 is already in use{}; close that program or start Call Companion with --listen-port", holder.as_ref().map(|h| format!(" by {h}")).unwrap_or_default())]
    PortInUse { port: u16, holder: Option<String> },
    #[error("cannot listen on {address}: {source}")]
    Bind {
        address: SocketAddr,
        #[source]
        source: std::io::Error,
    },
}

impl ListenError {
    pub fn code(&self) -> codes::ErrorCode {
        match self {
            ListenError::PortInUse { .. } => codes::ErrorCode::PortInUse,
            ListenError::Bind { .. } => codes::ErrorCode::ListenFailed,
        }
    }
}

/// Sockets bound on loopback, not yet served. Binding is synchronous so start-up can report a
/// taken port before anything else happens.
pub struct Bound {
    listeners: Vec<StdListener>,
    port: u16,
    config: Config,
}

/// Binds `127.0.0.1:port` and, when the machine has IPv6, `[::1]:port`.
pub fn bind(config: Config) -> Result<Bound, ListenError> {
    let v4 = SocketAddr::from((Ipv4Addr::LOCALHOST, config.port));
    let first = StdListener::bind(v4).map_err(|source| match source.kind() {
        std::io::ErrorKind::AddrInUse => ListenError::PortInUse {
            port: config.port,
            holder: holder::listening_process(config.port),
        },
        _ => ListenError::Bind {
            address: v4,
            source,
        },
    })?;
    let port = first
        .local_addr()
        .map_err(|source| ListenError::Bind {
            address: v4,
            source,
        })?
        .port();
    let mut listeners = vec![first];
    let v6 = SocketAddr::from((Ipv6Addr::LOCALHOST, port));
    match StdListener::bind(v6) {
        Ok(listener) => listeners.push(listener),
        Err(e) if e.kind() == std::io::ErrorKind::AddrInUse => {
            return Err(ListenError::PortInUse {
                port,
                holder: holder::listening_process(port),
            })
        }
        // No IPv6 on this machine: 127.0.0.1 is what the relay and `simulate` use anyway.
        Err(e) => tracing::info!("not listening on {v6}: {e}"),
    }
    for listener in &listeners {
        listener
            .set_nonblocking(true)
            .map_err(|source| ListenError::Bind {
                address: v4,
                source,
            })?;
    }
    Ok(Bound {
        listeners,
        port,
        config,
    })
}

impl Bound {
    pub fn port(&self) -> u16 {
        self.port
    }

    pub fn addresses(&self) -> Vec<SocketAddr> {
        self.listeners
            .iter()
            .filter_map(|l| l.local_addr().ok())
            .collect()
    }

    /// Starts serving on the current Tokio runtime.
    pub fn serve(
        self,
        pairing: Arc<Pairing>,
        intake: Arc<dyn Intake>,
    ) -> Result<Running, ListenError> {
        let config = self.config;
        let shared = Arc::new(Shared {
            port: self.port,
            origins: RwLock::new(config.origins),
            limiter: Mutex::new(rate::RateLimiter::new(config.rate)),
            pairing,
            intake,
            tab_nonces: Mutex::default(),
            max_body: config.max_body,
            header_timeout: config.header_timeout,
            body_timeout: config.body_timeout,
            app_name: config.app_name,
            app_version: config.app_version,
        });
        let permits = Arc::new(Semaphore::new(config.max_connections.max(1)));
        let mut tasks = Vec::new();
        for listener in self.listeners {
            let address = listener.local_addr().ok();
            let listener = TcpListener::from_std(listener).map_err(|source| ListenError::Bind {
                address: address
                    .unwrap_or_else(|| SocketAddr::from((Ipv4Addr::LOCALHOST, self.port))),
                source,
            })?;
            tasks.push(tokio::spawn(accept_loop(
                listener,
                shared.clone(),
                permits.clone(),
            )));
        }
        tracing::info!(port = self.port, "listening for call contexts");
        Ok(Running {
            shared,
            tasks,
            port: self.port,
        })
    }
}

/// The served listener. Dropping it stops accepting connections.
pub struct Running {
    shared: Arc<Shared>,
    tasks: Vec<JoinHandle<()>>,
    port: u16,
}

impl Running {
    pub fn port(&self) -> u16 {
        self.port
    }

    /// Replaces the origin allow-list (after sign-in the portal's origin joins it).
    pub fn set_origins(&self, origins: OriginAllowList) {
        *self
            .shared
            .origins
            .write()
            .unwrap_or_else(|e| e.into_inner()) = origins;
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        for task in &self.tasks {
            task.abort();
        }
    }
}

async fn accept_loop(listener: TcpListener, shared: Arc<Shared>, permits: Arc<Semaphore>) {
    loop {
        let Ok(permit) = permits.clone().acquire_owned().await else {
            return;
        };
        let (stream, peer) = match listener.accept().await {
            Ok(accepted) => accepted,
            Err(e) => {
                // Out of file descriptors and the like: wait instead of spinning.
                tracing::warn!("accept failed: {e}");
                tokio::time::sleep(Duration::from_millis(100)).await;
                continue;
            }
        };
        let shared = shared.clone();
        tokio::spawn(async move {
            let _permit = permit;
            let header_timeout = shared.header_timeout;
            let service = service_fn(move |request| {
                let shared = shared.clone();
                async move { Ok::<_, Infallible>(respond(request, peer, shared).await) }
            });
            let connection = http1::Builder::new()
                .timer(TokioTimer::new())
                .header_read_timeout(header_timeout)
                .serve_connection(TokioIo::new(stream), service);
            match tokio::time::timeout(MAX_CONNECTION_LIFETIME, connection).await {
                Ok(Err(e)) => tracing::debug!(%peer, "connection ended: {e}"),
                Err(_) => tracing::debug!(%peer, "connection closed after its lifetime"),
                Ok(Ok(())) => {}
            }
        });
    }
}

async fn respond(
    request: Request<Incoming>,
    peer: SocketAddr,
    shared: Arc<Shared>,
) -> Response<Full<Bytes>> {
    let shared = &shared;
    let (parts, body) = request.into_parts();
    let origin = parts
        .headers
        .get(header::ORIGIN)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let mut reply = match routes::check_head(&parts, peer.ip(), shared, Instant::now()) {
        Ok((routes::Route::OAuthCallback, _)) => {
            drain(body).await;
            let query = parts.uri.query().unwrap_or_default().to_owned();
            let served = shared.clone();
            tokio::task::spawn_blocking(move || routes::oauth_callback(&query, &served))
                .await
                .unwrap_or_else(|_| {
                    Reply::page(
                        http::StatusCode::INTERNAL_SERVER_ERROR,
                        "Call Companion",
                        "The sign-in could not be finished; try again.",
                    )
                })
        }
        Ok((routes::Route::Tab { origin }, limit)) => {
            match read_body(body, limit, shared.body_timeout).await {
                Ok(bytes) => {
                    let query = parts.uri.query().unwrap_or_default().to_owned();
                    let served = shared.clone();
                    let lang = crate::tab::Lang::from_query(&query);
                    let page_origin = origin.clone();
                    // A task of its own, so a panic in the app's proof is a page, not a
                    // dropped connection.
                    tokio::spawn(async move {
                        routes::tab(&page_origin, &query, bytes.to_vec(), &served).await
                    })
                    .await
                    .unwrap_or_else(|_| {
                        Reply::tab(
                            &crate::tab::TabVerdict::PortalUnreachable {
                                code: codes::ErrorCode::Internal,
                            },
                            lang,
                            None,
                        )
                    })
                }
                Err(reply) => reply,
            }
        }
        Ok((route, limit)) => match read_body(body, limit, shared.body_timeout).await {
            Ok(bytes) => routes::handle(route, &bytes, shared, Instant::now()),
            Err(reply) => reply,
        },
        Err(reply) => {
            drain(body).await;
            reply
        }
    };
    routes::cors(&mut reply, origin.as_deref(), shared);
    // Method, path and status only: headers carry the token and bodies carry personal data.
    tracing::info!(method = %parts.method, path = parts.uri.path(), status = reply.status.as_u16(), "listener request");
    into_response(reply)
}

async fn read_body(body: Incoming, limit: usize, timeout: Duration) -> Result<Bytes, Reply> {
    match tokio::time::timeout(timeout, Limited::new(body, limit).collect()).await {
        Ok(Ok(collected)) => Ok(collected.to_bytes()),
        Ok(Err(e)) if e.is::<http_body_util::LengthLimitError>() => Err(routes::too_large(limit)),
        Ok(Err(e)) => Err(Reply::error(
            StatusCode::BAD_REQUEST,
            codes::ErrorCode::BadRequest,
            format!("could not read the body: {e}"),
        )),
        Err(_) => Err(Reply::error(
            StatusCode::REQUEST_TIMEOUT,
            codes::ErrorCode::RequestTimeout,
            format!("the body did not arrive within {} s", timeout.as_secs()),
        )),
    }
}

async fn drain(body: Incoming) {
    let _ = tokio::time::timeout(
        Duration::from_secs(1),
        Limited::new(body, DRAIN_LIMIT).collect(),
    )
    .await;
}

fn into_response(reply: Reply) -> Response<Full<Bytes>> {
    let is_page = reply.page.is_some();
    let csp = reply.page.as_ref().and_then(|p| p.csp.clone());
    let asset_type = reply.asset.map(|(content_type, _)| content_type);
    let body = match (reply.asset, reply.page, reply.body) {
        (Some((_, bytes)), _, _) => Bytes::from_static(bytes),
        (None, Some(page), _) => Bytes::from(page.html),
        (None, None, Some(json)) => Bytes::from(json.to_string()),
        (None, None, None) => Bytes::new(),
    };
    let has_body = !body.is_empty();
    let mut response = Response::new(Full::new(body));
    *response.status_mut() = reply.status;
    let headers = response.headers_mut();
    if let Some(content_type) = asset_type {
        headers.insert(
            header::CONTENT_TYPE,
            header::HeaderValue::from_static(content_type),
        );
        headers.insert(
            header::REFERRER_POLICY,
            header::HeaderValue::from_static("no-referrer"),
        );
    } else if is_page {
        headers.insert(
            header::CONTENT_TYPE,
            header::HeaderValue::from_static("text/html; charset=utf-8"),
        );
        // A plain page runs no script and loads nothing; the call-card tab says what it loads.
        let csp = csp
            .and_then(|csp| header::HeaderValue::from_str(&csp).ok())
            .unwrap_or_else(|| {
                header::HeaderValue::from_static("default-src 'none'; style-src 'unsafe-inline'")
            });
        headers.insert(header::CONTENT_SECURITY_POLICY, csp);
        headers.insert(
            header::REFERRER_POLICY,
            header::HeaderValue::from_static("no-referrer"),
        );
    } else if has_body {
        headers.insert(
            header::CONTENT_TYPE,
            header::HeaderValue::from_static("application/json"),
        );
    }
    headers.insert(
        header::CACHE_CONTROL,
        header::HeaderValue::from_static("no-store"),
    );
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        header::HeaderValue::from_static("nosniff"),
    );
    for (name, value) in reply.headers {
        headers.append(name, value);
    }
    response
}
