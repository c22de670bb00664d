//! The WASI side of the sandbox: per-run store state, the virtual clock, the seeded random
//! source, bounded stdout/stderr capture, and the WASI functions dexec overrides.
//!
//! Overrides (installed over wasmtime-wasi's preview 1 functions, see [`add_overrides`]):
//! - `poll_oneoff` never blocks: clock subscriptions advance the virtual clock, fd
//!   subscriptions are reported ready (files and captured stdio always are). wasmtime-wasi's
//!   own version sleeps on the host, which would let an app hold a worker thread beyond any
//!   epoch deadline and make time observable.
//! - `fd_write` / `fd_pwrite` to files count the bytes an app asks to write and stop the run
//!   with [`Limit::WrittenBytes`] past the budget, so an app cannot fill the worker's disk
//!   before the output-size check that follows the run.
//! - `proc_exit` accepts every code (wasmtime-wasi turns codes ≥ 126 into a host error).
//! - `fd_readdir` lists entries sorted by name (hosts list them in file-system order), and
//!   `fd_filestat_get` / `path_filestat_get` report `dev` 0 and every timestamp as the virtual
//!   clock's start (host timestamps differ between workers). Inode numbers stay the host's:
//!   an app must not print them.
//! - `path_symlink` / `path_link` answer `ENOTSUP`: a link in `/iexec_out` could point the
//!   worker's host-side result handling (digest, zip) outside the sandbox.

use std::convert::Infallible;
use std::io;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use sha2::{Digest, Sha256};
use wasmtime::{AsContextMut, Caller, Linker, ResourceLimiter, StoreLimits};
use wasmtime_wasi::cli::{IsTerminal, StdoutStream};
use wasmtime_wasi::p1::wasi_snapshot_preview1::{self as abi, WasiSnapshotPreview1 as _};
use wasmtime_wasi::p1::WasiP1Ctx;
use wasmtime_wasi::p2::{OutputStream, Pollable, StreamResult};
use wasmtime_wasi::{HostMonotonicClock, HostWallClock, I32Exit};
use wiggle::GuestMemory;

use crate::runtime::Limit;

/// WASI preview 1 module name.
pub(crate) const WASI_MODULE: &str = "wasi_snapshot_preview1";

// WASI preview 1 errno values (witx `errno`).
const ERRNO_SUCCESS: i32 = 0;
const ERRNO_FAULT: i32 = 21;
const ERRNO_INVAL: i32 = 28;
const ERRNO_NOTSUP: i32 = 58;

/// The data of a run's store.
pub(crate) struct State {
    pub wasi: WasiP1Ctx,
    pub limiter: Limiter,
    pub clock: VirtualClock,
    /// Bytes the app asked to write to files so far, and the budget.
    pub written: u64,
    pub max_written: u64,
}

/// [`StoreLimits`] (memory size, table elements, instance counts; `trap_on_grow_failure`) that
/// remembers which limit stopped the run, so the outcome can say so.
pub(crate) struct Limiter {
    inner: StoreLimits,
    pub hit: Option<Limit>,
}

impl Limiter {
    pub fn new(inner: StoreLimits) -> Self {
        Self { inner, hit: None }
    }

    fn record<T>(&mut self, limit: Limit, result: wasmtime::Result<T>) -> wasmtime::Result<T> {
        if result.is_err() {
            self.hit.get_or_insert(limit);
        }
        result
    }
}

impl ResourceLimiter for Limiter {
    fn memory_growing(
        &mut self,
        current: usize,
        desired: usize,
        maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        let result = self.inner.memory_growing(current, desired, maximum);
        self.record(Limit::Memory, result)
    }

    fn memory_grow_failed(&mut self, error: wasmtime::Error) -> wasmtime::Result<()> {
        let result = self.inner.memory_grow_failed(error);
        self.record(Limit::Memory, result)
    }

