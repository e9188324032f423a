//! Native-histogram sample records (types 7 to 10).
//!
//! All four share one layout: the first sample's ref and time as big-endian
//! u64, then per sample a varint ref delta and a varint time delta (both to
//! the first sample) and the histogram. Types 9 and 10 carry histograms with
//! the custom-bucket schema (-53), whose upper bounds follow the buckets.
//! Prometheus splits a batch into the exponential record and the
//! custom-bucket record; callers here choose the encoder per batch.

use model::Timestamp;
use model::histogram::{CounterResetHint, FloatHistogram, Histogram, Span};

use super::buf::{Dec, put_be64, put_uvarint, put_varint};
use super::{
    DecodeError, HeadSeriesRef, Reason, RecordType, RefFloatHistogramSample, RefHistogramSample,
    guarded,
};

/// The schema of histograms with custom bucket bounds.
const CUSTOM_BUCKETS_SCHEMA: i32 = -53;

fn hint_byte(h: CounterResetHint) -> u8 {
    match h {
        CounterResetHint::Unknown => 0,
        CounterResetHint::CounterReset => 1,
        CounterResetHint::NotCounterReset => 2,
        CounterResetHint::Gauge => 3,
    }
}

fn hint_from(d: &mut Dec<'_>) -> Result<CounterResetHint, DecodeError> {
    let b = d.byte()?;
    Ok(match b {
        0 => CounterResetHint::Unknown,
        1 => CounterResetHint::CounterReset,
        2 => CounterResetHint::NotCounterReset,
        3 => CounterResetHint::Gauge,
        _ => {
            return Err(DecodeError {
                reason: Reason::Range {
                    what: "counter reset hint",
                    value: u64::from(b),
                },
                ..d.err(Reason::Truncated)
            });
        }
    })
}

fn i32_from(d: &mut Dec<'_>, what: &'static str) -> Result<i32, DecodeError> {
    let at = d.err(Reason::Truncated);
    let v = d.varint()?;
    i32::try_from(v).map_err(|_| DecodeError {
        reason: Reason::Range {
            what,
            value: v as u64,
        },
        ..at
    })
}

fn put_spans(out: &mut Vec<u8>, spans: &[Span]) {
    put_uvarint(out, spans.len() as u64);
    for s in spans {
        put_varint(out, i64::from(s.offset));
        put_uvarint(out, u64::from(s.length));
    }
}

fn spans_from(d: &mut Dec<'_>, spans: &mut Vec<Span>) -> Result<(), DecodeError> {
    let n = d.count("span count", 2)?;
    spans.reserve(n);
    for _ in 0..n {
        let offset = i32_from(d, "span offset")?;
        let length = d.uvarint32("span length")?;
        spans.push(Span { offset, length });
    }
    Ok(())
}

fn put_floats(out: &mut Vec<u8>, v: &[f64]) {
    put_uvarint(out, v.len() as u64);
    for x in v {
        put_be64(out, x.to_bits());
    }
}

fn floats_from(d: &mut Dec<'_>, what: &'static str, v: &mut Vec<f64>) -> Result<(), DecodeError> {
    let n = d.count(what, 8)?;
    v.reserve(n);
    for _ in 0..n {
        v.push(d.be64_f64()?);
    }
    Ok(())
}

/// Appends one integer histogram (Prometheus's `EncodeHistogram`).
pub(crate) fn encode_histogram(out: &mut Vec<u8>, h: &Histogram) {
    out.push(hint_byte(h.counter_reset_hint));
    put_varint(out, i64::from(h.schema));
    put_be64(out, h.zero_threshold.to_bits());
    put_uvarint(out, h.zero_count);
    put_uvarint(out, h.count);
    put_be64(out, h.sum.to_bits());
    put_spans(out, &h.positive_spans);
    put_spans(out, &h.negative_spans);
    for buckets in [&h.positive_buckets, &h.negative_buckets] {
        put_uvarint(out, buckets.len() as u64);
        for &b in buckets {
            put_varint(out, b);
        }
    }
    if h.schema == CUSTOM_BUCKETS_SCHEMA {
        put_floats(out, &h.custom_values);
    }
}

