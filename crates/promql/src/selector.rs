//! Reading series from storage: selects, the lookback of instant
//! selectors and the left-open windows `(t - range, t]` of range selectors.
//! Instant selectors and range-vector functions read each series a window
//! at a time ([`Selection`], [`Buffered`]), as Prometheus does, so memory
//! holds one window per series being evaluated rather than the whole range;
//! [`load`] reads series whole where that is needed.

use std::collections::VecDeque;
use std::sync::Arc;

use model::{FloatHistogram, Labels, is_stale_nan};
use std::collections::HashSet;

use model::histogram::CounterResetHint;
use promql_syntax::ast::{BinaryOp, Expr, VectorSelector};
use storage::{SampleIterator, SelectHints, ValueType};

use crate::error::{Error, Result};
use crate::eval::{Ctx, Evaluator};
use crate::value::{FPoint, HPoint, Matrix, Series, hist_size};

/// One stored value.
#[derive(Clone, Debug)]
pub(crate) enum SVal {
    F(f64),
    H(Arc<FloatHistogram>),
}

impl SVal {
    fn is_stale(&self) -> bool {
        match self {
            SVal::F(f) => is_stale_nan(*f),
            SVal::H(h) => is_stale_nan(h.sum),
        }
    }
}

/// A series read into memory over the range a node needs.
#[derive(Clone, Debug)]
pub(crate) struct Loaded {
    pub(crate) labels: Labels,
    pub(crate) samples: Vec<(i64, SVal)>,
    /// Start timestamps aligned with `samples` (0 = unknown); empty when
    /// none is known (always for subquery results).
    pub(crate) sts: Vec<i64>,
    pub(crate) drop_name: bool,
}

impl Loaded {
    /// From an evaluated series (a subquery's result).
    pub(crate) fn from_series(s: Series) -> Loaded {
        let mut samples: Vec<(i64, SVal)> = s
            .floats
            .into_iter()
            .map(|p| (p.t, SVal::F(p.f)))
            .chain(s.histograms.into_iter().map(|p| (p.t, SVal::H(p.h))))
            .collect();
        samples.sort_by_key(|(t, _)| *t);
        Loaded {
            labels: s.metric,
            samples,
            sts: Vec::new(),
            drop_name: s.drop_name,
        }
    }
}

/// Reads the series matching `vs` with samples in `[mint, maxt]`, each
/// whole (for callers that need a series' every sample at once; instant
/// selectors and range-vector functions read window by window instead,
/// see [`Selection`]).
pub(crate) fn load(
    ev: &Evaluator<'_>,
    vs: &VectorSelector,
    mint: i64,
    maxt: i64,
) -> Result<Vec<Loaded>> {
    let sel = Selection::new(ev, vs, mint, maxt);
    let mut out = Vec::new();
    let mut total = 0u64;
    sel.each(ev.ctx, |labels, src| {
        src.fill(maxt)?;
        total += src.weight;
        budget_check(ev, total)?;
        let mut sts: Vec<i64> = src.sts.drain(..).collect();
        if sts.iter().all(|st| *st == 0) {
            sts.clear();
        }
        out.push(Loaded {
            labels: labels.clone(),
            samples: src.samples.drain(..).collect(),
            sts,
            drop_name: false,
        });
        Ok(())
    })?;
    Ok(out)
}

/// A selector's series over `[mint, maxt]`, read one series at a time.
pub(crate) struct Selection<'e> {
    vs: &'e VectorSelector,
    mint: i64,
    maxt: i64,
    step: i64,
    stats: bool,
}

impl<'e> Selection<'e> {
    pub(crate) fn new(ev: &Evaluator<'_>, vs: &'e VectorSelector, mint: i64, maxt: i64) -> Self {
        Selection {
            vs,
            mint,
            maxt,
            step: ev.interval,
            stats: ev
                .ctx
                .stats_selectors
                .contains(&(vs as *const VectorSelector as usize)),
        }
    }

