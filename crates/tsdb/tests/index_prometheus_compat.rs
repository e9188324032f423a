//! The block index against Debian's promtool (Prometheus 2.42), both ways.
//!
//! 1. promtool builds a block from an OpenMetrics file with known series
//!    (`tsdb create-blocks-from openmetrics`). Our `IndexReader` opens its
//!    `index`: label names, values, postings of every pair and of
//!    matchers, each series' labels, and chunk metas whose refs point at
//!    valid chunks (read with `BlockReader`) that hold exactly the input
//!    samples, with `min_time`/`max_time` the first/last sample. Then our
//!    `IndexWriter`, fed the same symbols, series and chunk metas, writes a
//!    file identical byte for byte to promtool's.
//! 2. We write a block (chunks with `BlockWriter`, index with
//!    `IndexWriter`, a `meta.json`) and promtool accepts it: `tsdb analyze`
//!    reports our series and label pairs, `tsdb dump` prints exactly our
//!    samples.
//!
//! promtool missing is a failure, not a skip: CI installs Debian's
//! `prometheus` package.

#![allow(clippy::unwrap_used)]

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::Command;

use model::Labels;
use model::matcher::{MatchOp, Matcher};
use tsdb::chunkenc::{ChunkIter, Encoding, ValueType, XorChunk};
use tsdb::chunks::{BlockChunkRef, BlockReader, BlockWriter};
use tsdb::index::{ChunkMeta, IndexReader, IndexWriter};

const PROMTOOL: &str = "/usr/bin/promtool";

fn require_promtool() {
    assert!(
        Path::new(PROMTOOL).exists(),
        "{PROMTOOL} is missing: install Debian's `prometheus` package (2.42) to run the index interop tests"
    );
}

