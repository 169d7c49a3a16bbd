//! [`run`]: the one composition root. It makes each component with its own state — the hub, the
//! file cache and [`FileService`], the [`Proxy`], the reload endpoint — connects the watcher's
//! events to the cache and the hub, and serves the [`app::App`] on a listener until shutdown.
//! Nothing imports this module.
//!
//! - [`app`]: the service stack; [`listener`]: binding the port; [`announce`]: what the terminal
//!   shows; [`shutdown`]: signals.

mod announce;
mod app;
mod certificate;
mod connections;
mod headers;
mod keys;
mod limits;
mod listener;
mod shutdown;
mod tls;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::config::Config;
use crate::error::StartError;
use crate::files::cache::FileCache;
use crate::files::{sendfile, FileService, ServedFrom};
use crate::inject::ClientTag;
use crate::proxy::Proxy;
use crate::reload::{Builds, Hub, ReloadSocket};
use crate::supervisor::BackendState;
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
    let tls = tls::acceptor(&config)?;
    let tracker = TaskTracker::new();
    let hub = Arc::new(Hub::new());
    let cache = Arc::new(FileCache::new());
    let token: Arc<str> = crate::security::random_token().into();
    let client = config
        .reload
        .then(|| ClientTag::new(token.clone(), hub.seq_counter()));
    let builds = Builds::new(hub.clone(), config.build_hold);
    let (settling_tx, settling) = tokio::sync::watch::channel(false);
    let watcher = if config.reload {
        let options = WatchOptions {
            root: config.root.clone(),
            extra: config.watch.clone(),
            ignore: config.ignore.clone(),
            debounce: config.debounce,
            poll: config.poll,
            served: true,
        };
        let sink = watch_sink(builds.clone(), cache.clone(), settling_tx);
        Some(crate::watch::spawn(options, sink, shutdown.clone(), &tracker))
    } else {
        hub.set_ready();
        None
    };
    // One thread waiting in the blocking pool (for its keep-alive, 10 s) when the first request
    // comes: starting one would cost that request a tenth of a millisecond.
    drop(tokio::task::spawn_blocking(|| ()));

    // The backend command, and whether its backend is ready (always, without one).
    let (backend_ready_tx, backend_ready) = tokio::sync::watch::channel(crate::proxy::Backend::Starting);
    let supervisor = config.run.as_ref().map(|run| {
        let (supervisor, task) =
            crate::supervisor::spawn(run.command.clone(), run.ready.clone(), shutdown.clone());
        if !run.watch.is_empty() {
            let restarts = supervisor.clone();
            let sink: Sink = Arc::new(move |event| {
                if let WatchEvent::Batch(_) = event {
                    restarts.restart();
                }
            });
            crate::watch::spawn(
                run_watch_options(&run.watch, &config),
                sink,
                shutdown.clone(),
                &tracker,
            );
        }
        tokio::spawn(follow_backend(supervisor.state(), hub.clone(), backend_ready_tx));
        task
    });

    let regions = cache.regions();
    let served_from: Option<ServedFrom> = watcher.map(|watcher| {
        let served_from: ServedFrom = Arc::new(move |dir| watcher.served_from(dir));
        served_from
    });
    let files = FileService::watched(
        config.root.clone(),
        cache,
        config.spa,
        client.clone(),
        config.reload.then_some(settling),
        served_from,
    );
    let proxy = Proxy::new(
        config.proxies.clone(),
        config.proxy_timeout,
        client,
        shutdown.clone(),
        tracker.clone(),
    )?
    .waiting_for(config.run.is_some().then_some(backend_ready))
    .with_plain_clients(connections::plain_client);
    let (down_tx, down) = tokio::sync::mpsc::channel(64);
    let proxy = if config.reload {
        tokio::spawn(reload_when_back(down, hub.clone(), shutdown.clone()));
        proxy.telling(down_tx)
    } else {
        proxy
    };
    let reload = config.reload.then(|| {
        let socket = Arc::new(ReloadSocket {
            hub: hub.clone(),
            token,
            shutdown: shutdown.clone(),
            tracker: tracker.clone(),
            reload_all: config.reload_all,
            report_errors: config.verbose > 0,
        });
        crate::reload::routes(socket, builds.clone())
    });
    let mut allowed_hosts = config.allowed_hosts.clone();
    allowed_hosts.extend(config.host_name.clone());
    let added = headers::Added::new(config.headers.clone(), config.cors.clone());
    let app = app::App::new(allowed_hosts, files, Arc::new(proxy), reload, added);

    let url = announce::listening(&config, local);
    if let Some(path) = &config.open {
        open_browser(page_url(&url, path));
    }
    if config.keys {
        keys::spawn(hub, url, shutdown.clone());
    }
    let listener = sendfile::Listener::new(listener, regions);
    let conns = TaskTracker::new();
    let limits = limits::Limits {
        head_timeout: config.head_timeout,
        max_connections: config
            .max_connections
            .unwrap_or_else(limits::default_max_connections),
        grace: SHUTDOWN_GRACE,
    };
    connections::serve(listener, app, limits, shutdown.clone(), conns.clone(), tls).await;
    // Each connection finishes its request, within the grace period.
    conns.close();
    conns.wait().await;
    shutdown.cancel();
    if let Some(supervisor) = supervisor {
        // The backend's whole group is stopped before devserve exits (SIGTERM, then SIGKILL).
        let _ = tokio::time::timeout(Duration::from_secs(8), supervisor).await;
    }
    tracker.close();
    if tokio::time::timeout(SHUTDOWN_GRACE, tracker.wait())
        .await
        .is_err()
    {
        tracing::debug!("some sockets did not close in time");
    }
    Ok(())
}

