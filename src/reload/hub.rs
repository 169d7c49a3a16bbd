//! The hub: fans each batch out to every connected tab.
//!
//! Each batch is serialised once ([`Frame`]) and shared by every socket; a socket that falls
//! behind the broadcast buffer is told to reload rather than being sent stale batches.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use tokio::sync::{broadcast, watch};

use super::protocol::{Frame, ServerMessage};

/// How many batches a slow socket may fall behind before it is told to reload instead.
const BACKLOG: usize = 64;

/// Fans batches out to every connected tab.
pub(crate) struct Hub {
    tx: broadcast::Sender<Frame>,
    /// Errors open now, by source: a tab that connects later is shown them after `connected`.
    errors: Mutex<BTreeMap<String, Frame>>,
    /// The last batch's seq, shared with whoever writes it into pages (`data-seq`).
    seq: Arc<AtomicU64>,
    ready_tx: watch::Sender<bool>,
}

impl Hub {
    pub(crate) fn new() -> Self {
        let (tx, _) = broadcast::channel(BACKLOG);
        let (ready_tx, _) = watch::channel(false);
        Hub {
            tx,
            errors: Mutex::new(BTreeMap::new()),
            seq: Arc::new(AtomicU64::new(0)),
            ready_tx,
        }
    }

    /// Sends a batch of changed URL paths to every tab and returns how many were told.
    pub(crate) fn publish(&self, paths: Vec<String>, reload: bool) -> usize {
        self.publish_batch(paths, reload, false)
    }

    /// [`publish`](Self::publish), saying whether `paths` leaves changes out (`all`: every tab
    /// reloads, whatever it uses).
    pub(crate) fn publish_batch(&self, paths: Vec<String>, reload: bool, all: bool) -> usize {
        let seq = self.seq.fetch_add(1, Ordering::Relaxed) + 1;
        let reload = reload || all;
        match Frame::new(ServerMessage::Updated {
            seq,
            paths,
            reload,
            all,
        }) {
            Some(frame) => self.tx.send(frame).unwrap_or(0),
            None => 0,
        }
    }

    /// Shows an error over every tab (and every tab that connects) until `source` is cleared.
    pub(crate) fn show_error(&self, source: &str, title: &str, text: &str) {
        let Some(frame) = Frame::new(ServerMessage::Error {
            source: source.to_string(),
            title: title.to_string(),
            text: text.to_string(),
        }) else {
            return;
        };
        if let Ok(mut errors) = self.errors.lock() {
            errors.insert(source.to_string(), frame.clone());
        }
        let _ = self.tx.send(frame);
    }

    /// Clears the error of `source`, if one is open.
    pub(crate) fn clear(&self, source: &str) {
        let open = self
            .errors
            .lock()
            .map(|mut errors| errors.remove(source).is_some())
            .unwrap_or(false);
        if open {
            if let Some(frame) = Frame::new(ServerMessage::Clear {
                source: source.to_string(),
            }) {
                let _ = self.tx.send(frame);
            }
        }
    }

    /// The errors open now, to replay to a tab that has just connected.
    pub(crate) fn open_errors(&self) -> Vec<Frame> {
        self.errors
            .lock()
            .map(|errors| errors.values().cloned().collect())
            .unwrap_or_default()
    }

    /// The seq of the last batch published (0 before the first).
    pub(crate) fn seq(&self) -> u64 {
        self.seq.load(Ordering::Relaxed)
    }

    /// The counter behind [`seq`](Self::seq), for the pages that carry it.
    pub(crate) fn seq_counter(&self) -> Arc<AtomicU64> {
        self.seq.clone()
    }

    /// Marks the watcher as ready: sockets waiting to say `connected` go ahead.
    pub(crate) fn set_ready(&self) {
        self.ready_tx.send_replace(true);
    }

    /// Marks a watcher as starting again: sockets wait before they say `connected`.
    pub(crate) fn set_starting(&self) {
        self.ready_tx.send_replace(false);
    }

    pub(crate) fn subscribe(&self) -> (broadcast::Receiver<Frame>, watch::Receiver<bool>) {
        (self.tx.subscribe(), self.ready_tx.subscribe())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seq_grows_by_one_per_batch() {
        let hub = Hub::new();
        let (mut rx, _) = hub.subscribe();
        hub.publish(vec!["/a".into()], true);
        hub.publish(vec!["/b".into()], true);
        for want in 1..=2 {
            let frame = rx.try_recv().unwrap();
            match serde_json::from_str(&frame.text).unwrap() {
                ServerMessage::Updated { seq, .. } => assert_eq!(seq, want),
                other => panic!("unexpected {other:?}"),
            }
            assert!(matches!(*frame.message, ServerMessage::Updated { seq, .. } if seq == want));
        }
        assert_eq!(hub.seq(), 2);
        hub.show_error("esbuild", "failed", "a.js:1:1");
        assert_eq!(hub.open_errors().len(), 1);
        hub.clear("esbuild");
        hub.clear("esbuild");
        assert!(hub.open_errors().is_empty());
        let kinds: Vec<String> = std::iter::from_fn(|| rx.try_recv().ok())
            .map(|f| {
                serde_json::to_value(&*f.message).unwrap()["type"]
                    .as_str()
                    .unwrap()
                    .to_string()
            })
            .collect();
        assert_eq!(kinds, ["error", "clear"], "one clear for one open error");
        assert_eq!(hub.seq_counter().load(Ordering::Relaxed), 2);
    }
}
