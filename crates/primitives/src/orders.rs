//! Orders as EIP-712 typed data, exactly as the hub hashes them (`contracts/src/libs/Orders.sol`).
//!
//! Field names, order and types follow iExec's PoCo orders. The signature (`sign`) is not part
//! of the typed data, so the structs here leave it out and [`Signed`] carries it beside the order;
//! the contract bindings in `dexec-contracts` convert a `Signed<T>` into the ABI struct that has
//! a `sign` field.
//!
//! ```
//! use alloy::primitives::{address, Address, B256, U256};
//! use alloy::signers::local::PrivateKeySigner;
//! use dexec_primitives::{domain, AppOrder, Signed};
//!
//! let signer = PrivateKeySigner::random();
//! let order = AppOrder {
//!     app: address!("0x00000000000000000000000000000000000000a1"),
//!     appprice: U256::from(1000),
//!     volume: U256::from(1),
//!     salt: B256::repeat_byte(7),
//!     ..Default::default()
//! };
//! let hub = Address::repeat_byte(0x42);
//! let signed = Signed::sign(order, &domain(31337, hub), &signer).unwrap();
//! assert_eq!(signed.sign.len(), 65);
//! assert_eq!(signed.recover(&domain(31337, hub)).unwrap(), signer.address());
//! ```

use alloy::primitives::{Address, Bytes, Signature, B256, U256};
use alloy::signers::SignerSync;
use alloy::sol;
use alloy::sol_types::{Eip712Domain, SolStruct};
use serde::{Deserialize, Serialize};

/// EIP-712 domain name of the hub.
pub const DOMAIN_NAME: &str = "dexec";
/// EIP-712 domain version of the hub.
pub const DOMAIN_VERSION: &str = "1";

/// The hub's EIP-712 domain: `{name: "dexec", version: "1", chainId, verifyingContract: hub}`.
///
/// Every order digest depends on it, so a signature is only valid on one chain for one hub.
pub fn domain(chain_id: u64, hub: Address) -> Eip712Domain {
    Eip712Domain::new(
        Some(DOMAIN_NAME.into()),
        Some(DOMAIN_VERSION.into()),
        Some(U256::from(chain_id)),
        Some(hub),
        None,
    )
}

