//! The database: the [`Head`] plus the persisted blocks of a data
//! directory, laid out as Prometheus lays it out (`<dir>/<ulid>/` blocks,
//! `wal/`, `chunks_head/`, `wbl/`).
//!
//! [`Db`] is [`Appendable`] (appends go to the head) and [`Queryable`]
//! (a merge of the blocks overlapping the range and the head; where two
//! hold a sample at the same time the block wins). [`Db::compact`] does
//! what Prometheus's `DB.Compact` does: while the head spans more than
//! 1.5 chunk ranges, its oldest chunk range is written as a block and then
//! truncated from the head (and WAL); then blocks are merged as
//! [`compact::plan`] says. Every change to the set of blocks goes through
//! [`Db::reload`], which also applies retention (time: blocks ending more
//! than the retention before the newest block's end; size: the newest
//! blocks that fit, counting the WAL and head chunks) and deletes blocks
//! that a compaction replaced (listed as `parents` of a loaded block) or
//! marked `deletable`. Deletion renames a block to `*.tmp-for-deletion`
//! first; opening removes leftover temporary directories. So a crash at
//! any step leaves a directory that opens with nothing lost.
//!
//! Out-of-order samples older than the newest block (accepted within the
//! head's out-of-order window) wait in the head; before the head is cut,
//! and at open after the write-behind log's replay, they are written as
//! blocks of one chunk range each (hint `from-out-of-order`) that vertical
//! compaction merges into the blocks they overlap. The directory is
//! locked with Prometheus's `lock` file while open ([`DbOptions::lockfile`]).
//!
//! Deletion of series ([`Db::delete`]) writes tombstones into the blocks
//! and, for the head, logs a tombstones record to the WAL and keeps the
//! intervals (by series labels) that queries and the next head compaction
//! apply; replay restores them. Queries of samples never see deleted
//! samples, nor a head series whose samples are all deleted; a metadata
//! select (`SelectHints::func` `series`, the series API) still lists such a
//! series while its open chunk is in range, as Prometheus does: its head
//! index gives the open chunk an end time of `i64::MAX`, which no deletion
//! covers, until the head is compacted.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicI64, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::time::Instant;

use expfmt::MetricFamily;
use model::matcher::Matcher;
use model::{Labels, Timestamp};
use storage::query::{BoxedSeries, Warnings};
use storage::{
    Appendable, Appender, LabelHints, MergeQuerier, Querier, Queryable, SelectHints, Series,
    SeriesSet, StorageError, ValueType,
};

use crate::block::tombstones::{Interval, add_interval, is_deleted};
use crate::block::{self, Block, BlockMeta, TMP_FOR_CREATION, TMP_FOR_DELETION, Ulid};
use crate::chunkenc::range_for_timestamp;
use crate::compact;
use crate::head::{self, Head, HeadOptions};
use crate::record::{HeadSeriesRef, RefTombstone};

/// Default minimum block duration (the head's chunk range): 2h.
pub const DEFAULT_BLOCK_DURATION: i64 = 2 * 3600 * 1000;
/// Prometheus's default time retention: 15d.
pub const DEFAULT_RETENTION: i64 = 15 * 24 * 3600 * 1000;

/// How the database is configured.
#[derive(Clone, Debug, PartialEq)]
pub struct DbOptions {
    /// The head's options (its chunk range is the minimum block duration).
    pub head: HeadOptions,
    /// Keep blocks this long (ms) behind the newest block's end; 0 keeps
    /// them forever.
    pub retention_duration: i64,
    /// Keep at most this many bytes of blocks, WAL and head chunks; 0 for
    /// no limit.
    pub retention_size: u64,
    /// Largest compacted block (ms). Prometheus: 10% of the retention,
    /// at most 31d.
    pub max_block_duration: i64,
    /// Whether overlapping blocks are merged (vertical compaction).
    pub overlapping_compaction: bool,
    /// Whether the directory is locked against a second process (a file
    /// `lock` held with `flock`, as Prometheus does; off with its
    /// `--storage.tsdb.no-lockfile`).
    pub lockfile: bool,
}

impl Default for DbOptions {
    fn default() -> Self {
        DbOptions {
            head: HeadOptions::default(),
            retention_duration: DEFAULT_RETENTION,
            retention_size: 0,
            max_block_duration: DEFAULT_RETENTION / 10,
            overlapping_compaction: true,
            lockfile: true,
        }
    }
}

impl DbOptions {
    /// The compaction levels: 2h, 6h, 18h, … up to the maximum block
    /// duration (at least the first).
    pub fn block_ranges(&self) -> Vec<i64> {
        let min = self.head.chunk_range;
        let mut r: Vec<i64> = compact::exponential_block_ranges(min, 10, 3)
            .into_iter()
            .filter(|&r| r <= self.max_block_duration.max(min))
            .collect();
        if r.is_empty() {
            r.push(min);
        }
        r
    }
}

/// An error of the database.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The head failed.
    #[error(transparent)]
    Head(#[from] head::Error),
    /// A block failed.
    #[error(transparent)]
    Block(Box<block::Error>),
    /// A block could not be opened and nothing replaces it.
    #[error("corrupted block {ulid}: {source}")]
    CorruptedBlock {
        /// The block.
        ulid: Ulid,
        /// The cause.
        source: Box<block::Error>,
    },
    /// Another process holds the directory's lock file.
    #[error(
        "lock DB directory: {} is held by another process (a second Ember or Prometheus on the same storage.tsdb.path?)",
        path.display()
    )]
    Locked {
        /// The lock file.
        path: PathBuf,
    },
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
}

