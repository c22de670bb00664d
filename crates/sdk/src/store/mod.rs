//! The blob store (feature `store`): its wire types ([`BlobId`], [`BlobRef`]) and its client
//! ([`StoreClient`]). The store server (`dexec-store`) answers with these types; the CLI and
//! the worker upload and download through the client. API: `docs/store.md`.

pub mod client;
pub mod types;

pub use client::{StoreClient, StoreError};
pub use types::{
    as_base, batch_body, blob_url, parse_batch_body, BlobBatch, BlobId, BlobRef, InvalidBlobId,
    BATCH_MAX_BLOBS, BATCH_MAX_BYTES, DEFAULT_MAX_BLOB_SIZE,
};
