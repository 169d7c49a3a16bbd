//! Binding the listen address: an explicit port or an error, else 8080 or the next free port.

use std::io::ErrorKind;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

use crate::config::{Config, PortChoice, DEFAULT_PORT};
use crate::error::StartError;

/// Ports tried after the default one is busy.
const DEFAULT_PORT_TRIES: u16 = 20;

/// Binds the configured address: an explicit port or an error, else 8080 or the next free port.
///
/// A plain std listener, already listening and non-blocking, so that `main` can listen before the
/// async runtime exists: a browser that connects while devserve is still starting waits for its
/// page instead of being refused.
///
/// On 127.0.0.1 the banner says `localhost`, and a browser may take that to mean `::1` (Node ≥ 17
/// servers listen there): a port that is busy on `::1` is treated as busy, so the URL devserve
/// prints never opens another program.
pub fn bind(config: &Config) -> Result<std::net::TcpListener, StartError> {
    let bind_one = |port: u16| {
        let addr = SocketAddr::new(config.host, port);
        let listener = std::net::TcpListener::bind(addr)
            .and_then(|listener| listener.set_nonblocking(true).map(|()| listener))
            .map_err(|source| (addr, source))?;
        if config.host == IpAddr::V4(Ipv4Addr::LOCALHOST) {
            let port = listener.local_addr().map_err(|source| (addr, source))?.port();
            let v6 = SocketAddr::new(IpAddr::V6(Ipv6Addr::LOCALHOST), port);
            if let Err(e) = std::net::TcpListener::bind(v6) {
                if e.kind() == ErrorKind::AddrInUse {
                    return Err((v6, e));
                }
                // No IPv6 on this machine: nothing there to open by mistake.
            }
        }
        Ok(listener)
    };
    match config.port {
        PortChoice::Explicit(port) => bind_one(port).map_err(|(addr, source)| {
            if source.kind() == ErrorKind::AddrInUse {
                StartError::PortBusy {
                    port,
                    on: addr.ip().is_ipv6().then(|| "::1".to_string()),
                    origin: config.port_origin.clone(),
                }
            } else {
                StartError::Bind { addr, source }
            }
        }),
        PortChoice::Default => {
            let first = DEFAULT_PORT;
            for port in first..first + DEFAULT_PORT_TRIES {
                match bind_one(port) {
                    Ok(listener) => {
                        if port != first {
                            tracing::info!("port {first} is busy, using {port}");
                        }
                        return Ok(listener);
                    }
                    Err((_, e)) if e.kind() == ErrorKind::AddrInUse => continue,
                    Err((addr, source)) => return Err(StartError::Bind { addr, source }),
                }
            }
            // Any free port: the OS picks one free on 127.0.0.1, and rarely one busy on ::1.
            let mut last = None;
            for _ in 0..DEFAULT_PORT_TRIES {
                match bind_one(0) {
                    Ok(listener) => return Ok(listener),
                    Err((_, e)) if e.kind() == ErrorKind::AddrInUse => last = Some(e),
                    Err((addr, source)) => return Err(StartError::Bind { addr, source }),
                }
            }
            Err(StartError::Bind {
                addr: SocketAddr::new(config.host, 0),
                source: last.unwrap_or_else(|| ErrorKind::AddrInUse.into()),
            })
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// With no `--port`, a default port that another program holds on `::1` is skipped: the port
    /// devserve takes is free on `::1` too, so `http://localhost:PORT/` opens devserve.
    #[test]
    fn the_default_port_skips_one_busy_on_ipv6_loopback() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().to_str().unwrap();
        let config = Config::from_args(["devserve", root]).unwrap();
        assert_eq!(config.port, PortChoice::Default);
        // Held here, or already held by another program: busy on ::1 either way.
        let _held = std::net::TcpListener::bind((Ipv6Addr::LOCALHOST, DEFAULT_PORT));
        let busy = std::net::TcpListener::bind((Ipv6Addr::LOCALHOST, DEFAULT_PORT));
        assert!(busy.is_err(), "port {DEFAULT_PORT} is busy on ::1 for the test");
        let listener = bind(&config).unwrap();
        let port = listener.local_addr().unwrap().port();
        assert_ne!(port, DEFAULT_PORT);
        drop(listener);
        assert!(
            std::net::TcpListener::bind((Ipv6Addr::LOCALHOST, port)).is_ok(),
            "port {port} is free on ::1"
        );
    }
}
