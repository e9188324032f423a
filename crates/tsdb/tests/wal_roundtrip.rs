//! Records written through the WAL come back identically: unit cases for
//! the page and segment layout, and property tests over random batches.

use std::path::Path;

use proptest::prelude::*;
use tsdb::wal::{self, Compression, Options, PAGE_SIZE, Reader, Wal};

fn read_all(dir: &Path) -> Vec<Vec<u8>> {
    let mut r = Reader::open(dir).expect("open reader");
    let mut out = Vec::new();
    while let Some(rec) = r.next_record().expect("clean read") {
        out.push(rec.to_vec());
    }
    out
}

fn opts(segment_pages: u64, compression: Compression) -> Options {
    Options {
        segment_size: segment_pages * PAGE_SIZE as u64,
        compression,
    }
}

#[test]
fn fragment_header_layout() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut w = Wal::open(dir.path(), Options::default()).expect("open");
    w.log(&[b"abc"]).expect("log");
    let bytes = std::fs::read(wal::segment_path(dir.path(), 0)).expect("read segment");
    let crc = crc32c::crc32c(b"abc").to_be_bytes();
    assert_eq!(
        bytes,
        [&[1u8, 0, 3][..], &crc, b"abc"].concat(),
        "batch handed to the OS, unpadded"
    );
    w.close().expect("close");
    let bytes = std::fs::read(wal::segment_path(dir.path(), 0)).expect("read segment");
    assert_eq!(bytes.len(), PAGE_SIZE, "close pads the page");
    assert!(bytes[10..].iter().all(|&b| b == 0));
}

#[test]
fn split_records_and_zero_length_first_fragment() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut w = Wal::open(dir.path(), Options::default()).expect("open");
    // Leave exactly 7 bytes in the first page: the next record starts with
    // an empty first fragment, as Prometheus's writer does.
    let filler = vec![7u8; PAGE_SIZE - 2 * 7];
    let big: Vec<u8> = (0..3 * PAGE_SIZE).map(|i| (i % 251) as u8).collect();
    w.log(&[&filler, &big, b"tail"]).expect("log");
    assert!(matches!(
        w.log(&[b"x", b""]),
        Err(wal::Error::EmptyRecord(_))
    ));
    w.close().expect("close");
    let bytes = std::fs::read(wal::segment_path(dir.path(), 0)).expect("read segment");
    assert_eq!(bytes[PAGE_SIZE - 7], 2, "first fragment type");
    assert_eq!(
        &bytes[PAGE_SIZE - 6..PAGE_SIZE - 4],
        &[0, 0],
        "first fragment is empty"
    );
    assert_eq!(bytes[PAGE_SIZE], 3, "middle fragment at the next page");
    assert_eq!(read_all(dir.path()), vec![filler, big, b"tail".to_vec()]);
}

#[test]
fn segments_rotate_and_records_never_cross_them() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut w = Wal::open(dir.path(), opts(2, Compression::None)).expect("open");
    let recs: Vec<Vec<u8>> = (0..40).map(|i| vec![i as u8; 5000]).collect();
    for r in &recs {
        w.log(&[r]).expect("log");
    }
    // A record larger than a whole segment gets a segment of its own.
    let huge = vec![9u8; 3 * PAGE_SIZE];
    w.log(&[&huge]).expect("log huge");
    w.close().expect("close");
    let (first, last) = wal::segments(dir.path())
        .expect("list")
        .expect("some segments");
    assert_eq!(first, 0);
    assert!(last >= 3, "rotated into {last} segments");
    for i in first..=last {
        let len = std::fs::metadata(wal::segment_path(dir.path(), i))
            .expect("stat")
            .len();
        assert_eq!(len % PAGE_SIZE as u64, 0, "segment {i} padded to a page");
        if i < last {
            assert!(len <= 2 * PAGE_SIZE as u64, "segment {i} within its size");
        }
    }
    let mut want = recs.clone();
    want.push(huge);
    assert_eq!(read_all(dir.path()), want);
    // Each segment reads on its own: no record crosses a boundary.
    let mut n = 0;
    for i in first..=last {
        let mut r = Reader::open_range(dir.path(), Some(i), Some(i)).expect("open");
        while r.next_record().expect("segment reads alone").is_some() {
            n += 1;
        }
    }
    assert_eq!(n, want.len());
}