fn promtool(args: &[&str], dirs: &[&Path]) -> String {
    let out = Command::new(PROMTOOL)
        .args(args)
        .args(dirs)
        .output()
        .unwrap_or_else(|e| panic!("run {PROMTOOL}: {e}"));
    assert!(
        out.status.success(),
        "promtool {args:?} failed: {}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).expect("utf-8 output")
}

type Input = BTreeMap<Labels, Vec<(i64, f64)>>;

/// Known series, all within the block [2h, 4h) since the epoch, whole
/// seconds (so OpenMetrics timestamps are exact).
fn input() -> Input {
    let mut m = Input::new();
    let start = 7_200_000;
    // 100 values of `instance`: more than one in-memory sample of 32.
    for i in 0..100 {
        let l = Labels::from_pairs([
            ("__name__", "up"),
            ("instance", &format!("host-{i:03}")),
            ("job", if i % 3 == 0 { "db" } else { "node" }),
        ]);
        let s = (0..20)
            .map(|k| (start + i * 1000 + k * 15_000, (k % 2) as f64))
            .collect();
        m.insert(l, s);
    }
    // Long series: several chunks each.
    for code in ["200", "404", "500"] {
        for method in ["GET", "POST"] {
            for path in ["/", "/api", "/metrics"] {
                let l = Labels::from_pairs([
                    ("__name__", "http_requests_total"),
                    ("code", code),
                    ("method", method),
                    ("path", path),
                ]);
                let s = (0..400)
                    .map(|k| (start + k * 15_000, (k * k) as f64 * 0.5))
                    .collect();
                m.insert(l, s);
            }
        }
    }
    for (i, v) in ["ünïcode ☃", "with space", "quote\"d", "back\\slash"]
        .into_iter()
        .enumerate()
    {
        let l = Labels::from_pairs([("__name__", "weird"), ("v", v)]);
        m.insert(l, vec![(start + i as i64 * 1000, -1.5)]);
    }
    m.insert(
        Labels::from_pairs([("__name__", "weird"), ("a", "x"), ("v", "z")]),
        vec![(start, 2.0), (start + 60_000, 3.0)],
    );
    m.insert(
        Labels::from_pairs([("__name__", "single")]),
        vec![(start + 5_000, 42.0)],
    );
    m
}

fn om_escape(s: &str) -> String {
    s.replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

fn openmetrics(input: &Input) -> String {
    type Family<'a> = Vec<(&'a Labels, &'a Vec<(i64, f64)>)>;
    let mut by_name: BTreeMap<&str, Family<'_>> = BTreeMap::new();
    for (l, s) in input {
        by_name
            .entry(l.get("__name__").unwrap())
            .or_default()
            .push((l, s));
    }
    let mut out = String::new();
    for (name, series) in by_name {
        out.push_str(&format!("# TYPE {name} gauge\n"));
        for (l, samples) in series {
            let pairs: Vec<String> = l
                .iter()
                .filter(|(n, _)| *n != "__name__")
                .map(|(n, v)| format!("{n}=\"{}\"", om_escape(v)))
                .collect();
            let ls = if pairs.is_empty() {
                String::new()
            } else {
                format!("{{{}}}", pairs.join(","))
            };
            for (t, v) in samples {
                out.push_str(&format!("{name}{ls} {v} {}\n", t / 1000));
            }
        }
    }
    out.push_str("# EOF\n");
    out
}

fn blocks_in(dir: &Path) -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = std::fs::read_dir(dir)
        .expect("list blocks")
        .map(|e| e.expect("entry").path())
        .filter(|p| p.join("index").is_file())
        .collect();
    v.sort();
    v
}

/// Every sample of a chunk.
fn chunk_samples(enc: Encoding, data: &[u8]) -> Vec<(i64, f64)> {
    assert_eq!(enc, Encoding::Xor);
    let mut it = ChunkIter::new(enc, data).expect("chunk");
    let mut out = Vec::new();
    while it.next() == ValueType::Float {
        out.push(it.at().expect("float sample"));
    }
    assert!(it.err().is_none(), "{:?}", it.err());
    out
}

fn m(op: MatchOp, n: &str, v: &str) -> Matcher {
    Matcher::new(op, n, v).expect("matcher")
}

#[test]
fn reads_promtool_blocks_and_writes_them_byte_for_byte() {
    require_promtool();
    let tmp = tempfile::tempdir().expect("tempdir");
    let input = input();
    let file = tmp.path().join("input.om");
    std::fs::write(&file, openmetrics(&input)).expect("write input");
    let out = tmp.path().join("blocks");
    promtool(
        &["tsdb", "create-blocks-from", "openmetrics"],
        &[&file, &out],
    );
    let blocks = blocks_in(&out);
    assert_eq!(blocks.len(), 1, "all samples fall in one 2h block");
    let block = &blocks[0];
    let path = block.join("index");
    let ix = IndexReader::open(&path).expect("open promtool's index");
    let chunks = BlockReader::open(&block.join("chunks")).expect("open chunks");

    // Label names and values.
    let mut names = BTreeSet::new();
    let mut values: BTreeMap<&str, BTreeSet<&str>> = BTreeMap::new();
    for l in input.keys() {
        for (n, v) in l.iter() {
            names.insert(n.to_string());
            values.entry(n).or_default().insert(v);
        }
    }
    assert_eq!(
        ix.label_names().unwrap(),
        names.iter().cloned().collect::<Vec<_>>()
    );
    for (n, vs) in &values {
        assert_eq!(
            ix.label_values(n).unwrap(),
            vs.iter().map(|v| v.to_string()).collect::<Vec<_>>(),
            "values of {n}"
        );
    }
    assert!(ix.label_values("nope").unwrap().is_empty());

    // Every series: labels in order, chunk metas, chunks holding exactly
    // the input samples.
    let all = ix.postings("", "").unwrap();
    assert_eq!(all.len(), input.len());
    assert_eq!(ix.num_series(), input.len());
    let mut by_labels: BTreeMap<Labels, u64> = BTreeMap::new();
    let mut metas = Vec::new();
    let mut total_chunks = 0;
    for (&r, (want_labels, want_samples)) in all.iter().zip(&input) {
        let l = ix.series(r, &mut metas).expect("series");
        assert_eq!(&l, want_labels, "series {r} in label order");
        assert!(!metas.is_empty());
        let mut got = Vec::new();
        for c in &metas {
            let (enc, data) = chunks
                .chunk(BlockChunkRef(c.chunk_ref))
                .expect("chunk ref points at a valid chunk");
            let s = chunk_samples(enc, data);
            assert_eq!(s.first().map(|x| x.0), Some(c.min_time), "{l} {c:?}");
            assert_eq!(s.last().map(|x| x.0), Some(c.max_time), "{l} {c:?}");
            got.extend(s);
        }
        total_chunks += metas.len();
        assert_eq!(&got, want_samples, "samples of {l}");
        by_labels.insert(l, r);
    }
    // The long series made several chunks, so chunk deltas are exercised.
    assert!(total_chunks > input.len() + 30, "{total_chunks} chunks");

    // Postings of every pair, and some matchers.
    for (n, vs) in &values {
        for v in vs {
            let want: Vec<u64> = by_labels
                .iter()
                .filter(|(l, _)| l.get(n) == Some(v))
                .map(|(_, r)| *r)
                .collect();
            assert_eq!(ix.postings(n, v).unwrap(), want, "{n}={v}");
        }
    }
    use MatchOp::*;
    let cases = [
        vec![
            Matcher::equal("__name__", "up"),
            Matcher::equal("job", "db"),
        ],
        vec![m(RegexMatch, "instance", "host-0[1-3].*")],
        vec![
            m(RegexMatch, "code", "404|500"),
            m(RegexNoMatch, "path", "/api"),
        ],
        vec![Matcher::not_equal("v", "")],
        vec![Matcher::equal("a", "")],
        vec![m(RegexMatch, "__name__", ".*")],
        vec![m(RegexMatch, "v", "^.*ü.*$")],
    ];
    for ms in &cases {
        let want: Vec<u64> = by_labels
            .iter()
            .filter(|(l, _)| ms.iter().all(|m| m.matches_labels(l)))
            .map(|(_, r)| *r)
            .collect();
        let mut want = want;
        want.sort_unstable();
        assert_eq!(ix.postings_for_matchers(ms).unwrap(), want, "{ms:?}");
    }

    // Our writer, given the same content, writes the same bytes.
    let ours = tmp.path().join("ours.index");
    let mut w = IndexWriter::create(&ours).unwrap();
    let symbols: Vec<String> = ix.symbols().map(|s| s.unwrap().to_string()).collect();
    w.add_symbols(symbols.iter().map(String::as_str)).unwrap();
    for &r in &all {
        let l = ix.series(r, &mut metas).unwrap();
        assert_eq!(w.add_series(&l, &metas).unwrap(), r);
    }
    w.close().unwrap();
    let theirs = std::fs::read(&path).unwrap();
    let ours = std::fs::read(&ours).unwrap();
    if let Some(i) = theirs.iter().zip(&ours).position(|(a, b)| a != b) {
        panic!(
            "first differing byte at offset {i}: promtool {:02x?}, ours {:02x?}",
            &theirs[i..(i + 16).min(theirs.len())],
            &ours[i..(i + 16).min(ours.len())]
        );
    }
    assert_eq!(theirs.len(), ours.len());
}

/// A minimal valid ULID.
const ULID: &str = "01BX5ZZKBKACTAV9WEVGEMMVRZ";

#[test]
fn promtool_reads_our_block() {
    require_promtool();
    let tmp = tempfile::tempdir().expect("tempdir");
    let input = input();
    let data = tmp.path().join("data");
    let block = data.join(ULID);
    std::fs::create_dir_all(data.join("wal")).unwrap();

    // Chunks: at most 120 samples each, as Prometheus cuts them.
    let mut cw = BlockWriter::new(&block.join("chunks")).unwrap();
    let mut series: Vec<(Labels, Vec<ChunkMeta>)> = Vec::new();
    let (mut num_samples, mut num_chunks) = (0usize, 0usize);
    let (mut mint, mut maxt) = (i64::MAX, i64::MIN);
    for (l, samples) in &input {
        let mut metas = Vec::new();
        for part in samples.chunks(120) {
            let mut c = XorChunk::new();
            for &(t, v) in part {
                c.append(t, v).unwrap();
            }
            let r = cw.write_chunk(Encoding::Xor, c.bytes()).unwrap();
            metas.push(ChunkMeta {
                min_time: part[0].0,
                max_time: part[part.len() - 1].0,
                chunk_ref: r.0,
            });
            num_chunks += 1;
        }
        num_samples += samples.len();
        mint = mint.min(samples[0].0);
        maxt = maxt.max(samples[samples.len() - 1].0);
        series.push((l.clone(), metas));
    }
    cw.close().unwrap();

    let mut symbols = BTreeSet::new();
    for l in input.keys() {
        for (n, v) in l.iter() {
            symbols.insert(n);
            symbols.insert(v);
        }
    }
    let mut w = IndexWriter::create(&block.join("index")).unwrap();
    w.add_symbols(symbols.iter().copied()).unwrap();
    for (l, metas) in &series {
        w.add_series(l, metas).unwrap();
    }
    w.close().unwrap();
    let meta = format!(
        r#"{{"ulid":"{ULID}","minTime":{mint},"maxTime":{},"stats":{{"numSamples":{num_samples},"numSeries":{},"numChunks":{num_chunks}}},"compaction":{{"level":1,"sources":["{ULID}"]}},"version":1}}"#,
        maxt + 1,
        input.len()
    );
    std::fs::write(block.join("meta.json"), meta).unwrap();

    let analyze = promtool(&["tsdb", "analyze"], &[&data, Path::new(ULID)]);
    assert!(
        analyze.contains(&format!("Series: {}\n", input.len())),
        "{analyze}"
    );
    let pairs: BTreeSet<(&str, &str)> = input.keys().flat_map(|l| l.iter()).collect();
    assert!(
        analyze.contains(&format!("Postings (unique label pairs): {}\n", pairs.len())),
        "{analyze}"
    );

    // `dump` prints `{labels} value timestamp` per sample.
    let dump = promtool(&["tsdb", "dump"], &[&data]);
    let mut got: BTreeMap<String, Vec<(i64, u64)>> = BTreeMap::new();
    for line in dump.lines() {
        let (rest, t) = line.rsplit_once(' ').expect("timestamp");
        let (l, v) = rest.rsplit_once(' ').expect("value");
        let v: f64 = v.parse().unwrap_or_else(|_| panic!("value in {line:?}"));
        got.entry(l.to_string())
            .or_default()
            .push((t.parse().expect("timestamp"), v.to_bits()));
    }
    let want: BTreeMap<String, Vec<(i64, u64)>> = input
        .iter()
        .map(|(l, s)| {
            (
                l.to_string(),
                s.iter().map(|&(t, v)| (t, v.to_bits())).collect(),
            )
        })
        .collect();
    assert_eq!(got.len(), want.len());
    assert_eq!(got, want);
}
