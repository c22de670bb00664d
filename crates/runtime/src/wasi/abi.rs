//! WASI preview 1 ABI: the module name, errno values, witx layouts the overrides read and
//! write, and bounds-checked little-endian reads of guest memory.

/// WASI preview 1 module name.
pub(crate) const WASI_MODULE: &str = "wasi_snapshot_preview1";

// WASI preview 1 errno values (witx `errno`).
pub(super) const ERRNO_SUCCESS: i32 = 0;
pub(super) const ERRNO_FAULT: i32 = 21;
pub(super) const ERRNO_INVAL: i32 = 28;
pub(super) const ERRNO_NOBUFS: i32 = 42;
pub(super) const ERRNO_NOTSUP: i32 = 58;

// witx `filestat`: dev u64 @0, ino u64 @8, filetype u8 @16, nlink u64 @24, size u64 @32,
// atim u64 @40, mtim u64 @48, ctim u64 @56 (64 bytes).
pub(super) const FILESTAT_SIZE: usize = 64;

// witx `dirent`: d_next u64 @0, d_ino u64 @8, d_namlen u32 @16, d_type u8 @20 (24 bytes),
// followed by the name.
pub(super) const DIRENT_SIZE: usize = 24;

// witx layouts: subscription = userdata u64 @0, tag u8 @8, then for a clock: id u32 @16,
// timeout u64 @24, precision u64 @32, flags u16 @40 (48 bytes); event = userdata u64 @0,
// error u16 @8, type u8 @10, nbytes u64 @16, flags u16 @24 (32 bytes).
pub(super) const SUBSCRIPTION_SIZE: u64 = 48;
pub(super) const EVENT_SIZE: u64 = 32;
pub(super) const EVENTTYPE_CLOCK: u8 = 0;
pub(super) const CLOCKID_REALTIME: u32 = 0;
pub(super) const CLOCKID_MONOTONIC: u32 = 1;
pub(super) const SUBSCRIPTION_CLOCK_ABSTIME: u16 = 1;

pub(super) fn slice(data: &[u8], at: u64, len: u64) -> Option<&[u8]> {
    let start = usize::try_from(at).ok()?;
    let end = start.checked_add(usize::try_from(len).ok()?)?;
    data.get(start..end)
}

pub(super) fn read_u32(data: &[u8], at: u64) -> Option<u32> {
    slice(data, at, 4).and_then(|b| b.try_into().ok().map(u32::from_le_bytes))
}

pub(super) fn read_u64(data: &[u8], at: u64) -> Option<u64> {
    slice(data, at, 8).and_then(|b| b.try_into().ok().map(u64::from_le_bytes))
}
