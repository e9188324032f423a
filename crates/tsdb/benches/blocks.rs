//! Persistent blocks: size on disk, query throughput and open time.
//!
//! - `block_write`: a head holding 10,000 series × 2h at a 15s interval
//!   (4.8M samples; half counters with integer increments, 30% gauges —
//!   two-decimal random walks and full-precision ratios — and 20% constant
//!   series, in 200 targets scraped at different offsets) is written as
//!   one block, as head compaction does; reports the block's bytes per
//!   sample (all files, and chunks alone) for regular timestamps and for
//!   timestamps with a scrape jitter of up to ±2 ms, and the chunk bytes
//!   per sample of each kind of series. (For reference: the first 1,000
//!   series of this data, written as OpenMetrics and turned into a block
//!   by promtool 2.42's `tsdb create-blocks-from openmetrics`, give a block
//!   within 0.6% of ours, with an index of identical size.)
//! - `block_query`: select and iterate every sample of one metric (200
//!   series) and of every series, from the persisted block (samples/s).
//! - `db_open`: `Db::open` of a directory of 500 small blocks (50 series ×
//!   60 samples each, WAL disabled) and a first query of one series over
//!   all of them.
//!
//! `cargo bench -p tsdb --bench blocks`

use std::collections::HashMap;
use std::hint::black_box;
use std::path::Path;
use std::sync::Arc;

use criterion::{BatchSize, Criterion, Throughput, criterion_group, criterion_main};
use model::matcher::Matcher;
use model::{Labels, Timestamp};
use storage::vec::Value;
use storage::{Appendable, Queryable, Sample, Series, SeriesRef, ValueType};
use tsdb::block::writer::encode_samples;
use tsdb::block::{Block, BlockBuilder, BlockMeta, Ulid};
use tsdb::{Db, DbOptions, Head, HeadOptions};

const SERIES: usize = 10_000;
/// Series per target (one scrape).
const PER_TARGET: usize = 50;
const INTERVAL: i64 = 15_000;
const RANGE: i64 = 2 * 3600 * 1000;

fn series_labels(i: usize) -> Labels {
    let target = i / PER_TARGET;
    Labels::from_pairs([
        (
            "__name__",
            format!("http_requests_total_{}", i % PER_TARGET),
        ),
        (
            "instance",
            format!("10.0.{}.{}:9100", target / 256, target % 256),
        ),
        ("job", "node".to_string()),
        ("method", ["GET", "POST", "PUT"][i % 3].to_string()),
        ("code", ["200", "404", "500"][(i / 3) % 3].to_string()),
    ])
}

/// A small deterministic generator.
struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn unit(&mut self) -> f64 {
        (self.next() >> 11) as f64 / (1u64 << 53) as f64
    }
}

/// The next value of series `i` after `v`.
fn step(i: usize, v: f64, rng: &mut Rng) -> f64 {
    match i % 10 {
        // Counters: integer increments, sometimes none.
        0..=4 => v + (rng.next() % 40) as f64,
        // Gauges: a random walk with two decimals (temperatures, loads).
        5 | 6 => ((v + rng.unit() - 0.5) * 100.0).round() / 100.0,
        // Gauges: full-precision ratios (CPU usage, rates).
        7 => rng.unit(),
        // Constant: up, build info, limits.
        _ => v,
    }
}

/// A head with every series over `[0, RANGE)`; `jitter` adds up to ±2 ms
/// to every scrape time.
fn fill_head(dir: &Path, jitter: bool) -> (Head, u64) {
    let head = Head::open(
        dir,
        HeadOptions {
            wal: false,
            ..HeadOptions::default()
        },
    )
    .expect("open head");
    let labels: Vec<Labels> = (0..SERIES).map(series_labels).collect();
    let mut values: Vec<f64> = (0..SERIES).map(|i| (i % 7) as f64).collect();
    let mut refs = vec![None::<SeriesRef>; SERIES];
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    let mut samples = 0u64;
    let mut k = 0;
    while k * INTERVAL < RANGE - INTERVAL {
        for target in 0..SERIES / PER_TARGET {
            // Targets are scraped at different offsets within the interval.
            let offset = (target as i64 * 7_919) % (INTERVAL - 10);
            let j = if jitter {
                (rng.next() % 5) as i64 - 2
            } else {
                0
            };
            let t = (k * INTERVAL + offset + j).max(0);
            let mut app = head.appender();
            for i in target * PER_TARGET..(target + 1) * PER_TARGET {
                values[i] = step(i, values[i], &mut rng);
                refs[i] = Some(
                    app.append(refs[i], &labels[i], Timestamp(t), Sample::Float(values[i]))
                        .expect("append"),
                );
                samples += 1;
            }
            app.commit().expect("commit");
        }
        k += 1;
    }
    (head, samples)
}

