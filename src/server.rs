//! The application: the Host check on every request, files answered directly, and a Router for
//! devserve's reserved paths and the proxy routes; `Cache-Control: no-cache` on every response.

use std::convert::Infallible;
use std::future::Future;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use axum::body::Body;
use axum::extract::{ConnectInfo, Request, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{any, get};
use axum::serve::{IncomingStream, Listener};
use axum::Router;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use tower::{Service, ServiceExt};
use tower_http::set_header::SetResponseHeader;

use crate::proxy::Proxy;
use crate::reload::Hub;

/// Everything devserve answers itself lives under this prefix.
pub const RESERVED_PREFIX: &str = "/__devserve/";
/// The injected client.
pub const CLIENT_JS_PATH: &str = "/__devserve/client.js";
/// The reload WebSocket.
pub const WS_PATH: &str = "/__devserve/ws";

/// The browser side, compiled into the binary.
const CLIENT_JS: &str = include_str!("../assets/client.js");

/// What every handler shares.
pub struct AppState {
    /// Canonical ROOT.
    pub root: PathBuf,
    /// The reload socket's token, carried by the injected tag.
    pub token: String,
    pub hub: Arc<Hub>,
    /// Inject and accept reload sockets (false with `--no-reload`).
    pub reload: bool,
    pub spa: bool,
    /// Names accepted in the Host header besides localhost and IP literals.
    pub allowed_hosts: Vec<String>,
    /// `--proxy` rules and their client.
    pub proxy: Proxy,
    /// Small files held in memory until the watcher sees a change.
    pub cache: Arc<crate::cache::FileCache>,
    pub shutdown: CancellationToken,
    /// Upgraded sockets, which axum's graceful shutdown does not wait for.
    pub tracker: TaskTracker,
}

/// The whole application, without a socket: a test can drive it with `tower::ServiceExt::oneshot`,
/// and `axum::serve` makes one per connection.
pub fn app(state: Arc<AppState>) -> Served {
    App::new(state).served()
}

/// [`App`] with `Cache-Control: no-cache` on every response that does not set its own.
pub type Served = SetResponseHeader<App, HeaderValue>;

/// Checks the Host, then answers a file itself, or hands a reserved path or a proxy route to the
/// Router. Files, nearly every request, skip the Router: its route lookup and boxed services took
/// a sixth of the requests a second a small file could be served at.
#[derive(Clone)]
pub struct App {
    state: Arc<AppState>,
    routes: Router,
    /// The connection's peer, for the proxy's `X-Forwarded-For`.
    peer: Option<SocketAddr>,
}

impl App {
    /// The application, to be served by `axum::serve`: it makes a [`Served`] for each connection.
    pub fn new(state: Arc<AppState>) -> Self {
        App {
            routes: routes(state.clone()),
            state,
            peer: None,
        }
    }

    fn served(self) -> Served {
        SetResponseHeader::if_not_present(self, header::CACHE_CONTROL, HeaderValue::from_static("no-cache"))
    }
}

/// The reserved paths, and the proxy routes in the fallback.
fn routes(state: Arc<AppState>) -> Router {
    let mut routes = Router::new();
    if state.reload {
        routes = routes
            .route(CLIENT_JS_PATH, get(client_js))
            .route(WS_PATH, get(crate::reload::ws_handler));
    }
    routes
        .route("/__devserve/{*rest}", any(reserved_not_found))
        .fallback(fallback)
        .with_state(state)
}

impl Service<Request> for App {
    type Response = Response;
    type Error = Infallible;
    type Future = Pin<Box<dyn Future<Output = Result<Response, Infallible>> + Send>>;

    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, mut req: Request) -> Self::Future {
        let state = self.state.clone();
        if let Some(refused) = crate::security::refuse_foreign_host(req.headers(), &state.allowed_hosts) {
            return Box::pin(std::future::ready(Ok(refused)));
        }
        let path = req.uri().path();
        if path.starts_with(RESERVED_PREFIX) || state.proxy.route(path).is_some() {
            if let Some(peer) = self.peer {
                req.extensions_mut().insert(ConnectInfo(peer));
            }
            return Box::pin(self.routes.clone().oneshot(req));
        }
        Box::pin(async move { Ok(crate::files::serve(State(state), req).await) })
    }
}

