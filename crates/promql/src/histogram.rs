//! Arithmetic on float native histograms (what Prometheus's
//! `model/histogram` offers to PromQL): scaling, addition with schema,
//! zero-bucket and custom-bound reconciliation, compaction, equality,
//! counter-reset detection and bucket iteration with bounds.
//!
//! Buckets are handled as sorted `(index, count)` lists, converted back to
//! spans at the end.

use model::FloatHistogram;
use model::histogram::{CounterResetHint, Span};

mod arith;
mod trim;

pub(crate) use arith::{HistAcc, Incompatible, add};
pub(crate) use trim::trim_buckets;

/// The schema of native histograms with custom bucket bounds.
pub(crate) const CUSTOM_SCHEMA: i32 = -53;

/// Whether `h` has custom bucket bounds.
pub(crate) fn is_custom(h: &FloatHistogram) -> bool {
    h.schema == CUSTOM_SCHEMA
}

/// Expands spans and counts to `(index, count)` pairs.
pub(crate) fn expand(spans: &[Span], counts: &[f64]) -> Vec<(i32, f64)> {
    let mut out = Vec::with_capacity(counts.len());
    let mut idx = 0i32;
    let mut c = counts.iter();
    for (i, s) in spans.iter().enumerate() {
        if i == 0 {
            idx = s.offset;
        } else {
            idx += s.offset;
        }
        for _ in 0..s.length {
            if let Some(v) = c.next() {
                out.push((idx, *v));
            }
            idx += 1;
        }
    }
    out
}

/// Builds spans and counts from sorted `(index, count)` pairs.
pub(crate) fn collapse(b: &[(i32, f64)]) -> (Vec<Span>, Vec<f64>) {
    let mut spans: Vec<Span> = Vec::new();
    let mut counts = Vec::with_capacity(b.len());
    let mut next = 0i32;
    for (i, &(idx, v)) in b.iter().enumerate() {
        if i > 0 && idx == next {
            if let Some(s) = spans.last_mut() {
                s.length += 1;
            }
        } else {
            let offset = if i == 0 { idx } else { idx - next };
            spans.push(Span { offset, length: 1 });
        }
        counts.push(v);
        next = idx + 1;
    }
    (spans, counts)
}

/// Multiplies every count and the sum by `f`.
pub(crate) fn mul(h: &mut FloatHistogram, f: f64) {
    h.zero_count *= f;
    h.count *= f;
    h.sum *= f;
    h.positive_buckets.iter_mut().for_each(|v| *v *= f);
    h.negative_buckets.iter_mut().for_each(|v| *v *= f);
    if f < 0.0 {
        h.counter_reset_hint = CounterResetHint::Gauge;
    }
}

/// Divides every count and the sum by `f`; division by zero drops the
/// buckets.
pub(crate) fn div(h: &mut FloatHistogram, f: f64) {
    h.zero_count /= f;
    h.count /= f;
    h.sum /= f;
    if f == 0.0 {
        h.positive_buckets.clear();
        h.negative_buckets.clear();
        h.positive_spans.clear();
        h.negative_spans.clear();
        return;
    }
    h.positive_buckets.iter_mut().for_each(|v| *v /= f);
    h.negative_buckets.iter_mut().for_each(|v| *v /= f);
    if f < 0.0 {
        h.counter_reset_hint = CounterResetHint::Gauge;
    }
}

/// Removes empty buckets and joins spans.
pub(crate) fn compact(h: &mut FloatHistogram) {
    for neg in [false, true] {
        let (spans, counts) = if neg {
            (&mut h.negative_spans, &mut h.negative_buckets)
        } else {
            (&mut h.positive_spans, &mut h.positive_buckets)
        };
        let b: Vec<(i32, f64)> = expand(spans, counts)
            .into_iter()
            .filter(|(_, v)| *v != 0.0)
            .collect();
        let (s, c) = collapse(&b);
        *spans = s;
        *counts = c;
    }
}

