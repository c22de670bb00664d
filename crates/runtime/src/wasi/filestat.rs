//! Host-independent `filestat`s.

use wasmtime::Caller;

use super::abi::FILESTAT_SIZE;
use super::State;

/// Overwrite the host-specific fields of the `filestat` wasmtime-wasi just wrote at `buf`:
/// `dev` becomes 0 and the three timestamps the virtual clock's start.
pub(super) fn scrub_filestat(caller: &mut Caller<'_, State>, buf: i32) {
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
