//! Random valid metric families for the round-trip tests, what each format
//! can carry of them ([`project`]), and a NaN-aware comparison ([`same`]).
//!
//! Shared by `roundtrip.rs` and `protobuf_prost.rs` (included by path).

#![allow(dead_code)]

use expfmt::family::{
    Bucket, Counter, Histogram, Metric, MetricFamily, MetricValue, NativeHistogram, Quantile,
    Summary,
};
use expfmt::{Format, MetricType, OwnedExemplar};
use model::histogram::{CounterResetHint, Span};
use proptest::collection::vec;
use proptest::option;
use proptest::prelude::*;

/// Any float, with the special values well represented.
pub(crate) fn float() -> impl Strategy<Value = f64> {
    prop_oneof![
        4 => any::<f64>(),
        2 => -1e6..1e6f64,
        1 => (-1000i64..1000).prop_map(|i| i as f64),
        1 => Just(f64::NAN),
        1 => Just(f64::INFINITY),
        1 => Just(f64::NEG_INFINITY),
        1 => Just(0.0),
        1 => Just(-0.0),
        1 => Just(1.0),
    ]
}

fn non_negative() -> impl Strategy<Value = f64> {
    prop_oneof![
        3 => 0.0..1e12f64,
        1 => (0u64..1_000_000).prop_map(|i| i as f64),
        1 => Just(f64::INFINITY),
        1 => Just(0.0),
    ]
}

/// Millisecond timestamps: positive (0 means "none" in protobuf), up to
/// year 2096, where seconds with three decimals still fit a double exactly
/// enough to come back.
fn timestamp() -> impl Strategy<Value = i64> {
    1i64..4_000_000_000_000
}

/// Text with every escape the formats know, unicode, and no leading or
/// trailing whitespace (the text parsers' HELP handling trims it, as Go's does).
fn text(max: usize) -> impl Strategy<Value = String> {
    let pattern = format!("[a-zA-Z0-9 _\\\\\"\n\té€ü😀{{}}=,#]{{0,{max}}}");
    proptest::string::string_regex(&pattern)
        .unwrap_or_else(|e| panic!("{e}"))
        .prop_map(|s: String| s.trim().to_string())
}

fn label_value() -> impl Strategy<Value = String> {
    "[a-zA-Z0-9 _\\\\\"\n\té€ü😀{}=,#]{0,12}"
}

/// 0-3 label pairs with distinct names, none reserved.
fn labels() -> impl Strategy<Value = Vec<(String, String)>> {
    vec(("[a-z][a-z0-9_]{0,5}", label_value()), 0..4).prop_map(|pairs| {
        let mut out: Vec<(String, String)> = Vec::new();
        for (n, v) in pairs {
            let reserved = matches!(n.as_str(), "le" | "quantile" | "id");
            if !reserved && !out.iter().any(|(m, _)| *m == n) {
                out.push((n, v));
            }
        }
        out
    })
}

fn exemplar() -> impl Strategy<Value = OwnedExemplar> {
    (
        vec(("[a-z]{1,5}", "[a-zA-Z0-9 \"\\\\é]{0,8}"), 1..3),
        float(),
        option::of(timestamp()),
    )
        .prop_map(|(pairs, value, timestamp)| {
            let mut labels: Vec<(String, String)> = Vec::new();
            for (n, v) in pairs {
                if !labels.iter().any(|(m, _)| *m == n) {
                    labels.push((n, v));
                }
            }
            OwnedExemplar {
                labels,
                value,
                timestamp,
            }
        })
}

/// Exemplars with timestamps (native histograms keep only those).
fn native_exemplar() -> impl Strategy<Value = OwnedExemplar> {
    (exemplar(), timestamp()).prop_map(|(mut e, t)| {
        e.timestamp = Some(t);
        e
    })
}

