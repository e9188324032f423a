//! WAL record encodings, byte for byte as Prometheus's `tsdb/record`.
//!
//! A record is one byte of [`RecordType`] followed by a type-specific body;
//! the WAL ([`crate::wal`]) stores records as opaque byte strings. The
//! layouts are described in `docs/format/wal.md`. Encoders append to a
//! caller-owned buffer; decoders append to caller-owned vectors, so a replay
//! loop reuses its buffers.
//!
//! Decoders take bytes from disk: they never panic, reject truncated input,
//! trailing bytes and non-UTF-8 strings with a [`DecodeError`] naming the
//! byte offset, and never allocate more than the input length justifies.
//! On error the output vector is left as it was.
//!
//! Written by Ember: the version-1 record types 1 to 10. Read but not
//! written: nothing else; the 3.x start-time variants (types 11 to 14) are
//! reported as [`RecordType::Unknown`] so callers can skip them like
//! Prometheus skips types it does not know.

mod buf;
mod histogram;

pub use histogram::{
    decode_float_histogram_samples, decode_histogram_samples,
    encode_custom_buckets_float_histogram_samples, encode_custom_buckets_histogram_samples,
    encode_float_histogram_samples, encode_histogram_samples,
};

use buf::{Dec, put_be64, put_str, put_uvarint, put_varint};
use model::histogram::{FloatHistogram, Histogram};
use model::{Labels, MetricType, PackedLabels, Timestamp};

/// A series reference in the head, as stored in the WAL (Prometheus's
/// `chunks.HeadSeriesRef`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct HeadSeriesRef(pub u64);

/// The first byte of every record.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum RecordType {
    /// Series: references and their labels.
    Series,
    /// Float samples.
    Samples,
    /// Deletion intervals.
    Tombstones,
    /// Exemplars.
    Exemplars,
    /// Out-of-order m-map markers (written to the WBL).
    MmapMarkers,
    /// Metric metadata (type, unit, help) per series.
    Metadata,
    /// Integer native-histogram samples with exponential schemas.
    HistogramSamples,
    /// Float native-histogram samples with exponential schemas.
    FloatHistogramSamples,
    /// Integer native-histogram samples with custom buckets (schema -53).
    CustomBucketsHistogramSamples,
    /// Float native-histogram samples with custom buckets (schema -53).
    CustomBucketsFloatHistogramSamples,
    /// Any other first byte, including an empty record.
    Unknown,
}

impl RecordType {
    /// The record type of `rec`, from its first byte.
    pub fn of(rec: &[u8]) -> RecordType {
        match rec.first() {
            Some(1) => RecordType::Series,
            Some(2) => RecordType::Samples,
            Some(3) => RecordType::Tombstones,
            Some(4) => RecordType::Exemplars,
            Some(5) => RecordType::MmapMarkers,
            Some(6) => RecordType::Metadata,
            Some(7) => RecordType::HistogramSamples,
            Some(8) => RecordType::FloatHistogramSamples,
            Some(9) => RecordType::CustomBucketsHistogramSamples,
            Some(10) => RecordType::CustomBucketsFloatHistogramSamples,
            _ => RecordType::Unknown,
        }
    }

    /// The type byte; 255 for [`RecordType::Unknown`], as in Prometheus.
    pub fn byte(self) -> u8 {
        match self {
            RecordType::Series => 1,
            RecordType::Samples => 2,
            RecordType::Tombstones => 3,
            RecordType::Exemplars => 4,
            RecordType::MmapMarkers => 5,
            RecordType::Metadata => 6,
            RecordType::HistogramSamples => 7,
            RecordType::FloatHistogramSamples => 8,
            RecordType::CustomBucketsHistogramSamples => 9,
            RecordType::CustomBucketsFloatHistogramSamples => 10,
            RecordType::Unknown => 255,
        }
    }

