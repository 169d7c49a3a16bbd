//! Reload only the tabs a change touches: a tab acts on a change to its own page or to a file it
//! loaded, and leaves the rest alone; `--reload-all` restores "every tab reloads".

use crate::pages::counted_page;
use crate::support::TestServer;
use crate::tab::Tab;

/// A page that counts its loads, shows `text` and loads `{name}.js` and `extra` in its head.
fn page(name: &str, text: &str, extra: &str) -> String {
    counted_page(&format!("<p>{text}</p>")).replace(
        "</head>",
        &format!("<script src=\"{name}.js\"></script>{extra}</head>"),
    )
}

/// Two pages, each with its own script, and one stylesheet and one JSON file used by A only.
fn two_pages(root: &std::path::Path) {
    let page = |name: &str, extra: &str| page(name, name, extra);
    std::fs::write(
        root.join("a.html"),
        page(
            "a",
            "<link rel=\"stylesheet\" href=\"shared.css\"><script>fetch('data.json')</script>",
        ),
    )
    .unwrap();
    std::fs::write(root.join("b.html"), page("b", "")).unwrap();
    std::fs::write(root.join("a.js"), "// a").unwrap();
    std::fs::write(root.join("b.js"), "// b").unwrap();
    std::fs::write(root.join("shared.css"), "p { color: rgb(1, 1, 1); }").unwrap();
    std::fs::write(root.join("data.json"), "{}").unwrap();
}

/// Waits until the tab's client has heard of the next batch and decided to leave it alone.
async fn ignores(tab: &Tab) {
    tab.armed().await;
}

pub async fn only_the_tab_whose_page_changed_reloads() {
    let s = TestServer::start_with(&[], two_pages).await;
    let Some(mut a) = Tab::open(&s, "/a.html").await else {
        return;
    };
    let Some(mut b) = Tab::open(&s, "/b.html").await else {
        return;
    };
    a.arm("devserve:ignored").await;
    s.write("b.html", page("b", "b2", ""));
    b.next_load().await;
    assert_eq!(b.text().await, "b2");
    ignores(&a).await;
    assert!(!a.loaded_since(), "a does not use b.html");
    // b's own script: b only, again.
    b.connected().await;
    a.arm("devserve:ignored").await;
    s.write("b.js", "// b2");
    b.next_load().await;
    ignores(&a).await;
    assert!(!a.loaded_since());
    let loads: String = a.eval("() => sessionStorage.loads").await;
    assert_eq!(loads, "1");
    a.close().await;
    b.close().await;
}

pub async fn a_json_file_reloads_only_the_tab_that_fetched_it() {
    let s = TestServer::start_with(&[], two_pages).await;
    let Some(mut a) = Tab::open(&s, "/a.html").await else {
        return;
    };
    let Some(mut b) = Tab::open(&s, "/b.html").await else {
        return;
    };
    // The fetch has been made once it is among the page's resource entries.
    let _: bool = a
        .eval(
            "async () => { while (!performance.getEntriesByType('resource').some(e => e.name.endsWith('/data.json'))) \
             await new Promise(r => setTimeout(r, 20)); return true; }",
        )
        .await;
    b.arm("devserve:ignored").await;
    s.write("data.json", "{\"v\":2}");
    a.next_load().await;
    ignores(&b).await;
    assert!(!b.loaded_since(), "b never fetched data.json");
    a.close().await;
    b.close().await;
}

pub async fn a_stylesheet_is_swapped_only_where_it_is_used() {
    let s = TestServer::start_with(&[], two_pages).await;
    let Some(mut a) = Tab::open(&s, "/a.html").await else {
        return;
    };
    let Some(mut b) = Tab::open(&s, "/b.html").await else {
        return;
    };
    a.arm("devserve:swapped").await;
    b.arm("devserve:ignored").await;
    s.write("shared.css", "p { color: rgb(2, 2, 2); }");
    a.armed().await;
    ignores(&b).await;
    let color: String = a
        .eval("() => getComputedStyle(document.querySelector('p')).color")
        .await;
    assert_eq!(color, "rgb(2, 2, 2)");
    assert!(!a.loaded_since() && !b.loaded_since(), "no navigation anywhere");
    let links: usize = b.eval("() => document.querySelectorAll('link').length").await;
    assert_eq!(links, 0, "nothing was added to b");
    a.close().await;
    b.close().await;
}

