//! The database over blocks and head: head compaction into blocks,
//! leveled compaction, queries across both, reopening, deletion,
//! tombstone cleaning, retention and snapshots.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use model::matcher::{MatchOp, Matcher};
use model::{Labels, Timestamp};
use storage::{Appendable, Queryable, Sample, ValueType};
use tsdb::{Db, DbOptions};

const H: i64 = 3_600_000;

fn opts() -> DbOptions {
    DbOptions {
        retention_duration: 0,
        ..DbOptions::default()
    }
}

fn lbls(i: usize) -> Labels {
    Labels::from_pairs([("__name__", "m"), ("i", &i.to_string()), ("job", "j")])
}

/// Appends `series` series at every `step` ms in `[from, to)`; value = t/1000 + i.
fn fill(db: &Db, series: usize, from: i64, to: i64, step: i64) {
    let mut t = from;
    while t < to {
        let mut app = db.appender();
        for i in 0..series {
            app.append(
                None,
                &lbls(i),
                Timestamp(t),
                Sample::Float(t as f64 / 1000.0 + i as f64),
            )
            .unwrap();
        }
        app.commit().unwrap();
        t += step;
    }
}

/// Every sample of every series matching `m` in `[mint, maxt]`.
fn dump(db: &Db, mint: i64, maxt: i64, m: &[Matcher]) -> Vec<(String, Vec<(i64, f64)>)> {
    let q = db.querier(mint, maxt).unwrap();
    let mut set = q.select(true, None, m);
    let mut out = Vec::new();
    while let Some(s) = set.next() {
        let s = s.unwrap();
        let mut it = s.iterator();
        let mut v = Vec::new();
        while it.next() == ValueType::Float {
            v.push(it.at());
        }
        assert!(it.err().is_none(), "{:?}", it.err());
        out.push((s.labels().to_string(), v));
    }
    out
}

fn expected(series: usize, from: i64, to: i64, step: i64) -> Vec<(String, Vec<(i64, f64)>)> {
    let mut out: Vec<_> = (0..series)
        .map(|i| {
            let v = (from..to)
                .step_by(step as usize)
                .map(|t| (t, t as f64 / 1000.0 + i as f64))
                .collect();
            (lbls(i).to_string(), v)
        })
        .collect();
    out.sort_by(|a, b| a.0.cmp(&b.0));
    out
}

fn all() -> Vec<Matcher> {
    vec![Matcher::new(MatchOp::Equal, "job", "j").unwrap()]
}

#[test]
fn head_compacts_into_blocks_and_queries_span_both() {
    let dir = tempfile::tempdir().unwrap();
    let db = Db::open(dir.path(), opts()).unwrap();
    fill(&db, 20, 0, 7 * H, 60_000);
    let written = db.compact().unwrap();
    // The head spanned 7h: [0,2h), [2h,4h) and [4h,6h)? No: it stops once
    // the head spans at most 3h, so two or three 2h blocks were cut.
    assert!(!written.is_empty());
    let blocks = db.blocks();
    assert!(blocks.len() >= 2, "{blocks:?}");
    assert_eq!(blocks[0].min_time(), 0);
    assert_eq!(blocks[0].max_time(), 2 * H);
    let want = expected(20, 0, 7 * H, 60_000);
    assert_eq!(dump(&db, 0, 7 * H, &all()), want);
    // A window across a block boundary.
    let part = dump(&db, 2 * H - 120_000, 2 * H + 60_000, &all());
    assert_eq!(part[0].1.len(), 4);
    drop(db);
    let db = Db::open(dir.path(), opts()).unwrap();
    assert_eq!(dump(&db, 0, 7 * H, &all()), want);
    assert!(db.head().min_time().unwrap() >= db.blocks().last().unwrap().max_time());
}

#[test]
fn leveled_compaction_merges_blocks() {
    let dir = tempfile::tempdir().unwrap();
    let db = Db::open(dir.path(), opts()).unwrap();
    fill(&db, 5, 0, 15 * H, 300_000);
    db.compact().unwrap();
    let levels: Vec<(i64, i64, u32)> = db
        .blocks()
        .iter()
        .map(|b| (b.min_time(), b.max_time(), b.meta().compaction.level))
        .collect();
    // 0-6h merged from three 2h blocks (level 2); later ones still 2h.
    assert_eq!(levels[0], (0, 6 * H, 2), "{levels:?}");
    assert_eq!(
        dump(&db, 0, 15 * H, &all()),
        expected(5, 0, 15 * H, 300_000)
    );
    // No leftovers: only block dirs, wal, chunks_head.
    for e in std::fs::read_dir(dir.path()).unwrap() {
        let n = e.unwrap().file_name().into_string().unwrap();
        assert!(!n.contains(".tmp"), "{n}");
    }
}

