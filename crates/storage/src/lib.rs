//! The storage seams: how data goes in and how it comes out.
//!
//! Owns the traits every producer and consumer of samples agrees on —
//! [`Appender`]/[`Appendable`] (scrape, rules and remote write append through
//! them) and [`Querier`]/[`Queryable`] with [`SeriesSet`], [`Series`] and
//! [`SampleIterator`] (PromQL, federation and remote read read through them)
//! — plus the concrete pieces that only need those traits: the
//! [`merge`] of several queriers and the in-memory [`vec`] series used by
//! remote read, rule tests and the engine's own tests.
//!
//! Knows nothing of how samples are stored (that is `tsdb`), nor of PromQL or
//! scraping. Synchronous.

pub mod append;
pub mod merge;
pub mod query;
pub mod vec;

pub use append::{AppendError, Appendable, Appender, Exemplar, Sample};
pub use merge::MergeQuerier;
pub use query::{
    LabelHints, Querier, Queryable, SampleIterator, SelectHints, Series, SeriesSet, StorageError,
    ValueType,
};

/// A reference to a series, valid for one storage instance. `0` is never a
/// valid reference and must not be cached.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct SeriesRef(pub u64);
