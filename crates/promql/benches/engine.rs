//! Engine benchmarks over 10k series in memory.
#![allow(missing_docs)]

use criterion::{Criterion, criterion_group, criterion_main};
use model::Labels;
use promql::{Engine, EngineOptions};
use storage::vec::{VecQuerier, VecSeries};

struct Mem(Vec<VecSeries>);

impl storage::Queryable for Mem {
    fn querier(
        &self,
        mint: i64,
        maxt: i64,
    ) -> Result<Box<dyn storage::Querier + '_>, storage::StorageError> {
        Ok(Box::new(VecQuerier::new(self.0.clone(), mint, maxt)))
    }
}

fn data() -> Mem {
    let mut v = Vec::new();
    let les = ["0.1", "0.5", "1", "5", "+Inf"];
    for i in 0..2000 {
        let inst = format!("{i}");
        for (j, le) in les.iter().enumerate() {
            let l = Labels::from_pairs([
                ("__name__", "req_bucket"),
                ("instance", inst.as_str()),
                ("job", "api"),
                ("le", le),
            ]);
            v.push(VecSeries::floats(
                l,
                (0..60).map(|k| (k * 15_000, (k * (j as i64 + 1)) as f64)),
            ));
        }
    }
    Mem(v)
}

fn bench(c: &mut Criterion) {
    let mem = data();
    let engine = Engine::new(EngineOptions::default());
    let t = 15 * 60_000;
    c.bench_function("rate_10k", |b| {
        b.iter(|| {
            engine
                .instant(&mem, "rate(req_bucket[5m])", t)
                .map(|r| r.value.type_name())
        })
    });
    c.bench_function("sum_by_10k", |b| {
        b.iter(|| {
            engine
                .instant(&mem, "sum by (le) (rate(req_bucket[5m]))", t)
                .map(|r| r.value.type_name())
        })
    });
    c.bench_function("histogram_quantile_10k", |b| {
        b.iter(|| {
            engine
                .instant(&mem, "histogram_quantile(0.9, rate(req_bucket[5m]))", t)
                .map(|r| r.value.type_name())
        })
    });
    c.bench_function("join_10k", |b| {
        b.iter(|| {
            engine
                .instant(
                    &mem,
                    "req_bucket * on(instance, job, le) group_left req_bucket",
                    t,
                )
                .map(|r| r.value.type_name())
        })
    });
}

criterion_group!(benches, bench);
criterion_main!(benches);
