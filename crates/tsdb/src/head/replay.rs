//! Rebuilding the head on open (Prometheus's `head_wal.go`).
//!
//! Order: the chunks found in `chunks_head/` are grouped by series; the WAL
//! (last checkpoint, then later segments) is read by [`wal::replay`]'s
//! reader thread; this thread decodes records, interns each series' labels
//! in the index and hands series and samples to worker threads, which
//! allocate the series, insert them into the series tables and apply
//! samples — Prometheus does all of it serially after decoding. A label set
//! always goes to the same worker (chosen by its hash), and so do the
//! samples of every reference the WAL gave it (the router remembers
//! reference → worker), so a worker creates its series (attaching their
//! memory-mapped chunks) and applies their samples in WAL order, and a
//! label set defined twice (a series that left the head and came back) is
//! recognised by the one worker that holds it, by its interned label refs;
//! the index forgets the second reference before its postings are built.
//! Samples at or before a series' newest memory-mapped sample are dropped
//! by the ordinary order check (they are already in a chunk). Metadata,
//! exemplars and tombstones are kept in WAL order and applied once the
//! workers are done (every series exists then).
//!
//! A corrupt WAL tail is repaired ([`wal::repair`]): everything before the
//! damage has been applied, the rest is dropped, logged and counted in
//! `prometheus_tsdb_wal_corruptions_total`. A damaged checkpoint is an
//! error. Then the write-behind log of out-of-order samples is replayed.

use std::collections::hash_map::Entry;
use std::collections::{BTreeMap, HashMap};
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::sync::mpsc::{Receiver, SyncSender, sync_channel};

use model::{FloatHistogram, Histogram};
use storage::{AppendError, Exemplar, Sample};

use super::series::{Applied, ApplyCtx, ChunkLoc, MemSeries, MmapChunk, RefMap, mix};
use super::{Error, Head, lock};
use crate::chunks::HeadChunkMeta;
use crate::index::postings::LabelRefs;
use crate::record::{self, RecordType};
use crate::wal::{self, ReplaySource};

/// Samples per batch handed to a worker.
const WORKER_BATCH: usize = 4096;
/// Batches queued per worker.
const WORKER_QUEUE_CAPACITY: usize = 4;

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

/// What the router hands a worker at once.
#[derive(Default)]
struct Batch {
    items: Vec<Item>,
    /// The series of the batch's [`Item::Series`], in order.
    series: Vec<SeriesItem>,
}

enum Item {
    /// The next series of the batch's `series`: a series record for the
    /// worker its label hash chose.
    Series,
    F(u64, i64, f64),
    H(u64, i64, Box<Histogram>),
    Fh(u64, i64, Box<FloatHistogram>),
}

impl Batch {
    fn with_capacity(n: usize) -> Batch {
        Batch {
            items: Vec::with_capacity(n),
            series: Vec::new(),
        }
    }
}

/// A series record on its way to a worker, with the `chunks_head/` chunks
/// found for its reference.
struct SeriesItem {
    r: u64,
    hash: u64,
    /// The labels as interned by the router.
    refs: LabelRefs,
    chunks: Option<Vec<HeadChunkMeta>>,
}

#[derive(Default)]
struct WorkerStats {
    samples: u64,
    dropped: u64,
    unknown: u64,
    chunks: u64,
    /// References that defined a label set a lower one already had.
    alias: HashMap<u64, u64>,
}

