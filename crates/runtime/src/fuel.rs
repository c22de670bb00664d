//! A task's budgets from its category: fuel (the unit of work) and the wall-clock limit.

use std::time::Duration;

/// Fuel granted per second of a category's time reference: 10^9.
///
/// wasmtime charges fuel per WebAssembly operator, and Cranelift folds many operators into
/// few machine instructions: `dexec bench runtime` measured about 2·10^10 fuel per second for
/// the compute-bound `pi` app on a current x86-64 core. Memory-bound code burns fuel several
/// times slower. At 10^9 fuel per reference second, a compute-bound task that spends its whole
/// budget runs for about a twentieth of its category's time reference on such a core, so a
/// slower honest worker, or an app ten times slower per unit of fuel, still finishes before
/// the deadlines derived from the same reference. XS (300 s) grants 3·10^11 fuel: about 15 s
/// of compute-bound work here (`pi` with 6·10^9 iterations).
pub const FUEL_PER_REFERENCE_SECOND: u64 = 1_000_000_000;

/// The fuel budget of a task of a category whose time reference is `time_ref_seconds`
/// (saturating at `u64::MAX`).
pub fn fuel_for_category(time_ref_seconds: u64) -> u64 {
    time_ref_seconds.saturating_mul(FUEL_PER_REFERENCE_SECOND)
}

/// The wall-clock limit of a run of a task whose category's time reference is
/// `time_ref_seconds`: half of it (at least one second).
///
/// Fuel ends a run long before this on an honest worker (a whole budget is about a twentieth of
/// the time reference of compute on the reference core, and every host call costs
/// [`crate::HOST_CALL_FUEL`]), so only a host ten times slower than the reference, or an app
/// that keeps the host busy with large host calls, reaches it. The other half of the time reference is for fetching, compiling, zipping and
/// uploading: the scheduler gives a replicate up after the time reference (its default
/// replicate timeout), and the error result of an app stopped here must reach it before.
/// Every worker of a task uses the same limit: the error result names it.
pub fn wall_clock_limit_for_category(time_ref_seconds: u64) -> Duration {
    Duration::from_secs((time_ref_seconds / 2).max(1))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_wall_clock_limit_is_half_the_time_reference() {
        assert_eq!(wall_clock_limit_for_category(300), Duration::from_secs(150));
        assert_eq!(wall_clock_limit_for_category(1), Duration::from_secs(1));
        assert_eq!(wall_clock_limit_for_category(0), Duration::from_secs(1));
        // what is left for fetch, zip and upload before the scheduler's replicate timeout
        for time_ref in [300, 1_200, 3_600, 10_800, 36_000] {
            assert!(wall_clock_limit_for_category(time_ref) < Duration::from_secs(time_ref));
        }
    }

    #[test]
    fn xs_grants_three_hundred_billion() {
        assert_eq!(fuel_for_category(300), 300_000_000_000);
        assert_eq!(fuel_for_category(0), 0);
        assert_eq!(fuel_for_category(u64::MAX), u64::MAX);
    }
}
