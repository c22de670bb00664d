//! `fd_readdir` in name order.

use wasmtime::{AsContextMut, Caller};
use wasmtime_wasi::p1::wasi_snapshot_preview1::{self as p1, WasiSnapshotPreview1 as _};
use wiggle::GuestMemory;

use super::abi::{read_u32, read_u64, DIRENT_SIZE, ERRNO_FAULT, ERRNO_NOBUFS, ERRNO_SUCCESS};
use super::{in_tokio, State};

/// The largest directory listing (in WASI dirent bytes) `fd_readdir` sorts: 64 MiB.
const MAX_LISTING_BYTES: usize = 64 << 20;

/// Deterministic `fd_readdir(fd, buf, buf_len, cookie, bufused) -> errno`.
///
/// Lists the whole directory with wasmtime-wasi's own `fd_readdir` into host memory, sorts
/// the entries by name (`.` and `..` first), renumbers the cookies, and writes the entries
/// from `cookie` on into `buf` exactly as wasmtime-wasi does (the last one may be cut short,
/// `bufused == buf_len` meaning "call again").
pub(super) fn fd_readdir(
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
        let errno = in_tokio(p1::fd_readdir(
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