impl From<block::Error> for Error {
    fn from(e: block::Error) -> Error {
        Error::Block(Box::new(e))
    }
}

fn io<'a>(op: &'static str, path: &'a Path) -> impl FnOnce(std::io::Error) -> Error + 'a {
    move |source| Error::Io {
        op,
        path: path.to_path_buf(),
        source,
    }
}

/// Counters of the database's own work.
#[derive(Debug)]
struct DbMetrics {
    compactions: AtomicU64,
    compactions_failed: AtomicU64,
    compactions_triggered: AtomicU64,
    vertical_compactions: AtomicU64,
    /// Whether a block is being written (compaction, head block, snapshot).
    populating_block: AtomicBool,
    compaction_duration: AtomicHistogram,
    /// The chunks of blocks written from the head (Prometheus's level-1
    /// compactions), as they are finally cut.
    chunk_size: AtomicHistogram,
    chunk_samples: AtomicHistogram,
    chunk_range: AtomicHistogram,
    tombstone_cleanup: AtomicHistogram,
    reloads: AtomicU64,
    reloads_failed: AtomicU64,
    time_retentions: AtomicU64,
    size_retentions: AtomicU64,
    blocks_bytes: AtomicU64,
}

impl Default for DbMetrics {
    fn default() -> Self {
        DbMetrics {
            compactions: AtomicU64::default(),
            compactions_failed: AtomicU64::default(),
            compactions_triggered: AtomicU64::default(),
            vertical_compactions: AtomicU64::default(),
            populating_block: AtomicBool::default(),
            compaction_duration: AtomicHistogram::new(&COMPACTION_BUCKETS),
            chunk_size: AtomicHistogram::new(&CHUNK_SIZE_BUCKETS),
            chunk_samples: AtomicHistogram::new(&CHUNK_SAMPLES_BUCKETS),
            chunk_range: AtomicHistogram::new(&CHUNK_RANGE_BUCKETS),
            tombstone_cleanup: AtomicHistogram::new(&TOMBSTONE_CLEANUP_BUCKETS),
            reloads: AtomicU64::default(),
            reloads_failed: AtomicU64::default(),
            time_retentions: AtomicU64::default(),
            size_retentions: AtomicU64::default(),
            blocks_bytes: AtomicU64::default(),
        }
    }
}

/// Upper bounds (s) of `prometheus_tsdb_compaction_duration_seconds`, as
/// Prometheus's (exponential from 1 by 2, 14 buckets).
const COMPACTION_BUCKETS: [f64; 14] = [
    1.0, 2.0, 4.0, 8.0, 16.0, 32.0, 64.0, 128.0, 256.0, 512.0, 1024.0, 2048.0, 4096.0, 8192.0,
];
/// `prometheus_tsdb_compaction_chunk_size_bytes`: from 32 by 1.5, 12.
const CHUNK_SIZE_BUCKETS: [f64; 12] = [
    32.0,
    48.0,
    72.0,
    108.0,
    162.0,
    243.0,
    364.5,
    546.75,
    820.125,
    1230.1875,
    1845.28125,
    2767.921875,
];
/// `prometheus_tsdb_compaction_chunk_samples`: from 4 by 1.5, 12.
const CHUNK_SAMPLES_BUCKETS: [f64; 12] = [
    4.0,
    6.0,
    9.0,
    13.5,
    20.25,
    30.375,
    45.5625,
    68.34375,
    102.515625,
    153.7734375,
    230.66015625,
    345.990234375,
];
/// `prometheus_tsdb_compaction_chunk_range_seconds`: from 100 by 4, 10.
/// Prometheus observes the range in milliseconds despite the name (and
/// these bounds fit milliseconds); so does Ember, for the same dashboards.
const CHUNK_RANGE_BUCKETS: [f64; 10] = [
    100.0, 400.0, 1600.0, 6400.0, 25600.0, 102400.0, 409600.0, 1638400.0, 6553600.0, 26214400.0,
];
/// `prometheus_tsdb_tombstone_cleanup_seconds`: client_golang's defaults.
const TOMBSTONE_CLEANUP_BUCKETS: [f64; 11] = [
    0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
];

/// A classic histogram with fixed upper bounds, observed from any thread.
#[derive(Debug)]
struct AtomicHistogram {
    bounds: &'static [f64],
    /// Observations per bucket (not cumulative; the last is `+Inf`'s own).
    counts: Box<[AtomicU64]>,
    /// The sum's `f64` bits.
    sum: AtomicU64,
}

impl AtomicHistogram {
    fn new(bounds: &'static [f64]) -> AtomicHistogram {
        AtomicHistogram {
            bounds,
            counts: (0..=bounds.len()).map(|_| AtomicU64::new(0)).collect(),
            sum: AtomicU64::new(0f64.to_bits()),
        }
    }

