//! The head: the in-memory part of the TSDB (Prometheus's `tsdb/head*.go`).
//!
//! Every series the head knows is a [`series::MemSeries`] in a striped map
//! (by reference and by label hash), indexed by label pair in
//! [`crate::index::postings::MemPostings`], which also holds the label
//! strings: a series keeps pair ids ([`crate::index::postings::LabelRefs`]),
//! turned back into labels under the index's read lock
//! (`Head::series_labels`). Memory per series is the design constraint: see
//! `series.rs` for the layout and the harness (`bench/`) for the figures.
//! A series keeps one open chunk in
//! memory (XOR, histogram or float-histogram encoding, cut by
//! [`crate::chunkenc::CutPolicy`]); full chunks go to `chunks_head/` through
//! the [`ChunkDiskMapper`] and are read back memory-mapped.
//!
//! Writes: [`Head::appender`] hands out a batch ([`append`]); `commit`
//! logs the batch to the WAL (one `log` call) and then applies it under the
//! series locks, all while holding the commit lock, so the WAL order is the
//! order in which samples were applied and a replay rebuilds exactly the
//! same head. Samples out of order are rejected with Prometheus's errors or,
//! within `out_of_order_time_window`, kept in per-series out-of-order chunks
//! (logged to the WAL and to `wbl/`, as Prometheus does).
//!
//! Reads: [`Head`] implements [`storage::Queryable`] ([`read`]). Opening
//! replays `chunks_head/` then the WAL ([`replay`], samples applied by
//! parallel workers) and the WBL. [`Head::truncate`] drops old chunks and
//! empty series and checkpoints the WAL ([`gc`]). Exemplars live in a
//! bounded ring ([`exemplars`]); self-metrics under Prometheus's names in
//! [`metrics`].
//!
//! Files: `<dir>/wal/`, `<dir>/wbl/` (only with an out-of-order window),
//! `<dir>/chunks_head/`.

pub mod append;
pub mod exemplars;
pub mod gc;
pub mod metrics;
pub mod read;
pub mod replay;
pub mod series;
pub mod stats;
pub mod tombstones;

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::sync::{
    Arc, Mutex, MutexGuard, OnceLock, PoisonError, RwLock, RwLockReadGuard, RwLockWriteGuard,
};

use crate::chunkenc::{CutPolicy, DEFAULT_CHUNK_RANGE, DEFAULT_SAMPLES_PER_CHUNK};
use crate::chunks::ChunkDiskMapper;
use crate::index::postings::MemPostings;
use crate::wal::{self, Compression, Wal};

pub use append::HeadAppender;
pub use exemplars::{ExemplarSeries, ExemplarStorage};
pub use gc::TruncateStats;
pub use metrics::HeadMetrics;
pub use replay::ReplayStats;

use series::StripeSeries;

/// Default number of lock stripes of the series map.
pub const DEFAULT_STRIPE_SIZE: usize = 16384;
/// Default number of samples an out-of-order chunk holds before it is
/// compressed (Prometheus's `--storage.tsdb.out-of-order-cap-max` default).
pub const DEFAULT_OUT_OF_ORDER_CAP: usize = 32;

/// How the head is configured.
#[derive(Clone, Debug, PartialEq)]
pub struct HeadOptions {
    /// Width of the aligned ranges chunks do not cross (ms); 2h by default.
    pub chunk_range: i64,
    /// Target samples per float chunk (120).
    pub samples_per_chunk: usize,
    /// How far behind the head's newest sample out-of-order samples are
    /// still accepted (ms); 0 rejects them.
    pub out_of_order_time_window: i64,
    /// Samples per out-of-order chunk.
    pub out_of_order_cap: usize,
    /// Size of the exemplar ring; 0 disables exemplars.
    pub max_exemplars: usize,
    /// Whether samples are logged to a WAL (and replayed on open).
    pub wal: bool,
    /// WAL record compression.
    pub wal_compression: Compression,
    /// WAL segment size in bytes.
    pub wal_segment_size: u64,
    /// Lock stripes of the series map (a power of two).
    pub stripe_size: usize,
    /// Threads applying samples during replay; 0 picks from the CPU count.
    pub replay_workers: usize,
    /// Whether native histograms are accepted.
    pub native_histograms: bool,
}

