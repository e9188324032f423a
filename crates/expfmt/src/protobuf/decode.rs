//! Decoding of `io.prometheus.client` messages into reusable, borrow-free
//! structs: strings are recorded as absolute byte ranges of the input (UTF-8
//! is checked later, when they are handed out), repeated fields go into
//! vectors that keep their capacity from one metric to the next.
//!
//! Field numbers follow `io/prometheus/client/metrics.proto`. Repeated
//! scalars are accepted packed and unpacked; unknown fields are skipped;
//! repeated occurrences of a singular field merge as protobuf says (the last
//! scalar wins, repeated fields append).

use super::wire::{Reader, WireError, WireType, unzigzag32, unzigzag64};
use model::histogram::Span;

/// `io.prometheus.client.MetricType`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub(crate) enum ProtoType {
    #[default]
    Counter,
    Gauge,
    Summary,
    Untyped,
    Histogram,
    GaugeHistogram,
}

impl ProtoType {
    pub(crate) fn from_i32(v: i32) -> Option<ProtoType> {
        Some(match v {
            0 => ProtoType::Counter,
            1 => ProtoType::Gauge,
            2 => ProtoType::Summary,
            3 => ProtoType::Untyped,
            4 => ProtoType::Histogram,
            5 => ProtoType::GaugeHistogram,
            _ => return None,
        })
    }

    pub(crate) fn is_histogram(self) -> bool {
        matches!(self, ProtoType::Histogram | ProtoType::GaugeHistogram)
    }
}

/// An absolute byte range of the input.
pub(crate) type Range = (usize, usize);

/// A `LabelPair`: name and value ranges.
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct LabelRef {
    pub(crate) name: Range,
    pub(crate) value: Range,
}

/// An `Exemplar`; its labels are `MetricData::ex_labels[labels.0..labels.1]`.
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct ExemplarRef {
    pub(crate) labels: (usize, usize),
    pub(crate) value: f64,
    pub(crate) timestamp: Option<i64>,
}

/// A classic histogram `Bucket`.
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct BucketData {
    pub(crate) cumulative_count: u64,
    pub(crate) cumulative_count_float: f64,
    pub(crate) upper_bound: f64,
    pub(crate) exemplar: Option<ExemplarRef>,
}

impl BucketData {
    /// The count as Prometheus reads it: the float count unless it is zero.
    pub(crate) fn count(&self) -> f64 {
        if self.cumulative_count_float != 0.0 {
            self.cumulative_count_float
        } else {
            self.cumulative_count as f64
        }
    }
}

/// A `Histogram` message, classic and native parts.
#[derive(Debug, Default)]
pub(crate) struct HistogramData {
    pub(crate) sample_count: u64,
    pub(crate) sample_count_float: f64,
    pub(crate) sample_sum: f64,
    pub(crate) buckets: Vec<BucketData>,
    pub(crate) created: Option<i64>,
    pub(crate) schema: i32,
    pub(crate) zero_threshold: f64,
    pub(crate) zero_count: u64,
    pub(crate) zero_count_float: f64,
    pub(crate) negative_spans: Vec<Span>,
    pub(crate) negative_deltas: Vec<i64>,
    pub(crate) negative_counts: Vec<f64>,
    pub(crate) positive_spans: Vec<Span>,
    pub(crate) positive_deltas: Vec<i64>,
    pub(crate) positive_counts: Vec<f64>,
    pub(crate) exemplars: Vec<ExemplarRef>,
}

impl HistogramData {
    fn clear(&mut self) {
        self.sample_count = 0;
        self.sample_count_float = 0.0;
        self.sample_sum = 0.0;
        self.buckets.clear();
        self.created = None;
        self.schema = 0;
        self.zero_threshold = 0.0;
        self.zero_count = 0;
        self.zero_count_float = 0.0;
        self.negative_spans.clear();
        self.negative_deltas.clear();
        self.negative_counts.clear();
        self.positive_spans.clear();
        self.positive_deltas.clear();
        self.positive_counts.clear();
        self.exemplars.clear();
    }

