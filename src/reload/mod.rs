//! Live reload: the protocol's messages and paths, the hub that fans batches out, the WebSocket
//! endpoint and the client script.
//!
//! [`routes`] is the reload endpoint as a Router of its own: it owns its state (the hub, the
//! token, shutdown) and knows nothing of files or proxies.

pub(crate) mod client;
pub(crate) mod hub;
pub(crate) mod protocol;
pub(crate) mod socket;

use std::sync::Arc;

use axum::routing::get;
use axum::Router;

pub(crate) use hub::Hub;
pub(crate) use socket::ReloadSocket;

/// `/__devserve/client.js` and `/__devserve/ws`.
pub(crate) fn routes(socket: Arc<ReloadSocket>) -> Router {
    Router::new()
        .route(protocol::CLIENT_JS_PATH, get(client::handler))
        .route(protocol::WS_PATH, get(socket::handler))
        .with_state(socket)
}
