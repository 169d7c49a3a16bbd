//! The finishing touches of a write already announced: many writers set a file's times or mode
//! after closing it — sass gives its output the source's mtime, `cp -p`, `rsync -t` and `tar x`
//! copy the original's — and that attribute change, arriving after the batch went out (on a
//! busy machine the writer may pause 70 ms between its close and its `utimensat`), is not a
//! second save: it would reload the tab, or swap the stylesheet, a second time for one build.
//!
//! Only an attribute change is dropped, only for a file the last batch named, and only within
//! [`AFTERMATH`] of that batch. New content always raises a write event of its own, and a
//! `touch` made to force a reload works as before once the window has passed. A file cache hit
//! checks the file's stat, so nothing served depends on the dropped event.

use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use notify::event::{EventKind, ModifyKind};

/// How long after a batch an attribute change to a file it named still belongs to it.
const AFTERMATH: Duration = Duration::from_millis(250);

/// The files the last batch named, and when it went out.
#[derive(Debug, Default)]
pub(super) struct Aftermath {
    paths: HashSet<PathBuf>,
    sent: Option<Instant>,
}

impl Aftermath {
    /// A batch naming `paths` went out at `now`.
    pub(super) fn sent(&mut self, paths: impl IntoIterator<Item = PathBuf>, now: Instant) {
        self.paths.clear();
        self.paths.extend(paths);
        self.sent = Some(now);
    }

    /// True when the event is an attribute change finishing a write the last batch announced.
    pub(super) fn covers(&self, kind: &EventKind, path: &Path, now: Instant) -> bool {
        matches!(kind, EventKind::Modify(ModifyKind::Metadata(_)))
            && self
                .sent
                .is_some_and(|sent| now.saturating_duration_since(sent) < AFTERMATH)
            && self.paths.contains(path)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use notify::event::{DataChange, MetadataKind};

    #[test]
    fn an_attribute_change_right_after_the_batch_that_named_the_file_is_part_of_it() {
        let (css, other) = (Path::new("/r/css/style.css"), Path::new("/r/index.html"));
        let attrib = EventKind::Modify(ModifyKind::Metadata(MetadataKind::Any));
        let data = EventKind::Modify(ModifyKind::Data(DataChange::Any));
        let t0 = Instant::now();
        let mut after = Aftermath::default();
        assert!(!after.covers(&attrib, css, t0), "no batch went out yet");
        after.sent([css.to_path_buf()], t0);
        let soon = t0 + Duration::from_millis(70);
        assert!(
            after.covers(&attrib, css, soon),
            "sass's utimensat after its close"
        );
        assert!(!after.covers(&data, css, soon), "new content is a new save");
        assert!(
            !after.covers(&attrib, other, soon),
            "a file the batch did not name"
        );
        assert!(
            !after.covers(&attrib, css, t0 + AFTERMATH),
            "a touch once the window has passed reloads"
        );
        after.sent([other.to_path_buf()], soon);
        assert!(!after.covers(&attrib, css, soon), "only the last batch counts");
    }
}
