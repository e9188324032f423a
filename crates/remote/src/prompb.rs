//! The messages of `prompb/types.proto`, `prompb/remote.proto` (remote
//! write 1.0 and remote read) and `io/prometheus/write/v2/types.proto`
//! (remote write 2.0), with hand-written decoders and encoders.
//!
//! Decoders accept packed and unpacked repeated scalars and skip unknown
//! fields; encoders omit default values as proto3 does and pack repeated
//! scalars.

use crate::wire::{DecodeError, FIXED64, LEN, Reader, VARINT, Writer, unzigzag};

/// A protobuf message.
pub trait Message: Sized {
    /// Decodes one message from its bytes.
    fn decode(buf: &[u8]) -> Result<Self, DecodeError>;
    /// Appends the message's fields to `w`.
    fn encode_to(&self, w: &mut Writer);
    /// The message's bytes.
    fn encode(&self) -> Vec<u8> {
        let mut w = Writer::default();
        self.encode_to(&mut w);
        w.buf
    }
}

/// Runs `f` for every field of `buf`.
fn fields(
    buf: &[u8],
    mut f: impl FnMut(&mut Reader<'_>, u32, u8) -> Result<bool, DecodeError>,
) -> Result<(), DecodeError> {
    let mut r = Reader::new(buf);
    while let Some((field, wt)) = r.key()? {
        if !f(&mut r, field, wt)? {
            r.skip(wt)?;
        }
    }
    Ok(())
}

fn i64_of(v: u64) -> i64 {
    v as i64
}

fn i32_of(v: u64) -> i32 {
    v as i32
}

fn u32_of(v: u64) -> u32 {
    v as u32
}

macro_rules! scalar {
    ($r:expr, $field:expr, $wt:expr, $want:expr, $e:expr) => {{
        Reader::expect($field, $wt, $want)?;
        $e
    }};
}

/// `prometheus.Label`.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Label {
    /// Label name.
    pub name: String,
    /// Label value.
    pub value: String,
}

impl Message for Label {
    fn decode(buf: &[u8]) -> Result<Self, DecodeError> {
        let mut m = Label::default();
        fields(buf, |r, f, wt| {
            match f {
                1 => m.name = scalar!(r, f, wt, LEN, r.string()?),
                2 => m.value = scalar!(r, f, wt, LEN, r.string()?),
                _ => return Ok(false),
            }
            Ok(true)
        })?;
        Ok(m)
    }
    fn encode_to(&self, w: &mut Writer) {
        w.bytes(1, self.name.as_bytes());
        w.bytes(2, self.value.as_bytes());
    }
}

/// `prometheus.Sample` (and `io.prometheus.write.v2.Sample`, same fields).
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct Sample {
    /// The value.
    pub value: f64,
    /// Milliseconds since the epoch.
    pub timestamp: i64,
}

impl Message for Sample {
    fn decode(buf: &[u8]) -> Result<Self, DecodeError> {
        let mut m = Sample::default();
        fields(buf, |r, f, wt| {
            match f {
                1 => m.value = scalar!(r, f, wt, FIXED64, r.double()?),
                2 => m.timestamp = scalar!(r, f, wt, VARINT, r.varint()? as i64),
                _ => return Ok(false),
            }
            Ok(true)
        })?;
        Ok(m)
    }
    fn encode_to(&self, w: &mut Writer) {
        w.double(1, self.value);
        w.int(2, self.timestamp);
    }
}

/// `prometheus.Exemplar`.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Exemplar {
    /// The exemplar's labels.
    pub labels: Vec<Label>,
    /// The value.
    pub value: f64,
    /// Milliseconds since the epoch.
    pub timestamp: i64,
}

impl Message for Exemplar {
    fn decode(buf: &[u8]) -> Result<Self, DecodeError> {
        let mut m = Exemplar::default();
        fields(buf, |r, f, wt| {
            match f {
                1 => m
                    .labels
                    .push(scalar!(r, f, wt, LEN, Label::decode(r.bytes()?)?)),
                2 => m.value = scalar!(r, f, wt, FIXED64, r.double()?),
                3 => m.timestamp = scalar!(r, f, wt, VARINT, r.varint()? as i64),
                _ => return Ok(false),
            }
            Ok(true)
        })?;
        Ok(m)
    }
    fn encode_to(&self, w: &mut Writer) {
        for l in &self.labels {
            w.message(1, |w| l.encode_to(w));
        }
        w.double(2, self.value);
        w.int(3, self.timestamp);
    }
}