sol! {
    /// An app provider's offer: run `app` for `appprice` nRLC per task, `volume` times.
    #[derive(Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
    struct AppOrder {
        /// The app (its registry address).
        address app;
        /// Price per task, in nRLC.
        uint256 appprice;
        /// Number of tasks this order may be used for.
        uint256 volume;
        /// Tag bits the app requires (see [`crate::tag`]).
        bytes32 tag;
        /// Only this dataset (or ERC-734 group of datasets); zero for any.
        address datasetrestrict;
        /// Only this workerpool (or group); zero for any.
        address workerpoolrestrict;
        /// Only this requester (or group); zero for any.
        address requesterrestrict;
        /// Makes otherwise identical orders distinct (a new order needs a new salt).
        bytes32 salt;
    }

    /// A dataset provider's offer: use `dataset` for `datasetprice` nRLC per task.
    #[derive(Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
    struct DatasetOrder {
        /// The dataset (its registry address).
        address dataset;
        /// Price per task, in nRLC.
        uint256 datasetprice;
        /// Number of tasks this order may be used for.
        uint256 volume;
        /// Tag bits the dataset requires (TEE framework bits are ignored by the hub).
        bytes32 tag;
        /// Only this app (or ERC-734 group of apps); zero for any.
        address apprestrict;
        /// Only this workerpool (or group); zero for any.
        address workerpoolrestrict;
        /// Only this requester (or group); zero for any.
        address requesterrestrict;
        /// Makes otherwise identical orders distinct.
        bytes32 salt;
    }

    /// A workerpool's offer of computing power in a category, up to a trust level.
    #[derive(Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
    struct WorkerpoolOrder {
        /// The workerpool (its registry address).
        address workerpool;
        /// Price per task, in nRLC.
        uint256 workerpoolprice;
        /// Number of tasks this order may be used for.
        uint256 volume;
        /// Tag bits the workerpool offers.
        bytes32 tag;
        /// Category id (see [`crate::category`]).
        uint256 category;
        /// Highest trust level the workerpool accepts.
        uint256 trust;
        /// Only this app (or ERC-734 group of apps); zero for any.
        address apprestrict;
        /// Only this dataset (or group); zero for any.
        address datasetrestrict;
        /// Only this requester (or group); zero for any.
        address requesterrestrict;
        /// Makes otherwise identical orders distinct.
        bytes32 salt;
    }

    /// A requester's bid: run `app` (on `dataset`) on `workerpool` (an address, an ERC-734
    /// group or zero for any) at no more than the max prices.
    #[derive(Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
    struct RequestOrder {
        /// The app to run.
        address app;
        /// Highest app price accepted, in nRLC.
        uint256 appmaxprice;
        /// The dataset to use, zero for none.
        address dataset;
        /// Highest dataset price accepted, in nRLC.
        uint256 datasetmaxprice;
        /// The workerpool (or ERC-734 group of workerpools), zero for any.
        address workerpool;
        /// Highest workerpool price accepted, in nRLC.
        uint256 workerpoolmaxprice;
        /// Who signs the order (and pays, unless a sponsor does).
        address requester;
        /// Number of tasks wanted.
        uint256 volume;
        /// Tag bits the requester requires.
        bytes32 tag;
        /// Category id.
        uint256 category;
        /// Trust level wanted (0 and 1 both mean a single execution).
        uint256 trust;
        /// Who may read the results.
        address beneficiary;
        /// Contract that receives the results (EIP-1154), zero for none.
        address callback;
        /// JSON parameters (`iexec_args`, `iexec_input_files`, …).
        string params;
        /// Makes otherwise identical orders distinct.
        bytes32 salt;
    }

    /// A request order signed so that only `sponsor` (or anyone but the requester, when zero)
    /// may pay for it through `sponsorMatchOrders`; plain `matchOrders` cannot use it.
    #[derive(Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
    struct SponsoredRequest {
        /// The request order.
        RequestOrder order;
        /// The only account allowed to pay, or zero for any sponsor.
        address sponsor;
    }

    /// The typed data an app owner signs to let someone else presign or close its order.
    #[derive(Debug, Default, PartialEq, Eq, Hash)]
    struct AppOrderOperation {
        /// The order.
        AppOrder order;
        /// [`OrderOperation`] as a number: 0 sign (presign), 1 close (cancel).
        uint256 operation;
    }

    /// The typed data a dataset owner signs to let someone else presign or close its order.
    #[derive(Debug, Default, PartialEq, Eq, Hash)]
    struct DatasetOrderOperation {
        /// The order.
        DatasetOrder order;
        /// [`OrderOperation`] as a number.
        uint256 operation;
    }

    /// The typed data a workerpool owner signs to let someone else presign or close its order.
    #[derive(Debug, Default, PartialEq, Eq, Hash)]
    struct WorkerpoolOrderOperation {
        /// The order.
        WorkerpoolOrder order;
        /// [`OrderOperation`] as a number.
        uint256 operation;
    }

    /// The typed data a requester signs to let someone else presign or close its order.
    #[derive(Debug, Default, PartialEq, Eq, Hash)]
    struct RequestOrderOperation {
        /// The order.
        RequestOrder order;
        /// [`OrderOperation`] as a number.
        uint256 operation;
    }
}

/// What an order operation does (Solidity `enum OrderOperation`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum OrderOperation {
    /// Presign the order on-chain: it then matches with an empty signature.
    Sign = 0,
    /// Close (cancel) the order: no volume is left to match.
    Close = 1,
}

impl OrderOperation {
    /// The value the hub's ABI and typed data use.
    pub const fn as_u8(self) -> u8 {
        self as u8
    }
}

/// An order and its signature (`sign`, as iExec names it).
///
/// `sign` is a 65-byte (r, s, v) or 64-byte EIP-2098 ECDSA signature of the order's EIP-712
/// digest, an ERC-1271 blob for contract owners, or empty for an order presigned on-chain.
/// It serializes flat, like iExec's order JSON: the order's fields plus `sign`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Signed<T> {
    /// The order.
    #[serde(flatten)]
    pub order: T,
    /// Its signature (empty if presigned on-chain or not signed).
    pub sign: Bytes,
}

impl<T: SolStruct> Signed<T> {
    /// Sign `order` under `domain` with a local (synchronous) signer, producing a 65-byte
    /// low-s signature with v = 27 or 28, which the hub accepts.
    pub fn sign<S: SignerSync + ?Sized>(
        order: T,
        domain: &Eip712Domain,
        signer: &S,
    ) -> alloy::signers::Result<Self> {
        let digest = order.eip712_signing_hash(domain);
        let signature = signer.sign_hash_sync(&digest)?;
        Ok(Self {
            order,
            sign: Bytes::copy_from_slice(&signature.as_bytes()),
        })
    }