    /// The sample count as Prometheus reads it for classic series.
    pub(crate) fn count(&self) -> f64 {
        if self.sample_count_float != 0.0 {
            self.sample_count_float
        } else {
            self.sample_count as f64
        }
    }

    /// Whether this is a native histogram: Prometheus's test (any span, a
    /// positive zero threshold or a zero count), plus a float zero count.
    /// An empty native histogram signals itself with a no-op span.
    pub(crate) fn is_native(&self) -> bool {
        !self.positive_spans.is_empty()
            || !self.negative_spans.is_empty()
            || self.zero_threshold > 0.0
            || self.zero_count > 0
            || self.zero_count_float > 0.0
    }

    /// Whether the native part has float counts: Prometheus's test (a
    /// positive float sample or zero count), plus absolute bucket counts.
    pub(crate) fn is_float(&self) -> bool {
        self.sample_count_float > 0.0
            || self.zero_count_float > 0.0
            || !self.positive_counts.is_empty()
            || !self.negative_counts.is_empty()
    }
}

/// Everything of one `Metric` that the family's type needs.
#[derive(Debug, Default)]
pub(crate) struct MetricData {
    pub(crate) labels: Vec<LabelRef>,
    pub(crate) timestamp_ms: Option<i64>,
    /// Counter, gauge or untyped value.
    pub(crate) value: f64,
    pub(crate) counter_exemplar: Option<ExemplarRef>,
    /// Counter, summary or histogram created timestamp.
    pub(crate) created: Option<i64>,
    pub(crate) summary_count: u64,
    pub(crate) summary_sum: f64,
    pub(crate) quantiles: Vec<(f64, f64)>,
    pub(crate) hist: HistogramData,
    /// Labels of all exemplars, indexed by [`ExemplarRef::labels`].
    pub(crate) ex_labels: Vec<LabelRef>,
}

impl MetricData {
    fn clear(&mut self) {
        self.labels.clear();
        self.timestamp_ms = None;
        self.value = 0.0;
        self.counter_exemplar = None;
        self.created = None;
        self.summary_count = 0;
        self.summary_sum = 0.0;
        self.quantiles.clear();
        self.hist.clear();
        self.ex_labels.clear();
    }

    /// Decodes the `Metric` message at `input[start..end]`, keeping only the
    /// value message that matches `kind` (the others are skipped, as their
    /// content would be ignored anyway).
    pub(crate) fn decode(
        &mut self,
        input: &[u8],
        start: usize,
        end: usize,
        kind: ProtoType,
    ) -> Result<(), WireError> {
        self.clear();
        let mut r = Reader::new(input, start, end);
        while !r.at_end() {
            let at = r.pos();
            let (field, wt) = r.tag()?;
            match field {
                1 => {
                    r.expect(at, wt, WireType::Len, "Metric.label")?;
                    let (s, e) = r.len_delimited()?;
                    let l = decode_label(input, s, e)?;
                    self.labels.push(l);
                }
                2 | 5
                    if matches!(
                        (field, kind),
                        (2, ProtoType::Gauge) | (5, ProtoType::Untyped)
                    ) =>
                {
                    r.expect(at, wt, WireType::Len, "Metric.gauge/untyped")?;
                    let (s, e) = r.len_delimited()?;
                    self.decode_gauge(input, s, e)?;
                }
                3 if kind == ProtoType::Counter => {
                    r.expect(at, wt, WireType::Len, "Metric.counter")?;
                    let (s, e) = r.len_delimited()?;
                    self.decode_counter(input, s, e)?;
                }
                4 if kind == ProtoType::Summary => {
                    r.expect(at, wt, WireType::Len, "Metric.summary")?;
                    let (s, e) = r.len_delimited()?;
                    self.decode_summary(input, s, e)?;
                }
                7 if kind.is_histogram() => {
                    r.expect(at, wt, WireType::Len, "Metric.histogram")?;
                    let (s, e) = r.len_delimited()?;
                    self.decode_histogram(input, s, e)?;
                }
                2..=5 | 7 => {
                    r.expect(at, wt, WireType::Len, "Metric value")?;
                    r.skip(wt)?;
                }
                6 => {
                    r.expect(at, wt, WireType::Varint, "Metric.timestamp_ms")?;
                    self.timestamp_ms = Some(r.varint()? as i64);
                }
                _ => r.skip(wt)?,
            }
        }
        Ok(())
    }

