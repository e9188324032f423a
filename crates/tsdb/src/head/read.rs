//! Reading the head (Prometheus's `head_read.go`): [`Head`] is a
//! [`Queryable`]; a querier resolves matchers through the postings index
//! and snapshots, under each series' lock, the chunks overlapping its time
//! range: references of memory-mapped chunks, a copy of the open chunk's
//! bytes and the out-of-order samples. A series' iterator decodes those
//! chunks (reading `chunks_head/` through the shared [`ChunkDiskMapper`])
//! into a sample vector trimmed to the range; out-of-order samples are
//! merged in by time, in-order samples winning on equal timestamps.

use std::sync::{Arc, RwLock};

use model::Labels;
use model::matcher::Matcher;
use storage::query::{BoxedSeries, apply_limit};
use storage::vec::Value;
use storage::{
    LabelHints, Querier, Queryable, SampleIterator, SelectHints, Series, SeriesSet, StorageError,
};

use super::series::{ChunkLoc, MemSeries};
use super::{Head, read};
use crate::block::tombstones::Interval;
use crate::chunkenc::{self, Encoding};
use crate::chunks::{ChunkDiskMapper, ChunkDiskRef};
use crate::index::postings::MemPostings;

/// Series a select resolves per hold of the index's read lock.
const SELECT_BATCH: usize = 1024;

/// A querier over the head for `[mint, maxt]`.
pub struct HeadQuerier<'a> {
    head: &'a Head,
    mint: i64,
    maxt: i64,
}

impl Queryable for Head {
    fn querier(&self, mint: i64, maxt: i64) -> Result<Box<dyn Querier + '_>, StorageError> {
        Ok(Box::new(HeadQuerier {
            head: self,
            mint,
            maxt,
        }))
    }
}

/// A chunk captured by a select.
#[derive(Debug)]
enum SnapChunk {
    Disk(ChunkDiskRef),
    Mem(Encoding, Box<[u8]>),
    Ooo(Vec<(i64, f64)>),
}

/// A series as a select saw it.
pub struct HeadSeries {
    labels: Labels,
    chunks: Vec<SnapChunk>,
    /// Time range of each in-order chunk of `chunks` (same order).
    spans: Vec<(i64, i64)>,
    has_ooo: bool,
    /// Whether the open chunk is among `chunks` (it overlapped the range).
    open: bool,
    mapper: Arc<RwLock<ChunkDiskMapper>>,
    mint: i64,
    maxt: i64,
}

impl std::fmt::Debug for HeadSeries {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HeadSeries")
            .field("labels", &self.labels)
            .field("chunks", &self.chunks.len())
            .finish_non_exhaustive()
    }
}

fn overlaps(a0: i64, a1: i64, mint: i64, maxt: i64) -> bool {
    a0 <= maxt && a1 >= mint
}

/// Captures the chunks of `s` overlapping `[mint, maxt]`; `None` if none.
/// `postings` (read-locked, with `s` found in the head under that lock)
/// turns its label refs into labels.
fn snapshot(
    s: &MemSeries,
    postings: &MemPostings,
    scratch: &mut Vec<u8>,
    mint: i64,
    maxt: i64,
    mapper: &Arc<RwLock<ChunkDiskMapper>>,
) -> Option<HeadSeries> {
    let st = s.lock();
    let mut chunks = Vec::new();
    let mut spans = Vec::new();
    let mut open = false;
    for c in &st.mmapped {
        if overlaps(c.mint, c.maxt, mint, maxt) {
            chunks.push(match &c.loc {
                ChunkLoc::Disk(r) => SnapChunk::Disk(*r),
                ChunkLoc::Mem(b) => SnapChunk::Mem(b.0, b.1.clone()),
            });
            spans.push((c.mint, c.maxt));
        }
    }
    if let Some(h) = &st.head
        && overlaps(h.mint, h.maxt(), mint, maxt)
    {
        chunks.push(SnapChunk::Mem(h.data.encoding(), h.data.bytes().into()));
        spans.push((h.mint, h.maxt()));
        open = true;
    }
    let mut has_ooo = false;
    if let Some(o) = st.ooo() {
        for c in &o.chunks {
            if overlaps(c.mint, c.maxt, mint, maxt) {
                chunks.push(SnapChunk::Mem(Encoding::Xor, c.bytes.clone()));
                has_ooo = true;
            }
        }
        let buf: Vec<(i64, f64)> = o
            .buf
            .iter()
            .copied()
            .filter(|(t, _)| *t >= mint && *t <= maxt)
            .collect();
        if !buf.is_empty() {
            chunks.push(SnapChunk::Ooo(buf));
            has_ooo = true;
        }
    }
    drop(st);
    if chunks.is_empty() {
        return None;
    }
    Some(HeadSeries {
        labels: postings.labels_in(&s.labels, scratch),
        chunks,
        spans,
        has_ooo,
        open,
        mapper: Arc::clone(mapper),
        mint,
        maxt,
    })
}

