//! Deals: what a match agrees on, and the packed encoding the hub commits to.
//!
//! The hub stores no deal fields: it keeps one word per deal whose high 224 bits are the top of
//! `keccak256(encoding)` ([`Deal::commitment`]) and whose low 32 bits are execution state
//! ([`EXISTS`], and the settled bits of the first [`INLINE_SETTLED_TASKS`] tasks, read with
//! [`settled_inline`]); it emits the encoding in `DealCreated`. Anyone who later acts on the
//! deal passes the encoding back. The encoding (`Deals.encode` in
//! `contracts/src/libs/Deals.sol`) packs the fields in declaration order at their natural
//! widths: 286 bytes.

use alloy::primitives::{keccak256, Address, B256, U256};
use serde::{Deserialize, Serialize};

/// Length of a packed deal: 9 addresses, 4 uint96, a bytes32, 5 uint32, a uint40 and a uint8.
pub const ENCODED_LENGTH: usize = 286;

/// Bits of a deal word that hold the commitment (the high 224; `Deals.COMMITMENT_MASK`).
pub const COMMITMENT_MASK: U256 =
    U256::from_limbs([0xffff_ffff_0000_0000, u64::MAX, u64::MAX, u64::MAX]);

/// Bits of a deal word that hold execution state (the low 32; `Deals.STATE_MASK`).
pub const STATE_MASK: U256 = U256::from_limbs([0xffff_ffff, 0, 0, 0]);

/// Bit 31 of a deal word: set in every deal word, so that a word is never zero (`Deals.EXISTS`).
pub const EXISTS: U256 = U256::from_limbs([1 << 31, 0, 0, 0]);

/// Tasks whose "settled" bit lives in the deal word itself (bits 0..30, by index relative to
/// `bot_first`); the hub keeps the others in separate bitmaps (`Settlement.INLINE_TASKS`).
pub const INLINE_SETTLED_TASKS: u64 = 31;

/// Whether task `relative` (its index minus the deal's `bot_first`) is settled, read from the
/// deal word (`viewDealWord`); `None` for tasks whose bit is kept outside the word (relative
/// index ≥ [`INLINE_SETTLED_TASKS`]: ask `isTaskSettled`).
pub fn settled_inline(word: U256, relative: u64) -> Option<bool> {
    (relative < INLINE_SETTLED_TASKS).then(|| word.bit(relative as usize))
}

/// A deal: the terms of a match, fixed for its whole life.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Deal {
    /// The app run by every task.
    pub app: Address,
    /// The dataset, zero for none.
    pub dataset: Address,
    /// The workerpool that runs the tasks.
    pub workerpool: Address,
    /// Owners at match time: they are paid even if the asset changes hands later.
    pub app_owner: Address,
    /// Owner of the dataset at match time (zero without dataset).
    pub dataset_owner: Address,
    /// Owner of the workerpool (the scheduler) at match time.
    pub workerpool_owner: Address,
    /// Who asked for the work.
    pub requester: Address,
    /// Who paid: the requester, or the sponsor of a sponsored match.
    pub payer: Address,
    /// Contract receiving results (EIP-1154), zero for none.
    pub callback: Address,
    /// App price per task (nRLC, fits 96 bits).
    pub app_price: u128,
    /// Dataset price per task.
    pub dataset_price: u128,
    /// Workerpool price per task.
    pub workerpool_price: u128,
    /// Stake each contributing worker locks (workerpool price × the pool's stake ratio / 100).
    pub worker_stake: u128,
    /// Combined tag: app | dataset (TEE framework bits masked) | request.
    pub tag: B256,
    /// Trust level, at least 1.
    pub trust: u32,
    /// Category id.
    pub category: u32,
    /// Category time reference at match time, in seconds.
    pub timeref: u32,
    /// Block timestamp of the match (uint40).
    pub start_time: u64,
    /// First task index of the deal in the request's bag of tasks.
    pub bot_first: u32,
    /// Number of tasks.
    pub bot_size: u32,
    /// Share of the workerpool price the scheduler keeps, in percent.
    pub scheduler_reward_ratio: u8,
}

/// Why bytes are not a packed deal.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DealError {
    /// The encoding is not 286 bytes long.
    #[error("a packed deal is {ENCODED_LENGTH} bytes, not {0}")]
    Length(usize),
    /// A field does not fit its packed width (prices 96 bits, start time 40 bits).
    #[error("deal field `{0}` does not fit its packed width")]
    OutOfRange(&'static str),
}

