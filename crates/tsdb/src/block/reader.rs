//! Reading a block: [`Block`] (lazily mapped files) and [`BlockQuerier`].
//!
//! A select resolves matchers through the index postings (series come out
//! in index order, which is label order, so results are always sorted),
//! keeps each series' chunks overlapping the query range, drops chunks a
//! tombstone covers entirely, and hands out series whose iterators decode
//! one chunk at a time straight from the memory map, skipping deleted
//! samples. Chunks of one series that overlap in time (not written by
//! Prometheus or Ember, but tolerated) are decoded together, sorted and
//! de-duplicated.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, OnceLock, RwLock};

use model::matcher::Matcher;
use model::{FloatHistogram, Histogram, Labels};
use storage::query::{BoxedSeries, Warnings, apply_limit};
use storage::vec::Value;
use storage::{
    LabelHints, Querier, SampleIterator, SelectHints, Series, SeriesSet, StorageError, ValueType,
};

use super::meta::BlockMeta;
use super::tombstones::{Interval, Tombstones, is_deleted};
use super::ulid::Ulid;
use super::{Error, dir_size};
use crate::chunkenc::{self, ChunkIter, Encoding};
use crate::chunks::{BlockChunkRef, BlockReader};
use crate::index::{ChunkMeta, IndexReader};

/// An opened block. Shared as `Arc<Block>` by the database and queriers;
/// its files stay mapped until the last reference goes.
pub struct Block {
    dir: PathBuf,
    meta: BlockMeta,
    index: OnceLock<Result<IndexReader, String>>,
    chunks: OnceLock<Result<BlockReader, String>>,
    tombstones: RwLock<Arc<Tombstones>>,
    size: std::sync::atomic::AtomicU64,
    /// Set by [`Block::mark_deletable`].
    deletable: AtomicBool,
    /// Set by [`Block::mark_compaction_failed`].
    compaction_failed: AtomicBool,
}

impl std::fmt::Debug for Block {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Block")
            .field("ulid", &self.meta.ulid)
            .field("min_time", &self.meta.min_time)
            .field("max_time", &self.meta.max_time)
            .finish_non_exhaustive()
    }
}

fn storage_err(e: &Error) -> StorageError {
    match e {
        Error::Io { path, .. } => StorageError::Io {
            place: path.display().to_string(),
            reason: e.to_string(),
        },
        _ => StorageError::Corrupt {
            place: "block".into(),
            reason: e.to_string(),
        },
    }
}

impl Block {
    /// Opens the block in `dir`: reads `meta.json` and `tombstones`; the
    /// index and chunks are mapped on first use.
    pub fn open(dir: &Path) -> Result<Block, Error> {
        let meta = BlockMeta::read(dir)?;
        let tombstones = Tombstones::read(dir)?;
        Ok(Block {
            dir: dir.to_path_buf(),
            meta,
            index: OnceLock::new(),
            chunks: OnceLock::new(),
            tombstones: RwLock::new(Arc::new(tombstones)),
            size: std::sync::atomic::AtomicU64::new(dir_size(dir)),
            deletable: AtomicBool::new(false),
            compaction_failed: AtomicBool::new(false),
        })
    }

    /// Opens the block and maps its files now, reporting any problem.
    pub fn open_checked(dir: &Path) -> Result<Block, Error> {
        let b = Block::open(dir)?;
        b.index()?;
        b.chunks()?;
        Ok(b)
    }

    /// The block's directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Its metadata as read at open (tombstone count and marks kept
    /// current).
    pub fn meta(&self) -> BlockMeta {
        let mut m = self.meta.clone();
        m.stats.num_tombstones = self.tombstones().num_intervals();
        m.compaction.deletable |= self.deletable.load(Ordering::Relaxed);
        m.compaction.failed |= self.compaction_failed.load(Ordering::Relaxed);
        m
    }

    /// Marks the block for deletion (a compaction left nothing of it), in
    /// `meta.json` and in memory, so that the next reload deletes it.
    pub fn mark_deletable(&self) -> Result<(), Error> {
        self.deletable.store(true, Ordering::Relaxed);
        self.meta().write(&self.dir)
    }

    /// Marks the block's compaction as failed, in `meta.json` and in
    /// memory, so that the planner does not pick it again.
    pub fn mark_compaction_failed(&self) -> Result<(), Error> {
        self.compaction_failed.store(true, Ordering::Relaxed);
        self.meta().write(&self.dir)
    }

