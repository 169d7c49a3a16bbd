//! WebSocket tunnels: the upgrade is passed to the backend on a connection of its own, and once
//! the backend answers `101` the two sockets are joined with `copy_bidirectional`, so
//! subprotocols, extensions, binary frames and close codes pass untouched.

use axum::body::Body;
use axum::extract::Request;
use axum::http::{header, HeaderValue, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use hyper_util::rt::TokioIo;
use tower::Service;

use super::headers::strip_hop_by_hop;
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
    let mut restarting = proxy.backend_ready.clone();
    proxy.tracker.spawn(async move {
        let (Ok(client), Ok(backend)) = tokio::join!(on_client, on_backend) else {
            return;
        };
        let (mut client, mut backend) = (TokioIo::new(client), TokioIo::new(backend));
        let restart = async {
            match restarting.as_mut() {
                Some(state) => {
                    let _ = state.wait_for(|s| *s != super::Backend::Ready).await;
                }
                None => std::future::pending().await,
            }
        };
        tokio::select! {
            _ = tokio::io::copy_bidirectional(&mut client, &mut backend) => {}
            _ = shutdown.cancelled() => {}
            () = restart => {
                // The backend is restarting: a close frame with 1012 (service restart), so the
                // page's app knows to reconnect. Server frames are not masked.
                use tokio::io::AsyncWriteExt;
                let _ = client.write_all(&[0x88, 0x02, 0x03, 0xF4]).await;
                let _ = client.shutdown().await;
            }
        }
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