pub async fn reload_all_reloads_every_tab() {
    let s = TestServer::start_with(&["--reload-all"], |root| {
        two_pages(root);
        std::fs::write(root.join("c.html"), page("c", "c", "")).unwrap();
        std::fs::write(root.join("c.js"), "// c").unwrap();
    })
    .await;
    let Some(mut a) = Tab::open(&s, "/a.html").await else {
        return;
    };
    let Some(mut b) = Tab::open(&s, "/b.html").await else {
        return;
    };
    let Some(mut c) = Tab::open(&s, "/c.html").await else {
        return;
    };
    s.write("b.html", counted_page("<p>b2</p>"));
    a.next_load().await;
    b.next_load().await;
    c.next_load().await;
    assert_eq!(b.text().await, "b2");
    for tab in [a, b, c] {
        tab.close().await;
    }
}

pub async fn a_listing_reloads_when_its_folder_changes() {
    let s = TestServer::start_with(&[], |root| {
        std::fs::create_dir_all(root.join("docs")).unwrap();
        std::fs::create_dir_all(root.join("other")).unwrap();
    })
    .await;
    let Some(mut tab) = Tab::open(&s, "/docs/").await else {
        return;
    };
    assert!(tab.text().await.contains("Index of /docs/"));
    tab.arm("devserve:ignored").await;
    s.write("other/x.txt", "elsewhere");
    ignores(&tab).await;
    assert!(!tab.loaded_since());
    s.write("docs/new.txt", "here");
    tab.next_load().await;
    assert!(tab.text().await.contains("new.txt"));
    tab.close().await;
}

/// Three tabs on three pages: a stylesheet used by A and C is swapped in A and C and B is left
/// alone; a file no page uses (NOTES.md) reloads nothing; saving page B reloads B only.
pub async fn three_tabs_each_act_only_on_their_own_files() {
    let s = TestServer::start_with(&[], |root| {
        let with_css = |name: &str| page(name, name, "<link rel=\"stylesheet\" href=\"shared.css\">");
        std::fs::write(root.join("a.html"), with_css("a")).unwrap();
        std::fs::write(root.join("b.html"), page("b", "b", "")).unwrap();
        std::fs::write(root.join("c.html"), with_css("c")).unwrap();
        for name in ["a", "b", "c"] {
            std::fs::write(root.join(format!("{name}.js")), "// js").unwrap();
        }
        std::fs::write(root.join("shared.css"), "p { color: rgb(1, 1, 1); }").unwrap();
        std::fs::write(root.join("NOTES.md"), "notes").unwrap();
    })
    .await;
    let Some(mut a) = Tab::open(&s, "/a.html").await else {
        return;
    };
    let Some(mut b) = Tab::open(&s, "/b.html").await else {
        return;
    };
    let Some(mut c) = Tab::open(&s, "/c.html").await else {
        return;
    };
    for tab in [&a, &b, &c] {
        tab.arm("devserve:ignored").await;
    }
    s.write("NOTES.md", "more notes");
    for tab in [&a, &b, &c] {
        ignores(tab).await;
    }
    a.arm("devserve:swapped").await;
    c.arm("devserve:swapped").await;
    b.arm("devserve:ignored").await;
    s.write("shared.css", "p { color: rgb(3, 3, 3); }");
    a.armed().await;
    c.armed().await;
    ignores(&b).await;
    for tab in [&a, &c] {
        let color: String = tab
            .eval("() => getComputedStyle(document.querySelector('p')).color")
            .await;
        assert_eq!(color, "rgb(3, 3, 3)");
    }
    assert!(
        !a.loaded_since() && !b.loaded_since() && !c.loaded_since(),
        "no navigation anywhere"
    );
    a.arm("devserve:ignored").await;
    c.arm("devserve:ignored").await;
    s.write("b.html", page("b", "b2", ""));
    b.next_load().await;
    assert_eq!(b.text().await, "b2");
    ignores(&a).await;
    ignores(&c).await;
    assert!(
        !a.loaded_since() && !c.loaded_since(),
        "saving page B reloads B only"
    );
    for tab in [a, b, c] {
        tab.close().await;
    }
}

