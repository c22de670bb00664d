//! Whether four orders can match: the hub's `matchOrders` checks that need no chain state,
//! written once in Rust ([`incompatibilities`]), each refusal a typed [`Incompatibility`] named
//! after the hub's custom error and rendered as a sentence.
//!
//! The checks run in the hub's order (`Hub._match`: compatibility, restrictions, price widths,
//! volumes), so the first incompatibility is the error the hub would revert with, once the
//! checks that need the chain pass (the category exists, the assets are registered, the orders
//! are signed by their owners and not consumed). `dexec_contracts` renders the same hub errors
//! through this type, so a pre-check and a decoded revert say the same sentence; a test drives
//! random orders through both (`crates/contracts/tests/it/compat.rs`).

use std::fmt;

use alloy::primitives::{Address, B256, U256};

use crate::amount::Nrlc;
use crate::kinds::OrderKind;
use crate::orders::{AppOrder, DatasetOrder, RequestOrder, WorkerpoolOrder};
use crate::tag;

/// Largest price a deal holds (96 bits).
const MAX_PRICE: U256 = U256::from_limbs([u64::MAX, (1 << 32) - 1, 0, 0]);
/// Largest task index of a request's bag (32 bits).
const MAX_VOLUME: U256 = U256::from_limbs([u32::MAX as u64, 0, 0, 0]);
/// Largest trust a request may ask for ([`crate::poco::MAX_TRUST`], 2^16).
const MAX_TRUST: U256 = U256::from_limbs([crate::poco::MAX_TRUST as u64, 0, 0, 0]);

/// Why orders cannot match: one variant per check of the hub's `matchOrders`, carrying the
/// hub error's data.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Incompatibility {
    /// The request and the workerpool order name different categories.
    CategoryMismatch {
        /// The request's category.
        requested: U256,
        /// The workerpool order's category.
        offered: U256,
    },
    /// The request wants more trust than the workerpool order offers.
    TrustTooHigh {
        /// The request's trust.
        requested: U256,
        /// The workerpool order's trust.
        offered: U256,
    },
    /// The request's trust is above [`crate::poco::MAX_TRUST`] (2^16): no consensus could be
    /// reached with the hub's cap of contributors, so the task could only end in a claim.
    TrustOutOfRange {
        /// The request's trust.
        trust: U256,
    },
    /// The app order costs more than the request pays for the app.
    AppPriceTooHigh {
        /// The app order's price.
        price: U256,
        /// The request's `appmaxprice`.
        max: U256,
    },
    /// The dataset order costs more than the request pays for the dataset.
    DatasetPriceTooHigh {
        /// The dataset order's price.
        price: U256,
        /// The request's `datasetmaxprice`.
        max: U256,
    },
    /// The workerpool order costs more than the request pays for the workerpool.
    WorkerpoolPriceTooHigh {
        /// The workerpool order's price.
        price: U256,
        /// The request's `workerpoolmaxprice`.
        max: U256,
    },
    /// The deal needs tag bits the workerpool order does not offer.
    TagNotOffered {
        /// The deal's tag: app | request | dataset (without its TEE framework bits).
        required: B256,
        /// The workerpool order's tag.
        offered: B256,
    },
    /// The request or the dataset asks for TEE but the app is not a TEE app.
    TeeMismatch {
        /// The deal's tag.
        deal_tag: B256,
        /// The app order's tag.
        app_tag: B256,
    },
    /// The request names another app than the app order's.
    AppMismatch {
        /// The request's app.
        requested: Address,
        /// The app order's app.
        offered: Address,
    },
    /// The request names another dataset than the dataset order's (zero: none).
    DatasetMismatch {
        /// The request's dataset.
        requested: Address,
        /// The dataset order's dataset (zero without a dataset order).
        offered: Address,
    },
    /// The request's `workerpool` field excludes the workerpool.
    WorkerpoolRestrictedByRequest {
        /// The workerpool order's workerpool.
        workerpool: Address,
    },
    /// The app order's `datasetrestrict` excludes the request's dataset.
    DatasetRestrictedByApp {
        /// The request's dataset (zero for none).
        dataset: Address,
    },
    /// The app order's `workerpoolrestrict` excludes the workerpool.
    WorkerpoolRestrictedByApp {
        /// The workerpool.
        workerpool: Address,
    },
    /// The app order's `requesterrestrict` excludes the requester.
    RequesterRestrictedByApp {
        /// The requester.
        requester: Address,
    },
    /// The dataset order's `apprestrict` excludes the app.
    AppRestrictedByDataset {
        /// The app.
        app: Address,
    },
    /// The dataset order's `workerpoolrestrict` excludes the workerpool.
    WorkerpoolRestrictedByDataset {
        /// The workerpool.
        workerpool: Address,
    },
    /// The dataset order's `requesterrestrict` excludes the requester.
    RequesterRestrictedByDataset {
        /// The requester.
        requester: Address,
    },
    /// The workerpool order's `apprestrict` excludes the app.
    AppRestrictedByWorkerpool {
        /// The app.
        app: Address,
    },
    /// The workerpool order's `datasetrestrict` excludes the request's dataset.
    DatasetRestrictedByWorkerpool {
        /// The request's dataset (zero for none).
        dataset: Address,
    },
    /// The workerpool order's `requesterrestrict` excludes the requester.
    RequesterRestrictedByWorkerpool {
        /// The requester.
        requester: Address,
    },
    /// A price does not fit the deal's 96 bits.
    PriceOutOfRange {
        /// The price.
        price: U256,
    },
    /// An order has volume zero (the hub: `AppOrderConsumed`, … for its kind).
    NoVolume {
        /// Which order.
        kind: OrderKind,
    },
    /// The deal's last task index would pass 2^32 − 1 (fresh orders: their smallest volume).
    VolumeOutOfRange {
        /// The request's consumed volume plus the deal's.
        volume: U256,
    },
}

