//! The write-ahead log, in Prometheus's `wlog` format.
//!
//! A WAL is a directory of segment files named by 8-digit index
//! (`00000000`, `00000001`, ...), each at most [`DEFAULT_SEGMENT_SIZE`]
//! bytes (configurable, a multiple of the page). Segments are written in
//! [`PAGE_SIZE`] pages; a record is split into fragments that never cross
//! a page, each behind a 7-byte header (type and compression flags, length,
//! CRC32-Castagnoli). Records never cross segments, so whole segments can be
//! dropped by [`truncate`] once a [`checkpoint()`] holds what they contained.
//! The byte layout and the durability contract are in `docs/format/wal.md`.
//!
//! - [`Wal`] appends batches of records ([`Wal::log`]), optionally
//!   snappy-compressed, and rotates segments; it fsyncs a segment when it is
//!   completed and on [`Wal::close`], never per batch.
//! - [`Reader`] iterates the records of a range of segments and reports the
//!   exact [`Corruption`] position: segment and byte offset of the first bad
//!   record.
//! - [`repair()`] cuts the log back to the good prefix before a corruption and
//!   returns (and logs) what it dropped.
//! - [`checkpoint()`], [`last_checkpoint`], [`delete_checkpoints`] and
//!   [`replay`] compact old segments and read a WAL back on open.
//!
//! Records are opaque bytes here; their encodings live in [`crate::record`].

mod checkpoint;
mod reader;
mod repair;
mod segment;
mod writer;

use std::io;
use std::path::{Path, PathBuf};

pub use checkpoint::{
    CheckpointStats, ReplaySource, checkpoint, checkpoint_dir, delete_checkpoints, last_checkpoint,
    replay,
};
pub use reader::{Position, Reader};
pub use repair::{RepairReport, repair};
pub use segment::{segment_path, segments};
pub use writer::{Wal, WalStats};

/// Size of a page: the unit of writes, padding and fragment placement.
pub const PAGE_SIZE: usize = 32 * 1024;
/// Size of a fragment header: type byte, u16 length, u32 CRC.
pub const HEADER_SIZE: usize = 7;
/// Default maximum size of a segment: 128 MiB.
pub const DEFAULT_SEGMENT_SIZE: u64 = 128 * 1024 * 1024;

/// How records are compressed when written.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum Compression {
    /// Records are stored as given.
    #[default]
    None,
    /// Records are snappy block-compressed (flag `0x08`) when that makes
    /// them smaller; Prometheus's `--storage.tsdb.wal-compression`.
    Snappy,
}

/// Options of a [`Wal`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Options {
    /// Maximum segment size in bytes; a positive multiple of [`PAGE_SIZE`].
    pub segment_size: u64,
    /// Compression of new records.
    pub compression: Compression,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            segment_size: DEFAULT_SEGMENT_SIZE,
            compression: Compression::None,
        }
    }
}

/// An error of the write-ahead log.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A file-system operation failed.
    #[error("{op} {}: {source}", path.display())]
    Io {
        /// What was being done (`"open segment"`, `"fsync"`, ...).
        op: &'static str,
        /// The file or directory.
        path: PathBuf,
        /// The OS error.
        source: io::Error,
    },
    /// The log is damaged; [`repair()`] can cut it back to the good prefix.
    #[error(transparent)]
    Corruption(#[from] Corruption),
    /// A record uses a compression Ember does not read (zstd, flag `0x10`,
    /// written by Prometheus 3.x with `--storage.tsdb.wal-compression-type=zstd`).
    /// The log is not damaged, so this is not a [`Corruption`].
    #[error(
        "read segment {} at offset {offset}: zstd-compressed WAL records are not supported; restart Prometheus with --storage.tsdb.wal-compression-type=snappy and let it rotate the WAL",
        segment_path(dir, *segment).display()
    )]
    UnsupportedCompression {
        /// The WAL directory.
        dir: PathBuf,
        /// The segment index.
        segment: u32,
        /// Offset of the fragment.
        offset: u64,
    },
    /// Segment files are missing between two others.
    #[error("segments in {} are not sequential: {prev:08} is followed by {next:08}", dir.display())]
    NotSequential {
        /// The WAL directory.
        dir: PathBuf,
        /// The index before the gap.
        prev: u32,
        /// The index after the gap.
        next: u32,
    },
    /// The configured segment size is not a positive multiple of the page.
    #[error("invalid WAL segment size {0}: must be a positive multiple of {PAGE_SIZE}")]
    SegmentSize(u64),
    /// An empty record was logged. Every record starts with its type byte,
    /// and the reader treats an empty record as a zeroed (torn) header.
    #[error("write to WAL {}: empty record", .0.display())]
    EmptyRecord(PathBuf),
    /// The writer was closed or failed earlier.
    #[error("write to WAL {}: the log is closed", .0.display())]
    Closed(PathBuf),
    /// A record in a checkpoint's input could not be decoded.
    #[error("checkpoint {}: {source}", dir.display())]
    Record {
        /// The WAL directory.
        dir: PathBuf,
        /// The decoding error.
        source: crate::record::DecodeError,
    },
    /// A checkpoint's range does not join the previous checkpoint.
    #[error("checkpoint {}: segment {from} does not follow the last checkpoint {last}", dir.display())]
    CheckpointGap {
        /// The WAL directory.
        dir: PathBuf,
        /// The requested first segment.
        from: u32,
        /// The index of the last checkpoint.
        last: u32,
    },
}

