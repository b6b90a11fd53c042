//! The IMAP connection's clock: a read or write that waits on the server longer than the
//! configured timeout fails, whichever command is waiting (SELECT, FETCH, SEARCH, STORE,
//! MOVE, LIST, NAMESPACE, DONE, LOGOUT...), except while delega idles in IDLE, where the
//! silence is the point (that wait has its own renewal timer, `watch.rs`).
//!
//! Put under the stream rather than around each command: every command after login is
//! bounded, including the ones written later, and a long command that keeps answering (a
//! FETCH of thousands of messages) is not cut off; only a server gone quiet is. Shutdown
//! does not need to reach in here: the account task drops the connection it is waiting on.

use std::future::Future;
use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::task::{Context, Poll};
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::time::Sleep;

/// A stream whose waits on the server are bounded by `limit`.
#[derive(Debug)]
pub struct Deadline<S> {
    inner: S,
    limit: Duration,
    /// Who is waited for, for the error: `host:port`.
    server: String,
    /// Running while a read or write waits; reset by any progress.
    timer: Option<Pin<Box<Sleep>>>,
    /// Set while idling in IDLE: waiting is then unbounded here.
    idling: Arc<AtomicBool>,
}

impl<S> Deadline<S> {
    /// Wraps `inner`: each wait on the server gets at most `limit`.
    pub fn new(inner: S, limit: Duration, server: String) -> Self {
        Deadline {
            inner,
            limit,
            server,
            timer: None,
            idling: Arc::new(AtomicBool::new(false)),
        }
    }

    /// The wrapped stream.
    pub fn get_ref(&self) -> &S {
        &self.inner
    }

    /// The wrapped stream, taken out.
    pub fn into_inner(self) -> S {
        self.inner
    }

    /// A switch that lifts the bound while it is held on (for IDLE).
    pub fn idle_switch(&self) -> IdleSwitch {
        IdleSwitch(Arc::clone(&self.idling))
    }

    /// The inner operation is pending: keep waiting, or fail once `limit` has passed
    /// without progress.
    fn waiting<T>(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<T>> {
        if self.idling.load(Ordering::Relaxed) {
            self.timer = None;
            return Poll::Pending;
        }
        let limit = self.limit;
        let timer = self
            .timer
            .get_or_insert_with(|| Box::pin(tokio::time::sleep(limit)));
        match timer.as_mut().poll(cx) {
            Poll::Pending => Poll::Pending,
            Poll::Ready(()) => {
                self.timer = None;
                Poll::Ready(Err(io::Error::new(
                    io::ErrorKind::TimedOut,
                    format!("no answer from {} within {:?}", self.server, self.limit),
                )))
            }
        }
    }

    fn progressed<T>(&mut self, done: io::Result<T>) -> Poll<io::Result<T>> {
        self.timer = None;
        Poll::Ready(done)
    }
}

/// Lifts a connection's bound while on; back on when dropped.
pub struct IdleSwitch(Arc<AtomicBool>);

impl IdleSwitch {
    /// Lifts the bound until the returned guard is dropped.
    pub fn hold(&self) -> IdleGuard<'_> {
        self.0.store(true, Ordering::Relaxed);
        IdleGuard(self)
    }
}

/// While alive, the connection may wait on the server without bound.
pub struct IdleGuard<'a>(&'a IdleSwitch);

impl Drop for IdleGuard<'_> {
    fn drop(&mut self) {
        (self.0).0.store(false, Ordering::Relaxed);
    }
}

impl<S: AsyncRead + Unpin> AsyncRead for Deadline<S> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        match Pin::new(&mut this.inner).poll_read(cx, buf) {
            Poll::Ready(done) => this.progressed(done),
            Poll::Pending => this.waiting(cx),
        }
    }
}

impl<S: AsyncWrite + Unpin> AsyncWrite for Deadline<S> {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        match Pin::new(&mut this.inner).poll_write(cx, buf) {
            Poll::Ready(done) => this.progressed(done),
            Poll::Pending => this.waiting(cx),
        }
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        match Pin::new(&mut this.inner).poll_flush(cx) {
            Poll::Ready(done) => this.progressed(done),
            Poll::Pending => this.waiting(cx),
        }
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        match Pin::new(&mut this.inner).poll_shutdown(cx) {
            Poll::Ready(done) => this.progressed(done),
            Poll::Pending => this.waiting(cx),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    #[tokio::test(start_paused = true)]
    async fn a_silent_server_fails_the_wait_after_the_limit() {
        let (client, _server) = tokio::io::duplex(64);
        let mut s = Deadline::new(client, Duration::from_secs(30), "imap:993".into());
        let err = s.read_u8().await.expect_err("times out");
        assert_eq!(err.kind(), io::ErrorKind::TimedOut);
        assert!(err.to_string().contains("imap:993 within 30s"), "{err}");
    }

    #[tokio::test(start_paused = true)]
    async fn a_server_that_keeps_answering_is_never_cut_off() {
        let (client, mut server) = tokio::io::duplex(64);
        let mut s = Deadline::new(client, Duration::from_secs(30), "imap:993".into());
        let talker = tokio::spawn(async move {
            for _ in 0..5 {
                tokio::time::sleep(Duration::from_secs(20)).await;
                server.write_all(b"x").await.expect("write");
            }
            server
        });
        // 100 s in all, never 30 s without a byte.
        let mut got = [0u8; 5];
        s.read_exact(&mut got).await.expect("every byte");
        assert_eq!(&got, b"xxxxx");
        drop(talker);
    }

    #[tokio::test(start_paused = true)]
    async fn while_idling_the_wait_is_unbounded() {
        let (client, mut server) = tokio::io::duplex(64);
        let mut s = Deadline::new(client, Duration::from_secs(30), "imap:993".into());
        let switch = s.idle_switch();
        let talker = tokio::spawn(async move {
            tokio::time::sleep(Duration::from_secs(600)).await;
            server.write_all(b"*").await.expect("write");
            server
        });
        {
            let _idle = switch.hold();
            assert_eq!(s.read_u8().await.expect("read"), b'*');
        }
        // Bounded again.
        let err = s.read_u8().await.expect_err("times out");
        assert_eq!(err.kind(), io::ErrorKind::TimedOut);
        drop(talker);
    }
}
