//! WAL throughput: writing samples records (with and without snappy) and
//! replaying (read, check, decompress, decode) a 64 MiB WAL.
//!
//! `cargo bench -p tsdb --bench wal`

use std::hint::black_box;
use std::path::Path;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use model::Timestamp;
use tsdb::record::{self, HeadSeriesRef, RefSample};
use tsdb::wal::{self, Compression, Options, Reader, Wal};

/// Samples per record, as a scrape of a mid-sized target commits.
const SAMPLES_PER_RECORD: usize = 1000;
/// Size of the replay benchmark's WAL.
const REPLAY_BYTES: usize = 64 << 20;

/// `n` samples records of scrape-like data: consecutive refs, one
/// timestamp per record, slowly changing counter values.
fn records(n: usize) -> Vec<Vec<u8>> {
    let mut samples = Vec::with_capacity(SAMPLES_PER_RECORD);
    (0..n)
        .map(|i| {
            samples.clear();
            for j in 0..SAMPLES_PER_RECORD {
                samples.push(RefSample {
                    series: HeadSeriesRef((j + 1) as u64),
                    t: Timestamp(1_700_000_000_000 + i as i64 * 15_000),
                    v: (i * (j % 17)) as f64 + (j as f64) * 0.5,
                });
            }
            let mut out = Vec::new();
            record::encode_samples(&samples, &mut out);
            out
        })
        .collect()
}

fn write(dir: &Path, recs: &[Vec<u8>], compression: Compression) {
    let mut w = Wal::open(
        dir,
        Options {
            compression,
            ..Options::default()
        },
    )
    .expect("open");
    for r in recs {
        w.log(&[r]).expect("log");
    }
    w.close().expect("close");
}

fn bench_write(c: &mut Criterion) {
    let recs = records(2000);
    let bytes: usize = recs.iter().map(Vec::len).sum();
    let mut g = c.benchmark_group("wal_write");
    g.sample_size(10);
    g.throughput(Throughput::Bytes(bytes as u64));
    for (name, compression) in [("none", Compression::None), ("snappy", Compression::Snappy)] {
        g.bench_function(name, |b| {
            b.iter_with_setup(
                || tempfile::tempdir().expect("tempdir"),
                |dir| write(dir.path(), &recs, compression),
            )
        });
    }
    g.finish();
    eprintln!(
        "wal_write: {} records of {} samples, {:.1} MiB per iteration",
        recs.len(),
        SAMPLES_PER_RECORD,
        bytes as f64 / (1 << 20) as f64
    );
}

fn bench_replay(c: &mut Criterion) {
    let one = records(1).remove(0).len();
    let recs = records(REPLAY_BYTES / one);
    let bytes: usize = recs.iter().map(Vec::len).sum();
    let mut g = c.benchmark_group("wal_replay_64MiB");
    g.sample_size(10);
    g.throughput(Throughput::Bytes(bytes as u64));
    for (name, compression) in [("none", Compression::None), ("snappy", Compression::Snappy)] {
        let dir = tempfile::tempdir().expect("tempdir");
        write(dir.path(), &recs, compression);
        g.bench_function(format!("{name}/serial"), |b| {
            let mut samples = Vec::with_capacity(SAMPLES_PER_RECORD);
            b.iter(|| {
                let mut r = Reader::open(dir.path()).expect("reader");
                let mut n = 0;
                while let Some(rec) = r.next_record().expect("read") {
                    samples.clear();
                    record::decode_samples(rec, &mut samples).expect("decode");
                    n += samples.len();
                }
                black_box(n)
            })
        });
        g.bench_function(format!("{name}/replay"), |b| {
            let mut samples = Vec::with_capacity(SAMPLES_PER_RECORD);
            b.iter(|| {
                let mut n = 0;
                wal::replay(dir.path(), |_, rec| {
                    samples.clear();
                    record::decode_samples(rec, &mut samples).expect("decode");
                    n += samples.len();
                })
                .expect("replay");
                black_box(n)
            })
        });
    }
    g.finish();
    eprintln!(
        "wal_replay: {} records, {} samples, {:.1} MiB",
        recs.len(),
        recs.len() * SAMPLES_PER_RECORD,
        bytes as f64 / (1 << 20) as f64
    );
}

criterion_group!(benches, bench_write, bench_replay);
criterion_main!(benches);
