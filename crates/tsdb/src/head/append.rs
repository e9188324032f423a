//! The head's appender (Prometheus's `head_append.go`).
//!
//! `append` validates each sample against the committed series and the
//! samples already in the batch, and returns Prometheus's errors at once:
//! empty or duplicate label names, out of bounds (older than the head's
//! minimum valid time), out of order, too old (outside the out-of-order
//! window), duplicate timestamps with a different value. An exact duplicate
//! of the newest sample is accepted and dropped.
//!
//! `commit` takes the head's commit lock, logs one batch to the WAL (series
//! records for series not yet logged, metadata, samples, histograms,
//! exemplars) and then applies the batch under each series' lock. Holding
//! the lock across both steps makes the WAL order the apply order, so a
//! replay rebuilds the same head. Rollback drops the samples; series the
//! batch created stay (unlogged) until garbage collection removes them.

use std::sync::Arc;
use std::sync::atomic::Ordering;

use model::{FloatHistogram, Histogram, Labels, Metadata, Timestamp};
use storage::{AppendError, Appendable, Appender, Exemplar, Sample, SeriesRef};

use super::series::{Applied, ApplyCtx, MemSeries, Pin, RefMap};
use super::{Head, lock};
use crate::record::{
    self, HeadSeriesRef, RefExemplar, RefFloatHistogramSample, RefHistogramSample, RefMetadata,
    RefSample, RefSeries,
};

/// The newest sample of a series within the batch.
#[derive(Clone, Copy, Debug)]
enum PendingLast {
    Float(u64),
    Histogram(usize),
    FloatHistogram(usize),
}

struct Pending {
    series: Arc<MemSeries>,
    /// Its labels when the batch had them (appended by labels).
    labels: Option<Labels>,
    last: Option<(i64, PendingLast)>,
    /// Scratch for the commit-time out-of-order classification.
    commit_last: Option<i64>,
    /// Whether the batch holds anything for it.
    used: bool,
}

/// Why samples were refused (flushed into the metrics per batch).
#[derive(Default, Clone, Copy)]
struct Rejects {
    out_of_bounds: [u64; 2],
    out_of_order: [u64; 2],
    too_old: [u64; 2],
}

/// A batch of appends to the [`Head`].
pub struct HeadAppender<'a> {
    head: &'a Head,
    pending: Vec<Pending>,
    index: RefMap<u32>,
    samples: Vec<RefSample>,
    sample_series: Vec<u32>,
    histograms: Vec<RefHistogramSample>,
    histogram_series: Vec<u32>,
    float_histograms: Vec<RefFloatHistogramSample>,
    float_histogram_series: Vec<u32>,
    exemplars: Vec<RefExemplar>,
    metadata: Vec<(u32, Metadata)>,
    min_valid_time: i64,
    head_max_t: i64,
    /// The head was empty when the batch started (its first sample sets
    /// the time bounds, as Prometheus's `initAppender` does).
    uninitialized: bool,
    rejects: Rejects,
    done: bool,
}

impl Appendable for Head {
    fn appender(&self) -> Box<dyn Appender + '_> {
        Box::new(self.head_appender())
    }
}

fn validate_labels(labels: &Labels) -> Result<(), AppendError> {
    if labels.is_empty() {
        return Err(AppendError::InvalidSample("empty labelset".into()));
    }
    let mut prev: Option<&str> = None;
    for (n, _) in labels.iter() {
        if prev == Some(n) {
            return Err(AppendError::InvalidSample(format!(
                "label name \"{n}\" is not unique"
            )));
        }
        prev = Some(n);
    }
    Ok(())
}

fn span_total(spans: &[model::histogram::Span]) -> usize {
    spans.iter().map(|s| s.length as usize).sum()
}

