//! The head end to end: appends and their errors, queries, reopen (replay
//! of chunks_head, WAL and WBL), chunk cutting, histograms, out-of-order
//! window, truncation with checkpoint, exemplars, metrics.

use model::histogram::{CounterResetHint, Span};
use model::matcher::{MatchOp, Matcher};
use model::{Histogram, Labels, Timestamp};
use storage::{
    AppendError, Appendable, Exemplar, LabelHints, Queryable, Sample, SeriesRef, ValueType,
};
use tsdb::{Head, HeadOptions};

fn labels(name: &str, job: &str) -> Labels {
    Labels::from_pairs([
        ("__name__", name),
        ("job", job),
        ("instance", "localhost:9090"),
    ])
}

fn open(dir: &std::path::Path, opts: &HeadOptions) -> Head {
    Head::open(dir, opts.clone()).expect("open head")
}

/// All float samples of the series matching `ms`, by labels.
fn floats(head: &Head, mint: i64, maxt: i64, ms: &[Matcher]) -> Vec<(Labels, Vec<(i64, f64)>)> {
    let q = head.querier(mint, maxt).expect("querier");
    let mut set = q.select(true, None, ms);
    let mut out = Vec::new();
    while let Some(s) = set.next() {
        let s = s.expect("series");
        let mut it = s.iterator();
        let mut v = Vec::new();
        while it.next() == ValueType::Float {
            v.push(it.at());
        }
        assert!(it.err().is_none(), "{:?}", it.err());
        out.push((s.labels().clone(), v));
    }
    out
}

fn append_floats(head: &Head, l: &Labels, samples: impl IntoIterator<Item = (i64, f64)>) {
    let mut app = head.appender();
    for (t, v) in samples {
        app.append(None, l, Timestamp(t), Sample::Float(v))
            .expect("append");
    }
    app.commit().expect("commit");
}

#[test]
fn append_query_reopen() {
    let dir = tempfile::tempdir().expect("tempdir");
    let opts = HeadOptions::default();
    let head = open(dir.path(), &opts);
    let a = labels("up", "a");
    let b = labels("up", "b");
    let c = labels("other", "a");
    append_floats(&head, &a, (0..10).map(|i| (i * 1000, i as f64)));
    append_floats(&head, &b, (0..5).map(|i| (i * 1000, -(i as f64))));
    append_floats(&head, &c, [(500, f64::NAN)]);
    let check = |head: &Head| {
        let got = floats(head, 0, 100_000, &[Matcher::equal("__name__", "up")]);
        assert_eq!(got.len(), 2);
        assert_eq!(got[0].0, a);
        assert_eq!(
            got[0].1,
            (0..10).map(|i| (i * 1000, i as f64)).collect::<Vec<_>>()
        );
        assert_eq!(got[1].0, b);
        assert_eq!(got[1].1.len(), 5);
        let got = floats(head, 2000, 3000, &[Matcher::equal("job", "a")]);
        assert_eq!(got.len(), 1, "other has no sample in range");
        assert_eq!(got[0].1, vec![(2000, 2.0), (3000, 3.0)]);
        let got = floats(head, 0, 1000, &[Matcher::equal("__name__", "other")]);
        assert!(got[0].1[0].1.is_nan());
        let q = head.querier(0, 100_000).expect("querier");
        let (v, _) = q
            .label_values("job", &LabelHints::default(), &[])
            .expect("values");
        assert_eq!(v, ["a", "b"]);
        let (v, _) = q
            .label_values(
                "__name__",
                &LabelHints::default(),
                &[Matcher::equal("job", "b")],
            )
            .expect("values");
        assert_eq!(v, ["up"]);
        let (n, _) = q.label_names(&LabelHints { limit: 2 }, &[]).expect("names");
        assert_eq!(n, ["__name__", "instance"]);
    };
    check(&head);
    assert_eq!(head.num_series(), 3);
    head.close().expect("close");
    let head = open(dir.path(), &opts);
    check(&head);
    assert_eq!(head.num_series(), 3);
    // Appending continues after the reopen, and again survives one.
    append_floats(&head, &a, [(10_000, 10.0)]);
    drop(head);
    let head = open(dir.path(), &opts);
    let got = floats(
        &head,
        0,
        100_000,
        &[Matcher::equal("job", "a"), Matcher::equal("__name__", "up")],
    );
    assert_eq!(got[0].1.len(), 11);
}

