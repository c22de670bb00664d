//! Orders on chain: sign, presign, cancel, remaining volume, and matching with checks that
//! say in a sentence why orders cannot match before any transaction is sent.

use alloy::primitives::{Address, B256, U256};
use alloy::providers::Provider;
use alloy::sol_types::SolStruct;
use dexec_contracts::tx::{find_event, send};
use dexec_contracts::Hub;
use dexec_primitives::compat::{incompatibilities, Incompatibility, MatchOrders};
use dexec_primitives::deal::Deal;
use dexec_primitives::orders::Operable;
use dexec_primitives::{
    task_id, AppOrder, DatasetOrder, Nrlc, OrderOperation, RequestOrder, Signed, WorkerpoolOrder,
};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

use crate::client::{nrlc, Client, TxOutcome};
use crate::error::{contract, Error, Result};
pub use dexec_primitives::kinds::{AssetKind, OrderKind};
pub use dexec_primitives::poco::SCHEDULER_STAKE_RATIO;

/// What the SDK needs to know of each order type.
pub trait HubOrder:
    SolStruct + Operable + Clone + Serialize + DeserializeOwned + Send + Sync + 'static
{
    /// Which kind this is.
    const KIND: OrderKind;
    /// The order's volume.
    fn volume(&self) -> U256;
    /// The asset whose owner must sign, or `None` for a request (signed by its requester).
    fn asset(&self) -> Option<(AssetKind, Address)>;
    /// The account that must sign: the asset's owner, or the requester.
    fn required_signer(&self) -> Option<Address> {
        None
    }
    /// Presign or close the order on chain as its owner.
    fn manage(
        &self,
        client: &Client,
        operation: OrderOperation,
    ) -> impl std::future::Future<Output = Result<TxOutcome>> + Send;
}

macro_rules! hub_order {
    ($order:ident, $kind:ident, $manage:ident, $operation:ident, |$o:ident| $asset:expr, |$r:ident| $signer:expr) => {
        impl HubOrder for $order {
            const KIND: OrderKind = OrderKind::$kind;

            fn volume(&self) -> U256 {
                self.volume
            }

            fn asset(&self) -> Option<(AssetKind, Address)> {
                let $o = self;
                $asset
            }

            fn required_signer(&self) -> Option<Address> {
                let $r = self;
                $signer
            }

            async fn manage(
                &self,
                client: &Client,
                operation: OrderOperation,
            ) -> Result<TxOutcome> {
                let hub = client.deployment().hub(client.provider());
                let op = Hub::$operation::by_owner(self.clone(), operation);
                let receipt = send(&hub.$manage(op)).await?;
                Ok(TxOutcome::from(&receipt))
            }
        }
    };
}

hub_order!(
    AppOrder,
    App,
    manageAppOrder,
    AppOrderOperation,
    |o| Some((AssetKind::App, o.app)),
    |_r| None
);
hub_order!(
    DatasetOrder,
    Dataset,
    manageDatasetOrder,
    DatasetOrderOperation,
    |o| Some((AssetKind::Dataset, o.dataset)),
    |_r| None
);
hub_order!(
    WorkerpoolOrder,
    Workerpool,
    manageWorkerpoolOrder,
    WorkerpoolOrderOperation,
    |o| Some((AssetKind::Workerpool, o.workerpool)),
    |_r| None
);
hub_order!(
    RequestOrder,
    Request,
    manageRequestOrder,
    RequestOrderOperation,
    |_o| None,
    |r| Some(r.requester)
);

/// An order's state on chain.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct OrderStatus {
    /// Kind of order.
    pub kind: OrderKind,
    /// Its EIP-712 hash (the hub's key for it).
    pub hash: B256,
    /// Its volume.
    #[serde(serialize_with = "decimal")]
    pub volume: U256,
    /// Volume already used by deals, or all of it once cancelled.
    #[serde(serialize_with = "decimal")]
    pub consumed: U256,
    /// Volume that can still match.
    #[serde(serialize_with = "decimal")]
    pub remaining: U256,
    /// Who presigned it on chain, if anyone (the presign holds only while that owner keeps the
    /// asset without interruption).
    pub presigned_by: Option<Address>,
    /// Who signed it (recovered from an ECDSA signature), if it carries one.
    pub signer: Option<Address>,
}