    /// `Gauge` and `Untyped`: `value = 1`.
    fn decode_gauge(&mut self, input: &[u8], start: usize, end: usize) -> Result<(), WireError> {
        let mut r = Reader::new(input, start, end);
        while !r.at_end() {
            let at = r.pos();
            let (field, wt) = r.tag()?;
            match field {
                1 => {
                    r.expect(at, wt, WireType::Fixed64, "Gauge.value")?;
                    self.value = r.double()?;
                }
                _ => r.skip(wt)?,
            }
        }
        Ok(())
    }

    fn decode_counter(&mut self, input: &[u8], start: usize, end: usize) -> Result<(), WireError> {
        let mut r = Reader::new(input, start, end);
        while !r.at_end() {
            let at = r.pos();
            let (field, wt) = r.tag()?;
            match field {
                1 => {
                    r.expect(at, wt, WireType::Fixed64, "Counter.value")?;
                    self.value = r.double()?;
                }
                2 => {
                    r.expect(at, wt, WireType::Len, "Counter.exemplar")?;
                    let (s, e) = r.len_delimited()?;
                    self.counter_exemplar =
                        Some(decode_exemplar(input, s, e, &mut self.ex_labels)?);
                }
                3 => {
                    r.expect(at, wt, WireType::Len, "Counter.created_timestamp")?;
                    let (s, e) = r.len_delimited()?;
                    self.created = decode_timestamp(input, s, e)?;
                }
                _ => r.skip(wt)?,
            }
        }
        Ok(())
    }

    fn decode_summary(&mut self, input: &[u8], start: usize, end: usize) -> Result<(), WireError> {
        let mut r = Reader::new(input, start, end);
        while !r.at_end() {
            let at = r.pos();
            let (field, wt) = r.tag()?;
            match field {
                1 => {
                    r.expect(at, wt, WireType::Varint, "Summary.sample_count")?;
                    self.summary_count = r.varint()?;
                }
                2 => {
                    r.expect(at, wt, WireType::Fixed64, "Summary.sample_sum")?;
                    self.summary_sum = r.double()?;
                }
                3 => {
                    r.expect(at, wt, WireType::Len, "Summary.quantile")?;
                    let (s, e) = r.len_delimited()?;
                    let q = decode_quantile(input, s, e)?;
                    self.quantiles.push(q);
                }
                4 => {
                    r.expect(at, wt, WireType::Len, "Summary.created_timestamp")?;
                    let (s, e) = r.len_delimited()?;
                    self.created = decode_timestamp(input, s, e)?;
                }
                _ => r.skip(wt)?,
            }
        }
        Ok(())
    }

