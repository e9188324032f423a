//! Crash-and-replay test of the head's WAL.
//!
//! The parent test re-executes this test binary as a writer child (the
//! `crash_writer_child_process` test, which writes until killed when the
//! environment names a directory, and otherwise checks a bounded writer run). The child opens the head and commits
//! batches in a loop, printing `begin N` before and `ack N` after each
//! commit; every few thousand batches it truncates the head (printing
//! `trunc MINT` first). The parent kills it with SIGKILL after a random
//! delay, reopens the head in-process and checks: every sample of every
//! acknowledged batch is present with its exact value bits; the batch in
//! flight is present entirely or not at all; nothing else is there (below
//! the last truncation point, samples may be gone, but what is present is
//! exact). This repeats over the same directory, so replay, WAL repair,
//! chunk file repair and checkpoints are exercised across many crashes.
//!
//! A second test damages the WAL tail (truncation, garbage) and checks that
//! a reopen keeps everything logged before the damage.

mod common;

use common::{Rng, mix, run_child_until_killed};
use std::collections::BTreeMap;
use std::io::Write;
use std::path::Path;
use std::time::{Duration, Instant};

use model::matcher::Matcher;
use model::{Labels, STALE_NAN, Timestamp};
use storage::{Appendable, Queryable, Sample, ValueType};
use tsdb::{Head, HeadOptions};

const ENV_DIR: &str = "EMBER_CRASH_WRITER_DIR";
const ENV_START: &str = "EMBER_CRASH_WRITER_START";
const SERIES: u64 = 16;
const TRUNCATE_EVERY: u64 = 1500;
const TRUNCATE_KEEP: u64 = 500;
const CYCLES: usize = 32;
/// Stop starting new cycles after this long (the test stays bounded on
/// slow machines).
const TIME_BUDGET: Duration = Duration::from_secs(50);

fn series_labels(i: u64) -> Labels {
    Labels::from_pairs([
        ("__name__", format!("crash_metric_{}", i % 3)),
        ("instance", format!("host-{i}.example.org:9100")),
        ("job", "crash".to_string()),
    ])
}

/// The samples of batch `n`: (series, value bits), at time `n * 1000`.
fn batch(n: u64) -> Vec<(u64, u64)> {
    (0..SERIES)
        .filter(|&i| !mix(n * 131 + i).is_multiple_of(4))
        .map(|i| {
            let h = mix(n ^ (i << 40));
            let bits = match h % 16 {
                0 => STALE_NAN.to_bits(),
                1 => f64::NAN.to_bits(),
                _ => (h as f64 / 7.0).to_bits(),
            };
            (i, bits)
        })
        .collect()
}

fn opts() -> HeadOptions {
    HeadOptions {
        wal_segment_size: 256 * 1024,
        stripe_size: 64,
        ..HeadOptions::default()
    }
}

/// The writer loop: commits batches `start..end` (forever when `end` is
/// `None`), announcing each on `out` as the parent expects.
fn write_loop(head: &Head, start: u64, end: Option<u64>, out: &mut impl Write) {
    let labels: Vec<Labels> = (0..SERIES).map(series_labels).collect();
    for n in start..end.unwrap_or(u64::MAX) {
        if n > 0 && n.is_multiple_of(TRUNCATE_EVERY) {
            let mint = ((n - TRUNCATE_KEEP) * 1000) as i64;
            writeln!(out, "trunc {mint}").expect("write");
            out.flush().expect("flush");
            head.truncate(mint).expect("child: truncate");
        }
        writeln!(out, "begin {n}").expect("write");
        out.flush().expect("flush");
        let mut app = head.appender();
        for (i, bits) in batch(n) {
            app.append(
                None,
                &labels[i as usize],
                Timestamp((n * 1000) as i64),
                Sample::Float(f64::from_bits(bits)),
            )
            .expect("child: append");
        }
        app.commit().expect("child: commit");
        writeln!(out, "ack {n}").expect("write");
        out.flush().expect("flush");
    }
}

/// The writer child when the parent starts it (the environment names the
/// directory): writes until killed. Run directly, it checks the writer
/// itself: a bounded run, a clean close, and a reopen that holds exactly
/// what was written.
#[test]
fn crash_writer_child_process() {
    let Ok(dir) = std::env::var(ENV_DIR) else {
        let dir = tempfile::tempdir().expect("tempdir");
        let upto = 200;
        {
            let head = Head::open(dir.path(), opts()).expect("open head");
            let mut log = Vec::new();
            write_loop(&head, 0, Some(upto), &mut log);
            let log = String::from_utf8(log).expect("utf8");
            assert_eq!(
                log.lines().filter(|l| l.starts_with("ack ")).count(),
                upto as usize
            );
        }
        let head = Head::open(dir.path(), opts()).expect("reopen head");
        let got = contents(&head);
        check_exact(&got, upto);
        let present: usize = got.values().map(BTreeMap::len).sum();
        let written: usize = (0..upto).map(|n| batch(n).len()).sum();
        assert_eq!(
            present, written,
            "a clean reopen must hold every written sample"
        );
        return;
    };
    let start: u64 = std::env::var(ENV_START)
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    let head = Head::open(&dir, opts()).expect("child: open head");
    write_loop(&head, start, None, &mut std::io::stdout().lock());
}

