//! `ember tool tsdb …` against Debian's `promtool tsdb …` (Prometheus 2.42)
//! on the same inputs and directories.
//!
//! - `create-blocks-from openmetrics`: for the same input (with and
//!   without `-r`, with `--max-block-duration`, with `-q`) both print the
//!   same block rows except the ULID and the size, and write blocks whose
//!   `index`, chunk segments and `tombstones` are identical byte for byte;
//!   the size differs exactly by `meta.json`, where Ember writes 3.x's
//!   `numFloatSamples`. Inputs with chunks over 1 KiB show the other
//!   documented difference: 3.x's cutting rule makes more, smaller chunks,
//!   holding the same samples.
//! - `list`, `list -r`, `analyze` (every block, `--limit`, `--extended`)
//!   and `dump` (selectors, time ranges, the head) on three directories —
//!   promtool's backfill, Ember's backfill, and a data directory written by
//!   Ember's `Db` (compacted blocks, tombstones, a WAL with a checkpoint
//!   and head tombstones) — print the same output: `list` byte for byte,
//!   `analyze` the same numbers (ties are in Go's map order, so rows are
//!   compared as sets within each section), `dump` the same lines as a set.
//! - Errors: same stderr and exit code for missing directories and files,
//!   an unknown block, a bad selector, a sample without a timestamp.
//!
//! promtool missing is a failure, not a skip: CI installs Debian's
//! `prometheus` package.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;

use model::matcher::Matcher;
use model::{Labels, Timestamp};
use storage::{Appendable, Sample};
use tsdb::block::BlockMeta;
use tsdb::chunks::{BlockChunkRef, BlockReader};
use tsdb::index::{ChunkMeta, IndexReader};
use tsdb::{Db, DbOptions};

const PROMTOOL: &str = "/usr/bin/promtool";
const EMBER: &str = env!("CARGO_BIN_EXE_ember");
const H: i64 = 3_600_000;

fn require_promtool() {
    assert!(
        Path::new(PROMTOOL).exists(),
        "{PROMTOOL} is missing: install Debian's `prometheus` package (2.42) to run the tool tsdb interop tests"
    );
}

#[derive(Debug, PartialEq)]
struct Outcome {
    code: i32,
    stdout: String,
    stderr: String,
}

fn run(cmd: &str, args: &[&str]) -> Outcome {
    let out = Command::new(cmd)
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("start {cmd}: {e}"));
    Outcome {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

/// Runs `promtool tsdb <args>` and `ember tool tsdb <args>`.
fn both(args: &[&str]) -> (Outcome, Outcome) {
    let mut p = vec!["tsdb"];
    p.extend_from_slice(args);
    let mut e = vec!["tool", "tsdb"];
    e.extend_from_slice(args);
    (run(PROMTOOL, &p), run(EMBER, &e))
}

fn ok(o: &Outcome, what: &str) {
    assert_eq!(o.code, 0, "{what} failed: {}{}", o.stdout, o.stderr);
}

// --- Inputs -----------------------------------------------------------------

/// The input with the weird series, without the noisy one.
const ALL: Extra = Extra {
    weird: true,
    noisy: false,
};

/// A small deterministic generator.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
}

/// What an input holds besides the base series.
#[derive(Clone, Copy)]
struct Extra {
    /// Series with a handful of samples, label values that need quoting
    /// and values of many shapes (and single-sample chunks).
    weird: bool,
    /// A series of random values at irregular times, whose chunks pass
    /// 1 KiB.
    noisy: bool,
}