/// `prometheus.BucketSpan`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct BucketSpan {
    /// Gap to the previous span (`sint32`).
    pub offset: i32,
    /// Number of buckets.
    pub length: u32,
}

impl Message for BucketSpan {
    fn decode(buf: &[u8]) -> Result<Self, DecodeError> {
        let mut m = BucketSpan::default();
        fields(buf, |r, f, wt| {
            match f {
                1 => m.offset = scalar!(r, f, wt, VARINT, unzigzag(r.varint()?) as i32),
                2 => m.length = scalar!(r, f, wt, VARINT, r.varint()? as u32),
                _ => return Ok(false),
            }
            Ok(true)
        })?;
        Ok(m)
    }
    fn encode_to(&self, w: &mut Writer) {
        w.sint(1, i64::from(self.offset));
        w.uint(2, u64::from(self.length));
    }
}

/// A `oneof` count: integer (`*_int`) or float (`*_float`).
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Count {
    /// An integer count.
    Int(u64),
    /// A float count.
    Float(f64),
}

impl Default for Count {
    fn default() -> Self {
        Count::Int(0)
    }
}

/// `prometheus.Histogram` (field-compatible with
/// `io.prometheus.write.v2.Histogram`): a native histogram with integer
/// counts (deltas) or float counts.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Histogram {
    /// Observation count (field 1 or 2).
    pub count: Count,
    /// Sum of observations.
    pub sum: f64,
    /// Bucket schema (`sint32`).
    pub schema: i32,
    /// Zero bucket width.
    pub zero_threshold: f64,
    /// Zero bucket count (field 6 or 7).
    pub zero_count: Count,
    /// Negative spans.
    pub negative_spans: Vec<BucketSpan>,
    /// Negative bucket deltas (integer histograms).
    pub negative_deltas: Vec<i64>,
    /// Negative bucket counts (float histograms).
    pub negative_counts: Vec<f64>,
    /// Positive spans.
    pub positive_spans: Vec<BucketSpan>,
    /// Positive bucket deltas (integer histograms).
    pub positive_deltas: Vec<i64>,
    /// Positive bucket counts (float histograms).
    pub positive_counts: Vec<f64>,
    /// `ResetHint`: 0 unknown, 1 yes, 2 no, 3 gauge.
    pub reset_hint: i32,
    /// Milliseconds since the epoch.
    pub timestamp: i64,
    /// Custom bucket bounds (schema -53).
    pub custom_values: Vec<f64>,
}

impl Message for Histogram {
    fn decode(buf: &[u8]) -> Result<Self, DecodeError> {
        let mut m = Histogram::default();
        fields(buf, |r, f, wt| {
            match f {
                1 => m.count = scalar!(r, f, wt, VARINT, Count::Int(r.varint()?)),
                2 => m.count = scalar!(r, f, wt, FIXED64, Count::Float(r.double()?)),
                3 => m.sum = scalar!(r, f, wt, FIXED64, r.double()?),
                4 => m.schema = scalar!(r, f, wt, VARINT, unzigzag(r.varint()?) as i32),
                5 => m.zero_threshold = scalar!(r, f, wt, FIXED64, r.double()?),
                6 => m.zero_count = scalar!(r, f, wt, VARINT, Count::Int(r.varint()?)),
                7 => m.zero_count = scalar!(r, f, wt, FIXED64, Count::Float(r.double()?)),
                8 => m
                    .negative_spans
                    .push(scalar!(r, f, wt, LEN, BucketSpan::decode(r.bytes()?)?)),
                9 => r.repeated_varint(wt, &mut m.negative_deltas, unzigzag)?,
                10 => r.repeated_double(wt, &mut m.negative_counts)?,
                11 => {
                    m.positive_spans
                        .push(scalar!(r, f, wt, LEN, BucketSpan::decode(r.bytes()?)?))
                }
                12 => r.repeated_varint(wt, &mut m.positive_deltas, unzigzag)?,
                13 => r.repeated_double(wt, &mut m.positive_counts)?,
                14 => m.reset_hint = scalar!(r, f, wt, VARINT, i32_of(r.varint()?)),
                15 => m.timestamp = scalar!(r, f, wt, VARINT, i64_of(r.varint()?)),
                16 => r.repeated_double(wt, &mut m.custom_values)?,
                _ => return Ok(false),
            }
            Ok(true)
        })?;
        Ok(m)
    }
    fn encode_to(&self, w: &mut Writer) {
        match self.count {
            Count::Int(c) => w.uint_always(1, c),
            Count::Float(c) => w.double_always(2, c),
        }
        w.double(3, self.sum);
        w.sint(4, i64::from(self.schema));
        w.double(5, self.zero_threshold);
        match self.zero_count {
            Count::Int(c) => w.uint_always(6, c),
            Count::Float(c) => w.double_always(7, c),
        }
        for s in &self.negative_spans {
            w.message(8, |w| s.encode_to(w));
        }
        w.packed_varint(
            9,
            self.negative_deltas.iter().map(|d| crate::wire::zigzag(*d)),
        );
        w.packed_double(10, &self.negative_counts);
        for s in &self.positive_spans {
            w.message(11, |w| s.encode_to(w));
        }
        w.packed_varint(
            12,
            self.positive_deltas.iter().map(|d| crate::wire::zigzag(*d)),
        );
        w.packed_double(13, &self.positive_counts);
        w.int(14, i64::from(self.reset_hint));
        w.int(15, self.timestamp);
        w.packed_double(16, &self.custom_values);
    }
}