    fn observe(&self, v: f64) {
        let i = self
            .bounds
            .iter()
            .position(|b| v <= *b)
            .unwrap_or(self.bounds.len());
        self.counts[i].fetch_add(1, Ordering::Relaxed);
        let _ = self
            .sum
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |bits| {
                Some((f64::from_bits(bits) + v).to_bits())
            });
    }

    fn family(&self, name: &str, help: &str) -> MetricFamily {
        let mut cum = 0u64;
        let buckets = self
            .bounds
            .iter()
            .zip(self.counts.iter())
            .map(|(b, n)| {
                cum += n.load(Ordering::Relaxed);
                expfmt::family::Bucket {
                    upper_bound: *b,
                    cumulative_count: cum as f64,
                    exemplar: None,
                }
            })
            .collect();
        let count: u64 = self.counts.iter().map(|n| n.load(Ordering::Relaxed)).sum();
        MetricFamily {
            name: name.into(),
            help: help.into(),
            unit: String::new(),
            kind: model::MetricType::Histogram,
            metrics: vec![expfmt::Metric {
                labels: Vec::new(),
                value: expfmt::MetricValue::Histogram(expfmt::family::Histogram {
                    count: count as f64,
                    sum: f64::from_bits(self.sum.load(Ordering::Relaxed)),
                    buckets,
                    created_ms: None,
                    native: None,
                    exemplars: Vec::new(),
                }),
                timestamp_ms: None,
            }],
        }
    }
}

/// Sets `prometheus_tsdb_compaction_populating_block` while a block is
/// written.
struct Populating<'a>(&'a AtomicBool);

impl<'a> Populating<'a> {
    fn start(flag: &'a AtomicBool) -> Populating<'a> {
        flag.store(true, Ordering::Relaxed);
        Populating(flag)
    }
}

impl Drop for Populating<'_> {
    fn drop(&mut self) {
        self.0.store(false, Ordering::Relaxed);
    }
}

/// The database (see the module docs).
pub struct Db {
    dir: PathBuf,
    opts: DbOptions,
    head: Head,
    blocks: RwLock<Arc<Vec<Arc<Block>>>>,
    /// Serializes compaction, reloads, deletion and snapshots.
    cmtx: Mutex<()>,
    /// Data before this is in blocks; the head is not compacted below it.
    head_floor: AtomicI64,
    /// Deleted intervals of head series, by labels.
    head_deleted: RwLock<HashMap<Labels, Vec<Interval>>>,
    metrics: DbMetrics,
    /// The directory's lock, held while the database is open.
    lock: Option<DirLock>,
}

/// The lock file `lock` in a database directory, held with an exclusive
/// `flock` (what Prometheus takes, so neither opens a directory the other
/// has open). A clean close removes the file; a crash leaves it, and the
/// next open says so in `prometheus_tsdb_clean_start`.
#[derive(Debug)]
struct DirLock {
    file: std::fs::File,
    path: PathBuf,
    /// Whether no lock file was left over from an earlier run.
    clean: bool,
}

impl DirLock {
    fn acquire(dir: &Path) -> Result<DirLock, Error> {
        let path = dir.join("lock");
        let clean = !path.exists();
        let file = std::fs::OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&path)
            .map_err(io("open lock file", &path))?;
        match file.try_lock() {
            Ok(()) => {}
            Err(std::fs::TryLockError::WouldBlock) => return Err(Error::Locked { path }),
            Err(std::fs::TryLockError::Error(e)) => return Err(io("lock", &path)(e)),
        }
        if !clean {
            tracing::warn!(
                path = %path.display(),
                "a lock file from a previous run already existed (it was not shut down cleanly); it was replaced"
            );
        }
        Ok(DirLock { file, path, clean })
    }

    /// Unlocks and removes the file.
    fn release(self) {
        let _ = std::fs::remove_file(&self.path);
        drop(self.file);
    }
}

impl std::fmt::Debug for Db {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Db")
            .field("dir", &self.dir)
            .field("blocks", &self.blocks().len())
            .finish_non_exhaustive()
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

impl Db {
    /// Opens (or creates) the database in `dir`: removes leftover temporary
    /// directories, loads the blocks (applying retention and finishing
    /// interrupted compactions), then opens the head, replaying its WAL.
    pub fn open(dir: impl AsRef<Path>, opts: DbOptions) -> Result<Db, Error> {
        let dir = dir.as_ref().to_path_buf();
        std::fs::create_dir_all(&dir).map_err(io("create", &dir))?;
        // Before anything in the directory is touched.
        let dir_lock = if opts.lockfile {
            Some(DirLock::acquire(&dir)?)
        } else {
            None
        };
        remove_tmp_dirs(&dir)?;
        let head = Head::open(&dir, opts.head.clone())?;
        let db = Db {
            dir,
            opts,
            head,
            blocks: RwLock::new(Arc::new(Vec::new())),
            cmtx: Mutex::new(()),
            head_floor: AtomicI64::new(i64::MIN),
            head_deleted: RwLock::new(HashMap::new()),
            metrics: DbMetrics::default(),
            lock: dir_lock,
        };
        {
            let _g = lock(&db.cmtx);
            db.reload_locked()?;
        }
        // Deletions logged to the WAL before the restart.
        {
            let mut del = db.head_deleted.write().unwrap_or_else(|p| p.into_inner());
            for (labels, t) in db.head.take_replayed_tombstones() {
                add_interval(
                    del.entry(labels).or_default(),
                    Interval {
                        mint: t.mint.0,
                        maxt: t.maxt.0,
                    },
                );
            }
        }
        // Samples already in blocks leave the head (Prometheus sets the
        // head's minimum valid time to the last block's end).
        if let Some(maxt) = db.blocks().iter().map(|b| b.max_time()).max() {
            db.head_floor.store(maxt, Ordering::Relaxed);
            // Out-of-order samples older than that (replayed from the
            // write-behind log) are written to blocks before they leave.
            {
                let _g = lock(&db.cmtx);
                db.compact_ooo_below_floor()?;
            }
            if db.head.min_time().is_some_and(|t| t < maxt) {
                db.head.truncate(maxt)?;
            } else {
                // Nothing to drop, but nothing may be appended there
                // either (e.g. a directory of blocks without a WAL).
                db.head.min_valid_time.fetch_max(maxt, Ordering::Relaxed);
            }
        }
        Ok(db)
    }