fn counter() -> impl Strategy<Value = MetricValue> {
    (
        non_negative(),
        option::of(timestamp()),
        option::of(exemplar()),
    )
        .prop_map(|(value, created_ms, exemplar)| {
            MetricValue::Counter(Counter {
                value,
                created_ms,
                exemplar,
            })
        })
}

fn summary() -> impl Strategy<Value = MetricValue> {
    (
        0u64..1_000_000,
        float(),
        vec((0.0..=1.0f64, float()), 0..4),
        option::of(timestamp()),
    )
        .prop_map(|(count, sum, qs, created_ms)| {
            MetricValue::Summary(Summary {
                count: count as f64,
                sum,
                quantiles: qs
                    .into_iter()
                    .map(|(quantile, value)| Quantile { quantile, value })
                    .collect(),
                created_ms,
            })
        })
}

fn spans_and_len() -> impl Strategy<Value = (Vec<Span>, usize)> {
    vec((-5i32..5, 0u32..4), 0..3).prop_map(|s| {
        let spans: Vec<Span> = s
            .into_iter()
            .map(|(offset, length)| Span { offset, length })
            .collect();
        let n = spans.iter().map(|s| s.length as usize).sum();
        (spans, n)
    })
}

fn native(gauge: bool) -> impl Strategy<Value = NativeHistogram> {
    let hint = if gauge {
        CounterResetHint::Gauge
    } else {
        CounterResetHint::Unknown
    };
    let int = (
        -4i32..=8,
        prop_oneof![Just(0.0), Just(1e-128), Just(0.001)],
        0u64..10,
        0u64..1_000_000,
        float(),
        spans_and_len(),
        spans_and_len(),
        vec(-20i64..20, 12),
    )
        .prop_map(
            move |(schema, zt, zc, count, sum, (pos, np), (neg, nn), d)| {
                let mut h = model::Histogram {
                    counter_reset_hint: hint,
                    schema,
                    zero_threshold: zt,
                    zero_count: zc,
                    count,
                    sum,
                    positive_buckets: d[..np].to_vec(),
                    negative_buckets: d[np..np + nn].to_vec(),
                    positive_spans: pos,
                    negative_spans: neg,
                    custom_values: Vec::new(),
                };
                // An empty native histogram signals itself with a no-op span.
                if h.positive_spans.is_empty()
                    && h.negative_spans.is_empty()
                    && zt == 0.0
                    && zc == 0
                {
                    h.positive_spans.push(Span::default());
                }
                NativeHistogram::Int(h)
            },
        );
    let float_hist = (
        -4i32..=8,
        0.0..100.0f64,
        0.5..1e6f64,
        float(),
        spans_and_len(),
        vec(0.0..100.0f64, 6),
    )
        .prop_map(move |(schema, zc, count, sum, (pos, np), c)| {
            NativeHistogram::Float(model::FloatHistogram {
                counter_reset_hint: hint,
                schema,
                zero_threshold: 0.001,
                zero_count: zc,
                count,
                sum,
                positive_buckets: c[..np].to_vec(),
                positive_spans: pos,
                ..model::FloatHistogram::default()
            })
        });
    prop_oneof![3 => int, 1 => float_hist]
}

