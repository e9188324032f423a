//! A damaged index file never panics the reader, and never answers wrong:
//!
//! - every truncation and every byte flipped (all bits, and the low bit) at
//!   every offset: opening fails, or some read fails, or every read gives
//!   exactly what the intact file gives (the flip hit bytes the reader does
//!   not use: padding, the legacy label indices);
//! - every byte flipped *with the section's CRC fixed up* (so decoding, not
//!   the checksum, meets the damage) in the symbol table, every series
//!   entry, every postings list and both offset tables: no panic, no
//!   runaway allocation; the result may be an error or different data.
//!
//! Errors name the file, the section and the offset.

#![allow(clippy::unwrap_used)]

use std::collections::BTreeSet;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::Path;
use std::time::{Duration, Instant};

use model::Labels;
use model::matcher::{MatchOp, Matcher};
use tsdb::index::{ChunkMeta, Error, IndexReader, IndexWriter};

/// A small index: 40 series, one label with 40 values (more than one
/// sample of 32), several chunks per series.
fn fixture(path: &Path) {
    let mut series = Vec::new();
    for i in 0..40 {
        series.push(Labels::from_pairs([
            ("__name__", if i % 2 == 0 { "up" } else { "down" }),
            ("i", &format!("{i:02}")),
            ("job", if i % 3 == 0 { "a" } else { "b" }),
        ]));
    }
    series.sort();
    let mut symbols = BTreeSet::new();
    for l in &series {
        for (n, v) in l.iter() {
            symbols.insert(n.to_string());
            symbols.insert(v.to_string());
        }
    }
    let mut w = IndexWriter::create(path).unwrap();
    w.add_symbols(symbols.iter().map(String::as_str)).unwrap();
    for (k, l) in series.iter().enumerate() {
        let k = k as i64;
        let chunks: Vec<ChunkMeta> = (0..3)
            .map(|c| ChunkMeta {
                min_time: k * 1000 + c * 100,
                max_time: k * 1000 + c * 100 + 50,
                chunk_ref: (k * 300 + c * 90) as u64,
            })
            .collect();
        w.add_series(l, &chunks).unwrap();
    }
    w.close().unwrap();
}

/// Everything the reader can answer about the file.
#[derive(Debug, PartialEq)]
struct Snapshot {
    symbols: Vec<String>,
    names: Vec<String>,
    values: Vec<Vec<String>>,
    postings: Vec<Vec<u64>>,
    selected: Vec<Vec<u64>>,
    series: Vec<(Labels, Vec<ChunkMeta>)>,
}

fn selectors() -> Vec<Vec<Matcher>> {
    let re = |op, n: &str, v: &str| Matcher::new(op, n, v).unwrap();
    vec![
        vec![Matcher::equal("__name__", "up")],
        vec![
            re(MatchOp::RegexMatch, "i", "1.*"),
            Matcher::not_equal("job", "a"),
        ],
        vec![re(MatchOp::RegexMatch, "i", "0[0-5]|3[3-9]")],
        vec![re(MatchOp::RegexNoMatch, "i", ".*5")],
        vec![Matcher::equal("missing", "")],
    ]
}

fn snapshot(ix: &IndexReader) -> Result<Snapshot, Error> {
    let symbols = ix
        .symbols()
        .map(|s| s.map(str::to_string))
        .collect::<Result<Vec<_>, _>>()?;
    let names = ix.label_names()?;
    let mut values = Vec::new();
    let mut postings = vec![ix.postings("", "")?];
    for n in &names {
        let vs = ix.label_values(n)?;
        for v in &vs {
            postings.push(ix.postings(n, v)?);
        }
        values.push(vs);
    }
    let selected = selectors()
        .iter()
        .map(|ms| ix.postings_for_matchers(ms))
        .collect::<Result<Vec<_>, _>>()?;
    let mut series = Vec::new();
    let mut metas = Vec::new();
    for &r in &postings[0] {
        series.push((ix.series(r, &mut metas)?, metas.clone()));
    }
    Ok(Snapshot {
        symbols,
        names,
        values,
        postings,
        selected,
        series,
    })
}

/// Opens and reads `bytes` as an index; `Err` with the first error.
fn read_all(path: &Path, bytes: &[u8]) -> Result<Snapshot, Error> {
    std::fs::write(path, bytes).unwrap();
    let ix = IndexReader::open(path)?;
    snapshot(&ix)
}

#[track_caller]
fn check_error(e: &Error, path: &Path) {
    let text = e.to_string();
    assert!(
        text.contains(&path.display().to_string()),
        "error does not name the file: {text}"
    );
    if let Error::Corrupt { offset, .. } = e {
        assert!(text.contains(&format!("at offset {offset}")), "{text}");
    }
}

#[test]
fn truncated_or_flipped_files_fail_or_read_the_same() {
    let tmp = tempfile::tempdir().unwrap();
    let good_path = tmp.path().join("good");
    fixture(&good_path);
    let good = std::fs::read(&good_path).unwrap();
    let want = snapshot(&IndexReader::open(&good_path).unwrap()).unwrap();
    assert_eq!(want.series.len(), 40);
    let path = tmp.path().join("index");
    let start = Instant::now();
    let (mut errors, mut same) = (0, 0);

    for len in 0..good.len() {
        let r = catch_unwind(AssertUnwindSafe(|| read_all(&path, &good[..len])))
            .unwrap_or_else(|_| panic!("panic on a file truncated to {len} bytes"));
        let e = r.expect_err("a truncated file must not read");
        check_error(&e, &path);
    }
    for mask in [0xFFu8, 0x01] {
        for i in 0..good.len() {
            let mut bad = good.clone();
            bad[i] ^= mask;
            let r = catch_unwind(AssertUnwindSafe(|| read_all(&path, &bad)))
                .unwrap_or_else(|_| panic!("panic with byte {i} xor {mask:#x}"));
            match r {
                Err(e) => {
                    check_error(&e, &path);
                    errors += 1;
                }
                Ok(got) => {
                    assert!(
                        got == want,
                        "byte {i} xor {mask:#x} changed what the reader answers without an error"
                    );
                    same += 1;
                }
            }
        }
    }
    // Most bytes are covered by a checksum; the rest are padding and label
    // indices, which the reader does not use.
    assert!(errors > same, "{errors} errors, {same} unchanged");
    assert!(
        start.elapsed() < Duration::from_secs(300),
        "took {:?}",
        start.elapsed()
    );
}