fn worker(head: &Head, rx: Receiver<Batch>) -> WorkerStats {
    let mut w = Worker {
        head,
        ctx: ApplyCtx {
            policy: head.policy,
            mapper: &head.mapper,
            ooo_cap: head.opts.out_of_order_cap,
        },
        st: WorkerStats::default(),
        known: RefPages::default(),
        floats: Vec::new(),
        scratch: Vec::new(),
    };
    let mut run = Vec::new();
    for batch in rx {
        let mut series = batch.series.into_iter();
        for item in batch.items {
            if let Item::Series = item {
                if let Some(it) = series.next() {
                    run.push(it);
                }
                continue;
            }
            if !run.is_empty() {
                w.create(&mut run);
            }
            match item {
                Item::Series => {} // Collected into `run` above.
                Item::F(r, t, v) => {
                    let r = w.canonical(r);
                    w.floats.push(FloatItem { r, t, v });
                    if w.floats.len() >= FLOAT_WINDOW {
                        w.flush_floats();
                    }
                }
                Item::H(r, t, h) => {
                    // A series' samples go in WAL order: deferred floats first.
                    let r = w.canonical(r);
                    w.flush_floats();
                    w.apply_one(r, t, &Sample::Histogram(&h));
                }
                Item::Fh(r, t, h) => {
                    let r = w.canonical(r);
                    w.flush_floats();
                    w.apply_one(r, t, &Sample::FloatHistogram(&h));
                }
            }
        }
        // A run ends with the batch: the next may wait for more records.
        if !run.is_empty() {
            w.create(&mut run);
        }
    }
    w.flush_floats();
    w.st
}

/// Float samples a worker collects before applying them series by series.
/// Applying them in WAL order touches a different series (its state and
/// open chunk, both far apart in memory) with every sample; sorted by
/// reference (stable, so each series keeps WAL order) the series are
/// visited once per window, in the order they were allocated.
const FLOAT_WINDOW: usize = 1 << 21;

#[derive(Clone, Copy, Debug, Default)]
struct FloatItem {
    r: u64,
    t: i64,
    v: f64,
}

struct Worker<'a> {
    head: &'a Head,
    ctx: ApplyCtx<'a>,
    st: WorkerStats,
    /// The worker's own view of its series: no stripe lock or reference
    /// count per sample (a series is never removed during replay).
    known: RefPages,
    floats: Vec<FloatItem>,
    scratch: Vec<FloatItem>,
}

