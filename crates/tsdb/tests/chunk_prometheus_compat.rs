//! Byte compatibility with Prometheus's own XOR encoder.
//!
//! We write an OpenMetrics file with chosen samples, let Debian's
//! `promtool tsdb create-blocks-from openmetrics` (Prometheus 2.42) build a
//! real block from it, then read the block's chunk segment with our
//! `BlockReader` and check that:
//! - every chunk decodes to exactly the input samples of its series, in
//!   order (bit-for-bit values: NaN, ±Inf, -0.0 included);
//! - re-encoding those samples with our `XorChunk` gives the very same
//!   bytes Prometheus wrote;
//! - our `CutPolicy` cuts the series into chunks at the same samples.
//!   Prometheus 3 also caps float chunks at ~1 KiB, which 2.42 lacks, so
//!   series whose 2.42 chunks pass that size are exempt from this last check.
//!
//! One 2.42/3.x difference shows in the bytes: before Prometheus 3.0
//! (prometheus#14854, Sep 2024) `bstream.writeByte` on a byte-aligned stream
//! appended one spare zero byte, so a 2.42 chunk whose bit stream ends on a
//! byte boundary right after a whole-byte write carries a trailing `0x00`.
//! Readers ignore it; Prometheus 3 no longer writes it and neither do we.
//! The test accepts exactly that difference and counts it.
//!
//! Series are written to the block in label order, so the segment can be
//! matched to the input by a sequential scan, without the index.

#![allow(clippy::unwrap_used)]

use std::fmt::Write as _;
use std::path::Path;
use std::process::Command;

use model::value::NORMAL_NAN_BITS;
use tsdb::chunkenc::{
    ChunkIter, ChunkStats, CutPolicy, CutState, Decision, Encoding,
    MAX_BYTES_PER_XOR_CHUNK_BEFORE_APPEND, ValueType, XorChunk,
};
use tsdb::chunks::BlockReader;

const PROMTOOL: &str = "/usr/bin/promtool";

/// A small deterministic generator (xorshift64*).
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

/// The OpenMetrics timestamp text for `ms`, and the millisecond value
/// Prometheus will read from it (`int64(seconds * 1000)`).
fn om_ts(ms: i64) -> (String, i64) {
    let s = format!("{}.{:03}", ms / 1000, ms % 1000);
    let back = (s.parse::<f64>().expect("timestamp") * 1000.0) as i64;
    (s, back)
}

fn om_value(v: f64) -> String {
    if v.is_nan() {
        "NaN".to_string()
    } else if v == f64::INFINITY {
        "+Inf".to_string()
    } else if v == f64::NEG_INFINITY {
        "-Inf".to_string()
    } else {
        format!("{v:e}")
    }
}

/// The input: series name -> samples, timestamps strictly increasing,
/// all within one 2h block ([2h, 4h) since the epoch).
fn input() -> Vec<(String, Vec<(i64, f64)>)> {
    let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
    let start = 7_200_000i64;
    let end = 14_400_000i64;
    let mut all = Vec::new();

    // Regular 15 s scrapes of a slowly growing counter.
    let mut c = 0.0;
    let s: Vec<(i64, f64)> = (0..480)
        .map(|i| {
            c += rng.below(5) as f64;
            (start + i * 15_000, c)
        })
        .collect();
    all.push(("a_counter_15s".to_string(), s));

    // 15 s with millisecond jitter; a gauge in quarters.
    let s: Vec<(i64, f64)> = (0..470)
        .map(|i| {
            let jitter = rng.below(101) as i64 - 50;
            (
                start + 5_000 + i * 15_000 + jitter,
                (rng.below(400) as f64 - 200.0) / 4.0,
            )
        })
        .collect();
    all.push(("b_gauge_jitter".to_string(), s));

    // 1 s scrapes for an hour: many short-interval chunks.
    let mut c = 1e6;
    let s: Vec<(i64, f64)> = (0..3600)
        .map(|i| {
            c += (rng.below(3) * 1024) as f64;
            (start + 2_000 + i * 1_000, c)
        })
        .collect();
    all.push(("c_counter_1s".to_string(), s));

    // Special values and irregular gaps (every delta-of-delta bucket).
    let specials = [
        f64::NAN,
        f64::INFINITY,
        f64::NEG_INFINITY,
        -0.0,
        0.0,
        1e300,
        -1e-300,
        f64::MAX,
        f64::MIN_POSITIVE,
        42.0,
        42.0,
        0.1,
    ];
    let gaps = [
        1i64, 2, 15_000, 14_999, 15_001, 30_000, 100_000, 700_000, 1, 1_000_000, 3, 60_000,
    ];
    let mut t = start + 7;
    let s: Vec<(i64, f64)> = (0..150)
        .map(|i| {
            t += gaps[(i + rng.below(3) as usize) % gaps.len()];
            (
                t,
                specials[(i * 7 + rng.below(2) as usize) % specials.len()],
            )
        })
        .take_while(|&(t, _)| t < end - 1000)
        .collect();
    all.push(("d_specials".to_string(), s));

    // Random finite doubles: worst case for XOR, chunks above 1 KiB.
    let mut t = start + 11;
    let s: Vec<(i64, f64)> = (0..400)
        .map(|_| {
            t += 10_000 + rng.below(10_000) as i64;
            let mut v;
            loop {
                v = f64::from_bits(rng.next());
                if v.is_finite() {
                    break;
                }
            }
            (t, v)
        })
        .collect();
    all.push(("e_random_bits".to_string(), s));

    // Timestamps that round-trip through "seconds.millis" text only.
    for (_, s) in &mut all {
        for (t, _) in s.iter_mut() {
            while om_ts(*t).1 != *t {
                *t += 1;
            }
        }
        s.dedup_by_key(|(t, _)| *t);
        assert!(s.windows(2).all(|w| w[0].0 < w[1].0));
        assert!(s.iter().all(|&(t, _)| (start..end).contains(&t)));
    }
    all
}