    fn decode_histogram(
        &mut self,
        input: &[u8],
        start: usize,
        end: usize,
    ) -> Result<(), WireError> {
        let h = &mut self.hist;
        let mut r = Reader::new(input, start, end);
        while !r.at_end() {
            let at = r.pos();
            let (field, wt) = r.tag()?;
            match field {
                1 => {
                    r.expect(at, wt, WireType::Varint, "Histogram.sample_count")?;
                    h.sample_count = r.varint()?;
                }
                2 => {
                    r.expect(at, wt, WireType::Fixed64, "Histogram.sample_sum")?;
                    h.sample_sum = r.double()?;
                }
                3 => {
                    r.expect(at, wt, WireType::Len, "Histogram.bucket")?;
                    let (s, e) = r.len_delimited()?;
                    let b = decode_bucket(input, s, e, &mut self.ex_labels)?;
                    h.buckets.push(b);
                }
                4 => {
                    r.expect(at, wt, WireType::Fixed64, "Histogram.sample_count_float")?;
                    h.sample_count_float = r.double()?;
                }
                5 => {
                    r.expect(at, wt, WireType::Varint, "Histogram.schema")?;
                    h.schema = unzigzag32(r.varint()?);
                }
                6 => {
                    r.expect(at, wt, WireType::Fixed64, "Histogram.zero_threshold")?;
                    h.zero_threshold = r.double()?;
                }
                7 => {
                    r.expect(at, wt, WireType::Varint, "Histogram.zero_count")?;
                    h.zero_count = r.varint()?;
                }
                8 => {
                    r.expect(at, wt, WireType::Fixed64, "Histogram.zero_count_float")?;
                    h.zero_count_float = r.double()?;
                }
                9 | 12 => {
                    r.expect(at, wt, WireType::Len, "Histogram span")?;
                    let (s, e) = r.len_delimited()?;
                    let span = decode_span(input, s, e)?;
                    if field == 9 {
                        h.negative_spans.push(span);
                    } else {
                        h.positive_spans.push(span);
                    }
                }
                10 | 13 => {
                    let out = if field == 10 {
                        &mut h.negative_deltas
                    } else {
                        &mut h.positive_deltas
                    };
                    read_sint64s(&mut r, at, wt, out)?;
                }
                11 | 14 => {
                    let out = if field == 11 {
                        &mut h.negative_counts
                    } else {
                        &mut h.positive_counts
                    };
                    read_doubles(&mut r, at, wt, out)?;
                }
                15 => {
                    r.expect(at, wt, WireType::Len, "Histogram.created_timestamp")?;
                    let (s, e) = r.len_delimited()?;
                    h.created = decode_timestamp(input, s, e)?;
                }
                16 => {
                    r.expect(at, wt, WireType::Len, "Histogram.exemplars")?;
                    let (s, e) = r.len_delimited()?;
                    let ex = decode_exemplar(input, s, e, &mut self.ex_labels)?;
                    h.exemplars.push(ex);
                }
                _ => r.skip(wt)?,
            }
        }
        self.created = h.created;
        Ok(())
    }
}

/// A repeated `sint64`, packed or not.
fn read_sint64s(
    r: &mut Reader<'_>,
    at: usize,
    wt: WireType,
    out: &mut Vec<i64>,
) -> Result<(), WireError> {
    match wt {
        WireType::Varint => out.push(unzigzag64(r.varint()?)),
        WireType::Len => {
            let (s, e) = r.len_delimited()?;
            let mut p = Reader::new(r.buf(), s, e);
            while !p.at_end() {
                out.push(unzigzag64(p.varint()?));
            }
        }
        _ => r.expect(at, wt, WireType::Varint, "Histogram bucket deltas")?,
    }
    Ok(())
}

/// A repeated `double`, packed or not.
fn read_doubles(
    r: &mut Reader<'_>,
    at: usize,
    wt: WireType,
    out: &mut Vec<f64>,
) -> Result<(), WireError> {
    match wt {
        WireType::Fixed64 => out.push(r.double()?),
        WireType::Len => {
            let (s, e) = r.len_delimited()?;
            if (e - s) % 8 != 0 {
                return Err(WireError::new(
                    at,
                    format!(
                        "read Histogram bucket counts: packed length {} is not a multiple of 8",
                        e - s
                    ),
                ));
            }
            let mut p = Reader::new(r.buf(), s, e);
            while !p.at_end() {
                out.push(p.double()?);
            }
        }
        _ => r.expect(at, wt, WireType::Fixed64, "Histogram bucket counts")?,
    }
    Ok(())
}

