//! Addition and subtraction of float histograms, plain and Kahan-compensated,
//! following Prometheus's `FloatHistogram.Add`/`Sub`/`KahanAdd`: zero buckets
//! are reconciled to a common threshold first (widened to a bucket bound when
//! it would split a populated bucket), then schemas (the coarser wins), then
//! buckets are merged; custom-bucket histograms with different bounds meet
//! on the intersection of their bounds.
//!
//! A compensation histogram shares the layout of the sum it belongs to; the
//! caller adds it into the sum once at the end.

use model::FloatHistogram;

use super::{CounterResetHint, Span, bound, collapse, expand, is_custom};
use crate::aggregate::kahan_inc;

/// Result flags of an addition.
pub(crate) struct AddResult {
    pub(crate) collision: bool,
    pub(crate) reconciled: bool,
}

/// The error of adding exponential and custom-bucket histograms.
#[derive(Debug)]
pub(crate) struct Incompatible;

/// `(index, value, compensation)` buckets.
type Comp = Vec<(i32, f64, f64)>;

fn adjust_counter_reset(h: &mut FloatHistogram, o: &FloatHistogram) -> bool {
    use CounterResetHint::*;
    let (a, b) = (h.counter_reset_hint, o.counter_reset_hint);
    if a == b || a == Gauge {
        return false;
    }
    if b == Gauge {
        h.counter_reset_hint = Gauge;
        return false;
    }
    if a == Unknown {
        return false;
    }
    h.counter_reset_hint = Unknown;
    b != Unknown
}

/// A compensation histogram for `h`: its layout, all counts zero.
fn compensation_for(h: &FloatHistogram) -> FloatHistogram {
    FloatHistogram {
        counter_reset_hint: h.counter_reset_hint,
        schema: h.schema,
        zero_threshold: h.zero_threshold,
        custom_values: h.custom_values.clone(),
        positive_spans: h.positive_spans.clone(),
        positive_buckets: vec![0.0; h.positive_buckets.len()],
        negative_spans: if is_custom(h) {
            Vec::new()
        } else {
            h.negative_spans.clone()
        },
        negative_buckets: if is_custom(h) {
            Vec::new()
        } else {
            vec![0.0; h.negative_buckets.len()]
        },
        ..Default::default()
    }
}

fn zip_comp(spans: &[Span], counts: &[f64], comp: Option<&[f64]>) -> Comp {
    expand(spans, counts)
        .into_iter()
        .enumerate()
        .map(|(k, (i, v))| (i, v, comp.and_then(|c| c.get(k)).copied().unwrap_or(0.0)))
        .collect()
}

fn unzip_comp(b: &Comp) -> (Vec<Span>, Vec<f64>, Vec<f64>) {
    let pairs: Vec<(i32, f64)> = b.iter().map(|&(i, v, _)| (i, v)).collect();
    let (spans, counts) = collapse(&pairs);
    (spans, counts, b.iter().map(|x| x.2).collect())
}