    fn table_growing(
        &mut self,
        current: usize,
        desired: usize,
        maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        let result = self.inner.table_growing(current, desired, maximum);
        self.record(Limit::TableElements, result)
    }

    fn table_grow_failed(&mut self, error: wasmtime::Error) -> wasmtime::Result<()> {
        let result = self.inner.table_grow_failed(error);
        self.record(Limit::TableElements, result)
    }

    fn instances(&self) -> usize {
        self.inner.instances()
    }

    fn tables(&self) -> usize {
        self.inner.tables()
    }

    fn memories(&self) -> usize {
        self.inner.memories()
    }
}

/// The error an override returns to stop the run when the write budget is spent.
#[derive(Debug, thiserror::Error)]
#[error("the app wrote more than {0} bytes to files")]
pub(crate) struct WriteBudgetExceeded(pub u64);

/// Virtual time shared by the wall clock, the monotonic clock and `poll_oneoff`.
///
/// Time starts at `start` (wall) and 0 (monotonic) and advances only deterministically: by
/// [`CLOCK_STEP`] at every reading (so busy-waiting loops terminate and two readings differ)
/// and by the requested duration at every sleep.
#[derive(Clone)]
pub(crate) struct VirtualClock {
    wall_start: Duration,
    elapsed_ns: Arc<AtomicU64>,
}

/// How much virtual time one clock reading takes (1 µs), also the clocks' resolution.
pub(crate) const CLOCK_STEP: Duration = Duration::from_micros(1);

impl VirtualClock {
    pub fn new(wall_start: Duration) -> Self {
        Self {
            wall_start,
            elapsed_ns: Arc::new(AtomicU64::new(0)),
        }
    }

    /// Advance by `ns` and return the new elapsed time in nanoseconds.
    fn advance(&self, ns: u64) -> u64 {
        // A run has one thread, so a plain load/store would do; the atomic makes the clock
        // `Send + Sync` as wasmtime-wasi requires.
        let prev = self
            .elapsed_ns
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |t| {
                Some(t.saturating_add(ns))
            })
            .unwrap_or_else(|t| t);
        prev.saturating_add(ns)
    }

    fn read(&self) -> u64 {
        self.advance(step_ns())
    }

    fn wall_ns(&self, elapsed: u64) -> u64 {
        u64::try_from(self.wall_start.as_nanos())
            .unwrap_or(u64::MAX)
            .saturating_add(elapsed)
    }
}

fn step_ns() -> u64 {
    // CLOCK_STEP is 1 µs: the conversion cannot overflow.
    CLOCK_STEP.as_nanos() as u64
}

impl HostWallClock for VirtualClock {
    fn resolution(&self) -> Duration {
        CLOCK_STEP
    }

    fn now(&self) -> Duration {
        Duration::from_nanos(self.wall_ns(self.read()))
    }
}

impl HostMonotonicClock for VirtualClock {
    fn resolution(&self) -> u64 {
        step_ns()
    }

    fn now(&self) -> u64 {
        self.read()
    }
}

/// A deterministic, cryptographically strong byte stream: SHA-256 in counter mode,
/// `block_i = sha256(domain ‖ seed ‖ i as u64 little-endian)`.
///
/// Seeded with the task id, it gives every worker the same "random" bytes for a task and
/// different bytes for different tasks.
pub(crate) struct SeededRng {
    prefix: Vec<u8>,
    counter: u64,
    block: [u8; 32],
    used: usize,
}

impl SeededRng {
    pub fn new(domain: &[u8], seed: &[u8]) -> Self {
        let mut prefix = Vec::with_capacity(domain.len() + seed.len());
        prefix.extend_from_slice(domain);
        prefix.extend_from_slice(seed);
        Self {
            prefix,
            counter: 0,
            block: [0; 32],
            used: 32,
        }
    }

