//! No URL path, however encoded, yields segments that leave ROOT or name a hidden file.
#![no_main]

use std::path::{Component, Path};

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(url) = std::str::from_utf8(data) else { return };
    if let Some(segments) = devserve::fuzzing::url_to_segments(url) {
        let root = Path::new("/srv/root");
        let mut joined = root.to_path_buf();
        joined.extend(&segments);
        assert!(joined.starts_with(root), "{url:?} → {joined:?}");
        assert!(joined
            .components()
            .all(|c| !matches!(c, Component::ParentDir | Component::CurDir)));
        assert!(devserve::fuzzing::contained(root, &joined), "{url:?} → {joined:?}");
    }
});
