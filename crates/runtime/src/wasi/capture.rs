//! Bounded in-memory stdout/stderr.

use std::io;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};

use bytes::Bytes;
use wasmtime_wasi::cli::{IsTerminal, StdoutStream};
use wasmtime_wasi::p2::{OutputStream, Pollable, StreamResult};

/// An in-memory stdout/stderr that keeps the first `capacity` bytes and silently drops the
/// rest (the app never sees an error, so output volume cannot change its behaviour).
#[derive(Clone)]
pub(crate) struct Capture {
    inner: Arc<Mutex<CaptureBuf>>,
}

struct CaptureBuf {
    bytes: Vec<u8>,
    capacity: usize,
    total: u64,
}

impl Capture {
    pub fn new(capacity: usize) -> Self {
        Self {
            inner: Arc::new(Mutex::new(CaptureBuf {
                bytes: Vec::new(),
                capacity,
                total: 0,
            })),
        }
    }

    fn push(&self, data: &[u8]) {
        // A poisoned lock only means another writer panicked mid-push: the bytes are still valid.
        let mut buf = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        let room = buf.capacity.saturating_sub(buf.bytes.len());
        let keep = room.min(data.len());
        buf.bytes.extend_from_slice(&data[..keep]);
        buf.total = buf.total.saturating_add(data.len() as u64);
    }

    /// The kept bytes and whether some were dropped.
    pub fn take(&self) -> (Vec<u8>, bool) {
        let mut buf = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        let truncated = buf.total > buf.bytes.len() as u64;
        (std::mem::take(&mut buf.bytes), truncated)
    }
}

impl IsTerminal for Capture {
    fn is_terminal(&self) -> bool {
        false
    }
}

impl StdoutStream for Capture {
    fn p2_stream(&self) -> Box<dyn OutputStream> {
        Box::new(self.clone())
    }

    fn async_stream(&self) -> Box<dyn tokio::io::AsyncWrite + Send + Sync> {
        Box::new(self.clone())
    }
}

#[wasmtime_wasi::async_trait]
impl OutputStream for Capture {
    fn write(&mut self, bytes: Bytes) -> StreamResult<()> {
        self.push(&bytes);
        Ok(())
    }

    fn flush(&mut self) -> StreamResult<()> {
        Ok(())
    }

    fn check_write(&mut self) -> StreamResult<usize> {
        // Always ready; what does not fit is dropped by `push`.
        Ok(1 << 20)
    }
}

#[wasmtime_wasi::async_trait]
impl Pollable for Capture {
    async fn ready(&mut self) {}
}

impl tokio::io::AsyncWrite for Capture {
    fn poll_write(
        self: Pin<&mut Self>,
        _cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        self.push(buf);
        Poll::Ready(Ok(buf.len()))
    }

    fn poll_flush(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }

    fn poll_shutdown(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn capture_keeps_the_first_bytes() {
        let capture = Capture::new(4);
        capture.push(b"abc");
        capture.push(b"def");
        assert_eq!(capture.take(), (b"abcd".to_vec(), true));
        let small = Capture::new(4);
        small.push(b"ab");
        assert_eq!(small.take(), (b"ab".to_vec(), false));
    }
}
