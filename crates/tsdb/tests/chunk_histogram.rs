//! Histogram and float-histogram chunks: property round trips through a
//! series of chunks (same layout, new buckets, counter resets, gauges,
//! stale markers), reopen-and-append, golden bytes and corrupt input.

#![allow(clippy::unwrap_used)]

use std::collections::BTreeMap;

use model::STALE_NAN;
use model::histogram::{CounterResetHint, FloatHistogram, Histogram, Span};
use model::is_stale_nan;
use proptest::prelude::*;
use tsdb::chunkenc::{
    ChunkIter, CounterResetHeader, Encoding, FloatHistogramChunk, HistogramAppend, HistogramChunk,
    ValueType,
};

/// Absolute counts by bucket index.
type Buckets = BTreeMap<i64, u64>;

fn spans_of(idx: impl Iterator<Item = i64>) -> Vec<Span> {
    let mut spans: Vec<Span> = Vec::new();
    let mut last: Option<i64> = None;
    for i in idx {
        match (last, spans.last_mut()) {
            (Some(l), Some(s)) if i == l + 1 => s.length += 1,
            (Some(l), _) => spans.push(Span {
                offset: (i - l - 1) as i32,
                length: 1,
            }),
            (None, _) => spans.push(Span {
                offset: i as i32,
                length: 1,
            }),
        }
        last = Some(i);
    }
    spans
}

fn deltas(b: &Buckets) -> Vec<i64> {
    let mut prev = 0i64;
    b.values()
        .map(|&v| {
            let d = v as i64 - prev;
            prev = v as i64;
            d
        })
        .collect()
}

fn hist(zero: u64, pos: &Buckets, neg: &Buckets, sum: f64, hint: CounterResetHint) -> Histogram {
    Histogram {
        counter_reset_hint: hint,
        schema: 1,
        zero_threshold: 2f64.powi(-128),
        zero_count: zero,
        count: zero + pos.values().sum::<u64>() + neg.values().sum::<u64>(),
        sum,
        positive_spans: spans_of(pos.keys().copied()),
        negative_spans: spans_of(neg.keys().copied()),
        positive_buckets: deltas(pos),
        negative_buckets: deltas(neg),
        custom_values: Vec::new(),
    }
}

/// What a histogram means, independent of layout: zero-count buckets and
/// span shapes do not matter (recoding adds empty buckets).
#[derive(Debug, PartialEq)]
struct Canon {
    stale: bool,
    schema: i32,
    zt: u64,
    count: u64,
    zero: u64,
    sum: u64,
    pos: Vec<(i64, u64)>,
    neg: Vec<(i64, u64)>,
}

fn canon_f(h: &FloatHistogram) -> Canon {
    if is_stale_nan(h.sum) {
        return Canon {
            stale: true,
            schema: 0,
            zt: 0,
            count: 0,
            zero: 0,
            sum: 0,
            pos: vec![],
            neg: vec![],
        };
    }
    let idx = |spans: &[Span]| {
        let mut out = Vec::new();
        let mut i = 0i64;
        for s in spans {
            i += i64::from(s.offset);
            for _ in 0..s.length {
                out.push(i);
                i += 1;
            }
        }
        out
    };
    let nz = |spans: &[Span], b: &[f64]| {
        idx(spans)
            .into_iter()
            .zip(b)
            .filter(|&(_, &v)| v != 0.0)
            .map(|(i, &v)| (i, v.to_bits()))
            .collect()
    };
    Canon {
        stale: false,
        schema: h.schema,
        zt: h.zero_threshold.to_bits(),
        count: h.count.to_bits(),
        zero: h.zero_count.to_bits(),
        sum: h.sum.to_bits(),
        pos: nz(&h.positive_spans, &h.positive_buckets),
        neg: nz(&h.negative_spans, &h.negative_buckets),
    }
}

#[derive(Clone, Debug)]
enum Step {
    /// Counters grow; maybe a new bucket appears.
    Grow {
        add: u64,
        new_bucket: Option<i64>,
        sum_add: f64,
    },
    /// Counter reset: start again from small values.
    Reset { start: u64 },
    /// A staleness marker.
    Stale,
}