    fn fill(&mut self, out: &mut [u8]) {
        for byte in out {
            if self.used == self.block.len() {
                let mut hasher = Sha256::new();
                hasher.update(&self.prefix);
                hasher.update(self.counter.to_le_bytes());
                self.block = hasher.finalize().into();
                self.counter = self.counter.wrapping_add(1);
                self.used = 0;
            }
            *byte = self.block[self.used];
            self.used += 1;
        }
    }
}

impl rand_core::TryRng for SeededRng {
    type Error = Infallible;

    fn try_next_u32(&mut self) -> Result<u32, Infallible> {
        let mut b = [0; 4];
        self.fill(&mut b);
        Ok(u32::from_le_bytes(b))
    }

    fn try_next_u64(&mut self) -> Result<u64, Infallible> {
        let mut b = [0; 8];
        self.fill(&mut b);
        Ok(u64::from_le_bytes(b))
    }

    fn try_fill_bytes(&mut self, dst: &mut [u8]) -> Result<(), Infallible> {
        self.fill(dst);
        Ok(())
    }
}

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

/// Install dexec's overrides over wasmtime-wasi's functions in `linker` (which must allow
/// shadowing). See the module docs for what each one does and why.
pub(crate) fn add_overrides(linker: &mut Linker<State>) -> wasmtime::Result<()> {
    linker.func_wrap(WASI_MODULE, "poll_oneoff", poll_oneoff)?;
    // wasmtime-wasi rejects codes ≥ 126 with a host error; any code is a deterministic exit.
    linker.func_wrap(
        WASI_MODULE,
        "proc_exit",
        |code: i32| -> wasmtime::Result<()> { Err(wasmtime::Error::new(I32Exit(code))) },
    )?;
    linker.func_wrap(
        WASI_MODULE,
        "fd_write",
        |mut caller: Caller<'_, State>,
         fd: i32,
         iovs: i32,
         iovs_len: i32,
         nwritten: i32|
         -> wasmtime::Result<i32> {
            charge_write(&mut caller, fd, iovs, iovs_len)?;
            with_wasi(&mut caller, |wasi, memory| {
                in_tokio(abi::fd_write(wasi, memory, fd, iovs, iovs_len, nwritten))
            })
        },
    )?;
    linker.func_wrap(
        WASI_MODULE,
        "fd_pwrite",
        |mut caller: Caller<'_, State>,
         fd: i32,
         iovs: i32,
         iovs_len: i32,
         offset: i64,
         nwritten: i32|
         -> wasmtime::Result<i32> {
            charge_write(&mut caller, fd, iovs, iovs_len)?;
            with_wasi(&mut caller, |wasi, memory| {
                in_tokio(abi::fd_pwrite(
                    wasi, memory, fd, iovs, iovs_len, offset, nwritten,
                ))
            })
        },
    )?;
    linker.func_wrap(WASI_MODULE, "fd_readdir", fd_readdir)?;
    linker.func_wrap(
        WASI_MODULE,
        "fd_filestat_get",
        |mut caller: Caller<'_, State>, fd: i32, buf: i32| -> wasmtime::Result<i32> {
            let errno = with_wasi(&mut caller, |wasi, memory| {
                in_tokio(abi::fd_filestat_get(wasi, memory, fd, buf))
            })?;
            if errno == ERRNO_SUCCESS {
                scrub_filestat(&mut caller, buf);
            }
            Ok(errno)
        },
    )?;
    linker.func_wrap(
        WASI_MODULE,
        "path_filestat_get",
        |mut caller: Caller<'_, State>,
         fd: i32,
         flags: i32,
         path: i32,
         path_len: i32,
         buf: i32|
         -> wasmtime::Result<i32> {
            let errno = with_wasi(&mut caller, |wasi, memory| {
                in_tokio(abi::path_filestat_get(
                    wasi, memory, fd, flags, path, path_len, buf,
                ))
            })?;
            if errno == ERRNO_SUCCESS {
                scrub_filestat(&mut caller, buf);
            }
            Ok(errno)
        },
    )?;
    linker.func_wrap(
        WASI_MODULE,
        "path_symlink",
        |_: i32, _: i32, _: i32, _: i32, _: i32| -> i32 { ERRNO_NOTSUP },
    )?;
    linker.func_wrap(
        WASI_MODULE,
        "path_link",
        |_: i32, _: i32, _: i32, _: i32, _: i32, _: i32, _: i32| -> i32 { ERRNO_NOTSUP },
    )?;
    Ok(())
}