    /// An order with an empty signature: valid only if its owner presigned it on-chain
    /// (or, for the dataset slot of a match without dataset, never checked).
    pub fn unsigned(order: T) -> Self {
        Self {
            order,
            sign: Bytes::new(),
        }
    }

    /// The order's EIP-712 digest under `domain` (what its owner signs; the hub's order key).
    pub fn digest(&self, domain: &Eip712Domain) -> B256 {
        self.order.eip712_signing_hash(domain)
    }

    /// The address that signed the order, if `sign` is a 65- or 64-byte ECDSA signature that
    /// the hub accepts (low `s`); `None` otherwise. [`recover_signer`] says why not.
    pub fn recover(&self, domain: &Eip712Domain) -> Option<Address> {
        recover_signer(&self.sign, self.digest(domain)).ok()
    }
}

impl Signed<RequestOrder> {
    /// Sign `order` as a [`SponsoredRequest`]: only `sponsor` (or any sponsor other than the
    /// requester, when zero) can then pay for it with `sponsorMatchOrders`. The signature
    /// travels in the request order's `sign` like a plain one.
    pub fn sign_sponsored<S: SignerSync + ?Sized>(
        order: RequestOrder,
        sponsor: Address,
        domain: &Eip712Domain,
        signer: &S,
    ) -> alloy::signers::Result<Self> {
        let sponsored = SponsoredRequest { order, sponsor };
        let signature = signer.sign_hash_sync(&sponsored.eip712_signing_hash(domain))?;
        Ok(Self {
            order: sponsored.order,
            sign: Bytes::copy_from_slice(&signature.as_bytes()),
        })
    }
}

/// Parse a 65-byte (r, s, v) or 64-byte EIP-2098 compact signature. As the hub (OpenZeppelin's
/// `ECDSA`), a 65-byte signature's `v` must be 27 or 28: 0/1 and EIP-155 values are refused.
fn parse_signature(sign: &[u8]) -> Option<Signature> {
    match sign.len() {
        65 if matches!(sign[64], 27 | 28) => Signature::from_raw(sign).ok(),
        64 => Some(Signature::from_erc2098(sign)),
        _ => None,
    }
}

/// Half the secp256k1 group order: a signature with a larger `s` is a malleable copy of
/// another one, and the hub refuses it.
pub const HALF_N: U256 = U256::from_be_bytes([
    0x7f, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
    0x5d, 0x57, 0x6e, 0x73, 0x57, 0xa4, 0x50, 0x1d, 0xdf, 0xe9, 0x2f, 0x46, 0x68, 0x1b, 0x20, 0xa0,
]);

/// Why a signature recovers no signer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum SignatureError {
    /// Neither 65 bytes (r, s, v with v 27 or 28) nor 64 (ERC-2098 compact).
    #[error(
        "a signature is 65 bytes (r, s, v with v 27 or 28) or 64 (compact); this one is {0} bytes"
    )]
    Length(usize),
    /// `s` in the upper half of the curve order.
    #[error(
        "the signature has a high `s` value (a malleable copy of another signature); sign again \
         with a standard signer"
    )]
    HighS,
    /// The bytes are no valid signature of the digest.
    #[error("the signature recovers no signer")]
    Unrecoverable,
}

/// The ECDSA signer of `digest`, with the hub's rules: a 65-byte (r, s, v) or 64-byte compact
/// (ERC-2098) signature, `s` in the lower half of the curve order.
///
/// libsecp256k1 does the recovery (about 40 µs, a fifth of the pure-Rust path): short enough to
/// run on an async task.
pub fn recover_signer(sign: &[u8], digest: B256) -> Result<Address, SignatureError> {
    let signature = parse_signature(sign).ok_or(SignatureError::Length(sign.len()))?;
    if signature.s() > HALF_N {
        return Err(SignatureError::HighS);
    }
    let mut compact = [0u8; 64];
    compact[..32].copy_from_slice(&signature.r().to_be_bytes::<32>());
    compact[32..].copy_from_slice(&signature.s().to_be_bytes::<32>());
    let id = if signature.v() {
        secp256k1::ecdsa::RecoveryId::One
    } else {
        secp256k1::ecdsa::RecoveryId::Zero
    };
    let recoverable = secp256k1::ecdsa::RecoverableSignature::from_compact(&compact, id)
        .map_err(|_| SignatureError::Unrecoverable)?;
    let key = recoverable
        .recover(secp256k1::Message::from_digest(digest.0))
        .map_err(|_| SignatureError::Unrecoverable)?;
    Ok(Address::from_raw_public_key(
        &key.serialize_uncompressed()[1..],
    ))
}