/// A classic histogram (count and +Inf bucket agreeing), maybe with a
/// native part whose count and sum it then takes.
fn histogram(gauge: bool) -> impl Strategy<Value = Histogram> {
    (
        vec((-1e3..1e3f64, 0u64..100, option::of(exemplar())), 0..5),
        0u64..100,
        float(),
        option::of(timestamp()),
        option::of(native(gauge)),
        vec(native_exemplar(), 0..3),
        any::<bool>(),
    )
        .prop_map(
            move |(raw, extra, sum, created, native, native_ex, with_buckets)| {
                let mut raw = raw;
                raw.sort_by(|a, b| a.0.total_cmp(&b.0));
                raw.dedup_by(|a, b| a.0 == b.0);
                let mut cumulative = 0u64;
                let mut buckets: Vec<Bucket> = raw
                    .into_iter()
                    .map(|(upper_bound, n, exemplar)| {
                        cumulative += n;
                        Bucket {
                            upper_bound,
                            cumulative_count: cumulative as f64,
                            exemplar,
                        }
                    })
                    .collect();
                let mut count = (cumulative + extra) as f64;
                let mut sum = sum;
                let mut exemplars = Vec::new();
                if let Some(n) = &native {
                    count = n.count();
                    sum = n.sum();
                    exemplars = native_ex;
                    // Bucket exemplars would be reported as the native ones.
                    for b in &mut buckets {
                        b.exemplar = None;
                    }
                    if !with_buckets || matches!(n, NativeHistogram::Float(_)) {
                        buckets.clear();
                    } else {
                        for b in &mut buckets {
                            b.cumulative_count = b.cumulative_count.min(count);
                        }
                    }
                }
                if native.is_none() || !buckets.is_empty() {
                    buckets.push(Bucket {
                        upper_bound: f64::INFINITY,
                        cumulative_count: count,
                        exemplar: None,
                    });
                }
                Histogram {
                    count,
                    sum,
                    buckets,
                    created_ms: if gauge { None } else { created },
                    native,
                    exemplars,
                }
            },
        )
}

fn states() -> impl Strategy<Value = MetricValue> {
    vec(("[a-z][a-z0-9]{0,4}", any::<bool>()), 1..4).prop_map(|s| {
        let mut out: Vec<(String, bool)> = Vec::new();
        for (n, b) in s {
            if !out.iter().any(|(m, _)| *m == n) {
                out.push((n, b));
            }
        }
        MetricValue::Stateset(out)
    })
}

fn value(kind: MetricType) -> BoxedStrategy<MetricValue> {
    match kind {
        MetricType::Counter => counter().boxed(),
        MetricType::Gauge => float().prop_map(MetricValue::Gauge).boxed(),
        MetricType::Unknown => float().prop_map(MetricValue::Unknown).boxed(),
        MetricType::Summary => summary().boxed(),
        MetricType::Histogram => histogram(false).prop_map(MetricValue::Histogram).boxed(),
        MetricType::GaugeHistogram => histogram(true)
            .prop_map(MetricValue::GaugeHistogram)
            .boxed(),
        MetricType::Info => Just(MetricValue::Info).boxed(),
        MetricType::Stateset => states().boxed(),
    }
}

fn kind() -> impl Strategy<Value = MetricType> {
    prop_oneof![
        Just(MetricType::Counter),
        Just(MetricType::Gauge),
        Just(MetricType::Unknown),
        Just(MetricType::Summary),
        Just(MetricType::Histogram),
        Just(MetricType::GaugeHistogram),
        Just(MetricType::Info),
        Just(MetricType::Stateset),
    ]
}

/// One family; `index` keeps names unique (and free of reserved suffixes:
/// every name ends in a digit, `_seconds` or `_total`).
fn family(index: usize) -> impl Strategy<Value = MetricFamily> {
    (kind(), "[a-z][a-z0-9_]{0,8}", text(30), any::<bool>()).prop_flat_map(
        move |(kind, base, help, with_unit)| {
            let unit_ok = !matches!(kind, MetricType::Info | MetricType::Stateset);
            let unit = if with_unit && unit_ok { "seconds" } else { "" };
            let mut name = format!("{base}_{index}");
            if !unit.is_empty() {
                name.push('_');
                name.push_str(unit);
            }
            if kind == MetricType::Counter {
                name.push_str("_total");
            }
            let metric = (labels(), value(kind), option::of(timestamp()));
            let unit = unit.to_string();
            vec(metric, 1..4).prop_map(move |ms| {
                let many = ms.len() > 1;
                let metrics = ms
                    .into_iter()
                    .enumerate()
                    .map(|(j, (mut labels, value, timestamp_ms))| {
                        if kind == MetricType::Stateset {
                            labels.retain(|(n, _)| *n != name);
                        }
                        // Distinct label sets, or samples would merge.
                        if many {
                            labels.push(("id".to_string(), j.to_string()));
                        }
                        Metric {
                            labels,
                            value,
                            timestamp_ms,
                        }
                    })
                    .collect();
                MetricFamily {
                    name: name.clone(),
                    help: help.clone(),
                    unit: unit.clone(),
                    kind,
                    metrics,
                }
            })
        },
    )
}

