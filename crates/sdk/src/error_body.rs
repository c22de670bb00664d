//! The error body every dexec service answers with: `{"error": "<sentence>"}`.

use serde::{Deserialize, Serialize};

/// `{"error": "<sentence>"}`: what went wrong, in words for the caller.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ErrorBody {
    /// The sentence.
    pub error: String,
}