/// `prometheus.TimeSeries`.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct TimeSeries {
    /// The series' labels.
    pub labels: Vec<Label>,
    /// Float samples.
    pub samples: Vec<Sample>,
    /// Exemplars.
    pub exemplars: Vec<Exemplar>,
    /// Native histogram samples.
    pub histograms: Vec<Histogram>,
}

impl Message for TimeSeries {
    fn decode(buf: &[u8]) -> Result<Self, DecodeError> {
        let mut m = TimeSeries::default();
        fields(buf, |r, f, wt| {
            match f {
                1 => m
                    .labels
                    .push(scalar!(r, f, wt, LEN, Label::decode(r.bytes()?)?)),
                2 => m
                    .samples
                    .push(scalar!(r, f, wt, LEN, Sample::decode(r.bytes()?)?)),
                3 => m
                    .exemplars
                    .push(scalar!(r, f, wt, LEN, Exemplar::decode(r.bytes()?)?)),
                4 => m
                    .histograms
                    .push(scalar!(r, f, wt, LEN, Histogram::decode(r.bytes()?)?)),
                _ => return Ok(false),
            }
            Ok(true)
        })?;
        Ok(m)
    }
    fn encode_to(&self, w: &mut Writer) {
        for l in &self.labels {
            w.message(1, |w| l.encode_to(w));
        }
        for s in &self.samples {
            w.message(2, |w| s.encode_to(w));
        }
        for e in &self.exemplars {
            w.message(3, |w| e.encode_to(w));
        }
        for h in &self.histograms {
            w.message(4, |w| h.encode_to(w));
        }
    }
}

/// `prometheus.MetricMetadata`.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct MetricMetadata {
    /// `MetricType`: 0 unknown, 1 counter, 2 gauge, 3 histogram,
    /// 4 gaugehistogram, 5 summary, 6 info, 7 stateset.
    pub kind: i32,
    /// The metric family.
    pub metric_family_name: String,
    /// HELP text.
    pub help: String,
    /// UNIT.
    pub unit: String,
}

impl Message for MetricMetadata {
    fn decode(buf: &[u8]) -> Result<Self, DecodeError> {
        let mut m = MetricMetadata::default();
        fields(buf, |r, f, wt| {
            match f {
                1 => m.kind = scalar!(r, f, wt, VARINT, i32_of(r.varint()?)),
                2 => m.metric_family_name = scalar!(r, f, wt, LEN, r.string()?),
                4 => m.help = scalar!(r, f, wt, LEN, r.string()?),
                5 => m.unit = scalar!(r, f, wt, LEN, r.string()?),
                _ => return Ok(false),
            }
            Ok(true)
        })?;
        Ok(m)
    }
    fn encode_to(&self, w: &mut Writer) {
        w.int(1, i64::from(self.kind));
        w.bytes(2, self.metric_family_name.as_bytes());
        w.bytes(4, self.help.as_bytes());
        w.bytes(5, self.unit.as_bytes());
    }
}