#[test]
fn delete_and_clean_tombstones() {
    let dir = tempfile::tempdir().unwrap();
    let db = Db::open(dir.path(), opts()).unwrap();
    fill(&db, 4, 0, 7 * H, 600_000);
    db.compact().unwrap();
    let m = vec![Matcher::new(MatchOp::Equal, "i", "1").unwrap()];
    // Delete [1h, 5h] of series 1: spans blocks and head.
    db.delete(H, 5 * H, &m).unwrap();
    let got = dump(&db, 0, 7 * H, &m);
    let want: Vec<(i64, f64)> = expected(4, 0, 7 * H, 600_000)
        .into_iter()
        .find(|(l, _)| l.contains("i=\"1\""))
        .unwrap()
        .1
        .into_iter()
        .filter(|(t, _)| *t < H || *t > 5 * H)
        .collect();
    assert_eq!(got[0].1, want);
    assert!(db.blocks().iter().any(|b| !b.tombstones().is_empty()));
    db.clean_tombstones().unwrap();
    assert!(db.blocks().iter().all(|b| b.tombstones().is_empty()));
    assert_eq!(dump(&db, 0, 7 * H, &m)[0].1, want);
    // Other series untouched.
    let other = vec![Matcher::new(MatchOp::Equal, "i", "2").unwrap()];
    assert_eq!(dump(&db, 0, 7 * H, &other)[0].1.len(), 42);
}

#[test]
fn time_retention_drops_old_blocks() {
    let dir = tempfile::tempdir().unwrap();
    let db = Db::open(
        dir.path(),
        DbOptions {
            retention_duration: 4 * H,
            max_block_duration: 2 * H,
            ..DbOptions::default()
        },
    )
    .unwrap();
    fill(&db, 2, 0, 13 * H, 600_000);
    db.compact().unwrap();
    let blocks = db.blocks();
    let newest = blocks.last().unwrap().max_time();
    assert!(
        blocks.iter().all(|b| newest - b.max_time() < 4 * H),
        "{blocks:?}"
    );
    assert!(blocks.first().unwrap().min_time() > 0);
}

#[test]
fn snapshot_links_blocks_and_head() {
    let dir = tempfile::tempdir().unwrap();
    let db = Db::open(dir.path(), opts()).unwrap();
    fill(&db, 3, 0, 5 * H, 600_000);
    db.compact().unwrap();
    let snap = tempfile::tempdir().unwrap();
    let ulids = db.snapshot(snap.path(), true).unwrap();
    assert_eq!(ulids.len(), db.blocks().len() + 1);
    // The snapshot is a data directory of its own.
    let copy = Db::open(snap.path(), opts()).unwrap();
    assert_eq!(
        dump(&copy, 0, 5 * H, &all()),
        expected(3, 0, 5 * H, 600_000)
    );
}

#[test]
fn head_deletions_survive_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let db = Db::open(dir.path(), opts()).unwrap();
    fill(&db, 3, 0, H, 60_000);
    let m = vec![Matcher::new(MatchOp::Equal, "i", "0").unwrap()];
    db.delete(10 * 60_000, 20 * 60_000, &m).unwrap();
    let after_delete = dump(&db, 0, H, &all());
    assert_eq!(after_delete[0].1.len(), 60 - 11);
    // No compaction, no clean shutdown beyond dropping: the WAL has it.
    drop(db);
    let db = Db::open(dir.path(), opts()).unwrap();
    assert_eq!(dump(&db, 0, H, &all()), after_delete);
    // And blocks cut later leave the deleted samples out.
    fill(&db, 3, H, 5 * H, 60_000);
    db.compact().unwrap();
    assert!(!db.blocks().is_empty());
    let got = dump(&db, 0, 5 * H, &m);
    assert_eq!(got[0].1.len(), 300 - 11);
}