/// Maps an index of `from` schema to the index of the bucket containing it
/// in the coarser `to` schema.
fn target_idx(idx: i32, from: i32, to: i32) -> i32 {
    ((idx - 1) >> (from - to)) + 1
}

fn reduce(b: &[(i32, f64)], from: i32, to: i32) -> Vec<(i32, f64)> {
    if from <= to {
        return b.to_vec();
    }
    let mut out: Vec<(i32, f64)> = Vec::with_capacity(b.len());
    for &(i, v) in b {
        let t = target_idx(i, from, to);
        match out.last_mut() {
            Some(last) if last.0 == t => last.1 += v,
            _ => out.push((t, v)),
        }
    }
    out
}

/// Lowers the resolution of `h` to `schema`.
pub(crate) fn reduce_resolution(h: &mut FloatHistogram, schema: i32) {
    if is_custom(h) || schema >= h.schema {
        return;
    }
    for neg in [false, true] {
        let (spans, counts) = if neg {
            (&mut h.negative_spans, &mut h.negative_buckets)
        } else {
            (&mut h.positive_spans, &mut h.positive_buckets)
        };
        let b = reduce(&expand(spans, counts), h.schema, schema);
        let (s, c) = collapse(&b);
        *spans = s;
        *counts = c;
    }
    h.schema = schema;
}

/// The upper bound of bucket `idx` under an exponential `schema`.
pub(crate) fn bound(idx: i32, schema: i32) -> f64 {
    if schema < 0 {
        let exp = (idx as i64) << (-schema);
        if exp >= 1024 {
            return if exp == 1024 { f64::MAX } else { f64::INFINITY };
        }
        return 2f64.powi(exp as i32);
    }
    let frac_idx = idx & ((1 << schema) - 1);
    let frac = 2f64.powf(frac_idx as f64 / (1i64 << schema) as f64) / 2.0;
    let exp = (idx >> schema) + 1;
    if frac == 0.5 && exp == 1025 {
        return f64::MAX;
    }
    ldexp(frac, exp)
}

fn ldexp(frac: f64, exp: i32) -> f64 {
    if exp > 1023 {
        frac * 2f64.powi(1023) * 2f64.powi(exp - 1023)
    } else if exp < -1022 {
        frac * 2f64.powi(-1022) * 2f64.powi(exp + 1022)
    } else {
        frac * 2f64.powi(exp)
    }
}

/// One bucket with its bounds.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) struct Bucket {
    pub(crate) lower: f64,
    pub(crate) upper: f64,
    pub(crate) count: f64,
    /// Whether the lower bound is inclusive (only the zero bucket's).
    pub(crate) lower_inclusive: bool,
    /// Whether the upper bound is inclusive.
    pub(crate) upper_inclusive: bool,
    pub(crate) index: i32,
}

/// The positive buckets in ascending order.
pub(crate) fn positive_buckets(h: &FloatHistogram) -> Vec<Bucket> {
    expand(&h.positive_spans, &h.positive_buckets)
        .into_iter()
        .map(|(i, c)| {
            if is_custom(h) {
                let iu = i as usize;
                let lower = if iu == 0 {
                    f64::NEG_INFINITY
                } else {
                    h.custom_values
                        .get(iu - 1)
                        .copied()
                        .unwrap_or(f64::INFINITY)
                };
                let upper = h.custom_values.get(iu).copied().unwrap_or(f64::INFINITY);
                Bucket {
                    lower,
                    upper,
                    count: c,
                    lower_inclusive: false,
                    upper_inclusive: true,
                    index: i,
                }
            } else {
                Bucket {
                    lower: bound(i - 1, h.schema),
                    upper: bound(i, h.schema),
                    count: c,
                    lower_inclusive: false,
                    upper_inclusive: true,
                    index: i,
                }
            }
        })
        .collect()
}

