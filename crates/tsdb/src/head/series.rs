//! Series in memory: the striped series map and one series' chunks.
//!
//! A [`MemSeries`] holds its labels and, behind its own mutex, a
//! [`SeriesState`]: the memory-mapped chunks (disk reference and time
//! range), the open head chunk, the cut state, out-of-order chunks and
//! metadata. There is no separate "last sample" field: the newest sample is
//! the head chunk's last one (decoded only when a sample arrives with the
//! same timestamp, to tell a duplicate from a conflict).

use std::collections::HashMap;

use hashbrown::HashTable;
use std::sync::atomic::{AtomicU32, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, RwLock};

use model::{FloatHistogram, Histogram, Labels, Metadata};

use crate::index::postings::{LabelRefs, MemPostings};
use storage::{AppendError, Sample};

use super::{lock, read, write};
use crate::chunkenc::{
    ChunkIter, ChunkStats, CutPolicy, CutState, Decision, Encoding, FloatHistogramChunk,
    HistogramAppend, HistogramChunk, ValueType, XorChunk,
};
use crate::chunks::{ChunkDiskMapper, ChunkDiskRef};

/// One series of the head.
///
/// `repr(C)`: the fields a lookup by reference touches (the reference it
/// compares, the pin count it raises) come first, next to the `Arc`'s
/// counts, so an append's lookup misses the cache once, not twice.
#[repr(C)]
pub struct MemSeries {
    /// Its reference (the WAL's `HeadSeriesRef`).
    pub series_ref: u64,
    /// Bit 31: a series record for it is in the WAL. Bits 0–30: appenders
    /// holding uncommitted samples for it (it is not collected while they
    /// are non-zero).
    flags: AtomicU32,
    /// The upper half of its labels' hash: the series-by-labels tables
    /// rehash with it when they grow (recomputing the hash from the index
    /// costs a string walk per series).
    hash_hi: u32,
    /// Its labels, as pair ids of the head's postings index
    /// ([`super::Head::series_labels`] turns them into [`Labels`]).
    pub(crate) labels: LabelRefs,
    pub(crate) state: Mutex<SeriesState>,
}

const LOGGED: u32 = 1 << 31;

impl MemSeries {
    /// Whether a series record for it is in the WAL.
    pub(crate) fn logged(&self) -> bool {
        self.flags.load(Ordering::Acquire) & LOGGED != 0
    }

    pub(crate) fn set_logged(&self) {
        self.flags.fetch_or(LOGGED, Ordering::AcqRel);
    }

    /// One appender more holds uncommitted samples for it.
    pub(crate) fn pin(&self) {
        self.flags.fetch_add(1, Ordering::AcqRel);
    }

    /// One appender less holds uncommitted samples for it.
    pub(crate) fn unpin(&self) {
        self.flags.fetch_sub(1, Ordering::AcqRel);
    }

    /// A series with no samples, `flags` as [`MemSeries::flags`] says.
    fn new(series_ref: u64, labels: LabelRefs, hash: u64, flags: u32) -> MemSeries {
        MemSeries {
            series_ref,
            flags: AtomicU32::new(flags),
            hash_hi: (hash >> 32) as u32,
            labels,
            state: Mutex::new(SeriesState::default()),
        }
    }

    /// Asks the CPU to start loading the series' state (its lock and
    /// chunk fields), for callers that know which series comes next.
    #[inline]
    pub(crate) fn prefetch(&self) {
        let p = (&raw const self.state).cast::<u8>();
        prefetch_addr(p);
        // The state spans two cache lines.
        prefetch_addr(p.wrapping_add(64));
    }

    fn pinned(&self) -> bool {
        self.flags.load(Ordering::Acquire) & !LOGGED != 0
    }
}

/// The hash a series-by-labels table files a labels hash under (from its
/// upper half, which the stripe choice, taken from the lower bits, leaves
/// varied).
fn table_hash(hash_hi: u32) -> u64 {
    mix(u64::from(hash_hi))
}

impl std::fmt::Debug for MemSeries {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MemSeries")
            .field("ref", &self.series_ref)
            .field("labels", &self.labels)
            .finish_non_exhaustive()
    }
}

/// Where a completed chunk lives.
#[derive(Debug)]
pub(crate) enum ChunkLoc {
    /// In `chunks_head/`.
    Disk(ChunkDiskRef),
    /// In memory, because writing it failed.
    Mem(Box<(Encoding, Box<[u8]>)>),
}

/// A completed in-order chunk.
#[derive(Debug)]
pub(crate) struct MmapChunk {
    pub(crate) loc: ChunkLoc,
    pub(crate) mint: i64,
    pub(crate) maxt: i64,
}