/// The zero count `h` would have with the threshold raised to `larger`
/// (itself raised to the upper bound of a populated bucket it would split),
/// with the Kahan compensation of that sum. Follows Prometheus, including
/// that the compensation is not reset when the negative side restarts the
/// computation.
fn zero_count_for_larger(
    h: &FloatHistogram,
    c: Option<&FloatHistogram>,
    mut larger: f64,
) -> (f64, f64, f64) {
    let mut cz = c.map_or(0.0, |c| c.zero_count);
    if larger == h.zero_threshold {
        return (h.zero_count, larger, cz);
    }
    let pos = expand(&h.positive_spans, &h.positive_buckets);
    let neg = expand(&h.negative_spans, &h.negative_buckets);
    'outer: loop {
        let mut hz = h.zero_count;
        for (k, &(i, cnt)) in pos.iter().enumerate() {
            let (lo, up) = (bound(i - 1, h.schema), bound(i, h.schema));
            if lo >= larger {
                break;
            }
            (hz, cz) = kahan_inc(cnt, hz, cz);
            if let Some(c) = c {
                (hz, cz) = kahan_inc(c.positive_buckets.get(k).copied().unwrap_or(0.0), hz, cz);
            }
            if up > larger {
                if cnt != 0.0 {
                    larger = up;
                }
                break;
            }
        }
        for (k, &(i, cnt)) in neg.iter().enumerate() {
            let (lo, up) = (-bound(i, h.schema), -bound(i - 1, h.schema));
            if up <= -larger {
                break;
            }
            (hz, cz) = kahan_inc(cnt, hz, cz);
            if let Some(c) = c {
                (hz, cz) = kahan_inc(c.negative_buckets.get(k).copied().unwrap_or(0.0), hz, cz);
            }
            if lo < -larger {
                if cnt != 0.0 {
                    larger = -lo;
                    continue 'outer;
                }
                break;
            }
        }
        return (hz, larger, cz);
    }
}

/// Zeroes the buckets of `h` (and `c`) inside the zero bucket, then drops
/// empty buckets (where the compensation is empty too).
fn trim_in_zero(h: &mut FloatHistogram, mut c: Option<&mut FloatHistogram>) {
    let thr = h.zero_threshold;
    for neg in [false, true] {
        let (spans, counts) = if neg {
            (&h.negative_spans, &h.negative_buckets)
        } else {
            (&h.positive_spans, &h.positive_buckets)
        };
        let comp = c.as_deref().map(|c| {
            if neg {
                c.negative_buckets.as_slice()
            } else {
                c.positive_buckets.as_slice()
            }
        });
        let mut b = zip_comp(spans, counts, comp);
        for e in b.iter_mut() {
            let inside = if neg {
                -bound(e.0 - 1, h.schema) > -thr
            } else {
                bound(e.0 - 1, h.schema) < thr
            };
            if !inside {
                break;
            }
            e.1 = 0.0;
            e.2 = 0.0;
        }
        b.retain(|e| e.1 != 0.0 || (c.is_some() && e.2 != 0.0));
        let (s, v, cv) = unzip_comp(&b);
        if neg {
            h.negative_spans = s;
            h.negative_buckets = v;
        } else {
            h.positive_spans = s;
            h.positive_buckets = v;
        }
        if let Some(c) = c.as_deref_mut() {
            if neg {
                c.negative_buckets = cv;
            } else {
                c.positive_buckets = cv;
            }
        }
    }
    if let Some(c) = c {
        c.positive_spans = h.positive_spans.clone();
        c.negative_spans = h.negative_spans.clone();
    }
}

/// Brings both zero buckets to a common threshold; `h` (and `c`) change,
/// for `o` the zero count it would have (and its compensation) is returned.
fn reconcile_zero(
    h: &mut FloatHistogram,
    mut c: Option<&mut FloatHistogram>,
    o: &FloatHistogram,
) -> (f64, f64) {
    let (mut ozc, mut othr, mut oczc) = (o.zero_count, o.zero_threshold, 0.0);
    let mut guard = 0;
    while othr != h.zero_threshold && guard < 10_000 {
        guard += 1;
        if h.zero_threshold > othr {
            (ozc, othr, oczc) = zero_count_for_larger(o, None, h.zero_threshold);
        }
        if othr > h.zero_threshold {
            let (z, t, cz) = zero_count_for_larger(h, c.as_deref(), othr);
            h.zero_count = z;
            h.zero_threshold = t;
            if let Some(c) = c.as_deref_mut() {
                c.zero_count = cz;
            }
            trim_in_zero(h, c.as_deref_mut());
        }
    }
    (ozc, oczc)
}

fn target_idx(idx: i32, from: i32, to: i32) -> i32 {
    ((idx - 1) >> (from - to)) + 1
}