/// Reads one integer histogram into `h`.
pub(crate) fn decode_histogram(d: &mut Dec<'_>, h: &mut Histogram) -> Result<(), DecodeError> {
    h.clear();
    h.counter_reset_hint = hint_from(d)?;
    h.schema = i32_from(d, "schema")?;
    h.zero_threshold = d.be64_f64()?;
    h.zero_count = d.uvarint()?;
    h.count = d.uvarint()?;
    h.sum = d.be64_f64()?;
    spans_from(d, &mut h.positive_spans)?;
    spans_from(d, &mut h.negative_spans)?;
    for buckets in [&mut h.positive_buckets, &mut h.negative_buckets] {
        let n = d.count("bucket count", 1)?;
        buckets.reserve(n);
        for _ in 0..n {
            buckets.push(d.varint()?);
        }
    }
    if h.schema == CUSTOM_BUCKETS_SCHEMA {
        floats_from(d, "custom value count", &mut h.custom_values)?;
    }
    Ok(())
}

/// Appends one float histogram (Prometheus's `EncodeFloatHistogram`).
pub(crate) fn encode_float_histogram(out: &mut Vec<u8>, h: &FloatHistogram) {
    out.push(hint_byte(h.counter_reset_hint));
    put_varint(out, i64::from(h.schema));
    put_be64(out, h.zero_threshold.to_bits());
    put_be64(out, h.zero_count.to_bits());
    put_be64(out, h.count.to_bits());
    put_be64(out, h.sum.to_bits());
    put_spans(out, &h.positive_spans);
    put_spans(out, &h.negative_spans);
    put_floats(out, &h.positive_buckets);
    put_floats(out, &h.negative_buckets);
    if h.schema == CUSTOM_BUCKETS_SCHEMA {
        put_floats(out, &h.custom_values);
    }
}

/// Reads one float histogram into `h`.
pub(crate) fn decode_float_histogram(
    d: &mut Dec<'_>,
    h: &mut FloatHistogram,
) -> Result<(), DecodeError> {
    h.clear();
    h.counter_reset_hint = hint_from(d)?;
    h.schema = i32_from(d, "schema")?;
    h.zero_threshold = d.be64_f64()?;
    h.zero_count = d.be64_f64()?;
    h.count = d.be64_f64()?;
    h.sum = d.be64_f64()?;
    spans_from(d, &mut h.positive_spans)?;
    spans_from(d, &mut h.negative_spans)?;
    floats_from(d, "bucket count", &mut h.positive_buckets)?;
    floats_from(d, "bucket count", &mut h.negative_buckets)?;
    if h.schema == CUSTOM_BUCKETS_SCHEMA {
        floats_from(d, "custom value count", &mut h.custom_values)?;
    }
    Ok(())
}

fn encode_int(t: RecordType, samples: &[RefHistogramSample], out: &mut Vec<u8>) {
    out.push(t.byte());
    let Some(first) = samples.first() else {
        return;
    };
    put_be64(out, first.series.0);
    put_be64(out, first.t.0 as u64);
    for s in samples {
        put_varint(out, s.series.0.wrapping_sub(first.series.0) as i64);
        put_varint(out, s.t.0.wrapping_sub(first.t.0));
        encode_histogram(out, &s.h);
    }
}

fn encode_float(t: RecordType, samples: &[RefFloatHistogramSample], out: &mut Vec<u8>) {
    out.push(t.byte());
    let Some(first) = samples.first() else {
        return;
    };
    put_be64(out, first.series.0);
    put_be64(out, first.t.0 as u64);
    for s in samples {
        put_varint(out, s.series.0.wrapping_sub(first.series.0) as i64);
        put_varint(out, s.t.0.wrapping_sub(first.t.0));
        encode_float_histogram(out, &s.fh);
    }
}

