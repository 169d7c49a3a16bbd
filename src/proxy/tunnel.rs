//! WebSocket tunnels: the upgrade is passed to the backend on a connection of its own, and once
//! the backend answers `101` the two sockets are joined with `copy_bidirectional`, so
//! subprotocols, extensions, binary frames and close codes pass untouched. Where both are plain
//! TCP (the usual `ws://` to a local backend) the copy runs on the sockets themselves, taken out
//! of hyper's upgraded connections; over TLS it goes through them.

use axum::body::Body;
use axum::extract::Request;
use axum::http::{header, HeaderValue, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use hyper::upgrade::Upgraded;
use hyper_rustls::MaybeHttpsStream;
use hyper_util::rt::TokioIo;
use tokio::io::{AsyncRead, AsyncWrite, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::sync::{oneshot, watch};
use tokio_util::either::Either;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use tower::Service;

use super::headers::strip_hop_by_hop;
use super::pool::Io as BackendIo;
use super::{bad_gateway, gateway_timeout, root_cause, Proxy};
use crate::error::ServeError;
use crate::web::Page;

/// Opens a connection of its own to the backend, passes the upgrade on, and on `101` splices the
/// two sockets until either side closes or devserve shuts down.
pub(super) async fn tunnel(
    proxy: &Proxy,
    rule: &super::rule::ProxyRule,
    page: &Page<'_>,
    authority: &str,
    upstream: Request,
    on_client: Option<hyper::upgrade::OnUpgrade>,
) -> Response {
    let Some(on_client) = on_client else {
        return ServeError::NotUpgradable.into_response();
    };
    let Ok(uri) = format!("{}://{authority}/", rule.target.scheme()).parse::<Uri>() else {
        return bad_gateway(page, authority, "bad address");
    };
    let io = match proxy.connector.clone().call(uri).await {
        Ok(io) => io,
        Err(_) => {
            proxy.refused(rule, page.path);
            return bad_gateway(page, authority, "connection refused");
        }
    };
    let (mut sender, conn) = match hyper::client::conn::http1::handshake(io).await {
        Ok(pair) => pair,
        Err(e) => return bad_gateway(page, authority, &root_cause(&e)),
    };
    tokio::spawn(async move {
        let _ = conn.with_upgrades().await;
    });
    let mut resp = match tokio::time::timeout(proxy.timeout, sender.send_request(upstream)).await {
        Err(_) => return gateway_timeout(page, authority, proxy.timeout),
        Ok(Err(e)) => return bad_gateway(page, authority, &root_cause(&e)),
        Ok(Ok(resp)) => resp,
    };
    if resp.status() != StatusCode::SWITCHING_PROTOCOLS {
        // The backend refused the upgrade: its answer goes back as it is.
        let (mut parts, body) = resp.into_parts();
        strip_hop_by_hop(&mut parts.headers);
        return Response::from_parts(parts, Body::new(body));
    }
    let on_backend = hyper::upgrade::on(&mut resp);
    let shutdown = proxy.shutdown.clone();
    let restarting = proxy.backend_ready.clone();
    let plain_client = proxy.plain_client;
    let tracker = proxy.tracker.clone();
    proxy.tracker.spawn(async move {
        let (Ok(client), Ok(backend)) = tokio::join!(on_client, on_backend) else {
            return;
        };
        let client = match plain_client(client) {
            Ok(plain) => Plain::new(Either::Left(plain.socket), plain.read),
            Err(upgraded) => Plain::new(Either::Right(TokioIo::new(upgraded)), Bytes::new()),
        };
        let Some(backend) = backend_socket(backend) else {
            return;
        };
        splice(&tracker, client, backend, shutdown, restarting).await;
    });
    let (mut parts, _) = resp.into_parts();
    // Hop-by-hop headers describe the backend's connection, not the client's: the client is
    // told of the switch and nothing else of that kind.
    strip_hop_by_hop(&mut parts.headers);
    parts
        .headers
        .insert(header::CONNECTION, HeaderValue::from_static("upgrade"));
    parts
        .headers
        .insert(header::UPGRADE, HeaderValue::from_static("websocket"));
    Response::from_parts(parts, Body::empty())
}

/// Takes the plain socket out of a client's upgraded connection, with the bytes read past the
/// request; gives the connection back when it is not plain TCP (HTTPS).
pub(crate) type PlainClient = fn(Upgraded) -> Result<Plain<TcpStream>, Upgraded>;

/// What [`Proxy`] does without a [`PlainClient`] of its own: the upgraded connection as it is.
pub(super) fn no_plain_client(client: Upgraded) -> Result<Plain<TcpStream>, Upgraded> {
    Err(client)
}

/// A socket taken out of hyper's upgraded connection, and what hyper had read from it already
/// (to be passed on first).
pub(crate) struct Plain<S> {
    pub(crate) socket: S,
    pub(crate) read: Bytes,
}

impl<S> Plain<S> {
    pub(crate) fn new(socket: S, read: Bytes) -> Self {
        Plain { socket, read }
    }
}

/// The backend's TCP socket; an `https://` backend's TLS stream.
fn backend_socket(backend: Upgraded) -> Option<Plain<Either<TcpStream, TokioIo<BackendIo>>>> {
    let Ok(parts) = backend.downcast::<BackendIo>() else {
        // Not reached: every backend connection comes from the proxy's connector.
        tracing::warn!("a backend connection of an unknown kind; the WebSocket is closed");
        return None;
    };
    Some(match parts.io {
        MaybeHttpsStream::Http(io) => Plain::new(Either::Left(io.into_inner()), parts.read_buf),
        tls => Plain::new(Either::Right(TokioIo::new(tls)), parts.read_buf),
    })
}

/// Why a tunnel ends before either side closes it.
enum Stop {
    Shutdown,
    /// The `--run` backend is restarting.
    Restart,
}

/// Copies both ways until either side closes, devserve shuts down, or the `--run` backend
/// restarts. On plain sockets the copy reads and writes them directly; through hyper's upgraded
/// connection each read and write also passes its buffering and a boxed trait object.
///
/// The shutdown and the restart are awaited by a task of their own, which tells the copy through
/// a one-shot channel: the copy is woken at every message, and polling a cancellation token (or
/// a `watch`) each time takes a lock, where a one-shot receiver is an atomic load.
async fn splice<C, B>(
    tracker: &TaskTracker,
    mut client: Plain<C>,
    mut backend: Plain<B>,
    shutdown: CancellationToken,
    restarting: Option<watch::Receiver<super::Backend>>,
) where
    C: AsyncRead + AsyncWrite + Unpin,
    B: AsyncRead + AsyncWrite + Unpin,
{
    /// What hyper read past the request and past the answer goes first, and is then let go: it
    /// is a slice of hyper's read buffer, which would otherwise stay for the tunnel's life.
    async fn copy(
        client: &mut Plain<impl AsyncRead + AsyncWrite + Unpin>,
        backend: &mut Plain<impl AsyncRead + AsyncWrite + Unpin>,
    ) -> std::io::Result<(u64, u64)> {
        backend
            .socket
            .write_all(&std::mem::take(&mut client.read))
            .await?;
        client
            .socket
            .write_all(&std::mem::take(&mut backend.read))
            .await?;
        // A TLS side may hold what it was given until flushed; the copy flushes only its own.
        backend.socket.flush().await?;
        client.socket.flush().await?;
        tokio::io::copy_bidirectional(&mut client.socket, &mut backend.socket).await
    }
    let (mut stop_tx, stop) = oneshot::channel();
    tracker.spawn(async move {
        let mut restarting = restarting;
        let restart = async {
            match restarting.as_mut() {
                Some(state) => {
                    let _ = state.wait_for(|s| *s != super::Backend::Ready).await;
                }
                None => std::future::pending().await,
            }
        };
        let why = tokio::select! {
            () = stop_tx.closed() => return,
            () = shutdown.cancelled() => Stop::Shutdown,
            () = restart => Stop::Restart,
        };
        let _ = stop_tx.send(why);
    });
    tokio::select! {
        biased;
        _ = copy(&mut client, &mut backend) => {}
        why = stop => {
            if let Ok(Stop::Restart) = why {
                // The backend is restarting: a close frame with 1012 (service restart), so the
                // page's app knows to reconnect. Server frames are not masked.
                let _ = client.socket.write_all(&[0x88, 0x02, 0x03, 0xF4]).await;
                let _ = client.socket.shutdown().await;
            }
        }
    }
}
