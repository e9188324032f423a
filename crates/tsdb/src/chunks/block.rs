//! Chunk segment files of a persisted block (`<block>/chunks/000001`, ...),
//! Prometheus's `chunks.Writer` and `chunks.Reader`.
//!
//! Record: data length (uvarint) | encoding (1 byte) | data | CRC32C of
//! encoding and data. Segments are cut at 512 MiB. A reference packs the
//! segment's position in the directory listing (0 for `000001`) and the
//! record offset.

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};

use super::{
    CRC_SIZE, Error, MAX_CHUNK_LENGTH_FIELD_SIZE, SEGMENT_HEADER_SIZE, check_header, io_err,
    list_segments, map_file, put_uvarint, segment_file, segment_header, uvarint,
};
use crate::chunkenc::Encoding;

/// Magic number of a block chunk segment.
pub const MAGIC_CHUNKS: u32 = 0x85BD_40DD;
/// Prometheus's default segment size.
pub const DEFAULT_SEGMENT_SIZE: u64 = 512 * 1024 * 1024;

/// Where a block chunk lives: segment index (upper 32 bits, 0-based) and
/// record offset (lower 32), as the block index stores it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct BlockChunkRef(pub u64);

impl BlockChunkRef {
    /// Packs a segment index and offset.
    pub fn new(segment: u32, offset: u32) -> BlockChunkRef {
        BlockChunkRef((u64::from(segment) << 32) | u64::from(offset))
    }

    /// The segment's index (0 for file `000001`).
    pub fn segment(self) -> u32 {
        (self.0 >> 32) as u32
    }

    /// The record's byte offset.
    pub fn offset(self) -> u32 {
        self.0 as u32
    }
}

/// Writes a block's chunk segments.
pub struct BlockWriter {
    dir: PathBuf,
    segment_size: u64,
    /// Segments written so far; the last is open.
    segments: u32,
    cur: Option<(BufWriter<File>, PathBuf)>,
    /// Bytes in the open segment.
    n: u64,
    buf: Vec<u8>,
}

impl BlockWriter {
    /// A writer into `dir` (created if missing) with 512 MiB segments.
    pub fn new(dir: &Path) -> Result<BlockWriter, Error> {
        BlockWriter::with_segment_size(dir, DEFAULT_SEGMENT_SIZE)
    }

    /// A writer with a given segment size.
    pub fn with_segment_size(dir: &Path, segment_size: u64) -> Result<BlockWriter, Error> {
        std::fs::create_dir_all(dir).map_err(io_err("create", dir))?;
        Ok(BlockWriter {
            dir: dir.to_path_buf(),
            segment_size,
            segments: 0,
            cur: None,
            n: 0,
            buf: Vec::with_capacity(16),
        })
    }

    /// Appends a chunk and returns its reference. A new segment is cut when
    /// the chunk (counted with a 5-byte length, as Prometheus does) would
    /// pass the segment size and the open segment already has chunks.
    pub fn write_chunk(&mut self, encoding: Encoding, data: &[u8]) -> Result<BlockChunkRef, Error> {
        let est = (MAX_CHUNK_LENGTH_FIELD_SIZE + 1 + data.len() + CRC_SIZE) as u64;
        if self.cur.is_none()
            || (self.n > SEGMENT_HEADER_SIZE as u64 && self.n + est > self.segment_size)
        {
            self.cut()?;
        }
        if self.n + est > u64::from(u32::MAX) {
            return Err(Error::TooLarge(data.len()));
        }
        let Some((w, path)) = self.cur.as_mut() else {
            return Err(Error::BadRef(0, "no open segment after cut"));
        };
        let r = BlockChunkRef::new(self.segments - 1, self.n as u32);
        self.buf.clear();
        put_uvarint(&mut self.buf, data.len() as u64);
        self.buf.push(encoding.byte());
        let mut crc = crc32c::crc32c(&[encoding.byte()]);
        crc = crc32c::crc32c_append(crc, data);
        w.write_all(&self.buf).map_err(io_err("write", path))?;
        w.write_all(data).map_err(io_err("write", path))?;
        w.write_all(&crc.to_be_bytes())
            .map_err(io_err("write", path))?;
        self.n += (self.buf.len() + data.len() + CRC_SIZE) as u64;
        Ok(r)
    }

