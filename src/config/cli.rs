//! The command line: only the clap struct, one doc comment per flag (that is `--help`).
//!
//! No I/O happens here, and no value has a default that hides whether it was given: every
//! setting is an `Option`, a `Vec` or a flag, and [`crate::config::Config::from_args`] supplies
//! the defaults, resolves the values and reports what is wrong with them, naming where each came
//! from.

use std::path::PathBuf;

use clap::builder::BoolishValueParser;
use clap::{ArgAction, Parser};

/// A live-reload development server: serves a folder, injects a small client into every HTML
/// page, and reloads the open tabs when a file changes (stylesheets are swapped in place).
#[derive(Debug, Clone, Parser)]
#[command(name = "devserve", version, about, max_term_width = 100)]
pub(crate) struct Cli {
    /// Folder to serve [default: the current folder]. One that does not exist yet is served
    /// once it appears (a build tool started at the same time creates it).
    #[arg(env = "DEVSERVE_ROOT", value_name = "ROOT")]
    pub(crate) root: Option<PathBuf>,

    /// Port to listen on [default: 8080, or the next free port when 8080 is busy].
    /// A port given here that is busy is an error; 0 picks any free port.
    #[arg(short, long, env = "DEVSERVE_PORT")]
    pub(crate) port: Option<u16>,

    /// Address to listen on [default: 127.0.0.1]. 0.0.0.0 or :: expose the folder to your network.
    #[arg(long, env = "DEVSERVE_HOST", value_name = "ADDR")]
    pub(crate) host: Option<String>,

