//! Large cached files go from the page cache to the socket with sendfile(2), as nginx sends them,
//! instead of being copied out of devserve's memory by `writev`.
//!
//! hyper writes a response body from the `Bytes` it is given and has no notion of a file, so the
//! hand-over happens below it. A cached file's bytes are registered in [`Regions`] with the open
//! file they were read from; every connection's socket is a [`Stream`], and when hyper asks it to
//! write a slice that lies inside a registered region, it sends the same bytes from the file at
//! the matching offset instead. The body hyper holds is the file's content, so every other path —
//! another platform, a slice too small to bother, a file changed on disk since it was read, a
//! file system that cannot send — is an ordinary write of the same bytes. The file's stat is
//! checked before each send, and a file that changed is sent from memory; it is checked again
//! after, and a change that landed during the send cuts the connection, so the client drops the
//! short body instead of keeping a mix of two versions under the old `ETag`.
//!
//! Only files the cache keeps are registered, and the cache keeps files only where the watcher
//! has OS events (not on network or polled file systems), just after reading them: the sends read
//! from the page cache and do not block a worker on a disk.

// Elsewhere nothing is registered, and a connection writes as any other.
#![cfg_attr(not(target_os = "linux"), allow(dead_code))]

use std::collections::BTreeMap;
use std::fs::File;
use std::io::{self, IoSlice};
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, PoisonError, RwLock};
use std::task::{ready, Context, Poll};

use bytes::Bytes;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};

use super::stamp::Stamp;

/// Slices shorter than this are written as they are: below it, copying costs less than the extra
/// system call.
pub(crate) const MIN_LEN: usize = 64 * 1024;
/// At most this many files are held open for sending.
const MAX_FILES: usize = 64;

/// The registered byte ranges, by start address.
#[derive(Default)]
pub(crate) struct Regions {
    map: RwLock<BTreeMap<usize, Region>>,
    /// How many regions are registered: none means no lookup at all.
    count: AtomicUsize,
}

struct Region {
    len: usize,
    file: Arc<File>,
    stamp: Stamp,
}

/// A region while it is registered: dropping it unregisters the region and, once no send is
/// using it, closes the file.
pub(crate) struct Registration {
    regions: Arc<Regions>,
    start: usize,
    /// The registered bytes themselves, so that their memory cannot be freed, and its address
    /// taken by another buffer, while the region is still registered.
    _bytes: Bytes,
}

/// Where to send a slice from.
struct Source {
    file: Arc<File>,
    offset: u64,
    stamp: Stamp,
}

impl Source {
    /// True while the file is still the one that was read.
    fn unchanged(&self) -> bool {
        self.file
            .metadata()
            .is_ok_and(|meta| Stamp::of(&meta) == self.stamp)
    }
}

impl Regions {
    #[cfg(test)]
    pub(crate) fn new() -> Arc<Self> {
        Arc::default()
    }

    /// Registers `bytes` as the content of `file`, as `stamp` describes it. `None` when it is too
    /// small to be worth it or too many files are held open already.
    pub(crate) fn register(
        self: &Arc<Self>,
        bytes: &Bytes,
        file: File,
        stamp: Stamp,
    ) -> Option<Registration> {
        if bytes.len() < MIN_LEN || !cfg!(target_os = "linux") {
            return None;
        }
        let start = bytes.as_ptr() as usize;
        let mut map = self.map.write().unwrap_or_else(PoisonError::into_inner);
        if map.len() >= MAX_FILES || map.contains_key(&start) {
            return None;
        }
        let region = Region {
            len: bytes.len(),
            file: Arc::new(file),
            stamp,
        };
        map.insert(start, region);
        self.count.store(map.len(), Ordering::Release);
        Some(Registration {
            regions: self.clone(),
            start,
            _bytes: bytes.clone(),
        })
    }

    /// How many regions are registered.
    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        self.count.load(Ordering::Acquire)
    }

    #[cfg(test)]
    pub(crate) fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The file and offset holding `buf`, when `buf` lies inside a registered region.
    fn find(&self, buf: &[u8]) -> Option<Source> {
        if buf.len() < MIN_LEN || self.count.load(Ordering::Acquire) == 0 {
            return None;
        }
        let ptr = buf.as_ptr() as usize;
        let map = self.map.read().unwrap_or_else(PoisonError::into_inner);
        let (&start, region) = map.range(..=ptr).next_back()?;
        let offset = ptr - start;
        (offset + buf.len() <= region.len).then(|| Source {
            file: region.file.clone(),
            offset: offset as u64,
            stamp: region.stamp.clone(),
        })
    }
}

impl Drop for Registration {
    fn drop(&mut self) {
        let mut map = self.regions.map.write().unwrap_or_else(PoisonError::into_inner);
        map.remove(&self.start);
        self.regions.count.store(map.len(), Ordering::Release);
    }
}

