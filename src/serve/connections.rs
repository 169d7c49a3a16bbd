//! Accepting connections and serving each with hyper: the time a request head may take is
//! bounded, and so is the number of connections open at once.
//!
//! axum's `serve` sets no timer, so a peer that sends half a request head and stops kept its
//! connection (and its buffer) forever. Here hyper's `header_read_timeout` drops it; a slow but
//! live download, an event stream or a WebSocket is not a request head and is never cut.

use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::body::Body;
use axum::extract::Request;
use axum::serve::Listener as _;
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::service::TowerToHyperService;
use tokio::sync::Semaphore;
use tokio_rustls::TlsAcceptor;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use tower::ServiceExt as _;

use super::app::App;
use super::limits::{drive, Limits};
use crate::files::sendfile;

/// Accepts and serves connections until `shutdown`; then asks each to finish its current
/// request. The connections' tasks are on `conns`, for the caller to wait for.
pub(crate) async fn serve(
    mut listener: sendfile::Listener,
    app: App,
    limits: Limits,
    shutdown: CancellationToken,
    conns: TaskTracker,
    tls: Option<TlsAcceptor>,
) {
    let slots = Arc::new(Semaphore::new(limits.max_connections));
    let mut warned: Option<Instant> = None;
    loop {
        let (stream, peer) = tokio::select! {
            accepted = listener.accept() => accepted,
            _ = shutdown.cancelled() => break,
        };
        let Ok(slot) = slots.clone().try_acquire_owned() else {
            // Closed at once: the peer sees the connection reset, and the rest are unharmed.
            drop(stream);
            if warned.is_none_or(|at| at.elapsed() > Duration::from_secs(60)) {
                tracing::warn!(
                    "{} connections are open: refusing more until some close",
                    limits.max_connections
                );
                warned = Some(Instant::now());
            }
            continue;
        };
        // No Nagle delay: a reload message, or the last part of a large file, goes out at once
        // rather than waiting for the peer to acknowledge what came before.
        if let Err(e) = stream.tcp().set_nodelay(true) {
            tracing::debug!("TCP_NODELAY not set: {e}");
        }
        let shutdown = shutdown.clone();
        if let Some(acceptor) = &tls {
            let (acceptor, app) = (acceptor.clone(), app.clone());
            conns.spawn(async move {
                super::tls::serve_secure(stream, peer, acceptor, app, limits, shutdown).await;
                drop(slot);
            });
            continue;
        }
        let service = app
            .clone()
            .for_peer(peer)
            .map_request(|req: Request<Incoming>| req.map(Body::new));
        let conn = http1::Builder::new()
            .timer(TokioTimer::new())
            .header_read_timeout(limits.head_timeout)
            .serve_connection(TokioIo::new(stream), TowerToHyperService::new(service))
            .with_upgrades();
        conns.spawn(async move {
            drive!(conn, peer, limits, shutdown);
            drop(slot);
        });
    }
}

/// The plain socket under an upgraded connection this module served, with what hyper had read
/// from it past the request; an HTTPS connection is given back.
pub(super) fn plain_client(
    client: hyper::upgrade::Upgraded,
) -> Result<crate::proxy::Plain<tokio::net::TcpStream>, hyper::upgrade::Upgraded> {
    let parts = client.downcast::<TokioIo<sendfile::Stream>>()?;
    Ok(crate::proxy::Plain::new(
        parts.io.into_inner().into_tcp(),
        parts.read_buf,
    ))
}

#[cfg(test)]
mod tests {
    use std::convert::Infallible;
    use std::sync::Mutex;

    use axum::serve::Listener as _;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    use super::*;
    use crate::files::sendfile::{Listener, Regions};

    /// A WebSocket upgrade on a connection served as devserve serves plain HTTP gives the proxy
    /// its TCP socket, with what the client sent right behind its request — the tunnel's fast
    /// path, which no test through the proxy can tell from the slower one it falls back to.
    #[tokio::test]
    async fn an_upgraded_plain_connection_gives_up_its_tcp_socket() {
        let tcp = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = tcp.local_addr().unwrap();
        let mut listener = Listener::new(tcp, Regions::new());
        let (tx, taken) = tokio::sync::oneshot::channel();
        let tx = Mutex::new(Some(tx));
        tokio::spawn(async move {
            let (stream, _) = listener.accept().await;
            let service = hyper::service::service_fn(move |mut req: Request<Incoming>| {
                let on = hyper::upgrade::on(&mut req);
                let tx = tx.lock().unwrap().take();
                tokio::spawn(async move {
                    if let (Ok(upgraded), Some(tx)) = (on.await, tx) {
                        let _ = tx.send(plain_client(upgraded).ok());
                    }
                });
                let mut switch = axum::http::Response::new(http_body_util::Empty::<bytes::Bytes>::new());
                *switch.status_mut() = axum::http::StatusCode::SWITCHING_PROTOCOLS;
                let headers = switch.headers_mut();
                headers.insert("connection", axum::http::HeaderValue::from_static("upgrade"));
                headers.insert("upgrade", axum::http::HeaderValue::from_static("websocket"));
                async { Ok::<_, Infallible>(switch) }
            });
            let _ = http1::Builder::new()
                .serve_connection(TokioIo::new(stream), service)
                .with_upgrades()
                .await;
        });
        let mut client = tokio::net::TcpStream::connect(addr).await.unwrap();
        client
            .write_all(
                b"GET /ws HTTP/1.1\r\nHost: localhost\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\nearly",
            )
            .await
            .unwrap();
        let mut plain = taken
            .await
            .unwrap()
            .expect("the plain socket, not hyper's connection");
        assert_eq!(&plain.read[..], b"early");
        plain.socket.write_all(b"straight").await.unwrap();
        let mut seen = Vec::new();
        while !seen.ends_with(b"straight") {
            let mut buf = [0u8; 256];
            let n = client.read(&mut buf).await.unwrap();
            assert!(n > 0, "closed after {:?}", String::from_utf8_lossy(&seen));
            seen.extend_from_slice(&buf[..n]);
        }
        assert!(
            seen.starts_with(b"HTTP/1.1 101"),
            "{}",
            String::from_utf8_lossy(&seen)
        );
    }
}