    /// The data directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The options.
    pub fn options(&self) -> &DbOptions {
        &self.opts
    }

    /// The head.
    pub fn head(&self) -> &Head {
        &self.head
    }

    /// The loaded blocks, oldest first.
    pub fn blocks(&self) -> Arc<Vec<Arc<Block>>> {
        Arc::clone(&self.blocks.read().unwrap_or_else(|p| p.into_inner()))
    }

    /// Smallest timestamp held (blocks or head).
    pub fn min_time(&self) -> Option<i64> {
        let b = self.blocks().first().map(|b| b.min_time());
        match (b, self.head.min_time()) {
            (Some(a), Some(h)) => Some(a.min(h)),
            (a, h) => a.or(h),
        }
    }

    /// Rescans the directory for blocks, applies retention, deletes
    /// replaced or deletable blocks.
    pub fn reload(&self) -> Result<(), Error> {
        let _g = lock(&self.cmtx);
        self.reload_locked()
    }

    fn reload_locked(&self) -> Result<(), Error> {
        self.metrics.reloads.fetch_add(1, Ordering::Relaxed);
        let res = self.reload_inner();
        if res.is_err() {
            self.metrics.reloads_failed.fetch_add(1, Ordering::Relaxed);
        }
        res
    }

    fn reload_inner(&self) -> Result<(), Error> {
        let current = self.blocks();
        let mut loaded: Vec<Arc<Block>> = Vec::new();
        let mut corrupted: HashMap<Ulid, block::Error> = HashMap::new();
        let rd = std::fs::read_dir(&self.dir).map_err(io("read", &self.dir))?;
        for e in rd.flatten() {
            let name = e.file_name();
            let Some(ulid) = name.to_str().and_then(|s| s.parse::<Ulid>().ok()) else {
                continue;
            };
            if !e.file_type().is_ok_and(|t| t.is_dir()) {
                continue;
            }
            if let Some(b) = current.iter().find(|b| b.ulid() == ulid) {
                loaded.push(Arc::clone(b));
                continue;
            }
            match Block::open(&e.path()) {
                Ok(b) => loaded.push(Arc::new(b)),
                Err(err) => {
                    corrupted.insert(ulid, err);
                }
            }
        }
        // Blocks replaced by a compaction (even one that crashed before
        // deleting its sources) and blocks marked deletable.
        let mut deletable: Vec<Ulid> = Vec::new();
        for b in &loaded {
            let m = b.meta();
            if m.compaction.deletable {
                deletable.push(m.ulid);
            }
            for p in &m.compaction.parents {
                corrupted.remove(&p.ulid);
                deletable.push(p.ulid);
            }
        }
        if let Some((ulid, source)) = corrupted.into_iter().next() {
            return Err(Error::CorruptedBlock {
                ulid,
                source: Box::new(source),
            });
        }
        loaded.retain(|b| !deletable.contains(&b.ulid()));
        // Retention, newest first.
        loaded.sort_by_key(|b| std::cmp::Reverse(b.max_time()));
        let mut keep = loaded.len();
        if self.opts.retention_duration > 0
            && let Some(newest) = loaded.first().map(|b| b.max_time())
            && let Some(i) = loaded
                .iter()
                .enumerate()
                .skip(1)
                .find(|(_, b)| newest - b.max_time() >= self.opts.retention_duration)
                .map(|(i, _)| i)
        {
            keep = keep.min(i);
            self.metrics.time_retentions.fetch_add(1, Ordering::Relaxed);
        }
        if self.opts.retention_size > 0 {
            let mut size = self.head_size();
            if let Some(i) = loaded.iter().position(|b| {
                size += b.size();
                size > self.opts.retention_size
            }) && i < keep
            {
                keep = i;
                self.metrics.size_retentions.fetch_add(1, Ordering::Relaxed);
            }
        }
        for b in loaded.drain(keep..) {
            deletable.push(b.ulid());
        }
        loaded.sort_by_key(|b| b.min_time());
        self.metrics
            .blocks_bytes
            .store(loaded.iter().map(|b| b.size()).sum(), Ordering::Relaxed);
        *self.blocks.write().unwrap_or_else(|p| p.into_inner()) = Arc::new(loaded);
        deletable.sort();
        deletable.dedup();
        for u in deletable {
            let d = self.dir.join(u.to_string());
            if d.exists() {
                delete_block_dir(&d)?;
            }
        }
        Ok(())
    }

    /// Bytes of the WAL, WBL and head chunk files.
    pub fn head_size(&self) -> u64 {
        ["wal", "wbl", "chunks_head"]
            .iter()
            .map(|d| block::dir_size(&self.dir.join(d)))
            .sum()
    }

