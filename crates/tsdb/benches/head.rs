//! Head throughput: committing scrape-sized batches (samples/s on one
//! core, with and without the WAL) and replaying a WAL on open with one or
//! two sample-applying workers.
//!
//! `cargo bench -p tsdb --bench head`

use std::cell::Cell;
use std::hint::black_box;

use criterion::{BatchSize, Criterion, Throughput, criterion_group, criterion_main};
use model::{Labels, Timestamp};
use storage::{Appendable, Sample, SeriesRef};
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

criterion_group!(benches, bench_append, bench_replay);
criterion_main!(benches);