/// Lowers the resolution of compensated buckets; Kahan-merges when `kahan`.
fn reduce_comp(b: &Comp, from: i32, to: i32, kahan: bool) -> Comp {
    let mut out: Comp = Vec::with_capacity(b.len());
    for &(i, v, c) in b {
        let t = target_idx(i, from, to);
        match out.last_mut() {
            Some(last) if last.0 == t => {
                if kahan {
                    (last.1, last.2) = kahan_inc(v, last.1, last.2);
                    (last.1, last.2) = kahan_inc(c, last.1, last.2);
                } else {
                    last.1 += v;
                }
            }
            _ => out.push((t, v, c)),
        }
    }
    out
}

/// Merges `b` into `a`. Leading buckets of `b` at or below `threshold`
/// (exponential schemas only) are skipped: they are in the zero bucket.
fn merge(a: &Comp, b: &Comp, schema: i32, threshold: f64, sub: bool, kahan: bool) -> Comp {
    let mut out: Comp = Vec::with_capacity(a.len() + b.len());
    let custom = schema == super::CUSTOM_SCHEMA;
    let mut skip = true;
    let mut j = 0;
    for &(i, v, c) in b {
        if skip && !custom && bound(i, schema) <= threshold {
            continue;
        }
        skip = false;
        let (v, c) = if sub { (-v, -c) } else { (v, c) };
        while j < a.len() && a[j].0 < i {
            out.push(a[j]);
            j += 1;
        }
        if j < a.len() && a[j].0 == i {
            let (mut s, mut sc) = (a[j].1, a[j].2);
            (s, sc) = kahan_inc(v, s, sc);
            if kahan && c != 0.0 {
                (s, sc) = kahan_inc(c, s, sc);
            }
            out.push((i, s, sc));
            j += 1;
        } else {
            out.push((i, v, if kahan { c } else { 0.0 }));
        }
    }
    out.extend_from_slice(&a[j..]);
    out
}

fn intersect_bounds(a: &[f64], b: &[f64]) -> Vec<f64> {
    let (mut i, mut j) = (0, 0);
    let mut out = Vec::new();
    while i < a.len() && j < b.len() {
        if a[i] == b[j] {
            out.push(a[i]);
            i += 1;
            j += 1;
        } else if a[i] < b[j] {
            i += 1;
        } else {
            j += 1;
        }
    }
    out
}

/// Adds custom buckets with different bounds on the intersection of both.
fn add_mismatched(
    a: &Comp,
    a_bounds: &[f64],
    b: &Comp,
    b_bounds: &[f64],
    bounds: &[f64],
    sub: bool,
) -> Comp {
    let n = bounds.len() + 1;
    let mut vals = vec![(0.0f64, 0.0f64); n];
    let mut map = |src: &Comp, src_bounds: &[f64], neg: bool, with_comp: bool| {
        let mut ii = 0;
        for &(idx, v, c) in src {
            let mut t = n - 1;
            if let Some(&sb) = usize::try_from(idx).ok().and_then(|i| src_bounds.get(i)) {
                while ii < bounds.len() {
                    if bounds[ii] >= sb {
                        t = ii;
                        break;
                    }
                    ii += 1;
                }
            }
            let e = &mut vals[t];
            if neg {
                *e = kahan_inc(-v, e.0, e.1);
            } else {
                *e = kahan_inc(v, e.0, e.1);
                if with_comp {
                    *e = kahan_inc(c, e.0, e.1);
                }
            }
        }
    };
    map(a, a_bounds, false, true);
    map(b, b_bounds, sub, false);
    vals.into_iter()
        .enumerate()
        .filter(|(_, (v, c))| *v != 0.0 || *c != 0.0)
        .map(|(i, (v, c))| (i as i32, v, c))
        .collect()
}