/// The four orders of a match. A match without dataset has `dataset: None`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MatchInput {
    /// The app order.
    pub app: Signed<AppOrder>,
    /// The dataset order, if the request uses a dataset.
    pub dataset: Option<Signed<DatasetOrder>>,
    /// The workerpool order.
    pub workerpool: Signed<WorkerpoolOrder>,
    /// The request order.
    pub request: Signed<RequestOrder>,
}

impl MatchInput {
    /// The orders, by reference, for [`dexec_primitives::compat`].
    pub fn orders(&self) -> MatchOrders<'_> {
        MatchOrders {
            app: &self.app.order,
            dataset: self.dataset.as_ref().map(|d| &d.order),
            workerpool: &self.workerpool.order,
            request: &self.request.order,
        }
    }

    /// Why these orders cannot match, by the hub's checks that need no chain state, in the
    /// hub's order (empty when they are compatible): [`dexec_primitives::incompatibilities`].
    /// [`Client::plan_match`] adds the checks that read the chain.
    pub fn incompatibilities(&self) -> Vec<Incompatibility> {
        incompatibilities(&self.orders())
    }
}

/// The volume each order of a match has left on chain.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct RemainingVolumes {
    /// The app order's.
    pub app: u64,
    /// The dataset order's, when the match has one.
    pub dataset: Option<u64>,
    /// The workerpool order's.
    pub workerpool: u64,
    /// The request order's.
    pub request: u64,
}

impl RemainingVolumes {
    /// The deal's volume: the smallest.
    pub fn deal_volume(&self) -> u64 {
        self.app
            .min(self.dataset.unwrap_or(u64::MAX))
            .min(self.workerpool)
            .min(self.request)
    }

    /// The orders that have less than `wanted` left, as `"the app order has 3 left"`.
    pub fn short_of(&self, wanted: u64) -> Vec<String> {
        [
            ("app", Some(self.app)),
            ("dataset", self.dataset),
            ("workerpool", Some(self.workerpool)),
            ("request", Some(self.request)),
        ]
        .into_iter()
        .filter_map(|(kind, left)| {
            let left = left?;
            (left < wanted).then(|| format!("the {kind} order has {left} left"))
        })
        .collect()
    }
}

/// What a match would do, computed before sending it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct MatchPlan {
    /// Number of tasks the deal would have (the smallest remaining volume).
    pub volume: u64,
    /// What each order has left, which bounds [`volume`](Self::volume).
    pub remaining: RemainingVolumes,
    /// Price of one task (app + dataset + workerpool prices of the orders).
    pub price_per_task: Nrlc,
    /// What the requester pays in all (locked at match time).
    pub total_cost: Nrlc,
    /// What the scheduler locks as stake.
    pub scheduler_stake: Nrlc,
    /// The requester, who pays.
    pub payer: Address,
    /// The workerpool's owner (the scheduler), who stakes.
    pub scheduler: Address,
}

/// A deal made by [`Client::match_orders`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Matched {
    /// The deal's id.
    pub deal_id: B256,
    /// Its terms.
    pub deal: Deal,
    /// Its tasks' ids, in index order.
    pub tasks: Vec<B256>,
    /// The match transaction.
    pub tx: TxOutcome,
    /// What the match cost the requester.
    pub total_cost: Nrlc,
}

impl Client {
    /// Sign `order` with the wallet under the hub's domain, after checking that the wallet is
    /// the account the hub will expect (the asset's owner, or the request's requester).
    pub async fn sign_order<T: HubOrder>(&self, order: T) -> Result<Signed<T>> {
        if let Some(request) = (&order as &dyn std::any::Any).downcast_ref::<RequestOrder>() {
            dexec_primitives::RequestParams::parse(&request.params)?;
        }
        let signer = self.wallet()?;
        self.check_signer(&order, signer.address()).await?;
        Ok(Signed::sign(order, &self.domain(), signer)?)
    }