    /// Its identity.
    pub fn ulid(&self) -> Ulid {
        self.meta.ulid
    }

    /// Whether its range overlaps `[mint, maxt]` (inclusive).
    pub fn overlaps(&self, mint: i64, maxt: i64) -> bool {
        self.meta.overlaps(mint, maxt)
    }

    /// First millisecond.
    pub fn min_time(&self) -> i64 {
        self.meta.min_time
    }

    /// End of the range (exclusive).
    pub fn max_time(&self) -> i64 {
        self.meta.max_time
    }

    /// Bytes on disk.
    pub fn size(&self) -> u64 {
        self.size.load(std::sync::atomic::Ordering::Relaxed)
    }

    /// Bytes of the index's symbol table held in memory (0 while the
    /// index is not loaded).
    pub fn symbol_table_size(&self) -> u64 {
        match self.index.get() {
            Some(Ok(ix)) => ix.symbol_table_size(),
            _ => 0,
        }
    }

    /// The index, mapped on first use.
    pub fn index(&self) -> Result<&IndexReader, Error> {
        let path = self.dir.join("index");
        self.index
            .get_or_init(|| IndexReader::open(&path).map_err(|e| e.to_string()))
            .as_ref()
            .map_err(|reason| Error::Corrupt {
                path: path.clone(),
                reason: reason.clone(),
            })
    }

    /// The chunk segments, mapped on first use.
    pub fn chunks(&self) -> Result<&BlockReader, Error> {
        let path = self.dir.join("chunks");
        self.chunks
            .get_or_init(|| BlockReader::open(&path).map_err(|e| e.to_string()))
            .as_ref()
            .map_err(|reason| Error::Corrupt {
                path: path.clone(),
                reason: reason.clone(),
            })
    }

    /// The current tombstones.
    pub fn tombstones(&self) -> Arc<Tombstones> {
        Arc::clone(&self.tombstones.read().unwrap_or_else(|p| p.into_inner()))
    }

    /// Deletes `[mint, maxt]` of the series matching `matchers`: adds
    /// tombstones and rewrites the `tombstones` file atomically. Returns
    /// the number of series touched.
    pub fn delete(&self, mint: i64, maxt: i64, matchers: &[Matcher]) -> Result<usize, Error> {
        if !self.meta.overlaps(mint, maxt) {
            return Ok(0);
        }
        let index = self.index()?;
        let refs = index
            .postings_for_matchers(matchers)
            .map_err(|source| Error::Index {
                path: self.dir.join("index"),
                source,
            })?;
        let mut guard = self.tombstones.write().unwrap_or_else(|p| p.into_inner());
        let mut t = Tombstones::clone(&guard);
        let mut chunks = Vec::new();
        let mut touched = 0;
        for r in refs {
            index
                .series(r, &mut chunks)
                .map_err(|source| Error::Index {
                    path: self.dir.join("index"),
                    source,
                })?;
            if chunks
                .iter()
                .any(|c| c.min_time <= maxt && mint <= c.max_time)
            {
                t.add(r, Interval { mint, maxt });
                touched += 1;
            }
        }
        if touched > 0 {
            t.write(&self.dir)?;
            *guard = Arc::new(t);
            self.size
                .store(dir_size(&self.dir), std::sync::atomic::Ordering::Relaxed);
        }
        Ok(touched)
    }

    /// A querier over `[mint, maxt]` (inclusive).
    pub fn querier(self: &Arc<Self>, mint: i64, maxt: i64) -> BlockQuerier {
        BlockQuerier {
            block: Arc::clone(self),
            mint,
            maxt,
        }
    }

    /// The series matching `matchers` with chunks in `[mint, maxt]`, in
    /// label order, tombstones applied; at most `limit` when non-zero.
    pub fn select_series(
        self: &Arc<Self>,
        mint: i64,
        maxt: i64,
        limit: usize,
        matchers: &[Matcher],
    ) -> Result<Vec<BlockSeries>, Error> {
        let index = self.index()?;
        let index_path = || self.dir.join("index");
        let refs = index
            .postings_for_matchers(matchers)
            .map_err(|source| Error::Index {
                path: index_path(),
                source,
            })?;
        let tombstones = self.tombstones();
        let mut out = Vec::new();
        let mut chunks = Vec::new();
        for r in refs {
            let labels = self.live_series(index, r, &tombstones, mint, maxt, &mut chunks)?;
            if chunks.is_empty() {
                continue;
            }
            let deleted = tombstones.get(r);
            out.push(BlockSeries {
                labels,
                chunks: std::mem::take(&mut chunks),
                deleted: deleted.to_vec(),
                block: Arc::clone(self),
                mint,
                maxt,
            });
            if limit > 0 && out.len() >= limit {
                break;
            }
        }
        Ok(out)
    }

