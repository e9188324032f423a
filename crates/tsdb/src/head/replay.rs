//! Rebuilding the head on open (Prometheus's `head_wal.go`).
//!
//! Order: the chunks found in `chunks_head/` are grouped by series; the WAL
//! (last checkpoint, then later segments) is read by [`wal::replay`]'s
//! reader thread; this thread decodes records, interns each new series'
//! labels (it is the index's only writer during replay) and hands series
//! to create and their samples to worker threads. A series reference's
//! worker is picked by its labels hash (and remembered for its samples),
//! so label sets the WAL defined twice under two references (aliases)
//! meet in one worker, which finds them when it adds the series to the
//! head's tables and sends the later reference's samples to the first
//! one's series. A worker allocates the series it is handed, adds them to
//! the head's tables and attaches their memory-mapped chunks, then applies
//! their samples — Prometheus creates series and applies samples serially
//! after decoding. A series always goes to the same worker, after its
//! creation and in WAL order, so its samples are applied in WAL order;
//! metadata goes the same way; exemplars are added after the workers are
//! done, and so are the series to the index's postings lists, in
//! reference order. Float samples at or before the newest memory-mapped
//! sample of the series they resolve to are already in a chunk: the
//! decoding thread drops them once the worker has confirmed the series is
//! not an alias ([`Covered`]), the worker drops the rest before its sort
//! window (others fail the ordinary order check). Batches are handed back
//! for reuse. Nothing reads the head before replay ends, so the workers add
//! series to its tables without the index lock that guards series
//! creation elsewhere.
//!
//! A corrupt WAL tail is repaired ([`wal::repair`]): everything before the
//! damage has been applied, the rest is dropped, logged and counted in
//! `prometheus_tsdb_wal_corruptions_total`. A damaged checkpoint is an
//! error. Then the write-behind log of out-of-order samples is replayed.

use std::collections::{BTreeMap, HashMap};
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::mpsc::{Receiver, Sender, SyncSender, channel, sync_channel};

use model::{FloatHistogram, Histogram};
use storage::{AppendError, Exemplar, Sample};

use super::series::{Applied, ApplyCtx, ChunkLoc, MemSeries, MmapChunk, RefMap};
use super::{Error, Head, lock};
use crate::chunks::HeadChunkMeta;
use crate::index::postings::LabelRefs;
use crate::record::{self, RecordType};
use crate::wal::{self, ReplaySource};

/// Samples per batch handed to a worker.
const WORKER_BATCH: usize = 4096;
/// Batches queued per worker.
const WORKER_QUEUE_CAPACITY: usize = 32;

/// What a replay did.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ReplayStats {
    /// Series records applied.
    pub series: u64,
    /// Samples applied.
    pub samples: u64,
    /// Samples dropped (already in a chunk, duplicates, out of order).
    pub dropped: u64,
    /// Samples of series the WAL never defined.
    pub unknown_refs: u64,
    /// Records that could not be decoded.
    pub bad_records: u64,
    /// Corruptions repaired (WAL and WBL).
    pub corruptions: u64,
    /// Bytes dropped by repairs.
    pub repaired_bytes: u64,
    /// Largest timestamp per WBL segment.
    pub(crate) wbl_segment_maxt: BTreeMap<u32, i64>,
}

/// What a worker does besides float samples, after the batch's float
/// samples before it (`Batch::items` holds each with that count).
enum Item {
    /// Create the batch's next series in `creates`.
    Create,
    /// A series' metadata.
    Meta(u64, Arc<model::Metadata>),
    H(u64, i64, Box<Histogram>),
    Fh(u64, i64, Box<FloatHistogram>),
}

/// A series for a worker to create: its reference, labels (interned by
/// the decoding thread), labels hash and memory-mapped chunks.
struct Create {
    r: u64,
    refs: LabelRefs,
    hash: u64,
    /// Its first memory-mapped chunk in [`ChunkLists`], if it has any.
    chunks: Option<u32>,
    /// With chunks: the page of [`Covered`] where the worker confirms
    /// their newest time once the series is not an alias.
    covered: Option<Arc<[AtomicI64]>>,
}

/// What a worker gets at once, in WAL order: its float samples, the other
/// items, each with the number of float samples before it, and the series
/// the `Item::Create`s stand for, in the same order (kept apart so an item
/// stays small, and float samples are copied in bulk).
struct Batch {
    floats: Vec<FloatItem>,
    items: Vec<(u32, Item)>,
    creates: Vec<Create>,
}

impl Batch {
    fn new() -> Batch {
        Batch {
            floats: Vec::with_capacity(WORKER_BATCH),
            items: Vec::new(),
            creates: Vec::new(),
        }
    }

    fn len(&self) -> usize {
        self.floats.len() + self.items.len()
    }
}

#[derive(Default)]
struct WorkerStats {
    samples: u64,
    dropped: u64,
    unknown: u64,
    chunks: u64,
    /// Oldest and newest sample time applied.
    bounds: Bounds,
    /// The labels of the series the worker created, by reference (their
    /// postings are added after replay, in reference order, from here
    /// rather than from each series' memory).
    labels: RefPages<LabelRefs>,
    /// References the WAL gave a label set after a first one, to that one.
    aliases: RefMap<u64>,
}

impl WorkerStats {
    #[inline]
    fn count(&mut self, a: Applied, t: i64) {
        match a {
            Applied::Appended { cut } => {
                self.samples += 1;
                self.chunks += u64::from(cut);
                self.bounds.add(t, t);
            }
            Applied::OutOfOrder => {
                self.samples += 1;
                self.bounds.add(t, t);
            }
            Applied::Duplicate | Applied::Rejected(_) => self.dropped += 1,
        }
    }
}