impl Incompatibility {
    /// The name of the hub's custom error for this check (`"CategoryMismatch"`, …).
    pub const fn hub_error(&self) -> &'static str {
        match self {
            Self::CategoryMismatch { .. } => "CategoryMismatch",
            Self::TrustTooHigh { .. } => "TrustTooHigh",
            Self::TrustOutOfRange { .. } => "TrustOutOfRange",
            Self::AppPriceTooHigh { .. } => "AppPriceTooHigh",
            Self::DatasetPriceTooHigh { .. } => "DatasetPriceTooHigh",
            Self::WorkerpoolPriceTooHigh { .. } => "WorkerpoolPriceTooHigh",
            Self::TagNotOffered { .. } => "TagNotOffered",
            Self::TeeMismatch { .. } => "TeeMismatch",
            Self::AppMismatch { .. } => "AppMismatch",
            Self::DatasetMismatch { .. } => "DatasetMismatch",
            Self::WorkerpoolRestrictedByRequest { .. } => "WorkerpoolRestrictedByRequest",
            Self::DatasetRestrictedByApp { .. } => "DatasetRestrictedByApp",
            Self::WorkerpoolRestrictedByApp { .. } => "WorkerpoolRestrictedByApp",
            Self::RequesterRestrictedByApp { .. } => "RequesterRestrictedByApp",
            Self::AppRestrictedByDataset { .. } => "AppRestrictedByDataset",
            Self::WorkerpoolRestrictedByDataset { .. } => "WorkerpoolRestrictedByDataset",
            Self::RequesterRestrictedByDataset { .. } => "RequesterRestrictedByDataset",
            Self::AppRestrictedByWorkerpool { .. } => "AppRestrictedByWorkerpool",
            Self::DatasetRestrictedByWorkerpool { .. } => "DatasetRestrictedByWorkerpool",
            Self::RequesterRestrictedByWorkerpool { .. } => "RequesterRestrictedByWorkerpool",
            Self::PriceOutOfRange { .. } => "PriceOutOfRange",
            Self::NoVolume {
                kind: OrderKind::App,
            } => "AppOrderConsumed",
            Self::NoVolume {
                kind: OrderKind::Dataset,
            } => "DatasetOrderConsumed",
            Self::NoVolume {
                kind: OrderKind::Workerpool,
            } => "WorkerpoolOrderConsumed",
            Self::NoVolume {
                kind: OrderKind::Request,
            } => "RequestOrderConsumed",
            Self::VolumeOutOfRange { .. } => "VolumeOutOfRange",
        }
    }

    /// For a restriction check: the order whose restriction field refused, and that field's
    /// value in `orders`. A restriction may name an ERC-734 identity group, whose members only
    /// the chain knows: a caller with chain access leaves those to the hub.
    pub fn restriction(&self, orders: &MatchOrders<'_>) -> Option<(OrderKind, Address)> {
        restriction_checks(orders)
            .into_iter()
            .find(|check| std::mem::discriminant(&check.refusal) == std::mem::discriminant(self))
            .map(|check| (check.order, check.restriction))
    }
}