impl Default for HeadOptions {
    fn default() -> Self {
        HeadOptions {
            chunk_range: DEFAULT_CHUNK_RANGE,
            samples_per_chunk: DEFAULT_SAMPLES_PER_CHUNK,
            out_of_order_time_window: 0,
            out_of_order_cap: DEFAULT_OUT_OF_ORDER_CAP,
            max_exemplars: 100_000,
            wal: true,
            wal_compression: Compression::None,
            wal_segment_size: wal::DEFAULT_SEGMENT_SIZE,
            stripe_size: DEFAULT_STRIPE_SIZE,
            replay_workers: 0,
            native_histograms: true,
        }
    }
}

/// An error of the head.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The write-ahead log (or write-behind log) failed.
    #[error("head WAL: {0}")]
    Wal(#[from] wal::Error),
    /// The head chunk files failed.
    #[error("head chunks: {0}")]
    Chunks(#[from] crate::chunks::Error),
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
    /// The options are not usable.
    #[error("invalid head options: {0}")]
    Options(String),
}

/// The commit-side state: the logs, behind the commit lock.
pub(crate) struct CommitState {
    pub(crate) wal: Option<Wal>,
    /// Write-behind log of out-of-order samples.
    pub(crate) wbl: Option<Wal>,
    /// Largest out-of-order timestamp per WBL segment (for truncation).
    pub(crate) wbl_segment_maxt: std::collections::BTreeMap<u32, i64>,
    /// Reusable record buffers.
    pub(crate) bufs: [Vec<u8>; 6],
}

/// The in-memory head of the TSDB. Shared between threads by reference;
/// appenders and queriers borrow it.
pub struct Head {
    pub(crate) dir: PathBuf,
    pub(crate) opts: HeadOptions,
    pub(crate) policy: CutPolicy,
    pub(crate) series: StripeSeries,
    pub(crate) postings: RwLock<MemPostings>,
    pub(crate) mapper: Arc<RwLock<ChunkDiskMapper>>,
    pub(crate) commit: Mutex<CommitState>,
    pub(crate) next_ref: AtomicU64,
    /// Smallest sample time in the head (`i64::MAX` when empty).
    pub(crate) min_time: AtomicI64,
    /// Largest in-order sample time (`i64::MIN` when empty).
    pub(crate) max_time: AtomicI64,
    /// Samples before this are out of bounds (raised by truncation).
    pub(crate) min_valid_time: AtomicI64,
    pub(crate) metrics: HeadMetrics,
    pub(crate) exemplars: Mutex<ExemplarStorage>,
    /// Metadata shared by the series that carry it (a family's series all
    /// have the same); entries nobody else holds go at garbage collection.
    pub(crate) metadata: Mutex<std::collections::HashSet<Arc<model::Metadata>>>,
    /// Deletions found in the WAL on open, for the database to take.
    pub(crate) replayed_tombstones: Mutex<Vec<crate::record::RefTombstone>>,
    /// WAL series references that replay found defining a label set a
    /// lower reference already defined (a series that left the head and
    /// came back before a restart), mapped to the reference the head uses.
    /// Checkpoints keep their series records while the series is in the
    /// head: samples logged under them may still be in the WAL.
    pub(crate) wal_aliases: Mutex<HashMap<u64, u64>>,
    /// What the replay on open did.
    replay_stats: OnceLock<ReplayStats>,
}

impl std::fmt::Debug for Head {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Head")
            .field("dir", &self.dir)
            .field("series", &self.num_series())
            .finish_non_exhaustive()
    }
}

/// Locks a mutex, ignoring poisoning (a panicking holder leaves data that
/// is still structurally valid: every update is a single assignment).
pub(crate) fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

pub(crate) fn read<T>(m: &RwLock<T>) -> RwLockReadGuard<'_, T> {
    m.read().unwrap_or_else(PoisonError::into_inner)
}