fn step() -> impl Strategy<Value = Step> {
    prop_oneof![
        8 => (0u64..20, proptest::option::weighted(0.2, -20i64..20), 0f64..100.0)
            .prop_map(|(add, new_bucket, sum_add)| Step::Grow { add, new_bucket, sum_add }),
        1 => (0u64..3).prop_map(|start| Step::Reset { start }),
        1 => Just(Step::Stale),
    ]
}

/// Generates (t, histogram, is_reset) for a counter-histogram series.
fn series() -> impl Strategy<Value = Vec<(i64, Histogram, bool)>> {
    (
        proptest::collection::btree_set(-10i64..10, 0..6),
        proptest::collection::vec(step(), 1..150),
        any::<bool>(),
    )
        .prop_map(|(idx, steps, with_neg)| {
            let mut pos: Buckets = idx.iter().map(|&i| (i, 1)).collect();
            let mut neg: Buckets = if with_neg {
                [(-1i64, 2u64)].into()
            } else {
                Buckets::new()
            };
            let mut zero = 1u64;
            let mut sum = 1.5f64;
            let mut t = 1_000_000i64;
            let mut out = vec![(
                t,
                hist(zero, &pos, &neg, sum, CounterResetHint::Unknown),
                false,
            )];
            // The previous sample's counters, unless it was stale.
            let mut prev = Some((zero, pos.clone(), neg.clone()));
            for s in steps {
                t += 15_000 + (t % 7);
                match s {
                    Step::Grow {
                        add,
                        new_bucket,
                        sum_add,
                    } => {
                        for (k, v) in pos.iter_mut() {
                            *v += add * (k.unsigned_abs() % 3);
                        }
                        for v in neg.values_mut() {
                            *v += add / 2;
                        }
                        if let Some(b) = new_bucket {
                            *pos.entry(b).or_default() += add;
                        }
                        zero += add % 4;
                        sum += sum_add;
                        out.push((
                            t,
                            hist(zero, &pos, &neg, sum, CounterResetHint::Unknown),
                            false,
                        ));
                        prev = Some((zero, pos.clone(), neg.clone()));
                    }
                    Step::Reset { start } => {
                        for v in pos.values_mut() {
                            *v = start;
                        }
                        for v in neg.values_mut() {
                            *v = 0;
                        }
                        zero = 0;
                        sum = start as f64;
                        // A reset is detected when the count drops right after
                        // a real sample (after a stale marker the chunk is cut
                        // anyway, with an unknown header).
                        let shrank = |old: &Buckets, new: &Buckets| {
                            old.iter()
                                .any(|(k, &v)| new.get(k).copied().unwrap_or(0) < v)
                        };
                        let reset = prev.as_ref().is_some_and(|(z, p, n)| {
                            zero < *z || shrank(p, &pos) || shrank(n, &neg)
                        });
                        out.push((
                            t,
                            hist(zero, &pos, &neg, sum, CounterResetHint::Unknown),
                            reset,
                        ));
                        prev = Some((zero, pos.clone(), neg.clone()));
                    }
                    Step::Stale => {
                        out.push((
                            t,
                            Histogram {
                                sum: STALE_NAN,
                                ..Default::default()
                            },
                            false,
                        ));
                        prev = None;
                    }
                }
            }
            out
        })
}

/// Appends a series the way the head does; returns the chunks.
fn append_int(samples: &[(i64, Histogram, bool)]) -> Vec<HistogramChunk> {
    let mut chunks = vec![HistogramChunk::new()];
    for (t, h, _) in samples {
        let n = chunks.len();
        let (done, cur) = chunks.split_at_mut(n - 1);
        let prev = done.last();
        match cur[0].append(prev, *t, h).unwrap() {
            HistogramAppend::InPlace | HistogramAppend::Recoded => {}
            HistogramAppend::NewChunk(c) => chunks.push(c),
        }
    }
    chunks
}