impl fmt::Display for Incompatibility {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::CategoryMismatch { requested, offered } => write!(
                f,
                "the request is in category {requested} but the workerpool order in category \
                 {offered}"
            ),
            Self::TrustTooHigh { requested, offered } => write!(
                f,
                "the request wants trust {requested} but the workerpool offers only {offered}"
            ),
            Self::TrustOutOfRange { trust } => write!(
                f,
                "the request's trust {trust} is above {} (2^16): {} contributors could never \
                 reach its consensus; ask for a lower trust",
                crate::poco::MAX_TRUST,
                crate::poco::MAX_CONTRIBUTORS
            ),
            Self::AppPriceTooHigh { price, max } => price_sentence(f, "app", *price, *max),
            Self::DatasetPriceTooHigh { price, max } => price_sentence(f, "dataset", *price, *max),
            Self::WorkerpoolPriceTooHigh { price, max } => {
                price_sentence(f, "workerpool", *price, *max)
            }
            Self::TagNotOffered { required, offered } => write!(
                f,
                "the workerpool's tag {} lacks {} required by the app, dataset or request",
                tag_names(*offered),
                tag_names(*required & !*offered)
            ),
            Self::TeeMismatch { deal_tag, app_tag } => write!(
                f,
                "the request or dataset asks for TEE (deal tag {}) but the app is not a TEE app \
                 (its tag: {})",
                tag_names(*deal_tag),
                tag_names(*app_tag)
            ),
            Self::AppMismatch { requested, offered } => write!(
                f,
                "the request is for app {requested} but the app order sells {offered}"
            ),
            Self::DatasetMismatch { requested, offered } if offered.is_zero() => write!(
                f,
                "the request needs dataset {requested} but no dataset order was given"
            ),
            Self::DatasetMismatch { offered, requested } if requested.is_zero() => write!(
                f,
                "the request uses no dataset but the dataset order sells {offered}"
            ),
            Self::DatasetMismatch { requested, offered } => write!(
                f,
                "the request is for dataset {requested} but the dataset order sells {offered}"
            ),
            Self::WorkerpoolRestrictedByRequest { workerpool } => write!(
                f,
                "the request is restricted to another workerpool than {workerpool}"
            ),
            Self::DatasetRestrictedByApp { dataset } => excludes(f, "app", "dataset", *dataset),
            Self::WorkerpoolRestrictedByApp { workerpool } => {
                excludes(f, "app", "workerpool", *workerpool)
            }
            Self::RequesterRestrictedByApp { requester } => {
                excludes(f, "app", "requester", *requester)
            }
            Self::AppRestrictedByDataset { app } => excludes(f, "dataset", "app", *app),
            Self::WorkerpoolRestrictedByDataset { workerpool } => {
                excludes(f, "dataset", "workerpool", *workerpool)
            }
            Self::RequesterRestrictedByDataset { requester } => {
                excludes(f, "dataset", "requester", *requester)
            }
            Self::AppRestrictedByWorkerpool { app } => excludes(f, "workerpool", "app", *app),
            Self::DatasetRestrictedByWorkerpool { dataset } => {
                excludes(f, "workerpool", "dataset", *dataset)
            }
            Self::RequesterRestrictedByWorkerpool { requester } => {
                excludes(f, "workerpool", "requester", *requester)
            }
            Self::PriceOutOfRange { price } => {
                write!(f, "price {price} nRLC does not fit the deal's 96 bits")
            }
            Self::NoVolume { kind } => write!(f, "the {kind} order has volume 0"),
            Self::VolumeOutOfRange { volume } => write!(
                f,
                "the request's bag of tasks would reach index {volume} (max 2^32 - 1)"
            ),
        }
    }
}