/// A time range grown sample by sample (the head's bounds after replay,
/// gathered while applying instead of scanning every series afterwards).
#[derive(Clone, Copy, Debug)]
struct Bounds {
    mint: i64,
    maxt: i64,
}

impl Default for Bounds {
    fn default() -> Self {
        Bounds::EMPTY
    }
}

impl Bounds {
    const EMPTY: Bounds = Bounds {
        mint: i64::MAX,
        maxt: i64::MIN,
    };

    #[inline]
    fn add(&mut self, mint: i64, maxt: i64) {
        self.mint = self.mint.min(mint);
        self.maxt = self.maxt.max(maxt);
    }

    fn merge(&mut self, o: Bounds) {
        self.add(o.mint, o.maxt);
    }
}

fn worker(
    head: &Head,
    lists: &ChunkLists,
    rx: Receiver<Batch>,
    back: Sender<Batch>,
) -> WorkerStats {
    let mut w = Worker {
        head,
        lists,
        series_chunks: Vec::new(),
        ctx: ApplyCtx {
            policy: head.policy,
            mapper: &head.mapper,
            ooo_cap: head.opts.out_of_order_cap,
        },
        st: WorkerStats::default(),
        known: RefPages::default(),
        mmapped_maxt: RefPages::default(),
        // Reserved whole (untouched pages cost nothing): growing it by
        // doubling copied every sample about twice.
        floats: Vec::with_capacity(FLOAT_WINDOW),
        created: 0,
        window_refs: (u64::MAX, 0),
        scratch: Vec::new(),
    };
    for mut batch in rx {
        let mut creates = batch.creates.drain(..);
        let mut done = 0;
        for (at, item) in batch.items.drain(..) {
            let at = at as usize;
            w.add_floats(&batch.floats[done..at]);
            done = at;
            match item {
                Item::Create => {
                    if let Some(c) = creates.next() {
                        w.create(c);
                    }
                }
                Item::Meta(r, m) => {
                    if let Some(s) = w.known.get(w.resolve(r)) {
                        s.lock().meta = Some(m);
                    }
                }
                Item::H(r, t, h) => {
                    // A series' samples go in WAL order: deferred floats first.
                    w.flush_floats();
                    w.apply_one(w.resolve(r), t, &Sample::Histogram(&h));
                }
                Item::Fh(r, t, h) => {
                    w.flush_floats();
                    w.apply_one(w.resolve(r), t, &Sample::FloatHistogram(&h));
                }
            }
        }
        w.add_floats(&batch.floats[done..]);
        drop(creates);
        // Emptied, back to the decoding thread for reuse.
        batch.floats.clear();
        let _ = back.send(batch);
    }
    w.flush_floats();
    // Findable by reference from now on (in bulk: see `add_replayed`).
    head.series.add_replayed(w.known.values());
    // The series' references are dropped here, in parallel.
    drop(w.known);
    w.st
}

/// Float samples a worker collects before applying them series by series.
/// Applying them in WAL order touches a different series (its state and
/// open chunk, both far apart in memory) with every sample; sorted by
/// reference (stable, so each series keeps WAL order) the series are
/// visited once per window, in the order they were allocated.
///
/// The window holds [`WINDOW_PER_SERIES`] samples per series the worker
/// has, within these bounds: enough per series to pay for the visit, and
/// no bigger, so that a WAL of few series and many samples is applied in
/// windows that stay in the cache and start while the WAL is still being
/// read (100k series scraped every second for 130 s: ready about 5%
/// sooner than with the largest window always; 1M series get the largest,
/// as before).
const FLOAT_WINDOW: usize = 1 << 21;
const MIN_FLOAT_WINDOW: usize = 1 << 19;
const WINDOW_PER_SERIES: usize = 4;

/// How many samples ahead of its turn a worker fetches a series' state.
const SAMPLES_AHEAD: usize = 32;

#[derive(Clone, Copy, Debug, Default)]
struct FloatItem {
    r: u64,
    t: i64,
    v: f64,
}

struct Worker<'a> {
    head: &'a Head,
    lists: &'a ChunkLists,
    /// A series' chunks being attached (reused).
    series_chunks: Vec<HeadChunkMeta>,
    ctx: ApplyCtx<'a>,
    st: WorkerStats,
    /// The worker's own view of its series: no stripe lock or reference
    /// count per sample (a series is never removed during replay).
    known: RefPages<Arc<MemSeries>>,
    /// The newest memory-mapped sample's time of each of its series with
    /// chunks in `chunks_head/`: the WAL's samples up to it are in those
    /// chunks and are dropped before the window rather than sorted and
    /// applied only to fail the order check (Prometheus skips them the
    /// same way, by the series they resolve to).
    mmapped_maxt: RefPages<i64>,
    floats: Vec<FloatItem>,
    /// Series created so far (the window grows with them).
    created: usize,
    /// The smallest and largest reference in `floats`.
    window_refs: (u64, u64),
    scratch: Vec<FloatItem>,
}

