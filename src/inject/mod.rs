//! Adding the client's `<script>` tag to an HTML page, byte-exact.
//!
//! [`inject`] works on bytes, not strings, so a page in any encoding (Latin-1, Shift-JIS, UTF-16
//! aside) comes out unchanged but for the one tag. [`ClientTag`] makes the tag for this run;
//! [`body`] reads, decodes and injects a whole response from a backend.

pub(crate) mod body;

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use axum::http::{header, HeaderMap};

use crate::reload::protocol::{CLIENT_JS_PATH, WS_PATH};

/// What the injected tag carries in this run: the reload socket's token, and the counter of
/// batches sent so far (the hub's), read for each page as `data-seq`.
#[derive(Clone)]
pub(crate) struct ClientTag {
    token: Arc<str>,
    seq: Arc<AtomicU64>,
}

impl ClientTag {
    pub(crate) fn new(token: Arc<str>, seq: Arc<AtomicU64>) -> Self {
        ClientTag { token, seq }
    }

    /// The last batch sent: what a page read now reflects.
    pub(crate) fn seq(&self) -> u64 {
        self.seq.load(Ordering::Relaxed)
    }

    pub(crate) fn token(&self) -> &str {
        &self.token
    }

    /// The tag for a page that reflects batch `seq`; `file` is the URL path of the file the page
    /// was read from, when it is one (`/index.html` for `/`, or for any path with `--spa`).
    pub(crate) fn tag(&self, seq: u64, file: Option<&str>, nonce: Option<&str>) -> Vec<u8> {
        script_tag(&self.token, seq, file, nonce)
    }
}