/// 0-4 families.
pub(crate) fn families() -> impl Strategy<Value = Vec<MetricFamily>> {
    (0usize..5).prop_flat_map(|n| (0..n).map(family).collect::<Vec<_>>())
}

/// What `format` carries of `families`: what comes back after encoding,
/// parsing and collecting.
pub(crate) fn project(families: &[MetricFamily], format: Format) -> Vec<MetricFamily> {
    let mut out = Vec::new();
    for f in families {
        let mut f = f.clone();
        // Types the format lacks become gauges, as the encoders write them.
        if format != Format::OpenMetrics {
            match f.kind {
                MetricType::Info => {
                    f.name.push_str("_info");
                    f.kind = MetricType::Gauge;
                    for m in &mut f.metrics {
                        m.value = MetricValue::Gauge(1.0);
                    }
                }
                MetricType::Stateset => {
                    f.kind = MetricType::Gauge;
                    let mut metrics = Vec::new();
                    for m in &f.metrics {
                        if let MetricValue::Stateset(states) = &m.value {
                            for (state, set) in states {
                                let mut labels = m.labels.clone();
                                labels.push((f.name.clone(), state.clone()));
                                metrics.push(Metric {
                                    labels,
                                    value: MetricValue::Gauge(if *set { 1.0 } else { 0.0 }),
                                    timestamp_ms: m.timestamp_ms,
                                });
                            }
                        }
                    }
                    f.metrics = metrics;
                }
                _ => {}
            }
        }
        if matches!(format, Format::Text | Format::Text1) {
            f.unit.clear();
            if f.kind == MetricType::GaugeHistogram {
                f.kind = MetricType::Histogram;
            }
        }
        for m in &mut f.metrics {
            project_value(&mut m.value, format);
        }
        out.push(f);
    }
    out
}

fn project_value(v: &mut MetricValue, format: Format) {
    let text = matches!(format, Format::Text | Format::Text1);
    match v {
        MetricValue::Counter(c) if text => {
            c.created_ms = None;
            c.exemplar = None;
        }
        MetricValue::Summary(s) if text => s.created_ms = None,
        MetricValue::Histogram(h) | MetricValue::GaugeHistogram(h)
            if format != Format::Protobuf =>
        {
            if h.native.take().is_some() && h.buckets.is_empty() {
                h.buckets.push(Bucket {
                    upper_bound: f64::INFINITY,
                    cumulative_count: h.count,
                    exemplar: None,
                });
            }
            h.exemplars.clear();
            if text {
                h.created_ms = None;
                for b in &mut h.buckets {
                    b.exemplar = None;
                }
            }
        }
        _ => {}
    }
    if text && let MetricValue::GaugeHistogram(h) = v {
        *v = MetricValue::Histogram(std::mem::take(h));
    }
}

/// Equality with all NaNs equal and -0 equal to 0: both sides are printed
/// with zeros normalized and compared as text (which also gives a readable
/// diff).
pub(crate) fn same(a: &[MetricFamily], b: &[MetricFamily]) -> Result<(), String> {
    let (a, b) = (canonical(a), canonical(b));
    if a == b {
        Ok(())
    } else {
        Err(format!("want:\n{a}\ngot:\n{b}"))
    }
}