impl Worker<'_> {
    /// Creates a series from a series record: allocation and the head's
    /// tables happen here, in parallel with the other workers and the
    /// decoding thread (the labels were interned there). If its labels
    /// have a series already (every label set with its hash comes to this
    /// worker), the reference becomes an alias of that series'.
    fn create(&mut self, c: Create) {
        let refs = c.refs.clone();
        let s = match self.head.series.insert_replayed(c.r, c.refs, c.hash) {
            Ok(s) => {
                self.st.labels.insert(c.r, refs);
                self.created += 1;
                s
            }
            Err(first) => {
                if first.series_ref != c.r {
                    self.st.aliases.insert(c.r, first.series_ref);
                }
                return;
            }
        };
        if let Some(first) = c.chunks {
            let mut cs = std::mem::take(&mut self.series_chunks);
            cs.clear();
            cs.extend(self.lists.series(first));
            // In order, overlapping leftovers removed.
            attachable(&mut cs);
            if let Some(last) = cs.last() {
                self.mmapped_maxt.insert(c.r, last.max_time);
                if let Some(page) = &c.covered {
                    page[(c.r % PAGE) as usize].store(last.max_time, Ordering::Relaxed);
                }
            }
            let mut st = s.lock();
            for c in &cs {
                self.head
                    .metrics
                    .chunks_replayed
                    .fetch_add(1, Ordering::Relaxed);
                self.st.bounds.add(c.min_time, c.max_time);
                st.mmapped.push(MmapChunk {
                    loc: ChunkLoc::Disk(c.chunk_ref),
                    mint: c.min_time,
                    maxt: c.max_time,
                });
            }
            drop(st);
            self.series_chunks = cs;
        }
        self.known.insert(c.r, s);
    }

    /// The reference whose series gets the samples of `r`.
    #[inline]
    fn resolve(&self, r: u64) -> u64 {
        resolve(&self.st.aliases, r)
    }

    /// Adds float samples to the window, applying it whenever it is full.
    fn add_floats(&mut self, mut fs: &[FloatItem]) {
        while !fs.is_empty() {
            let window = (self.created * WINDOW_PER_SERIES)
                .clamp(MIN_FLOAT_WINDOW, FLOAT_WINDOW)
                .max(self.floats.len());
            let n = fs.len().min(window - self.floats.len());
            let (now, rest) = fs.split_at(n);
            // The window's smallest and largest reference, for the sort.
            let (mut lo, mut hi) = self.window_refs;
            let (aliases, maxt) = (&self.st.aliases, &self.mmapped_maxt);
            let no_chunks = maxt.is_empty();
            let before = self.floats.len();
            self.floats.extend(now.iter().filter_map(|f| {
                let r = resolve(aliases, f.r);
                if !no_chunks && maxt.get(r).is_some_and(|&m| f.t <= m) {
                    return None; // Already in a memory-mapped chunk.
                }
                lo = lo.min(r);
                hi = hi.max(r);
                Some(FloatItem { r, ..*f })
            }));
            self.st.dropped += (n - (self.floats.len() - before)) as u64;
            self.window_refs = (lo, hi);
            if self.floats.len() >= window {
                self.flush_floats();
            }
            fs = rest;
        }
    }

    fn apply_one(&mut self, r: u64, t: i64, sample: &Sample<'_>) {
        let Some(s) = self.known.get(r) else {
            self.st.unknown += 1;
            return;
        };
        let a = s.lock().apply(r, t, sample, false, &self.ctx);
        self.st.count(a, t);
    }

    fn flush_floats(&mut self) {
        if self.floats.is_empty() {
            return;
        }
        let bounds = std::mem::replace(&mut self.window_refs, (u64::MAX, 0));
        sort_by_ref(&mut self.floats, &mut self.scratch, bounds);
        let floats = std::mem::take(&mut self.floats);
        let mut at = 0;
        for group in floats.chunk_by(|a, b| a.r == b.r) {
            // The series a few groups ahead (sorted by reference, a group
            // holds a series' few samples of this window).
            if let Some(s) = floats
                .get(at + SAMPLES_AHEAD)
                .and_then(|f| self.known.get(f.r))
            {
                s.prefetch();
            }
            at += group.len();
            let r = group[0].r;
            // Borrowed, not cloned: no reference count traffic per series.
            let Some(s) = self.known.get(r) else {
                self.st.unknown += group.len() as u64;
                continue;
            };
            let mut st = s.lock();
            for f in group {
                let a = st.apply(r, f.t, &Sample::Float(f.v), false, &self.ctx);
                self.st.count(a, f.t);
            }
        }
        self.floats = floats;
        self.floats.clear();
    }
}

/// Stable sort of `items` by reference (`scratch` is reused between
/// calls): one scatter pass on the top 8 bits of the span of references
/// present (256 output streams stay within the TLB), then each bucket,
/// small enough for the cache, by a counting pass on the rest.
fn sort_by_ref(items: &mut Vec<FloatItem>, scratch: &mut Vec<FloatItem>, (lo, hi): (u64, u64)) {
    const TOP: u32 = 8;
    const LOW_MAX: u32 = 12;
    let span = hi.saturating_sub(lo);
    if span == 0 {
        return;
    }
    let bits = 64 - span.leading_zeros();
    let n = items.len();
    // Every slot below `n` is written before it is read: no clearing.
    if scratch.len() < n {
        scratch.resize(n, FloatItem::default());
    }
    if bits <= LOW_MAX {
        counting_pass(items, &mut scratch[..n], lo, 0, bits);
        std::mem::swap(items, scratch);
        items.truncate(n);
        return;
    }
    let low = bits.saturating_sub(TOP);
    let mut starts = [0usize; 1 << TOP];
    for f in items.iter() {
        starts[((f.r - lo) >> low) as usize] += 1;
    }
    let mut sum = 0;
    for c in starts.iter_mut() {
        let n = *c;
        *c = sum;
        sum += n;
    }
    let bounds = starts;
    for f in items.iter() {
        let d = ((f.r - lo) >> low) as usize;
        scratch[starts[d]] = *f;
        starts[d] += 1;
    }
    // `starts[d]` is now the end of bucket `d`.
    for d in 0..bounds.len() {
        let (a, b) = (bounds[d], starts[d]);
        if b - a < 2 {
            items[a..b].copy_from_slice(&scratch[a..b]);
        } else if low <= LOW_MAX {
            counting_pass(&scratch[a..b], &mut items[a..b], lo, 0, low);
        } else {
            // References too sparse for a counting pass (rare).
            items[a..b].copy_from_slice(&scratch[a..b]);
            items[a..b].sort_by_key(|f| f.r);
        }
    }
}

