//! Gas of one or more transactions: receipt `gasUsed` and its intrinsic part.

use alloy::contract::{CallBuilder, CallDecoder};
use alloy::providers::Provider;
use alloy::rpc::types::TransactionReceipt;
use dexec_contracts::tx::send;

/// Gas of one or more transactions.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(super) struct Measured {
    /// Receipt gasUsed.
    pub gas: u64,
    /// Of which the intrinsic part: 21,000 + calldata (4 per zero byte, 16 per other byte).
    pub intrinsic: u64,
}

impl Measured {
    /// Per task of a flow that settled `tasks` tasks (rounded to the nearest unit).
    pub(super) fn per_task(self, tasks: u64) -> Self {
        Self {
            gas: (self.gas + tasks / 2) / tasks,
            intrinsic: (self.intrinsic + tasks / 2) / tasks,
        }
    }
}

impl std::iter::Sum for Measured {
    fn sum<I: Iterator<Item = Self>>(iter: I) -> Self {
        iter.fold(Self::default(), |a, b| a + b)
    }
}

impl std::ops::Add for Measured {
    type Output = Self;

    fn add(self, other: Self) -> Self {
        Self {
            gas: self.gas + other.gas,
            intrinsic: self.intrinsic + other.intrinsic,
        }
    }
}

/// Send `call` and measure it.
pub(super) async fn measured<P: Provider, D: CallDecoder>(
    call: &CallBuilder<P, D>,
) -> eyre::Result<(TransactionReceipt, Measured)> {
    let receipt = send(call).await?;
    let input = call.calldata();
    let zeros = input.iter().filter(|&&b| b == 0).count() as u64;
    let intrinsic = 21_000 + 4 * zeros + 16 * (input.len() as u64 - zeros);
    let gas = Measured {
        gas: receipt.gas_used,
        intrinsic,
    };
    Ok((receipt, gas))
}