/// Appends a histogram-samples record (type 7). Histograms with the
/// custom-bucket schema belong in
/// [`encode_custom_buckets_histogram_samples`]; Prometheus splits them out.
pub fn encode_histogram_samples(samples: &[RefHistogramSample], out: &mut Vec<u8>) {
    encode_int(RecordType::HistogramSamples, samples, out);
}

/// Appends a custom-bucket histogram-samples record (type 9).
pub fn encode_custom_buckets_histogram_samples(samples: &[RefHistogramSample], out: &mut Vec<u8>) {
    encode_int(RecordType::CustomBucketsHistogramSamples, samples, out);
}

/// Appends a float-histogram-samples record (type 8).
pub fn encode_float_histogram_samples(samples: &[RefFloatHistogramSample], out: &mut Vec<u8>) {
    encode_float(RecordType::FloatHistogramSamples, samples, out);
}

/// Appends a custom-bucket float-histogram-samples record (type 10).
pub fn encode_custom_buckets_float_histogram_samples(
    samples: &[RefFloatHistogramSample],
    out: &mut Vec<u8>,
) {
    encode_float(RecordType::CustomBucketsFloatHistogramSamples, samples, out);
}

/// Reads the type byte (one of `a`, `b`) and the base ref and time; `None`
/// for a record with no samples.
fn header(
    d: &mut Dec<'_>,
    a: RecordType,
    b: RecordType,
) -> Result<Option<(u64, i64)>, DecodeError> {
    let t = d.byte()?;
    if t != a.byte() && t != b.byte() {
        return Err(DecodeError {
            record: a.name(),
            offset: 0,
            reason: Reason::WrongType(t),
        });
    }
    if d.is_empty() {
        return Ok(None);
    }
    Ok(Some((d.be64()?, d.be64()? as i64)))
}

/// Decodes a record of type 7 or 9, appending to `out`.
pub fn decode_histogram_samples(
    rec: &[u8],
    out: &mut Vec<RefHistogramSample>,
) -> Result<(), DecodeError> {
    let mut d = Dec::new(rec, RecordType::HistogramSamples.name());
    let Some((base_ref, base_t)) = header(
        &mut d,
        RecordType::HistogramSamples,
        RecordType::CustomBucketsHistogramSamples,
    )?
    else {
        return Ok(());
    };
    guarded(out, |out| {
        while !d.is_empty() {
            let dref = d.varint()?;
            let dt = d.varint()?;
            let mut h = Histogram::default();
            decode_histogram(&mut d, &mut h)?;
            out.push(RefHistogramSample {
                series: HeadSeriesRef(base_ref.wrapping_add(dref as u64)),
                t: Timestamp(base_t.wrapping_add(dt)),
                h,
            });
        }
        Ok(())
    })
}

/// Decodes a record of type 8 or 10, appending to `out`.
pub fn decode_float_histogram_samples(
    rec: &[u8],
    out: &mut Vec<RefFloatHistogramSample>,
) -> Result<(), DecodeError> {
    let mut d = Dec::new(rec, RecordType::FloatHistogramSamples.name());
    let Some((base_ref, base_t)) = header(
        &mut d,
        RecordType::FloatHistogramSamples,
        RecordType::CustomBucketsFloatHistogramSamples,
    )?
    else {
        return Ok(());
    };
    guarded(out, |out| {
        while !d.is_empty() {
            let dref = d.varint()?;
            let dt = d.varint()?;
            let mut fh = FloatHistogram::default();
            decode_float_histogram(&mut d, &mut fh)?;
            out.push(RefFloatHistogramSample {
                series: HeadSeriesRef(base_ref.wrapping_add(dref as u64)),
                t: Timestamp(base_t.wrapping_add(dt)),
                fh,
            });
        }
        Ok(())
    })
}