/// Stable counting sort of `src` into `dst` by bits `shift..shift + bits`
/// of `r - lo` (at most 12 bits: the counts stay in the cache).
fn counting_pass(src: &[FloatItem], dst: &mut [FloatItem], lo: u64, shift: u32, bits: u32) {
    let mask = (1usize << bits) - 1;
    let digit = |f: &FloatItem| (((f.r - lo) >> shift) as usize) & mask;
    let mut counts = vec![0usize; mask + 1];
    for f in src {
        counts[digit(f)] += 1;
    }
    let mut sum = 0;
    for c in counts.iter_mut() {
        let n = *c;
        *c = sum;
        sum += n;
    }
    for f in src {
        let d = digit(f);
        dst[counts[d]] = *f;
        counts[d] += 1;
    }
}

/// Values by series reference, in pages of 1024 indexed by `ref / 1024`:
/// references are dense and samples of neighbouring series arrive together
/// (a scrape's series were created together), so lookups walk memory in
/// order where a hash table would jump; pages exist only where references
/// do. References beyond 2^36 (never seen in practice) go to a map.
struct RefPages<T> {
    pages: Vec<Option<Box<[Option<T>]>>>,
    far: RefMap<T>,
}

impl<T> Default for RefPages<T> {
    fn default() -> Self {
        RefPages {
            pages: Vec::new(),
            far: RefMap::default(),
        }
    }
}

const PAGE: u64 = 1024;
const MAX_PAGED: u64 = 1 << 36;

impl<T> RefPages<T> {
    fn is_empty(&self) -> bool {
        self.pages.is_empty() && self.far.is_empty()
    }

    #[inline]
    fn get(&self, r: u64) -> Option<&T> {
        if r >= MAX_PAGED {
            return self.far.get(&r);
        }
        self.pages
            .get((r / PAGE) as usize)?
            .as_ref()?
            .get((r % PAGE) as usize)?
            .as_ref()
    }

    /// The slot of a paged reference (below `MAX_PAGED`), if its page exists.
    #[inline]
    fn slot_mut(&mut self, r: u64) -> Option<&mut Option<T>> {
        self.pages
            .get_mut((r / PAGE) as usize)?
            .as_mut()?
            .get_mut((r % PAGE) as usize)
    }

    #[inline]
    fn get_mut(&mut self, r: u64) -> Option<&mut T> {
        if r >= MAX_PAGED {
            return self.far.get_mut(&r);
        }
        self.slot_mut(r)?.as_mut()
    }

    fn take(&mut self, r: u64) -> Option<T> {
        if r >= MAX_PAGED {
            return self.far.remove(&r);
        }
        self.slot_mut(r)?.take()
    }

    /// The values, paged ones in reference order.
    fn values(&self) -> impl Iterator<Item = &T> + Clone {
        self.pages
            .iter()
            .flatten()
            .flat_map(|p| p.iter().flatten())
            .chain(self.far.values())
    }

    fn insert(&mut self, r: u64, v: T) {
        if r >= MAX_PAGED {
            self.far.insert(r, v);
            return;
        }
        let p = (r / PAGE) as usize;
        if self.pages.len() <= p {
            self.pages.resize_with(p + 1, || None);
        }
        let page = self.pages[p].get_or_insert_with(|| (0..PAGE).map(|_| None).collect());
        page[(r % PAGE) as usize] = Some(v);
    }
}

/// Calls `f` with every reference of `parts` and its value, in ascending
/// reference order (a reference in several parts comes once per part).
fn for_each_in_order<T>(parts: &[&RefPages<T>], mut f: impl FnMut(u64, &T)) {
    let pages = parts.iter().map(|p| p.pages.len()).max().unwrap_or(0);
    for i in 0..pages {
        let here: Vec<&[Option<T>]> = parts
            .iter()
            .filter_map(|p| p.pages.get(i)?.as_deref())
            .collect();
        for slot in 0..PAGE as usize {
            for page in &here {
                if let Some(v) = &page[slot] {
                    f(i as u64 * PAGE + slot as u64, v);
                }
            }
        }
    }
    let mut far: Vec<(u64, &T)> = parts
        .iter()
        .flat_map(|p| p.far.iter().map(|(r, v)| (*r, v)))
        .collect();
    far.sort_by_key(|(r, _)| *r);
    for (r, v) in far {
        f(r, v);
    }
}

fn worker_count(head: &Head) -> usize {
    match head.opts.replay_workers {
        0 => std::thread::available_parallelism()
            .map_or(2, |n| n.get())
            .clamp(1, 8),
        // Workers are numbered in a byte (`Router::owner`).
        n => n.min(256),
    }
}

/// The newest memory-mapped sample time of each series a worker has
/// created with chunks and found not to be an alias (its samples go to
/// its own series, whose chunks are attached), in pages of 1024 shared
/// between the decoding thread, which makes them, and the workers, which
/// fill them in. The decoding thread drops float samples at or before it
/// instead of routing them; a slot not filled in yet (`i64::MIN`) drops
/// nothing, and the worker checks again by the series the sample resolves
/// to. An alias's slot is never filled in: its samples must reach the
/// first series.
#[derive(Default)]
struct Covered {
    pages: Vec<Option<Arc<[AtomicI64]>>>,
}

impl Covered {
    /// The page holding `r`'s slot, made if missing (`None` beyond the
    /// paged references).
    fn page(&mut self, r: u64) -> Option<Arc<[AtomicI64]>> {
        if r >= MAX_PAGED {
            return None;
        }
        let p = (r / PAGE) as usize;
        if self.pages.len() <= p {
            self.pages.resize_with(p + 1, || None);
        }
        let page = self.pages[p]
            .get_or_insert_with(|| (0..PAGE).map(|_| AtomicI64::new(i64::MIN)).collect());
        Some(Arc::clone(page))
    }

