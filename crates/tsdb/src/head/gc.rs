//! Truncation and garbage collection (Prometheus's `Head.Truncate`,
//! `gc` and `truncateWAL`).
//!
//! [`Head::truncate`] raises the head's minimum valid time to `mint`, drops
//! every chunk that ends before it, removes series left without chunks (and
//! not held by an appender) from the series map and the postings, deletes
//! `chunks_head/` files no series refers to any more, and compacts the WAL:
//! the oldest two thirds of its closed segments go into a checkpoint that
//! keeps the series still in the head and the samples at or after `mint`,
//! and are deleted. WBL segments holding only samples before `mint` are
//! deleted too.

use std::collections::BTreeSet;
use std::sync::atomic::Ordering;

use crate::record::HeadSeriesRef;
use crate::wal;

use super::series::ChunkLoc;
use super::{Error, Head, lock, read, write};

/// What a truncation did.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct TruncateStats {
    /// Chunks dropped.
    pub chunks_removed: u64,
    /// Series removed.
    pub series_removed: u64,
    /// The WAL checkpoint written, if any (its index).
    pub checkpoint: Option<u32>,
    /// WAL segments deleted.
    pub wal_segments_removed: usize,
}

impl Head {
    /// Drops data before `mint` and compacts the logs (see the module docs).
    pub fn truncate(&self, mint: i64) -> Result<TruncateStats, Error> {
        self.metrics.truncations.fetch_add(1, Ordering::Relaxed);
        let res = self.truncate_inner(mint);
        if res.is_err() {
            self.metrics
                .truncations_failed
                .fetch_add(1, Ordering::Relaxed);
        }
        res
    }

    /// The starts of the `range`-wide windows (aligned to multiples of
    /// `range`) that hold out-of-order samples older than `below`, the
    /// newest block's end: what the database writes to blocks of their
    /// own before a truncation would drop them. Empty without an
    /// out-of-order window.
    pub fn ooo_windows_before(&self, below: i64, range: i64) -> BTreeSet<i64> {
        let mut out = BTreeSet::new();
        if self.opts.out_of_order_time_window <= 0 || range <= 0 {
            return out;
        }
        self.series.for_each(|s| {
            s.lock().for_each_ooo_time_before(below, |t| {
                out.insert(t.div_euclid(range) * range);
            });
        });
        out
    }

    /// Removes series without samples (e.g. created by rolled-back
    /// batches) and chunks before `mint`, without touching the logs.
    pub fn gc(&self, mint: i64) -> TruncateStats {
        let start = std::time::Instant::now();
        let mut stats = TruncateStats::default();
        // No commit runs while chunks are dropped: a commit's samples stay
        // consistent with the order checks it made.
        let commit = lock(&self.commit);
        let mut chunks_removed = 0u64;
        let removed = self.series.remove_if(|s| {
            let mut st = s.lock();
            chunks_removed += st.truncate_before(mint) as u64;
            st.is_empty()
        });
        drop(commit);
        let dead: Vec<(u64, &crate::index::postings::LabelRefs)> =
            removed.iter().map(|s| (s.series_ref, &s.labels)).collect();
        write(&self.postings).delete_series(&dead);
        stats.series_removed = dead.len() as u64;
        if !dead.is_empty() {
            self.series.shrink();
        }
        drop(dead);
        // The removed series may have held the last users of some metadata.
        drop(removed);
        lock(&self.metadata).retain(|m| std::sync::Arc::strong_count(m) > 1);
        stats.chunks_removed = chunks_removed;
        let m = &self.metrics;
        m.chunks_removed
            .fetch_add(chunks_removed, Ordering::Relaxed);
        m.series_removed
            .fetch_add(stats.series_removed, Ordering::Relaxed);
        // New time bounds.
        let mut min_t = i64::MAX;
        self.series.for_each(|s| {
            if let Some(t) = s.lock().min_t() {
                min_t = min_t.min(t);
            }
        });
        self.min_time.store(min_t, Ordering::Relaxed);
        if min_t == i64::MAX && self.series.len() == 0 {
            self.max_time.store(i64::MIN, Ordering::Relaxed);
        }
        m.gc_duration_ms
            .fetch_add(start.elapsed().as_millis() as u64, Ordering::Relaxed);
        stats
    }

