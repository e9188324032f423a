//! The block index: writing 100k series with Kubernetes-like labels (the
//! same shape as `benches/postings.rs`), evaluating typical selectors on the
//! memory-mapped file, and decoding series entries.
//!
//! `cargo bench -p tsdb --bench index`

use std::collections::BTreeSet;
use std::hint::black_box;
use std::path::Path;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use model::Labels;
use model::matcher::{MatchOp, Matcher};
use tsdb::index::{ChunkMeta, IndexReader, IndexWriter};

const SERIES: u64 = 100_000;

fn labels(i: u64) -> Labels {
    let pod = i / 40;
    Labels::from_pairs([
        ("__name__", format!("container_metric_{}", i % 40)),
        ("namespace", format!("team-{}", pod % 30)),
        ("pod", format!("app-{}-5d8f7c9b6-{pod:05}", pod % 100)),
        ("job", "kubelet".to_string()),
        ("container", format!("app-{}", pod % 100)),
    ])
}

/// The series sorted, their symbols, and three chunk metas each.
fn input() -> (Vec<Labels>, Vec<String>) {
    let mut series: Vec<Labels> = (0..SERIES).map(labels).collect();
    series.sort();
    let mut symbols = BTreeSet::new();
    for l in &series {
        for (n, v) in l.iter() {
            symbols.insert(n.to_string());
            symbols.insert(v.to_string());
        }
    }
    (series, symbols.into_iter().collect())
}

fn chunks(i: usize) -> [ChunkMeta; 3] {
    let t = 1_700_000_000_000i64;
    let r = i as u64 * 400;
    [0, 1, 2].map(|k| ChunkMeta {
        min_time: t + k * 1_800_000,
        max_time: t + k * 1_800_000 + 1_785_000,
        chunk_ref: 8 + r + k as u64 * 130,
    })
}

fn write(path: &Path, series: &[Labels], symbols: &[String]) {
    let mut w = IndexWriter::create(path).expect("create");
    w.add_symbols(symbols.iter().map(String::as_str))
        .expect("symbols");
    for (i, l) in series.iter().enumerate() {
        w.add_series(l, &chunks(i)).expect("series");
    }
    w.close().expect("close");
}

fn bench_index(c: &mut Criterion) {
    let (series, symbols) = input();
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("index");

    let mut g = c.benchmark_group("index_write");
    g.sample_size(10);
    g.throughput(Throughput::Elements(SERIES));
    g.bench_function("100k_series", |b| {
        b.iter(|| {
            let _ = std::fs::remove_file(&path);
            write(&path, &series, &symbols);
        })
    });
    g.finish();

    let _ = std::fs::remove_file(&path);
    write(&path, &series, &symbols);
    let ix = IndexReader::open(&path).expect("open");
    let m = |op, n: &str, v: &str| Matcher::new(op, n, v).expect("matcher");
    let cases = [
        (
            "name_and_namespace",
            vec![
                Matcher::equal("__name__", "container_metric_7"),
                Matcher::equal("namespace", "team-3"),
            ],
        ),
        (
            "name_and_pod_prefix",
            vec![
                Matcher::equal("__name__", "container_metric_7"),
                m(MatchOp::RegexMatch, "pod", "app-1-.*"),
            ],
        ),
        (
            "alternation_and_not_equal",
            vec![
                m(MatchOp::RegexMatch, "namespace", "team-1|team-2|team-3"),
                Matcher::not_equal("container", "app-1"),
            ],
        ),
        (
            "name_and_regex_no_match",
            vec![
                Matcher::equal("__name__", "container_metric_7"),
                m(MatchOp::RegexNoMatch, "pod", ".*-0000.*"),
            ],
        ),
    ];
    let mut g = c.benchmark_group("index_postings_for_matchers");
    for (name, ms) in cases {
        g.bench_function(name, |b| {
            b.iter(|| black_box(ix.postings_for_matchers(&ms).expect("postings").len()))
        });
    }
    g.finish();

    let refs = ix.postings("", "").expect("all postings");
    let mut metas = Vec::new();
    let mut g = c.benchmark_group("index_series");
    g.throughput(Throughput::Elements(refs.len() as u64));
    g.bench_function("decode_all_100k", |b| {
        b.iter(|| {
            for &r in &refs {
                black_box(ix.series(r, &mut metas).expect("series"));
            }
        })
    });
    g.finish();
    println!(
        "index of {SERIES} series: {} bytes, open {:?}",
        ix.size_bytes(),
        {
            let t = std::time::Instant::now();
            black_box(IndexReader::open(&path).expect("open"));
            t.elapsed()
        }
    );
}

criterion_group!(benches, bench_index);
criterion_main!(benches);
