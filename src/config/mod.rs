//! Settings → a resolved [`Config`]: the canonical root, parsed proxy rules, the listen address.
//!
//! Values come in layers — defaults, `DEVSERVE_*` environment variables, flags — and each
//! remembers where it came from ([`Origin`]), so that a bad value is reported against the flag or
//! variable the person actually wrote. The rules themselves ([`crate::proxy::rule`], the ignore
//! globs) only say what is wrong with a value; this module adds where it came from.
//!
//! Every value is checked here, before the port is bound, and every mistake is reported once,
//! with a message that says what to do instead.

pub(crate) mod cli;

use std::ffi::OsString;
use std::net::{IpAddr, Ipv4Addr, ToSocketAddrs};
use std::path::{Path, PathBuf};
use std::time::Duration;

use clap::parser::ValueSource;
use clap::{ArgMatches, CommandFactory, FromArgMatches};

use crate::error::{Origin, StartError};
use crate::proxy::rule::ProxyRule;
use cli::Cli;

/// The port devserve tries first when none is given.
pub(crate) const DEFAULT_PORT: u16 = 8080;
/// How long the files must be quiet before a batch is sent, once no file is still being written
/// (`--debounce` overrides). A lone file its writer has closed waits half of it; bursts and writers
/// holding a file open get longer windows.
pub(crate) const DEFAULT_DEBOUNCE: Duration = Duration::from_millis(2);
/// How long a backend may take to start answering before devserve answers 504.
pub(crate) const DEFAULT_PROXY_TIMEOUT: Duration = Duration::from_secs(60);
/// The listen address when `--host` is not given.
const DEFAULT_HOST: IpAddr = IpAddr::V4(Ipv4Addr::LOCALHOST);

/// Which port to listen on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PortChoice {
    /// Nothing given: 8080, or the next free port.
    Default,
    /// Given explicitly: that port or an error.
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
    /// Extra ignore rules, gitignore syntax, each one checked.
    pub ignore: Vec<String>,
    /// Inject the client and watch (false with `--no-reload`).
    pub reload: bool,
    pub spa: bool,
    pub open: bool,
    pub debounce: Duration,
    /// `Some(interval)` forces the polling watcher.
    pub poll: Option<Duration>,
    pub(crate) proxies: Vec<ProxyRule>,
    pub proxy_timeout: Duration,
    /// Extra names accepted in the Host header.
    pub allowed_hosts: Vec<String>,
    /// `-q`: warnings and errors only.
    pub quiet: bool,
    /// `-v` count.
    pub verbose: u8,
}

impl Config {
    /// A configuration serving `root` with every default; the root must exist.
    pub fn new(root: impl AsRef<Path>) -> Result<Self, StartError> {
        let root = canonical_dir(root.as_ref())?;
        Ok(Config {
            root,
            host: DEFAULT_HOST,
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
            quiet: false,
            verbose: 0,
        })
    }

    /// Parses a command line (program name first) with the `DEVSERVE_*` environment behind it,
    /// and resolves it: checks the folders, parses `--host`, every `--proxy` rule and every
    /// `--ignore` glob. `--help`, `--version` and malformed flags come back as
    /// [`StartError::Usage`], for the caller to print.
    pub fn from_args<I, T>(args: I) -> Result<Self, StartError>
    where
        I: IntoIterator<Item = T>,
        T: Into<OsString> + Clone,
    {
        let matches = Cli::command()
            .try_get_matches_from(args)
            .map_err(|e| StartError::Usage(Box::new(e)))?;
        let cli = Cli::from_arg_matches(&matches).map_err(|e| StartError::Usage(Box::new(e)))?;
        Self::resolve(cli, &Origins(&matches))
    }

