//! Persisted blocks in Prometheus's format: a directory named by a ULID
//! holding `meta.json` ([`meta`]), `index` (series and postings, index
//! format v2, [`crate::index`]), `chunks/000001…` (chunk segments,
//! [`crate::chunks::block`]) and `tombstones` ([`tombstones`]).
//!
//! [`Block`] opens a directory lazily: only `meta.json` is read up front;
//! the index and chunk files are memory-mapped on first use, so a data
//! directory with hundreds of blocks opens at once. A block is immutable
//! except for its tombstones, which deletions rewrite atomically.
//! [`writer::BlockBuilder`] writes a new block into
//! `<ulid>.tmp-for-creation`, fsyncs every file and the directory, then
//! renames it into place: a block directory either is complete or does not
//! exist under its final name. [`reader`] holds the querier.

pub mod meta;
pub mod reader;
pub mod tombstones;
pub mod ulid;
pub mod writer;

use std::io::Write;
use std::path::{Path, PathBuf};

pub use meta::{BlockMeta, BlockStats};
pub use reader::{Block, BlockQuerier};
pub use tombstones::{Interval, Tombstones};
pub use ulid::Ulid;
pub use writer::BlockBuilder;

/// Suffix of a block directory being written.
pub const TMP_FOR_CREATION: &str = ".tmp-for-creation";
/// Suffix of a block directory being deleted.
pub const TMP_FOR_DELETION: &str = ".tmp-for-deletion";

/// An error reading or writing a block.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A file-system operation failed.
    #[error("{op} {}: {source}", path.display())]
    Io {
        /// What was being done.
        op: &'static str,
        /// The path.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
    /// A file's contents are not valid.
    #[error("corrupted {}: {reason}", path.display())]
    Corrupt {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        reason: String,
    },
    /// The index failed.
    #[error("block index {}: {source}", path.display())]
    Index {
        /// The index file.
        path: PathBuf,
        /// The cause.
        source: crate::index::Error,
    },
    /// The chunk files failed.
    #[error("block chunks {}: {source}", path.display())]
    Chunks {
        /// The chunks directory.
        path: PathBuf,
        /// The cause.
        source: crate::chunks::Error,
    },
    /// Samples could not be encoded.
    #[error("encode chunk of {series}: {source}")]
    Encode {
        /// The series.
        series: String,
        /// The cause.
        source: crate::chunkenc::Error,
    },
    /// Input violated the writer's contract.
    #[error("{0}")]
    Invalid(String),
}

impl Error {
    pub(crate) fn io(op: &'static str, path: &Path, source: std::io::Error) -> Error {
        Error::Io {
            op,
            path: path.to_path_buf(),
            source,
        }
    }
}

/// Writes `path` through a temporary file, fsyncs it and renames it over
/// `path`, then fsyncs the directory.
pub(crate) fn write_file_atomic(path: &Path, data: &[u8]) -> Result<(), Error> {
    let mut tmp = path.as_os_str().to_owned();
    tmp.push(".tmp");
    let tmp = PathBuf::from(tmp);
    let mut f = std::fs::File::create(&tmp).map_err(|e| Error::io("create", &tmp, e))?;
    f.write_all(data).map_err(|e| Error::io("write", &tmp, e))?;
    f.sync_all().map_err(|e| Error::io("fsync", &tmp, e))?;
    drop(f);
    std::fs::rename(&tmp, path).map_err(|e| Error::io("rename", &tmp, e))?;
    if let Some(dir) = path.parent() {
        fsync_dir(dir)?;
    }
    Ok(())
}

/// Fsyncs a directory, making renames and creations in it durable.
pub(crate) fn fsync_dir(dir: &Path) -> Result<(), Error> {
    let d = std::fs::File::open(dir).map_err(|e| Error::io("open", dir, e))?;
    d.sync_all().map_err(|e| Error::io("fsync", dir, e))
}

/// Bytes of the regular files under `dir`, recursively.
pub(crate) fn dir_size(dir: &Path) -> u64 {
    let Ok(rd) = std::fs::read_dir(dir) else {
        return 0;
    };
    rd.flatten()
        .map(|e| match e.file_type() {
            Ok(t) if t.is_dir() => dir_size(&e.path()),
            Ok(_) => e.metadata().map_or(0, |m| m.len()),
            Err(_) => 0,
        })
        .sum()
}