/// An OpenMetrics backfill over about 9 hours from an unaligned start:
/// series starting and stopping at different times (churn) and a counter,
/// plus `extra`.
fn openmetrics_input(extra: Extra) -> String {
    let Extra { weird, noisy } = extra;
    let t0: i64 = 1_699_995_600 + 1234;
    let end = t0 + 9 * 3600;
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    let mut out = String::new();
    out.push_str("# HELP up Whether the target is up.\n# TYPE up gauge\n");
    for i in 0..40 {
        let job = ["node", "db", "api"][i % 3];
        let start = t0 + (rng.next() % 4) as i64 * 3600 + (rng.next() % 600) as i64;
        let stop = (start + 1800 + (rng.next() % (6 * 3600)) as i64).min(end);
        let mut t = start;
        while t < stop {
            let v = if (t / 30 + i as i64) % 17 == 0 { 0 } else { 1 };
            out.push_str(&format!(
                "up{{instance=\"host-{i:02}\",job=\"{job}\"}} {v} {t}\n"
            ));
            t += 30;
        }
    }
    out.push_str("# HELP http_requests Requests.\n# TYPE http_requests counter\n");
    for code in ["200", "500"] {
        for method in ["GET", "POST"] {
            let mut t = t0;
            let mut v = 0.0;
            while t < end {
                v += if code == "200" { 3.5 } else { 0.25 };
                out.push_str(&format!(
                    "http_requests_total{{code=\"{code}\",method=\"{method}\"}} {v} {t}\n"
                ));
                t += 15;
            }
        }
    }
    if weird {
        out.push_str("# TYPE weird gauge\n");
    }
    for (k, v) in ["ünïcode ☃", "with space", "quote\\\"d", "back\\\\slash"]
        .iter()
        .enumerate()
        .filter(|_| weird)
    {
        let values = ["-1.5", "+Inf", "-Inf", "1e-07", "123456789", "0.000123"];
        for (j, val) in values.iter().enumerate() {
            out.push_str(&format!(
                "weird{{v=\"{v}\"}} {val} {}\n",
                t0 + 100 * k as i64 + 3000 * j as i64
            ));
        }
    }
    if noisy {
        out.push_str("# TYPE noise gauge\n");
        let mut t = t0;
        while t < end {
            let v = f64::from_bits(rng.next() & 0x3fff_ffff_ffff_ffff);
            out.push_str(&format!("noise {v} {t}\n"));
            // Irregular steps: the timestamps cost bits too.
            t += 5 + (rng.next() % 10) as i64;
        }
    }
    out.push_str("# EOF\n");
    out
}

/// The cells of a `list` table (columns are separated by two or more
/// spaces; human-readable times hold single spaces).
fn table(s: &str) -> Vec<Vec<String>> {
    s.lines()
        .map(|l| {
            l.split("  ")
                .map(str::trim)
                .filter(|c| !c.is_empty())
                .map(str::to_string)
                .collect()
        })
        .collect()
}

/// Block directories by start time.
fn blocks_by_start(dir: &Path) -> BTreeMap<i64, PathBuf> {
    std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.join("meta.json").is_file())
        .map(|p| (BlockMeta::read(&p).unwrap().min_time, p))
        .collect()
}

fn file(p: &Path) -> Vec<u8> {
    std::fs::read(p).unwrap_or_else(|e| panic!("read {}: {e}", p.display()))
}

/// Backfills `input` with both tools; checks their outputs agree; returns
/// (promtool's directory, Ember's directory).
fn backfill_both(tmp: &Path, name: &str, input: &str, flags: &[&str]) -> (PathBuf, PathBuf) {
    let file_path = tmp.join(format!("{name}.om"));
    std::fs::write(&file_path, input).unwrap();
    let (pdir, edir) = (
        tmp.join(format!("{name}-promtool")),
        tmp.join(format!("{name}-ember")),
    );
    let mut pargs = vec!["tsdb", "create-blocks-from"];
    pargs.extend_from_slice(flags);
    pargs.extend_from_slice(&[
        "openmetrics",
        file_path.to_str().unwrap(),
        pdir.to_str().unwrap(),
    ]);
    let mut eargs = vec!["tool", "tsdb", "create-blocks-from"];
    eargs.extend_from_slice(flags);
    eargs.extend_from_slice(&[
        "openmetrics",
        file_path.to_str().unwrap(),
        edir.to_str().unwrap(),
    ]);
    let p = run(PROMTOOL, &pargs);
    let e = run(EMBER, &eargs);
    ok(&p, "promtool create-blocks-from");
    ok(&e, "ember create-blocks-from");
    assert_eq!(p.stderr, e.stderr);
    let (pt, et) = (table(&p.stdout), table(&e.stdout));
    assert_eq!(
        pt.len(),
        et.len(),
        "promtool:\n{}\nember:\n{}",
        p.stdout,
        e.stdout
    );
    if flags.contains(&"-q") {
        assert!(p.stdout.is_empty() && e.stdout.is_empty());
    }
    let pblocks = blocks_by_start(&pdir);
    let eblocks = blocks_by_start(&edir);
    assert_eq!(
        pblocks.keys().collect::<Vec<_>>(),
        eblocks.keys().collect::<Vec<_>>(),
        "block starts"
    );
    // Rows: all but ULID and size equal (the header entirely).
    for (i, (pr, er)) in pt.iter().zip(&et).enumerate() {
        if i == 0 {
            assert_eq!(pr, er, "header");
            continue;
        }
        assert_eq!(pr[1..7], er[1..7], "row {i}:\n{}\n{}", p.stdout, e.stdout);
    }
    // The tables are laid out alike (same widths) where the cells are.
    if !flags.contains(&"-r") {
        for (pl, el) in p.stdout.lines().zip(e.stdout.lines()).skip(1) {
            assert_eq!(
                pl[26..pl.rfind(' ').unwrap()],
                el[26..el.rfind(' ').unwrap()]
            );
        }
    }
    (pdir, edir)
}