fn validate_histogram(s: &Sample<'_>) -> Result<(), AppendError> {
    let (ps, pb, ns, nb) = match s {
        Sample::Float(_) => return Ok(()),
        Sample::Histogram(h) => (
            &h.positive_spans,
            h.positive_buckets.len(),
            &h.negative_spans,
            h.negative_buckets.len(),
        ),
        Sample::FloatHistogram(h) => (
            &h.positive_spans,
            h.positive_buckets.len(),
            &h.negative_spans,
            h.negative_buckets.len(),
        ),
    };
    if span_total(ps) != pb {
        return Err(AppendError::InvalidSample(format!(
            "positive side: spans need {} buckets, have {pb} buckets: histogram spans specify different number of buckets than provided",
            span_total(ps)
        )));
    }
    if span_total(ns) != nb {
        return Err(AppendError::InvalidSample(format!(
            "negative side: spans need {} buckets, have {nb} buckets: histogram spans specify different number of buckets than provided",
            span_total(ns)
        )));
    }
    Ok(())
}

impl Head {
    /// A new batch (the concrete type behind [`Appendable::appender`]).
    pub fn head_appender(&self) -> HeadAppender<'_> {
        let max = self.max_time.load(Ordering::Relaxed);
        self.metrics
            .active_appenders
            .fetch_add(1, Ordering::Relaxed);
        HeadAppender {
            head: self,
            pending: Vec::new(),
            index: RefMap::default(),
            samples: Vec::new(),
            sample_series: Vec::new(),
            histograms: Vec::new(),
            histogram_series: Vec::new(),
            float_histograms: Vec::new(),
            float_histogram_series: Vec::new(),
            exemplars: Vec::new(),
            metadata: Vec::new(),
            min_valid_time: self.appendable_min_valid_time(),
            head_max_t: max,
            uninitialized: max == i64::MIN,
            rejects: Rejects::default(),
            done: false,
        }
    }

    fn new_ref(&self) -> u64 {
        self.next_ref.fetch_add(1, Ordering::Relaxed)
    }
}

/// Which series an append is for.
#[derive(Clone, Copy)]
enum Target<'l> {
    /// By labels, with an optional reference hint.
    Labels(Option<SeriesRef>, &'l Labels),
    /// By reference only.
    Ref(u64),
}

/// The verdict on one sample at append time.
enum Verdict {
    InOrder,
    Duplicate,
    Older,
}