/// NaN as Go parses it.
fn as_prometheus_reads(v: f64) -> u64 {
    if v.is_nan() {
        NORMAL_NAN_BITS
    } else {
        v.to_bits()
    }
}

/// Our cut policy's chunk sizes for a series, as the head would make them.
fn our_chunk_sizes(samples: &[(i64, f64)]) -> Vec<usize> {
    let policy = CutPolicy::default();
    let mut st = CutState::default();
    let mut open: Option<(ChunkStats, XorChunk)> = None;
    let mut sizes = Vec::new();
    for &(t, v) in samples {
        let stats = open.as_ref().map(|(s, c)| ChunkStats {
            num_bytes: c.bytes().len(),
            ..*s
        });
        match policy.decide(&mut st, stats.as_ref(), t, Encoding::Xor) {
            Decision::Cut => {
                if let Some((s, _)) = open.take() {
                    sizes.push(s.num_samples);
                }
                let mut c = XorChunk::new();
                c.append(t, v).expect("append");
                let s = ChunkStats {
                    encoding: Encoding::Xor,
                    min_time: t,
                    max_time: t,
                    num_samples: 1,
                    num_bytes: 0,
                };
                open = Some((s, c));
            }
            Decision::Append => {
                let (s, c) = open.as_mut().expect("open chunk");
                c.append(t, v).expect("append");
                s.max_time = t;
                s.num_samples += 1;
            }
            Decision::OutOfOrder => panic!("input is in order"),
        }
    }
    sizes.extend(open.map(|(s, _)| s.num_samples));
    sizes
}

fn run_promtool(input: &[(String, Vec<(i64, f64)>)], dir: &Path) -> std::path::PathBuf {
    let mut om = String::from("# TYPE m gauge\n");
    for (name, samples) in input {
        for &(t, v) in samples {
            let (ts, _) = om_ts(t);
            writeln!(om, "m{{s=\"{name}\"}} {} {ts}", om_value(v)).expect("write");
        }
    }
    om.push_str("# EOF\n");
    let file = dir.join("input.om");
    std::fs::write(&file, om).expect("write input");
    let out = dir.join("blocks");
    let res = Command::new(PROMTOOL)
        .args(["tsdb", "create-blocks-from", "openmetrics"])
        .arg(&file)
        .arg(&out)
        .output()
        .unwrap_or_else(|e| panic!("run {PROMTOOL} (Debian package prometheus): {e}"));
    assert!(
        res.status.success(),
        "promtool failed: {}\n{}",
        String::from_utf8_lossy(&res.stdout),
        String::from_utf8_lossy(&res.stderr)
    );
    let blocks: Vec<_> = std::fs::read_dir(&out)
        .expect("list blocks")
        .map(|e| e.expect("entry").path())
        .filter(|p| p.join("chunks").is_dir())
        .collect();
    assert_eq!(blocks.len(), 1, "expected one block, got {blocks:?}");
    blocks[0].join("chunks")
}

