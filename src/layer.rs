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
//! The layer serves `/__devserve/client.js` and `/__devserve/ws`, and injects the client's tag
//! into the HTML pages the app answers: navigations only (a page fetched by script is left
//! alone), `200` only, read whole up to 16 MiB (larger pages pass as they are), gzip, deflate and
//! brotli decoded (an encoding it cannot read passes as it is), a CSP nonce copied onto the tag.
//! It speaks devserve's protocol: one socket per tab (not an event stream per tab, which starves
//! a browser's six connections per host), stylesheets swapped in place, errors shown in the page,
//! and after the app restarts (`cargo watch -x run`) the tab reloads once it is back. Its own
//! paths check `Host` (DNS rebinding), and the socket checks `Origin` and the page's token.

use std::convert::Infallible;
use std::future::Future;
use std::pin::Pin;
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
use crate::web::request::wants_injection;

/// Adds live reload to the service it wraps. Cheap to clone; every clone shares its tabs.
#[derive(Clone)]
pub struct LiveReloadLayer {
    shared: Arc<Shared>,
}

struct Shared {
    hub: Arc<Hub>,
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
                tag: ClientTag::new(token, hub.seq_counter()),
                routes: crate::reload::routes(socket, builds),
                hub,
            }),
        }
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
