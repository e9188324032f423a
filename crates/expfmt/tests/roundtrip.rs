//! Property-based round trips: random valid metric families → encoder →
//! parser → `MetricFamily::collect` → equal to what the format can carry of
//! the input (NaNs equal, -0 equal to 0), for protobuf, text 0.0.4 and
//! OpenMetrics.

#![allow(clippy::unwrap_used)]

#[path = "roundtrip/gen.rs"]
mod generate;

use expfmt::openmetrics::OpenMetricsParser;
use expfmt::protobuf::ProtobufParser;
use expfmt::text::TextParser;
use expfmt::{Format, MetricFamily, encode_openmetrics, encode_protobuf, encode_text};
use proptest::prelude::*;

/// 256 cases, or `PROPTEST_CASES`.
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

    #[test]
    fn protobuf(families in generate::families()) {
        let mut bytes = Vec::new();
        encode_protobuf(&families, &mut bytes);
        let mut p = ProtobufParser::new(&bytes).with_classic_histograms(true);
        let got = MetricFamily::collect(&mut p, Format::Protobuf)
            .map_err(|e| TestCaseError::fail(e.to_string()))?;
        let want = generate::project(&families, Format::Protobuf);
        generate::same(&want, &got).map_err(TestCaseError::fail)?;
    }

    #[test]
    fn text(families in generate::families()) {
        let mut out = String::new();
        encode_text(&families, &mut out);
        let mut p = TextParser::new(out.as_bytes()).map_err(|e| TestCaseError::fail(e.to_string()))?;
        let got = MetricFamily::collect(&mut p, Format::Text)
            .map_err(|e| TestCaseError::fail(format!("{e}\n{out}")))?;
        let want = generate::project(&families, Format::Text);
        generate::same(&want, &got).map_err(|e| TestCaseError::fail(format!("{e}\nexposition:\n{out}")))?;
    }

    #[test]
    fn openmetrics(families in generate::families()) {
        let families = generate::openmetrics_valid(&families);
        let mut out = String::new();
        encode_openmetrics(&families, &mut out);
        let mut p = OpenMetricsParser::new(out.as_bytes()).map_err(|e| TestCaseError::fail(e.to_string()))?;
        let got = MetricFamily::collect(&mut p, Format::OpenMetrics)
            .map_err(|e| TestCaseError::fail(format!("{e}\n{out}")))?;
        let want = generate::project(&families, Format::OpenMetrics);
        generate::same(&want, &got).map_err(|e| TestCaseError::fail(format!("{e}\nexposition:\n{out}")))?;
    }
}

/// The default parser mode drops the classic part of a histogram that is
/// also native; with the option on, both come back.
#[test]
fn classic_part_of_native_histograms_is_optional() {
    use expfmt::family::{Bucket, Histogram, Metric, MetricValue, NativeHistogram};
    let native = model::Histogram {
        count: 3,
        sum: 1.5,
        schema: 0,
        positive_spans: vec![model::histogram::Span {
            offset: 0,
            length: 1,
        }],
        positive_buckets: vec![3],
        ..model::Histogram::default()
    };
    let h = Histogram {
        count: 3.0,
        sum: 1.5,
        buckets: vec![Bucket {
            upper_bound: f64::INFINITY,
            cumulative_count: 3.0,
            exemplar: None,
        }],
        native: Some(NativeHistogram::Int(native)),
        ..Histogram::default()
    };
    let families = vec![MetricFamily {
        name: "h".to_string(),
        kind: expfmt::MetricType::Histogram,
        metrics: vec![Metric {
            labels: vec![],
            value: MetricValue::Histogram(h.clone()),
            timestamp_ms: None,
        }],
        ..MetricFamily::default()
    }];
    let mut bytes = Vec::new();
    encode_protobuf(&families, &mut bytes);
    let both = MetricFamily::collect(
        &mut ProtobufParser::new(&bytes).with_classic_histograms(true),
        Format::Protobuf,
    )
    .unwrap();
    assert_eq!(both, families);
    let native_only =
        MetricFamily::collect(&mut ProtobufParser::new(&bytes), Format::Protobuf).unwrap();
    let MetricValue::Histogram(got) = &native_only[0].metrics[0].value else {
        panic!("{native_only:?}");
    };
    assert_eq!(got.native, h.native);
    assert!(got.buckets.is_empty());
}
