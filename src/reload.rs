//! The reload protocol: its messages, the hub that fans a batch out to every tab, and the
//! WebSocket endpoint at [`crate::server::WS_PATH`].
//!
//! Each batch is serialised once and shared by every socket; a socket that falls behind the
//! broadcast buffer is told to reload rather than being sent stale batches.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use axum::extract::ws::{Message as WsMessage, Utf8Bytes, WebSocket, WebSocketUpgrade};
use axum::extract::{Query, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};
use tokio::sync::{broadcast, watch};

use crate::security::{origin_allowed, request_host, token_matches};
use crate::server::AppState;

/// The protocol version sent in `connected`.
pub const PROTOCOL: u32 = 1;

/// What the server says to a tab. Serialised as `{"type":"connected",…}` / `{"type":"updated",…}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "lowercase")]
pub enum ServerMessage {
    /// The first frame on every connection; sent once the watcher is ready. `seq` (an extension)
    /// is the last batch sent so far, to compare with the `data-seq` of the page's tag.
    Connected {
        protocol: u32,
        server: String,
        #[serde(default)]
        seq: u64,
    },
    /// One batch of changes.
    Updated {
        seq: u64,
        /// URL paths of the changed files inside ROOT, percent-encoded, starting with `/`.
        paths: Vec<String>,
        /// False only when every change is a modified stylesheet.
        reload: bool,
    },
}

impl ServerMessage {
    fn connected(seq: u64) -> Self {
        ServerMessage::Connected {
            seq,
            protocol: PROTOCOL,
            server: format!("devserve {}", env!("CARGO_PKG_VERSION")),
        }
    }
}

/// A batch of changes, as the watcher hands it over.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Batch {
    /// URL paths of changed files inside ROOT.
    pub paths: Vec<String>,
    /// True when the tabs must reload (anything but modified stylesheets changed).
    pub reload: bool,
}

/// Fans batches out to every connected tab.
pub struct Hub {
    tx: broadcast::Sender<Utf8Bytes>,
    seq: AtomicU64,
    ready_tx: watch::Sender<bool>,
}

/// How many batches a slow socket may fall behind before it is told to reload instead.
const BACKLOG: usize = 64;

impl Hub {
    pub fn new() -> Self {
        let (tx, _) = broadcast::channel(BACKLOG);
        let (ready_tx, _) = watch::channel(false);
        Hub {
            tx,
            seq: AtomicU64::new(0),
            ready_tx,
        }
    }

    /// Sends a batch to every tab and returns how many were told.
    pub fn publish(&self, batch: Batch) -> usize {
        let seq = self.seq.fetch_add(1, Ordering::Relaxed) + 1;
        let msg = ServerMessage::Updated {
            seq,
            paths: batch.paths,
            reload: batch.reload,
        };
        match serde_json::to_string(&msg) {
            Ok(text) => self.tx.send(Utf8Bytes::from(text)).unwrap_or(0),
            Err(_) => 0,
        }
    }

    /// The seq of the last batch published (0 before the first).
    pub fn seq(&self) -> u64 {
        self.seq.load(Ordering::Relaxed)
    }

    /// Marks the watcher as ready: sockets waiting to say `connected` go ahead.
    pub fn set_ready(&self) {
        self.ready_tx.send_replace(true);
    }
}

impl Default for Hub {
    fn default() -> Self {
        Self::new()
    }
}

#[derive(Debug, Deserialize)]
pub struct WsQuery {
    token: Option<String>,
}

/// Largest frame a tab may send (the channel is push-only; client frames are read and dropped).
const MAX_CLIENT_FRAME: usize = 4 * 1024;
/// The socket's read buffer. tungstenite's default is 128 KiB, and it zero-fills the unused part
/// of the buffer before every read: a tab cost 136 KiB resident, and every batch sent cost each
/// socket a 128 KiB memset when its task looked for client frames again (half of devserve's time
/// telling 1,000 tabs). The client sends nothing but a close frame (devserve never pings it).
const READ_BUFFER: usize = 1024;

