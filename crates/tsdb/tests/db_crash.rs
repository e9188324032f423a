//! Crash test of the database (head + blocks): SIGKILL at random moments
//! while a writer appends, compacts, deletes series, cleans tombstones and
//! applies retention.
//!
//! The parent test re-executes this test binary as a writer child (the
//! `db_crash_writer_child_process` test, which writes until killed when the
//! environment names a directory, and otherwise checks a bounded writer
//! run in-process). The child opens a [`Db`] with a one-minute chunk range
//! and time retention, and commits batches whose timestamps advance five
//! seconds each, so a block is cut every twelve batches; it calls
//! `compact` every few batches (so kills often land inside block writes,
//! leveled merges, reloads, retention deletions and head truncations),
//! deletes series ranges and cleans tombstones now and then. Once time
//! retention has dropped a block, every fourth run also has a size
//! retention of about the head's size plus half the blocks', so that
//! opening and compacting drop blocks by size too (sometimes all of them,
//! as the head's files grow). It announces each step on stdout:
//!
//! - `begin N` / `ack N` around the commit of batch N;
//! - `floor F TR SR` after `compact` returns (`F`: the end of the newest
//!   block written or loaded — everything before it has left the head;
//!   `TR`, `SR`: the writer's time and size retention counters);
//! - `delbegin` / `del MINT MAXT FLOOR I,J,…` around a deletion of series
//!   I, J, … over `[MINT, MAXT]` (`FLOOR`: the newest loaded block's end
//!   then);
//! - `cleanbegin` / `clean` around `clean_tombstones`.
//!
//! After each kill the parent reopens the same directory in-process and
//! checks:
//!
//! - the open succeeds and leaves no `*.tmp-for-creation` or
//!   `*.tmp-for-deletion` directory;
//! - blocks do not overlap, and respect the time and size retention;
//! - every sample of every acknowledged batch is present with its exact
//!   value bits, unless it is beyond retention or inside an acknowledged
//!   or interrupted deletion of its series. Beyond retention means before
//!   the oldest block left (that start only moves forward); when no block
//!   is left, before the newest point a head compaction could have
//!   reached;
//! - the batch in flight is present entirely or not at all;
//! - every sample present belongs to an acknowledged (or the in-flight)
//!   batch with exactly that value, and appears once;
//! - acknowledged deletions stay deleted (within retention) for the data
//!   that was in blocks when the deletion ran (tombstones), or that a
//!   compaction of the same writer run persisted afterwards (written
//!   without it). Deletions of head data are kept only in memory by `Db`
//!   (not logged), so a crash before the next head compaction may bring
//!   that data back: that part is not asserted.

mod common;

use common::{Rng, mix, run_child_until_killed};
use std::collections::BTreeMap;
use std::io::Write;
use std::path::Path;
use std::time::{Duration, Instant};

use model::matcher::{MatchOp, Matcher};
use model::{Labels, STALE_NAN, Timestamp};
use storage::{Appendable, Queryable, Sample, ValueType};
use tsdb::{Db, DbOptions, HeadOptions};

const ENV_DIR: &str = "EMBER_DB_CRASH_WRITER_DIR";
const ENV_START: &str = "EMBER_DB_CRASH_WRITER_START";
const ENV_SIZE: &str = "EMBER_DB_CRASH_WRITER_RETENTION_SIZE";
const SERIES: u64 = 12;
/// Milliseconds between batches.
const STEP: i64 = 5_000;
/// The head's chunk range (the smallest block).
const CHUNK_RANGE: i64 = 60_000;
const COMPACT_EVERY: u64 = 3;
const DELETE_EVERY: u64 = 29;
const CLEAN_EVERY: u64 = 71;
const RETENTION: i64 = 12 * CHUNK_RANGE;
const CYCLES: usize = 30;
/// Stop starting new cycles after this long (the test stays bounded on
/// slow machines).
const TIME_BUDGET: Duration = Duration::from_secs(50);

fn series_labels(i: u64) -> Labels {
    Labels::from_pairs([
        ("__name__", format!("db_crash_metric_{}", i % 3)),
        ("instance", format!("host-{i}")),
        ("job", "dbcrash".to_string()),
    ])
}

