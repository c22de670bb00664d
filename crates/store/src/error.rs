//! The crate's error type, shared by the server and the client.
//!
//! The HTTP status each variant maps to is decided in one place, `http::status_of`.

use crate::BlobId;

/// `Result` with this crate's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Everything that can go wrong in the store, its configuration and its client.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A blob id that is not 64 hexadecimal characters (HTTP 400).
    #[error(
        "`{0}` is not a blob id: a blob id is the sha256 of the blob, 64 hexadecimal characters"
    )]
    InvalidId(String),

    /// A blob larger than the allowed size: the server's `--max-blob-size` on upload, the
    /// client's download cap on download (HTTP 413).
    #[error("the blob is larger than the limit of {limit} bytes")]
    TooLarge {
        /// The limit, in bytes.
        limit: u64,
    },

    /// Bytes that do not hash to the id they were announced under: an upload to
    /// `PUT /blobs/<id>` with other bytes (HTTP 400), or a download whose bytes do not match the
    /// requested id (client side).
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

    /// A local I/O error (binding the listener, reading a file to upload, writing a download).
    #[error("I/O error: {0}")]
    Io(#[from] std::io::Error),

    /// Client: the HTTP request could not be made or its response not read.
    #[error("request to the store failed: {0}")]
    Http(#[from] reqwest::Error),

    /// Client: the store answered with an error status; `message` is its `error` sentence.
    #[error("the store answered {status}: {message}")]
    Status {
        /// The HTTP status code.
        status: u16,
        /// The server's explanation.
        message: String,
    },
}
