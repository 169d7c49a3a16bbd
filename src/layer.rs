//! Live reload for your own axum or tower app (DESIGN §15): the app renders its HTML itself
//! (askama, maud, minijinja, htmx) and reloads in the browser when you say so.
//!
//! ```no_run
//! use axum::{routing::get, Router};
//! use devserve::layer::LiveReloadLayer;
//!
//! # async fn app() {
//! let live = LiveReloadLayer::new();
//! let reloader = live.reloader();
//! let app: Router = Router::new()
//!     .route("/", get(|| async { axum::response::Html("<html><body>hi</body></html>") }))
//!     .layer(live);
//! // Later, from anything that knows a template or a stylesheet changed:
//! reloader.reload_paths(["/style.css"]); // swapped in place
//! reloader.reload(); // every tab reloads
//! # }
//! ```
//!
//! A runnable example: `cargo run --example axum_app` (examples/axum_app).
//!
//! # Heuristics
//!
//! The layer serves `/__devserve/client.js`, `/__devserve/ws` and the build tools' endpoints, and
//! injects the client's tag into a page the app answers when all of these hold:
//! - the request is a `GET` navigation: `Sec-Fetch-Dest: document` (or `iframe`), or no
//!   `Sec-Fetch-Dest` at all (an old browser) — a fragment fetched by script (htmx, `fetch`) is
//!   left alone;
//! - the answer is `200` with `Content-Type: text/html` (or XHTML) — JSON, a 404, a redirect pass
//!   as they are;
//! - the body is at most 16 MiB — a larger page passes as it is;
//! - it is plain, gzip, deflate or brotli (decoded, and sent plain) — another encoding passes as
//!   it is.
//!
//! The tag goes before the last `</head>` (else `</body>`, else at the end), never twice, with the
//! page's CSP nonce when its `Content-Security-Policy` has one; the page is marked `no-cache`.
//!
//! It speaks devserve's protocol: one socket per tab (not an event stream per tab, which starves
//! a browser's six connections per host), stylesheets swapped in place, errors shown in the page,
//! and after the app restarts (`cargo watch -x run`) the tab reloads once it is back. Its own
//! paths check `Host` (DNS rebinding), and the socket checks `Origin` and the page's token.

#![warn(missing_docs)]

use std::convert::Infallible;
use std::future::Future;
use std::path::Path;
use std::pin::Pin;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use axum::body::Body;
use axum::http::{Method, Request, Response, StatusCode};
use axum::response::IntoResponse;
use axum::Router;
use bytes::Bytes;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use tower::{Layer, Service, ServiceExt};

use crate::inject::body::inject_response;
use crate::inject::{is_html, ClientTag};
use crate::reload::protocol::RESERVED_PREFIX;
use crate::reload::{Builds, Hub, ReloadSocket};
use crate::security::refuse_foreign_host;
use crate::watch::{Sink, WatchEvent, WatchOptions};
use crate::web::request::wants_injection;

/// Adds live reload to the service it wraps. Cheap to clone; every clone shares its tabs.
#[derive(Clone)]
pub struct LiveReloadLayer {
    shared: Arc<Shared>,
}

struct Shared {
    hub: Arc<Hub>,
    /// Watchers started and not yet watching: tabs are told `connected` once none is left, so
    /// that a save right after a tab connects is not missed.
    starting: AtomicUsize,
    tag: ClientTag,
    /// `/__devserve/*`: the client, the socket, the build tools' endpoints.
    routes: Router,
}

impl Default for LiveReloadLayer {
    fn default() -> Self {
        Self::new()
    }
}

impl LiveReloadLayer {
    /// A layer with no tab yet; [`reloader`](Self::reloader) tells the tabs, and
    /// [`watch`](Self::watch) lets devserve's watcher do it.
    pub fn new() -> Self {
        let hub = Arc::new(Hub::new());
        // No watcher to wait for: tabs are told `connected` at once.
        hub.set_ready();
        let token: Arc<str> = crate::security::random_token().into();
        let socket = Arc::new(ReloadSocket {
            hub: hub.clone(),
            token: token.clone(),
            shutdown: CancellationToken::new(),
            tracker: TaskTracker::new(),
            reload_all: false,
            report_errors: false,
        });
        let builds = Builds::new(hub.clone(), Duration::from_secs(60));
        LiveReloadLayer {
            shared: Arc::new(Shared {
                starting: AtomicUsize::new(0),
                tag: ClientTag::new(token, hub.seq_counter()),
                routes: crate::reload::routes(socket, builds),
                hub,
            }),
        }
    }

    /// Watches the folder `path` (templates, say) with devserve's watcher — its batching, its
    /// ignore rules (`.gitignore`, `.git`, `target`, `node_modules`) — and reloads every tab when
    /// a file there changes: one reload per save, or per build. Call it inside a tokio runtime;
    /// the watching lasts as long as the process.
    pub fn watch(self, path: impl AsRef<Path>) -> Self {
        self.start_watching(path.as_ref(), None);
        self
    }

    /// Watches the folder `path` whose files the app serves under `url_prefix` (`assets/` as
    /// `/assets`): a tab reloads only when a file it uses changed, and stylesheets are swapped in
    /// place, as when devserve serves the folder itself.
    pub fn watch_as(self, path: impl AsRef<Path>, url_prefix: &str) -> Self {
        self.start_watching(path.as_ref(), Some(url_prefix.trim_end_matches('/').to_string()));
        self
    }

