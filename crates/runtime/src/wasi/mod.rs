//! The WASI side of the sandbox: per-run store state, the virtual clock, the seeded random
//! source, bounded stdout/stderr capture, and the WASI functions dexec overrides.
//!
//! Overrides (installed over wasmtime-wasi's preview 1 functions, see [`add_overrides`]):
//! - `poll_oneoff` never blocks: clock subscriptions advance the virtual clock, fd
//!   subscriptions are reported ready (files and captured stdio always are). wasmtime-wasi's
//!   own version sleeps on the host, which would let an app hold a worker thread beyond any
//!   epoch deadline and make time observable.
//! - `fd_write` / `fd_pwrite` to files count the bytes an app asks to write and stop the run
//!   with [`Limit::WrittenBytes`](crate::Limit::WrittenBytes) past the budget, so an app
//!   cannot fill the worker's disk before the output-size check that follows the run.
//! - `proc_exit` accepts every code (wasmtime-wasi turns codes ≥ 126 into a host error).
//! - `fd_readdir` lists entries sorted by name (hosts list them in file-system order), and
//!   `fd_filestat_get` / `path_filestat_get` report `dev` 0 and every timestamp as the virtual
//!   clock's start (host timestamps differ between workers). Inode numbers stay the host's:
//!   an app must not print them.
//! - `path_symlink` / `path_link` answer `ENOTSUP`: a link in `/iexec_out` could point the
//!   worker's host-side result handling (digest, zip) outside the sandbox.

mod abi;
mod capture;
mod clock;
mod filestat;
mod limits;
mod poll;
mod random;
mod readdir;
mod write;

use wasmtime::{AsContextMut, Caller, Linker};
use wasmtime_wasi::p1::wasi_snapshot_preview1::{self as p1, WasiSnapshotPreview1 as _};
use wasmtime_wasi::p1::WasiP1Ctx;
use wasmtime_wasi::I32Exit;
use wiggle::GuestMemory;

use abi::{ERRNO_NOTSUP, ERRNO_SUCCESS, WASI_MODULE};
pub(crate) use capture::Capture;
pub(crate) use clock::VirtualClock;
use filestat::scrub_filestat;
pub(crate) use limits::{Limiter, WriteBudgetExceeded};
use poll::poll_oneoff;
pub(crate) use random::SeededRng;
use readdir::fd_readdir;
use write::charge_write;

/// The data of a run's store.
pub(crate) struct State {
    pub wasi: WasiP1Ctx,
    pub limiter: Limiter,
    pub clock: VirtualClock,
    /// Bytes the app asked to write to files so far, and the budget.
    pub written: u64,
    pub max_written: u64,
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
                in_tokio(p1::fd_write(wasi, memory, fd, iovs, iovs_len, nwritten))
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
                in_tokio(p1::fd_pwrite(
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
                in_tokio(p1::fd_filestat_get(wasi, memory, fd, buf))
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
                in_tokio(p1::path_filestat_get(
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

/// Run a wasmtime-wasi future to completion on this thread, as its sync bindings do.
fn in_tokio<F: std::future::Future>(future: F) -> F::Output {
    wasmtime_wasi::runtime::in_tokio(future)
}
