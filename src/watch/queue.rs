//! The way from notify's thread (or the poller's) to the batcher.

use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc::{self, RecvTimeoutError};
use std::sync::Arc;
use std::time::Duration;

use notify::event::EventKind;

/// Raw events in flight between notify's thread and the batcher; past this, the batch is a
/// full reload (as after an inotify queue overflow).
const QUEUE: usize = 8192;

/// What reaches the batcher.
#[derive(Debug)]
pub(super) enum Msg {
    /// Something happened at a path.
    Event(EventKind, PathBuf),
    /// Events were lost (the OS queue overflowed): what changed is unknown.
    Lost,
    /// A page loaded something from this folder: watch it, whatever the ignore rules say.
    Served(PathBuf),
    /// The server is stopping.
    Stop,
}

/// The way from notify's thread to the batcher: a channel that allocates as it fills (a
/// `sync_channel` allocates its whole bound up front: 320 KiB held all day for [`QUEUE`] events),
/// bounded by a count of the events in flight.
#[derive(Clone)]
pub(super) struct Sender {
    tx: mpsc::Sender<Msg>,
    in_flight: Arc<AtomicUsize>,
}

pub(super) struct Receiver {
    rx: mpsc::Receiver<Msg>,
    in_flight: Arc<AtomicUsize>,
}

pub(super) fn queue() -> (Sender, Receiver) {
    let (tx, rx) = mpsc::channel();
    let in_flight = Arc::new(AtomicUsize::new(0));
    (
        Sender {
            tx,
            in_flight: in_flight.clone(),
        },
        Receiver { rx, in_flight },
    )
}

impl Sender {
    /// Queues an event; false when [`QUEUE`] events are waiting already.
    pub(super) fn event(&self, kind: EventKind, path: PathBuf) -> bool {
        if self.in_flight.fetch_add(1, Ordering::Relaxed) >= QUEUE {
            self.in_flight.fetch_sub(1, Ordering::Relaxed);
            return false;
        }
        let _ = self.tx.send(Msg::Event(kind, path)); // fails only once the batcher has stopped
        true
    }

    /// Asks for `dir` to be watched; dropped when the queue is full.
    pub(super) fn served(&self, dir: PathBuf) {
        if self.in_flight.fetch_add(1, Ordering::Relaxed) >= QUEUE {
            self.in_flight.fetch_sub(1, Ordering::Relaxed);
            return;
        }
        let _ = self.tx.send(Msg::Served(dir));
    }

    /// Says that events were lost.
    pub(super) fn lost(&self) {
        let _ = self.tx.send(Msg::Lost);
    }

    pub(super) fn stop(&self) {
        let _ = self.tx.send(Msg::Stop);
    }
}

impl Receiver {
    /// The next message, waiting at most `wait` (`None`: as long as it takes).
    pub(super) fn next(&self, wait: Option<Duration>) -> Result<Msg, RecvTimeoutError> {
        let msg = match wait {
            Some(wait) => self.rx.recv_timeout(wait)?,
            None => self.rx.recv().map_err(|_| RecvTimeoutError::Disconnected)?,
        };
        Ok(self.counted(msg))
    }

    pub(super) fn try_next(&self) -> Option<Msg> {
        self.rx.try_recv().ok().map(|msg| self.counted(msg))
    }

    fn counted(&self, msg: Msg) -> Msg {
        if let Msg::Event(..) | Msg::Served(_) = msg {
            self.in_flight.fetch_sub(1, Ordering::Relaxed);
        }
        msg
    }
}