/// Everything in the head: series index → time → value bits.
fn contents(head: &Head) -> BTreeMap<u64, BTreeMap<i64, u64>> {
    let q = head.querier(i64::MIN, i64::MAX).expect("querier");
    let mut set = q.select(false, None, &[Matcher::equal("job", "crash")]);
    let mut out = BTreeMap::new();
    while let Some(s) = set.next() {
        let s = s.expect("series");
        let inst = s.labels().get("instance").expect("instance label");
        let i: u64 = inst
            .trim_start_matches("host-")
            .split('.')
            .next()
            .and_then(|x| x.parse().ok())
            .expect("series index");
        let mut it = s.iterator();
        let mut m = BTreeMap::new();
        while it.next() == ValueType::Float {
            let (t, v) = it.at();
            m.insert(t, v.to_bits());
        }
        assert!(it.err().is_none(), "iterator error {:?}", it.err());
        if !m.is_empty() {
            out.insert(i, m);
        }
    }
    out
}

/// Checks the head's contents against batches `0..acked` plus the optional
/// in-flight batch; returns whether the in-flight batch is present.
fn verify(
    got: &BTreeMap<u64, BTreeMap<i64, u64>>,
    acked: u64,
    in_flight: Option<u64>,
    trunc: i64,
) -> bool {
    let mut want: BTreeMap<u64, BTreeMap<i64, u64>> = BTreeMap::new();
    for n in 0..acked {
        for (i, bits) in batch(n) {
            want.entry(i).or_default().insert((n * 1000) as i64, bits);
        }
    }
    // The in-flight batch: all or nothing.
    let flight_present = in_flight.map(|f| {
        let b = batch(f);
        let t = (f * 1000) as i64;
        let present: Vec<bool> = b
            .iter()
            .map(|(i, bits)| got.get(i).and_then(|m| m.get(&t)) == Some(bits))
            .collect();
        let all = present.iter().all(|&p| p);
        let none = b
            .iter()
            .all(|(i, _)| got.get(i).and_then(|m| m.get(&t)).is_none());
        assert!(
            all || none,
            "batch {f} in flight is partially present: {present:?}"
        );
        if all {
            for (i, bits) in b {
                want.entry(i).or_default().insert(t, bits);
            }
        }
        all
    });
    for (i, w) in &want {
        let g = got.get(i);
        for (t, bits) in w {
            let have = g.and_then(|m| m.get(t));
            if *t >= trunc {
                assert_eq!(
                    have,
                    Some(bits),
                    "series {i} t={t}: acked sample missing or wrong"
                );
            } else if let Some(h) = have {
                assert_eq!(
                    h, bits,
                    "series {i} t={t}: wrong value below the truncation point"
                );
            }
        }
    }
    for (i, g) in got {
        for t in g.keys() {
            assert!(
                want.get(i).is_some_and(|w| w.contains_key(t)),
                "series {i} t={t}: sample that no acknowledged batch wrote"
            );
        }
    }
    flight_present.unwrap_or(false)
}

#[test]
fn crash_and_replay() {
    let dir = tempfile::tempdir().expect("tempdir");
    let seed = std::env::var("EMBER_CRASH_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(0x5eed_u64);
    let mut rng = Rng(seed);
    let started = Instant::now();
    let mut acked = 0u64; // batches 0..acked are acknowledged
    let mut trunc = i64::MIN;
    let mut cycles = 0;
    let mut replays_with_flight = 0;
    let mut repairs = 0u64;
    while cycles < CYCLES && started.elapsed() < TIME_BUDGET {
        cycles += 1;
        let (status, lines) = run_child_until_killed(
            "crash_writer_child_process",
            &[
                (ENV_DIR, dir.path().into()),
                (ENV_START, acked.to_string().into()),
            ],
            Duration::from_millis(5 + rng.below(296)),
        );
        assert!(
            !status.success() || !lines.iter().any(|l| l.starts_with("begin")),
            "child exited on its own: {status:?}"
        );
        let mut begun = None;
        for l in &lines {
            if let Some(n) = l.strip_prefix("begin ") {
                begun = n.parse::<u64>().ok();
            } else if let Some(n) = l.strip_prefix("ack ") {
                let n: u64 = n.parse().expect("ack number");
                assert_eq!(n, acked, "acks are sequential");
                acked = n + 1;
            } else if let Some(m) = l.strip_prefix("trunc ") {
                trunc = trunc.max(m.parse().expect("trunc mint"));
            }
        }
        let in_flight = begun.filter(|&b| b == acked);
        let head = Head::open(dir.path(), opts()).expect("reopen after crash");
        let got = contents(&head);
        if verify(&got, acked, in_flight, trunc) {
            acked += 1;
            replays_with_flight += 1;
        }
        repairs += corruptions(&head);
        head.close().expect("close");
    }
    eprintln!(
        "crash test: {cycles} cycles, {acked} batches acknowledged, {replays_with_flight} in-flight batches found complete, {repairs} WAL repairs, {:?}",
        started.elapsed()
    );
    assert!(cycles >= 10, "too few cycles in the time budget: {cycles}");
    assert!(acked > 0, "the writer never acknowledged a batch");
}

fn last_segment(wal: &Path) -> std::path::PathBuf {
    let mut segs: Vec<_> = std::fs::read_dir(wal)
        .expect("read wal dir")
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| {
            p.file_name()
                .and_then(|n| n.to_str())
                .is_some_and(|n| n.bytes().all(|b| b.is_ascii_digit()))
                && std::fs::metadata(p).is_ok_and(|m| m.len() > 0)
        })
        .collect();
    segs.sort();
    segs.pop().expect("a non-empty segment")
}

