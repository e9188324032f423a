//! Cross-checks the protobuf encoder and parser against prost, an
//! independent implementation of the wire format, using message structs
//! written here from `io/prometheus/client/metrics.proto`.
//!
//! Both directions, on random families: our bytes decode with prost into
//! the same values; prost's bytes (with repeated scalars unpacked, as Go's
//! proto2 encoder writes them) parse with our parser into the same families.

#![allow(clippy::unwrap_used)]

#[path = "roundtrip/gen.rs"]
mod generate;

use expfmt::family::{
    Bucket, Counter, Histogram, Metric, MetricFamily, MetricValue, NativeHistogram, Quantile,
    Summary,
};
use expfmt::protobuf::ProtobufParser;
use expfmt::{Format, MetricType, OwnedExemplar, encode_protobuf};
use model::histogram::{CounterResetHint, Span};
use proptest::prelude::*;
use prost::Message;

/// `io.prometheus.client` messages, by hand.
mod pb {
    #[derive(Clone, PartialEq, prost::Message)]
    pub(crate) struct LabelPair {
        #[prost(string, optional, tag = "1")]
        pub(crate) name: Option<String>,
        #[prost(string, optional, tag = "2")]
        pub(crate) value: Option<String>,
    }

    #[derive(Clone, PartialEq, prost::Message)]
    pub(crate) struct Gauge {
        #[prost(double, optional, tag = "1")]
        pub(crate) value: Option<f64>,
    }

    #[derive(Clone, PartialEq, prost::Message)]
    pub(crate) struct Counter {
        #[prost(double, optional, tag = "1")]
        pub(crate) value: Option<f64>,
        #[prost(message, optional, tag = "2")]
        pub(crate) exemplar: Option<Exemplar>,
        #[prost(message, optional, tag = "3")]
        pub(crate) created_timestamp: Option<Timestamp>,
    }

    #[derive(Clone, PartialEq, prost::Message)]
    pub(crate) struct Quantile {
        #[prost(double, optional, tag = "1")]
        pub(crate) quantile: Option<f64>,
        #[prost(double, optional, tag = "2")]
        pub(crate) value: Option<f64>,
    }

    #[derive(Clone, PartialEq, prost::Message)]
    pub(crate) struct Summary {
        #[prost(uint64, optional, tag = "1")]
        pub(crate) sample_count: Option<u64>,
        #[prost(double, optional, tag = "2")]
        pub(crate) sample_sum: Option<f64>,
        #[prost(message, repeated, tag = "3")]
        pub(crate) quantile: Vec<Quantile>,
        #[prost(message, optional, tag = "4")]
        pub(crate) created_timestamp: Option<Timestamp>,
    }

    #[derive(Clone, PartialEq, prost::Message)]
    pub(crate) struct Untyped {
        #[prost(double, optional, tag = "1")]
        pub(crate) value: Option<f64>,
    }

    #[derive(Clone, PartialEq, prost::Message)]
    pub(crate) struct Histogram {
        #[prost(uint64, optional, tag = "1")]
        pub(crate) sample_count: Option<u64>,
        #[prost(double, optional, tag = "4")]
        pub(crate) sample_count_float: Option<f64>,
        #[prost(double, optional, tag = "2")]
        pub(crate) sample_sum: Option<f64>,
        #[prost(message, repeated, tag = "3")]
        pub(crate) bucket: Vec<Bucket>,
        #[prost(message, optional, tag = "15")]
        pub(crate) created_timestamp: Option<Timestamp>,
        #[prost(sint32, optional, tag = "5")]
        pub(crate) schema: Option<i32>,
        #[prost(double, optional, tag = "6")]
        pub(crate) zero_threshold: Option<f64>,
        #[prost(uint64, optional, tag = "7")]
        pub(crate) zero_count: Option<u64>,
        #[prost(double, optional, tag = "8")]
        pub(crate) zero_count_float: Option<f64>,
        #[prost(message, repeated, tag = "9")]
        pub(crate) negative_span: Vec<BucketSpan>,
        #[prost(sint64, repeated, packed = "false", tag = "10")]
        pub(crate) negative_delta: Vec<i64>,
        #[prost(double, repeated, packed = "false", tag = "11")]
        pub(crate) negative_count: Vec<f64>,
        #[prost(message, repeated, tag = "12")]
        pub(crate) positive_span: Vec<BucketSpan>,
        #[prost(sint64, repeated, packed = "false", tag = "13")]
        pub(crate) positive_delta: Vec<i64>,
        #[prost(double, repeated, packed = "false", tag = "14")]
        pub(crate) positive_count: Vec<f64>,
        #[prost(message, repeated, tag = "16")]
        pub(crate) exemplars: Vec<Exemplar>,
    }