/// `prometheus.WriteRequest` (remote write 1.0).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct WriteRequest {
    /// The series.
    pub timeseries: Vec<TimeSeries>,
    /// Metadata per metric family.
    pub metadata: Vec<MetricMetadata>,
}

impl Message for WriteRequest {
    fn decode(buf: &[u8]) -> Result<Self, DecodeError> {
        let mut m = WriteRequest::default();
        fields(buf, |r, f, wt| {
            match f {
                1 => m
                    .timeseries
                    .push(scalar!(r, f, wt, LEN, TimeSeries::decode(r.bytes()?)?)),
                3 => m
                    .metadata
                    .push(scalar!(r, f, wt, LEN, MetricMetadata::decode(r.bytes()?)?)),
                _ => return Ok(false),
            }
            Ok(true)
        })?;
        Ok(m)
    }
    fn encode_to(&self, w: &mut Writer) {
        for t in &self.timeseries {
            w.message(1, |w| t.encode_to(w));
        }
        for md in &self.metadata {
            w.message(3, |w| md.encode_to(w));
        }
    }
}

/// `prometheus.LabelMatcher`.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct LabelMatcher {
    /// `Type`: 0 `=`, 1 `!=`, 2 `=~`, 3 `!~`.
    pub kind: i32,
    /// Label name.
    pub name: String,
    /// Value or pattern.
    pub value: String,
}

impl Message for LabelMatcher {
    fn decode(buf: &[u8]) -> Result<Self, DecodeError> {
        let mut m = LabelMatcher::default();
        fields(buf, |r, f, wt| {
            match f {
                1 => m.kind = scalar!(r, f, wt, VARINT, i32_of(r.varint()?)),
                2 => m.name = scalar!(r, f, wt, LEN, r.string()?),
                3 => m.value = scalar!(r, f, wt, LEN, r.string()?),
                _ => return Ok(false),
            }
            Ok(true)
        })?;
        Ok(m)
    }
    fn encode_to(&self, w: &mut Writer) {
        w.int(1, i64::from(self.kind));
        w.bytes(2, self.name.as_bytes());
        w.bytes(3, self.value.as_bytes());
    }
}

/// `prometheus.ReadHints`.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct ReadHints {
    /// Query step, ms.
    pub step_ms: i64,
    /// Surrounding function.
    pub func: String,
    /// Start, ms.
    pub start_ms: i64,
    /// End, ms.
    pub end_ms: i64,
    /// Aggregation labels.
    pub grouping: Vec<String>,
    /// `by` (true) or `without`.
    pub by: bool,
    /// Range of the range selector, ms.
    pub range_ms: i64,
}

impl Message for ReadHints {
    fn decode(buf: &[u8]) -> Result<Self, DecodeError> {
        let mut m = ReadHints::default();
        fields(buf, |r, f, wt| {
            match f {
                1 => m.step_ms = scalar!(r, f, wt, VARINT, i64_of(r.varint()?)),
                2 => m.func = scalar!(r, f, wt, LEN, r.string()?),
                3 => m.start_ms = scalar!(r, f, wt, VARINT, i64_of(r.varint()?)),
                4 => m.end_ms = scalar!(r, f, wt, VARINT, i64_of(r.varint()?)),
                5 => m.grouping.push(scalar!(r, f, wt, LEN, r.string()?)),
                6 => m.by = scalar!(r, f, wt, VARINT, r.varint()? != 0),
                7 => m.range_ms = scalar!(r, f, wt, VARINT, i64_of(r.varint()?)),
                _ => return Ok(false),
            }
            Ok(true)
        })?;
        Ok(m)
    }
    fn encode_to(&self, w: &mut Writer) {
        w.int(1, self.step_ms);
        w.bytes(2, self.func.as_bytes());
        w.int(3, self.start_ms);
        w.int(4, self.end_ms);
        for g in &self.grouping {
            w.bytes_always(5, g.as_bytes());
        }
        w.bool(6, self.by);
        w.int(7, self.range_ms);
    }
}

/// `prometheus.Query`.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Query {
    /// Start, ms (inclusive).
    pub start_timestamp_ms: i64,
    /// End, ms (inclusive).
    pub end_timestamp_ms: i64,
    /// Matchers.
    pub matchers: Vec<LabelMatcher>,
    /// Hints.
    pub hints: Option<ReadHints>,
}

