//! Head chunk files (`chunks_head/`) and block chunk segments: write, read
//! back through the maps, rotate, reopen, repair torn and corrupt tails.

#![allow(clippy::unwrap_used)]

use std::fs::OpenOptions;
use std::io::Write;

use tsdb::chunkenc::{Encoding, XorChunk};
use tsdb::chunks::{
    BlockChunkRef, BlockReader, BlockWriter, ChunkDiskMapper, ChunkDiskRef, segment_file,
};

fn chunk(seed: i64, n: i64) -> Vec<u8> {
    let mut c = XorChunk::new();
    for i in 0..n {
        c.append(seed * 1000 + i * 15_000, (seed + i) as f64 * 0.5)
            .unwrap();
    }
    c.into_bytes()
}

#[test]
fn head_chunks_round_trip_rotate_and_reopen() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path().join("chunks_head");
    let (mut m, report) = ChunkDiskMapper::open_with_max_file_size(&d, 1024).unwrap();
    assert!(report.chunks.is_empty() && report.repairs.is_empty());
    let mut refs = Vec::new();
    for s in 0..40u64 {
        let data = chunk(s as i64, 1 + (s as i64 % 30));
        let r = m
            .write_chunk(
                s + 1,
                s as i64,
                s as i64 + 10,
                Encoding::Xor,
                s % 5 == 0,
                &data,
            )
            .unwrap();
        // Readable at once, from the open file.
        assert_eq!(m.chunk(r).unwrap(), (Encoding::Xor, data.clone()));
        refs.push((s + 1, r, data));
    }
    assert!(refs.last().unwrap().1.seq() > 1, "files were rotated");
    assert_eq!(refs[0].1, ChunkDiskRef::new(1, 8));
    for (_, r, data) in &refs {
        assert_eq!(&m.chunk(*r).unwrap().1, data);
        m.with_chunk(*r, |e, d| {
            assert_eq!((e, d), (Encoding::Xor, data.as_slice()))
        })
        .unwrap();
    }
    let last_seq = refs.last().unwrap().1.seq();
    m.close().unwrap();
    for seq in 1..=last_seq {
        let len = std::fs::metadata(segment_file(&d, seq)).unwrap().len();
        assert!(len <= 1024, "file {seq} is {len} bytes");
    }

    let (mut m, report) = ChunkDiskMapper::open_with_max_file_size(&d, 1024).unwrap();
    assert!(report.repairs.is_empty());
    assert_eq!(report.chunks.len(), refs.len());
    for (meta, (series, r, data)) in report.chunks.iter().zip(&refs) {
        assert_eq!(meta.series_ref, *series);
        assert_eq!(meta.chunk_ref, *r);
        assert_eq!(meta.min_time, *series as i64 - 1);
        assert_eq!(meta.max_time, *series as i64 + 9);
        assert_eq!(meta.out_of_order, (series - 1) % 5 == 0);
        assert_eq!(
            usize::from(meta.num_samples),
            XorChunk::from_bytes(data.clone()).unwrap().num_samples()
        );
        assert_eq!(&m.chunk(*r).unwrap().1, data);
    }
    // Writing after reopen starts a new file.
    let r = m
        .write_chunk(99, 0, 1, Encoding::Xor, false, &chunk(1, 2))
        .unwrap();
    assert_eq!(r, ChunkDiskRef::new(last_seq + 1, 8));
    m.truncate_before(last_seq).unwrap();
    assert!(!segment_file(&d, 1).exists());
    assert!(m.chunk(refs[0].1).is_err());
    assert!(m.chunk(ChunkDiskRef::new(77, 8)).is_err());
    assert!(m.chunk(ChunkDiskRef::new(last_seq, 3)).is_err());
    m.close().unwrap();
}

