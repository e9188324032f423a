//! The head's chunk files in `chunks_head/` (Prometheus's
//! `ChunkDiskMapper`): full head chunks are written here and read back
//! through memory maps, so the head keeps only the open chunk per series in
//! memory.
//!
//! Record: series ref (8 bytes BE) | mint (8) | maxt (8) | encoding (1, top
//! bit = out-of-order) | data length (uvarint) | data | CRC32C of everything
//! before it. Files are cut at 128 MiB; every open starts a new file, so an
//! existing file is never appended to. Writes go straight to the file (no
//! user-space buffer), so a chunk is readable as soon as `write_chunk`
//! returns; the current file is read with positioned reads and mapped once
//! it is sealed.

use std::collections::BTreeMap;
use std::fs::File;
use std::io::Write;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};

use super::{
    CRC_SIZE, Error, MAX_CHUNK_LENGTH_FIELD_SIZE, SEGMENT_HEADER_SIZE, check_header, io_err,
    list_segments, map_file, put_uvarint, segment_file, segment_header, uvarint,
};
use crate::chunkenc::Encoding;

/// Magic number of a head chunk file.
pub const MAGIC_HEAD_CHUNKS: u32 = 0x0130_BC91;
/// Files are cut before they would pass this size.
pub const MAX_HEAD_CHUNK_FILE_SIZE: u64 = 128 * 1024 * 1024;
/// The encoding byte's out-of-order flag.
const OUT_OF_ORDER_MASK: u8 = 0b1000_0000;
/// Series ref, mint, maxt, encoding.
const RECORD_PREFIX: usize = 8 + 8 + 8 + 1;
/// Largest record overhead around the data.
const MAX_META_SIZE: usize = RECORD_PREFIX + MAX_CHUNK_LENGTH_FIELD_SIZE + CRC_SIZE;

/// Where a head chunk lives: file sequence number (upper 32 bits) and byte
/// offset of its record (lower 32), like Prometheus's `ChunkDiskMapperRef`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ChunkDiskRef(pub u64);

impl ChunkDiskRef {
    /// Packs a file number and offset.
    pub fn new(seq: u32, offset: u32) -> ChunkDiskRef {
        ChunkDiskRef((u64::from(seq) << 32) | u64::from(offset))
    }

    /// The file's sequence number.
    pub fn seq(self) -> u32 {
        (self.0 >> 32) as u32
    }

    /// The record's byte offset in the file.
    pub fn offset(self) -> u32 {
        self.0 as u32
    }
}

/// One chunk found when opening the directory, for head replay.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct HeadChunkMeta {
    /// The series it belongs to.
    pub series_ref: u64,
    /// Where it is.
    pub chunk_ref: ChunkDiskRef,
    /// First timestamp.
    pub min_time: i64,
    /// Last timestamp.
    pub max_time: i64,
    /// Samples in it (from the chunk's header).
    pub num_samples: u16,
    /// Its encoding.
    pub encoding: Encoding,
    /// Whether it is an out-of-order chunk.
    pub out_of_order: bool,
}

/// Data dropped while opening.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Repair {
    /// The file.
    pub path: PathBuf,
    /// Its length before the repair.
    pub old_len: u64,
    /// Its length after (0 when the file was removed).
    pub new_len: u64,
    /// Why.
    pub reason: String,
}

/// What opening found.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct OpenReport {
    /// Every valid chunk, in file and offset order.
    pub chunks: Vec<HeadChunkMeta>,
    /// What was dropped to make the files valid.
    pub repairs: Vec<Repair>,
}

struct Current {
    seq: u32,
    file: File,
    path: PathBuf,
    /// Bytes written so far.
    offset: u64,
}

/// Writes full head chunks to `chunks_head/` and reads them back.
pub struct ChunkDiskMapper {
    dir: PathBuf,
    /// Sealed files, memory-mapped.
    sealed: BTreeMap<u32, (PathBuf, memmap2::Mmap)>,
    current: Option<Current>,
    /// Highest file number seen or written.
    last_seq: u32,
    cut_next: bool,
    max_file_size: u64,
    /// Reusable record buffer.
    buf: Vec<u8>,
}

impl std::fmt::Debug for ChunkDiskMapper {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ChunkDiskMapper")
            .field("dir", &self.dir)
            .field("sealed", &self.sealed.keys().collect::<Vec<_>>())
            .field("current", &self.current.as_ref().map(|c| (c.seq, c.offset)))
            .finish()
    }
}