fn set_side(h: &mut FloatHistogram, c: Option<&mut FloatHistogram>, neg: bool, b: &Comp) {
    let (s, v, cv) = unzip_comp(b);
    if neg {
        h.negative_spans = s;
        h.negative_buckets = v;
    } else {
        h.positive_spans = s;
        h.positive_buckets = v;
    }
    if let Some(c) = c {
        if neg {
            c.negative_spans = h.negative_spans.clone();
            c.negative_buckets = cv;
        } else {
            c.positive_spans = h.positive_spans.clone();
            c.positive_buckets = cv;
        }
    }
}

fn side(h: &FloatHistogram, c: Option<&FloatHistogram>, neg: bool) -> Comp {
    if neg {
        zip_comp(
            &h.negative_spans,
            &h.negative_buckets,
            c.map(|c| c.negative_buckets.as_slice()),
        )
    } else {
        zip_comp(
            &h.positive_spans,
            &h.positive_buckets,
            c.map(|c| c.positive_buckets.as_slice()),
        )
    }
}

fn add_impl(
    h: &mut FloatHistogram,
    o: &FloatHistogram,
    mut c: Option<&mut FloatHistogram>,
    sub: bool,
) -> AddResult {
    let kahan = c.is_some();
    let collision = adjust_counter_reset(h, o);
    let sign = if sub { -1.0 } else { 1.0 };
    if !is_custom(h) {
        let (ozc, oczc) = reconcile_zero(h, c.as_deref_mut(), o);
        match c.as_deref_mut() {
            Some(c) => {
                (h.zero_count, c.zero_count) = kahan_inc(ozc, h.zero_count, c.zero_count);
                (h.zero_count, c.zero_count) = kahan_inc(oczc, h.zero_count, c.zero_count);
            }
            None => h.zero_count += sign * ozc,
        }
    }
    match c.as_deref_mut() {
        Some(c) => {
            (h.count, c.count) = kahan_inc(o.count, h.count, c.count);
            (h.sum, c.sum) = kahan_inc(o.sum, h.sum, c.sum);
        }
        None => {
            h.count += sign * o.count;
            h.sum += sign * o.sum;
        }
    }
    let mut reconciled = false;
    if is_custom(h) {
        let a = side(h, c.as_deref(), false);
        let b = side(o, None, false);
        let m = if h.custom_values == o.custom_values {
            merge(&a, &b, h.schema, h.zero_threshold, sub, kahan)
        } else {
            reconciled = true;
            let bounds = intersect_bounds(&h.custom_values, &o.custom_values);
            let m = add_mismatched(&a, &h.custom_values, &b, &o.custom_values, &bounds, sub);
            h.custom_values = bounds.clone();
            if let Some(c) = c.as_deref_mut() {
                c.custom_values = bounds;
            }
            m
        };
        set_side(h, c.as_deref_mut(), false, &m);
        return AddResult {
            collision,
            reconciled,
        };
    }
    let mut sides = [side(h, c.as_deref(), false), side(h, c.as_deref(), true)];
    let mut osides = [side(o, None, false), side(o, None, true)];
    if o.schema < h.schema {
        for s in sides.iter_mut() {
            *s = reduce_comp(s, h.schema, o.schema, kahan);
        }
        h.schema = o.schema;
    } else if o.schema > h.schema {
        for s in osides.iter_mut() {
            if !s.is_empty() {
                *s = reduce_comp(s, o.schema, h.schema, kahan);
            }
        }
    }
    for (k, neg) in [false, true].into_iter().enumerate() {
        let m = merge(
            &sides[k],
            &osides[k],
            h.schema,
            h.zero_threshold,
            sub,
            kahan,
        );
        set_side(h, c.as_deref_mut(), neg, &m);
    }
    if let Some(c) = c {
        c.schema = h.schema;
        c.zero_threshold = h.zero_threshold;
    }
    AddResult {
        collision,
        reconciled,
    }
}

/// `h += o` (or `h -= o`).
pub(crate) fn add(
    h: &mut FloatHistogram,
    o: &FloatHistogram,
    sub: bool,
) -> Result<AddResult, Incompatible> {
    if is_custom(h) != is_custom(o) {
        return Err(Incompatible);
    }
    Ok(add_impl(h, o, None, sub))
}