/// Digest of an order operation (what an owner signs to let someone else presign or close
/// `order`), for each order type.
pub trait Operable: SolStruct + Clone + Sized {
    /// The operation typed data wrapping this order type.
    type Operation: SolStruct;

    /// Build the operation typed data.
    fn operation(&self, operation: OrderOperation) -> Self::Operation;

    /// EIP-712 digest of the operation under `domain`.
    fn operation_digest(&self, operation: OrderOperation, domain: &Eip712Domain) -> B256 {
        self.operation(operation).eip712_signing_hash(domain)
    }
}

macro_rules! operable {
    ($order:ident, $operation:ident) => {
        impl Operable for $order {
            type Operation = $operation;

            fn operation(&self, operation: OrderOperation) -> $operation {
                $operation {
                    order: self.clone(),
                    operation: U256::from(operation.as_u8()),
                }
            }
        }
    };
}

operable!(AppOrder, AppOrderOperation);
operable!(DatasetOrder, DatasetOrderOperation);
operable!(WorkerpoolOrder, WorkerpoolOrderOperation);
operable!(RequestOrder, RequestOrderOperation);

#[cfg(test)]
mod tests {
    use super::*;
    use alloy::primitives::{address, b256, keccak256};
    use alloy::signers::local::PrivateKeySigner;

    fn request() -> RequestOrder {
        RequestOrder {
            app: address!("0x1111111111111111111111111111111111111111"),
            appmaxprice: U256::from(1000),
            requester: address!("0x2222222222222222222222222222222222222222"),
            volume: U256::from(3),
            params: r#"{"iexec_args":"hello"}"#.into(),
            salt: B256::repeat_byte(1),
            ..Default::default()
        }
    }

    #[test]
    fn type_strings_match_the_solidity_typehashes() {
        // The strings below are copied from contracts/src/libs/Orders.sol.
        assert_eq!(
            AppOrder::default().eip712_type_hash(),
            keccak256("AppOrder(address app,uint256 appprice,uint256 volume,bytes32 tag,address datasetrestrict,address workerpoolrestrict,address requesterrestrict,bytes32 salt)")
        );
        assert_eq!(
            DatasetOrder::default().eip712_type_hash(),
            keccak256("DatasetOrder(address dataset,uint256 datasetprice,uint256 volume,bytes32 tag,address apprestrict,address workerpoolrestrict,address requesterrestrict,bytes32 salt)")
        );
        assert_eq!(
            WorkerpoolOrder::default().eip712_type_hash(),
            keccak256("WorkerpoolOrder(address workerpool,uint256 workerpoolprice,uint256 volume,bytes32 tag,uint256 category,uint256 trust,address apprestrict,address datasetrestrict,address requesterrestrict,bytes32 salt)")
        );
        let request_type = "RequestOrder(address app,uint256 appmaxprice,address dataset,uint256 datasetmaxprice,address workerpool,uint256 workerpoolmaxprice,address requester,uint256 volume,bytes32 tag,uint256 category,uint256 trust,address beneficiary,address callback,string params,bytes32 salt)";
        assert_eq!(request().eip712_type_hash(), keccak256(request_type));
        assert_eq!(
            SponsoredRequest::default().eip712_type_hash(),
            keccak256(format!(
                "SponsoredRequest(RequestOrder order,address sponsor){request_type}"
            ))
        );
        assert_eq!(
            RequestOrderOperation::default().eip712_type_hash(),
            keccak256(format!(
                "RequestOrderOperation(RequestOrder order,uint256 operation){request_type}"
            ))
        );
    }

    #[test]
    fn domain_is_bound_to_chain_and_hub() {
        let hub = Address::repeat_byte(0x42);
        let d = domain(31337, hub);
        assert_eq!(d.name.as_deref(), Some("dexec"));
        assert_eq!(d.version.as_deref(), Some("1"));
        let order = request();
        let digest = order.eip712_signing_hash(&d);
        assert_ne!(digest, order.eip712_signing_hash(&domain(1, hub)));
        assert_ne!(
            digest,
            order.eip712_signing_hash(&domain(31337, Address::repeat_byte(0x43)))
        );
    }

    #[test]
    fn params_are_hashed_not_ignored() {
        let d = domain(1, Address::ZERO);
        let mut other = request();
        other.params.push(' ');
        assert_ne!(
            request().eip712_signing_hash(&d),
            other.eip712_signing_hash(&d)
        );
    }

