//! The Ember data model: what every other crate agrees on.
//!
//! Owns [`Labels`] (sorted, packed, cheap to clone and hash), label
//! [`matcher::Matcher`]s with Prometheus's anchored RE2 regex semantics,
//! [`Timestamp`]s in milliseconds and the staleness marker, metric types and
//! metadata, native [`histogram`]s, and the [`relabel`] engine.
//!
//! Pure and synchronous: no I/O, no async, no knowledge of storage, scraping
//! or PromQL.

pub mod histogram;
pub mod labels;
pub mod matcher;
pub mod metadata;
pub mod regex;
pub mod relabel;
pub mod time;
pub mod value;

pub use histogram::{FloatHistogram, Histogram};
pub use labels::{Builder as LabelsBuilder, Labels, PackedLabels};
pub use metadata::{Metadata, MetricType};
pub use value::{STALE_NAN, Timestamp, is_stale_nan};