#[test]
fn deleting_every_sample_survives_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let db = Db::open(dir.path(), opts()).unwrap();
    let l = lbls(0);
    for t in [750, 1250, 2250] {
        let mut app = db.appender();
        app.append(None, &l, Timestamp(t), Sample::Float(1.0))
            .unwrap();
        app.commit().unwrap();
    }
    let m = vec![Matcher::new(MatchOp::Equal, "nope", "").unwrap()];
    db.delete(-1_000_000, 1_000_000, &m).unwrap();
    assert!(dump(&db, 0, 10_000, &all()).is_empty());
    db.compact().unwrap();
    drop(db);
    let db = Db::open(dir.path(), opts()).unwrap();
    assert!(
        dump(&db, 0, 10_000, &all()).is_empty(),
        "{:?}",
        dump(&db, 0, 10_000, &all())
    );
}

/// Labels of the series a metadata select (`series` API) lists.
fn listed(db: &Db, mint: i64, maxt: i64, m: &[Matcher]) -> Vec<String> {
    let q = db.querier(mint, maxt).unwrap();
    let hints = storage::SelectHints {
        start: mint,
        end: maxt,
        func: "series".into(),
        ..Default::default()
    };
    let mut set = q.select(true, Some(&hints), m);
    let mut out = Vec::new();
    while let Some(s) = set.next() {
        out.push(s.unwrap().labels().to_string());
    }
    out
}

#[test]
fn wholly_deleted_head_series_is_listed_until_compacted() {
    let dir = tempfile::tempdir().unwrap();
    let db = Db::open(dir.path(), opts()).unwrap();
    fill(&db, 2, 0, H, 60_000);
    let m = vec![Matcher::new(MatchOp::Equal, "i", "1").unwrap()];
    db.delete(i64::MIN, i64::MAX, &m).unwrap();
    // Sample selects never see it ...
    let got = dump(&db, 0, H, &all());
    assert_eq!(got.len(), 1, "{got:?}");
    assert_eq!(got[0].0, lbls(0).to_string());
    // ... the series listing does, as Prometheus's head index lists the
    // open chunk as reaching to the end of time; without samples.
    assert_eq!(
        listed(&db, 0, H, &all()),
        vec![lbls(0).to_string(), lbls(1).to_string()]
    );
    {
        let q = db.querier(0, H).unwrap();
        let hints = storage::SelectHints {
            func: "series".into(),
            ..Default::default()
        };
        let mut set = q.select(true, Some(&hints), &m);
        let s = set.next().unwrap().unwrap();
        assert_eq!(s.iterator().next(), ValueType::None);
    }
    // Not where the open chunk is out of range.
    assert_eq!(listed(&db, 2 * H, 3 * H, &m), Vec::<String>::new());
    // Also after a restart (the tombstones come back from the WAL).
    drop(db);
    let db = Db::open(dir.path(), opts()).unwrap();
    assert_eq!(listed(&db, 0, H, &m), vec![lbls(1).to_string()]);
    assert!(dump(&db, 0, H, &m).is_empty());
    // Once the head is compacted past it, it is gone (`fill` extends only
    // series 0).
    fill(&db, 1, 5 * H, 6 * H, 60_000);
    db.compact().unwrap();
    assert!(!db.blocks().is_empty());
    assert_eq!(listed(&db, 0, 6 * H, &m), Vec::<String>::new());
}

/// The value of the first series of the family `name`: a counter's or
/// gauge's value, a histogram's or summary's (count, sum).
fn metric(db: &Db, name: &str) -> (f64, f64) {
    let families = db.metric_families();
    let f = families
        .iter()
        .find(|f| f.name == name)
        .unwrap_or_else(|| panic!("no family {name}"));
    match &f.metrics[0].value {
        expfmt::MetricValue::Counter(c) => (c.value, 0.0),
        expfmt::MetricValue::Gauge(v) => (*v, 0.0),
        expfmt::MetricValue::Histogram(h) => (h.count, h.sum),
        expfmt::MetricValue::Summary(s) => (s.count, s.sum),
        other => panic!("{other:?}"),
    }
}