    /// Forward requests under PREFIX (HTTP and WebSocket) to URL, e.g. /api=http://localhost:3000.
    /// Repeatable.
    #[arg(
        long = "proxy",
        value_name = "PREFIX=URL",
        env = "DEVSERVE_PROXY",
        value_delimiter = ','
    )]
    pub(crate) proxy: Vec<String>,

    /// Shorthand for --proxy /ws=http://HOST:PORT.
    #[arg(long = "proxy-ws", value_name = "HOST:PORT", env = "DEVSERVE_PROXY_WS")]
    pub(crate) proxy_ws: Option<String>,

    /// Seconds a backend may take to start answering before devserve answers 504 [default: 60].
    #[arg(long = "proxy-timeout", value_name = "SECS", env = "DEVSERVE_PROXY_TIMEOUT")]
    pub(crate) proxy_timeout: Option<f64>,

    /// Start CMD (through the shell) beside the server, print its output with a prefix, restart it
    /// when a --run-watch path changes or when it exits, and stop it with the server.
    #[arg(long, value_name = "CMD", env = "DEVSERVE_RUN")]
    pub(crate) run: Option<String>,

    /// A path whose changes restart the --run command (gitignore rules apply). Repeatable.
    #[arg(
        long = "run-watch",
        value_name = "PATH",
        env = "DEVSERVE_RUN_WATCH",
        value_delimiter = ','
    )]
    pub(crate) run_watch: Vec<PathBuf>,

    /// When the --run command is ready: tcp:HOST:PORT or http://HOST:PORT/path [default: the
    /// first --proxy or --proxy-ws target].
    #[arg(long, value_name = "ADDR|URL", env = "DEVSERVE_READY")]
    pub(crate) ready: Option<String>,

    /// Serve HTTPS (HTTP/2 and HTTP/1.1) with a certificate devserve makes on first use and keeps
    /// in your config folder, valid for localhost, 127.0.0.1, ::1 and the --host/--allow-host names.
    #[arg(long, env = "DEVSERVE_HTTPS", value_parser = BoolishValueParser::new())]
    pub(crate) https: bool,

    /// Serve HTTPS with this certificate chain (PEM, e.g. made by mkcert) instead; needs --key.
    #[arg(long, value_name = "PEM", env = "DEVSERVE_CERT", requires = "key")]
    pub(crate) cert: Option<PathBuf>,

    /// The private key (PEM) of --cert.
    #[arg(long, value_name = "PEM", env = "DEVSERVE_KEY", requires = "cert")]
    pub(crate) key: Option<PathBuf>,

    /// A header added to every response devserve writes itself (files, its pages, its client),
    /// as 'NAME: VALUE'; proxied answers are the backend's. Repeatable.
    #[arg(long = "header", value_name = "NAME: VALUE", env = "DEVSERVE_HEADER")]
    pub(crate) header: Vec<String>,

    /// Cross-origin isolation: Cross-Origin-Opener-Policy: same-origin and
    /// Cross-Origin-Embedder-Policy: require-corp (SharedArrayBuffer, wasm threads).
    #[arg(long, env = "DEVSERVE_ISOLATED", value_parser = BoolishValueParser::new())]
    pub(crate) isolated: bool,

    /// Let pages of this origin (e.g. http://localhost:5173) fetch the served files with CORS;
    /// none by default. Repeatable.
    #[arg(long, value_name = "ORIGIN", env = "DEVSERVE_CORS", value_delimiter = ',')]
    pub(crate) cors: Vec<String>,

    /// Extra path to watch; a change there reloads every tab. Repeatable.
    #[arg(long, value_name = "PATH", env = "DEVSERVE_WATCH")]
    pub(crate) watch: Vec<PathBuf>,

    /// Paths not to watch, in gitignore syntax (e.g. 'dist/' or '*.log'). Repeatable.
    #[arg(long, value_name = "GLOB", env = "DEVSERVE_IGNORE")]
    pub(crate) ignore: Vec<String>,

    /// Serve only: no client injection, no watching.
    #[arg(long, env = "DEVSERVE_NO_RELOAD", value_parser = BoolishValueParser::new())]
    pub(crate) no_reload: bool,

    /// Every tab reloads on every change. Without it, a tab reloads only when a file it uses
    /// changed (its page, or a file it loaded), or when it shows devserve's 404 or listing for a
    /// path that changed.
    #[arg(long = "reload-all", env = "DEVSERVE_RELOAD_ALL", value_parser = BoolishValueParser::new())]
    pub(crate) reload_all: bool,

    /// Single-page app: unknown paths that a browser navigates to get /index.html.
    #[arg(long, env = "DEVSERVE_SPA", value_parser = BoolishValueParser::new())]
    pub(crate) spa: bool,

    /// Open the default browser at the served URL, or at PATH on it (--open /about).
    #[arg(
        long,
        env = "DEVSERVE_OPEN",
        value_name = "PATH",
        num_args = 0..=1,
        default_missing_value = "/"
    )]
    pub(crate) open: Option<String>,

    /// How long the files must be quiet before tabs are told, in milliseconds (half of it for a
    /// lone file its writer has closed).
    #[arg(long, value_name = "MS", env = "DEVSERVE_DEBOUNCE")]
    pub(crate) debounce: Option<u64>,

    /// Poll for changes instead of using OS events (network drives, WSL's /mnt, Docker bind
    /// mounts). Optional interval in milliseconds [default: 300].
    #[arg(long, value_name = "MS", num_args = 0..=1, default_missing_value = "300", env = "DEVSERVE_POLL")]
    pub(crate) poll: Option<u64>,

    /// Also accept requests whose Host header is NAME (for a LAN name or a tunnel). Repeatable.
    #[arg(
        long = "allow-host",
        value_name = "NAME",
        env = "DEVSERVE_ALLOW_HOST",
        value_delimiter = ','
    )]
    pub(crate) allow_host: Vec<String>,

    /// Settings file: every long flag is a key (port = 3001, spa = true, proxy = ["/api=…"]);
    /// flags and DEVSERVE_* variables override it [default: ./devserve.toml when it exists].
    #[arg(long, value_name = "FILE", env = "DEVSERVE_CONFIG")]
    pub(crate) config: Option<PathBuf>,

    /// Start every log line with the time (always so with -v).
    #[arg(long, env = "DEVSERVE_TIMESTAMPS", value_parser = BoolishValueParser::new())]
    pub(crate) timestamps: bool,

    /// With --host 0.0.0.0, do not print a QR code of the LAN URL (for a phone's camera).
    #[arg(long = "no-qr", env = "DEVSERVE_NO_QR", value_parser = BoolishValueParser::new())]
    pub(crate) no_qr: bool,

    /// Print a completion script for SHELL (bash, zsh, fish, elvish, powershell) and exit, e.g.
    /// devserve --completions bash > ~/.local/share/bash-completion/completions/devserve
    #[arg(long, value_name = "SHELL", exclusive = true)]
    pub(crate) completions: Option<clap_complete::Shell>,

    /// Print the manual page (roff) and exit, e.g. devserve --man > ~/.local/share/man/man1/devserve.1
    #[arg(long, exclusive = true)]
    pub(crate) man: bool,

    /// Print only warnings and errors.
    #[arg(short, long, conflicts_with = "verbose")]
    pub(crate) quiet: bool,

    /// Print more (-v: every request's outcome and watcher detail, -vv: everything).
    #[arg(short, long, action = ArgAction::Count)]
    pub(crate) verbose: u8,
}
