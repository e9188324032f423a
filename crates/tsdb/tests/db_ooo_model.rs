//! Property test: with an out-of-order window wider than all the data,
//! every committed sample stays readable with its value — whatever order
//! the samples came in, whichever compactions (one-second chunk range, so
//! samples fall behind the newest block all the time and go to blocks of
//! their own that vertical compaction merges) and reopens (clean or not,
//! replaying the WAL and the write-behind log) happen in between —
//! against a `BTreeMap` model.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::{BTreeMap, BTreeSet};

use model::matcher::{MatchOp, Matcher};
use model::{Labels, Timestamp};
use proptest::prelude::*;
use storage::{Appendable, Queryable, Sample, ValueType};
use tsdb::{Db, DbOptions, HeadOptions};

const NUM_SERIES: usize = 3;
/// The head's chunk range (and block size).
const RANGE: i64 = 1_000;

#[derive(Clone, Debug)]
enum Op {
    /// A sample at `t` ms (skipped if the series already has one there).
    Append {
        series: usize,
        t: i64,
    },
    Commit,
    Compact,
    Reopen {
        close: bool,
    },
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        20 => (0..NUM_SERIES, 0i64..12 * RANGE).prop_map(|(series, t)| Op::Append { series, t }),
        5 => Just(Op::Commit),
        3 => Just(Op::Compact),
        1 => any::<bool>().prop_map(|close| Op::Reopen { close }),
    ]
}

fn labels(i: usize) -> Labels {
    Labels::from_pairs([("__name__", "m"), ("idx", &i.to_string())])
}

fn opts() -> DbOptions {
    DbOptions {
        head: HeadOptions {
            chunk_range: RANGE,
            out_of_order_time_window: 1 << 40,
            wal_segment_size: 64 * 1024,
            ..HeadOptions::default()
        },
        retention_duration: 0,
        max_block_duration: 9 * RANGE,
        ..DbOptions::default()
    }
}

/// Every sample in the database, by series and time.
fn dump(db: &Db) -> BTreeMap<(String, i64), u64> {
    let q = db.querier(i64::MIN, i64::MAX).unwrap();
    let m = [Matcher::new(MatchOp::Equal, "__name__", "m").unwrap()];
    let mut set = q.select(true, None, &m);
    let mut out = BTreeMap::new();
    while let Some(s) = set.next() {
        let s = s.unwrap();
        let mut it = s.iterator();
        let mut last = i64::MIN;
        while it.next() == ValueType::Float {
            let (t, v) = it.at();
            assert!(t > last, "{}: {t} after {last}", s.labels());
            last = t;
            out.insert((s.labels().to_string(), t), v.to_bits());
        }
        assert!(it.err().is_none(), "{:?}", it.err());
    }
    out
}

fn run(ops: &[Op]) {
    let dir = tempfile::tempdir().unwrap();
    let mut db = Some(Db::open(dir.path(), opts()).unwrap());
    let mut committed: BTreeMap<(String, i64), u64> = BTreeMap::new();
    let mut pending: Vec<(usize, i64, f64)> = Vec::new();
    let mut used: BTreeSet<(usize, i64)> = BTreeSet::new();
    let mut n = 0u32;
    for op in ops {
        let d = db.as_ref().unwrap();
        match *op {
            Op::Append { series, t } => {
                if used.insert((series, t)) {
                    n += 1;
                    pending.push((series, t, f64::from(n)));
                }
            }
            Op::Commit => {
                let mut app = d.appender();
                for &(s, t, v) in &pending {
                    app.append(None, &labels(s), Timestamp(t), Sample::Float(v))
                        .unwrap_or_else(|e| panic!("append {s}@{t}: {e}"));
                }
                app.commit().unwrap();
                for (s, t, v) in pending.drain(..) {
                    committed.insert((labels(s).to_string(), t), v.to_bits());
                }
            }
            Op::Compact => {
                d.compact().unwrap();
            }
            Op::Reopen { close } => {
                // What was not committed is gone with the appender.
                for (s, t, _) in pending.drain(..) {
                    used.remove(&(s, t));
                }
                let d = db.take().unwrap();
                if close {
                    d.close().unwrap();
                } else {
                    drop(d);
                }
                db = Some(Db::open(dir.path(), opts()).unwrap());
            }
        }
        if !matches!(op, Op::Append { .. }) {
            assert_eq!(dump(db.as_ref().unwrap()), committed, "after {op:?}");
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(48))]

    #[test]
    fn committed_samples_survive_in_any_order(ops in proptest::collection::vec(op(), 1..80)) {
        run(&ops);
    }
}

/// Cases the property test found, kept as they were shrunk.
#[test]
fn first_sample_of_a_series_older_than_the_newest_block() {
    // The series' first sample goes out of order (it is older than the
    // head may hold in order), so it is compacted, not dropped.
    use Op::*;
    run(&[
        Append { series: 2, t: 6501 },
        Append { series: 0, t: 0 },
        Commit,
        Compact,
        Append { series: 0, t: 1 },
        Commit,
        Compact,
    ]);
}

#[test]
fn write_behind_log_of_a_series_that_came_back() {
    // The write-behind log names the reference the series had before it
    // left the head; replay resolves it like the WAL's samples.
    use Op::*;
    run(&[
        Append { series: 2, t: 6186 },
        Append { series: 1, t: 0 },
        Commit,
        Compact,
        Append { series: 1, t: 1 },
        Commit,
        Reopen { close: false },
    ]);
}

#[test]
fn references_in_the_write_behind_log_are_not_reused() {
    // A series that left the head (its record gone from the checkpoint)
    // still has samples in the write-behind log: a series created after a
    // restart must not get its reference.
    use Op::*;
    run(&[
        Append {
            series: 0,
            t: 11346,
        },
        Append { series: 0, t: 9846 },
        Append { series: 1, t: 0 },
        Append { series: 0, t: 1000 },
        Commit,
        Compact,
        Reopen { close: false },
        Append { series: 2, t: 1 },
        Commit,
        Reopen { close: false },
    ]);
}
