//! Keyboard shortcuts at the terminal, as Vite has them: a letter and Enter. Only when standard
//! input is a terminal (the binary says so with `Config::keys`).

use std::io::BufRead;
use std::sync::Arc;

use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use crate::reload::Hub;

/// What a line typed at the terminal asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Key {
    Open,
    Reload,
    Clear,
    Quit,
    Help,
}

impl Key {
    /// The shortcut a typed line names, if any.
    pub(super) fn parse(line: &str) -> Option<Key> {
        match line.trim() {
            "o" => Some(Key::Open),
            "r" => Some(Key::Reload),
            "c" => Some(Key::Clear),
            "q" => Some(Key::Quit),
            "h" => Some(Key::Help),
            _ => None,
        }
    }
}

const HELP: &str = "shortcuts: o + enter opens the browser, r + enter reloads every tab, \
                    c + enter clears the screen, q + enter quits, h + enter shows this";

/// Reads lines from standard input on a thread of its own (a blocking read the runtime never
/// waits for) and acts on the shortcuts until `shutdown`.
pub(super) fn spawn(hub: Arc<Hub>, url: String, shutdown: CancellationToken) {
    let (tx, mut rx) = mpsc::channel::<Key>(8);
    let reader = std::thread::Builder::new()
        .name("devserve-keys".into())
        .spawn(move || {
            for line in std::io::stdin().lock().lines() {
                let Ok(line) = line else { return };
                match Key::parse(&line) {
                    Some(key) => {
                        if tx.blocking_send(key).is_err() {
                            return;
                        }
                    }
                    None if line.trim().is_empty() => {}
                    None => tracing::info!("unknown shortcut `{}`; {HELP}", line.trim()),
                }
            }
        });
    if let Err(e) = reader {
        tracing::debug!("no keyboard shortcuts: {e}");
        return;
    }
    tracing::info!("press h + enter for shortcuts");
    tokio::spawn(async move {
        loop {
            let key = tokio::select! {
                _ = shutdown.cancelled() => return,
                key = rx.recv() => match key { Some(key) => key, None => return },
            };
            match key {
                Key::Open => super::open_browser(url.clone()),
                Key::Reload => {
                    let tabs = hub.publish(Vec::new(), true);
                    tracing::info!("reloading every tab (told {tabs})");
                }
                Key::Clear => {
                    use std::io::Write;
                    let mut err = std::io::stderr().lock();
                    let _ = err.write_all(b"\x1b[2J\x1b[3J\x1b[H");
                    let _ = err.flush();
                }
                Key::Quit => {
                    tracing::info!("quitting");
                    shutdown.cancel();
                    return;
                }
                Key::Help => tracing::info!("{HELP}"),
            }
        }
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_letter_and_enter_is_a_shortcut() {
        assert_eq!(Key::parse("o\n"), Some(Key::Open));
        assert_eq!(Key::parse(" r "), Some(Key::Reload));
        assert_eq!(Key::parse("q"), Some(Key::Quit));
        assert_eq!(Key::parse("c"), Some(Key::Clear));
        assert_eq!(Key::parse("h"), Some(Key::Help));
        assert_eq!(Key::parse("quit"), None);
        assert_eq!(Key::parse(""), None);
    }
}
