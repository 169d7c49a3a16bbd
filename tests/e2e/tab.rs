//! The shared headless Chromium and a [`Tab`] in it.
//!
//! One browser serves the whole test binary (a page per test). It is Debian's Chromium at
//! `/usr/bin/chromium`, or `$CHROME`; `main` marks every test ignored when it is missing (except
//! under `CI=true`, where they run and fail).

use std::path::PathBuf;
use std::sync::OnceLock;
use std::time::Duration;

use chromiumoxide::cdp::browser_protocol::page::EventLoadEventFired;
use chromiumoxide::listeners::EventStream;
use chromiumoxide::{Browser, BrowserConfig, Page};
use futures_util::StreamExt;
use serde::de::DeserializeOwned;

use crate::support::{TestServer, WAIT};

static BROWSER: OnceLock<Option<Browser>> = OnceLock::new();
static CHROMIUM_PID: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);

/// The shared browser, launched on first use; `None` (after a loud line) when Chromium is missing
/// outside CI.
pub fn browser() -> Option<&'static Browser> {
    BROWSER.get_or_init(launch).as_ref()
}

/// Where Chromium is: `$CHROME`, else Debian's.
pub fn chrome() -> PathBuf {
    std::env::var_os("CHROME")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("/usr/bin/chromium"))
}

fn launch() -> Option<Browser> {
    let chrome = chrome();
    if !chrome.exists() {
        panic!(
            "Chromium not found at {} (set CHROME, or `apt-get install -y chromium`)",
            chrome.display()
        );
    }
    let profile = tempfile::tempdir().unwrap().keep();
    let config = BrowserConfig::builder()
        .chrome_executable(&chrome)
        .new_headless_mode()
        .no_sandbox()
        .user_data_dir(&profile)
        .args([
            "--disable-gpu",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--no-first-run",
            "--disable-quic",
            "--disable-dev-shm-usage",
        ])
        .launch_timeout(Duration::from_secs(30))
        .request_timeout(Duration::from_secs(20))
        .build()
        .unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    // The browser's event loop lives on a thread and runtime of its own, so it outlives any one
    // test's runtime.
    std::thread::Builder::new()
        .name("chromium".into())
        .spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap();
            rt.block_on(async move {
                let (mut browser, mut handler) = Browser::launch(config).await.expect("Chromium starts");
                if let Some(pid) = browser.get_mut_child().and_then(|c| c.as_mut_inner().id()) {
                    CHROMIUM_PID.store(pid, std::sync::atomic::Ordering::SeqCst);
                    unsafe { libc::atexit(kill_chromium) };
                }
                tx.send(browser).unwrap();
                while handler.next().await.is_some() {}
            });
        })
        .unwrap();
    Some(
        rx.recv_timeout(Duration::from_secs(40))
            .expect("Chromium launched in time"),
    )
}

/// At exit, the shared browser goes with the test binary.
extern "C" fn kill_chromium() {
    let pid = CHROMIUM_PID.load(std::sync::atomic::Ordering::SeqCst);
    if pid != 0 {
        unsafe { libc::kill(pid as i32, libc::SIGKILL) };
    }
}

/// One page, with the stream of its document loads.
pub struct Tab {
    pub page: Page,
    loads: EventStream<EventLoadEventFired>,
}

impl Tab {
    /// Opens `path` and waits until the page has loaded and its client is connected.
    pub async fn open(server: &TestServer, path: &str) -> Option<Tab> {
        let tab = Tab::load(server, path).await?;
        tab.connected().await;
        Some(tab)
    }

    /// Opens `path` and waits until the page has loaded (its client may not be connected yet).
    pub async fn load(server: &TestServer, path: &str) -> Option<Tab> {
        Tab::load_url(server.url(path)).await
    }

    /// Opens `url` (any server's) and waits until its client is connected.
    pub async fn open_url(url: String) -> Option<Tab> {
        let tab = Tab::load_url(url).await?;
        tab.connected().await;
        Some(tab)
    }

    async fn load_url(url: String) -> Option<Tab> {
        let browser = browser()?;
        // A window of its own: a tab behind others is hidden, and a hidden tab waits to reload
        // until it is shown (tests of that make a page hidden themselves).
        let mut target = chromiumoxide::cdp::browser_protocol::target::CreateTargetParams::new("about:blank");
        target.new_window = Some(true);
        let page = browser.new_page(target).await.unwrap();
        let loads = page.event_listener::<EventLoadEventFired>().await.unwrap();
        let mut tab = Tab { page, loads };
        if url.starts_with("https:") {
            // The certificate devserve made for this test: what a person does once by hand.
            let trust =
                chromiumoxide::cdp::browser_protocol::security::SetIgnoreCertificateErrorsParams::new(true);
            tab.page.execute(trust).await.unwrap();
        }
        tab.page.goto(url).await.unwrap();
        tab.next_load().await;
        Some(tab)
    }

    /// Waits for the next document load event.
    pub async fn next_load(&mut self) {
        tokio::time::timeout(WAIT, self.loads.next())
            .await
            .expect("the page loads in time")
            .expect("load events");
    }

    /// True when a load event has happened that no one has waited for yet.
    pub fn loaded_since(&mut self) -> bool {
        futures_util::FutureExt::now_or_never(self.loads.next()).is_some()
    }

    /// Waits until the page's client says it is connected.
    pub async fn connected(&self) {
        let ok: bool = self
            .eval(
                "async () => window.__devserve && window.__devserve.wasConnected ? true : \
                 await new Promise(r => addEventListener('devserve:connected', () => r(true), { once: true }))",
            )
            .await;
        assert!(ok);
    }

    pub async fn eval<T: DeserializeOwned>(&self, js: &str) -> T {
        let res = tokio::time::timeout(WAIT, self.page.evaluate_function(js))
            .await
            .unwrap_or_else(|_| panic!("evaluated in time: {js}"))
            .unwrap_or_else(|e| panic!("evaluate {js}: {e}"));
        res.into_value().unwrap_or_else(|e| panic!("value of {js}: {e}"))
    }

    /// Starts waiting for a window event now; `.await` the returned JS later with [`Tab::eval`].
    pub async fn arm(&self, event: &str) {
        let js = format!(
            "async () => {{ window.__armed = new Promise(r => addEventListener('{event}', e => r(e.detail || true), {{ once: true }})); return true; }}"
        );
        let _: bool = self.eval(&js).await;
    }

    pub async fn armed(&self) {
        let _: serde_json::Value = self.eval("async () => await window.__armed").await;
    }

    pub async fn text(&self) -> String {
        self.eval("() => document.body ? document.body.innerText : ''")
            .await
    }

    pub async fn close(self) {
        let _ = self.page.close().await;
    }
}