/// A parsed head chunk record.
struct Record {
    series: u64,
    mint: i64,
    maxt: i64,
    enc: u8,
    data: std::ops::Range<usize>,
    end: usize,
}

/// Parses and checks the record at `off` in `b`.
fn parse_record(b: &[u8], off: usize) -> Result<Record, String> {
    let rest = b.get(off..).unwrap_or_default();
    let Some(prefix) = rest.first_chunk::<RECORD_PREFIX>() else {
        return Err(format!(
            "{} bytes left, too few for a record header",
            rest.len()
        ));
    };
    let be = |i: usize| {
        u64::from_be_bytes([
            prefix[i],
            prefix[i + 1],
            prefix[i + 2],
            prefix[i + 3],
            prefix[i + 4],
            prefix[i + 5],
            prefix[i + 6],
            prefix[i + 7],
        ])
    };
    let (series, mint, maxt, enc) = (be(0), be(8) as i64, be(16) as i64, prefix[24]);
    let len_field =
        &rest[RECORD_PREFIX..rest.len().min(RECORD_PREFIX + MAX_CHUNK_LENGTH_FIELD_SIZE)];
    let Some((len, n)) = uvarint(len_field) else {
        return Err("unreadable chunk length".to_string());
    };
    let start = off + RECORD_PREFIX + n;
    let end = usize::try_from(len)
        .ok()
        .and_then(|l| start.checked_add(l))
        .filter(|&e| e.saturating_add(CRC_SIZE) <= b.len())
        .ok_or_else(|| format!("chunk of {len} bytes runs past the end of the file"))?;
    let want = u32::from_be_bytes([b[end], b[end + 1], b[end + 2], b[end + 3]]);
    let got = crc32c::crc32c(&b[off..end]);
    if want != got {
        return Err(format!(
            "checksum mismatch: stored {want:#010x}, computed {got:#010x}"
        ));
    }
    Ok(Record {
        series,
        mint,
        maxt,
        enc,
        data: start..end,
        end: end + CRC_SIZE,
    })
}

/// Scans a whole file; returns the chunks and, if the scan stopped early,
/// the offset of the first bad record and why.
fn scan_file(seq: u32, b: &[u8]) -> (Vec<HeadChunkMeta>, Option<(usize, String)>) {
    let mut out = Vec::new();
    let mut off = SEGMENT_HEADER_SIZE;
    while off < b.len() {
        let rest = &b[off..];
        // A zero tail is preallocated space (Prometheus preallocates), not data.
        if rest.len() < MAX_META_SIZE && rest.iter().all(|&x| x == 0) {
            break;
        }
        if rest.len() >= 24 && rest[..24].iter().all(|&x| x == 0) {
            break;
        }
        match parse_record(b, off) {
            Ok(Record {
                series: series_ref,
                mint: min_time,
                maxt: max_time,
                enc,
                data,
                end,
            }) => {
                let Ok(encoding) = Encoding::from_byte(enc & !OUT_OF_ORDER_MASK) else {
                    return (out, Some((off, format!("unknown chunk encoding {enc}"))));
                };
                let num_samples = b
                    .get(data.start..data.start + 2)
                    .map_or(0, |h| u16::from_be_bytes([h[0], h[1]]));
                out.push(HeadChunkMeta {
                    series_ref,
                    chunk_ref: ChunkDiskRef::new(seq, off as u32),
                    min_time,
                    max_time,
                    num_samples,
                    encoding,
                    out_of_order: enc & OUT_OF_ORDER_MASK != 0,
                });
                off = end;
            }
            Err(reason) => return (out, Some((off, reason))),
        }
    }
    (out, None)
}

impl ChunkDiskMapper {
    /// Opens (creating if needed) `dir` with the default 128 MiB file size.
    pub fn open(dir: &Path) -> Result<(ChunkDiskMapper, OpenReport), Error> {
        ChunkDiskMapper::open_with_max_file_size(dir, MAX_HEAD_CHUNK_FILE_SIZE)
    }

