//! The book's rules: the four order kinds as the book sees them (the columns each one is
//! indexed by, its price and what its signer must hold on chain), the checks a publish and an
//! unpublish pass ([`publish`]), and the filters of a query ([`filter`]). An order's place in
//! the book is a [`BookStatus`], stored as its name.

pub(crate) mod filter;
pub(crate) mod publish;

use alloy::primitives::{Address, B256, U256};
use dexec_primitives::poco::scheduler_stake;
use dexec_primitives::{
    AppOrder, AssetKind, DatasetOrder, OrderKind, RequestOrder, WorkerpoolOrder,
};
pub use dexec_sdk::market::BookStatus;
use dexec_sdk::market::{MarketOrder, OrderView, SignedOrder};

use crate::db::OrderRow;
use crate::{Error, Result};

/// The indexed columns of an order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Columns {
    pub kind: OrderKind,
    /// App / dataset / workerpool of an asset order, the app of a request.
    pub asset: Address,
    /// Who must sign: the asset's owner (checked on chain) or the requester.
    pub required_signer: Option<Address>,
    /// Asset price, or the request's workerpoolmaxprice (what the book sorts by).
    pub price: i64,
    /// What the signer must hold free on the hub per task: the sum of a request's max prices,
    /// 30% of a workerpool price (the scheduler's stake), 0 otherwise.
    pub needs: i64,
    pub volume: i64,
    pub tag: B256,
    pub category: i64,
    pub trust: i64,
    pub app_r: Address,
    pub dataset_r: Address,
    pub workerpool_r: Address,
    pub requester_r: Address,
    pub beneficiary: Address,
    pub params_len: usize,
}

/// What the book needs of each order type.
pub(crate) trait BookOrder: MarketOrder {
    /// The indexed columns, or a sentence saying which number is out of range.
    fn columns(&self) -> Result<Columns>;
}

/// A number the book stores as BIGINT.
fn int(what: &str, value: U256) -> Result<i64> {
    i64::try_from(value).map_err(|_| {
        Error::BadRequest(format!(
            "{what} {value} is too large: the market accepts values up to {}",
            i64::MAX
        ))
    })
}

/// A price the book stores: at most [`Nrlc::MAX_ORDER_PRICE`], the limit the CLI applies too.
fn price(what: &str, value: U256) -> Result<i64> {
    int(what, value).map_err(|_| {
        Error::BadRequest(format!(
            "{what} {value} nRLC is more than an order may ask: at most {} ({} nRLC)",
            dexec_primitives::Nrlc::MAX_ORDER_PRICE,
            i64::MAX
        ))
    })
}

impl BookOrder for AppOrder {
    fn columns(&self) -> Result<Columns> {
        Ok(Columns {
            kind: OrderKind::App,
            asset: self.app,
            required_signer: None,
            price: price("appprice", self.appprice)?,
            needs: 0,
            volume: int("volume", self.volume)?,
            tag: self.tag,
            category: 0,
            trust: 0,
            app_r: Address::ZERO,
            dataset_r: self.datasetrestrict,
            workerpool_r: self.workerpoolrestrict,
            requester_r: self.requesterrestrict,
            beneficiary: Address::ZERO,
            params_len: 0,
        })
    }
}

impl BookOrder for DatasetOrder {
    fn columns(&self) -> Result<Columns> {
        Ok(Columns {
            kind: OrderKind::Dataset,
            asset: self.dataset,
            required_signer: None,
            price: price("datasetprice", self.datasetprice)?,
            needs: 0,
            volume: int("volume", self.volume)?,
            tag: self.tag,
            category: 0,
            trust: 0,
            app_r: self.apprestrict,
            dataset_r: Address::ZERO,
            workerpool_r: self.workerpoolrestrict,
            requester_r: self.requesterrestrict,
            beneficiary: Address::ZERO,
            params_len: 0,
        })
    }
}

impl BookOrder for WorkerpoolOrder {
    fn columns(&self) -> Result<Columns> {
        let price = price("workerpoolprice", self.workerpoolprice)?;
        Ok(Columns {
            kind: OrderKind::Workerpool,
            asset: self.workerpool,
            required_signer: None,
            price,
            // the scheduler's stake for one task, at most the price: fits
            needs: scheduler_stake(price.unsigned_abs().into()) as i64,
            volume: int("volume", self.volume)?,
            tag: self.tag,
            category: int("category", self.category)?,
            trust: int("trust", self.trust)?,
            app_r: self.apprestrict,
            dataset_r: self.datasetrestrict,
            workerpool_r: Address::ZERO,
            requester_r: self.requesterrestrict,
            beneficiary: Address::ZERO,
            params_len: 0,
        })
    }
}