/// The open chunk's encoder.
#[derive(Debug)]
pub(crate) enum ChunkData {
    Xor(XorChunk),
    Histogram(Box<HistogramChunk>),
    FloatHistogram(Box<FloatHistogramChunk>),
}

impl ChunkData {
    pub(crate) fn encoding(&self) -> Encoding {
        match self {
            ChunkData::Xor(_) => Encoding::Xor,
            ChunkData::Histogram(_) => Encoding::Histogram,
            ChunkData::FloatHistogram(_) => Encoding::FloatHistogram,
        }
    }

    pub(crate) fn bytes(&self) -> &[u8] {
        match self {
            ChunkData::Xor(c) => c.bytes(),
            ChunkData::Histogram(c) => c.bytes(),
            ChunkData::FloatHistogram(c) => c.bytes(),
        }
    }
}

/// Bytes an open XOR chunk starts with: its first sample takes ~16
/// (header, varint timestamp, 64-bit value), later ones 1–3 each.
const XOR_START_CAPACITY: usize = 32;

/// The open chunk.
#[derive(Debug)]
pub(crate) struct HeadChunk {
    pub(crate) data: ChunkData,
    pub(crate) mint: i64,
}

impl HeadChunk {
    /// Time of its newest sample (its encoder keeps it; `mint` while the
    /// chunk is empty).
    pub(crate) fn maxt(&self) -> i64 {
        match &self.data {
            ChunkData::Xor(c) => c.last_t(),
            ChunkData::Histogram(c) => c.last_t(),
            ChunkData::FloatHistogram(c) => c.last_t(),
        }
        .unwrap_or(self.mint)
    }
}

/// A compressed out-of-order chunk (kept in memory).
#[derive(Debug)]
pub(crate) struct OooChunk {
    pub(crate) mint: i64,
    pub(crate) maxt: i64,
    pub(crate) bytes: Box<[u8]>,
}

/// Out-of-order samples of a series: an uncompressed sorted buffer and
/// compressed chunks.
#[derive(Debug, Default)]
pub(crate) struct OooChunks {
    pub(crate) buf: Vec<(i64, f64)>,
    pub(crate) chunks: Vec<OooChunk>,
}

/// The completed in-order chunks of a series, oldest first: a boxed slice
/// (no spare capacity; a chunk is completed every ~30 minutes of a 15 s
/// series, so growing by one is cheap).
#[derive(Debug, Default)]
pub(crate) struct ChunkList(Box<[MmapChunk]>);

impl std::ops::Deref for ChunkList {
    type Target = [MmapChunk];
    fn deref(&self) -> &[MmapChunk] {
        &self.0
    }
}

impl<'a> IntoIterator for &'a ChunkList {
    type Item = &'a MmapChunk;
    type IntoIter = std::slice::Iter<'a, MmapChunk>;
    fn into_iter(self) -> Self::IntoIter {
        self.0.iter()
    }
}

impl ChunkList {
    pub(crate) fn push(&mut self, c: MmapChunk) {
        let mut v = std::mem::take(&mut self.0).into_vec();
        v.reserve_exact(1);
        v.push(c);
        self.0 = v.into_boxed_slice();
    }

    pub(crate) fn retain(&mut self, keep: impl FnMut(&MmapChunk) -> bool) {
        let mut v = std::mem::take(&mut self.0).into_vec();
        v.retain(keep);
        self.0 = v.into_boxed_slice();
    }
}

/// What few series have: out-of-order chunks, the newest histogram.
#[derive(Debug, Default)]
pub(crate) struct Extra {
    pub(crate) ooo: Option<OooChunks>,
    /// The newest histogram as appended (histogram series only), for
    /// duplicate detection: decoded chunk samples may carry a widened
    /// layout.
    pub(crate) last_hist: Option<LastValue>,
}

/// The mutable part of a series. Kept small (it is most of a series'
/// memory): what few series need lives behind `extra`, metadata is shared
/// between series ([`super::Head::intern_metadata`]).
#[derive(Debug, Default)]
pub(crate) struct SeriesState {
    pub(crate) mmapped: ChunkList,
    pub(crate) head: Option<HeadChunk>,
    pub(crate) cut: CutState,
    pub(crate) meta: Option<Arc<Metadata>>,
    pub(crate) extra: Option<Box<Extra>>,
}

/// What applying one sample did.
#[derive(Clone, Debug, PartialEq)]
pub(crate) enum Applied {
    /// Appended in order; `cut` when a new chunk was started.
    Appended { cut: bool },
    /// Added to the out-of-order chunks.
    OutOfOrder,
    /// The same sample again: nothing to do.
    Duplicate,
    /// Refused.
    Rejected(AppendError),
}

/// What applying needs besides the series.
pub(crate) struct ApplyCtx<'a> {
    pub(crate) policy: CutPolicy,
    pub(crate) mapper: &'a RwLock<ChunkDiskMapper>,
    pub(crate) ooo_cap: usize,
}