pub(crate) fn write<T>(m: &RwLock<T>) -> RwLockWriteGuard<'_, T> {
    m.write().unwrap_or_else(PoisonError::into_inner)
}

impl Head {
    /// Opens the head in `dir` (created if missing): replays `chunks_head/`,
    /// the WAL (last checkpoint, then later segments; a corrupt tail is
    /// repaired, keeping everything before it) and the WBL, then starts new
    /// log segments for writing.
    pub fn open(dir: impl AsRef<Path>, opts: HeadOptions) -> Result<Head, Error> {
        let dir = dir.as_ref().to_path_buf();
        if opts.chunk_range <= 0 {
            return Err(Error::Options(format!(
                "chunk range {} must be positive",
                opts.chunk_range
            )));
        }
        if opts.out_of_order_time_window < 0 {
            return Err(Error::Options(format!(
                "out-of-order time window {} must not be negative",
                opts.out_of_order_time_window
            )));
        }
        std::fs::create_dir_all(&dir).map_err(|source| Error::Io {
            op: "create head directory",
            path: dir.clone(),
            source,
        })?;
        let start = std::time::Instant::now();
        let (mapper, report) = ChunkDiskMapper::open(&dir.join("chunks_head"))?;
        for r in &report.repairs {
            tracing::warn!(
                file = %r.path.display(),
                old_len = r.old_len,
                new_len = r.new_len,
                reason = %r.reason,
                "repaired head chunk file"
            );
        }
        let stripes = opts.stripe_size.max(1).next_power_of_two();
        let head = Head {
            policy: CutPolicy {
                chunk_range: opts.chunk_range,
                samples_per_chunk: opts.samples_per_chunk.max(4),
            },
            series: StripeSeries::new(stripes),
            postings: RwLock::new(MemPostings::new()),
            mapper: Arc::new(RwLock::new(mapper)),
            commit: Mutex::new(CommitState {
                wal: None,
                wbl: None,
                wbl_segment_maxt: Default::default(),
                bufs: Default::default(),
            }),
            next_ref: AtomicU64::new(1),
            min_time: AtomicI64::new(i64::MAX),
            max_time: AtomicI64::new(i64::MIN),
            min_valid_time: AtomicI64::new(i64::MIN),
            metrics: HeadMetrics::default(),
            exemplars: Mutex::new(ExemplarStorage::new(opts.max_exemplars)),
            replayed_tombstones: Mutex::new(Vec::new()),
            wal_aliases: Mutex::new(HashMap::new()),
            replay_stats: OnceLock::new(),
            metadata: Mutex::new(Default::default()),
            dir,
            opts,
        };
        let stats = replay::replay(&head, report.chunks)?;
        {
            let mut c = lock(&head.commit);
            if head.opts.wal {
                let wopts = wal::Options {
                    segment_size: head.opts.wal_segment_size,
                    compression: head.opts.wal_compression,
                };
                c.wal = Some(Wal::open(head.wal_dir(), wopts)?);
                if head.opts.out_of_order_time_window > 0 {
                    c.wbl = Some(Wal::open(head.wbl_dir(), wopts)?);
                }
                c.wbl_segment_maxt = stats.wbl_segment_maxt.clone();
            }
        }
        head.metrics
            .replay_duration_ms
            .store(start.elapsed().as_millis() as u64, Ordering::Relaxed);
        tracing::info!(
            dir = %head.dir.display(),
            series = head.num_series(),
            samples = stats.samples,
            duration_ms = start.elapsed().as_millis() as u64,
            "head opened"
        );
        let _ = head.replay_stats.set(stats);
        Ok(head)
    }

    /// What the replay of `chunks_head/` and the logs did when the head
    /// was opened.
    pub fn replay_stats(&self) -> &ReplayStats {
        self.replay_stats.get_or_init(ReplayStats::default)
    }

    /// The WAL directory.
    pub fn wal_dir(&self) -> PathBuf {
        self.dir.join("wal")
    }

