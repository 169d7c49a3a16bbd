//! Single values checked on their own: a header, an origin, a timeout, the root folder, the
//! listen address. Each says only what is wrong; the caller adds where the value came from.

use std::net::{IpAddr, Ipv4Addr, ToSocketAddrs};
use std::path::{Path, PathBuf};
use std::time::Duration;

use axum::http::{HeaderName, HeaderValue};

use super::cli::Cli;
use super::origin::Origins;
use super::{Config, Tls};
use crate::error::StartError;

/// `NAME: VALUE`, both valid in HTTP.
pub(super) fn parse_header(header: &str) -> Result<(HeaderName, HeaderValue), String> {
    let (name, value) = header
        .split_once(':')
        .ok_or("expected 'NAME: VALUE', e.g. 'Cross-Origin-Opener-Policy: same-origin'")?;
    let name = HeaderName::from_bytes(name.trim().as_bytes())
        .map_err(|_| format!("`{}` is not a header name", name.trim()))?;
    let value = HeaderValue::from_str(value.trim())
        .map_err(|_| "the value has bytes a header cannot carry".to_string())?;
    Ok((name, value))
}

/// An origin as a browser sends it: `http://localhost:5173`, lowercase, no path.
pub(super) fn parse_origin(origin: &str) -> Result<String, String> {
    let origin = origin.trim().trim_end_matches('/').to_ascii_lowercase();
    let rest = origin
        .strip_prefix("http://")
        .or_else(|| origin.strip_prefix("https://"))
        .ok_or("an origin is scheme://host[:port], e.g. http://localhost:5173")?;
    if rest.is_empty() || rest.contains(['/', '?', '#', '@', ' ']) {
        return Err("an origin is scheme://host[:port] and nothing more, e.g. http://localhost:5173".into());
    }
    Ok(origin)
}

/// How long a backend may take to answer: more than nothing, at most a day.
pub(super) fn proxy_timeout(secs: f64) -> Result<Duration, &'static str> {
    if secs.is_nan() || secs <= 0.0 {
        return Err("a backend needs some time to answer: give seconds above 0, e.g. 30");
    }
    Duration::try_from_secs_f64(secs.min(86_400.0)).map_err(|_| "not a number of seconds, e.g. 30")
}

/// The served folder, canonical. One that does not exist yet, in a folder that does, is served
/// once it appears (`devserve dist` started with the build that makes `dist/`).
pub(super) fn canonical_dir(root: &Path) -> Result<PathBuf, StartError> {
    let shown = root.display().to_string();
    let missing = || StartError::RootMissing { root: shown.clone() };
    let canonical = match std::fs::canonicalize(root) {
        Ok(canonical) => canonical,
        Err(_) => {
            let name = root.file_name().ok_or_else(missing)?;
            let parent = match root.parent() {
                Some(p) if !p.as_os_str().is_empty() => p,
                _ => Path::new("."),
            };
            let parent = std::fs::canonicalize(parent).map_err(|_| missing())?;
            if !parent.is_dir() {
                return Err(missing());
            }
            return Ok(parent.join(name));
        }
    };
    if !canonical.is_dir() {
        return Err(StartError::RootNotDir { root: shown });
    }
    Ok(canonical)
}

/// The address to listen on, and the name to accept in `Host` when `--host` was a name.
pub(super) fn resolve_host(host: &str) -> Result<(IpAddr, Option<String>), &'static str> {
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

/// `--https`, or `--cert` with `--key`: the files exist; the folder devserve keeps its own
/// certificate in is not one it serves or watches.
pub(super) fn tls(cli: &Cli, config: &Config, origins: &Origins<'_>) -> Result<Option<Tls>, StartError> {
    let file = |id: &str, path: &Path| {
        std::fs::canonicalize(path)
            .ok()
            .filter(|p| p.is_file())
            .ok_or_else(|| origins.invalid(id, &path.display().to_string(), "is not a file: check the path"))
    };
    if let (Some(cert), Some(key)) = (&cli.cert, &cli.key) {
        return Ok(Some(Tls::Files {
            cert: file("cert", cert)?,
            key: file("key", key)?,
        }));
    }
    if !cli.https {
        return Ok(None);
    }
    let dir = std::env::var_os("DEVSERVE_CERT_DIR")
        .map(PathBuf::from)
        .or_else(|| dirs::config_dir().map(|d| d.join("devserve")))
        .ok_or_else(|| {
            origins.invalid(
                "https",
                "true",
                "there is no config folder to keep the certificate in ($HOME unset?): use --cert and --key",
            )
        })?;
    let inside = |folder: &Path| {
        dir.starts_with(folder) || std::fs::canonicalize(&dir).is_ok_and(|d| d.starts_with(folder))
    };
    if let Some(folder) = std::iter::once(&config.root)
        .chain(&config.watch)
        .find(|f| inside(f))
    {
        return Err(origins.invalid(
            "https",
            "true",
            format!(
                "devserve keeps its certificate in {}, inside {}, which it serves or watches: serve another folder, set DEVSERVE_CERT_DIR, or use --cert and --key",
                dir.display(),
                folder.display()
            ),
        ));
    }
    Ok(Some(Tls::Made { dir }))
}