const MAX_U96: u128 = (1 << 96) - 1;
const MAX_U40: u64 = (1 << 40) - 1;

impl Deal {
    /// The packed encoding, as the hub emits and commits to it. Fails if a price exceeds
    /// 96 bits or the start time 40 bits (the hub never produces such deals).
    pub fn encode(&self) -> Result<Vec<u8>, DealError> {
        let mut out = Vec::with_capacity(ENCODED_LENGTH);
        for address in [
            self.app,
            self.dataset,
            self.workerpool,
            self.app_owner,
            self.dataset_owner,
            self.workerpool_owner,
            self.requester,
            self.payer,
            self.callback,
        ] {
            out.extend_from_slice(address.as_slice());
        }
        for (name, price) in [
            ("appPrice", self.app_price),
            ("datasetPrice", self.dataset_price),
            ("workerpoolPrice", self.workerpool_price),
            ("workerStake", self.worker_stake),
        ] {
            if price > MAX_U96 {
                return Err(DealError::OutOfRange(name));
            }
            out.extend_from_slice(&price.to_be_bytes()[4..]);
        }
        out.extend_from_slice(self.tag.as_slice());
        for n in [self.trust, self.category, self.timeref] {
            out.extend_from_slice(&n.to_be_bytes());
        }
        if self.start_time > MAX_U40 {
            return Err(DealError::OutOfRange("startTime"));
        }
        out.extend_from_slice(&self.start_time.to_be_bytes()[3..]);
        out.extend_from_slice(&self.bot_first.to_be_bytes());
        out.extend_from_slice(&self.bot_size.to_be_bytes());
        out.push(self.scheduler_reward_ratio);
        debug_assert_eq!(out.len(), ENCODED_LENGTH);
        Ok(out)
    }

    /// Decode a packed deal (the `deal` bytes of `DealCreated`).
    pub fn decode(bytes: &[u8]) -> Result<Self, DealError> {
        if bytes.len() != ENCODED_LENGTH {
            return Err(DealError::Length(bytes.len()));
        }
        let mut r = Reader(bytes);
        Ok(Self {
            app: r.address(),
            dataset: r.address(),
            workerpool: r.address(),
            app_owner: r.address(),
            dataset_owner: r.address(),
            workerpool_owner: r.address(),
            requester: r.address(),
            payer: r.address(),
            callback: r.address(),
            app_price: r.uint(12),
            dataset_price: r.uint(12),
            workerpool_price: r.uint(12),
            worker_stake: r.uint(12),
            tag: B256::from_slice(r.take(32)),
            trust: r.uint(4) as u32,
            category: r.uint(4) as u32,
            timeref: r.uint(4) as u32,
            start_time: r.uint(5) as u64,
            bot_first: r.uint(4) as u32,
            bot_size: r.uint(4) as u32,
            scheduler_reward_ratio: r.uint(1) as u8,
        })
    }

    /// The commitment the hub stores for this deal's encoding: the high 224 bits of its
    /// keccak256 (the low 32 bits of a deal word are execution state).
    pub fn commitment(encoded: &[u8]) -> U256 {
        U256::from_be_bytes(keccak256(encoded).0) & COMMITMENT_MASK
    }

    /// Total the payer locked for the deal: (app + dataset + workerpool price) × tasks.
    pub fn total_price(&self) -> u128 {
        (self.app_price + self.dataset_price + self.workerpool_price) * u128::from(self.bot_size)
    }

    /// Task indices of the deal: `bot_first .. bot_first + bot_size`.
    pub fn task_indices(&self) -> std::ops::Range<u64> {
        u64::from(self.bot_first)..u64::from(self.bot_first) + u64::from(self.bot_size)
    }
}

