//! The checks of a publish and of an unpublish, in the order `docs/market.md` lists them, and
//! the re-check the publish writer runs under the book lock ([`recheck`]).
//!
//! A publish is checked here for everything that needs no database (shape, signature, owner,
//! rate, balance, volume read from the chain); the writer decides the rest (open orders per
//! signer, volume from the watcher's record, not already open) and stores the order in one
//! transaction with the publishes around it.

use std::sync::Arc;

use alloy::primitives::{Address, B256};
use alloy::sol_types::Eip712Domain;
use dexec_primitives::orders::{recover_signer, SignatureError};
use dexec_primitives::{AssetKind, OrderKind, Signed};
use dexec_sdk::market::{
    unpublish_digest, unpublish_message, BookStatus, OrderView, UnpublishBody, UnpublishScheme,
};

use super::{asset_kind, view, BookOrder};
use crate::chain::Chain;
use crate::db::{now_ms, NewOrder, Published, Recheck};
use crate::state::Shared;
use crate::{Error, Result};

/// The ECDSA signer of `digest` (hub rules: libsecp256k1, low-`s` only); `None` when `sign`
/// is not shaped as a signature (64 or 65 bytes, v 27 or 28: a malformed request, 400). A
/// well-formed signature that authorizes no one (a high `s`, or no point of the curve) is
/// refused as a signature of the wrong signer is, 403: the OpenAPI document can say the shape
/// of a signature, not whether it verifies.
pub(crate) fn signer_of(sign: &[u8], digest: B256) -> Result<Option<Address>> {
    match recover_signer(sign, digest) {
        Ok(signer) => Ok(Some(signer)),
        Err(SignatureError::HighS) => Err(Error::Forbidden(
            "the signature has a high `s` value (a malleable copy of another signature); sign \
             again with a standard signer"
                .into(),
        )),
        Err(SignatureError::Unrecoverable) => Err(Error::Forbidden(format!(
            "the signature recovers no signer: it is no signature of the EIP-712 hash {digest}"
        ))),
        Err(SignatureError::Length(_)) => Ok(None),
    }
}

fn not_owner(
    signer: Address,
    kind: AssetKind,
    asset: Address,
    owner: Address,
    domain: &Eip712Domain,
) -> Error {
    Error::Forbidden(format!(
        "the order was signed by {signer} but {kind} {asset} belongs to {owner} (or the \
         signature is for another chain or hub): its owner must sign it under the domain of hub \
         {} on chain {}",
        domain.verifying_contract.unwrap_or_default(),
        domain.chain_id.unwrap_or_default()
    ))
}

fn unregistered(kind: AssetKind, asset: Address) -> Error {
    Error::Unprocessable(format!(
        "{kind} {asset} is not registered on this hub: deploy it first"
    ))
}

fn unfunded(signer: Address, free: i64, kind: OrderKind, needs: i64) -> Error {
    let what = if kind == OrderKind::Request {
        "the sum of the request's max prices (what one task may cost)"
    } else {
        "30% of the workerpool price (the scheduler's stake per task)"
    };
    Error::Unprocessable(format!(
        "{signer} has {free} nRLC free on the hub but needs {needs} nRLC, {what}: deposit more \
         with `dexec account deposit`"
    ))
}

fn rate_limited(signer: Address, wait: f64) -> Error {
    Error::RateLimited(format!(
        "too many publishes and unpublishes by {signer}: retry in {:.1} s",
        wait.max(0.1)
    ))
}

/// What the publish writer checks again for each order while it holds the book lock: the
/// asset's owner and the signer's free balance as the chain caches hold them now (the watcher
/// changes them under the same lock). No I/O: a balance never read is not re-checked.
pub(crate) fn recheck(chain: Arc<Chain>, domain: Eip712Domain) -> Recheck {
    Arc::new(move |o: &NewOrder| {
        let c = &o.columns;
        if let Some(kind) = asset_kind(c.kind) {
            match chain.cached_owner(kind, c.asset) {
                None => return Err(unregistered(kind, c.asset)),
                Some(owner) if owner != o.signer => {
                    return Err(not_owner(o.signer, kind, c.asset, owner, &domain))
                }
                Some(_) => {}
            }
        }
        if c.needs > 0 {
            if let Some(free) = chain.cached_free(o.signer).filter(|free| *free < c.needs) {
                return Err(unfunded(o.signer, free, c.kind, c.needs));
            }
        }
        Ok(())
    })
}

