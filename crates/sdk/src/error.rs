//! The SDK's error: every failure says, in a sentence, what went wrong and what to do.

use alloy::primitives::{Address, B256};
use dexec_primitives::Nrlc;

use crate::assets::AssetKind;

/// Result of SDK calls.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// What can go wrong using dexec through the SDK.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A contract call or transaction failed; reverts are decoded into sentences
    /// ([`dexec_contracts::Error::Revert`]).
    #[error(transparent)]
    Contract(#[from] dexec_contracts::Error),
    /// The node answers for another chain than the configuration names.
    #[error("wrong chain: the configuration is for chain id {expected} but {url} is chain id {actual}; check chain.json (`host`, `id`) or --chain")]
    WrongChain {
        /// Chain id the configuration expects.
        expected: u64,
        /// Chain id the node reports.
        actual: u64,
        /// The JSON-RPC URL.
        url: String,
    },
    /// chain.json's `hub` address holds no contract, or one that is not a dexec hub.
    #[error("no dexec hub at {hub} on chain {chain_id}: {why}; chain.json names the wrong `hub` address or is stale (run `dexec init` again next to a running devnet, or fix the address)")]
    NotAHub {
        /// The address chain.json names.
        hub: alloy::primitives::Address,
        /// The node's chain id.
        chain_id: u64,
        /// What was found there.
        why: String,
    },
    /// The node cannot be reached.
    #[error("cannot reach the chain at {url}: {reason}; is the node (or `dexec devnet`) running?")]
    Unreachable {
        /// The JSON-RPC URL.
        url: String,
        /// What the transport said.
        reason: String,
    },
    /// The operation signs or sends, but the client has no wallet.
    #[error("this needs a wallet: pass --wallet-file, --wallet-address or --dev-account (see `dexec wallet --help`)")]
    NoWallet,
    /// Not enough free balance on the hub (or tokens in the wallet) for the operation.
    #[error("insufficient {what} of {account}: {needed} needed, {available} available{hint}")]
    Insufficient {
        /// Which balance (e.g. "hub balance", "token balance").
        what: &'static str,
        /// Whose.
        account: Address,
        /// How much the operation needs.
        needed: Nrlc,
        /// How much there is.
        available: Nrlc,
        /// What to do about it (starts with "; " or is empty).
        hint: &'static str,
    },
    /// No asset of this kind is registered at this address.
    #[error("no {kind} is registered at {address}")]
    UnknownAsset {
        /// Kind of asset looked up.
        kind: AssetKind,
        /// The address.
        address: Address,
    },
    /// The account does not own the asset it acts on.
    #[error("{account} does not own {kind} {asset} (its owner is {owner})")]
    NotOwner {
        /// Kind of asset.
        kind: AssetKind,
        /// The asset.
        asset: Address,
        /// The account that tried.
        account: Address,
        /// The actual owner.
        owner: Address,
    },
    /// No index-th asset for this owner or registry.
    #[error("there is no {kind} number {index}{owner} (count: {count})")]
    NoSuchIndex {
        /// Kind of asset.
        kind: AssetKind,
        /// The index asked for.
        index: u64,
        /// " of 0x…" or empty.
        owner: String,
        /// How many there are.
        count: u64,
    },
    /// No `DealCreated` event for this deal id.
    #[error("no deal {0} on this chain (check the id and --chain)")]
    DealNotFound(B256),
    /// No category with this id.
    #[error("there is no category {id}; the hub has {count} (ids 0 to {max})", max = count.saturating_sub(1))]
    UnknownCategory {
        /// The id asked for.
        id: u64,
        /// How many categories exist.
        count: u64,
    },
    /// The orders cannot match; each reason is a sentence.
    #[error("these orders cannot match: {}", .0.join("; "))]
    Incompatible(Vec<String>),
    /// An execution call (contribute, reveal, finalize, claim, …) was not sent: the task's
    /// state on chain says the hub would refuse it.
    #[error(transparent)]
    Refused(#[from] crate::execution::Refusal),
    /// An order has no volume left (consumed or cancelled).
    #[error("the {kind} order {hash} has no volume left (fully used or cancelled)")]
    Exhausted {
        /// Which order ("app", "dataset", "workerpool", "request").
        kind: &'static str,
        /// Its EIP-712 hash.
        hash: B256,
    },
    /// A signer produced no signature.
    #[error(transparent)]
    Signer(#[from] alloy::signers::Error),
    /// A keystore could not be read, decrypted or written.
    #[error(transparent)]
    Wallet(#[from] crate::wallet::WalletError),
    /// A request order's `params` that workers could not use: refused before it is signed or
    /// matched (it would end in a paid error result).
    #[error("{0}: nothing was signed or paid (see `dexec app run --help` for the keys)")]
    BadParams(#[from] dexec_primitives::ParamsError),
    /// A JSON-RPC request failed.
    #[error("JSON-RPC request failed: {}", describe_transport(.0))]
    Rpc(#[from] alloy::transports::TransportError),
    /// A value from the chain could not be understood (an incompatible hub?).
    #[error("unexpected data from the chain: {0}")]
    Decode(String),
}

impl Error {
    /// True when the hub (or a registry, or the token) refused the call: the chain said no.
    pub fn is_revert(&self) -> bool {
        matches!(
            self,
            Self::Contract(dexec_contracts::Error::Revert { .. })
                | Self::Contract(dexec_contracts::Error::Failed(_))
        )
    }
}

/// Wrap a contract error into the SDK's.
pub(crate) fn contract<E: Into<dexec_contracts::Error>>(err: E) -> Error {
    Error::Contract(err.into())
}

/// What a transport error means for a user: a request that timed out says so (with the
/// flag that sets the limit), anything else is the transport's own words.
pub fn describe_transport(error: &alloy::transports::TransportError) -> String {
    let mut source: Option<&(dyn std::error::Error + 'static)> = Some(error);
    while let Some(e) = source {
        if let Some(http) = e.downcast_ref::<alloy::transports::http::reqwest::Error>() {
            if http.is_timeout() {
                return "the node did not answer in time (a JSON-RPC request's limit is set by \
                        --rpc-timeout-secs, 30 s by default)"
                    .into();
            }
        }
        source = e.source();
    }
    error.to_string()
}