fn decode_label(input: &[u8], start: usize, end: usize) -> Result<LabelRef, WireError> {
    // Absent fields are empty strings, located at the message start.
    let mut l = LabelRef {
        name: (start, start),
        value: (start, start),
    };
    let mut r = Reader::new(input, start, end);
    while !r.at_end() {
        let at = r.pos();
        let (field, wt) = r.tag()?;
        match field {
            1 => {
                r.expect(at, wt, WireType::Len, "LabelPair.name")?;
                l.name = r.len_delimited()?;
            }
            2 => {
                r.expect(at, wt, WireType::Len, "LabelPair.value")?;
                l.value = r.len_delimited()?;
            }
            _ => r.skip(wt)?,
        }
    }
    if l.name.0 == l.name.1 {
        return Err(WireError::new(start, "read LabelPair: empty label name"));
    }
    Ok(l)
}

fn decode_exemplar(
    input: &[u8],
    start: usize,
    end: usize,
    labels: &mut Vec<LabelRef>,
) -> Result<ExemplarRef, WireError> {
    // A repeated exemplar field merges into the previous one; keeping its
    // labels contiguous is simplest by starting afresh, which only differs
    // for inputs no encoder produces.
    let first = labels.len();
    let mut ex = ExemplarRef::default();
    let mut r = Reader::new(input, start, end);
    while !r.at_end() {
        let at = r.pos();
        let (field, wt) = r.tag()?;
        match field {
            1 => {
                r.expect(at, wt, WireType::Len, "Exemplar.label")?;
                let (s, e) = r.len_delimited()?;
                labels.push(decode_label(input, s, e)?);
            }
            2 => {
                r.expect(at, wt, WireType::Fixed64, "Exemplar.value")?;
                ex.value = r.double()?;
            }
            3 => {
                r.expect(at, wt, WireType::Len, "Exemplar.timestamp")?;
                let (s, e) = r.len_delimited()?;
                ex.timestamp = Some(decode_timestamp_raw(input, s, e)?);
            }
            _ => r.skip(wt)?,
        }
    }
    ex.labels = (first, labels.len());
    Ok(ex)
}

/// A `google.protobuf.Timestamp` in milliseconds; the zero timestamp means
/// "not set", as Prometheus reads created timestamps.
fn decode_timestamp(input: &[u8], start: usize, end: usize) -> Result<Option<i64>, WireError> {
    let ms = decode_timestamp_raw(input, start, end)?;
    Ok((ms != 0).then_some(ms))
}

fn decode_timestamp_raw(input: &[u8], start: usize, end: usize) -> Result<i64, WireError> {
    let (mut seconds, mut nanos) = (0i64, 0i32);
    let mut r = Reader::new(input, start, end);
    while !r.at_end() {
        let at = r.pos();
        let (field, wt) = r.tag()?;
        match field {
            1 => {
                r.expect(at, wt, WireType::Varint, "Timestamp.seconds")?;
                seconds = r.varint()? as i64;
            }
            2 => {
                r.expect(at, wt, WireType::Varint, "Timestamp.nanos")?;
                nanos = r.varint()? as i32;
            }
            _ => r.skip(wt)?,
        }
    }
    Ok(seconds
        .saturating_mul(1000)
        .saturating_add(i64::from(nanos / 1_000_000)))
}

fn decode_quantile(input: &[u8], start: usize, end: usize) -> Result<(f64, f64), WireError> {
    let (mut q, mut v) = (0.0, 0.0);
    let mut r = Reader::new(input, start, end);
    while !r.at_end() {
        let at = r.pos();
        let (field, wt) = r.tag()?;
        match field {
            1 => {
                r.expect(at, wt, WireType::Fixed64, "Quantile.quantile")?;
                q = r.double()?;
            }
            2 => {
                r.expect(at, wt, WireType::Fixed64, "Quantile.value")?;
                v = r.double()?;
            }
            _ => r.skip(wt)?,
        }
    }
    Ok((q, v))
}