    /// `r`'s confirmed newest memory-mapped time, `i64::MIN` if none.
    #[inline]
    fn get(&self, r: u64) -> i64 {
        match self.pages.get((r / PAGE) as usize) {
            Some(Some(p)) => p[(r % PAGE) as usize].load(Ordering::Relaxed),
            _ => i64::MIN,
        }
    }
}

/// Routes decoded series and samples to workers.
struct Router {
    txs: Vec<SyncSender<Batch>>,
    bufs: Vec<Batch>,
    /// The worker of each series reference the WAL defined (picked by
    /// the labels hash).
    owner: RefPages<u8>,
    /// One past the largest series reference defined.
    next_ref: u64,
    /// Exemplars, applied once the workers are done (their series must
    /// exist), in WAL order.
    exemplars: Vec<record::RefExemplar>,
    /// Deletions, handed to the head once aliases are known.
    tombstones: Vec<record::RefTombstone>,
    /// Reused decode buffer of sample records.
    samples: Vec<record::RefSample>,
    covered: Covered,
    /// Batches the workers are done with.
    recycled: Receiver<Batch>,
}

impl Router {
    /// The worker of series reference `r`, if the WAL defined it.
    #[inline]
    fn owner(&self, r: u64) -> Option<usize> {
        self.owner.get(r).map(|&w| usize::from(w))
    }

    fn push(&mut self, w: usize, item: Item) {
        let b = &mut self.bufs[w];
        b.items.push((b.floats.len() as u32, item));
        if b.len() >= WORKER_BATCH {
            self.send(w);
        }
    }

    #[inline]
    fn push_float(&mut self, w: usize, f: FloatItem) {
        let b = &mut self.bufs[w];
        b.floats.push(f);
        if b.len() >= WORKER_BATCH {
            self.send(w);
        }
    }

    fn push_create(&mut self, c: Create) {
        // The lower bits pick the head's hash stripe too: with a power of
        // two workers each stripe is written by one worker only.
        let w = (c.hash as usize) % self.txs.len();
        self.owner.insert(c.r, w as u8);
        self.next_ref = self.next_ref.max(c.r.saturating_add(1));
        self.bufs[w].creates.push(c);
        self.push(w, Item::Create);
    }

    fn send(&mut self, w: usize) {
        let next = self.recycled.try_recv().unwrap_or_else(|_| Batch::new());
        let b = std::mem::replace(&mut self.bufs[w], next);
        // A send fails only if the worker is gone (it panicked).
        let _ = self.txs[w].send(b);
    }

    fn finish(&mut self) {
        for (w, b) in self.bufs.drain(..).enumerate() {
            if b.len() > 0 {
                let _ = self.txs[w].send(b);
            }
        }
        self.txs.clear();
    }
}

/// Replays `chunks_head/` (given as the scan's chunk list) and the logs.
pub(crate) fn replay(head: &Head, chunks: Vec<HeadChunkMeta>) -> Result<ReplayStats, Error> {
    let start = std::time::Instant::now();
    let ms = |since: std::time::Instant| since.elapsed().as_millis() as u64;
    let mut stats = ReplayStats::default();
    let (lists, mut heads) = ChunkLists::new(chunks);
    let lists = &lists;
    if !head.opts.wal {
        return Ok(stats);
    }
    let dir = head.wal_dir();
    std::fs::create_dir_all(&dir).map_err(|source| Error::Io {
        op: "create WAL directory",
        path: dir.clone(),
        source,
    })?;
    let n = worker_count(head);
    let ws = std::thread::scope(|scope| -> Result<(Vec<WorkerStats>, Router, u64), Error> {
        let mut handles = Vec::with_capacity(n);
        let mut txs = Vec::with_capacity(n);
        let (back, recycled) = channel::<Batch>();
        for _ in 0..n {
            let (tx, rx) = sync_channel::<Batch>(WORKER_QUEUE_CAPACITY);
            txs.push(tx);
            let back = back.clone();
            handles.push(scope.spawn(move || worker(head, lists, rx, back)));
        }
        drop(back);
        let mut router = Router {
            txs,
            bufs: (0..n).map(|_| Batch::new()).collect(),
            owner: RefPages::default(),
            next_ref: 0,
            exemplars: Vec::new(),
            tombstones: Vec::new(),
            samples: Vec::new(),
            covered: Covered::default(),
            recycled,
        };
        let res = replay_dir(head, &dir, &mut stats, |head, rec, stats| {
            apply_record(head, rec, &mut router, (lists, &mut heads), stats)
        });
        let read_ms = ms(start);
        router.finish();
        let ws: Vec<WorkerStats> = handles
            .into_iter()
            .map(|h| h.join().unwrap_or_default())
            .collect();
        res.map(|()| (ws, router, read_ms))
    })?;
    let (mut ws, router, read_ms) = ws;
    let applied_ms = ms(start);
    head.next_ref.fetch_max(router.next_ref, Ordering::Relaxed);
    // Series records came in commit order, not reference order: the
    // postings lists are filled now, in reference order (appends only).
    {
        let mut postings = super::write(&head.postings);
        let parts: Vec<&RefPages<LabelRefs>> = ws.iter().map(|w| &w.labels).collect();
        for_each_in_order(&parts, |r, refs| postings.add_refs(r, refs));
        postings.shrink_lists();
    }
    let mut aliases = HashMap::new();
    for w in ws.iter_mut() {
        w.labels = RefPages::default();
        aliases.extend(w.aliases.drain());
    }
    let resolve = |r: u64| aliases.get(&r).copied().unwrap_or(r);
    let mut exemplars = router.exemplars;
    for e in exemplars.iter_mut() {
        e.series = record::HeadSeriesRef(resolve(e.series.0));
    }
    apply_exemplars(head, exemplars);
    lock(&head.replayed_tombstones).extend(router.tombstones.into_iter().map(|mut t| {
        t.series = record::HeadSeriesRef(resolve(t.series.0));
        t
    }));
    *lock(&head.wal_aliases) = aliases;
    let mut bounds = Bounds::EMPTY;
    for w in ws {
        bounds.merge(w.bounds);
        stats.samples += w.samples;
        stats.dropped += w.dropped;
        stats.unknown_refs += w.unknown;
        head.metrics
            .chunks_created
            .fetch_add(w.chunks, Ordering::Relaxed);
    }
    let indexed_ms = ms(start);
    if head.opts.out_of_order_time_window > 0 {
        replay_wbl(head, &mut stats)?;
        // The write-behind log's samples are not tracked: bounds from what
        // is now in memory.
        bounds = Bounds::EMPTY;
        head.series.for_each(|s| {
            let st = s.lock();
            for t in [st.min_t(), st.last_t()].into_iter().flatten() {
                bounds.add(t, t);
            }
        });
    }
    let Bounds { mint, maxt } = bounds;
    if mint != i64::MAX {
        head.min_time.store(mint, Ordering::Relaxed);
    }
    if maxt != i64::MIN {
        head.max_time.store(maxt, Ordering::Relaxed);
    }
    // Like Prometheus's "WAL replay completed", with this replay's phases
    // (times since the start): the WAL decoded, samples applied, series
    // indexed, then the write-behind log.
    tracing::info!(
        wal_read_ms = read_ms,
        applied_ms,
        indexed_ms,
        total_replay_ms = ms(start),
        series = stats.series,
        samples = stats.samples,
        dropped = stats.dropped,
        "WAL replay completed"
    );
    if stats.unknown_refs > 0 {
        tracing::warn!(
            samples = stats.unknown_refs,
            "unknown series references in WAL"
        );
    }
    Ok(stats)
}

