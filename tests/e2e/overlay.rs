//! Errors in the page: the overlay a build tool's `error` shows, and a build that drives the
//! reload with `building` and `ok`.

use crate::pages::counted_page;
use crate::support::{client, TestServer};
use crate::tab::Tab;

async fn status(s: &TestServer, body: &str) {
    let r = client()
        .post(s.url("/__devserve/status"))
        .header("content-type", "application/json")
        .body(body.to_string())
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 204, "{body}");
}

/// What the overlay shows, read through its shadow root ("" when there is none).
const OVERLAY_TEXT: &str = "() => { const o = document.querySelector('devserve-overlay'); \
    return o && o.shadowRoot ? o.shadowRoot.querySelector('.box').innerText : ''; }";

/// Also: Esc and a click outside close it; a source's `ok` clears its own error and shows the rest.
pub async fn an_error_is_shown_over_the_page_as_text_and_goes_with_esc_or_clear() {
    // A page whose CSS would restyle any div and anything at all.
    let s = TestServer::start_with(&[], |root| {
        let page = counted_page("<p>app</p>").replace(
            "</head>",
            "<style>* { color: rgb(0, 255, 0) !important; font-size: 40px !important; } div { display: none !important; }</style></head>",
        );
        std::fs::write(root.join("index.html"), page).unwrap();
    })
    .await;
    let Some(tab) = Tab::open(&s, "/").await else {
        return;
    };
    tab.arm("devserve:error").await;
    status(
        &s,
        r#"{"source":"esbuild","state":"error","title":"Build failed","text":"\u001b[31msrc/app.js:3:7\u001b[0m: <img src=x onerror=alert(1)> unexpected"}"#,
    )
    .await;
    tab.armed().await;
    let text: String = tab.eval(OVERLAY_TEXT).await;
    assert!(
        text.contains("Build failed") && text.contains("esbuild"),
        "{text}"
    );
    assert!(
        text.contains("src/app.js:3:7: <img src=x onerror=alert(1)> unexpected"),
        "shown as text: {text}"
    );
    let injected: bool = tab
        .eval("() => !!document.querySelector('devserve-overlay').shadowRoot.querySelector('img')")
        .await;
    assert!(!injected, "never HTML from the message");
    let red: String = tab
        .eval("() => getComputedStyle(document.querySelector('devserve-overlay').shadowRoot.querySelector('pre span')).color")
        .await;
    assert_eq!(
        red, "rgb(255, 107, 107)",
        "ANSI red is a colour, not escape codes"
    );
    let styled: String = tab
        .eval(
            "() => { const h = document.querySelector('devserve-overlay').shadowRoot.querySelector('h2'); \
               return getComputedStyle(h).color + ' ' + getComputedStyle(h).display; }",
        )
        .await;
    assert_eq!(
        styled, "rgb(255, 135, 135) block",
        "the page's CSS does not reach it"
    );
    // Esc closes it.
    let _: bool = tab
        .eval("() => { window.dispatchEvent(new KeyboardEvent('keydown', { key: 'Escape' })); return true; }")
        .await;
    assert_eq!(tab.eval::<String>(OVERLAY_TEXT).await, "");
    // A second source stacks; `ok` clears its own.
    tab.arm("devserve:error").await;
    status(
        &s,
        r#"{"source":"tsc","state":"error","text":"a.ts(1,5): error TS2322"}"#,
    )
    .await;
    tab.armed().await;
    let text: String = tab.eval(OVERLAY_TEXT).await;
    assert!(
        text.contains("esbuild") && text.contains("tsc failed") && text.contains("TS2322"),
        "{text}"
    );
    // A click inside the box leaves it open; a click on the backdrop around it closes it.
    let _: bool = tab
        .eval("() => { document.querySelector('devserve-overlay').shadowRoot.querySelector('.box').click(); return true; }")
        .await;
    assert!(tab.eval::<String>(OVERLAY_TEXT).await.contains("TS2322"));
    let _: bool = tab
        .eval("() => { document.querySelector('devserve-overlay').click(); return true; }")
        .await;
    assert_eq!(
        tab.eval::<String>(OVERLAY_TEXT).await,
        "",
        "closed by a click outside"
    );
    tab.arm("devserve:clear").await;
    status(&s, r#"{"source":"esbuild","state":"ok"}"#).await;
    tab.armed().await;
    let text: String = tab.eval(OVERLAY_TEXT).await;
    assert!(
        !text.contains("Build failed") && text.contains("TS2322"),
        "{text}"
    );
    tab.arm("devserve:clear").await;
    status(&s, r#"{"source":"tsc","state":"ok"}"#).await;
    tab.armed().await;
    assert_eq!(
        tab.eval::<String>(OVERLAY_TEXT).await,
        "",
        "gone once every source is ok"
    );
    tab.close().await;
}

/// A build that writes 50 files over a while between `building` and `ok`: one reload, after the
/// build, onto the finished output.
pub async fn a_build_between_building_and_ok_is_one_reload_onto_the_finished_output() {
    let s = TestServer::start_with(&[], |root| {
        std::fs::create_dir_all(root.join("out")).unwrap();
        std::fs::write(
            root.join("out/bundle.js"),
            "document.getElementById('app').textContent = 'v0';",
        )
        .unwrap();
        let page = counted_page("<div id=\"app\"></div><script src=\"out/bundle.js\"></script>");
        std::fs::write(root.join("index.html"), page).unwrap();
    })
    .await;
    let Some(mut tab) = Tab::open(&s, "/").await else {
        return;
    };
    for round in 1..=3 {
        status(&s, r#"{"source":"build","state":"building"}"#).await;
        for i in 0..50 {
            std::fs::write(s.path(&format!("out/chunk{i}.js")), format!("// {round}")).unwrap();
            if i == 25 {
                // Half-written: the bundle of this round, not yet finished.
                std::fs::write(
                    s.path("out/bundle.js"),
                    "document.getElementById('app').textContent = 'half';",
                )
                .unwrap();
            }
            tokio::time::sleep(std::time::Duration::from_millis(15)).await;
        }
        let done = format!("document.getElementById('app').textContent = 'v{round}';");
        std::fs::write(s.path("out/bundle.js"), done).unwrap();
        assert!(!tab.loaded_since(), "round {round}: nothing while building");
        status(&s, r#"{"source":"build","state":"ok"}"#).await;
        tab.next_load().await;
        assert_eq!(
            tab.text().await,
            format!("v{round}"),
            "round {round}: the finished output"
        );
        tab.connected().await;
    }
    let loads: String = tab.eval("() => sessionStorage.loads").await;
    assert_eq!(loads, "4", "one reload per build");
    tab.close().await;
}

/// Page JavaScript that records, in `sent`, every frame the page's sockets send.
const SEND_SPY: &str = "const sent = []; const real = WebSocket.prototype.send; \
    WebSocket.prototype.send = function (d) { sent.push(JSON.parse(d)); return real.call(this, d); };";

/// devserve with `args` over a page whose `window.fail()` throws an uncaught error and leaves a
/// rejection unhandled.
async fn failing_page(args: &[&str]) -> TestServer {
    TestServer::start_with(args, |root| {
        let page = counted_page("<p>app</p>").replace(
            "</head>",
            "<script>window.fail = () => { setTimeout(() => { throw new Error('boom in the page'); }); \
             setTimeout(() => { Promise.reject(new Error('rejected in the page')); }); };</script></head>",
        );
        std::fs::write(root.join("index.html"), page).unwrap()
    })
    .await
}

/// With `-v`, the page's uncaught errors and rejections are sent to devserve — and not overlaid.
pub async fn with_verbose_a_page_sends_its_uncaught_errors_and_is_not_overlaid() {
    // The page's own code fails (code run through the debugger would not count as the page's).
    let s = failing_page(&["-v"]).await;
    let Some(tab) = Tab::open(&s, "/").await else {
        return;
    };
    let sent: serde_json::Value = tab
        .eval(&format!(
            "async () => {{ {SEND_SPY} window.fail(); \
             while (sent.length < 2) await new Promise(r => setTimeout(r, 20)); return sent; }}"
        ))
        .await;
    let sent = sent.as_array().unwrap();
    assert!(sent.iter().all(|m| m["type"] == "page-error"), "{sent:?}");
    assert!(
        sent.iter()
            .any(|m| m["message"].as_str().unwrap().contains("boom in the page")),
        "{sent:?}"
    );
    assert!(
        sent.iter()
            .any(|m| m["message"].as_str().unwrap().contains("rejected in the page")),
        "{sent:?}"
    );
    assert_eq!(
        tab.eval::<String>(OVERLAY_TEXT).await,
        "",
        "the page's own errors are its business"
    );
    tab.close().await;
}

/// Without `-v` the server does not ask for them, and the page sends none of its errors.
pub async fn without_verbose_a_page_sends_none_of_its_errors() {
    let s = failing_page(&[]).await;
    let Some(tab) = Tab::open(&s, "/").await else {
        return;
    };
    // The test's listeners come after the client's: once they have seen both errors, the client
    // has had both too.
    let sent: serde_json::Value = tab
        .eval(&format!(
            "async () => {{ {SEND_SPY} let seen = 0; window.addEventListener('error', () => seen++); \
             window.addEventListener('unhandledrejection', () => seen++); \
             window.fail(); \
             while (seen < 2) await new Promise(r => setTimeout(r, 20)); return sent; }}"
        ))
        .await;
    assert_eq!(sent, serde_json::json!([]), "nothing sent without -v");
    tab.close().await;
}
