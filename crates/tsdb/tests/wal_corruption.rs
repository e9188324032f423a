//! Damaged WAL tails: truncation at every byte offset of the last records,
//! flipped bytes, zero-filled tails. In each case the reader returns exactly
//! the records fully written before the damage and reports the damage at the
//! start of the first lost record; `repair` leaves exactly that prefix, and
//! the log is writable again afterwards. Nothing panics.

use std::path::{Path, PathBuf};

use tsdb::wal::{self, Compression, Corruption, Error, Options, PAGE_SIZE, Reader, Wal};

/// Where a record lies.
#[derive(Clone, Copy, Debug)]
struct Span {
    segment: u32,
    start: u64,
    end: u64,
}

struct Fixture {
    _tmp: tempfile::TempDir,
    dir: PathBuf,
    records: Vec<Vec<u8>>,
    spans: Vec<Span>,
    last: u32,
    last_bytes: Vec<u8>,
}

impl Fixture {
    fn last_path(&self) -> PathBuf {
        wal::segment_path(&self.dir, self.last)
    }

    /// Offset in the last segment where the last `n` records start.
    fn window_start(&self, n: usize) -> u64 {
        self.spans[self.spans.len() - n].start
    }

    /// Records intact when the last segment keeps only `keep(span)`.
    fn expected(&self, keep: impl Fn(&Span) -> bool) -> Vec<Vec<u8>> {
        self.records
            .iter()
            .zip(&self.spans)
            .filter(|(_, s)| s.segment < self.last || keep(s))
            .map(|(r, _)| r.clone())
            .collect()
    }

    /// Puts the last segment back and removes any segment after it.
    fn reset(&self, bytes: &[u8]) {
        std::fs::write(self.last_path(), bytes).expect("rewrite last segment");
        let (_, last) = wal::segments(&self.dir).expect("list").expect("segments");
        for i in self.last + 1..=last {
            std::fs::remove_file(wal::segment_path(&self.dir, i)).expect("remove extra segment");
        }
    }
}

/// Deterministic bytes that snappy cannot compress.
fn noise(len: usize) -> Vec<u8> {
    let mut x: u64 = 0x2545f4914f6cdd1d;
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            (x >> 24) as u8
        })
        .collect()
}

/// Deterministic bytes that snappy can compress a little.
fn payload(seed: usize, len: usize) -> Vec<u8> {
    let mut x = seed as u32 | 1;
    (0..len)
        .map(|i| {
            x ^= x << 13;
            x ^= x >> 17;
            x ^= x << 5;
            if i % 3 == 0 {
                (x & 0x0f) as u8
            } else {
                (i % 7) as u8
            }
        })
        .collect()
}

fn build(compression: Compression, close: bool) -> Fixture {
    let tmp = tempfile::tempdir().expect("tempdir");
    let dir = tmp.path().join("wal");
    let mut w = Wal::open(
        &dir,
        Options {
            segment_size: 4 * PAGE_SIZE as u64,
            compression,
        },
    )
    .expect("open");
    let mut records = Vec::new();
    for i in 0..5 {
        records.push(payload(i, 700 + i * 13));
    }
    let refs: Vec<&[u8]> = records.iter().map(|r| r.as_slice()).collect();
    w.log(&refs).expect("log first segment");
    w.next_segment().expect("rotate");
    // Fill the first page of the last segment but ~150 bytes, so that the
    // next records straddle a page boundary.
    let filler = noise(PAGE_SIZE - 7 - 150);
    w.log(&[&filler]).expect("log filler");
    records.push(filler);
    for (i, len) in [300usize, 20, 1, 1000, 77].into_iter().enumerate() {
        let r = payload(100 + i, len);
        w.log(&[&r]).expect("log tail");
        records.push(r);
    }
    if close {
        w.close().expect("close");
    } else {
        drop(w);
    }

    let mut r = Reader::open(&dir).expect("reader");
    let mut spans = Vec::new();
    while r.next_record().expect("intact log reads").is_some() {
        let p = r.position();
        spans.push(Span {
            segment: p.segment,
            start: p.offset,
            end: r.end_offset(),
        });
    }
    assert_eq!(spans.len(), records.len());
    let last = spans.last().expect("records").segment;
    assert_eq!(last, 1);
    let page = PAGE_SIZE as u64;
    assert!(
        spans[spans.len() - 5..]
            .iter()
            .any(|s| s.start / page != (s.end - 1) / page),
        "a record of the swept tail straddles a page boundary"
    );
    let last_bytes = std::fs::read(wal::segment_path(&dir, last)).expect("read last");
    Fixture {
        _tmp: tmp,
        dir,
        records,
        spans,
        last,
        last_bytes,
    }
}