/// An owned copy of one sample value (for comparisons).
#[derive(Debug, PartialEq)]
pub(crate) enum LastValue {
    Float(u64),
    Histogram(Histogram),
    FloatHistogram(FloatHistogram),
}

impl LastValue {
    pub(crate) fn same_as(&self, s: &Sample<'_>) -> bool {
        match (self, s) {
            (LastValue::Float(b), Sample::Float(v)) => *b == v.to_bits(),
            // Like Prometheus's `Equals`, the counter-reset hint is ignored.
            (LastValue::Histogram(a), Sample::Histogram(b)) => {
                a.counter_reset_hint == b.counter_reset_hint && a == *b || {
                    let mut a = a.clone();
                    a.counter_reset_hint = b.counter_reset_hint;
                    a == **b
                }
            }
            (LastValue::FloatHistogram(a), Sample::FloatHistogram(b)) => {
                a.counter_reset_hint == b.counter_reset_hint && a == *b || {
                    let mut a = a.clone();
                    a.counter_reset_hint = b.counter_reset_hint;
                    a == **b
                }
            }
            _ => false,
        }
    }
}

/// The last sample of a chunk's bytes.
pub(crate) fn last_of_chunk(enc: Encoding, bytes: &[u8]) -> Option<(i64, LastValue)> {
    let mut it = ChunkIter::new(enc, bytes).ok()?;
    let mut last = None;
    loop {
        match it.next() {
            ValueType::None => break,
            ValueType::Float => last = it.at().map(|(t, v)| (t, LastValue::Float(v.to_bits()))),
            ValueType::Histogram => {
                let mut h = Histogram::default();
                last = it
                    .at_histogram(&mut h)
                    .map(|t| (t, LastValue::Histogram(h)));
            }
            ValueType::FloatHistogram => {
                let mut h = FloatHistogram::default();
                last = it
                    .at_float_histogram(&mut h)
                    .map(|t| (t, LastValue::FloatHistogram(h)));
            }
        }
    }
    last
}

/// The sample count in a chunk's 2-byte header.
pub(crate) fn num_samples(bytes: &[u8]) -> usize {
    bytes
        .first_chunk::<2>()
        .map_or(0, |h| usize::from(u16::from_be_bytes(*h)))
}

impl SeriesState {
    /// The out-of-order chunks, if any.
    pub(crate) fn ooo(&self) -> Option<&OooChunks> {
        self.extra.as_ref()?.ooo.as_ref()
    }

    fn last_hist(&self) -> Option<&LastValue> {
        self.extra.as_ref()?.last_hist.as_ref()
    }

    fn set_last_hist(&mut self, v: Option<LastValue>) {
        match (v, self.extra.as_mut()) {
            (None, None) => {}
            (v, Some(e)) => e.last_hist = v,
            (Some(v), None) => {
                self.extra = Some(Box::new(Extra {
                    ooo: None,
                    last_hist: Some(v),
                }))
            }
        }
        self.drop_empty_extra();
    }

    fn drop_empty_extra(&mut self) {
        if self
            .extra
            .as_ref()
            .is_some_and(|e| e.ooo.is_none() && e.last_hist.is_none())
        {
            self.extra = None;
        }
    }

    /// Time of the newest in-order sample.
    pub(crate) fn last_t(&self) -> Option<i64> {
        match (&self.head, self.mmapped.last()) {
            (Some(h), _) => Some(h.maxt()),
            (None, Some(m)) => Some(m.maxt),
            (None, None) => None,
        }
    }

    /// Oldest sample time of any chunk.
    pub(crate) fn min_t(&self) -> Option<i64> {
        let a = self
            .mmapped
            .first()
            .map(|c| c.mint)
            .or(self.head.as_ref().map(|h| h.mint));
        let b = self.ooo().and_then(|o| {
            let c = o.chunks.iter().map(|c| c.mint).min();
            let d = o.buf.first().map(|s| s.0);
            c.into_iter().chain(d).min()
        });
        a.into_iter().chain(b).min()
    }

    /// Calls `f` with the time of each out-of-order sample before
    /// `below` (chunks decoded only when they reach below it).
    pub(crate) fn for_each_ooo_time_before(&self, below: i64, mut f: impl FnMut(i64)) {
        let Some(o) = self.ooo() else {
            return;
        };
        o.buf
            .iter()
            .map(|s| s.0)
            .filter(|&t| t < below)
            .for_each(&mut f);
        for c in o.chunks.iter().filter(|c| c.mint < below) {
            if let Ok(mut it) = crate::chunkenc::XorIterator::new(&c.bytes) {
                while it.next() == crate::chunkenc::ValueType::Float {
                    let t = it.at_t();
                    if t >= below {
                        break;
                    }
                    f(t);
                }
            }
        }
    }