/// The listener devserve serves on: a TCP listener whose connections are [`Stream`]s.
pub(crate) struct Listener {
    inner: TcpListener,
    regions: Arc<Regions>,
}

impl Listener {
    pub(crate) fn new(inner: TcpListener, regions: Arc<Regions>) -> Self {
        Listener { inner, regions }
    }
}

impl axum::serve::Listener for Listener {
    type Io = Stream;
    type Addr = SocketAddr;

    async fn accept(&mut self) -> (Stream, SocketAddr) {
        // axum's own accept loop: it logs and backs off on errors such as running out of files.
        let (io, addr) = axum::serve::Listener::accept(&mut self.inner).await;
        let stream = Stream {
            io,
            regions: self.regions.clone(),
        };
        (stream, addr)
    }

    fn local_addr(&self) -> io::Result<SocketAddr> {
        self.inner.local_addr()
    }
}

/// A connection: a TCP stream that sends registered file content with sendfile(2).
pub(crate) struct Stream {
    io: TcpStream,
    regions: Arc<Regions>,
}

impl Stream {
    pub(crate) fn tcp(&self) -> &TcpStream {
        &self.io
    }

    /// The TCP stream alone, for a connection that will send no more files (a tunnel).
    pub(crate) fn into_tcp(self) -> TcpStream {
        self.io
    }

    #[cfg(target_os = "linux")]
    fn poll_write_linux(&mut self, cx: &mut Context<'_>, bufs: &[IoSlice<'_>]) -> Poll<io::Result<usize>> {
        let found = bufs
            .iter()
            .enumerate()
            .find_map(|(i, buf)| self.regions.find(buf).map(|source| (i, source)));
        let Some((i, source)) = found else {
            return Pin::new(&mut self.io).poll_write_vectored(cx, bufs);
        };
        if i > 0 {
            // What comes before (the response's head) is held back until the file follows, so the
            // two leave in the same packet rather than the head alone.
            use rustix::net::SendFlags;
            let head = &bufs[..i];
            return self.poll_send(cx, |io| {
                let mut control = rustix::net::SendAncillaryBuffer::default();
                let flags = SendFlags::MORE | SendFlags::NOSIGNAL;
                Ok(rustix::net::sendmsg(io, head, &mut control, flags)?)
            });
        }
        let buf = &bufs[0];
        // `None`: send this slice from memory.
        let sent = ready!(self.poll_send(cx, |io| {
            if !source.unchanged() {
                return Ok(None);
            }
            let mut offset = source.offset;
            // sendfile has no MSG_NOSIGNAL: a peer gone mid-send raises SIGPIPE, which Rust
            // programs ignore from the start (EPIPE is returned instead).
            match rustix::fs::sendfile(io, &*source.file, Some(&mut offset), buf.len()) {
                // The file is shorter than it was.
                Ok(0) => Ok(None),
                Ok(n) if source.unchanged() => Ok(Some(n)),
                Ok(_) => Err(io::Error::other(
                    "the file changed while it was being sent; closing the connection",
                )),
                Err(rustix::io::Errno::AGAIN) => Err(io::ErrorKind::WouldBlock.into()),
                // A file system that cannot send files, or a read error: memory has the bytes
                // (and a closed socket fails that write as well).
                Err(e) => {
                    tracing::debug!("sendfile failed ({e}); sending from memory");
                    Ok(None)
                }
            }
        }))?;
        match sent {
            Some(n) => Poll::Ready(Ok(n)),
            None => Pin::new(&mut self.io).poll_write(cx, buf),
        }
    }

    /// Runs a non-blocking send once the socket is writable, again while it would block.
    #[cfg(target_os = "linux")]
    fn poll_send<T>(
        &mut self,
        cx: &mut Context<'_>,
        mut send: impl FnMut(&TcpStream) -> io::Result<T>,
    ) -> Poll<io::Result<T>> {
        loop {
            ready!(self.io.poll_write_ready(cx))?;
            let io = &self.io;
            match io.try_io(tokio::io::Interest::WRITABLE, || send(io)) {
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => continue,
                result => return Poll::Ready(result),
            }
        }
    }
}

impl AsyncRead for Stream {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut self.io).poll_read(cx, buf)
    }
}

impl AsyncWrite for Stream {
    fn poll_write(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        self.poll_write_vectored(cx, &[IoSlice::new(buf)])
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        #[cfg(target_os = "linux")]
        return self.poll_write_linux(cx, bufs);
        #[cfg(not(target_os = "linux"))]
        return Pin::new(&mut self.io).poll_write_vectored(cx, bufs);
    }

    fn is_write_vectored(&self) -> bool {
        // hyper then queues a body's `Bytes` as they are, where this stream can recognise them,
        // instead of copying them into its own buffer.
        true
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.io).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.io).poll_shutdown(cx)
    }
}