#[test]
fn append_errors() {
    let dir = tempfile::tempdir().expect("tempdir");
    let head = open(dir.path(), &HeadOptions::default());
    let a = labels("up", "a");
    append_floats(&head, &a, [(100_000, 1.0)]);
    let mut app = head.appender();
    let check = |app: &mut Box<dyn storage::Appender + '_>,
                 t: i64,
                 v: f64,
                 want: Result<(), AppendError>| {
        let got = app
            .append(None, &a, Timestamp(t), Sample::Float(v))
            .map(|_| ());
        assert_eq!(got, want, "t={t} v={v}");
    };
    check(&mut app, 99_000, 1.0, Err(AppendError::OutOfOrder));
    check(&mut app, 100_000, 1.0, Ok(()));
    check(&mut app, 100_000, 2.0, Err(AppendError::DuplicateTimestamp));
    check(&mut app, 101_000, 2.0, Ok(()));
    check(&mut app, 100_500, 2.0, Err(AppendError::OutOfOrder));
    check(&mut app, 101_000, 2.0, Ok(()));
    check(&mut app, 101_000, 3.0, Err(AppendError::DuplicateTimestamp));
    // Older than max - chunk_range/2: out of bounds.
    check(
        &mut app,
        100_000 - 3_600_001,
        1.0,
        Err(AppendError::OutOfBounds),
    );
    assert_eq!(
        app.append(
            None,
            &Labels::empty(),
            Timestamp(200_000),
            Sample::Float(1.0)
        ),
        Err(AppendError::InvalidSample("empty labelset".into()))
    );
    assert_eq!(
        AppendError::InvalidSample("empty labelset".into()).to_string(),
        "empty labelset: invalid sample"
    );
    app.commit().expect("commit");
    let got = floats(&head, 0, 200_000, &[]);
    assert_eq!(got[0].1, vec![(100_000, 1.0), (101_000, 2.0)]);
    // A rolled-back batch leaves nothing but its (empty) series, which GC
    // removes.
    let mut app = head.appender();
    let b = labels("up", "b");
    app.append(None, &b, Timestamp(200_000), Sample::Float(1.0))
        .expect("append");
    app.rollback();
    assert_eq!(head.num_series(), 2);
    assert_eq!(
        floats(&head, 0, 300_000, &[Matcher::equal("job", "b")]),
        vec![]
    );
    let stats = head.gc(i64::MIN);
    assert_eq!(stats.series_removed, 1);
    assert_eq!(head.num_series(), 1);
}

#[test]
fn chunks_cut_and_mmap() {
    let dir = tempfile::tempdir().expect("tempdir");
    let opts = HeadOptions::default();
    let head = open(dir.path(), &opts);
    let a = labels("up", "a");
    let want: Vec<(i64, f64)> = (0..2000)
        .map(|i| (i * 15_000, (i % 7) as f64 * 0.5))
        .collect();
    // Several batches; the series ref is reused as a hint.
    let mut hint: Option<SeriesRef> = None;
    for batch in want.chunks(100) {
        let mut app = head.appender();
        for &(t, v) in batch {
            hint = Some(
                app.append(hint, &a, Timestamp(t), Sample::Float(v))
                    .expect("append"),
            );
        }
        app.commit().expect("commit");
    }
    let (_, disk, _) = head.chunk_counts();
    assert!(disk >= 10, "chunks on disk: {disk}");
    assert_eq!(floats(&head, i64::MIN, i64::MAX, &[])[0].1, want);
    assert_eq!(
        floats(&head, 15_000 * 500, 15_000 * 510, &[])[0].1,
        want[500..=510].to_vec()
    );
    drop(head);
    let head = open(dir.path(), &opts);
    assert_eq!(floats(&head, i64::MIN, i64::MAX, &[])[0].1, want);
    // The WAL's samples already in memory-mapped chunks were dropped, not
    // appended again: only the open chunk's came from the WAL.
    let replay = head.replay_stats();
    assert_eq!(replay.samples + replay.dropped, 2000, "{replay:?}");
    assert!(replay.samples < 120, "{replay:?}");
    // Truncation drops old chunks, checkpoints the WAL, and a reopen sees
    // the same data.
    let mint = 15_000 * 1500;
    let stats = head.truncate(mint).expect("truncate");
    assert!(stats.chunks_removed > 0);
    let kept = floats(&head, i64::MIN, i64::MAX, &[])[0].1.clone();
    assert!(kept.first().is_some_and(|s| s.0 <= mint));
    assert_eq!(kept.last(), want.last());
    head.close().expect("close");
    let head = open(dir.path(), &opts);
    let after = floats(&head, mint, i64::MAX, &[])[0].1.clone();
    assert_eq!(
        after,
        want.iter()
            .copied()
            .filter(|s| s.0 >= mint)
            .collect::<Vec<_>>()
    );
    // Everything truncated: the series goes away.
    head.truncate(i64::MAX).expect("truncate");
    assert_eq!(head.num_series(), 0);
    assert_eq!(floats(&head, i64::MIN, i64::MAX, &[]), vec![]);
}