    /// Opens `dir`, verifying every chunk. A torn or corrupt tail is cut back
    /// to the last good chunk (a file whose header never made it to disk is
    /// removed) and reported in [`OpenReport::repairs`]; a bad header in an
    /// earlier file is an error. The next write starts a new file.
    pub fn open_with_max_file_size(
        dir: &Path,
        max_file_size: u64,
    ) -> Result<(ChunkDiskMapper, OpenReport), Error> {
        std::fs::create_dir_all(dir).map_err(io_err("create", dir))?;
        let files = list_segments(dir)?;
        let mut report = OpenReport::default();
        let mut sealed = BTreeMap::new();
        let mut last_seq = 0;
        let n = files.len();
        for (i, (seq, path)) in files.into_iter().enumerate() {
            let is_last = i + 1 == n;
            let map = map_file(&path)?;
            if let Err(reason) = check_header(&map, MAGIC_HEAD_CHUNKS) {
                let torn = map.len() < 4 || map[..4] == [0, 0, 0, 0];
                if !(is_last && torn) {
                    return Err(Error::Corrupt {
                        path,
                        offset: 0,
                        reason,
                    });
                }
                // The crash hit before the header was written: drop the file.
                let old_len = map.len() as u64;
                drop(map);
                std::fs::remove_file(&path).map_err(io_err("remove", &path))?;
                report.repairs.push(Repair {
                    path,
                    old_len,
                    new_len: 0,
                    reason: "file header missing".to_string(),
                });
                continue;
            }
            let (chunks, bad) = scan_file(seq, &map);
            report.chunks.extend(chunks);
            let map = if let Some((off, reason)) = bad {
                let old_len = map.len() as u64;
                drop(map);
                let f = std::fs::OpenOptions::new()
                    .write(true)
                    .open(&path)
                    .map_err(io_err("open", &path))?;
                f.set_len(off as u64).map_err(io_err("truncate", &path))?;
                f.sync_all().map_err(io_err("sync", &path))?;
                report.repairs.push(Repair {
                    path: path.clone(),
                    old_len,
                    new_len: off as u64,
                    reason,
                });
                map_file(&path)?
            } else {
                map
            };
            last_seq = seq;
            sealed.insert(seq, (path, map));
        }
        Ok((
            ChunkDiskMapper {
                dir: dir.to_path_buf(),
                sealed,
                current: None,
                last_seq,
                cut_next: false,
                max_file_size,
                buf: Vec::with_capacity(2048),
            },
            report,
        ))
    }

    /// Makes the next chunk go to a new file.
    pub fn cut_new_file(&mut self) {
        self.cut_next = true;
    }

    /// Writes a full chunk of `series_ref` and returns where it is.
    pub fn write_chunk(
        &mut self,
        series_ref: u64,
        min_time: i64,
        max_time: i64,
        encoding: Encoding,
        out_of_order: bool,
        data: &[u8],
    ) -> Result<ChunkDiskRef, Error> {
        let mut rec = std::mem::take(&mut self.buf);
        rec.clear();
        rec.extend_from_slice(&series_ref.to_be_bytes());
        rec.extend_from_slice(&min_time.to_be_bytes());
        rec.extend_from_slice(&max_time.to_be_bytes());
        rec.push(encoding.byte() | if out_of_order { OUT_OF_ORDER_MASK } else { 0 });
        put_uvarint(&mut rec, data.len() as u64);
        rec.extend_from_slice(data);
        let crc = crc32c::crc32c(&rec);
        rec.extend_from_slice(&crc.to_be_bytes());
        let res = self.write_record(&rec);
        self.buf = rec;
        res
    }

    fn write_record(&mut self, rec: &[u8]) -> Result<ChunkDiskRef, Error> {
        let size = rec.len() as u64;
        // Offsets are 32 bits; a chunk larger than the file size limit still
        // goes alone into a fresh file, as in Prometheus.
        if size + SEGMENT_HEADER_SIZE as u64 > u64::from(u32::MAX) {
            return Err(Error::TooLarge(rec.len()));
        }
        let need_cut = match &self.current {
            None => true,
            Some(c) => self.cut_next || c.offset + size > self.max_file_size,
        };
        if need_cut {
            self.cut()?;
        }
        let Some(c) = self.current.as_mut() else {
            return Err(Error::BadRef(0, "no open file after cut"));
        };
        let r = ChunkDiskRef::new(c.seq, c.offset as u32);
        c.file.write_all(rec).map_err(io_err("write", &c.path))?;
        c.offset += size;
        Ok(r)
    }

    /// Seals the current file (fsync, map) and starts the next one.
    fn cut(&mut self) -> Result<(), Error> {
        self.seal_current()?;
        let seq = self.last_seq + 1;
        let path = segment_file(&self.dir, seq);
        let mut file = std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .create_new(true)
            .open(&path)
            .map_err(io_err("create", &path))?;
        file.write_all(&segment_header(MAGIC_HEAD_CHUNKS))
            .map_err(io_err("write", &path))?;
        sync_dir(&self.dir)?;
        self.last_seq = seq;
        self.cut_next = false;
        self.current = Some(Current {
            seq,
            file,
            path,
            offset: SEGMENT_HEADER_SIZE as u64,
        });
        Ok(())
    }