    #[derive(Clone, PartialEq, prost::Message)]
    pub(crate) struct Bucket {
        #[prost(uint64, optional, tag = "1")]
        pub(crate) cumulative_count: Option<u64>,
        #[prost(double, optional, tag = "4")]
        pub(crate) cumulative_count_float: Option<f64>,
        #[prost(double, optional, tag = "2")]
        pub(crate) upper_bound: Option<f64>,
        #[prost(message, optional, tag = "3")]
        pub(crate) exemplar: Option<Exemplar>,
    }

    #[derive(Clone, PartialEq, prost::Message)]
    pub(crate) struct BucketSpan {
        #[prost(sint32, optional, tag = "1")]
        pub(crate) offset: Option<i32>,
        #[prost(uint32, optional, tag = "2")]
        pub(crate) length: Option<u32>,
    }

    #[derive(Clone, PartialEq, prost::Message)]
    pub(crate) struct Exemplar {
        #[prost(message, repeated, tag = "1")]
        pub(crate) label: Vec<LabelPair>,
        #[prost(double, optional, tag = "2")]
        pub(crate) value: Option<f64>,
        #[prost(message, optional, tag = "3")]
        pub(crate) timestamp: Option<Timestamp>,
    }

    #[derive(Clone, PartialEq, prost::Message)]
    pub(crate) struct Timestamp {
        #[prost(int64, tag = "1")]
        pub(crate) seconds: i64,
        #[prost(int32, tag = "2")]
        pub(crate) nanos: i32,
    }

    #[derive(Clone, PartialEq, prost::Message)]
    pub(crate) struct Metric {
        #[prost(message, repeated, tag = "1")]
        pub(crate) label: Vec<LabelPair>,
        #[prost(message, optional, tag = "2")]
        pub(crate) gauge: Option<Gauge>,
        #[prost(message, optional, tag = "3")]
        pub(crate) counter: Option<Counter>,
        #[prost(message, optional, tag = "4")]
        pub(crate) summary: Option<Summary>,
        #[prost(message, optional, tag = "5")]
        pub(crate) untyped: Option<Untyped>,
        #[prost(message, optional, tag = "7")]
        pub(crate) histogram: Option<Histogram>,
        #[prost(int64, optional, tag = "6")]
        pub(crate) timestamp_ms: Option<i64>,
    }

    #[derive(Clone, PartialEq, prost::Message)]
    pub(crate) struct MetricFamily {
        #[prost(string, optional, tag = "1")]
        pub(crate) name: Option<String>,
        #[prost(string, optional, tag = "2")]
        pub(crate) help: Option<String>,
        #[prost(int32, optional, tag = "3")]
        pub(crate) r#type: Option<i32>,
        #[prost(message, repeated, tag = "4")]
        pub(crate) metric: Vec<Metric>,
        #[prost(string, optional, tag = "5")]
        pub(crate) unit: Option<String>,
    }
}

// ---- model -> prost, written independently of the encoder ----

fn ts(ms: i64) -> pb::Timestamp {
    pb::Timestamp {
        seconds: ms.div_euclid(1000),
        nanos: (ms.rem_euclid(1000) * 1_000_000) as i32,
    }
}

fn labels(l: &[(String, String)]) -> Vec<pb::LabelPair> {
    l.iter()
        .map(|(n, v)| pb::LabelPair {
            name: Some(n.clone()),
            value: Some(v.clone()),
        })
        .collect()
}

fn exemplar(e: &OwnedExemplar) -> pb::Exemplar {
    pb::Exemplar {
        label: labels(&e.labels),
        value: Some(e.value),
        timestamp: e.timestamp.map(ts),
    }
}

fn spans(s: &[Span]) -> Vec<pb::BucketSpan> {
    s.iter()
        .map(|s| pb::BucketSpan {
            offset: Some(s.offset),
            length: Some(s.length),
        })
        .collect()
}

