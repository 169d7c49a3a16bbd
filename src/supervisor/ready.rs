//! When the backend is ready: a TCP connect to an address (`localhost` is both `::1` and
//! `127.0.0.1`, whatever `/etc/hosts` says), or a 2xx/3xx answer from an `http://` URL.

use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// Polls come this often at first, then back off to [`MAX_POLL`].
const FIRST_POLL: Duration = Duration::from_millis(10);
/// How long the backend is polled at [`FIRST_POLL`] before the backoff begins.
const FAST_POLLING: Duration = Duration::from_secs(2);
const MAX_POLL: Duration = Duration::from_millis(250);
/// One check may take this long.
const CHECK_TIMEOUT: Duration = Duration::from_secs(1);

/// Where readiness is checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Ready {
    /// Accepts a TCP connection.
    Tcp { host: String, port: u16 },
    /// Answers `GET path` with a 2xx or 3xx.
    Http { host: String, port: u16, path: String },
}

impl Ready {
    /// `tcp:HOST:PORT` or `http://HOST:PORT/path`; the error says what to write.
    pub(crate) fn parse(spec: &str) -> Result<Ready, String> {
        let spec = spec.trim();
        if let Some(rest) = spec.strip_prefix("tcp:") {
            let (host, port) = host_port(rest.trim_start_matches("//"))?;
            return Ok(Ready::Tcp { host, port });
        }
        if let Some(rest) = spec.strip_prefix("http://") {
            let (authority, path) = match rest.find('/') {
                Some(i) => (&rest[..i], &rest[i..]),
                None => (rest, "/"),
            };
            let (host, port) = host_port(authority)?;
            return Ok(Ready::Http {
                host,
                port,
                path: path.to_string(),
            });
        }
        Err("expected tcp:HOST:PORT or http://HOST:PORT/path, e.g. tcp:localhost:3000".to_string())
    }

    /// A TCP connect to a proxy target's address.
    pub(crate) fn tcp(host: &str, port: u16) -> Ready {
        Ready::Tcp {
            host: host.to_string(),
            port,
        }
    }

    /// Waits until the backend is ready: polled every [`FIRST_POLL`] while backends usually come
    /// up ([`FAST_POLLING`]), then with a backoff to [`MAX_POLL`]. A doubling from the start
    /// would find a backend that listens after 70 ms only at the 150 ms poll.
    pub(crate) async fn wait(&self) {
        let started = std::time::Instant::now();
        let mut delay = FIRST_POLL;
        while !self.check().await {
            tokio::time::sleep(delay).await;
            if started.elapsed() > FAST_POLLING {
                delay = (delay * 2).min(MAX_POLL);
            }
        }
    }

    /// One check.
    async fn check(&self) -> bool {
        let (host, port) = match self {
            Ready::Tcp { host, port } | Ready::Http { host, port, .. } => (host, *port),
        };
        for addr in addresses(host, port).await {
            let Ok(Ok(mut stream)) = tokio::time::timeout(CHECK_TIMEOUT, TcpStream::connect(addr)).await
            else {
                continue;
            };
            match self {
                Ready::Tcp { .. } => return true,
                Ready::Http { path, .. } => {
                    let answered =
                        tokio::time::timeout(CHECK_TIMEOUT, http_ok(&mut stream, host, port, path)).await;
                    if answered.unwrap_or(false) {
                        return true;
                    }
                }
            }
        }
        false
    }
}

impl fmt::Display for Ready {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Ready::Tcp { host, port } => write!(f, "tcp:{host}:{port}"),
            Ready::Http { host, port, path } => write!(f, "http://{host}:{port}{path}"),
        }
    }
}

/// `HOST:PORT`, with `[v6]` brackets allowed.
fn host_port(authority: &str) -> Result<(String, u16), String> {
    let (host, port) = authority
        .rsplit_once(':')
        .ok_or_else(|| format!("`{authority}` needs a port, e.g. localhost:3000"))?;
    let port: u16 = port
        .parse()
        .ok()
        .filter(|&p| p != 0)
        .ok_or_else(|| format!("`{port}` is not a port"))?;
    let host = host.trim_start_matches('[').trim_end_matches(']');
    if host.is_empty() {
        return Err(format!("`{authority}` needs a host, e.g. localhost:3000"));
    }
    Ok((host.to_ascii_lowercase(), port))
}

/// The addresses to try: both loopbacks for `localhost`, else what the name resolves to.
async fn addresses(host: &str, port: u16) -> Vec<SocketAddr> {
    if host == "localhost" {
        return vec![
            SocketAddr::new(IpAddr::V6(Ipv6Addr::LOCALHOST), port),
            SocketAddr::new(IpAddr::V4(Ipv4Addr::LOCALHOST), port),
        ];
    }
    if let Ok(ip) = host.parse::<IpAddr>() {
        return vec![SocketAddr::new(ip, port)];
    }
    tokio::net::lookup_host((host, port))
        .await
        .map(|addrs| addrs.collect())
        .unwrap_or_default()
}

/// True when `GET path` is answered with a 2xx or 3xx.
async fn http_ok(stream: &mut TcpStream, host: &str, port: u16, path: &str) -> bool {
    let request = format!("GET {path} HTTP/1.1\r\nHost: {host}:{port}\r\nConnection: close\r\n\r\n");
    if stream.write_all(request.as_bytes()).await.is_err() {
        return false;
    }
    let mut head = [0u8; 32];
    let Ok(n) = stream.read(&mut head).await else {
        return false;
    };
    let line = String::from_utf8_lossy(&head[..n]);
    let status = line.split(' ').nth(1).and_then(|s| s.parse::<u16>().ok());
    status.is_some_and(|s| (200..400).contains(&s))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ready_addresses_parse_or_say_what_to_write() {
        assert_eq!(
            Ready::parse("tcp:localhost:3000").unwrap(),
            Ready::tcp("localhost", 3000)
        );
        assert_eq!(
            Ready::parse("http://127.0.0.1:8000/health").unwrap(),
            Ready::Http {
                host: "127.0.0.1".into(),
                port: 8000,
                path: "/health".into()
            }
        );
        assert_eq!(Ready::parse("tcp:[::1]:9").unwrap(), Ready::tcp("::1", 9));
        for bad in [
            "localhost:3000",
            "tcp:localhost",
            "tcp::3000",
            "http://x:0/",
            "https://x:1/",
            "tcp:h:port",
        ] {
            assert!(Ready::parse(bad).is_err(), "{bad}");
        }
    }

    #[tokio::test]
    async fn a_listening_port_is_ready_and_a_closed_one_is_not() {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        assert!(Ready::tcp("127.0.0.1", port).check().await);
        assert!(
            Ready::tcp("localhost", port).check().await,
            "localhost is 127.0.0.1 too"
        );
        drop(listener);
        assert!(!Ready::tcp("127.0.0.1", port).check().await);
    }
}
