//! The vote board's logic: a few candidates with counts; a vote from one tab updates the bars in
//! every tab. Shared with the integration tests, which serve it on port 0.
//!
//! Client → server: `{"type":"vote","name":"Rust"}`.
//! Server → every client: `{"type":"counts","candidates":[{"name":"Rust","votes":3}, …]}`, on
//! connecting and after every vote. A frame that is not a vote for a candidate is ignored.

use std::sync::{Arc, Mutex};

use axum::extract::ws::{Message, WebSocket, WebSocketUpgrade};
use axum::extract::State;
use axum::response::Response;
use axum::routing::get;
use axum::Router;
use serde::{Deserialize, Serialize};
use tokio::sync::broadcast;

/// The candidates on the board.
pub const CANDIDATES: &[&str] = &["Rust", "Go", "Zig", "OCaml"];
const MAX_FRAME: usize = 1024;

#[derive(Debug, Deserialize)]
#[serde(tag = "type", rename_all = "lowercase")]
enum ClientMsg {
    Vote { name: String },
}

#[derive(Debug, Clone, Serialize)]
struct Candidate {
    name: &'static str,
    votes: u64,
}

#[derive(Debug, Clone, Serialize)]
#[serde(tag = "type", rename_all = "lowercase")]
enum ServerMsg {
    Counts { candidates: Vec<Candidate> },
}

/// The counts, and the channel every tab listens on.
#[derive(Clone)]
pub struct Board {
    votes: Arc<Mutex<Vec<u64>>>,
    tx: broadcast::Sender<String>,
}

impl Board {
    fn new() -> Self {
        Board {
            votes: Arc::new(Mutex::new(vec![0; CANDIDATES.len()])),
            tx: broadcast::channel(64).0,
        }
    }

    fn counts(&self) -> String {
        let votes = self.votes.lock().unwrap_or_else(|e| e.into_inner());
        let candidates = CANDIDATES
            .iter()
            .zip(votes.iter())
            .map(|(&name, &votes)| Candidate { name, votes })
            .collect();
        serde_json::to_string(&ServerMsg::Counts { candidates }).unwrap_or_default()
    }

    /// Counts a vote for `name`; false when there is no such candidate.
    fn vote(&self, name: &str) -> bool {
        let Some(i) = CANDIDATES.iter().position(|c| *c == name) else {
            return false;
        };
        self.votes.lock().unwrap_or_else(|e| e.into_inner())[i] += 1;
        let _ = self.tx.send(self.counts());
        true
    }
}

/// The backend's routes.
pub fn app() -> Router {
    Router::new()
        .route(
            "/",
            get(|| async { "vote backend: open the front end through devserve\n" }),
        )
        .route("/ws", get(ws))
        .with_state(Board::new())
}

async fn ws(State(board): State<Board>, upgrade: WebSocketUpgrade) -> Response {
    upgrade
        .max_message_size(MAX_FRAME)
        .on_upgrade(move |socket| tab(socket, board))
}

async fn tab(mut socket: WebSocket, board: Board) {
    let mut rx = board.tx.subscribe();
    if socket.send(Message::Text(board.counts().into())).await.is_err() {
        return;
    }
    loop {
        tokio::select! {
            msg = socket.recv() => match msg {
                Some(Ok(Message::Text(text))) => {
                    if let Ok(ClientMsg::Vote { name }) = serde_json::from_str(&text) {
                        board.vote(&name);
                    }
                }
                Some(Ok(Message::Close(_))) | None | Some(Err(_)) => return,
                Some(Ok(_)) => {}
            },
            counts = rx.recv() => match counts {
                Ok(text) => if socket.send(Message::Text(text.into())).await.is_err() { return },
                // Fell behind: the latest counts are what matter.
                Err(broadcast::error::RecvError::Lagged(_)) => {
                    if socket.send(Message::Text(board.counts().into())).await.is_err() { return }
                }
                Err(broadcast::error::RecvError::Closed) => return,
            }
        }
    }
}