    fn resolve(cli: Cli, origins: &Origins<'_>) -> Result<Self, StartError> {
        let mut config = Config::new(&cli.root)?;
        if let Some(host) = &cli.host {
            let (ip, name) = resolve_host(host).map_err(|why| origins.invalid("host", host, why))?;
            config.host = ip;
            config.host_name = name;
        }
        config.port = match cli.port {
            Some(port) => PortChoice::Explicit(port),
            None => PortChoice::Default,
        };
        config.watch = cli
            .watch
            .iter()
            .map(|p| {
                std::fs::canonicalize(p).map_err(|_| {
                    origins.invalid(
                        "watch",
                        &p.display().to_string(),
                        "does not exist: check the path",
                    )
                })
            })
            .collect::<Result<_, _>>()?;
        for glob in &cli.ignore {
            crate::watch::check_ignore_rule(glob).map_err(|why| origins.invalid("ignore", glob, why))?;
        }
        config.ignore = cli.ignore;
        config.reload = !cli.no_reload;
        config.spa = cli.spa;
        config.open = cli.open;
        if let Some(ms) = cli.debounce {
            config.debounce = Duration::from_millis(ms);
        }
        config.poll = cli.poll.map(|ms| Duration::from_millis(ms.max(10)));
        for rule in &cli.proxy {
            let parsed = ProxyRule::parse(rule).map_err(|why| origins.invalid("proxy", rule, why))?;
            config.proxies.push(parsed);
        }
        if let Some(target) = &cli.proxy_ws {
            let parsed = ProxyRule::parse_ws_shorthand(target)
                .map_err(|why| origins.invalid("proxy_ws", target, why))?;
            config.proxies.push(parsed);
        }
        if let Some(secs) = cli.proxy_timeout {
            config.proxy_timeout =
                Duration::try_from_secs_f64(secs.clamp(0.001, 86_400.0)).unwrap_or(DEFAULT_PROXY_TIMEOUT);
        }
        config.allowed_hosts = cli.allow_host.iter().map(|h| h.to_ascii_lowercase()).collect();
        config.quiet = cli.quiet;
        config.verbose = cli.verbose;
        Ok(config)
    }

    /// True when `--host` exposes the server beyond this machine.
    pub fn exposed(&self) -> bool {
        !self.host.is_loopback()
    }
}

/// Where each parsed value came from, read off clap's matches.
struct Origins<'a>(&'a ArgMatches);

impl Origins<'_> {
    /// The origin of the argument whose clap id is `id`.
    fn of(&self, id: &str) -> Origin {
        let command = Cli::command();
        let arg = command.get_arguments().find(|a| a.get_id() == id);
        match self.0.value_source(id) {
            Some(ValueSource::EnvVariable) => Origin::Env(
                arg.and_then(|a| a.get_env())
                    .map(|v| v.to_string_lossy().into_owned())
                    .unwrap_or_default(),
            ),
            Some(ValueSource::CommandLine) => Origin::Flag(
                arg.and_then(|a| a.get_long())
                    .map(|l| format!("--{l}"))
                    .unwrap_or_else(|| id.to_string()),
            ),
            _ => Origin::Default,
        }
    }

    fn invalid(&self, id: &str, value: &str, why: impl Into<String>) -> StartError {
        StartError::Invalid {
            origin: self.of(id),
            value: value.to_string(),
            why: why.into(),
        }
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

/// The address to listen on, and the name to accept in `Host` when `--host` was a name.
fn resolve_host(host: &str) -> Result<(IpAddr, Option<String>), &'static str> {
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
        .ok_or("neither an address nor a name that resolves: try 127.0.0.1, or 0.0.0.0 for your network")?;
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
        assert!(resolve_host("not a host!").is_err());
    }

    #[test]
    fn an_error_names_where_the_bad_value_came_from() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().to_str().unwrap();
        let err = Config::from_args(["devserve", root, "--proxy", "api"]).unwrap_err();
        assert!(
            err.to_string().starts_with("--proxy `api`: expected PREFIX=URL"),
            "{err}"
        );
        let err = Config::from_args(["devserve", root, "--proxy-ws", "local host:x"]).unwrap_err();
        assert!(err.to_string().starts_with("--proxy-ws `local host:x`:"), "{err}");
        let err = Config::from_args(["devserve", root, "--ignore", "src/{a,b"]).unwrap_err();
        assert!(err.to_string().starts_with("--ignore `src/{a,b`:"), "{err}");
        let err = Config::from_args(["devserve", root, "--host", "not a host!"]).unwrap_err();
        assert!(err.to_string().starts_with("--host `not a host!`:"), "{err}");
        assert_eq!(
            Origins(&Cli::command().get_matches_from(["devserve"])).of("proxy"),
            Origin::Default
        );
    }

    #[test]
    fn defaults_are_not_mistaken_for_values() {
        let dir = tempfile::tempdir().unwrap();
        let config = Config::from_args(["devserve", dir.path().to_str().unwrap()]).unwrap();
        assert_eq!(config.host, DEFAULT_HOST);
        assert_eq!(config.port, PortChoice::Default);
        assert_eq!(config.proxy_timeout, DEFAULT_PROXY_TIMEOUT);
        assert!(config.reload && !config.spa);
    }
}