    /// Decodes series `r` into its labels and, in `chunks`, its chunks
    /// overlapping `[mint, maxt]` that no tombstone covers entirely (empty
    /// when nothing is left).
    pub(crate) fn live_series(
        &self,
        index: &IndexReader,
        r: u64,
        tombstones: &Tombstones,
        mint: i64,
        maxt: i64,
        chunks: &mut Vec<ChunkMeta>,
    ) -> Result<Labels, Error> {
        let labels = index.series(r, chunks).map_err(|source| Error::Index {
            path: self.dir.join("index"),
            source,
        })?;
        let deleted = tombstones.get(r);
        chunks.retain(|c| {
            c.min_time <= maxt
                && mint <= c.max_time
                && !deleted
                    .iter()
                    .any(|iv| iv.mint <= c.min_time && c.max_time <= iv.maxt)
        });
        Ok(labels)
    }

    fn matching_labels(&self, matchers: &[Matcher]) -> Result<Vec<Labels>, Error> {
        let index = self.index()?;
        let refs = index
            .postings_for_matchers(matchers)
            .map_err(|source| Error::Index {
                path: self.dir.join("index"),
                source,
            })?;
        let mut chunks = Vec::new();
        refs.into_iter()
            .map(|r| {
                index.series(r, &mut chunks).map_err(|source| Error::Index {
                    path: self.dir.join("index"),
                    source,
                })
            })
            .collect()
    }
}

/// A querier over one block.
#[derive(Debug)]
pub struct BlockQuerier {
    block: Arc<Block>,
    mint: i64,
    maxt: i64,
}

impl BlockQuerier {
    fn outside(&self) -> bool {
        !self.block.meta.overlaps(self.mint, self.maxt)
    }
}

impl Querier for BlockQuerier {
    fn select(
        &self,
        _sorted: bool,
        hints: Option<&SelectHints>,
        matchers: &[Matcher],
    ) -> Box<dyn SeriesSet + '_> {
        if self.outside() {
            return Box::new(storage::vec::ListSeriesSet::new(Vec::new()));
        }
        let limit = hints.map_or(0, |h| h.limit);
        match self
            .block
            .select_series(self.mint, self.maxt, limit, matchers)
        {
            Ok(series) => Box::new(BlockSeriesSet {
                series: series.into_iter(),
            }),
            Err(e) => Box::new(storage::vec::ErrorSeriesSet(Some(storage_err(&e)))),
        }
    }

    fn label_values(
        &self,
        name: &str,
        hints: &LabelHints,
        matchers: &[Matcher],
    ) -> Result<(Vec<String>, Warnings), StorageError> {
        if self.outside() {
            return Ok((Vec::new(), Vec::new()));
        }
        let values = if matchers.is_empty() {
            let index = self.block.index().map_err(|e| storage_err(&e))?;
            index.label_values(name).map_err(|source| {
                storage_err(&Error::Index {
                    path: self.block.dir.join("index"),
                    source,
                })
            })?
        } else {
            let mut v: Vec<String> = self
                .block
                .matching_labels(matchers)
                .map_err(|e| storage_err(&e))?
                .iter()
                .filter_map(|l| l.get(name).map(str::to_string))
                .collect();
            v.sort_unstable();
            v.dedup();
            v
        };
        Ok((apply_limit(values, hints.limit), Vec::new()))
    }

    fn label_names(
        &self,
        hints: &LabelHints,
        matchers: &[Matcher],
    ) -> Result<(Vec<String>, Warnings), StorageError> {
        if self.outside() {
            return Ok((Vec::new(), Vec::new()));
        }
        let names = if matchers.is_empty() {
            let index = self.block.index().map_err(|e| storage_err(&e))?;
            index.label_names().map_err(|source| {
                storage_err(&Error::Index {
                    path: self.block.dir.join("index"),
                    source,
                })
            })?
        } else {
            let mut v: Vec<String> = self
                .block
                .matching_labels(matchers)
                .map_err(|e| storage_err(&e))?
                .iter()
                .flat_map(|l| l.iter().map(|(n, _)| n.to_string()).collect::<Vec<_>>())
                .collect();
            v.sort_unstable();
            v.dedup();
            v
        };
        Ok((apply_limit(names, hints.limit), Vec::new()))
    }
}