/// Big-endian reader over a slice whose length was checked.
struct Reader<'a>(&'a [u8]);

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> &'a [u8] {
        let (head, tail) = self.0.split_at(n);
        self.0 = tail;
        head
    }

    fn address(&mut self) -> Address {
        Address::from_slice(self.take(20))
    }

    /// An unsigned integer of `n` ≤ 16 bytes.
    fn uint(&mut self, n: usize) -> u128 {
        self.take(n)
            .iter()
            .fold(0u128, |acc, &b| (acc << 8) | u128::from(b))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Deal {
        Deal {
            app: Address::repeat_byte(1),
            dataset: Address::repeat_byte(2),
            workerpool: Address::repeat_byte(3),
            app_owner: Address::repeat_byte(4),
            dataset_owner: Address::repeat_byte(5),
            workerpool_owner: Address::repeat_byte(6),
            requester: Address::repeat_byte(7),
            payer: Address::repeat_byte(8),
            callback: Address::repeat_byte(9),
            app_price: 1_000,
            dataset_price: 1_000_000,
            workerpool_price: MAX_U96,
            worker_stake: 300_000_000,
            tag: B256::repeat_byte(0xaa),
            trust: 3,
            category: 4,
            timeref: 36_000,
            start_time: MAX_U40,
            bot_first: 7,
            bot_size: u32::MAX,
            scheduler_reward_ratio: 100,
        }
    }

    #[test]
    fn round_trip() {
        let deal = sample();
        let bytes = deal.encode().expect("fits");
        assert_eq!(bytes.len(), ENCODED_LENGTH);
        assert_eq!(Deal::decode(&bytes), Ok(deal));
    }

    #[test]
    fn offsets_match_the_solidity_decoder() {
        let bytes = sample().encode().expect("fits");
        // offsets of `Deals.decode`
        assert_eq!(
            &bytes[160..180],
            Address::repeat_byte(9).as_slice(),
            "callback"
        );
        assert_eq!(&bytes[180..192], &1_000u128.to_be_bytes()[4..], "appPrice");
        assert_eq!(&bytes[228..260], B256::repeat_byte(0xaa).as_slice(), "tag");
        assert_eq!(&bytes[268..272], &36_000u32.to_be_bytes(), "timeref");
        assert_eq!(&bytes[272..277], &[0xff; 5], "startTime");
        assert_eq!(&bytes[277..281], &7u32.to_be_bytes(), "botFirst");
        assert_eq!(bytes[285], 100, "schedulerRewardRatio");
    }

    #[test]
    fn refuses_bad_input() {
        assert_eq!(Deal::decode(&[0; 285]), Err(DealError::Length(285)));
        let mut deal = sample();
        deal.app_price = MAX_U96 + 1;
        assert_eq!(deal.encode(), Err(DealError::OutOfRange("appPrice")));
        let mut deal = sample();
        deal.start_time = MAX_U40 + 1;
        assert_eq!(deal.encode(), Err(DealError::OutOfRange("startTime")));
    }

    #[test]
    fn commitment_keeps_the_high_224_bits() {
        let bytes = sample().encode().expect("fits");
        let commitment = Deal::commitment(&bytes);
        let full = U256::from_be_bytes(keccak256(&bytes).0);
        assert_eq!(commitment >> 32, full >> 32);
        assert_eq!(commitment & STATE_MASK, U256::ZERO);
        assert_eq!(COMMITMENT_MASK | STATE_MASK, U256::MAX);
        assert_eq!(COMMITMENT_MASK & STATE_MASK, U256::ZERO);
        assert_eq!(COMMITMENT_MASK.count_ones(), 224);
        assert!(EXISTS & STATE_MASK == EXISTS && EXISTS.count_ones() == 1);
    }

    #[test]
    fn settled_bits_of_the_first_31_tasks_live_in_the_word() {
        let word = COMMITMENT_MASK | EXISTS | U256::from(0b101u8) | (U256::from(1u8) << 30);
        assert_eq!(settled_inline(word, 0), Some(true));
        assert_eq!(settled_inline(word, 1), Some(false));
        assert_eq!(settled_inline(word, 2), Some(true));
        assert_eq!(settled_inline(word, 30), Some(true));
        // bit 31 is EXISTS, not task 31's: that one's bit lives outside the word
        assert_eq!(settled_inline(word, 31), None);
        assert_eq!(settled_inline(word, u64::MAX), None);
    }

    #[test]
    fn totals_and_indices() {
        let deal = Deal {
            app_price: 2,
            dataset_price: 3,
            workerpool_price: 5,
            bot_first: 4,
            bot_size: 3,
            ..Default::default()
        };
        assert_eq!(deal.total_price(), 30);
        assert_eq!(deal.task_indices(), 4..7);
    }
}