impl std::error::Error for Incompatibility {}

fn price_sentence(f: &mut fmt::Formatter<'_>, what: &str, price: U256, max: U256) -> fmt::Result {
    write!(
        f,
        "the {what} costs {} but the request pays at most {}",
        show(price),
        show(max)
    )
}

fn excludes(f: &mut fmt::Formatter<'_>, order: &str, what: &str, who: Address) -> fmt::Result {
    if who.is_zero() {
        // a dataset restriction refuses requests without a dataset (the hub compares zero)
        write!(
            f,
            "the {order} order is restricted to a {what} but the request uses none"
        )
    } else {
        write!(f, "the {order} order excludes {what} {who}")
    }
}

fn show(amount: U256) -> String {
    Nrlc::try_from(amount).map_or_else(|_| format!("{amount} nRLC"), |a| a.to_string())
}

fn tag_names(tag: B256) -> String {
    if tag.is_zero() {
        "none".to_owned()
    } else {
        tag::names(tag).join(",")
    }
}

/// One restriction check of the hub.
struct RestrictionCheck {
    /// Whether the hub makes it (dataset restrictions only with a dataset).
    applies: bool,
    /// The order holding the restriction.
    order: OrderKind,
    /// The restriction field's value.
    restriction: Address,
    /// The account checked against it.
    account: Address,
    /// What the hub says when it refuses.
    refusal: Incompatibility,
}

/// The hub's restriction checks on `orders`, in its order: one table for
/// [`incompatibilities`] and [`Incompatibility::restriction`].
fn restriction_checks(orders: &MatchOrders<'_>) -> [RestrictionCheck; 10] {
    use Incompatibility as I;
    use OrderKind::{App, Dataset, Request, Workerpool};
    let (a, w, r) = (orders.app, orders.workerpool, orders.request);
    let d = orders.dataset.cloned().unwrap_or_default();
    let with_dataset = !r.dataset.is_zero();
    let check = |applies, order, restriction, account, refusal| RestrictionCheck {
        applies,
        order,
        restriction,
        account,
        refusal,
    };
    #[rustfmt::skip]
    let checks = [
        check(true, Request, r.workerpool, w.workerpool,
            I::WorkerpoolRestrictedByRequest { workerpool: w.workerpool }),
        check(true, App, a.datasetrestrict, r.dataset,
            I::DatasetRestrictedByApp { dataset: r.dataset }),
        check(true, App, a.workerpoolrestrict, w.workerpool,
            I::WorkerpoolRestrictedByApp { workerpool: w.workerpool }),
        check(true, App, a.requesterrestrict, r.requester,
            I::RequesterRestrictedByApp { requester: r.requester }),
        check(with_dataset, Dataset, d.apprestrict, a.app,
            I::AppRestrictedByDataset { app: a.app }),
        check(with_dataset, Dataset, d.workerpoolrestrict, w.workerpool,
            I::WorkerpoolRestrictedByDataset { workerpool: w.workerpool }),
        check(with_dataset, Dataset, d.requesterrestrict, r.requester,
            I::RequesterRestrictedByDataset { requester: r.requester }),
        check(true, Workerpool, w.apprestrict, a.app,
            I::AppRestrictedByWorkerpool { app: a.app }),
        check(true, Workerpool, w.datasetrestrict, r.dataset,
            I::DatasetRestrictedByWorkerpool { dataset: r.dataset }),
        check(true, Workerpool, w.requesterrestrict, r.requester,
            I::RequesterRestrictedByWorkerpool { requester: r.requester }),
    ];
    checks
}