/// `GET /__devserve/ws?token=…`: checks Origin and token, then upgrades.
pub async fn ws_handler(
    State(state): State<Arc<AppState>>,
    Query(query): Query<WsQuery>,
    headers: HeaderMap,
    upgrade: Result<WebSocketUpgrade, axum::extract::ws::rejection::WebSocketUpgradeRejection>,
) -> Response {
    let origin = headers
        .get(header::ORIGIN)
        .map(|v| v.to_str().unwrap_or("unreadable"));
    if !origin_allowed(origin, request_host(&headers)) {
        tracing::warn!(origin, "refused the reload socket to a foreign Origin");
        return (
            StatusCode::FORBIDDEN,
            "403 Forbidden: the reload socket only serves this server's own pages\n",
        )
            .into_response();
    }
    let token_ok = query
        .token
        .as_deref()
        .is_some_and(|t| token_matches(t, &state.token));
    if !token_ok {
        return (
            StatusCode::FORBIDDEN,
            "403 Forbidden: missing or stale token; reload the page\n",
        )
            .into_response();
    }
    let upgrade = match upgrade {
        Ok(upgrade) => upgrade,
        Err(rejection) => return rejection.into_response(),
    };
    let rx = state.hub.tx.subscribe();
    let ready = state.hub.ready_tx.subscribe();
    let shutdown = state.shutdown.clone();
    let tracker = state.tracker.clone();
    let hub = state.hub.clone();
    upgrade
        .read_buffer_size(READ_BUFFER)
        .max_message_size(MAX_CLIENT_FRAME)
        .max_frame_size(MAX_CLIENT_FRAME)
        .on_upgrade(move |socket| async move {
            tracker.spawn(serve_socket(socket, hub, rx, ready, shutdown));
        })
}

async fn serve_socket(
    mut socket: WebSocket,
    hub: Arc<Hub>,
    mut rx: broadcast::Receiver<Utf8Bytes>,
    mut ready: watch::Receiver<bool>,
    shutdown: tokio_util::sync::CancellationToken,
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
    let Ok(hello) = serde_json::to_string(&ServerMessage::connected(hub.seq())) else {
        return;
    };
    if socket.send(WsMessage::Text(hello.into())).await.is_err() {
        return;
    }
    let mut lagged = false;
    loop {
        tokio::select! {
            _ = &mut cancelled => {
                let _ = tokio::time::timeout(Duration::from_millis(200), socket.send(WsMessage::Close(None))).await;
                return;
            }
            msg = rx.recv() => {
                // Serialised once for every socket: each gets a reference-counted clone.
                let text: Utf8Bytes = match msg {
                    Ok(text) if lagged => {
                        // Batches were missed: whatever they held, reloading the page is right.
                        lagged = false;
                        match force_reload(&text) { Some(t) => t, None => text }
                    }
                    Ok(text) => text,
                    Err(broadcast::error::RecvError::Lagged(_)) => { lagged = true; continue }
                    Err(broadcast::error::RecvError::Closed) => return,
                };
                if socket.send(WsMessage::Text(text)).await.is_err() {
                    return;
                }
            }
            incoming = socket.recv() => match incoming {
                None | Some(Err(_)) | Some(Ok(WsMessage::Close(_))) => return,
                Some(Ok(_)) => {} // push-only: client frames are ignored
            }
        }
    }
}

/// The same `updated` message with `reload: true`.
fn force_reload(text: &str) -> Option<Utf8Bytes> {
    match serde_json::from_str(text).ok()? {
        ServerMessage::Updated { seq, paths, .. } => serde_json::to_string(&ServerMessage::Updated {
            seq,
            paths,
            reload: true,
        })
        .ok()
        .map(Utf8Bytes::from),
        ServerMessage::Connected { .. } => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_have_the_contract_shape() {
        let v: serde_json::Value = serde_json::to_value(ServerMessage::connected(0)).unwrap();
        assert_eq!(v["type"], "connected");
        assert_eq!(v["protocol"], 1);
        let u = ServerMessage::Updated {
            seq: 3,
            paths: vec!["/css/site.css".into()],
            reload: false,
        };
        let v = serde_json::to_value(&u).unwrap();
        assert_eq!(
            v,
            serde_json::json!({"type":"updated","seq":3,"paths":["/css/site.css"],"reload":false})
        );
    }

    #[test]
    fn seq_grows_by_one_per_batch() {
        let hub = Hub::new();
        let mut rx = hub.tx.subscribe();
        hub.publish(Batch {
            paths: vec!["/a".into()],
            reload: true,
        });
        hub.publish(Batch {
            paths: vec!["/b".into()],
            reload: true,
        });
        for want in 1..=2 {
            let text = rx.try_recv().unwrap();
            match serde_json::from_str(&text).unwrap() {
                ServerMessage::Updated { seq, .. } => assert_eq!(seq, want),
                other => panic!("unexpected {other:?}"),
            }
        }
    }
}
