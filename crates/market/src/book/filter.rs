//! The filters of a query, as SQL: an order book query (iExec's filters and restriction
//! semantics, see `docs/market.md`) or a deals query becomes a WHERE clause and a sort order.

use alloy::primitives::Address;
use dexec_primitives::{tag, OrderKind};
use dexec_sdk::market::{AddressFilter, DealQuery, OrderQuery};

use super::{split_tag, BookStatus};
use crate::db::{hex32, hex_addr, Bind, Where};
use crate::{Error, Result};

/// `column = value` when the filter names an address (`any` and omitted: no filter).
fn equal(w: &mut Where, column: &str, value: Option<AddressFilter>) {
    if let Some(a) = value.and_then(AddressFilter::address) {
        w.push(Bind::Text(hex_addr(&a)), |p| format!("{column} = {p}"));
    }
}

/// iExec's restriction semantics: given X, orders restricted to X or not restricted (only X
/// when strict); omitted, only unrestricted orders; `any`, no filter.
fn restrict(w: &mut Where, column: &str, value: Option<AddressFilter>, strict: bool) {
    let zero = hex_addr(&Address::ZERO);
    match value {
        Some(AddressFilter::Any) => {}
        None => w.push(Bind::Text(zero), |p| format!("{column} = {p}")),
        Some(AddressFilter::Only(a)) if strict => {
            w.push(Bind::Text(hex_addr(&a)), |p| format!("{column} = {p}"))
        }
        Some(AddressFilter::Only(a)) => {
            let x = w.bind(Bind::Text(hex_addr(&a)));
            let z = w.bind(Bind::Text(zero));
            w.clauses.push(format!("{column} IN ({x}, {z})"));
        }
    }
}

/// A query number the book compares with a BIGINT column.
pub(crate) fn int_param(name: &str, v: u64) -> Result<i64> {
    i64::try_from(v).map_err(|_| Error::BadRequest(format!("`{name}` is too large")))
}

/// The WHERE clause and sort order of a book query: open orders of `kind` matching `q`, best
/// first.
pub(crate) fn book_filter(kind: OrderKind, q: &OrderQuery) -> Result<(Where, &'static str)> {
    let mut w = Where::default();
    // kind and status as literals (constants of ours, never input): the planners of SQLite
    // and PostgreSQL then use the kind's partial book indexes (migrations/0002)
    w.clauses.push(format!("kind = '{}'", kind.name()));
    w.clauses.push(format!("status = '{}'", BookStatus::Open));
    // the restriction columns of orders, each with the parameter that filters it
    let restrictions = [
        ("app_r", OrderKind::App, q.app, q.is_app_strict),
        (
            "dataset_r",
            OrderKind::Dataset,
            q.dataset,
            q.is_dataset_strict,
        ),
        (
            "workerpool_r",
            OrderKind::Workerpool,
            q.workerpool,
            q.is_workerpool_strict,
        ),
        (
            "requester_r",
            OrderKind::Request,
            q.requester,
            q.is_requester_strict,
        ),
    ];
    let asset = match kind {
        OrderKind::App => Some((q.app, q.app_owner)),
        OrderKind::Dataset => Some((q.dataset, q.dataset_owner)),
        OrderKind::Workerpool => Some((q.workerpool, q.workerpool_owner)),
        OrderKind::Request => None,
    };
    match asset {
        // an asset order: its asset and signer, and its restrictions on the other parties
        Some((asset, owner)) => {
            equal(&mut w, "asset", asset);
            equal(&mut w, "signer", owner);
            for (column, party, value, strict) in restrictions {
                if party != kind {
                    restrict(&mut w, column, value, strict);
                }
            }
            if let Some(t) = q
                .min_trust
                .filter(|t| *t > 1 && kind == OrderKind::Workerpool)
            {
                w.push(Bind::Int(int_param("minTrust", t)?), |p| {
                    format!("trust >= {p}")
                });
            }
        }
        None => {
            equal(&mut w, "app_r", q.app);
            equal(&mut w, "dataset_r", q.dataset);
            equal(&mut w, "requester_r", q.requester);
            // a request's signer is its requester: the same filter, served by the signer index
            equal(&mut w, "signer", q.requester);
            equal(&mut w, "beneficiary", q.beneficiary);
            let (column, _, value, strict) = restrictions[2];
            restrict(&mut w, column, value, strict);
            if let Some(t) = q.max_trust {
                w.push(Bind::Int(int_param("maxTrust", t)?), |p| {
                    format!("trust <= {p}")
                });
            }
        }
    }
    if matches!(kind, OrderKind::Workerpool | OrderKind::Request) {
        if let Some(c) = q.category {
            w.push(Bind::Int(int_param("category", c)?), |p| {
                format!("category = {p}")
            });
        }
    }
    if let Some(min) = &q.min_tag {
        let min = tag::parse(min).map_err(|e| Error::BadRequest(format!("`minTag`: {e}")))?;
        let (low, high) = split_tag(min);
        if !high.is_empty() {
            return Err(Error::BadRequest(
                "`minTag` may only use tag bits 0 to 62 (tee, frameworks, gpu…)".into(),
            ));
        }
        if low != 0 {
            // `>=` is `=` here (tag_low & low <= low), but planners estimate an inequality
            // at a third of the rows instead of a few: PostgreSQL then keeps the book's
            // sorted index scan rather than sorting every order of the category
            w.push(Bind::Int(low), |p| format!("(tag_low & {p}) >= {p}"));
        }
    }
    if let Some(max) = &q.max_tag {
        let max = tag::parse(max).map_err(|e| Error::BadRequest(format!("`maxTag`: {e}")))?;
        let (low, high) = split_tag(max);
        let outside = !low & i64::MAX;
        if outside != 0 {
            // `<= 0` is `= 0` (both are non-negative), estimated as above
            w.push(Bind::Int(outside), |p| format!("(tag_low & {p}) <= 0"));
        }
        if high.is_empty() {
            w.push(Bind::Text(String::new()), |p| format!("tag_high = {p}"));
        }
    }
    if let Some(v) = q.min_volume {
        w.push(Bind::Int(int_param("minVolume", v)?), |p| {
            format!("remaining >= {p}")
        });
    }
    let order_by = if kind == OrderKind::Request {
        "price DESC, publication ASC, hash ASC"
    } else {
        "price ASC, publication ASC, hash ASC"
    };
    Ok((w, order_by))
}

