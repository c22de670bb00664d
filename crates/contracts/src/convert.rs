//! From `dexec_primitives` orders and deals to the hub's ABI structs, and back.
//!
//! The ABI structs carry the signature in a `sign` field; `dexec_primitives` keeps it beside
//! the typed data in [`Signed`]. Order operations (presign / close) are built here too.

use alloy::primitives::aliases::{U40, U96};
use alloy::primitives::Bytes;
use alloy::signers::SignerSync;
use alloy::sol_types::Eip712Domain;
use dexec_primitives::{
    AppOrder, DatasetOrder, Deal, DealError, Operable, OrderOperation, RequestOrder, Signed,
    WorkerpoolOrder,
};

use crate::bindings::Hub;

/// `From` between a signed primitives order and an ABI order with the same fields and `sign`.
macro_rules! signed_conversions {
    ($order:ident, $abi:ty { $($field:ident),* $(,)? }) => {
        impl From<$abi> for Signed<$order> {
            fn from(o: $abi) -> Self {
                Signed { order: $order { $($field: o.$field,)* }, sign: o.sign }
            }
        }

        impl From<Signed<$order>> for $abi {
            fn from(signed: Signed<$order>) -> Self {
                let o = signed.order;
                Self { $($field: o.$field,)* sign: signed.sign }
            }
        }
    };
}

/// Field-by-field conversions between a primitives order and the hub's ABI order of the same
/// name, and the hub's order operations on it.
macro_rules! order_conversions {
    ($order:ident, $operation:ident { $($field:ident),* $(,)? }) => {
        signed_conversions!($order, Hub::$order { $($field),* });

        impl From<&Signed<$order>> for Hub::$order {
            fn from(signed: &Signed<$order>) -> Self {
                signed.clone().into()
            }
        }

        impl Hub::$operation {
            /// An operation on `order` sent by the order's owner itself: no signature needed.
            pub fn by_owner(order: $order, operation: OrderOperation) -> Self {
                Self {
                    order: Signed::unsigned(order).into(),
                    operation: operation.as_u8(),
                    sign: Bytes::new(),
                }
            }

            /// An operation anyone may send, carrying the owner's EIP-712 signature of it.
            pub fn signed<S: SignerSync + ?Sized>(
                order: $order,
                operation: OrderOperation,
                domain: &Eip712Domain,
                owner: &S,
            ) -> alloy::signers::Result<Self> {
                let digest = order.operation_digest(operation, domain);
                let signature = owner.sign_hash_sync(&digest)?;
                Ok(Self {
                    order: Signed::unsigned(order).into(),
                    operation: operation.as_u8(),
                    sign: Bytes::copy_from_slice(&signature.as_bytes()),
                })
            }
        }
    };
}

order_conversions!(
    AppOrder,
    AppOrderOperation {
        app,
        appprice,
        volume,
        tag,
        datasetrestrict,
        workerpoolrestrict,
        requesterrestrict,
        salt,
    }
);
order_conversions!(
    DatasetOrder,
    DatasetOrderOperation {
        dataset,
        datasetprice,
        volume,
        tag,
        apprestrict,
        workerpoolrestrict,
        requesterrestrict,
        salt,
    }
);
order_conversions!(
    WorkerpoolOrder,
    WorkerpoolOrderOperation {
        workerpool,
        workerpoolprice,
        volume,
        tag,
        category,
        trust,
        apprestrict,
        datasetrestrict,
        requesterrestrict,
        salt,
    }
);
order_conversions!(
    RequestOrder,
    RequestOrderOperation {
        app,
        appmaxprice,
        dataset,
        datasetmaxprice,
        workerpool,
        workerpoolmaxprice,
        requester,
        volume,
        tag,
        category,
        trust,
        beneficiary,
        callback,
        params,
        salt,
    }
);

impl From<Hub::Deal> for Deal {
    fn from(d: Hub::Deal) -> Self {
        Self {
            app: d.app,
            dataset: d.dataset,
            workerpool: d.workerpool,
            app_owner: d.appOwner,
            dataset_owner: d.datasetOwner,
            workerpool_owner: d.workerpoolOwner,
            requester: d.requester,
            payer: d.payer,
            callback: d.callback,
            app_price: d.appPrice.to(),
            dataset_price: d.datasetPrice.to(),
            workerpool_price: d.workerpoolPrice.to(),
            worker_stake: d.workerStake.to(),
            tag: d.tag,
            trust: d.trust,
            category: d.category,
            timeref: d.timeref,
            start_time: d.startTime.to(),
            bot_first: d.botFirst,
            bot_size: d.botSize,
            scheduler_reward_ratio: d.schedulerRewardRatio,
        }
    }
}

