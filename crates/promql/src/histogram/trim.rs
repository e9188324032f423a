//! The trim operators `</` (drop observations above a value) and `>/`
//! (drop observations below it) on native histograms, with Prometheus's
//! interpolation: linear within custom and zero buckets, logarithmic within
//! exponential ones; each surviving part of a bucket contributes its count
//! times the midpoint of its surviving interval to the new sum.

use model::FloatHistogram;

use super::{bound, compact, expand, is_custom};

/// Bounds of positive bucket `idx` (custom or exponential).
fn positive_bounds(h: &FloatHistogram, idx: i32) -> (f64, f64) {
    if is_custom(h) {
        let at = |i: i32| -> f64 {
            if i < 0 {
                f64::NEG_INFINITY
            } else {
                h.custom_values
                    .get(i as usize)
                    .copied()
                    .unwrap_or(f64::INFINITY)
            }
        };
        (at(idx - 1), at(idx))
    } else {
        (bound(idx - 1, h.schema), bound(idx, h.schema))
    }
}

/// The midpoint of a surviving interval: arithmetic for linear buckets,
/// geometric (signed) for exponential ones, finite bounds for open ones.
fn midpoint(lo: f64, up: f64, positive: bool, linear: bool) -> f64 {
    if lo.is_infinite() {
        if up.is_infinite() {
            return 0.0;
        }
        return if up > 0.0 { up / 2.0 } else { up };
    }
    if up.is_infinite() {
        return lo;
    }
    if linear {
        return (lo + up) / 2.0;
    }
    let g = (lo * up).abs().sqrt();
    if positive { g } else { -g }
}

/// The fraction of a bucket at or below `v` (strictly inside its bounds).
fn fraction_below(lo: f64, up: f64, v: f64, linear: bool) -> f64 {
    if linear {
        return (v - lo) / (up - lo);
    }
    let (ll, lu, lv) = (lo.abs().log2(), up.abs().log2(), v.abs().log2());
    if v > 0.0 {
        (lv - ll) / (lu - ll)
    } else {
        1.0 - (lv - lu) / (ll - lu)
    }
}

fn zero_if_inf(x: f64) -> f64 {
    if x.is_infinite() { 0.0 } else { x }
}

/// Kept count and midpoint for a bucket with an infinite bound.
fn infinite_bucket(lo: f64, up: f64, count: f64, rhs: f64, upper: bool) -> (f64, f64) {
    if lo == f64::NEG_INFINITY {
        if upper {
            if rhs >= up {
                return (count, 0.0);
            }
            if rhs > 0.0 && up > 0.0 && up.is_finite() {
                return (count * rhs / up, rhs / 2.0);
            }
            if up <= 0.0 {
                return (count, rhs);
            }
            return (0.0, zero_if_inf(up));
        }
        if rhs <= lo {
            return (count, 0.0);
        }
        if rhs >= 0.0 && up > rhs && up.is_finite() {
            return (count * (1.0 - rhs / up), (rhs + up) / 2.0);
        }
        return (0.0, zero_if_inf(up));
    }
    // Upper bound +Inf.
    if upper {
        return (0.0, zero_if_inf(lo));
    }
    if rhs >= lo {
        return (count, rhs);
    }
    (0.0, zero_if_inf(lo))
}

/// Kept count and midpoint of the kept part of a bucket containing `rhs`.
fn bucket_trim(
    (lo, up): (f64, f64),
    count: f64,
    rhs: f64,
    upper: bool,
    positive: bool,
    linear: bool,
) -> (f64, f64) {
    if lo == f64::NEG_INFINITY || up == f64::INFINITY {
        return infinite_bucket(lo, up, count, rhs, upper);
    }
    let below = if rhs <= lo {
        0.0
    } else if rhs >= up {
        count
    } else {
        count * fraction_below(lo, up, rhs, linear)
    };
    if upper {
        (below, midpoint(lo, rhs, positive, linear))
    } else {
        (count - below, midpoint(rhs, up, positive, linear))
    }
}

/// Kept count and midpoint of the zero bucket; it only extends to the sides
/// where the histogram has populated buckets.
fn zero_trim(
    h: &FloatHistogram,
    rhs: f64,
    has_neg: bool,
    has_pos: bool,
    upper: bool,
) -> (f64, f64) {
    let (mut lo, mut up) = (-h.zero_threshold, h.zero_threshold);
    if has_neg && !has_pos {
        up = 0.0;
    }
    if has_pos && !has_neg {
        lo = 0.0;
    }
    let count = h.zero_count;
    if upper {
        if rhs <= lo {
            return (0.0, 0.0);
        }
        if rhs >= up {
            return (count, (lo + up) / 2.0);
        }
        (count * (rhs - lo) / (up - lo), (lo + rhs) / 2.0)
    } else {
        if rhs <= lo {
            return (count, (lo + up) / 2.0);
        }
        if rhs >= up {
            return (0.0, 0.0);
        }
        (count * (up - rhs) / (up - lo), (rhs + up) / 2.0)
    }
}

/// `h </ rhs` (`upper`) or `h >/ rhs`, in place.
pub(crate) fn trim_buckets(h: &mut FloatHistogram, rhs: f64, upper: bool) {
    let linear = is_custom(h);
    let (mut count, mut sum) = (0.0, 0.0);
    let mut trimmed = false;
    let (mut has_pos, mut has_neg) = (false, false);
    for positive in [true, false] {
        let idxs: Vec<i32> = if positive {
            expand(&h.positive_spans, &h.positive_buckets)
        } else {
            expand(&h.negative_spans, &h.negative_buckets)
        }
        .into_iter()
        .map(|(i, _)| i)
        .collect();
        for (pos, idx) in idxs.into_iter().enumerate() {
            let bounds = if positive {
                positive_bounds(h, idx)
            } else {
                (-bound(idx, h.schema), -bound(idx - 1, h.schema))
            };
            let buckets = if positive {
                &mut h.positive_buckets
            } else {
                &mut h.negative_buckets
            };
            let c = buckets[pos];
            if c == 0.0 {
                continue;
            }
            if positive {
                has_pos = true;
            } else {
                has_neg = true;
            }
            let (lo, up) = bounds;
            let (keep_all, partial) = if upper {
                (up <= rhs, lo < rhs)
            } else {
                (lo >= rhs, up > rhs)
            };
            if keep_all {
                count += c;
                sum += midpoint(lo, up, positive, linear) * c;
            } else if partial {
                let (k, m) = bucket_trim(bounds, c, rhs, upper, positive, linear);
                count += k;
                sum += m * k;
                if c != k {
                    buckets[pos] = k;
                    trimmed = true;
                }
            } else {
                buckets[pos] = 0.0;
                trimmed = true;
            }
        }
    }
    if h.zero_count > 0.0 {
        let (k, m) = zero_trim(h, rhs, has_neg, has_pos, upper);
        if h.zero_count != k {
            h.zero_count = k;
            trimmed = true;
        }
        sum += m * k;
        count += k;
    }
    if trimmed {
        h.count = count;
        h.sum = sum;
        compact(h);
    }
}