fn hist(i: u64) -> Histogram {
    Histogram {
        counter_reset_hint: CounterResetHint::Unknown,
        schema: 0,
        zero_threshold: 0.001,
        zero_count: i,
        count: 3 * i,
        sum: i as f64 * 1.5,
        positive_spans: vec![Span {
            offset: 0,
            length: 2,
        }],
        negative_spans: vec![],
        positive_buckets: vec![i as i64, 0],
        negative_buckets: vec![],
        custom_values: vec![],
    }
}

#[test]
fn histograms() {
    let dir = tempfile::tempdir().expect("tempdir");
    let opts = HeadOptions::default();
    let head = open(dir.path(), &opts);
    let l = labels("req_duration", "a");
    for batch in 0..30u64 {
        let mut app = head.appender();
        for i in batch * 10..batch * 10 + 10 {
            app.append(
                None,
                &l,
                Timestamp(i as i64 * 1000),
                Sample::Histogram(&hist(i)),
            )
            .expect("append");
        }
        app.commit().expect("commit");
    }
    let mut app = head.appender();
    assert_eq!(
        app.append(None, &l, Timestamp(299_000), Sample::Histogram(&hist(299)))
            .map(|_| ()),
        Ok(()),
        "exact duplicate"
    );
    assert_eq!(
        app.append(None, &l, Timestamp(299_000), Sample::Histogram(&hist(3)))
            .map(|_| ()),
        Err(AppendError::DuplicateTimestamp)
    );
    assert_eq!(
        app.append(None, &l, Timestamp(1000), Sample::Histogram(&hist(3)))
            .map(|_| ()),
        Err(AppendError::OutOfOrder)
    );
    app.rollback();
    let check = |head: &Head| {
        let q = head.querier(0, i64::MAX).expect("querier");
        let mut set = q.select(false, None, &[]);
        let s = set.next().expect("one series").expect("ok");
        let mut it = s.iterator();
        let mut h = Histogram::default();
        let mut n = 0u64;
        while it.next() == ValueType::Histogram {
            let t = it.at_histogram(&mut h);
            assert_eq!(t, n as i64 * 1000);
            assert_eq!((h.count, h.sum), (3 * n, n as f64 * 1.5));
            n += 1;
        }
        assert_eq!(n, 300);
    };
    check(&head);
    drop(head);
    check(&open(dir.path(), &opts));
}

