//! Flags → a resolved [`Config`]: the canonical root, parsed proxy rules, the listen address.
//!
//! This is where start-up I/O and validation happen, so every mistake in the command line is
//! reported here, once, with a message that says what to do instead.

use std::net::{IpAddr, Ipv4Addr, ToSocketAddrs};
use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::cli::Cli;
use crate::error::StartError;
use crate::proxy::ProxyRule;

/// The port devserve tries first when none is given.
pub const DEFAULT_PORT: u16 = 8080;
/// How long the files must be quiet before a batch is sent, once no file is still being written
/// (`--debounce` overrides). A lone file its writer has closed waits half of it; bursts and writers
/// holding a file open get longer windows.
pub const DEFAULT_DEBOUNCE: Duration = Duration::from_millis(2);
/// How long a backend may take to start answering before devserve answers 504.
pub const DEFAULT_PROXY_TIMEOUT: Duration = Duration::from_secs(60);

/// Which port to listen on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PortChoice {
    /// Nothing given: 8080, or the next free port.
    Default,
    /// Given on the command line: that port or an error.
    Explicit(u16),
}

/// Everything devserve needs to run, resolved and validated.
#[derive(Debug, Clone)]
pub struct Config {
    /// The served folder, canonical (symlinks resolved).
    pub root: PathBuf,
    /// The listen address.
    pub host: IpAddr,
    /// `--host` when it was a name rather than an address; requests for it pass the Host check.
    pub host_name: Option<String>,
    pub port: PortChoice,
    /// Extra paths to watch, canonical.
    pub watch: Vec<PathBuf>,
    /// Extra ignore rules, gitignore syntax.
    pub ignore: Vec<String>,
    /// Inject the client and watch (false with `--no-reload`).
    pub reload: bool,
    pub spa: bool,
    pub open: bool,
    pub debounce: Duration,
    /// `Some(interval)` forces the polling watcher.
    pub poll: Option<Duration>,
    pub proxies: Vec<ProxyRule>,
    pub proxy_timeout: Duration,
    /// Extra names accepted in the Host header.
    pub allowed_hosts: Vec<String>,
}

impl Config {
    /// A configuration serving `root` with every default; the root must exist.
    pub fn new(root: impl AsRef<Path>) -> Result<Self, StartError> {
        let root = canonical_dir(root.as_ref())?;
        Ok(Config {
            root,
            host: IpAddr::V4(Ipv4Addr::LOCALHOST),
            host_name: None,
            port: PortChoice::Default,
            watch: Vec::new(),
            ignore: Vec::new(),
            reload: true,
            spa: false,
            open: false,
            debounce: DEFAULT_DEBOUNCE,
            poll: None,
            proxies: Vec::new(),
            proxy_timeout: DEFAULT_PROXY_TIMEOUT,
            allowed_hosts: Vec::new(),
        })
    }

    /// Resolves the command line: checks the folders, parses `--host` and every `--proxy` rule.
    pub fn from_cli(cli: Cli) -> Result<Self, StartError> {
        let mut config = Config::new(&cli.root)?;
        let (host, host_name) = resolve_host(&cli.host)?;
        config.host = host;
        config.host_name = host_name;
        config.port = match cli.port {
            Some(port) => PortChoice::Explicit(port),
            None => PortChoice::Default,
        };
        config.watch = cli
            .watch
            .iter()
            .map(|p| {
                std::fs::canonicalize(p).map_err(|_| StartError::WatchMissing {
                    path: p.display().to_string(),
                })
            })
            .collect::<Result<_, _>>()?;
        config.ignore = cli.ignore;
        config.reload = !cli.no_reload;
        config.spa = cli.spa;
        config.open = cli.open;
        if let Some(ms) = cli.debounce {
            config.debounce = Duration::from_millis(ms);
        }
        config.poll = cli.poll.map(|ms| Duration::from_millis(ms.max(10)));
        for rule in &cli.proxy {
            config.proxies.push(ProxyRule::parse(rule)?);
        }
        if let Some(target) = &cli.proxy_ws {
            config.proxies.push(ProxyRule::parse_ws_shorthand(target)?);
        }
        if let Some(secs) = cli.proxy_timeout {
            config.proxy_timeout =
                Duration::try_from_secs_f64(secs.clamp(0.001, 86_400.0)).unwrap_or(DEFAULT_PROXY_TIMEOUT);
        }
        config.allowed_hosts = cli.allow_host.iter().map(|h| h.to_ascii_lowercase()).collect();
        Ok(config)
    }

    /// True when `--host` exposes the server beyond this machine.
    pub fn exposed(&self) -> bool {
        !self.host.is_loopback()
    }
}

fn canonical_dir(root: &Path) -> Result<PathBuf, StartError> {
    let shown = root.display().to_string();
    let canonical =
        std::fs::canonicalize(root).map_err(|_| StartError::RootMissing { root: shown.clone() })?;
    if !canonical.is_dir() {
        return Err(StartError::RootNotDir { root: shown });
    }
    Ok(canonical)
}

fn resolve_host(host: &str) -> Result<(IpAddr, Option<String>), StartError> {
    let trimmed = host.trim_start_matches('[').trim_end_matches(']');
    if let Ok(ip) = trimmed.parse::<IpAddr>() {
        return Ok((ip, None));
    }
    if trimmed.eq_ignore_ascii_case("localhost") {
        return Ok((IpAddr::V4(Ipv4Addr::LOCALHOST), None));
    }
    let ip = (trimmed, 0)
        .to_socket_addrs()
        .ok()
        .and_then(|mut addrs| addrs.next())
        .map(|a| a.ip())
        .ok_or_else(|| StartError::BadHost {
            host: host.to_string(),
        })?;
    Ok((ip, Some(trimmed.to_ascii_lowercase())))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn host_accepts_addresses_and_localhost() {
        assert_eq!(
            resolve_host("0.0.0.0").unwrap().0,
            IpAddr::V4(Ipv4Addr::UNSPECIFIED)
        );
        assert_eq!(resolve_host("[::1]").unwrap().0, "::1".parse::<IpAddr>().unwrap());
        assert_eq!(
            resolve_host("localhost").unwrap().0,
            IpAddr::V4(Ipv4Addr::LOCALHOST)
        );
    }

    #[test]
    fn host_rejects_nonsense() {
        assert!(matches!(
            resolve_host("not a host!"),
            Err(StartError::BadHost { .. })
        ));
    }
}
