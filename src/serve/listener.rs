//! Binding the listen address: an explicit port or an error, else 8080 or the next free port.

use std::io::ErrorKind;
use std::net::SocketAddr;

use crate::config::{Config, PortChoice, DEFAULT_PORT};
use crate::error::StartError;

/// Ports tried after the default one is busy.
const DEFAULT_PORT_TRIES: u16 = 20;

/// Binds the configured address: an explicit port or an error, else 8080 or the next free port.
///
/// A plain std listener, already listening and non-blocking, so that `main` can listen before the
/// async runtime exists: a browser that connects while devserve is still starting waits for its
/// page instead of being refused.
pub fn bind(config: &Config) -> Result<std::net::TcpListener, StartError> {
    let bind_one = |port: u16| {
        let addr = SocketAddr::new(config.host, port);
        std::net::TcpListener::bind(addr)
            .and_then(|listener| listener.set_nonblocking(true).map(|()| listener))
            .map_err(|source| (addr, source))
    };
    match config.port {
        PortChoice::Explicit(port) => bind_one(port).map_err(|(addr, source)| {
            if source.kind() == ErrorKind::AddrInUse {
                StartError::PortBusy { port }
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
            bind_one(0).map_err(|(addr, source)| StartError::Bind { addr, source })
        }
    }
}
