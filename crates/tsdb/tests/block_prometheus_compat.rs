//! Whole data directories between Ember and Debian's Prometheus 2.42, both
//! ways.
//!
//! 1. Ember writes: a `Db` is fed known float samples over 11 hours; its
//!    compaction cuts the head into 2h blocks and merges three of them into
//!    a 6h block; a deletion across blocks and head is cleaned from the
//!    blocks (`clean_tombstones`), a second one is left as tombstones (one
//!    in a block's `tombstones` file, one logged in the WAL for the head).
//!    Then promtool's `tsdb list` shows exactly Ember's blocks (ULID, range,
//!    counts, size), `tsdb analyze` accepts each of them, and `tsdb dump`
//!    prints exactly the samples Ember was given minus the deleted ones —
//!    blocks, tombstones, WAL, checkpoint and head chunks all read by
//!    Prometheus's code.
//! 2. Ember reads Prometheus: blocks backfilled by `promtool tsdb
//!    create-blocks-from openmetrics`, then a running Prometheus receives
//!    more samples over remote write (some for the backfilled series) and
//!    is killed with SIGKILL, leaving its WAL and `chunks_head/` as a crash
//!    leaves them (and, as it compacts backfilled blocks at startup, a
//!    block it compacted itself). `Db::open` on a copy of that directory returns, for
//!    several selectors and time windows, exactly the samples a restarted
//!    Prometheus returns for `selector[range]` at the same evaluation time
//!    over its HTTP API, and all of its samples equal `promtool tsdb dump`
//!    of another copy.
//!
//! Everything runs on loopback; a missing `prometheus` or `promtool` fails
//! the test (CI installs Debian's `prometheus` package).

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::{Guard, PROMETHEUS, free_port, http_get, http_post, require_prometheus};
use model::matcher::{MatchOp, Matcher};
use model::{Labels, Timestamp};
use storage::{Appendable, Queryable, Sample, ValueType};
use tsdb::block::BlockMeta;
use tsdb::{Db, DbOptions};

const PROMTOOL: &str = "/usr/bin/promtool";
const H: i64 = 3_600_000;

/// (labels as Prometheus prints them, timestamp, value bits)
type SampleSet = BTreeSet<(String, i64, u64)>;

fn require_promtool() {
    assert!(
        Path::new(PROMTOOL).exists(),
        "{PROMTOOL} is missing: install Debian's `prometheus` package (2.42) to run the block interop tests"
    );
}

/// Runs promtool; its stdout, failing the test on a non-zero exit.
fn promtool(args: &[&str]) -> String {
    let out = Command::new(PROMTOOL)
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("run {PROMTOOL}: {e}"));
    assert!(
        out.status.success(),
        "promtool {args:?} failed ({}):\n{}\n{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).expect("utf-8 output")
}

/// Parses `promtool tsdb dump` lines: `{labels} value timestamp`.
fn parse_dump(out: &str) -> SampleSet {
    out.lines()
        .map(|line| {
            let mut it = line.rsplitn(3, ' ');
            let t: i64 = it.next().unwrap().parse().expect(line);
            let v = it.next().unwrap();
            let v: f64 = match v {
                "+Inf" => f64::INFINITY,
                "-Inf" => f64::NEG_INFINITY,
                v => v.parse().expect(line),
            };
            (it.next().unwrap().to_string(), t, v.to_bits())
        })
        .collect()
}

/// Every float sample Ember returns for `matchers` in `[mint, maxt]`.
fn ember_samples(db: &Db, mint: i64, maxt: i64, matchers: &[Matcher]) -> SampleSet {
    let q = db.querier(mint, maxt).unwrap();
    let mut set = q.select(true, None, matchers);
    let mut out = SampleSet::new();
    while let Some(s) = set.next() {
        let s = s.unwrap();
        let l = s.labels().to_string();
        let mut it = s.iterator();
        while it.next() == ValueType::Float {
            let (t, v) = it.at();
            out.insert((l.clone(), t, v.to_bits()));
        }
        assert!(it.err().is_none(), "{l}: {:?}", it.err());
    }
    out
}