    /// Prometheus's name for the type (`series`, `samples`, ...).
    pub fn name(self) -> &'static str {
        match self {
            RecordType::Series => "series",
            RecordType::Samples => "samples",
            RecordType::Tombstones => "tombstones",
            RecordType::Exemplars => "exemplars",
            RecordType::MmapMarkers => "mmapmarkers",
            RecordType::Metadata => "metadata",
            RecordType::HistogramSamples => "histogram_samples",
            RecordType::FloatHistogramSamples => "float_histogram_samples",
            RecordType::CustomBucketsHistogramSamples => "custom_buckets_histogram_samples",
            RecordType::CustomBucketsFloatHistogramSamples => {
                "custom_buckets_float_histogram_samples"
            }
            RecordType::Unknown => "unknown",
        }
    }
}

/// A record that could not be decoded.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("decode {record} record at byte {offset}: {reason}")]
pub struct DecodeError {
    /// The record type being decoded.
    pub record: &'static str,
    /// Byte offset within the record where decoding failed.
    pub offset: usize,
    /// What was wrong.
    pub reason: Reason,
}

/// Why a record could not be decoded.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Reason {
    /// The record ends inside a field.
    #[error("unexpected end of record")]
    Truncated,
    /// A varint is longer than 10 bytes or overflows 64 bits.
    #[error("invalid varint")]
    Varint,
    /// The first byte is not the expected record type.
    #[error("unexpected record type byte {0}")]
    WrongType(u8),
    /// A label name or value, unit or help text is not UTF-8.
    #[error("string is not valid UTF-8")]
    Utf8,
    /// Bytes follow the last complete entry.
    #[error("unexpected {0} bytes left in record")]
    Trailing(usize),
    /// A number does not fit its field or a count exceeds the record.
    #[error("{what} {value} out of range")]
    Range {
        /// The field.
        what: &'static str,
        /// The value read.
        value: u64,
    },
}

/// A series and its labels (record type 1).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RefSeries {
    /// The head reference.
    pub series: HeadSeriesRef,
    /// The label set.
    pub labels: Labels,
}

/// One float sample (record type 2).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct RefSample {
    /// The series.
    pub series: HeadSeriesRef,
    /// Sample time.
    pub t: Timestamp,
    /// Sample value; NaN payloads (the stale marker) are kept bit for bit.
    pub v: f64,
}

/// One deletion interval of one series (record type 3). Prometheus's
/// `tombstones.Stone` with several intervals is written as one entry per
/// interval.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RefTombstone {
    /// The series.
    pub series: HeadSeriesRef,
    /// First deleted timestamp, inclusive.
    pub mint: Timestamp,
    /// Last deleted timestamp, inclusive.
    pub maxt: Timestamp,
}

/// One exemplar (record type 4).
#[derive(Clone, Debug, PartialEq)]
pub struct RefExemplar {
    /// The series.
    pub series: HeadSeriesRef,
    /// Exemplar time.
    pub t: Timestamp,
    /// Exemplar value.
    pub v: f64,
    /// Exemplar labels (trace id, ...).
    pub labels: Labels,
}

/// An out-of-order m-map marker (record type 5): every sample of `series`
/// up to now is in the head chunk `mmap_ref`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RefMmapMarker {
    /// The series.
    pub series: HeadSeriesRef,
    /// The head-chunk reference (`chunks_head` file index << 32 | offset).
    pub mmap_ref: u64,
}

/// The metadata of one series (record type 6).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RefMetadata {
    /// The series.
    pub series: HeadSeriesRef,
    /// Metric type; unknown type bytes decode as [`MetricType::Unknown`].
    pub kind: MetricType,
    /// UNIT, empty when absent.
    pub unit: String,
    /// HELP, empty when absent.
    pub help: String,
}

/// One integer-histogram sample (record types 7 and 9).
#[derive(Clone, Debug, PartialEq)]
pub struct RefHistogramSample {
    /// The series.
    pub series: HeadSeriesRef,
    /// Sample time.
    pub t: Timestamp,
    /// The histogram.
    pub h: Histogram,
}

/// One float-histogram sample (record types 8 and 10).
#[derive(Clone, Debug, PartialEq)]
pub struct RefFloatHistogramSample {
    /// The series.
    pub series: HeadSeriesRef,
    /// Sample time.
    pub t: Timestamp,
    /// The histogram.
    pub fh: FloatHistogram,
}