/// A series whose samples switch between floats and histograms, next to
/// float-only series: replay applies each series' samples in WAL order
/// (its workers hold floats back in a window and must apply them before a
/// later histogram of the same series), so every sample comes back.
#[test]
fn series_switching_between_floats_and_histograms_replays_in_order() {
    let dir = tempfile::tempdir().expect("tempdir");
    let opts = HeadOptions::default();
    let head = open(dir.path(), &opts);
    let mixed = labels("mixed", "a");
    let others: Vec<Labels> = (0..50).map(|i| labels("plain", &format!("j{i}"))).collect();
    // One commit per step: floats, then histograms, then floats again.
    let mut want = Vec::new();
    for step in 0..30i64 {
        let t = step * 1000;
        let mut app = head.appender();
        let hist_step = (10..20).contains(&step);
        if hist_step {
            app.append(
                None,
                &mixed,
                Timestamp(t),
                Sample::Histogram(&hist(step as u64)),
            )
            .expect("histogram");
        } else {
            app.append(None, &mixed, Timestamp(t), Sample::Float(step as f64))
                .expect("float");
        }
        want.push((t, hist_step));
        for l in &others {
            app.append(None, l, Timestamp(t), Sample::Float(step as f64))
                .expect("float");
        }
        app.commit().expect("commit");
    }
    let check = |head: &Head| {
        let q = head.querier(0, i64::MAX).expect("querier");
        let mut set = q.select(false, None, &[Matcher::equal("__name__", "mixed")]);
        let s = set.next().expect("one series").expect("ok");
        let mut it = s.iterator();
        let mut got = Vec::new();
        let mut h = Histogram::default();
        loop {
            match it.next() {
                ValueType::Float => {
                    let (t, v) = it.at();
                    assert_eq!(v, (t / 1000) as f64);
                    got.push((t, false));
                }
                ValueType::Histogram => {
                    let t = it.at_histogram(&mut h);
                    assert_eq!(h.count, 3 * (t / 1000) as u64);
                    got.push((t, true));
                }
                ValueType::None => break,
                other => panic!("unexpected {other:?}"),
            }
        }
        assert_eq!(got, want);
        let plain = floats(head, 0, i64::MAX, &[Matcher::equal("__name__", "plain")]);
        assert_eq!(plain.len(), 50);
        assert!(plain.iter().all(|(_, v)| v.len() == 30));
    };
    check(&head);
    head.close().expect("close");
    check(&open(dir.path(), &opts));
    // Each switch cut a chunk into chunks_head/, so the replay above took
    // most samples from there; without those files every sample comes
    // from the WAL.
    for f in std::fs::read_dir(dir.path().join("chunks_head")).expect("chunks_head") {
        std::fs::remove_file(f.expect("entry").path()).expect("remove");
    }
    check(&open(dir.path(), &opts));
}

#[test]
fn out_of_order_window() {
    let dir = tempfile::tempdir().expect("tempdir");
    let opts = HeadOptions {
        out_of_order_time_window: 60_000,
        out_of_order_cap: 4,
        ..HeadOptions::default()
    };
    let head = open(dir.path(), &opts);
    let a = labels("up", "a");
    append_floats(&head, &a, (0..10).map(|i| (100_000 + i * 10_000, i as f64)));
    // Newest is 190_000: OOO accepted down to 130_000.
    let mut app = head.appender();
    for t in [185_000, 175_000, 135_000, 131_000, 132_000, 133_000] {
        app.append(None, &a, Timestamp(t), Sample::Float(-1.0))
            .expect("in window");
    }
    assert_eq!(
        app.append(None, &a, Timestamp(120_000), Sample::Float(1.0)),
        Err(AppendError::TooOld)
    );
    app.commit().expect("commit");
    let want: Vec<i64> = {
        let mut v: Vec<i64> = (0..10).map(|i| 100_000 + i * 10_000).collect();
        v.extend([185_000, 175_000, 135_000, 131_000, 132_000, 133_000]);
        v.sort();
        v
    };
    let ts = |head: &Head| -> Vec<i64> {
        floats(head, 0, i64::MAX, &[])[0]
            .1
            .iter()
            .map(|s| s.0)
            .collect()
    };
    assert_eq!(ts(&head), want);
    drop(head);
    let head = open(dir.path(), &opts);
    assert_eq!(ts(&head), want, "after replay of WAL and WBL");
    let families = head.metric_families();
    let ooo = families
        .iter()
        .find(|f| f.name == "prometheus_tsdb_too_old_samples_total")
        .expect("too old family");
    assert_eq!(ooo.metrics.len(), 2);
}