fn copy_tree(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for e in std::fs::read_dir(from).unwrap() {
        let e = e.unwrap();
        let t = e.file_type().unwrap();
        if t.is_dir() {
            copy_tree(&e.path(), &to.join(e.file_name()));
        } else if t.is_file() {
            std::fs::copy(e.path(), to.join(e.file_name())).unwrap();
        }
    }
}

/// The block directories of a data directory, by name.
fn block_dirs(dir: &Path) -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.join("meta.json").is_file())
        .collect();
    v.sort();
    v
}

/// A block's size as promtool counts it.
fn block_size(dir: &Path) -> u64 {
    let len = |p: PathBuf| std::fs::metadata(p).map_or(0, |m| m.len());
    let chunks: u64 = std::fs::read_dir(dir.join("chunks"))
        .unwrap()
        .map(|e| e.unwrap().metadata().unwrap().len())
        .sum();
    chunks + len(dir.join("index")) + len(dir.join("tombstones")) + len(dir.join("meta.json"))
}

// --- 1. Ember writes, promtool reads. ---------------------------------------

const SERIES: usize = 6;

fn series_labels(i: usize) -> Labels {
    let job = if i.is_multiple_of(2) { "even" } else { "odd" };
    Labels::from_pairs([
        ("__name__", "ember_block_compat"),
        ("i", i.to_string().as_str()),
        ("job", job),
        ("note", if i == 5 { "ünï \"q\" \\ x" } else { "plain" }),
    ])
}

/// Value of series `i` at sample `k`: XOR corner cases.
fn value(i: usize, k: i64) -> f64 {
    match i {
        0 => k as f64,
        1 => (k as f64 * 0.1).sin() * 1e-7,
        2 => 1e300 / (k + 1) as f64,
        3 => {
            if k % 97 == 0 {
                f64::INFINITY
            } else {
                -0.0
            }
        }
        4 => f64::from_bits(0x3ff0_0000_0000_0000 ^ ((k as u64) * 0x9e37_79b9)),
        _ => (k * k) as f64 / 3.0,
    }
}

