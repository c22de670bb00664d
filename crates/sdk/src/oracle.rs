//! Oracles: contracts that order computations and receive their results
//! (`contracts/src/oracle`, `docs/oracles.md`).
//!
//! A [`PriceFeedOracle`](dexec_contracts::PriceFeedOracle) consumer presigns a volume-1 request
//! order on the hub when its owner or an updater calls `requestUpdate`, and emits the whole
//! order in `ResultRequested`; [`Client::request_feed_update`] sends that call and returns the
//! order, ready to publish on the market where a scheduler fills it. The task's callback data
//! (`abi.encode(int256 value, uint256 timestamp)`, what the `pricefeed` app writes) updates
//! the feed; [`Client::feed_value`] reads it in the EIP-2362 shape.

use alloy::primitives::{keccak256, Address, Bytes, B256, I256, U256};
use dexec_contracts::tx::{find_event, send};
use dexec_contracts::{HubPoco, PriceFeedOracle};
use dexec_primitives::{Nrlc, RequestOrder, Signed};
use serde::Serialize;

use crate::client::{Client, TxOutcome};
use crate::error::{contract, Error, Result};

/// `valueFor` status: a value is present and fresh.
pub const STATUS_OK: u16 = 200;
/// `valueFor` status: no value yet.
pub const STATUS_NOT_FOUND: u16 = 404;
/// `valueFor` status: the value is older than the id's max age.
pub const STATUS_STALE: u16 = 408;

/// A feed id from its name: a `0x` + 64 hex digits id as is, any other text hashed
/// (`keccak256(name)`, as EIP-2362 ids such as `keccak256("eth-usd-3")` are made).
pub fn feed_id(name: &str) -> B256 {
    let hex = name.strip_prefix("0x").unwrap_or("");
    if hex.len() == 64 {
        if let Ok(id) = name.parse::<B256>() {
            return id;
        }
    }
    keccak256(name.as_bytes())
}

/// What a consumer asks of the request order it presigns (it fills in itself as requester,
/// beneficiary and callback, volume 1 and a salt).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct OracleSpec {
    /// The app.
    pub app: Address,
    /// Most paid to the app per run.
    pub app_max_price: Nrlc,
    /// The dataset (zero: none).
    pub dataset: Address,
    /// Most paid to the dataset per run.
    pub dataset_max_price: Nrlc,
    /// The workerpool (zero: any).
    pub workerpool: Address,
    /// Most paid to the workerpool per task.
    pub workerpool_max_price: Nrlc,
    /// Category.
    pub category: u64,
    /// Trust.
    pub trust: u64,
    /// Tag bits.
    pub tag: B256,
    /// The request's params (JSON: `iexec_args`, `iexec_input_files` …).
    pub params: String,
}

impl OracleSpec {
    /// What one update costs at most.
    pub fn max_cost(&self) -> Nrlc {
        Nrlc(
            self.app_max_price
                .0
                .saturating_add(self.dataset_max_price.0)
                .saturating_add(self.workerpool_max_price.0),
        )
    }
}

/// A request presigned by a consumer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct OracleRequested {
    /// The feed id.
    pub id: B256,
    /// The request order (empty signature: presigned on the hub by the consumer).
    pub request: Signed<RequestOrder>,
    /// Its EIP-712 hash.
    pub request_hash: B256,
    /// The task that will answer it (task 0 of deal (request, 0)).
    pub task_id: B256,
    /// The `requestUpdate` transaction.
    pub tx: TxOutcome,
}

/// A feed's value, as `valueFor` and `latest` give it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct FeedValue {
    /// The value (scaled by the feed's decimals).
    pub value: I256,
    /// Its time (the sources' time, floored to the feed's bucket), Unix seconds.
    pub timestamp: u64,
    /// EIP-2362 status: [`STATUS_OK`], [`STATUS_NOT_FOUND`] or [`STATUS_STALE`].
    pub status: u16,
    /// The task that produced it (zero: none yet).
    pub task_id: B256,
}

fn u256_of(n: Nrlc) -> U256 {
    U256::from(n.0)
}

impl Client {
    /// Deploy a [`PriceFeedOracle`] on this hub, owned by the wallet.
    pub async fn deploy_price_feed(&self) -> Result<(Address, TxOutcome)> {
        self.address()?;
        let builder = PriceFeedOracle::deploy_builder(self.provider(), self.deployment().hub);
        deployed(&send(&builder).await?)
    }

    /// Deploy the [`HashCheckConsumer`](dexec_contracts::HashCheckConsumer) example on this
    /// hub.
    pub async fn deploy_hash_check_consumer(&self) -> Result<(Address, TxOutcome)> {
        self.address()?;
        let builder = dexec_contracts::HashCheckConsumer::deploy_builder(
            self.provider(),
            self.deployment().hub,
        );
        deployed(&send(&builder).await?)
    }

    /// Let `who` request updates of `feed` (or not); the feed's owner only.
    pub async fn set_feed_updater(
        &self,
        feed: Address,
        who: Address,
        allowed: bool,
    ) -> Result<TxOutcome> {
        let contract = PriceFeedOracle::new(feed, self.provider());
        let receipt = send(&contract.setUpdater(who, allowed)).await?;
        Ok(TxOutcome::from(&receipt))
    }

    /// Values of `id` older than `seconds` read as stale (0: never); the feed's owner only.
    pub async fn set_feed_max_age(
        &self,
        feed: Address,
        id: B256,
        seconds: u64,
    ) -> Result<TxOutcome> {
        let contract = PriceFeedOracle::new(feed, self.provider());
        let receipt = send(&contract.setMaxAge(id, U256::from(seconds))).await?;
        Ok(TxOutcome::from(&receipt))
    }

