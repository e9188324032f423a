//! The appending side of the WAL.

use std::fs::{File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;

use expfmt::family::SummaryWindow;

use super::segment::{self, Fragment, SNAPPY_FLAG, fsync_dir, segment_path};
use super::{Compression, Error, HEADER_SIZE, Options, PAGE_SIZE};

/// Counters of a [`Wal`], updated per batch. The head exports them as
/// `prometheus_tsdb_wal_*` metrics.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct WalStats {
    /// Records logged.
    pub records: u64,
    /// Bytes of records before compression.
    pub record_bytes: u64,
    /// Bytes saved by compression (`record_bytes_saved_total`).
    pub bytes_saved: u64,
    /// Fragments written (`record_part_writes_total`).
    pub fragments: u64,
    /// Page writes to the OS (`page_flushes_total`).
    pub page_flushes: u64,
    /// Pages completed (`completed_pages_total`).
    pub completed_pages: u64,
    /// Segments started after the first.
    pub rotations: u64,
    /// Segment and directory fsyncs.
    pub fsyncs: u64,
    /// `log` calls that failed (`writes_failed_total`).
    pub failed_writes: u64,
}

/// The writer of a WAL directory.
///
/// Opening never appends to an existing segment: like Prometheus, it
/// starts a new segment after the last one, so a torn tail left by a crash
/// stays where [`super::Reader`] and [`super::repair()`] find it. Read (and if
/// needed repair) the directory before opening the writer.
///
/// Durability: [`Wal::log`] hands every batch to the OS before returning,
/// but fsyncs only when a segment is completed (in the background, at most
/// one at a time) and in [`Wal::close`]; see `docs/format/wal.md`.
pub struct Wal {
    dir: PathBuf,
    opts: Options,
    file: Option<File>,
    index: u32,
    /// Pages of the active segment that are complete on disk.
    done_pages: u64,
    page: Box<[u8]>,
    /// Bytes of `page` in use.
    alloc: usize,
    /// Bytes of `page` already written to the file.
    flushed: usize,
    compressed: Vec<u8>,
    snappy: snap::raw::Encoder,
    /// The fsync of the previous segment, running in the background.
    pending_sync: Option<JoinHandle<Result<(), Error>>>,
    stats: WalStats,
    /// Durations of segment fsyncs in seconds, background ones included
    /// (`prometheus_tsdb_wal_fsync_duration_seconds`).
    fsync_times: Arc<Mutex<SummaryWindow>>,
}

/// Fsyncs a segment file, recording how long it took.
fn timed_fsync(file: &File, path: &Path, times: &Mutex<SummaryWindow>) -> Result<(), Error> {
    let start = std::time::Instant::now();
    let res = file.sync_all();
    times
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
        .observe(start.elapsed().as_secs_f64());
    res.map_err(Error::io("fsync segment", path))
}

impl std::fmt::Debug for Wal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Wal")
            .field("dir", &self.dir)
            .field("segment", &self.index)
            .field("options", &self.opts)
            .finish_non_exhaustive()
    }
}

fn create_segment(dir: &Path, index: u32) -> Result<File, Error> {
    let path = segment_path(dir, index);
    OpenOptions::new()
        .create(true)
        .append(true)
        .open(&path)
        .map_err(Error::io("create segment", &path))
}

impl Wal {
    /// Opens the WAL in `dir` (created if missing) for appending, starting
    /// a new segment after the last existing one (and after the last
    /// checkpoint).
    pub fn open(dir: impl AsRef<Path>, opts: Options) -> Result<Wal, Error> {
        let dir = dir.as_ref().to_path_buf();
        if opts.segment_size == 0 || !opts.segment_size.is_multiple_of(PAGE_SIZE as u64) {
            return Err(Error::SegmentSize(opts.segment_size));
        }
        std::fs::create_dir_all(&dir).map_err(Error::io("create WAL directory", &dir))?;
        let mut index = match segment::segments(&dir)? {
            Some((_, last)) => last + 1,
            None => 0,
        };
        // Never reuse an index a checkpoint covers, even when truncation
        // removed every segment: replay skips segments up to the checkpoint.
        if let Some((_, cp)) = super::last_checkpoint(&dir)? {
            index = index.max(cp.saturating_add(1));
        }
        let file = create_segment(&dir, index)?;
        let mut w = Wal {
            dir,
            opts,
            file: None,
            index,
            done_pages: 0,
            page: vec![0u8; PAGE_SIZE].into_boxed_slice(),
            alloc: 0,
            flushed: 0,
            compressed: Vec::new(),
            snappy: snap::raw::Encoder::new(),
            pending_sync: None,
            stats: WalStats::default(),
            fsync_times: Arc::default(),
        };
        w.set_segment(file, index)?;
        Ok(w)
    }