impl Message for Query {
    fn decode(buf: &[u8]) -> Result<Self, DecodeError> {
        let mut m = Query::default();
        fields(buf, |r, f, wt| {
            match f {
                1 => m.start_timestamp_ms = scalar!(r, f, wt, VARINT, i64_of(r.varint()?)),
                2 => m.end_timestamp_ms = scalar!(r, f, wt, VARINT, i64_of(r.varint()?)),
                3 => m
                    .matchers
                    .push(scalar!(r, f, wt, LEN, LabelMatcher::decode(r.bytes()?)?)),
                4 => m.hints = Some(scalar!(r, f, wt, LEN, ReadHints::decode(r.bytes()?)?)),
                _ => return Ok(false),
            }
            Ok(true)
        })?;
        Ok(m)
    }
    fn encode_to(&self, w: &mut Writer) {
        w.int(1, self.start_timestamp_ms);
        w.int(2, self.end_timestamp_ms);
        for m in &self.matchers {
            w.message(3, |w| m.encode_to(w));
        }
        if let Some(h) = &self.hints {
            w.message(4, |w| h.encode_to(w));
        }
    }
}

/// `ReadRequest.ResponseType` `SAMPLES`.
pub const RESPONSE_SAMPLES: i32 = 0;
/// `ReadRequest.ResponseType` `STREAMED_XOR_CHUNKS`.
pub const RESPONSE_STREAMED_XOR_CHUNKS: i32 = 1;

/// `prometheus.ReadRequest`.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct ReadRequest {
    /// The queries.
    pub queries: Vec<Query>,
    /// Accepted response types in order of preference.
    pub accepted_response_types: Vec<i32>,
}

impl Message for ReadRequest {
    fn decode(buf: &[u8]) -> Result<Self, DecodeError> {
        let mut m = ReadRequest::default();
        fields(buf, |r, f, wt| {
            match f {
                1 => m
                    .queries
                    .push(scalar!(r, f, wt, LEN, Query::decode(r.bytes()?)?)),
                2 => r.repeated_varint(wt, &mut m.accepted_response_types, i32_of)?,
                _ => return Ok(false),
            }
            Ok(true)
        })?;
        Ok(m)
    }
    fn encode_to(&self, w: &mut Writer) {
        for q in &self.queries {
            w.message(1, |w| q.encode_to(w));
        }
        w.packed_varint(2, self.accepted_response_types.iter().map(|t| *t as u64));
    }
}

/// `prometheus.QueryResult`.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct QueryResult {
    /// Matching series with their samples.
    pub timeseries: Vec<TimeSeries>,
}

impl Message for QueryResult {
    fn decode(buf: &[u8]) -> Result<Self, DecodeError> {
        let mut m = QueryResult::default();
        fields(buf, |r, f, wt| {
            match f {
                1 => m
                    .timeseries
                    .push(scalar!(r, f, wt, LEN, TimeSeries::decode(r.bytes()?)?)),
                _ => return Ok(false),
            }
            Ok(true)
        })?;
        Ok(m)
    }
    fn encode_to(&self, w: &mut Writer) {
        for t in &self.timeseries {
            w.message(1, |w| t.encode_to(w));
        }
    }
}

/// `prometheus.ReadResponse`: one result per query, in order.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct ReadResponse {
    /// The results.
    pub results: Vec<QueryResult>,
}

impl Message for ReadResponse {
    fn decode(buf: &[u8]) -> Result<Self, DecodeError> {
        let mut m = ReadResponse::default();
        fields(buf, |r, f, wt| {
            match f {
                1 => m
                    .results
                    .push(scalar!(r, f, wt, LEN, QueryResult::decode(r.bytes()?)?)),
                _ => return Ok(false),
            }
            Ok(true)
        })?;
        Ok(m)
    }
    fn encode_to(&self, w: &mut Writer) {
        for q in &self.results {
            w.message(1, |w| q.encode_to(w));
        }
    }
}

/// `prometheus.Chunk.Encoding` values.
pub mod chunk_encoding {
    /// `UNKNOWN`.
    pub const UNKNOWN: i32 = 0;
    /// `XOR` (Gorilla floats).
    pub const XOR: i32 = 1;
    /// `HISTOGRAM` (integer native histograms).
    pub const HISTOGRAM: i32 = 2;
    /// `FLOAT_HISTOGRAM`.
    pub const FLOAT_HISTOGRAM: i32 = 3;
}

