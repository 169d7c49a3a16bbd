//! The chat backend's logic: rooms chosen by path (`/ws/<room>`, `/ws` = "lobby"), names, chat
//! lines, and join/leave notes. Shared with the integration tests, which serve it on port 0.
//!
//! Client → server: `{"type":"join","name":"ann"}` once, then `{"type":"chat","text":"hi"}`.
//! Server → clients in the room: `{"type":"note","text":"ann joined \"lobby\"."}`,
//! `{"type":"chat","name":"ann","text":"hi"}`, and a leave note when a socket closes.
//! A frame that is not one of these closes that one socket (code 1003), never the server.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use axum::extract::ws::{CloseFrame, Message, WebSocket, WebSocketUpgrade};
use axum::extract::{Path, State};
use axum::response::Response;
use axum::routing::get;
use axum::Router;
use serde::{Deserialize, Serialize};
use tokio::sync::broadcast;

/// The room a bare `/ws` joins.
pub const DEFAULT_ROOM: &str = "lobby";
const MAX_NAME: usize = 32;
const MAX_TEXT: usize = 2000;
const MAX_FRAME: usize = 16 * 1024;

#[derive(Debug, Deserialize)]
#[serde(tag = "type", rename_all = "lowercase")]
enum ClientMsg {
    Join { name: String },
    Chat { text: String },
}

#[derive(Debug, Clone, Serialize)]
#[serde(tag = "type", rename_all = "lowercase")]
enum ServerMsg {
    Note { text: String },
    Chat { name: String, text: String },
}

/// Rooms by name, each a broadcast channel of serialised messages.
#[derive(Default, Clone)]
pub struct Rooms(Arc<Mutex<HashMap<String, broadcast::Sender<String>>>>);

impl Rooms {
    fn join(&self, room: &str) -> broadcast::Sender<String> {
        let mut rooms = self.0.lock().unwrap_or_else(|e| e.into_inner());
        rooms.retain(|_, tx| tx.receiver_count() > 0); // forget empty rooms
        rooms
            .entry(room.to_string())
            .or_insert_with(|| broadcast::channel(256).0)
            .clone()
    }
}

/// The backend's routes.
pub fn app() -> Router {
    Router::new()
        .route(
            "/",
            get(|| async { "chat backend: open the front end through devserve\n" }),
        )
        .route(
            "/ws",
            get(|ws: WebSocketUpgrade, State(rooms): State<Rooms>| async move {
                upgrade(ws, rooms, DEFAULT_ROOM.to_string())
            }),
        )
        .route(
            "/ws/{room}",
            get(
                |ws: WebSocketUpgrade, State(rooms): State<Rooms>, Path(room): Path<String>| async move {
                    upgrade(ws, rooms, room)
                },
            ),
        )
        .with_state(Rooms::default())
}

fn upgrade(ws: WebSocketUpgrade, rooms: Rooms, room: String) -> Response {
    let room: String = room.chars().filter(|c| !c.is_control()).take(MAX_NAME).collect();
    ws.max_message_size(MAX_FRAME)
        .on_upgrade(move |socket| session(socket, rooms, room))
}

async fn session(mut socket: WebSocket, rooms: Rooms, room: String) {
    // The first frame must be a join.
    let name = match socket.recv().await {
        Some(Ok(Message::Text(text))) => match serde_json::from_str::<ClientMsg>(&text) {
            Ok(ClientMsg::Join { name }) => clean(&name, MAX_NAME),
            _ => return refuse(socket, "expected {\"type\":\"join\",\"name\":…} first").await,
        },
        _ => return,
    };
    if name.is_empty() {
        return refuse(socket, "a name is needed").await;
    }
    let tx = rooms.join(&room);
    let mut rx = tx.subscribe();
    let say = |msg: ServerMsg| {
        if let Ok(text) = serde_json::to_string(&msg) {
            let _ = tx.send(text);
        }
    };
    say(ServerMsg::Note {
        text: format!("{name} joined \"{room}\"."),
    });
    loop {
        tokio::select! {
            incoming = socket.recv() => match incoming {
                Some(Ok(Message::Text(text))) => match serde_json::from_str::<ClientMsg>(&text) {
                    Ok(ClientMsg::Chat { text }) => {
                        let text = clean(&text, MAX_TEXT);
                        if !text.is_empty() {
                            say(ServerMsg::Chat { name: name.clone(), text });
                        }
                    }
                    Ok(ClientMsg::Join { .. }) | Err(_) => {
                        refuse(socket, "expected {\"type\":\"chat\",\"text\":…}").await;
                        break;
                    }
                },
                Some(Ok(Message::Ping(_) | Message::Pong(_))) => {}
                _ => break,
            },
            outgoing = rx.recv() => match outgoing {
                Ok(text) => if socket.send(Message::Text(text.into())).await.is_err() { break },
                Err(broadcast::error::RecvError::Lagged(_)) => continue,
                Err(broadcast::error::RecvError::Closed) => break,
            },
        }
    }
    say(ServerMsg::Note {
        text: format!("{name} left \"{room}\"."),
    });
}

/// Closes one socket with 1003 (unsupported data) and a reason.
async fn refuse(mut socket: WebSocket, why: &'static str) {
    let frame = CloseFrame {
        code: 1003,
        reason: why.into(),
    };
    let _ = socket.send(Message::Close(Some(frame))).await;
}

fn clean(s: &str, max: usize) -> String {
    s.trim()
        .chars()
        .filter(|c| !c.is_control() || *c == '\n')
        .take(max)
        .collect()
}