    /// The newest in-order sample, decoded.
    pub(crate) fn last_value(&self, mapper: &RwLock<ChunkDiskMapper>) -> Option<(i64, LastValue)> {
        if let (Some(v), Some(t)) = (self.last_hist(), self.last_t()) {
            let v = match v {
                LastValue::Float(b) => LastValue::Float(*b),
                LastValue::Histogram(h) => LastValue::Histogram(h.clone()),
                LastValue::FloatHistogram(h) => LastValue::FloatHistogram(h.clone()),
            };
            return Some((t, v));
        }
        if let Some(h) = &self.head {
            return last_of_chunk(h.data.encoding(), h.data.bytes());
        }
        let m = self.mmapped.last()?;
        match &m.loc {
            ChunkLoc::Mem(b) => last_of_chunk(b.0, &b.1),
            ChunkLoc::Disk(r) => read(mapper).with_chunk(*r, last_of_chunk).ok().flatten(),
        }
    }

    /// Checks a sample against the committed state: `Ok(true)` when it
    /// goes in order, `Ok(false)` for an exact duplicate of the newest
    /// sample, `Err(OutOfOrder)` when it is older than the newest sample,
    /// `Err(DuplicateTimestamp)` on a conflicting value at the same time.
    pub(crate) fn check_in_order(
        &self,
        t: i64,
        s: &Sample<'_>,
        mapper: &RwLock<ChunkDiskMapper>,
    ) -> Result<bool, AppendError> {
        let Some(last) = self.last_t() else {
            return Ok(true);
        };
        if t > last {
            return Ok(true);
        }
        if t < last {
            return Err(AppendError::OutOfOrder);
        }
        match self.last_value(mapper) {
            Some((lt, v)) if lt == t && v.same_as(s) => Ok(false),
            _ => Err(AppendError::DuplicateTimestamp),
        }
    }

    /// Appends a committed sample in order, cutting chunks as Prometheus
    /// does. The caller checked the order.
    fn append_in_order(
        &mut self,
        series_ref: u64,
        t: i64,
        s: &Sample<'_>,
        ctx: &ApplyCtx<'_>,
    ) -> Result<bool, AppendError> {
        let enc = match s {
            Sample::Float(_) => Encoding::Xor,
            Sample::Histogram(_) => Encoding::Histogram,
            Sample::FloatHistogram(_) => Encoding::FloatHistogram,
        };
        let stats = self.head.as_ref().map(|h| ChunkStats {
            encoding: h.data.encoding(),
            min_time: h.mint,
            max_time: h.maxt(),
            num_samples: num_samples(h.data.bytes()),
            num_bytes: h.data.bytes().len(),
        });
        let decision = ctx.policy.decide(&mut self.cut, stats.as_ref(), t, enc);
        let mut cut = false;
        if decision == Decision::Cut {
            self.start_chunk(series_ref, enc, t, ctx);
            cut = true;
        }
        let prev_h = if cut && enc == Encoding::Histogram {
            self.prev_histogram(ctx)
        } else {
            None
        };
        let prev_fh = if cut && enc == Encoding::FloatHistogram {
            self.prev_float_histogram(ctx)
        } else {
            None
        };
        let Some(h) = self.head.as_mut() else {
            return Err(AppendError::Storage("no open chunk".into()));
        };
        let res = match (&mut h.data, s) {
            (ChunkData::Xor(c), Sample::Float(v)) => c.append(t, *v).map(|()| None),
            (ChunkData::Histogram(c), Sample::Histogram(hist)) => {
                c.append(prev_h.as_ref(), t, hist).map(|r| match r {
                    HistogramAppend::NewChunk(n) => Some(ChunkData::Histogram(Box::new(n))),
                    _ => None,
                })
            }
            (ChunkData::FloatHistogram(c), Sample::FloatHistogram(hist)) => {
                c.append(prev_fh.as_ref(), t, hist).map(|r| match r {
                    HistogramAppend::NewChunk(n) => Some(ChunkData::FloatHistogram(Box::new(n))),
                    _ => None,
                })
            }
            _ => return Err(AppendError::Storage("chunk encoding mismatch".into())),
        };
        if res.is_ok() {
            self.set_last_hist(match s {
                Sample::Float(_) => None,
                Sample::Histogram(h) => Some(LastValue::Histogram((*h).clone())),
                Sample::FloatHistogram(h) => Some(LastValue::FloatHistogram((*h).clone())),
            });
        }
        match res {
            Ok(None) => Ok(cut),
            Ok(Some(new)) => {
                // The histogram could not join the chunk: the old one is
                // complete and `new` (holding the sample) continues.
                self.mmap_head(series_ref, ctx);
                self.cut.next_at = crate::chunkenc::range_for_timestamp(t, ctx.policy.chunk_range);
                self.cut.histogram_end_computed = false;
                self.head = Some(HeadChunk { data: new, mint: t });
                Ok(true)
            }
            Err(crate::chunkenc::Error::ChunkFull) => {
                self.start_chunk(series_ref, enc, t, ctx);
                self.append_in_order(series_ref, t, s, ctx).map(|_| true)
            }
            Err(e) => Err(AppendError::InvalidSample(e.to_string())),
        }
    }