/// How long `--run-watch` changes settle (a lone saved file waits half of it). The watcher's
/// burst rules keep a checkout or a generator writing many files one restart; a save restarts
/// the backend 10 ms after it is written.
const RUN_DEBOUNCE: Duration = Duration::from_millis(20);

/// The watcher of the `--run-watch` paths. Its root is the first folder given; when only files
/// are given, the first file's folder, with ignore rules that leave out everything in it but the
/// files given (a log written beside `server.js` must not restart it).
fn run_watch_options(paths: &[PathBuf], config: &Config) -> WatchOptions {
    let mut ignore = config.ignore.clone();
    let root = match paths.iter().find(|p| p.is_dir()) {
        Some(dir) => dir.clone(),
        None => {
            let root = paths
                .first()
                .and_then(|p| p.parent())
                .map(PathBuf::from)
                .unwrap_or_default();
            ignore.extend(only_these(&root, paths));
            root
        }
    };
    let extra = paths.iter().filter(|p| **p != root).cloned().collect();
    WatchOptions {
        root,
        extra,
        ignore,
        debounce: RUN_DEBOUNCE,
        poll: config.poll,
        served: false,
    }
}

/// Gitignore rules under `root` that ignore everything but `files` (and the folders that lead to
/// them): `/*`, `!/lib/`, `/lib/*`, `!/lib/db.js`.
fn only_these(root: &std::path::Path, files: &[PathBuf]) -> Vec<String> {
    let mut rules = vec!["/*".to_string()];
    for file in files {
        let Ok(rel) = file.strip_prefix(root) else {
            continue;
        };
        let parts: Vec<String> = rel
            .components()
            .map(|c| c.as_os_str().to_string_lossy().into_owned())
            .collect();
        for depth in 1..parts.len() {
            let dir = parts[..depth].join("/");
            rules.push(format!("!/{dir}/"));
            rules.push(format!("/{dir}/*"));
        }
        rules.push(format!("!/{}", parts.join("/")));
    }
    rules
}

/// Follows the backend: proxied requests wait while it is not ready, and once a restart caused
/// by a change is ready, every tab reloads, once.
async fn follow_backend(
    mut state: tokio::sync::watch::Receiver<BackendState>,
    hub: Arc<Hub>,
    backend: tokio::sync::watch::Sender<crate::proxy::Backend>,
) {
    use crate::proxy::Backend;
    let mut reloaded = 0;
    loop {
        let now = state.borrow_and_update().clone();
        match now {
            BackendState::Ready { restarted } => {
                backend.send_replace(Backend::Ready);
                hub.clear("run");
                if restarted > reloaded {
                    reloaded = restarted;
                    let tabs = hub.publish(Vec::new(), true);
                    let word = if tabs == 1 { "tab" } else { "tabs" };
                    tracing::info!("backend restarted → reload, told {tabs} {word}");
                }
            }
            BackendState::Starting => {
                backend.send_replace(Backend::Starting);
            }
            // Shown over every tab until the command is ready again; requests meanwhile get a
            // 502 at once rather than waiting for a start that may be many seconds away.
            BackendState::Exited { title, text } => {
                backend.send_replace(Backend::Down);
                hub.show_error("run", &title, &text);
            }
        }
        if state.changed().await.is_err() {
            return;
        }
    }
}