fn copy_dir(from: &std::path::Path, to: &std::path::Path) {
    std::fs::create_dir_all(to).unwrap();
    for e in std::fs::read_dir(from).unwrap() {
        let e = e.unwrap();
        if e.file_type().unwrap().is_dir() {
            copy_dir(&e.path(), &to.join(e.file_name()));
        } else {
            std::fs::copy(e.path(), to.join(e.file_name())).unwrap();
        }
    }
}

#[test]
fn storage_self_metrics_follow_the_work_done() {
    let dir = tempfile::tempdir().unwrap();
    let mut o = opts();
    o.head.wal_segment_size = 64 * 1024;
    let db = Db::open(dir.path(), o).unwrap();
    fill(&db, 20, 0, 7 * H, 60_000);
    let written = db.compact().unwrap();
    assert!(!written.is_empty());
    // Every chunk of the blocks cut from the head, observed once.
    let chunks: u64 = written.iter().map(|m| m.stats.num_chunks).sum();
    let samples: u64 = written.iter().map(|m| m.stats.num_samples).sum();
    assert_eq!(
        metric(&db, "prometheus_tsdb_compaction_chunk_samples"),
        (chunks as f64, samples as f64)
    );
    assert_eq!(
        metric(&db, "prometheus_tsdb_compaction_chunk_size_bytes").0,
        chunks as f64
    );
    let (n, range_ms) = metric(&db, "prometheus_tsdb_compaction_chunk_range_seconds");
    assert_eq!(n, chunks as f64);
    // Chunks of 120 one-minute samples span 119 minutes, in milliseconds
    // as Prometheus observes them.
    assert!(
        range_ms > 0.0 && range_ms <= chunks as f64 * 2.0 * H as f64,
        "{range_ms}"
    );
    assert_eq!(
        metric(&db, "prometheus_tsdb_compaction_duration_seconds").0,
        metric(&db, "prometheus_tsdb_compactions_total").0
    );
    assert_eq!(
        metric(&db, "prometheus_tsdb_compaction_populating_block").0,
        0.0
    );
    // The head truncations checkpointed the WAL and fsynced its segments.
    assert!(metric(&db, "prometheus_tsdb_wal_truncate_duration_seconds").0 >= 1.0);
    assert!(metric(&db, "prometheus_tsdb_wal_fsync_duration_seconds").0 >= 1.0);
    assert_eq!(
        metric(&db, "prometheus_tsdb_wal_truncations_failed_total").0,
        0.0
    );
    assert_eq!(
        metric(&db, "prometheus_tsdb_checkpoint_deletions_failed_total").0,
        0.0
    );
    // Queries load the blocks' indexes, and with them their symbol tables.
    dump(&db, 0, 7 * H, &all());
    assert!(metric(&db, "prometheus_tsdb_symbol_table_size_bytes").0 > 0.0);
    assert_eq!(
        metric(&db, "prometheus_tsdb_lowest_timestamp_seconds").0,
        0.0
    );

    // A tombstone cleanup is timed.
    let m = vec![Matcher::new(MatchOp::Equal, "i", "1").unwrap()];
    db.delete(0, H, &m).unwrap();
    db.clean_tombstones().unwrap();
    assert_eq!(
        metric(&db, "prometheus_tsdb_tombstone_cleanup_seconds").0,
        1.0
    );

    // A block of other series over the same range as the first one: the
    // merge is a vertical compaction.
    assert_eq!(
        metric(&db, "prometheus_tsdb_vertical_compactions_total").0,
        0.0
    );
    let other = tempfile::tempdir().unwrap();
    let odb = Db::open(other.path(), opts()).unwrap();
    let mut app = odb.appender();
    for t in (0..5 * H).step_by(600_000) {
        app.append(
            None,
            &Labels::from_pairs([("__name__", "other"), ("job", "j")]),
            Timestamp(t),
            Sample::Float(1.0),
        )
        .unwrap();
    }
    app.commit().unwrap();
    let first = odb.compact().unwrap()[0].clone();
    assert_eq!((first.min_time, first.max_time), (0, 2 * H));
    odb.close().unwrap();
    let name = first.ulid.to_string();
    copy_dir(&other.path().join(&name), &dir.path().join(&name));
    db.reload().unwrap();
    db.compact().unwrap();
    assert_eq!(
        metric(&db, "prometheus_tsdb_vertical_compactions_total").0,
        1.0
    );
    db.close().unwrap();
}