/// Compares Ember's blocks with promtool's: the same series with the same
/// chunk ranges, each chunk's bytes equal — except that 2.42's bit stream
/// ends some chunks (every one-sample chunk) with a zero byte that 3.x and
/// Ember do not write — and `meta.json` equal but for the ULID and 3.x's
/// `numFloatSamples`. Without such chunks the `index` and chunk files are
/// identical byte for byte. Returns, per block, how many chunks had the
/// extra byte.
fn same_blocks(pdir: &Path, edir: &Path) -> Vec<usize> {
    let mut padded = Vec::new();
    for ((_, p), (_, e)) in blocks_by_start(pdir).iter().zip(&blocks_by_start(edir)) {
        let (pi, ei) = (
            IndexReader::open(&p.join("index")).unwrap(),
            IndexReader::open(&e.join("index")).unwrap(),
        );
        let (pc, ec) = (
            BlockReader::open(&p.join("chunks")).unwrap(),
            BlockReader::open(&e.join("chunks")).unwrap(),
        );
        let (pall, eall) = (pi.postings("", "").unwrap(), ei.postings("", "").unwrap());
        assert_eq!(pall.len(), eall.len());
        let (mut pm, mut em) = (Vec::new(), Vec::new());
        let mut block_padded = 0;
        for (&pr, &er) in pall.iter().zip(&eall) {
            let l = pi.series(pr, &mut pm).unwrap();
            assert_eq!(l, ei.series(er, &mut em).unwrap());
            let ranges = |m: &[ChunkMeta]| -> Vec<(i64, i64)> {
                m.iter().map(|c| (c.min_time, c.max_time)).collect()
            };
            assert_eq!(ranges(&pm), ranges(&em), "chunks of {l}");
            for (a, b) in pm.iter().zip(&em) {
                let (_, pb) = pc.chunk(BlockChunkRef(a.chunk_ref)).unwrap();
                let (_, eb) = ec.chunk(BlockChunkRef(b.chunk_ref)).unwrap();
                if pb != eb {
                    assert_eq!(
                        pb,
                        [eb, &[0][..]].concat(),
                        "chunk of {l} at {}",
                        a.min_time
                    );
                    block_padded += 1;
                }
            }
        }
        if block_padded == 0 {
            for f in ["index", "tombstones", "chunks/000001"] {
                assert!(
                    file(&p.join(f)) == file(&e.join(f)),
                    "{f} of {} and {}",
                    p.display(),
                    e.display()
                );
            }
        }
        padded.push(block_padded);
        let (pm, em) = (BlockMeta::read(p).unwrap(), BlockMeta::read(e).unwrap());
        assert_eq!((pm.min_time, pm.max_time), (em.min_time, em.max_time));
        assert_eq!(pm.stats.num_samples, em.stats.num_samples);
        assert_eq!(pm.stats.num_chunks, em.stats.num_chunks);
        assert_eq!(em.stats.num_float_samples, em.stats.num_samples);
        assert_eq!(pm.compaction.level, em.compaction.level);
        let meta_diff = file(&e.join("meta.json")).len() - file(&p.join("meta.json")).len();
        assert_eq!(
            meta_diff,
            format!("\t\t\"numFloatSamples\": {},\n", em.stats.num_samples).len()
        );
    }
    padded
}