#[test]
fn torn_and_corrupt_tails_are_cut_back() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path().to_path_buf();
    let (mut m, _) = ChunkDiskMapper::open(&d).unwrap();
    let mut ends = Vec::new();
    for s in 0..5u64 {
        m.write_chunk(s + 1, 0, 100, Encoding::Xor, false, &chunk(s as i64, 20))
            .unwrap();
        ends.push(m.size());
    }
    m.close().unwrap();
    let f1 = segment_file(&d, 1);
    let full = std::fs::read(&f1).unwrap();

    // Truncation at every offset inside the last record keeps the first four.
    for cut in (ends[3] as usize + 1)..full.len() {
        std::fs::write(&f1, &full[..cut]).unwrap();
        let (m, report) = ChunkDiskMapper::open(&d).unwrap();
        assert_eq!(report.chunks.len(), 4, "cut at {cut}");
        if report.repairs.is_empty() {
            // Only zero bytes of the torn record made it: indistinguishable
            // from preallocated space, and harmless.
            assert!(
                full[ends[3] as usize..cut].iter().all(|&b| b == 0),
                "cut at {cut}"
            );
        } else {
            assert_eq!(report.repairs[0].new_len, ends[3]);
            assert_eq!(std::fs::metadata(&f1).unwrap().len(), ends[3]);
        }
        drop(m);
    }

    // A flipped byte in the third record drops it and everything after it in that file.
    let mut bad = full.clone();
    bad[ends[1] as usize + 30] ^= 0x55;
    std::fs::write(&f1, &bad).unwrap();
    let (_, report) = ChunkDiskMapper::open(&d).unwrap();
    assert_eq!(report.chunks.len(), 2);
    assert!(
        report.repairs[0].reason.contains("checksum"),
        "{:?}",
        report.repairs
    );

    // A zero-filled (preallocated) tail is not corruption.
    let mut padded = full.clone();
    padded.extend(std::iter::repeat_n(0u8, 1000));
    std::fs::write(&f1, &padded).unwrap();
    let (_, report) = ChunkDiskMapper::open(&d).unwrap();
    assert_eq!(report.chunks.len(), 5);
    assert!(report.repairs.is_empty());

    // A last file without a header is removed; a bad header elsewhere is an error.
    std::fs::write(segment_file(&d, 2), [0u8; 3]).unwrap();
    let (_, report) = ChunkDiskMapper::open(&d).unwrap();
    assert_eq!(report.repairs.len(), 1);
    assert!(!segment_file(&d, 2).exists());
    std::fs::write(&f1, b"garbage!garbage").unwrap();
    std::fs::write(segment_file(&d, 2), [0u8; 3]).unwrap();
    let err = ChunkDiskMapper::open(&d).unwrap_err();
    assert!(err.to_string().contains("invalid magic number"), "{err}");
}

#[test]
fn block_segments_round_trip_and_cut() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path().join("chunks");
    let mut w = BlockWriter::with_segment_size(&d, 600).unwrap();
    let mut refs = Vec::new();
    for s in 0..30 {
        let data = chunk(s, 1 + s % 40);
        refs.push((w.write_chunk(Encoding::Xor, &data).unwrap(), data));
    }
    w.close().unwrap();
    assert_eq!(refs[0].0, BlockChunkRef::new(0, 8));
    let r = BlockReader::open(&d).unwrap();
    assert!(r.num_segments() > 1);
    for (cr, data) in &refs {
        assert_eq!(r.chunk(*cr).unwrap(), (Encoding::Xor, data.as_slice()));
    }
    let scanned: Vec<_> = (0..r.num_segments())
        .flat_map(|i| r.iter_segment(i))
        .map(|x| x.unwrap())
        .collect();
    assert_eq!(scanned.len(), refs.len());
    for ((sr, e, sd), (cr, data)) in scanned.iter().zip(&refs) {
        assert_eq!((sr, *e, *sd), (cr, Encoding::Xor, data.as_slice()));
    }
    assert!(r.chunk(BlockChunkRef::new(9, 8)).is_err());
    drop(r);
    // A flipped byte fails the CRC.
    let f = segment_file(&d, 1);
    let mut b = std::fs::read(&f).unwrap();
    b[20] ^= 1;
    OpenOptions::new()
        .write(true)
        .truncate(true)
        .open(&f)
        .unwrap()
        .write_all(&b)
        .unwrap();
    let r = BlockReader::open(&d).unwrap();
    assert!(r.iter_segment(0).any(|x| x.is_err()));
}
