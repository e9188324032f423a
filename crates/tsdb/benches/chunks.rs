//! Chunk encode/decode throughput on realistic data: 15 s scrapes with
//! millisecond jitter, a counter and a gauge, 120 samples per chunk; and
//! integer-histogram chunk decoding.

use std::hint::black_box;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use model::histogram::{Histogram, Span};
use tsdb::chunkenc::{HistogramChunk, ValueType, XorChunk, XorIterator};

const N: usize = 120;

fn rng(state: &mut u64) -> u64 {
    *state ^= *state << 13;
    *state ^= *state >> 7;
    *state ^= *state << 17;
    *state
}

fn counter() -> Vec<(i64, f64)> {
    let mut s = 42u64;
    let mut v = 1_000.0;
    (0..N as i64)
        .map(|i| {
            v += (rng(&mut s) % 50) as f64;
            (
                1_700_000_000_000 + i * 15_000 + (rng(&mut s) % 5) as i64 - 2,
                v,
            )
        })
        .collect()
}

fn gauge() -> Vec<(i64, f64)> {
    let mut s = 7u64;
    (0..N as i64)
        .map(|i| {
            (
                1_700_000_000_000 + i * 15_000 + (rng(&mut s) % 5) as i64 - 2,
                (rng(&mut s) % 10_000) as f64 / 7.0,
            )
        })
        .collect()
}

fn encode(samples: &[(i64, f64)]) -> XorChunk {
    let mut c = XorChunk::new();
    for &(t, v) in samples {
        c.append(t, v).expect("append");
    }
    c
}

fn bench_xor(c: &mut Criterion) {
    for (name, data) in [("counter", counter()), ("gauge", gauge())] {
        let mut g = c.benchmark_group(format!("xor_{name}"));
        g.throughput(Throughput::Elements(N as u64));
        g.bench_function("encode", |b| b.iter(|| black_box(encode(black_box(&data)))));
        let chunk = encode(&data);
        g.bench_function("decode", |b| {
            b.iter(|| {
                let mut it = XorIterator::new(black_box(chunk.bytes())).expect("chunk");
                let mut sum = 0.0;
                while it.next() == ValueType::Float {
                    sum += it.at().1;
                }
                black_box(sum)
            })
        });
        g.finish();
    }
}

fn bench_histogram(c: &mut Criterion) {
    let mut s = 99u64;
    let mut h = Histogram {
        schema: 3,
        zero_threshold: 2f64.powi(-128),
        positive_spans: vec![
            Span {
                offset: -5,
                length: 10,
            },
            Span {
                offset: 3,
                length: 10,
            },
        ],
        positive_buckets: vec![1; 20],
        count: 20,
        sum: 100.0,
        ..Default::default()
    };
    let mut chunk = HistogramChunk::new();
    for i in 0..N as i64 {
        // Increase one bucket's absolute count (its delta) and the next's baseline.
        let k = (rng(&mut s) % 20) as usize;
        let inc = (rng(&mut s) % 5) as i64;
        h.positive_buckets[k] += inc;
        if k + 1 < 20 {
            h.positive_buckets[k + 1] -= inc - inc.min(1);
        }
        let abs: i64 = h
            .positive_buckets
            .iter()
            .scan(0i64, |a, d| {
                *a += d;
                Some(*a)
            })
            .sum();
        h.count = abs as u64;
        h.sum += (rng(&mut s) % 1000) as f64 / 10.0;
        chunk
            .append(None, 1_700_000_000_000 + i * 15_000, &h)
            .expect("append");
    }
    let mut g = c.benchmark_group("histogram_20_buckets");
    g.throughput(Throughput::Elements(chunk.num_samples() as u64));
    g.bench_function("decode", |b| {
        let mut out = Histogram::default();
        b.iter(|| {
            let mut it = chunk.iter();
            let mut total = 0u64;
            while it.next() == ValueType::Histogram {
                it.at_histogram(&mut out);
                total += out.count;
            }
            black_box(total)
        })
    });
    g.finish();
}

criterion_group!(benches, bench_xor, bench_histogram);
criterion_main!(benches);
