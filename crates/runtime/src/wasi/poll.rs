//! `poll_oneoff` on the virtual clock.

use std::sync::atomic::Ordering;

use wasmtime::Caller;

use super::abi::{
    read_u32, read_u64, slice, CLOCKID_MONOTONIC, CLOCKID_REALTIME, ERRNO_FAULT, ERRNO_INVAL,
    ERRNO_SUCCESS, EVENTTYPE_CLOCK, EVENT_SIZE, SUBSCRIPTION_CLOCK_ABSTIME, SUBSCRIPTION_SIZE,
};
use super::State;

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
pub(super) fn poll_oneoff(
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