fn ts(n: u64) -> i64 {
    n as i64 * STEP
}

/// The samples of batch `n`: (series, value bits), at time `ts(n)`.
fn batch(n: u64) -> Vec<(u64, u64)> {
    (0..SERIES)
        .filter(|&i| !mix(n * 131 + i).is_multiple_of(5))
        .map(|i| {
            let h = mix(n ^ (i << 40));
            let bits = match h % 16 {
                0 => STALE_NAN.to_bits(),
                1 => f64::NAN.to_bits(),
                2..=8 => ((n * 10 + i) as f64).to_bits(),
                _ => (h as f64 / 7.0).to_bits(),
            };
            (i, bits)
        })
        .collect()
}

/// The options, with a size retention (0 for none).
fn opts(retention_size: u64) -> DbOptions {
    DbOptions {
        head: HeadOptions {
            chunk_range: CHUNK_RANGE,
            wal_segment_size: 128 * 1024,
            stripe_size: 16,
            ..HeadOptions::default()
        },
        retention_duration: RETENTION,
        retention_size,
        max_block_duration: 9 * CHUNK_RANGE,
        overlapping_compaction: true,
        // Each SIGKILL leaves the lock file; reopening must still work.
        lockfile: true,
    }
}

/// The newest loaded block's end, if any.
fn block_floor(db: &Db) -> Option<i64> {
    db.blocks().iter().map(|b| b.max_time()).max()
}

/// The value of counter `name` of the database's self-metrics.
fn counter(db: &Db, name: &str) -> u64 {
    db.metric_families()
        .into_iter()
        .find(|f| f.name == name)
        .and_then(|f| match f.metrics.first().map(|m| &m.value) {
            Some(expfmt::MetricValue::Counter(c)) => Some(c.value as u64),
            _ => None,
        })
        .unwrap_or_else(|| panic!("no counter {name}"))
}

fn retentions(db: &Db) -> (u64, u64) {
    (
        counter(db, "prometheus_tsdb_time_retentions_total"),
        counter(db, "prometheus_tsdb_size_retentions_total"),
    )
}

/// The deletion made after batch `n`, if any: the series and `[mint, maxt]`.
fn deletion(n: u64) -> Option<(Vec<u64>, i64, i64)> {
    if n == 0 || !n.is_multiple_of(DELETE_EVERY) {
        return None;
    }
    let h = mix(n.wrapping_mul(0x5151));
    let a = h % SERIES;
    let mut series = vec![a];
    if h.is_multiple_of(3) {
        series.push((a + 1 + (h >> 8) % (SERIES - 1)) % SERIES);
        series.sort_unstable();
    }
    // Back up to 60 batches, up to 30 batches long, never past batch n.
    let back = (h >> 16) % 60;
    let len = (h >> 24) % 30;
    let first = n.saturating_sub(back);
    let last = (first + len).min(n);
    // Sometimes a boundary inside a step, not on a sample.
    let skew = i64::from((h >> 32).is_multiple_of(4));
    Some((series, ts(first) + skew, ts(last)))
}

fn matchers_for(series: &[u64]) -> Vec<Matcher> {
    let re = series
        .iter()
        .map(|i| format!("host-{i}"))
        .collect::<Vec<_>>()
        .join("|");
    vec![
        Matcher::equal("job", "dbcrash"),
        Matcher::new(MatchOp::RegexMatch, "instance", &re).expect("matcher"),
    ]
}

/// Writes one whole line at once (a pipe write of it is atomic).
fn line(out: &mut impl Write, s: std::fmt::Arguments<'_>) {
    out.write_all(format!("{s}\n").as_bytes()).expect("write");
    out.flush().expect("flush");
}