    async fn check_signer<T: HubOrder>(&self, order: &T, me: Address) -> Result<()> {
        if let Some((kind, asset)) = order.asset() {
            self.require_owner(kind, asset, me).await?;
        }
        if let Some(requester) = order.required_signer() {
            if requester != me {
                return Err(Error::Incompatible(vec![format!(
                    "the request names requester {requester} but the wallet is {me}: a request \
                     must be signed by its requester"
                )]));
            }
        }
        Ok(())
    }

    /// The order's EIP-712 hash under this hub's domain.
    pub fn order_hash<T: HubOrder>(&self, order: &T) -> B256 {
        order.eip712_signing_hash(&self.domain())
    }

    /// Volume of `hash` already consumed (all of it once the order is cancelled).
    pub async fn consumed(&self, hash: B256) -> Result<U256> {
        self.deployment()
            .hub(self.provider())
            .viewConsumed(hash)
            .call()
            .await
            .map_err(contract)
    }

    /// The order's state on chain.
    pub async fn order_status<T: HubOrder>(&self, order: &Signed<T>) -> Result<OrderStatus> {
        let hash = self.order_hash(&order.order);
        let consumed = self.consumed(hash).await?;
        // the hub keeps the presigner with its ownership period: a presign dies when the asset
        // changes hands (and stays dead if it comes back)
        let presigner = self
            .deployment()
            .hub(self.provider())
            .viewPresigned(hash)
            .call()
            .await
            .map_err(contract)?
            .owner;
        let volume = order.order.volume();
        Ok(OrderStatus {
            kind: T::KIND,
            hash,
            volume,
            consumed,
            remaining: volume.saturating_sub(consumed),
            presigned_by: (presigner != Address::ZERO).then_some(presigner),
            signer: order.recover(&self.domain()),
        })
    }

    /// Cancel `order` on chain (only its owner can): its remaining volume drops to zero, for
    /// good, wherever copies of its signature are.
    pub async fn cancel_order<T: HubOrder>(&self, order: &T) -> Result<TxOutcome> {
        let me = self.address()?;
        self.check_signer(order, me).await?;
        order.manage(self, OrderOperation::Close).await
    }

    /// Presign `order` on chain (only its owner can): it then matches without a signature,
    /// which lets smart contracts be requesters and owners.
    pub async fn presign_order<T: HubOrder>(&self, order: &T) -> Result<TxOutcome> {
        let me = self.address()?;
        self.check_signer(order, me).await?;
        order.manage(self, OrderOperation::Sign).await
    }

    /// Check that the orders can match and what the match would cost, without sending
    /// anything: compatibility (the same rules as the hub's, as sentences), remaining volumes,
    /// the requester's balance and the scheduler's stake.
    pub async fn plan_match(&self, input: &MatchInput) -> Result<MatchPlan> {
        dexec_primitives::RequestParams::parse(&input.request.order.params)?;
        let mut reasons = Vec::new();
        for why in input.incompatibilities() {
            // a restriction naming a contract may be an identity group: the hub decides
            if let Some((_, restriction)) = why.restriction(&input.orders()) {
                if !self.provider().get_code_at(restriction).await?.is_empty() {
                    continue;
                }
            }
            reasons.push(why.to_string());
        }
        if !reasons.is_empty() {
            return Err(Error::Incompatible(reasons));
        }
        let category: u64 = input.request.order.category.saturating_to();
        let count = self.category_count().await?;
        if category >= count {
            return Err(Error::UnknownCategory {
                id: category,
                count,
            });
        }
        let remaining = RemainingVolumes {
            app: self.remaining_of(&input.app).await?.saturating_to(),
            dataset: match &input.dataset {
                Some(dataset) => Some(self.remaining_of(dataset).await?.saturating_to()),
                None => None,
            },
            workerpool: self.remaining_of(&input.workerpool).await?.saturating_to(),
            request: self.remaining_of(&input.request).await?.saturating_to(),
        };
        let volume = remaining.deal_volume();

        let price = price_per_task(input)?;
        let total_cost = Nrlc(price.checked_mul(u128::from(volume)).ok_or_else(overflow)?);
        let wp_price: u128 = input.workerpool.order.workerpoolprice.saturating_to();
        let stake = Nrlc(
            dexec_primitives::poco::scheduler_stake(wp_price)
                .checked_mul(u128::from(volume))
                .ok_or_else(overflow)?,
        );
        let payer = input.request.order.requester;
        let scheduler = self
            .asset_owner(AssetKind::Workerpool, input.workerpool.order.workerpool)
            .await?
            .ok_or(Error::UnknownAsset {
                kind: AssetKind::Workerpool,
                address: input.workerpool.order.workerpool,
            })?;
        let payer_free = self.account_free(payer).await?;
        if payer_free < total_cost {
            return Err(Error::Insufficient {
                what: "free hub balance",
                account: payer,
                needed: total_cost,
                available: payer_free,
                hint: "; the requester pays price x volume at match time (`dexec account deposit`)",
            });
        }
        let scheduler_free = self.account_free(scheduler).await?;
        if scheduler_free < stake {
            return Err(Error::Insufficient {
                what: "free hub balance",
                account: scheduler,
                needed: stake,
                available: scheduler_free,
                hint: "; the scheduler stakes 30% of the workerpool price per task",
            });
        }
        Ok(MatchPlan {
            volume,
            remaining,
            price_per_task: Nrlc(price),
            total_cost,
            scheduler_stake: stake,
            payer,
            scheduler,
        })
    }