impl HeadSeries {
    /// Whether Prometheus's head index would still list the series under
    /// the deleted intervals `ivs` (sorted, disjoint): some captured chunk
    /// is not wholly inside one of them. The open chunk never is: the
    /// index gives it an end time of `i64::MAX`.
    pub(crate) fn listed_despite(&self, ivs: &[Interval]) -> bool {
        if self.open {
            return true;
        }
        self.spans
            .iter()
            .any(|&(lo, hi)| !ivs.iter().any(|iv| iv.mint <= lo && hi <= iv.maxt))
    }

    /// Decodes every captured sample in range, sorted by time.
    fn decode(&self) -> (Vec<(i64, Value)>, Option<StorageError>) {
        let mut out = Vec::new();
        let mut err = None;
        for c in &self.chunks {
            let res = match c {
                SnapChunk::Disk(r) => read(&self.mapper)
                    .with_chunk(*r, |e, b| {
                        chunkenc::decode_range(e, b, self.mint, self.maxt, |_| false, &mut out)
                    })
                    .map_err(|e| StorageError::Corrupt {
                        place: "chunks_head".into(),
                        reason: e.to_string(),
                    })
                    .and_then(|r| {
                        r.map_err(|e| StorageError::Corrupt {
                            place: format!("head chunk {:#x}", r_of(c)),
                            reason: e.to_string(),
                        })
                    }),
                SnapChunk::Mem(e, b) => {
                    chunkenc::decode_range(*e, b, self.mint, self.maxt, |_| false, &mut out)
                        .map_err(|e| StorageError::Corrupt {
                            place: "head chunk".into(),
                            reason: e.to_string(),
                        })
                }
                SnapChunk::Ooo(s) => {
                    out.extend(s.iter().map(|&(t, v)| (t, Value::Float(v))));
                    Ok(())
                }
            };
            if let Err(e) = res {
                err = Some(e);
                break;
            }
        }
        if self.has_ooo {
            // Stable: in-order chunks come first and win ties.
            out.sort_by_key(|s| s.0);
            out.dedup_by_key(|s| s.0);
        }
        (out, err)
    }
}

impl HeadSeries {
    /// The series' chunks as stored, for compaction to copy: encoding,
    /// bytes and time range of each. `None` when they cannot be copied as
    /// they are: out-of-order data to merge in, or a chunk reaching outside
    /// the selected range.
    pub(crate) fn raw_chunks(&self) -> Option<Result<Vec<RawChunk>, StorageError>> {
        if self.has_ooo
            || self.spans.len() != self.chunks.len()
            || self
                .spans
                .iter()
                .any(|&(lo, hi)| lo < self.mint || hi > self.maxt)
            || self.spans.windows(2).any(|w| w[1].0 <= w[0].1)
        {
            return None;
        }
        let mut out = Vec::with_capacity(self.chunks.len());
        for (c, &(mint, maxt)) in self.chunks.iter().zip(&self.spans) {
            let (encoding, bytes) = match c {
                SnapChunk::Disk(r) => {
                    match read(&self.mapper).with_chunk(*r, |e, b| (e, b.to_vec())) {
                        Ok(v) => v,
                        Err(e) => {
                            return Some(Err(StorageError::Corrupt {
                                place: format!("head chunk {:#x}", r.0),
                                reason: e.to_string(),
                            }));
                        }
                    }
                }
                SnapChunk::Mem(e, b) => (*e, b.to_vec()),
                SnapChunk::Ooo(_) => return None,
            };
            out.push(RawChunk {
                encoding,
                bytes,
                mint,
                maxt,
            });
        }
        Some(Ok(out))
    }
}

/// A stored chunk copied out of the head.
#[derive(Debug)]
pub(crate) struct RawChunk {
    pub(crate) encoding: Encoding,
    pub(crate) bytes: Vec<u8>,
    pub(crate) mint: i64,
    pub(crate) maxt: i64,
}

fn r_of(c: &SnapChunk) -> u64 {
    match c {
        SnapChunk::Disk(r) => r.0,
        _ => 0,
    }
}

impl Series for HeadSeries {
    fn labels(&self) -> &Labels {
        &self.labels
    }

