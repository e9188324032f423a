//! Reading series from storage: selects, the lookback of instant
//! selectors and the left-open windows `(t - range, t]` of range selectors.

use std::sync::Arc;

use model::{FloatHistogram, Labels, is_stale_nan};
use std::collections::HashSet;

use model::histogram::CounterResetHint;
use promql_syntax::ast::{BinaryOp, Expr, VectorSelector};
use storage::{SelectHints, ValueType};

use crate::error::{Error, Result};
use crate::eval::Evaluator;
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

/// Reads the series matching `vs` with samples in `[mint, maxt]`.
pub(crate) fn load(
    ev: &Evaluator<'_>,
    vs: &VectorSelector,
    mint: i64,
    maxt: i64,
) -> Result<Vec<Loaded>> {
    let querier = ev.ctx.queryable.querier(mint, maxt)?;
    let hints = SelectHints {
        start: mint,
        end: maxt,
        step: ev.interval,
        ..Default::default()
    };
    let mut set = querier.select(true, Some(&hints), &vs.matchers);
    let mut out = Vec::new();
    let mut fh = FloatHistogram::default();
    let mut total = 0u64;
    let stats = ev
        .ctx
        .stats_selectors
        .contains(&(vs as *const VectorSelector as usize));
    while let Some(series) = set.next() {
        ev.ctx.check()?;
        let series = series?;
        let mut it = series.iterator();
        let mut samples = Vec::new();
        let mut sts = Vec::new();
        let mut last: Option<FloatHistogram> = None;
        let mut vt = it.seek(mint);
        loop {
            match vt {
                ValueType::None => break,
                ValueType::Float => {
                    let (t, f) = it.at();
                    if t > maxt {
                        break;
                    }
                    samples.push((t, SVal::F(f)));
                    sts.push(it.at_st());
                    total += 1;
                    budget_check(ev, total)?;
                }
                ValueType::Histogram | ValueType::FloatHistogram => {
                    let t = it.at_float_histogram(&mut fh);
                    if t > maxt {
                        break;
                    }
                    total += hist_size(&fh) as u64;
                    budget_check(ev, total)?;
                    if stats {
                        if !is_stale_nan(fh.sum) {
                            stats_hint(&mut fh, &mut last);
                        }
                        // Like the stats iterator, keep only what the
                        // functions above read (this is also what the
                        // sample accounting then weighs).
                        strip_to_stats(&mut fh);
                    }
                    samples.push((t, SVal::H(Arc::new(fh.clone()))));
                    sts.push(it.at_st());
                }
            }
            vt = it.next();
        }
        if let Some(e) = it.err() {
            return Err(e.into());
        }
        if sts.iter().all(|st| *st == 0) {
            sts.clear();
        }
        out.push(Loaded {
            labels: series.labels().clone(),
            samples,
            sts,
            drop_name: false,
        });
    }
    Ok(out)
}

/// Selectors decode their whole window before the per-step accounting sees
/// it, so decoding itself is bounded too: one selector may not decode more
/// than `max_samples` samples (histograms weighted by size), or the query
/// fails with the sample-limit error instead of exhausting memory.
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
    let series = load(ev, vs, lo - lookback + 1, hi)?;
    let mut out = Vec::with_capacity(series.len());
    for s in series {
        let mut ser = Series {
            metric: s.labels,
            ..Default::default()
        };
        for (step, ts) in ev.steps().enumerate() {
            let r = at.unwrap_or(ts) - offset;
            if let Some((_, v)) = lookup(&s.samples, r, lookback) {
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
    }
    Ok(out)
}