fn to_prost_histogram(h: &Histogram) -> pb::Histogram {
    let mut p = pb::Histogram {
        sample_count: Some(h.count as u64),
        sample_sum: Some(h.sum),
        bucket: h
            .buckets
            .iter()
            .map(|b| pb::Bucket {
                cumulative_count: Some(b.cumulative_count as u64),
                upper_bound: Some(b.upper_bound),
                exemplar: b.exemplar.as_ref().map(exemplar),
                ..pb::Bucket::default()
            })
            .collect(),
        created_timestamp: h.created_ms.map(ts),
        exemplars: h.exemplars.iter().map(exemplar).collect(),
        ..pb::Histogram::default()
    };
    match &h.native {
        Some(NativeHistogram::Int(n)) => {
            p.sample_count = Some(n.count);
            p.schema = Some(n.schema);
            p.zero_threshold = Some(n.zero_threshold);
            p.zero_count = Some(n.zero_count);
            p.positive_span = spans(&n.positive_spans);
            p.negative_span = spans(&n.negative_spans);
            p.positive_delta = n.positive_buckets.clone();
            p.negative_delta = n.negative_buckets.clone();
        }
        Some(NativeHistogram::Float(n)) => {
            p.sample_count = None;
            p.sample_count_float = Some(n.count);
            p.schema = Some(n.schema);
            p.zero_threshold = Some(n.zero_threshold);
            p.zero_count_float = Some(n.zero_count);
            p.positive_span = spans(&n.positive_spans);
            p.negative_span = spans(&n.negative_spans);
            p.positive_count = n.positive_buckets.clone();
            p.negative_count = n.negative_buckets.clone();
        }
        None => {}
    }
    p
}

fn to_prost(families: &[MetricFamily]) -> Vec<pb::MetricFamily> {
    families
        .iter()
        .map(|f| pb::MetricFamily {
            name: Some(f.name.clone()),
            help: Some(f.help.clone()),
            r#type: Some(match f.kind {
                MetricType::Counter => 0,
                MetricType::Gauge => 1,
                MetricType::Summary => 2,
                MetricType::Histogram => 4,
                MetricType::GaugeHistogram => 5,
                _ => 3,
            }),
            unit: (!f.unit.is_empty()).then(|| f.unit.clone()),
            metric: f
                .metrics
                .iter()
                .map(|m| {
                    let mut p = pb::Metric {
                        label: labels(&m.labels),
                        timestamp_ms: m.timestamp_ms,
                        ..pb::Metric::default()
                    };
                    match &m.value {
                        MetricValue::Counter(c) => {
                            p.counter = Some(pb::Counter {
                                value: Some(c.value),
                                exemplar: c.exemplar.as_ref().map(exemplar),
                                created_timestamp: c.created_ms.map(ts),
                            });
                        }
                        MetricValue::Gauge(v) => p.gauge = Some(pb::Gauge { value: Some(*v) }),
                        MetricValue::Unknown(v) => {
                            p.untyped = Some(pb::Untyped { value: Some(*v) });
                        }
                        MetricValue::Summary(s) => {
                            p.summary = Some(pb::Summary {
                                sample_count: Some(s.count as u64),
                                sample_sum: Some(s.sum),
                                quantile: s
                                    .quantiles
                                    .iter()
                                    .map(|q| pb::Quantile {
                                        quantile: Some(q.quantile),
                                        value: Some(q.value),
                                    })
                                    .collect(),
                                created_timestamp: s.created_ms.map(ts),
                            });
                        }
                        MetricValue::Histogram(h) | MetricValue::GaugeHistogram(h) => {
                            p.histogram = Some(to_prost_histogram(h));
                        }
                        MetricValue::Info | MetricValue::Stateset(_) => {
                            unreachable!("projected away")
                        }
                    }
                    p
                })
                .collect(),
        })
        .collect()
}

// ---- prost -> model, with Prometheus's reading rules ----

fn from_ts(t: &pb::Timestamp) -> i64 {
    t.seconds * 1000 + i64::from(t.nanos / 1_000_000)
}

fn from_labels(l: &[pb::LabelPair]) -> Vec<(String, String)> {
    l.iter()
        .map(|p| {
            (
                p.name.clone().unwrap_or_default(),
                p.value.clone().unwrap_or_default(),
            )
        })
        .collect()
}

fn from_exemplar(e: &pb::Exemplar) -> OwnedExemplar {
    OwnedExemplar {
        labels: from_labels(&e.label),
        value: e.value.unwrap_or_default(),
        timestamp: e.timestamp.as_ref().map(from_ts),
    }
}

fn from_spans(s: &[pb::BucketSpan]) -> Vec<Span> {
    s.iter()
        .map(|s| Span {
            offset: s.offset.unwrap_or_default(),
            length: s.length.unwrap_or_default(),
        })
        .collect()
}

