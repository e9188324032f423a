//! Postings: intersecting large lists, and evaluating typical selectors
//! against an index of 200k series with Kubernetes-like labels.
//!
//! `cargo bench -p tsdb --bench postings`

use std::hint::black_box;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use model::Labels;
use model::matcher::{MatchOp, Matcher};
use tsdb::index::postings::{self, BoxPostings, ListPostings, MemPostings};

const SERIES: u64 = 200_000;

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

fn bench_intersect(c: &mut Criterion) {
    // Two lists of 1M-range references: every 3rd and every 5th.
    let a: Vec<u64> = (0..1_000_000).step_by(3).collect();
    let b: Vec<u64> = (0..1_000_000).step_by(5).collect();
    let sparse: Vec<u64> = (0..1_000_000).step_by(997).collect();
    let mut g = c.benchmark_group("postings_intersect");
    g.throughput(Throughput::Elements((a.len() + b.len()) as u64));
    g.bench_function("dense_333k_x_200k", |bch| {
        bch.iter(|| {
            let its: Vec<BoxPostings<'_>> = vec![
                Box::new(ListPostings::new(&a)),
                Box::new(ListPostings::new(&b)),
            ];
            black_box(postings::collect(postings::intersect(its)).len())
        })
    });
    g.throughput(Throughput::Elements((a.len() + sparse.len()) as u64));
    g.bench_function("dense_333k_x_sparse_1k", |bch| {
        bch.iter(|| {
            let its: Vec<BoxPostings<'_>> = vec![
                Box::new(ListPostings::new(&sparse)),
                Box::new(ListPostings::new(&a)),
            ];
            black_box(postings::collect(postings::intersect(its)).len())
        })
    });
    g.finish();
}

fn bench_matchers(c: &mut Criterion) {
    let mut p = MemPostings::new();
    for i in 1..=SERIES {
        p.add(i, &labels(i));
    }
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
    let mut g = c.benchmark_group("postings_for_matchers");
    for (name, ms) in cases {
        g.bench_function(name, |b| b.iter(|| black_box(p.for_matchers(&ms).len())));
    }
    g.finish();
}

criterion_group!(benches, bench_intersect, bench_matchers);
criterion_main!(benches);
