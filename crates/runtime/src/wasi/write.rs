//! The file-write budget, charged before `fd_write` / `fd_pwrite`.

use wasmtime::Caller;

use super::abi::read_u32;
use super::{State, WriteBudgetExceeded};
use crate::runtime::Limit;

/// Count the bytes of a write to a file (fd ≥ 3: stdio is bounded by [`Capture`](super::Capture)) against the
/// budget: the length of the first non-empty iovec, which is what wasmtime-wasi writes per
/// call. A bad iovec pointer is left for the real `fd_write` to report as `EFAULT`.
pub(super) fn charge_write(
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