/// The tag added to every page: an external script, so `script-src 'self'` pages still reload.
/// `seq` is the last batch the page already reflects: a client that connects later and hears of a
/// newer one knows it missed a change while loading.
pub(crate) fn script_tag(token: &str, seq: u64, file: Option<&str>, nonce: Option<&str>) -> Vec<u8> {
    let mut tag = format!(
        r#"<script src="{CLIENT_JS_PATH}" data-token="{token}" data-seq="{seq}" data-ws="{WS_PATH}""#
    );
    if let Some(file) = file {
        // A percent-encoded URL path: only `&` could be read as markup in an attribute.
        tag.push_str(&format!(r#" data-page="{}""#, file.replace('&', "&amp;")));
    }
    if let Some(nonce) = nonce {
        // A nonce is base64 by the CSP grammar; anything else is dropped rather than escaped.
        if nonce
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"+/=-_".contains(&b))
        {
            tag.push_str(&format!(r#" nonce="{nonce}""#));
        }
    }
    tag.push_str(" defer></script>");
    tag.into_bytes()
}

/// The tag as XML wants it, for an XHTML page: `defer="defer"`.
pub(crate) fn as_xml(tag: Vec<u8>) -> Vec<u8> {
    let text = String::from_utf8_lossy(&tag).replace(" defer>", " defer=\"defer\">");
    text.into_bytes()
}

/// Returns `html` with `tag` inserted before the last `</head>`, else before the last `</body>`,
/// else at the end. A page that already carries the client is returned unchanged.
///
/// A page in UTF-16 (a byte-order mark, or the zero bytes ASCII text has in it) gets the tag in
/// UTF-16 of its byte order, so the page stays readable; an odd-length one is left as it is.
pub(crate) fn inject(html: &[u8], tag: &[u8]) -> Vec<u8> {
    let Some(order) = utf16_order(html) else {
        if already_injected(html) {
            return html.to_vec();
        }
        let at = rfind_ci(html, b"</head>")
            .or_else(|| rfind_ci(html, b"</body>"))
            .unwrap_or(html.len());
        return spliced(html, at, tag);
    };
    inject_utf16(html, tag, order)
}

/// [`inject`] for a page whose `Content-Type` declares `charset`: UTF-16 by its label (the byte
/// order the label names, or a byte-order mark's, as browsers read it), so a page without a
/// byte-order mark whose text does not begin in ASCII is still written to in its own encoding;
/// `None` for an encoding that is not ASCII-compatible and that devserve does not write
/// (UTF-32, the ISO-2022 and HZ families browsers refuse): such a page is passed on as it is.
pub(crate) fn inject_declared(html: &[u8], tag: &[u8], charset: Option<&str>) -> Option<Vec<u8>> {
    let Some(label) = charset.map(|c| c.trim().trim_matches('"').to_ascii_lowercase()) else {
        return Some(inject(html, tag));
    };
    // A byte-order mark wins over the label, as browsers read it.
    match html {
        [0xEF, 0xBB, 0xBF, ..] => return Some(inject(html, tag)),
        [0xFF, 0xFE, ..] => return Some(inject_utf16(html, tag, Order::Little)),
        [0xFE, 0xFF, ..] => return Some(inject_utf16(html, tag, Order::Big)),
        _ => {}
    }
    match label.as_str() {
        "utf-16be" | "unicodefffe" => Some(inject_utf16(html, tag, Order::Big)),
        "utf-16" | "utf-16le" | "unicode" | "unicodefeff" | "ucs-2" | "csunicode" | "iso-10646-ucs-2" => {
            Some(inject_utf16(html, tag, Order::Little))
        }
        "utf-32" | "utf-32le" | "utf-32be" | "ucs-4" | "iso-2022-kr" | "csiso2022kr" | "iso-2022-cn"
        | "iso-2022-cn-ext" | "hz-gb-2312" | "replacement" => None,
        _ => Some(inject(html, tag)),
    }
}

/// [`inject`] into a page in UTF-16 of `order`.
fn inject_utf16(html: &[u8], tag: &[u8], order: Order) -> Vec<u8> {
    if html.len() % 2 != 0 {
        tracing::debug!("a UTF-16 page of odd length is served without the client");
        return html.to_vec();
    }
    let wide = |ascii: &[u8]| encode_utf16(ascii, order);
    if find_aligned(html, &wide(format!(r#"src="{CLIENT_JS_PATH}""#).as_bytes())).is_some() {
        return html.to_vec();
    }
    let at = rfind_ci_utf16(html, b"</head>", order)
        .or_else(|| rfind_ci_utf16(html, b"</body>", order))
        .unwrap_or(html.len());
    spliced(html, at, &wide(tag))
}

/// `html` with `tag` inserted at byte `at`.
fn spliced(html: &[u8], at: usize, tag: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(html.len() + tag.len());
    out.extend_from_slice(&html[..at]);
    out.extend_from_slice(tag);
    out.extend_from_slice(&html[at..]);
    out
}

/// The byte order of UTF-16.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Order {
    Little,
    Big,
}

/// The byte order when `html` is UTF-16: by its byte-order mark, or, without one, by the zero
/// bytes that the ASCII of markup has in UTF-16 (`<\0h\0` is little-endian).
pub(crate) fn utf16_order(html: &[u8]) -> Option<Order> {
    match html {
        [0xFF, 0xFE, ..] => return Some(Order::Little),
        [0xFE, 0xFF, ..] => return Some(Order::Big),
        _ => {}
    }
    let head = &html[..html.len().min(128) & !1];
    if head.len() < 8 {
        return None;
    }
    let pairs = head.len() / 2;
    let zero_odd = head.chunks(2).filter(|p| p[1] == 0 && p[0] != 0).count();
    let zero_even = head.chunks(2).filter(|p| p[0] == 0 && p[1] != 0).count();
    if zero_odd * 10 >= pairs * 9 {
        Some(Order::Little)
    } else if zero_even * 10 >= pairs * 9 {
        Some(Order::Big)
    } else {
        None
    }
}

/// ASCII text as UTF-16 in `order`.
fn encode_utf16(ascii: &[u8], order: Order) -> Vec<u8> {
    ascii
        .iter()
        .flat_map(|&b| match order {
            Order::Little => [b, 0],
            Order::Big => [0, b],
        })
        .collect()
}

/// The first occurrence of `needle` at an even offset.
fn find_aligned(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    if needle.len() > haystack.len() {
        return None;
    }
    (0..=haystack.len() - needle.len())
        .step_by(2)
        .find(|&i| &haystack[i..i + needle.len()] == needle)
}

/// The last occurrence, at an even offset, of ASCII `needle` in UTF-16, ignoring ASCII case.
fn rfind_ci_utf16(haystack: &[u8], needle: &[u8], order: Order) -> Option<usize> {
    let len = needle.len() * 2;
    if len > haystack.len() {
        return None;
    }
    (0..=haystack.len() - len)
        .rev()
        .step_by(1)
        .filter(|i| i % 2 == 0)
        .find(|&i| {
            needle.iter().enumerate().all(|(k, &want)| {
                let (lo, hi) = (haystack[i + 2 * k], haystack[i + 2 * k + 1]);
                let (unit_low, unit_high) = match order {
                    Order::Little => (lo, hi),
                    Order::Big => (hi, lo),
                };
                unit_high == 0 && unit_low.eq_ignore_ascii_case(&want)
            })
        })
}

/// True when the page already loads the client (a page served by another devserve, say).
pub(crate) fn already_injected(html: &[u8]) -> bool {
    let needle = format!(r#"src="{CLIENT_JS_PATH}""#);
    find(html, needle.as_bytes()).is_some()
}

/// True when a response's `Content-Type` is HTML (`text/html`, with or without parameters).
pub(crate) fn is_html(headers: &HeaderMap) -> bool {
    // On the bytes: asked of every proxied answer, and a check of the whole value as text
    // costs more than the comparison.
    headers.get(header::CONTENT_TYPE).is_some_and(|v| {
        let bytes = v.as_bytes();
        let essence = bytes.split(|&b| b == b';').next().unwrap_or_default();
        essence.trim_ascii().eq_ignore_ascii_case(b"text/html")
    })
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

fn rfind_ci(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    if needle.len() > haystack.len() {
        return None;
    }
    (0..=haystack.len() - needle.len())
        .rev()
        .find(|&i| haystack[i..i + needle.len()].eq_ignore_ascii_case(needle))
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const TAG: &[u8] = b"<script src=\"/__devserve/client.js\" data-token=\"t\" defer></script>";

    #[test]
    fn goes_before_the_last_head_close() {
        let out = inject(b"<html><head><title>x</title></head><body>hi</body></html>", TAG);
        let want = [
            &b"<html><head><title>x</title>"[..],
            TAG,
            b"</head><body>hi</body></html>",
        ]
        .concat();
        assert_eq!(out, want);
    }

    #[test]
    fn head_close_is_matched_case_insensitively() {
        let out = inject(b"<HEAD></HEAD><BODY></BODY>", TAG);
        assert_eq!(out, [&b"<HEAD>"[..], TAG, b"</HEAD><BODY></BODY>"].concat());
    }

    #[test]
    fn falls_back_to_body_then_to_the_end() {
        assert_eq!(
            inject(b"<p>a</p></body>", TAG),
            [&b"<p>a</p>"[..], TAG, b"</body>"].concat()
        );
        assert_eq!(inject(b"<p>fragment", TAG), [&b"<p>fragment"[..], TAG].concat());
        assert_eq!(inject(b"", TAG), TAG.to_vec());
    }

    #[test]
    fn never_injects_twice() {
        let once = inject(b"<head></head>", TAG);
        assert_eq!(inject(&once, TAG), once);
    }

    #[test]
    fn latin1_bytes_are_kept() {
        let page = b"<head><meta charset=\"iso-8859-1\"></head><p>caf\xe9 \xa9</p>";
        let out = inject(page, TAG);
        assert!(out.windows(8).any(|w| w == b"caf\xe9 \xa9</"));
        assert_eq!(out.len(), page.len() + TAG.len());
    }

    #[test]
    fn the_file_a_page_came_from_is_named_in_the_tag() {
        let tag = String::from_utf8(script_tag("tok", 3, Some("/a&b/index.html"), None)).unwrap();
        assert!(tag.contains(r#" data-page="/a&amp;b/index.html""#), "{tag}");
        assert!(
            tag.contains(r#" data-seq="3""#) && tag.ends_with(" defer></script>"),
            "{tag}"
        );
    }

    #[test]
    fn the_tag_for_xhtml_is_well_formed_xml() {
        let tag = String::from_utf8(as_xml(script_tag("t", 1, None, None))).unwrap();
        assert!(tag.ends_with(r#" defer="defer"></script>"#), "{tag}");
    }

    #[test]
    fn nonce_is_copied_only_when_well_formed() {
        let tag = String::from_utf8(script_tag("tok", 0, None, Some("abc123=="))).unwrap();
        assert!(tag.contains(r#"nonce="abc123==""#));
        let tag = String::from_utf8(script_tag("tok", 0, None, Some("\"><img"))).unwrap();
        assert!(!tag.contains("nonce"));
    }

    #[test]
    fn html_content_types() {
        let mut h = HeaderMap::new();
        h.insert(header::CONTENT_TYPE, "Text/HTML; charset=utf-8".parse().unwrap());
        assert!(is_html(&h));
        h.insert(header::CONTENT_TYPE, "text/htmlx".parse().unwrap());
        assert!(!is_html(&h));
        h.insert(header::CONTENT_TYPE, " text/html ;charset=utf-8".parse().unwrap());
        assert!(is_html(&h), "spaces around the essence");
        h.insert(header::CONTENT_TYPE, "application/json".parse().unwrap());
        assert!(!is_html(&h));
        h.insert(
            header::CONTENT_TYPE,
            header::HeaderValue::from_bytes(b"text/html; charset=\xe9").unwrap(),
        );
        assert!(is_html(&h), "a parameter that is not ASCII");
    }

    /// A page declared UTF-16 by its `Content-Type`, without a byte-order mark, whose text does
    /// not begin in ASCII (the zero-byte guess cannot see it): written to in UTF-16 of the order
    /// the label names. A page declared in an encoding devserve does not write is left alone.
    #[test]
    fn a_page_declared_utf16_gets_the_tag_in_utf16_without_a_bom() {
        let page =
            "日本語のページ、長いタイトルがここにあります。<html><head></head><body>本文</body></html>";
        let want = page.replace("</head>", &format!("{}</head>", String::from_utf8_lossy(TAG)));
        let le = |t: &str| t.encode_utf16().flat_map(u16::to_le_bytes).collect::<Vec<u8>>();
        let be = |t: &str| t.encode_utf16().flat_map(u16::to_be_bytes).collect::<Vec<u8>>();
        assert_eq!(utf16_order(&le(page)), None, "the guess alone cannot tell");
        assert_eq!(inject_declared(&le(page), TAG, Some("UTF-16LE")), Some(le(&want)));
        assert_eq!(
            inject_declared(&le(page), TAG, Some("\"utf-16\"")),
            Some(le(&want))
        );
        assert_eq!(inject_declared(&be(page), TAG, Some("utf-16be")), Some(be(&want)));
        assert_eq!(inject_declared(&le(page), TAG, Some("utf-32")), None);
        assert_eq!(inject_declared(&le(page), TAG, Some("iso-2022-kr")), None);
        // A byte-order mark wins over the label.
        let utf8 = [&[0xEF, 0xBB, 0xBF][..], page.as_bytes()].concat();
        assert_eq!(
            inject_declared(&utf8, TAG, Some("utf-16")),
            Some(inject(&utf8, TAG))
        );
        let bom_le = [&[0xFF, 0xFE][..], &le(page)].concat();
        let want_le = [&[0xFF, 0xFE][..], &le(&want)].concat();
        assert_eq!(inject_declared(&bom_le, TAG, Some("utf-32")), Some(want_le));
        let ascii = b"<html><head></head></html>";
        assert_eq!(
            inject_declared(ascii, TAG, Some("windows-1252")),
            Some(inject(ascii, TAG))
        );
        assert_eq!(inject_declared(ascii, TAG, None), Some(inject(ascii, TAG)));
    }

    #[test]
    fn a_utf16_page_gets_the_tag_in_utf16() {
        let page = "<html><head><title>é</title></head><body>x</body></html>";
        for (order, bom) in [(Order::Little, [0xFF, 0xFE]), (Order::Big, [0xFE, 0xFF])] {
            let units: Vec<u16> = page.encode_utf16().collect();
            let encode = |units: &[u16]| -> Vec<u8> {
                units
                    .iter()
                    .flat_map(|u| match order {
                        Order::Little => u.to_le_bytes(),
                        Order::Big => u.to_be_bytes(),
                    })
                    .collect()
            };
            for with_bom in [true, false] {
                let mut bytes = if with_bom { bom.to_vec() } else { Vec::new() };
                bytes.extend(encode(&units));
                assert_eq!(utf16_order(&bytes), Some(order));
                let out = inject(&bytes, TAG);
                let want = page.replace("</head>", &format!("{}</head>", String::from_utf8_lossy(TAG)));
                let mut expected = if with_bom { bom.to_vec() } else { Vec::new() };
                expected.extend(encode(&want.encode_utf16().collect::<Vec<_>>()));
                assert_eq!(out, expected, "{order:?}, BOM {with_bom}");
                assert_eq!(inject(&out, TAG), out, "never twice");
            }
        }
        assert_eq!(utf16_order(b"<html><head></head></html>"), None);
        let odd = [0xFF, 0xFE, b'<', 0, b'p'];
        assert_eq!(inject(&odd, TAG), odd.to_vec(), "left as it is");
    }

    proptest! {
        /// Output is the input plus exactly one tag: removing the tag at its position gives the
        /// input back, byte for byte.
        #[test]
        fn output_is_input_plus_one_tag(page in proptest::collection::vec(any::<u8>(), 0..400),
                                        head in any::<bool>(), body in any::<bool>()) {
            let mut page = page;
            if head { page.extend_from_slice(b"</head>"); }
            if body { page.extend_from_slice(b"<p></body>"); }
            prop_assume!(!already_injected(&page));
            prop_assume!(utf16_order(&page).is_none());
            let out = inject(&page, TAG);
            prop_assert_eq!(out.len(), page.len() + TAG.len());
            let at = find(&out, TAG).unwrap();
            let mut back = out[..at].to_vec();
            back.extend_from_slice(&out[at + TAG.len()..]);
            prop_assert_eq!(back, page.clone());
            prop_assert!(out[at + TAG.len()..].windows(TAG.len()).all(|w| w != TAG));
        }

        /// Whatever the bytes — UTF-16 or not — the page comes back with every byte kept and one
        /// tag added in its encoding, or untouched.
        #[test]
        fn every_byte_is_kept_and_one_tag_added_or_none(page in proptest::collection::vec(any::<u8>(), 0..300),
                                                        wide in any::<bool>()) {
            let page: Vec<u8> = if wide { page.iter().flat_map(|&b| [b & 0x7f, 0]).collect() } else { page };
            let out = inject(&page, TAG);
            let tag = match utf16_order(&page) {
                Some(order) => encode_utf16(TAG, order),
                None => TAG.to_vec(),
            };
            if out != page {
                prop_assert_eq!(out.len(), page.len() + tag.len());
                let at = (0..=out.len() - tag.len()).find(|&i| out[i..].starts_with(&tag)).unwrap();
                let mut back = out[..at].to_vec();
                back.extend_from_slice(&out[at + tag.len()..]);
                prop_assert_eq!(back, page);
            }
        }
    }
}