/// Every bucket in ascending order of bounds: negative, zero, positive.
pub(crate) fn all_buckets(h: &FloatHistogram) -> Vec<Bucket> {
    let mut out: Vec<Bucket> = expand(&h.negative_spans, &h.negative_buckets)
        .into_iter()
        .rev()
        .map(|(i, c)| Bucket {
            lower: -bound(i, h.schema),
            upper: -bound(i - 1, h.schema),
            count: c,
            lower_inclusive: true,
            upper_inclusive: false,
            index: i,
        })
        .collect();
    if !is_custom(h) && (h.zero_count != 0.0 || h.zero_threshold != 0.0) {
        out.push(Bucket {
            lower: -h.zero_threshold,
            upper: h.zero_threshold,
            count: h.zero_count,
            lower_inclusive: true,
            upper_inclusive: true,
            index: 0,
        });
    }
    out.extend(positive_buckets(h));
    out
}

/// Moves buckets of `h` within the zero threshold `thr` into the zero
/// bucket; grows `thr` to a bucket bound if it falls inside a populated
/// bucket. Returns the (possibly grown) threshold.
fn widen_zero(h: &mut FloatHistogram, mut thr: f64) -> f64 {
    if thr <= h.zero_threshold {
        return h.zero_threshold;
    }
    loop {
        let mut grown = false;
        for neg in [false, true] {
            let (spans, counts) = if neg {
                (&mut h.negative_spans, &mut h.negative_buckets)
            } else {
                (&mut h.positive_spans, &mut h.positive_buckets)
            };
            let mut keep = Vec::new();
            for (i, c) in expand(spans, counts) {
                let up = bound(i, h.schema);
                let lo = bound(i - 1, h.schema);
                if up <= thr {
                    h.zero_count += c;
                } else if lo < thr {
                    // The threshold is inside this bucket: widen to its
                    // upper bound and take it too.
                    h.zero_count += c;
                    thr = up;
                    grown = true;
                } else {
                    keep.push((i, c));
                }
            }
            let (s, c) = collapse(&keep);
            *spans = s;
            *counts = c;
        }
        if !grown {
            break;
        }
    }
    h.zero_threshold = thr;
    thr
}

/// The bounds common to both custom-bucket layouts.
fn intersect_bounds(a: &[f64], b: &[f64]) -> Vec<f64> {
    a.iter().copied().filter(|x| b.contains(x)).collect()
}

/// Re-buckets custom buckets onto `bounds` (a subset of the original ones).
fn rebucket_custom(b: &[(i32, f64)], orig: &[f64], bounds: &[f64]) -> Vec<(i32, f64)> {
    let mut out: Vec<(i32, f64)> = Vec::new();
    for &(i, c) in b {
        let upper = orig.get(i as usize).copied().unwrap_or(f64::INFINITY);
        let t = bounds.partition_point(|x| *x < upper) as i32;
        match out.last_mut() {
            Some(last) if last.0 == t => last.1 += c,
            _ => out.push((t, c)),
        }
    }
    out
}

fn spans_equal(a: &[Span], ac: &[f64], b: &[Span], bc: &[f64]) -> bool {
    let ea = expand(a, ac);
    let eb = expand(b, bc);
    ea.len() == eb.len()
        && ea
            .iter()
            .zip(&eb)
            .all(|(x, y)| x.0 == y.0 && x.1.to_bits() == y.1.to_bits())
}

/// Prometheus's `Equals`: same layout and bit-identical values.
pub(crate) fn equals(a: &FloatHistogram, b: &FloatHistogram) -> bool {
    a.schema == b.schema
        && a.count.to_bits() == b.count.to_bits()
        && a.sum.to_bits() == b.sum.to_bits()
        && (!is_custom(a) || a.custom_values == b.custom_values)
        && a.zero_threshold == b.zero_threshold
        && a.zero_count.to_bits() == b.zero_count.to_bits()
        && spans_equal(
            &a.negative_spans,
            &a.negative_buckets,
            &b.negative_spans,
            &b.negative_buckets,
        )
        && spans_equal(
            &a.positive_spans,
            &a.positive_buckets,
            &b.positive_spans,
            &b.positive_buckets,
        )
}

