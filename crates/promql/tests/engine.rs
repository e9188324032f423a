//! Engine API behaviour: limits, errors, options.

use std::time::Duration;

use model::Labels;
use promql::{CancelToken, Engine, EngineOptions, Error, Query, QueryParams, Value};
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

fn data(n: usize) -> Mem {
    Mem((0..n)
        .map(|i| {
            let l = Labels::from_pairs([("__name__", "m"), ("i", i.to_string().as_str())]);
            VecSeries::floats(l, (0..100).map(|k| (k * 10_000, k as f64)))
        })
        .collect())
}

#[track_caller]
fn check_err(opts: EngineOptions, q: &str, want: &str) {
    let e = Engine::new(opts)
        .instant(&data(10), q, 500_000)
        .expect_err("must fail");
    assert_eq!(e.to_string(), want);
}

#[test]
fn errors_have_prometheus_texts() {
    let d = EngineOptions::default;
    check_err(
        EngineOptions {
            max_samples: 50,
            ..d()
        },
        "m[5m]",
        "query processing would load too many samples into memory in query execution",
    );
    check_err(
        EngineOptions {
            enable_at_modifier: false,
            ..d()
        },
        "m @ 10",
        "@ modifier is disabled",
    );
    check_err(
        EngineOptions {
            enable_negative_offset: false,
            ..d()
        },
        "m offset -1m",
        "negative offset is disabled",
    );
    check_err(d(), "sum(", "1:5: parse error: unclosed left parenthesis");
    check_err(
        d(),
        "m + on() m",
        "found duplicate series for the match group {} on the right hand-side of the operation: [{__name__=\"m\", i=\"0\"}, {__name__=\"m\", i=\"1\"}];many-to-many matching not allowed: matching labels must be unique on one side",
    );
}

/// Without delayed name removal (Prometheus 3.x's default) `rate` drops
/// `__name__` at once, so a grouping by it sees none; with it, the name is
/// still there for the grouping and the two groups collide once it goes.
#[test]
fn name_removal_is_immediate_unless_delayed() {
    let q = "sum by (__name__) (rate(m[5m]))";
    let r = Engine::new(EngineOptions::default())
        .instant(&data(3), q, 500_000)
        .expect("immediate removal: one group without a name");
    let Value::Vector(v) = r.value else {
        panic!("vector expected")
    };
    assert_eq!(v.len(), 1);
    assert_eq!(v[0].metric, Labels::empty());
    let two = Mem(vec![
        VecSeries::floats(
            Labels::from_pairs([("__name__", "a"), ("i", "0")]),
            (0..100).map(|k| (k * 10_000, k as f64)),
        ),
        VecSeries::floats(
            Labels::from_pairs([("__name__", "b"), ("i", "0")]),
            (0..100).map(|k| (k * 10_000, k as f64)),
        ),
    ]);
    let delayed = EngineOptions {
        enable_delayed_name_removal: true,
        ..EngineOptions::default()
    };
    let e = Engine::new(delayed)
        .instant(&two, "sum by (__name__, i) (rate({i=\"0\"}[5m]))", 500_000)
        .expect_err("delayed removal: two groups end with the same labels");
    assert_eq!(
        e.to_string(),
        "vector cannot contain metrics with the same labelset"
    );
}

#[test]
fn instant_and_range() {
    let e = Engine::new(EngineOptions::default());
    let r = e.instant(&data(3), "sum(m)", 500_000).expect("ok");
    assert_eq!(
        r.value,
        Value::Vector(vec![promql::Sample::float(Labels::empty(), 500_000, 150.0)])
    );
    assert!(r.stats.total_queryable_samples > 0);
    let r = e.range(&data(2), "m", 0, 60_000, 30_000).expect("ok");
    let Value::Matrix(m) = r.value else {
        panic!("matrix")
    };
    assert_eq!(m.len(), 2);
    assert_eq!(m[0].floats.len(), 3);
    assert!(e.range(&data(1), "m[1m]", 0, 60_000, 30_000).is_err());
}

#[test]
fn cancellation() {
    let e = Engine::new(EngineOptions {
        timeout: Duration::from_secs(60),
        ..EngineOptions::default()
    });
    let cancel = CancelToken::new();
    cancel.cancel();
    let params = QueryParams {
        cancel: Some(cancel),
        ..Default::default()
    };
    let r = e.exec(&data(5), Query::Text("m"), 0, 0, 0, &params);
    assert_eq!(
        r.expect_err("canceled"),
        Error::Canceled("expression evaluation")
    );
}

/// A selector whose window holds far more samples than the limit fails with
/// the limit error while decoding, even when each step would need few of
/// them (here one series, one sample per step): memory stays bounded by the
/// limit rather than by the data.
#[test]
fn decoding_is_bounded_by_the_sample_limit() {
    let one = Mem(vec![VecSeries::floats(
        Labels::from_pairs([("__name__", "big")]),
        (0..200_000).map(|k| (k * 1_000, k as f64)),
    )]);
    let e = Engine::new(EngineOptions {
        max_samples: 10_000,
        ..EngineOptions::default()
    });
    let err = e
        .instant(&one, "count_over_time(big[3d])", 200_000_000)
        .expect_err("over the limit");
    assert!(matches!(err, Error::TooManySamples(_)), "{err}");
    // Within the limit the same selector works.
    let ok = e
        .instant(&one, "count_over_time(big[5s])", 100_000_000)
        .expect("within the limit");
    match ok.value {
        Value::Vector(v) => assert_eq!(v.len(), 1),
        other => panic!("unexpected {other:?}"),
    }
}