/// The metric-type byte of a metadata record.
pub fn metric_type_byte(t: MetricType) -> u8 {
    match t {
        MetricType::Unknown => 0,
        MetricType::Counter => 1,
        MetricType::Gauge => 2,
        MetricType::Histogram => 3,
        MetricType::GaugeHistogram => 4,
        MetricType::Summary => 5,
        MetricType::Info => 6,
        MetricType::Stateset => 7,
    }
}

/// The metric type of a metadata record's type byte.
pub fn metric_type_from_byte(b: u8) -> MetricType {
    match b {
        1 => MetricType::Counter,
        2 => MetricType::Gauge,
        3 => MetricType::Histogram,
        4 => MetricType::GaugeHistogram,
        5 => MetricType::Summary,
        6 => MetricType::Info,
        7 => MetricType::Stateset,
        _ => MetricType::Unknown,
    }
}

const UNIT_FIELD: &str = "UNIT";
const HELP_FIELD: &str = "HELP";

pub(crate) fn encode_labels(out: &mut Vec<u8>, labels: &Labels) {
    put_uvarint(out, labels.len() as u64);
    for (n, v) in labels {
        put_str(out, n);
        put_str(out, v);
    }
}

pub(crate) fn decode_labels(d: &mut Dec<'_>) -> Result<Labels, DecodeError> {
    decode_labels_in_place(d).map(SeriesLabels::into_labels)
}

/// A label set of a record, borrowed where the record holds it in
/// [`Labels`]' packed form (as Prometheus writes them).
#[derive(Clone, Debug)]
pub enum SeriesLabels<'a> {
    /// In place.
    Packed(PackedLabels<'a>),
    /// Normalised (the record's pairs were not in packed form: unsorted).
    Owned(Labels),
}

impl SeriesLabels<'_> {
    /// The label set, borrowed.
    pub fn packed(&self) -> PackedLabels<'_> {
        match self {
            SeriesLabels::Packed(p) => *p,
            SeriesLabels::Owned(l) => l.packed(),
        }
    }

    /// The label set, owned.
    pub fn into_labels(self) -> Labels {
        match self {
            SeriesLabels::Packed(p) => p.to_labels(),
            SeriesLabels::Owned(l) => l,
        }
    }
}

fn decode_labels_in_place<'a>(d: &mut Dec<'a>) -> Result<SeriesLabels<'a>, DecodeError> {
    let n = d.count("label count", 2)?;
    // Fast path: the record holds the pairs in `Labels`' packed form.
    if let Some((l, len)) = PackedLabels::prefix(d.rest(), n) {
        d.skip(len);
        return Ok(SeriesLabels::Packed(l));
    }
    let mut sorted = true;
    let mut borrowed: Vec<(&str, &str)> = Vec::with_capacity(n);
    for _ in 0..n {
        let name = d.str()?;
        let value = d.str()?;
        if let Some(&(prev, _)) = borrowed.last() {
            sorted &= prev < name;
        }
        borrowed.push((name, value));
    }
    Ok(SeriesLabels::Owned(if sorted {
        Labels::from_sorted(borrowed)
    } else {
        // Prometheus never writes unsorted label sets; tolerate them like
        // it does, normalising through the builder.
        Labels::from_pairs(borrowed)
    }))
}

/// Starts a record of type `t`.
fn start(d: &mut Dec<'_>, t: RecordType) -> Result<(), DecodeError> {
    let b = d.byte()?;
    if b != t.byte() {
        return Err(DecodeError {
            record: t.name(),
            offset: 0,
            reason: Reason::WrongType(b),
        });
    }
    Ok(())
}

/// Runs `body` and restores `out` to its length on error.
fn guarded<T>(
    out: &mut Vec<T>,
    body: impl FnOnce(&mut Vec<T>) -> Result<(), DecodeError>,
) -> Result<(), DecodeError> {
    let len = out.len();
    let r = body(out);
    if r.is_err() {
        out.truncate(len);
    }
    r
}

