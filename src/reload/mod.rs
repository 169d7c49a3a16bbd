//! Live reload: the protocol's messages and paths, the hub that fans batches out, the WebSocket
//! endpoint and the client script.
//!
//! [`routes`] is the reload endpoint as a Router of its own: it owns its state (the hub, the
//! token, shutdown) and knows nothing of files or proxies.

pub(crate) mod client;
pub(crate) mod hub;
pub(crate) mod protocol;
pub(crate) mod socket;
pub(crate) mod trigger;

use std::sync::Arc;

use axum::routing::{get, post};
use axum::Router;

pub(crate) use hub::Hub;
pub(crate) use socket::ReloadSocket;
pub(crate) use trigger::Builds;

/// `/__devserve/client.js`, `/__devserve/ws`, and the build tools' `/__devserve/reload` and
/// `/__devserve/status`.
pub(crate) fn routes(socket: Arc<ReloadSocket>, builds: Arc<Builds>) -> Router {
    let triggers = Router::new()
        .route(protocol::RELOAD_PATH, post(trigger::reload))
        .route(protocol::STATUS_PATH, post(trigger::status))
        .with_state(builds);
    Router::new()
        .route(protocol::CLIENT_JS_PATH, get(client::handler))
        .route(protocol::WS_PATH, get(socket::handler))
        .with_state(socket)
        .merge(triggers)
}