    fn prev_histogram(&self, ctx: &ApplyCtx<'_>) -> Option<HistogramChunk> {
        let m = self.mmapped.last()?;
        let (e, b) = match &m.loc {
            ChunkLoc::Mem(b) => (b.0, b.1.to_vec()),
            ChunkLoc::Disk(r) => read(ctx.mapper).chunk(*r).ok()?,
        };
        (e == Encoding::Histogram)
            .then(|| HistogramChunk::from_bytes(b).ok())
            .flatten()
    }

    fn prev_float_histogram(&self, ctx: &ApplyCtx<'_>) -> Option<FloatHistogramChunk> {
        let m = self.mmapped.last()?;
        let (e, b) = match &m.loc {
            ChunkLoc::Mem(b) => (b.0, b.1.to_vec()),
            ChunkLoc::Disk(r) => read(ctx.mapper).chunk(*r).ok()?,
        };
        (e == Encoding::FloatHistogram)
            .then(|| FloatHistogramChunk::from_bytes(b).ok())
            .flatten()
    }

    /// Completes the open chunk (writes it to `chunks_head/`) and opens an
    /// empty one of `enc` starting at `t`.
    fn start_chunk(&mut self, series_ref: u64, enc: Encoding, t: i64, ctx: &ApplyCtx<'_>) {
        self.mmap_head(series_ref, ctx);
        let data = match enc {
            // `XorChunk::new` reserves 128 bytes; most series of a large
            // head hold a few samples in their open chunk, so start smaller
            // and let the buffer grow by quarters (an empty chunk always
            // decodes).
            Encoding::Xor => {
                let mut b = Vec::with_capacity(XOR_START_CAPACITY);
                b.extend_from_slice(&[0, 0]);
                ChunkData::Xor(XorChunk::from_bytes(b).unwrap_or_else(|_| XorChunk::new()))
            }
            Encoding::Histogram => ChunkData::Histogram(Box::default()),
            Encoding::FloatHistogram => ChunkData::FloatHistogram(Box::default()),
        };
        self.head = Some(HeadChunk { data, mint: t });
    }

    /// Moves the open chunk (if any) to `chunks_head/`.
    pub(crate) fn mmap_head(&mut self, series_ref: u64, ctx: &ApplyCtx<'_>) {
        let Some(h) = self.head.take() else { return };
        let enc = h.data.encoding();
        let bytes = h.data.bytes();
        if num_samples(bytes) == 0 {
            return;
        }
        let maxt = h.maxt();
        let written = write(ctx.mapper).write_chunk(series_ref, h.mint, maxt, enc, false, bytes);
        let loc = match written {
            Ok(r) => ChunkLoc::Disk(r),
            Err(e) => {
                tracing::error!(series = series_ref, error = %e, "write head chunk; keeping it in memory");
                ChunkLoc::Mem(Box::new((enc, bytes.into())))
            }
        };
        self.mmapped.push(MmapChunk {
            loc,
            mint: h.mint,
            maxt,
        });
    }

    /// Inserts an out-of-order float sample; `false` if one with the same
    /// timestamp is already buffered.
    fn insert_ooo(&mut self, t: i64, v: f64, cap: usize) -> bool {
        let o = self
            .extra
            .get_or_insert_with(Box::default)
            .ooo
            .get_or_insert_with(OooChunks::default);
        match o.buf.binary_search_by_key(&t, |s| s.0) {
            Ok(_) => return false,
            Err(p) => o.buf.insert(p, (t, v)),
        }
        if o.buf.len() >= cap.max(1) {
            let mut c = XorChunk::new();
            for &(t, v) in &o.buf {
                // Cannot fail below 65535 samples.
                let _ = c.append(t, v);
            }
            let (mint, maxt) = (o.buf[0].0, o.buf[o.buf.len() - 1].0);
            o.chunks.push(OooChunk {
                mint,
                maxt,
                bytes: c.into_bytes().into_boxed_slice(),
            });
            o.buf.clear();
        }
        true
    }