    /// The write-behind log directory (out-of-order samples).
    pub fn wbl_dir(&self) -> PathBuf {
        self.dir.join("wbl")
    }

    /// The options the head was opened with.
    pub fn options(&self) -> &HeadOptions {
        &self.opts
    }

    /// Number of series in the head.
    pub fn num_series(&self) -> usize {
        self.series.len()
    }

    /// Smallest sample time, `None` when the head is empty.
    pub fn min_time(&self) -> Option<i64> {
        let t = self.min_time.load(Ordering::Relaxed);
        (t != i64::MAX).then_some(t)
    }

    /// Largest in-order sample time, `None` when the head is empty.
    pub fn max_time(&self) -> Option<i64> {
        let t = self.max_time.load(Ordering::Relaxed);
        (t != i64::MIN).then_some(t)
    }

    /// The lowest time an in-order sample may have (Prometheus's
    /// `appendableMinValidTime`): half a chunk range before the newest
    /// sample, and not before the last truncation.
    pub fn appendable_min_valid_time(&self) -> i64 {
        let max = self.max_time.load(Ordering::Relaxed);
        let cw_end = if max == i64::MIN {
            i64::MIN
        } else {
            max.saturating_sub(self.opts.chunk_range / 2)
        };
        cw_end.max(self.min_valid_time.load(Ordering::Relaxed))
    }

    pub(crate) fn note_time_range(&self, mint: i64, maxt: i64) {
        if mint <= maxt {
            self.min_time.fetch_min(mint, Ordering::Relaxed);
            self.max_time.fetch_max(maxt, Ordering::Relaxed);
        }
    }

    /// The series with `labels` (`hash` is their [`Labels::stable_hash`]),
    /// created with reference `new_ref()` and indexed if absent; pinned for
    /// an appender if `pin` says so. Returns it and whether it was created.
    pub(crate) fn get_or_create_series(
        &self,
        hash: u64,
        labels: &model::Labels,
        pin: series::Pin,
        new_ref: impl FnOnce() -> u64,
    ) -> (Arc<series::MemSeries>, bool) {
        {
            let p = read(&self.postings);
            if let Some(s) = self.series.get_by_hash(hash, labels, &p, pin) {
                return (s, false);
            }
        }
        let mut p = write(&self.postings);
        self.series
            .get_or_create(hash, labels, pin, new_ref, &mut p)
    }

    /// The series with `labels`, if any, pinned if `pin` says so.
    pub(crate) fn series_by_labels(
        &self,
        labels: &model::Labels,
        pin: series::Pin,
    ) -> Option<Arc<series::MemSeries>> {
        let p = read(&self.postings);
        self.series
            .get_by_hash(labels.stable_hash(), labels, &p, pin)
    }

    /// The labels of a series. The series must be in the head (found
    /// through it, or pinned by an appender): a removed series' label refs
    /// may name other pairs.
    pub(crate) fn series_labels(&self, s: &series::MemSeries) -> model::Labels {
        read(&self.postings).labels(&s.labels)
    }

    /// The shared copy of `m`.
    pub(crate) fn intern_metadata(&self, m: model::Metadata) -> Arc<model::Metadata> {
        let mut set = lock(&self.metadata);
        if let Some(a) = set.get(&m) {
            return Arc::clone(a);
        }
        let a = Arc::new(m);
        set.insert(Arc::clone(&a));
        a
    }

    /// Flushes and fsyncs the logs and the head chunk files.
    pub fn close(self) -> Result<(), Error> {
        let mut c = lock(&self.commit);
        if let Some(w) = c.wal.as_mut() {
            w.close()?;
        }
        if let Some(w) = c.wbl.as_mut() {
            w.close()?;
        }
        drop(c);
        let mapper = Arc::try_unwrap(self.mapper)
            .map_err(|_| Error::Options("head chunks still referenced by a querier".into()))?;
        mapper
            .into_inner()
            .unwrap_or_else(PoisonError::into_inner)
            .close()?;
        Ok(())
    }
}
