//! Market-side flows of `dexec bench gas`: matching orders, deposit, withdraw, cancel.

use alloy::primitives::{Address, Bytes, B256, U256};
use dexec_contracts::tx::{find_event, send};
use dexec_contracts::Hub;
use dexec_primitives::{
    AppOrder, DatasetOrder, Deal, Nrlc, OrderOperation, RequestOrder, Signed, WorkerpoolOrder,
};
use eyre::ensure;

use super::measure::{measured, Measured};
use super::world::{
    World, APP_OWNER, APP_PRICE, DATASET_OWNER, DATASET_PRICE, REQUESTER, SCHEDULER,
    WORKERPOOL_PRICE,
};

impl World {
    /// Sign new orders of `volume` tasks (trust 0) and have the requester match them.
    pub(super) async fn match_orders(
        &mut self,
        volume: u64,
        with_dataset: bool,
    ) -> eyre::Result<Measured> {
        let (_, gas) = self.match_deal(volume, with_dataset, 0).await?;
        Ok(gas)
    }

    /// Sign new orders of `volume` tasks at `trust` and have the requester match them.
    pub(super) async fn match_deal(
        &mut self,
        volume: u64,
        with_dataset: bool,
        trust: u64,
    ) -> eyre::Result<(Matched, Measured)> {
        let salt = self.next_salt();
        self.match_deal_with(volume, with_dataset, trust, (volume, salt))
            .await
    }

    /// Like [`World::match_deal`], with the app and workerpool orders given as
    /// `(volume, salt)`: the same pair names the same (standing) provider orders.
    pub(super) async fn match_deal_with(
        &mut self,
        volume: u64,
        with_dataset: bool,
        trust: u64,
        provider: (u64, B256),
    ) -> eyre::Result<(Matched, Measured)> {
        let salt = self.next_salt();
        let volume = U256::from(volume);
        let (provider_volume, provider_salt) = (U256::from(provider.0), provider.1);
        let app_order = AppOrder {
            app: self.app,
            appprice: U256::from(APP_PRICE),
            volume: provider_volume,
            salt: provider_salt,
            ..Default::default()
        };
        let workerpool_order = WorkerpoolOrder {
            workerpool: self.workerpool,
            workerpoolprice: U256::from(WORKERPOOL_PRICE),
            volume: provider_volume,
            trust: U256::from(trust),
            salt: provider_salt,
            ..Default::default()
        };
        let dataset_order = DatasetOrder {
            dataset: self.dataset,
            datasetprice: U256::from(DATASET_PRICE),
            volume,
            salt,
            ..Default::default()
        };
        let request_order = RequestOrder {
            app: self.app,
            appmaxprice: U256::from(APP_PRICE),
            dataset: if with_dataset {
                self.dataset
            } else {
                Address::ZERO
            },
            datasetmaxprice: U256::from(if with_dataset { DATASET_PRICE } else { 0 }),
            workerpool: self.workerpool,
            workerpoolmaxprice: U256::from(WORKERPOOL_PRICE),
            requester: self.address(REQUESTER),
            volume,
            trust: U256::from(trust),
            salt,
            ..Default::default()
        };
        let d = &self.domain;
        let app = Signed::sign(app_order, d, self.signer(APP_OWNER))?;
        let workerpool = Signed::sign(workerpool_order, d, self.signer(SCHEDULER))?;
        let request = Signed::sign(request_order, d, self.signer(REQUESTER))?;
        let dataset = if with_dataset {
            Signed::sign(dataset_order, d, self.signer(DATASET_OWNER))?.into()
        } else {
            Hub::DatasetOrder::none()
        };
        let call = self
            .hub
            .matchOrders(app.into(), dataset, workerpool.into(), request.into())
            .from(self.address(REQUESTER));
        let (receipt, gas) = measured(&call).await?;
        let event = find_event::<Hub::DealCreated>(&receipt, self.deployment.hub)?;
        let deal = Deal::decode(&event.deal)?;
        ensure!(
            U256::from(deal.bot_size) == volume,
            "the deal is not for the whole volume"
        );
        let matched = Matched {
            id: event.dealId,
            encoded: event.deal,
            deal,
        };
        Ok((matched, gas))
    }

    /// Deposit into an account that already has a balance; the approve is not measured.
    pub(super) async fn deposit(&mut self) -> eyre::Result<Measured> {
        let amount = Nrlc::from_rlc(1_000).to_u256();
        let requester = self.address(REQUESTER);
        let token = self.deployment.token(&self.chain.provider);
        send(&token.approve(self.deployment.hub, amount).from(requester)).await?;
        let (_, gas) = measured(&self.hub.deposit(amount).from(requester)).await?;
        Ok(gas)
    }

    /// Withdraw part of a balance.
    pub(super) async fn withdraw(&mut self) -> eyre::Result<Measured> {
        let amount = Nrlc::from_rlc(1_000).to_u256();
        let (_, gas) = measured(&self.hub.withdraw(amount).from(self.address(REQUESTER))).await?;
        let (balance, _) = self.account(REQUESTER).await?;
        ensure!(balance > U256::ZERO, "the withdraw emptied the account");
        Ok(gas)
    }

    /// The requester closes a new request order itself.
    pub(super) async fn cancel_request(&mut self) -> eyre::Result<Measured> {
        let order = RequestOrder {
            app: self.app,
            appmaxprice: U256::from(APP_PRICE),
            workerpool: self.workerpool,
            workerpoolmaxprice: U256::from(WORKERPOOL_PRICE),
            requester: self.address(REQUESTER),
            volume: U256::from(1),
            salt: self.next_salt(),
            ..Default::default()
        };
        let operation = Hub::RequestOrderOperation::by_owner(order, OrderOperation::Close);
        let call = self
            .hub
            .manageRequestOrder(operation)
            .from(self.address(REQUESTER));
        let (receipt, gas) = measured(&call).await?;
        find_event::<Hub::RequestOrderClosed>(&receipt, self.deployment.hub)?;
        Ok(gas)
    }
}

/// A matched deal, as every execution call passes it back.
pub(super) struct Matched {
    pub id: B256,
    /// The packed encoding from `DealCreated`.
    pub encoded: Bytes,
    pub deal: Deal,
}
