//! Errors, split by phase: [`StartError`] stops the program with exit status 1 and one line that
//! says what to do; everything that goes wrong while serving becomes a response or a log line.

use std::net::SocketAddr;

use thiserror::Error;

/// A problem found before serving starts.
#[derive(Debug, Error)]
pub enum StartError {
    #[error("folder `{root}` does not exist: create it, or name the folder to serve (devserve ./public)")]
    RootMissing { root: String },

    #[error("`{root}` is a file, not a folder: name the folder that contains it (devserve ./public)")]
    RootNotDir { root: String },

    #[error("--watch `{path}` does not exist: check the path")]
    WatchMissing { path: String },

    #[error("--host `{host}` is neither an address nor a name that resolves: try --host 127.0.0.1 or --host 0.0.0.0")]
    BadHost { host: String },

    #[error("port {port} is already in use: stop what uses it, or pick another with --port (--port 0 picks any free port)")]
    PortBusy { port: u16 },

    #[error("cannot listen on {addr}: {source}")]
    Bind {
        addr: SocketAddr,
        #[source]
        source: std::io::Error,
    },

    #[error("--proxy `{rule}`: {why}")]
    BadProxy { rule: String, why: String },

    #[error("--ignore `{glob}`: {why}")]
    BadIgnore { glob: String, why: String },
}