/// `h += o` with Kahan compensation kept in `c` (created on first use).
pub(crate) fn kahan_add(
    h: &mut FloatHistogram,
    o: &FloatHistogram,
    c: &mut Option<FloatHistogram>,
) -> Result<AddResult, Incompatible> {
    if is_custom(h) != is_custom(o) {
        return Err(Incompatible);
    }
    if c.is_none() {
        // Prometheus creates the compensation after adjusting the hint.
        let mut probe = h.clone();
        adjust_counter_reset(&mut probe, o);
        *c = Some(compensation_for(&probe));
    }
    Ok(add_impl(h, o, c.as_mut(), false))
}

/// Whether any count, the sum or a bound is infinite.
pub(crate) fn has_overflow(h: &FloatHistogram) -> bool {
    h.zero_count.is_infinite()
        || h.count.is_infinite()
        || h.sum.is_infinite()
        || h.positive_buckets.iter().any(|v| v.is_infinite())
        || h.negative_buckets.iter().any(|v| v.is_infinite())
        || h.custom_values.iter().any(|v| v.is_infinite())
}

/// A running Kahan-compensated sum or mean of histograms, as `sum`/`avg`
/// and `sum_over_time`/`avg_over_time` compute it: the mean is the
/// compensated sum divided at the end, switching to an incremental mean
/// once the sum would overflow.
#[derive(Clone)]
pub(crate) struct HistAcc {
    sum: FloatHistogram,
    c: Option<FloatHistogram>,
    mean: Option<FloatHistogram>,
    count: f64,
    avg: bool,
}

impl HistAcc {
    /// Starts with `first`.
    pub(crate) fn new(first: &FloatHistogram, avg: bool) -> HistAcc {
        HistAcc {
            sum: first.clone(),
            c: None,
            mean: None,
            count: 1.0,
            avg,
        }
    }

    /// Adds `h`; returns whether custom bounds were reconciled.
    pub(crate) fn add(&mut self, h: &FloatHistogram) -> Result<bool, Incompatible> {
        if !self.avg {
            return kahan_add(&mut self.sum, h, &mut self.c).map(|r| r.reconciled);
        }
        self.count += 1.0;
        let n = self.count;
        let mut reconciled = false;
        if self.mean.is_none() {
            let mut v = self.sum.clone();
            let mut c = self.c.clone();
            reconciled = kahan_add(&mut v, h, &mut c)?.reconciled;
            if !has_overflow(&v) {
                self.sum = v;
                self.c = c;
                return Ok(reconciled);
            }
            let mut mean = self.sum.clone();
            super::div(&mut mean, n - 1.0);
            self.mean = Some(mean);
            if let Some(c) = self.c.as_mut() {
                super::div(c, n - 1.0);
            }
        }
        let q = (n - 1.0) / n;
        if let Some(c) = self.c.as_mut() {
            super::mul(c, q);
        }
        let mut to_add = h.clone();
        super::div(&mut to_add, n);
        if let Some(mean) = self.mean.as_mut() {
            super::mul(mean, q);
            reconciled |= kahan_add(mean, &to_add, &mut self.c)?.reconciled;
        }
        Ok(reconciled)
    }

    /// The sum or mean, compensation applied.
    pub(crate) fn finish(self) -> FloatHistogram {
        let HistAcc {
            mut sum,
            c,
            mean,
            count,
            avg,
        } = self;
        if let Some(mut mean) = mean {
            if let Some(c) = c {
                add_impl(&mut mean, &c, None, false);
            }
            return mean;
        }
        if avg {
            super::div(&mut sum, count);
        }
        if let Some(mut c) = c {
            if avg {
                super::div(&mut c, count);
            }
            add_impl(&mut sum, &c, None, false);
        }
        sum
    }
}