#[test]
fn out_of_order_samples_older_than_the_newest_block_are_kept() {
    let dir = tempfile::tempdir().unwrap();
    let mut o = opts();
    o.head.out_of_order_time_window = 24 * H;
    let db = Db::open(dir.path(), o.clone()).unwrap();
    fill(&db, 2, 0, 7 * H, 60_000);
    db.compact().unwrap();
    let floor = db.blocks().last().unwrap().max_time();
    assert_eq!(floor, 4 * H);
    // Within the window, older than the newest block: accepted, as by
    // Prometheus.
    let late = [
        (0, H + 30_000, -1.0),
        (1, 3 * H + 30_000, -2.0),
        (0, 5 * H + 30_000, -3.0),
    ];
    let mut app = db.appender();
    for &(i, t, v) in &late {
        app.append(None, &lbls(i), Timestamp(t), Sample::Float(v))
            .unwrap();
    }
    app.commit().unwrap();
    let want = |to: i64| {
        let mut w = expected(2, 0, to, 60_000);
        for &(i, t, v) in &late {
            let s = &mut w
                .iter_mut()
                .find(|(l, _)| *l == lbls(i).to_string())
                .unwrap()
                .1;
            s.push((t, v));
            s.sort_by_key(|p| p.0);
        }
        w
    };
    assert_eq!(dump(&db, 0, 10 * H, &all()), want(7 * H));
    // A restart replays them from the write-behind log and writes the ones
    // below the newest block to blocks of their own before truncating.
    drop(db);
    let db = Db::open(dir.path(), o.clone()).unwrap();
    assert_eq!(dump(&db, 0, 10 * H, &all()), want(7 * H));
    let ooo: Vec<(i64, i64)> = db
        .blocks()
        .iter()
        .filter(|b| b.meta().from_out_of_order())
        .map(|b| (b.min_time(), b.max_time()))
        .collect();
    assert_eq!(ooo, [(0, 2 * H), (2 * H, 4 * H)], "Prometheus's hint");
    // More data and a compaction: the overlapping blocks are merged.
    fill(&db, 2, 7 * H, 10 * H, 60_000);
    db.compact().unwrap();
    assert_eq!(dump(&db, 0, 10 * H, &all()), want(10 * H));
    let families = db.metric_families();
    let vertical = families
        .iter()
        .find(|f| f.name == "prometheus_tsdb_vertical_compactions_total")
        .unwrap();
    assert!(
        matches!(&vertical.metrics[0].value, expfmt::MetricValue::Counter(c) if c.value >= 1.0),
        "{vertical:?}"
    );
    let ranges: Vec<(i64, i64)> = db
        .blocks()
        .iter()
        .map(|b| (b.min_time(), b.max_time()))
        .collect();
    assert!(
        ranges.windows(2).all(|w| w[0].1 <= w[1].0),
        "overlaps left: {ranges:?}"
    );
    db.close().unwrap();
    let db = Db::open(dir.path(), o).unwrap();
    assert_eq!(dump(&db, 0, 10 * H, &all()), want(10 * H));
}

#[test]
fn one_late_sample_from_long_ago_is_one_block() {
    let dir = tempfile::tempdir().unwrap();
    let mut o = opts();
    o.head.out_of_order_time_window = 400 * 24 * H;
    let db = Db::open(dir.path(), o).unwrap();
    let year = 365 * 24 * H;
    fill(&db, 2, year, year + 7 * H, 60_000);
    db.compact().unwrap();
    let mut app = db.appender();
    app.append(None, &lbls(0), Timestamp(H), Sample::Float(42.0))
        .unwrap();
    app.commit().unwrap();
    fill(&db, 2, year + 7 * H, year + 10 * H, 60_000);
    let written = db.compact().unwrap();
    let ooo: Vec<(i64, i64)> = written
        .iter()
        .filter(|m| m.from_out_of_order())
        .map(|m| (m.min_time, m.max_time))
        .collect();
    assert_eq!(ooo, [(0, 2 * H)], "one block for the one window");
    let m = vec![Matcher::new(MatchOp::Equal, "i", "0").unwrap()];
    assert_eq!(dump(&db, 0, 2 * H, &m)[0].1, [(H, 42.0)]);
    db.close().unwrap();
}
