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
mod file;
mod origin;
mod run;
mod values;

use std::ffi::OsString;
use std::net::{IpAddr, Ipv4Addr};
use std::path::{Path, PathBuf};
use std::time::Duration;

use axum::http::{HeaderName, HeaderValue};
use clap::{CommandFactory, FromArgMatches};

use crate::error::{Origin, StartError};
use crate::proxy::rule::ProxyRule;
use cli::Cli;
use file::Settings;
use origin::{from_env_or_usage, Origins};
use run::run_command;
pub(crate) use run::RunCommand;
use values::{canonical_dir, parse_header, parse_origin, proxy_timeout, resolve_host, tls};

/// The port devserve tries first when none is given.
pub(crate) const DEFAULT_PORT: u16 = 8080;
/// How long the files must be quiet before a batch is sent, once no file is still being written
/// (`--debounce` overrides). A lone file its writer has closed waits half of it; bursts and writers
/// holding a file open get longer windows.
pub(crate) const DEFAULT_DEBOUNCE: Duration = Duration::from_millis(2);
/// How long a backend may take to start answering before devserve answers 504.
pub(crate) const DEFAULT_PROXY_TIMEOUT: Duration = Duration::from_secs(60);
/// How long a peer may take to send a whole request head: a browser sends one in a single write;
/// a peer that dribbles it (slowloris) is dropped after this. nginx's default is 60 s; devserve
/// serves one machine or a LAN, where 10 s is ample for anything alive.
pub(crate) const HEAD_TIMEOUT: Duration = Duration::from_secs(10);
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

/// `--completions SHELL` or `--man`: the text to print instead of serving.
fn printed(cli: &Cli) -> Option<String> {
    let mut out = Vec::new();
    if let Some(shell) = cli.completions {
        clap_complete::generate(shell, &mut Cli::command(), "devserve", &mut out);
    } else if cli.man {
        clap_mangen::Man::new(Cli::command()).render(&mut out).ok()?;
    } else {
        return None;
    }
    Some(String::from_utf8_lossy(&out).into_owned())
}