    /// Calls `f` with the labels and an empty [`Buffered`] reader of every
    /// series, in label order.
    pub(crate) fn each(
        &self,
        ctx: &Ctx<'_>,
        mut f: impl FnMut(&Labels, &mut Buffered<'_>) -> Result<()>,
    ) -> Result<()> {
        let querier = ctx.queryable.querier(self.mint, self.maxt)?;
        let hints = SelectHints {
            start: self.mint,
            end: self.maxt,
            step: self.step,
            ..Default::default()
        };
        let mut set = querier.select(true, Some(&hints), &self.vs.matchers);
        while let Some(series) = set.next() {
            ctx.check()?;
            let series = series?;
            let mut src = Buffered::new(
                series.iterator(),
                self.mint,
                self.stats,
                ctx.opts.max_samples as u64,
            );
            f(series.labels(), &mut src)?;
        }
        Ok(())
    }
}

/// One series read in time order a window at a time, like Prometheus's
/// buffered iterator: samples are decoded as the windows advance
/// ([`Buffered::fill`]) and dropped once behind them
/// ([`Buffered::drop_through`]), so a reader holds one window of samples.
/// Stale markers are kept (lookups and some windows need them).
pub(crate) struct Buffered<'s> {
    it: Box<dyn SampleIterator + 's>,
    cur: ValueType,
    /// Read like Prometheus's histogram stats iterator.
    stats: bool,
    last: Option<FloatHistogram>,
    fh: FloatHistogram,
    /// The decoded samples, oldest first, and their start timestamps.
    pub(crate) samples: VecDeque<(i64, SVal)>,
    pub(crate) sts: VecDeque<i64>,
    /// Samples held (histograms by size), and the most allowed: one window
    /// may not exceed the query's sample limit.
    pub(crate) weight: u64,
    budget: u64,
}

impl<'s> Buffered<'s> {
    fn new(mut it: Box<dyn SampleIterator + 's>, mint: i64, stats: bool, budget: u64) -> Self {
        let cur = it.seek(mint);
        Buffered {
            it,
            cur,
            stats,
            last: None,
            fh: FloatHistogram::default(),
            samples: VecDeque::new(),
            sts: VecDeque::new(),
            weight: 0,
            budget,
        }
    }

    /// Decodes the samples up to `maxt` (inclusive).
    pub(crate) fn fill(&mut self, maxt: i64) -> Result<()> {
        loop {
            match self.cur {
                ValueType::None => {
                    return match self.it.err() {
                        Some(e) => Err(e.into()),
                        None => Ok(()),
                    };
                }
                ValueType::Float => {
                    let (t, f) = self.it.at();
                    if t > maxt {
                        return Ok(());
                    }
                    self.samples.push_back((t, SVal::F(f)));
                    self.weight += 1;
                }
                ValueType::Histogram | ValueType::FloatHistogram => {
                    if self.it.at_t() > maxt {
                        return Ok(());
                    }
                    let t = self.it.at_float_histogram(&mut self.fh);
                    if self.stats {
                        if !is_stale_nan(self.fh.sum) {
                            stats_hint(&mut self.fh, &mut self.last);
                        }
                        // Like the stats iterator, keep only what the
                        // functions above read (this is also what the
                        // sample accounting then weighs).
                        strip_to_stats(&mut self.fh);
                    }
                    self.weight += hist_size(&self.fh) as u64;
                    self.samples
                        .push_back((t, SVal::H(Arc::new(self.fh.clone()))));
                }
            }
            self.sts.push_back(self.it.at_st());
            if self.weight > self.budget {
                return Err(Error::TooManySamples("query execution"));
            }
            self.cur = self.it.next();
        }
    }

    /// Drops the samples at or before `mint`.
    pub(crate) fn drop_through(&mut self, mint: i64) {
        while let Some((t, v)) = self.samples.front() {
            if *t > mint {
                break;
            }
            self.weight -= match v {
                SVal::F(_) => 1,
                SVal::H(h) => hist_size(h) as u64,
            };
            self.samples.pop_front();
            self.sts.pop_front();
        }
    }

    /// Holds exactly the samples of `(mint, maxt]`.
    pub(crate) fn advance(&mut self, mint: i64, maxt: i64) -> Result<()> {
        self.drop_through(mint);
        self.fill(maxt)
    }

    /// The held samples and their start timestamps, as slices.
    pub(crate) fn slices(&mut self) -> (&[(i64, SVal)], &[i64]) {
        (self.samples.make_contiguous(), self.sts.make_contiguous())
    }
}

