//! Errors of contract interactions, with reverts decoded into sentences a user understands.

use alloy::primitives::{Bytes, TxHash};
use alloy::sol_types::{Panic, Revert, SolInterface};
use dexec_primitives::compat::Incompatibility;

use crate::bindings::{DevToken, Hub, HubPoco, WorkerpoolRegistry};

/// Result of contract interactions.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// What can go wrong talking to the dexec contracts.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A contract refused the call (during gas estimation or an `eth_call`); `reason` is the
    /// decoded custom error (see [`describe_revert`]), `data` the raw revert data.
    #[error("the contract refused: {reason}")]
    Revert {
        /// The revert, as a sentence.
        reason: String,
        /// Raw revert data (selector and arguments).
        data: Bytes,
    },
    /// A transaction was mined but failed (status 0).
    #[error("transaction {0} was mined but reverted")]
    Failed(TxHash),
    /// A receipt lacks an event the call always emits on success.
    #[error("transaction {tx} emitted no {event} event")]
    MissingEvent {
        /// The event's name.
        event: &'static str,
        /// The transaction.
        tx: TxHash,
    },
    /// A call or deployment failed before reaching the contract (RPC, ABI decoding, …).
    #[error(transparent)]
    Contract(alloy::contract::Error),
    /// Waiting for a transaction's receipt failed.
    #[error(transparent)]
    Pending(#[from] alloy::providers::PendingTransactionError),
    /// A JSON-RPC request failed.
    #[error(transparent)]
    Transport(#[from] alloy::transports::TransportError),
    /// Signing an order or an operation failed.
    #[error(transparent)]
    Signer(#[from] alloy::signers::Error),
}

impl From<alloy::contract::Error> for Error {
    fn from(err: alloy::contract::Error) -> Self {
        match err.as_revert_data() {
            Some(data) => Self::Revert {
                reason: describe_revert(&data),
                data,
            },
            None => Self::Contract(err),
        }
    }
}

impl Error {
    /// The hub's custom error, if this is a revert of the hub.
    pub fn as_hub_error(&self) -> Option<Hub::HubErrors> {
        match self {
            Self::Revert { data, .. } => Hub::HubErrors::abi_decode(data).ok(),
            _ => None,
        }
    }
}

/// Describe revert data of the hub, a registry or the token as a sentence. Unknown data is
/// shown as hex.
pub fn describe_revert(data: &[u8]) -> String {
    if let Ok(err) = Hub::HubErrors::abi_decode(data) {
        return describe_hub_error(&err);
    }
    // errors only the execution module declares (the rest are the hub's, decoded above)
    if let Ok(err) = HubPoco::HubPocoErrors::abi_decode(data) {
        return match err {
            HubPoco::HubPocoErrors::NotDelegated(_) => {
                "call the hub's address, not its execution module's".to_owned()
            }
            HubPoco::HubPocoErrors::ResultPending(e) => {
                format!("task {} has no callback result yet", e.taskId)
            }
            other => format!("{other:?}"),
        };
    }
    // the workerpool registry's errors are a superset of the app and dataset registries'
    if let Ok(err) = WorkerpoolRegistry::WorkerpoolRegistryErrors::abi_decode(data) {
        return describe_registry_error(&err);
    }
    if let Ok(err) = DevToken::DevTokenErrors::abi_decode(data) {
        return describe_token_error(&err);
    }
    if let Ok(revert) = <Revert as alloy::sol_types::SolError>::abi_decode(data) {
        return revert.reason;
    }
    if let Ok(panic) = <Panic as alloy::sol_types::SolError>::abi_decode(data) {
        return format!("panic: {panic}");
    }
    if data.is_empty() {
        return "reverted without a reason".to_owned();
    }
    format!("unknown revert 0x{}", alloy::hex::encode(data))
}

/// One sentence per hub error: what was wrong, with the values involved.
pub fn describe_hub_error(err: &Hub::HubErrors) -> String {
    use Hub::HubErrors as E;
    // the match checks say what the SDK's pre-check says, from one table
    if let Some(why) = incompatibility(err) {
        return why.to_string();
    }
    match err {
        E::InsufficientBalance(e) => format!(
            "account {} has {} nRLC free but needs {} nRLC (deposit more first)",
            e.account, e.available, e.needed
        ),
        E::ZeroAmount(_) => "the amount is zero".to_owned(),
        E::AmountOutOfRange(e) => format!("amount {} would push a balance past 2^112 - 1", e.amount),
        E::ZeroAddress(_) => "the recipient is the zero address".to_owned(),
        E::UnknownCategory(e) => format!("category {} does not exist", e.category),
        E::InvalidTimeRef(e) => {
            format!("category time reference {} s is not in 1..=604800", e.timeref)
        }
        E::AppNotRegistered(e) => format!("app {} is not registered", e.app),
        E::DatasetNotRegistered(e) => format!("dataset {} is not registered", e.dataset),
        E::WorkerpoolNotRegistered(e) => format!("workerpool {} is not registered", e.workerpool),
        E::InvalidAppOrderSignature(e) => format!(
            "app order {} is not signed (or presigned) by the app's owner",
            e.orderHash
        ),
        E::InvalidDatasetOrderSignature(e) => format!(
            "dataset order {} is not signed (or presigned) by the dataset's owner",
            e.orderHash
        ),
        E::InvalidWorkerpoolOrderSignature(e) => format!(
            "workerpool order {} is not signed (or presigned) by the workerpool's owner",
            e.orderHash
        ),
        E::InvalidRequestOrderSignature(e) => format!(
            "request order {} is not signed (or presigned) by its requester",
            e.orderHash
        ),
        E::AppOrderConsumed(e) => format!("app order {} has no volume left", e.orderHash),
        E::DatasetOrderConsumed(e) => format!("dataset order {} has no volume left", e.orderHash),
        E::WorkerpoolOrderConsumed(e) => {
            format!("workerpool order {} has no volume left", e.orderHash)
        }
        E::RequestOrderConsumed(e) => format!("request order {} has no volume left", e.orderHash),
        E::NotOrderOwner(e) => format!(
            "{} may not manage this order: only its owner {} or a holder of the owner's signature may",
            e.caller, e.owner
        ),
        E::InvalidOperationSignature(_) => {
            "the order operation is not signed by the order's owner".to_owned()
        }
        E::UnknownDeal(e) => {
            format!("deal {} does not exist or does not match its commitment", e.dealId)
        }
        E::MalformedDeal(e) => format!("a packed deal is 286 bytes, not {}", e.length),
        E::NotARegistry(e) => format!("{} is not one of the hub's registries", e.caller),
        E::NothingToRecover(_) => "the hub holds no tokens beyond its users' funds".to_owned(),
        E::OwnableUnauthorizedAccount(e) => {
            format!("{} is not the hub's owner", e.account)
        }
        E::SafeERC20FailedOperation(e) => format!("token {} refused the transfer", e.token),
        E::ReentrancyGuardReentrantCall(_) => "re-entrant call refused".to_owned(),
        // execution side
        E::TaskIndexOutOfRange(e) => format!(
            "task index {} is outside the deal's bag [{}, {})",
            e.index,
            e.botFirst,
            e.botFirst + e.botSize
        ),
        E::TaskAlreadySettled(e) => {
            format!("task {} is already settled (completed or claimed)", e.taskId)
        }
        E::WrongTaskStatus(e) => format!(
            "task {} is in the wrong state for this call (status {}: 0 unset, 1 active, 2 revealing, 3 completed, 4 failed)",
            e.taskId, e.status
        ),
        E::DeadlinePassed(e) => format!("too late: the deadline was {} (unix time)", e.deadline),
        E::DeadlineNotReached(e) => {
            format!("too early: wait until {} (unix time)", e.deadline)
        }
        E::FastPathOnly(e) => format!(
            "a trust-{} deal settles in one transaction (contributeAndFinalize or pushResults), not by contributions",
            e.trust
        ),
        E::ReplicationRequired(e) => format!(
            "a trust-{} deal needs replicated contributions (contribute, reveal, finalize)",
            e.trust
        ),
        E::InvalidAuthorization(_) => "the worker's authorization is not signed by the workerpool owner (or, for enclaves, the TEE broker) for this worker, task and enclave".to_owned(),
        E::EnclaveRequired(_) => "this is a TEE deal: the result must come from an enclave".to_owned(),
        E::InvalidEnclaveSignature(_) => "the enclave did not sign this result".to_owned(),
        E::CallbackDataMismatch(_) => "the callback data must hash to the result digest (and be empty for deals without a callback)".to_owned(),
        E::AlreadyContributed(e) => format!("{} already contributed to this task", e.worker),
        E::TooManyContributors(_) => "this task already has the maximum of 16 contributions".to_owned(),
        E::NotTheScheduler(e) => format!("{} is not the deal's scheduler (workerpool owner at match time)", e.caller),
        E::ContributorsMismatch(_) => "the contributor list is not the task's contributors in contribution order".to_owned(),
        E::RevealRejected(_) => "the revealed digest does not match the consensus or the contribution".to_owned(),
        E::NotRevealable(_) => "this worker has no contribution that may reveal (it did not contribute, already revealed, or voted for a consensus a reopen rejected)".to_owned(),
        E::NotEnoughGasForCallback(_) => "send more gas: each callback must receive the hub's full callback gas cap (callbackGasLimit(), plus 1/64 of it)".to_owned(),
        E::InvalidCallbackGas(e) => format!("callback gas {} is outside 50,000 .. 5,000,000", e.gasLimit),
        E::BatchEmpty(_) => "the batch is empty".to_owned(),
        E::ZeroWorker(e) => format!("task {} names no worker (its reward would be lost)", e.index),
        E::TaskHasContributors(e) => format!("task {} has contributors: claim it alone with claim(..., contributors) so their stakes are settled", e.taskId),
        E::InvalidContributionSignature(e) => format!(
            "worker {} did not sign this contribution: it must sign keccak256(taskId ‖ resultHash ‖ resultSeal ‖ enclaveChallenge) as an EIP-191 message; ask the worker for a fresh signature",
            e.worker
        ),
        E::CallbackNotPending(e) => format!(
            "task {} has no result waiting for its callback (not settled by pushResults, the deal has no callback, or it was delivered already)",
            e.taskId
        ),
        // errors that describe themselves well enough, and any added later
        #[allow(unreachable_patterns)]
        other => format!("{other:?}"),
    }
}

/// The match check a hub error reports, as the typed [`Incompatibility`] the off-chain rule
/// ([`dexec_primitives::compat::incompatibilities`]) gives; `None` for errors of other checks
/// (chain state, signatures, volumes consumed by earlier deals, execution).
pub fn incompatibility(err: &Hub::HubErrors) -> Option<Incompatibility> {
    use Hub::HubErrors as E;
    use Incompatibility as I;
    Some(match err {
        E::CategoryMismatch(e) => I::CategoryMismatch {
            requested: e.requestCategory,
            offered: e.workerpoolCategory,
        },
        E::TrustTooHigh(e) => I::TrustTooHigh {
            requested: e.requested,
            offered: e.offered,
        },
        E::TrustOutOfRange(e) => I::TrustOutOfRange { trust: e.trust },
        E::AppPriceTooHigh(e) => I::AppPriceTooHigh {
            price: e.price,
            max: e.max,
        },
        E::DatasetPriceTooHigh(e) => I::DatasetPriceTooHigh {
            price: e.price,
            max: e.max,
        },
        E::WorkerpoolPriceTooHigh(e) => I::WorkerpoolPriceTooHigh {
            price: e.price,
            max: e.max,
        },
        E::TagNotOffered(e) => I::TagNotOffered {
            required: e.required,
            offered: e.offered,
        },
        E::TeeMismatch(e) => I::TeeMismatch {
            deal_tag: e.dealTag,
            app_tag: e.appTag,
        },
        E::AppMismatch(e) => I::AppMismatch {
            requested: e.requested,
            offered: e.offered,
        },
        E::DatasetMismatch(e) => I::DatasetMismatch {
            requested: e.requested,
            offered: e.offered,
        },
        E::WorkerpoolRestrictedByRequest(e) => I::WorkerpoolRestrictedByRequest {
            workerpool: e.workerpool,
        },
        E::DatasetRestrictedByApp(e) => I::DatasetRestrictedByApp { dataset: e.dataset },
        E::WorkerpoolRestrictedByApp(e) => I::WorkerpoolRestrictedByApp {
            workerpool: e.workerpool,
        },
        E::RequesterRestrictedByApp(e) => I::RequesterRestrictedByApp {
            requester: e.requester,
        },
        E::AppRestrictedByDataset(e) => I::AppRestrictedByDataset { app: e.app },
        E::WorkerpoolRestrictedByDataset(e) => I::WorkerpoolRestrictedByDataset {
            workerpool: e.workerpool,
        },
        E::RequesterRestrictedByDataset(e) => I::RequesterRestrictedByDataset {
            requester: e.requester,
        },
        E::AppRestrictedByWorkerpool(e) => I::AppRestrictedByWorkerpool { app: e.app },
        E::DatasetRestrictedByWorkerpool(e) => {
            I::DatasetRestrictedByWorkerpool { dataset: e.dataset }
        }
        E::RequesterRestrictedByWorkerpool(e) => I::RequesterRestrictedByWorkerpool {
            requester: e.requester,
        },
        E::PriceOutOfRange(e) => I::PriceOutOfRange { price: e.price },
        E::VolumeOutOfRange(e) => I::VolumeOutOfRange { volume: e.volume },
        _ => return None,
    })
}

fn describe_registry_error(err: &WorkerpoolRegistry::WorkerpoolRegistryErrors) -> String {
    use WorkerpoolRegistry::WorkerpoolRegistryErrors as E;
    match err {
        E::AlreadyRegistered(e) => {
            format!(
                "asset {} is already registered (same owner and metadata)",
                e.asset
            )
        }
        E::NotAssetOwner(e) => format!("{} does not own asset {}", e.caller, e.asset),
        E::RatioOutOfRange(e) => format!("ratio {} is above 100 percent", e.ratio),
        E::NotDeployer(e) => format!("only the registry's deployer may bind it, not {}", e.caller),
        E::HubAlreadyBound(e) => format!("the registry is already bound to hub {}", e.hub),
        E::HubNotBound(_) => "the registry is not bound to a hub yet (bindHub)".to_owned(),
        other => format!("{other:?}"),
    }
}

fn describe_token_error(err: &DevToken::DevTokenErrors) -> String {
    use DevToken::DevTokenErrors as E;
    match err {
        E::ERC20InsufficientBalance(e) => format!(
            "{} holds {} nRLC of the token but needs {}",
            e.sender, e.balance, e.needed
        ),
        E::ERC20InsufficientAllowance(e) => format!(
            "allowance of {} is {} nRLC but {} are needed (approve the hub first)",
            e.spender, e.allowance, e.needed
        ),
        E::OwnableUnauthorizedAccount(e) => format!("{} may not mint the dev token", e.account),
        other => format!("{other:?}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloy::primitives::{Address, U256};
    use alloy::sol_types::SolError;

    #[test]
    fn hub_errors_become_sentences() {
        let data = Hub::InsufficientBalance {
            account: Address::repeat_byte(1),
            needed: U256::from(10),
            available: U256::from(3),
        }
        .abi_encode();
        let text = describe_revert(&data);
        assert!(text.contains("has 3 nRLC free but needs 10 nRLC"), "{text}");
    }

    #[test]
    fn execution_errors_become_sentences() {
        let data = Hub::TaskIndexOutOfRange {
            index: U256::from(7),
            botFirst: U256::from(2),
            botSize: U256::from(5),
        }
        .abi_encode();
        assert_eq!(
            describe_revert(&data),
            "task index 7 is outside the deal's bag [2, 7)"
        );
        let data = crate::bindings::HubPoco::NotDelegated {}.abi_encode();
        assert_eq!(
            describe_revert(&data),
            "call the hub's address, not its execution module's"
        );
    }

    #[test]
    fn hardened_hub_errors_become_sentences() {
        let worker = Address::repeat_byte(7);
        let data = Hub::InvalidContributionSignature { worker }.abi_encode();
        let text = describe_revert(&data);
        assert!(
            text.starts_with(&format!("worker {worker} did not sign this contribution"))
                && text.contains("EIP-191"),
            "{text}"
        );
        let task = alloy::primitives::B256::repeat_byte(9);
        let data = Hub::CallbackNotPending { taskId: task }.abi_encode();
        let text = describe_revert(&data);
        assert!(
            text.starts_with(&format!(
                "task {task} has no result waiting for its callback"
            )),
            "{text}"
        );
        // the execution module's ABI decodes them as the hub's (same selectors)
        let data = HubPoco::CallbackNotPending { taskId: task }.abi_encode();
        assert_eq!(describe_revert(&data), text);
        let data = Hub::TrustOutOfRange {
            trust: U256::from(65_537),
        }
        .abi_encode();
        assert_eq!(
            describe_revert(&data),
            Incompatibility::TrustOutOfRange {
                trust: U256::from(65_537)
            }
            .to_string()
        );
    }

    #[test]
    fn match_errors_say_what_the_pre_check_says() {
        let data = Hub::TrustTooHigh {
            requested: U256::from(3),
            offered: U256::from(1),
        }
        .abi_encode();
        let why = Incompatibility::TrustTooHigh {
            requested: U256::from(3),
            offered: U256::from(1),
        };
        assert_eq!(describe_revert(&data), why.to_string());
        let err = Hub::HubErrors::abi_decode(&data).expect("a hub error");
        assert_eq!(incompatibility(&err), Some(why));
        let consumed = Hub::HubErrors::AppOrderConsumed(Hub::AppOrderConsumed {
            orderHash: Default::default(),
        });
        assert_eq!(incompatibility(&consumed), None);
    }

    #[test]
    fn registry_and_token_errors_are_decoded() {
        let data = WorkerpoolRegistry::RatioOutOfRange {
            ratio: U256::from(101),
        }
        .abi_encode();
        assert_eq!(describe_revert(&data), "ratio 101 is above 100 percent");
        let data = DevToken::ERC20InsufficientAllowance {
            spender: Address::ZERO,
            allowance: U256::ZERO,
            needed: U256::from(5),
        }
        .abi_encode();
        assert!(describe_revert(&data).contains("approve the hub first"));
    }

    #[test]
    fn unknown_data_is_hex() {
        assert_eq!(describe_revert(&[0xde, 0xad]), "unknown revert 0xdead");
        assert_eq!(describe_revert(&[]), "reverted without a reason");
        let data = Revert::from("plain reason").abi_encode();
        assert_eq!(describe_revert(&data), "plain reason");
    }
}