/// Whether `cur` follows a counter reset after `prev`.
pub(crate) fn detect_reset(cur: &FloatHistogram, prev: &FloatHistogram) -> bool {
    match cur.counter_reset_hint {
        CounterResetHint::CounterReset => return true,
        CounterResetHint::NotCounterReset => return false,
        _ => {}
    }
    if cur.count < prev.count {
        return true;
    }
    if is_custom(cur) != is_custom(prev) {
        return true;
    }
    if is_custom(cur) {
        if cur.custom_values != prev.custom_values {
            let bounds = intersect_bounds(&cur.custom_values, &prev.custom_values);
            let c = rebucket_custom(
                &expand(&cur.positive_spans, &cur.positive_buckets),
                &cur.custom_values,
                &bounds,
            );
            let p = rebucket_custom(
                &expand(&prev.positive_spans, &prev.positive_buckets),
                &prev.custom_values,
                &bounds,
            );
            return buckets_decreased(&c, &p);
        }
        return buckets_decreased(
            &expand(&cur.positive_spans, &cur.positive_buckets),
            &expand(&prev.positive_spans, &prev.positive_buckets),
        );
    }
    if cur.schema > prev.schema {
        return true;
    }
    if cur.zero_threshold < prev.zero_threshold {
        return true;
    }
    let mut p = prev.clone();
    reduce_resolution(&mut p, cur.schema);
    let thr = widen_zero(&mut p, cur.zero_threshold);
    if thr != cur.zero_threshold {
        return true;
    }
    if cur.zero_count < p.zero_count {
        return true;
    }
    buckets_decreased(
        &expand(&cur.positive_spans, &cur.positive_buckets),
        &expand(&p.positive_spans, &p.positive_buckets),
    ) || buckets_decreased(
        &expand(&cur.negative_spans, &cur.negative_buckets),
        &expand(&p.negative_spans, &p.negative_buckets),
    )
}

/// Whether some bucket of `prev` is higher in (or missing from) `cur`.
fn buckets_decreased(cur: &[(i32, f64)], prev: &[(i32, f64)]) -> bool {
    let mut j = 0;
    for &(i, pv) in prev {
        if pv == 0.0 {
            continue;
        }
        while j < cur.len() && cur[j].0 < i {
            j += 1;
        }
        match cur.get(j) {
            Some(&(ci, cv)) if ci == i => {
                if cv < pv {
                    return true;
                }
            }
            _ => return true,
        }
    }
    false
}

/// Prometheus's `FloatHistogram.String()`: count, sum and the populated
/// buckets with their bounds, e.g. `{count:3, sum:2, (0.5,1]:1, (1,2]:2}`.
pub(crate) fn to_string(h: &FloatHistogram) -> String {
    use crate::annotations::fmt_g;
    let mut s = format!("{{count:{}, sum:{}", fmt_g(h.count), fmt_g(h.sum));
    let bucket = |s: &mut String, lo: f64, up: f64, li: bool, ui: bool, c: f64| {
        s.push_str(&format!(
            ", {}{},{}{}:{}",
            if li { '[' } else { '(' },
            fmt_g(lo),
            fmt_g(up),
            if ui { ']' } else { ')' },
            fmt_g(c)
        ));
    };
    for (i, c) in expand(&h.negative_spans, &h.negative_buckets)
        .into_iter()
        .rev()
    {
        if c != 0.0 {
            let (lo, up) = (-bound(i, h.schema), -bound(i - 1, h.schema));
            bucket(&mut s, lo, up, lo < 0.0, up > 0.0, c);
        }
    }
    if h.zero_count != 0.0 {
        let t = h.zero_threshold;
        bucket(&mut s, -t, t, true, true, h.zero_count);
    }
    for b in positive_buckets(h) {
        if b.count != 0.0 {
            let li = if is_custom(h) {
                b.index == 0
            } else {
                b.lower < 0.0
            };
            let ui = is_custom(h) || b.upper > 0.0;
            bucket(&mut s, b.lower, b.upper, li, ui, b.count);
        }
    }
    s.push('}');
    s
}