#[test]
fn reopening_starts_a_new_segment() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut w = Wal::open(dir.path(), Options::default()).expect("open");
    w.log(&[b"one"]).expect("log");
    drop(w); // No close: the partial page is on disk, unpadded.
    let mut w = Wal::open(dir.path(), Options::default()).expect("reopen");
    assert_eq!(w.segment_index(), 1);
    w.log(&[b"two"]).expect("log");
    w.close().expect("close");
    assert!(w.log(&[b"three"]).is_err(), "closed");
    assert_eq!(read_all(dir.path()), vec![b"one".to_vec(), b"two".to_vec()]);
    assert_eq!(wal::truncate(dir.path(), 1).expect("truncate"), 1);
    assert_eq!(read_all(dir.path()), vec![b"two".to_vec()]);
}

#[test]
fn snappy_records_are_flagged_and_small_ones_stay_raw() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut w = Wal::open(dir.path(), opts(4, Compression::Snappy)).expect("open");
    let compressible = vec![b'a'; 10_000];
    w.log(&[b"x", &compressible]).expect("log");
    let stats = w.stats();
    w.close().expect("close");
    let bytes = std::fs::read(wal::segment_path(dir.path(), 0)).expect("read");
    assert_eq!(bytes[0], 1, "one byte does not compress: stored raw");
    assert_eq!(bytes[8], 1 | 0x08, "snappy flag on the second record");
    assert!(stats.bytes_saved > 9000, "{stats:?}");
    assert_eq!(read_all(dir.path()), vec![b"x".to_vec(), compressible]);
}

#[test]
fn bad_segment_size_is_rejected() {
    let dir = tempfile::tempdir().expect("tempdir");
    let err = Wal::open(dir.path(), opts(0, Compression::None)).expect_err("zero size");
    assert_eq!(
        err.to_string(),
        "invalid WAL segment size 0: must be a positive multiple of 32768"
    );
    let err = Wal::open(
        dir.path(),
        Options {
            segment_size: 1000,
            compression: Compression::None,
        },
    )
    .expect_err("not a page multiple");
    assert!(matches!(err, wal::Error::SegmentSize(1000)));
}

#[test]
fn gaps_between_segments_are_errors() {
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::write(dir.path().join("00000000"), b"").expect("write");
    std::fs::write(dir.path().join("00000002"), b"").expect("write");
    std::fs::write(dir.path().join("00000002.repair"), b"").expect("write");
    let err = Reader::open(dir.path()).expect_err("gap");
    assert!(
        err.to_string().contains("00000000 is followed by 00000002"),
        "{err}"
    );
}

fn record_strategy() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        6 => proptest::collection::vec(any::<u8>(), 1..200),
        2 => (1usize..3 * PAGE_SIZE, any::<u8>()).prop_map(|(n, b)| vec![b; n]),
        1 => proptest::collection::vec(any::<u8>(), PAGE_SIZE - 20..PAGE_SIZE + 20),
        1 => proptest::collection::vec(0u8..4, 2 * PAGE_SIZE..4 * PAGE_SIZE),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 48, ..ProptestConfig::default() })]

    #[test]
    fn random_batches_round_trip(
        batches in proptest::collection::vec(proptest::collection::vec(record_strategy(), 0..6), 1..8),
        snappy in any::<bool>(),
        segment_pages in 1u64..6,
        close in any::<bool>(),
    ) {
        let dir = tempfile::tempdir().expect("tempdir");
        let compression = if snappy { Compression::Snappy } else { Compression::None };
        let mut w = Wal::open(dir.path(), opts(segment_pages, compression)).expect("open");
        let mut want = Vec::new();
        for batch in &batches {
            let refs: Vec<&[u8]> = batch.iter().map(|r| r.as_slice()).collect();
            w.log(&refs).expect("log");
            want.extend(batch.iter().cloned());
        }
        if close {
            w.close().expect("close");
        } else {
            drop(w);
        }
        let got = read_all(dir.path());
        prop_assert_eq!(got.len(), want.len());
        prop_assert!(got == want, "records differ");
        // Gathered in one buffer after what it held, as the replay's reader
        // thread does.
        let mut r = Reader::open(dir.path()).expect("open reader");
        let mut buf = b"held".to_vec();
        let mut ends = vec![buf.len()];
        while r.advance_into(&mut buf).expect("clean read") {
            ends.push(buf.len());
        }
        prop_assert_eq!(&buf[..4], b"held");
        let gathered: Vec<Vec<u8>> = ends.windows(2).map(|e| buf[e[0]..e[1]].to_vec()).collect();
        prop_assert!(gathered == want, "gathered records differ");
        // And through the replay's batches.
        let mut replayed = Vec::new();
        wal::replay(dir.path(), |_, rec| replayed.push(rec.to_vec())).expect("replay");
        prop_assert!(replayed == want, "replayed records differ");
    }
}
