//! Series indexes.
//!
//! - [`postings`] is the head's in-memory inverted index: label pair →
//!   sorted series references, with the intersection, union and subtraction
//!   iterators and Prometheus's matcher evaluation (`PostingsForMatchers`).
//! - [`IndexWriter`] and [`IndexReader`] are a persisted block's `index`
//!   file in Prometheus's index format v2, byte for byte as Prometheus 2.42
//!   writes it: symbol table, series (16-byte aligned, reference =
//!   offset / 16, labels as symbol numbers, delta-encoded [`ChunkMeta`]s),
//!   label indices, postings, the two offset tables and the TOC, every
//!   section with a CRC32C. The reader memory-maps the file, keeps every
//!   8th symbol offset and every 32nd value of each label name in memory,
//!   checks the CRC of each section it reads and turns corrupt input into
//!   an [`Error`] naming the file, section and offset.
//!
//! Byte layout: `docs/format/index.md`.

mod enc;
mod matchers;
pub mod postings;
mod reader;
mod writer;

use std::path::PathBuf;

pub use reader::IndexReader;
pub use writer::IndexWriter;

/// Magic number at the start of an index file.
pub const MAGIC_INDEX: u32 = 0xBAAA_D700;
/// The index format version Ember writes and reads.
pub const FORMAT_V2: u8 = 2;
/// Bytes before the symbol table: magic and version.
pub const HEADER_LEN: usize = 5;
/// Bytes of the table of contents at the end of the file.
pub const TOC_LEN: usize = 6 * 8 + 4;
/// Series entries are aligned to this many bytes; a series reference is
/// its offset divided by it.
pub const SERIES_ALIGNMENT: u64 = 16;

/// A chunk of a series as the index describes it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ChunkMeta {
    /// Timestamp of the chunk's first sample, in milliseconds.
    pub min_time: i64,
    /// Timestamp of the chunk's last sample, in milliseconds.
    pub max_time: i64,
    /// Where the chunk lives in the block's chunk segments
    /// ([`crate::chunks::BlockChunkRef`]).
    pub chunk_ref: u64,
}

/// Errors writing or reading an index file.
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
    /// The file's content is not a valid index.
    #[error("read {section} of index {path} at offset {offset}: {reason}")]
    Corrupt {
        /// The file.
        path: PathBuf,
        /// The section being read (`"symbol table"`, `"series"`, ...).
        section: &'static str,
        /// Byte offset of the bad field.
        offset: u64,
        /// What is wrong.
        reason: String,
    },
    /// The writer was handed input it cannot write (out of order, unknown
    /// symbol, too large for the format, wrong call order).
    #[error("{op} to index {path} at offset {offset}: {reason}")]
    Invalid {
        /// What was being done (`"add series"`, ...).
        op: &'static str,
        /// The file.
        path: PathBuf,
        /// The write position at the time.
        offset: u64,
        /// What is wrong.
        reason: String,
    },
    /// A series reference that names no series entry.
    #[error("read series {series_ref} of index {path}: {reason}")]
    BadRef {
        /// The file.
        path: PathBuf,
        /// The reference.
        series_ref: u64,
        /// What is wrong.
        reason: &'static str,
    },
}

pub(crate) fn io_err<'a>(
    op: &'static str,
    path: &'a std::path::Path,
) -> impl FnOnce(std::io::Error) -> Error + 'a {
    move |source| Error::Io {
        op,
        path: path.to_path_buf(),
        source,
    }
}