fn from_prost_histogram(p: &pb::Histogram, gauge: bool) -> Histogram {
    let count_float = p.sample_count_float.unwrap_or_default();
    let count = if count_float != 0.0 {
        count_float
    } else {
        p.sample_count.unwrap_or_default() as f64
    };
    let native = !p.positive_span.is_empty()
        || !p.negative_span.is_empty()
        || p.zero_threshold.unwrap_or_default() > 0.0
        || p.zero_count.unwrap_or_default() > 0
        || p.zero_count_float.unwrap_or_default() > 0.0;
    let float = count_float > 0.0
        || p.zero_count_float.unwrap_or_default() > 0.0
        || !p.positive_count.is_empty()
        || !p.negative_count.is_empty();
    let hint = if gauge {
        CounterResetHint::Gauge
    } else {
        CounterResetHint::Unknown
    };
    let native = native.then(|| {
        if float {
            NativeHistogram::Float(model::FloatHistogram {
                counter_reset_hint: hint,
                schema: p.schema.unwrap_or_default(),
                zero_threshold: p.zero_threshold.unwrap_or_default(),
                zero_count: p.zero_count_float.unwrap_or_default(),
                count: count_float,
                sum: p.sample_sum.unwrap_or_default(),
                positive_spans: from_spans(&p.positive_span),
                negative_spans: from_spans(&p.negative_span),
                positive_buckets: p.positive_count.clone(),
                negative_buckets: p.negative_count.clone(),
                custom_values: Vec::new(),
            })
        } else {
            NativeHistogram::Int(model::Histogram {
                counter_reset_hint: hint,
                schema: p.schema.unwrap_or_default(),
                zero_threshold: p.zero_threshold.unwrap_or_default(),
                zero_count: p.zero_count.unwrap_or_default(),
                count: p.sample_count.unwrap_or_default(),
                sum: p.sample_sum.unwrap_or_default(),
                positive_spans: from_spans(&p.positive_span),
                negative_spans: from_spans(&p.negative_span),
                positive_buckets: p.positive_delta.clone(),
                negative_buckets: p.negative_delta.clone(),
                custom_values: Vec::new(),
            })
        }
    });
    Histogram {
        count,
        sum: p.sample_sum.unwrap_or_default(),
        buckets: p
            .bucket
            .iter()
            .map(|b| {
                let f = b.cumulative_count_float.unwrap_or_default();
                Bucket {
                    upper_bound: b.upper_bound.unwrap_or_default(),
                    cumulative_count: if f != 0.0 {
                        f
                    } else {
                        b.cumulative_count.unwrap_or_default() as f64
                    },
                    exemplar: b.exemplar.as_ref().map(from_exemplar),
                }
            })
            .collect(),
        created_ms: p.created_timestamp.as_ref().map(from_ts),
        native,
        exemplars: p.exemplars.iter().map(from_exemplar).collect(),
    }
}

fn from_prost(families: &[pb::MetricFamily]) -> Vec<MetricFamily> {
    families
        .iter()
        .map(|f| {
            let kind = match f.r#type.unwrap_or_default() {
                0 => MetricType::Counter,
                1 => MetricType::Gauge,
                2 => MetricType::Summary,
                4 => MetricType::Histogram,
                5 => MetricType::GaugeHistogram,
                _ => MetricType::Unknown,
            };
            let metrics = f
                .metric
                .iter()
                .map(|m| Metric {
                    labels: from_labels(&m.label),
                    timestamp_ms: m.timestamp_ms,
                    value: match kind {
                        MetricType::Counter => {
                            let c = m.counter.clone().unwrap_or_default();
                            MetricValue::Counter(Counter {
                                value: c.value.unwrap_or_default(),
                                created_ms: c.created_timestamp.as_ref().map(from_ts),
                                exemplar: c.exemplar.as_ref().map(from_exemplar),
                            })
                        }
                        MetricType::Gauge => MetricValue::Gauge(
                            m.gauge.as_ref().and_then(|g| g.value).unwrap_or_default(),
                        ),
                        MetricType::Summary => {
                            let s = m.summary.clone().unwrap_or_default();
                            MetricValue::Summary(Summary {
                                count: s.sample_count.unwrap_or_default() as f64,
                                sum: s.sample_sum.unwrap_or_default(),
                                quantiles: s
                                    .quantile
                                    .iter()
                                    .map(|q| Quantile {
                                        quantile: q.quantile.unwrap_or_default(),
                                        value: q.value.unwrap_or_default(),
                                    })
                                    .collect(),
                                created_ms: s.created_timestamp.as_ref().map(from_ts),
                            })
                        }
                        MetricType::Histogram | MetricType::GaugeHistogram => {
                            let gauge = kind == MetricType::GaugeHistogram;
                            let h = from_prost_histogram(
                                &m.histogram.clone().unwrap_or_default(),
                                gauge,
                            );
                            if gauge {
                                MetricValue::GaugeHistogram(h)
                            } else {
                                MetricValue::Histogram(h)
                            }
                        }
                        _ => MetricValue::Unknown(
                            m.untyped.as_ref().and_then(|u| u.value).unwrap_or_default(),
                        ),
                    },
                })
                .collect();
            MetricFamily {
                name: f.name.clone().unwrap_or_default(),
                help: f.help.clone().unwrap_or_default(),
                unit: f.unit.clone().unwrap_or_default(),
                kind,
                metrics,
            }
        })
        .collect()
}