fn append_float(samples: &[(i64, FloatHistogram)]) -> Vec<FloatHistogramChunk> {
    let mut chunks = vec![FloatHistogramChunk::new()];
    for (t, h) in samples {
        let n = chunks.len();
        let (done, cur) = chunks.split_at_mut(n - 1);
        match cur[0].append(done.last(), *t, h).unwrap() {
            HistogramAppend::InPlace | HistogramAppend::Recoded => {}
            HistogramAppend::NewChunk(c) => chunks.push(c),
        }
    }
    chunks
}

fn decode_all(enc: Encoding, chunks: &[&[u8]]) -> Vec<(i64, Canon, CounterResetHint)> {
    let mut out = Vec::new();
    let mut fh = FloatHistogram::default();
    let mut h = Histogram::default();
    for b in chunks {
        let mut it = ChunkIter::new(enc, b).unwrap();
        while it.next() != ValueType::None {
            let t = it.at_float_histogram(&mut fh).unwrap();
            if enc == Encoding::Histogram {
                // The integer view must agree with the float view.
                it.at_histogram(&mut h).unwrap();
                assert_eq!(canon_f(&h.to_float()), canon_f(&fh));
            }
            out.push((t, canon_f(&fh), fh.counter_reset_hint));
        }
        assert_eq!(it.err(), None);
    }
    out
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn int_histograms_round_trip_through_chunks(s in series()) {
        let chunks = append_int(&s);
        let bytes: Vec<&[u8]> = chunks.iter().map(|c| c.bytes()).collect();
        let got = decode_all(Encoding::Histogram, &bytes);
        prop_assert_eq!(got.len(), s.len());
        for ((t, h, _), (gt, gc, _)) in s.iter().zip(&got) {
            prop_assert_eq!(t, gt);
            prop_assert_eq!(&canon_f(&h.to_float()), gc);
        }
        // Every detected reset starts a chunk flagged as a counter reset.
        let resets = s.iter().filter(|(_, _, r)| *r).count();
        let flagged = chunks.iter().filter(|c| c.counter_reset_header() == CounterResetHeader::CounterReset).count();
        prop_assert_eq!(resets, flagged);
        // Chunks after the first continue their predecessor unless flagged otherwise.
        for c in &chunks {
            prop_assert_ne!(c.counter_reset_header(), CounterResetHeader::Gauge);
        }
    }

    #[test]
    fn float_histograms_round_trip_through_chunks(s in series()) {
        let fs: Vec<(i64, FloatHistogram)> = s.iter().map(|(t, h, _)| (*t, if is_stale_nan(h.sum) { FloatHistogram { sum: STALE_NAN, ..Default::default() } } else { h.to_float() })).collect();
        let chunks = append_float(&fs);
        let bytes: Vec<&[u8]> = chunks.iter().map(|c| c.bytes()).collect();
        let got = decode_all(Encoding::FloatHistogram, &bytes);
        prop_assert_eq!(got.len(), fs.len());
        for ((t, h), (gt, gc, _)) in fs.iter().zip(&got) {
            prop_assert_eq!(t, gt);
            prop_assert_eq!(&canon_f(h), gc);
        }
        let resets = s.iter().filter(|(_, _, r)| *r).count();
        let flagged = chunks.iter().filter(|c| c.counter_reset_header() == CounterResetHeader::CounterReset).count();
        prop_assert_eq!(resets, flagged);
    }

    #[test]
    fn gauge_histograms_go_up_and_down(vals in proptest::collection::vec((proptest::collection::btree_map(-5i64..5, 0u64..50, 0..5), 0u64..10), 1..80)) {
        let s: Vec<(i64, Histogram)> = vals.iter().enumerate().map(|(i, (pos, zero))| {
            (i as i64 * 1000, hist(*zero, pos, &Buckets::new(), *zero as f64, CounterResetHint::Gauge))
        }).collect();
        let mut chunks = vec![HistogramChunk::new()];
        for (t, h) in &s {
            let n = chunks.len();
            let (done, cur) = chunks.split_at_mut(n - 1);
            if let HistogramAppend::NewChunk(c) = cur[0].append(done.last(), *t, h).unwrap() { chunks.push(c); }
        }
        // Same schema and threshold throughout: gauges never need a new chunk.
        prop_assert_eq!(chunks.len(), 1);
        prop_assert_eq!(chunks[0].counter_reset_header(), CounterResetHeader::Gauge);
        let got = decode_all(Encoding::Histogram, &[chunks[0].bytes()]);
        for ((t, h), (gt, gc, hint)) in s.iter().zip(&got) {
            prop_assert_eq!(t, gt);
            prop_assert_eq!(&canon_f(&h.to_float()), gc);
            prop_assert_eq!(*hint, CounterResetHint::Gauge);
        }
    }

    #[test]
    fn reopen_and_append_equals_one_shot(s in series(), split in any::<prop::sample::Index>()) {
        // Only samples that stay in one chunk: cut the series at its first new chunk.
        let mut one = HistogramChunk::new();
        let mut kept = Vec::new();
        for (t, h, _) in &s {
            let before = one.clone();
            match one.append(None, *t, h).unwrap() {
                HistogramAppend::InPlace => kept.push((*t, h.clone())),
                _ => { one = before; break; }
            }
        }
        let k = split.index(kept.len() + 1);
        let mut first = HistogramChunk::new();
        for (t, h) in &kept[..k] { first.append(None, *t, h).unwrap(); }
        let mut re = HistogramChunk::from_bytes(first.bytes().to_vec()).unwrap();
        for (t, h) in &kept[k..] {
            prop_assert!(matches!(re.append(None, *t, h).unwrap(), HistogramAppend::InPlace));
        }
        prop_assert_eq!(re.bytes(), one.bytes());

        let mut fone = FloatHistogramChunk::new();
        let fk: Vec<(i64, FloatHistogram)> = kept.iter().map(|(t, h)| (*t, if is_stale_nan(h.sum) { FloatHistogram { sum: STALE_NAN, ..Default::default() } } else { h.to_float() })).collect();
        let mut n_in = 0;
        for (t, h) in &fk {
            let before = fone.clone();
            match fone.append(None, *t, h).unwrap() {
                HistogramAppend::InPlace => n_in += 1,
                _ => { fone = before; break; }
            }
        }
        let k = k.min(n_in);
        let mut ffirst = FloatHistogramChunk::new();
        for (t, h) in &fk[..k] { ffirst.append(None, *t, h).unwrap(); }
        let mut fre = FloatHistogramChunk::from_bytes(ffirst.bytes().to_vec()).unwrap();
        for (t, h) in &fk[k..n_in] {
            prop_assert!(matches!(fre.append(None, *t, h).unwrap(), HistogramAppend::InPlace));
        }
        prop_assert_eq!(fre.bytes(), fone.bytes());
    }

    #[test]
    fn corrupt_histogram_chunks_never_panic(s in series(), flips in proptest::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 1..4), float in any::<bool>()) {
        let mut b = if float {
            let fs: Vec<(i64, FloatHistogram)> = s.iter().map(|(t, h, _)| (*t, h.to_float())).collect();
            append_float(&fs).remove(0).into_bytes()
        } else {
            append_int(&s).remove(0).into_bytes()
        };
        for (i, x) in flips {
            let i = i.index(b.len());
            b[i] ^= x;
        }
        let enc = if float { Encoding::FloatHistogram } else { Encoding::Histogram };
        let mut it = ChunkIter::new(enc, &b).unwrap();
        let mut fh = FloatHistogram::default();
        while it.next() != ValueType::None { it.at_float_histogram(&mut fh); }
        for cut in [0, 1, 2, 3, b.len() / 2, b.len().saturating_sub(1)] {
            if let Ok(mut it) = ChunkIter::new(enc, &b[..cut.min(b.len())]) {
                while it.next() != ValueType::None {}
            }
        }
        let _ = HistogramChunk::from_bytes(b.clone());
        let _ = FloatHistogramChunk::from_bytes(b);
    }
}

