//! Property test: the head against a `BTreeMap` model under random
//! appends (in order, out of order, duplicates, conflicting duplicates),
//! commits, rollbacks, queries with random matchers, garbage collection and
//! reopens (replay) in the middle — with and without an out-of-order
//! window. Every append's result (including the error) is predicted by the
//! model.

use std::collections::BTreeMap;

use model::matcher::{MatchOp, Matcher};
use model::{Labels, STALE_NAN, Timestamp};
use proptest::prelude::*;
use storage::{AppendError, Appendable, Appender, Queryable, Sample, ValueType};
use tsdb::{Head, HeadOptions};

const NUM_SERIES: usize = 6;
const VALUES: [f64; 5] = [0.0, 1.0, -2.5, 1e300, f64::NAN];

#[derive(Clone, Debug)]
enum Op {
    Append {
        series: usize,
        t: i64,
        value: usize,
    },
    Commit,
    Rollback,
    Query {
        matcher: usize,
        mint: i64,
        maxt: i64,
    },
    Gc,
    Reopen,
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        12 => (0..NUM_SERIES, 0i64..400, 0..=VALUES.len()).prop_map(|(series, t, value)| Op::Append {
            series,
            t: t * 250,
            value
        }),
        3 => Just(Op::Commit),
        1 => Just(Op::Rollback),
        2 => (0..MATCHERS.len(), 0i64..100_000, 0i64..100_000)
            .prop_map(|(matcher, a, b)| Op::Query { matcher, mint: a.min(b), maxt: a.max(b) }),
        1 => Just(Op::Gc),
        1 => Just(Op::Reopen),
    ]
}

const MATCHERS: [(&str, MatchOp, &str); 9] = [
    ("__name__", MatchOp::Equal, "m0"),
    ("job", MatchOp::RegexMatch, "j0|j1"),
    ("job", MatchOp::NotEqual, "j2"),
    ("idx", MatchOp::RegexMatch, "1.*"),
    ("job", MatchOp::RegexMatch, ".+"),
    ("idx", MatchOp::RegexNoMatch, "3|4"),
    ("nope", MatchOp::Equal, ""),
    ("job", MatchOp::Equal, ""),
    ("__name__", MatchOp::RegexMatch, "m.*"),
];

fn labels(i: usize) -> Labels {
    Labels::from_pairs([
        ("__name__", format!("m{}", i % 2)),
        ("job", format!("j{}", i % 3)),
        ("idx", i.to_string()),
    ])
}

fn value_bits(v: usize) -> u64 {
    VALUES.get(v).map_or(STALE_NAN.to_bits(), |x| x.to_bits())
}

/// The model: committed samples per series, and the batch in progress.
#[derive(Default)]
struct Model {
    committed: BTreeMap<usize, BTreeMap<i64, u64>>,
    /// The newest in-order sample per series.
    last: BTreeMap<usize, (i64, u64)>,
    /// Newest in-order time over all series (the head's max time).
    head_max: Option<i64>,
    /// (series, t, bits, in order)
    pending: Vec<(usize, i64, u64, bool)>,
    pending_last: BTreeMap<usize, (i64, u64)>,
    /// Head max time when the batch started (first sample of an empty head
    /// sets it).
    batch_max: Option<Option<i64>>,
}

impl Model {
    fn append(&mut self, s: usize, t: i64, bits: u64, window: i64) -> Result<(), AppendError> {
        let batch_max = *self.batch_max.get_or_insert(self.head_max.or(Some(t)));
        let last = self.pending_last.get(&s).or(self.last.get(&s)).copied();
        match last {
            Some((lt, lb)) if t == lt => {
                if lb == bits {
                    Ok(())
                } else {
                    Err(AppendError::DuplicateTimestamp)
                }
            }
            Some((lt, _)) if t < lt => {
                let max = batch_max.unwrap_or(i64::MIN);
                if window > 0 && t >= max.saturating_sub(window) {
                    self.pending.push((s, t, bits, false));
                    Ok(())
                } else if window > 0 {
                    Err(AppendError::TooOld)
                } else {
                    Err(AppendError::OutOfOrder)
                }
            }
            _ => {
                self.pending.push((s, t, bits, true));
                self.pending_last.insert(s, (t, bits));
                Ok(())
            }
        }
    }