/// One [`App`] per connection, knowing its peer.
impl<L: Listener<Addr = SocketAddr>> Service<IncomingStream<'_, L>> for App {
    type Response = Served;
    type Error = Infallible;
    type Future = std::future::Ready<Result<Served, Infallible>>;

    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, stream: IncomingStream<'_, L>) -> Self::Future {
        let app = App {
            peer: Some(*stream.remote_addr()),
            ..self.clone()
        };
        std::future::ready(Ok(app.served()))
    }
}

/// A proxy route; else (`/__devserve/` itself, which no route matches) what the files say.
async fn fallback(State(state): State<Arc<AppState>>, req: Request) -> Response {
    if let Some(rule) = state.proxy.route(req.uri().path()) {
        return crate::proxy::forward(&state, rule, req).await;
    }
    crate::files::serve(State(state), req).await
}

async fn client_js() -> Response {
    (
        [
            (header::CONTENT_TYPE, "text/javascript; charset=utf-8"),
            (
                header::ETAG,
                concat!("\"devserve-", env!("CARGO_PKG_VERSION"), "\""),
            ),
        ],
        CLIENT_JS,
    )
        .into_response()
}

async fn reserved_not_found() -> Response {
    (
        StatusCode::NOT_FOUND,
        Body::from("404 Not Found: no such devserve endpoint\n"),
    )
        .into_response()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn state(root: &std::path::Path) -> Arc<AppState> {
        Arc::new(AppState {
            root: root.canonicalize().unwrap(),
            token: "t".into(),
            hub: Arc::new(crate::reload::Hub::new()),
            reload: true,
            spa: false,
            allowed_hosts: Vec::new(),
            proxy: crate::proxy::Proxy::new(Vec::new(), Duration::from_secs(5)),
            cache: Arc::new(crate::cache::FileCache::new()),
            shutdown: CancellationToken::new(),
            tracker: TaskTracker::new(),
        })
    }

    async fn get(app: Served, path: &str, host: &str) -> Response {
        let req = Request::get(path)
            .header(header::HOST, host)
            .body(Body::empty())
            .unwrap();
        app.oneshot(req).await.unwrap()
    }

    /// Files skip the Router; the Host check and `Cache-Control` must apply to both ways alike.
    #[tokio::test]
    async fn every_path_is_host_checked_and_not_cached() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("a.txt"), "a").unwrap();
        let app = app(state(dir.path()));
        for path in ["/a.txt", CLIENT_JS_PATH, "/__devserve/nothing"] {
            let refused = get(app.clone(), path, "evil.example").await;
            assert_eq!(refused.status(), StatusCode::FORBIDDEN, "{path}");
            assert_eq!(refused.headers()[header::CACHE_CONTROL], "no-cache", "{path}");
        }
        let file = get(app.clone(), "/a.txt", "localhost").await;
        assert_eq!(file.status(), StatusCode::OK);
        assert_eq!(file.headers()[header::CACHE_CONTROL], "no-cache");
        let client = get(app.clone(), CLIENT_JS_PATH, "localhost:1").await;
        assert_eq!(client.status(), StatusCode::OK);
        assert_eq!(client.headers()[header::CACHE_CONTROL], "no-cache");
        let reserved = get(app, "/__devserve/nothing", "127.0.0.1").await;
        assert_eq!(reserved.status(), StatusCode::NOT_FOUND);
        assert_eq!(reserved.headers()[header::CACHE_CONTROL], "no-cache");
    }
}