    async fn remaining_of<T: HubOrder>(&self, order: &Signed<T>) -> Result<U256> {
        let hash = self.order_hash(&order.order);
        let remaining = order
            .order
            .volume()
            .saturating_sub(self.consumed(hash).await?);
        if remaining.is_zero() {
            return Err(Error::Exhausted {
                kind: T::KIND.name(),
                hash,
            });
        }
        Ok(remaining)
    }

    /// The free hub balance of `who`.
    pub async fn account_free(&self, who: Address) -> Result<Nrlc> {
        let account = self
            .deployment()
            .hub(self.provider())
            .viewAccount(who)
            .call()
            .await
            .map_err(contract)?;
        nrlc(account.balance)
    }

    /// Match the orders: checks everything [`Client::plan_match`] checks, then sends
    /// `matchOrders` from the wallet (anyone may send it; the requester pays) and returns the
    /// deal from its `DealCreated` event.
    pub async fn match_orders(&self, input: &MatchInput) -> Result<Matched> {
        self.address()?;
        let plan = self.plan_match(input).await?;
        let hub = self.deployment().hub(self.provider());
        let dataset = input
            .dataset
            .as_ref()
            .map(Hub::DatasetOrder::from)
            .unwrap_or_else(Hub::DatasetOrder::none);
        let call = hub.matchOrders(
            (&input.app).into(),
            dataset,
            (&input.workerpool).into(),
            (&input.request).into(),
        );
        let receipt = send(&call).await?;
        let event = find_event::<Hub::DealCreated>(&receipt, self.deployment().hub)?;
        let deal = Deal::decode(&event.deal).map_err(|e| Error::Decode(e.to_string()))?;
        let tasks = deal
            .task_indices()
            .map(|i| task_id(event.dealId, i))
            .collect();
        tracing::debug!(target: "sdk::match", deal = %event.dealId, volume = plan.volume, "matched");
        Ok(Matched {
            deal_id: event.dealId,
            total_cost: Nrlc(deal.total_price()),
            deal,
            tasks,
            tx: TxOutcome::from(&receipt),
        })
    }
}

/// A U256 as a decimal string (alloy's default is hex; volumes read better in decimal).
fn decimal<S: serde::Serializer>(value: &U256, serializer: S) -> Result<S::Ok, S::Error> {
    serializer.collect_str(value)
}

fn overflow() -> Error {
    Error::Incompatible(vec!["price x volume overflows 128 bits".into()])
}

/// Sum of the orders' prices per task.
fn price_per_task(input: &MatchInput) -> Result<u128> {
    let app: u128 = input.app.order.appprice.saturating_to();
    let dataset: u128 = input
        .dataset
        .as_ref()
        .map_or(0, |d| d.order.datasetprice.saturating_to());
    let pool: u128 = input.workerpool.order.workerpoolprice.saturating_to();
    app.checked_add(dataset)
        .and_then(|s| s.checked_add(pool))
        .ok_or_else(overflow)
}
