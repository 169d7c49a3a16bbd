//! Keep-alive connections to backends, each driven by the task that is using it.
//!
//! hyper-util's pooled client runs every backend connection as a task of its own: the request
//! goes to that task through a channel, and the answer's head and each piece of its body come
//! back through others, so every proxied request wakes a second task, often on the other thread,
//! and back. Here the task that forwards a request polls the backend connection itself — while
//! the request is sent, and while the answer's body streams out ([`Leased`] polls it) — and the
//! connection goes back to the pool once the answer has been read to its end. A request then
//! costs what it costs nginx: the two sockets' wake-ups, on one thread.
//!
//! hyper wakes whoever polls a connection for much of what the connection does for itself (the
//! answer's head is in, the body has a piece, the body wants more): with the forwarding task
//! polling it, that task would wake itself several times per request, and tokio schedules every
//! self-wake as a yield that also rouses the other worker thread (measured in BENCHMARKS.md,
//! "Measurements behind some constants"). [`Turn`] keeps those wakes inside
//! the poll: it polls again instead, and passes on only the wakes that come from outside (the
//! sockets) once the poll is over.
//!
//! A connection waiting in the pool is not polled; the backend may close it meanwhile (an idle
//! timeout, a restart). It is polled once as it is taken out, which reads that close, and a
//! request that still finds it closed (the close raced the request) is handed back by hyper
//! unsent and goes out on another connection.

use std::future::{poll_fn, Future};
use std::pin::Pin;
use std::sync::atomic::{AtomicU8, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll, Wake, Waker};
use std::time::{Duration, Instant};

use axum::body::Body;
use axum::http::{HeaderValue, Request, Response, Uri};
use bytes::Bytes;
use futures_util::task::AtomicWaker;
use http_body::{Body as _, Frame, SizeHint};
use hyper::body::Incoming;
use hyper::client::conn::http1::{self, Connection, SendRequest};
use hyper::client::conn::TrySendError;
use hyper_rustls::MaybeHttpsStream;
use hyper_util::rt::TokioIo;
use tokio::net::TcpStream;
use tower::Service;

use super::rule::Target;
use super::Connector;

/// Idle connections kept per backend (as nginx's `keepalive 64` in the benchmark's set-up).
const MAX_IDLE: usize = 64;
/// An idle connection older than this is closed rather than used (hyper-util's default is 90 s;
/// Node's servers close theirs after 5 s, and the close is read as the connection is taken).
const IDLE_TIMEOUT: Duration = Duration::from_secs(30);
/// The most a backend connection reads at once. hyper's own bound (about 408 KiB) is above the
/// 256 KiB at which the binary has glibc map and unmap a block (see `tuning.rs`), and hyper
/// allocates a fresh read buffer after every piece of body it hands on: a 1 MiB answer cost two
/// or three fresh mappings, and 194 page faults, per request. Below the threshold the buffers
/// come from the heap and are used again.
const READ_BUF_MAX: usize = 64 * 1024;

pub(super) type Io = MaybeHttpsStream<TokioIo<TcpStream>>;

/// The keep-alive connections to every backend, and the connector that opens new ones.
pub(super) struct Pool {
    connector: Connector,
    /// One per backend the rules name (rules naming the same one share it): a handful, looked
    /// through in order, which costs less than hashing.
    backends: Vec<Arc<Backend>>,
}

/// One backend: what requests to it need, worked out once, and its idle connections.
pub(super) struct Backend {
    tls: bool,
    host: String,
    port: u16,
    /// `host:port`, as the Host header and the log lines want it.
    pub(super) authority: String,
    pub(super) host_header: Option<HeaderValue>,
    /// `http://host:port`, what the connector connects to.
    uri: Option<Uri>,
    /// Most recently used last.
    idle: Mutex<Vec<Idle>>,
}

/// Why a request got no answer.
pub(super) enum Failed {
    /// No connection could be opened.
    Connect,
    /// The connection broke, or the request's own body did.
    Http(hyper::Error),
}