    /// Move `amount` of the wallet's tokens into `to`'s hub account (a consumer contract pays
    /// its requests from there), approving the hub first when its allowance is short.
    pub async fn deposit_for(&self, amount: Nrlc, to: Address) -> Result<TxOutcome> {
        self.approve_hub(amount).await?;
        let hub = self.deployment().hub(self.provider());
        let receipt = send(&hub.depositFor(amount.to_u256(), to)).await?;
        Ok(TxOutcome::from(&receipt))
    }

    /// Ask `feed` for a new value of `id` as `spec` says: the consumer presigns the request
    /// on the hub. Checked first: the wallet may update the feed, and the feed's hub account
    /// holds what the update may cost.
    pub async fn request_feed_update(
        &self,
        feed: Address,
        id: B256,
        spec: &OracleSpec,
    ) -> Result<OracleRequested> {
        let me = self.address()?;
        dexec_primitives::RequestParams::parse(&spec.params)?;
        let contract = PriceFeedOracle::new(feed, self.provider());
        let owner = contract.owner().call().await.map_err(contract_err)?;
        if owner != me && !contract.isUpdater(me).call().await.map_err(contract_err)? {
            return Err(Error::Incompatible(vec![format!(
                "{me} may not request updates of feed {feed}: its owner {owner} lets an account \
                 do so with `dexec oracle updater`"
            )]));
        }
        let free = self.account_free(feed).await?;
        let cost = spec.max_cost();
        if free < cost {
            return Err(Error::Insufficient {
                what: "free hub balance",
                account: feed,
                needed: cost,
                available: free,
                hint: "; the feed pays its requests from its own hub account (`dexec oracle fund`)",
            });
        }
        let request = PriceFeedOracle::OracleRequest {
            app: spec.app,
            appmaxprice: u256_of(spec.app_max_price),
            dataset: spec.dataset,
            datasetmaxprice: u256_of(spec.dataset_max_price),
            workerpool: spec.workerpool,
            workerpoolmaxprice: u256_of(spec.workerpool_max_price),
            category: U256::from(spec.category),
            trust: U256::from(spec.trust),
            tag: spec.tag,
            params: spec.params.clone(),
        };
        let receipt = send(&contract.requestUpdate(id, request)).await?;
        let event = find_event::<PriceFeedOracle::ResultRequested>(&receipt, feed)?;
        let order = Signed::<RequestOrder>::from(event.order).order;
        let request_hash = self.order_hash(&order);
        if request_hash != event.requestHash {
            return Err(Error::Decode(format!(
                "the feed's request hashes to {} under this hub's domain, the feed says {}: is \
                 the feed deployed for another hub?",
                request_hash, event.requestHash
            )));
        }
        Ok(OracleRequested {
            id,
            request: Signed {
                order,
                sign: Bytes::new(),
            },
            request_hash,
            task_id: event.taskId,
            tx: TxOutcome::from(&receipt),
        })
    }

    /// Close `feed`'s pending `request` on the hub before any scheduler matches it (the
    /// feed's owner or an updater): it can no longer be filled, nothing was locked for it.
    /// Fails with the feed's reason when it was matched meanwhile.
    pub async fn cancel_feed_request(
        &self,
        feed: Address,
        request: &RequestOrder,
    ) -> Result<TxOutcome> {
        let order = PriceFeedOracle::RequestOrder::from(Signed::unsigned(request.clone()));
        let contract = PriceFeedOracle::new(feed, self.provider());
        let receipt = send(&contract.cancelRequest(order)).await?;
        Ok(TxOutcome::from(&receipt))
    }

    /// `feed`'s value of `id`: `valueFor` (EIP-2362 shape) and the task that produced it.
    pub async fn feed_value(&self, feed: Address, id: B256) -> Result<FeedValue> {
        if self.provider_code_is_empty(feed).await? {
            return Err(Error::Incompatible(vec![format!(
                "{feed} is not a contract on chain {}",
                self.chain_id()
            )]));
        }
        use alloy::providers::Provider;
        let contract = PriceFeedOracle::new(feed, self.provider());
        // both reads at one block: a finalization landing between them would pair the new
        // task id with the previous value
        let at = alloy::eips::BlockId::number(self.provider().get_block_number().await?);
        let value = contract
            .valueFor(id)
            .call()
            .block(at)
            .await
            .map_err(contract_err)?;
        let latest = contract
            .latest(id)
            .call()
            .block(at)
            .await
            .map_err(contract_err)?;
        Ok(FeedValue {
            value: value.value,
            timestamp: value.timestamp.saturating_to(),
            status: value.status.saturating_to(),
            task_id: latest.taskId,
        })
    }

    /// The callback data the hub delivered for `task` (empty: none, or not a callback task).
    pub async fn callback_data(&self, task: B256) -> Result<Bytes> {
        let poco = HubPoco::new(self.deployment().hub, self.provider());
        poco.resultFor(task).call().await.map_err(contract_err)
    }

    async fn provider_code_is_empty(&self, at: Address) -> Result<bool> {
        use alloy::providers::Provider;
        Ok(self.provider().get_code_at(at).await?.is_empty())
    }
}

/// The contract a deployment made, and its transaction.
fn deployed(receipt: &alloy::rpc::types::TransactionReceipt) -> Result<(Address, TxOutcome)> {
    let address = receipt
        .contract_address
        .ok_or_else(|| Error::Decode("the deployment receipt names no contract".into()))?;
    Ok((address, TxOutcome::from(receipt)))
}

fn contract_err(e: alloy::contract::Error) -> Error {
    contract(e)
}
