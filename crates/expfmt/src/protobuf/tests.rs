use super::*;
use crate::encode_protobuf;
use crate::family::{
    Bucket, Counter, Histogram as ClassicHistogram, Metric, MetricFamily, MetricValue,
    NativeHistogram, Quantile, Summary,
};
use model::histogram::Span;
use std::fmt::Write as _;

/// Renders every entry (or the error that ends the stream) as one line.
fn render(input: &[u8], classic: bool) -> String {
    let mut p = ProtobufParser::new(input).with_classic_histograms(classic);
    let mut out = Vec::new();
    while let Some(e) = p.next() {
        let line = match e {
            Err(e) => {
                out.push(format!("error at {}: {}", e.position.offset, e.message));
                break;
            }
            Ok(Entry::Help { metric, text }) => format!("HELP {metric} {text}"),
            Ok(Entry::Type { metric, kind }) => format!("TYPE {metric} {kind}"),
            Ok(Entry::Unit { metric, unit }) => format!("UNIT {metric} {unit}"),
            Ok(Entry::Comment(c)) => format!("COMMENT {c}"),
            Ok(Entry::Sample(s)) => {
                let mut l = format!("{}{} {:?}", s.name, labels(&s.labels), s.value);
                if let Some(t) = s.timestamp {
                    let _ = write!(l, " @{t}");
                }
                if let Some(c) = s.created_timestamp {
                    let _ = write!(l, " ct={c}");
                }
                if let Some(e) = s.exemplar {
                    let _ = write!(l, " # {} {:?}", labels(&e.labels), e.value);
                    if let Some(t) = e.timestamp {
                        let _ = write!(l, " @{t}");
                    }
                }
                l
            }
            Ok(Entry::Histogram(h)) => {
                let mut l = format!("{}{} ", h.name, labels(&h.labels));
                match h.value {
                    HistogramValue::Int(n) => {
                        let _ = write!(
                            l,
                            "int schema={} zt={} zc={} count={} sum={} pos={:?}{:?} neg={:?}{:?} hint={:?}",
                            n.schema,
                            n.zero_threshold,
                            n.zero_count,
                            n.count,
                            n.sum,
                            spans(&n.positive_spans),
                            n.positive_buckets,
                            spans(&n.negative_spans),
                            n.negative_buckets,
                            n.counter_reset_hint
                        );
                    }
                    HistogramValue::Float(n) => {
                        let _ = write!(
                            l,
                            "float schema={} zt={} zc={} count={} sum={} pos={:?}{:?} neg={:?}{:?}",
                            n.schema,
                            n.zero_threshold,
                            n.zero_count,
                            n.count,
                            n.sum,
                            spans(&n.positive_spans),
                            n.positive_buckets,
                            spans(&n.negative_spans),
                            n.negative_buckets,
                        );
                    }
                }
                if let Some(t) = h.timestamp {
                    let _ = write!(l, " @{t}");
                }
                if let Some(c) = h.created_timestamp {
                    let _ = write!(l, " ct={c}");
                }
                for e in h.exemplars {
                    let _ = write!(l, " # {:?} {:?} @{:?}", e.labels, e.value, e.timestamp);
                }
                l
            }
        };
        out.push(line);
    }
    out.join("\n")
}

fn labels(l: &LabelsView<'_>) -> String {
    let pairs: Vec<String> = l.iter().map(|(n, v)| format!("{n}={v:?}")).collect();
    format!("{{{}}}", pairs.join(","))
}

fn spans(s: &[Span]) -> Vec<(i32, u32)> {
    s.iter().map(|s| (s.offset, s.length)).collect()
}

fn encode(families: &[MetricFamily]) -> Vec<u8> {
    let mut out = Vec::new();
    encode_protobuf(families, &mut out);
    out
}

fn fam(name: &str, kind: MetricType, metrics: Vec<Metric>) -> MetricFamily {
    MetricFamily {
        name: name.to_string(),
        help: format!("{name} help"),
        unit: String::new(),
        kind,
        metrics,
    }
}

fn metric(labels: &[(&str, &str)], value: MetricValue) -> Metric {
    Metric {
        labels: labels
            .iter()
            .map(|(n, v)| (n.to_string(), v.to_string()))
            .collect(),
        value,
        timestamp_ms: None,
    }
}