#[test]
fn exemplars_and_metrics() {
    let dir = tempfile::tempdir().expect("tempdir");
    let opts = HeadOptions {
        max_exemplars: 10,
        ..HeadOptions::default()
    };
    let head = open(dir.path(), &opts);
    let a = labels("req_total", "a");
    let mut app = head.appender();
    let r = app
        .append(None, &a, Timestamp(1000), Sample::Float(1.0))
        .expect("append");
    let ex = |t: i64| Exemplar {
        labels: Labels::from_pairs([("trace_id", format!("abc{t}"))]),
        value: 1.0,
        timestamp: Timestamp(t),
    };
    app.append_exemplar(Some(r), &a, &ex(1000))
        .expect("exemplar");
    app.commit().expect("commit");
    let mut app = head.appender();
    assert_eq!(
        app.append_exemplar(Some(r), &a, &ex(500)),
        Err(AppendError::OutOfOrderExemplar)
    );
    assert_eq!(
        app.append_exemplar(Some(r), &a, &ex(1000)),
        Ok(r),
        "duplicate is a no-op"
    );
    app.append_exemplar(Some(r), &a, &ex(2000))
        .expect("exemplar");
    app.commit().expect("commit");
    let sel = [vec![
        Matcher::new(MatchOp::RegexMatch, "__name__", "req.*").expect("re"),
    ]];
    let got = head.select_exemplars(0, 5000, &sel);
    assert_eq!(got.len(), 1);
    assert_eq!(got[0].exemplars, [ex(1000), ex(2000)]);
    let families = head.metric_families();
    let value = |name: &str| -> f64 {
        let f = families
            .iter()
            .find(|f| f.name == name)
            .unwrap_or_else(|| panic!("no family {name}"));
        match &f.metrics[0].value {
            expfmt::MetricValue::Counter(c) => c.value,
            expfmt::MetricValue::Gauge(v) => *v,
            other => panic!("{other:?}"),
        }
    };
    assert_eq!(value("prometheus_tsdb_head_series"), 1.0);
    assert_eq!(value("prometheus_tsdb_head_series_created_total"), 1.0);
    assert_eq!(value("prometheus_tsdb_head_samples_appended_total"), 1.0);
    assert_eq!(value("prometheus_tsdb_head_min_time"), 1000.0);
    assert_eq!(value("prometheus_tsdb_head_max_time"), 1000.0);
    assert_eq!(value("prometheus_tsdb_exemplar_exemplars_in_storage"), 2.0);
    assert_eq!(value("prometheus_tsdb_head_chunks"), 1.0);
    assert!(value("prometheus_tsdb_wal_page_flushes_total") > 0.0);
    drop(head);
    let head = open(dir.path(), &opts);
    assert_eq!(
        head.select_exemplars(0, 5000, &sel)[0].exemplars,
        [ex(1000), ex(2000)]
    );
}

#[test]
fn append_by_reference() {
    let dir = tempfile::tempdir().expect("tempdir");
    let head = open(dir.path(), &HeadOptions::default());
    let a = labels("up", "a");
    let mut app = head.appender();
    let r = app
        .append(None, &a, Timestamp(1000), Sample::Float(1.0))
        .expect("append");
    // Within the batch and in later batches the reference is enough.
    assert_eq!(
        app.append_by_ref(r, Timestamp(2000), Sample::Float(2.0)),
        Ok(Some(r))
    );
    app.commit().expect("commit");
    let mut app = head.appender();
    assert_eq!(
        app.append_by_ref(r, Timestamp(3000), Sample::Float(3.0)),
        Ok(Some(r))
    );
    // The usual order checks apply.
    assert_eq!(
        app.append_by_ref(r, Timestamp(500), Sample::Float(0.0)),
        Err(AppendError::OutOfOrder)
    );
    // Unknown references (never handed out, or collected) are not errors:
    // the caller appends with the labels instead.
    assert_eq!(
        app.append_by_ref(SeriesRef(r.0 + 100), Timestamp(3000), Sample::Float(3.0)),
        Ok(None)
    );
    assert_eq!(
        app.append_by_ref(SeriesRef(0), Timestamp(3000), Sample::Float(3.0)),
        Ok(None)
    );
    app.commit().expect("commit");
    let m = [Matcher::equal("job", "a")];
    assert_eq!(
        floats(&head, 0, 10_000, &m),
        [(a.clone(), vec![(1000, 1.0), (2000, 2.0), (3000, 3.0)])]
    );
    // After garbage collection removed the series, its reference is unknown.
    head.truncate(20_000).expect("truncate");
    let mut app = head.appender();
    assert_eq!(
        app.append_by_ref(r, Timestamp(30_000), Sample::Float(3.0)),
        Ok(None)
    );
    app.rollback();
}