impl BookOrder for RequestOrder {
    fn columns(&self) -> Result<Columns> {
        let app = price("appmaxprice", self.appmaxprice)?;
        let dataset = price("datasetmaxprice", self.datasetmaxprice)?;
        let pool = price("workerpoolmaxprice", self.workerpoolmaxprice)?;
        let needs = app
            .checked_add(dataset)
            .and_then(|s| s.checked_add(pool))
            // well-formed (each price fits), but no balance can pay it
            .ok_or_else(|| {
                Error::Unprocessable(
                    "the sum of the max prices is more than 2^63 - 1 nRLC: no balance can pay it"
                        .into(),
                )
            })?;
        Ok(Columns {
            kind: OrderKind::Request,
            asset: self.app,
            required_signer: Some(self.requester),
            price: pool,
            needs,
            volume: int("volume", self.volume)?,
            tag: self.tag,
            category: int("category", self.category)?,
            trust: int("trust", self.trust)?,
            app_r: self.app,
            dataset_r: self.dataset,
            workerpool_r: self.workerpool,
            requester_r: self.requester,
            beneficiary: self.beneficiary,
            params_len: self.params.len(),
        })
    }
}

/// The view of a stored order, as the API answers it.
pub(crate) fn view(chain_id: u64, row: &OrderRow) -> Result<OrderView> {
    let order = SignedOrder::from_json(row.kind, &row.body)
        .map_err(|e| Error::Corrupt(format!("stored order {}: {e}", row.hash)))?;
    Ok(OrderView {
        order_hash: row.hash,
        kind: row.kind,
        chain_id,
        order,
        signer: row.signer,
        remaining: row.remaining,
        status: row.status,
        publication: row.publication,
        publication_timestamp: row.published_at,
    })
}

/// The asset kind of an order kind (`None` for requests).
pub(crate) fn asset_kind(kind: OrderKind) -> Option<AssetKind> {
    match kind {
        OrderKind::App => Some(AssetKind::App),
        OrderKind::Dataset => Some(AssetKind::Dataset),
        OrderKind::Workerpool => Some(AssetKind::Workerpool),
        OrderKind::Request => None,
    }
}

/// Parse a kind from its short name.
pub(crate) fn kind_from_name(name: &str) -> Option<OrderKind> {
    [
        OrderKind::App,
        OrderKind::Dataset,
        OrderKind::Workerpool,
        OrderKind::Request,
    ]
    .into_iter()
    .find(|k| k.name() == name)
}

/// Tag split for storage: bits 0..62 as an integer, the rest as hex ('' when none).
pub(crate) fn split_tag(tag: B256) -> (i64, String) {
    let value = U256::from_be_bytes(tag.0);
    let low_mask = U256::from(i64::MAX as u64);
    let low = (value & low_mask).to::<u64>() as i64;
    let high = value & !low_mask;
    let high = if high.is_zero() {
        String::new()
    } else {
        format!("{high:#x}")
    };
    (low, high)
}

#[cfg(test)]
mod tests {
    use super::*;
    use dexec_primitives::tag;

    #[test]
    fn tags_split_into_low_bits_and_the_rest() {
        assert_eq!(split_tag(tag::TEE | tag::GPU), (0x101, String::new()));
        let (low, high) = split_tag(tag::bit(63) | tag::TEE);
        assert_eq!(low, 1);
        assert_eq!(high, "0x8000000000000000");
    }

    #[test]
    fn request_columns_sum_max_prices() {
        let request = RequestOrder {
            appmaxprice: U256::from(3),
            datasetmaxprice: U256::from(4),
            workerpoolmaxprice: U256::from(5),
            requester: Address::repeat_byte(1),
            params: "{}".into(),
            ..Default::default()
        };
        let c = request.columns().expect("fits");
        assert_eq!((c.price, c.needs, c.params_len), (5, 12, 2));
        assert_eq!(c.required_signer, Some(Address::repeat_byte(1)));
        let pool = WorkerpoolOrder {
            workerpoolprice: U256::from(1000),
            ..Default::default()
        };
        assert_eq!(pool.columns().expect("fits").needs, 300);
        let huge = AppOrder {
            appprice: U256::MAX,
            ..Default::default()
        };
        assert!(matches!(huge.columns(), Err(Error::BadRequest(_))));
    }
}
