//! Segment files: names, listing, the fragment header and directory fsync.

use std::fs::File;
use std::path::{Path, PathBuf};

use super::Error;

/// Flag bit of the header's type byte: the record is snappy-compressed.
pub(crate) const SNAPPY_FLAG: u8 = 0x08;
/// Flag bit of the header's type byte: the record is zstd-compressed.
pub(crate) const ZSTD_FLAG: u8 = 0x10;
/// The fragment-type bits of the header's type byte.
pub(crate) const TYPE_MASK: u8 = 0x07;
/// Bits no writer sets.
pub(crate) const RESERVED_MASK: u8 = 0xe0;

/// Fragment types (the low three bits of the header's type byte).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Fragment {
    /// A whole record.
    Full = 1,
    /// The first fragment of a record split across pages.
    First = 2,
    /// A fragment between the first and the last.
    Middle = 3,
    /// The last fragment of a split record.
    Last = 4,
}

impl Fragment {
    pub(crate) fn from_bits(b: u8) -> Option<Fragment> {
        match b & TYPE_MASK {
            1 => Some(Fragment::Full),
            2 => Some(Fragment::First),
            3 => Some(Fragment::Middle),
            4 => Some(Fragment::Last),
            _ => None,
        }
    }

    pub(crate) fn name(self) -> &'static str {
        match self {
            Fragment::Full => "full",
            Fragment::First => "first",
            Fragment::Middle => "middle",
            Fragment::Last => "last",
        }
    }
}

/// The path of segment `index` in `dir`: eight zero-padded digits.
pub fn segment_path(dir: &Path, index: u32) -> PathBuf {
    dir.join(format!("{index:08}"))
}

/// The segment index a file name stands for, if it is one.
fn parse_index(name: &str) -> Option<u32> {
    if name.is_empty() || !name.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    name.parse().ok()
}

/// The segments in `dir`, sorted by index; fails if there is a gap.
pub(crate) fn list(dir: &Path) -> Result<Vec<(u32, PathBuf)>, Error> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).map_err(Error::io("list WAL directory", dir))? {
        let entry = entry.map_err(Error::io("list WAL directory", dir))?;
        let name = entry.file_name();
        let Some(index) = name.to_str().and_then(parse_index) else {
            continue;
        };
        out.push((index, entry.path()));
    }
    out.sort_by_key(|(i, _)| *i);
    for w in out.windows(2) {
        if w[0].0.checked_add(1) != Some(w[1].0) {
            return Err(Error::NotSequential {
                dir: dir.to_path_buf(),
                prev: w[0].0,
                next: w[1].0,
            });
        }
    }
    Ok(out)
}

/// The first and last segment index in `dir`, `None` when there is none.
pub fn segments(dir: &Path) -> Result<Option<(u32, u32)>, Error> {
    let list = list(dir)?;
    Ok(match (list.first(), list.last()) {
        (Some(a), Some(b)) => Some((a.0, b.0)),
        _ => None,
    })
}

/// Makes the directory entries of `dir` durable (new, renamed and removed
/// files).
pub(crate) fn fsync_dir(dir: &Path) -> Result<(), Error> {
    File::open(dir)
        .and_then(|f| f.sync_all())
        .map_err(Error::io("fsync directory", dir))
}

/// Builds a fragment header.
pub(crate) fn header(kind: Fragment, flags: u8, data: &[u8]) -> [u8; super::HEADER_SIZE] {
    let mut h = [0u8; super::HEADER_SIZE];
    h[0] = kind as u8 | flags;
    h[1..3].copy_from_slice(&(data.len() as u16).to_be_bytes());
    h[3..7].copy_from_slice(&crc32c::crc32c(data).to_be_bytes());
    h
}