/// The writer loop: commits batches `start..end` (forever when `end` is
/// `None`), compacting, deleting and cleaning as the module docs say.
fn write_loop(db: &Db, start: u64, end: Option<u64>, out: &mut impl Write) {
    let labels: Vec<Labels> = (0..SERIES).map(series_labels).collect();
    let mut floor = block_floor(db);
    for n in start..end.unwrap_or(u64::MAX) {
        line(out, format_args!("begin {n}"));
        let mut app = db.appender();
        for (i, bits) in batch(n) {
            app.append(
                None,
                &labels[i as usize],
                Timestamp(ts(n)),
                Sample::Float(f64::from_bits(bits)),
            )
            .expect("child: append");
        }
        app.commit().expect("child: commit");
        line(out, format_args!("ack {n}"));
        if n.is_multiple_of(COMPACT_EVERY) {
            let written = db.compact().expect("child: compact");
            // Written blocks count even when retention dropped them at once.
            floor = floor
                .max(block_floor(db))
                .max(written.iter().map(|m| m.max_time).max());
            if let Some(f) = floor {
                let (tr, sr) = retentions(db);
                line(out, format_args!("floor {f} {tr} {sr}"));
            }
        }
        if let Some((series, mint, maxt)) = deletion(n) {
            let in_blocks = block_floor(db).unwrap_or(i64::MIN);
            line(out, format_args!("delbegin"));
            db.delete(mint, maxt, &matchers_for(&series))
                .expect("child: delete");
            let list = series
                .iter()
                .map(u64::to_string)
                .collect::<Vec<_>>()
                .join(",");
            line(out, format_args!("del {mint} {maxt} {in_blocks} {list}"));
        }
        if n > 0 && n.is_multiple_of(CLEAN_EVERY) {
            line(out, format_args!("cleanbegin"));
            db.clean_tombstones().expect("child: clean tombstones");
            line(out, format_args!("clean"));
        }
    }
}

/// The writer child when the parent starts it (the environment names the
/// directory): writes until killed. Run directly, it checks the writer
/// itself: a bounded run, a clean close, and a reopen that holds exactly
/// what the run's own log says it should.
#[test]
fn db_crash_writer_child_process() {
    let Ok(dir) = std::env::var(ENV_DIR) else {
        let dir = tempfile::tempdir().expect("tempdir");
        let upto = 600;
        let mut log = Vec::new();
        let (tr, _) = {
            let db = Db::open(dir.path(), opts(0)).expect("open db");
            write_loop(&db, 0, Some(upto), &mut log);
            let r = retentions(&db);
            db.close().expect("close");
            r
        };
        let log = String::from_utf8(log).expect("utf8");
        let mut st = State::default();
        let cycle = st.apply(&log.lines().map(str::to_string).collect::<Vec<_>>());
        assert_eq!(st.acked, upto);
        assert!(cycle.in_flight.is_none());
        assert!(st.deletes.len() >= 10, "{} deletions", st.deletes.len());
        assert!(cycle.cleans >= 5, "{} tombstone cleanings", cycle.cleans);
        assert!(tr > 0, "time retention never dropped a block");
        let db = Db::open(dir.path(), opts(0)).expect("reopen db");
        check_blocks(&db, 0);
        let blocks = db.blocks();
        assert!(
            blocks.iter().any(|b| b.meta().compaction.level > 1),
            "no leveled compaction: {blocks:?}"
        );
        st.note_reopen(&db, None);
        assert!(st.retention_floor > 0);
        // Nothing crashed: every deletion is in effect, even of head data.
        for d in &mut st.deletes {
            d.durable_before = i64::MAX;
        }
        st.verify(&contents(&db), None);
        db.close().expect("close");
        return;
    };
    let start: u64 = std::env::var(ENV_START)
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    let size: u64 = std::env::var(ENV_SIZE)
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    let db = Db::open(&dir, opts(size)).expect("child: open db");
    write_loop(&db, start, None, &mut std::io::stdout().lock());
}

/// Everything in the database: series index → time → value bits. Fails
/// on a sample returned twice or out of order.
fn contents(db: &Db) -> BTreeMap<u64, BTreeMap<i64, u64>> {
    let q = db.querier(i64::MIN, i64::MAX).expect("querier");
    let mut set = q.select(true, None, &[Matcher::equal("job", "dbcrash")]);
    let mut out = BTreeMap::new();
    while let Some(s) = set.next() {
        let s = s.expect("series");
        let i: u64 = s
            .labels()
            .get("instance")
            .and_then(|x| x.strip_prefix("host-"))
            .and_then(|x| x.parse().ok())
            .expect("series index");
        let mut it = s.iterator();
        let mut m = BTreeMap::new();
        let mut prev = i64::MIN;
        while it.next() == ValueType::Float {
            let (t, v) = it.at();
            assert!(
                t > prev,
                "series {i}: t={t} after t={prev} (duplicate or unsorted)"
            );
            prev = t;
            m.insert(t, v.to_bits());
        }
        assert!(it.err().is_none(), "iterator error {:?}", it.err());
        if !m.is_empty() {
            assert!(
                out.insert(i, m).is_none(),
                "series {i} returned twice by one select"
            );
        }
    }
    out
}