#[cfg(test)]
#[cfg(target_os = "linux")]
mod tests {
    use super::*;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    /// A connected pair: devserve's side as a [`Stream`], and the client's.
    async fn pair(regions: &Arc<Regions>) -> (Stream, TcpStream) {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let client = TcpStream::connect(listener.local_addr().unwrap()).await.unwrap();
        let (io, _) = listener.accept().await.unwrap();
        let stream = Stream {
            io,
            regions: regions.clone(),
        };
        (stream, client)
    }

    /// An open file holding `content`, and its stamp.
    fn file_of(dir: &tempfile::TempDir, content: &[u8]) -> (std::path::PathBuf, File, Stamp) {
        let path = dir.path().join("f");
        std::fs::write(&path, content).unwrap();
        let file = File::open(&path).unwrap();
        let stamp = Stamp::of(&file.metadata().unwrap());
        (path, file, stamp)
    }

    async fn received(client: &mut TcpStream, len: usize) -> Vec<u8> {
        let mut got = vec![0; len];
        client.read_exact(&mut got).await.unwrap();
        got
    }

    // The registered bytes here deliberately differ from the file ('m' in memory, 'd' on disk),
    // so that what arrives tells which way it was sent.

    #[tokio::test]
    async fn a_registered_slice_is_sent_from_the_file_at_its_offset() {
        let dir = tempfile::tempdir().unwrap();
        let on_disk = [b"x".repeat(10), vec![b'd'; 2 * MIN_LEN - 10]].concat();
        let (_, file, stamp) = file_of(&dir, &on_disk);
        let regions = Regions::new();
        let memory = Bytes::from(vec![b'm'; 2 * MIN_LEN]);
        let _registration = regions.register(&memory, file, stamp).unwrap();
        let (mut stream, mut client) = pair(&regions).await;

        stream.write_all(&memory).await.unwrap();
        let got = received(&mut client, memory.len()).await;
        assert_eq!(&got[..10], b"xxxxxxxxxx", "from the file, not from memory");
        assert!(got[10..].iter().all(|&b| b == b'd'));

        // A slice from the middle, after a head that is not registered.
        let mut buf = bytes::Buf::chain(Bytes::from_static(b"HEAD"), memory.slice(5..5 + MIN_LEN));
        stream.write_all_buf(&mut buf).await.unwrap();
        let got = received(&mut client, 4 + MIN_LEN).await;
        assert_eq!(&got[..4], b"HEAD");
        assert_eq!(&got[4..9], b"xxxxx");
        assert!(got[9..].iter().all(|&b| b == b'd'));
    }

    /// Registers 'm's in memory over a file of 'd's, lets `meddle` change the file or drop the
    /// registration (it returns what it keeps), writes the memory to a connection and returns
    /// what arrived.
    async fn sent_after(
        meddle: impl FnOnce(&std::path::Path, Registration) -> Option<Registration>,
    ) -> Vec<u8> {
        let dir = tempfile::tempdir().unwrap();
        let (path, file, stamp) = file_of(&dir, &[b'd'; 2 * MIN_LEN]);
        let regions = Regions::new();
        let memory = Bytes::from(vec![b'm'; 2 * MIN_LEN]);
        let _kept = meddle(&path, regions.register(&memory, file, stamp).unwrap());
        let (mut stream, mut client) = pair(&regions).await;
        stream.write_all(&memory).await.unwrap();
        received(&mut client, memory.len()).await
    }

    #[tokio::test]
    async fn a_file_changed_since_it_was_read_is_sent_from_memory() {
        let got = sent_after(|path, registration| {
            std::fs::write(path, vec![b'n'; 2 * MIN_LEN + 1]).unwrap();
            Some(registration)
        })
        .await;
        assert!(got.iter().all(|&b| b == b'm'));
    }

    #[tokio::test]
    async fn an_unregistered_region_is_sent_from_memory() {
        let got = sent_after(|_, _registration| None).await;
        assert!(got.iter().all(|&b| b == b'm'));
    }

    #[test]
    fn small_slices_and_too_many_files_are_not_registered() {
        let dir = tempfile::tempdir().unwrap();
        let regions = Regions::new();
        let small = Bytes::from(vec![0; MIN_LEN - 1]);
        let (_, file, stamp) = file_of(&dir, &[b'd'; 2 * MIN_LEN]);
        assert!(regions.register(&small, file, stamp).is_none());
        let held: Vec<_> = (0..MAX_FILES + 1)
            .map(|_| {
                let (_, file, stamp) = file_of(&dir, &[b'd'; 2 * MIN_LEN]);
                let bytes = Bytes::from(vec![0; MIN_LEN]);
                (regions.register(&bytes, file, stamp), bytes)
            })
            .collect();
        assert_eq!(held.iter().filter(|(r, _)| r.is_some()).count(), MAX_FILES);
    }
}
