//! The hub: fans each batch out to every connected tab.
//!
//! Each batch is serialised once ([`Frame`]) and shared by every socket; a socket that falls
//! behind the broadcast buffer is told to reload rather than being sent stale batches.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use tokio::sync::{broadcast, watch};

use super::protocol::{Frame, ServerMessage};

/// How many batches a slow socket may fall behind before it is told to reload instead.
const BACKLOG: usize = 64;

/// Fans batches out to every connected tab.
pub(crate) struct Hub {
    tx: broadcast::Sender<Frame>,
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
            seq: Arc::new(AtomicU64::new(0)),
            ready_tx,
        }
    }

    /// Sends a batch of changed URL paths to every tab and returns how many were told.
    pub(crate) fn publish(&self, paths: Vec<String>, reload: bool) -> usize {
        let seq = self.seq.fetch_add(1, Ordering::Relaxed) + 1;
        match Frame::new(ServerMessage::Updated { seq, paths, reload }) {
            Some(frame) => self.tx.send(frame).unwrap_or(0),
            None => 0,
        }
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
        assert_eq!(hub.seq_counter().load(Ordering::Relaxed), 2);
    }
}
