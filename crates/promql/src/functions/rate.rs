//! `rate`, `increase`, `delta`, `irate` and `idelta`, for floats and native
//! histograms, with Prometheus's extrapolation.

use model::FloatHistogram;
use model::histogram::CounterResetHint;

use crate::annotations::{Annotations, quote};
use crate::error::Result;
use crate::histogram as hist;

use super::{Out, Win, extended};

pub(super) fn call(
    name: &str,
    w: &Win<'_>,
    annos: &mut Annotations,
) -> Result<Option<Option<Out>>> {
    Ok(Some(match name {
        "rate" => extrapolated(w, true, true, annos),
        "increase" => extrapolated(w, true, false, annos),
        "delta" => extrapolated(w, false, false, annos),
        "irate" => instant(w, true, annos),
        "idelta" => instant(w, false, annos),
        _ => return Ok(None),
    }))
}

/// Prometheus's `isStartTimestampReset`: whether the start timestamp of
/// the current sample shows a counter reset since the previous one.
pub(super) fn st_reset(prev_st: i64, prev_t: i64, cur_st: i64, cur_t: i64) -> bool {
    if cur_st == 0 || cur_st >= cur_t || cur_st < prev_t {
        return false;
    }
    if cur_st > prev_t {
        return true;
    }
    // The start points at the previous sample: a delta, unless the
    // previous start is unknown (cumulative with unknown start) or invalid.
    if prev_st > prev_t {
        return false;
    }
    prev_st != 0 && prev_st != prev_t
}

/// Whether the current start timestamp overlaps the previous sample.
fn st_overlap(prev_st: i64, prev_t: i64, cur_st: i64) -> bool {
    cur_st != 0 && cur_st < prev_t && cur_st != prev_st
}

fn overlap_warning(w: &Win<'_>, annos: &mut Annotations) {
    annos.warn(format!(
        "sample has start time that overlaps with previous sample timestamp for metric {}",
        quote(w.name())
    ));
}

fn mixed(w: &Win<'_>, annos: &mut Annotations) {
    annos.warn(format!(
        "encountered a mix of histograms and floats for metric name {}",
        quote(w.name())
    ));
}

