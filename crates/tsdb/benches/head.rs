//! Head throughput: committing scrape-sized batches (samples/s on one
//! core, with and without the WAL), creating series, selecting series with
//! their labels and chunks, and replaying a WAL on open with one or two
//! sample-applying workers.
//!
//! `cargo bench -p tsdb --bench head`

use std::cell::Cell;
use std::hint::black_box;

use criterion::{BatchSize, Criterion, Throughput, criterion_group, criterion_main};
use model::matcher::{MatchOp, Matcher};
use model::{Labels, Timestamp};
use storage::{Appendable, Queryable, Sample, SeriesRef};
use tsdb::{Head, HeadOptions};

/// Samples per batch: one scrape of a mid-sized target.
const BATCH: usize = 1000;
/// Series the append benchmark cycles through.
const SERIES: usize = 10_000;

fn series_labels(i: usize) -> Labels {
    Labels::from_pairs([
        ("__name__", format!("http_requests_total_{}", i % 50)),
        (
            "instance",
            format!("10.0.{}.{}:9100", (i / 50) / 256, (i / 50) % 256),
        ),
        ("job", "node".to_string()),
        ("method", ["GET", "POST", "PUT"][i % 3].to_string()),
        ("code", ["200", "404", "500"][(i / 3) % 3].to_string()),
    ])
}

fn bench_append(c: &mut Criterion) {
    let labels: Vec<Labels> = (0..SERIES).map(series_labels).collect();
    let mut g = c.benchmark_group("head_append");
    g.throughput(Throughput::Elements(BATCH as u64));
    for (name, wal) in [("wal", true), ("no_wal", false)] {
        let dir = tempfile::tempdir().expect("tempdir");
        let head = Head::open(
            dir.path(),
            HeadOptions {
                wal,
                ..HeadOptions::default()
            },
        )
        .expect("open");
        // Create the series and learn their references (the scrape cache).
        let mut refs = vec![SeriesRef(0); SERIES];
        let mut app = head.appender();
        for (i, l) in labels.iter().enumerate() {
            refs[i] = app
                .append(None, l, Timestamp(0), Sample::Float(0.0))
                .expect("append");
        }
        app.commit().expect("commit");
        let t = Cell::new(0i64);
        let next = Cell::new(0usize);
        g.bench_function(format!("batch_{BATCH}_{name}"), |b| {
            b.iter(|| {
                let start = next.get();
                if start == 0 {
                    t.set(t.get() + 15_000);
                }
                next.set((start + BATCH) % SERIES);
                let ts = Timestamp(t.get());
                let mut app = head.appender();
                for i in start..start + BATCH {
                    app.append(
                        Some(refs[i]),
                        &labels[i],
                        ts,
                        Sample::Float((ts.0 / 1000 + i as i64) as f64),
                    )
                    .expect("append");
                }
                app.commit().expect("commit");
            })
        });
    }
    g.finish();
}

fn bench_create(c: &mut Criterion) {
    // Each iteration creates BATCH series never seen before (one sample
    // each, one commit): label lookup, series and postings insertion, WAL
    // series record.
    let dir = tempfile::tempdir().expect("tempdir");
    let head = Head::open(dir.path(), HeadOptions::default()).expect("open");
    let next = Cell::new(0usize);
    let mut g = c.benchmark_group("head_create");
    g.throughput(Throughput::Elements(BATCH as u64));
    g.bench_function(format!("batch_{BATCH}_new_series"), |b| {
        b.iter_batched(
            || {
                let start = next.get();
                next.set(start + BATCH);
                (start..start + BATCH)
                    .map(series_labels)
                    .collect::<Vec<_>>()
            },
            |labels| {
                let mut app = head.appender();
                for l in &labels {
                    app.append(None, l, Timestamp(0), Sample::Float(1.0))
                        .expect("append");
                }
                app.commit().expect("commit");
            },
            BatchSize::LargeInput,
        )
    });
    g.finish();
}