fn decode_all(mut bytes: &[u8]) -> Result<Vec<pb::MetricFamily>, prost::DecodeError> {
    let mut out = Vec::new();
    while !bytes.is_empty() {
        out.push(pb::MetricFamily::decode_length_delimited(&mut bytes)?);
    }
    Ok(out)
}

fn config() -> ProptestConfig {
    let cases = std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|c| c.parse().ok());
    ProptestConfig {
        cases: cases.unwrap_or(256),
        failure_persistence: None,
        ..ProptestConfig::default()
    }
}

proptest! {
    #![proptest_config(config())]

    /// Our encoder's bytes mean the same to prost.
    #[test]
    fn prost_reads_our_encoding(families in generate::families()) {
        let want = generate::project(&families, Format::Protobuf);
        let mut bytes = Vec::new();
        encode_protobuf(&families, &mut bytes);
        let decoded = decode_all(&bytes).map_err(|e| TestCaseError::fail(e.to_string()))?;
        generate::same(&want, &from_prost(&decoded)).map_err(TestCaseError::fail)?;
    }

    /// prost's bytes (unpacked repeated scalars, every field present) parse
    /// into the same families.
    #[test]
    fn we_read_prost_encoding(families in generate::families()) {
        let want = generate::project(&families, Format::Protobuf);
        let mut bytes = Vec::new();
        for f in to_prost(&want) {
            f.encode_length_delimited(&mut bytes).unwrap();
        }
        let mut p = ProtobufParser::new(&bytes).with_classic_histograms(true);
        let got = MetricFamily::collect(&mut p, Format::Protobuf)
            .map_err(|e| TestCaseError::fail(e.to_string()))?;
        generate::same(&want, &got).map_err(TestCaseError::fail)?;
    }
}

/// A family as client_golang builds it, field by field.
#[test]
fn parses_a_client_golang_style_histogram() {
    let family = pb::MetricFamily {
        name: Some("http_request_duration_seconds".to_string()),
        help: Some("Request latency.".to_string()),
        r#type: Some(4),
        unit: None,
        metric: vec![pb::Metric {
            label: labels(&[("code".to_string(), "200".to_string())]),
            histogram: Some(pb::Histogram {
                sample_count: Some(3),
                sample_sum: Some(0.75),
                bucket: vec![
                    pb::Bucket {
                        cumulative_count: Some(1),
                        upper_bound: Some(0.1),
                        ..pb::Bucket::default()
                    },
                    pb::Bucket {
                        cumulative_count: Some(3),
                        upper_bound: Some(1.0),
                        exemplar: Some(pb::Exemplar {
                            label: labels(&[("trace_id".to_string(), "4bf9".to_string())]),
                            value: Some(0.5),
                            timestamp: Some(ts(1_700_000_000_250)),
                        }),
                        ..pb::Bucket::default()
                    },
                ],
                created_timestamp: Some(ts(1_600_000_000_000)),
                ..pb::Histogram::default()
            }),
            ..pb::Metric::default()
        }],
    };
    let bytes = family.encode_length_delimited_to_vec();
    let mut p = ProtobufParser::new(&bytes);
    let got = MetricFamily::collect(&mut p, Format::Protobuf).unwrap();
    // As prost reads it, plus the +Inf bucket Prometheus synthesizes from
    // the count.
    let mut want = from_prost(&[family]);
    let MetricValue::Histogram(h) = &mut want[0].metrics[0].value else {
        panic!("{want:?}");
    };
    assert_eq!(h.created_ms, Some(1_600_000_000_000));
    assert_eq!(
        h.buckets[1].exemplar.as_ref().unwrap().timestamp,
        Some(1_700_000_000_250)
    );
    h.buckets.push(Bucket {
        upper_bound: f64::INFINITY,
        cumulative_count: 3.0,
        exemplar: None,
    });
    assert_eq!(got, want);
}