/// `prometheus.Chunk`: one encoded chunk of a series.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Chunk {
    /// First sample's time, ms.
    pub min_time_ms: i64,
    /// Last sample's time, ms.
    pub max_time_ms: i64,
    /// The encoding ([`chunk_encoding`]).
    pub kind: i32,
    /// The chunk bytes as the TSDB stores them.
    pub data: Vec<u8>,
}

impl Message for Chunk {
    fn decode(buf: &[u8]) -> Result<Self, DecodeError> {
        let mut m = Chunk::default();
        fields(buf, |r, f, wt| {
            match f {
                1 => m.min_time_ms = scalar!(r, f, wt, VARINT, i64_of(r.varint()?)),
                2 => m.max_time_ms = scalar!(r, f, wt, VARINT, i64_of(r.varint()?)),
                3 => m.kind = scalar!(r, f, wt, VARINT, i32_of(r.varint()?)),
                4 => m.data = scalar!(r, f, wt, LEN, r.bytes()?.to_vec()),
                _ => return Ok(false),
            }
            Ok(true)
        })?;
        Ok(m)
    }
    fn encode_to(&self, w: &mut Writer) {
        w.int(1, self.min_time_ms);
        w.int(2, self.max_time_ms);
        w.int(3, i64::from(self.kind));
        w.bytes(4, &self.data);
    }
}

/// `prometheus.ChunkedSeries`.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct ChunkedSeries {
    /// The series' labels, sorted.
    pub labels: Vec<Label>,
    /// Its chunks, in time order.
    pub chunks: Vec<Chunk>,
}

impl Message for ChunkedSeries {
    fn decode(buf: &[u8]) -> Result<Self, DecodeError> {
        let mut m = ChunkedSeries::default();
        fields(buf, |r, f, wt| {
            match f {
                1 => m
                    .labels
                    .push(scalar!(r, f, wt, LEN, Label::decode(r.bytes()?)?)),
                2 => m
                    .chunks
                    .push(scalar!(r, f, wt, LEN, Chunk::decode(r.bytes()?)?)),
                _ => return Ok(false),
            }
            Ok(true)
        })?;
        Ok(m)
    }
    fn encode_to(&self, w: &mut Writer) {
        for l in &self.labels {
            w.message(1, |w| l.encode_to(w));
        }
        for c in &self.chunks {
            w.message(2, |w| c.encode_to(w));
        }
    }
}

/// `prometheus.ChunkedReadResponse`: one frame of a streamed read.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct ChunkedReadResponse {
    /// The series of this frame (Prometheus sends one per frame).
    pub chunked_series: Vec<ChunkedSeries>,
    /// Which query of the request the series answer.
    pub query_index: i64,
}

impl Message for ChunkedReadResponse {
    fn decode(buf: &[u8]) -> Result<Self, DecodeError> {
        let mut m = ChunkedReadResponse::default();
        fields(buf, |r, f, wt| {
            match f {
                1 => m.chunked_series.push(scalar!(
                    r,
                    f,
                    wt,
                    LEN,
                    ChunkedSeries::decode(r.bytes()?)?
                )),
                2 => m.query_index = scalar!(r, f, wt, VARINT, i64_of(r.varint()?)),
                _ => return Ok(false),
            }
            Ok(true)
        })?;
        Ok(m)
    }
    fn encode_to(&self, w: &mut Writer) {
        for s in &self.chunked_series {
            w.message(1, |w| s.encode_to(w));
        }
        w.int(2, self.query_index);
    }
}

/// Remote write 2.0 (`io.prometheus.write.v2`).
pub mod v2 {
    use super::{Histogram, Message, Sample, fields, i32_of, i64_of, u32_of};
    use crate::wire::{DecodeError, FIXED64, LEN, Reader, VARINT, Writer};

    /// `io.prometheus.write.v2.Exemplar`.
    #[derive(Clone, Debug, Default, PartialEq)]
    pub struct Exemplar {
        /// Name/value pairs as indexes into the symbols table.
        pub labels_refs: Vec<u32>,
        /// The value.
        pub value: f64,
        /// Milliseconds since the epoch.
        pub timestamp: i64,
    }

