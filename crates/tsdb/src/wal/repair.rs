//! Cutting a damaged log back to its good prefix.

use std::fs::{File, OpenOptions};
use std::io::{Read, Write};

use super::segment::{self, fsync_dir, segment_path};
use super::{Corruption, Error, PAGE_SIZE};

/// What [`repair()`] dropped.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RepairReport {
    /// The corrupt segment, kept up to `offset`.
    pub segment: u32,
    /// Where the corrupt segment was cut.
    pub offset: u64,
    /// Bytes cut from the corrupt segment.
    pub dropped_bytes: u64,
    /// Segments after the corrupt one, deleted, with their sizes in bytes.
    pub deleted_segments: Vec<(u32, u64)>,
}

impl RepairReport {
    /// Every byte dropped, in the corrupt segment and after it.
    pub fn total_dropped_bytes(&self) -> u64 {
        self.dropped_bytes + self.deleted_segments.iter().map(|(_, n)| n).sum::<u64>()
    }
}

/// Discards everything from `corruption` on: deletes every later segment and
/// rewrites the corrupt one with its bytes before `corruption.offset` (all
/// complete, verified records) followed by zeros to the end of that page, as
/// Prometheus's `Repair` leaves it. The rewrite goes through a `.repair`
/// file that is fsynced and renamed over the segment.
///
/// Like Prometheus, nothing after the corruption is salvaged: records may
/// depend on earlier ones (samples on series), so a hole is worse than a
/// shorter log. Call it before opening a [`super::Wal`] on the directory;
/// the writer then starts the segment after the repaired one.
pub fn repair(corruption: &Corruption) -> Result<RepairReport, Error> {
    let dir = &corruption.dir;
    tracing::warn!(
        dir = %dir.display(),
        segment = corruption.segment,
        offset = corruption.offset,
        reason = %corruption.reason,
        "starting WAL corruption repair"
    );
    let mut deleted_segments = Vec::new();
    for (index, path) in segment::list(dir)? {
        if index <= corruption.segment {
            continue;
        }
        let size = std::fs::metadata(&path).map(|m| m.len()).unwrap_or(0);
        std::fs::remove_file(&path).map_err(Error::io("delete segment", &path))?;
        tracing::warn!(
            segment = index,
            bytes = size,
            "deleted WAL segment after corruption"
        );
        deleted_segments.push((index, size));
    }

    let path = segment_path(dir, corruption.segment);
    let old_len = std::fs::metadata(&path)
        .map_err(Error::io("stat segment", &path))?
        .len();
    let keep = corruption.offset.min(old_len);
    let tmp = path.with_extension("repair");
    {
        let mut src = File::open(&path).map_err(Error::io("open segment", &path))?;
        let mut dst = OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .open(&tmp)
            .map_err(Error::io("create repair file", &tmp))?;
        let copied = std::io::copy(&mut (&mut src).take(keep), &mut dst)
            .map_err(Error::io("copy segment", &tmp))?;
        if copied != keep {
            return Err(Error::Io {
                op: "copy segment",
                path: path.clone(),
                source: std::io::ErrorKind::UnexpectedEof.into(),
            });
        }
        let pad = (PAGE_SIZE as u64 - keep % PAGE_SIZE as u64) % PAGE_SIZE as u64;
        dst.write_all(&vec![0u8; pad as usize])
            .map_err(Error::io("pad segment", &tmp))?;
        dst.sync_all().map_err(Error::io("fsync segment", &tmp))?;
    }
    std::fs::rename(&tmp, &path).map_err(Error::io("replace segment", &path))?;
    fsync_dir(dir)?;

    let report = RepairReport {
        segment: corruption.segment,
        offset: keep,
        dropped_bytes: old_len - keep,
        deleted_segments,
    };
    tracing::warn!(
        segment = report.segment,
        offset = report.offset,
        dropped_bytes = report.dropped_bytes,
        deleted_segments = report.deleted_segments.len(),
        total_dropped_bytes = report.total_dropped_bytes(),
        "repaired WAL"
    );
    Ok(report)
}
