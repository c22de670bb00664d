//! The crate's error type. The HTTP status of each variant is decided in one place, its
//! `ApiError` impl in `api/error.rs`. The client's errors are
//! `dexec_sdk::market::ClientError`.

/// `Result` with this crate's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Everything that can go wrong in the market.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The request is malformed: bad JSON, a bad parameter, a bad signature (HTTP 400).
    #[error("{0}")]
    BadRequest(String),
    /// The signer may not do this: not the asset's owner, not the requester (HTTP 403).
    #[error("{0}")]
    Forbidden(String),
    /// No such order or deal (HTTP 404).
    #[error("{0}")]
    NotFound(String),
    /// The order is already in the state asked for: published, unpublished (HTTP 409).
    #[error("{0}")]
    Conflict(String),
    /// The request body or the order's params are too large (HTTP 413).
    #[error("{0}")]
    TooLarge(String),
    /// Valid, but the chain or the book says no: exhausted order, unregistered asset,
    /// insufficient balance, too many open orders (HTTP 422).
    #[error("{0}")]
    Unprocessable(String),
    /// Too many requests from this address or IP (HTTP 429).
    #[error("{0}")]
    RateLimited(String),
    /// The chain (JSON-RPC) failed (HTTP 502).
    #[error("the chain failed: {0}")]
    Chain(#[from] dexec_sdk::Error),
    /// A contract call failed (HTTP 502).
    #[error("the chain failed: {0}")]
    Rpc(String),
    /// The database failed (HTTP 500).
    #[error("database error: {0}")]
    Db(#[from] sqlx::Error),
    /// The database could not be opened (HTTP 500).
    #[error(transparent)]
    Open(#[from] dexec_service::db::DbError),
    /// A migration failed (HTTP 500).
    #[error("database migration failed: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    /// A stored value cannot be read back (HTTP 500).
    #[error("corrupt database: {0}")]
    Corrupt(String),
    /// Invalid configuration.
    #[error("invalid market configuration: {0}")]
    Config(String),
    /// A local I/O error (binding the listener, creating the database directory).
    #[error("I/O error: {0}")]
    Io(#[from] std::io::Error),
}