impl TryFrom<&Deal> for Hub::Deal {
    type Error = DealError;

    /// Fails if a price exceeds 96 bits or the start time 40 bits.
    fn try_from(d: &Deal) -> Result<Self, DealError> {
        let price =
            |name, value: u128| U96::try_from(value).map_err(|_| DealError::OutOfRange(name));
        Ok(Self {
            app: d.app,
            dataset: d.dataset,
            workerpool: d.workerpool,
            appOwner: d.app_owner,
            datasetOwner: d.dataset_owner,
            workerpoolOwner: d.workerpool_owner,
            requester: d.requester,
            payer: d.payer,
            callback: d.callback,
            appPrice: price("appPrice", d.app_price)?,
            datasetPrice: price("datasetPrice", d.dataset_price)?,
            workerpoolPrice: price("workerpoolPrice", d.workerpool_price)?,
            workerStake: price("workerStake", d.worker_stake)?,
            tag: d.tag,
            trust: d.trust,
            category: d.category,
            timeref: d.timeref,
            startTime: U40::try_from(d.start_time)
                .map_err(|_| DealError::OutOfRange("startTime"))?,
            botFirst: d.bot_first,
            botSize: d.bot_size,
            schedulerRewardRatio: d.scheduler_reward_ratio,
        })
    }
}

impl Hub::DatasetOrder {
    /// The all-zero dataset order `matchOrders` takes when the request has no dataset.
    pub fn none() -> Self {
        Self::default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloy::primitives::{Address, B256, U256};

    #[test]
    fn round_trip_keeps_every_field() {
        let signed = Signed {
            order: RequestOrder {
                app: Address::repeat_byte(1),
                appmaxprice: U256::from(2),
                dataset: Address::repeat_byte(3),
                datasetmaxprice: U256::from(4),
                workerpool: Address::repeat_byte(5),
                workerpoolmaxprice: U256::from(6),
                requester: Address::repeat_byte(7),
                volume: U256::from(8),
                tag: B256::repeat_byte(9),
                category: U256::from(10),
                trust: U256::from(11),
                beneficiary: Address::repeat_byte(12),
                callback: Address::repeat_byte(13),
                params: "p".into(),
                salt: B256::repeat_byte(14),
            },
            sign: Bytes::from_static(&[15]),
        };
        let abi: Hub::RequestOrder = (&signed).into();
        assert_eq!(abi.sign, signed.sign);
        assert_eq!(Signed::<RequestOrder>::from(abi), signed);
    }

    #[test]
    fn deals_convert_both_ways() {
        let deal = Deal {
            app: Address::repeat_byte(1),
            workerpool_price: (1 << 96) - 1,
            start_time: (1 << 40) - 1,
            bot_size: 3,
            scheduler_reward_ratio: 1,
            ..Default::default()
        };
        let abi = Hub::Deal::try_from(&deal).expect("fits");
        assert_eq!(Deal::from(abi), deal);
        let too_big = Deal {
            app_price: 1 << 96,
            ..Default::default()
        };
        assert_eq!(
            Hub::Deal::try_from(&too_big),
            Err(DealError::OutOfRange("appPrice"))
        );
    }

    #[test]
    fn owner_operations_carry_no_signature() {
        let op =
            Hub::RequestOrderOperation::by_owner(RequestOrder::default(), OrderOperation::Close);
        assert_eq!(op.operation, 1);
        assert!(op.sign.is_empty());
    }
}

// The request order in the oracle consumers' ABI (the same struct as the hub's, in another
// binding module).
signed_conversions!(
    RequestOrder,
    crate::bindings::PriceFeedOracle::RequestOrder {
        app,
        appmaxprice,
        dataset,
        datasetmaxprice,
        workerpool,
        workerpoolmaxprice,
        requester,
        volume,
        tag,
        category,
        trust,
        beneficiary,
        callback,
        params,
        salt,
    }
);
