//! Crash test of out-of-order samples in the database: SIGKILL at random
//! moments while a writer commits batches that mix in-order samples with
//! late ones (up to four chunk ranges behind, so many are older than the
//! newest block) and compacts every few batches — killing it inside head
//! compactions, the writing of blocks of out-of-order samples and the
//! vertical compactions that merge them.
//!
//! The parent test re-executes this test binary as the writer child (the
//! `db_ooo_crash_writer_child_process` test: writes until killed when the
//! environment names a directory, otherwise checks a bounded run). The
//! child prints `begin N` and `ack N` around the commit of batch N. After
//! each kill the parent reopens the directory (which writes the replayed
//! out-of-order samples older than the newest block to blocks) and checks:
//! every sample of every acknowledged batch is there with its exact value
//! bits; of the batch in flight, the in-order part is there entirely or
//! not at all, and so is the late part (it is logged after the in-order
//! part, so it is there only if that is); nothing else is there. Then it
//! compacts and checks again, and that no blocks overlap any more.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::{Rng, mix, run_child_until_killed};
use std::collections::BTreeMap;
use std::io::Write;
use std::time::{Duration, Instant};

use model::matcher::Matcher;
use model::{Labels, Timestamp};
use storage::{Appendable, Queryable, Sample, ValueType};
use tsdb::{Db, DbOptions, HeadOptions};

const ENV_DIR: &str = "EMBER_DB_OOO_CRASH_WRITER_DIR";
const ENV_START: &str = "EMBER_DB_OOO_CRASH_WRITER_START";
const SERIES: u64 = 8;
/// Milliseconds between batches (in-order samples are at multiples).
const STEP: i64 = 5_000;
const CHUNK_RANGE: i64 = 60_000;
const COMPACT_EVERY: u64 = 3;
const CYCLES: usize = 25;
/// Stop starting new cycles after this long.
const TIME_BUDGET: Duration = Duration::from_secs(40);

fn labels(i: u64) -> Labels {
    Labels::from_pairs([
        ("__name__", "ooo_crash"),
        ("i", &i.to_string()),
        ("job", "ooocrash"),
    ])
}

/// Samples of a batch: (series, time, value bits).
type Part = Vec<(u64, i64, u64)>;

/// Batch `n`: in-order samples at `n * STEP`, and late ones: (series,
/// time, value bits). A late time is never a multiple of `STEP` and never
/// repeats (its remainder modulo `STEP` names `n` modulo 4999, and it is at
/// most 48 steps behind).
fn batch(n: u64) -> (Part, Part) {
    let t = n as i64 * STEP;
    let in_order = (0..SERIES)
        .filter(|&i| !mix(n * 131 + i).is_multiple_of(5))
        .map(|i| (i, t, (mix(n ^ (i << 40)) as f64 / 7.0).to_bits()))
        .collect();
    let late = (0..SERIES)
        .filter(|&i| mix(n * 977 + i).is_multiple_of(3))
        .filter_map(|i| {
            let h = mix(n.wrapping_mul(31) ^ (i << 20));
            let back = STEP * (h % 49) as i64 + 1 + (n % 4999) as i64;
            let lt = t - back;
            (lt >= 0).then(|| (i, lt, (h as f64 / 3.0).to_bits()))
        })
        .collect();
    (in_order, late)
}

fn opts() -> DbOptions {
    DbOptions {
        head: HeadOptions {
            chunk_range: CHUNK_RANGE,
            out_of_order_time_window: 1 << 40,
            wal_segment_size: 64 * 1024,
            ..HeadOptions::default()
        },
        retention_duration: 0,
        max_block_duration: 9 * CHUNK_RANGE,
        ..DbOptions::default()
    }
}

fn write_loop(db: &Db, start: u64, end: Option<u64>, out: &mut impl Write) {
    let lbls: Vec<Labels> = (0..SERIES).map(labels).collect();
    for n in start..end.unwrap_or(u64::MAX) {
        writeln!(out, "begin {n}").unwrap();
        out.flush().unwrap();
        let (in_order, late) = batch(n);
        let mut app = db.appender();
        for (i, t, bits) in in_order.into_iter().chain(late) {
            app.append(
                None,
                &lbls[i as usize],
                Timestamp(t),
                Sample::Float(f64::from_bits(bits)),
            )
            .unwrap_or_else(|e| panic!("child: append {i}@{t}: {e}"));
        }
        app.commit().expect("child: commit");
        writeln!(out, "ack {n}").unwrap();
        out.flush().unwrap();
        if n % COMPACT_EVERY == 0 {
            db.compact().expect("child: compact");
        }
    }
}

/// Everything in the database: series → time → value bits.
fn contents(db: &Db) -> BTreeMap<u64, BTreeMap<i64, u64>> {
    let q = db.querier(i64::MIN, i64::MAX).unwrap();
    let mut set = q.select(false, None, &[Matcher::equal("job", "ooocrash")]);
    let mut out: BTreeMap<u64, BTreeMap<i64, u64>> = BTreeMap::new();
    while let Some(s) = set.next() {
        let s = s.unwrap();
        let i: u64 = s.labels().get("i").unwrap().parse().unwrap();
        let mut it = s.iterator();
        let m = out.entry(i).or_default();
        while it.next() == ValueType::Float {
            let (t, v) = it.at();
            assert!(m.insert(t, v.to_bits()).is_none(), "series {i}: {t} twice");
        }
        assert!(it.err().is_none(), "{:?}", it.err());
    }
    out.retain(|_, m| !m.is_empty());
    out
}