struct BlockSeriesSet {
    series: std::vec::IntoIter<BlockSeries>,
}

impl SeriesSet for BlockSeriesSet {
    fn next(&mut self) -> Option<Result<BoxedSeries, StorageError>> {
        self.series.next().map(|s| Ok(Box::new(s) as BoxedSeries))
    }
}

/// A series of a block as a select saw it: its chunks in the range and
/// its deleted intervals.
pub struct BlockSeries {
    labels: Labels,
    chunks: Vec<ChunkMeta>,
    deleted: Vec<Interval>,
    block: Arc<Block>,
    mint: i64,
    maxt: i64,
}

impl std::fmt::Debug for BlockSeries {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BlockSeries")
            .field("labels", &self.labels)
            .field("chunks", &self.chunks.len())
            .finish_non_exhaustive()
    }
}

impl BlockSeries {
    /// Its labels.
    pub fn labels(&self) -> &Labels {
        &self.labels
    }

    /// Its chunks overlapping the range, in time order.
    pub fn chunk_metas(&self) -> &[ChunkMeta] {
        &self.chunks
    }

    /// Its deleted intervals.
    pub fn deleted(&self) -> &[Interval] {
        &self.deleted
    }

    /// The block it comes from.
    pub fn block(&self) -> &Arc<Block> {
        &self.block
    }

    /// The encoding and bytes of chunk `c` (borrowed from the map).
    pub fn chunk(&self, c: &ChunkMeta) -> Result<(Encoding, &[u8]), StorageError> {
        let reader = self.block.chunks().map_err(|e| storage_err(&e))?;
        reader
            .chunk(BlockChunkRef(c.chunk_ref))
            .map_err(|e| StorageError::Corrupt {
                place: format!("chunk {:#x} of {}", c.chunk_ref, self.labels),
                reason: e.to_string(),
            })
    }

    /// Whether chunks overlap in time (needs a sorting decode).
    fn chunks_overlap(&self) -> bool {
        self.chunks
            .windows(2)
            .any(|w| w[1].min_time <= w[0].max_time)
    }

    /// Every sample in range, sorted, deleted ones dropped.
    pub fn decode_all(&self) -> Result<Vec<(i64, Value)>, StorageError> {
        let mut out = Vec::new();
        for c in &self.chunks {
            let (enc, bytes) = self.chunk(c)?;
            chunkenc::decode_range(
                enc,
                bytes,
                self.mint,
                self.maxt,
                |t| is_deleted(&self.deleted, t),
                &mut out,
            )
            .map_err(|e| StorageError::Corrupt {
                place: format!("chunk {:#x} of {}", c.chunk_ref, self.labels),
                reason: e.to_string(),
            })?;
        }
        if self.chunks_overlap() {
            out.sort_by_key(|s| s.0);
            out.dedup_by_key(|s| s.0);
        }
        Ok(out)
    }
}

impl Series for BlockSeries {
    fn labels(&self) -> &Labels {
        &self.labels
    }

    fn iterator(&self) -> Box<dyn SampleIterator + '_> {
        if self.chunks_overlap() {
            return Box::new(match self.decode_all() {
                Ok(samples) => storage::vec::OwnedIterator::new(samples, None),
                Err(e) => storage::vec::OwnedIterator::new(Vec::new(), Some(e)),
            });
        }
        Box::new(ChunksIterator {
            series: self,
            next_chunk: 0,
            cur: None,
            vt: ValueType::None,
            err: None,
            done: false,
        })
    }
}

fn value_type(vt: chunkenc::ValueType) -> ValueType {
    match vt {
        chunkenc::ValueType::None => ValueType::None,
        chunkenc::ValueType::Float => ValueType::Float,
        chunkenc::ValueType::Histogram => ValueType::Histogram,
        chunkenc::ValueType::FloatHistogram => ValueType::FloatHistogram,
    }
}

/// Streams a series' non-overlapping chunks, one decoder at a time.
struct ChunksIterator<'a> {
    series: &'a BlockSeries,
    next_chunk: usize,
    cur: Option<ChunkIter<'a>>,
    vt: ValueType,
    err: Option<StorageError>,
    done: bool,
}