    fn head_compactable(&self) -> Option<(i64, i64)> {
        let (Some(lo), Some(hi)) = (self.head.min_time(), self.head.max_time()) else {
            return None;
        };
        let lo = lo.max(self.head_floor.load(Ordering::Relaxed));
        let range = self.opts.head.chunk_range;
        if hi - lo > range / 2 * 3 {
            Some((lo, range_for_timestamp(lo, range)))
        } else {
            None
        }
    }

    /// Persists the head's old data as blocks and merges blocks, as
    /// planned (see the module docs). Returns the blocks written.
    pub fn compact(&self) -> Result<Vec<BlockMeta>, Error> {
        let _g = lock(&self.cmtx);
        self.metrics
            .compactions_triggered
            .fetch_add(1, Ordering::Relaxed);
        let res = self.compact_locked();
        if res.is_err() {
            self.metrics
                .compactions_failed
                .fetch_add(1, Ordering::Relaxed);
        }
        res
    }

    fn compact_locked(&self) -> Result<Vec<BlockMeta>, Error> {
        let mut written = Vec::new();
        if self.head_compactable().is_some() {
            // The head is about to be truncated: out-of-order samples older
            // than the newest block go to blocks of their own first.
            written.extend(self.compact_ooo_below_floor()?);
        }
        while let Some((mint, maxt)) = self.head_compactable() {
            let start = Instant::now();
            let meta = self.write_head_range(&self.dir, mint, maxt)?;
            self.note_compaction(start);
            if let Some(m) = meta {
                tracing::info!(ulid = %m.ulid, mint = m.min_time, maxt = m.max_time, duration = ?start.elapsed(), "write block");
                written.push(m);
            }
            self.reload_locked()?;
            self.head_floor.fetch_max(maxt, Ordering::Relaxed);
            self.head.truncate(maxt)?;
            self.head_deleted
                .write()
                .unwrap_or_else(|p| p.into_inner())
                .retain(|_, ivs| {
                    ivs.retain(|iv| iv.maxt >= maxt);
                    !ivs.is_empty()
                });
        }
        let ranges = self.opts.block_ranges();
        loop {
            let blocks = self.blocks();
            let metas: Vec<BlockMeta> = blocks.iter().map(|b| b.meta()).collect();
            let pick = compact::plan(&metas, &ranges, self.opts.overlapping_compaction);
            if pick.is_empty() {
                break;
            }
            let sources: Vec<Arc<Block>> = blocks
                .iter()
                .filter(|b| pick.contains(&b.ulid()))
                .cloned()
                .collect();
            let start = Instant::now();
            match self.compact_blocks(&sources) {
                Ok(m) => {
                    self.note_compaction(start);
                    if let Some(m) = m {
                        tracing::info!(ulid = %m.ulid, sources = ?pick, duration = ?start.elapsed(), "compact blocks");
                        written.push(m);
                    }
                }
                Err(e) => {
                    // Do not pick these blocks again.
                    for b in &sources {
                        let _ = b.mark_compaction_failed();
                    }
                    self.reload_locked()?;
                    return Err(e);
                }
            }
            self.reload_locked()?;
        }
        Ok(written)
    }

    /// Writes the head's samples older than the newest block (accepted
    /// out of order, within the window) as blocks of one chunk range each,
    /// aligned like the head's; they overlap the blocks already there,
    /// and vertical compaction merges them (Prometheus compacts its
    /// out-of-order head the same way, when it compacts the head). A window
    /// also holds the in-order samples of a chunk straddling the newest
    /// block's end; merging drops those duplicates.
    fn compact_ooo_below_floor(&self) -> Result<Vec<BlockMeta>, Error> {
        let floor = self.head_floor.load(Ordering::Relaxed);
        let range = self.opts.head.chunk_range;
        // Only the windows that hold such samples: one late sample from
        // long ago is one block, not one per range since then.
        let windows = self.head.ooo_windows_before(floor, range);
        if windows.is_empty() {
            return Ok(Vec::new());
        }
        let mut written = Vec::new();
        for lo in windows {
            let hi = (lo + range).min(floor);
            let start = Instant::now();
            let meta = self.write_head_block(&self.dir, (lo, hi, true))?;
            if let Some(m) = meta {
                self.note_compaction(start);
                tracing::info!(ulid = %m.ulid, mint = m.min_time, maxt = m.max_time, duration = ?start.elapsed(), "write block of out-of-order samples");
                written.push(m);
            }
        }
        self.reload_locked()?;
        Ok(written)
    }

    fn note_compaction(&self, start: Instant) {
        let m = &self.metrics;
        m.compactions.fetch_add(1, Ordering::Relaxed);
        m.compaction_duration.observe(start.elapsed().as_secs_f64());
    }

    /// Merges `sources` into one block, counting a merge of overlapping
    /// blocks as Prometheus does.
    fn compact_blocks(&self, sources: &[Arc<Block>]) -> Result<Option<BlockMeta>, Error> {
        let mut ranges: Vec<(i64, i64)> = sources
            .iter()
            .map(|b| (b.min_time(), b.max_time()))
            .collect();
        ranges.sort_unstable();
        if ranges.windows(2).any(|w| w[1].0 < w[0].1) {
            self.metrics
                .vertical_compactions
                .fetch_add(1, Ordering::Relaxed);
        }
        let _p = Populating::start(&self.metrics.populating_block);
        Ok(compact::compact_blocks(&self.dir, sources)?)
    }

