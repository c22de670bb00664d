//! The store server's error type.
//!
//! The HTTP status each variant maps to is decided in one place, its `ApiError` impl in
//! `http.rs`. The client's errors are `dexec_sdk::store::StoreError`.

use dexec_sdk::store::{BlobId, InvalidBlobId};

/// `Result` with this crate's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Everything that can go wrong in the store and its configuration.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A blob id that is not 64 hexadecimal characters (HTTP 400).
    #[error(transparent)]
    InvalidId(#[from] InvalidBlobId),

    /// A blob larger than the server's `--max-blob-size` (HTTP 413).
    #[error("the blob is larger than the limit of {limit} bytes")]
    TooLarge {
        /// The limit, in bytes.
        limit: u64,
    },

    /// Bytes that do not hash to the id they were announced under: an upload to
    /// `PUT /blobs/<id>` with other bytes (HTTP 400).
    #[error("the bytes hash to {actual}, not to the expected blob id {expected}")]
    DigestMismatch {
        /// The id the bytes were supposed to have.
        expected: BlobId,
        /// The sha256 of the bytes actually received.
        actual: BlobId,
    },

    /// No blob with this id (HTTP 404).
    #[error("there is no blob {0} in the store")]
    NotFound(BlobId),

    /// The stored bytes of a blob no longer hash to its id. The server moved the object to
    /// quarantine, so the blob is unknown from then on and can be uploaded again (HTTP 500).
    #[error("blob {id} failed its integrity check (the stored bytes hash to {actual}) and was withdrawn from the store; upload it again")]
    Corrupt {
        /// The blob's id.
        id: BlobId,
        /// What the stored bytes hash to.
        actual: BlobId,
    },

    /// The request body could not be read, e.g. the client disconnected mid-upload (HTTP 400).
    #[error("the upload was interrupted: {0}")]
    Body(String),

    /// The storage backend (filesystem or S3) failed (HTTP 500).
    #[error("the storage backend failed: {0}")]
    Backend(#[from] object_store::Error),

    /// Invalid configuration (bad flag or environment value).
    #[error("invalid store configuration: {0}")]
    Config(String),

    /// A local I/O error (binding the listener, serving).
    #[error("I/O error: {0}")]
    Io(#[from] std::io::Error),
}