/// The orders of one match, by reference. A match without dataset has `dataset: None` (the
/// hub then reads an all-zero dataset order).
#[derive(Debug, Clone, Copy)]
pub struct MatchOrders<'a> {
    /// The app order.
    pub app: &'a AppOrder,
    /// The dataset order, if one is given.
    pub dataset: Option<&'a DatasetOrder>,
    /// The workerpool order.
    pub workerpool: &'a WorkerpoolOrder,
    /// The request order.
    pub request: &'a RequestOrder,
}

/// Why `orders` cannot match, by the hub's checks that need no chain state, in the hub's order
/// (empty when they are compatible).
///
/// Restrictions are decided as for plain addresses (zero allows anyone, otherwise only that
/// address); one naming an ERC-734 group is reported too, see
/// [`Incompatibility::restriction`]. Volumes are taken as fresh (nothing consumed yet).
pub fn incompatibilities(orders: &MatchOrders<'_>) -> Vec<Incompatibility> {
    use Incompatibility as I;
    let a = orders.app;
    let w = orders.workerpool;
    let r = orders.request;
    let none = DatasetOrder::default();
    let d = orders.dataset.unwrap_or(&none);
    // the hub reads the dataset order only when the request names a dataset
    let has_dataset = !r.dataset.is_zero();
    let mut why = Vec::new();

    // compatibility (`Hub._checkCompatibility`)
    if r.category != w.category {
        why.push(I::CategoryMismatch {
            requested: r.category,
            offered: w.category,
        });
    }
    if r.trust > w.trust {
        why.push(I::TrustTooHigh {
            requested: r.trust,
            offered: w.trust,
        });
    }
    if r.trust > MAX_TRUST {
        why.push(I::TrustOutOfRange { trust: r.trust });
    }
    if r.appmaxprice < a.appprice {
        why.push(I::AppPriceTooHigh {
            price: a.appprice,
            max: r.appmaxprice,
        });
    }
    if has_dataset && r.datasetmaxprice < d.datasetprice {
        why.push(I::DatasetPriceTooHigh {
            price: d.datasetprice,
            max: r.datasetmaxprice,
        });
    }
    if r.workerpoolmaxprice < w.workerpoolprice {
        why.push(I::WorkerpoolPriceTooHigh {
            price: w.workerpoolprice,
            max: r.workerpoolmaxprice,
        });
    }
    let mut deal_tag = a.tag | r.tag;
    if has_dataset {
        deal_tag |= d.tag & !tag::TEE_FRAMEWORKS;
    }
    if !tag::is_subset(deal_tag, w.tag) {
        why.push(I::TagNotOffered {
            required: deal_tag,
            offered: w.tag,
        });
    }
    if !((deal_tag ^ a.tag) & tag::TEE).is_zero() {
        why.push(I::TeeMismatch {
            deal_tag,
            app_tag: a.tag,
        });
    }
    if r.app != a.app {
        why.push(I::AppMismatch {
            requested: r.app,
            offered: a.app,
        });
    }
    if r.dataset != d.dataset {
        why.push(I::DatasetMismatch {
            requested: r.dataset,
            offered: d.dataset,
        });
    }

    // restrictions (`Hub._checkRestrictions`); zero allows anyone, otherwise only the
    // address it names
    why.extend(
        restriction_checks(orders)
            .into_iter()
            .filter(|c| c.applies && !c.restriction.is_zero() && c.restriction != c.account)
            .map(|c| c.refusal),
    );

    // the deal's field widths (`Hub._fillDeal`)
    let dataset_price = has_dataset.then_some(d.datasetprice);
    for price in [Some(a.appprice), dataset_price, Some(w.workerpoolprice)]
        .into_iter()
        .flatten()
    {
        if price > MAX_PRICE {
            why.push(I::PriceOutOfRange { price });
        }
    }

    // volumes (`Hub._consume`), of fresh orders
    let mut volumes = vec![(OrderKind::App, a.volume)];
    if has_dataset {
        volumes.push((OrderKind::Dataset, d.volume));
    }
    volumes.push((OrderKind::Workerpool, w.volume));
    volumes.push((OrderKind::Request, r.volume));
    let empty: Vec<_> = volumes
        .iter()
        .filter(|(_, v)| v.is_zero())
        .map(|(kind, _)| I::NoVolume { kind: *kind })
        .collect();
    if empty.is_empty() {
        let volume = volumes.iter().map(|(_, v)| *v).min().unwrap_or_default();
        if volume > MAX_VOLUME {
            why.push(I::VolumeOutOfRange { volume });
        }
    }
    why.extend(empty);
    why
}