    /// Writes the head's `[mint, maxt)` as a block under `parent`, head
    /// tombstones applied.
    fn write_head_range(
        &self,
        parent: &Path,
        mint: i64,
        maxt: i64,
    ) -> Result<Option<BlockMeta>, Error> {
        self.write_head_block(parent, (mint, maxt, false))
    }

    /// [`compact::write_head_block_observed`] with the head's deletions
    /// and the chunk statistics.
    fn write_head_block(
        &self,
        parent: &Path,
        range: (i64, i64, bool),
    ) -> Result<Option<BlockMeta>, Error> {
        let deleted = self
            .head_deleted
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .clone();
        let _p = Populating::start(&self.metrics.populating_block);
        let m = &self.metrics;
        Ok(compact::write_head_block_observed(
            parent,
            &self.head,
            range,
            &deleted,
            &mut |c| {
                m.chunk_size.observe(c.bytes.len() as f64);
                m.chunk_samples.observe(c.num_samples() as f64);
                m.chunk_range.observe((c.max_time - c.min_time) as f64);
            },
        )?)
    }

    /// Deletes the samples in `[mint, maxt]` of the series matching
    /// `matchers`, in blocks (tombstones) and in the head.
    pub fn delete(&self, mint: i64, maxt: i64, matchers: &[Matcher]) -> Result<(), Error> {
        let _g = lock(&self.cmtx);
        for b in self.blocks().iter() {
            b.delete(mint, maxt, matchers)?;
        }
        // A head deletion ends at the newest sample there now, so later
        // appends stay visible (Prometheus clamps both ends; the start is
        // kept here so that older data of the series that comes back from
        // the WAL or chunks_head after a restart stays hidden).
        let mut present: HashMap<Labels, (i64, i64)> = HashMap::new();
        for s in self.head.select_series(mint, maxt, false, 0, matchers) {
            let (mut lo, mut hi) = (i64::MAX, i64::MIN);
            let mut it = s.iterator();
            while it.next() != ValueType::None {
                lo = lo.min(it.at_t());
                hi = hi.max(it.at_t());
            }
            if it.err().is_some() {
                (lo, hi) = (mint, maxt);
            }
            if lo <= hi {
                present.insert(s.labels().clone(), (mint, maxt.min(hi)));
            }
        }
        let series: Vec<(u64, Labels, Interval)> = self
            .head
            .matching_series(matchers)
            .into_iter()
            .filter_map(|(r, l)| {
                let &(mint, maxt) = present.get(&l)?;
                Some((r, l, Interval { mint, maxt }))
            })
            .collect();
        if series.is_empty() {
            return Ok(());
        }
        // Logged first: once this returns the deletion survives a crash.
        let stones: Vec<RefTombstone> = series
            .iter()
            .map(|(r, _, iv)| RefTombstone {
                series: HeadSeriesRef(*r),
                mint: Timestamp(iv.mint),
                maxt: Timestamp(iv.maxt),
            })
            .collect();
        self.head.log_tombstones(&stones)?;
        let mut del = self.head_deleted.write().unwrap_or_else(|p| p.into_inner());
        for (_, labels, iv) in series {
            add_interval(del.entry(labels).or_default(), iv);
        }
        Ok(())
    }

    /// Rewrites every block with tombstones without the deleted data.
    pub fn clean_tombstones(&self) -> Result<(), Error> {
        let _g = lock(&self.cmtx);
        let start = Instant::now();
        let res = self.clean_tombstones_locked();
        self.metrics
            .tombstone_cleanup
            .observe(start.elapsed().as_secs_f64());
        res
    }

    fn clean_tombstones_locked(&self) -> Result<(), Error> {
        for b in self.blocks().iter() {
            if b.tombstones().is_empty() {
                continue;
            }
            self.compact_blocks(std::slice::from_ref(b))?;
            self.reload_locked()?;
        }
        Ok(())
    }

    /// Writes a snapshot into `dir`: hard links of every block's files and,
    /// with `with_head`, the head's data as one more block. Returns the
    /// snapshot's block directories.
    pub fn snapshot(&self, dir: &Path, with_head: bool) -> Result<Vec<Ulid>, Error> {
        let _g = lock(&self.cmtx);
        std::fs::create_dir_all(dir).map_err(io("create", dir))?;
        let mut out = Vec::new();
        for b in self.blocks().iter() {
            let ulid = b.ulid();
            link_tree(b.dir(), &dir.join(ulid.to_string()))?;
            out.push(ulid);
        }
        if with_head && let (Some(lo), Some(hi)) = (self.head.min_time(), self.head.max_time()) {
            // From the newest block's end, or from the oldest out-of-order
            // sample older than that.
            let floor = self.head_floor.load(Ordering::Relaxed);
            let oldest_ooo = self
                .head
                .ooo_windows_before(floor, self.opts.head.chunk_range)
                .first()
                .copied();
            let lo = lo.max(floor).min(oldest_ooo.unwrap_or(i64::MAX));
            if lo <= hi
                && let Some(m) = self.write_head_range(dir, lo, hi + 1)?
            {
                out.push(m.ulid);
            }
        }
        Ok(out)
    }