fn canonical(f: &[MetricFamily]) -> String {
    let mut f = f.to_vec();
    for fam in &mut f {
        for m in &mut fam.metrics {
            canon_value(&mut m.value);
        }
    }
    format!("{f:#?}")
}

fn z(x: &mut f64) {
    if *x == 0.0 {
        *x = 0.0;
    }
}

fn canon_exemplar(e: &mut OwnedExemplar) {
    z(&mut e.value);
}

fn canon_value(v: &mut MetricValue) {
    match v {
        MetricValue::Counter(c) => {
            z(&mut c.value);
            if let Some(e) = &mut c.exemplar {
                canon_exemplar(e);
            }
        }
        MetricValue::Gauge(x) | MetricValue::Unknown(x) => z(x),
        MetricValue::Summary(s) => {
            z(&mut s.count);
            z(&mut s.sum);
            for q in &mut s.quantiles {
                z(&mut q.quantile);
                z(&mut q.value);
            }
        }
        MetricValue::Histogram(h) | MetricValue::GaugeHistogram(h) => {
            z(&mut h.count);
            z(&mut h.sum);
            for b in &mut h.buckets {
                z(&mut b.upper_bound);
                z(&mut b.cumulative_count);
                if let Some(e) = &mut b.exemplar {
                    canon_exemplar(e);
                }
            }
            h.exemplars.iter_mut().for_each(canon_exemplar);
            match &mut h.native {
                Some(NativeHistogram::Int(n)) => z(&mut n.sum),
                Some(NativeHistogram::Float(n)) => {
                    z(&mut n.sum);
                    z(&mut n.count);
                    z(&mut n.zero_count);
                    n.positive_buckets.iter_mut().for_each(z);
                    n.negative_buckets.iter_mut().for_each(z);
                }
                None => {}
            }
        }
        MetricValue::Info | MetricValue::Stateset(_) => {}
    }
}

/// Makes `families` valid OpenMetrics, whose rules (checked by our strict
/// parser) are narrower than the model: counts, sums and counter values are
/// not NaN or negative, quantile values not negative, a histogram with a
/// `_sum` has no negative bucket bounds, a negative `_gsum` needs negative
/// buckets; and one rule of our parser's (see below).
pub(crate) fn openmetrics_valid(families: &[MetricFamily]) -> Vec<MetricFamily> {
    fn fix(x: &mut f64) {
        if x.is_nan() {
            *x = 0.0;
        }
        *x = x.abs();
    }
    let mut out = families.to_vec();
    for f in &mut out {
        // Our parser treats all samples of an info family as one point,
        // whose samples must agree on having a timestamp.
        if f.kind == MetricType::Info {
            let ts = f.metrics.first().and_then(|m| m.timestamp_ms);
            for m in &mut f.metrics {
                m.timestamp_ms = ts;
            }
        }
        for m in &mut f.metrics {
            match &mut m.value {
                MetricValue::Counter(c) => fix(&mut c.value),
                MetricValue::Summary(s) => {
                    fix(&mut s.sum);
                    for q in &mut s.quantiles {
                        q.value = q.value.abs();
                    }
                }
                MetricValue::Histogram(h) | MetricValue::GaugeHistogram(h) => {
                    fix(&mut h.sum);
                    // Float counts have no OpenMetrics 1.0 form.
                    if matches!(h.native, Some(NativeHistogram::Float(_))) {
                        h.native = None;
                        h.exemplars.clear();
                        h.count = h.count.floor();
                        h.buckets = vec![Bucket {
                            upper_bound: f64::INFINITY,
                            cumulative_count: h.count,
                            exemplar: None,
                        }];
                    }
                    let n = h.buckets.len();
                    if h.buckets.iter().any(|b| b.upper_bound < 0.0) {
                        for (i, b) in h.buckets.iter_mut().enumerate() {
                            if i + 1 < n {
                                b.upper_bound = i as f64;
                            }
                        }
                    }
                }
                _ => {}
            }
        }
    }
    out
}
