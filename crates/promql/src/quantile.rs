//! Quantiles and fractions of classic bucket sets and native histograms
//! (Prometheus's `quantile.go`).

use model::FloatHistogram;

use crate::annotations::{Annotations, for_metric};
use crate::histogram::{Bucket, all_buckets, is_custom};

fn almost_equal(a: f64, b: f64, eps: f64) -> bool {
    if a == b {
        return true;
    }
    let abs_sum = a.abs() + b.abs();
    let diff = (a - b).abs();
    if a == 0.0 || b == 0.0 || abs_sum < f64::MIN_POSITIVE {
        return diff < eps * f64::MIN_POSITIVE;
    }
    diff / abs_sum.min(f64::MAX) < eps
}

fn sort_coalesce(b: &mut Vec<(f64, f64)>) {
    b.sort_by(|x, y| x.0.partial_cmp(&y.0).unwrap_or(std::cmp::Ordering::Equal));
    let mut out: Vec<(f64, f64)> = Vec::with_capacity(b.len());
    for &(ub, c) in b.iter() {
        match out.last_mut() {
            Some(l) if l.0 == ub => l.1 += c,
            _ => out.push((ub, c)),
        }
    }
    *b = out;
}

/// The quantile of classic buckets `(upper bound, cumulative count)`;
/// also whether monotonicity had to be forced.
#[allow(clippy::needless_range_loop)]
pub(crate) fn bucket_quantile(q: f64, b: &mut Vec<(f64, f64)>) -> (f64, bool) {
    if q.is_nan() {
        return (f64::NAN, false);
    }
    if q < 0.0 {
        return (f64::NEG_INFINITY, false);
    }
    if q > 1.0 {
        return (f64::INFINITY, false);
    }
    b.sort_by(|x, y| x.0.partial_cmp(&y.0).unwrap_or(std::cmp::Ordering::Equal));
    if b.last().is_none_or(|l| l.0 != f64::INFINITY) {
        return (f64::NAN, false);
    }
    sort_coalesce(b);
    let mut forced = false;
    let mut prev = b[0].1;
    for i in 1..b.len() {
        let cur = b[i].1;
        if cur == prev {
            continue;
        }
        if almost_equal(prev, cur, 1e-12) {
            b[i].1 = prev;
            continue;
        }
        if cur < prev {
            b[i].1 = prev;
            forced = true;
            continue;
        }
        prev = cur;
    }
    if b.len() < 2 {
        return (f64::NAN, forced);
    }
    let obs = b[b.len() - 1].1;
    if obs == 0.0 {
        return (f64::NAN, forced);
    }
    let mut rank = q * obs;
    let n = b.len() - 1;
    let i = (0..n).find(|&i| b[i].1 >= rank).unwrap_or(n);
    let v = if i == n {
        b[n - 1].0
    } else if i == 0 && b[0].0 <= 0.0 {
        b[0].0
    } else {
        let end = b[i].0;
        let mut count = b[i].1;
        let mut start = 0.0;
        if i > 0 {
            start = b[i - 1].0;
            count -= b[i - 1].1;
            rank -= b[i - 1].1;
        }
        start + (end - start) * (rank / count)
    };
    (v, forced)
}

/// The fraction of observations in `[lower, upper]` of classic buckets.
pub(crate) fn bucket_fraction(lower: f64, upper: f64, b: &mut Vec<(f64, f64)>) -> f64 {
    b.sort_by(|x, y| x.0.partial_cmp(&y.0).unwrap_or(std::cmp::Ordering::Equal));
    if b.last().is_none_or(|l| l.0 != f64::INFINITY) {
        return f64::NAN;
    }
    sort_coalesce(b);
    let count = b[b.len() - 1].1;
    if count == 0.0 || lower.is_nan() || upper.is_nan() {
        return f64::NAN;
    }
    if lower >= upper {
        return 0.0;
    }
    let (mut rank, mut lower_rank, mut upper_rank) = (0.0, 0.0, 0.0);
    let (mut lower_set, mut upper_set) = (false, false);
    let mut lb = if b[0].0 <= 0.0 {
        f64::NEG_INFINITY
    } else {
        0.0
    };
    for (i, &(ub, c)) in b.iter().enumerate() {
        if i > 0 {
            lb = b[i - 1].0;
        }
        let interp = |v: f64| {
            if lb == f64::NEG_INFINITY {
                c
            } else {
                rank + (c - rank) * (v - lb) / (ub - lb)
            }
        };
        if !lower_set && lb >= lower {
            lower_rank = rank;
            lower_set = true;
        }
        if !upper_set && lb >= upper {
            upper_rank = rank;
            upper_set = true;
        }
        if lower_set && upper_set {
            break;
        }
        if !lower_set && lb < lower && ub > lower {
            lower_rank = interp(lower);
            lower_set = true;
        }
        if !upper_set && lb < upper && ub > upper {
            upper_rank = interp(upper);
            upper_set = true;
        }
        if lower_set && upper_set {
            break;
        }
        rank = c;
    }
    if !lower_set || lower_rank > count {
        lower_rank = count;
    }
    if !upper_set || upper_rank > count {
        upper_rank = count;
    }
    (upper_rank - lower_rank) / count
}