/// Checks `got` against batches `0..acked` and the batch in flight;
/// returns whether that one is there entirely.
fn verify(got: &BTreeMap<u64, BTreeMap<i64, u64>>, acked: u64, in_flight: Option<u64>) -> bool {
    let mut want: BTreeMap<u64, BTreeMap<i64, u64>> = BTreeMap::new();
    let mut add = |part: &[(u64, i64, u64)]| {
        for &(i, t, bits) in part {
            want.entry(i).or_default().insert(t, bits);
        }
    };
    for n in 0..acked {
        let (a, b) = batch(n);
        add(&a);
        add(&b);
    }
    let there = |part: &[(u64, i64, u64)]| -> Option<bool> {
        let present: Vec<bool> = part
            .iter()
            .map(|(i, t, bits)| got.get(i).and_then(|m| m.get(t)) == Some(bits))
            .collect();
        if present.iter().all(|&p| p) {
            Some(true)
        } else if present.iter().all(|&p| !p) {
            Some(false)
        } else {
            None
        }
    };
    let mut complete = false;
    if let Some(f) = in_flight {
        let (a, b) = batch(f);
        let (ta, tb) = (there(&a), there(&b));
        let ta = ta.unwrap_or_else(|| panic!("batch {f}: in-order part partially there"));
        let tb = tb.unwrap_or_else(|| panic!("batch {f}: late part partially there"));
        assert!(
            ta || !tb || b.is_empty(),
            "batch {f}: late part without the in-order part"
        );
        if ta {
            add(&a);
        }
        if tb {
            add(&b);
        }
        complete = ta && (tb || b.is_empty());
    }
    for (i, w) in &want {
        for (t, bits) in w {
            assert_eq!(
                got.get(i).and_then(|m| m.get(t)),
                Some(bits),
                "series {i} t={t}: acknowledged sample missing or wrong"
            );
        }
    }
    for (i, g) in got {
        for t in g.keys() {
            assert!(
                want.get(i).is_some_and(|w| w.contains_key(t)),
                "series {i} t={t}: a sample no batch wrote"
            );
        }
    }
    complete
}

#[test]
fn db_ooo_crash_writer_child_process() {
    let Ok(dir) = std::env::var(ENV_DIR) else {
        let dir = tempfile::tempdir().unwrap();
        let db = Db::open(dir.path(), opts()).unwrap();
        write_loop(&db, 0, Some(150), &mut Vec::new());
        verify(&contents(&db), 150, None);
        db.close().unwrap();
        let db = Db::open(dir.path(), opts()).unwrap();
        verify(&contents(&db), 150, None);
        return;
    };
    let start: u64 = std::env::var(ENV_START).unwrap().parse().unwrap();
    let db = Db::open(&dir, opts()).expect("child: open");
    write_loop(&db, start, None, &mut std::io::stdout().lock());
}

#[test]
fn db_ooo_crash_and_reopen() {
    let dir = tempfile::tempdir().unwrap();
    let seed = std::env::var("EMBER_DB_OOO_CRASH_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(0x00c0_ffee_u64);
    let mut rng = Rng(seed);
    let started = Instant::now();
    // Batches 0..acked are acknowledged; the next writer starts at `next`
    // (the batch in flight when killed, written again: appending the same
    // samples again changes nothing).
    let (mut acked, mut cycles, mut ooo_blocks, mut vertical) = (0u64, 0, 0, 0);
    while cycles < CYCLES && started.elapsed() < TIME_BUDGET {
        cycles += 1;
        let (_, lines) = run_child_until_killed(
            "db_ooo_crash_writer_child_process",
            &[
                (ENV_DIR, dir.path().into()),
                (ENV_START, acked.to_string().into()),
            ],
            Duration::from_millis(30 + rng.below(400)),
        );
        let mut in_flight = None;
        for l in &lines {
            if let Some(n) = l.strip_prefix("begin ") {
                in_flight = Some(n.parse::<u64>().unwrap());
            } else if let Some(n) = l.strip_prefix("ack ") {
                acked = n.parse::<u64>().unwrap() + 1;
                in_flight = None;
            }
        }
        let db = Db::open(dir.path(), opts())
            .unwrap_or_else(|e| panic!("cycle {cycles}: reopen after crash: {e}"));
        ooo_blocks += db
            .blocks()
            .iter()
            .filter(|b| b.meta().from_out_of_order())
            .count();
        let complete = verify(&contents(&db), acked, in_flight);
        // Compacting merges what overlaps and keeps every sample.
        db.compact()
            .unwrap_or_else(|e| panic!("cycle {cycles}: compact: {e}"));
        assert_eq!(verify(&contents(&db), acked, in_flight), complete);
        let ranges: Vec<(i64, i64)> = db
            .blocks()
            .iter()
            .map(|b| (b.min_time(), b.max_time()))
            .collect();
        assert!(
            ranges.windows(2).all(|w| w[0].1 <= w[1].0),
            "cycle {cycles}: overlapping blocks after compaction: {ranges:?}"
        );
        let families = db.metric_families();
        if let Some(f) = families
            .iter()
            .find(|f| f.name == "prometheus_tsdb_vertical_compactions_total")
            && let expfmt::MetricValue::Counter(c) = &f.metrics[0].value
        {
            vertical += c.value as u64;
        }
        db.close().unwrap();
        acked += u64::from(complete);
    }
    eprintln!(
        "db ooo crash test: {cycles} cycles, {acked} batches acknowledged, {ooo_blocks} \
         out-of-order blocks seen at reopen, {vertical} vertical compactions after reopen, {:?}",
        started.elapsed()
    );
    assert!(cycles >= 10, "too few cycles in the time budget: {cycles}");
    assert!(acked > 100, "too few batches: {acked}");
    assert!(vertical > 0, "no vertical compaction after a reopen");
}
