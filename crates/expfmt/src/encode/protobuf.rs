//! Delimited protobuf: each family as an `io.prometheus.client.MetricFamily`
//! message prefixed by its varint length, fields in field-number order,
//! repeated scalars packed (every protobuf decoder accepts both forms).
//!
//! Mapping: untyped/unknown → `UNTYPED`; info and stateset → `GAUGE` (info
//! `foo` as `foo_info` with value 1, a stateset as one metric per state with
//! the state label named like the family, as the text encoder does). Counts
//! go into the integer fields when integral and into the `_float` fields
//! otherwise (a float native histogram uses the float fields throughout).
//! An empty native histogram gets a no-op span so it stays native. Created
//! and exemplar timestamps become `google.protobuf.Timestamp`s.

use super::float::as_count;
use crate::family::{Histogram, Metric, MetricValue, NativeHistogram};
use crate::protobuf::wire::{
    WireType, put_bytes_field, put_double_field, put_message_field, put_message_with, put_tag,
    put_varint, put_varint_field, zigzag32, zigzag64,
};
use crate::{MetricFamily, MetricType, OwnedExemplar};
use model::histogram::Span;

/// Appends `families` as a delimited protobuf stream to `out`.
pub fn encode_protobuf(families: &[MetricFamily], out: &mut Vec<u8>) {
    for f in families {
        put_message_with(out, |out| family(f, out));
    }
}

fn family(f: &MetricFamily, out: &mut Vec<u8>) {
    if f.kind == MetricType::Info {
        put_bytes_field(out, 1, format!("{}_info", f.name).as_bytes());
    } else {
        put_bytes_field(out, 1, f.name.as_bytes());
    }
    if !f.help.is_empty() {
        put_bytes_field(out, 2, f.help.as_bytes());
    }
    let kind = match f.kind {
        MetricType::Counter => 0,
        MetricType::Gauge | MetricType::Info | MetricType::Stateset => 1,
        MetricType::Summary => 2,
        MetricType::Unknown => 3,
        MetricType::Histogram => 4,
        MetricType::GaugeHistogram => 5,
    };
    put_varint_field(out, 3, kind);
    for m in &f.metrics {
        match &m.value {
            MetricValue::Stateset(states) => {
                for (state, set) in states {
                    put_message_field(out, 4, |out| {
                        labels(out, 1, &m.labels);
                        put_message_field(out, 1, |out| {
                            put_bytes_field(out, 1, f.name.as_bytes());
                            put_bytes_field(out, 2, state.as_bytes());
                        });
                        gauge(out, 2, if *set { 1.0 } else { 0.0 });
                        timestamp_ms(out, m);
                    });
                }
            }
            _ => put_message_field(out, 4, |out| metric(out, m)),
        }
    }
    if !f.unit.is_empty() {
        put_bytes_field(out, 5, f.unit.as_bytes());
    }
}

fn labels(out: &mut Vec<u8>, field: u32, labels: &[(String, String)]) {
    for (n, v) in labels {
        put_message_field(out, field, |out| {
            put_bytes_field(out, 1, n.as_bytes());
            put_bytes_field(out, 2, v.as_bytes());
        });
    }
}

/// A `Gauge` or `Untyped` message in field `field` of `Metric`.
fn gauge(out: &mut Vec<u8>, field: u32, v: f64) {
    put_message_field(out, field, |out| put_double_field(out, 1, v));
}

fn timestamp_ms(out: &mut Vec<u8>, m: &Metric) {
    if let Some(ts) = m.timestamp_ms {
        put_varint_field(out, 6, ts as u64);
    }
}

fn metric(out: &mut Vec<u8>, m: &Metric) {
    labels(out, 1, &m.labels);
    match &m.value {
        MetricValue::Gauge(v) => gauge(out, 2, *v),
        MetricValue::Info => gauge(out, 2, 1.0),
        MetricValue::Counter(c) => put_message_field(out, 3, |out| {
            put_double_field(out, 1, c.value);
            if let Some(e) = &c.exemplar {
                put_message_field(out, 2, |out| exemplar(out, e));
            }
            if let Some(ms) = c.created_ms {
                put_message_field(out, 3, |out| timestamp(out, ms));
            }
        }),
        MetricValue::Summary(s) => put_message_field(out, 4, |out| {
            put_varint_field(out, 1, as_count(s.count).unwrap_or(s.count as u64));
            put_double_field(out, 2, s.sum);
            for q in &s.quantiles {
                put_message_field(out, 3, |out| {
                    put_double_field(out, 1, q.quantile);
                    put_double_field(out, 2, q.value);
                });
            }
            if let Some(ms) = s.created_ms {
                put_message_field(out, 4, |out| timestamp(out, ms));
            }
        }),
        MetricValue::Unknown(v) => gauge(out, 5, *v),
        MetricValue::Histogram(h) | MetricValue::GaugeHistogram(h) => {
            put_message_field(out, 7, |out| histogram(out, h));
        }
        MetricValue::Stateset(_) => {}
    }
    timestamp_ms(out, m);
}

