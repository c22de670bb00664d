//! The scheduler's error, and its one mapping to HTTP answers.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use dexec_service::http::{error_response, ApiError};

/// What can go wrong in the scheduler.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The configuration is invalid.
    #[error("invalid configuration: {0}")]
    Config(String),
    /// A shared flag (chain, wallet, database) cannot be used.
    #[error(transparent)]
    Args(#[from] dexec_service::args::ArgsError),
    /// Another process uses the database.
    #[error(transparent)]
    Lock(#[from] dexec_service::LockError),
    /// The database cannot be opened.
    #[error(transparent)]
    Open(#[from] dexec_service::db::DbError),
    /// The database failed.
    #[error("database error: {0}")]
    Db(#[from] sqlx::Error),
    /// Applying the database migrations failed.
    #[error("database migration failed: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    /// A chain call failed.
    #[error(transparent)]
    Chain(#[from] dexec_sdk::Error),
    /// A hub call failed.
    #[error(transparent)]
    Contract(#[from] dexec_contracts::Error),
    /// Signing failed.
    #[error("signing failed: {0}")]
    Signer(#[from] alloy::signers::Error),
    /// Binding or serving HTTP failed.
    #[error("I/O error: {0}")]
    Io(#[from] std::io::Error),
    /// The caller is not authenticated (missing, unknown or expired session, bad signature).
    #[error("unauthorized: {0}")]
    Unauthorized(String),
    /// The caller is known but not admitted (allow list, minimum score).
    #[error("forbidden: {0}")]
    Forbidden(String),
    /// The request is malformed or not allowed in the current state.
    #[error("bad request: {0}")]
    BadRequest(String),
    /// No such task or replicate.
    #[error("not found: {0}")]
    NotFound(String),
    /// Stored data could not be understood (a corrupted or foreign database).
    #[error("corrupted scheduler state: {0}")]
    Corrupt(String),
}

/// `Result` with the scheduler's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

impl ApiError for Error {
    const SERVICE: &'static str = "scheduler";

    fn status(&self) -> StatusCode {
        match self {
            Self::Unauthorized(_) => StatusCode::UNAUTHORIZED,
            Self::Forbidden(_) => StatusCode::FORBIDDEN,
            Self::BadRequest(_) => StatusCode::BAD_REQUEST,
            Self::NotFound(_) => StatusCode::NOT_FOUND,
            // the chain is down or refused: the worker retries later
            Self::Chain(_) | Self::Contract(_) => StatusCode::SERVICE_UNAVAILABLE,
            _ => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    fn server_message(&self) -> String {
        match self {
            // a worker learns why the chain call failed (it sees the same chain)
            Self::Chain(_) | Self::Contract(_) => self.to_string(),
            _ => format!(
                "the {} failed to handle the request; the error is in its log",
                Self::SERVICE
            ),
        }
    }
}

impl IntoResponse for Error {
    fn into_response(self) -> Response {
        error_response(&self)
    }
}
