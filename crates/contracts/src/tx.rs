//! Sending transactions and reading their receipts.

use alloy::contract::{CallBuilder, CallDecoder};
use alloy::network::{Ethereum, EthereumWallet, TransactionBuilder};
use alloy::primitives::Address;
use alloy::providers::{DynProvider, PendingTransactionBuilder, Provider, ProviderBuilder};
use alloy::rpc::types::TransactionReceipt;
use alloy::signers::local::PrivateKeySigner;
use alloy::sol_types::SolEvent;
use alloy::transports::http::reqwest::{self, Url};

use crate::error::{Error, Result};

/// How long one JSON-RPC request may wait for the node's answer before failing: 30 s (the
/// market client's figure). A node that accepts connections and never answers would otherwise
/// hold a command forever.
pub const DEFAULT_RPC_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(30);

/// The HTTP client of JSON-RPC providers: every request fails after `timeout` (connecting
/// after at most 10 s of it).
pub fn rpc_http_client(timeout: std::time::Duration) -> reqwest::Client {
    reqwest::Client::builder()
        .connect_timeout(timeout.min(std::time::Duration::from_secs(10)))
        .timeout(timeout)
        .build()
        .unwrap_or_default()
}

/// How often a provider polls a node that is not on this machine for receipts and blocks.
/// alloy's default for such a node is 7 s, which made every transaction to a devnet on another
/// host (1 s blocks) take 5 to 7 s; one second is a block on a devnet or on fast L2s, and a
/// twelfth of one on Ethereum. A node on loopback keeps alloy's 250 ms.
pub const REMOTE_POLL_INTERVAL: std::time::Duration = std::time::Duration::from_secs(1);

/// The JSON-RPC client of providers: HTTP with [`rpc_http_client`], polling every 250 ms a
/// node on loopback and every [`REMOTE_POLL_INTERVAL`] any other.
pub fn rpc_client(url: Url, timeout: std::time::Duration) -> alloy::rpc::client::RpcClient {
    let client = alloy::rpc::client::ClientBuilder::default()
        .http_with_client(rpc_http_client(timeout), url);
    if client.is_local() {
        client
    } else {
        client.with_poll_interval(REMOTE_POLL_INTERVAL)
    }
}

/// [`signing_provider_with_timeout`] with [`DEFAULT_RPC_TIMEOUT`].
pub fn signing_provider(url: Url, signers: &[PrivateKeySigner]) -> DynProvider {
    signing_provider_with_timeout(url, signers, DEFAULT_RPC_TIMEOUT)
}

/// An HTTP provider for `url` that signs with `signers` (choose one per call with
/// `.from(address)`; the first is the default) and fills gas, nonce and chain id.
///
/// Nonces are read from the node before every transaction instead of being cached: alloy's
/// default cached nonce manager reserves a nonce before gas estimation, so a call the hub
/// refuses leaves a gap and the next transaction of that account is never mined. Reading
/// them also keeps the provider right after `evm_revert` or transactions sent by other tools.
/// Every request fails after `timeout` ([`rpc_http_client`]).
pub fn signing_provider_with_timeout(
    url: Url,
    signers: &[PrivateKeySigner],
    timeout: std::time::Duration,
) -> DynProvider {
    let mut wallet = EthereumWallet::default();
    for signer in signers {
        wallet.register_signer(signer.clone());
    }
    if let Some(first) = signers.first() {
        wallet.register_default_signer(first.clone());
    }
    ProviderBuilder::new()
        .disable_recommended_fillers()
        .with_gas_estimation()
        .with_simple_nonce_management()
        .fetch_chain_id()
        .wallet(wallet)
        .connect_client(rpc_client(url, timeout))
        .erased()
}

/// Send `call` as a transaction and wait for its receipt; a mined failure is an error.
///
/// A call the contract would refuse fails earlier, at gas estimation, with
/// [`Error::Revert`] and the decoded reason.
pub async fn send<P: Provider, D: CallDecoder>(
    call: &CallBuilder<P, D>,
) -> Result<TransactionReceipt> {
    let receipt = submit(call).await?.get_receipt().await?;
    if !receipt.status() {
        return Err(Error::Failed(receipt.transaction_hash));
    }
    Ok(receipt)
}

/// Send `call` as a transaction without waiting for it to be mined (several can then land in
/// one block: nonces come from the node's pending count).
///
/// The gas limit is the estimate plus a margin ([`with_margin`]): the estimate is made
/// against the latest block, and a transaction mined after another one that changed the same
/// state (a contribution that reaches consensus, say) can need more.
pub async fn submit<P: Provider, D: CallDecoder>(
    call: &CallBuilder<P, D>,
) -> Result<PendingTransactionBuilder<Ethereum>> {
    let estimate = call.estimate_gas().await?;
    let request = call.as_ref().clone().with_gas_limit(with_margin(estimate));
    Ok(call.provider.send_transaction(request).await?)
}

/// Send `call` as a transaction with the gas limit `gas_limit`, without estimating it and
/// without waiting for it to be mined: for calls whose gas must cover what the estimate cannot
/// see (callbacks, whose consumers may burn their whole cap when mined and not when estimated).
/// Check the call first (`estimate_gas` or `call`): a refused call sent this way is mined and
/// reverts.
pub async fn submit_with_gas_limit<P: Provider, D: CallDecoder>(
    call: &CallBuilder<P, D>,
    gas_limit: u64,
) -> Result<PendingTransactionBuilder<Ethereum>> {
    let request = call.as_ref().clone().with_gas_limit(gas_limit);
    Ok(call.provider.send_transaction(request).await?)
}

/// A gas limit for an `estimate`: a quarter more, and 20,000 gas (unused gas is not paid).
pub fn with_margin(estimate: u64) -> u64 {
    estimate.saturating_add(estimate / 4).saturating_add(20_000)
}

/// The first `E` event emitted by `emitter` in `receipt`.
pub fn find_event<E: SolEvent>(receipt: &TransactionReceipt, emitter: Address) -> Result<E> {
    receipt
        .logs()
        .iter()
        .filter(|log| log.address() == emitter)
        .find_map(|log| log.log_decode::<E>().ok())
        .map(|log| log.inner.data)
        .ok_or(Error::MissingEvent {
            event: E::SIGNATURE,
            tx: receipt.transaction_hash,
        })
}
