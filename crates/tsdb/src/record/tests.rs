use super::*;
use model::histogram::{CounterResetHint, Span};
use proptest::prelude::*;

fn labels(pairs: &[(&str, &str)]) -> Labels {
    Labels::from_pairs(pairs.iter().copied())
}

fn hist(schema: i32) -> Histogram {
    Histogram {
        counter_reset_hint: CounterResetHint::NotCounterReset,
        schema,
        zero_threshold: 0.001,
        zero_count: 3,
        count: 19,
        sum: 42.5,
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
        negative_spans: vec![Span {
            offset: 1,
            length: 1,
        }],
        positive_buckets: vec![4, -1, 7],
        negative_buckets: vec![2],
        custom_values: if schema == -53 {
            vec![0.5, 1.0, 2.5]
        } else {
            vec![]
        },
    }
}

#[test]
fn samples_bytes_match_prometheus_layout() {
    let mut out = Vec::new();
    encode_samples(
        &[
            RefSample {
                series: HeadSeriesRef(1),
                t: Timestamp(100),
                v: 1.0,
            },
            RefSample {
                series: HeadSeriesRef(2),
                t: Timestamp(110),
                v: 2.0,
            },
        ],
        &mut out,
    );
    let mut want = vec![2u8];
    want.extend_from_slice(&1u64.to_be_bytes());
    want.extend_from_slice(&100u64.to_be_bytes());
    want.extend_from_slice(&[0, 0]);
    want.extend_from_slice(&1.0f64.to_bits().to_be_bytes());
    want.extend_from_slice(&[2, 20]);
    want.extend_from_slice(&2.0f64.to_bits().to_be_bytes());
    assert_eq!(out, want);
}

#[test]
fn series_and_metadata_bytes_match_prometheus_layout() {
    let mut out = Vec::new();
    encode_series(
        &[RefSeries {
            series: HeadSeriesRef(7),
            labels: labels(&[("__name__", "up"), ("job", "x")]),
        }],
        &mut out,
    );
    let mut want = vec![1u8, 0, 0, 0, 0, 0, 0, 0, 7, 2, 8];
    want.extend_from_slice(b"__name__");
    want.push(2);
    want.extend_from_slice(b"up");
    want.push(3);
    want.extend_from_slice(b"job");
    want.push(1);
    want.extend_from_slice(b"x");
    assert_eq!(out, want);

    out.clear();
    encode_metadata(
        &[RefMetadata {
            series: HeadSeriesRef(300),
            kind: MetricType::Gauge,
            unit: "s".into(),
            help: "h".into(),
        }],
        &mut out,
    );
    assert_eq!(out, b"\x06\xac\x02\x02\x02\x04UNIT\x01s\x04HELP\x01h");
}

