//! The reload WebSocket at [`WS_PATH`]: checks Origin and token, then pushes the hub's frames.

use std::sync::Arc;
use std::time::Duration;

use axum::extract::ws::{
    rejection::WebSocketUpgradeRejection, Message as WsMessage, WebSocket, WebSocketUpgrade,
};
use axum::extract::{Query, State};
use axum::http::{header, HeaderMap};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use tokio::sync::{broadcast, watch};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use super::hub::Hub;
#[cfg(doc)]
use super::protocol::WS_PATH;
use super::protocol::{ClientMessage, Frame, ServerMessage};
use crate::error::ServeError;
use crate::security::{origin_allowed, request_host, token_matches};

/// Largest frame a tab may send (the channel is push-only; client frames are read and dropped).
const MAX_CLIENT_FRAME: usize = 4 * 1024;
/// The socket's read buffer. tungstenite's default (128 KiB) is zero-filled before every read,
/// which costs every open tab memory and every batch a memset per socket (figures in
/// BENCHMARKS.md, "Measurements behind some constants"). The client sends nothing but a close
/// frame.
const READ_BUFFER: usize = 1024;

/// What the reload socket needs: the hub it relays, the token pages carry, and the server's
/// shutdown (axum's graceful shutdown does not wait for upgraded sockets).
pub(crate) struct ReloadSocket {
    pub(crate) hub: Arc<Hub>,
    pub(crate) token: Arc<str>,
    pub(crate) shutdown: CancellationToken,
    pub(crate) tracker: TaskTracker,
    /// `--reload-all`: told to every tab in `connected`.
    pub(crate) reload_all: bool,
    /// `-v`: pages send their uncaught errors, which are logged.
    pub(crate) report_errors: bool,
}

#[derive(Debug, Deserialize)]
pub(crate) struct WsQuery {
    token: Option<String>,
}

/// `GET /__devserve/ws?token=…`: checks Origin and token, then upgrades.
pub(crate) async fn handler(
    State(socket): State<Arc<ReloadSocket>>,
    Query(query): Query<WsQuery>,
    headers: HeaderMap,
    upgrade: Result<WebSocketUpgrade, WebSocketUpgradeRejection>,
) -> Response {
    let origin = headers
        .get(header::ORIGIN)
        .map(|v| v.to_str().unwrap_or("unreadable"));
    if !origin_allowed(origin, request_host(&headers)) {
        tracing::warn!(origin, "refused the reload socket to a foreign Origin");
        return ServeError::ForeignOrigin.into_response();
    }
    let token_ok = query
        .token
        .as_deref()
        .is_some_and(|t| token_matches(t, &socket.token));
    if !token_ok {
        return ServeError::StaleToken.into_response();
    }
    let upgrade = match upgrade {
        Ok(upgrade) => upgrade,
        Err(rejection) => return rejection.into_response(),
    };
    let (rx, ready) = socket.hub.subscribe();
    let shutdown = socket.shutdown.clone();
    let tracker = socket.tracker.clone();
    let hub = socket.hub.clone();
    let (reload_all, report_errors) = (socket.reload_all, socket.report_errors);
    upgrade
        .read_buffer_size(READ_BUFFER)
        .max_message_size(MAX_CLIENT_FRAME)
        .max_frame_size(MAX_CLIENT_FRAME)
        .on_upgrade(move |ws| async move {
            tracker.spawn(serve(ws, hub, rx, ready, shutdown, reload_all, report_errors));
        })
}

/// A page's uncaught error, as the page reported it (`-v`).
fn log_page_error(text: &str) {
    let Ok(ClientMessage::PageError { url, message, at }) = serde_json::from_str(text) else {
        return;
    };
    let cut = |s: &str| {
        s.chars()
            .filter(|c| !c.is_control())
            .take(500)
            .collect::<String>()
    };
    let at = if at.is_empty() {
        String::new()
    } else {
        format!(" ({})", cut(&at))
    };
    tracing::info!("error in the page {}: {}{at}", cut(&url), cut(&message));
}

async fn serve(
    mut socket: WebSocket,
    hub: Arc<Hub>,
    mut rx: broadcast::Receiver<Frame>,
    mut ready: watch::Receiver<bool>,
    shutdown: CancellationToken,
    reload_all: bool,
    report_errors: bool,
) {
    // One wait for shutdown for the socket's whole life: a fresh `cancelled()` on every turn of the
    // loop would take the token's lock twice per message, a thousand sockets at once.
    let cancelled = shutdown.cancelled();
    tokio::pin!(cancelled);
    // `connected` means "watching": wait for the watcher before saying it.
    tokio::select! {
        _ = &mut cancelled => return,
        res = ready.wait_for(|r| *r) => if res.is_err() { return },
    }
    // Read after subscribing: a batch published in between is both counted here and delivered.
    let Some(hello) = Frame::new(ServerMessage::connected(hub.seq(), reload_all, report_errors)) else {
        return;
    };
    if socket.send(WsMessage::Text(hello.text)).await.is_err() {
        return;
    }
    // The errors open now, right after `connected` (one broadcast meanwhile may come twice: the
    // client shows one error per source).
    for error in hub.open_errors() {
        if socket.send(WsMessage::Text(error.text)).await.is_err() {
            return;
        }
    }
    let mut lagged = false;
    loop {
        tokio::select! {
            _ = &mut cancelled => {
                let _ = tokio::time::timeout(Duration::from_millis(200), socket.send(WsMessage::Close(None))).await;
                return;
            }
            frame = rx.recv() => {
                // Serialised once for every socket: each gets a reference-counted clone.
                let frame = match frame {
                    Ok(frame) if lagged => {
                        // Batches were missed: whatever they held, reloading the page is right.
                        // An error or a clear in between goes as it is, and the next batch
                        // carries the reload.
                        match frame.message.forcing_reload().and_then(Frame::new) {
                            Some(forced) => {
                                lagged = false;
                                forced
                            }
                            None => frame,
                        }
                    }
                    Ok(frame) => frame,
                    Err(broadcast::error::RecvError::Lagged(_)) => { lagged = true; continue }
                    Err(broadcast::error::RecvError::Closed) => return,
                };
                if socket.send(WsMessage::Text(frame.text)).await.is_err() {
                    return;
                }
            }
            incoming = socket.recv() => match incoming {
                None | Some(Err(_)) | Some(Ok(WsMessage::Close(_))) => return,
                // Push-only, but for the page errors asked for in `connected`.
                Some(Ok(WsMessage::Text(text))) if report_errors => log_page_error(&text),
                Some(Ok(_)) => {}
            }
        }
    }
}
