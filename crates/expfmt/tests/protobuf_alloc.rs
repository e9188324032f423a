//! The protobuf parser allocates nothing per sample in steady state, on every
//! path: labels inside and outside the zero-copy fast path, synthesized
//! `_bucket`/`_sum`/`_count` names and `le`/`quantile` values, exemplars,
//! native histograms and their exemplars. A counting global allocator shows
//! that twice the input costs no more allocations than the parser's
//! start-up (its buffers growing to their working size).

#![allow(clippy::unwrap_used)]

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::sync::atomic::{AtomicUsize, Ordering};

use expfmt::family::{
    Bucket, Counter, Histogram, Metric, MetricFamily, MetricValue, NativeHistogram, Quantile,
    Summary,
};
use expfmt::protobuf::ProtobufParser;
use expfmt::{Entry, MetricType, OwnedExemplar, Parser, encode_protobuf};
use model::histogram::Span;

struct Counting;

static ALLOCS: AtomicUsize = AtomicUsize::new(0);
thread_local! {
    static ACTIVE: Cell<bool> = const { Cell::new(false) };
}

#[allow(unsafe_code)]
// SAFETY: forwards every call to the system allocator unchanged; only counts.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        if ACTIVE.with(Cell::get) {
            ALLOCS.fetch_add(1, Ordering::Relaxed);
        }
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        unsafe { System.dealloc(ptr, layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        if ACTIVE.with(Cell::get) {
            ALLOCS.fetch_add(1, Ordering::Relaxed);
        }
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

fn labels(i: usize) -> Vec<(String, String)> {
    vec![
        ("instance".to_string(), format!("host-{i}:9100")),
        ("job".to_string(), "node".to_string()),
        // Every fourth metric has a label too long for the fast path.
        (
            "path".to_string(),
            if i.is_multiple_of(4) {
                format!("/{}", "x".repeat(200))
            } else {
                format!("/api/v{}", i % 7)
            },
        ),
    ]
}

fn exemplar(i: usize) -> OwnedExemplar {
    OwnedExemplar {
        labels: vec![("trace_id".to_string(), format!("{i:016x}"))],
        value: i as f64,
        timestamp: Some(1_700_000_000_000 + i as i64),
    }
}

/// `n` metrics of each type, each family with the same shapes throughout.
fn exposition(n: usize) -> Vec<u8> {
    let metric = |i: usize, value| Metric {
        labels: labels(i),
        value,
        timestamp_ms: Some(1_700_000_000_000),
    };
    let counters = (0..n).map(|i| {
        metric(
            i,
            MetricValue::Counter(Counter {
                value: i as f64,
                created_ms: Some(1_600_000_000_000),
                exemplar: Some(exemplar(i)),
            }),
        )
    });
    let summaries = (0..n).map(|i| {
        metric(
            i,
            MetricValue::Summary(Summary {
                count: 10.0,
                sum: 2.5,
                quantiles: [0.5, 0.9, 0.99]
                    .iter()
                    .map(|&q| Quantile {
                        quantile: q,
                        value: q * 2.0,
                    })
                    .collect(),
                created_ms: None,
            }),
        )
    });
    let classic = (0..n).map(|i| {
        metric(
            i,
            MetricValue::Histogram(Histogram {
                count: 9.0,
                sum: 4.5,
                buckets: [0.005, 0.1, 1.0, 10.0]
                    .iter()
                    .enumerate()
                    .map(|(j, &le)| Bucket {
                        upper_bound: le,
                        cumulative_count: (j * 2) as f64,
                        exemplar: (j == 2).then(|| exemplar(i)),
                    })
                    .collect(),
                ..Histogram::default()
            }),
        )
    });
    let native = (0..n).map(|i| {
        metric(
            i,
            MetricValue::Histogram(Histogram {
                count: 6.0,
                sum: 1.0,
                native: Some(NativeHistogram::Int(model::Histogram {
                    schema: 3,
                    zero_threshold: 1e-128,
                    count: 6,
                    sum: 1.0,
                    positive_spans: vec![Span {
                        offset: 0,
                        length: 3,
                    }],
                    positive_buckets: vec![1, 2, -1],
                    ..model::Histogram::default()
                })),
                exemplars: vec![exemplar(i), exemplar(i + 1)],
                ..Histogram::default()
            }),
        )
    });
    let fam = |name: &str, kind, metrics: Vec<Metric>| MetricFamily {
        name: name.to_string(),
        help: "help".to_string(),
        unit: String::new(),
        kind,
        metrics,
    };
    let families = [
        fam("c_total", MetricType::Counter, counters.collect()),
        fam("s", MetricType::Summary, summaries.collect()),
        fam("h", MetricType::Histogram, classic.collect()),
        fam("n", MetricType::Histogram, native.collect()),
    ];
    let mut out = Vec::new();
    encode_protobuf(&families, &mut out);
    out
}

/// Parses `input` to the end, touching everything; returns (entries, allocations).
fn count_allocs(input: &[u8]) -> (usize, usize) {
    ALLOCS.store(0, Ordering::Relaxed);
    ACTIVE.with(|a| a.set(true));
    let mut entries = 0;
    let mut bytes = 0;
    {
        let mut p = ProtobufParser::new(input);
        while let Some(e) = p.next() {
            entries += 1;
            match e.unwrap() {
                Entry::Sample(s) => {
                    bytes += s.name.len() + s.series.len();
                    for (n, v) in s.labels.iter() {
                        bytes += n.len() + v.len();
                    }
                    if let Some(e) = s.exemplar {
                        bytes += e
                            .labels
                            .iter()
                            .map(|(n, v)| n.len() + v.len())
                            .sum::<usize>();
                    }
                }
                Entry::Histogram(h) => {
                    bytes += h.series.len() + h.exemplars.len();
                    for (n, v) in h.labels.iter() {
                        bytes += n.len() + v.len();
                    }
                }
                _ => {}
            }
        }
    }
    ACTIVE.with(|a| a.set(false));
    assert!(bytes > 0);
    (entries, ALLOCS.load(Ordering::Relaxed))
}

#[test]
fn protobuf_parser_allocates_nothing_per_sample() {
    let (small, large) = (exposition(1_000), exposition(2_000));
    let (n1, a1) = count_allocs(&small);
    let (n2, a2) = count_allocs(&large);
    assert!(n1 > 10_000 && n2 > 2 * n1 - 20, "{n1} and {n2} entries");
    // Buffers grow geometrically to their working size, then stay.
    assert!(a1 <= 48, "{a1} allocations for {n1} entries");
    assert!(
        a2 <= a1 + 4,
        "{a1} allocations for {n1} entries but {a2} for {n2}"
    );
}
