//! devserve: a live-reload development server.
//!
//! It serves a folder, injects a small WebSocket client into every HTML page, watches the folder,
//! and tells every open tab when files change: stylesheets are swapped in place, everything else
//! reloads the page. Requests under a `--proxy` prefix go to a backend.
//!
//! # Layout
//! - [`cli`]: the clap flags, no I/O.
//! - [`config`]: flags → a resolved [`Config`].
//! - [`server`]: the application: Host check, files, and the Router for reserved paths and proxies.
//! - [`files`]: static files, listing, 404, containment.
//! - [`inject`]: the pure HTML injection.
//! - [`cache`]: small files held in memory between changes.
//! - [`sendfile`]: the connections, which send large cached files with sendfile(2).
//! - [`watch`]: notify → batches of changes.
//! - [`poll`]: the polling watcher, for file systems without events.
//! - [`reload`]: the hub, the WebSocket endpoint, the message types.
//! - [`proxy`]: forwarding to a backend.
//! - [`security`]: Host / Origin / token checks.
//! - [`error`]: start-up errors.

pub mod cache;
pub mod cli;
pub mod config;
pub mod error;
pub mod files;
pub mod inject;
pub mod poll;
pub mod proxy;
pub mod reload;
pub mod security;
pub mod sendfile;
pub mod server;
pub mod watch;

use std::future::IntoFuture;
use std::io::ErrorKind;
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use axum::serve::ListenerExt;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

pub use config::{Config, PortChoice};
pub use error::StartError;

/// How long shutdown waits for reload sockets to say goodbye.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(2);
/// Ports tried after the default one is busy.
const DEFAULT_PORT_TRIES: u16 = 20;

/// Binds the configured address: an explicit port or an error, else 8080 or the next free port.
///
/// A plain std listener, already listening and non-blocking, so that `main` can listen before the
/// async runtime exists: a browser that connects while devserve is still starting waits for its
/// page instead of being refused.
pub fn bind(config: &Config) -> Result<std::net::TcpListener, StartError> {
    let bind_one = |port: u16| {
        let addr = SocketAddr::new(config.host, port);
        std::net::TcpListener::bind(addr)
            .and_then(|listener| listener.set_nonblocking(true).map(|()| listener))
            .map_err(|source| (addr, source))
    };
    match config.port {
        PortChoice::Explicit(port) => bind_one(port).map_err(|(addr, source)| {
            if source.kind() == ErrorKind::AddrInUse {
                StartError::PortBusy { port }
            } else {
                StartError::Bind { addr, source }
            }
        }),
        PortChoice::Default => {
            let first = config::DEFAULT_PORT;
            for port in first..first + DEFAULT_PORT_TRIES {
                match bind_one(port) {
                    Ok(listener) => {
                        if port != first {
                            tracing::info!("port {first} is busy, using {port}");
                        }
                        return Ok(listener);
                    }
                    Err((_, e)) if e.kind() == ErrorKind::AddrInUse => continue,
                    Err((addr, source)) => return Err(StartError::Bind { addr, source }),
                }
            }
            bind_one(0).map_err(|(addr, source)| StartError::Bind { addr, source })
        }
    }
}

/// Serves `config` on `listener` until `shutdown` is cancelled, then closes the reload sockets
/// and returns.
pub async fn run(
    config: Config,
    listener: TcpListener,
    shutdown: CancellationToken,
) -> Result<(), StartError> {
    let local = listener.local_addr().map_err(|source| StartError::Bind {
        addr: SocketAddr::new(config.host, 0),
        source,
    })?;
    let token = security::random_token();
    let hub = Arc::new(reload::Hub::new());
    let tracker = TaskTracker::new();
    let cache = Arc::new(cache::FileCache::new());
    let regions = cache.regions();
    if config.reload {
        watch::spawn(&config, hub.clone(), cache.clone(), shutdown.clone(), &tracker)?;
    } else {
        hub.set_ready();
    }
    // One thread waiting in the blocking pool (for its keep-alive, 10 s) when the first request
    // comes: starting one would cost that request a tenth of a millisecond.
    drop(tokio::task::spawn_blocking(|| ()));
    let mut allowed_hosts = config.allowed_hosts.clone();
    allowed_hosts.extend(config.host_name.clone());
    let state = Arc::new(server::AppState {
        root: config.root.clone(),
        token,
        hub,
        reload: config.reload,
        spa: config.spa,
        allowed_hosts,
        proxy: proxy::Proxy::new(config.proxies.clone(), config.proxy_timeout),
        cache,
        shutdown: shutdown.clone(),
        tracker: tracker.clone(),
    });
    let url = announce(&config, local);
    if config.open {
        tokio::task::spawn_blocking(move || {
            if let Err(e) = open::that_detached(&url) {
                tracing::warn!("could not open a browser ({e}); open {url} yourself");
            }
        });
    }
    for rule in &config.proxies {
        tracing::info!(
            "proxying {} → http://{}{}",
            rule.prefix,
            rule.target.authority(),
            rule.target.path.as_deref().unwrap_or("")
        );
    }
    // No Nagle delay: a reload message, or the last part of a large file, goes out at once
    // rather than waiting for the peer to acknowledge what came before.
    let listener = sendfile::Listener::new(listener, regions).tap_io(|stream| {
        if let Err(e) = stream.tcp().set_nodelay(true) {
            tracing::debug!("TCP_NODELAY not set: {e}");
        }
    });
    let serve = axum::serve(listener, server::App::new(state))
        .with_graceful_shutdown(shutdown.clone().cancelled_owned())
        .into_future();
    // Graceful shutdown waits for every open connection, and a proxied event stream never ends:
    // after the grace period the rest are dropped.
    let deadline = async {
        shutdown.cancelled().await;
        tokio::time::sleep(SHUTDOWN_GRACE).await;
    };
    tokio::select! {
        served = serve => if let Err(e) = served {
            tracing::error!("server stopped: {e}");
        },
        _ = deadline => tracing::debug!("closed the connections still open after {SHUTDOWN_GRACE:?}"),
    }
    shutdown.cancel();
    tracker.close();
    if tokio::time::timeout(SHUTDOWN_GRACE, tracker.wait())
        .await
        .is_err()
    {
        tracing::debug!("some sockets did not close in time");
    }
    Ok(())
}

/// Logs where devserve is listening and returns the URL to open.
fn announce(config: &Config, local: SocketAddr) -> String {
    let port = local.port();
    let url_for = |ip: IpAddr| match ip {
        IpAddr::V6(v6) => format!("http://[{v6}]:{port}/"),
        IpAddr::V4(v4) => format!("http://{v4}:{port}/"),
    };
    let local_url = if config.host.is_unspecified() || config.host.is_loopback() {
        format!("http://localhost:{port}/")
    } else {
        url_for(config.host)
    };
    let mode = if config.reload {
        "live reload on"
    } else {
        "live reload off"
    };
    tracing::info!("serving {} at {local_url} ({mode})", config.root.display());
    if config.exposed() {
        if config.host.is_unspecified() {
            for iface in if_addrs::get_if_addrs().unwrap_or_default() {
                if !iface.is_loopback() && (iface.ip().is_ipv4() || config.host.is_ipv6()) {
                    tracing::info!("  on your network: {}", url_for(iface.ip()));
                }
            }
        }
        tracing::warn!(
            "--host {} exposes this folder to your network: anyone who can reach this machine can read it",
            config.host
        );
    }
    local_url
}