#[test]
fn prometheus_made_chunks_decode_and_reencode_byte_for_byte() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut input = input();
    let chunks_dir = run_promtool(&input, dir.path());
    // The block stores series in label order.
    input.sort_by(|a, b| a.0.cmp(&b.0));

    let reader = BlockReader::open(&chunks_dir).expect("open block chunks");
    let mut series = input.iter();
    let (mut name, mut want) = series
        .next()
        .map(|(n, s)| (n.as_str(), s.as_slice()))
        .expect("input");
    let mut pos = 0usize;
    let mut sizes: Vec<(usize, usize)> = Vec::new(); // (samples, bytes) of this series' chunks
    let (mut n_chunks, mut n_samples, mut n_series) = (0, 0, 0);
    let mut checked_cuts = 0;
    let mut n_spare = 0;

    let mut finish_series = |name: &str, want: &[(i64, f64)], sizes: &mut Vec<(usize, usize)>| {
        let ours = our_chunk_sizes(want);
        let theirs: Vec<usize> = sizes.iter().map(|&(n, _)| n).collect();
        if sizes
            .iter()
            .all(|&(_, b)| b <= MAX_BYTES_PER_XOR_CHUNK_BEFORE_APPEND + 19)
        {
            assert_eq!(ours, theirs, "chunk boundaries of series {name}");
            checked_cuts += 1;
        } else {
            eprintln!(
                "series {name}: 2.42 chunks pass 1 KiB ({theirs:?}); Prometheus 3 and we cut earlier ({ours:?})"
            );
        }
        sizes.clear();
    };

    for seg in 0..reader.num_segments() {
        for item in reader.iter_segment(seg) {
            let (_, enc, data) = item.expect("valid chunk record");
            assert_eq!(enc, Encoding::Xor);
            let mut it = ChunkIter::new(enc, data).expect("chunk header");
            let mut got = Vec::new();
            while it.next() == ValueType::Float {
                got.push(it.at().expect("float"));
            }
            assert_eq!(it.err(), None, "decode chunk {n_chunks}");
            assert!(!got.is_empty());
            if pos == want.len() {
                finish_series(name, want, &mut sizes);
                (name, want) = series
                    .next()
                    .map(|(n, s)| (n.as_str(), s.as_slice()))
                    .expect("more chunks than series");
                pos = 0;
                n_series += 1;
            }
            // Decoded samples are exactly the input, bit for bit.
            let expect = &want[pos..pos + got.len()];
            for (i, (g, w)) in got.iter().zip(expect).enumerate() {
                assert_eq!(g.0, w.0, "series {name} sample {}", pos + i);
                assert_eq!(
                    g.1.to_bits(),
                    as_prometheus_reads(w.1),
                    "series {name} sample {} at {}",
                    pos + i,
                    w.0
                );
            }
            // Our encoder writes the same bytes.
            let mut c = XorChunk::new();
            for &(t, v) in &got {
                c.append(t, v).expect("append");
            }
            if c.bytes() != data {
                assert_eq!(
                    [c.bytes(), &[0]].concat(),
                    data,
                    "re-encoded chunk {n_chunks} of series {name} differs beyond 2.42's spare byte"
                );
                n_spare += 1;
            }
            // Reopening Prometheus's bytes mid-chunk and appending the rest
            // gives our one-shot encoding.
            let k = got.len() / 2;
            let mut first = XorChunk::new();
            for &(t, v) in &got[..k] {
                first.append(t, v).expect("append");
            }
            let mut prefix = first.into_bytes();
            if k == 0 {
                prefix.truncate(2);
            }
            let mut re = XorChunk::from_bytes(prefix).expect("reopen");
            for &(t, v) in &got[k..] {
                re.append(t, v).expect("append");
            }
            assert_eq!(re.bytes(), c.bytes());
            let mut whole = XorChunk::from_bytes(data.to_vec()).expect("reopen Prometheus's chunk");
            assert_eq!(
                whole.bytes(),
                c.bytes(),
                "reopening drops only the spare byte"
            );
            whole.append(i64::MAX, 1.0).expect("append after reopen");
            sizes.push((got.len(), data.len()));
            pos += got.len();
            n_chunks += 1;
            n_samples += got.len();
        }
    }
    assert_eq!(pos, want.len(), "series {name} is incomplete");
    finish_series(name, want, &mut sizes);
    n_series += 1;
    assert_eq!(n_series, input.len());
    assert_eq!(n_samples, input.iter().map(|(_, s)| s.len()).sum::<usize>());
    assert!(
        checked_cuts >= 4,
        "cut policy compared on {checked_cuts} series"
    );
    eprintln!(
        "{n_series} series, {n_chunks} Prometheus chunks, {n_samples} samples: decoded exactly and re-encoded \
         byte for byte ({n_spare} chunks differ only by 2.42's spare trailing byte); cut policy matched on \
         {checked_cuts} series"
    );
    assert!(
        n_spare < n_chunks / 4,
        "the spare byte should be the exception"
    );
}