/// Writes batches `from..to` in-process and closes the head.
fn write_batches(dir: &Path, from: u64, to: u64) {
    let head = Head::open(dir, opts()).expect("open");
    let labels: Vec<Labels> = (0..SERIES).map(series_labels).collect();
    for n in from..to {
        let mut app = head.appender();
        for (i, bits) in batch(n) {
            app.append(
                None,
                &labels[i as usize],
                Timestamp((n * 1000) as i64),
                Sample::Float(f64::from_bits(bits)),
            )
            .expect("append");
        }
        app.commit().expect("commit");
    }
    // No close: like a crash, the last page is not padded.
    drop(head);
}

/// `prometheus_tsdb_wal_corruptions_total` of `head`.
fn corruptions(head: &Head) -> u64 {
    head.metric_families()
        .into_iter()
        .find(|f| f.name == "prometheus_tsdb_wal_corruptions_total")
        .and_then(|f| match f.metrics.first().map(|m| &m.value) {
            Some(expfmt::MetricValue::Counter(c)) => Some(c.value as u64),
            _ => None,
        })
        .expect("wal corruptions family")
}

/// Every present sample belongs to one of batches `0..upto`, exactly.
fn check_exact(got: &BTreeMap<u64, BTreeMap<i64, u64>>, upto: u64) {
    for (i, g) in got {
        for (t, bits) in g {
            let n = (*t / 1000) as u64;
            assert!(n < upto && t % 1000 == 0, "series {i}: unexpected t={t}");
            let want = batch(n).into_iter().find(|(j, _)| j == i).map(|(_, b)| b);
            assert_eq!(
                want,
                Some(*bits),
                "series {i} t={t}: invented or wrong sample"
            );
        }
    }
}

#[test]
fn wal_tail_damage_keeps_the_prefix() {
    for damage in ["truncate", "garbage", "zero"] {
        let dir = tempfile::tempdir().expect("tempdir");
        write_batches(dir.path(), 0, 300);
        let before = contents(&Head::open(dir.path(), opts()).expect("open"));
        write_batches(dir.path(), 300, 400);
        let seg = last_segment(&dir.path().join("wal"));
        let len = std::fs::metadata(&seg).expect("stat").len();
        let mut bytes = std::fs::read(&seg).expect("read segment");
        let cut = (len as usize) * 2 / 3;
        match damage {
            "truncate" => bytes.truncate(cut),
            "garbage" => {
                for (k, b) in bytes[cut..cut + 64.min(len as usize - cut)]
                    .iter_mut()
                    .enumerate()
                {
                    *b = (k as u8).wrapping_mul(37).wrapping_add(11);
                }
            }
            _ => bytes[cut..].fill(0),
        }
        std::fs::write(&seg, &bytes).expect("write damaged segment");
        let head = Head::open(dir.path(), opts()).expect("reopen after damage");
        // Zeros from a record boundary read as a clean end; from inside a
        // fragment they are a torn write.
        let repairs = corruptions(&head);
        if damage == "zero" {
            assert!(repairs <= 1, "{damage}: {repairs} repairs");
        } else {
            assert_eq!(repairs, 1, "{damage}: repairs");
        }
        let got = contents(&head);
        // Everything before the damaged writes is there.
        for (i, w) in &before {
            for (t, bits) in w {
                assert_eq!(
                    got.get(i).and_then(|m| m.get(t)),
                    Some(bits),
                    "{damage}: lost series {i} t={t}"
                );
            }
        }
        // What is there is exact (samples of batches after the damage may
        // survive in chunks_head/, where they were written before it).
        check_exact(&got, 400);
        // The head keeps working after the repair.
        drop(head);
        write_batches(dir.path(), 400, 420);
        let head = Head::open(dir.path(), opts()).expect("reopen");
        let got = contents(&head);
        check_exact(&got, 420);
        for n in 400..420u64 {
            for (i, bits) in batch(n) {
                let t = (n * 1000) as i64;
                assert_eq!(
                    got.get(&i).and_then(|m| m.get(&t)),
                    Some(&bits),
                    "{damage}: batch {n}"
                );
            }
        }
    }
}
