//! `anchored` and `smoothed` over native histograms: boundary histograms
//! picked or interpolated, `rate`/`increase`/`delta` with counter reset
//! correction, and the smoothed instant selector.

use model::FloatHistogram;
use model::histogram::CounterResetHint;

use crate::annotations::{Annotations, quote};
use crate::histogram::{self as hist, Incompatible};
use crate::value::HPoint;

use super::{Out, Win};

fn mixed_schemas(name: &str, annos: &mut Annotations) {
    annos.warn(format!(
        "vector contains a mix of histograms with exponential and custom buckets schemas for metric name {}",
        quote(name)
    ));
}

/// `a += b` or `a -= b`; notes reconciled custom bounds.
fn add_noted(
    a: &mut FloatHistogram,
    b: &FloatHistogram,
    sub: bool,
    annos: &mut Annotations,
) -> Result<(), Incompatible> {
    let r = hist::add(a, b, sub)?;
    if r.reconciled {
        annos.info(format!(
            "mismatched custom buckets were reconciled during {}",
            if sub { "subtraction" } else { "addition" }
        ));
    }
    Ok(())
}

/// The histogram at `t` between `(t1, h1)` and `(t2, h2)`; a counter reset
/// between them models the counter as restarting from zero.
pub(crate) fn interpolate(
    (t1, h1): (i64, &FloatHistogram),
    (t2, h2): (i64, &FloatHistogram),
    t: i64,
    is_counter: bool,
    annos: &mut Annotations,
) -> Result<FloatHistogram, Incompatible> {
    if t == t1 {
        return Ok(h1.clone());
    }
    if t == t2 {
        return Ok(h2.clone());
    }
    let fraction = (t - t1) as f64 / (t2 - t1) as f64;
    let mut r = h2.clone();
    if is_counter && hist::detect_reset(h2, h1) {
        hist::mul(&mut r, fraction);
        return Ok(r);
    }
    add_noted(&mut r, h1, true, annos)?;
    hist::mul(&mut r, fraction);
    add_noted(&mut r, h1, false, annos)?;
    Ok(r)
}

fn point(p: &HPoint) -> (i64, &FloatHistogram) {
    (p.t, &p.h)
}

/// The correction for counter resets between the boundary samples.
fn correction(
    h: &[HPoint],
    (first_idx, last_idx): (usize, usize),
    left: &FloatHistogram,
    right: &FloatHistogram,
    start: i64,
    smoothed: bool,
    annos: &mut Annotations,
) -> Result<Option<FloatHistogram>, Incompatible> {
    let mut first = first_idx + 1;
    let mut prev: &FloatHistogram = left;
    if smoothed
        && h[first_idx].t < start
        && first_idx + 1 < h.len()
        && hist::detect_reset(&h[first_idx + 1].h, &h[first_idx].h)
    {
        // The left interpolation already spans this reset.
        prev = &h[first_idx + 1].h;
        first += 1;
    }
    // The last sample is `right` (or interpolated from it): excluded.
    if first > last_idx {
        return Ok(None);
    }
    let mut corr: Option<FloatHistogram> = None;
    let mut add = |c: &mut Option<FloatHistogram>, x: &FloatHistogram| match c {
        None => {
            *c = Some(x.clone());
            Ok(())
        }
        Some(c) => add_noted(c, x, false, annos),
    };
    for p in &h[first..last_idx] {
        if hist::detect_reset(&p.h, prev) {
            add(&mut corr, prev)?;
        }
        prev = &p.h;
    }
    if hist::detect_reset(right, prev) {
        add(&mut corr, prev)?;
    }
    Ok(corr)
}

/// `rate`, `increase` and `delta` of histograms over an anchored or
/// smoothed window.
pub(crate) fn extended_histogram_rate(
    w: &Win<'_>,
    is_counter: bool,
    is_rate: bool,
    annos: &mut Annotations,
) -> Option<Out> {
    let h = w.hists;
    let name = w.name();
    let (start, end) = (w.range_start, w.range_end);
    let mut last = h.len().checked_sub(1)?;
    let first = (0..last)
        .find(|&i| h[i].t > start)
        .unwrap_or(last)
        .saturating_sub(1);
    if w.smoothed {
        last = (0..last).find(|&i| h[i].t >= end).unwrap_or(last);
    }
    if h[last].t <= start || (w.smoothed && h[first].t > end) {
        return None;
    }
    let custom = hist::is_custom(&h[first].h);
    for p in &h[first..=last] {
        if hist::is_custom(&p.h) != custom {
            mixed_schemas(name, annos);
            return None;
        }
        if is_counter && p.h.counter_reset_hint == CounterResetHint::Gauge {
            annos.warn(format!(
                "this native histogram metric is not a counter: {}",
                quote(name)
            ));
        }
    }
    let run = |annos: &mut Annotations| -> Result<FloatHistogram, Incompatible> {
        let left = if w.smoothed && h[first].t < start && first + 1 < h.len() {
            interpolate(
                point(&h[first]),
                point(&h[first + 1]),
                start,
                is_counter,
                annos,
            )?
        } else {
            (*h[first].h).clone()
        };
        let right = if w.smoothed && last > 0 && h[last].t > end {
            interpolate(point(&h[last - 1]), point(&h[last]), end, is_counter, annos)?
        } else {
            (*h[last].h).clone()
        };
        if !is_counter
            && (left.counter_reset_hint != CounterResetHint::Gauge
                || right.counter_reset_hint != CounterResetHint::Gauge)
        {
            annos.warn(format!(
                "this native histogram metric is not a gauge: {}",
                quote(name)
            ));
        }
        let mut result = right.clone();
        add_noted(&mut result, &left, true, annos)?;
        if is_counter
            && let Some(c) = correction(h, (first, last), &left, &right, start, w.smoothed, annos)?
        {
            add_noted(&mut result, &c, false, annos)?;
        }
        Ok(result)
    };
    let mut result = match run(annos) {
        Ok(r) => r,
        Err(Incompatible) => {
            mixed_schemas(name, annos);
            return None;
        }
    };
    if is_rate {
        hist::div(&mut result, w.range as f64 / 1000.0);
    }
    result.counter_reset_hint = CounterResetHint::Gauge;
    hist::compact(&mut result);
    Some(Out::H(result))
}

/// The value of a smoothed instant selector at `d` from the histograms of
/// `(d - lookback, d + lookback]`.
pub(crate) fn smoothed_histogram(
    hists: &[HPoint],
    d: i64,
    name: &str,
    annos: &mut Annotations,
) -> Option<FloatHistogram> {
    let i = hists.partition_point(|p| p.t < d);
    if i < hists.len() && hists[i].t == d {
        return Some((*hists[i].h).clone());
    }
    if i > 0 && i < hists.len() {
        let (prev, next) = (&hists[i - 1], &hists[i]);
        if hist::is_custom(&prev.h) != hist::is_custom(&next.h) {
            mixed_schemas(name, annos);
            return None;
        }
        let is_counter = prev.h.counter_reset_hint != CounterResetHint::Gauge
            || next.h.counter_reset_hint != CounterResetHint::Gauge;
        return match interpolate(point(prev), point(next), d, is_counter, annos) {
            Ok(h) => Some(h),
            Err(Incompatible) => {
                mixed_schemas(name, annos);
                None
            }
        };
    }
    if i > 0 {
        let mut h = (*hists[i - 1].h).clone();
        h.counter_reset_hint = CounterResetHint::Unknown;
        return Some(h);
    }
    None
}
