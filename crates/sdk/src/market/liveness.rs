//! Schedulers' heartbeats: a workerpool's scheduler tells the market it is alive by posting a
//! signed heartbeat every few seconds (`POST /workerpools/{address}/heartbeat`). A pool whose
//! heartbeats stop for longer than the market's time-to-live is *offline*: its workerpool
//! orders leave the book (status `offline`) until it beats again, so `dexec app run` never
//! buys from a scheduler that is gone. A pool that never sent one is *unknown* (an operator
//! publishing by hand, an older scheduler): its orders stay listed.
//!
//! The heartbeat is the EIP-712 typed data `SchedulerHeartbeat(address workerpool,uint256
//! timestamp)` under the hub's domain, signed by the workerpool's on-chain owner (the
//! scheduler's wallet); `timestamp` (Unix seconds) must be near the market's clock and newer
//! than the pool's last one, so a heartbeat cannot be replayed to keep a dead pool listed.

use alloy::primitives::{Address, Bytes, B256, U256};
use alloy::signers::SignerSync;
use alloy::sol;
use alloy::sol_types::{Eip712Domain, SolStruct};
use serde::{Deserialize, Serialize};

sol! {
    /// What a workerpool's owner signs, under the hub's EIP-712 domain, to say its scheduler
    /// is alive.
    #[derive(Debug)]
    struct SchedulerHeartbeat {
        /// The workerpool.
        address workerpool;
        /// When it was signed, Unix seconds.
        uint256 timestamp;
    }
}

/// Body of `POST /workerpools/{address}/heartbeat`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "openapi", schema(as = Heartbeat))]
pub struct HeartbeatBody {
    /// When it was signed, Unix seconds.
    #[serde(deserialize_with = "unix_seconds")]
    #[cfg_attr(
        feature = "openapi",
        schema(minimum = 0, maximum = 9007199254740991_i64)
    )]
    pub timestamp: u64,
    /// The workerpool owner's 65- or 64-byte ECDSA signature of [`SchedulerHeartbeat`], 0x-hex.
    #[cfg_attr(feature = "openapi", schema(value_type = crate::market::schema::EcdsaSign))]
    pub sign: Bytes,
}

/// A JSON integer (or an integral float, as JSON Schema allows) that is not negative.
fn unix_seconds<'de, D: serde::Deserializer<'de>>(deserializer: D) -> Result<u64, D::Error> {
    let n = super::types::integral(deserializer)?;
    u64::try_from(n).map_err(|_| serde::de::Error::custom(format!("a negative timestamp, {n}")))
}

/// The EIP-712 digest of a heartbeat of `workerpool` at `timestamp`.
pub fn heartbeat_digest(domain: &Eip712Domain, workerpool: Address, timestamp: u64) -> B256 {
    SchedulerHeartbeat {
        workerpool,
        timestamp: U256::from(timestamp),
    }
    .eip712_signing_hash(domain)
}

/// A heartbeat of `workerpool` at `timestamp`, signed by `signer` (its owner).
pub fn sign_heartbeat<S: SignerSync + ?Sized>(
    signer: &S,
    domain: &Eip712Domain,
    workerpool: Address,
    timestamp: u64,
) -> alloy::signers::Result<HeartbeatBody> {
    let signature = signer.sign_hash_sync(&heartbeat_digest(domain, workerpool, timestamp))?;
    Ok(HeartbeatBody {
        timestamp,
        sign: Bytes::from(signature.as_bytes().to_vec()),
    })
}

/// Whether a workerpool's scheduler is alive, as the market sees it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub enum Liveness {
    /// Its last heartbeat is within the market's time-to-live.
    Live,
    /// It never sent one (since the market started): its orders stay listed.
    Unknown,
    /// Its heartbeats stopped: its workerpool orders are out of the book until they resume.
    Offline,
}

impl Liveness {
    /// The name, as sent.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Live => "live",
            Self::Unknown => "unknown",
            Self::Offline => "offline",
        }
    }
}

impl std::fmt::Display for Liveness {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// `GET /workerpools/{address}/liveness`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "openapi", schema(as = PoolLiveness))]
pub struct PoolLiveness {
    /// The workerpool, 0x-hex.
    #[cfg_attr(feature = "openapi", schema(value_type = crate::market::schema::Address))]
    pub workerpool: Address,
    /// Live, unknown or offline.
    pub liveness: Liveness,
    /// The timestamp of its last heartbeat, Unix seconds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_heartbeat: Option<u64>,
    /// Seconds since the market received it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub seconds_since: Option<u64>,
    /// How long a heartbeat keeps a pool live, seconds.
    pub ttl_secs: u64,
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use alloy::signers::local::PrivateKeySigner;

    use super::*;

    #[test]
    fn a_heartbeat_recovers_to_its_signer_for_its_pool_and_time_only() {
        let signer = PrivateKeySigner::random();
        let domain = dexec_primitives::orders::domain(31337, Address::repeat_byte(1));
        let pool = Address::repeat_byte(7);
        let body = sign_heartbeat(&signer, &domain, pool, 1_000).unwrap();
        let recover = |pool, ts| {
            dexec_primitives::orders::recover_signer(
                &body.sign,
                heartbeat_digest(&domain, pool, ts),
            )
            .unwrap()
        };
        assert_eq!(recover(pool, 1_000), signer.address());
        assert_ne!(recover(pool, 1_001), signer.address());
        assert_ne!(recover(Address::repeat_byte(8), 1_000), signer.address());
    }
}