/// A series' samples as windows ask for them: a [`Buffered`] reader, or a
/// series already in memory (a subquery's result).
pub(crate) trait Source {
    /// Makes `(mint, maxt]` available (windows only move forward).
    fn advance(&mut self, mint: i64, maxt: i64) -> Result<()>;
    /// Samples covering the last window asked for (maybe more), oldest
    /// first, and their start timestamps (empty when unknown).
    fn slices(&mut self) -> (&[(i64, SVal)], &[i64]);
}

impl Source for Buffered<'_> {
    fn advance(&mut self, mint: i64, maxt: i64) -> Result<()> {
        Buffered::advance(self, mint, maxt)
    }
    fn slices(&mut self) -> (&[(i64, SVal)], &[i64]) {
        Buffered::slices(self)
    }
}

/// A series in memory, all of it always available.
pub(crate) struct Whole<'a>(pub(crate) &'a Loaded);

impl Source for Whole<'_> {
    fn advance(&mut self, _mint: i64, _maxt: i64) -> Result<()> {
        Ok(())
    }
    fn slices(&mut self) -> (&[(i64, SVal)], &[i64]) {
        (&self.0.samples, &self.0.sts)
    }
}

/// [`load`] decodes a selector's whole range before the per-step
/// accounting sees it, so decoding itself is bounded too: it may not decode
/// more than `max_samples` samples (histograms weighted by size), or the
/// query fails with the sample-limit error instead of exhausting memory.
/// (Instant selectors, `timestamp()` and range-vector functions read a
/// window at a time instead and are bounded like Prometheus's.)
fn budget_check(ev: &Evaluator<'_>, decoded: u64) -> Result<()> {
    if decoded > ev.ctx.opts.max_samples as u64 {
        return Err(Error::TooManySamples("query execution"));
    }
    Ok(())
}

/// Prometheus's `HistogramStatsIterator` detects counter resets while
/// reading: an unknown hint becomes reset or not-reset by comparison with
/// the histogram read before.
fn stats_hint(fh: &mut FloatHistogram, last: &mut Option<FloatHistogram>) {
    if fh.counter_reset_hint == CounterResetHint::Unknown
        && let Some(prev) = last.as_ref()
    {
        fh.counter_reset_hint = if crate::histogram::detect_reset(fh, prev) {
            CounterResetHint::CounterReset
        } else {
            CounterResetHint::NotCounterReset
        };
    }
    *last = Some(fh.clone());
}

/// What Prometheus's `HistogramStatsIterator` hands out: the counter-reset
/// hint, schema, count and sum; no zero bucket, buckets or custom bounds.
fn strip_to_stats(fh: &mut FloatHistogram) {
    fh.zero_threshold = 0.0;
    fh.zero_count = 0.0;
    fh.positive_spans.clear();
    fh.negative_spans.clear();
    fh.positive_buckets.clear();
    fh.negative_buckets.clear();
    fh.custom_values.clear();
}

/// The selectors (by address) whose histograms Prometheus reads through its
/// stats iterator (`detectHistogramStatsDecoding`): those below
/// `histogram_count`, `histogram_sum` or `histogram_avg` with no subquery,
/// `histogram_quantile(s)`, `histogram_fraction` or trim operator above.
pub(crate) fn stats_selectors(e: &Expr) -> HashSet<usize> {
    fn walk(e: &Expr, stats: bool, stop: bool, out: &mut HashSet<usize>) {
        let (mut stats, mut stop) = (stats, stop);
        match e {
            Expr::VectorSelector(vs) => {
                if stats && !stop {
                    out.insert(vs as *const VectorSelector as usize);
                }
                return;
            }
            Expr::MatrixSelector(ms) => {
                if stats && !stop {
                    out.insert(&ms.vector_selector as *const VectorSelector as usize);
                }
                return;
            }
            Expr::Subquery(_) => stop = true,
            Expr::Call(c) => match c.func.name {
                "histogram_count" | "histogram_sum" | "histogram_avg" => stats = true,
                "histogram_quantile" | "histogram_quantiles" | "histogram_fraction" => stop = true,
                _ => {}
            },
            Expr::Binary(b) if matches!(b.op, BinaryOp::TrimUpper | BinaryOp::TrimLower) => {
                stop = true
            }
            _ => {}
        }
        for c in e.children() {
            walk(c, stats, stop, out);
        }
    }
    let mut out = HashSet::new();
    walk(e, false, false, &mut out);
    out
}