impl HeadAppender<'_> {
    /// The batch index of the series, creating and pinning it if needed.
    fn resolve(&mut self, hint: Option<SeriesRef>, labels: &Labels) -> Result<u32, AppendError> {
        if let Some(SeriesRef(r)) = hint.filter(|r| r.0 != 0)
            && let Some(i) = self.resolve_ref(r)
        {
            return Ok(i);
        }
        validate_labels(labels)?;
        let hash = labels.stable_hash();
        let head = self.head;
        let (s, created) = head.get_or_create_series(hash, labels, Pin::Yes, || head.new_ref());
        if created {
            head.metrics.series_created.fetch_add(1, Ordering::Relaxed);
        }
        if let Some(&i) = self.index.get(&s.series_ref) {
            // Already in the batch (and now pinned twice).
            s.unpin();
            let p = &mut self.pending[i as usize];
            if p.labels.is_none() {
                p.labels = Some(labels.clone());
            }
            return Ok(i);
        }
        let i = self.add_pending(s);
        self.pending[i as usize].labels = Some(labels.clone());
        Ok(i)
    }

    fn add_pending(&mut self, s: Arc<MemSeries>) -> u32 {
        let i = self.pending.len() as u32;
        self.index.insert(s.series_ref, i);
        self.pending.push(Pending {
            series: s,
            labels: None,
            last: None,
            commit_last: None,
            used: false,
        });
        i
    }

    /// The labels of the batch's series `i` (as appended, else from the
    /// index; the series is pinned, so its label refs are valid).
    fn labels_of(&self, i: usize) -> Labels {
        let p = &self.pending[i];
        match &p.labels {
            Some(l) => l.clone(),
            None => self.head.series_labels(&p.series),
        }
    }

    fn verdict(&self, i: u32, t: i64, s: &Sample<'_>) -> Result<Verdict, AppendError> {
        let p = &self.pending[i as usize];
        if let Some((lt, lv)) = p.last {
            if t > lt {
                return Ok(Verdict::InOrder);
            }
            if t < lt {
                return Ok(Verdict::Older);
            }
            let same = match (lv, s) {
                (PendingLast::Float(b), Sample::Float(v)) => b == v.to_bits(),
                (PendingLast::Histogram(j), Sample::Histogram(h)) => {
                    self.histograms.get(j).is_some_and(|x| x.h == **h)
                }
                (PendingLast::FloatHistogram(j), Sample::FloatHistogram(h)) => {
                    self.float_histograms.get(j).is_some_and(|x| x.fh == **h)
                }
                _ => false,
            };
            return if same {
                Ok(Verdict::Duplicate)
            } else {
                Err(AppendError::DuplicateTimestamp)
            };
        }
        let st = p.series.lock();
        match st.check_in_order(t, s, &self.head.mapper) {
            Ok(true) => Ok(Verdict::InOrder),
            Ok(false) => Ok(Verdict::Duplicate),
            Err(AppendError::OutOfOrder) => Ok(Verdict::Older),
            Err(e) => Err(e),
        }
    }

    /// The batch index of series `r`, pinning it; `None` if the head does
    /// not know it.
    fn resolve_ref(&mut self, r: u64) -> Option<u32> {
        if let Some(&i) = self.index.get(&r) {
            return Some(i);
        }
        let s = self.head.series.get_by_ref_pinned(r)?;
        Some(self.add_pending(s))
    }

    fn append_sample(
        &mut self,
        hint: Option<SeriesRef>,
        labels: &Labels,
        t: i64,
        s: Sample<'_>,
    ) -> Result<SeriesRef, AppendError> {
        self.append_to(Target::Labels(hint, labels), t, s)?
            .ok_or_else(|| AppendError::Storage("series not found".into()))
    }

    fn append_to(
        &mut self,
        target: Target<'_>,
        t: i64,
        s: Sample<'_>,
    ) -> Result<Option<SeriesRef>, AppendError> {
        let kind = usize::from(!matches!(s, Sample::Float(_)));
        if kind == 1 {
            if !self.head.opts.native_histograms {
                return Err(AppendError::NativeHistogramsDisabled);
            }
            validate_histogram(&s)?;
        }
        if self.uninitialized {
            // The first sample of an empty head sets its time bounds.
            self.uninitialized = false;
            self.head_max_t = t;
            self.min_valid_time = t
                .saturating_sub(self.head.opts.chunk_range / 2)
                .max(self.head.min_valid_time.load(Ordering::Relaxed));
        }
        if kind == 1 && t < self.min_valid_time {
            self.rejects.out_of_bounds[1] += 1;
            return Err(AppendError::OutOfBounds);
        }
        let i = match target {
            Target::Labels(hint, labels) => self.resolve(hint, labels)?,
            Target::Ref(r) => match self.resolve_ref(r) {
                Some(i) => i,
                None => return Ok(None),
            },
        };
        let verdict = if t >= self.min_valid_time {
            self.verdict(i, t, &s)?
        } else {
            Verdict::Older
        };
        match verdict {
            Verdict::Duplicate => {}
            Verdict::Older => {
                let window = self.head.opts.out_of_order_time_window;
                let err = if kind == 1 {
                    AppendError::OutOfOrder
                } else if window > 0 && t >= self.head_max_t.saturating_sub(window) {
                    return self.record(i, t, s, false).map(Some);
                } else if window > 0 {
                    AppendError::TooOld
                } else if t < self.min_valid_time {
                    AppendError::OutOfBounds
                } else {
                    AppendError::OutOfOrder
                };
                match err {
                    AppendError::TooOld => self.rejects.too_old[kind] += 1,
                    AppendError::OutOfBounds => self.rejects.out_of_bounds[kind] += 1,
                    _ => self.rejects.out_of_order[kind] += 1,
                }
                return Err(err);
            }
            Verdict::InOrder => return self.record(i, t, s, true).map(Some),
        }
        Ok(Some(SeriesRef(self.pending[i as usize].series.series_ref)))
    }

    fn record(
        &mut self,
        i: u32,
        t: i64,
        s: Sample<'_>,
        newest: bool,
    ) -> Result<SeriesRef, AppendError> {
        let p = &mut self.pending[i as usize];
        p.used = true;
        let series = HeadSeriesRef(p.series.series_ref);
        let last = match s {
            Sample::Float(v) => {
                self.samples.push(RefSample {
                    series,
                    t: Timestamp(t),
                    v,
                });
                self.sample_series.push(i);
                PendingLast::Float(v.to_bits())
            }
            Sample::Histogram(h) => {
                self.histograms.push(RefHistogramSample {
                    series,
                    t: Timestamp(t),
                    h: h.clone(),
                });
                self.histogram_series.push(i);
                PendingLast::Histogram(self.histograms.len() - 1)
            }
            Sample::FloatHistogram(h) => {
                self.float_histograms.push(RefFloatHistogramSample {
                    series,
                    t: Timestamp(t),
                    fh: h.clone(),
                });
                self.float_histogram_series.push(i);
                PendingLast::FloatHistogram(self.float_histograms.len() - 1)
            }
        };
        if newest {
            p.last = Some((t, last));
        }
        Ok(SeriesRef(series.0))
    }

    /// Unpins the batch's series and flushes the rejection counters.
    fn release(&mut self) {
        if self.done {
            return;
        }
        self.done = true;
        for p in &self.pending {
            p.series.unpin();
        }
        let m = &self.head.metrics;
        for k in 0..2 {
            m.out_of_bound_samples[k].fetch_add(self.rejects.out_of_bounds[k], Ordering::Relaxed);
            m.out_of_order_samples[k].fetch_add(self.rejects.out_of_order[k], Ordering::Relaxed);
            m.too_old_samples[k].fetch_add(self.rejects.too_old[k], Ordering::Relaxed);
        }
        m.active_appenders.fetch_sub(1, Ordering::Relaxed);
    }

    /// Commit-time classification of float samples with an out-of-order
    /// window: 0 in order, 1 out of order (also goes to the WBL), 2 dropped.
    fn classify(&mut self) -> Vec<u8> {
        let window = self.head.opts.out_of_order_time_window;
        let min_ooo = self.head_max_t.saturating_sub(window);
        let mut kinds = Vec::with_capacity(self.samples.len());
        for (s, &i) in self.samples.iter().zip(&self.sample_series) {
            let p = &mut self.pending[i as usize];
            let last = match p.commit_last {
                Some(l) => Some(l),
                None => p.series.lock().last_t(),
            };
            let t = s.t.0;
            // Older than the series' newest sample, or older than the head
            // may hold in order (before the newest block's end: even the
            // first sample of a series goes out of order there, as in
            // Prometheus, so that it is compacted before the head is cut).
            let kind = match last {
                Some(l) if t < l => u8::from(t < min_ooo) + 1,
                _ if t < self.min_valid_time => u8::from(t < min_ooo) + 1,
                _ => 0,
            };
            if kind == 0 {
                p.commit_last = Some(last.map_or(t, |l| l.max(t)));
            } else if p.commit_last.is_none() {
                p.commit_last = last;
            }
            kinds.push(kind);
        }
        kinds
    }

    fn commit_inner(&mut self) -> Result<(), AppendError> {
        let head = self.head;
        let mut cs = lock(&head.commit);
        let kinds = if head.opts.out_of_order_time_window > 0 {
            let k = self.classify();
            if k.contains(&2) {
                let mut j = 0;
                let dropped = k.iter().filter(|&&x| x == 2).count() as u64;
                self.rejects.too_old[0] += dropped;
                let mut keep = Vec::with_capacity(k.len());
                self.samples.retain(|_| {
                    let ok = k[j] != 2;
                    j += 1;
                    ok
                });
                let mut j = 0;
                self.sample_series.retain(|_| {
                    let ok = k[j] != 2;
                    j += 1;
                    ok
                });
                keep.extend(k.into_iter().filter(|&x| x != 2));
                keep
            } else {
                k
            }
        } else {
            Vec::new()
        };

        let new_series: Vec<RefSeries> = self
            .pending
            .iter()
            .enumerate()
            .filter(|(_, p)| p.used && !p.series.logged())
            .map(|(i, p)| RefSeries {
                series: HeadSeriesRef(p.series.series_ref),
                labels: self.labels_of(i),
            })
            .collect();
        let cs = &mut *cs;
        if let Some(wal) = cs.wal.as_mut() {
            let [b_series, b_meta, b_samples, b_hist, b_fhist, b_ex] = &mut cs.bufs;
            let mut recs: Vec<&[u8]> = Vec::with_capacity(6);
            if !new_series.is_empty() {
                b_series.clear();
                record::encode_series(&new_series, b_series);
                recs.push(b_series);
            }
            if !self.metadata.is_empty() {
                let meta: Vec<RefMetadata> = self
                    .metadata
                    .iter()
                    .map(|(i, m)| RefMetadata {
                        series: HeadSeriesRef(self.pending[*i as usize].series.series_ref),
                        kind: m.kind,
                        unit: m.unit.clone(),
                        help: m.help.clone(),
                    })
                    .collect();
                b_meta.clear();
                record::encode_metadata(&meta, b_meta);
                recs.push(b_meta);
            }
            if !self.samples.is_empty() {
                b_samples.clear();
                record::encode_samples(&self.samples, b_samples);
                recs.push(b_samples);
            }
            if !self.histograms.is_empty() {
                b_hist.clear();
                record::encode_histogram_samples(&self.histograms, b_hist);
                recs.push(b_hist);
            }
            if !self.float_histograms.is_empty() {
                b_fhist.clear();
                record::encode_float_histogram_samples(&self.float_histograms, b_fhist);
                recs.push(b_fhist);
            }
            if !self.exemplars.is_empty() {
                b_ex.clear();
                record::encode_exemplars(&self.exemplars, b_ex);
                recs.push(b_ex);
            }
            if !recs.is_empty() {
                wal.log(&recs)
                    .map_err(|e| AppendError::Storage(format!("write to WAL: {e}")))?;
            }
            let ooo: Vec<RefSample> = kinds
                .iter()
                .zip(&self.samples)
                .filter(|(k, _)| **k == 1)
                .map(|(_, s)| *s)
                .collect();
            if let (Some(wbl), false) = (cs.wbl.as_mut(), ooo.is_empty()) {
                let mut b = Vec::new();
                record::encode_samples(&ooo, &mut b);
                wbl.log(&[&b])
                    .map_err(|e| AppendError::Storage(format!("write to WBL: {e}")))?;
                let maxt = ooo.iter().map(|s| s.t.0).max().unwrap_or(i64::MIN);
                let e = cs
                    .wbl_segment_maxt
                    .entry(wbl.segment_index())
                    .or_insert(i64::MIN);
                *e = (*e).max(maxt);
            }
        }
        for p in &self.pending {
            if p.used {
                p.series.set_logged();
            }
        }
        self.apply(&kinds);
        Ok(())
    }

    fn apply(&mut self, kinds: &[u8]) {
        let head = self.head;
        let ctx = ApplyCtx {
            policy: head.policy,
            mapper: &head.mapper,
            ooo_cap: head.opts.out_of_order_cap,
        };
        let (mut mint, mut maxt) = (i64::MAX, i64::MIN);
        let mut ooo_min = i64::MAX;
        let (mut floats, mut hists, mut ooo_n, mut cuts) = (0u64, 0u64, 0u64, 0u64);
        let mut tally = |a: Applied, t: i64, kind: usize, rejects: &mut Rejects| match a {
            Applied::Appended { cut } => {
                mint = mint.min(t);
                maxt = maxt.max(t);
                cuts += u64::from(cut);
                if kind == 0 {
                    floats += 1;
                } else {
                    hists += 1;
                }
            }
            Applied::OutOfOrder => {
                ooo_min = ooo_min.min(t);
                ooo_n += 1;
                floats += 1;
            }
            Applied::Duplicate => {}
            Applied::Rejected(AppendError::OutOfOrder) => rejects.out_of_order[kind] += 1,
            Applied::Rejected(e) => {
                tracing::debug!(error = %e, t, "sample dropped at commit");
            }
        };
        for (j, (s, &i)) in self.samples.iter().zip(&self.sample_series).enumerate() {
            let ms = &self.pending[i as usize].series;
            let ooo = kinds.get(j) == Some(&1);
            let a = ms
                .lock()
                .apply(ms.series_ref, s.t.0, &Sample::Float(s.v), ooo, &ctx);
            tally(a, s.t.0, 0, &mut self.rejects);
        }
        for (s, &i) in self.histograms.iter().zip(&self.histogram_series) {
            let ms = &self.pending[i as usize].series;
            let a = ms
                .lock()
                .apply(ms.series_ref, s.t.0, &Sample::Histogram(&s.h), false, &ctx);
            tally(a, s.t.0, 1, &mut self.rejects);
        }
        for (s, &i) in self
            .float_histograms
            .iter()
            .zip(&self.float_histogram_series)
        {
            let ms = &self.pending[i as usize].series;
            let a = ms.lock().apply(
                ms.series_ref,
                s.t.0,
                &Sample::FloatHistogram(&s.fh),
                false,
                &ctx,
            );
            tally(a, s.t.0, 1, &mut self.rejects);
        }
        if !self.exemplars.is_empty() {
            let labels: Vec<Option<Labels>> = self
                .exemplars
                .iter()
                .map(|e| {
                    self.index
                        .get(&e.series.0)
                        .map(|&i| self.labels_of(i as usize))
                })
                .collect();
            let mut ex = lock(&head.exemplars);
            for (e, l) in self.exemplars.iter().zip(labels) {
                if let Some(l) = l {
                    let _ = ex.add(
                        &l,
                        &Exemplar {
                            labels: e.labels.clone(),
                            value: e.v,
                            timestamp: e.t,
                        },
                    );
                }
            }
        }
        for (i, m) in self.metadata.drain(..) {
            let m = head.intern_metadata(m);
            self.pending[i as usize].series.lock().meta = Some(m);
        }
        head.note_time_range(mint, maxt);
        if ooo_min != i64::MAX {
            head.min_time.fetch_min(ooo_min, Ordering::Relaxed);
        }
        let m = &head.metrics;
        m.samples_appended[0].fetch_add(floats, Ordering::Relaxed);
        m.samples_appended[1].fetch_add(hists, Ordering::Relaxed);
        m.ooo_samples_appended.fetch_add(ooo_n, Ordering::Relaxed);
        m.chunks_created.fetch_add(cuts, Ordering::Relaxed);
    }

    fn lookup_existing(&self, hint: Option<SeriesRef>, labels: &Labels) -> Option<(u32, bool)> {
        if let Some(SeriesRef(r)) = hint
            && let Some(&i) = self.index.get(&r)
        {
            return Some((i, true));
        }
        None.or_else(|| {
            let s = self.head.series_by_labels(labels, Pin::No)?;
            self.index.get(&s.series_ref).map(|&i| (i, true))
        })
    }
}