/// One backend connection: the handle requests are sent through, and the connection itself,
/// which must be polled for anything to move (`None` once it has closed), always through `turn`.
struct Conn {
    sender: SendRequest<Body>,
    conn: Option<Connection<Io, Body>>,
    turn: Turn,
}

/// Polls a connection and what hangs on it so that wakes raised during the poll make it poll
/// again rather than reschedule the task (see the module's notes).
struct Turn {
    state: Arc<TurnState>,
    /// Wakes `state`: the waker the connection and its bodies are polled with.
    waker: Waker,
}

#[derive(Default)]
struct TurnState {
    /// [`IDLE`], [`POLLING`] or [`WOKEN`].
    now: AtomicU8,
    /// The waker of the task that polled last.
    task: AtomicWaker,
}

const IDLE: u8 = 0;
const POLLING: u8 = 1;
/// Woken while polling: poll again.
const WOKEN: u8 = 2;
/// Polls in one turn before the task is rescheduled instead (a connection that keeps waking
/// itself must not hold the thread).
const MAX_POLLS: usize = 8;

struct Idle {
    conn: Conn,
    since: Instant,
}

impl Pool {
    pub(super) fn new<'a>(connector: Connector, targets: impl Iterator<Item = &'a Target>) -> Self {
        let mut backends: Vec<Arc<Backend>> = Vec::new();
        for target in targets {
            if backends.iter().any(|b| b.is(target)) {
                continue;
            }
            let authority = target.authority();
            backends.push(Arc::new(Backend {
                tls: target.tls,
                host: target.host.clone(),
                port: target.port,
                host_header: HeaderValue::from_str(&authority).ok(),
                uri: format!("{}://{authority}", target.scheme()).parse().ok(),
                authority,
                idle: Mutex::default(),
            }));
        }
        Pool { connector, backends }
    }

    /// The backend `target` names (every rule's was set up in [`Pool::new`]).
    pub(super) fn backend(&self, target: &Target) -> Option<&Arc<Backend>> {
        self.backends.iter().find(|b| b.is(target))
    }

    /// Sends `req` (origin-form URI, Host set) to `backend`, on an idle connection when there is
    /// one, and returns the answer whose body drives the connection.
    pub(super) async fn request(
        &self,
        backend: &Arc<Backend>,
        mut req: Request<Body>,
    ) -> Result<Response<Leased>, Failed> {
        while let Some(mut conn) = backend.take().await {
            match conn.send(req).await {
                Ok(resp) => return Ok(lease(backend, conn, resp)),
                Err(mut e) => match e.take_message() {
                    // Closed before the request was written: try another.
                    Some(unsent) => req = unsent,
                    None => return Err(Failed::Http(e.into_error())),
                },
            }
        }
        let uri = backend.uri.clone().ok_or(Failed::Connect)?;
        let io = self
            .connector
            .clone()
            .call(uri)
            .await
            .map_err(|_| Failed::Connect)?;
        let (sender, conn) = http1::Builder::new()
            .max_buf_size(READ_BUF_MAX)
            .handshake(io)
            .await
            .map_err(Failed::Http)?;
        let mut conn = Conn {
            sender,
            conn: Some(conn),
            turn: Turn::new(),
        };
        match conn.send(req).await {
            Ok(resp) => Ok(lease(backend, conn, resp)),
            Err(e) => Err(Failed::Http(e.into_error())),
        }
    }
}

fn lease(backend: &Arc<Backend>, conn: Conn, resp: Response<Incoming>) -> Response<Leased> {
    resp.map(|body| Leased {
        body,
        conn: Some(conn),
        backend: backend.clone(),
    })
}

impl Backend {
    fn is(&self, target: &Target) -> bool {
        self.port == target.port && self.tls == target.tls && self.host == target.host
    }

    fn idle(&self) -> std::sync::MutexGuard<'_, Vec<Idle>> {
        self.idle.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The most recently used idle connection that is still open and ready.
    async fn take(&self) -> Option<Conn> {
        loop {
            let idle = self.idle().pop()?;
            if idle.since.elapsed() > IDLE_TIMEOUT {
                // The rest are older still.
                self.idle().clear();
                return None;
            }
            let mut conn = idle.conn;
            if poll_fn(|cx| Poll::Ready(conn.ready(cx))).await {
                return Some(conn);
            }
        }
    }

