//! The Router: devserve's reserved paths, the proxy routes, the file fallback, and the layers that
//! apply to every response (the Host check, `Cache-Control: no-cache`).

use std::path::PathBuf;
use std::sync::Arc;

use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::middleware::from_fn_with_state;
use axum::response::{IntoResponse, Response};
use axum::routing::{any, get};
use axum::Router;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use tower_http::set_header::SetResponseHeaderLayer;

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

/// The whole application, without a socket: tests can drive it with `tower::ServiceExt::oneshot`.
pub fn router(state: Arc<AppState>) -> Router {
    let mut app = Router::new();
    if state.reload {
        app = app
            .route(CLIENT_JS_PATH, get(client_js))
            .route(WS_PATH, get(crate::reload::ws_handler));
    }
    app.route("/__devserve/{*rest}", any(reserved_not_found))
        .fallback(fallback)
        .layer(SetResponseHeaderLayer::if_not_present(
            header::CACHE_CONTROL,
            HeaderValue::from_static("no-cache"),
        ))
        .layer(from_fn_with_state(state.clone(), crate::security::check_host))
        .with_state(state)
}

/// Everything that is not a reserved path: a proxy route, else a file.
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