/// One deletion the writer made (acknowledged or interrupted).
#[derive(Clone, Debug)]
struct Deletion {
    series: Vec<u64>,
    mint: i64,
    maxt: i64,
    /// Samples before this are known to stay deleted.
    durable_before: i64,
}

impl Deletion {
    fn covers(&self, i: u64, t: i64) -> bool {
        self.series.contains(&i) && self.mint <= t && t <= self.maxt
    }
}

/// What the parent knows from the acknowledgements so far.
#[derive(Default)]
struct State {
    /// Batches `0..acked` are acknowledged.
    acked: u64,
    /// The last batch begun (acknowledged or not).
    last_begun: Option<u64>,
    deletes: Vec<Deletion>,
    /// Deletions interrupted by a kill: each may have reached any subset
    /// of the blocks, so their ranges may or may not be there.
    maybe_deleted: Vec<Deletion>,
    /// Samples before this may be gone by retention.
    retention_floor: i64,
}

/// What one writer run did and left unfinished.
#[derive(Default)]
struct Cycle {
    in_flight: Option<u64>,
    compactions: usize,
    cleans: usize,
    /// The writer's retention counters at its last compaction.
    time_retentions: u64,
    size_retentions: u64,
}

fn field<T: std::str::FromStr>(w: &mut std::str::Split<'_, char>, what: &str, l: &str) -> T {
    w.next()
        .and_then(|x| x.parse().ok())
        .unwrap_or_else(|| panic!("bad {what} in writer line {l:?}"))
}

impl State {
    /// Applies a writer run's output.
    fn apply(&mut self, lines: &[String]) -> Cycle {
        let mut c = Cycle::default();
        let mut begun = None;
        let mut del_begun = false;
        // Deletions of this run: a later compaction persists them.
        let first_new_delete = self.deletes.len();
        for l in lines {
            let mut w = l.split(' ');
            match w.next() {
                Some("begin") => {
                    begun = Some(field::<u64>(&mut w, "batch", l));
                    self.last_begun = begun;
                }
                Some("ack") => {
                    let n: u64 = field(&mut w, "batch", l);
                    assert_eq!(n, self.acked, "acks are sequential");
                    self.acked = n + 1;
                }
                Some("floor") => {
                    let f: i64 = field(&mut w, "floor", l);
                    c.compactions += 1;
                    c.time_retentions = field(&mut w, "count", l);
                    c.size_retentions = field(&mut w, "count", l);
                    for d in &mut self.deletes[first_new_delete..] {
                        d.durable_before = d.durable_before.max(f);
                    }
                }
                Some("delbegin") => del_begun = true,
                Some("del") => {
                    del_begun = false;
                    let mint = field(&mut w, "mint", l);
                    let maxt = field(&mut w, "maxt", l);
                    let durable_before = field(&mut w, "floor", l);
                    let list: String = field(&mut w, "series", l);
                    let series = list
                        .split(',')
                        .map(|x| x.parse().expect("series"))
                        .collect();
                    self.deletes.push(Deletion {
                        series,
                        mint,
                        maxt,
                        durable_before,
                    });
                }
                Some("clean") => c.cleans += 1,
                // `cleanbegin` and the test harness's own lines.
                _ => {}
            }
        }
        c.in_flight = begun.filter(|&b| b == self.acked);
        if del_begun
            && let Some((series, mint, maxt)) = self.acked.checked_sub(1).and_then(deletion)
        {
            self.maybe_deleted.push(Deletion {
                series,
                mint,
                maxt,
                durable_before: i64::MIN,
            });
        }
        c
    }