    #[test]
    fn signatures_recover_the_signer_and_are_low_s() {
        let signer = PrivateKeySigner::random();
        let d = domain(31337, Address::repeat_byte(9));
        let signed = Signed::sign(request(), &d, &signer).expect("local signing cannot fail");
        assert_eq!(signed.sign.len(), 65);
        assert!(matches!(signed.sign[64], 27 | 28));
        let s = U256::from_be_slice(&signed.sign[32..64]);
        let half_n = U256::from_be_bytes(
            b256!("0x7FFFFFFFFFFFFFFFFFFFFFFFFFFFFFFF5D576E7357A4501DDFE92F46681B20A0").0,
        );
        assert!(s <= half_n);
        assert_eq!(signed.recover(&d), Some(signer.address()));
        // a signature is not valid under another domain
        assert_ne!(
            signed.recover(&domain(1, Address::repeat_byte(9))),
            Some(signer.address())
        );
        assert_eq!(Signed::unsigned(request()).recover(&d), None);
    }

    #[test]
    fn sponsored_signature_differs_from_plain() {
        let signer = PrivateKeySigner::random();
        let d = domain(31337, Address::repeat_byte(9));
        let sponsor = Address::repeat_byte(5);
        let sponsored = Signed::sign_sponsored(request(), sponsor, &d, &signer).expect("signs");
        // it does not verify as a plain request order …
        assert_ne!(sponsored.recover(&d), Some(signer.address()));
        // … but as the sponsored typed data
        let digest = SponsoredRequest {
            order: request(),
            sponsor,
        }
        .eip712_signing_hash(&d);
        let sig = parse_signature(&sponsored.sign).expect("65 bytes");
        assert_eq!(
            sig.recover_address_from_prehash(&digest).ok(),
            Some(signer.address())
        );
    }

    #[test]
    fn operation_digest_depends_on_the_operation() {
        let d = domain(31337, Address::repeat_byte(9));
        let order = request();
        assert_ne!(
            order.operation_digest(OrderOperation::Sign, &d),
            order.operation_digest(OrderOperation::Close, &d)
        );
        assert_eq!(
            order.operation(OrderOperation::Close).operation,
            U256::from(1)
        );
    }

    #[test]
    fn signed_orders_serialize_flat() {
        let signed = Signed {
            order: request(),
            sign: Bytes::from_static(&[1, 2]),
        };
        let json = serde_json::to_value(&signed).expect("serializes");
        assert_eq!(json["sign"], "0x0102");
        assert_eq!(json["params"], r#"{"iexec_args":"hello"}"#);
        let back: Signed<RequestOrder> = serde_json::from_value(json).expect("deserializes");
        assert_eq!(back, signed);
    }

    #[test]
    fn compact_signatures_recover_too() {
        let signer = PrivateKeySigner::random();
        let d = domain(5, Address::repeat_byte(1));
        let full = Signed::sign(request(), &d, &signer).expect("signs");
        let sig = parse_signature(&full.sign).expect("65 bytes");
        let compact = Signed {
            order: request(),
            sign: Bytes::copy_from_slice(&sig.as_erc2098()),
        };
        assert_eq!(compact.recover(&d), Some(signer.address()));
    }

    #[test]
    fn high_s_copies_are_refused_as_the_hub_refuses_them() {
        let signer = PrivateKeySigner::random();
        let d = domain(5, Address::repeat_byte(1));
        let full = Signed::sign(request(), &d, &signer).expect("signs");
        let sig = parse_signature(&full.sign).expect("65 bytes");
        // the malleable twin: s' = n - s, v flipped; k256 still recovers the same key from it
        let n = HALF_N * U256::from(2) + U256::from(1);
        let high = Signature::new(sig.r(), n - sig.s(), !sig.v());
        assert_eq!(
            high.recover_address_from_prehash(&full.digest(&d)).ok(),
            Some(signer.address()),
            "the twin is a valid ECDSA signature"
        );
        let twin = Signed {
            order: request(),
            sign: Bytes::copy_from_slice(&high.as_bytes()),
        };
        assert_eq!(twin.recover(&d), None);
        assert_eq!(
            recover_signer(&twin.sign, twin.digest(&d)),
            Err(SignatureError::HighS)
        );
        assert_eq!(
            recover_signer(&[1, 2, 3], B256::ZERO),
            Err(SignatureError::Length(3))
        );
        // v = 0/1 (raw parity) is refused by the hub: refused here too
        let mut raw_v = full.sign.to_vec();
        raw_v[64] -= 27;
        assert!(recover_signer(&raw_v, full.digest(&d)).is_err());
    }
}