/// A series that leaves the head (garbage-collected) and comes back gets a
/// second WAL reference for the same labels. After a restart the head
/// knows it by the first; a later checkpoint must still keep the second
/// reference's series record, or the samples logged under it (kept in the
/// checkpoint) are lost on the restart after that.
#[test]
fn a_series_that_left_and_came_back_survives_two_restarts() {
    let dir = tempfile::tempdir().expect("tempdir");
    let opts = HeadOptions::default();
    let a = labels("up", "a");
    let b = labels("up", "b");
    {
        let head = open(dir.path(), &opts);
        append_floats(&head, &a, [(1000, 1.0)]);
        append_floats(&head, &b, [(1000, 1.0), (6000, 6.0)]);
        // `a` has nothing at or after 5000: collected.
        head.truncate(5000).expect("truncate");
        assert_eq!(
            floats(&head, 0, i64::MAX, &[Matcher::equal("job", "a")]),
            []
        );
        // Back, under a new reference.
        append_floats(&head, &a, [(6000, 6.0), (7000, 7.0)]);
        head.close().expect("close");
    }
    {
        let head = open(dir.path(), &opts);
        append_floats(&head, &a, [(8000, 8.0)]);
        // Checkpoints the segments holding both series records of `a`;
        // its samples at 6000 and 7000 stay in the checkpoint.
        let stats = head.truncate(5500).expect("truncate");
        assert!(stats.checkpoint.is_some(), "{stats:?}");
        head.close().expect("close");
    }
    let head = open(dir.path(), &opts);
    let got = floats(&head, 5500, i64::MAX, &[Matcher::equal("job", "a")]);
    assert_eq!(got, [(a, vec![(6000, 6.0), (7000, 7.0), (8000, 8.0)])]);
}

/// Replay gathers the head's time bounds while it applies samples and
/// attaches memory-mapped chunks (no scan of every series afterwards): they
/// match the bounds before the restart. The oldest samples are in
/// memory-mapped chunks, so replay drops their WAL copies: the lower bound
/// must come from the chunks attached to the series.
#[test]
fn replay_restores_the_time_bounds() {
    let dir = tempfile::tempdir().expect("tempdir");
    let opts = HeadOptions::default();
    let head = open(dir.path(), &opts);
    let a = labels("bounds", "a");
    let b = labels("bounds", "b");
    // Enough samples for `a` to cut (and memory-map) a few chunks.
    append_floats(&head, &a, (0..400).map(|i| (5_000 + i * 15_000, i as f64)));
    append_floats(
        &head,
        &b,
        (0..3).map(|i| (5_000_000 + i * 15_000, i as f64)),
    );
    let want = (head.min_time(), head.max_time());
    assert_eq!(want, (Some(5_000), Some(5_000 + 399 * 15_000)));
    head.close().expect("close");

    let head = open(dir.path(), &opts);
    assert_eq!((head.min_time(), head.max_time()), want);
    let got = floats(&head, i64::MIN, i64::MAX, &[Matcher::equal("job", "a")]);
    assert_eq!(got[0].1.len(), 400);
    // Newer samples after the replay move the upper bound only.
    append_floats(&head, &b, [(7_000_000, 1.0)]);
    assert_eq!(
        (head.min_time(), head.max_time()),
        (Some(5_000), Some(7_000_000))
    );
    head.close().expect("close");
    let head = open(dir.path(), &opts);
    assert_eq!(
        (head.min_time(), head.max_time()),
        (Some(5_000), Some(7_000_000))
    );
}