    fn seal_current(&mut self) -> Result<(), Error> {
        if let Some(c) = self.current.take() {
            c.file.sync_all().map_err(io_err("sync", &c.path))?;
            drop(c.file);
            let map = map_file(&c.path)?;
            self.sealed.insert(c.seq, (c.path, map));
        }
        Ok(())
    }

    /// Reads the chunk at `r`: its encoding and a copy of its data.
    pub fn chunk(&self, r: ChunkDiskRef) -> Result<(Encoding, Vec<u8>), Error> {
        let off = r.offset() as usize;
        if off < SEGMENT_HEADER_SIZE {
            return Err(Error::BadRef(r.0, "offset inside the file header"));
        }
        if let Some((path, map)) = self.sealed.get(&r.seq()) {
            return decode_at(path, map, off, r).map(|(e, d)| (e, d.to_vec()));
        }
        let Some(c) = self.current.as_ref().filter(|c| c.seq == r.seq()) else {
            return Err(Error::BadRef(r.0, "no such head chunk file"));
        };
        if off as u64 >= c.offset {
            return Err(Error::BadRef(r.0, "offset past the end of the file"));
        }
        // The record is at most this long; read it whole.
        let avail = (c.offset - off as u64) as usize;
        let mut head = [0u8; RECORD_PREFIX + MAX_CHUNK_LENGTH_FIELD_SIZE];
        let hl = head.len().min(avail);
        c.file
            .read_exact_at(&mut head[..hl], off as u64)
            .map_err(io_err("read", &c.path))?;
        let len = uvarint(head.get(RECORD_PREFIX..hl).unwrap_or_default())
            .map_or(0, |(l, n)| l as usize + n);
        let total = (RECORD_PREFIX + len + CRC_SIZE).min(avail);
        let mut rec = vec![0u8; total];
        c.file
            .read_exact_at(&mut rec, off as u64)
            .map_err(io_err("read", &c.path))?;
        decode_at(&c.path, &rec, 0, r).map(|(e, d)| (e, d.to_vec()))
    }

    /// Calls `f` with the encoding and the mapped data of the chunk at `r`,
    /// without copying when the chunk is in a sealed file.
    pub fn with_chunk<T>(
        &self,
        r: ChunkDiskRef,
        f: impl FnOnce(Encoding, &[u8]) -> T,
    ) -> Result<T, Error> {
        if let Some((path, map)) = self
            .sealed
            .get(&r.seq())
            .filter(|_| r.offset() as usize >= SEGMENT_HEADER_SIZE)
        {
            let (e, d) = decode_at(path, map, r.offset() as usize, r)?;
            return Ok(f(e, d));
        }
        let (e, d) = self.chunk(r)?;
        Ok(f(e, &d))
    }

    /// Deletes sealed files numbered below `seq` (the head's truncation);
    /// the current file is kept.
    pub fn truncate_before(&mut self, seq: u32) -> Result<(), Error> {
        let old: Vec<u32> = self.sealed.range(..seq).map(|(&s, _)| s).collect();
        for s in old {
            if let Some((path, map)) = self.sealed.remove(&s) {
                drop(map);
                std::fs::remove_file(&path).map_err(io_err("remove", &path))?;
            }
        }
        Ok(())
    }

    /// Total bytes of all files.
    pub fn size(&self) -> u64 {
        self.sealed
            .values()
            .map(|(_, m)| m.len() as u64)
            .sum::<u64>()
            + self.current.as_ref().map_or(0, |c| c.offset)
    }

    /// Syncs and seals the current file.
    pub fn close(mut self) -> Result<(), Error> {
        self.seal_current()
    }
}

fn decode_at<'m>(
    path: &Path,
    b: &'m [u8],
    off: usize,
    r: ChunkDiskRef,
) -> Result<(Encoding, &'m [u8]), Error> {
    let Record { enc, data, .. } = parse_record(b, off).map_err(|reason| Error::Corrupt {
        path: path.to_path_buf(),
        offset: u64::from(r.offset()),
        reason,
    })?;
    let encoding =
        Encoding::from_byte(enc & !OUT_OF_ORDER_MASK).map_err(|source| Error::Chunk {
            path: path.to_path_buf(),
            offset: u64::from(r.offset()),
            source,
        })?;
    Ok((encoding, &b[data]))
}

fn sync_dir(dir: &Path) -> Result<(), Error> {
    File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(io_err("sync", dir))
}