fn ex(labels: &[(&str, &str)], value: f64, ts: Option<i64>) -> OwnedExemplar {
    OwnedExemplar {
        labels: labels
            .iter()
            .map(|(n, v)| (n.to_string(), v.to_string()))
            .collect(),
        value,
        timestamp: ts,
    }
}

#[track_caller]
fn check(families: &[MetricFamily], classic: bool, want: &str) {
    let got = render(&encode(families), classic);
    assert_eq!(got, want.trim(), "\ngot:\n{got}\nwant:\n{}", want.trim());
}

#[track_caller]
fn check_bytes(input: &[u8], want: &str) {
    let got = render(input, false);
    assert_eq!(got, want.trim(), "\ngot:\n{got}\nwant:\n{}", want.trim());
}

fn counter(v: f64) -> MetricValue {
    MetricValue::Counter(Counter {
        value: v,
        ..Counter::default()
    })
}

fn classic(count: f64, sum: f64, buckets: &[(f64, f64)]) -> ClassicHistogram {
    ClassicHistogram {
        count,
        sum,
        buckets: buckets
            .iter()
            .map(|&(upper_bound, cumulative_count)| Bucket {
                upper_bound,
                cumulative_count,
                exemplar: None,
            })
            .collect(),
        ..ClassicHistogram::default()
    }
}

fn native() -> model::Histogram {
    model::Histogram {
        schema: 3,
        zero_threshold: 0.001,
        zero_count: 1,
        count: 6,
        sum: 12.5,
        positive_spans: vec![
            Span {
                offset: -2,
                length: 2,
            },
            Span {
                offset: 3,
                length: 1,
            },
        ],
        positive_buckets: vec![1, 1, -1],
        negative_spans: vec![Span {
            offset: 0,
            length: 1,
        }],
        negative_buckets: vec![2],
        ..model::Histogram::default()
    }
}

#[test]
fn scalar_types() {
    let mut c = metric(&[("path", "/a"), ("code", "200")], counter(17.0));
    c.timestamp_ms = Some(1234);
    let mut with_ex = metric(
        &[],
        MetricValue::Counter(Counter {
            value: 2.5,
            created_ms: Some(1_700_000_000_123),
            exemplar: Some(ex(&[("trace_id", "abc")], 0.5, Some(1_700_000_000_500))),
        }),
    );
    with_ex.timestamp_ms = Some(0);
    check(
        &[
            fam("requests_total", MetricType::Counter, vec![c, with_ex]),
            fam(
                "temp",
                MetricType::Gauge,
                vec![metric(&[], MetricValue::Gauge(f64::NAN))],
            ),
            fam(
                "x",
                MetricType::Unknown,
                vec![metric(&[("a", "")], MetricValue::Unknown(-0.0))],
            ),
        ],
        false,
        r#"
HELP requests_total requests_total help
TYPE requests_total counter
requests_total{path="/a",code="200"} 17.0 @1234
requests_total{} 2.5 ct=1700000000123 # {trace_id="abc"} 0.5 @1700000000500
HELP temp temp help
TYPE temp gauge
temp{} NaN
HELP x x help
TYPE x unknown
x{a=""} -0.0
"#,
    );
}

#[test]
fn summaries() {
    let s = Summary {
        count: 10.0,
        sum: 3.5,
        quantiles: vec![
            Quantile {
                quantile: 0.5,
                value: 0.25,
            },
            Quantile {
                quantile: 1.0,
                value: 0.75,
            },
        ],
        created_ms: Some(5000),
    };
    let empty = Summary::default();
    check(
        &[fam(
            "rpc_seconds",
            MetricType::Summary,
            vec![
                metric(&[("m", "get")], MetricValue::Summary(s)),
                metric(&[("m", "put")], MetricValue::Summary(empty)),
            ],
        )],
        false,
        r#"
HELP rpc_seconds rpc_seconds help
TYPE rpc_seconds summary
rpc_seconds_count{m="get"} 10.0 ct=5000
rpc_seconds_sum{m="get"} 3.5 ct=5000
rpc_seconds{m="get",quantile="0.5"} 0.25 ct=5000
rpc_seconds{m="get",quantile="1.0"} 0.75 ct=5000
rpc_seconds_count{m="put"} 0.0
rpc_seconds_sum{m="put"} 0.0
"#,
    );
}