/// The WHERE clause of a deals query.
pub(crate) fn deal_filter(q: &DealQuery) -> Result<Where> {
    let mut w = Where::default();
    if let Some(c) = q.category {
        w.push(Bind::Int(int_param("category", c)?), |p| {
            format!("category = {p}")
        });
    }
    for (column, value) in [
        ("requester", q.requester),
        ("beneficiary", q.beneficiary),
        ("app", q.app),
        ("dataset", q.dataset),
        ("workerpool", q.workerpool),
        ("app_owner", q.app_owner),
        ("dataset_owner", q.dataset_owner),
        ("workerpool_owner", q.workerpool_owner),
    ] {
        equal(&mut w, column, value);
    }
    if let Some(h) = q.order_hash {
        let p = w.bind(Bind::Text(hex32(&h)));
        w.clauses.push(format!(
            "(apporder_hash = {p} OR datasetorder_hash = {p} OR workerpoolorder_hash = {p} OR requestorder_hash = {p})"
        ));
    }
    Ok(w)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn restrictions_follow_iexec() {
        let q = OrderQuery {
            dataset: Some(AddressFilter::Any),
            requester: Some(AddressFilter::Only(Address::repeat_byte(1))),
            is_requester_strict: true,
            ..Default::default()
        };
        let (w, order) = book_filter(OrderKind::App, &q).expect("valid");
        // kind, status, workerpool_r = 0 (omitted), requester_r = X (strict); dataset any
        assert_eq!(w.clauses.len(), 4, "{:?}", w.clauses);
        assert!(w.clauses.iter().any(|c| c.starts_with("workerpool_r =")));
        assert!(!w.clauses.iter().any(|c| c.starts_with("dataset_r")));
        assert!(order.starts_with("price ASC"));
        let (_, order) = book_filter(OrderKind::Request, &OrderQuery::default()).expect("valid");
        assert!(order.starts_with("price DESC"));
        let bad = OrderQuery {
            min_tag: Some("fpga".into()),
            ..Default::default()
        };
        assert!(book_filter(OrderKind::App, &bad).is_err());
    }
}