#[test]
fn new_buckets_recode_the_chunk() {
    let a: Buckets = [(0, 1), (1, 2)].into();
    let b: Buckets = [(-3, 0), (0, 1), (1, 2), (5, 4)].into();
    let mut c = HistogramChunk::new();
    c.append(
        None,
        1,
        &hist(0, &a, &Buckets::new(), 1.0, CounterResetHint::Unknown),
    )
    .unwrap();
    c.append(
        None,
        2,
        &hist(0, &a, &Buckets::new(), 2.0, CounterResetHint::Unknown),
    )
    .unwrap();
    let r = c
        .append(
            None,
            3,
            &hist(0, &b, &Buckets::new(), 3.0, CounterResetHint::Unknown),
        )
        .unwrap();
    assert!(matches!(r, HistogramAppend::Recoded));
    assert_eq!(c.num_samples(), 3);
    let mut it = c.iter();
    let mut h = Histogram::default();
    assert_eq!(it.next(), ValueType::Histogram);
    it.at_histogram(&mut h);
    // The first sample now has the wider layout, with empty new buckets.
    assert_eq!(
        h.positive_spans,
        vec![
            Span {
                offset: -3,
                length: 1
            },
            Span {
                offset: 2,
                length: 2
            },
            Span {
                offset: 3,
                length: 1
            }
        ]
    );
    assert_eq!(h.to_float().positive_buckets, vec![0.0, 1.0, 2.0, 0.0]);
    // A histogram missing an empty bucket of the chunk still fits in place.
    let r = c
        .append(
            None,
            4,
            &hist(
                0,
                &[(0, 2), (1, 2), (5, 4)].into(),
                &Buckets::new(),
                4.0,
                CounterResetHint::Unknown,
            ),
        )
        .unwrap();
    assert!(matches!(r, HistogramAppend::InPlace));
    // Losing a used bucket is a counter reset.
    let r = c
        .append(
            None,
            5,
            &hist(
                10,
                &[(0, 2), (1, 2)].into(),
                &Buckets::new(),
                5.0,
                CounterResetHint::Unknown,
            ),
        )
        .unwrap();
    match r {
        HistogramAppend::NewChunk(n) => {
            assert_eq!(n.counter_reset_header(), CounterResetHeader::CounterReset)
        }
        other => panic!("expected a new chunk, got {other:?}"),
    }
}