fn bench_select(c: &mut Criterion) {
    // 100k series with 20 samples each; selects return owned series with
    // labels and a snapshot of their chunks.
    const N: usize = 100_000;
    let dir = tempfile::tempdir().expect("tempdir");
    let head = Head::open(
        dir.path(),
        HeadOptions {
            wal: false,
            ..HeadOptions::default()
        },
    )
    .expect("open");
    let labels: Vec<Labels> = (0..N).map(series_labels).collect();
    let mut refs = vec![None; N];
    for s in 0..20i64 {
        for (chunk, rs) in labels.chunks(BATCH).zip(refs.chunks_mut(BATCH)) {
            let mut app = head.appender();
            for (l, r) in chunk.iter().zip(rs.iter_mut()) {
                *r = Some(
                    app.append(*r, l, Timestamp(s * 15_000), Sample::Float(s as f64))
                        .expect("append"),
                );
            }
            app.commit().expect("commit");
        }
    }
    let m = |op, n: &str, v: &str| Matcher::new(op, n, v).expect("matcher");
    let cases = [
        ("all_100k", vec![Matcher::equal("job", "node")], N),
        (
            "name_2k",
            vec![Matcher::equal("__name__", "http_requests_total_7")],
            N / 50,
        ),
        (
            "name_and_regex_700",
            vec![
                Matcher::equal("__name__", "http_requests_total_7"),
                m(MatchOp::RegexMatch, "code", "2..|5.."),
                m(MatchOp::RegexNoMatch, "method", "PUT"),
            ],
            0,
        ),
    ];
    let mut g = c.benchmark_group("head_select");
    g.sample_size(20);
    for (name, ms, want) in cases {
        if want > 0 {
            g.throughput(Throughput::Elements(want as u64));
        }
        g.bench_function(name, |b| {
            b.iter(|| {
                let q = head.querier(0, i64::MAX).expect("querier");
                let mut set = q.select(false, None, &ms);
                let mut n = 0usize;
                let mut bytes = 0usize;
                while let Some(s) = set.next() {
                    let s = s.expect("series");
                    n += 1;
                    bytes += s.labels().as_bytes().len();
                }
                black_box((n, bytes))
            })
        });
    }
    g.finish();
}

fn bench_replay(c: &mut Criterion) {
    const SAMPLES_PER_SERIES: usize = 100;
    let labels: Vec<Labels> = (0..SERIES).map(series_labels).collect();
    let dir = tempfile::tempdir().expect("tempdir");
    {
        let head = Head::open(dir.path(), HeadOptions::default()).expect("open");
        for s in 0..SAMPLES_PER_SERIES {
            for chunk in labels.chunks(BATCH) {
                let mut app = head.appender();
                for l in chunk {
                    app.append(
                        None,
                        l,
                        Timestamp(s as i64 * 15_000),
                        Sample::Float(s as f64),
                    )
                    .expect("append");
                }
                app.commit().expect("commit");
            }
        }
        head.close().expect("close");
    }
    let mut g = c.benchmark_group("head_replay");
    g.sample_size(10);
    g.throughput(Throughput::Elements((SERIES * SAMPLES_PER_SERIES) as u64));
    for workers in [1, 2] {
        g.bench_function(format!("workers_{workers}"), |b| {
            b.iter_batched(
                || {
                    // Replay a copy: opening starts a new segment.
                    let copy = tempfile::tempdir().expect("tempdir");
                    copy_dir(&dir.path().join("wal"), &copy.path().join("wal"));
                    copy
                },
                |copy| {
                    let head = Head::open(
                        copy.path(),
                        HeadOptions {
                            replay_workers: workers,
                            ..HeadOptions::default()
                        },
                    )
                    .expect("open");
                    black_box(head.num_series());
                    copy
                },
                BatchSize::PerIteration,
            )
        });
    }
    g.finish();
}

fn copy_dir(from: &std::path::Path, to: &std::path::Path) {
    std::fs::create_dir_all(to).expect("mkdir");
    for e in std::fs::read_dir(from).expect("read dir") {
        let e = e.expect("entry");
        let p = e.path();
        if p.is_dir() {
            copy_dir(&p, &to.join(e.file_name()));
        } else {
            std::fs::copy(&p, to.join(e.file_name())).expect("copy");
        }
    }
}

criterion_group!(
    benches,
    bench_append,
    bench_create,
    bench_select,
    bench_replay
);
criterion_main!(benches);