#[test]
fn classic_histograms() {
    let mut with_ex = classic(5.0, 2.0, &[(0.1, 1.0), (1e6, 4.0)]);
    with_ex.buckets[1].exemplar = Some(ex(&[("id", "x")], 7.0, None));
    let with_inf = classic(3.0, 1.0, &[(1.0, 2.0), (f64::INFINITY, 3.0), (5.0, 9.0)]);
    let float_counts = classic(2.5, 1.0, &[(1.0, 0.5)]);
    check(
        &[fam(
            "lat",
            MetricType::Histogram,
            vec![
                metric(&[], MetricValue::Histogram(with_ex)),
                metric(&[("a", "b")], MetricValue::Histogram(with_inf)),
                metric(&[], MetricValue::Histogram(float_counts)),
                metric(&[], MetricValue::Histogram(ClassicHistogram::default())),
            ],
        )],
        false,
        r#"
HELP lat lat help
TYPE lat histogram
lat_count{} 5.0
lat_sum{} 2.0
lat_bucket{le="0.1"} 1.0
lat_bucket{le="1e+06"} 4.0 # {id="x"} 7.0
lat_bucket{le="+Inf"} 5.0
lat_count{a="b"} 3.0
lat_sum{a="b"} 1.0
lat_bucket{a="b",le="1.0"} 2.0
lat_bucket{a="b",le="+Inf"} 3.0
lat_count{} 2.5
lat_sum{} 1.0
lat_bucket{le="1.0"} 0.5
lat_bucket{le="+Inf"} 2.5
lat_count{} 0.0
lat_sum{} 0.0
lat_bucket{le="+Inf"} 0.0
"#,
    );
}

fn with_native(n: NativeHistogram) -> ClassicHistogram {
    ClassicHistogram {
        native: Some(n),
        ..ClassicHistogram::default()
    }
}

#[test]
fn native_histograms() {
    let mut both = classic(6.0, 12.5, &[(1.0, 4.0)]);
    both.native = Some(NativeHistogram::Int(native()));
    both.exemplars = vec![
        ex(&[("t", "1")], 1.5, Some(99)),
        ex(&[("t", "2")], 2.5, None),
    ];
    let float = with_native(NativeHistogram::Float(model::FloatHistogram {
        schema: -1,
        count: 2.5,
        sum: 1.0,
        positive_spans: vec![Span {
            offset: 1,
            length: 1,
        }],
        positive_buckets: vec![2.5],
        ..model::FloatHistogram::default()
    }));
    let empty = with_native(NativeHistogram::Int(model::Histogram::default()));
    let mut bucket_ex = classic(6.0, 12.5, &[(1.0, 4.0), (2.0, 5.0)]);
    bucket_ex.native = Some(NativeHistogram::Int(native()));
    bucket_ex.buckets[0].exemplar = Some(ex(&[("b", "0")], 0.5, None));
    bucket_ex.buckets[1].exemplar = Some(ex(&[("b", "1")], 1.5, Some(7)));
    let families = [
        fam(
            "h",
            MetricType::Histogram,
            vec![
                metric(&[("k", "v")], MetricValue::Histogram(both)),
                metric(&[], MetricValue::Histogram(float)),
                metric(&[], MetricValue::Histogram(empty)),
                metric(&[], MetricValue::Histogram(bucket_ex)),
            ],
        ),
        fam(
            "g",
            MetricType::GaugeHistogram,
            vec![metric(
                &[],
                MetricValue::GaugeHistogram(with_native(NativeHistogram::Int(native()))),
            )],
        ),
    ];
    let native_line = "int schema=3 zt=0.001 zc=1 count=6 sum=12.5 pos=[(-2, 2), (3, 1)][1, 1, -1] neg=[(0, 1)][2]";
    check(
        &families,
        false,
        &format!(
            r#"
HELP h h help
TYPE h histogram
h{{k="v"}} {native_line} hint=Unknown # [("t", "1")] 1.5 @Some(99)
h{{}} float schema=-1 zt=0 zc=0 count=2.5 sum=1 pos=[(1, 1)][2.5] neg=[][]
h{{}} int schema=0 zt=0 zc=0 count=0 sum=0 pos=[(0, 0)][] neg=[][] hint=Unknown
h{{}} {native_line} hint=Unknown # [("b", "1")] 1.5 @Some(7)
HELP g g help
TYPE g gaugehistogram
g{{}} {native_line} hint=Gauge
"#
        ),
    );
    check(
        &families[..1],
        true,
        &format!(
            r#"
HELP h h help
TYPE h histogram
h{{k="v"}} {native_line} hint=Unknown # [("t", "1")] 1.5 @Some(99)
h_count{{k="v"}} 6.0
h_sum{{k="v"}} 12.5
h_bucket{{k="v",le="1.0"}} 4.0
h_bucket{{k="v",le="+Inf"}} 6.0
h{{}} float schema=-1 zt=0 zc=0 count=2.5 sum=1 pos=[(1, 1)][2.5] neg=[][]
h{{}} int schema=0 zt=0 zc=0 count=0 sum=0 pos=[(0, 0)][] neg=[][] hint=Unknown
h{{}} {native_line} hint=Unknown # [("b", "1")] 1.5 @Some(7)
h_count{{}} 6.0
h_sum{{}} 12.5
h_bucket{{le="1.0"}} 4.0 # {{b="0"}} 0.5
h_bucket{{le="2.0"}} 5.0 # {{b="1"}} 1.5 @7
h_bucket{{le="+Inf"}} 6.0
"#
        ),
    );
}