impl Error {
    pub(crate) fn io(op: &'static str, path: impl AsRef<Path>) -> impl FnOnce(io::Error) -> Error {
        let path = path.as_ref().to_path_buf();
        move |source| Error::Io { op, path, source }
    }
}

/// Where and why the log is damaged.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("corruption in segment {} at offset {offset}: {reason}", segment_path(dir, *segment).display())]
pub struct Corruption {
    /// The WAL (or checkpoint) directory.
    pub dir: PathBuf,
    /// The damaged segment.
    pub segment: u32,
    /// Byte offset in the segment of the first byte not known to be good:
    /// the start of the first fragment of the record that could not be read
    /// (or of the bad padding). Everything before it is intact.
    pub offset: u64,
    /// What was found.
    pub reason: CorruptionReason,
}

/// What a [`Reader`] found wrong.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CorruptionReason {
    /// A fragment's CRC does not match its data.
    #[error("fragment at offset {at}: checksum {actual:08x}, header says {expected:08x}")]
    Checksum {
        /// Offset of the fragment.
        at: u64,
        /// CRC in the header.
        expected: u32,
        /// CRC of the data read.
        actual: u32,
    },
    /// A fragment's length runs past its page.
    #[error("fragment at offset {at}: length {len} runs past the end of its page")]
    Length {
        /// Offset of the fragment.
        at: u64,
        /// Length in the header.
        len: u16,
    },
    /// The header's type byte has an unknown type or flags.
    #[error("fragment at offset {at}: invalid type byte {byte:#04x}")]
    Type {
        /// Offset of the fragment.
        at: u64,
        /// The type byte.
        byte: u8,
    },
    /// A fragment type that cannot follow the previous one (a middle without
    /// a first, a full inside a record, ...), or mixed compression flags.
    #[error("fragment at offset {at}: unexpected {found} fragment {context}")]
    Sequence {
        /// Offset of the fragment.
        at: u64,
        /// The fragment type found.
        found: &'static str,
        /// What was expected.
        context: &'static str,
    },
    /// A full fragment with no data: a header zeroed after its type byte
    /// (writers never log empty records).
    #[error("empty full fragment at offset {at}")]
    EmptyRecord {
        /// Offset of the fragment.
        at: u64,
    },
    /// A non-zero byte inside page padding.
    #[error("non-zero byte in page padding at offset {at}")]
    Padding {
        /// Offset of the byte.
        at: u64,
    },
    /// The segment ends inside a fragment.
    #[error("segment ends inside the fragment at offset {at}")]
    TornFragment {
        /// Offset of the fragment.
        at: u64,
    },
    /// The segment ends after a first or middle fragment: the last record is
    /// torn.
    #[error("last record is torn: segment ends before its last fragment")]
    TornRecord,
    /// A snappy-compressed record does not decompress.
    #[error("decompress record: {0}")]
    Snappy(String),
}

/// Deletes every segment with an index below `before`, oldest first.
/// Callers truncate only segments a checkpoint covers.
pub fn truncate(dir: &Path, before: u32) -> Result<usize, Error> {
    let mut removed = 0;
    for (index, path) in segment::list(dir)? {
        if index >= before {
            break;
        }
        std::fs::remove_file(&path).map_err(Error::io("remove segment", &path))?;
        removed += 1;
    }
    Ok(removed)
}