/// Appends a series record holding `series` to `out`.
pub fn encode_series(series: &[RefSeries], out: &mut Vec<u8>) {
    out.push(RecordType::Series.byte());
    for s in series {
        put_be64(out, s.series.0);
        encode_labels(out, &s.labels);
    }
}

/// Decodes a series record, appending to `out`.
pub fn decode_series(rec: &[u8], out: &mut Vec<RefSeries>) -> Result<(), DecodeError> {
    let mut d = Dec::new(rec, RecordType::Series.name());
    start(&mut d, RecordType::Series)?;
    guarded(out, |out| {
        while !d.is_empty() {
            let series = HeadSeriesRef(d.be64()?);
            let labels = decode_labels(&mut d)?;
            out.push(RefSeries { series, labels });
        }
        Ok(())
    })
}

/// Like [`decode_series`], the label sets borrowed from `rec` where it
/// holds them in packed form (a replay interns them without a copy each).
pub fn decode_series_in_place<'a>(
    rec: &'a [u8],
    out: &mut Vec<(HeadSeriesRef, SeriesLabels<'a>)>,
) -> Result<(), DecodeError> {
    let mut d = Dec::new(rec, RecordType::Series.name());
    start(&mut d, RecordType::Series)?;
    guarded(out, |out| {
        while !d.is_empty() {
            let series = HeadSeriesRef(d.be64()?);
            out.push((series, decode_labels_in_place(&mut d)?));
        }
        Ok(())
    })
}

/// Appends a samples record to `out`. Refs and timestamps are deltas to
/// the first sample's; an empty slice gives the one-byte record.
pub fn encode_samples(samples: &[RefSample], out: &mut Vec<u8>) {
    out.push(RecordType::Samples.byte());
    let Some(first) = samples.first() else {
        return;
    };
    put_be64(out, first.series.0);
    put_be64(out, first.t.0 as u64);
    // Fast path: one varint pair and eight value bytes per sample.
    for s in samples {
        put_varint(out, s.series.0.wrapping_sub(first.series.0) as i64);
        put_varint(out, s.t.0.wrapping_sub(first.t.0));
        put_be64(out, s.v.to_bits());
    }
}

/// Decodes a samples record, appending to `out`.
pub fn decode_samples(rec: &[u8], out: &mut Vec<RefSample>) -> Result<(), DecodeError> {
    let mut d = Dec::new(rec, RecordType::Samples.name());
    start(&mut d, RecordType::Samples)?;
    if d.is_empty() {
        return Ok(());
    }
    guarded(out, |out| {
        let base_ref = d.be64()?;
        let base_t = d.be64()? as i64;
        // Each sample takes at least 10 bytes.
        out.reserve(d.remaining() / 10);
        while !d.is_empty() {
            let dref = d.varint()?;
            let dt = d.varint()?;
            let v = d.be64_f64()?;
            out.push(RefSample {
                series: HeadSeriesRef(base_ref.wrapping_add(dref as u64)),
                t: Timestamp(base_t.wrapping_add(dt)),
                v,
            });
        }
        Ok(())
    })
}

/// Appends a tombstones record to `out`.
pub fn encode_tombstones(stones: &[RefTombstone], out: &mut Vec<u8>) {
    out.push(RecordType::Tombstones.byte());
    for s in stones {
        put_be64(out, s.series.0);
        put_varint(out, s.mint.0);
        put_varint(out, s.maxt.0);
    }
}

/// Decodes a tombstones record, appending to `out`.
pub fn decode_tombstones(rec: &[u8], out: &mut Vec<RefTombstone>) -> Result<(), DecodeError> {
    let mut d = Dec::new(rec, RecordType::Tombstones.name());
    start(&mut d, RecordType::Tombstones)?;
    guarded(out, |out| {
        while !d.is_empty() {
            let series = HeadSeriesRef(d.be64()?);
            let mint = Timestamp(d.varint()?);
            let maxt = Timestamp(d.varint()?);
            out.push(RefTombstone { series, mint, maxt });
        }
        Ok(())
    })
}