fn extrapolated(
    w: &Win<'_>,
    is_counter: bool,
    is_rate: bool,
    annos: &mut Annotations,
) -> Option<Out> {
    if !w.floats.is_empty() && !w.hists.is_empty() {
        mixed(w, annos);
        return None;
    }
    if w.anchored || w.smoothed {
        if !w.hists.is_empty() {
            return super::extended_hist::extended_histogram_rate(w, is_counter, is_rate, annos);
        }
        return extended::extended_rate(w, is_counter, is_rate).map(Out::F);
    }
    let (range_start, range_end) = (w.range_start, w.range_end);
    let mut result_f = 0.0;
    let mut result_h: Option<FloatHistogram> = None;
    let (first_t, last_t, n_minus_one);
    if !w.hists.is_empty() {
        n_minus_one = w.hists.len() - 1;
        first_t = w.hists[0].t;
        last_t = w.hists[n_minus_one].t;
        if w.hists.len() > 1 {
            result_h = Some(histogram_rate(w, is_counter, annos)?);
        }
    } else if !w.floats.is_empty() {
        let f = w.floats;
        n_minus_one = f.len() - 1;
        first_t = f[0].t;
        last_t = f[n_minus_one].t;
        result_f = f[n_minus_one].f - f[0].f;
        if is_counter {
            let sts = w.float_sts;
            let mut overlap = false;
            for i in 1..f.len() {
                if !overlap && i < sts.len() && st_overlap(sts[i - 1], f[i - 1].t, sts[i]) {
                    overlap_warning(w, annos);
                    overlap = true;
                }
                if f[i].f < f[i - 1].f
                    || (i < sts.len() && st_reset(sts[i - 1], f[i - 1].t, sts[i], f[i].t))
                {
                    result_f += f[i - 1].f;
                }
            }
        }
    } else {
        return None;
    }
    let mut to_start = (first_t - range_start) as f64 / 1000.0;
    let mut to_end = (range_end - last_t) as f64 / 1000.0;
    let mut sampled = (last_t - first_t) as f64 / 1000.0;
    let avg = if n_minus_one > 0 {
        sampled / n_minus_one as f64
    } else {
        0.0
    };
    let threshold = avg * 1.1;
    let sts = if w.hists.is_empty() {
        w.float_sts
    } else {
        w.hist_sts
    };
    let st_start = is_counter
        && sts
            .first()
            .is_some_and(|&st| st != 0 && st > range_start && st < first_t);
    if st_start {
        // A zero-value sample is assumed at the first sample's start time,
        // instead of extrapolating to the left.
        to_start = 0.0;
        sampled = (last_t - sts[0]) as f64 / 1000.0;
        if let Some(p) = w.floats.first() {
            result_f += p.f;
        } else if let Some(p) = w.hists.first() {
            match result_h.as_mut() {
                None => result_h = Some((*p.h).clone()),
                Some(h) => match hist::add(h, &p.h, false) {
                    Ok(r) => {
                        if r.reconciled {
                            annos.info("mismatched custom buckets were reconciled during addition");
                        }
                    }
                    Err(_) => {
                        mixed_schemas(w, annos);
                        return None;
                    }
                },
            }
        }
    } else if n_minus_one == 0 {
        return None;
    } else if to_start >= threshold {
        to_start = avg / 2.0;
    }
    if is_counter && !st_start {
        let mut to_zero = to_start;
        if result_f > 0.0 && !w.floats.is_empty() && w.floats[0].f >= 0.0 {
            to_zero = sampled * (w.floats[0].f / result_f);
        } else if let Some(h) = &result_h
            && h.count > 0.0
            && !w.hists.is_empty()
            && w.hists[0].h.count >= 0.0
        {
            to_zero = sampled * (w.hists[0].h.count / h.count);
        }
        if to_zero < to_start {
            to_start = to_zero;
        }
    }
    if to_end >= threshold {
        to_end = avg / 2.0;
    }
    let mut factor = 1.0;
    if sampled != 0.0 {
        factor = (sampled + to_start + to_end) / sampled;
    }
    if is_rate {
        factor /= w.range as f64 / 1000.0;
    }
    match result_h {
        Some(mut h) => {
            hist::mul(&mut h, factor);
            Some(Out::H(h))
        }
        None => Some(Out::F(result_f * factor)),
    }
}

fn not_counter(w: &Win<'_>, annos: &mut Annotations) {
    annos.warn(format!(
        "this native histogram metric is not a counter: {}",
        quote(w.name())
    ));
}

fn not_gauge(w: &Win<'_>, annos: &mut Annotations) {
    annos.warn(format!(
        "this native histogram metric is not a gauge: {}",
        quote(w.name())
    ));
}

fn mixed_schemas(w: &Win<'_>, annos: &mut Annotations) {
    annos.warn(format!(
        "vector contains a mix of histograms with exponential and custom buckets schemas for metric name {}",
        quote(w.name())
    ));
}

