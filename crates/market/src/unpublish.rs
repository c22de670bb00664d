//! How a signer proves it wants its order out of the book.
//!
//! The signer of an order signs, under the hub's EIP-712 domain, the typed data
//! `UnpublishOrder(bytes32 orderHash,uint256 publication)`, where `publication` is the number
//! the market gave the order when it was (re)published. Binding the publication makes a
//! signature good for one unpublish only: replayed after the order is republished, it names an
//! old publication and is refused. Wallets that cannot sign typed data may instead
//! `personal_sign` (EIP-191) the text [`unpublish_message`].

use alloy::primitives::{B256, U256};
use alloy::signers::SignerSync;
use alloy::sol;
use alloy::sol_types::{Eip712Domain, SolStruct};

sol! {
    /// What a signer signs to unpublish its order.
    #[derive(Debug)]
    struct UnpublishOrder {
        /// The order's EIP-712 hash.
        bytes32 orderHash;
        /// The publication number of the order in the market.
        uint256 publication;
    }
}

/// The EIP-712 digest to sign to unpublish `hash` (publication `publication`).
pub fn unpublish_digest(domain: &Eip712Domain, hash: B256, publication: i64) -> B256 {
    UnpublishOrder {
        orderHash: hash,
        publication: U256::from(publication.max(0) as u64),
    }
    .eip712_signing_hash(domain)
}

/// The text to `personal_sign` instead of the typed data.
pub fn unpublish_message(hash: B256, publication: i64) -> String {
    format!("dexec market: unpublish order {hash:#x} publication {publication}")
}

/// The JSON body of `POST /orders/{hash}/unpublish`, signed with the EIP-712 scheme.
pub fn sign_unpublish<S: SignerSync + ?Sized>(
    signer: &S,
    domain: &Eip712Domain,
    hash: B256,
    publication: i64,
) -> alloy::signers::Result<serde_json::Value> {
    let signature = signer.sign_hash_sync(&unpublish_digest(domain, hash, publication))?;
    Ok(serde_json::json!({
        "publication": publication,
        "sign": alloy::primitives::Bytes::copy_from_slice(&signature.as_bytes()),
    }))
}
