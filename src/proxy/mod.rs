//! Forwarding to a backend: the `--proxy PREFIX=URL` rules ([`rule`]), HTTP forwarding with
//! streamed bodies ([`forward`]), and WebSocket tunnels spliced byte for byte ([`tunnel`]).
//!
//! [`Proxy`] owns what it needs — its rules, its pool of backend connections ([`pool`]), the client
//! tag for the HTML it injects, and the server's shutdown for its tunnels — and nothing of files or
//! reload.

mod forward;
mod headers;
mod pool;
#[cfg(fuzzing)]
pub(crate) use headers::strip_hop_by_hop;
mod resolve;
pub(crate) mod rule;
mod tls;
mod tunnel;

use std::sync::Arc;
use std::time::Duration;

use axum::extract::Request;
use axum::response::Response;
use hyper_rustls::{HttpsConnector, HttpsConnectorBuilder};
use hyper_util::client::legacy::connect::dns::GaiResolver;
use hyper_util::client::legacy::connect::HttpConnector;
use tokio::sync::{mpsc, watch};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::error::ServeError;
use crate::inject::ClientTag;
use crate::reload::protocol::RESERVED_PREFIX;
use crate::web::pages::render;
use crate::web::Page;
pub(crate) use headers::ForwardedFor;
use resolve::LoopbackResolver;
pub(crate) use rule::ProxyRule;
pub(crate) use tunnel::{Plain, PlainClient};

/// How long to wait for a backend to accept a connection (a refused one fails at once).
const CONNECT_TIMEOUT: Duration = Duration::from_secs(1);

/// The proxy rules and the client that forwards to them.
pub(crate) struct Proxy {
    /// Longest prefix first, so the most specific rule wins.
    rules: Vec<Arc<ProxyRule>>,
    connector: Connector,
    /// Keep-alive connections to the backends, driven by the requests that use them.
    pool: pool::Pool,
    /// How long a backend may take to start answering.
    timeout: Duration,
    /// The tag injected into the backend's HTML pages; `None` with `--no-reload`.
    client_tag: Option<ClientTag>,
    /// Tunnels end with the server.
    shutdown: CancellationToken,
    tracker: TaskTracker,
    /// With `--run`: what the backend is doing. Requests wait while it starts (bounded by the
    /// timeout), and tunnels to the old process are closed with 1012 (service restart).
    backend_ready: Option<watch::Receiver<Backend>>,
    /// Takes a client's plain socket out of its upgraded connection, so that a tunnel copies
    /// between sockets (the serving side knows what its connections are).
    plain_client: PlainClient,
    /// Told of each request a backend refused (it is down), so that the tabs that asked are
    /// reloaded once it is back.
    down: Option<mpsc::Sender<Refused>>,
}

/// What the `--run` backend is doing, as the proxy needs to know it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Backend {
    Ready,
    /// Starting or restarting: requests wait for it.
    Starting,
    /// Exited, waiting to start again: requests go on and get a 502 at once.
    Down,
}

/// A request a backend refused: which backend, and the request's path.
#[derive(Debug, Clone)]
pub(crate) struct Refused {
    pub(crate) host: String,
    pub(crate) port: u16,
    pub(crate) path: String,
}

/// Connections to backends: plain TCP for `http://`, TLS over it for `https://`.
type Connector = HttpsConnector<HttpConnector<LoopbackResolver>>;

