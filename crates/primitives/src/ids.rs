//! Deal and task ids, computed exactly as the hub computes them (`contracts/src/libs/Deals.sol`).

use alloy::primitives::{keccak256, B256, U256};

/// Id of the deal that starts at task index `bot_first` of the request order whose EIP-712
/// digest is `request_hash`: `keccak256(abi.encodePacked(bytes32 requestHash, uint256 botFirst))`.
///
/// `bot_first` is the request's consumed volume before the match, so the first deal of a
/// request has `bot_first = 0` and later (partial) deals of the same request get distinct ids.
pub fn deal_id(request_hash: B256, bot_first: u64) -> B256 {
    hash_pair(request_hash, U256::from(bot_first))
}

/// Id of task `index` of deal `deal_id`: `keccak256(abi.encode(bytes32 dealId, uint256 index))`.
///
/// `index` is absolute in the request's bag of tasks: the tasks of a deal are
/// `bot_first .. bot_first + bot_size`.
pub fn task_id(deal_id: B256, index: u64) -> B256 {
    hash_pair(deal_id, U256::from(index))
}

/// keccak256 of a 32-byte word followed by a uint256 (packed and ABI encodings agree here).
fn hash_pair(word: B256, number: U256) -> B256 {
    let mut buf = [0u8; 64];
    buf[..32].copy_from_slice(word.as_slice());
    buf[32..].copy_from_slice(&number.to_be_bytes::<32>());
    keccak256(buf)
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloy::sol_types::SolValue;

    #[test]
    fn deal_id_is_packed_encoding() {
        let request = B256::repeat_byte(0xab);
        let packed = [request.as_slice(), &U256::from(7).to_be_bytes::<32>()].concat();
        assert_eq!(deal_id(request, 7), keccak256(packed));
    }

    #[test]
    fn task_id_is_abi_encoding() {
        let deal = B256::repeat_byte(0xcd);
        assert_eq!(
            task_id(deal, 3),
            keccak256((deal, U256::from(3)).abi_encode())
        );
    }

    #[test]
    fn ids_differ_by_index() {
        let deal = deal_id(B256::ZERO, 0);
        assert_ne!(deal, deal_id(B256::ZERO, 1));
        assert_ne!(task_id(deal, 0), task_id(deal, 1));
    }
}