/// Call wasmtime-wasi's own implementation of a function with the app's memory, as the
/// bindings `add_to_linker_sync` installs do (a host function cannot call another one through
/// the linker: the callee would not see the app's memory).
///
/// This uses wasmtime-wasi's generated `p1::wasi_snapshot_preview1` functions, public but not
/// documented as stable: the versions are pinned exactly in Cargo.toml.
fn with_wasi(
    caller: &mut Caller<'_, State>,
    call: impl FnOnce(&mut WasiP1Ctx, &mut GuestMemory<'_>) -> wiggle::error::Result<i32>,
) -> wasmtime::Result<i32> {
    let fuel = caller.as_context_mut().hostcall_fuel();
    let Some(memory) = caller
        .get_export("memory")
        .and_then(wasmtime::Extern::into_memory)
    else {
        wasmtime::bail!("missing required memory export");
    };
    let (memory, state) = memory.data_and_store_mut(caller);
    state.wasi.set_hostcall_fuel(fuel);
    call(&mut state.wasi, &mut GuestMemory::Unshared(memory))
}

// witx `filestat`: dev u64 @0, ino u64 @8, filetype u8 @16, nlink u64 @24, size u64 @32,
// atim u64 @40, mtim u64 @48, ctim u64 @56 (64 bytes).
const FILESTAT_SIZE: usize = 64;

/// Overwrite the host-specific fields of the `filestat` wasmtime-wasi just wrote at `buf`:
/// `dev` becomes 0 and the three timestamps the virtual clock's start.
fn scrub_filestat(caller: &mut Caller<'_, State>, buf: i32) {
    let start = caller.data().clock.wall_ns(0).to_le_bytes();
    let Some(memory) = caller
        .get_export("memory")
        .and_then(wasmtime::Extern::into_memory)
    else {
        return;
    };
    let at = buf as u32 as usize;
    if let Some(stat) = memory
        .data_mut(&mut *caller)
        .get_mut(at..at.saturating_add(FILESTAT_SIZE))
    {
        stat[0..8].fill(0);
        for field in [40, 48, 56] {
            stat[field..field + 8].copy_from_slice(&start);
        }
    }
}

// witx `dirent`: d_next u64 @0, d_ino u64 @8, d_namlen u32 @16, d_type u8 @20 (24 bytes),
// followed by the name.
const DIRENT_SIZE: usize = 24;
/// The largest directory listing (in WASI dirent bytes) `fd_readdir` sorts: 64 MiB.
const MAX_LISTING_BYTES: usize = 64 << 20;
const ERRNO_NOBUFS: i32 = 42;

/// Deterministic `fd_readdir(fd, buf, buf_len, cookie, bufused) -> errno`.
///
/// Lists the whole directory with wasmtime-wasi's own `fd_readdir` into host memory, sorts
/// the entries by name (`.` and `..` first), renumbers the cookies, and writes the entries
/// from `cookie` on into `buf` exactly as wasmtime-wasi does (the last one may be cut short,
/// `bufused == buf_len` meaning "call again").
fn fd_readdir(
    mut caller: Caller<'_, State>,
    fd: i32,
    buf: i32,
    buf_len: i32,
    cookie: i64,
    bufused: i32,
) -> wasmtime::Result<i32> {
    // scratch = bufused (4 bytes) ‖ listing
    let mut size = 64 << 10;
    let listing = loop {
        let mut scratch = vec![0u8; 4 + size];
        let fuel = caller.as_context_mut().hostcall_fuel();
        let wasi = &mut caller.data_mut().wasi;
        wasi.set_hostcall_fuel(fuel);
        let len = i32::try_from(size).unwrap_or(i32::MAX);
        let errno = in_tokio(abi::fd_readdir(
            wasi,
            &mut GuestMemory::Unshared(&mut scratch),
            fd,
            4,
            len,
            0,
            0,
        ))?;
        if errno != ERRNO_SUCCESS {
            return Ok(errno);
        }
        let used = read_u32(&scratch, 0).unwrap_or(0) as usize;
        if used < size {
            scratch.truncate(4 + used);
            scratch.drain(..4);
            break scratch;
        }
        if size >= MAX_LISTING_BYTES {
            return Ok(ERRNO_NOBUFS);
        }
        size *= 4;
    };

    let mut entries: Vec<(u64, u8, &[u8])> = Vec::new();
    let mut at = 0;
    while at + DIRENT_SIZE <= listing.len() {
        let ino = read_u64(&listing, at as u64 + 8).unwrap_or(0);
        let namlen = read_u32(&listing, at as u64 + 16).unwrap_or(0) as usize;
        let kind = listing[at + 20];
        let name_at = at + DIRENT_SIZE;
        let Some(name) = listing.get(name_at..name_at + namlen) else {
            break;
        };
        entries.push((ino, kind, name));
        at = name_at + namlen;
    }
    let dots = entries
        .iter()
        .take_while(|e| e.2 == b"." || e.2 == b"..")
        .count();
    entries[dots..].sort_by(|a, b| a.2.cmp(b.2));

    let mut out = Vec::new();
    let skip = usize::try_from(cookie as u64).unwrap_or(usize::MAX);
    for (i, (ino, kind, name)) in entries.iter().enumerate().skip(skip) {
        let mut dirent = [0u8; DIRENT_SIZE];
        dirent[0..8].copy_from_slice(&(i as u64 + 1).to_le_bytes());
        dirent[8..16].copy_from_slice(&ino.to_le_bytes());
        dirent[16..20].copy_from_slice(&(name.len() as u32).to_le_bytes());
        dirent[20] = *kind;
        out.extend_from_slice(&dirent);
        out.extend_from_slice(name);
    }
    let cap = buf_len as u32 as usize;
    out.truncate(cap);

    let Some(memory) = caller
        .get_export("memory")
        .and_then(wasmtime::Extern::into_memory)
    else {
        wasmtime::bail!("missing required memory export");
    };
    let data = memory.data_mut(&mut caller);
    let start = buf as u32 as usize;
    let Some(dst) = data.get_mut(start..start + out.len()) else {
        return Ok(ERRNO_FAULT);
    };
    dst.copy_from_slice(&out);
    let at = bufused as u32 as usize;
    let Some(dst) = data.get_mut(at..at + 4) else {
        return Ok(ERRNO_FAULT);
    };
    dst.copy_from_slice(&(out.len() as u32).to_le_bytes());
    Ok(ERRNO_SUCCESS)
}

/// Run a wasmtime-wasi future to completion on this thread, as its sync bindings do.
fn in_tokio<F: std::future::Future>(future: F) -> F::Output {
    wasmtime_wasi::runtime::in_tokio(future)
}

/// Count the bytes of a write to a file (fd ≥ 3: stdio is bounded by [`Capture`]) against the
/// budget: the length of the first non-empty iovec, which is what wasmtime-wasi writes per
/// call. A bad iovec pointer is left for the real `fd_write` to report as `EFAULT`.
fn charge_write(
    caller: &mut Caller<'_, State>,
    fd: i32,
    iovs: i32,
    iovs_len: i32,
) -> wasmtime::Result<()> {
    if (0..=2).contains(&fd) {
        return Ok(());
    }
    let Some(memory) = caller
        .get_export("memory")
        .and_then(wasmtime::Extern::into_memory)
    else {
        return Ok(());
    };
    let data = memory.data(&*caller);
    let mut requested: u64 = 0;
    for i in 0..u32::try_from(iovs_len).unwrap_or(0) {
        let at = (iovs as u32 as u64) + u64::from(i) * 8 + 4;
        match read_u32(data, at) {
            Some(0) => continue,
            Some(len) => {
                requested = u64::from(len);
                break;
            }
            None => return Ok(()),
        }
    }
    let state = caller.data_mut();
    state.written = state.written.saturating_add(requested);
    if state.written > state.max_written {
        state.limiter.hit.get_or_insert(Limit::WrittenBytes);
        return Err(wasmtime::Error::new(WriteBudgetExceeded(state.max_written)));
    }
    Ok(())
}

fn slice(data: &[u8], at: u64, len: u64) -> Option<&[u8]> {
    let start = usize::try_from(at).ok()?;
    let end = start.checked_add(usize::try_from(len).ok()?)?;
    data.get(start..end)
}

fn read_u32(data: &[u8], at: u64) -> Option<u32> {
    slice(data, at, 4).and_then(|b| b.try_into().ok().map(u32::from_le_bytes))
}

fn read_u64(data: &[u8], at: u64) -> Option<u64> {
    slice(data, at, 8).and_then(|b| b.try_into().ok().map(u64::from_le_bytes))
}

// witx layouts: subscription = userdata u64 @0, tag u8 @8, then for a clock: id u32 @16,
// timeout u64 @24, precision u64 @32, flags u16 @40 (48 bytes); event = userdata u64 @0,
// error u16 @8, type u8 @10, nbytes u64 @16, flags u16 @24 (32 bytes).
const SUBSCRIPTION_SIZE: u64 = 48;
const EVENT_SIZE: u64 = 32;
const EVENTTYPE_CLOCK: u8 = 0;
const CLOCKID_REALTIME: u32 = 0;
const CLOCKID_MONOTONIC: u32 = 1;
const SUBSCRIPTION_CLOCK_ABSTIME: u16 = 1;

/// A subscription's event, once known: its userdata, tag, error, and for a clock the virtual
/// nanoseconds to wait.
struct Pending {
    userdata: u64,
    kind: u8,
    errno: u16,
    wait_ns: Option<u64>,
}

/// Deterministic `poll_oneoff(in, out, nsubscriptions, nevents) -> errno`.
///
/// fd subscriptions are ready at once; if any is present, only they (and clocks already due)
/// are reported. Otherwise the virtual clock jumps to the earliest clock deadline and the
/// clocks due then are reported.
fn poll_oneoff(
    mut caller: Caller<'_, State>,
    subs: i32,
    events: i32,
    nsubs: i32,
    nevents: i32,
) -> wasmtime::Result<i32> {
    let Ok(n) = u32::try_from(nsubs) else {
        return Ok(ERRNO_INVAL);
    };
    if n == 0 {
        return Ok(ERRNO_INVAL);
    }
    let Some(memory) = caller
        .get_export("memory")
        .and_then(wasmtime::Extern::into_memory)
    else {
        return Ok(ERRNO_FAULT);
    };
    let clock = caller.data().clock.clone();
    let now_ns = clock.elapsed_ns.load(Ordering::Relaxed);

    let data = memory.data(&caller);
    let base = subs as u32 as u64;
    let mut pending = Vec::with_capacity(n as usize);
    for i in 0..u64::from(n) {
        let at = base + i * SUBSCRIPTION_SIZE;
        let Some(sub) = slice(data, at, SUBSCRIPTION_SIZE) else {
            return Ok(ERRNO_FAULT);
        };
        let userdata = read_u64(sub, 0).unwrap_or(0);
        let kind = sub[8];
        let mut event = Pending {
            userdata,
            kind,
            errno: 0,
            wait_ns: None,
        };
        if kind == EVENTTYPE_CLOCK {
            let id = read_u32(sub, 16).unwrap_or(u32::MAX);
            let timeout = read_u64(sub, 24).unwrap_or(0);
            let flags = u16::from_le_bytes([sub[40], sub[41]]);
            let absolute = flags & SUBSCRIPTION_CLOCK_ABSTIME != 0;
            event.wait_ns = match (id, absolute) {
                (CLOCKID_REALTIME | CLOCKID_MONOTONIC, false) => Some(timeout),
                (CLOCKID_MONOTONIC, true) => Some(timeout.saturating_sub(now_ns)),
                (CLOCKID_REALTIME, true) => Some(timeout.saturating_sub(clock.wall_ns(now_ns))),
                _ => {
                    event.errno = ERRNO_INVAL as u16;
                    Some(0)
                }
            };
        } else if kind > 2 {
            return Ok(ERRNO_INVAL);
        }
        pending.push(event);
    }

    let any_fd = pending.iter().any(|e| e.wait_ns.is_none());
    let due_after = if any_fd {
        0
    } else {
        pending.iter().filter_map(|e| e.wait_ns).min().unwrap_or(0)
    };
    clock.advance(due_after);

    let mut out = Vec::new();
    for e in pending
        .iter()
        .filter(|e| e.wait_ns.is_none_or(|w| w <= due_after))
    {
        let mut event = [0u8; EVENT_SIZE as usize];
        event[0..8].copy_from_slice(&e.userdata.to_le_bytes());
        event[8..10].copy_from_slice(&e.errno.to_le_bytes());
        event[10] = e.kind;
        out.push(event);
    }
    let count = out.len() as u32;
    let data = memory.data_mut(&mut caller);
    let base = events as u32 as u64;
    for (i, event) in out.iter().enumerate() {
        let at = base + i as u64 * EVENT_SIZE;
        let Some(start) = usize::try_from(at).ok() else {
            return Ok(ERRNO_FAULT);
        };
        let Some(dst) = data.get_mut(start..start + EVENT_SIZE as usize) else {
            return Ok(ERRNO_FAULT);
        };
        dst.copy_from_slice(event);
    }
    let Some(dst) = usize::try_from(nevents as u32)
        .ok()
        .and_then(|at| data.get_mut(at..at + 4))
    else {
        return Ok(ERRNO_FAULT);
    };
    dst.copy_from_slice(&count.to_le_bytes());
    Ok(ERRNO_SUCCESS)
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand_core::TryRng;

    #[test]
    fn seeded_rng_is_deterministic_and_seed_dependent() {
        let mut a = SeededRng::new(b"d", &[1; 32]);
        let mut b = SeededRng::new(b"d", &[1; 32]);
        let mut c = SeededRng::new(b"d", &[2; 32]);
        let (mut x, mut y, mut z) = ([0u8; 100], [0u8; 100], [0u8; 100]);
        a.try_fill_bytes(&mut x).expect("infallible");
        b.try_fill_bytes(&mut y[..33]).expect("infallible");
        b.try_fill_bytes(&mut y[33..]).expect("infallible");
        c.try_fill_bytes(&mut z).expect("infallible");
        assert_eq!(x, y, "chunking must not change the stream");
        assert_ne!(x, z);
    }

    #[test]
    fn virtual_clock_advances_per_reading_and_sleep() {
        let clock = VirtualClock::new(Duration::from_secs(100));
        assert_eq!(HostMonotonicClock::now(&clock), 1_000);
        assert_eq!(HostMonotonicClock::now(&clock), 2_000);
        clock.advance(5_000_000_000);
        assert_eq!(
            HostWallClock::now(&clock),
            Duration::from_secs(105) + Duration::from_micros(3)
        );
    }

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