    fn iterator(&self) -> Box<dyn SampleIterator + '_> {
        let (samples, err) = self.decode();
        Box::new(storage::vec::OwnedIterator::new(samples, err))
    }
}

struct HeadSeriesSet {
    series: std::vec::IntoIter<HeadSeries>,
}

impl SeriesSet for HeadSeriesSet {
    fn next(&mut self) -> Option<Result<BoxedSeries, StorageError>> {
        self.series.next().map(|s| Ok(Box::new(s) as BoxedSeries))
    }
}

impl Head {
    /// The series matching `matchers` with data in `[mint, maxt]`, as
    /// owned snapshots; sorted by labels if `sorted`.
    pub fn select_series(
        &self,
        mint: i64,
        maxt: i64,
        sorted: bool,
        limit: usize,
        matchers: &[Matcher],
    ) -> Vec<HeadSeries> {
        let refs = read(&self.postings).for_matchers(matchers);
        let mut out = Vec::with_capacity(refs.len().min(1 << 16));
        // Labels are read under the index's read lock (a series found in
        // the head under it keeps valid label refs), taken per batch so that
        // a large select does not hold off series creation for long.
        let mut scratch = Vec::with_capacity(256);
        'batches: for batch in refs.chunks(SELECT_BATCH) {
            let p = read(&self.postings);
            for &r in batch {
                let Some(s) = self.series.get_by_ref(r) else {
                    self.series_not_found();
                    continue;
                };
                if let Some(snap) = snapshot(&s, &p, &mut scratch, mint, maxt, &self.mapper) {
                    out.push(snap);
                    if !sorted && limit > 0 && out.len() >= limit {
                        break 'batches;
                    }
                }
            }
        }
        if sorted {
            out.sort_by(|a, b| a.labels.cmp(&b.labels));
        }
        apply_limit(out, limit)
    }

    /// Labels of the series matching `matchers` (all when empty).
    fn matching_labels(&self, matchers: &[Matcher]) -> Vec<Labels> {
        let p = read(&self.postings);
        let refs = p.for_matchers(matchers);
        refs.into_iter()
            .filter_map(|r| match self.series.get_by_ref(r) {
                Some(s) => Some(p.labels(&s.labels)),
                None => {
                    self.series_not_found();
                    None
                }
            })
            .collect()
    }

    /// Counts a series the index listed but the tables no longer hold.
    fn series_not_found(&self) {
        self.metrics
            .series_not_found
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    }

    /// Exemplars in `[start, end]` of series matching any matcher set.
    pub fn select_exemplars(
        &self,
        start: i64,
        end: i64,
        matcher_sets: &[Vec<Matcher>],
    ) -> Vec<super::ExemplarSeries> {
        super::lock(&self.exemplars).select(start, end, matcher_sets)
    }
}

impl HeadQuerier<'_> {
    fn outside(&self) -> bool {
        match (self.head.min_time(), self.head.max_time()) {
            (Some(lo), Some(hi)) => self.maxt < lo || self.mint > hi.max(lo),
            _ => true,
        }
    }
}

impl Querier for HeadQuerier<'_> {
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
        Box::new(HeadSeriesSet {
            series: series.into_iter(),
        })
    }

    fn label_values(
        &self,
        name: &str,
        hints: &LabelHints,
        matchers: &[Matcher],
    ) -> Result<(Vec<String>, storage::query::Warnings), StorageError> {
        if self.outside() {
            return Ok((Vec::new(), Vec::new()));
        }
        let mut values = if matchers.is_empty() {
            read(&self.head.postings).label_values(name)
        } else {
            let mut v: Vec<String> = self
                .head
                .matching_labels(matchers)
                .iter()
                .filter_map(|l| l.get(name).map(str::to_string))
                .collect();
            v.sort_unstable();
            v.dedup();
            v
        };
        values = apply_limit(values, hints.limit);
        Ok((values, Vec::new()))
    }

    fn label_names(
        &self,
        hints: &LabelHints,
        matchers: &[Matcher],
    ) -> Result<(Vec<String>, storage::query::Warnings), StorageError> {
        if self.outside() {
            return Ok((Vec::new(), Vec::new()));
        }
        let mut names = if matchers.is_empty() {
            read(&self.head.postings).label_names()
        } else {
            let mut v: Vec<String> = self
                .head
                .matching_labels(matchers)
                .iter()
                .flat_map(|l| l.iter().map(|(n, _)| n.to_string()).collect::<Vec<_>>())
                .collect();
            v.sort_unstable();
            v.dedup();
            v
        };
        names = apply_limit(names, hints.limit);
        Ok((names, Vec::new()))
    }
}
