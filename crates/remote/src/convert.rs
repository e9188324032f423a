//! Conversions between the wire messages and the model.

use model::histogram::{CounterResetHint, Span};
use model::{FloatHistogram, Histogram, Labels, MetricType};

use crate::prompb::{self, BucketSpan, Count};

/// Builds a series' label set the way Prometheus's receiver validates it:
/// pairs are sorted by name; a duplicate name, an empty name, a missing
/// `__name__` fail with the reason. Empty values mean "absent" and are
/// dropped.
pub fn series_labels<'a>(
    pairs: impl IntoIterator<Item = (&'a str, &'a str)>,
) -> Result<Labels, String> {
    let mut v: Vec<(&str, &str)> = pairs.into_iter().collect();
    v.sort_by(|a, b| a.0.cmp(b.0));
    for w in v.windows(2) {
        if w[0].0 == w[1].0 {
            return Err(format!("duplicated label {}", w[0].0));
        }
    }
    if v.iter().any(|(n, _)| n.is_empty()) {
        return Err("empty label name".into());
    }
    v.retain(|(_, val)| !val.is_empty());
    if !v.iter().any(|(n, _)| *n == "__name__") {
        return Err("missing metric name".into());
    }
    Ok(Labels::from_sorted(v))
}

/// A label set from pairs without series validation (exemplar labels):
/// sorted, later duplicates win, empty values dropped.
pub fn loose_labels<'a>(pairs: impl IntoIterator<Item = (&'a str, &'a str)>) -> Labels {
    Labels::from_pairs(pairs)
}

/// The wire labels of a label set.
pub fn labels_to_proto(l: &Labels) -> Vec<prompb::Label> {
    l.iter()
        .map(|(n, v)| prompb::Label {
            name: n.to_string(),
            value: v.to_string(),
        })
        .collect()
}

fn hint_of(h: i32) -> CounterResetHint {
    match h {
        1 => CounterResetHint::CounterReset,
        2 => CounterResetHint::NotCounterReset,
        3 => CounterResetHint::Gauge,
        _ => CounterResetHint::Unknown,
    }
}

fn hint_to(h: CounterResetHint) -> i32 {
    match h {
        CounterResetHint::Unknown => 0,
        CounterResetHint::CounterReset => 1,
        CounterResetHint::NotCounterReset => 2,
        CounterResetHint::Gauge => 3,
    }
}

fn spans_of(s: &[BucketSpan]) -> Vec<Span> {
    s.iter()
        .map(|s| Span {
            offset: s.offset,
            length: s.length,
        })
        .collect()
}

fn spans_to(s: &[Span]) -> Vec<BucketSpan> {
    s.iter()
        .map(|s| BucketSpan {
            offset: s.offset,
            length: s.length,
        })
        .collect()
}

/// A wire histogram as the model's: integer when its count is an
/// integer (`count_int`), float otherwise.
pub enum AnyHistogram {
    /// Integer counts.
    Int(Histogram),
    /// Float counts.
    Float(FloatHistogram),
}

fn as_f64(c: Count) -> f64 {
    match c {
        Count::Int(v) => v as f64,
        Count::Float(v) => v,
    }
}

/// Converts a wire histogram (Prometheus's `IsFloatHistogram`: the count
/// is `count_float`).
pub fn histogram_from_proto(h: &prompb::Histogram) -> AnyHistogram {
    match h.count {
        Count::Int(count) => AnyHistogram::Int(Histogram {
            counter_reset_hint: hint_of(h.reset_hint),
            schema: h.schema,
            zero_threshold: h.zero_threshold,
            zero_count: match h.zero_count {
                Count::Int(v) => v,
                Count::Float(v) => v as u64,
            },
            count,
            sum: h.sum,
            positive_spans: spans_of(&h.positive_spans),
            negative_spans: spans_of(&h.negative_spans),
            positive_buckets: h.positive_deltas.clone(),
            negative_buckets: h.negative_deltas.clone(),
            custom_values: h.custom_values.clone(),
        }),
        Count::Float(count) => AnyHistogram::Float(FloatHistogram {
            counter_reset_hint: hint_of(h.reset_hint),
            schema: h.schema,
            zero_threshold: h.zero_threshold,
            zero_count: as_f64(h.zero_count),
            count,
            sum: h.sum,
            positive_spans: spans_of(&h.positive_spans),
            negative_spans: spans_of(&h.negative_spans),
            positive_buckets: h.positive_counts.clone(),
            negative_buckets: h.negative_counts.clone(),
            custom_values: h.custom_values.clone(),
        }),
    }
}

/// The wire form of an integer histogram at `t`.
pub fn histogram_to_proto(t: i64, h: &Histogram) -> prompb::Histogram {
    prompb::Histogram {
        count: Count::Int(h.count),
        sum: h.sum,
        schema: h.schema,
        zero_threshold: h.zero_threshold,
        zero_count: Count::Int(h.zero_count),
        negative_spans: spans_to(&h.negative_spans),
        negative_deltas: h.negative_buckets.clone(),
        negative_counts: Vec::new(),
        positive_spans: spans_to(&h.positive_spans),
        positive_deltas: h.positive_buckets.clone(),
        positive_counts: Vec::new(),
        reset_hint: hint_to(h.counter_reset_hint),
        timestamp: t,
        custom_values: h.custom_values.clone(),
    }
}

/// The wire form of a float histogram at `t`.
pub fn float_histogram_to_proto(t: i64, h: &FloatHistogram) -> prompb::Histogram {
    prompb::Histogram {
        count: Count::Float(h.count),
        sum: h.sum,
        schema: h.schema,
        zero_threshold: h.zero_threshold,
        zero_count: Count::Float(h.zero_count),
        negative_spans: spans_to(&h.negative_spans),
        negative_deltas: Vec::new(),
        negative_counts: h.negative_buckets.clone(),
        positive_spans: spans_to(&h.positive_spans),
        positive_deltas: Vec::new(),
        positive_counts: h.positive_buckets.clone(),
        reset_hint: hint_to(h.counter_reset_hint),
        timestamp: t,
        custom_values: h.custom_values.clone(),
    }
}

/// The metric type of a wire `MetricType` (1.0 and 2.0 share numbers; 0 is
/// unknown/unspecified).
pub fn metric_type_of(t: i32) -> MetricType {
    match t {
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
