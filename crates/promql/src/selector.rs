//! Reading series from storage: selects, the lookback of instant
//! selectors and the left-open windows `(t - range, t]` of range selectors.

use std::sync::Arc;

use model::{FloatHistogram, Labels, is_stale_nan};
use promql_syntax::ast::VectorSelector;
use storage::{SelectHints, ValueType};

use crate::error::Result;
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
    while let Some(series) = set.next() {
        ev.ctx.check()?;
        let series = series?;
        let mut it = series.iterator();
        let mut samples = Vec::new();
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
                    total += 1;
                }
                ValueType::Histogram | ValueType::FloatHistogram => {
                    let t = it.at_float_histogram(&mut fh);
                    if t > maxt {
                        break;
                    }
                    total += hist_size(&fh) as u64;
                    samples.push((t, SVal::H(Arc::new(fh.clone()))));
                }
            }
            vt = it.next();
        }
        if let Some(e) = it.err() {
            return Err(e.into());
        }
        out.push(Loaded {
            labels: series.labels().clone(),
            samples,
            drop_name: false,
        });
    }
    ev.ctx.total_samples.set(ev.ctx.total_samples.get() + total);
    Ok(out)
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
        for ts in ev.steps() {
            let r = at.unwrap_or(ts) - offset;
            if let Some((_, v)) = lookup(&s.samples, r, lookback) {
                match v {
                    SVal::F(f) => {
                        ev.ctx.alloc(1)?;
                        ser.floats.push(FPoint { t: ts, f: *f });
                    }
                    SVal::H(h) => {
                        ev.ctx.alloc(hist_size(h))?;
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