/// Reads everything; the records before the first error and the error.
/// Read again into one buffer (as the replay does), the same records
/// come back and nothing of the damaged one is left in the buffer.
fn read(dir: &Path) -> (Vec<Vec<u8>>, Option<Corruption>) {
    let mut r = Reader::open(dir).expect("reader");
    let mut got = Vec::new();
    let err = loop {
        match r.next_record() {
            Ok(Some(rec)) => got.push(rec.to_vec()),
            Ok(None) => break None,
            Err(Error::Corruption(c)) => {
                assert_eq!(r.next_record().expect("after an error"), None);
                break Some(c);
            }
            Err(e) => panic!("unexpected error: {e}"),
        }
    };
    let mut r = Reader::open(dir).expect("reader");
    let mut buf = Vec::new();
    let mut n = 0;
    let err_again = loop {
        match r.advance_into(&mut buf) {
            Ok(true) => n += 1,
            Ok(false) => break None,
            Err(Error::Corruption(c)) => break Some(c),
            Err(e) => panic!("unexpected error: {e}"),
        }
    };
    assert_eq!(n, got.len());
    assert_eq!(buf, got.concat(), "records gathered in one buffer");
    assert_eq!(err_again, err);
    (got, err)
}

/// Repairs after `c` and checks the log then reads exactly `want`, cleanly,
/// and that `check_write` appends after it.
#[track_caller]
fn repair_and_check(f: &Fixture, c: &Corruption, want: &[Vec<u8>], check_write: bool) {
    let report = wal::repair(c).expect("repair");
    assert_eq!(report.segment, c.segment);
    assert_eq!(report.offset, c.offset);
    let len = std::fs::metadata(wal::segment_path(&f.dir, c.segment))
        .expect("stat")
        .len();
    assert_eq!(
        len % PAGE_SIZE as u64,
        0,
        "repaired segment ends on a page boundary"
    );
    let (got, err) = read(&f.dir);
    assert_eq!(err, None, "repaired log reads cleanly");
    assert!(
        got == want,
        "repaired log has {} records, want {}",
        got.len(),
        want.len()
    );
    if check_write {
        let mut w = Wal::open(&f.dir, Options::default()).expect("reopen after repair");
        w.log(&[b"after repair"]).expect("log after repair");
        w.close().expect("close");
        let (got, err) = read(&f.dir);
        assert_eq!(err, None);
        assert_eq!(got.len(), want.len() + 1);
        assert_eq!(got.last().map(Vec::as_slice), Some(&b"after repair"[..]));
    }
}

/// Cuts the last segment at every offset from the start of its last five
/// records to its end (with `zero_fill`, overwrites from there with zeros
/// instead, keeping the length).
fn sweep_cuts(compression: Compression, close: bool, zero_fill: bool) {
    let f = build(compression, close);
    let from = f.window_start(5);
    let len = f.last_bytes.len() as u64;
    let last_end = f.spans.last().expect("spans").end;
    let mut cuts: Vec<u64> = (from..=last_end.min(len)).collect();
    // After the last record a closed segment is zero padding: sample it.
    cuts.extend((last_end + 1..=len).filter(|c| c % 509 == 0 || *c + 3 >= len));
    let mut repaired = 0;
    for cut in cuts {
        let mut bytes = f.last_bytes.clone();
        if zero_fill {
            bytes[cut as usize..].fill(0);
        } else {
            bytes.truncate(cut as usize);
        }
        f.reset(&bytes);
        // Zero-filling leaves a record intact when its bytes from the cut on
        // were zeros already.
        let intact = |s: &Span| {
            s.end <= cut
                || (zero_fill
                    && f.last_bytes[cut as usize..s.end as usize]
                        .iter()
                        .all(|&b| b == 0))
        };
        let want = f.expected(|s| intact(s));
        let torn = f
            .spans
            .iter()
            .find(|s| s.segment == f.last && s.start < cut && cut < s.end && !intact(s));
        let (got, err) = read(&f.dir);
        assert!(
            got == want,
            "cut at {cut}: read {} records, want {}",
            got.len(),
            want.len()
        );
        match (torn, err) {
            (None, None) => {}
            (Some(s), Some(c)) => {
                assert_eq!(
                    (c.segment, c.offset),
                    (f.last, s.start),
                    "cut at {cut}: {c}"
                );
                repaired += 1;
                repair_and_check(&f, &c, &want, cut % 41 == 0);
            }
            (torn, err) => panic!("cut at {cut}: torn record {torn:?}, read error {err:?}"),
        }
    }
    assert!(repaired > 1000, "only {repaired} cuts needed a repair");
}

#[test]
fn truncation_at_every_offset() {
    sweep_cuts(Compression::None, false, false);
}

#[test]
fn truncation_at_every_offset_snappy() {
    sweep_cuts(Compression::Snappy, false, false);
}

#[test]
fn truncation_of_a_closed_segment() {
    sweep_cuts(Compression::None, true, false);
}

#[test]
fn zeroed_tail_at_every_offset() {
    sweep_cuts(Compression::Snappy, true, true);
}