#[test]
fn families_units_and_empties() {
    let mut with_unit = fam(
        "up_seconds_total",
        MetricType::Counter,
        vec![metric(&[], counter(1.0))],
    );
    with_unit.unit = "seconds".to_string();
    with_unit.help = String::new();
    check(
        &[
            fam("empty", MetricType::Gauge, vec![]),
            with_unit,
            fam(
                "g",
                MetricType::Gauge,
                vec![metric(&[], MetricValue::Gauge(1.0))],
            ),
        ],
        false,
        r#"
HELP up_seconds_total 
UNIT up_seconds_total seconds
TYPE up_seconds_total counter
up_seconds_total{} 1.0
HELP g g help
TYPE g gauge
g{} 1.0
"#,
    );
    let mut bad_unit = fam(
        "up_total",
        MetricType::Counter,
        vec![metric(&[], counter(1.0))],
    );
    bad_unit.unit = "seconds".to_string();
    let bytes = encode(&[bad_unit]);
    assert_eq!(
        render(&bytes, false),
        format!(
            "error at {}: read MetricFamily: unit \"seconds\" not a suffix of metric \"up_total\"",
            bytes.len() - "seconds".len()
        )
    );
}

#[test]
fn labels_outside_the_fast_path() {
    // A 200-byte value has a two-byte length prefix (not ASCII), so the label
    // region is not UTF-8 as a whole and labels are copied.
    let long = "é".repeat(100);
    let families = [fam(
        "s",
        MetricType::Summary,
        vec![metric(
            &[("a", "1"), ("long", &long), ("z", "ü")],
            MetricValue::Summary(Summary {
                count: 1.0,
                sum: 2.0,
                quantiles: vec![Quantile {
                    quantile: 0.99,
                    value: 3.0,
                }],
                created_ms: None,
            }),
        )],
    )];
    let l = format!("a=\"1\",long={long:?},z=\"ü\"");
    check(
        &families,
        false,
        &format!(
            r#"
HELP s s help
TYPE s summary
s_count{{{l}}} 1.0
s_sum{{{l}}} 2.0
s{{{l},quantile="0.99"}} 3.0
"#
        ),
    );
}

#[test]
fn series_keys_are_distinct_and_stable() {
    let families = [fam(
        "h",
        MetricType::Histogram,
        vec![
            metric(
                &[("a", "1")],
                MetricValue::Histogram(classic(1.0, 1.0, &[(1.0, 1.0)])),
            ),
            metric(
                &[("a", "2")],
                MetricValue::Histogram(classic(1.0, 1.0, &[(1.0, 1.0)])),
            ),
        ],
    )];
    let bytes = encode(&families);
    let keys = || {
        let mut p = ProtobufParser::new(&bytes);
        let mut keys = Vec::new();
        while let Some(e) = p.next() {
            if let Entry::Sample(s) = e.unwrap() {
                keys.push(s.series.to_vec());
            }
        }
        keys
    };
    let first = keys();
    assert_eq!(first.len(), 8);
    let mut unique = first.clone();
    unique.sort();
    unique.dedup();
    assert_eq!(unique.len(), 8);
    assert_eq!(first, keys());
    assert_eq!(first[2], b"\xffa\xff1\xfeh_bucket\xffle\xff1.0".to_vec());
}