#[test]
fn promtool_reads_what_ember_wrote_and_compacted() {
    require_promtool();
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("data");
    let opts = DbOptions {
        retention_duration: 0,
        ..DbOptions::default()
    };
    let db = Db::open(&dir, opts).unwrap();
    // 11 hours at 60s.
    let step = 60_000;
    let end = 11 * H;
    let mut given: BTreeMap<usize, Vec<(i64, f64)>> = BTreeMap::new();
    let mut k = 0;
    while k * step < end {
        let t = k * step;
        let mut app = db.appender();
        for i in 0..SERIES {
            let v = value(i, k);
            app.append(None, &series_labels(i), Timestamp(t), Sample::Float(v))
                .unwrap();
            given.entry(i).or_default().push((t, v));
        }
        app.commit().unwrap();
        k += 1;
    }
    db.compact().unwrap();
    let ranges: Vec<(i64, i64, u32)> = db
        .blocks()
        .iter()
        .map(|b| (b.min_time(), b.max_time(), b.meta().compaction.level))
        .collect();
    assert_eq!(ranges, [(0, 6 * H, 2), (6 * H, 8 * H, 1)], "{ranges:?}");

    // Deleted and cleaned: series 1 in [5h, 9h] (two blocks and the head).
    let m1 = [Matcher::equal("i", "1")];
    db.delete(5 * H, 9 * H, &m1).unwrap();
    db.clean_tombstones().unwrap();
    assert!(db.blocks().iter().all(|b| b.tombstones().is_empty()));
    // Deleted and left as tombstones: series 2 in [1h, 2h] (the 6h block)
    // and series 3 in [9h, 10h] (the head: a WAL tombstone record).
    db.delete(H, 2 * H, &[Matcher::equal("i", "2")]).unwrap();
    db.delete(9 * H, 10 * H, &[Matcher::equal("i", "3")])
        .unwrap();
    assert!(db.blocks().iter().any(|b| !b.tombstones().is_empty()));
    let deleted = |i: usize, t: i64| {
        (i == 1 && (5 * H..=9 * H).contains(&t))
            || (i == 2 && (H..=2 * H).contains(&t))
            || (i == 3 && (9 * H..=10 * H).contains(&t))
    };
    let mut want = SampleSet::new();
    for (&i, samples) in &given {
        let l = series_labels(i).to_string();
        for &(t, v) in samples {
            if !deleted(i, t) {
                want.insert((l.clone(), t, v.to_bits()));
            }
        }
    }
    let everything = [Matcher::new(MatchOp::RegexMatch, "__name__", ".+").unwrap()];
    assert_eq!(ember_samples(&db, i64::MIN, i64::MAX, &everything), want);
    db.close().unwrap();

    // list: exactly our blocks, in order.
    let list = promtool(&["tsdb", "list", dir.to_str().unwrap()]);
    let rows: Vec<Vec<String>> = list
        .lines()
        .skip(1)
        .map(|l| l.split_whitespace().map(str::to_string).collect())
        .collect();
    let mut want_rows = Vec::new();
    let mut metas: Vec<(BlockMeta, u64)> = block_dirs(&dir)
        .iter()
        .map(|d| (BlockMeta::read(d).unwrap(), block_size(d)))
        .collect();
    metas.sort_by_key(|(m, _)| m.min_time);
    for (m, size) in &metas {
        want_rows.push(vec![
            m.ulid.to_string(),
            m.min_time.to_string(),
            m.max_time.to_string(),
            m.stats.num_samples.to_string(),
            m.stats.num_chunks.to_string(),
            m.stats.num_series.to_string(),
            size.to_string(),
        ]);
    }
    let got_rows: Vec<Vec<String>> = rows
        .iter()
        .map(|r| {
            // Drop the duration column.
            let mut r = r.clone();
            r.remove(3);
            r
        })
        .collect();
    assert_eq!(got_rows, want_rows, "promtool tsdb list:\n{list}");
    assert_eq!(metas.len(), 2);

    // analyze: every block opens and reports its series.
    for (m, _) in &metas {
        let out = promtool(&[
            "tsdb",
            "analyze",
            "--extended",
            dir.to_str().unwrap(),
            &m.ulid.to_string(),
        ]);
        assert!(
            out.contains(&format!("Series: {}\n", m.stats.num_series)),
            "{out}"
        );
        assert!(
            out.contains(&format!("{} ember_block_compat\n", m.stats.num_series)),
            "{out}"
        );
    }

    // dump: every sample we gave, nothing deleted, nothing else.
    let got = parse_dump(&promtool(&["tsdb", "dump", dir.to_str().unwrap()]));
    if got != want {
        let missing: Vec<_> = want.difference(&got).take(5).collect();
        let extra: Vec<_> = got.difference(&want).take(5).collect();
        panic!(
            "promtool tsdb dump differs: {} vs {} samples; missing {missing:?}; extra {extra:?}",
            got.len(),
            want.len()
        );
    }
}

// --- 2. Prometheus writes, Ember reads. -------------------------------------

const BACKFILL: &str = "ember_backfill";
const LIVE: &str = "ember_live";
const LIVE_SERIES: usize = 5;
const LIVE_SAMPLES: i64 = 600;

fn varint(out: &mut Vec<u8>, mut v: u64) {
    while v >= 0x80 {
        out.push(v as u8 | 0x80);
        v >>= 7;
    }
    out.push(v as u8);
}