    /// Applies one committed sample. `ooo` says the commit classified it as
    /// out-of-order (within the window); `replay` enables the replay rule
    /// that an older sample already in an in-order chunk is skipped.
    pub(crate) fn apply(
        &mut self,
        series_ref: u64,
        t: i64,
        s: &Sample<'_>,
        ooo: bool,
        ctx: &ApplyCtx<'_>,
    ) -> Applied {
        if ooo {
            if let Sample::Float(v) = s
                && self.insert_ooo(t, *v, ctx.ooo_cap)
            {
                return Applied::OutOfOrder;
            }
            return Applied::Duplicate;
        }
        match self.check_in_order(t, s, ctx.mapper) {
            Ok(true) => match self.append_in_order(series_ref, t, s, ctx) {
                Ok(cut) => Applied::Appended { cut },
                Err(e) => Applied::Rejected(e),
            },
            Ok(false) => Applied::Duplicate,
            Err(e) => Applied::Rejected(e),
        }
    }

    /// Drops chunks that end before `mint`; returns how many in-order
    /// chunks went.
    pub(crate) fn truncate_before(&mut self, mint: i64) -> usize {
        let before = self.mmapped.len();
        self.mmapped.retain(|c| c.maxt >= mint);
        let mut removed = before - self.mmapped.len();
        if self.head.as_ref().is_some_and(|h| h.maxt() < mint) {
            self.head = None;
            removed += 1;
        }
        if let Some(e) = self.extra.as_mut()
            && let Some(o) = e.ooo.as_mut()
        {
            // Out-of-order chunks are not counted in the chunk gauges.
            o.chunks.retain(|c| c.maxt >= mint);
            o.buf.retain(|s| s.0 >= mint);
            if o.chunks.is_empty() && o.buf.is_empty() {
                e.ooo = None;
            }
        }
        self.drop_empty_extra();
        removed
    }

    /// Whether the series holds no sample at all.
    pub(crate) fn is_empty(&self) -> bool {
        self.head.is_none() && self.mmapped.is_empty() && self.ooo().is_none()
    }

    /// Chunks in memory or on disk (for the `head_chunks` gauge).
    pub(crate) fn num_chunks(&self) -> usize {
        self.mmapped.len()
            + usize::from(self.head.is_some())
            + self.ooo().map_or(0, |o| o.chunks.len())
    }
}

/// A hint to load the cache line at address `p`, which need not be valid.
#[inline]
#[allow(unsafe_code)]
fn prefetch_addr(p: *const u8) {
    #[cfg(target_arch = "x86_64")]
    // SAFETY: a prefetch is only a hint: it reads nothing into the program
    // and never faults, whatever the address.
    unsafe {
        use std::arch::x86_64::{_MM_HINT_T0, _mm_prefetch};
        _mm_prefetch::<_MM_HINT_T0>(p.cast::<i8>());
    }
    #[cfg(not(target_arch = "x86_64"))]
    let _ = p;
}

/// Mixes a 64-bit value so that every output bit depends on every input
/// bit (MurmurHash3's finalizer): the series maps are striped by the low
/// bits of a reference or label hash, so the tables inside a stripe must
/// not index by those same bits.
#[inline]
pub(crate) fn mix(mut h: u64) -> u64 {
    h ^= h >> 33;
    h = h.wrapping_mul(0xff51_afd7_ed55_8ccd);
    h ^= h >> 33;
    h = h.wrapping_mul(0xc4ce_b9fe_1a85_ec53);
    h ^ (h >> 33)
}

/// Hashing for series references (sequential: needs mixing).
#[derive(Default, Clone, Copy)]
pub(crate) struct RefHasher(u64);

impl std::hash::Hasher for RefHasher {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 = mix(self.0 ^ u64::from(b));
        }
    }
    fn write_u64(&mut self, v: u64) {
        self.0 = mix(v ^ self.0);
    }
}

pub(crate) type RefBuild = std::hash::BuildHasherDefault<RefHasher>;
pub(crate) type RefMap<V> = HashMap<u64, V, RefBuild>;

/// Series by reference: a table of pointers (8 bytes a slot, where a map
/// from reference to pointer takes 16).
type RefTable = HashTable<Arc<MemSeries>>;

/// Series by label hash: a table of pointers; the label hash of a series is
/// computed again from its label refs when the table grows (with the
/// index, which creation holds), so the series does not store it. Series
/// whose label hashes collide are simply two entries.
type HashStripe = HashTable<Arc<MemSeries>>;

/// The series map, striped by reference and by label hash.
pub(crate) struct StripeSeries {
    refs: Box<[RwLock<RefTable>]>,
    hashes: Box<[RwLock<HashStripe>]>,
    mask: usize,
    len: AtomicUsize,
}

/// Whether a lookup should count the series as held by an appender.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum Pin {
    /// Increment `pending` under the stripe lock (so GC cannot race).
    Yes,
    /// Plain lookup.
    No,
}

fn pin(s: &Arc<MemSeries>, p: Pin) -> Arc<MemSeries> {
    if p == Pin::Yes {
        s.pin();
    }
    Arc::clone(s)
}