fn sweep_flips(compression: Compression) {
    let f = build(compression, false);
    let from = f.window_start(5);
    for pos in from..f.last_bytes.len() as u64 {
        let mut bytes = f.last_bytes.clone();
        bytes[pos as usize] ^= 0xff;
        f.reset(&bytes);
        let want = f.expected(|s| s.end <= pos);
        let (got, err) = read(&f.dir);
        assert!(
            got == want,
            "flip at {pos}: read {} records, want {}",
            got.len(),
            want.len()
        );
        let Some(c) = err else {
            panic!("flip at {pos} not detected");
        };
        let hit = f
            .spans
            .iter()
            .find(|s| s.segment == f.last && s.start <= pos && pos < s.end);
        match hit {
            Some(s) => assert_eq!(c.offset, s.start, "flip at {pos}: {c}"),
            None => assert!(c.offset <= pos, "flip in padding at {pos}: {c}"),
        }
        repair_and_check(&f, &c, &want, pos % 37 == 0);
    }
}

#[test]
fn flipped_bytes_are_detected() {
    sweep_flips(Compression::None);
}

#[test]
fn flipped_bytes_are_detected_snappy() {
    sweep_flips(Compression::Snappy);
}

#[test]
fn zero_tails_are_a_clean_end() {
    for close in [false, true] {
        let f = build(Compression::None, close);
        for n in [
            1usize,
            6,
            7,
            8,
            100,
            PAGE_SIZE - 1,
            PAGE_SIZE,
            PAGE_SIZE + 1,
            2 * PAGE_SIZE + 3,
        ] {
            let mut bytes = f.last_bytes.clone();
            bytes.resize(bytes.len() + n, 0);
            f.reset(&bytes);
            let (got, err) = read(&f.dir);
            assert_eq!(err, None, "zero tail of {n} bytes (closed: {close})");
            assert!(got == f.records, "zero tail of {n}: {} records", got.len());
            let mut w = Wal::open(&f.dir, Options::default()).expect("open after zero tail");
            w.log(&[b"next"]).expect("log");
            drop(w);
            let (got, err) = read(&f.dir);
            assert_eq!(err, None);
            assert_eq!(got.len(), f.records.len() + 1);
        }
    }
}

#[test]
fn corruption_in_an_earlier_segment_drops_later_segments() {
    let f = build(Compression::None, true);
    let first = f.spans[2];
    assert_eq!(first.segment, 0);
    let path = wal::segment_path(&f.dir, 0);
    let mut bytes = std::fs::read(&path).expect("read");
    bytes[first.start as usize + 20] ^= 1;
    std::fs::write(&path, &bytes).expect("write");
    let (got, err) = read(&f.dir);
    assert_eq!(got, f.records[..2].to_vec());
    let c = err.expect("corruption");
    assert_eq!((c.segment, c.offset), (0, first.start));
    assert!(c.to_string().contains("checksum"), "{c}");
    let report = wal::repair(&c).expect("repair");
    assert_eq!(report.deleted_segments.len(), 1);
    assert_eq!(report.deleted_segments[0].0, 1);
    assert!(report.total_dropped_bytes() > PAGE_SIZE as u64);
    let (got, err) = read(&f.dir);
    assert_eq!(err, None);
    assert_eq!(got, f.records[..2].to_vec());
}

#[test]
fn zstd_is_a_clear_error_not_a_corruption() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let mut page = vec![0u8; PAGE_SIZE];
    page[0] = 1 | 0x10;
    std::fs::write(tmp.path().join("00000000"), &page).expect("write");
    let mut r = Reader::open(tmp.path()).expect("reader");
    let err = r.next_record().expect_err("zstd");
    assert!(
        matches!(
            err,
            Error::UnsupportedCompression {
                segment: 0,
                offset: 0,
                ..
            }
        ),
        "{err}"
    );
    assert!(err.to_string().contains("zstd"), "{err}");
}

#[test]
fn garbage_segments_never_panic() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let mut x: u64 = 0x9e3779b97f4a7c15;
    for round in 0..200 {
        let len = (round * 397) % (2 * PAGE_SIZE) + 1;
        let bytes: Vec<u8> = (0..len)
            .map(|_| {
                x ^= x << 7;
                x ^= x >> 9;
                // Mostly plausible type bytes and small lengths.
                match x % 5 {
                    0 => 1,
                    1 => 0,
                    _ => x as u8,
                }
            })
            .collect();
        std::fs::write(tmp.path().join("00000000"), &bytes).expect("write");
        let mut r = Reader::open(tmp.path()).expect("reader");
        let err = loop {
            match r.next_record() {
                Ok(Some(_)) => {}
                Ok(None) => break None,
                Err(e) => break Some(e),
            }
        };
        match err {
            None | Some(Error::UnsupportedCompression { .. }) => {}
            Some(Error::Corruption(c)) => {
                wal::repair(&c).expect("repair garbage");
                let (_, err) = read(tmp.path());
                assert_eq!(err, None);
            }
            Some(e) => panic!("unexpected error: {e}"),
        }
    }
}