/// The quantile of a native histogram.
pub(crate) fn histogram_quantile(
    q: f64,
    h: &FloatHistogram,
    name: &str,
    annos: &mut Annotations,
) -> f64 {
    if q < 0.0 {
        return f64::NEG_INFINITY;
    }
    if q > 1.0 {
        return f64::INFINITY;
    }
    if h.count == 0.0 || q.is_nan() {
        return f64::NAN;
    }
    let forward = h.sum.is_nan() || q < 0.5;
    let mut buckets = all_buckets(h);
    if !forward {
        buckets.reverse();
    }
    let mut rank = if forward {
        q * h.count
    } else {
        (1.0 - q) * h.count
    };
    let mut count = 0.0;
    let mut bucket: Option<Bucket> = None;
    let mut idx = 0;
    while idx < buckets.len() {
        let b = buckets[idx];
        idx += 1;
        bucket = Some(b);
        if b.count == 0.0 {
            continue;
        }
        count += b.count;
        if count >= rank {
            break;
        }
    }
    // Like Go's zero-valued bucket when there is none.
    let mut bucket = bucket.unwrap_or(Bucket {
        lower: 0.0,
        upper: 0.0,
        count: 0.0,
        lower_inclusive: false,
        upper_inclusive: false,
        index: 0,
    });
    if !is_custom(h) && bucket.lower < 0.0 && bucket.upper > 0.0 {
        if h.negative_buckets.is_empty() && !h.positive_buckets.is_empty() {
            bucket.lower = 0.0;
        } else if h.positive_buckets.is_empty() && !h.negative_buckets.is_empty() {
            bucket.upper = 0.0;
        }
    } else if is_custom(h) {
        if bucket.lower == f64::NEG_INFINITY {
            if bucket.upper <= 0.0 {
                return bucket.upper;
            }
            bucket.lower = 0.0;
        } else if bucket.upper == f64::INFINITY {
            return bucket.lower;
        }
    }
    if count > h.count {
        count = h.count;
    }
    if count < rank {
        if h.sum.is_nan() {
            annos.info(format!(
                "input to histogram_quantile has NaN observations, result is NaN{}",
                for_metric(name)
            ));
            return f64::NAN;
        }
        return bucket.upper;
    }
    if forward {
        rank -= count - bucket.count;
    } else {
        rank = count - rank;
    }
    if h.sum.is_nan() {
        let rest: f64 = buckets[idx..].iter().map(|b| b.count).sum();
        if count + rest < h.count {
            annos.info(format!(
                "input to histogram_quantile has NaN observations, result is skewed higher{}",
                for_metric(name)
            ));
        }
    }
    let fraction = rank / bucket.count;
    if is_custom(h) || (bucket.lower <= 0.0 && bucket.upper >= 0.0) {
        return bucket.lower + (bucket.upper - bucket.lower) * fraction;
    }
    let ll = bucket.lower.abs().log2();
    let lu = bucket.upper.abs().log2();
    if bucket.lower > 0.0 {
        (ll + (lu - ll) * fraction).exp2()
    } else {
        -(lu + (ll - lu) * (1.0 - fraction)).exp2()
    }
}

fn fraction_below(b: &Bucket, v: f64, linear: bool) -> f64 {
    if linear {
        return (v - b.lower) / (b.upper - b.lower);
    }
    let ll = b.lower.abs().log2();
    let lu = b.upper.abs().log2();
    let lv = v.abs().log2();
    if v > 0.0 {
        (lv - ll) / (lu - ll)
    } else {
        1.0 - ((lv - lu) / (ll - lu))
    }
}

/// The fraction of observations of a native histogram in `[lower, upper]`.
pub(crate) fn histogram_fraction(
    lower: f64,
    upper: f64,
    h: &FloatHistogram,
    name: &str,
    annos: &mut Annotations,
) -> f64 {
    if h.count == 0.0 || lower.is_nan() || upper.is_nan() {
        return f64::NAN;
    }
    if lower >= upper {
        return 0.0;
    }
    let (mut count, mut rank, mut lower_rank, mut upper_rank) = (0.0, 0.0, 0.0, 0.0);
    let (mut lower_set, mut upper_set) = (false, false);
    let buckets = all_buckets(h);
    let mut idx = 0;
    while idx < buckets.len() {
        let mut b = buckets[idx];
        idx += 1;
        count += b.count;
        let mut zero = false;
        if b.lower <= 0.0 && b.upper >= 0.0 {
            zero = true;
            if h.negative_buckets.is_empty() && !h.positive_buckets.is_empty() {
                b.lower = 0.0;
            } else if h.positive_buckets.is_empty() && !h.negative_buckets.is_empty() {
                b.upper = 0.0;
            }
        }
        let linear = is_custom(h) || zero;
        let interp = |v: f64| {
            if linear {
                if b.lower == f64::NEG_INFINITY {
                    return b.count;
                }
                rank + b.count * fraction_below(&b, v, true)
            } else {
                rank + b.count * fraction_below(&b, v, false)
            }
        };
        if !lower_set && b.lower >= lower {
            lower_rank = rank;
            lower_set = true;
        }
        if !upper_set && b.lower >= upper {
            upper_rank = rank;
            upper_set = true;
        }
        if lower_set && upper_set {
            break;
        }
        if !lower_set && b.lower < lower && b.upper > lower {
            lower_rank = interp(lower);
            lower_set = true;
        }
        if !upper_set && b.lower < upper && b.upper > upper {
            upper_rank = interp(upper);
            upper_set = true;
        }
        if lower_set && upper_set {
            break;
        }
        rank += b.count;
    }
    if h.sum.is_nan() {
        count += buckets[idx..].iter().map(|b| b.count).sum::<f64>();
        if count < h.count {
            annos.info(format!(
                "input to histogram_fraction has NaN observations, which are excluded from all fractions{}",
                for_metric(name)
            ));
        }
    } else {
        count = h.count;
    }
    if !lower_set || lower_rank > count {
        lower_rank = count;
    }
    if !upper_set || upper_rank > count {
        upper_rank = count;
    }
    (upper_rank - lower_rank) / h.count
}
