//! The virtual clock behind `clock_time_get` and `poll_oneoff`.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use wasmtime_wasi::{HostMonotonicClock, HostWallClock};

/// Virtual time shared by the wall clock, the monotonic clock and `poll_oneoff`.
///
/// Time starts at `start` (wall) and 0 (monotonic) and advances only deterministically: by
/// [`CLOCK_STEP`] at every reading (so busy-waiting loops terminate and two readings differ)
/// and by the requested duration at every sleep.
#[derive(Clone)]
pub(crate) struct VirtualClock {
    wall_start: Duration,
    pub(super) elapsed_ns: Arc<AtomicU64>,
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
    pub(super) fn advance(&self, ns: u64) -> u64 {
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

    pub(super) fn wall_ns(&self, elapsed: u64) -> u64 {
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

#[cfg(test)]
mod tests {
    use super::*;

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
}