#[test]
fn every_type_round_trips() {
    let mut rec = Vec::new();

    let series = vec![
        RefSeries {
            series: HeadSeriesRef(1),
            labels: labels(&[("__name__", "a"), ("x", "ü")]),
        },
        RefSeries {
            series: HeadSeriesRef(u64::MAX),
            labels: Labels::empty(),
        },
    ];
    encode_series(&series, &mut rec);
    assert_eq!(RecordType::of(&rec), RecordType::Series);
    let mut got = Vec::new();
    decode_series(&rec, &mut got).expect("series");
    assert_eq!(got, series);

    let samples = vec![
        RefSample {
            series: HeadSeriesRef(10),
            t: Timestamp(1000),
            v: model::STALE_NAN,
        },
        RefSample {
            series: HeadSeriesRef(3),
            t: Timestamp(-5),
            v: -0.0,
        },
        RefSample {
            series: HeadSeriesRef(u64::MAX),
            t: Timestamp(i64::MAX),
            v: f64::INFINITY,
        },
    ];
    rec.clear();
    encode_samples(&samples, &mut rec);
    let mut got = Vec::new();
    decode_samples(&rec, &mut got).expect("samples");
    assert_eq!(got.len(), 3);
    for (a, b) in got.iter().zip(&samples) {
        assert_eq!(
            (a.series, a.t, a.v.to_bits()),
            (b.series, b.t, b.v.to_bits())
        );
    }

    let stones = vec![
        RefTombstone {
            series: HeadSeriesRef(1),
            mint: Timestamp(i64::MIN),
            maxt: Timestamp(i64::MAX),
        },
        RefTombstone {
            series: HeadSeriesRef(1),
            mint: Timestamp(5),
            maxt: Timestamp(9),
        },
    ];
    rec.clear();
    encode_tombstones(&stones, &mut rec);
    let mut got = Vec::new();
    decode_tombstones(&rec, &mut got).expect("tombstones");
    assert_eq!(got, stones);

    let exemplars = vec![
        RefExemplar {
            series: HeadSeriesRef(4),
            t: Timestamp(10),
            v: 1.5,
            labels: labels(&[("trace_id", "abc")]),
        },
        RefExemplar {
            series: HeadSeriesRef(2),
            t: Timestamp(3),
            v: 2.5,
            labels: Labels::empty(),
        },
    ];
    rec.clear();
    encode_exemplars(&exemplars, &mut rec);
    let mut got = Vec::new();
    decode_exemplars(&rec, &mut got).expect("exemplars");
    assert_eq!(got, exemplars);

    let markers = vec![RefMmapMarker {
        series: HeadSeriesRef(9),
        mmap_ref: 1 << 33 | 8,
    }];
    rec.clear();
    encode_mmap_markers(&markers, &mut rec);
    let mut got = Vec::new();
    decode_mmap_markers(&rec, &mut got).expect("markers");
    assert_eq!(got, markers);

    let metadata = vec![
        RefMetadata {
            series: HeadSeriesRef(1),
            kind: MetricType::Counter,
            unit: "bytes".into(),
            help: "Help.".into(),
        },
        RefMetadata {
            series: HeadSeriesRef(2),
            kind: MetricType::Unknown,
            unit: String::new(),
            help: String::new(),
        },
    ];
    rec.clear();
    encode_metadata(&metadata, &mut rec);
    let mut got = Vec::new();
    decode_metadata(&rec, &mut got).expect("metadata");
    assert_eq!(got, metadata);

    let hs = vec![
        RefHistogramSample {
            series: HeadSeriesRef(1),
            t: Timestamp(7),
            h: hist(3),
        },
        RefHistogramSample {
            series: HeadSeriesRef(0),
            t: Timestamp(9),
            h: Histogram::default(),
        },
    ];
    rec.clear();
    encode_histogram_samples(&hs, &mut rec);
    assert_eq!(RecordType::of(&rec), RecordType::HistogramSamples);
    let mut got = Vec::new();
    decode_histogram_samples(&rec, &mut got).expect("histograms");
    assert_eq!(got, hs);

    let cb = vec![RefHistogramSample {
        series: HeadSeriesRef(1),
        t: Timestamp(7),
        h: hist(-53),
    }];
    rec.clear();
    encode_custom_buckets_histogram_samples(&cb, &mut rec);
    assert_eq!(
        RecordType::of(&rec),
        RecordType::CustomBucketsHistogramSamples
    );
    let mut got = Vec::new();
    decode_histogram_samples(&rec, &mut got).expect("custom histograms");
    assert_eq!(got, cb);

    for (schema, custom) in [(0, false), (-53, true)] {
        let fhs = vec![RefFloatHistogramSample {
            series: HeadSeriesRef(5),
            t: Timestamp(-1),
            fh: hist(schema).to_float(),
        }];
        rec.clear();
        if custom {
            encode_custom_buckets_float_histogram_samples(&fhs, &mut rec);
            assert_eq!(
                RecordType::of(&rec),
                RecordType::CustomBucketsFloatHistogramSamples
            );
        } else {
            encode_float_histogram_samples(&fhs, &mut rec);
            assert_eq!(RecordType::of(&rec), RecordType::FloatHistogramSamples);
        }
        let mut got = Vec::new();
        decode_float_histogram_samples(&rec, &mut got).expect("float histograms");
        assert_eq!(got, fhs);
    }
}

#[test]
fn empty_batches_are_one_byte() {
    let mut rec = Vec::new();
    encode_samples(&[], &mut rec);
    assert_eq!(rec, [2]);
    let mut got = Vec::new();
    decode_samples(&rec, &mut got).expect("empty samples");
    assert!(got.is_empty());
    assert_eq!(RecordType::of(&[]), RecordType::Unknown);
    assert_eq!(RecordType::of(&[11]), RecordType::Unknown);
}