    /// Self-metrics: the head's and the database's, under Prometheus's
    /// names.
    pub fn metric_families(&self) -> Vec<MetricFamily> {
        let m = &self.metrics;
        let c = |a: &AtomicU64| a.load(Ordering::Relaxed) as f64;
        let blocks = self.blocks();
        let mut out = self.head.metric_families();
        out.extend([
            MetricFamily::gauge(
                "prometheus_tsdb_blocks_loaded",
                "Number of currently loaded data blocks",
                blocks.len() as f64,
            ),
            MetricFamily::counter(
                "prometheus_tsdb_compactions_total",
                "Total number of compactions that were executed for the partition.",
                c(&m.compactions),
            ),
            MetricFamily::counter(
                "prometheus_tsdb_compactions_failed_total",
                "Total number of compactions that failed for the partition.",
                c(&m.compactions_failed),
            ),
            MetricFamily::counter(
                "prometheus_tsdb_compactions_triggered_total",
                "Total number of triggered compactions for the partition.",
                c(&m.compactions_triggered),
            ),
            MetricFamily::counter(
                "prometheus_tsdb_reloads_total",
                "Number of times the database reloaded block data from disk.",
                c(&m.reloads),
            ),
            MetricFamily::counter(
                "prometheus_tsdb_reloads_failures_total",
                "Number of times the database failed to reloadBlocks block data from disk.",
                c(&m.reloads_failed),
            ),
            MetricFamily::counter(
                "prometheus_tsdb_time_retentions_total",
                "The number of times that blocks were deleted because the maximum time limit was exceeded.",
                c(&m.time_retentions),
            ),
            MetricFamily::counter(
                "prometheus_tsdb_size_retentions_total",
                "The number of times that blocks were deleted because the maximum number of bytes was exceeded.",
                c(&m.size_retentions),
            ),
            MetricFamily::gauge(
                "prometheus_tsdb_storage_blocks_bytes",
                "The number of bytes that are currently used for local storage by all blocks.",
                c(&m.blocks_bytes),
            ),
            MetricFamily::gauge(
                "prometheus_tsdb_retention_limit_bytes",
                "Max number of bytes to be retained in the tsdb blocks, configured 0 means disabled",
                self.opts.retention_size as f64,
            ),
            MetricFamily::gauge(
                "prometheus_tsdb_retention_limit_seconds",
                "How long to retain samples in storage.",
                self.opts.retention_duration as f64 / 1000.0,
            ),
            MetricFamily::gauge(
                "prometheus_tsdb_clean_start",
                "-1: lockfile is disabled. 0: a lockfile from a previous execution was replaced. 1: lockfile creation was clean",
                match &self.lock {
                    None => -1.0,
                    Some(l) => f64::from(u8::from(l.clean)),
                },
            ),
            MetricFamily::gauge(
                "prometheus_tsdb_lowest_timestamp",
                "Lowest timestamp value stored in the database. The unit is decided by the library consumer.",
                self.min_time().unwrap_or(i64::MAX) as f64,
            ),
            MetricFamily::gauge(
                "prometheus_tsdb_lowest_timestamp_seconds",
                "Lowest timestamp value stored in the database.",
                // Whole seconds, as Prometheus divides.
                (self.min_time().unwrap_or(i64::MAX) / 1000) as f64,
            ),
            MetricFamily::counter(
                "prometheus_tsdb_vertical_compactions_total",
                "Total number of compactions done on overlapping blocks.",
                c(&m.vertical_compactions),
            ),
            MetricFamily::gauge(
                "prometheus_tsdb_compaction_populating_block",
                "Set to 1 when a block is currently being written to the disk.",
                f64::from(u8::from(m.populating_block.load(Ordering::Relaxed))),
            ),
            MetricFamily::gauge(
                "prometheus_tsdb_symbol_table_size_bytes",
                "Size of symbol table in memory for loaded blocks",
                blocks.iter().map(|b| b.symbol_table_size()).sum::<u64>() as f64,
            ),
            m.compaction_duration.family(
                "prometheus_tsdb_compaction_duration_seconds",
                "Duration of compaction runs",
            ),
            m.chunk_size.family(
                "prometheus_tsdb_compaction_chunk_size_bytes",
                "Final size of chunks on their first compaction",
            ),
            m.chunk_samples.family(
                "prometheus_tsdb_compaction_chunk_samples",
                "Final number of samples on their first compaction",
            ),
            m.chunk_range.family(
                "prometheus_tsdb_compaction_chunk_range_seconds",
                "Final time range of chunks on their first compaction",
            ),
            m.tombstone_cleanup.family(
                "prometheus_tsdb_tombstone_cleanup_seconds",
                "The time taken to recompact blocks to remove tombstones.",
            ),
        ]);
        out
    }

    /// Closes the head (flushing the WAL), then releases and removes the
    /// directory's lock file (left in place when the close failed).
    pub fn close(self) -> Result<(), Error> {
        let Db { head, lock, .. } = self;
        head.close()?;
        if let Some(l) = lock {
            l.release();
        }
        Ok(())
    }
}

impl Appendable for Db {
    fn appender(&self) -> Box<dyn Appender + '_> {
        self.head.appender()
    }
}