fn dir_bytes(dir: &Path) -> u64 {
    std::fs::read_dir(dir)
        .expect("read dir")
        .map(|e| {
            let e = e.expect("entry");
            if e.file_type().expect("type").is_dir() {
                dir_bytes(&e.path())
            } else {
                e.metadata().expect("stat").len()
            }
        })
        .sum()
}

fn write_block(parent: &Path, head: &Head) -> BlockMeta {
    tsdb::compact::write_head_block(parent, head, 0, RANGE, &HashMap::new())
        .expect("write block")
        .expect("a non-empty block")
}

/// Chunk bytes per sample of each kind of series (see [`step`]).
fn by_kind(head: &Head) -> String {
    const KINDS: [(&str, std::ops::RangeInclusive<usize>); 4] = [
        ("counters", 0..=4),
        ("gauges with two decimals", 5..=6),
        ("full-precision gauges", 7..=7),
        ("constants", 8..=9),
    ];
    let mut bytes = [0usize; 4];
    let mut samples = [0usize; 4];
    for s in head.select_series(0, RANGE, false, 0, &[Matcher::equal("job", "node")]) {
        let i: usize = s
            .labels()
            .get("__name__")
            .and_then(|n| n.strip_prefix("http_requests_total_"))
            .and_then(|n| n.parse().ok())
            .expect("series number");
        let k = KINDS
            .iter()
            .position(|(_, r)| r.contains(&(i % 10)))
            .expect("kind");
        let mut it = s.iterator();
        let mut v: Vec<(i64, Value)> = Vec::new();
        while it.next() == ValueType::Float {
            let (t, x) = it.at();
            v.push((t, Value::Float(x)));
        }
        bytes[k] += encode_samples(&v)
            .expect("encode")
            .iter()
            .map(|c| c.bytes.len())
            .sum::<usize>();
        samples[k] += v.len();
    }
    KINDS
        .iter()
        .enumerate()
        .map(|(k, (name, _))| format!("{name} {:.2}", bytes[k] as f64 / samples[k] as f64))
        .collect::<Vec<_>>()
        .join(", ")
}

fn bench_write(c: &mut Criterion) {
    let mut g = c.benchmark_group("block_write");
    g.sample_size(10);
    for (name, jitter) in [("regular", false), ("jitter_2ms", true)] {
        let hdir = tempfile::tempdir().expect("tempdir");
        let (head, samples) = fill_head(hdir.path(), jitter);
        let out = tempfile::tempdir().expect("tempdir");
        let meta = write_block(out.path(), &head);
        let bdir = out.path().join(meta.ulid.to_string());
        let total = dir_bytes(&bdir);
        let chunks = dir_bytes(&bdir.join("chunks"));
        let index = std::fs::metadata(bdir.join("index")).expect("index").len();
        assert_eq!(meta.stats.num_samples, samples);
        eprintln!(
            "block_write/{name}: {} series, {samples} samples, {} chunks: {total} bytes on disk = \
             {:.3} bytes/sample (chunks {:.3} bytes/sample, index {} bytes = {:.1} bytes/series)",
            meta.stats.num_series,
            meta.stats.num_chunks,
            total as f64 / samples as f64,
            chunks as f64 / samples as f64,
            index,
            index as f64 / meta.stats.num_series as f64,
        );
        eprintln!(
            "block_write/{name}: chunk bytes/sample by kind: {}",
            by_kind(&head)
        );
        g.throughput(Throughput::Elements(samples));
        g.bench_function(format!("10k_series_2h_{name}"), |b| {
            b.iter_batched(
                || tempfile::tempdir().expect("tempdir"),
                |d| {
                    black_box(write_block(d.path(), &head));
                    d
                },
                BatchSize::PerIteration,
            )
        });
    }
    g.finish();
}

/// Selects `m` over the whole block and iterates every sample.
fn read_all(q: &dyn storage::Querier, m: &[Matcher]) -> u64 {
    let mut set = q.select(false, None, m);
    let mut n = 0u64;
    let mut sum = 0.0;
    while let Some(s) = set.next() {
        let s = s.expect("series");
        let mut it = s.iterator();
        while it.next() == ValueType::Float {
            sum += it.at().1;
            n += 1;
        }
        assert!(it.err().is_none());
    }
    black_box(sum);
    n
}

