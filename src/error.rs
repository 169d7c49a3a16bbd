//! Errors, split by phase (as miniserve's `errors.rs` and watchexec's `CriticalError` /
//! `RuntimeError`): [`StartError`] stops the program with exit status 1 and one line that says
//! what to do; [`ServeError`] is what goes wrong with one request, and becomes a response
//! (rendered in one place, `web::pages`).

use std::fmt;
use std::net::SocketAddr;
use std::time::Duration;

use axum::http::StatusCode;
use thiserror::Error;

/// Where a setting's value came from, as a person would look for it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Origin {
    /// devserve's own default.
    Default,
    /// A command-line flag, e.g. `--proxy`.
    Flag(String),
    /// An environment variable, e.g. `DEVSERVE_PROXY`.
    Env(String),
    /// A line of the settings file: `devserve.toml:3`, and the key.
    File {
        /// `devserve.toml:3`.
        place: String,
        /// The key on that line.
        key: String,
    },
}

impl Origin {
    /// Where to change the value, for a message that says what to do: `with --port`,
    /// `in DEVSERVE_PORT`, `at devserve.toml:3 (port =)`.
    fn where_set(&self) -> String {
        match self {
            Origin::Default => "with a flag".to_string(),
            Origin::Flag(flag) => format!("with {flag}"),
            Origin::Env(var) => format!("in {var}"),
            Origin::File { place, key } => format!("at {place} ({key} =)"),
        }
    }
}

impl fmt::Display for Origin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Origin::Default => f.write_str("the default"),
            Origin::Flag(flag) => f.write_str(flag),
            Origin::Env(var) => f.write_str(var),
            Origin::File { place, key } => write!(f, "{place}: {key} ="),
        }
    }
}

/// A problem found before serving starts.
#[derive(Debug, Error)]
pub enum StartError {
    /// The command line could not be parsed, or asked for `--help` / `--version`: clap's own
    /// message, for the caller to print as it is.
    #[error("{0}")]
    Usage(Box<clap::Error>),

    /// Asked for something to print instead of serving (`--completions`, `--man`): the text,
    /// for the caller to print on standard output, and exit 0.
    #[error("{0}")]
    Print(String),

    /// The folder to serve does not exist, nor does its parent.
    #[error("folder `{root}` does not exist: create it, or name the folder to serve (devserve ./public)")]
    RootMissing {
        /// As it was given.
        root: String,
    },

    #[error("`{root}` is a file, not a folder: name the folder that contains it (devserve ./public)")]
    /// The folder to serve is a file.
    RootNotDir {
        /// As it was given.
        root: String,
    },

    /// The HTTPS certificate could not be made or read.
    #[error("{0}")]
    Tls(String),

    /// The settings file says something no flag means.
    #[error("{place}: {why}")]
    Settings {
        /// `devserve.toml:3`.
        place: String,
        /// What is wrong, and what to write instead.
        why: String,
    },

    /// A value that does not parse or does not make sense; `origin` says where it was written.
    #[error("{origin} `{value}`: {why}")]
    Invalid {
        /// Where it was written.
        origin: Origin,
        /// The value as written.
        value: String,
        /// What is wrong, and what to write instead.
        why: String,
    },

    /// The port is busy (on 127.0.0.1, or on ::1, which browsers may take for localhost).
    #[error("port {port} is already in use{}: stop what uses it, or pick another {} (0 picks any free port)", on.as_deref().map(|a| format!(" on {a}, which browsers may take for localhost")).unwrap_or_default(), origin.where_set())]
    PortBusy {
        /// The port asked for.
        port: u16,
        /// The address it is busy on, when not the one asked for (`::1`).
        on: Option<String>,
        /// Where the port was asked for.
        origin: Origin,
    },

    /// The listen address could not be bound.
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        /// The address.
        addr: SocketAddr,
        /// Why.
        #[source]
        source: std::io::Error,
    },
}

/// What goes wrong with one request. Each becomes a status and a page or a line of text.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub(crate) enum ServeError {
    /// Nothing at this path (or a path that may not be served: it says the same).
    #[error("nothing is served at {path}")]
    NotFound { path: String },
    /// A hidden file or folder (`.env`, `.git/`): never served.
    #[error("devserve does not serve hidden files (names that start with a dot)")]
    Hidden { path: String },
    /// A path under `/__devserve/` that is no endpoint.
    #[error("no such devserve endpoint")]
    NoEndpoint,
    #[error("devserve serves files with GET and HEAD")]
    MethodNotAllowed,
    /// A `Host` that does not name this machine (DNS rebinding).
    #[error("devserve does not answer requests for the host `{host}`")]
    ForeignHost { host: String },
    /// HTTP/1.1 without `Host`.
    #[error("an HTTP/1.1 request needs a Host header (RFC 9112 §3.2)")]
    MissingHost,
    /// Another site's page asking for devserve's files (a script, an image, a fetch).
    #[error("devserve's files are for pages of this site only")]
    CrossSite,
    /// A request body that breaks HTTP's framing (a malformed chunk).
    #[error("the request body is malformed")]
    BadBody,
    /// A build tool's request that is not JSON.
    #[error("send JSON, with Content-Type: application/json")]
    NotJson,
    /// A body over the endpoint's limit.
    #[error("the body is larger than {limit} bytes")]
    TooLarge { limit: usize },
    /// JSON that is not what the endpoint takes.
    #[error("bad body: {0}")]
    BadJson(String),
    /// The reload socket asked for by another site's page.
    #[error("devserve's reload socket and endpoints answer only this server's own pages and local tools")]
    ForeignOrigin,
    #[error("missing or stale token; reload the page")]
    StaleToken,
    #[error("this connection cannot be upgraded")]
    NotUpgradable,
    #[error("the backend at {authority} could not be reached ({why})")]
    BadGateway { authority: String, why: String },
    #[error("the backend at {authority} did not answer within {} s", after.as_secs_f32())]
    GatewayTimeout { authority: String, after: Duration },
    /// A `Range` that starts past the end of a file of `len` bytes.
    #[error("range not satisfiable")]
    RangeNotSatisfiable { len: u64 },
}

impl ServeError {
    pub(crate) fn status(&self) -> StatusCode {
        match self {
            ServeError::NotFound { .. } | ServeError::Hidden { .. } | ServeError::NoEndpoint => {
                StatusCode::NOT_FOUND
            }
            ServeError::MethodNotAllowed => StatusCode::METHOD_NOT_ALLOWED,
            ServeError::ForeignHost { .. } | ServeError::ForeignOrigin | ServeError::StaleToken => {
                StatusCode::FORBIDDEN
            }
            ServeError::NotUpgradable | ServeError::MissingHost | ServeError::BadBody => {
                StatusCode::BAD_REQUEST
            }
            ServeError::CrossSite => StatusCode::FORBIDDEN,
            ServeError::NotJson => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            ServeError::TooLarge { .. } => StatusCode::PAYLOAD_TOO_LARGE,
            ServeError::BadJson(_) => StatusCode::BAD_REQUEST,
            ServeError::BadGateway { .. } => StatusCode::BAD_GATEWAY,
            ServeError::GatewayTimeout { .. } => StatusCode::GATEWAY_TIMEOUT,
            ServeError::RangeNotSatisfiable { .. } => StatusCode::RANGE_NOT_SATISFIABLE,
        }
    }
}