#[test]
fn wrong_type_and_trailing_bytes_are_errors() {
    let mut got = Vec::new();
    let err = decode_samples(&[1], &mut got).expect_err("wrong type");
    assert_eq!(err.reason, Reason::WrongType(1));
    let mut rec = Vec::new();
    encode_tombstones(
        &[RefTombstone {
            series: HeadSeriesRef(1),
            mint: Timestamp(1),
            maxt: Timestamp(2),
        }],
        &mut rec,
    );
    rec.push(0x80);
    let mut got = Vec::new();
    assert!(decode_tombstones(&rec, &mut got).is_err());
    assert!(got.is_empty(), "output restored on error");
    let err = decode_series(&[1, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 0xff, 0], &mut Vec::new())
        .expect_err("utf8");
    assert_eq!(err.reason, Reason::Utf8);
    assert_eq!(
        err.to_string(),
        "decode series record at byte 10: string is not valid UTF-8"
    );
}

#[test]
fn huge_counts_do_not_allocate() {
    // A series claiming 2^60 labels in a 20-byte record.
    let mut rec = vec![1u8, 0, 0, 0, 0, 0, 0, 0, 1];
    buf::put_uvarint(&mut rec, 1 << 60);
    let err = decode_series(&rec, &mut Vec::new()).expect_err("count");
    assert!(
        matches!(
            err.reason,
            Reason::Range {
                what: "label count",
                ..
            }
        ),
        "{err}"
    );
}

/// One record of every type, for the truncation sweep.
fn all_records() -> Vec<Vec<u8>> {
    let mut out = Vec::new();
    let mut r = Vec::new();
    encode_series(
        &[RefSeries {
            series: HeadSeriesRef(1),
            labels: labels(&[("a", "b"), ("c", "d")]),
        }],
        &mut r,
    );
    out.push(std::mem::take(&mut r));
    encode_samples(
        &[RefSample {
            series: HeadSeriesRef(1),
            t: Timestamp(1),
            v: 1.0,
        }; 3],
        &mut r,
    );
    out.push(std::mem::take(&mut r));
    encode_tombstones(
        &[RefTombstone {
            series: HeadSeriesRef(1),
            mint: Timestamp(1),
            maxt: Timestamp(300),
        }],
        &mut r,
    );
    out.push(std::mem::take(&mut r));
    encode_exemplars(
        &[RefExemplar {
            series: HeadSeriesRef(1),
            t: Timestamp(1),
            v: 1.0,
            labels: labels(&[("t", "x")]),
        }],
        &mut r,
    );
    out.push(std::mem::take(&mut r));
    encode_mmap_markers(
        &[RefMmapMarker {
            series: HeadSeriesRef(1),
            mmap_ref: 2,
        }],
        &mut r,
    );
    out.push(std::mem::take(&mut r));
    encode_metadata(
        &[RefMetadata {
            series: HeadSeriesRef(1),
            kind: MetricType::Gauge,
            unit: "u".into(),
            help: "h".into(),
        }],
        &mut r,
    );
    out.push(std::mem::take(&mut r));
    encode_histogram_samples(
        &[RefHistogramSample {
            series: HeadSeriesRef(1),
            t: Timestamp(1),
            h: hist(1),
        }],
        &mut r,
    );
    out.push(std::mem::take(&mut r));
    encode_custom_buckets_float_histogram_samples(
        &[RefFloatHistogramSample {
            series: HeadSeriesRef(1),
            t: Timestamp(1),
            fh: hist(-53).to_float(),
        }],
        &mut r,
    );
    out.push(std::mem::take(&mut r));
    out
}

