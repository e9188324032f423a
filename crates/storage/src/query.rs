//! The read side: queriers over a time range, series sets, sample iterators.

use model::matcher::Matcher;
use model::{FloatHistogram, Histogram, Labels};

/// A failure while reading.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum StorageError {
    /// Data on disk is damaged; names the file or block.
    #[error("corrupted {place}: {reason}")]
    Corrupt {
        /// File, block or segment.
        place: String,
        /// What is wrong.
        reason: String,
    },
    /// An I/O error.
    #[error("read {place}: {reason}")]
    Io {
        /// File, block or segment.
        place: String,
        /// The OS error.
        reason: String,
    },
    /// The query was cancelled or timed out.
    #[error("query canceled")]
    Canceled,
    /// A limit was hit (e.g. too many series).
    #[error("{0}")]
    Limit(String),
}

/// What the storage may use to answer a select more cheaply. Only hints:
/// results must be correct whatever the storage does with them.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct SelectHints {
    /// Start of the selected range, ms.
    pub start: i64,
    /// End of the selected range, ms.
    pub end: i64,
    /// Maximum number of series to return; 0 for no limit.
    pub limit: usize,
    /// Query step, ms (0 for instant queries).
    pub step: i64,
    /// The surrounding function or aggregation (e.g. `rate`, `series` for
    /// metadata-only selects).
    pub func: String,
    /// Labels of the surrounding aggregation.
    pub grouping: Vec<String>,
    /// Whether `grouping` is `by` (true) or `without` (false).
    pub by: bool,
    /// Range of a range-vector selector, ms.
    pub range: i64,
}

/// Hints for label name/value reads.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct LabelHints {
    /// Maximum number of results; 0 for no limit.
    pub limit: usize,
}

/// Non-fatal annotations accumulated while reading (Prometheus's warnings).
pub type Warnings = Vec<String>;

/// What kind of value an iterator is positioned at.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ValueType {
    /// Exhausted (or failed: check [`SampleIterator::err`]).
    None,
    /// A float sample.
    Float,
    /// An integer-count native histogram.
    Histogram,
    /// A float-count native histogram.
    FloatHistogram,
}

/// A cursor over one series' samples in ascending time order.
///
/// Start with [`SampleIterator::next`] or [`SampleIterator::seek`]; the `at*`
/// methods are valid only after one of those returned the matching
/// [`ValueType`].
pub trait SampleIterator {
    /// Advances to the next sample.
    fn next(&mut self) -> ValueType;
    /// Advances to the first sample at or after `t`; does not move if the
    /// current sample already is. Never moves backwards.
    fn seek(&mut self, t: i64) -> ValueType;
    /// The current float sample.
    fn at(&self) -> (i64, f64);
    /// Copies the current integer histogram into `into`; returns its time.
    fn at_histogram(&self, into: &mut Histogram) -> i64;
    /// Copies the current histogram, converted to float counts if needed,
    /// into `into`; returns its time.
    fn at_float_histogram(&self, into: &mut FloatHistogram) -> i64;
    /// The current sample's timestamp.
    fn at_t(&self) -> i64;
    /// The current sample's start timestamp (ms), 0 when unknown — as
    /// Prometheus's `AtST`. Storages without start timestamps keep the
    /// default.
    fn at_st(&self) -> i64 {
        0
    }
    /// The error that ended iteration early, if any.
    fn err(&self) -> Option<StorageError> {
        None
    }
}

/// One series: its labels and a way to iterate its samples.
pub trait Series: Send + Sync {
    /// The series' labels (including `__name__`).
    fn labels(&self) -> &Labels;
    /// A new iterator over the samples, from the start.
    fn iterator(&self) -> Box<dyn SampleIterator + '_>;
}

/// A boxed series, as series sets hand them out.
pub type BoxedSeries = Box<dyn Series>;

/// A stream of series, sorted by labels when the select asked for it.
pub trait SeriesSet: Send {
    /// The next series, `None` at the end; an error ends the stream.
    fn next(&mut self) -> Option<Result<BoxedSeries, StorageError>>;
    /// Annotations gathered so far.
    fn warnings(&self) -> Warnings {
        Vec::new()
    }
}

/// Read access to the data of a fixed time range.
pub trait Querier: Send + Sync {
    /// Series matching every matcher. Sorted by labels if `sorted`.
    fn select(
        &self,
        sorted: bool,
        hints: Option<&SelectHints>,
        matchers: &[Matcher],
    ) -> Box<dyn SeriesSet + '_>;

    /// Sorted, distinct values of label `name` among series matching
    /// `matchers` (all series when empty).
    fn label_values(
        &self,
        name: &str,
        hints: &LabelHints,
        matchers: &[Matcher],
    ) -> Result<(Vec<String>, Warnings), StorageError>;

    /// Sorted, distinct label names among series matching `matchers`.
    fn label_names(
        &self,
        hints: &LabelHints,
        matchers: &[Matcher],
    ) -> Result<(Vec<String>, Warnings), StorageError>;
}

/// Something that hands out queriers for a time range (inclusive, ms).
pub trait Queryable: Send + Sync {
    /// A querier over `[mint, maxt]`.
    fn querier(&self, mint: i64, maxt: i64) -> Result<Box<dyn Querier + '_>, StorageError>;
}

/// Whether `labels` satisfies every matcher (a missing label matches as "").
pub fn matches_all(labels: &Labels, matchers: &[Matcher]) -> bool {
    matchers.iter().all(|m| m.matches_labels(labels))
}

/// Applies a result limit: keeps the first `limit` values (0 = no limit).
pub fn apply_limit<T>(mut v: Vec<T>, limit: usize) -> Vec<T> {
    if limit > 0 && v.len() > limit {
        v.truncate(limit);
    }
    v
}
