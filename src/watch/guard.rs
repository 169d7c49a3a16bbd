//! The loop guard: a build that writes into the served folder on every reload would reload the
//! tabs forever; the guard notices the pattern and holds batches to two a second while it lasts.

use std::time::{Duration, Instant};

/// A batch whose first change comes this soon after the previous batch went out, naming a file
/// that batch named too, looks like a build writing into the served folder on every reload.
const LOOP_GAP: Duration = Duration::from_millis(250);
/// That many such batches in a row and the loop guard steps in.
const LOOP_STREAK: u32 = 10;
/// While it does, batches go out at most this often.
const LOOP_INTERVAL: Duration = Duration::from_millis(500);

/// Notices a file that changes again right after every batch, as when a build writes into the
/// served folder on every reload, and holds batches to one per [`LOOP_INTERVAL`] while it lasts.
#[derive(Debug, Default)]
pub(super) struct LoopGuard {
    last_paths: Vec<String>,
    last_sent: Option<Instant>,
    streak: u32,
    limiting: bool,
}

impl LoopGuard {
    /// The earliest a batch may go out now.
    pub(super) fn earliest(&self) -> Option<Instant> {
        self.last_sent
            .filter(|_| self.limiting)
            .map(|t| t + LOOP_INTERVAL)
    }

    /// Records a batch sent at `now` whose first change came at `first`; returns the culprit the
    /// first time the guard steps in.
    pub(super) fn sent(&mut self, paths: &[String], first: Instant, now: Instant) -> Option<String> {
        let quick = self
            .last_sent
            .is_some_and(|t| first.saturating_duration_since(t) < LOOP_GAP);
        let again = paths.iter().find(|p| self.last_paths.contains(p)).cloned();
        let mut culprit = None;
        match again {
            Some(path) if quick => {
                self.streak += 1;
                if self.streak >= LOOP_STREAK && !self.limiting {
                    self.limiting = true;
                    culprit = Some(path);
                }
            }
            _ => {
                if self.limiting {
                    tracing::info!("the repeated changes stopped; reloading at full speed again");
                }
                self.streak = 0;
                self.limiting = false;
            }
        }
        self.last_paths = paths.to_vec();
        self.last_sent = Some(now);
        culprit
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn loop_guard_steps_in_after_a_streak_and_steps_out_after_a_pause() {
        let mut guard = LoopGuard::default();
        let t0 = Instant::now();
        let paths = vec!["/out.js".to_string()];
        let ms = |n: u64| t0 + Duration::from_millis(n);
        let mut culprit = None;
        for i in 0..=LOOP_STREAK as u64 {
            // Each batch's first change comes 50 ms after the previous batch went out.
            culprit = culprit.or(guard.sent(&paths, ms(i * 100 + 50), ms(i * 100 + 60)));
        }
        assert_eq!(culprit.as_deref(), Some("/out.js"));
        assert!(guard.earliest().is_some());
        // A change long after: a person saving, not a loop.
        assert_eq!(guard.sent(&paths, ms(60_000), ms(60_010)), None);
        assert!(guard.earliest().is_none());
    }

    #[test]
    fn loop_guard_leaves_a_person_saving_often_alone() {
        let mut guard = LoopGuard::default();
        let t0 = Instant::now();
        let paths = vec!["/index.html".to_string()];
        for i in 0..20u64 {
            let at = t0 + Duration::from_millis(i * 1500);
            assert_eq!(guard.sent(&paths, at, at + Duration::from_millis(12)), None);
        }
        assert!(guard.earliest().is_none());
    }
}