    impl Message for Exemplar {
        fn decode(buf: &[u8]) -> Result<Self, DecodeError> {
            let mut m = Exemplar::default();
            fields(buf, |r, f, wt| {
                match f {
                    1 => r.repeated_varint(wt, &mut m.labels_refs, u32_of)?,
                    2 => m.value = scalar!(r, f, wt, FIXED64, r.double()?),
                    3 => m.timestamp = scalar!(r, f, wt, VARINT, i64_of(r.varint()?)),
                    _ => return Ok(false),
                }
                Ok(true)
            })?;
            Ok(m)
        }
        fn encode_to(&self, w: &mut Writer) {
            w.packed_varint(1, self.labels_refs.iter().map(|r| u64::from(*r)));
            w.double(2, self.value);
            w.int(3, self.timestamp);
        }
    }

    /// `io.prometheus.write.v2.Metadata`.
    #[derive(Clone, Debug, Default, PartialEq)]
    pub struct Metadata {
        /// `MetricType` (0 unspecified, then as 1.0's).
        pub kind: i32,
        /// HELP as a symbol reference.
        pub help_ref: u32,
        /// UNIT as a symbol reference.
        pub unit_ref: u32,
    }

    impl Message for Metadata {
        fn decode(buf: &[u8]) -> Result<Self, DecodeError> {
            let mut m = Metadata::default();
            fields(buf, |r, f, wt| {
                match f {
                    1 => m.kind = scalar!(r, f, wt, VARINT, i32_of(r.varint()?)),
                    3 => m.help_ref = scalar!(r, f, wt, VARINT, u32_of(r.varint()?)),
                    4 => m.unit_ref = scalar!(r, f, wt, VARINT, u32_of(r.varint()?)),
                    _ => return Ok(false),
                }
                Ok(true)
            })?;
            Ok(m)
        }
        fn encode_to(&self, w: &mut Writer) {
            w.int(1, i64::from(self.kind));
            w.uint(3, u64::from(self.help_ref));
            w.uint(4, u64::from(self.unit_ref));
        }
    }

    /// `io.prometheus.write.v2.TimeSeries`.
    #[derive(Clone, Debug, Default, PartialEq)]
    pub struct TimeSeries {
        /// Name/value pairs as indexes into the symbols table.
        pub labels_refs: Vec<u32>,
        /// Float samples.
        pub samples: Vec<Sample>,
        /// Native histogram samples.
        pub histograms: Vec<Histogram>,
        /// Exemplars.
        pub exemplars: Vec<Exemplar>,
        /// Metadata.
        pub metadata: Metadata,
        /// Created timestamp, ms (0 = unknown).
        pub created_timestamp: i64,
    }

    impl Message for TimeSeries {
        fn decode(buf: &[u8]) -> Result<Self, DecodeError> {
            let mut m = TimeSeries::default();
            fields(buf, |r, f, wt| {
                match f {
                    1 => r.repeated_varint(wt, &mut m.labels_refs, u32_of)?,
                    2 => m
                        .samples
                        .push(scalar!(r, f, wt, LEN, Sample::decode(r.bytes()?)?)),
                    3 => m
                        .histograms
                        .push(scalar!(r, f, wt, LEN, Histogram::decode(r.bytes()?)?)),
                    4 => m
                        .exemplars
                        .push(scalar!(r, f, wt, LEN, Exemplar::decode(r.bytes()?)?)),
                    5 => m.metadata = scalar!(r, f, wt, LEN, Metadata::decode(r.bytes()?)?),
                    6 => m.created_timestamp = scalar!(r, f, wt, VARINT, i64_of(r.varint()?)),
                    _ => return Ok(false),
                }
                Ok(true)
            })?;
            Ok(m)
        }
        fn encode_to(&self, w: &mut Writer) {
            w.packed_varint(1, self.labels_refs.iter().map(|r| u64::from(*r)));
            for s in &self.samples {
                w.message(2, |w| s.encode_to(w));
            }
            for h in &self.histograms {
                w.message(3, |w| h.encode_to(w));
            }
            for e in &self.exemplars {
                w.message(4, |w| e.encode_to(w));
            }
            w.message(5, |w| self.metadata.encode_to(w));
            w.int(6, self.created_timestamp);
        }
    }

    /// `io.prometheus.write.v2.Request`.
    #[derive(Clone, Debug, Default, PartialEq)]
    pub struct Request {
        /// The symbols table; element 0 should be `""`.
        pub symbols: Vec<String>,
        /// The series.
        pub timeseries: Vec<TimeSeries>,
    }