/// Appends an exemplars record to `out`, with deltas to the first
/// exemplar's ref and time like samples.
pub fn encode_exemplars(exemplars: &[RefExemplar], out: &mut Vec<u8>) {
    out.push(RecordType::Exemplars.byte());
    let Some(first) = exemplars.first() else {
        return;
    };
    put_be64(out, first.series.0);
    put_be64(out, first.t.0 as u64);
    for e in exemplars {
        put_varint(out, e.series.0.wrapping_sub(first.series.0) as i64);
        put_varint(out, e.t.0.wrapping_sub(first.t.0));
        put_be64(out, e.v.to_bits());
        encode_labels(out, &e.labels);
    }
}

/// Decodes an exemplars record, appending to `out`.
pub fn decode_exemplars(rec: &[u8], out: &mut Vec<RefExemplar>) -> Result<(), DecodeError> {
    let mut d = Dec::new(rec, RecordType::Exemplars.name());
    start(&mut d, RecordType::Exemplars)?;
    if d.is_empty() {
        return Ok(());
    }
    guarded(out, |out| {
        let base_ref = d.be64()?;
        let base_t = d.be64()? as i64;
        while !d.is_empty() {
            let dref = d.varint()?;
            let dt = d.varint()?;
            let v = d.be64_f64()?;
            let labels = decode_labels(&mut d)?;
            out.push(RefExemplar {
                series: HeadSeriesRef(base_ref.wrapping_add(dref as u64)),
                t: Timestamp(base_t.wrapping_add(dt)),
                v,
                labels,
            });
        }
        Ok(())
    })
}

/// Appends an m-map markers record to `out`.
pub fn encode_mmap_markers(markers: &[RefMmapMarker], out: &mut Vec<u8>) {
    out.push(RecordType::MmapMarkers.byte());
    for m in markers {
        put_be64(out, m.series.0);
        put_be64(out, m.mmap_ref);
    }
}

/// Decodes an m-map markers record, appending to `out`.
pub fn decode_mmap_markers(rec: &[u8], out: &mut Vec<RefMmapMarker>) -> Result<(), DecodeError> {
    let mut d = Dec::new(rec, RecordType::MmapMarkers.name());
    start(&mut d, RecordType::MmapMarkers)?;
    guarded(out, |out| {
        while !d.is_empty() {
            let series = HeadSeriesRef(d.be64()?);
            let mmap_ref = d.be64()?;
            out.push(RefMmapMarker { series, mmap_ref });
        }
        Ok(())
    })
}

/// Appends a metadata record to `out`: per series a uvarint ref, the type
/// byte and two named fields, `UNIT` and `HELP`.
pub fn encode_metadata(metadata: &[RefMetadata], out: &mut Vec<u8>) {
    out.push(RecordType::Metadata.byte());
    for m in metadata {
        put_uvarint(out, m.series.0);
        out.push(metric_type_byte(m.kind));
        put_uvarint(out, 2);
        put_str(out, UNIT_FIELD);
        put_str(out, &m.unit);
        put_str(out, HELP_FIELD);
        put_str(out, &m.help);
    }
}

/// Decodes a metadata record, appending to `out`. Fields other than `UNIT`
/// and `HELP` are skipped, as Prometheus does.
pub fn decode_metadata(rec: &[u8], out: &mut Vec<RefMetadata>) -> Result<(), DecodeError> {
    let mut d = Dec::new(rec, RecordType::Metadata.name());
    start(&mut d, RecordType::Metadata)?;
    guarded(out, |out| {
        while !d.is_empty() {
            let series = HeadSeriesRef(d.uvarint()?);
            let kind = metric_type_from_byte(d.byte()?);
            let fields = d.count("metadata field count", 2)?;
            let (mut unit, mut help) = ("", "");
            for _ in 0..fields {
                let name = d.bytes()?;
                let value = d.str()?;
                match name {
                    b"UNIT" => unit = value,
                    b"HELP" => help = value,
                    _ => {}
                }
            }
            out.push(RefMetadata {
                series,
                kind,
                unit: unit.to_string(),
                help: help.to_string(),
            });
        }
        Ok(())
    })
}

#[cfg(test)]
mod tests;