/// Decodes `rec` with the decoder for its type; `Ok(n)` entries.
fn decode_any(rec: &[u8]) -> Result<usize, DecodeError> {
    Ok(match RecordType::of(rec) {
        RecordType::Series => {
            let mut v = Vec::new();
            decode_series(rec, &mut v)?;
            v.len()
        }
        RecordType::Samples => {
            let mut v = Vec::new();
            decode_samples(rec, &mut v)?;
            v.len()
        }
        RecordType::Tombstones => {
            let mut v = Vec::new();
            decode_tombstones(rec, &mut v)?;
            v.len()
        }
        RecordType::Exemplars => {
            let mut v = Vec::new();
            decode_exemplars(rec, &mut v)?;
            v.len()
        }
        RecordType::MmapMarkers => {
            let mut v = Vec::new();
            decode_mmap_markers(rec, &mut v)?;
            v.len()
        }
        RecordType::Metadata => {
            let mut v = Vec::new();
            decode_metadata(rec, &mut v)?;
            v.len()
        }
        RecordType::HistogramSamples | RecordType::CustomBucketsHistogramSamples => {
            let mut v = Vec::new();
            decode_histogram_samples(rec, &mut v)?;
            v.len()
        }
        RecordType::FloatHistogramSamples | RecordType::CustomBucketsFloatHistogramSamples => {
            let mut v = Vec::new();
            decode_float_histogram_samples(rec, &mut v)?;
            v.len()
        }
        RecordType::Unknown => 0,
    })
}

#[test]
fn every_truncation_is_an_error_or_fewer_entries() {
    for rec in all_records() {
        let full = decode_any(&rec).expect("full record decodes");
        assert_eq!(
            full,
            if RecordType::of(&rec) == RecordType::Samples {
                3
            } else {
                1
            }
        );
        for cut in 1..rec.len() {
            // A cut at an entry boundary decodes fewer entries; anything
            // else is an error. Never a panic, never more entries.
            if let Ok(n) = decode_any(&rec[..cut]) {
                assert!(n < full, "{:?} cut at {cut}", RecordType::of(&rec));
            }
        }
    }
}

proptest! {
    #[test]
    fn garbage_never_panics(body in proptest::collection::vec(any::<u8>(), 0..200), t in 1u8..=10) {
        let mut rec = vec![t];
        rec.extend_from_slice(&body);
        let _ = decode_any(&rec);
    }

    #[test]
    fn samples_round_trip(raw in proptest::collection::vec((any::<u64>(), any::<i64>(), any::<u64>()), 0..50)) {
        let samples: Vec<RefSample> = raw
            .iter()
            .map(|&(r, t, v)| RefSample { series: HeadSeriesRef(r), t: Timestamp(t), v: f64::from_bits(v) })
            .collect();
        let mut rec = Vec::new();
        encode_samples(&samples, &mut rec);
        let mut got = Vec::new();
        decode_samples(&rec, &mut got).expect("decode");
        prop_assert_eq!(got.len(), samples.len());
        for (a, b) in got.iter().zip(&samples) {
            prop_assert_eq!((a.series, a.t, a.v.to_bits()), (b.series, b.t, b.v.to_bits()));
        }
    }

    #[test]
    fn histograms_round_trip(
        schema in prop_oneof![-4i32..=8, Just(-53)],
        spans in proptest::collection::vec((any::<i32>(), any::<u32>()), 0..4),
        buckets in proptest::collection::vec(any::<i64>(), 0..8),
        counts in (any::<u64>(), any::<u64>()),
        t in any::<i64>(),
    ) {
        let h = Histogram {
            counter_reset_hint: CounterResetHint::Gauge,
            schema,
            zero_threshold: 1e-9,
            zero_count: counts.0,
            count: counts.1,
            sum: -3.5,
            positive_spans: spans.iter().map(|&(offset, length)| Span { offset, length }).collect(),
            negative_spans: spans.iter().rev().map(|&(offset, length)| Span { offset, length }).collect(),
            positive_buckets: buckets.clone(),
            negative_buckets: buckets.iter().rev().copied().collect(),
            custom_values: if schema == -53 { vec![1.0, 2.0] } else { vec![] },
        };
        let hs = vec![RefHistogramSample { series: HeadSeriesRef(3), t: Timestamp(t), h: h.clone() }];
        let mut rec = Vec::new();
        encode_histogram_samples(&hs, &mut rec);
        let mut got = Vec::new();
        decode_histogram_samples(&rec, &mut got).expect("decode");
        prop_assert_eq!(&got, &hs);
        let fhs = vec![RefFloatHistogramSample { series: HeadSeriesRef(3), t: Timestamp(t), fh: h.to_float() }];
        rec.clear();
        encode_float_histogram_samples(&fhs, &mut rec);
        let mut got = Vec::new();
        decode_float_histogram_samples(&rec, &mut got).expect("decode");
        prop_assert_eq!(&got, &fhs);
    }
}
