//! Accepting connections and serving each with hyper: the time a request head may take is
//! bounded, and so is the number of connections open at once.
//!
//! axum's `serve` sets no timer, so a peer that sends half a request head and stops kept its
//! connection (and its buffer) forever. Here hyper's `header_read_timeout` drops it; a slow but
//! live download, an event stream or a WebSocket is not a request head and is never cut.

use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::body::Body;
use axum::extract::Request;
use axum::serve::Listener as _;
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::service::TowerToHyperService;
use tokio::sync::Semaphore;
use tokio_rustls::TlsAcceptor;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use tower::ServiceExt as _;

use super::app::App;
use crate::files::sendfile;

/// Connections open at once, at most (well above a thousand tabs' reload sockets).
const MAX_CONNECTIONS: usize = 4096;
/// File descriptors kept free for files, watches and backends, below the process's limit.
const FD_MARGIN: usize = 256;

/// Bounds on what peers may hold.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Limits {
    pub(crate) head_timeout: Duration,
    pub(crate) max_connections: usize,
    /// How long a connection may take to finish its request once shutdown begins.
    pub(crate) grace: Duration,
}

/// The default cap on connections: kept below the open-file limit.
pub(crate) fn default_max_connections() -> usize {
    MAX_CONNECTIONS.min(open_file_limit().saturating_sub(FD_MARGIN).max(64))
}

/// The process's soft limit on open files (effectively none where it cannot be read).
fn open_file_limit() -> usize {
    #[cfg(target_os = "linux")]
    {
        let limit = rustix::process::getrlimit(rustix::process::Resource::Nofile);
        limit
            .current
            .map_or(usize::MAX, |n| usize::try_from(n).unwrap_or(usize::MAX))
    }
    #[cfg(not(target_os = "linux"))]
    {
        usize::MAX
    }
}

/// Serves one connection until it ends, or asks it to finish its request once `shutdown` is
/// cancelled and drops it after the grace period (a proxied event stream never ends).
macro_rules! drive {
    ($conn:expr, $peer:expr, $limits:expr, $shutdown:expr) => {{
        let mut conn = std::pin::pin!($conn);
        tokio::select! {
            served = conn.as_mut() => {
                if let Err(e) = served {
                    tracing::trace!("connection from {}: {e}", $peer);
                }
            }
            _ = $shutdown.cancelled() => {
                conn.as_mut().graceful_shutdown();
                let _ = tokio::time::timeout($limits.grace, conn).await;
            }
        }
    }};
}
pub(crate) use drive;

/// Accepts and serves connections until `shutdown`; then asks each to finish its current
/// request. The connections' tasks are on `conns`, for the caller to wait for.
pub(crate) async fn serve(
    mut listener: sendfile::Listener,
    app: App,
    limits: Limits,
    shutdown: CancellationToken,
    conns: TaskTracker,
    tls: Option<TlsAcceptor>,
) {
    let slots = Arc::new(Semaphore::new(limits.max_connections));
    let mut warned: Option<Instant> = None;
    loop {
        let (stream, peer) = tokio::select! {
            accepted = listener.accept() => accepted,
            _ = shutdown.cancelled() => break,
        };
        let Ok(slot) = slots.clone().try_acquire_owned() else {
            // Closed at once: the peer sees the connection reset, and the rest are unharmed.
            drop(stream);
            if warned.is_none_or(|at| at.elapsed() > Duration::from_secs(60)) {
                tracing::warn!(
                    "{} connections are open: refusing more until some close",
                    limits.max_connections
                );
                warned = Some(Instant::now());
            }
            continue;
        };
        // No Nagle delay: a reload message, or the last part of a large file, goes out at once
        // rather than waiting for the peer to acknowledge what came before.
        if let Err(e) = stream.tcp().set_nodelay(true) {
            tracing::debug!("TCP_NODELAY not set: {e}");
        }
        let shutdown = shutdown.clone();
        if let Some(acceptor) = &tls {
            let (acceptor, app) = (acceptor.clone(), app.clone());
            conns.spawn(async move {
                super::tls::serve_secure(stream, peer, acceptor, app, limits, shutdown).await;
                drop(slot);
            });
            continue;
        }
        let service = app
            .clone()
            .for_peer(peer)
            .map_request(|req: Request<Incoming>| req.map(Body::new));
        let conn = http1::Builder::new()
            .timer(TokioTimer::new())
            .header_read_timeout(limits.head_timeout)
            .serve_connection(TokioIo::new(stream), TowerToHyperService::new(service))
            .with_upgrades();
        conns.spawn(async move {
            drive!(conn, peer, limits, shutdown);
            drop(slot);
        });
    }
}