    fn set_segment(&mut self, file: File, index: u32) -> Result<(), Error> {
        let len = file
            .metadata()
            .map_err(Error::io("stat segment", segment_path(&self.dir, index)))?
            .len();
        self.done_pages = len / PAGE_SIZE as u64;
        self.file = Some(file);
        self.index = index;
        Ok(())
    }

    /// The WAL directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The index of the segment being written.
    pub fn segment_index(&self) -> u32 {
        self.index
    }

    /// The counters so far.
    pub fn stats(&self) -> WalStats {
        self.stats
    }

    /// The segment fsyncs' durations as Prometheus's summary (quantiles
    /// 0.5, 0.9 and 0.99 over the last ten minutes).
    pub fn fsync_summary(&self) -> expfmt::MetricValue {
        self.fsync_times
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .value(&[0.5, 0.9, 0.99])
    }

    /// The active segment and the byte offset up to which it is written.
    pub fn last_segment_and_offset(&self) -> (u32, u64) {
        (
            self.index,
            self.done_pages * PAGE_SIZE as u64 + self.alloc as u64,
        )
    }

    fn page_full(&self) -> bool {
        PAGE_SIZE - self.alloc < HEADER_SIZE
    }

    /// Writes the unwritten part of the page; when the page cannot take
    /// another header (or `force_clear`), pads it with zeros to its end and
    /// starts a new one.
    fn flush_page(&mut self, force_clear: bool) -> Result<(), Error> {
        let clear = force_clear || self.page_full();
        let used = self.alloc;
        if clear {
            self.alloc = PAGE_SIZE; // The rest of the page is zeros already.
        }
        self.stats.page_flushes += 1;
        let Some(file) = self.file.as_mut() else {
            return Err(Error::Closed(self.dir.clone()));
        };
        while self.flushed < self.alloc {
            match file.write(&self.page[self.flushed..self.alloc]) {
                Ok(0) => {
                    return Err(Error::Io {
                        op: "write segment",
                        path: segment_path(&self.dir, self.index),
                        source: std::io::ErrorKind::WriteZero.into(),
                    });
                }
                Ok(n) => self.flushed += n,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                Err(source) => {
                    return Err(Error::Io {
                        op: "write segment",
                        path: segment_path(&self.dir, self.index),
                        source,
                    });
                }
            }
        }
        if clear {
            self.page[..used].fill(0);
            self.alloc = 0;
            self.flushed = 0;
            self.done_pages += 1;
            self.stats.completed_pages += 1;
        }
        Ok(())
    }

    fn pages_per_segment(&self) -> u64 {
        self.opts.segment_size / PAGE_SIZE as u64
    }

    /// Appends `records` as one batch and hands it to the OS. Records must
    /// not be empty (every record encoding starts with its type byte).
    ///
    /// A record that does not fit in the rest of the active segment starts
    /// a new segment; one larger than a whole segment gets a segment of its
    /// own that exceeds the size (Prometheus does the same).
    pub fn log(&mut self, records: &[&[u8]]) -> Result<(), Error> {
        if self.file.is_none() {
            return Err(Error::Closed(self.dir.clone()));
        }
        if records.iter().any(|r| r.is_empty()) {
            self.stats.failed_writes += 1;
            return Err(Error::EmptyRecord(self.dir.clone()));
        }
        for (i, rec) in records.iter().enumerate() {
            if let Err(e) = self.log_one(rec, i + 1 == records.len()) {
                self.stats.failed_writes += 1;
                return Err(e);
            }
        }
        Ok(())
    }

    fn log_one(&mut self, rec: &[u8], last_of_batch: bool) -> Result<(), Error> {
        if self.page_full() {
            self.flush_page(true)?;
        }
        let mut compressed = std::mem::take(&mut self.compressed);
        let mut flags = 0;
        let mut data = rec;
        if self.opts.compression == Compression::Snappy {
            compressed.resize(snap::raw::max_compress_len(rec.len()), 0);
            // Compressing can only fail for inputs over 4 GiB; store those raw.
            if let Ok(n) = self.snappy.compress(rec, &mut compressed)
                && n < rec.len()
            {
                data = &compressed[..n];
                flags = SNAPPY_FLAG;
                self.stats.bytes_saved += (rec.len() - n) as u64;
            }
        }
        let result = self.write_fragments(data, flags, last_of_batch);
        self.compressed = compressed;
        if result.is_ok() {
            self.stats.records += 1;
            self.stats.record_bytes += rec.len() as u64;
        }
        result
    }