/// (content start, content end) of every CRC-protected region the reader
/// decodes: symbol table, series entries, postings lists, label and
/// postings offset tables.
/// The CRC follows each region.
fn regions(b: &[u8]) -> Vec<(usize, usize)> {
    let be32 = |o: usize| u32::from_be_bytes(b[o..o + 4].try_into().unwrap()) as usize;
    let be64 = |o: usize| u64::from_be_bytes(b[o..o + 8].try_into().unwrap()) as usize;
    let toc = b.len() - 52;
    let (symbols, series, label_indices) = (be64(toc), be64(toc + 8), be64(toc + 16));
    let (label_table, postings_table) = (be64(toc + 24), be64(toc + 40));
    let mut out = Vec::new();
    for off in [symbols, label_table, postings_table] {
        out.push((off + 4, off + 4 + be32(off)));
    }
    let mut off = series;
    while off < label_indices {
        off = off.next_multiple_of(16);
        if off >= label_indices {
            break;
        }
        // uvarint length, body, CRC.
        let (mut len, mut shift, mut n) = (0usize, 0, 0);
        loop {
            let byte = b[off + n];
            len |= ((byte & 0x7f) as usize) << shift;
            n += 1;
            if byte < 0x80 {
                break;
            }
            shift += 7;
        }
        out.push((off + n, off + n + len));
        off += n + len + 4;
    }
    let mut off = be64(toc + 32).next_multiple_of(4);
    while off < label_table {
        let len = be32(off);
        out.push((off + 4, off + 4 + len));
        off += 4 + len + 4;
    }
    out
}

#[test]
fn damaged_content_with_valid_checksums_never_panics() {
    let tmp = tempfile::tempdir().unwrap();
    let good_path = tmp.path().join("good");
    fixture(&good_path);
    let good = std::fs::read(&good_path).unwrap();
    let path = tmp.path().join("index");
    let regions = regions(&good);
    assert!(regions.len() > 40, "{} regions", regions.len());
    let start = Instant::now();
    let mut errors = 0;
    for &(from, to) in &regions {
        for i in from..to {
            for mask in [0xFFu8, 0x01] {
                let mut bad = good.clone();
                bad[i] ^= mask;
                let crc = crc32c::crc32c(&bad[from..to]);
                bad[to..to + 4].copy_from_slice(&crc.to_be_bytes());
                let r =
                    catch_unwind(AssertUnwindSafe(|| read_all(&path, &bad))).unwrap_or_else(|_| {
                        panic!("panic with byte {i} xor {mask:#x} in region {from}..{to}")
                    });
                if let Err(e) = r {
                    check_error(&e, &path);
                    errors += 1;
                }
            }
        }
    }
    assert!(errors > 0);
    assert!(
        start.elapsed() < Duration::from_secs(300),
        "took {:?}",
        start.elapsed()
    );
}

#[test]
fn errors_name_section_and_offset() {
    let tmp = tempfile::tempdir().unwrap();
    let path = tmp.path().join("index");
    fixture(&path);
    let good = std::fs::read(&path).unwrap();

    #[track_caller]
    fn check(path: &Path, bytes: &[u8], want: &str) {
        let err = read_all(path, bytes).unwrap_err().to_string();
        assert!(err.contains(want), "{err:?} should contain {want:?}");
    }
    let p = path.display();
    let mut bad = good.clone();
    bad[0] = 0;
    check(
        &path,
        &bad,
        &format!("read header of index {p} at offset 0: invalid magic number 0x00aad700"),
    );
    let mut bad = good.clone();
    bad[4] = 1;
    check(&path, &bad, "unsupported index format version 1, want 2");
    check(
        &path,
        &good[..20],
        "file of 20 bytes is too short for a TOC",
    );
    let mut bad = good.clone();
    let n = bad.len();
    bad[n - 1] ^= 1;
    check(
        &path,
        &bad,
        &format!(
            "read table of contents of index {p} at offset {}: checksum mismatch",
            n - 4
        ),
    );
    let mut bad = good.clone();
    bad[12] ^= 1; // inside the first symbol
    check(
        &path,
        &bad,
        &format!("read symbol table of index {p} at offset"),
    );

    std::fs::write(&path, &good).unwrap();
    let ix = IndexReader::open(&path).unwrap();
    let err = ix.series(0, &mut Vec::new()).unwrap_err().to_string();
    assert_eq!(
        err,
        format!("read series 0 of index {p}: reference outside the series section")
    );
    let err = ix
        .series(u64::MAX, &mut Vec::new())
        .unwrap_err()
        .to_string();
    assert!(err.contains("reference overflows the file"), "{err}");
    // A reference inside the series section that is not an entry's start.
    let first = ix.postings("", "").unwrap()[0];
    let err = ix.series(first + 1, &mut Vec::new());
    assert!(err.is_err(), "{err:?}");

    let missing = tmp.path().join("missing");
    let err = IndexReader::open(&missing).unwrap_err().to_string();
    assert!(
        err.starts_with(&format!("open {}", missing.display())),
        "{err}"
    );
}