impl Appender for HeadAppender<'_> {
    fn append(
        &mut self,
        hint: Option<SeriesRef>,
        labels: &Labels,
        t: Timestamp,
        sample: Sample<'_>,
    ) -> Result<SeriesRef, AppendError> {
        self.append_sample(hint, labels, t.0, sample)
    }

    fn append_by_ref(
        &mut self,
        series: SeriesRef,
        t: Timestamp,
        sample: Sample<'_>,
    ) -> Result<Option<SeriesRef>, AppendError> {
        if series.0 == 0 {
            return Ok(None);
        }
        self.append_to(Target::Ref(series.0), t.0, sample)
    }

    fn append_exemplar(
        &mut self,
        hint: Option<SeriesRef>,
        labels: &Labels,
        exemplar: &Exemplar,
    ) -> Result<SeriesRef, AppendError> {
        if self.head.opts.max_exemplars == 0 {
            return Ok(SeriesRef(0));
        }
        let i = match self.lookup_existing(hint, labels) {
            Some((i, _)) => i,
            None => {
                let s = hint
                    .and_then(|r| self.head.series.get_by_ref_pinned(r.0))
                    .or_else(|| self.head.series_by_labels(labels, Pin::Yes));
                match s {
                    Some(s) => self.add_pending(s),
                    None => {
                        return Err(AppendError::Storage(format!(
                            "unknown HeadSeriesRef when trying to add exemplar: {}",
                            hint.map_or(0, |r| r.0)
                        )));
                    }
                }
            }
        };
        let series_labels = self.labels_of(i as usize);
        let p = &self.pending[i as usize];
        let labels_ok = lock(&self.head.exemplars).validate(&series_labels, exemplar);
        match labels_ok {
            Ok(()) => {}
            Err(AppendError::DuplicateExemplar) => {
                return Ok(SeriesRef(p.series.series_ref));
            }
            Err(e) => return Err(e),
        }
        let r = p.series.series_ref;
        self.pending[i as usize].used = true;
        self.exemplars.push(RefExemplar {
            series: HeadSeriesRef(r),
            t: exemplar.timestamp,
            v: exemplar.value,
            labels: exemplar.labels.clone(),
        });
        Ok(SeriesRef(r))
    }

    fn update_metadata(
        &mut self,
        hint: Option<SeriesRef>,
        labels: &Labels,
        metadata: &Metadata,
    ) -> Result<SeriesRef, AppendError> {
        let i = match self.lookup_existing(hint, labels) {
            Some((i, _)) => i,
            None => {
                let s = hint
                    .and_then(|r| self.head.series.get_by_ref_pinned(r.0))
                    .or_else(|| self.head.series_by_labels(labels, Pin::Yes));
                match s {
                    Some(s) => self.add_pending(s),
                    None => {
                        return Err(AppendError::Storage(format!(
                            "unknown series when trying to add metadata with HeadSeriesRef: {} and labels: {labels}",
                            hint.map_or(0, |r| r.0)
                        )));
                    }
                }
            }
        };
        let p = &mut self.pending[i as usize];
        let changed = p.series.lock().meta.as_deref() != Some(metadata);
        let r = p.series.series_ref;
        if changed {
            p.used = true;
            self.metadata.push((i, metadata.clone()));
        }
        Ok(SeriesRef(r))
    }

    fn commit(mut self: Box<Self>) -> Result<(), AppendError> {
        let res = self.commit_inner();
        self.release();
        res
    }

    fn rollback(mut self: Box<Self>) {
        self.release();
    }
}