    impl Message for Request {
        fn decode(buf: &[u8]) -> Result<Self, DecodeError> {
            let mut m = Request::default();
            fields(buf, |r, f, wt| {
                match f {
                    4 => m.symbols.push(scalar!(r, f, wt, LEN, r.string()?)),
                    5 => m
                        .timeseries
                        .push(scalar!(r, f, wt, LEN, TimeSeries::decode(r.bytes()?)?)),
                    _ => return Ok(false),
                }
                Ok(true)
            })?;
            Ok(m)
        }
        fn encode_to(&self, w: &mut Writer) {
            for s in &self.symbols {
                w.bytes_always(4, s.as_bytes());
            }
            for t in &self.timeseries {
                w.message(5, |w| t.encode_to(w));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hist(count: Count) -> Histogram {
        Histogram {
            count,
            sum: 12.5,
            schema: -2,
            zero_threshold: 0.001,
            zero_count: count,
            negative_spans: vec![BucketSpan {
                offset: -3,
                length: 2,
            }],
            negative_deltas: vec![1, -1],
            positive_spans: vec![BucketSpan {
                offset: 0,
                length: 3,
            }],
            positive_deltas: vec![2, -5, 7],
            positive_counts: vec![],
            negative_counts: vec![],
            reset_hint: 2,
            timestamp: -7,
            custom_values: vec![],
        }
    }

    #[test]
    fn write_request_round_trip() {
        let req = WriteRequest {
            timeseries: vec![TimeSeries {
                labels: vec![
                    Label {
                        name: "__name__".into(),
                        value: "up".into(),
                    },
                    Label {
                        name: "job".into(),
                        value: "ü".into(),
                    },
                ],
                samples: vec![
                    Sample {
                        value: 0.0,
                        timestamp: 0,
                    },
                    Sample {
                        value: -1.5,
                        timestamp: 1_700_000_000_000,
                    },
                ],
                exemplars: vec![Exemplar {
                    labels: vec![Label {
                        name: "trace_id".into(),
                        value: "x".into(),
                    }],
                    value: 1.0,
                    timestamp: 5,
                }],
                histograms: vec![hist(Count::Int(0)), hist(Count::Float(3.5))],
            }],
            metadata: vec![MetricMetadata {
                kind: 1,
                metric_family_name: "up".into(),
                help: "h".into(),
                unit: "u".into(),
            }],
        };
        assert_eq!(WriteRequest::decode(&req.encode()), Ok(req));
    }

    #[test]
    fn v2_and_read_round_trip() {
        let req = v2::Request {
            symbols: vec!["".into(), "__name__".into(), "up".into()],
            timeseries: vec![v2::TimeSeries {
                labels_refs: vec![1, 2],
                samples: vec![Sample {
                    value: 1.0,
                    timestamp: 10,
                }],
                histograms: vec![hist(Count::Int(4))],
                exemplars: vec![v2::Exemplar {
                    labels_refs: vec![],
                    value: 2.0,
                    timestamp: 3,
                }],
                metadata: v2::Metadata {
                    kind: 2,
                    help_ref: 2,
                    unit_ref: 0,
                },
                created_timestamp: 9,
            }],
        };
        assert_eq!(v2::Request::decode(&req.encode()), Ok(req));
        let rr = ReadRequest {
            queries: vec![Query {
                start_timestamp_ms: 1,
                end_timestamp_ms: 2,
                matchers: vec![LabelMatcher {
                    kind: 2,
                    name: "a".into(),
                    value: "b.*".into(),
                }],
                hints: Some(ReadHints {
                    step_ms: 3,
                    func: "rate".into(),
                    start_ms: 1,
                    end_ms: 2,
                    grouping: vec!["x".into(), "".into()],
                    by: true,
                    range_ms: 5,
                }),
            }],
            accepted_response_types: vec![1, 0],
        };
        assert_eq!(ReadRequest::decode(&rr.encode()), Ok(rr));
    }

    #[test]
    fn garbage_fails_cleanly() {
        for bad in [&[0xffu8, 0xff][..], &[0x0a, 0x10, 0x01], &[0x0b], &[0x00]] {
            assert!(WriteRequest::decode(bad).is_err(), "{bad:?}");
        }
        // Wrong wire type for a known field.
        assert!(WriteRequest::decode(&[0x08, 0x01]).is_err());
        // Unknown fields are skipped.
        assert_eq!(
            WriteRequest::decode(&[0x10, 0x01]),
            Ok(WriteRequest::default())
        );
    }
}