    /// Moves the retention floor after an open: data before the oldest
    /// block left is beyond retention; with no block left (or none yet),
    /// data before the newest point a head compaction could have reached
    /// (the head is cut at a range end at least half a range behind its
    /// newest sample).
    fn note_reopen(&mut self, db: &Db, cycle: Option<&Cycle>) {
        let rf = match db.blocks().first() {
            Some(b) => b.min_time(),
            None => {
                let newest = self.last_begun.map_or(i64::MIN, ts);
                let compacted = cycle.is_none_or(|c| c.compactions > 0) || self.retention_floor > 0;
                if compacted {
                    newest - CHUNK_RANGE / 2
                } else {
                    i64::MIN
                }
            }
        };
        self.retention_floor = self.retention_floor.max(rf);
    }

    /// Checks the database's contents; returns whether the in-flight batch
    /// is present.
    fn verify(&self, got: &BTreeMap<u64, BTreeMap<i64, u64>>, cycle: Option<&Cycle>) -> bool {
        let in_flight = cycle.and_then(|c| c.in_flight);
        let rf = self.retention_floor;
        let deleted = |i: u64, t: i64| {
            self.deletes
                .iter()
                .chain(&self.maybe_deleted)
                .any(|d| d.covers(i, t))
        };
        let have = |i: u64, t: i64| got.get(&i).and_then(|m| m.get(&t)).copied();
        // The in-flight batch: all or nothing (deletions never reach it).
        let flight_present = in_flight.is_some_and(|f| {
            let b = batch(f);
            let present: Vec<bool> = b.iter().map(|(i, _)| have(*i, ts(f)).is_some()).collect();
            let all = present.iter().all(|&p| p);
            assert!(
                ts(f) < rf || all || present.iter().all(|&p| !p),
                "batch {f} in flight is partially present: {present:?}"
            );
            all
        });
        let upto = self.acked + u64::from(flight_present);
        // Every acknowledged sample not deleted nor beyond retention.
        let first = (rf.max(0) / STEP) as u64;
        for n in first..upto {
            let t = ts(n);
            if t < rf {
                continue;
            }
            for (i, bits) in batch(n) {
                if deleted(i, t) {
                    continue;
                }
                assert_eq!(
                    have(i, t),
                    Some(bits),
                    "series {i} t={t} (batch {n}): acknowledged sample missing or wrong \
                     (retention floor {rf})"
                );
            }
        }
        // Everything present was written, exactly, and is not deleted
        // where the deletion is durable.
        for (i, g) in got {
            for (t, bits) in g {
                assert!(t % STEP == 0, "series {i}: invented sample at t={t}");
                let n = (*t / STEP) as u64;
                assert!(
                    n < upto,
                    "series {i} t={t}: sample of batch {n}, which was not acknowledged"
                );
                let want = batch(n).into_iter().find(|(j, _)| j == i).map(|(_, b)| b);
                assert_eq!(
                    want,
                    Some(*bits),
                    "series {i} t={t}: invented or wrong sample"
                );
                if *t >= rf
                    && let Some(d) = self
                        .deletes
                        .iter()
                        .find(|d| d.covers(*i, *t) && *t < d.durable_before)
                {
                    panic!("series {i} t={t}: deleted sample is back ({d:?})");
                }
            }
        }
        flight_present
    }
}

/// Directories left by an interrupted creation or deletion.
fn leftovers(dir: &Path) -> Vec<String> {
    std::fs::read_dir(dir)
        .expect("read data dir")
        .filter_map(Result::ok)
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".tmp-for-creation") || n.ends_with(".tmp-for-deletion"))
        .collect()
}

/// Structural checks of the loaded blocks.
fn check_blocks(db: &Db, retention_size: u64) {
    let blocks = db.blocks();
    for w in blocks.windows(2) {
        assert!(
            w[0].max_time() <= w[1].min_time(),
            "overlapping blocks {:?} and {:?}",
            w[0],
            w[1]
        );
    }
    if let Some(newest) = block_floor(db) {
        for b in blocks.iter() {
            assert!(
                newest - b.max_time() < RETENTION,
                "block {b:?} is beyond the time retention"
            );
        }
    }
    if retention_size > 0 {
        let size: u64 = blocks.iter().map(|b| b.size()).sum();
        assert!(
            size <= retention_size,
            "blocks hold {size} bytes, over the size retention"
        );
    }
}