impl HeadAppender<'_> {
    /// Commits without boxing (see [`Appender::commit`]).
    pub fn commit_batch(mut self) -> Result<(), AppendError> {
        let res = self.commit_inner();
        self.release();
        res
    }

    /// Number of samples in the batch.
    pub fn len(&self) -> usize {
        self.samples.len() + self.histograms.len() + self.float_histograms.len()
    }

    /// Whether the batch holds no sample.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Appends a float (see [`Appender::append`]) without dynamic dispatch.
    pub fn append_float(
        &mut self,
        hint: Option<SeriesRef>,
        labels: &Labels,
        t: i64,
        v: f64,
    ) -> Result<SeriesRef, AppendError> {
        self.append_sample(hint, labels, t, Sample::Float(v))
    }

    /// Appends an integer histogram.
    pub fn append_histogram(
        &mut self,
        hint: Option<SeriesRef>,
        labels: &Labels,
        t: i64,
        h: &Histogram,
    ) -> Result<SeriesRef, AppendError> {
        self.append_sample(hint, labels, t, Sample::Histogram(h))
    }

    /// Appends a float histogram.
    pub fn append_float_histogram(
        &mut self,
        hint: Option<SeriesRef>,
        labels: &Labels,
        t: i64,
        h: &FloatHistogram,
    ) -> Result<SeriesRef, AppendError> {
        self.append_sample(hint, labels, t, Sample::FloatHistogram(h))
    }
}

impl Drop for HeadAppender<'_> {
    fn drop(&mut self) {
        self.release();
    }
}