    fn give_back(&self, conn: Conn) {
        let now = Instant::now();
        let mut idle = self.idle();
        if idle
            .first()
            .is_some_and(|oldest| now - oldest.since > IDLE_TIMEOUT)
        {
            idle.retain(|i| now - i.since <= IDLE_TIMEOUT);
        }
        if idle.len() < MAX_IDLE {
            idle.push(Idle { conn, since: now });
        }
    }
}

impl Conn {
    /// True when the connection is open and waiting for a request.
    fn ready(&mut self, cx: &mut Context<'_>) -> bool {
        let Conn { sender, conn, turn } = self;
        let ready = turn.poll(cx, |cx| {
            Poll::Ready(drive(conn, cx) && matches!(sender.poll_ready(cx), Poll::Ready(Ok(()))))
        });
        matches!(ready, Poll::Ready(true))
    }

    /// Sends `req`, polling the connection until the answer's head is in.
    async fn send(&mut self, req: Request<Body>) -> Result<Response<Incoming>, TrySendError<Request<Body>>> {
        let Conn { sender, conn, turn } = self;
        // Queuing the request wakes the connection, which is polled right below.
        let answer = turn.hush(|| sender.try_send_request(req));
        let mut answer = std::pin::pin!(answer);
        poll_fn(|cx| {
            turn.poll(cx, |cx| {
                drive(conn, cx);
                answer.as_mut().poll(cx)
            })
        })
        .await
    }
}

/// Polls the connection once; false when it has closed.
fn drive(conn: &mut Option<Connection<Io, Body>>, cx: &mut Context<'_>) -> bool {
    let Some(open) = conn.as_mut() else {
        return false;
    };
    if Pin::new(open).poll(cx).is_pending() {
        return true;
    }
    // Closed or broken: dropping it fails whatever was still waiting on it.
    *conn = None;
    false
}

impl Turn {
    fn new() -> Self {
        let state = Arc::new(TurnState::default());
        Turn {
            waker: Waker::from(state.clone()),
            state,
        }
    }

    /// Runs `f`, dropping the wakes it raises: for a caller about to poll anyway.
    fn hush<T>(&self, f: impl FnOnce() -> T) -> T {
        self.state.now.store(POLLING, Ordering::SeqCst);
        let out = f();
        self.state.now.store(IDLE, Ordering::SeqCst);
        out
    }

    /// Runs `poll` with this turn's waker until it is ready, or until nothing woke it while it
    /// ran; wakes that come later reach `cx`'s task.
    fn poll<T>(&self, cx: &mut Context<'_>, mut poll: impl FnMut(&mut Context<'_>) -> Poll<T>) -> Poll<T> {
        let state = &self.state;
        state.now.store(POLLING, Ordering::SeqCst);
        state.task.register(cx.waker());
        let mut inner = Context::from_waker(&self.waker);
        for _ in 0..MAX_POLLS {
            if let Poll::Ready(out) = poll(&mut inner) {
                // Whatever else woke it is looked at when the caller polls again.
                state.now.store(IDLE, Ordering::SeqCst);
                return Poll::Ready(out);
            }
            match state
                .now
                .compare_exchange(POLLING, IDLE, Ordering::SeqCst, Ordering::SeqCst)
            {
                Ok(_) => return Poll::Pending,
                Err(_) => state.now.store(POLLING, Ordering::SeqCst),
            }
        }
        state.now.store(IDLE, Ordering::SeqCst);
        cx.waker().wake_by_ref();
        Poll::Pending
    }
}

impl Wake for TurnState {
    fn wake(self: Arc<Self>) {
        self.wake_by_ref();
    }

    fn wake_by_ref(self: &Arc<Self>) {
        // While a poll is running it will look again; otherwise the task must.
        if self
            .now
            .compare_exchange(POLLING, WOKEN, Ordering::SeqCst, Ordering::SeqCst)
            .is_err()
        {
            self.task.wake();
        }
    }
}

