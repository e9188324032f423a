use super::*;
use crate::family::{Bucket, Counter, Histogram, Metric, MetricValue, Quantile, Summary};
use crate::{MetricFamily, MetricType, OwnedExemplar};

fn fam(name: &str, help: &str, kind: MetricType, metrics: Vec<Metric>) -> MetricFamily {
    MetricFamily {
        name: name.to_string(),
        help: help.to_string(),
        unit: String::new(),
        kind,
        metrics,
    }
}

fn metric(labels: &[(&str, &str)], value: MetricValue, ts: Option<i64>) -> Metric {
    Metric {
        labels: labels
            .iter()
            .map(|(n, v)| (n.to_string(), v.to_string()))
            .collect(),
        value,
        timestamp_ms: ts,
    }
}

#[track_caller]
fn check(families: &[MetricFamily], text: &str, openmetrics: &str) {
    let mut got = String::new();
    encode_text(families, &mut got);
    assert_eq!(got, text.trim_start(), "text:\n{got}");
    got.clear();
    encode_openmetrics(families, &mut got);
    assert_eq!(got, openmetrics.trim_start(), "openmetrics:\n{got}");
}

fn counter(value: f64, created_ms: Option<i64>, exemplar: Option<OwnedExemplar>) -> MetricValue {
    MetricValue::Counter(Counter {
        value,
        created_ms,
        exemplar,
    })
}

#[test]
fn counters_and_escaping() {
    let ex = OwnedExemplar {
        labels: vec![("trace_id".to_string(), "a\"b".to_string())],
        value: 1.0,
        timestamp: Some(1_700_000_000_123),
    };
    check(
        &[
            fam(
                "http_requests_total",
                "Requests \"served\"\\\nby path.",
                MetricType::Counter,
                vec![
                    metric(
                        &[("path", "/a\"b\\c\nd")],
                        counter(1027.0, Some(1_600_000_000_500), Some(ex)),
                        None,
                    ),
                    metric(&[], counter(3e6, None, None), Some(1_700_000_000_000)),
                ],
            ),
            fam(
                "plain",
                "",
                MetricType::Counter,
                vec![metric(&[], counter(0.5, Some(2000), None), None)],
            ),
        ],
        r#"
# HELP http_requests_total Requests "served"\\\nby path.
# TYPE http_requests_total counter
http_requests_total{path="/a\"b\\c\nd"} 1027
http_requests_total 3e+06 1700000000000
# TYPE plain counter
plain 0.5
"#,
        r#"
# HELP http_requests Requests \"served\"\\\nby path.
# TYPE http_requests counter
http_requests_total{path="/a\"b\\c\nd"} 1027.0 # {trace_id="a\"b"} 1.0 1.700000000123e+09
http_requests_created{path="/a\"b\\c\nd"} 1.6000000005e+09
http_requests_total 3e+06 1.7e+09
# TYPE plain unknown
plain 0.5
plain_created 2.0
# EOF
"#,
    );
}

#[test]
fn gauges_untyped_and_utf8_names() {
    check(
        &[
            fam(
                "temp",
                "t",
                MetricType::Gauge,
                vec![
                    metric(&[("a", "1")], MetricValue::Gauge(f64::NEG_INFINITY), None),
                    metric(&[], MetricValue::Gauge(-0.0), None),
                    metric(&[], MetricValue::Gauge(f64::NAN), None),
                ],
            ),
            fam(
                "my.metric",
                "",
                MetricType::Unknown,
                vec![
                    metric(&[("label.name", "v")], MetricValue::Unknown(1.0), None),
                    metric(&[], MetricValue::Unknown(0.001), None),
                ],
            ),
        ],
        r#"
# HELP temp t
# TYPE temp gauge
temp{a="1"} -Inf
temp 0
temp NaN
# TYPE "my.metric" untyped
{"my.metric","label.name"="v"} 1
{"my.metric"} 0.001
"#,
        r#"
# HELP temp t
# TYPE temp gauge
temp{a="1"} -Inf
temp 0.0
temp NaN
# TYPE "my.metric" unknown
{"my.metric","label.name"="v"} 1.0
{"my.metric"} 0.001
# EOF
"#,
    );
}

