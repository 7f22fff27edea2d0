//! The one error type of the store traits. Areas match on its variants (a unique-key clash is
//! `Conflict`, whatever the backend) instead of downcasting to a driver's error; `http/` sees
//! it only through the one `From<StoreError> for ApiError` below.

use crate::error::ApiError;

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The row a write or read needed is not there.
    #[error("not found")]
    NotFound,
    /// A unique key (an external id, a name) is already taken; the text is the backend's
    /// description of the clash, for logs, never for a response body.
    #[error("unique key conflict: {0}")]
    Conflict(String),
    #[error(transparent)]
    Other(#[from] anyhow::Error),
}

pub type StoreResult<T> = Result<T, StoreError>;

impl StoreError {
    pub fn is_conflict(&self) -> bool {
        matches!(self, Self::Conflict(_))
    }
}

/// A clash the area did not name itself is still a 409, with a message that names no table.
impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::NotFound => ApiError::NotFound("Record"),
            StoreError::Conflict(detail) => {
                tracing::debug!(%detail, "unique key conflict");
                ApiError::Conflict(
                    "another record of this workspace already has that id, name or external id"
                        .into(),
                )
            }
            StoreError::Other(e) => ApiError::Internal(e),
        }
    }
}
