//! The write side: batched appends ended by exactly one commit or rollback.

use model::{FloatHistogram, Histogram, Labels, Metadata, Timestamp};

use crate::SeriesRef;

/// One sample value.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Sample<'a> {
    /// A float.
    Float(f64),
    /// A native histogram with integer counts.
    Histogram(&'a Histogram),
    /// A native histogram with float counts.
    FloatHistogram(&'a FloatHistogram),
}

/// An exemplar: a sample of an individual event with its own labels.
#[derive(Clone, Debug, PartialEq)]
pub struct Exemplar {
    /// The exemplar's labels (e.g. `trace_id`).
    pub labels: Labels,
    /// The observed value.
    pub value: f64,
    /// When it was observed.
    pub timestamp: Timestamp,
}

/// Why an append was refused. Messages are Prometheus's, so logs and the
/// remote-write receiver's responses read the same.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum AppendError {
    /// Older than the newest sample of the series, with out-of-order
    /// ingestion disabled.
    #[error("out of order sample")]
    OutOfOrder,
    /// Older than the head's minimum valid time, with out-of-order ingestion
    /// disabled.
    #[error("out of bounds")]
    OutOfBounds,
    /// Outside the configured out-of-order time window.
    #[error("too old sample")]
    TooOld,
    /// Same timestamp as an existing sample but a different value.
    #[error("duplicate sample for timestamp")]
    DuplicateTimestamp,
    /// Exemplar older than the series' newest exemplar.
    #[error("out of order exemplar")]
    OutOfOrderExemplar,
    /// The same exemplar again.
    #[error("duplicate exemplar")]
    DuplicateExemplar,
    /// Exemplar labels longer than OpenMetrics allows.
    #[error("label length for exemplar exceeds maximum of 128 UTF-8 characters")]
    ExemplarLabelLength,
    /// Exemplar storage is off.
    #[error("exemplar storage is disabled or max exemplars is less than or equal to 0")]
    ExemplarsDisabled,
    /// Native histograms are off.
    #[error("native histograms are disabled")]
    NativeHistogramsDisabled,
    /// The label set is empty or has duplicate names; the text names which.
    #[error("{0}: invalid sample")]
    InvalidSample(String),
    /// The storage could not persist the batch (e.g. the WAL write failed).
    #[error("storage: {0}")]
    Storage(String),
}

/// One batch of appends against a storage, ended by exactly one of
/// [`Appender::commit`] or [`Appender::rollback`]. Samples become visible to
/// queriers at commit. Not shared between threads.
pub trait Appender {
    /// Adds a sample for the series `labels` (or `hint`, a reference returned
    /// earlier for the same labels). Returns the series' reference.
    fn append(
        &mut self,
        hint: Option<SeriesRef>,
        labels: &Labels,
        t: Timestamp,
        sample: Sample<'_>,
    ) -> Result<SeriesRef, AppendError>;

    /// Adds a sample to the series `series`, a reference an earlier
    /// [`Appender::append`] returned, without its labels: the fast path of a
    /// scrape cache that keeps references but not label sets. `Ok(None)`
    /// when the storage does not know the reference (any more, e.g. the
    /// series was garbage-collected); the caller then appends with the
    /// labels. The default knows no reference.
    fn append_by_ref(
        &mut self,
        series: SeriesRef,
        t: Timestamp,
        sample: Sample<'_>,
    ) -> Result<Option<SeriesRef>, AppendError> {
        let _ = (series, t, sample);
        Ok(None)
    }

    /// Adds an exemplar for a series.
    fn append_exemplar(
        &mut self,
        hint: Option<SeriesRef>,
        labels: &Labels,
        exemplar: &Exemplar,
    ) -> Result<SeriesRef, AppendError>;

    /// Records the metadata (type, help, unit) of a series.
    fn update_metadata(
        &mut self,
        hint: Option<SeriesRef>,
        labels: &Labels,
        metadata: &Metadata,
    ) -> Result<SeriesRef, AppendError>;

    /// Makes the batch durable (as the storage defines it) and visible.
    fn commit(self: Box<Self>) -> Result<(), AppendError>;

    /// Discards the batch.
    fn rollback(self: Box<Self>);
}

/// Something that hands out appenders. Shared between threads.
pub trait Appendable: Send + Sync {
    /// A new, empty batch.
    fn appender(&self) -> Box<dyn Appender + '_>;
}