impl Proxy {
    pub(crate) fn new(
        rules: Vec<ProxyRule>,
        timeout: Duration,
        client_tag: Option<ClientTag>,
        shutdown: CancellationToken,
        tracker: TaskTracker,
    ) -> Result<Self, crate::error::StartError> {
        let mut rules: Vec<Arc<ProxyRule>> = rules.into_iter().map(Arc::new).collect();
        rules.sort_by_key(|r| std::cmp::Reverse(r.prefix.len()));
        let mut tcp = HttpConnector::new_with_resolver(LoopbackResolver::new(GaiResolver::new()));
        tcp.set_connect_timeout(Some(CONNECT_TIMEOUT));
        tcp.set_nodelay(true);
        tcp.enforce_http(false);
        let tls = tls::client_config(rules.iter().any(|r| r.target.tls)).map_err(|e| {
            crate::error::StartError::Tls(format!("TLS towards backends could not be set up: {e}"))
        })?;
        let connector = HttpsConnectorBuilder::new()
            .with_tls_config(tls)
            .https_or_http()
            .enable_http1()
            .wrap_connector(tcp);
        let pool = pool::Pool::new(connector.clone(), rules.iter().map(|r| &r.target));
        Ok(Proxy {
            rules,
            pool,
            connector,
            timeout,
            client_tag,
            shutdown,
            tracker,
            backend_ready: None,
            plain_client: tunnel::no_plain_client,
            down: None,
        })
    }

    /// Tells `down` of every request a backend refused.
    pub(crate) fn telling(mut self, down: mpsc::Sender<Refused>) -> Self {
        self.down = Some(down);
        self
    }

    /// Notes that the backend of `rule` refused the request for `path`.
    fn refused(&self, rule: &ProxyRule, path: &str) {
        if let Some(down) = &self.down {
            // Bounded: when the queue is full, the tabs still have their own retries.
            let _ = down.try_send(Refused {
                host: rule.target.host.clone(),
                port: rule.target.port,
                path: path.to_string(),
            });
        }
    }

    /// Has tunnels take a client's plain socket out with `plain`.
    pub(crate) fn with_plain_clients(mut self, plain: PlainClient) -> Self {
        self.plain_client = plain;
        self
    }

    /// Waits for `ready` before forwarding (with `--run`).
    pub(crate) fn waiting_for(mut self, ready: Option<watch::Receiver<Backend>>) -> Self {
        self.backend_ready = ready;
        self
    }

    /// Waits, up to the timeout, for a backend that is (re)starting; false when it was still
    /// starting then. A backend that is down is not waited for.
    async fn backend_is_ready(&self) -> bool {
        let Some(state) = &self.backend_ready else {
            return true;
        };
        if *state.borrow() != Backend::Starting {
            return true;
        }
        let mut state = state.clone();
        tokio::time::timeout(self.timeout, state.wait_for(|s| *s != Backend::Starting))
            .await
            .is_ok_and(|r| r.is_ok())
    }

    /// The rule a request path falls under, if any; devserve's own paths never do.
    pub(crate) fn route(&self, path: &str) -> Option<&Arc<ProxyRule>> {
        if path.starts_with(RESERVED_PREFIX) {
            return None;
        }
        self.rules.iter().find(|r| r.matches(path))
    }

    /// Forwards one request under `rule` (HTTP or a WebSocket upgrade) and returns the backend's
    /// answer, or devserve's 502/504 page. `peer` is the client, for `X-Forwarded-For`.
    pub(crate) async fn forward(
        &self,
        rule: &ProxyRule,
        req: Request,
        peer: Option<&ForwardedFor>,
    ) -> Response {
        forward::forward(self, rule, req, peer).await
    }
}

/// The 502 page (or line) for a backend that cannot be reached, logged.
fn bad_gateway(page: &Page<'_>, authority: &str, why: &str) -> Response {
    tracing::warn!(
        "proxy: {}: cannot reach the backend at {authority} ({why})",
        page.path
    );
    let error = ServeError::BadGateway {
        authority: authority.to_string(),
        why: why.to_string(),
    };
    render(&error, page)
}

/// The 504 page (or line) for a backend that accepted but never answered, logged.
fn gateway_timeout(page: &Page<'_>, authority: &str, after: Duration) -> Response {
    tracing::warn!(
        "proxy: {}: the backend at {authority} did not answer within {} s",
        page.path,
        after.as_secs_f32()
    );
    let error = ServeError::GatewayTimeout {
        authority: authority.to_string(),
        after,
    };
    render(&error, page)
}

/// The innermost cause of an error, which is the one that says what happened.
fn root_cause(e: &(dyn std::error::Error + 'static)) -> String {
    let mut cause = e;
    while let Some(next) = cause.source() {
        cause = next;
    }
    cause.to_string()
}