impl StripeSeries {
    pub(crate) fn new(stripes: usize) -> StripeSeries {
        StripeSeries {
            refs: (0..stripes).map(|_| RwLock::default()).collect(),
            hashes: (0..stripes).map(|_| RwLock::default()).collect(),
            mask: stripes - 1,
            len: AtomicUsize::new(0),
        }
    }

    pub(crate) fn len(&self) -> usize {
        self.len.load(Ordering::Relaxed)
    }

    fn ref_stripe(&self, r: u64) -> &RwLock<RefTable> {
        &self.refs[(r as usize) & self.mask]
    }

    fn hash_stripe(&self, h: u64) -> &RwLock<HashStripe> {
        &self.hashes[(h as usize) & self.mask]
    }

    pub(crate) fn get_by_ref(&self, r: u64) -> Option<Arc<MemSeries>> {
        read(self.ref_stripe(r))
            .find(mix(r), |s| s.series_ref == r)
            .cloned()
    }

    pub(crate) fn get_by_ref_pinned(&self, r: u64) -> Option<Arc<MemSeries>> {
        read(self.ref_stripe(r))
            .find(mix(r), |s| s.series_ref == r)
            .map(|s| pin(s, Pin::Yes))
    }

    /// The series with `labels` (`postings` is the head's index, locked
    /// by the caller), pinned if asked.
    pub(crate) fn get_by_hash(
        &self,
        hash: u64,
        labels: &Labels,
        postings: &MemPostings,
        p: Pin,
    ) -> Option<Arc<MemSeries>> {
        read(self.hash_stripe(hash))
            .find(table_hash((hash >> 32) as u32), |s| {
                postings.labels_eq(&s.labels, labels)
            })
            .map(|s| pin(s, p))
    }

    /// The series with `labels`, created with reference `new_ref()` if
    /// absent, and added to `postings` (the head's index, write-locked by
    /// the caller: lock order postings, hash stripe, reference stripe).
    /// Returns it and whether it was created.
    pub(crate) fn get_or_create(
        &self,
        hash: u64,
        labels: &Labels,
        p: Pin,
        new_ref: impl FnOnce() -> u64,
        postings: &mut MemPostings,
    ) -> (Arc<MemSeries>, bool) {
        let mut hs = write(self.hash_stripe(hash));
        let th = table_hash((hash >> 32) as u32);
        if let Some(s) = hs.find(th, |s| postings.labels_eq(&s.labels, labels)) {
            return (pin(s, p), false);
        }
        let series_ref = new_ref();
        let s = Arc::new(MemSeries::new(
            series_ref,
            postings.add(series_ref, labels),
            hash,
            u32::from(p == Pin::Yes),
        ));
        hs.insert_unique(th, Arc::clone(&s), |x| table_hash(x.hash_hi));
        // Lock order: hash stripe, then reference stripe (as in `remove_if`).
        write(self.ref_stripe(series_ref))
            .insert_unique(mix(series_ref), Arc::clone(&s), |x| mix(x.series_ref));
        self.len.fetch_add(1, Ordering::Relaxed);
        (s, true)
    }

    /// Adds the series replay creates for reference `r`, labels `refs`
    /// and labels hash `hash` to both tables, unless a series with these
    /// labels is there already (the WAL defined them twice): then that one
    /// is the error. Replay only: nothing reads the tables meanwhile, and a
    /// labels hash always goes to the same replay worker, so no other
    /// thread can add these labels between the lookup and the insertion.
    pub(crate) fn insert_replayed(
        &self,
        r: u64,
        refs: LabelRefs,
        hash: u64,
    ) -> Result<Arc<MemSeries>, Arc<MemSeries>> {
        let hi = (hash >> 32) as u32;
        let s = match write(self.hash_stripe(hash)).entry(
            table_hash(hi),
            |x| x.hash_hi == hi && x.labels == refs,
            |x| table_hash(x.hash_hi),
        ) {
            hashbrown::hash_table::Entry::Occupied(e) => return Err(Arc::clone(e.get())),
            hashbrown::hash_table::Entry::Vacant(v) => {
                let s = Arc::new(MemSeries::new(r, refs, hash, LOGGED));
                v.insert(Arc::clone(&s));
                s
            }
        };
        // Not findable by reference, nor counted, until the caller hands
        // it to [`StripeSeries::add_replayed`].
        Ok(s)
    }