impl Worker<'_> {
    /// Creates the series of a run of series records (or finds the one
    /// with their labels: then the record's reference is an alias of it).
    fn create(&mut self, run: &mut Vec<SeriesItem>) {
        let head = self.head;
        for it in run.drain(..) {
            let (s, created) = head.series.insert_replayed(it.hash, it.r, it.refs);
            if !created {
                if s.series_ref != it.r {
                    self.st.alias.insert(it.r, s.series_ref);
                }
                continue;
            }
            s.set_logged();
            if let Some(mut cs) = it.chunks {
                cs.sort_by_key(|c| (c.min_time, c.chunk_ref));
                let mut st = s.lock();
                for c in cs {
                    if st.mmapped.last().is_some_and(|l| l.maxt >= c.min_time) {
                        continue; // Overlapping leftovers.
                    }
                    head.metrics.chunks_replayed.fetch_add(1, Ordering::Relaxed);
                    st.mmapped.push(MmapChunk {
                        loc: ChunkLoc::Disk(c.chunk_ref),
                        mint: c.min_time,
                        maxt: c.max_time,
                    });
                }
            }
            self.known.insert(it.r, s);
        }
    }

    /// The reference a sample's series is known by: an alias is replaced
    /// by its series' own reference before samples are sorted by it, so a
    /// series' samples under both keep WAL order.
    #[inline]
    fn canonical(&self, r: u64) -> u64 {
        if self.st.alias.is_empty() {
            return r;
        }
        self.st.alias.get(&r).copied().unwrap_or(r)
    }

    fn series(&mut self, r: u64) -> Option<Arc<MemSeries>> {
        if let Some(s) = self.known.get(r) {
            return Some(Arc::clone(s));
        }
        let s = self.head.series.get_by_ref(r)?;
        Some(Arc::clone(self.known.insert(r, s)))
    }

    fn count(&mut self, a: Applied) {
        match a {
            Applied::Appended { cut } => {
                self.st.samples += 1;
                self.st.chunks += u64::from(cut);
            }
            Applied::OutOfOrder => self.st.samples += 1,
            Applied::Duplicate | Applied::Rejected(_) => self.st.dropped += 1,
        }
    }

    fn apply_one(&mut self, r: u64, t: i64, sample: &Sample<'_>) {
        let Some(s) = self.series(r) else {
            self.st.unknown += 1;
            return;
        };
        let a = s.lock().apply(r, t, sample, false, &self.ctx);
        self.count(a);
    }

    fn flush_floats(&mut self) {
        if self.floats.is_empty() {
            return;
        }
        sort_by_ref(&mut self.floats, &mut self.scratch);
        let floats = std::mem::take(&mut self.floats);
        for group in floats.chunk_by(|a, b| a.r == b.r) {
            let r = group[0].r;
            let Some(s) = self.series(r) else {
                self.st.unknown += group.len() as u64;
                continue;
            };
            let mut st = s.lock();
            for f in group {
                let a = st.apply(r, f.t, &Sample::Float(f.v), false, &self.ctx);
                self.count(a);
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
fn sort_by_ref(items: &mut Vec<FloatItem>, scratch: &mut Vec<FloatItem>) {
    const TOP: u32 = 8;
    const LOW_MAX: u32 = 12;
    let (lo, hi) = items
        .iter()
        .fold((u64::MAX, 0), |(lo, hi), f| (lo.min(f.r), hi.max(f.r)));
    let span = hi.saturating_sub(lo);
    if span == 0 {
        return;
    }
    let bits = 64 - span.leading_zeros();
    scratch.clear();
    scratch.resize(items.len(), FloatItem::default());
    if bits <= LOW_MAX {
        counting_pass(items, scratch, lo, 0, bits);
        std::mem::swap(items, scratch);
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

/// Series by reference, in pages of 1024 indexed by `ref / 1024`:
/// references are dense and samples of neighbouring series arrive together
/// (a scrape's series were created together), so lookups walk memory in
/// order where a hash table would jump; pages exist only where references
/// do. References beyond 2^36 (never seen in practice) go to a map.
struct RefPages<T = Arc<MemSeries>> {
    pages: Vec<Option<Page<T>>>,
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

/// One page of [`RefPages`].
type Page<T> = Box<[Option<T>]>;

const PAGE: u64 = 1024;
const MAX_PAGED: u64 = 1 << 36;

impl<T> RefPages<T> {
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

    /// Sets the value of `r` (replacing one there).
    fn insert(&mut self, r: u64, s: T) -> &T {
        if r >= MAX_PAGED {
            return match self.far.entry(r) {
                Entry::Occupied(mut e) => {
                    e.insert(s);
                    e.into_mut()
                }
                Entry::Vacant(e) => e.insert(s),
            };
        }
        let p = (r / PAGE) as usize;
        if self.pages.len() <= p {
            self.pages.resize_with(p + 1, || None);
        }
        let page = self.pages[p].get_or_insert_with(|| (0..PAGE).map(|_| None).collect());
        page[(r % PAGE) as usize].insert(s)
    }
}

fn worker_count(head: &Head) -> usize {
    match head.opts.replay_workers {
        0 => std::thread::available_parallelism()
            .map_or(2, |n| n.get())
            .clamp(1, 8),
        n => n,
    }
}

/// Routes decoded records to workers.
struct Router {
    txs: Vec<SyncSender<Batch>>,
    bufs: Vec<Batch>,
    /// The worker of each reference a series record defined.
    route: RefPages<u8>,
    /// Reused decode buffer of sample records.
    samples: Vec<record::RefSample>,
    /// Kept for after the workers (in WAL order): metadata, exemplars,
    /// tombstones.
    metadata: Vec<record::RefMetadata>,
    exemplars: Vec<record::RefExemplar>,
    tombstones: Vec<record::RefTombstone>,
}

impl Router {
    /// The worker of reference `r`: the one its series record went to
    /// (samples of a reference no record defined go by the reference, and
    /// are counted as unknown there).
    #[inline]
    fn worker_of(&self, r: u64) -> usize {
        match self.route.get(r) {
            Some(&w) => usize::from(w),
            None => (r as usize) % self.txs.len(),
        }
    }

    fn series(&mut self, it: SeriesItem) {
        // The upper half picks the head's stripe table slot, the lower its
        // stripe: mix both for the worker.
        let w = (mix(it.hash) as usize) % self.txs.len();
        self.route.insert(it.r, w as u8);
        self.bufs[w].series.push(it);
        self.send(w, Item::Series);
    }

    #[inline]
    fn push(&mut self, r: u64, item: Item) {
        let w = self.worker_of(r);
        self.send(w, item);
    }

    #[inline]
    fn send(&mut self, w: usize, item: Item) {
        self.bufs[w].items.push(item);
        if self.bufs[w].items.len() >= WORKER_BATCH {
            let b = std::mem::replace(&mut self.bufs[w], Batch::with_capacity(WORKER_BATCH));
            // A send fails only if the worker is gone (it panicked).
            let _ = self.txs[w].send(b);
        }
    }

    fn finish(&mut self) {
        for (w, b) in self.bufs.drain(..).enumerate() {
            if !b.items.is_empty() {
                let _ = self.txs[w].send(b);
            }
        }
        self.txs.clear();
    }
}

/// Replays `chunks_head/` (given as the scan's chunk list) and the logs.
pub(crate) fn replay(head: &Head, chunks: Vec<HeadChunkMeta>) -> Result<ReplayStats, Error> {
    let mut stats = ReplayStats::default();
    let mut mmapped: HashMap<u64, Vec<HeadChunkMeta>> = HashMap::new();
    for c in chunks.into_iter().filter(|c| !c.out_of_order) {
        mmapped.entry(c.series_ref).or_default().push(c);
    }
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
    // Series records come in commit order, not reference order: the
    // postings lists are filled once, sorted, at the end.
    super::write(&head.postings).defer_lists();
    let ws = std::thread::scope(|scope| -> Result<(Vec<WorkerStats>, Router), Error> {
        let mut handles = Vec::with_capacity(n);
        let mut txs = Vec::with_capacity(n);
        for _ in 0..n {
            let (tx, rx) = sync_channel::<Batch>(WORKER_QUEUE_CAPACITY);
            txs.push(tx);
            handles.push(scope.spawn(move || worker(head, rx)));
        }
        let mut router = Router {
            txs,
            bufs: (0..n).map(|_| Batch::with_capacity(WORKER_BATCH)).collect(),
            route: RefPages::default(),
            samples: Vec::new(),
            metadata: Vec::new(),
            exemplars: Vec::new(),
            tombstones: Vec::new(),
        };
        let res = replay_dir(head, &dir, &mut stats, |head, rec, stats| {
            apply_record(head, rec, &mut router, &mut mmapped, stats)
        });
        router.finish();
        let ws = handles
            .into_iter()
            .map(|h| h.join().unwrap_or_default())
            .collect();
        res.map(|()| (ws, router))
    })?;
    let (ws, router) = ws;
    let mut aliases = HashMap::new();
    for w in ws {
        stats.samples += w.samples;
        stats.dropped += w.dropped;
        stats.unknown_refs += w.unknown;
        head.metrics
            .chunks_created
            .fetch_add(w.chunks, Ordering::Relaxed);
        aliases.extend(w.alias);
    }
    {
        // An alias's labels were interned like a new series': its reference
        // must not reach the postings lists.
        let mut p = super::write(&head.postings);
        p.drop_deferred(|id| aliases.contains_key(&id));
        p.finish_deferred();
    }
    apply_kept(head, router, &aliases);
    *super::lock(&head.wal_aliases) = aliases;
    if head.opts.out_of_order_time_window > 0 {
        replay_wbl(head, &mut stats)?;
    }
    // Time bounds from what is now in memory.
    let (mut mint, mut maxt) = (i64::MAX, i64::MIN);
    head.series.for_each(|s| {
        let st = s.lock();
        if let Some(t) = st.min_t() {
            mint = mint.min(t);
        }
        if let Some(t) = st.last_t() {
            maxt = maxt.max(t);
        }
    });
    if mint != i64::MAX {
        head.min_time.store(mint, Ordering::Relaxed);
    }
    if maxt != i64::MIN {
        head.max_time.store(maxt, Ordering::Relaxed);
    }
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
    mmapped: &mut HashMap<u64, Vec<HeadChunkMeta>>,
    stats: &mut ReplayStats,
) {
    let bad = |stats: &mut ReplayStats, e: record::DecodeError| {
        stats.bad_records += 1;
        tracing::warn!(error = %e, "skipping undecodable WAL record");
    };
    match RecordType::of(rec) {
        RecordType::Series => {
            let mut out = Vec::new();
            if let Err(e) = record::decode_series(rec, &mut out) {
                return bad(stats, e);
            }
            // Only this thread writes the index during replay.
            let mut p = super::write(&head.postings);
            for rs in out {
                let r = rs.series.0;
                head.next_ref.fetch_max(r + 1, Ordering::Relaxed);
                stats.series += 1;
                router.series(SeriesItem {
                    r,
                    hash: rs.labels.stable_hash(),
                    refs: p.add(r, &rs.labels),
                    chunks: mmapped.remove(&r),
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
            for s in &out {
                router.push(s.series.0, Item::F(s.series.0, s.t.0, s.v));
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
                router.push(r, Item::H(r, s.t.0, Box::new(s.h)));
            }
        }
        RecordType::FloatHistogramSamples | RecordType::CustomBucketsFloatHistogramSamples => {
            let mut out = Vec::new();
            if let Err(e) = record::decode_float_histogram_samples(rec, &mut out) {
                return bad(stats, e);
            }
            for s in out {
                let r = s.series.0;
                router.push(r, Item::Fh(r, s.t.0, Box::new(s.fh)));
            }
        }
        RecordType::Exemplars => {
            // A record that fails to decode is skipped whole.
            let mut out = Vec::new();
            if let Err(e) = record::decode_exemplars(rec, &mut out) {
                return bad(stats, e);
            }
            router.exemplars.append(&mut out);
        }
        RecordType::Metadata => {
            // A record that fails to decode is skipped whole.
            let mut out = Vec::new();
            if let Err(e) = record::decode_metadata(rec, &mut out) {
                return bad(stats, e);
            }
            router.metadata.append(&mut out);
        }
        RecordType::Tombstones => {
            // A record that fails to decode is skipped whole.
            let mut out = Vec::new();
            if let Err(e) = record::decode_tombstones(rec, &mut out) {
                return bad(stats, e);
            }
            router.tombstones.append(&mut out);
        }
        // M-map markers belong to the WBL; unknown types are skipped like
        // Prometheus skips them.
        _ => {}
    }
}

/// Applies what [`apply_record`] kept for after the workers, in WAL order:
/// exemplars, metadata (the last record of a series wins) and tombstones,
/// references resolved through `aliases`.
fn apply_kept(head: &Head, router: Router, aliases: &HashMap<u64, u64>) {
    let resolve = |r: u64| aliases.get(&r).copied().unwrap_or(r);
    if !router.exemplars.is_empty() {
        let mut ex = lock(&head.exemplars);
        for e in router.exemplars {
            let Some(s) = head.series.get_by_ref(resolve(e.series.0)) else {
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
    for m in router.metadata {
        if let Some(s) = head.series.get_by_ref(resolve(m.series.0)) {
            let m = head.intern_metadata(model::Metadata {
                kind: m.kind,
                help: m.help,
                unit: m.unit,
            });
            s.lock().meta = Some(m);
        }
    }
    if !router.tombstones.is_empty() {
        let mut kept = lock(&head.replayed_tombstones);
        for mut t in router.tombstones {
            t.series = record::HeadSeriesRef(resolve(t.series.0));
            kept.push(t);
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
        for s in out {
            let Some(ms) = head.series.get_by_ref(s.series.0) else {
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
    use super::{FloatItem, sort_by_ref};

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
            sort_by_ref(&mut items, &mut scratch);
            let key = |v: &[FloatItem]| v.iter().map(|f| (f.r, f.t)).collect::<Vec<_>>();
            assert_eq!(key(&items), key(&want), "n {n}, span {span}");
        }
    }
}
