//! The reload protocol (DESIGN §2, §5): devserve's reserved paths and the messages a tab is sent.
//!
//! This is the contract with the browser client and with tests outside the crate. Messages are a
//! typed enum; a [`Frame`] is one message serialised once, so every socket sends the same bytes
//! and a socket that must change a message (after falling behind) still has it typed.

use axum::extract::ws::Utf8Bytes;
use serde::{Deserialize, Serialize};

/// Everything devserve answers itself lives under this prefix.
pub(crate) const RESERVED_PREFIX: &str = "/__devserve/";
/// The injected client.
pub(crate) const CLIENT_JS_PATH: &str = "/__devserve/client.js";
/// The reload WebSocket.
pub(crate) const WS_PATH: &str = "/__devserve/ws";
/// `POST`: one batch of changes, for build tools and scripts.
pub(crate) const RELOAD_PATH: &str = "/__devserve/reload";
/// `POST`: a build tool's state (building, ok, error).
pub(crate) const STATUS_PATH: &str = "/__devserve/status";

/// The protocol version sent in `connected`.
pub const PROTOCOL: u32 = 1;

/// What the server says to a tab. Serialised as `{"type":"connected",…}` / `{"type":"updated",…}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "lowercase")]
pub enum ServerMessage {
    /// The first frame on every connection; sent once the watcher is ready. `seq` (an extension)
    /// is the last batch sent so far, to compare with the `data-seq` of the page's tag.
    Connected {
        /// [`PROTOCOL`].
        protocol: u32,
        /// `devserve` and its version.
        server: String,
        /// The last batch's seq.
        #[serde(default)]
        seq: u64,
        /// (An extension.) Every tab reloads on every change (`--reload-all`), rather than only
        /// the tabs that use a changed file.
        #[serde(default, skip_serializing_if = "std::ops::Not::not")]
        reload_all: bool,
        /// (An extension.) The page should send its uncaught errors (`-v`).
        #[serde(default, skip_serializing_if = "std::ops::Not::not")]
        report_errors: bool,
    },
    /// One batch of changes.
    Updated {
        /// This batch's number, one more than the last.
        seq: u64,
        /// URL paths of the changed files inside ROOT, percent-encoded, starting with `/`.
        paths: Vec<String>,
        /// False only when every change is a modified stylesheet.
        reload: bool,
        /// (An extension.) `paths` does not name every change — events were lost, a `--watch`
        /// path outside ROOT changed, there were more paths than are listed, or the tab missed
        /// batches: every tab reloads, whatever it uses.
        #[serde(default, skip_serializing_if = "std::ops::Not::not")]
        all: bool,
    },
    /// An error to show over the page until it is cleared; one per `source`.
    Error {
        /// Who reported it (`run`, `esbuild`); a later error of the same source replaces it.
        source: String,
        /// One line.
        title: String,
        /// The details, shown as text (ANSI colours understood).
        text: String,
    },
    /// The error of `source` is gone.
    Clear {
        /// As in [`ServerMessage::Error`].
        source: String,
    },
}

/// What a page says to the server (only when `connected` asked for it).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(tag = "type", rename_all = "kebab-case")]
pub(crate) enum ClientMessage {
    /// An uncaught error or rejection in the page.
    PageError {
        #[serde(default)]
        url: String,
        #[serde(default)]
        message: String,
        #[serde(default)]
        at: String,
    },
}

impl ServerMessage {
    pub(crate) fn connected(seq: u64, reload_all: bool, report_errors: bool) -> Self {
        ServerMessage::Connected {
            seq,
            reload_all,
            report_errors,
            protocol: PROTOCOL,
            server: format!("devserve {}", env!("CARGO_PKG_VERSION")),
        }
    }

    /// The same message, but one that reloads every tab: what a tab that missed batches is sent
    /// (whatever they held).
    pub(crate) fn forcing_reload(&self) -> Option<Self> {
        match self {
            ServerMessage::Updated { seq, paths, .. } => Some(ServerMessage::Updated {
                seq: *seq,
                paths: paths.clone(),
                reload: true,
                all: true,
            }),
            _ => None,
        }
    }
}

/// A message and its JSON text, made once and shared by every socket.
#[derive(Debug, Clone)]
pub(crate) struct Frame {
    pub(crate) message: std::sync::Arc<ServerMessage>,
    pub(crate) text: Utf8Bytes,
}

impl Frame {
    pub(crate) fn new(message: ServerMessage) -> Option<Self> {
        let text = serde_json::to_string(&message).ok()?;
        Some(Frame {
            message: std::sync::Arc::new(message),
            text: Utf8Bytes::from(text),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_have_the_contract_shape() {
        let v: serde_json::Value = serde_json::to_value(ServerMessage::connected(0, false, false)).unwrap();
        assert_eq!(v["type"], "connected");
        assert_eq!(v["protocol"], 1);
        assert!(v.get("reload_all").is_none(), "said only when set");
        let v = serde_json::to_value(ServerMessage::connected(0, true, false)).unwrap();
        assert_eq!(v["reload_all"], true);
        let u = ServerMessage::Updated {
            seq: 3,
            paths: vec!["/css/site.css".into()],
            reload: false,
            all: false,
        };
        let v = serde_json::to_value(&u).unwrap();
        assert_eq!(
            v,
            serde_json::json!({"type":"updated","seq":3,"paths":["/css/site.css"],"reload":false})
        );
    }

    #[test]
    fn errors_and_their_clearing_have_their_shape() {
        let e = ServerMessage::Error {
            source: "esbuild".into(),
            title: "build failed".into(),
            text: "src/a.js:1:2: <b>x</b>".into(),
        };
        assert_eq!(
            serde_json::to_value(&e).unwrap(),
            serde_json::json!({"type":"error","source":"esbuild","title":"build failed","text":"src/a.js:1:2: <b>x</b>"})
        );
        let c = ServerMessage::Clear { source: "run".into() };
        assert_eq!(
            serde_json::to_value(&c).unwrap(),
            serde_json::json!({"type":"clear","source":"run"})
        );
        let p: ClientMessage =
            serde_json::from_str(r#"{"type":"page-error","url":"/","message":"boom","at":"app.js:3:1"}"#)
                .unwrap();
        assert!(matches!(p, ClientMessage::PageError { message, .. } if message == "boom"));
    }

    #[test]
    fn a_missed_batch_reloads_every_tab_and_nothing_else_changes() {
        let swap = ServerMessage::Updated {
            seq: 4,
            paths: vec!["/a.css".into()],
            reload: false,
            all: false,
        };
        let forced = swap.forcing_reload().unwrap();
        let every = ServerMessage::Updated {
            seq: 4,
            paths: vec!["/a.css".into()],
            reload: true,
            all: true,
        };
        assert_eq!(forced, every);
        // A reload that names paths is filtered by each tab: missed, it must reach every tab too.
        let page = ServerMessage::Updated {
            seq: 4,
            paths: vec!["/a.css".into()],
            reload: true,
            all: false,
        };
        assert_eq!(page.forcing_reload(), Some(every.clone()));
        assert_eq!(forced.forcing_reload(), Some(every), "already one");
        let v = serde_json::to_value(&forced).unwrap();
        assert_eq!(v["all"], true, "said when set");
        assert_eq!(ServerMessage::connected(1, false, false).forcing_reload(), None);
        let frame = Frame::new(forced.clone()).unwrap();
        let parsed: ServerMessage = serde_json::from_str(&frame.text).unwrap();
        assert_eq!(parsed, forced);
    }
}