#[test]
fn summaries_and_histograms() {
    let summary = Summary {
        count: 1_234_567.0,
        sum: 0.25,
        quantiles: vec![
            Quantile {
                quantile: 0.5,
                value: 1.0,
            },
            Quantile {
                quantile: 1.0,
                value: 2.0,
            },
        ],
        created_ms: Some(1000),
    };
    let hist = Histogram {
        count: 5.0,
        sum: 2.5,
        buckets: vec![
            Bucket {
                upper_bound: 0.1,
                cumulative_count: 1.0,
                exemplar: Some(OwnedExemplar {
                    labels: vec![("id".to_string(), "x".to_string())],
                    value: 0.05,
                    timestamp: None,
                }),
            },
            Bucket {
                upper_bound: 10.0,
                cumulative_count: 4.0,
                exemplar: Some(OwnedExemplar::default()),
            },
        ],
        created_ms: Some(1500),
        ..Histogram::default()
    };
    let gauge_hist = Histogram {
        count: 2.0,
        sum: -1.0,
        buckets: vec![Bucket {
            upper_bound: f64::INFINITY,
            cumulative_count: 2.0,
            exemplar: None,
        }],
        ..Histogram::default()
    };
    check(
        &[
            fam(
                "rpc",
                "",
                MetricType::Summary,
                vec![metric(
                    &[("m", "get")],
                    MetricValue::Summary(summary),
                    Some(5),
                )],
            ),
            fam(
                "lat",
                "",
                MetricType::Histogram,
                vec![metric(&[], MetricValue::Histogram(hist), None)],
            ),
            fam(
                "q",
                "",
                MetricType::GaugeHistogram,
                vec![metric(
                    &[("k", "v")],
                    MetricValue::GaugeHistogram(gauge_hist),
                    None,
                )],
            ),
        ],
        r#"
# TYPE rpc summary
rpc{m="get",quantile="0.5"} 1 5
rpc{m="get",quantile="1"} 2 5
rpc_sum{m="get"} 0.25 5
rpc_count{m="get"} 1.234567e+06 5
# TYPE lat histogram
lat_bucket{le="0.1"} 1
lat_bucket{le="10"} 4
lat_bucket{le="+Inf"} 5
lat_sum 2.5
lat_count 5
# TYPE q histogram
q_bucket{k="v",le="+Inf"} 2
q_sum{k="v"} -1
q_count{k="v"} 2
"#,
        r#"
# TYPE rpc summary
rpc{m="get",quantile="0.5"} 1.0 0.005
rpc{m="get",quantile="1.0"} 2.0 0.005
rpc_sum{m="get"} 0.25 0.005
rpc_count{m="get"} 1234567 0.005
rpc_created{m="get"} 1.0 0.005
# TYPE lat histogram
lat_bucket{le="0.1"} 1 # {id="x"} 0.05
lat_bucket{le="10.0"} 4
lat_bucket{le="+Inf"} 5
lat_sum 2.5
lat_count 5
lat_created 1.5
# TYPE q gaugehistogram
q_bucket{k="v",le="+Inf"} 2
q_gsum{k="v"} -1.0
q_gcount{k="v"} 2
# EOF
"#,
    );
}

#[test]
fn info_stateset_units_and_empty_families() {
    let mut with_unit = fam(
        "req_seconds_total",
        "",
        MetricType::Counter,
        vec![metric(&[], counter(1.0, None, None), None)],
    );
    with_unit.unit = "seconds".to_string();
    check(
        &[
            fam(
                "build",
                "Build info.",
                MetricType::Info,
                vec![metric(&[("version", "1.2")], MetricValue::Info, None)],
            ),
            fam(
                "state",
                "",
                MetricType::Stateset,
                vec![metric(
                    &[("x", "y")],
                    MetricValue::Stateset(vec![("a".to_string(), true), ("b".to_string(), false)]),
                    None,
                )],
            ),
            with_unit,
            fam("none", "nothing", MetricType::Gauge, vec![]),
        ],
        r#"
# HELP build_info Build info.
# TYPE build_info gauge
build_info{version="1.2"} 1
# TYPE state gauge
state{x="y",state="a"} 1
state{x="y",state="b"} 0
# TYPE req_seconds_total counter
req_seconds_total 1
"#,
        r#"
# HELP build Build info.
# TYPE build info
build_info{version="1.2"} 1
# TYPE state stateset
state{x="y",state="a"} 1
state{x="y",state="b"} 0
# TYPE req_seconds counter
# UNIT req_seconds seconds
req_seconds_total 1.0
# HELP none nothing
# TYPE none gauge
# EOF
"#,
    );
}

#[track_caller]
fn check_name(name: &str, legacy: bool) {
    assert_eq!(is_legacy_name(name), legacy, "{name:?}");
}

#[test]
fn legacy_names() {
    check_name("a", true);
    check_name("_a:b_1", true);
    check_name(":x", true);
    check_name("", false);
    check_name("1a", false);
    check_name("a.b", false);
    check_name("é", false);
}