#[test]
fn db_crash_and_reopen() {
    let dir = tempfile::tempdir().expect("tempdir");
    let seed = std::env::var("EMBER_DB_CRASH_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(0xdb_c4a5_u64);
    let mut rng = Rng(seed);
    let started = Instant::now();
    let mut st = State {
        retention_floor: i64::MIN,
        ..State::default()
    };
    let (mut cycles, mut flights, mut compactions, mut cleans) = (0, 0, 0, 0);
    let (mut max_blocks, mut leveled, mut emptied) = (0, false, 0);
    let (mut time_retentions, mut size_retentions) = (0, 0);
    let mut last_sizes = (0u64, 0u64);
    let mut interrupted = 0;
    while cycles < CYCLES && started.elapsed() < TIME_BUDGET {
        cycles += 1;
        // Every fourth run, once time retention has worked: a size
        // retention of the head's size (as the last open saw it) plus half
        // the blocks', so that at least the writer's open drops blocks by
        // size. (Earlier, it would keep the blocks too short for time
        // retention on a slow machine.)
        let size = if cycles % 4 == 0 && time_retentions > 0 && last_sizes.1 > 8 * 1024 {
            last_sizes.0 + last_sizes.1 / 2
        } else {
            0
        };
        // Size-limited runs are short: the head's own files grow fast
        // while the writer runs, and soon push every block out.
        let delay = if size > 0 {
            20 + rng.below(60)
        } else {
            20 + rng.below(480)
        };
        let (status, lines) = run_child_until_killed(
            "db_crash_writer_child_process",
            &[
                (ENV_DIR, dir.path().into()),
                (ENV_START, st.acked.to_string().into()),
                (ENV_SIZE, size.to_string().into()),
            ],
            Duration::from_millis(delay),
        );
        assert!(
            !status.success() || !lines.iter().any(|l| l.starts_with("begin")),
            "child exited on its own: {status:?}"
        );
        let cycle = st.apply(&lines);
        compactions += cycle.compactions;
        cleans += cycle.cleans;
        time_retentions += cycle.time_retentions;
        size_retentions += cycle.size_retentions;

        // Evidence that kills land inside block writes and deletions.
        interrupted += usize::from(!leftovers(dir.path()).is_empty());
        let db = Db::open(dir.path(), opts(size))
            .unwrap_or_else(|e| panic!("cycle {cycles}: reopen after crash: {e}"));
        let left = leftovers(dir.path());
        assert!(left.is_empty(), "cycle {cycles}: left after open: {left:?}");
        check_blocks(&db, size);
        let (tr, sr) = retentions(&db);
        time_retentions += tr;
        size_retentions += sr;
        let blocks = db.blocks();
        last_sizes = (db.head_size(), blocks.iter().map(|b| b.size()).sum());
        max_blocks = max_blocks.max(blocks.len());
        leveled |= blocks.iter().any(|b| b.meta().compaction.level > 1);
        emptied += usize::from(blocks.is_empty() && st.retention_floor > i64::MIN);
        st.note_reopen(&db, Some(&cycle));
        if st.verify(&contents(&db), Some(&cycle)) {
            st.acked += 1;
            flights += 1;
        }
        db.close().expect("close");
    }
    eprintln!(
        "db crash test: {cycles} cycles, {} batches acknowledged, {flights} in-flight batches \
         found complete, {} deletions acknowledged ({} interrupted), {compactions} compactions \
         and {cleans} tombstone cleanings acknowledged, up to {max_blocks} blocks, \
         {time_retentions} time and {size_retentions} size retentions, {emptied} reopens with \
         every block gone, {interrupted} kills left a temporary block directory, retention floor \
         {}, {:?}",
        st.acked,
        st.deletes.len(),
        st.maybe_deleted.len(),
        st.retention_floor,
        started.elapsed()
    );
    assert!(cycles >= 10, "too few cycles in the time budget: {cycles}");
    assert!(st.acked > 0, "the writer never acknowledged a batch");
    assert!(compactions > 0, "no compaction was acknowledged");
    assert!(!st.deletes.is_empty(), "no deletion was acknowledged");
    assert!(leveled, "no leveled compaction happened");
    assert!(time_retentions > 0, "time retention never dropped a block");
    assert!(size_retentions > 0, "size retention never dropped a block");
}
