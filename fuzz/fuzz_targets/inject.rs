//! Injection keeps every byte of the page and adds exactly one tag (in the page's encoding), or
//! leaves the page as it is; it never panics.
#![no_main]

use libfuzzer_sys::fuzz_target;

const TAG: &[u8] = b"<script src=\"/__devserve/client.js\" data-token=\"t\" defer></script>";

fuzz_target!(|page: &[u8]| {
    let out = devserve::fuzzing::inject(page, TAG);
    if out == page {
        return;
    }
    let tag = devserve::fuzzing::tag_for(page, TAG);
    assert_eq!(out.len(), page.len() + tag.len());
    let at = (0..=out.len() - tag.len())
        .find(|&i| out[i..].starts_with(&tag))
        .expect("the tag is in the output");
    let mut back = out[..at].to_vec();
    back.extend_from_slice(&out[at + tag.len()..]);
    assert_eq!(back, page);
});
