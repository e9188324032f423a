//! Chunk files, in Prometheus's formats: the head's memory-mapped chunk
//! files in `chunks_head/` ([`ChunkDiskMapper`], Prometheus's
//! `head_chunks.go`) and the chunk segment files of a block's `chunks/`
//! directory ([`BlockWriter`], [`BlockReader`], Prometheus's `chunks.go`).
//!
//! Both are numbered files (`000001`, `000002`, ...) that start with an
//! 8-byte header (4-byte magic, version 1, 3 bytes padding) followed by
//! chunk records, each ending in a CRC32 (Castagnoli, big-endian). A chunk
//! is addressed by a `u64` packing the file's sequence number (upper 32
//! bits) and the record's byte offset (lower 32). Byte layouts:
//! `docs/format/chunks.md`.

mod block;
mod head;

use std::path::{Path, PathBuf};

pub use block::{BlockChunkRef, BlockReader, BlockWriter, DEFAULT_SEGMENT_SIZE, MAGIC_CHUNKS};
pub use head::{
    ChunkDiskMapper, ChunkDiskRef, HeadChunkMeta, MAGIC_HEAD_CHUNKS, MAX_HEAD_CHUNK_FILE_SIZE,
    OpenReport, Repair,
};

use crate::chunkenc;

/// Size of a chunk file header: magic, version, padding.
pub const SEGMENT_HEADER_SIZE: usize = 8;
/// The format version both file kinds carry.
pub const FORMAT_V1: u8 = 1;
/// Longest uvarint a chunk length may take (Go's `MaxVarintLen32`).
pub const MAX_CHUNK_LENGTH_FIELD_SIZE: usize = 5;
/// Size of a CRC32.
pub const CRC_SIZE: usize = 4;

/// Errors reading or writing chunk files.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A file operation failed.
    #[error("{op} {path}: {source}")]
    Io {
        /// What was being done.
        op: &'static str,
        /// The file or directory.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
    /// A file's content is not valid.
    #[error("corrupt chunk file {path} at offset {offset}: {reason}")]
    Corrupt {
        /// The file.
        path: PathBuf,
        /// Byte offset of the bad record or field.
        offset: u64,
        /// What is wrong.
        reason: String,
    },
    /// A reference names no file or no record.
    #[error("invalid chunk reference {0:#x}: {1}")]
    BadRef(u64, &'static str),
    /// The chunk data itself is invalid.
    #[error("chunk at {path} offset {offset}: {source}")]
    Chunk {
        /// The file.
        path: PathBuf,
        /// Byte offset of the record.
        offset: u64,
        /// The cause.
        source: chunkenc::Error,
    },
    /// A chunk too large for 32-bit file offsets.
    #[error("chunk of {0} bytes is too large")]
    TooLarge(usize),
}

pub(crate) fn io_err<'a>(
    op: &'static str,
    path: &'a Path,
) -> impl FnOnce(std::io::Error) -> Error + 'a {
    move |source| Error::Io {
        op,
        path: path.to_path_buf(),
        source,
    }
}

/// The name of file `seq` in `dir` (six digits, zero-padded).
pub fn segment_file(dir: &Path, seq: u32) -> PathBuf {
    dir.join(format!("{seq:06}"))
}

/// The numbered files in `dir`, ascending by number.
pub(crate) fn list_segments(dir: &Path) -> Result<Vec<(u32, PathBuf)>, Error> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).map_err(io_err("list", dir))? {
        let e = e.map_err(io_err("list", dir))?;
        let name = e.file_name();
        let Some(name) = name.to_str() else { continue };
        if !name.bytes().all(|b| b.is_ascii_digit()) {
            continue;
        }
        if let Ok(seq) = name.parse::<u32>() {
            out.push((seq, e.path()));
        }
    }
    out.sort();
    Ok(out)
}

/// The 8-byte header of a chunk file.
pub(crate) fn segment_header(magic: u32) -> [u8; SEGMENT_HEADER_SIZE] {
    let mut h = [0u8; SEGMENT_HEADER_SIZE];
    h[..4].copy_from_slice(&magic.to_be_bytes());
    h[4] = FORMAT_V1;
    h
}

/// Checks a file header; `Err(reason)` when it is not `magic`, version 1.
pub(crate) fn check_header(b: &[u8], magic: u32) -> Result<(), String> {
    let Some(h) = b.first_chunk::<SEGMENT_HEADER_SIZE>() else {
        return Err(format!(
            "file of {} bytes is shorter than its header",
            b.len()
        ));
    };
    let m = u32::from_be_bytes([h[0], h[1], h[2], h[3]]);
    if m != magic {
        return Err(format!(
            "invalid magic number {m:#010x}, want {magic:#010x}"
        ));
    }
    if h[4] != FORMAT_V1 {
        return Err(format!("invalid chunk format version {}", h[4]));
    }
    Ok(())
}

/// Decodes a uvarint from the start of `b`: (value, bytes used).
pub(crate) fn uvarint(b: &[u8]) -> Option<(u64, usize)> {
    let mut x = 0u64;
    for (i, &byte) in b.iter().take(10).enumerate() {
        if byte < 0x80 {
            if i == 9 && byte > 1 {
                return None;
            }
            return Some((x | (u64::from(byte) << (7 * i)), i + 1));
        }
        x |= u64::from(byte & 0x7f) << (7 * i);
    }
    None
}

/// Appends `v` as a uvarint.
pub(crate) fn put_uvarint(out: &mut Vec<u8>, mut v: u64) {
    while v >= 0x80 {
        out.push((v as u8) | 0x80);
        v >>= 7;
    }
    out.push(v as u8);
}

/// Memory-maps a whole file read-only.
///
/// SAFETY (one of the crate's two `unsafe`s, with the prefetch hint in
/// `head/series.rs`): a mapping is undefined behaviour if
/// the file shrinks or changes under it. Chunk files are append-only and
/// owned by this process's TSDB directory: a file is mapped only once it is
/// complete (sealed) or for reading at open, and the only truncation —
/// repairing a torn tail at open — happens before the file is mapped again.
/// Block `index` files (`crate::index::IndexReader`) are mapped the same
/// way: they are written completely and closed before they are opened, and
/// never modified afterwards.
#[allow(unsafe_code)]
pub(crate) fn map_file(path: &Path) -> Result<memmap2::Mmap, Error> {
    let f = std::fs::File::open(path).map_err(io_err("open", path))?;
    // SAFETY: see the function comment: the file is not modified while mapped.
    unsafe { memmap2::Mmap::map(&f) }.map_err(io_err("mmap", path))
}