    fn cut(&mut self) -> Result<(), Error> {
        self.finish_segment()?;
        let path = segment_file(&self.dir, self.segments + 1);
        let f = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&path)
            .map_err(io_err("create", &path))?;
        let mut w = BufWriter::with_capacity(1 << 20, f);
        w.write_all(&segment_header(MAGIC_CHUNKS))
            .map_err(io_err("write", &path))?;
        self.segments += 1;
        self.n = SEGMENT_HEADER_SIZE as u64;
        self.cur = Some((w, path));
        Ok(())
    }

    fn finish_segment(&mut self) -> Result<(), Error> {
        if let Some((w, path)) = self.cur.take() {
            let f = w.into_inner().map_err(|e| Error::Io {
                op: "flush",
                path: path.clone(),
                source: e.into_error(),
            })?;
            f.sync_all().map_err(io_err("sync", &path))?;
        }
        Ok(())
    }

    /// Flushes and syncs the last segment and the directory.
    pub fn close(mut self) -> Result<(), Error> {
        self.finish_segment()?;
        File::open(&self.dir)
            .and_then(|d| d.sync_all())
            .map_err(io_err("sync", &self.dir))
    }
}

/// Reads a block's chunk segments through memory maps.
pub struct BlockReader {
    segments: Vec<(PathBuf, memmap2::Mmap)>,
}

impl std::fmt::Debug for BlockReader {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_list()
            .entries(self.segments.iter().map(|(p, _)| p))
            .finish()
    }
}

impl BlockReader {
    /// Maps every numbered file in `dir` and checks the headers.
    pub fn open(dir: &Path) -> Result<BlockReader, Error> {
        let mut segments = Vec::new();
        for (_, path) in list_segments(dir)? {
            let map = map_file(&path)?;
            check_header(&map, MAGIC_CHUNKS).map_err(|reason| Error::Corrupt {
                path: path.clone(),
                offset: 0,
                reason,
            })?;
            segments.push((path, map));
        }
        Ok(BlockReader { segments })
    }

    /// Number of segment files.
    pub fn num_segments(&self) -> usize {
        self.segments.len()
    }

    /// The chunk at `r`: its encoding and its data, borrowed from the map,
    /// after checking the CRC.
    pub fn chunk(&self, r: BlockChunkRef) -> Result<(Encoding, &[u8]), Error> {
        let Some((path, map)) = self.segments.get(r.segment() as usize) else {
            return Err(Error::BadRef(r.0, "segment index out of range"));
        };
        let off = r.offset() as usize;
        if off < SEGMENT_HEADER_SIZE {
            return Err(Error::BadRef(r.0, "offset inside the segment header"));
        }
        read_record(path, map, off).map(|(e, d, _)| (e, d))
    }

    /// Every chunk of segment `index`, in file order; stops at the first bad
    /// record with its error.
    pub fn iter_segment(
        &self,
        index: usize,
    ) -> impl Iterator<Item = Result<(BlockChunkRef, Encoding, &[u8]), Error>> {
        let seg = self.segments.get(index);
        let mut off = SEGMENT_HEADER_SIZE;
        let mut failed = false;
        std::iter::from_fn(move || {
            let (path, map) = seg?;
            if failed || off >= map.len() {
                return None;
            }
            match read_record(path, map, off) {
                Ok((e, d, end)) => {
                    let r = BlockChunkRef::new(index as u32, off as u32);
                    off = end;
                    Some(Ok((r, e, d)))
                }
                Err(e) => {
                    failed = true;
                    Some(Err(e))
                }
            }
        })
    }
}

/// Parses the record at `off`: encoding, data, end offset.
fn read_record<'m>(
    path: &Path,
    b: &'m [u8],
    off: usize,
) -> Result<(Encoding, &'m [u8], usize), Error> {
    let corrupt = |reason: String| Error::Corrupt {
        path: path.to_path_buf(),
        offset: off as u64,
        reason,
    };
    let rest = b.get(off..).unwrap_or_default();
    let (len, n) = uvarint(&rest[..rest.len().min(MAX_CHUNK_LENGTH_FIELD_SIZE)])
        .ok_or_else(|| corrupt("unreadable chunk length".to_string()))?;
    let enc_at = off + n;
    let end = usize::try_from(len)
        .ok()
        .and_then(|l| (enc_at + 1).checked_add(l))
        .filter(|&e| e.saturating_add(CRC_SIZE) <= b.len())
        .ok_or_else(|| {
            corrupt(format!(
                "chunk of {len} bytes runs past the end of the segment"
            ))
        })?;
    let want = u32::from_be_bytes([b[end], b[end + 1], b[end + 2], b[end + 3]]);
    let got = crc32c::crc32c(&b[enc_at..end]);
    if want != got {
        return Err(corrupt(format!(
            "checksum mismatch: stored {want:#010x}, computed {got:#010x}"
        )));
    }
    let encoding = Encoding::from_byte(b[enc_at]).map_err(|source| Error::Chunk {
        path: path.to_path_buf(),
        offset: off as u64,
        source,
    })?;
    Ok((encoding, &b[enc_at + 1..end], end + CRC_SIZE))
}