impl<'a> ChunksIterator<'a> {
    fn finish(&mut self) -> ValueType {
        self.done = true;
        self.cur = None;
        self.vt = ValueType::None;
        ValueType::None
    }

    /// Opens the next chunk whose end is at or after `t`; false at the end.
    fn open_next(&mut self, t: i64) -> bool {
        while let Some(c) = self.series.chunks.get(self.next_chunk) {
            self.next_chunk += 1;
            if c.max_time < t {
                continue;
            }
            let opened = self.series.chunk(c).and_then(|(enc, bytes)| {
                ChunkIter::new(enc, bytes).map_err(|e| StorageError::Corrupt {
                    place: format!("chunk {:#x} of {}", c.chunk_ref, self.series.labels),
                    reason: e.to_string(),
                })
            });
            match opened {
                Ok(it) => {
                    self.cur = Some(it);
                    return true;
                }
                Err(e) => {
                    self.err = Some(e);
                    return false;
                }
            }
        }
        false
    }

    /// Checks the decoder's position after it moved with result `vt`:
    /// accepts it, skips it (deleted or before the range) or ends.
    fn settle(&mut self, mut vt: chunkenc::ValueType) -> ValueType {
        loop {
            let Some(it) = self.cur.as_mut() else {
                return self.finish();
            };
            if vt == chunkenc::ValueType::None {
                if let Some(e) = it.err() {
                    self.err = Some(StorageError::Corrupt {
                        place: format!("chunk of {}", self.series.labels),
                        reason: e.to_string(),
                    });
                    return self.finish();
                }
                if !self.open_next(self.series.mint) {
                    return self.finish();
                }
                vt = self
                    .cur
                    .as_mut()
                    .map_or(chunkenc::ValueType::None, |it| it.seek(self.series.mint));
                continue;
            }
            let t = it.at_t();
            if t > self.series.maxt {
                return self.finish();
            }
            if t < self.series.mint || is_deleted(&self.series.deleted, t) {
                vt = it.next();
                continue;
            }
            self.vt = value_type(vt);
            return self.vt;
        }
    }
}

impl SampleIterator for ChunksIterator<'_> {
    fn next(&mut self) -> ValueType {
        if self.done {
            return ValueType::None;
        }
        let vt = match self.cur.as_mut() {
            Some(it) => it.next(),
            None => {
                if !self.open_next(self.series.mint) {
                    return self.finish();
                }
                self.cur
                    .as_mut()
                    .map_or(chunkenc::ValueType::None, |it| it.seek(self.series.mint))
            }
        };
        self.settle(vt)
    }

    fn seek(&mut self, t: i64) -> ValueType {
        if self.done {
            return ValueType::None;
        }
        if self.vt != ValueType::None && self.at_t() >= t {
            return self.vt;
        }
        let t = t.max(self.series.mint);
        // Skip whole chunks that end before t.
        let in_current = self.cur.is_some()
            && self
                .next_chunk
                .checked_sub(1)
                .and_then(|i| self.series.chunks.get(i))
                .is_some_and(|c| c.max_time >= t);
        if !in_current {
            self.cur = None;
            if !self.open_next(t) {
                return self.finish();
            }
        }
        let vt = self
            .cur
            .as_mut()
            .map_or(chunkenc::ValueType::None, |it| it.seek(t));
        self.settle(vt)
    }

    fn at(&self) -> (i64, f64) {
        match self.cur.as_ref().and_then(ChunkIter::at) {
            Some(s) => s,
            None => (self.at_t(), f64::NAN),
        }
    }

    fn at_histogram(&self, into: &mut Histogram) -> i64 {
        match self.cur.as_ref() {
            Some(it) => it.at_histogram(into).unwrap_or_else(|| it.at_t()),
            None => 0,
        }
    }

    fn at_float_histogram(&self, into: &mut FloatHistogram) -> i64 {
        match self.cur.as_ref() {
            Some(it) => it.at_float_histogram(into).unwrap_or_else(|| it.at_t()),
            None => 0,
        }
    }

    fn at_t(&self) -> i64 {
        self.cur.as_ref().map_or(0, ChunkIter::at_t)
    }

    fn err(&self) -> Option<StorageError> {
        self.err.clone()
    }
}