/// Replays one log directory, repairing a corrupt tail.
fn replay_dir(
    head: &Head,
    dir: &Path,
    stats: &mut ReplayStats,
    mut apply: impl FnMut(&Head, (ReplaySource, &[u8]), &mut ReplayStats),
) -> Result<(), Error> {
    let res = wal::replay(dir, |src, rec| apply(head, (src, rec), stats));
    match res {
        Ok(()) => Ok(()),
        Err(wal::Error::Corruption(c)) if c.dir == dir => {
            tracing::warn!(error = %c, "WAL corruption found during replay; repairing");
            head.metrics.wal_corruptions.fetch_add(1, Ordering::Relaxed);
            let report = wal::repair(&c)?;
            stats.corruptions += 1;
            stats.repaired_bytes += report.total_dropped_bytes();
            tracing::warn!(
                segment = report.segment,
                offset = report.offset,
                dropped_bytes = report.total_dropped_bytes(),
                deleted_segments = report.deleted_segments.len(),
                "WAL repaired; records after the corruption were dropped"
            );
            Ok(())
        }
        Err(e) => Err(e.into()),
    }
}

fn apply_record(
    head: &Head,
    (_src, rec): (ReplaySource, &[u8]),
    router: &mut Router,
    (lists, heads): (&ChunkLists, &mut ChunkHeads),
    stats: &mut ReplayStats,
) {
    let bad = |stats: &mut ReplayStats, e: record::DecodeError| {
        stats.bad_records += 1;
        tracing::warn!(error = %e, "skipping undecodable WAL record");
    };
    match RecordType::of(rec) {
        RecordType::Series => {
            let mut out = Vec::new();
            if let Err(e) = record::decode_series_in_place(rec, &mut out) {
                return bad(stats, e);
            }
            // Interning is the only part of creating a series done here
            // (the index has no other writer during replay); workers
            // allocate the series and fill the head's tables.
            let mut postings = super::write(&head.postings);
            for (r, labels) in out {
                let r = r.0;
                stats.series += 1;
                let labels = labels.packed();
                let hash = labels.stable_hash();
                let refs = postings.intern(labels);
                // Handed out once: a series record repeated for the same
                // reference creates nothing new.
                let chunks = if lists.is_empty() {
                    None
                } else {
                    heads.take(r).map(|(first, _)| first)
                };
                let covered = chunks.as_ref().and_then(|_| router.covered.page(r));
                router.push_create(Create {
                    r,
                    refs,
                    hash,
                    chunks,
                    covered,
                });
            }
        }
        RecordType::Samples => {
            // Fast path: the decode buffer is reused across records.
            let mut out = std::mem::take(&mut router.samples);
            out.clear();
            if let Err(e) = record::decode_samples(rec, &mut out) {
                router.samples = out;
                return bad(stats, e);
            }
            let any_covered = !router.covered.pages.is_empty();
            for s in &out {
                let r = s.series.0;
                match router.owner(r) {
                    // Already in a chunk of the series.
                    Some(_) if any_covered && s.t.0 <= router.covered.get(r) => {
                        stats.dropped += 1;
                    }
                    Some(w) => router.push_float(
                        w,
                        FloatItem {
                            r,
                            t: s.t.0,
                            v: s.v,
                        },
                    ),
                    None => stats.unknown_refs += 1,
                }
            }
            router.samples = out;
        }
        RecordType::HistogramSamples | RecordType::CustomBucketsHistogramSamples => {
            let mut out = Vec::new();
            if let Err(e) = record::decode_histogram_samples(rec, &mut out) {
                return bad(stats, e);
            }
            for s in out {
                let r = s.series.0;
                match router.owner(r) {
                    Some(w) => router.push(w, Item::H(r, s.t.0, Box::new(s.h))),
                    None => stats.unknown_refs += 1,
                }
            }
        }
        RecordType::FloatHistogramSamples | RecordType::CustomBucketsFloatHistogramSamples => {
            let mut out = Vec::new();
            if let Err(e) = record::decode_float_histogram_samples(rec, &mut out) {
                return bad(stats, e);
            }
            for s in out {
                let r = s.series.0;
                match router.owner(r) {
                    Some(w) => router.push(w, Item::Fh(r, s.t.0, Box::new(s.fh))),
                    None => stats.unknown_refs += 1,
                }
            }
        }
        RecordType::Exemplars => {
            let mut out = Vec::new();
            if let Err(e) = record::decode_exemplars(rec, &mut out) {
                return bad(stats, e);
            }
            // References resolved (aliases) after the workers are done.
            router.exemplars.extend(out);
        }
        RecordType::Metadata => {
            let mut out = Vec::new();
            if let Err(e) = record::decode_metadata(rec, &mut out) {
                return bad(stats, e);
            }
            for m in out {
                // Set by the series' worker, after it created the series.
                let r = m.series.0;
                let Some(w) = router.owner(r) else {
                    continue;
                };
                let m = head.intern_metadata(model::Metadata {
                    kind: m.kind,
                    help: m.help,
                    unit: m.unit,
                });
                router.push(w, Item::Meta(r, m));
            }
        }
        RecordType::Tombstones => {
            let mut out = Vec::new();
            if let Err(e) = record::decode_tombstones(rec, &mut out) {
                return bad(stats, e);
            }
            // References resolved (aliases) after the workers are done.
            router.tombstones.extend(out);
        }
        // M-map markers belong to the WBL; unknown types are skipped like
        // Prometheus skips them.
        _ => {}
    }
}