/// An answer's body that drives its backend connection while it is read, and puts the
/// connection back in the pool once the body has been read to its end.
pub(super) struct Leased {
    body: Incoming,
    conn: Option<Conn>,
    backend: Arc<Backend>,
}

impl Leased {
    fn give_back(&mut self) {
        if let Some(conn) = self.conn.take().filter(|c| c.conn.is_some()) {
            self.backend.give_back(conn);
        }
    }
}

impl http_body::Body for Leased {
    type Data = Bytes;
    type Error = hyper::Error;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, hyper::Error>>> {
        let this = self.get_mut();
        let frame = match this.conn.as_mut() {
            None => Pin::new(&mut this.body).poll_frame(cx),
            Some(Conn { conn, turn, .. }) => turn.poll(cx, |cx| {
                let frame = Pin::new(&mut this.body).poll_frame(cx);
                if frame.is_ready() {
                    return frame;
                }
                // Asking for the body told the connection it may read: let it, then look again.
                drive(conn, cx);
                Pin::new(&mut this.body).poll_frame(cx)
            }),
        };
        match &frame {
            Poll::Ready(None) => this.give_back(),
            Poll::Ready(Some(Err(_))) => this.conn = None,
            _ => {}
        }
        frame
    }

    fn is_end_stream(&self) -> bool {
        self.body.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.body.size_hint()
    }
}

impl Drop for Leased {
    fn drop(&mut self) {
        // An answer without a body (HEAD, 204, 304) may never be polled; one dropped half read
        // leaves its connection mid-message, and it closes.
        if self.body.is_end_stream() {
            self.give_back();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::AtomicUsize;

    /// Counts the wakes that reach the task.
    #[derive(Default)]
    struct Task(AtomicUsize);

    impl Wake for Task {
        fn wake(self: Arc<Self>) {
            self.0.fetch_add(1, Ordering::SeqCst);
        }
    }

    #[test]
    fn a_wake_raised_while_polling_polls_again_instead_of_waking_the_task() {
        let task = Arc::new(Task::default());
        let waker = Waker::from(task.clone());
        let mut cx = Context::from_waker(&waker);
        let turn = Turn::new();
        let mut polls = 0;
        let out = turn.poll(&mut cx, |inner| {
            polls += 1;
            if polls < 3 {
                inner.waker().wake_by_ref();
                return Poll::Pending;
            }
            Poll::Ready(polls)
        });
        assert_eq!(out, Poll::Ready(3));
        assert_eq!(task.0.load(Ordering::SeqCst), 0);

        // Pending with nothing woken: the task waits, and a wake from outside reaches it.
        let mut inner_waker = None;
        let out: Poll<()> = turn.poll(&mut cx, |inner| {
            inner_waker = Some(inner.waker().clone());
            Poll::Pending
        });
        assert_eq!(out, Poll::Pending);
        assert_eq!(task.0.load(Ordering::SeqCst), 0);
        inner_waker.expect("polled").wake();
        assert_eq!(task.0.load(Ordering::SeqCst), 1);

        // A wake raised inside hush is dropped: its caller polls next.
        assert_eq!(turn.poll(&mut cx, |_| Poll::<()>::Pending), Poll::Pending);
        turn.hush(|| turn.waker.wake_by_ref());
        assert_eq!(task.0.load(Ordering::SeqCst), 1);
        turn.waker.wake_by_ref();
        assert_eq!(task.0.load(Ordering::SeqCst), 2);
    }

    #[test]
    fn a_connection_that_keeps_waking_itself_gives_the_thread_back() {
        let task = Arc::new(Task::default());
        let waker = Waker::from(task.clone());
        let mut cx = Context::from_waker(&waker);
        let mut polls = 0;
        let out: Poll<()> = Turn::new().poll(&mut cx, |inner| {
            polls += 1;
            inner.waker().wake_by_ref();
            Poll::Pending
        });
        assert_eq!(out, Poll::Pending);
        assert_eq!(polls, MAX_POLLS);
        assert_eq!(task.0.load(Ordering::SeqCst), 1);
    }
}