/// An image is swapped in place where it is shown — `<img>`, `srcset`, a CSS background — and
/// the tab does not reload.
pub async fn an_image_is_swapped_in_place() {
    let png = |shade: u8| -> Vec<u8> {
        // A 1×1 PNG of one grey.
        let raw = [0u8, shade, shade, shade];
        let z = tiny_png::zlib(&raw);
        let mut out = b"\x89PNG\r\n\x1a\n".to_vec();
        tiny_png::chunk(&mut out, b"IHDR", &[0, 0, 0, 1, 0, 0, 0, 1, 8, 2, 0, 0, 0]);
        tiny_png::chunk(&mut out, b"IDAT", &z);
        tiny_png::chunk(&mut out, b"IEND", &[]);
        out
    };
    let s = TestServer::start_with(&[], |root| {
        std::fs::write(root.join("dot.png"), png(10)).unwrap();
        let html = counted_page(
            "<img id=\"i\" src=\"dot.png\"><img id=\"s\" srcset=\"dot.png 1x\"><div id=\"bg\" style=\"width:5px;height:5px\"></div>",
        )
        .replace("</head>", "<style>#bg { background-image: url(dot.png); }</style></head>");
        std::fs::write(root.join("index.html"), html).unwrap();
    })
    .await;
    let Some(tab) = Tab::open(&s, "/").await else {
        return;
    };
    tab.arm("devserve:swapped").await;
    s.write("dot.png", png(200));
    tab.armed().await;
    let srcs: String = tab
        .eval(
            "() => [document.getElementById('i').src, document.getElementById('s').getAttribute('srcset'), \
             document.getElementById('bg').style.backgroundImage].join(' | ')",
        )
        .await;
    assert_eq!(srcs.matches("__devserve=").count(), 3, "{srcs}");
    let mut tab = tab;
    assert!(!tab.loaded_since(), "swapped, not reloaded");
    tab.close().await;
}

/// A hidden tab keeps the reload it was told of and acts when it is shown, not before.
pub async fn a_hidden_tab_reloads_when_shown_not_before() {
    let s = TestServer::start_with(&[], two_pages).await;
    let Some(mut b) = Tab::open(&s, "/b.html").await else {
        return;
    };
    let _: bool = b
        .eval(
            "() => { window.__hidden = true; Object.defineProperty(document, 'hidden', { configurable: true, get: () => window.__hidden }); \
             return true; }",
        )
        .await;
    b.arm("devserve:deferred").await;
    s.write("b.html", page("b", "b2", ""));
    b.armed().await;
    assert!(!b.loaded_since(), "not while hidden");
    let _: bool = b
        .eval("() => { window.__hidden = false; document.dispatchEvent(new Event('visibilitychange')); return true; }")
        .await;
    b.next_load().await;
    assert_eq!(b.text().await, "b2");
    b.close().await;
}

/// The bytes of a tiny PNG, made by hand (stored deflate blocks, CRCs) so the test needs no
/// image crate.
mod tiny_png {
    fn crc32(bytes: &[u8]) -> u32 {
        let mut crc = 0xFFFF_FFFFu32;
        for &b in bytes {
            crc ^= u32::from(b);
            for _ in 0..8 {
                crc = if crc & 1 != 0 {
                    0xEDB8_8320 ^ (crc >> 1)
                } else {
                    crc >> 1
                };
            }
        }
        !crc
    }

    fn adler32(bytes: &[u8]) -> u32 {
        let (mut a, mut b) = (1u32, 0u32);
        for &x in bytes {
            a = (a + u32::from(x)) % 65521;
            b = (b + a) % 65521;
        }
        (b << 16) | a
    }

    /// `data` as a zlib stream of one stored block.
    pub fn zlib(data: &[u8]) -> Vec<u8> {
        let len = data.len() as u16;
        let mut out = vec![0x78, 0x01, 0x01];
        out.extend_from_slice(&len.to_le_bytes());
        out.extend_from_slice(&(!len).to_le_bytes());
        out.extend_from_slice(data);
        out.extend_from_slice(&adler32(data).to_be_bytes());
        out
    }

    pub fn chunk(out: &mut Vec<u8>, kind: &[u8; 4], data: &[u8]) {
        out.extend_from_slice(&(data.len() as u32).to_be_bytes());
        let start = out.len();
        out.extend_from_slice(kind);
        out.extend_from_slice(data);
        let crc = crc32(&out[start..]);
        out.extend_from_slice(&crc.to_be_bytes());
    }
}