#[test]
fn schema_change_cuts_with_unknown_header_and_prev_sets_not_reset() {
    let a: Buckets = [(0, 1)].into();
    let mut c = HistogramChunk::new();
    c.append(
        None,
        1,
        &hist(0, &a, &Buckets::new(), 1.0, CounterResetHint::Unknown),
    )
    .unwrap();
    let mut h2 = hist(0, &a, &Buckets::new(), 2.0, CounterResetHint::Unknown);
    h2.schema = 2;
    match c.append(None, 2, &h2).unwrap() {
        HistogramAppend::NewChunk(n) => {
            assert_eq!(n.counter_reset_header(), CounterResetHeader::Unknown)
        }
        other => panic!("expected a new chunk, got {other:?}"),
    }
    // A fresh chunk after a size cut consults the previous chunk.
    let mut next = HistogramChunk::new();
    next.append(
        Some(&c),
        3,
        &hist(
            0,
            &[(0, 5)].into(),
            &Buckets::new(),
            3.0,
            CounterResetHint::Unknown,
        ),
    )
    .unwrap();
    assert_eq!(
        next.counter_reset_header(),
        CounterResetHeader::NotCounterReset
    );
}

/// Golden bytes derived by hand from docs/format/chunks.md: one sample,
/// schema 0, no buckets, count 2, zero count 2, sum 1.0, at t=1000.
#[test]
fn golden_histogram_bytes() {
    let h = Histogram {
        count: 2,
        zero_count: 2,
        sum: 1.0,
        ..Default::default()
    };
    let mut c = HistogramChunk::new();
    c.append(None, 1000, &h).unwrap();
    // zt 0x00 | schema 0, no spans: 000 | t: 11110 001111101000 | count 10 010 |
    // zero count 10 010 | sum 64 bits.
    let want = [
        0x00, 0x01, 0x00, 0x00, 0x1e, 0x3e, 0x89, 0x48, 0xff, 0xc0, 0, 0, 0, 0, 0, 0,
    ];
    assert_eq!(c.bytes(), &want);
}