/// A family message with the given body, length-prefixed.
fn delimited(body: &[u8]) -> Vec<u8> {
    let mut out = vec![body.len() as u8];
    out.extend_from_slice(body);
    out
}

#[test]
fn malformed_input() {
    // name "g", type GAUGE, metric { label { name "a" value <bad> } gauge {value 1} }
    let gauge_with_value = |value: &[u8]| {
        let mut label = vec![0x0a, 1, b'a', 0x12, value.len() as u8];
        label.extend_from_slice(value);
        let mut metric = vec![0x0a, label.len() as u8];
        metric.extend_from_slice(&label);
        metric.extend_from_slice(&[0x12, 9, 0x09, 0, 0, 0, 0, 0, 0, 0xf0, 0x3f]);
        let mut fam = vec![0x0a, 1, b'g', 0x18, 1, 0x22, metric.len() as u8];
        fam.extend_from_slice(&metric);
        delimited(&fam)
    };
    check_bytes(
        &gauge_with_value(b"ok"),
        "HELP g \nTYPE g gauge\ng{a=\"ok\"} 1.0",
    );
    check_bytes(
        &gauge_with_value(b"\xff"),
        "HELP g \nTYPE g gauge\nerror at 15: read LabelPair.value: invalid UTF-8",
    );
    check_bytes(
        &[0x05, 0x0a],
        "error at 0: read length-delimited field: length 5 exceeds the 1 bytes left",
    );
    check_bytes(&[0x80], "error at 0: read varint: unexpected end of input");
    check_bytes(
        &delimited(&[0x0a, 0x05, b'a']),
        "error at 2: read length-delimited field: length 5 exceeds the 1 bytes left",
    );
    check_bytes(
        &delimited(&[0x18, 0x09, 0x22, 0x00]),
        "error at 1: read MetricFamily.type: unknown metric type 9",
    );
    check_bytes(
        &delimited(&[0x0d, 0, 0, 0, 0]),
        "error at 1: read MetricFamily.name: wrong wire type 5",
    );
    check_bytes(
        &delimited(&[0x22, 0x00]),
        "error at 0: read MetricFamily: invalid metric name \"\"",
    );
    check_bytes(
        &delimited(&[0x0a, 1, 0xff, 0x22, 0x00]),
        "error at 3: read MetricFamily.name: invalid UTF-8",
    );
    check_bytes(
        &delimited(&[0x00]),
        "error at 1: read tag: invalid field number 0",
    );
    check_bytes(
        &delimited(&[0x0f]),
        "error at 1: read tag: invalid wire type 7",
    );
    // Empty families are skipped without validation, as Prometheus does.
    check_bytes(&delimited(&[0x18, 0x01]), "");
    check_bytes(&[], "");
    // Unknown fields, including groups, are skipped.
    check_bytes(
        &delimited(&[
            0x0a, 1, b'g', 0x18, 1, 0x33, 0x38, 0x01, 0x34, 0x22, 0x00, 0x78, 0x05,
        ]),
        "HELP g \nTYPE g gauge\ng{} 0.0",
    );
}

#[test]
fn truncation_never_panics() {
    let mut h = classic(5.0, 2.0, &[(0.1, 1.0)]);
    h.native = Some(NativeHistogram::Int(native()));
    h.exemplars = vec![ex(&[("t", "1")], 1.0, Some(5))];
    let families = [
        fam(
            "c_total",
            MetricType::Counter,
            vec![metric(&[("a", "b")], counter(1.0))],
        ),
        fam(
            "h",
            MetricType::Histogram,
            vec![metric(&[("x", "y")], MetricValue::Histogram(h))],
        ),
    ];
    let bytes = encode(&families);
    let first_family = 1 + usize::from(bytes[0]);
    let full = render(&bytes, true);
    assert!(!full.contains("error"), "{full}");
    for cut in 0..bytes.len() {
        for classic in [false, true] {
            let got = render(&bytes[..cut], classic);
            // Entries of complete families come out; the cut one errors.
            if cut > 0 && cut != first_family {
                assert!(got.contains("error at"), "cut at {cut}: {got}");
            }
        }
        // Flipping bytes must not panic either.
        let mut flipped = bytes.clone();
        flipped[cut] ^= 0xa5;
        let _ = render(&flipped, true);
    }
}