fn decode_bucket(
    input: &[u8],
    start: usize,
    end: usize,
    ex_labels: &mut Vec<LabelRef>,
) -> Result<BucketData, WireError> {
    let mut b = BucketData::default();
    let mut r = Reader::new(input, start, end);
    while !r.at_end() {
        let at = r.pos();
        let (field, wt) = r.tag()?;
        match field {
            1 => {
                r.expect(at, wt, WireType::Varint, "Bucket.cumulative_count")?;
                b.cumulative_count = r.varint()?;
            }
            2 => {
                r.expect(at, wt, WireType::Fixed64, "Bucket.upper_bound")?;
                b.upper_bound = r.double()?;
            }
            3 => {
                r.expect(at, wt, WireType::Len, "Bucket.exemplar")?;
                let (s, e) = r.len_delimited()?;
                b.exemplar = Some(decode_exemplar(input, s, e, ex_labels)?);
            }
            4 => {
                r.expect(at, wt, WireType::Fixed64, "Bucket.cumulative_count_float")?;
                b.cumulative_count_float = r.double()?;
            }
            _ => r.skip(wt)?,
        }
    }
    Ok(b)
}

fn decode_span(input: &[u8], start: usize, end: usize) -> Result<Span, WireError> {
    let mut span = Span::default();
    let mut r = Reader::new(input, start, end);
    while !r.at_end() {
        let at = r.pos();
        let (field, wt) = r.tag()?;
        match field {
            1 => {
                r.expect(at, wt, WireType::Varint, "BucketSpan.offset")?;
                span.offset = unzigzag32(r.varint()?);
            }
            2 => {
                r.expect(at, wt, WireType::Varint, "BucketSpan.length")?;
                span.length = r.varint()? as u32;
            }
            _ => r.skip(wt)?,
        }
    }
    Ok(span)
}

/// The top-level fields of a `MetricFamily`, read in a first pass; metrics
/// are located but not decoded.
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct FamilyHeader {
    pub(crate) name: Range,
    pub(crate) help: Range,
    pub(crate) unit: Range,
    pub(crate) kind: ProtoType,
    pub(crate) metrics: usize,
}

impl FamilyHeader {
    pub(crate) fn decode(
        input: &[u8],
        start: usize,
        end: usize,
    ) -> Result<FamilyHeader, WireError> {
        let mut h = FamilyHeader {
            name: (start, start),
            help: (start, start),
            unit: (start, start),
            ..FamilyHeader::default()
        };
        let mut r = Reader::new(input, start, end);
        while !r.at_end() {
            let at = r.pos();
            let (field, wt) = r.tag()?;
            match field {
                1 => {
                    r.expect(at, wt, WireType::Len, "MetricFamily.name")?;
                    h.name = r.len_delimited()?;
                }
                2 => {
                    r.expect(at, wt, WireType::Len, "MetricFamily.help")?;
                    h.help = r.len_delimited()?;
                }
                3 => {
                    r.expect(at, wt, WireType::Varint, "MetricFamily.type")?;
                    let v = r.varint()? as i32;
                    h.kind = ProtoType::from_i32(v).ok_or_else(|| {
                        WireError::new(
                            at,
                            format!("read MetricFamily.type: unknown metric type {v}"),
                        )
                    })?;
                }
                4 => {
                    r.expect(at, wt, WireType::Len, "MetricFamily.metric")?;
                    r.len_delimited()?;
                    h.metrics += 1;
                }
                5 => {
                    r.expect(at, wt, WireType::Len, "MetricFamily.unit")?;
                    h.unit = r.len_delimited()?;
                }
                _ => r.skip(wt)?,
            }
        }
        Ok(h)
    }
}

/// Finds the next `MetricFamily.metric` field in `input[*cursor..end]` and
/// advances the cursor past it. The first pass has validated the framing.
pub(crate) fn next_metric(
    input: &[u8],
    cursor: &mut usize,
    end: usize,
) -> Result<Option<Range>, WireError> {
    let mut r = Reader::new(input, *cursor, end);
    while !r.at_end() {
        let (field, wt) = r.tag()?;
        if field == 4 && wt == WireType::Len {
            let range = r.len_delimited()?;
            *cursor = r.pos();
            return Ok(Some(range));
        }
        r.skip(wt)?;
    }
    *cursor = end;
    Ok(None)
}