impl Queryable for Db {
    fn querier(&self, mint: i64, maxt: i64) -> Result<Box<dyn Querier + '_>, StorageError> {
        let mut qs: Vec<Box<dyn Querier + '_>> = Vec::new();
        for b in self.blocks().iter() {
            if b.overlaps(mint, maxt) {
                qs.push(Box::new(b.querier(mint, maxt)));
            }
        }
        let head_q = self.head.querier(mint, maxt)?;
        let deleted = self
            .head_deleted
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .clone();
        if deleted.is_empty() {
            qs.push(head_q);
        } else {
            qs.push(Box::new(DeletingQuerier {
                inner: head_q,
                head: &self.head,
                mint,
                maxt,
                deleted: Arc::new(deleted),
            }));
        }
        if qs.len() == 1 {
            return Ok(qs.remove(0));
        }
        Ok(Box::new(MergeQuerier::new(qs)))
    }
}

/// A head querier hiding deleted intervals of some series.
struct DeletingQuerier<'a> {
    /// The head's own querier, for label names and values (Prometheus's
    /// head answers those from its postings, deletions or not).
    inner: Box<dyn Querier + 'a>,
    head: &'a Head,
    mint: i64,
    maxt: i64,
    deleted: Arc<HashMap<Labels, Vec<Interval>>>,
}

impl Querier for DeletingQuerier<'_> {
    fn select(
        &self,
        sorted: bool,
        hints: Option<&SelectHints>,
        matchers: &[Matcher],
    ) -> Box<dyn SeriesSet + '_> {
        let limit = hints.map_or(0, |h| h.limit);
        let series = self
            .head
            .select_series(self.mint, self.maxt, sorted, limit, matchers);
        Box::new(DeletingSet {
            series: series.into_iter(),
            deleted: Arc::clone(&self.deleted),
            listing: hints.is_some_and(|h| h.func == "series"),
        })
    }

    fn label_values(
        &self,
        name: &str,
        hints: &LabelHints,
        matchers: &[Matcher],
    ) -> Result<(Vec<String>, Warnings), StorageError> {
        self.inner.label_values(name, hints, matchers)
    }

    fn label_names(
        &self,
        hints: &LabelHints,
        matchers: &[Matcher],
    ) -> Result<(Vec<String>, Warnings), StorageError> {
        self.inner.label_names(hints, matchers)
    }
}

struct DeletingSet {
    series: std::vec::IntoIter<head::read::HeadSeries>,
    deleted: Arc<HashMap<Labels, Vec<Interval>>>,
    /// A metadata select: wholly deleted series with their open chunk in
    /// range are listed (without samples).
    listing: bool,
}

impl SeriesSet for DeletingSet {
    fn next(&mut self) -> Option<Result<BoxedSeries, StorageError>> {
        loop {
            let s = self.series.next()?;
            let Some(ivs) = self.deleted.get(s.labels()) else {
                return Some(Ok(Box::new(s)));
            };
            // Decode now: a series wholly deleted must not appear at all.
            let samples = match compact::collect_samples(&mut *s.iterator()) {
                Ok(v) => v,
                Err(e) => return Some(Err(e)),
            };
            let kept: Vec<_> = samples
                .into_iter()
                .filter(|(t, _)| !is_deleted(ivs, *t))
                .collect();
            if kept.is_empty() && !(self.listing && s.listed_despite(ivs)) {
                continue;
            }
            return Some(Ok(Box::new(storage::vec::VecSeries::new(
                s.labels().clone(),
                kept,
            ))));
        }
    }
}

/// Removes `*.tmp-for-creation` and `*.tmp-for-deletion` directories left
/// by a crash.
fn remove_tmp_dirs(dir: &Path) -> Result<(), Error> {
    let rd = std::fs::read_dir(dir).map_err(io("read", dir))?;
    for e in rd.flatten() {
        let name = e.file_name();
        let name = name.to_string_lossy();
        if name.ends_with(TMP_FOR_CREATION) || name.ends_with(TMP_FOR_DELETION) {
            let p = e.path();
            tracing::info!(dir = %p.display(), "remove leftover temporary block directory");
            std::fs::remove_dir_all(&p).map_err(io("remove", &p))?;
        }
    }
    Ok(())
}

/// Deletes a block directory: renamed first, so a crash never leaves a
/// half-deleted block under its name.
fn delete_block_dir(d: &Path) -> Result<(), Error> {
    let mut tmp = d.as_os_str().to_owned();
    tmp.push(TMP_FOR_DELETION);
    let tmp = PathBuf::from(tmp);
    std::fs::rename(d, &tmp).map_err(io("rename", d))?;
    if let Some(parent) = d.parent() {
        block::fsync_dir(parent)?;
    }
    std::fs::remove_dir_all(&tmp).map_err(io("remove", &tmp))?;
    Ok(())
}

/// Hard-links every file under `src` into `dst` (directories created).
fn link_tree(src: &Path, dst: &Path) -> Result<(), Error> {
    std::fs::create_dir_all(dst).map_err(io("create", dst))?;
    let rd = std::fs::read_dir(src).map_err(io("read", src))?;
    for e in rd.flatten() {
        let from = e.path();
        let to = dst.join(e.file_name());
        if e.file_type().is_ok_and(|t| t.is_dir()) {
            link_tree(&from, &to)?;
        } else {
            std::fs::hard_link(&from, &to).map_err(io("link", &from))?;
        }
    }
    Ok(())
}