fn field(out: &mut Vec<u8>, number: u64, body: &[u8]) {
    varint(out, number << 3 | 2);
    varint(out, body.len() as u64);
    out.extend_from_slice(body);
}

/// A series to send: label pairs (sorted by name) and samples.
type RemoteSeries<'a> = (Vec<(&'a str, String)>, Vec<(i64, f64)>);

/// A remote-write 1.0 `WriteRequest` holding `series`.
fn write_request(series: &[RemoteSeries<'_>]) -> Vec<u8> {
    let mut req = Vec::new();
    for (labels, samples) in series {
        let mut ts = Vec::new();
        for (name, value) in labels {
            let mut label = Vec::new();
            field(&mut label, 1, name.as_bytes());
            field(&mut label, 2, value.as_bytes());
            field(&mut ts, 1, &label);
        }
        for &(t, v) in samples {
            let mut sample = Vec::new();
            varint(&mut sample, 1 << 3 | 1);
            sample.extend_from_slice(&v.to_bits().to_le_bytes());
            varint(&mut sample, 2 << 3);
            varint(&mut sample, t as u64);
            field(&mut ts, 2, &sample);
        }
        field(&mut req, 1, &ts);
    }
    req
}

fn start_prometheus(tmp: &Path, data: &Path, log_name: &str) -> (Guard, u16) {
    let web = free_port();
    let config = tmp.join("prometheus.yml");
    std::fs::write(&config, "global:\n  scrape_interval: 1h\n").unwrap();
    let log = tmp.join(log_name);
    let child = Command::new(PROMETHEUS)
        .arg(format!("--config.file={}", config.display()))
        .arg(format!("--storage.tsdb.path={}", data.display()))
        .arg(format!("--web.listen-address=127.0.0.1:{web}"))
        .arg("--web.enable-remote-write-receiver")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(&log).unwrap())
        .spawn()
        .expect("start prometheus");
    let guard = Guard {
        child: Some(child),
        log,
    };
    let deadline = Instant::now() + Duration::from_secs(60);
    while http_get(web, "/-/ready").is_none_or(|b| !b.contains("Ready")) {
        assert!(
            Instant::now() < deadline,
            "prometheus not ready:\n{}",
            guard.log()
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    (guard, web)
}

fn url_encode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// Prometheus's answer to `selector[range_ms]` evaluated at `at_ms`.
fn prometheus_range(port: u16, selector: &str, range_ms: i64, at_ms: i64) -> SampleSet {
    let query = format!("{selector}[{range_ms}ms]");
    let path = format!(
        "/api/v1/query?query={}&time={}.{:03}",
        url_encode(&query),
        at_ms / 1000,
        at_ms % 1000
    );
    let body = http_get(port, &path).expect("query prometheus");
    let v: serde_json::Value = serde_json::from_str(&body).expect(&body);
    assert_eq!(v["status"], "success", "{body}");
    assert_eq!(v["data"]["resultType"], "matrix", "{body}");
    let mut out = SampleSet::new();
    for series in v["data"]["result"].as_array().unwrap() {
        let labels = Labels::from_pairs(
            series["metric"]
                .as_object()
                .unwrap()
                .iter()
                .map(|(k, v)| (k.as_str(), v.as_str().unwrap())),
        )
        .to_string();
        for pair in series["values"].as_array().unwrap() {
            let t = (pair[0].as_f64().unwrap() * 1000.0).round() as i64;
            let s = pair[1].as_str().unwrap();
            let v: f64 = match s {
                "+Inf" => f64::INFINITY,
                "-Inf" => f64::NEG_INFINITY,
                s => s.parse().unwrap(),
            };
            out.insert((labels.clone(), t, v.to_bits()));
        }
    }
    out
}

#[test]
fn ember_reads_a_prometheus_data_dir_with_backfilled_blocks_and_a_killed_head() {
    require_prometheus("the block interop test");
    require_promtool();
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64;
    let now_s = now / 1000;

    // Backfill: 4 series every 30s over 7h, ending 5h before the 2h range
    // that holds now, in whole seconds.
    let bf_end = (now / (2 * H)) * (2 * H) - 5 * H;
    let bf_start = bf_end - 7 * H;
    let mut om = String::from("# HELP ember_backfill Backfilled.\n# TYPE ember_backfill gauge\n");
    let mut backfilled = 0;
    for i in 0..4 {
        let mut t = bf_start + i * 7_000;
        let mut k = 0u64;
        while t < bf_end {
            let v = match i {
                0 => k as f64,
                1 => (k as f64 * 0.37).cos() * 1000.0,
                2 => -(k as f64) / 8.0,
                _ => 1.0 + (k % 5) as f64,
            };
            om.push_str(&format!(
                "{BACKFILL}{{i=\"{i}\",src=\"promtool\"}} {v} {}\n",
                t / 1000
            ));
            backfilled += 1;
            t += 30_000;
            k += 1;
        }
    }
    om.push_str("# EOF\n");
    let input = tmp.path().join("backfill.om");
    std::fs::write(&input, om).unwrap();
    promtool(&[
        "tsdb",
        "create-blocks-from",
        "openmetrics",
        "-q",
        input.to_str().unwrap(),
        data.to_str().unwrap(),
    ]);
    let n_blocks = block_dirs(&data).len();
    assert!(n_blocks >= 4, "{n_blocks} backfilled blocks");

    // Live samples over remote write: 600 per series at 1s, ending a minute
    // ago, so the head cuts and memory-maps several chunks; also fresh
    // samples for a backfilled series.
    let (mut guard, web) = start_prometheus(tmp.path(), &data, "prometheus-1.log");
    let live_start = (now_s - LIVE_SAMPLES - 60) * 1000;
    let mut series: Vec<RemoteSeries<'_>> = Vec::new();
    for i in 0..LIVE_SERIES {
        let samples = (0..LIVE_SAMPLES)
            .map(|k| {
                let v = match i {
                    0 => k as f64,
                    1 => 1e-3 * (k % 13) as f64,
                    2 => (k as f64).sqrt(),
                    3 => f64::from_bits(0x4000_0000_0000_0000 ^ ((k as u64) << 20)),
                    _ => -1.0,
                };
                (live_start + k * 1000, v)
            })
            .collect();
        series.push((
            vec![("__name__", LIVE.to_string()), ("i", i.to_string())],
            samples,
        ));
    }
    series.push((
        vec![
            ("__name__", BACKFILL.to_string()),
            ("i", "0".to_string()),
            ("src", "promtool".to_string()),
        ],
        (0..LIVE_SAMPLES)
            .map(|k| (live_start + k * 1000, 1e6 + k as f64))
            .collect(),
    ));
    let body = snap::raw::Encoder::new()
        .compress_vec(&write_request(&series))
        .unwrap();
    let status = http_post(
        web,
        "/api/v1/write",
        &[
            ("Content-Type", "application/x-protobuf"),
            ("Content-Encoding", "snappy"),
            ("X-Prometheus-Remote-Write-Version", "0.1.0"),
        ],
        &body,
    );
    assert_eq!(status, Some(204), "remote write refused:\n{}", guard.log());
    // Give the head's chunk writer a moment to memory-map full chunks.
    std::thread::sleep(Duration::from_millis(500));
    // SIGKILL: the WAL and chunks_head/ stay as a crash leaves them.
    if let Some(mut child) = guard.child.take() {
        child.kill().unwrap();
        child.wait().unwrap();
    }
    assert!(data.join("wal").is_dir() && data.join("chunks_head").is_dir());

    let ember_dir = tmp.path().join("ember-copy");
    copy_tree(&data, &ember_dir);
    let promtool_dir = tmp.path().join("promtool-copy");
    copy_tree(&data, &promtool_dir);

    // Prometheus may have compacted the backfilled blocks since it started
    // (it did in our runs); if it was killed before deleting the sources,
    // they are superseded by the new block's `parents`.
    let metas: Vec<BlockMeta> = block_dirs(&ember_dir)
        .iter()
        .map(|d| BlockMeta::read(d).unwrap())
        .collect();
    let mut want_blocks: Vec<String> = metas
        .iter()
        .filter(|m| {
            !metas
                .iter()
                .any(|o| o.compaction.parents.iter().any(|p| p.ulid == m.ulid))
        })
        .map(|m| m.ulid.to_string())
        .collect();
    want_blocks.sort();
    let db = Db::open(
        &ember_dir,
        DbOptions {
            retention_duration: 0,
            ..DbOptions::default()
        },
    )
    .unwrap();
    let mut got_blocks: Vec<String> = db
        .blocks()
        .iter()
        .map(|b| b.meta().ulid.to_string())
        .collect();
    got_blocks.sort();
    assert_eq!(got_blocks, want_blocks);

    // Everything: promtool's dump of the killed directory.
    let all = [Matcher::new(MatchOp::RegexMatch, "__name__", "ember_.+").unwrap()];
    let ember_all = ember_samples(&db, i64::MIN, i64::MAX, &all);
    assert_eq!(
        ember_all.len() as i64,
        backfilled + (LIVE_SERIES as i64 + 1) * LIVE_SAMPLES,
        "every sample written is there once"
    );
    let dumped = parse_dump(&promtool(&[
        "tsdb",
        "dump",
        "--match={__name__=~\"ember_.+\"}",
        promtool_dir.to_str().unwrap(),
    ]));
    assert_eq!(ember_all, dumped, "Ember vs promtool tsdb dump");

    // Selectors and windows: a restarted Prometheus over its own directory.
    let (mut guard, web) = start_prometheus(tmp.path(), &data, "prometheus-2.log");
    // Evaluation times half a second off the sample grid, so that no
    // sample sits on a window's edge (2.42's windows are closed, 3.x's
    // left-open).
    let live_end = live_start + LIVE_SAMPLES * 1000;
    let cases: Vec<(&str, Vec<Matcher>, i64, i64)> = vec![
        (
            "{__name__=~\"ember_.+\"}",
            all.to_vec(),
            now + 500 - bf_start + 1000,
            now + 500,
        ),
        (
            BACKFILL,
            vec![Matcher::equal("__name__", BACKFILL)],
            H,
            bf_start + 2 * H + 30 * 60_000 + 500,
        ),
        (
            "ember_backfill{i!=\"0\"}",
            vec![
                Matcher::equal("__name__", BACKFILL),
                Matcher::not_equal("i", "0"),
            ],
            3 * H,
            bf_end + 500,
        ),
        (
            "{__name__=~\"ember_.+\",i=\"0\"}",
            vec![all[0].clone(), Matcher::equal("i", "0")],
            now + 500 - bf_start + 1000,
            now + 500,
        ),
        (
            "ember_live{i=~\"[13]\"}",
            vec![
                Matcher::equal("__name__", LIVE),
                Matcher::new(MatchOp::RegexMatch, "i", "[13]").unwrap(),
            ],
            4 * 60_000,
            live_end - 3 * 60_000 + 500,
        ),
    ];
    for (selector, matchers, range, at) in &cases {
        let want = prometheus_range(web, selector, *range, *at);
        assert!(!want.is_empty(), "{selector}[{range}ms] @ {at}: no samples");
        let got = ember_samples(&db, at - range + 1, *at, matchers);
        if got != want {
            let missing: Vec<_> = want.difference(&got).take(3).collect();
            let extra: Vec<_> = got.difference(&want).take(3).collect();
            panic!(
                "{selector}[{range}ms] @ {at}: Ember {} samples, Prometheus {}; missing {missing:?}; extra {extra:?}",
                got.len(),
                want.len()
            );
        }
    }
    guard.terminate();
}