/// The reference whose series gets the samples of `r`, given a worker's
/// aliases.
#[inline]
fn resolve(aliases: &RefMap<u64>, r: u64) -> u64 {
    // Fast path: a WAL rarely defines a label set twice.
    if aliases.is_empty() {
        return r;
    }
    aliases.get(&r).copied().unwrap_or(r)
}

/// Puts a series' memory-mapped chunks in time order, without overlapping
/// leftovers (a chunk starting at or before the end of the one before).
fn attachable(cs: &mut Vec<HeadChunkMeta>) {
    cs.sort_by_key(|c| (c.min_time, c.chunk_ref));
    let mut end: Option<i64> = None;
    cs.retain(|c| {
        if end.is_some_and(|e| c.min_time <= e) {
            return false;
        }
        end = Some(c.max_time);
        true
    });
}

/// End of a series' list in [`ChunkLists`].
const NO_CHUNK: u32 = u32::MAX;

/// The in-order chunks found in `chunks_head/`, each series' linked in
/// file order (the workers walk a series' list; nothing is allocated per
/// series). Shared, read-only, by the workers; the decoding thread hands
/// out each series' first chunk once ([`ChunkHeads`]).
struct ChunkLists {
    chunks: Vec<HeadChunkMeta>,
    /// The index of the next chunk of the same series, or `NO_CHUNK`.
    next: Vec<u32>,
}

/// The first and last chunk of each series in [`ChunkLists`] not yet
/// handed out.
type ChunkHeads = RefPages<(u32, u32)>;

impl ChunkLists {
    /// Links the in-order chunks of `all` by series.
    fn new(all: Vec<HeadChunkMeta>) -> (ChunkLists, ChunkHeads) {
        let mut chunks: Vec<HeadChunkMeta> = all.into_iter().filter(|c| !c.out_of_order).collect();
        if chunks.len() >= NO_CHUNK as usize {
            // Four billion chunks are far beyond any head; the rest are
            // read back from the WAL.
            tracing::warn!(
                chunks = chunks.len(),
                "too many head chunks; ignoring the rest"
            );
            chunks.truncate(NO_CHUNK as usize - 1);
        }
        let mut next = vec![NO_CHUNK; chunks.len()];
        let mut heads = ChunkHeads::default();
        for (i, c) in chunks.iter().enumerate() {
            let i = i as u32;
            match heads.get_mut(c.series_ref) {
                Some((_, last)) => {
                    next[*last as usize] = i;
                    *last = i;
                }
                None => heads.insert(c.series_ref, (i, i)),
            }
        }
        (ChunkLists { chunks, next }, heads)
    }

    fn is_empty(&self) -> bool {
        self.chunks.is_empty()
    }

    /// The chunks of the series whose list starts at `first`, in file order.
    fn series(&self, first: u32) -> impl Iterator<Item = HeadChunkMeta> + '_ {
        let mut i = first;
        std::iter::from_fn(move || {
            let c = *self.chunks.get(i as usize)?;
            i = self.next[i as usize];
            Some(c)
        })
    }
}

/// Adds the WAL's exemplars (series references resolved) in WAL order.
fn apply_exemplars(head: &Head, exemplars: Vec<record::RefExemplar>) {
    if exemplars.is_empty() {
        return;
    }
    let mut ex = lock(&head.exemplars);
    for e in exemplars {
        let Some(s) = head.series.get_by_ref(e.series.0) else {
            continue;
        };
        let res = ex.add(
            &head.series_labels(&s),
            &Exemplar {
                labels: e.labels,
                value: e.v,
                timestamp: e.t,
            },
        );
        if let Err(err) = res
            && err != AppendError::DuplicateExemplar
            && err != AppendError::OutOfOrderExemplar
        {
            tracing::debug!(error = %err, "exemplar dropped during replay");
        }
    }
}