#[cfg(test)]
mod tests {
    use super::*;

    fn orders() -> (AppOrder, DatasetOrder, WorkerpoolOrder, RequestOrder) {
        let app = Address::repeat_byte(0xa);
        let dataset = Address::repeat_byte(0xd);
        let pool = Address::repeat_byte(0xb);
        let requester = Address::repeat_byte(0xc);
        (
            AppOrder {
                app,
                appprice: U256::from(10),
                volume: U256::from(5),
                ..Default::default()
            },
            DatasetOrder {
                dataset,
                datasetprice: U256::from(20),
                volume: U256::from(5),
                tag: tag::SCONE,
                ..Default::default()
            },
            WorkerpoolOrder {
                workerpool: pool,
                workerpoolprice: U256::from(30),
                volume: U256::from(5),
                trust: U256::from(3),
                tag: tag::GPU,
                ..Default::default()
            },
            RequestOrder {
                app,
                appmaxprice: U256::from(10),
                dataset,
                datasetmaxprice: U256::from(20),
                workerpool: pool,
                workerpoolmaxprice: U256::from(30),
                requester,
                volume: U256::from(5),
                trust: U256::from(3),
                tag: tag::GPU,
                ..Default::default()
            },
        )
    }

    fn check(
        a: &AppOrder,
        d: Option<&DatasetOrder>,
        w: &WorkerpoolOrder,
        r: &RequestOrder,
    ) -> Vec<Incompatibility> {
        incompatibilities(&MatchOrders {
            app: a,
            dataset: d,
            workerpool: w,
            request: r,
        })
    }

    #[test]
    fn compatible_orders_have_none() {
        let (a, d, w, r) = orders();
        // the dataset's framework bit (scone) is ignored, as by the hub
        assert_eq!(check(&a, Some(&d), &w, &r), []);
    }

    #[test]
    fn the_first_is_the_hubs_first_check() {
        let (a, d, mut w, mut r) = orders();
        r.appmaxprice = U256::from(9);
        r.category = U256::from(1);
        w.volume = U256::ZERO;
        let why = check(&a, Some(&d), &w, &r);
        assert_eq!(
            why.iter()
                .map(Incompatibility::hub_error)
                .collect::<Vec<_>>(),
            [
                "CategoryMismatch",
                "AppPriceTooHigh",
                "WorkerpoolOrderConsumed"
            ]
        );
        assert_eq!(
            why[0].to_string(),
            "the request is in category 1 but the workerpool order in category 0"
        );
        assert_eq!(
            why[1].to_string(),
            "the app costs 0.00000001 RLC but the request pays at most 0.000000009 RLC"
        );
    }

