//! [`run`]: the one composition root. It makes each component with its own state — the hub, the
//! file cache and [`FileService`], the [`Proxy`], the reload endpoint — connects the watcher's
//! events to the cache and the hub, and serves the [`app::App`] on a listener until shutdown.
//! Nothing imports this module.
//!
//! - [`app`]: the service stack; [`listener`]: binding the port; [`announce`]: what the terminal
//!   shows; [`shutdown`]: signals.

mod announce;
mod app;
mod listener;
mod shutdown;

use std::future::IntoFuture;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::serve::ListenerExt;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::config::Config;
use crate::error::StartError;
use crate::files::cache::FileCache;
use crate::files::{sendfile, FileService};
use crate::inject::ClientTag;
use crate::proxy::Proxy;
use crate::reload::{Hub, ReloadSocket};
use crate::watch::{Sink, WatchEvent, WatchOptions};
pub use listener::bind;
pub use shutdown::on_signals;

/// How long shutdown waits for reload sockets to say goodbye.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(2);

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
    let tracker = TaskTracker::new();
    let hub = Arc::new(Hub::new());
    let cache = Arc::new(FileCache::new());
    let token: Arc<str> = crate::security::random_token().into();
    let client = config
        .reload
        .then(|| ClientTag::new(token.clone(), hub.seq_counter()));
    if config.reload {
        let options = WatchOptions {
            root: config.root.clone(),
            extra: config.watch.clone(),
            ignore: config.ignore.clone(),
            debounce: config.debounce,
            poll: config.poll,
        };
        crate::watch::spawn(
            options,
            watch_sink(hub.clone(), cache.clone()),
            shutdown.clone(),
            &tracker,
        );
    } else {
        hub.set_ready();
    }
    // One thread waiting in the blocking pool (for its keep-alive, 10 s) when the first request
    // comes: starting one would cost that request a tenth of a millisecond.
    drop(tokio::task::spawn_blocking(|| ()));

    let regions = cache.regions();
    let files = FileService::new(config.root.clone(), cache, config.spa, client.clone());
    let proxy = Proxy::new(
        config.proxies.clone(),
        config.proxy_timeout,
        client,
        shutdown.clone(),
        tracker.clone(),
    );
    let reload = config.reload.then(|| {
        crate::reload::routes(Arc::new(ReloadSocket {
            hub,
            token,
            shutdown: shutdown.clone(),
            tracker: tracker.clone(),
        }))
    });
    let mut allowed_hosts = config.allowed_hosts.clone();
    allowed_hosts.extend(config.host_name.clone());
    let app = app::App::new(allowed_hosts, files, Arc::new(proxy), reload);

    let url = announce::listening(&config, local);
    if config.open {
        tokio::task::spawn_blocking(move || {
            if let Err(e) = open::that_detached(&url) {
                tracing::warn!("could not open a browser ({e}); open {url} yourself");
            }
        });
    }
    // No Nagle delay: a reload message, or the last part of a large file, goes out at once
    // rather than waiting for the peer to acknowledge what came before.
    let listener = sendfile::Listener::new(listener, regions).tap_io(|stream| {
        if let Err(e) = stream.tcp().set_nodelay(true) {
            tracing::debug!("TCP_NODELAY not set: {e}");
        }
    });
    let serve = axum::serve(listener, app)
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

/// Where the watcher's events go: the cache admits what OS events cover and forgets on a layout
/// change; the hub tells the tabs of each batch.
fn watch_sink(hub: Arc<Hub>, cache: Arc<FileCache>) -> Sink {
    Arc::new(move |event| match event {
        WatchEvent::Ready { coverage } => {
            if let Some(coverage) = coverage {
                // Served from memory only what OS events will report changed, at once.
                cache.enable(move |path| coverage.sees(path));
            }
            hub.set_ready();
        }
        WatchEvent::LayoutChanged => cache.invalidate(),
        WatchEvent::Batch(batch) => {
            let tabs = hub.publish(batch.paths.clone(), batch.reload);
            announce::batch(&batch.paths, batch.reload, tabs);
        }
    })
}