/// Sizes printed by `list` for both directories (by block start).
fn sizes(dir: &Path) -> Vec<u64> {
    let o = run(EMBER, &["tool", "tsdb", "list", dir.to_str().unwrap()]);
    ok(&o, "ember list");
    table(&o.stdout)
        .iter()
        .skip(1)
        .map(|r| r[7].parse().unwrap())
        .collect()
}

#[test]
fn create_blocks_from_openmetrics_matches_promtool() {
    require_promtool();
    let tmp = tempfile::tempdir().unwrap();
    // Blocks without one-sample chunks are identical but for meta.json, so
    // the sizes `list` prints differ by exactly that.
    let plain = openmetrics_input(Extra {
        weird: false,
        noisy: false,
    });
    let (pdir, edir) = backfill_both(tmp.path(), "plain", &plain, &[]);
    assert!(blocks_by_start(&pdir).len() >= 5);
    let padded = same_blocks(&pdir, &edir);
    assert!(
        padded.iter().filter(|&&n| n == 0).count() >= 3,
        "{padded:?}"
    );
    let meta_len = |d: &Path| -> Vec<u64> {
        blocks_by_start(d)
            .values()
            .map(|b| file(&b.join("meta.json")).len() as u64)
            .collect()
    };
    let (ps, es, pm, em) = (sizes(&pdir), sizes(&edir), meta_len(&pdir), meta_len(&edir));
    for i in (0..ps.len()).filter(|&i| padded[i] == 0) {
        assert_eq!(
            es[i] - ps[i],
            em[i] - pm[i],
            "sizes differ by meta.json only"
        );
    }

    // With quoting, odd values and one-sample chunks; human-readable.
    let input = openmetrics_input(ALL);
    let (pdir, edir) = backfill_both(tmp.path(), "human", &input, &["-r"]);
    assert!(
        same_blocks(&pdir, &edir).iter().sum::<usize>() > 0,
        "one-sample chunks"
    );
    // 18h blocks.
    let (pdir, edir) = backfill_both(
        tmp.path(),
        "long",
        &input,
        &["--max-block-duration=24h", "--human-readable"],
    );
    assert!(blocks_by_start(&pdir).len() <= 2);
    same_blocks(&pdir, &edir);
    let (pdir, edir) = backfill_both(tmp.path(), "quiet", &input, &["-q"]);
    same_blocks(&pdir, &edir);

    // Noisy values: 3.x's rule also cuts chunks at 1 KiB, so there are
    // more, smaller chunks holding the same samples.
    let noisy = openmetrics_input(Extra {
        weird: false,
        noisy: true,
    });
    let (pdir, edir) = backfill_both(tmp.path(), "noisy", &noisy, &["-q"]);
    let chunks = |d: &Path| -> u64 {
        blocks_by_start(d)
            .values()
            .map(|b| BlockMeta::read(b).unwrap().stats.num_chunks)
            .sum()
    };
    assert!(
        chunks(&edir) > chunks(&pdir),
        "{} vs {}",
        chunks(&edir),
        chunks(&pdir)
    );
    for d in [&pdir, &edir] {
        std::fs::create_dir_all(d.join("wal")).unwrap();
    }
    let p = run(PROMTOOL, &["tsdb", "dump", pdir.to_str().unwrap()]);
    let e = run(PROMTOOL, &["tsdb", "dump", edir.to_str().unwrap()]);
    ok(&p, "promtool dump");
    ok(&e, "promtool dump of ember's blocks");
    assert_eq!(sorted_lines(&p.stdout), sorted_lines(&e.stdout));
}

fn sorted_lines(s: &str) -> Vec<&str> {
    let mut v: Vec<&str> = s.lines().collect();
    v.sort_unstable();
    v
}

// --- Reading directories ----------------------------------------------------