/// The latest sample in `(ref_t - lookback, ref_t]`, unless it is a stale
/// marker.
pub(crate) fn lookup(samples: &[(i64, SVal)], ref_t: i64, lookback: i64) -> Option<&(i64, SVal)> {
    let i = samples.partition_point(|(t, _)| *t <= ref_t);
    let s = samples.get(i.checked_sub(1)?)?;
    if s.0 <= ref_t - lookback || s.1.is_stale() {
        return None;
    }
    Some(s)
}

/// The non-stale samples in `(mint, maxt]`, floats and histograms apart.
pub(crate) fn window(
    samples: &[(i64, SVal)],
    mint: i64,
    maxt: i64,
    floats: &mut Vec<FPoint>,
    hists: &mut Vec<HPoint>,
) {
    floats.clear();
    hists.clear();
    let lo = samples.partition_point(|(t, _)| *t <= mint);
    for (t, v) in &samples[lo..] {
        if *t > maxt {
            break;
        }
        match v {
            SVal::F(f) if !is_stale_nan(*f) => floats.push(FPoint { t: *t, f: *f }),
            SVal::H(h) if !is_stale_nan(h.sum) => hists.push(HPoint {
                t: *t,
                h: h.clone(),
            }),
            _ => {}
        }
    }
}

/// Start timestamps of the non-stale samples in `(mint, maxt]`, floats and
/// histograms apart, aligned with what [`window`] returns; left empty when
/// `sts` is.
pub(crate) fn window_sts(
    samples: &[(i64, SVal)],
    sts: &[i64],
    mint: i64,
    maxt: i64,
    floats: &mut Vec<i64>,
    hists: &mut Vec<i64>,
) {
    floats.clear();
    hists.clear();
    if sts.is_empty() {
        return;
    }
    let lo = samples.partition_point(|(t, _)| *t <= mint);
    for ((t, v), st) in samples[lo..].iter().zip(&sts[lo..]) {
        if *t > maxt {
            break;
        }
        match v {
            SVal::F(f) if !is_stale_nan(*f) => floats.push(*st),
            SVal::H(h) if !is_stale_nan(h.sum) => hists.push(*st),
            _ => {}
        }
    }
}

/// All float samples (stale markers included) in `(mint, maxt]`.
pub(crate) fn window_all(samples: &[(i64, SVal)], mint: i64, maxt: i64, out: &mut Vec<FPoint>) {
    out.clear();
    let lo = samples.partition_point(|(t, _)| *t <= mint);
    for (t, v) in &samples[lo..] {
        if *t > maxt {
            break;
        }
        if let SVal::F(f) = v {
            out.push(FPoint { t: *t, f: *f });
        }
    }
}

/// An instant vector selector over all steps.
pub(crate) fn eval_vector_selector(ev: &mut Evaluator<'_>, vs: &VectorSelector) -> Result<Matrix> {
    let offset = ev.offset_ms(&vs.offset)?;
    let at = ev.at_ms(vs.at);
    let (lo, hi) = match at {
        Some(a) => (a - offset, a - offset),
        None => (ev.start - offset, ev.end - offset),
    };
    let lookback = ev.ctx.lookback;
    let sel = Selection::new(ev, vs, lo - lookback + 1, hi);
    let ctx = ev.ctx;
    let mut out = Vec::new();
    sel.each(ctx, |labels, src| {
        let mut ser = Series {
            metric: labels.clone(),
            ..Default::default()
        };
        for (step, ts) in ev.steps().enumerate() {
            let r = at.unwrap_or(ts) - offset;
            src.advance(r - lookback, r)?;
            if let Some((_, v)) = lookup(src.slices().0, r, lookback) {
                // With `@` the selector is step-invariant: Prometheus reads
                // it once and repeats it at every step.
                let read = at.is_none() || step == 0;
                match v {
                    SVal::F(f) => {
                        ev.ctx.alloc(1)?;
                        ev.stats.add(step, 1, read);
                        ser.floats.push(FPoint { t: ts, f: *f });
                    }
                    SVal::H(h) => {
                        let n = hist_size(h);
                        ev.ctx.alloc(n)?;
                        ev.stats.add(step, n, read);
                        ser.histograms.push(HPoint {
                            t: ts,
                            h: h.clone(),
                        });
                    }
                }
            }
        }
        if !ser.floats.is_empty() || !ser.histograms.is_empty() {
            out.push(ser);
        }
        Ok(())
    })?;
    Ok(out)
}
