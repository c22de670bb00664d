//! The one mapping from [`Error`] to HTTP status codes.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use dexec_service::http::{error_response, ApiError};

use crate::Error;

impl ApiError for Error {
    const SERVICE: &'static str = "market";

    fn status(&self) -> StatusCode {
        match self {
            Error::BadRequest(_) => StatusCode::BAD_REQUEST,
            Error::Forbidden(_) => StatusCode::FORBIDDEN,
            Error::NotFound(_) => StatusCode::NOT_FOUND,
            Error::Conflict(_) => StatusCode::CONFLICT,
            Error::TooLarge(_) => StatusCode::PAYLOAD_TOO_LARGE,
            Error::Unprocessable(_) => StatusCode::UNPROCESSABLE_ENTITY,
            Error::RateLimited(_) => StatusCode::TOO_MANY_REQUESTS,
            Error::Chain(_) | Error::Rpc(_) => StatusCode::BAD_GATEWAY,
            Error::Db(_)
            | Error::Open(_)
            | Error::Migrate(_)
            | Error::Corrupt(_)
            | Error::Config(_)
            | Error::Io(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    fn server_message(&self) -> String {
        if self.status() == StatusCode::BAD_GATEWAY {
            "the market could not read the chain; try again shortly".to_owned()
        } else {
            "the market failed to handle the request; the error is in its log".to_owned()
        }
    }
}

impl IntoResponse for Error {
    fn into_response(self) -> Response {
        error_response(&self)
    }
}
