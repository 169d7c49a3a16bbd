//! What devserve tells the person at its terminal: where it listens, what it proxies, and each
//! batch of changes with how many tabs were told.

use std::net::{IpAddr, SocketAddr};

use crate::config::Config;

/// Logs where devserve is listening and what it proxies; returns the URL to open.
pub(super) fn listening(config: &Config, local: SocketAddr) -> String {
    let port = local.port();
    let scheme = if config.tls.is_some() { "https" } else { "http" };
    let url_for = |ip: IpAddr| match ip {
        IpAddr::V6(v6) => format!("{scheme}://[{v6}]:{port}/"),
        IpAddr::V4(v4) => format!("{scheme}://{v4}:{port}/"),
    };
    let local_url = if config.host.is_unspecified() || config.host.is_loopback() {
        format!("{scheme}://localhost:{port}/")
    } else {
        url_for(config.host)
    };
    let mode = if config.reload {
        "live reload on"
    } else {
        "live reload off"
    };
    tracing::info!("serving {} at {local_url} ({mode})", config.root.display());
    if !config.root.is_dir() {
        tracing::info!(
            "{} does not exist yet: it is served as soon as it appears",
            config.root.display()
        );
    }
    if config.exposed() {
        let mut lan = Vec::new();
        if config.host.is_unspecified() {
            for iface in if_addrs::get_if_addrs().unwrap_or_default() {
                if !iface.is_loopback() && (iface.ip().is_ipv4() || config.host.is_ipv6()) {
                    tracing::info!("  on your network: {}", url_for(iface.ip()));
                    lan.push(url_for(iface.ip()));
                }
            }
        } else {
            lan.push(local_url.clone());
        }
        // For a phone's camera, at a terminal: the first LAN URL as a QR code.
        let terminal = std::io::IsTerminal::is_terminal(&std::io::stderr());
        if let Some(code) = lan
            .first()
            .filter(|_| config.qr && terminal && !config.quiet)
            .and_then(|u| qr(u))
        {
            eprintln!("{code}");
        }
        tracing::warn!(
            "--host {} exposes this folder to your network: anyone who can reach this machine can read it",
            config.host
        );
    }
    for rule in &config.proxies {
        tracing::info!(
            "proxying {} → {}://{}{}",
            rule.prefix,
            rule.target.scheme(),
            rule.target.authority(),
            rule.target.path.as_deref().unwrap_or("")
        );
    }
    local_url
}

/// `url` as a QR code of Unicode half blocks, light on dark (as most terminals are), with the
/// quiet zone scanners need.
fn qr(url: &str) -> Option<String> {
    use qrcode::render::unicode::Dense1x2;
    let code = qrcode::QrCode::new(url.as_bytes()).ok()?;
    Some(
        code.render::<Dense1x2>()
            .dark_color(Dense1x2::Light)
            .light_color(Dense1x2::Dark)
            .quiet_zone(true)
            .build(),
    )
}

/// Logs one batch: what changed, what the tabs do, how many were told.
pub(super) fn batch(paths: &[String], reload: bool, tabs: usize) {
    let what = if reload { "reload" } else { "css swap" };
    let shown = match paths.len() {
        0 => "files outside the root".to_string(),
        1..=3 => paths.join(", "),
        n => format!("{}, … ({n} files)", paths[..2].join(", ")),
    };
    let tabs_word = if tabs == 1 { "tab" } else { "tabs" };
    tracing::info!("{shown} changed → {what}, told {tabs} {tabs_word}");
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_lan_url_becomes_a_qr_code() {
        let code = qr("http://192.168.1.20:8080/").unwrap();
        let lines: Vec<&str> = code.lines().collect();
        // Version 2 (25 modules) with a quiet zone of 4 on each side: 33 columns, 17 lines of 2.
        assert_eq!(lines.len(), 17);
        assert!(lines.iter().all(|l| l.chars().count() == 33), "{code}");
        assert!(code.contains('▀') || code.contains('▄'));
    }
}