    fn write_fragments(
        &mut self,
        mut data: &[u8],
        flags: u8,
        last_of_batch: bool,
    ) -> Result<(), Error> {
        // Space for data left in this segment: the rest of this page and
        // every page after it, less one header each.
        let per_page = (PAGE_SIZE - HEADER_SIZE) as i128;
        let left = (PAGE_SIZE - self.alloc) as i128 - HEADER_SIZE as i128
            + per_page * (self.pages_per_segment() as i128 - self.done_pages as i128 - 1);
        if data.len() as i128 > left {
            self.next_segment()?;
        }
        let mut first = true;
        while !data.is_empty() {
            let room = PAGE_SIZE - self.alloc - HEADER_SIZE;
            let n = data.len().min(room);
            let (part, rest) = data.split_at(n);
            let kind = match (first, rest.is_empty()) {
                (true, true) => Fragment::Full,
                (true, false) => Fragment::First,
                (false, true) => Fragment::Last,
                (false, false) => Fragment::Middle,
            };
            let h = segment::header(kind, flags, part);
            self.page[self.alloc..self.alloc + HEADER_SIZE].copy_from_slice(&h);
            self.page[self.alloc + HEADER_SIZE..self.alloc + HEADER_SIZE + n].copy_from_slice(part);
            self.alloc += HEADER_SIZE + n;
            self.stats.fragments += 1;
            if self.page_full() {
                self.flush_page(true)?;
            }
            data = rest;
            first = false;
        }
        if last_of_batch && self.alloc > 0 {
            self.flush_page(false)?;
        }
        Ok(())
    }

    /// Waits for the background fsync of the previous segment.
    fn join_pending(&mut self) -> Result<(), Error> {
        if let Some(h) = self.pending_sync.take() {
            match h.join() {
                Ok(r) => r?,
                Err(_) => {
                    return Err(Error::Io {
                        op: "fsync segment",
                        path: self.dir.clone(),
                        source: std::io::Error::other("fsync thread panicked"),
                    });
                }
            }
        }
        Ok(())
    }

    /// Completes the active segment (padding its last page) and starts the
    /// next one; the completed segment is fsynced in the background. Returns
    /// the new segment's index.
    pub fn next_segment(&mut self) -> Result<u32, Error> {
        if self.file.is_none() {
            return Err(Error::Closed(self.dir.clone()));
        }
        if self.alloc > 0 {
            self.flush_page(true)?;
        }
        // At most one fsync in flight; an earlier failure surfaces here.
        self.join_pending()?;
        let next = self.index + 1;
        let file = create_segment(&self.dir, next)?;
        let prev = self.file.take();
        let prev_path = segment_path(&self.dir, self.index);
        self.set_segment(file, next)?;
        self.alloc = 0;
        self.flushed = 0;
        self.stats.rotations += 1;
        self.stats.fsyncs += 2;
        let dir = self.dir.clone();
        let times = Arc::clone(&self.fsync_times);
        self.pending_sync = Some(std::thread::spawn(move || {
            if let Some(f) = prev {
                timed_fsync(&f, &prev_path, &times)?;
            }
            fsync_dir(&dir)
        }));
        Ok(next)
    }

    /// Fsyncs the active segment now. The head does not call this per
    /// commit; it is for callers that need a durable point.
    pub fn sync(&mut self) -> Result<(), Error> {
        let Some(file) = self.file.as_ref() else {
            return Err(Error::Closed(self.dir.clone()));
        };
        timed_fsync(
            file,
            &segment_path(&self.dir, self.index),
            &self.fsync_times,
        )?;
        self.stats.fsyncs += 1;
        Ok(())
    }

    /// Deletes segments below `before` (see [`super::truncate()`]).
    pub fn truncate(&self, before: u32) -> Result<usize, Error> {
        super::truncate(&self.dir, before)
    }

    /// Pads the last page, fsyncs the active segment and the directory, and
    /// closes the log. Later calls to `log` fail with [`Error::Closed`].
    pub fn close(&mut self) -> Result<(), Error> {
        if self.file.is_none() {
            return Err(Error::Closed(self.dir.clone()));
        }
        // An empty page is not flushed: a zero page would mark the segment
        // as having a completed page.
        let flushed = if self.alloc > 0 {
            self.flush_page(true)
        } else {
            Ok(())
        };
        let pending = self.join_pending();
        let synced = self.sync();
        let dir = fsync_dir(&self.dir);
        self.file = None;
        flushed.and(pending).and(synced).and(dir)
    }
}

impl Drop for Wal {
    fn drop(&mut self) {
        // Every batch is already with the OS; only the background fsync is
        // left to wait for. Its error has no one to go to here.
        let _ = self.join_pending();
    }
}
