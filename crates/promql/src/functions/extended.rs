//! The experimental `anchored` and `smoothed` range selectors: windows
//! extended by the lookback delta and boundary values picked or
//! interpolated, and the `rate`/`increase`/`delta` variants over them.

use model::is_stale_nan;
use promql_syntax::ast::VectorSelector;

use crate::error::Result;
use crate::eval::Evaluator;
use std::sync::Arc;

use crate::annotations::quote;
use crate::selector::{load, window};
use crate::value::{FPoint, HPoint, Matrix, Series, hist_size};

use super::Win;
use super::extended_hist::smoothed_histogram;

/// Linear interpolation between two points at `t` (counter resets model
/// the counter as restarting from zero).
pub(crate) fn interpolate(p1: FPoint, p2: FPoint, t: i64, is_counter: bool) -> f64 {
    let y1 = if is_counter && p2.f < p1.f { 0.0 } else { p1.f };
    y1 + (p2.f - y1) * (t - p1.t) as f64 / (p2.t - p1.t) as f64
}

fn pick_left(f: &[FPoint], first: usize, start: i64, smoothed: bool, counter: bool) -> f64 {
    if smoothed && f[first].t < start && first + 1 < f.len() {
        return interpolate(f[first], f[first + 1], start, counter);
    }
    f[first].f
}

fn pick_right(f: &[FPoint], last: usize, end: i64, smoothed: bool, counter: bool) -> f64 {
    if smoothed && last > 0 && f[last].t > end {
        return interpolate(f[last - 1], f[last], end, counter);
    }
    f[last].f
}

/// The index of the first of `f[..n]` with `pred`, or `n`.
fn search(n: usize, pred: impl Fn(usize) -> bool) -> usize {
    (0..n).find(|&i| pred(i)).unwrap_or(n)
}

/// Replaces the samples around `(mint, maxt]` by boundary points at `mint`
/// and `maxt` plus the samples strictly inside.
pub(crate) fn extend_floats(
    floats: &[FPoint],
    mint: i64,
    maxt: i64,
    smoothed: bool,
) -> Vec<FPoint> {
    let floats: Vec<FPoint> = floats
        .iter()
        .copied()
        .filter(|p| !is_stale_nan(p.f))
        .collect();
    if floats.is_empty() {
        return Vec::new();
    }
    let mut last = floats.len() - 1;
    let mut first = search(last, |i| floats[i].t > mint).saturating_sub(1);
    if smoothed {
        last = search(last, |i| floats[i].t >= maxt);
    }
    if floats[last].t <= mint {
        return Vec::new();
    }
    let left = pick_left(&floats, first, mint, smoothed, false);
    let right = pick_right(&floats, last, maxt, smoothed, false);
    if floats[first].t <= mint {
        first += 1;
    }
    let mut out = vec![FPoint { t: mint, f: left }];
    if floats[last].t >= maxt {
        if last == 0 {
            out.push(FPoint { t: maxt, f: right });
            return out;
        }
        last -= 1;
    }
    if first <= last {
        out.extend_from_slice(&floats[first..=last]);
    }
    out.push(FPoint { t: maxt, f: right });
    out
}

/// `rate`, `increase` and `delta` over an anchored or smoothed window.
pub(crate) fn extended_rate(w: &Win<'_>, is_counter: bool, is_rate: bool) -> Option<f64> {
    let f = w.floats;
    if f.is_empty() {
        return None;
    }
    let (start, end) = (w.range_start, w.range_end);
    let mut last = f.len() - 1;
    let mut first = search(last, |i| f[i].t > start).saturating_sub(1);
    if w.smoothed {
        last = search(last, |i| f[i].t >= end);
    }
    if f[last].t <= start {
        return None;
    }
    if w.smoothed && f[first].t > end {
        return None;
    }
    let left = pick_left(f, first, start, w.smoothed, is_counter);
    let right = pick_right(f, last, end, w.smoothed, is_counter);
    let mut result = right - left;
    if is_counter {
        if f[first].t <= start {
            first += 1;
        }
        let inner: &[FPoint] = if f[last].t >= end {
            if last == 0 || first > last - 1 {
                &[]
            } else {
                &f[first..last]
            }
        } else if first > last {
            &[]
        } else {
            &f[first..=last]
        };
        let mut correction = 0.0;
        let mut prev = left;
        for p in inner {
            if p.f < prev {
                correction += prev;
            }
            prev = p.f;
        }
        if right < prev {
            correction += prev;
        }
        result += correction;
    }
    if is_rate {
        result /= w.range as f64 / 1000.0;
    }
    Some(result)
}

/// A `smoothed` instant selector: the value at each step interpolated
/// between the neighbouring samples of `(t - lookback, t + lookback]`.
pub(crate) fn smoothed_selector(ev: &mut Evaluator<'_>, vs: &VectorSelector) -> Result<Matrix> {
    let offset = ev.offset_ms(&vs.offset)?;
    let at = ev.at_ms(vs.at);
    let lb = ev.ctx.lookback;
    let (lo, hi) = match at {
        Some(a) => (a - offset, a - offset),
        None => (ev.start - offset, ev.end - offset),
    };
    let series = load(ev, vs, lo - lb + 1, hi + lb)?;
    let mut out = Vec::new();
    let mut annos = std::mem::take(&mut ev.annos);
    let (mut floats, mut hists) = (Vec::new(), Vec::new());
    for s in series {
        let name = s.labels.get("__name__").unwrap_or("").to_owned();
        let mut ser = Series {
            metric: s.labels.clone(),
            ..Default::default()
        };
        for ts in ev.steps() {
            let d = at.unwrap_or(ts) - offset;
            window(&s.samples, d - lb, d + lb, &mut floats, &mut hists);
            if floats.is_empty() && hists.is_empty() {
                continue;
            }
            if !floats.is_empty() && !hists.is_empty() {
                annos.warn(format!(
                    "encountered a mix of histograms and floats for metric name {}",
                    quote(&name)
                ));
                continue;
            }
            if !hists.is_empty() {
                if let Some(h) = smoothed_histogram(&hists, d, &name, &mut annos) {
                    ev.ctx.alloc(hist_size(&h))?;
                    ser.histograms.push(HPoint {
                        t: ts,
                        h: Arc::new(h),
                    });
                }
                continue;
            }
            let i = floats.partition_point(|p| p.t < d);
            let v = if i < floats.len() && floats[i].t == d {
                Some(floats[i].f)
            } else if i > 0 && i < floats.len() {
                Some(interpolate(floats[i - 1], floats[i], d, false))
            } else if i > 0 {
                Some(floats[i - 1].f)
            } else {
                None
            };
            if let Some(f) = v {
                ev.ctx.alloc(1)?;
                ser.floats.push(FPoint { t: ts, f });
            }
        }
        if !ser.floats.is_empty() || !ser.histograms.is_empty() {
            out.push(ser);
        }
    }
    ev.annos = annos;
    Ok(out)
}