/// Where the HTTPS certificate comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Tls {
    /// `--https`: made on first use and kept in `dir` (the user's config folder).
    Made {
        /// The folder it is kept in.
        dir: PathBuf,
    },
    /// `--cert` and `--key`: the person's own files (mkcert's, say).
    Files {
        /// The certificate chain (PEM).
        cert: PathBuf,
        /// Its private key (PEM).
        key: PathBuf,
    },
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
    /// The port to listen on.
    pub port: PortChoice,
    /// Where the port came from (a flag, a variable, the settings file): named when it is busy.
    pub port_origin: Origin,
    /// Extra paths to watch, canonical.
    pub watch: Vec<PathBuf>,
    /// Extra ignore rules, gitignore syntax, each one checked.
    pub ignore: Vec<String>,
    /// Inject the client and watch (false with `--no-reload`).
    pub reload: bool,
    /// `--reload-all`: every tab reloads on every change.
    pub reload_all: bool,
    /// `--spa`: unknown paths a browser navigates to get `/index.html`.
    pub spa: bool,
    /// `--open [PATH]`: the URL path to open in the browser.
    pub open: Option<String>,
    /// Log lines start with the time (`--timestamps`, or `-v`).
    pub timestamps: bool,
    /// Read keyboard shortcuts from standard input (set by the binary when it is a terminal).
    pub keys: bool,
    /// HTTPS, and its certificate; `None`: plain HTTP.
    pub tls: Option<Tls>,
    /// `--header` and `--isolated`: headers added to devserve's own answers.
    pub(crate) headers: Vec<(HeaderName, HeaderValue)>,
    /// `--cors`: origins allowed to read devserve's own answers.
    pub(crate) cors: Vec<String>,
    /// The longest a build tool's `building` holds the changes back.
    pub build_hold: Duration,
    /// `--run`: the backend command, and when it is ready.
    pub(crate) run: Option<RunCommand>,
    /// How long a peer may take to send a request head before its connection is dropped.
    pub head_timeout: Duration,
    /// Connections open at once, at most; `None`: 4,096, or fewer when the open-file limit is low.
    pub max_connections: Option<usize>,
    /// How long the files must be quiet before tabs are told (`--debounce`).
    pub debounce: Duration,
    /// `Some(interval)` forces the polling watcher.
    pub poll: Option<Duration>,
    pub(crate) proxies: Vec<ProxyRule>,
    /// How long a backend may take to start answering before devserve answers 504.
    pub proxy_timeout: Duration,
    /// Extra names accepted in the Host header.
    pub allowed_hosts: Vec<String>,
    /// Print a QR code of the LAN URL when `--host` exposes the server (off with `--no-qr`).
    pub qr: bool,
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
            port_origin: Origin::Default,
            watch: Vec::new(),
            ignore: Vec::new(),
            reload: true,
            reload_all: false,
            spa: false,
            open: None,
            timestamps: false,
            keys: false,
            head_timeout: HEAD_TIMEOUT,
            max_connections: None,
            run: None,
            tls: None,
            headers: Vec::new(),
            cors: Vec::new(),
            build_hold: crate::reload::trigger::HOLD_MAX,
            debounce: DEFAULT_DEBOUNCE,
            poll: None,
            proxies: Vec::new(),
            proxy_timeout: DEFAULT_PROXY_TIMEOUT,
            allowed_hosts: Vec::new(),
            qr: true,
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
        let args: Vec<OsString> = args.into_iter().map(Into::into).collect();
        // `typed`: what the person typed, to tell their flags from the file's.
        let parse = |all: &[OsString], typed: &[OsString], file: Option<&Settings>| {
            let matches = Cli::command()
                .try_get_matches_from(all)
                .map_err(|e| from_env_or_usage(e, typed, file))?;
            let cli = Cli::from_arg_matches(&matches).map_err(|e| StartError::Usage(Box::new(e)))?;
            Ok::<_, StartError>((matches, cli))
        };
        let (matches, cli) = parse(&args, &args, None)?;
        if let Some(text) = printed(&cli) {
            return Err(StartError::Print(text));
        }
        let Some(file) = Settings::load(
            cli.config.as_deref(),
            Origins(&matches, None).of("config"),
            &matches,
        )?
        else {
            return Self::resolve(cli, &Origins(&matches, None));
        };
        // The file's flags after the person's: a key given both ways was left out of the file's.
        let mut all = args.clone();
        all.extend(file.args.iter().cloned());
        let (matches, mut cli) = parse(&all, &args, Some(&file))?;
        if cli.root.is_none() {
            cli.root.clone_from(&file.root);
        }
        Self::resolve(cli, &Origins(&matches, Some(&file)))
    }

    fn resolve(cli: Cli, origins: &Origins<'_>) -> Result<Self, StartError> {
        let mut config = Config::new(cli.root.as_deref().unwrap_or(Path::new(".")))?;
        if let Some(host) = &cli.host {
            let (ip, name) = resolve_host(host).map_err(|why| origins.invalid("host", host, why))?;
            config.host = ip;
            config.host_name = name;
        }
        config.port = match cli.port {
            Some(port) => PortChoice::Explicit(port),
            None => PortChoice::Default,
        };
        config.port_origin = origins.of("port");
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
        config.ignore = cli.ignore.clone();
        config.reload = !cli.no_reload;
        config.reload_all = cli.reload_all;
        config.spa = cli.spa;
        if let Some(path) = &cli.open {
            if !path.starts_with('/') {
                return Err(origins.invalid(
                    "open",
                    path,
                    "a URL path starts with / (--open /about); to name the folder to serve, put it first: devserve ./site --open",
                ));
            }
        }
        config.open = cli.open.clone();
        config.timestamps = cli.timestamps || cli.verbose > 0;
        if let Some(ms) = cli.debounce {
            config.debounce = Duration::from_millis(ms);
        }
        config.poll = cli.poll.map(|ms| Duration::from_millis(ms.max(10)));
        let mut rules: Vec<(&str, &String, ProxyRule)> = Vec::new();
        for rule in &cli.proxy {
            let parsed = ProxyRule::parse(rule).map_err(|why| origins.invalid("proxy", rule, why))?;
            rules.push(("proxy", rule, parsed));
        }
        if let Some(target) = &cli.proxy_ws {
            let parsed = ProxyRule::parse_ws_shorthand(target)
                .map_err(|why| origins.invalid("proxy_ws", target, why))?;
            rules.push(("proxy_ws", target, parsed));
        }
        for (i, (id, value, rule)) in rules.iter().enumerate() {
            if let Some((_, first, _)) = rules[..i].iter().find(|(_, _, r)| r.prefix == rule.prefix) {
                return Err(origins.invalid(
                    id,
                    value,
                    format!(
                        "{} is proxied already (by `{first}`): give each prefix one backend",
                        rule.prefix
                    ),
                ));
            }
        }
        config.proxies = rules.into_iter().map(|(_, _, rule)| rule).collect();
        if let Some(secs) = cli.proxy_timeout {
            config.proxy_timeout = proxy_timeout(secs)
                .map_err(|why| origins.invalid("proxy_timeout", &secs.to_string(), why))?;
        }
        // A name as the browser's address bar shows it (`mylaptop.local:8217`) is the name.
        config.run = run_command(&cli, &config.proxies, origins)?;
        config.tls = tls(&cli, &config, origins)?;
        for header in &cli.header {
            let parsed = parse_header(header).map_err(|why| origins.invalid("header", header, why))?;
            config.headers.push(parsed);
        }
        if cli.isolated {
            config.headers.push((
                HeaderName::from_static("cross-origin-opener-policy"),
                HeaderValue::from_static("same-origin"),
            ));
            config.headers.push((
                HeaderName::from_static("cross-origin-embedder-policy"),
                HeaderValue::from_static("require-corp"),
            ));
        }
        for origin in &cli.cors {
            let parsed = parse_origin(origin).map_err(|why| origins.invalid("cors", origin, why))?;
            config.cors.push(parsed);
        }
        config.allowed_hosts = cli
            .allow_host
            .iter()
            .map(|h| crate::security::strip_port(h.trim()).to_ascii_lowercase())
            .collect();
        config.qr = !cli.no_qr;
        config.quiet = cli.quiet;
        config.verbose = cli.verbose;
        Ok(config)
    }

    /// True when `--host` exposes the server beyond this machine.
    pub fn exposed(&self) -> bool {
        !self.host.is_loopback()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::Origin;
    use crate::supervisor::Ready;
    use run::missing_program;

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
            Origins(&Cli::command().get_matches_from(["devserve"]), None).of("proxy"),
            Origin::Default
        );
    }

    /// The start-up error for `devserve <a temp folder> ARGS`.
    fn start_error(args: &[&str]) -> String {
        let dir = tempfile::tempdir().unwrap();
        let mut argv = vec!["devserve", dir.path().to_str().unwrap()];
        argv.extend(args);
        Config::from_args(argv).unwrap_err().to_string()
    }

    #[test]
    fn values_that_cannot_work_are_refused() {
        let err = start_error;
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().to_str().unwrap();
        assert!(err(&["--proxy-timeout", "0"]).starts_with("--proxy-timeout `0`: a backend needs some time"));
        assert!(err(&["--proxy-timeout=-3"]).contains("above 0"));
        let dup = err(&["--proxy", "/api=http://a:1", "--proxy", "/api/=http://b:2"]);
        assert!(
            dup.starts_with("--proxy `/api/=http://b:2`: /api is proxied already"),
            "{dup}"
        );
        let dup = err(&["--proxy", "/ws=http://a:1", "--proxy-ws", "3000"]);
        assert!(
            dup.starts_with("--proxy-ws `3000`: /ws is proxied already"),
            "{dup}"
        );
        assert!(err(&["--open", "about"]).starts_with("--open `about`: a URL path starts with /"));
        let ok = Config::from_args(["devserve", root, "--open", "/about", "--proxy-timeout", "0.5"]).unwrap();
        assert_eq!(ok.open.as_deref(), Some("/about"));
        assert_eq!(ok.proxy_timeout, Duration::from_millis(500));
        let bare = Config::from_args(["devserve", root, "--open"]).unwrap();
        assert_eq!(bare.open.as_deref(), Some("/"));
    }

    #[test]
    fn a_root_that_does_not_exist_yet_is_served_once_it_appears() {
        let dir = tempfile::tempdir().unwrap();
        let later = dir.path().join("dist");
        let config = Config::new(&later).unwrap();
        assert_eq!(config.root, dir.path().canonicalize().unwrap().join("dist"));
        let nowhere = dir.path().join("no/such/dist");
        assert!(matches!(
            Config::new(&nowhere),
            Err(StartError::RootMissing { .. })
        ));
        std::fs::write(dir.path().join("file"), "x").unwrap();
        assert!(matches!(
            Config::new(dir.path().join("file")),
            Err(StartError::RootNotDir { .. })
        ));
    }

    #[test]
    fn the_backend_command_is_checked_before_anything_starts() {
        let err = start_error;
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().to_str().unwrap();
        let missing = err(&["--run", "no-such-program-xyz --port 3000", "--proxy-ws", "3000"]);
        assert!(
            missing.starts_with(
                "--run `no-such-program-xyz --port 3000`: `no-such-program-xyz` is not a program"
            ),
            "{missing}"
        );
        assert!(err(&["--run", "sh -c true"]).contains("cannot tell when it is ready"));
        assert!(err(&["--run", "sh", "--ready", "localhost:3000"])
            .starts_with("--ready `localhost:3000`: expected tcp:"));
        assert!(err(&["--run-watch", "."]).contains("needs --run"));
        let ok = Config::from_args([
            "devserve",
            root,
            "--run",
            "PORT=1 sh -c 'exit 0'",
            "--proxy-ws",
            "3001",
        ])
        .unwrap();
        let run = ok.run.unwrap();
        assert_eq!(run.ready, Ready::tcp("localhost", 3001), "the first proxy target");
        assert_eq!(missing_program("cd sub && make run"), None);
        assert_eq!(missing_program("./nope.sh"), Some("./nope.sh".into()));
    }

    #[test]
    fn headers_and_cors_origins_are_checked() {
        let err = start_error;
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().to_str().unwrap();
        assert!(err(&["--header", "X-Test"]).starts_with("--header `X-Test`: expected 'NAME: VALUE'"));
        assert!(err(&["--header", "Bad Name: 1"]).contains("is not a header name"));
        assert!(err(&["--cors", "localhost:5173"]).starts_with("--cors `localhost:5173`: an origin is"));
        assert!(err(&["--cors", "http://x/app"]).contains("nothing more"));
        let ok = Config::from_args([
            "devserve",
            root,
            "--header",
            "X-Test: 1",
            "--isolated",
            "--cors",
            "HTTP://LocalHost:5173/",
        ])
        .unwrap();
        assert_eq!(ok.headers.len(), 3);
        assert_eq!(ok.cors, vec!["http://localhost:5173"]);
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