/// A backend refused requests (it is down): once it accepts connections again, the tabs that
/// asked for those paths — a page, or a script it loads from the backend — reload, once. Without
/// this, a page whose `/socket.io/socket.io.js` got a 502 stays broken until reloaded by hand.
async fn reload_when_back(
    mut down: tokio::sync::mpsc::Receiver<crate::proxy::Refused>,
    hub: Arc<Hub>,
    shutdown: CancellationToken,
) {
    use std::collections::{BTreeSet, HashMap};
    /// Paths remembered per backend; past this, the tabs' own retries are left to it.
    const PATHS: usize = 64;
    let (back_tx, mut back) = tokio::sync::mpsc::channel::<(String, u16)>(8);
    let mut waiting: HashMap<(String, u16), BTreeSet<String>> = HashMap::new();
    loop {
        tokio::select! {
            _ = shutdown.cancelled() => return,
            refused = down.recv() => {
                let Some(refused) = refused else { return };
                let key = (refused.host.clone(), refused.port);
                let paths = waiting.entry(key.clone()).or_insert_with(|| {
                    // The first refusal of this backend: watch for it to come back.
                    let (back_tx, ready) = (back_tx.clone(), crate::supervisor::Ready::tcp(&key.0, key.1));
                    let key = key.clone();
                    tokio::spawn(async move {
                        if tokio::time::timeout(Duration::from_secs(3600), ready.wait()).await.is_ok() {
                            let _ = back_tx.send(key).await;
                        }
                    });
                    BTreeSet::new()
                });
                if paths.len() < PATHS {
                    paths.insert(refused.path);
                }
            }
            Some(key) = back.recv() => {
                if let Some(paths) = waiting.remove(&key) {
                    let paths: Vec<String> = paths.into_iter().collect();
                    let tabs = hub.publish(paths.clone(), true);
                    tracing::info!("the backend at {}:{} answers again → reload the tabs that asked for {}, told {tabs}", key.0, key.1, paths.join(", "));
                }
            }
        }
    }
}

/// The URL of `path` on the server at `base` (`http://localhost:8080/`).
fn page_url(base: &str, path: &str) -> String {
    format!("{}/{}", base.trim_end_matches('/'), path.trim_start_matches('/'))
}

/// Opens the default browser at `url`, or says how to do it by hand.
fn open_browser(url: String) {
    tokio::task::spawn_blocking(move || {
        if let Err(e) = open::that_detached(&url) {
            let why = if e.kind() == std::io::ErrorKind::NotFound {
                "no browser launcher (xdg-open, open) was found"
            } else {
                "the browser launcher failed"
            };
            tracing::warn!("could not open a browser: {why}; open {url} yourself");
        }
    });
}

/// Where the watcher's events go: the cache admits what OS events cover and forgets on a layout
/// change; the hub tells the tabs of each batch; pages wait while files are settling.
fn watch_sink(
    builds: Arc<Builds>,
    cache: Arc<FileCache>,
    settling: tokio::sync::watch::Sender<bool>,
) -> Sink {
    Arc::new(move |event| match event {
        WatchEvent::Ready { coverage } => {
            if let Some(coverage) = coverage {
                // Served from memory only what OS events will report changed, at once.
                cache.enable(move |path| coverage.sees(path));
            }
            builds.hub().set_ready();
        }
        WatchEvent::LayoutChanged => cache.invalidate(),
        WatchEvent::Settling => {
            settling.send_replace(true);
            builds.settling(true);
        }
        // After the batch: the pages that waited carry its seq.
        WatchEvent::Settled => {
            builds.settling(false);
            settling.send_replace(false);
        }
        WatchEvent::Batch(batch) => match builds.offer(batch.paths.clone(), batch.reload, batch.all) {
            Some(tabs) => announce::batch(&batch.paths, batch.reload, tabs),
            None => tracing::debug!("a build is running: holding {} change(s)", batch.paths.len()),
        },
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn run_watch_files_alone_leave_out_the_rest_of_their_folder() {
        let root = std::path::Path::new("/p");
        let rules = only_these(
            root,
            &[PathBuf::from("/p/server.js"), PathBuf::from("/p/lib/db.js")],
        );
        assert_eq!(rules, ["/*", "!/server.js", "!/lib/", "/lib/*", "!/lib/db.js"]);
        let ig = ::ignore::gitignore::GitignoreBuilder::new(root);
        let mut ig = ig;
        for r in &rules {
            ig.add_line(None, r).unwrap();
        }
        let ig = ig.build().unwrap();
        let ignored = |p: &str, dir: bool| ig.matched_path_or_any_parents(p, dir).is_ignore();
        assert!(!ignored("/p/server.js", false));
        assert!(!ignored("/p/lib/db.js", false));
        assert!(ignored("/p/log", false), "a log beside it");
        assert!(ignored("/p/lib/other.js", false));
        assert!(ignored("/p/front/index.html", false));
    }

    #[test]
    fn open_path_builds_the_url_on_the_server() {
        let base = "http://localhost:8080/";
        assert_eq!(page_url(base, "/"), "http://localhost:8080/");
        assert_eq!(page_url(base, "/about"), "http://localhost:8080/about");
        assert_eq!(
            page_url(base, "/docs/a%20b.html?x=1#top"),
            "http://localhost:8080/docs/a%20b.html?x=1#top"
        );
        assert_eq!(page_url("http://[::1]:3000/", "/x"), "http://[::1]:3000/x");
    }
}