fn histogram_rate(
    w: &Win<'_>,
    is_counter: bool,
    annos: &mut Annotations,
) -> Option<FloatHistogram> {
    let points = w.hists;
    let mut prev: FloatHistogram = (*points[0].h).clone();
    let last = &points[points.len() - 1].h;
    let gauge = CounterResetHint::Gauge;
    if is_counter && (prev.counter_reset_hint == gauge || last.counter_reset_hint == gauge) {
        not_counter(w, annos);
    }
    let mut custom = hist::is_custom(&prev);
    let sts = w.hist_sts;
    if is_counter {
        let second = &points[1].h;
        if (sts.len() > 1 && st_reset(sts[0], points[0].t, sts[1], points[1].t))
            || hist::detect_reset(second, &prev)
        {
            prev = FloatHistogram {
                schema: second.schema,
                custom_values: second.custom_values.clone(),
                ..Default::default()
            };
            custom = hist::is_custom(second);
        }
    }
    if hist::is_custom(last) != custom {
        mixed_schemas(w, annos);
        return None;
    }
    let mut min_schema = last.schema.min(prev.schema);
    for p in &points[1..points.len() - 1] {
        if !is_counter {
            continue;
        }
        if p.h.counter_reset_hint == gauge {
            not_counter(w, annos);
        }
        min_schema = min_schema.min(p.h.schema);
        if hist::is_custom(&p.h) != custom {
            mixed_schemas(w, annos);
            return None;
        }
    }
    let mut h = (**last).clone();
    hist::reduce_resolution(&mut h, min_schema);
    match hist::add(&mut h, &prev, true) {
        Ok(r) => {
            if r.reconciled {
                annos.info("mismatched custom buckets were reconciled during subtraction");
            }
        }
        Err(_) => {
            mixed_schemas(w, annos);
            return None;
        }
    }
    if is_counter {
        let mut prev = &prev;
        let mut overlap = false;
        for (j, p) in points.iter().enumerate().skip(1) {
            if !overlap && j < sts.len() && st_overlap(sts[j - 1], points[j - 1].t, sts[j]) {
                overlap_warning(w, annos);
                overlap = true;
            }
            let st_hit = j < sts.len() && st_reset(sts[j - 1], points[j - 1].t, sts[j], p.t);
            if st_hit || hist::detect_reset(&p.h, prev) {
                match hist::add(&mut h, prev, false) {
                    Ok(r) => {
                        if r.reconciled {
                            annos.info("mismatched custom buckets were reconciled during addition");
                        }
                    }
                    Err(_) => {
                        mixed_schemas(w, annos);
                        return None;
                    }
                }
            }
            prev = &p.h;
        }
    } else if points[0].h.counter_reset_hint != gauge || last.counter_reset_hint != gauge {
        not_gauge(w, annos);
    }
    h.counter_reset_hint = gauge;
    hist::compact(&mut h);
    Some(h)
}

fn instant(w: &Win<'_>, is_rate: bool, annos: &mut Annotations) -> Option<Out> {
    if w.floats.len() + w.hists.len() < 2 {
        return None;
    }
    // The last two samples, floats or histograms.
    #[derive(Clone)]
    struct P<'a> {
        t: i64,
        st: i64,
        f: f64,
        h: Option<&'a FloatHistogram>,
    }
    let mut ss: Vec<P<'_>> = Vec::with_capacity(4);
    let from = w.floats.len().saturating_sub(2);
    for (i, p) in w.floats.iter().enumerate().skip(from) {
        ss.push(P {
            t: p.t,
            st: w.float_sts.get(i).copied().unwrap_or(0),
            f: p.f,
            h: None,
        });
    }
    let from = w.hists.len().saturating_sub(2);
    for (i, p) in w.hists.iter().enumerate().skip(from) {
        ss.push(P {
            t: p.t,
            st: w.hist_sts.get(i).copied().unwrap_or(0),
            f: 0.0,
            h: Some(&p.h),
        });
    }
    ss.sort_by_key(|p| p.t);
    let ss = &ss[ss.len() - 2..];
    let interval = ss[1].t - ss[0].t;
    if interval == 0 {
        return None;
    }
    let st_hit = st_reset(ss[0].st, ss[0].t, ss[1].st, ss[1].t);
    let out = match (ss[0].h, ss[1].h) {
        (None, None) => {
            let mut f = ss[1].f;
            if !is_rate || !(ss[1].f < ss[0].f || st_hit) {
                f = ss[1].f - ss[0].f;
            }
            if is_rate {
                f /= interval as f64 / 1000.0;
            }
            Out::F(f)
        }
        (Some(h0), Some(h1)) => {
            let mut r = h1.clone();
            let gauge = CounterResetHint::Gauge;
            if is_rate && (h1.counter_reset_hint == gauge || h0.counter_reset_hint == gauge) {
                not_counter(w, annos);
            }
            if !is_rate && (h1.counter_reset_hint != gauge || h0.counter_reset_hint != gauge) {
                not_gauge(w, annos);
            }
            if !is_rate || (!st_hit && !hist::detect_reset(h1, h0)) {
                match hist::add(&mut r, h0, true) {
                    Ok(res) => {
                        if res.reconciled {
                            annos.info(
                                "mismatched custom buckets were reconciled during subtraction",
                            );
                        }
                    }
                    Err(_) => {
                        mixed_schemas(w, annos);
                        return None;
                    }
                }
            }
            r.counter_reset_hint = gauge;
            hist::compact(&mut r);
            if is_rate {
                hist::div(&mut r, interval as f64 / 1000.0);
            }
            Out::H(r)
        }
        _ => {
            mixed(w, annos);
            return None;
        }
    };
    Some(out)
}