    /// Makes the series added by [`StripeSeries::insert_replayed`]
    /// findable by reference, and counts them. In bulk at the end of a
    /// replay worker: each reference table grows once to its final size
    /// (growing insert by insert rehashed every table several times, each
    /// rehash reading every series' reference from its memory), and the
    /// workers do not share the counter's cache line for every series.
    pub(crate) fn add_replayed<'a>(
        &self,
        series: impl Iterator<Item = &'a Arc<MemSeries>> + Clone,
    ) {
        let mut per_stripe = vec![0usize; self.refs.len()];
        let mut n = 0;
        for s in series.clone() {
            per_stripe[(s.series_ref as usize) & self.mask] += 1;
            n += 1;
        }
        for (stripe, &k) in self.refs.iter().zip(&per_stripe) {
            if k > 0 {
                write(stripe).reserve(k, |x| mix(x.series_ref));
            }
        }
        for s in series {
            let r = s.series_ref;
            write(self.ref_stripe(r)).insert_unique(mix(r), Arc::clone(s), |x| mix(x.series_ref));
        }
        self.len.fetch_add(n, Ordering::Relaxed);
    }

    /// Visits every series (stripe by stripe; the callback must not lock
    /// stripes).
    pub(crate) fn for_each(&self, mut f: impl FnMut(&Arc<MemSeries>)) {
        for stripe in self.refs.iter() {
            let list: Vec<Arc<MemSeries>> = read(stripe).iter().cloned().collect();
            for s in &list {
                f(s);
            }
        }
    }

    /// Removes every series for which `dead` returns true while holding the
    /// stripe locks (so no appender can pin it meanwhile). Returns the
    /// removed series.
    pub(crate) fn remove_if(
        &self,
        mut dead: impl FnMut(&MemSeries) -> bool,
    ) -> Vec<Arc<MemSeries>> {
        let mut removed = Vec::new();
        for hs in self.hashes.iter() {
            let mut hs = write(hs);
            hs.retain(|s| {
                let r = s.series_ref;
                let mut rs = write(self.ref_stripe(r));
                if s.pinned() || !dead(s) {
                    return true;
                }
                if let Ok(e) = rs.find_entry(mix(r), |x| x.series_ref == r) {
                    e.remove();
                }
                self.len.fetch_sub(1, Ordering::Relaxed);
                removed.push(Arc::clone(s));
                false
            });
        }
        removed
    }

    /// Gives back table memory after many removals.
    pub(crate) fn shrink(&self) {
        for hs in self.hashes.iter() {
            let mut hs = write(hs);
            if hs.capacity() > 4 * hs.len() + 16 {
                hs.shrink_to_fit(|x| table_hash(x.hash_hi));
            }
        }
        for rs in self.refs.iter() {
            let mut rs = write(rs);
            if rs.capacity() > 4 * rs.len() + 16 {
                rs.shrink_to_fit(|x| mix(x.series_ref));
            }
        }
    }
}

impl MemSeries {
    /// Locks the series state.
    pub(crate) fn lock(&self) -> std::sync::MutexGuard<'_, SeriesState> {
        lock(&self.state)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn colliding_label_hashes_are_two_series() {
        // Two label sets looked up under the same hash (as a real collision
        // of their hashes would be) stay two series.
        let m = StripeSeries::new(4);
        let mut p = MemPostings::new();
        let a = Labels::from_pairs([("__name__", "a")]);
        let b = Labels::from_pairs([("__name__", "b")]);
        let mut next = 1;
        let mut new_ref = || {
            next += 1;
            next
        };
        let (sa, created_a) = m.get_or_create(7, &a, Pin::No, &mut new_ref, &mut p);
        let (sb, created_b) = m.get_or_create(7, &b, Pin::No, &mut new_ref, &mut p);
        assert!(created_a && created_b);
        assert_ne!(sa.series_ref, sb.series_ref);
        let (again, created) = m.get_or_create(7, &b, Pin::No, &mut new_ref, &mut p);
        assert!(!created);
        assert_eq!(again.series_ref, sb.series_ref);
        let find = |l: &Labels| m.get_by_hash(7, l, &p, Pin::No).map(|s| s.series_ref);
        assert_eq!(find(&a), Some(sa.series_ref));
        assert_eq!(find(&b), Some(sb.series_ref));
        let removed = m.remove_if(|s| s.series_ref == sa.series_ref);
        assert_eq!(removed.len(), 1);
        assert_eq!(find(&a), None);
        assert_eq!(find(&b), Some(sb.series_ref));
        assert!(m.get_by_ref(sa.series_ref).is_none());
        assert_eq!(m.len(), 1);
    }

    /// A series is mostly this struct (plus its open chunk's bytes): keep it
    /// within one 192-byte allocation with its `Arc` counts (64-bit).
    #[test]
    #[cfg(target_pointer_width = "64")]
    fn series_stays_small() {
        assert_eq!(std::mem::size_of::<LabelRefs>(), 24);
        assert_eq!(std::mem::size_of::<Option<HeadChunk>>(), 72);
        assert_eq!(std::mem::size_of::<SeriesState>(), 120);
        assert!(std::mem::size_of::<MemSeries>() + 16 <= 184);
    }
}
