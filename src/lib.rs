//! devserve: a live-reload development server.
//!
//! It serves a folder, injects a small WebSocket client into every HTML page, watches the folder,
//! and tells every open tab when files change: stylesheets are swapped in place, everything else
//! reloads the page. Requests under a `--proxy` prefix go to a backend.
//!
//! devserve runs on Unix (Linux, where it is built and tested, and macOS); see README.
//!
//! # Layout
//! Imports point down: `serve` wires everything and nothing imports it; `files`, `proxy`,
//! `reload` and `watch` are siblings that never use each other's state; the leaves are pure.
//! - `config`: flags and `DEVSERVE_*` variables → a resolved [`Config`], each value knowing
//!   where it came from (`config::cli` is only the clap struct).
//! - `serve`: [`run`], the composition root; the service stack (`serve::app`), connections and
//!   TLS, the certificate, [`bind`], the banner, headers, keyboard shortcuts, signals.
//! - `files`: the `FileService` (lookup, respond, cache, stamp, sendfile, precompressed files).
//! - `proxy`: rules (pure), HTTP forwarding over a pool of kept connections, WebSocket tunnels,
//!   hop-by-hop headers, `localhost` resolution, `https://` backends.
//! - `supervisor`: the backend command (`--run`): its process group, readiness, restarts.
//! - `reload`: the protocol (paths and messages), the hub, the WebSocket endpoint, the client,
//!   and the build tools' endpoints (`reload::trigger`).
//! - `watch`: notify or polling → typed `WatchEvent`s to a sink (ignore rules, batching).
//! - `web`: what every component shares: the request's `Page`, conditional requests, and every
//!   page devserve writes itself.
//! - `inject`: the pure byte injection, and a whole backend response injected (`inject::body`).
//! - `paths`, `security`: pure path mapping and Host/Origin/token checks.
//! - `error`: [`StartError`] (stops the program) and `ServeError` (becomes a response).
//! - [`layer`]: live reload for other people's axum/tower apps; `fuzzing`: the fuzz targets'
//!   entry points (only under `cfg(fuzzing)`).

#![warn(unreachable_pub)]
#![warn(missing_docs)]

#[cfg(not(unix))]
compile_error!("devserve runs on Unix (Linux and macOS): its file cache and watcher read Unix file metadata");

mod config;
mod error;
mod files;
mod inject;
mod paths;
mod proxy;
mod reload;
mod security;
mod serve;
mod supervisor;
mod watch;
mod web;

pub mod layer;

#[cfg(fuzzing)]
#[doc(hidden)]
pub mod fuzzing;

pub use config::{Config, PortChoice, Tls};
pub use error::{Origin, StartError};
pub use reload::protocol::{ServerMessage, PROTOCOL};
pub use serve::{bind, on_signals, run};