    fn start_watching(&self, path: &Path, prefix: Option<String>) {
        let root = match std::fs::canonicalize(path) {
            Ok(root) if root.is_dir() => root,
            _ => {
                tracing::error!("live reload cannot watch {}: not a folder", path.display());
                return;
            }
        };
        let Ok(runtime) = tokio::runtime::Handle::try_current() else {
            tracing::error!(
                "live reload cannot watch {}: call .watch inside a tokio runtime",
                root.display()
            );
            return;
        };
        self.shared.starting.fetch_add(1, Ordering::SeqCst);
        self.shared.hub.set_starting();
        let (hub, shared) = (self.shared.hub.clone(), Arc::downgrade(&self.shared));
        let sink: Sink = Arc::new(move |event| {
            if let WatchEvent::Ready { .. } = event {
                if let Some(shared) = shared.upgrade() {
                    if shared.starting.fetch_sub(1, Ordering::SeqCst) == 1 {
                        shared.hub.set_ready();
                    }
                }
            } else if let WatchEvent::Batch(batch) = event {
                match &prefix {
                    Some(prefix) => {
                        let paths = batch.paths.iter().map(|p| format!("{prefix}{p}")).collect();
                        hub.publish_batch(paths, batch.reload, batch.all);
                    }
                    None => {
                        hub.publish(Vec::new(), true);
                    }
                }
            }
        });
        let options = WatchOptions {
            root,
            extra: Vec::new(),
            ignore: Vec::new(),
            debounce: crate::config::DEFAULT_DEBOUNCE,
            poll: None,
            served: false,
        };
        let _entered = runtime.enter();
        crate::watch::spawn(options, sink, CancellationToken::new(), &TaskTracker::new());
    }

    /// The handle that tells the tabs: cheap to clone, usable from any task or thread.
    pub fn reloader(&self) -> Reloader {
        Reloader {
            hub: self.shared.hub.clone(),
        }
    }
}

/// Tells the open tabs what changed.
#[derive(Clone)]
pub struct Reloader {
    hub: Arc<Hub>,
}

impl Reloader {
    /// Every tab reloads.
    pub fn reload(&self) {
        self.hub.publish(Vec::new(), true);
    }

    /// These URL paths changed (`/style.css`, `/`): a tab reloads when it uses one of them, and
    /// swaps stylesheets in place when only stylesheets changed. Returns how many tabs were told.
    pub fn reload_paths<I, P>(&self, paths: I) -> usize
    where
        I: IntoIterator<Item = P>,
        P: Into<String>,
    {
        let paths: Vec<String> = paths.into_iter().map(Into::into).collect();
        let reload = paths.is_empty() || !paths.iter().all(|p| p.to_ascii_lowercase().ends_with(".css"));
        self.hub.publish(paths, reload)
    }

    /// Shows an error over every page (a build that failed), under `source`, until [`clear`](Self::clear).
    pub fn error(&self, source: &str, title: &str, text: &str) {
        self.hub.show_error(source, title, text);
    }

    /// Takes `source`'s error away.
    pub fn clear(&self, source: &str) {
        self.hub.clear(source);
    }
}

impl<S> Layer<S> for LiveReloadLayer {
    type Service = LiveReload<S>;

    fn layer(&self, inner: S) -> LiveReload<S> {
        LiveReload {
            inner,
            shared: self.shared.clone(),
        }
    }
}

/// The service [`LiveReloadLayer`] makes.
#[derive(Clone)]
pub struct LiveReload<S> {
    inner: S,
    shared: Arc<Shared>,
}

type BoxFuture<T, E> = Pin<Box<dyn Future<Output = Result<T, E>> + Send>>;

impl<S, ReqBody, ResBody> Service<Request<ReqBody>> for LiveReload<S>
where
    S: Service<Request<ReqBody>, Response = Response<ResBody>> + Send + 'static,
    S::Future: Send + 'static,
    S::Error: Send + 'static,
    ReqBody: http_body::Body<Data = Bytes> + Send + 'static,
    ReqBody::Error: Into<axum::BoxError>,
    ResBody: http_body::Body<Data = Bytes> + Send + 'static,
    ResBody::Error: Into<axum::BoxError>,
{
    type Response = Response<Body>;
    type Error = S::Error;
    type Future = BoxFuture<Response<Body>, S::Error>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), S::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, req: Request<ReqBody>) -> Self::Future {
        if req.uri().path().starts_with(RESERVED_PREFIX) {
            if let Some(refused) = refuse_foreign_host(req.headers(), &[]) {
                return Box::pin(std::future::ready(Ok(refused.into_response())));
            }
            let routes = self.shared.routes.clone();
            return Box::pin(async move {
                let answer: Result<Response<Body>, Infallible> = routes.oneshot(req.map(Body::new)).await;
                Ok(answer.unwrap_or_else(|never| match never {}))
            });
        }
        let injects = req.method() == Method::GET && wants_injection(req.headers());
        let answer = self.inner.call(req);
        let shared = self.shared.clone();
        Box::pin(async move {
            let response = answer.await?.map(Body::new);
            if !(injects && response.status() == StatusCode::OK && is_html(response.headers())) {
                return Ok(response);
            }
            let (parts, body) = response.into_parts();
            let seq = shared.hub.seq();
            Ok(
                inject_response(parts, body, |nonce| shared.tag.tag(seq, None, nonce))
                    .await
                    .unwrap_or_else(|_| StatusCode::BAD_GATEWAY.into_response()),
            )
        })
    }
}