/// Replays the write-behind log into the out-of-order chunks.
fn replay_wbl(head: &Head, stats: &mut ReplayStats) -> Result<(), Error> {
    let dir = head.wbl_dir();
    if !dir.exists() {
        return Ok(());
    }
    let ctx = ApplyCtx {
        policy: head.policy,
        mapper: &head.mapper,
        ooo_cap: head.opts.out_of_order_cap,
    };
    let mut seg_maxt = BTreeMap::new();
    // References the WAL gave a label set again after an earlier one (a
    // series that left the head and came back) resolve to that one's
    // series, as the WAL's own samples do.
    let aliases = lock(&head.wal_aliases).clone();
    replay_dir(head, &dir, stats, |head, (src, rec), stats| {
        if RecordType::of(rec) != RecordType::Samples {
            return;
        }
        let mut out = Vec::new();
        if record::decode_samples(rec, &mut out).is_err() {
            stats.bad_records += 1;
            return;
        }
        if let ReplaySource::Segment { segment } = src {
            let m = out.iter().map(|s| s.t.0).max().unwrap_or(i64::MIN);
            let e = seg_maxt.entry(segment).or_insert(i64::MIN);
            *e = (*e).max(m);
        }
        // A reference the write-behind log still names is never handed to
        // a new series, even if its series left the head (and the WAL's
        // checkpoint dropped its record): a later replay would give the
        // new series the old one's samples.
        if let Some(m) = out.iter().map(|s| s.series.0).max() {
            head.next_ref
                .fetch_max(m.saturating_add(1), Ordering::Relaxed);
        }
        for s in out {
            let r = aliases.get(&s.series.0).copied().unwrap_or(s.series.0);
            let Some(ms) = head.series.get_by_ref(r) else {
                stats.unknown_refs += 1;
                continue;
            };
            match ms
                .lock()
                .apply(ms.series_ref, s.t.0, &Sample::Float(s.v), true, &ctx)
            {
                Applied::OutOfOrder => stats.samples += 1,
                _ => stats.dropped += 1,
            }
        }
    })?;
    stats.wbl_segment_maxt = seg_maxt;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::{ChunkLists, FloatItem, attachable, sort_by_ref};
    use crate::chunkenc::Encoding;
    use crate::chunks::{ChunkDiskRef, HeadChunkMeta};

    /// A series' chunks come out in time order without the ones starting
    /// at or before the end of the one kept before them; the last one's
    /// end is where replay starts taking the series' samples from the WAL.
    #[test]
    fn attachable_chunks_are_ordered_without_overlaps() {
        let c = |n: u32, min_time: i64, max_time: i64| HeadChunkMeta {
            series_ref: 1,
            chunk_ref: ChunkDiskRef::new(1, n),
            min_time,
            max_time,
            num_samples: 1,
            encoding: Encoding::Xor,
            out_of_order: false,
        };
        let mut got = vec![c(3, 300, 399), c(1, 0, 99), c(2, 50, 500), c(4, 100, 199)];
        attachable(&mut got);
        let spans: Vec<(i64, i64)> = got.iter().map(|c| (c.min_time, c.max_time)).collect();
        // (50, 500) starts inside (0, 99): a leftover, and its end must
        // not count as covered.
        assert_eq!(spans, [(0, 99), (100, 199), (300, 399)]);
        let mut none = Vec::new();
        attachable(&mut none);
        assert!(none.is_empty());
    }

    /// Chunks in file order come back grouped by series, each series'
    /// in file order, out-of-order chunks left out, and a series' list is
    /// handed out once.
    #[test]
    fn chunk_lists_group_chunks_by_series() {
        let c = |series_ref: u64, n: u32, out_of_order: bool| HeadChunkMeta {
            series_ref,
            chunk_ref: ChunkDiskRef::new(1, n),
            min_time: i64::from(n),
            max_time: i64::from(n),
            num_samples: 1,
            encoding: Encoding::Xor,
            out_of_order,
        };
        let far = 1u64 << 40;
        let all = vec![
            c(7, 1, false),
            c(3, 2, false),
            c(7, 3, true),
            c(far, 4, false),
            c(7, 5, false),
            c(3, 6, false),
            c(2000, 7, false),
            c(7, 8, false),
        ];
        let (lists, mut heads) = ChunkLists::new(all);
        let mut series = |r: u64| -> Option<Vec<u32>> {
            let (first, _) = heads.take(r)?;
            Some(lists.series(first).map(|c| c.min_time as u32).collect())
        };
        assert_eq!(series(7), Some(vec![1, 5, 8]));
        assert_eq!(series(7), None, "handed out once");
        assert_eq!(series(3), Some(vec![2, 6]));
        assert_eq!(series(2000), Some(vec![7]));
        assert_eq!(series(far), Some(vec![4]));
        assert_eq!(series(4), None);
        let (empty, _) = ChunkLists::new(vec![c(1, 1, true)]);
        assert!(empty.is_empty());
    }

    /// The sort is stable and by reference whatever the span: tiny, dense
    /// (one counting pass), wide (scatter, then counting passes) and sparse
    /// (scatter, then comparison sorts).
    #[test]
    fn sort_by_ref_is_a_stable_sort() {
        let mut seed = 0x2545_f491_4f6c_dd1du64;
        let mut next = move || {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed
        };
        let mut scratch = Vec::new();
        for (n, span) in [
            (1, 1),
            (50, 3),
            (5000, 4000),
            (100_000, 1 << 20),
            (20_000, 1 << 40),
        ] {
            let base = next() % (1 << 20);
            let mut items: Vec<FloatItem> = (0..n)
                .map(|i| FloatItem {
                    r: base + next() % span,
                    t: i as i64,
                    v: 0.0,
                })
                .collect();
            let mut want = items.clone();
            want.sort_by_key(|f| f.r);
            let bounds = items
                .iter()
                .fold((u64::MAX, 0), |(lo, hi), f| (lo.min(f.r), hi.max(f.r)));
            sort_by_ref(&mut items, &mut scratch, bounds);
            let key = |v: &[FloatItem]| v.iter().map(|f| (f.r, f.t)).collect::<Vec<_>>();
            assert_eq!(key(&items), key(&want), "n {n}, span {span}");
        }
    }
}