    fn truncate_inner(&self, mint: i64) -> Result<TruncateStats, Error> {
        self.min_valid_time.fetch_max(mint, Ordering::Relaxed);
        let mut stats = self.gc(mint);
        // Chunk files no series refers to.
        let mut min_seq = u32::MAX;
        self.series.for_each(|s| {
            for c in &s.lock().mmapped {
                if let ChunkLoc::Disk(r) = c.loc {
                    min_seq = min_seq.min(r.seq());
                }
            }
        });
        write(&self.mapper).truncate_before(min_seq)?;
        if !self.opts.wal {
            return Ok(stats);
        }
        // Start a new segment so that everything logged so far can be
        // checkpointed, then checkpoint the oldest two thirds.
        let dir = self.wal_dir();
        {
            let mut c = lock(&self.commit);
            if let Some(w) = c.wal.as_mut() {
                w.next_segment()?;
            }
        }
        let started = std::time::Instant::now();
        if let Some((first, last)) = wal::segments(&dir)? {
            // The last segment is the one being written.
            let last = last.saturating_sub(1);
            let to = first + (last.saturating_sub(first)) * 2 / 3;
            if last > first && to >= first {
                self.metrics
                    .checkpoint_creations
                    .fetch_add(1, Ordering::Relaxed);
                // Aliases whose series left the head are forgotten; the
                // others keep their series records (see `wal_aliases`).
                let aliases = {
                    let mut a = lock(&self.wal_aliases);
                    a.retain(|_, to| self.series.get_by_ref(*to).is_some());
                    a.clone()
                };
                let keep = |r: HeadSeriesRef| {
                    self.series.get_by_ref(r.0).is_some() || aliases.contains_key(&r.0)
                };
                let res = wal::checkpoint(
                    &dir,
                    first,
                    to,
                    keep,
                    model::Timestamp(mint),
                    self.opts.wal_compression,
                );
                if let Err(e) = res {
                    self.metrics
                        .checkpoint_creations_failed
                        .fetch_add(1, Ordering::Relaxed);
                    return Err(e.into());
                }
                stats.checkpoint = Some(to);
                let m = &self.metrics;
                m.wal_truncations.fetch_add(1, Ordering::Relaxed);
                stats.wal_segments_removed = wal::truncate(&dir, to + 1).inspect_err(|_| {
                    m.wal_truncations_failed.fetch_add(1, Ordering::Relaxed);
                })?;
                m.checkpoint_deletions.fetch_add(1, Ordering::Relaxed);
                wal::delete_checkpoints(&dir, to).inspect_err(|_| {
                    m.checkpoint_deletions_failed
                        .fetch_add(1, Ordering::Relaxed);
                })?;
                // The whole truncation: checkpoint, segments, old checkpoints.
                m.wal_truncate_runs.fetch_add(1, Ordering::Relaxed);
                m.wal_truncate_us
                    .fetch_add(started.elapsed().as_micros() as u64, Ordering::Relaxed);
            }
        }
        self.truncate_wbl(mint)?;
        Ok(stats)
    }

    fn truncate_wbl(&self, mint: i64) -> Result<(), Error> {
        let mut c = lock(&self.commit);
        let c = &mut *c;
        let Some(wbl) = c.wbl.as_mut() else {
            return Ok(());
        };
        let current = wbl.next_segment()?;
        // Delete the oldest segments while every sample in them is old.
        let mut before = None;
        if let Some((first, _)) = wal::segments(&self.wbl_dir())? {
            let mut seg = first;
            while seg < current {
                match c.wbl_segment_maxt.get(&seg) {
                    Some(&t) if t >= mint => break,
                    _ => seg += 1,
                }
            }
            before = Some(seg);
        }
        if let Some(b) = before {
            wal::truncate(&self.wbl_dir(), b)?;
            c.wbl_segment_maxt = c.wbl_segment_maxt.split_off(&b);
        }
        Ok(())
    }

    /// Chunks and series currently held, for tests and statistics:
    /// (series, chunks on disk, chunks in memory).
    pub fn chunk_counts(&self) -> (usize, usize, usize) {
        let (mut disk, mut mem) = (0, 0);
        self.series.for_each(|s| {
            let st = s.lock();
            let d = st
                .mmapped
                .iter()
                .filter(|c| matches!(c.loc, ChunkLoc::Disk(_)))
                .count();
            disk += d;
            mem += st.num_chunks() - d;
        });
        (self.series.len(), disk, mem)
    }

    /// Number of distinct label pairs in the index.
    pub fn num_label_pairs(&self) -> usize {
        read(&self.postings).num_pairs()
    }
}