    #[test]
    fn without_dataset_the_dataset_order_is_ignored_but_restrictions_see_zero() {
        let (mut a, d, w, mut r) = orders();
        r.dataset = Address::ZERO;
        // a dataset order for a request without dataset: the hub compares its address
        assert_eq!(
            check(&a, Some(&d), &w, &r),
            [Incompatibility::DatasetMismatch {
                requested: Address::ZERO,
                offered: d.dataset
            }]
        );
        assert_eq!(check(&a, None, &w, &r), []);
        a.datasetrestrict = d.dataset;
        let why = check(&a, None, &w, &r);
        assert_eq!(
            why,
            [Incompatibility::DatasetRestrictedByApp {
                dataset: Address::ZERO
            }]
        );
        assert_eq!(
            why[0].to_string(),
            "the app order is restricted to a dataset but the request uses none"
        );
        // a request naming a dataset without its order
        let (a, _, w, r) = orders();
        assert_eq!(
            check(&a, None, &w, &r)[0].to_string(),
            format!(
                "the request needs dataset {} but no dataset order was given",
                r.dataset
            )
        );
    }

    #[test]
    fn tags_and_tee() {
        let (mut a, d, w, mut r) = orders();
        r.tag = tag::TEE | tag::GPU;
        let why = check(&a, Some(&d), &w, &r);
        assert_eq!(
            why.iter()
                .map(Incompatibility::hub_error)
                .collect::<Vec<_>>(),
            ["TagNotOffered", "TeeMismatch"]
        );
        assert_eq!(
            why[0].to_string(),
            "the workerpool's tag gpu lacks tee required by the app, dataset or request"
        );
        a.tag = tag::TEE;
        let w = WorkerpoolOrder {
            tag: tag::TEE | tag::GPU,
            ..w
        };
        assert_eq!(check(&a, Some(&d), &w, &r), []);
    }

    #[test]
    fn widths_and_volumes() {
        let (mut a, d, w, mut r) = orders();
        r.trust = U256::from(u64::MAX);
        a.appprice = MAX_PRICE + U256::from(1);
        r.appmaxprice = a.appprice;
        let why = check(&a, Some(&d), &w, &r);
        assert_eq!(
            why.iter()
                .map(Incompatibility::hub_error)
                .collect::<Vec<_>>(),
            ["TrustTooHigh", "TrustOutOfRange", "PriceOutOfRange"]
        );
        let (mut a, d, mut w, mut r) = orders();
        a.volume = U256::from(1u64 << 33);
        w.volume = a.volume;
        r.volume = a.volume + U256::from(1);
        let d = DatasetOrder {
            volume: a.volume,
            ..d
        };
        assert_eq!(
            check(&a, Some(&d), &w, &r),
            [Incompatibility::VolumeOutOfRange { volume: a.volume }]
        );
    }

    #[test]
    fn trust_above_two_to_the_sixteen_is_refused() {
        let (a, d, mut w, mut r) = orders();
        w.trust = U256::from(1u64 << 20);
        r.trust = U256::from(65_536);
        assert_eq!(check(&a, Some(&d), &w, &r), []);
        r.trust = U256::from(65_537);
        let why = check(&a, Some(&d), &w, &r);
        assert_eq!(
            why,
            [Incompatibility::TrustOutOfRange {
                trust: U256::from(65_537)
            }]
        );
        assert_eq!(
            why[0].to_string(),
            "the request's trust 65537 is above 65536 (2^16): 16 contributors could never reach \
             its consensus; ask for a lower trust"
        );
    }

    #[test]
    fn restrictions_name_their_field() {
        let (a, d, mut w, r) = orders();
        w.requesterrestrict = Address::repeat_byte(0x99);
        let orders = MatchOrders {
            app: &a,
            dataset: Some(&d),
            workerpool: &w,
            request: &r,
        };
        let why = incompatibilities(&orders);
        assert_eq!(
            why[0].restriction(&orders),
            Some((OrderKind::Workerpool, Address::repeat_byte(0x99)))
        );
        assert_eq!(
            why[0].to_string(),
            format!("the workerpool order excludes requester {}", r.requester)
        );
    }
}