fn histogram(out: &mut Vec<u8>, h: &Histogram) {
    let float_native = matches!(h.native, Some(NativeHistogram::Float(_)));
    let (int_count, float_count, sum) = match &h.native {
        Some(NativeHistogram::Int(n)) => (Some(n.count), None, n.sum),
        Some(NativeHistogram::Float(n)) => (None, Some(n.count), n.sum),
        None => match as_count(h.count) {
            Some(c) => (Some(c), None, h.sum),
            None => (None, Some(h.count), h.sum),
        },
    };
    if let Some(c) = int_count {
        put_varint_field(out, 1, c);
    }
    put_double_field(out, 2, sum);
    for b in &h.buckets {
        put_message_field(out, 3, |out| {
            match as_count(b.cumulative_count).filter(|_| !float_native) {
                Some(c) => put_varint_field(out, 1, c),
                None => put_double_field(out, 4, b.cumulative_count),
            }
            put_double_field(out, 2, b.upper_bound);
            if let Some(e) = &b.exemplar {
                put_message_field(out, 3, |out| exemplar(out, e));
            }
        });
    }
    if let Some(c) = float_count {
        put_double_field(out, 4, c);
    }
    match &h.native {
        None => {}
        Some(NativeHistogram::Int(n)) => {
            put_varint_field(out, 5, zigzag32(n.schema));
            put_double_field(out, 6, n.zero_threshold);
            put_varint_field(out, 7, n.zero_count);
            spans(out, 9, &n.negative_spans);
            deltas(out, 10, &n.negative_buckets);
            let noop = n.zero_threshold <= 0.0
                && n.zero_count == 0
                && n.positive_spans.is_empty()
                && n.negative_spans.is_empty();
            positive_spans(out, &n.positive_spans, noop);
            deltas(out, 13, &n.positive_buckets);
        }
        Some(NativeHistogram::Float(n)) => {
            put_varint_field(out, 5, zigzag32(n.schema));
            put_double_field(out, 6, n.zero_threshold);
            put_double_field(out, 8, n.zero_count);
            spans(out, 9, &n.negative_spans);
            counts(out, 11, &n.negative_buckets);
            let noop = n.zero_threshold <= 0.0
                && n.zero_count <= 0.0
                && n.positive_spans.is_empty()
                && n.negative_spans.is_empty();
            positive_spans(out, &n.positive_spans, noop);
            counts(out, 14, &n.positive_buckets);
        }
    }
    if let Some(ms) = h.created_ms {
        put_message_field(out, 15, |out| timestamp(out, ms));
    }
    for e in &h.exemplars {
        put_message_field(out, 16, |out| exemplar(out, e));
    }
}

fn positive_spans(out: &mut Vec<u8>, s: &[Span], noop: bool) {
    if noop {
        spans(out, 12, &[Span::default()]);
    } else {
        spans(out, 12, s);
    }
}

fn spans(out: &mut Vec<u8>, field: u32, spans: &[Span]) {
    for s in spans {
        put_message_field(out, field, |out| {
            put_varint_field(out, 1, zigzag32(s.offset));
            put_varint_field(out, 2, u64::from(s.length));
        });
    }
}

fn deltas(out: &mut Vec<u8>, field: u32, d: &[i64]) {
    if d.is_empty() {
        return;
    }
    put_tag(out, field, WireType::Len);
    put_message_with(out, |out| {
        for &v in d {
            put_varint(out, zigzag64(v));
        }
    });
}

fn counts(out: &mut Vec<u8>, field: u32, c: &[f64]) {
    if c.is_empty() {
        return;
    }
    put_tag(out, field, WireType::Len);
    put_varint(out, (c.len() * 8) as u64);
    for v in c {
        out.extend_from_slice(&v.to_bits().to_le_bytes());
    }
}

fn exemplar(out: &mut Vec<u8>, e: &OwnedExemplar) {
    labels(out, 1, &e.labels);
    put_double_field(out, 2, e.value);
    if let Some(ms) = e.timestamp {
        put_message_field(out, 3, |out| timestamp(out, ms));
    }
}

/// A `google.protobuf.Timestamp` body for `ms` milliseconds.
fn timestamp(out: &mut Vec<u8>, ms: i64) {
    let seconds = ms.div_euclid(1000);
    let nanos = (ms.rem_euclid(1000) * 1_000_000) as i32;
    if seconds != 0 {
        put_varint_field(out, 1, seconds as u64);
    }
    if nanos != 0 {
        put_varint_field(out, 2, nanos as u64);
    }
}
