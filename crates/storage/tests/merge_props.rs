//! The merge of several queriers equals a simple model: the union of all
//! series by labels, samples unioned by timestamp with the first querier
//! winning, sorted by labels; seek agrees with next.

#![allow(clippy::unwrap_used)]

use std::collections::BTreeMap;

use model::Labels;
use model::matcher::{MatchOp, Matcher};
use proptest::prelude::*;
use storage::vec::{VecQuerier, VecSeries};
use storage::{LabelHints, MergeQuerier, Querier, SampleIterator, ValueType};

type Model = BTreeMap<Labels, BTreeMap<i64, f64>>;

fn labels(i: u8) -> Labels {
    Labels::from_pairs([
        ("__name__", format!("m{}", i % 3)),
        ("i", (i % 5).to_string()),
    ])
}

/// Per querier: (label-set id, samples) entries.
type Input = Vec<Vec<(u8, Vec<(i64, f64)>)>>;

fn queriers() -> impl Strategy<Value = Input> {
    prop::collection::vec(
        prop::collection::vec(
            (
                0u8..15,
                prop::collection::vec((0i64..50, -100.0f64..100.0), 0..12),
            ),
            0..6,
        ),
        1..4,
    )
}

fn drain(it: &mut dyn SampleIterator) -> Vec<(i64, f64)> {
    let mut out = Vec::new();
    while it.next() == ValueType::Float {
        out.push(it.at());
    }
    out
}

proptest! {
    #[test]
    fn merge_equals_model(input in queriers(), seek_to in 0i64..60) {
        let mut model: Model = BTreeMap::new();
        let mut qs: Vec<Box<dyn Querier>> = Vec::new();
        for q in &input {
            let mut per_q: BTreeMap<Labels, BTreeMap<i64, f64>> = BTreeMap::new();
            for (l, samples) in q {
                let s = per_q.entry(labels(*l)).or_default();
                for (t, v) in samples {
                    s.entry(*t).or_insert(*v);
                }
            }
            for (l, s) in &per_q {
                if s.is_empty() {
                    continue;
                }
                let m = model.entry(l.clone()).or_default();
                for (t, v) in s {
                    m.entry(*t).or_insert(*v);
                }
            }
            let series = per_q.into_iter().map(|(l, s)| VecSeries::floats(l, s)).collect();
            qs.push(Box::new(VecQuerier::new(series, i64::MIN, i64::MAX)));
        }
        let merged = MergeQuerier::new(qs);
        let mut set = merged.select(true, None, &[Matcher::new(MatchOp::RegexMatch, "__name__", ".+").unwrap()]);
        let mut got: Model = BTreeMap::new();
        let mut order = Vec::new();
        while let Some(s) = set.next() {
            let s = s.unwrap();
            order.push(s.labels().clone());
            let samples = drain(&mut *s.iterator());
            // seek lands on the first sample at or after the target.
            let mut it = s.iterator();
            let want_seek = samples.iter().find(|(t, _)| *t >= seek_to).copied();
            match it.seek(seek_to) {
                ValueType::Float => prop_assert_eq!(Some(it.at()), want_seek),
                _ => prop_assert_eq!(None, want_seek),
            }
            got.insert(s.labels().clone(), samples.into_iter().collect());
        }
        let mut sorted = order.clone();
        sorted.sort();
        prop_assert_eq!(order, sorted, "series not sorted");
        prop_assert_eq!(got, model.clone());

        let (names, _) = merged.label_values("i", &LabelHints::default(), &[]).unwrap();
        let mut want: Vec<String> = model.keys().filter_map(|l| l.get("i")).map(str::to_string).collect();
        want.sort();
        want.dedup();
        prop_assert_eq!(names, want);
    }
}
