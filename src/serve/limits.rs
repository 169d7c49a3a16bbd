//! What a peer may hold — the time a request head may take, the connections open at once, the
//! grace a connection gets at shutdown — and one connection driven within those bounds, plain
//! or over TLS (`connections` and `tls` both use it).

use std::time::Duration;

/// Connections open at once, at most (well above a thousand tabs' reload sockets).
const MAX_CONNECTIONS: usize = 4096;
/// File descriptors kept free for files, watches and backends, below the process's limit.
const FD_MARGIN: usize = 256;

/// Bounds on what peers may hold.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Limits {
    pub(crate) head_timeout: Duration,
    pub(crate) max_connections: usize,
    /// How long a connection may take to finish its request once shutdown begins.
    pub(crate) grace: Duration,
}

/// The default cap on connections: kept below the open-file limit.
pub(crate) fn default_max_connections() -> usize {
    MAX_CONNECTIONS.min(open_file_limit().saturating_sub(FD_MARGIN).max(64))
}

/// The process's soft limit on open files (effectively none where it cannot be read).
fn open_file_limit() -> usize {
    #[cfg(target_os = "linux")]
    {
        let limit = rustix::process::getrlimit(rustix::process::Resource::Nofile);
        limit
            .current
            .map_or(usize::MAX, |n| usize::try_from(n).unwrap_or(usize::MAX))
    }
    #[cfg(not(target_os = "linux"))]
    {
        usize::MAX
    }
}

/// Serves one connection until it ends, or asks it to finish its request once `shutdown` is
/// cancelled and drops it after the grace period (a proxied event stream never ends).
///
/// With `first`, a future that ends when the connection's first request has come: a peer that
/// sends none within the head bound is dropped. Over TLS hyper reads the protocol's first bytes
/// (and HTTP/2 its preface) with no timer of its own, so a peer that finishes the handshake and
/// then stays silent would hold its slot forever.
macro_rules! drive {
    ($conn:expr, $peer:expr, $limits:expr, $shutdown:expr) => {
        // hyper's own head timer bounds these: no bound of this macro's.
        drive!($conn, $peer, $limits, $shutdown, std::future::ready(()))
    };
    ($conn:expr, $peer:expr, $limits:expr, $shutdown:expr, $first:expr) => {{
        let mut conn = std::pin::pin!($conn);
        let first = $first;
        let silent = async {
            if tokio::time::timeout($limits.head_timeout, first).await.is_ok() {
                std::future::pending::<()>().await;
            }
        };
        tokio::select! {
            served = conn.as_mut() => {
                if let Err(e) = served {
                    tracing::trace!("connection from {}: {e}", $peer);
                }
            }
            () = silent => {
                tracing::debug!("{} sent no request within {:?}: dropped", $peer, $limits.head_timeout);
            }
            _ = $shutdown.cancelled() => {
                conn.as_mut().graceful_shutdown();
                let _ = tokio::time::timeout($limits.grace, conn).await;
            }
        }
    }};
}
pub(crate) use drive;
