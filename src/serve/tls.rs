//! HTTPS: the rustls server configuration (TLS 1.2 and 1.3, HTTP/2 and HTTP/1.1 by ALPN), and
//! what devserve says about its certificate at start-up.
//!
//! WebSockets (the reload socket, proxied `/ws`) stay on HTTP/1.1: devserve does not announce
//! RFC 8441's extended CONNECT, so a browser opens an HTTP/1.1 connection for them beside the
//! HTTP/2 one that loads the page. Everything else, hundreds of ES modules included, shares the
//! one HTTP/2 connection.

use std::convert::Infallible;
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;

use axum::body::Body;
use axum::extract::Request;
use axum::http::{header, HeaderValue, Version};
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto;
use hyper_util::service::TowerToHyperService;
use rustls::ServerConfig;
use tokio_rustls::TlsAcceptor;
use tokio_util::sync::CancellationToken;
use tower::ServiceExt as _;

use super::app::App;
use super::certificate::{self, Identity};
use super::limits::{drive, Limits};
use crate::config::{Config, Tls};
use crate::error::StartError;
use crate::files::sendfile::Stream;
use crate::web::request::OverTls;

/// The acceptor for `config`'s HTTPS, or `None` for plain HTTP. Makes or reads the certificate.
pub(crate) fn acceptor(config: &Config) -> Result<Option<TlsAcceptor>, StartError> {
    let Some(tls) = &config.tls else {
        return Ok(None);
    };
    let identity = match tls {
        Tls::Files { cert, key } => certificate::read(cert, key).map_err(StartError::Tls)?,
        Tls::Made { dir } => {
            let kept = certificate::kept(dir, &names(config)).map_err(StartError::Tls)?;
            if kept.made {
                tracing::info!(
                    "made a certificate for {}: {}",
                    kept.names.join(", "),
                    kept.cert.display()
                );
                tracing::info!(
                    "browsers warn about it until you trust it: add that file to your system's trusted \
                     certificates, or serve mkcert's files with --cert and --key"
                );
            } else {
                tracing::debug!("HTTPS with the certificate kept in {}", kept.cert.display());
            }
            kept.identity
        }
    };
    server_config(identity).map(|c| Some(TlsAcceptor::from(Arc::new(c))))
}

fn server_config(identity: Identity) -> Result<ServerConfig, StartError> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut config = ServerConfig::builder_with_provider(provider)
        .with_protocol_versions(&[&rustls::version::TLS13, &rustls::version::TLS12])
        .map_err(|e| StartError::Tls(format!("TLS could not be set up: {e}")))?
        .with_no_client_auth()
        .with_single_cert(identity.chain, identity.key)
        .map_err(|e| StartError::Tls(format!("the certificate and key do not go together: {e}")))?;
    config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    Ok(config)
}

/// The names the certificate must hold: loopback, the `--host` name or address (and, on
/// 0.0.0.0 or ::, this machine's addresses, for a phone on the LAN), and `--allow-host` names.
fn names(config: &Config) -> Vec<String> {
    let mut names: Vec<String> = ["localhost", "127.0.0.1", "::1"].map(String::from).to_vec();
    let mut add = |name: String| {
        if !names.contains(&name) {
            names.push(name);
        }
    };
    if let Some(name) = &config.host_name {
        add(name.clone());
    }
    if config.host.is_unspecified() {
        for iface in if_addrs::get_if_addrs().unwrap_or_default() {
            if !iface.is_loopback() && (iface.ip().is_ipv4() || config.host.is_ipv6()) {
                add(iface.ip().to_string());
            }
        }
    } else if !config.host.is_loopback() {
        add(config.host.to_string());
    }
    for host in &config.allowed_hosts {
        // A name a certificate can hold: letters, digits, dots and dashes, or an address.
        let plain = host
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'.' || b == b'-');
        if host.parse::<IpAddr>().is_ok() || (plain && !host.starts_with('.') && !host.is_empty()) {
            add(host.clone());
        }
    }
    names
}

/// Serves one connection on the HTTPS port: a TLS handshake (bounded like a request head), then
/// HTTP/2 or HTTP/1.1 as ALPN agreed. A peer that speaks plain HTTP there is told where to go.
pub(crate) async fn serve_secure(
    stream: Stream,
    peer: SocketAddr,
    acceptor: TlsAcceptor,
    app: App,
    limits: Limits,
    shutdown: CancellationToken,
) {
    // A TLS connection begins with a handshake record (type 22); HTTP with a method's letters.
    let mut first = [0u8; 1];
    match tokio::time::timeout(limits.head_timeout, stream.tcp().peek(&mut first)).await {
        Ok(Ok(1)) if first[0] == 0x16 => {}
        Ok(Ok(1)) => {
            let conn = http1::Builder::new()
                .timer(TokioTimer::new())
                .header_read_timeout(limits.head_timeout)
                .keep_alive(false)
                .serve_connection(
                    TokioIo::new(stream),
                    hyper::service::service_fn(move |req| {
                        std::future::ready(Ok::<_, Infallible>(app.to_https(&req)))
                    }),
                );
            drive!(conn, peer, limits, shutdown);
            return;
        }
        _ => return,
    }
    let tls = match tokio::time::timeout(limits.head_timeout, acceptor.accept(stream)).await {
        Ok(Ok(tls)) => tls,
        Ok(Err(e)) => {
            tracing::debug!("TLS handshake with {peer} failed: {e}");
            return;
        }
        Err(_) => return,
    };
    let h2 = tls.get_ref().1.alpn_protocol() == Some(b"h2");
    let first_request = std::sync::Arc::new(tokio::sync::Notify::new());
    let on_request = first_request.clone();
    let service = app.for_peer(peer).map_request(move |req: Request<Incoming>| {
        on_request.notify_one();
        secure(req.map(Body::new))
    });
    let mut builder = auto::Builder::new(TokioExecutor::new());
    builder = if h2 {
        builder.http2_only()
    } else {
        builder.http1_only()
    };
    builder
        .http1()
        .timer(TokioTimer::new())
        .header_read_timeout(limits.head_timeout);
    // HTTP/2 has no request-head timer: a peer that answers no PING within the same bound is
    // dropped (a browser's idle connection answers them, and stays).
    builder
        .http2()
        .timer(TokioTimer::new())
        .keep_alive_interval(Some(limits.head_timeout))
        .keep_alive_timeout(limits.head_timeout);
    let conn = builder.serve_connection_with_upgrades(TokioIo::new(tls), TowerToHyperService::new(service));
    drive!(conn, peer, limits, shutdown, first_request.notified());
}

/// A request that came over TLS: marked so, and, over HTTP/2 (which has `:authority`, not
/// `Host`), given the `Host` header everything after this reads.
fn secure(mut req: Request) -> Request {
    if req.version() == Version::HTTP_2 && !req.headers().contains_key(header::HOST) {
        if let Some(host) = req
            .uri()
            .authority()
            .and_then(|a| HeaderValue::from_str(a.as_str()).ok())
        {
            req.headers_mut().insert(header::HOST, host);
        }
    }
    req.extensions_mut().insert(OverTls);
    req
}