/// A data directory written by Ember's `Db`: blocks from the head, a 6h
/// block merged from three, blocks rewritten without deleted data,
/// tombstones in a block and in the WAL, and a head.
fn ember_db_dir(dir: &Path) {
    let db = Db::open(
        dir,
        DbOptions {
            retention_duration: 0,
            ..DbOptions::default()
        },
    )
    .unwrap();
    let labels = |i: usize| {
        Labels::from_pairs([
            ("__name__", if i < 4 { "ember_db" } else { "ember_other" }),
            ("i", i.to_string().as_str()),
            ("job", if i.is_multiple_of(2) { "even" } else { "odd" }),
        ])
    };
    // Series come and go at different hours.
    let mut t = 0;
    while t < 11 * H {
        let mut app = db.appender();
        for i in 0..6usize {
            let (from, to) = (i as i64 * H, 11 * H - (i as i64 % 3) * H);
            if t >= from && t < to {
                let v = (t / 60_000) as f64 * (i as f64 + 0.5);
                app.append(None, &labels(i), Timestamp(t), Sample::Float(v))
                    .unwrap();
            }
        }
        app.commit().unwrap();
        t += 60_000;
    }
    db.compact().unwrap();
    db.delete(5 * H, 9 * H, &[Matcher::equal("i", "1")])
        .unwrap();
    db.clean_tombstones().unwrap();
    db.delete(H, 2 * H, &[Matcher::equal("i", "2")]).unwrap();
    db.delete(9 * H, 10 * H, &[Matcher::equal("i", "3")])
        .unwrap();
    db.close().unwrap();
}

/// `analyze` output as (section title, rows); the first section is the
/// summary.
fn sections(s: &str) -> Vec<(String, Vec<String>)> {
    s.split("\n\n")
        .map(|sec| {
            let mut lines = sec.lines();
            let title = lines.next().unwrap_or_default().to_string();
            (title, lines.map(str::to_string).collect())
        })
        .collect()
}

/// Compares `analyze` outputs: the summary and `--extended`'s histogram
/// exactly, each list as a set of rows (all shown with a large limit) or
/// as its sequence of counts (limited lists end among ties, which Go
/// orders at random).
fn same_analysis(p: &str, e: &str, limited: bool) {
    let (ps, es) = (sections(p), sections(e));
    assert_eq!(ps.len(), es.len(), "promtool:\n{p}\nember:\n{e}");
    for (i, ((pt, pr), (et, er))) in ps.iter().zip(&es).enumerate() {
        assert_eq!(pt, et);
        if i == 0 || pt == "Compaction analysis:" {
            assert_eq!(pr, er, "{pt}");
        } else if limited {
            let counts = |r: &[String]| -> Vec<String> {
                r.iter()
                    .map(|l| l.split(' ').next().unwrap().to_string())
                    .collect()
            };
            assert_eq!(counts(pr), counts(er), "{pt}\npromtool:\n{p}\nember:\n{e}");
        } else {
            let (mut a, mut b) = (pr.clone(), er.clone());
            a.sort();
            b.sort();
            assert_eq!(a, b, "{pt}");
        }
    }
}