fn bench_query(c: &mut Criterion) {
    let hdir = tempfile::tempdir().expect("tempdir");
    let (head, _) = fill_head(hdir.path(), false);
    let out = tempfile::tempdir().expect("tempdir");
    let meta = write_block(out.path(), &head);
    drop(head);
    let block = Arc::new(Block::open(&out.path().join(meta.ulid.to_string())).expect("open block"));
    let mut g = c.benchmark_group("block_query");
    g.sample_size(10);
    let cases = [
        (
            "one_metric_200_series",
            Matcher::equal("__name__", "http_requests_total_7"),
        ),
        ("all_10k_series", Matcher::equal("job", "node")),
    ];
    for (name, m) in cases {
        let q = block.querier(i64::MIN, i64::MAX);
        let n = read_all(&q, std::slice::from_ref(&m));
        g.throughput(Throughput::Elements(n));
        g.bench_function(name, |b| {
            b.iter(|| {
                let q = block.querier(i64::MIN, i64::MAX);
                black_box(read_all(&q, std::slice::from_ref(&m)))
            })
        });
    }
    g.finish();
}

const SMALL_BLOCKS: usize = 500;
const SMALL_SERIES: usize = 50;
const SMALL_SAMPLES: i64 = 60;

/// A data directory of `SMALL_BLOCKS` consecutive 2h blocks.
fn small_blocks(dir: &Path) {
    let labels: Vec<Labels> = (0..SMALL_SERIES)
        .map(|i| {
            Labels::from_pairs([
                ("__name__", format!("metric_{}", i % 5)),
                ("instance", format!("host-{i}:9100")),
                ("job", "node".to_string()),
            ])
        })
        .collect();
    let mut sorted: Vec<&Labels> = labels.iter().collect();
    sorted.sort();
    let mut symbols: Vec<String> = labels
        .iter()
        .flat_map(|l| {
            l.iter()
                .flat_map(|(n, v)| [n.to_string(), v.to_string()])
                .collect::<Vec<_>>()
        })
        .collect();
    symbols.sort();
    symbols.dedup();
    let step = RANGE / SMALL_SAMPLES;
    for b in 0..SMALL_BLOCKS as i64 {
        let (mint, maxt) = (b * RANGE, (b + 1) * RANGE);
        let meta = BlockMeta::new(Ulid::now(), mint, maxt);
        let mut w = BlockBuilder::new(dir, meta, symbols.iter().map(String::as_str))
            .expect("block builder");
        for l in &sorted {
            let samples: Vec<(i64, Value)> = (0..SMALL_SAMPLES)
                .map(|k| (mint + k * step, Value::Float((b * 100 + k) as f64)))
                .collect();
            let chunks = encode_samples(&samples).expect("encode");
            w.add_series(l, &chunks).expect("add series");
        }
        w.finish().expect("finish block");
    }
}

fn bench_open(c: &mut Criterion) {
    let dir = tempfile::tempdir().expect("tempdir");
    small_blocks(dir.path());
    let opts = DbOptions {
        head: HeadOptions {
            wal: false,
            ..HeadOptions::default()
        },
        retention_duration: 0,
        ..DbOptions::default()
    };
    let one = [Matcher::equal("instance", "host-7:9100")];
    let mut g = c.benchmark_group("db_open");
    g.sample_size(10);
    g.bench_function(format!("{SMALL_BLOCKS}_blocks_open_and_first_query"), |b| {
        b.iter(|| {
            let db = Db::open(dir.path(), opts.clone()).expect("open db");
            assert_eq!(db.blocks().len(), SMALL_BLOCKS);
            let q = db.querier(i64::MIN, i64::MAX).expect("querier");
            let n = read_all(&*q, &one);
            assert_eq!(n, SMALL_BLOCKS as u64 * SMALL_SAMPLES as u64);
            drop(q);
            db
        })
    });
    g.bench_function(format!("{SMALL_BLOCKS}_blocks_open_only"), |b| {
        b.iter(|| Db::open(dir.path(), opts.clone()).expect("open db"))
    });
    g.finish();
}

criterion_group!(benches, bench_write, bench_query, bench_open);
criterion_main!(benches);
