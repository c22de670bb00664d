//! Fuel: the unit of work of a task.

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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn xs_grants_three_hundred_billion() {
        assert_eq!(fuel_for_category(300), 300_000_000_000);
        assert_eq!(fuel_for_category(0), 0);
        assert_eq!(fuel_for_category(u64::MAX), u64::MAX);
    }
}
