//! The engine's errors, with Prometheus's texts.

use promql_syntax::ParseError;
use storage::StorageError;

/// Why a query failed.
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
pub enum Error {
    /// The query does not parse or type-check.
    #[error("{0}")]
    Parse(#[from] ParseError),
    /// More samples than `max_samples` would be held in memory at once.
    #[error("query processing would load too many samples into memory in {0}")]
    TooManySamples(&'static str),
    /// The query ran longer than the timeout.
    #[error("query timed out in {0}")]
    Timeout(&'static str),
    /// The query was cancelled by its caller.
    #[error("query was canceled in {0}")]
    Canceled(&'static str),
    /// The storage failed while reading.
    #[error("{0}")]
    Storage(#[from] StorageError),
    /// The query is well-formed but cannot be evaluated (Prometheus's
    /// evaluation errors, e.g. `many-to-many matching not allowed: ...`).
    #[error("{0}")]
    Eval(String),
    /// The query uses something the engine options disable, or a range query
    /// is invalid.
    #[error("{0}")]
    Invalid(String),
}

impl Error {
    pub(crate) fn eval(msg: impl Into<String>) -> Error {
        Error::Eval(msg.into())
    }
}

/// The engine's result type.
pub type Result<T> = std::result::Result<T, Error>;