#[test]
fn list_analyze_dump_match_promtool() {
    require_promtool();
    let tmp = tempfile::tempdir().unwrap();
    let (pdir, edir) = backfill_both(tmp.path(), "in", &openmetrics_input(ALL), &["-q"]);
    let ddir = tmp.path().join("db");
    ember_db_dir(&ddir);
    for d in [&pdir, &edir] {
        // promtool 2.42's dump fails without a WAL directory.
        std::fs::create_dir_all(d.join("wal")).unwrap();
    }
    for dir in [&pdir, &edir, &ddir] {
        let d = dir.to_str().unwrap();
        for args in [vec!["list", d], vec!["list", "-r", d]] {
            let (p, e) = both(&args);
            ok(&p, "promtool list");
            assert_eq!(p, e, "{args:?}");
        }
        let starts = blocks_by_start(dir);
        assert!(starts.len() >= 2, "{d}");
        let mut ids: Vec<String> = starts
            .values()
            .map(|b| BlockMeta::read(b).unwrap().ulid.to_string())
            .collect();
        ids.push(String::new());
        for id in &ids {
            for (limit, extended) in [
                ("--limit=1000", true),
                ("--limit=20", false),
                ("--limit=3", true),
            ] {
                let mut args = vec!["analyze", limit];
                if extended {
                    args.push("--extended");
                }
                args.push(d);
                if !id.is_empty() {
                    args.push(id);
                }
                let (p, e) = both(&args);
                ok(&p, "promtool analyze");
                assert_eq!((p.code, &p.stderr), (e.code, &e.stderr), "{args:?}");
                same_analysis(&p.stdout, &e.stdout, limit != "--limit=1000");
            }
        }
        // Dumps: everything, selectors, ranges (with and without the head).
        let first = *starts.keys().next().unwrap();
        let last_end = BlockMeta::read(starts.values().last().unwrap())
            .unwrap()
            .max_time;
        let (a, b) = (
            format!("--min-time={}", first + 90 * 60_000),
            format!("--max-time={}", first + 5 * H + 1),
        );
        let before_head = format!("--max-time={}", last_end - 1);
        let cases: Vec<Vec<&str>> = vec![
            vec!["dump", d],
            vec!["dump", "--match=up{job=\"node\"}", d],
            vec!["dump", "--match={__name__=~\"weird|ember_db\"}", d],
            vec!["dump", "--match={job=\"\"}", d],
            vec!["dump", "--match={i!=\"\",job=~\"e.*\"}", d],
            vec!["dump", &a, &b, d],
            vec!["dump", &before_head, d],
        ];
        for args in &cases {
            // Ember first: promtool's dump leaves files behind.
            let e = run(EMBER, &[&["tool", "tsdb"][..], args].concat());
            let p = run(PROMTOOL, &[&["tsdb"][..], args].concat());
            ok(&p, "promtool dump");
            assert_eq!((p.code, &p.stderr), (e.code, &e.stderr), "{args:?}");
            let (pl, el) = (sorted_lines(&p.stdout), sorted_lines(&e.stdout));
            if pl != el {
                let missing: Vec<_> = pl.iter().filter(|l| !el.contains(l)).take(3).collect();
                let extra: Vec<_> = el.iter().filter(|l| !pl.contains(l)).take(3).collect();
                panic!(
                    "{args:?}: promtool {} lines, ember {}; missing {missing:?}; extra {extra:?}",
                    pl.len(),
                    el.len()
                );
            }
        }
        // The whole dump is not empty, and the head's part is in it.
        let (p, _) = both(&["dump", d]);
        assert!(p.stdout.lines().count() > 100);
    }
    // Ember's Db directory has head samples after its last block.
    let (p, _) = both(&["dump", "--min-time=36000000", ddir.to_str().unwrap()]);
    assert!(p.stdout.lines().count() > 100, "{}", p.stdout);
}

#[test]
fn errors_match_promtool() {
    require_promtool();
    let tmp = tempfile::tempdir().unwrap();
    let (pdir, _) = backfill_both(tmp.path(), "in", &openmetrics_input(ALL), &["-q"]);
    std::fs::create_dir_all(pdir.join("wal")).unwrap();
    let d = pdir.to_str().unwrap();
    let missing = tmp.path().join("missing");
    let m = missing.to_str().unwrap();
    let a_file = tmp.path().join("in.om");
    let f = a_file.to_str().unwrap();
    let no_ts = tmp.path().join("no_ts.om");
    std::fs::write(&no_ts, "# TYPE a gauge\na 1 5\na{x=\"y\"} 2\n# EOF\n").unwrap();
    let empty = tmp.path().join("empty");
    std::fs::create_dir_all(&empty).unwrap();
    let out = tmp.path().join("out").to_str().unwrap().to_string();
    let cases: Vec<Vec<&str>> = vec![
        vec!["list", m],
        vec!["list", f],
        vec!["list", empty.to_str().unwrap()],
        vec!["analyze", m],
        vec!["analyze", empty.to_str().unwrap()],
        vec!["analyze", d, "01BX5ZZKBKACTAV9WEVGEMMVRZ"],
        vec!["dump", m],
        vec!["dump", "--match=up{", d],
        vec!["create-blocks-from", "openmetrics", m, &out],
        vec![
            "create-blocks-from",
            "openmetrics",
            no_ts.to_str().unwrap(),
            &out,
        ],
    ];
    for args in &cases {
        let (p, e) = both(args);
        assert_eq!(p, e, "{args:?}");
    }
}