    fn commit(&mut self) {
        for (s, t, bits, in_order) in self.pending.drain(..) {
            let m = self.committed.entry(s).or_default();
            if in_order {
                m.insert(t, bits);
                self.last.insert(s, (t, bits));
                self.head_max = Some(self.head_max.map_or(t, |x| x.max(t)));
            } else {
                m.entry(t).or_insert(bits);
            }
        }
        self.rollback();
    }

    fn rollback(&mut self) {
        self.pending.clear();
        self.pending_last.clear();
        self.batch_max = None;
    }
}

fn query(head: &Head, m: &Matcher, mint: i64, maxt: i64) -> Vec<(Labels, Vec<(i64, u64)>)> {
    let q = head.querier(mint, maxt).expect("querier");
    let mut set = q.select(true, None, std::slice::from_ref(m));
    let mut out = Vec::new();
    while let Some(s) = set.next() {
        let s = s.expect("series");
        let mut it = s.iterator();
        let mut v = Vec::new();
        while it.next() == ValueType::Float {
            let (t, x) = it.at();
            v.push((t, x.to_bits()));
        }
        // Like Prometheus, a series whose chunks overlap the range is
        // returned even when no sample falls inside it.
        if !v.is_empty() {
            out.push((s.labels().clone(), v));
        }
    }
    out
}

fn run(ops: Vec<Op>, window: i64) -> Result<(), TestCaseError> {
    let dir = tempfile::tempdir().expect("tempdir");
    let opts = HeadOptions {
        out_of_order_time_window: window,
        out_of_order_cap: 3,
        samples_per_chunk: 8,
        stripe_size: 4,
        ..HeadOptions::default()
    };
    let mut model = Model::default();
    // Between two reopens the head is a local the appender can borrow.
    for epoch in ops.split(|op| matches!(op, Op::Reopen)) {
        let head = Head::open(dir.path(), opts.clone()).expect("open");
        run_epoch(&head, epoch, &mut model, window)?;
        // An open batch is abandoned by the reopen.
        model.rollback();
    }
    Ok(())
}

fn run_epoch(head: &Head, ops: &[Op], model: &mut Model, window: i64) -> Result<(), TestCaseError> {
    let mut app: Option<Box<dyn Appender + '_>> = None;
    for op in ops {
        match *op {
            Op::Append { series, t, value } => {
                let a = app.get_or_insert_with(|| head.appender());
                let bits = value_bits(value);
                let got = a
                    .append(
                        None,
                        &labels(series),
                        Timestamp(t),
                        Sample::Float(f64::from_bits(bits)),
                    )
                    .map(|_| ());
                let want = model.append(series, t, bits, window);
                prop_assert_eq!(
                    got,
                    want,
                    "append series {} t {} value {}",
                    series,
                    t,
                    value
                );
            }
            Op::Commit => {
                if let Some(a) = app.take() {
                    a.commit().expect("commit");
                }
                model.commit();
            }
            Op::Rollback => {
                if let Some(a) = app.take() {
                    a.rollback();
                }
                model.rollback();
            }
            Op::Query {
                matcher,
                mint,
                maxt,
            } => {
                let (n, o, v) = MATCHERS[matcher];
                let m = Matcher::new(o, n, v).expect("matcher");
                let got = query(head, &m, mint, maxt);
                let mut want: Vec<(Labels, Vec<(i64, u64)>)> = model
                    .committed
                    .iter()
                    .filter(|(s, _)| m.matches_labels(&labels(**s)))
                    .map(|(s, samples)| {
                        (
                            labels(*s),
                            samples
                                .range(mint..=maxt)
                                .map(|(t, b)| (*t, *b))
                                .collect::<Vec<_>>(),
                        )
                    })
                    .filter(|(_, v)| !v.is_empty())
                    .collect();
                want.sort_by(|a, b| a.0.cmp(&b.0));
                prop_assert_eq!(got, want, "query {} [{}, {}]", m, mint, maxt);
            }
            Op::Gc => {
                head.gc(i64::MIN);
            }
            Op::Reopen => {}
        }
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 96, failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn head_matches_model(ops in proptest::collection::vec(op(), 1..250)) {
        run(ops, 0)?;
    }

    #[test]
    fn head_matches_model_with_ooo_window(ops in proptest::collection::vec(op(), 1..250)) {
        run(ops, 20_000)?;
    }
}