/// Publish `signed`: every check of `docs/market.md`, in its order; the view of the stored
/// order once it is committed.
pub(crate) async fn publish<T: BookOrder>(s: &Shared, signed: Signed<T>) -> Result<OrderView> {
    let kind = T::KIND;
    let columns = signed.order.columns()?;
    if columns.params_len > s.config.max_params_size {
        return Err(Error::TooLarge(format!(
            "the request's params are {} bytes; the market accepts at most {}: put large inputs \
             in iexec_input_files",
            columns.params_len, s.config.max_params_size
        )));
    }
    if columns.volume <= 0 {
        return Err(Error::BadRequest(
            "the order's volume must be at least 1".into(),
        ));
    }
    let hash = signed.digest(&s.domain);
    let signer = match signer_of(&signed.sign, hash)? {
        Some(signer) => signer,
        None if signed.sign.is_empty() => s.chain.presigner(hash).await?.ok_or_else(|| {
            Error::Forbidden(format!(
                "the order has no signature and is not presigned on chain: sign its EIP-712 hash \
                 {hash} (domain dexec/1, chain {}, hub {})",
                s.chain_id, s.config.chain.deployment.hub
            ))
        })?,
        None => {
            return Err(Error::BadRequest(format!(
                "`sign` must be a 65-byte (r, s, v with v 27 or 28) or 64-byte compact ECDSA \
                 signature of the order's EIP-712 hash {hash}, got {} bytes",
                signed.sign.len()
            )))
        }
    };
    // who may sign
    if let Some(requester) = columns.required_signer {
        if signer != requester {
            return Err(Error::Forbidden(format!(
                "the request order names requester {requester} but was signed by {signer} (or \
                 signed for another chain or hub): a request must be signed by its requester \
                 under the domain of hub {} on chain {}",
                s.config.chain.deployment.hub, s.chain_id
            )));
        }
    }
    if let Some(asset_kind) = asset_kind(kind) {
        let owner = s
            .chain
            .owner(asset_kind, columns.asset)
            .await?
            .ok_or_else(|| unregistered(asset_kind, columns.asset))?;
        if owner != signer {
            return Err(not_owner(
                signer,
                asset_kind,
                columns.asset,
                owner,
                &s.domain,
            ));
        }
    }
    s.per_address
        .take(signer)
        .map_err(|wait| rate_limited(signer, wait))?;
    // what the signer must hold
    if columns.needs > 0 {
        let (enough, free) = s.chain.has_free(signer, columns.needs).await?;
        if !enough {
            return Err(unfunded(signer, free, kind, columns.needs));
        }
    }
    // volume used: the watcher's record (read by the writer), or the chain when the watcher
    // did not start at the hub's deployment
    let consumed = if s.config.from_block == 0 {
        None
    } else {
        Some((s.chain.consumed(hash).await?, false))
    };
    let body = serde_json::to_string(&signed)
        .map_err(|e| Error::Corrupt(format!("cannot serialize the order: {e}")))?;
    let publication = s.next_publication();
    let published_at = now_ms();
    let decided = s
        .writer
        .publish(NewOrder {
            hash,
            columns,
            signer,
            publication,
            published_at,
            body,
            consumed,
        })
        .await?;
    let remaining = match decided {
        Published::Stored { remaining } => remaining,
        Published::TooManyOpen(open) => {
            return Err(Error::Unprocessable(format!(
                "{signer} already has {open} open {kind} orders, the most this market accepts: \
                 unpublish or cancel some first"
            )))
        }
        Published::NoVolume { closed } => {
            return Err(Error::Unprocessable(format!(
                "order {hash} has no volume left on chain ({}): sign a new order with another salt",
                if closed {
                    "it was cancelled"
                } else {
                    "deals used all of it"
                }
            )))
        }
        Published::AlreadyOpen => {
            return Err(Error::Conflict(format!(
                "order {hash} is already published; change its salt to publish a new order"
            )))
        }
        Published::Final => {
            return Err(Error::Unprocessable(format!(
                "order {hash} was filled or cancelled on chain: sign a new order with another salt"
            )))
        }
    };
    tracing::debug!(target: "market::book", order = %hash, %kind, %signer, "published");
    Ok(OrderView {
        order_hash: hash,
        kind,
        chain_id: s.chain_id,
        order: T::wrap(signed),
        signer,
        remaining,
        status: BookStatus::Open,
        publication,
        publication_timestamp: published_at,
    })
}

/// Unpublish `hash` with `body`, signed by the order's signer for its current publication;
/// the order's view afterwards.
pub(crate) async fn unpublish(s: &Shared, hash: B256, body: UnpublishBody) -> Result<OrderView> {
    let digest = match body.scheme.unwrap_or_default() {
        UnpublishScheme::Eip712 => unpublish_digest(&s.domain, hash, body.publication),
        UnpublishScheme::Personal => {
            alloy::primitives::eip191_hash_message(unpublish_message(hash, body.publication))
        }
    };
    let signer = signer_of(&body.sign, digest)?.ok_or_else(|| {
        Error::BadRequest("`sign` must be a 65-byte or 64-byte ECDSA signature".into())
    })?;
    let row =
        s.db.order(&hash)
            .await?
            .ok_or_else(|| Error::NotFound(format!("no order {hash} was ever published here")))?;
    if row.signer != signer {
        return Err(Error::Forbidden(format!(
            "the unpublish was signed by {signer}, not by the order's signer {:#x}, or for \
             another order, publication, chain or hub",
            row.signer
        )));
    }
    s.per_address
        .take(signer)
        .map_err(|wait| rate_limited(signer, wait))?;
    if row.status != BookStatus::Open {
        return Err(Error::Conflict(format!(
            "order {hash} is not open (it is {}): nothing to unpublish",
            row.status
        )));
    }
    if row.publication != body.publication {
        return Err(Error::Conflict(format!(
            "the signature names publication {} but order {hash} is now publication {} (it was \
             republished): sign the current publication",
            body.publication, row.publication
        )));
    }
    if !s.db.unpublish(&hash, body.publication).await? {
        return Err(Error::Conflict(format!(
            "order {hash} changed while unpublishing it; read it again"
        )));
    }
    let row =
        s.db.order(&hash)
            .await?
            .ok_or_else(|| Error::Corrupt(format!("order {hash} vanished")))?;
    view(s.chain_id, &row)
}
