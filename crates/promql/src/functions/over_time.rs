//! `*_over_time`, `changes`, `resets`, `deriv`, `predict_linear` and
//! `double_exponential_smoothing`.

use model::FloatHistogram;
use model::histogram::CounterResetHint;

use crate::aggregate::{kahan_inc, quantile};
use crate::annotations::{Annotations, fmt_g, quote};
use crate::error::{Error, Result};
use crate::histogram as hist;
use crate::value::FPoint;

use super::{Out, Win};

pub(super) fn call(name: &str, w: &Win<'_>, annos: &mut Annotations) -> Result<Option<Out>> {
    let f = w.floats;
    Ok(match name {
        "count_over_time" => Some(Out::F((f.len() + w.hists.len()) as f64)),
        "present_over_time" | "absent_over_time" => Some(Out::F(1.0)),
        "last_over_time" => {
            let lf = f.last();
            let lh = w.hists.last();
            match (lf, lh) {
                (Some(p), Some(h)) if h.t < p.t => Some(Out::F(p.f)),
                (_, Some(h)) => Some(Out::H((*h.h).clone())),
                (Some(p), None) => Some(Out::F(p.f)),
                (None, None) => None,
            }
        }
        "first_over_time" => {
            let ff = f.first();
            let fh = w.hists.first();
            match (ff, fh) {
                (Some(p), Some(h)) if p.t < h.t => Some(Out::F(p.f)),
                (_, Some(h)) => Some(Out::H((*h.h).clone())),
                (Some(p), None) => Some(Out::F(p.f)),
                (None, None) => None,
            }
        }
        "ts_of_first_over_time" => {
            let t = f
                .first()
                .map_or(i64::MAX, |p| p.t)
                .min(w.hists.first().map_or(i64::MAX, |p| p.t));
            Some(Out::F(t as f64 / 1000.0))
        }
        "ts_of_last_over_time" => {
            let t = f
                .last()
                .map_or(0, |p| p.t)
                .max(w.hists.last().map_or(0, |p| p.t));
            Some(Out::F(t as f64 / 1000.0))
        }
        "max_over_time" => compare(w, annos, |c, m| c > m || m.is_nan(), false),
        "min_over_time" => compare(w, annos, |c, m| c < m || m.is_nan(), false),
        "ts_of_max_over_time" => compare(w, annos, |c, m| c >= m || m.is_nan(), true),
        "ts_of_min_over_time" => compare(w, annos, |c, m| c <= m || m.is_nan(), true),
        "sum_over_time" => sum_avg(w, annos, false),
        "avg_over_time" => sum_avg(w, annos, true),
        "quantile_over_time" => {
            let q = w.args.first().copied().unwrap_or(f64::NAN);
            if f.is_empty() {
                return Ok(None);
            }
            if q.is_nan() || !(0.0..=1.0).contains(&q) {
                annos.warn(format!(
                    "quantile value should be between 0 and 1, got {}",
                    fmt_g(q)
                ));
            }
            ignored_mixed(w, annos);
            let mut v: Vec<f64> = f.iter().map(|p| p.f).collect();
            Some(Out::F(quantile(q, &mut v)))
        }
        "mad_over_time" => {
            if f.is_empty() {
                return Ok(None);
            }
            ignored_mixed(w, annos);
            if f.iter().any(|p| p.f.is_nan()) {
                return Ok(Some(Out::F(f64::NAN)));
            }
            let mut v: Vec<f64> = f.iter().map(|p| p.f).collect();
            let median = quantile(0.5, &mut v);
            let mut d: Vec<f64> = v.iter().map(|x| (x - median).abs()).collect();
            Some(Out::F(quantile(0.5, &mut d)))
        }
        "stddev_over_time" | "stdvar_over_time" => {
            if f.is_empty() {
                return Ok(None);
            }
            ignored_mixed(w, annos);
            let (mut count, mut mean, mut c_mean, mut aux, mut c_aux) = (0.0, 0.0, 0.0, 0.0, 0.0);
            for p in f {
                count += 1.0;
                let delta = p.f - (mean + c_mean);
                (mean, c_mean) = kahan_inc(delta / count, mean, c_mean);
                (aux, c_aux) = kahan_inc(delta * (p.f - (mean + c_mean)), aux, c_aux);
            }
            let var = (aux + c_aux) / count;
            Some(Out::F(if name == "stddev_over_time" {
                var.sqrt()
            } else {
                var
            }))
        }
        "changes" => changes_resets(w, true),
        "resets" => changes_resets(w, false),
        "deriv" | "predict_linear" => {
            if f.len() < 2 {
                if f.len() == 1 && !w.hists.is_empty() {
                    ignored_mixed(w, annos);
                }
                return Ok(None);
            }
            ignored_mixed(w, annos);
            if name == "deriv" {
                let (slope, _) = linear_regression(f, f[0].t);
                Some(Out::F(slope))
            } else {
                let d = w.args.first().copied().unwrap_or(f64::NAN);
                let (slope, icpt) = linear_regression(f, w.ts);
                Some(Out::F(slope * d + icpt))
            }
        }
        "double_exponential_smoothing" => {
            let sf = w.args.first().copied().unwrap_or(f64::NAN);
            let tf = w.args.get(1).copied().unwrap_or(f64::NAN);
            if !(sf > 0.0 && sf < 1.0) {
                return Err(Error::eval(format!(
                    "invalid smoothing factor. Expected: 0 < sf < 1, got: {sf:.6}"
                )));
            }
            if !(tf > 0.0 && tf < 1.0) {
                return Err(Error::eval(format!(
                    "invalid trend factor. Expected: 0 < tf < 1, got: {tf:.6}"
                )));
            }
            if f.len() < 2 {
                if f.len() == 1 && !w.hists.is_empty() {
                    ignored_mixed(w, annos);
                }
                return Ok(None);
            }
            let (mut s0, mut s1, mut b) = (0.0, f[0].f, f[1].f - f[0].f);
            for (i, p) in f.iter().enumerate().skip(1) {
                let x = sf * p.f;
                if i > 1 {
                    b = tf * (s1 - s0) + (1.0 - tf) * b;
                }
                let y = (1.0 - sf) * (s1 + b);
                s0 = s1;
                s1 = x + y;
            }
            ignored_mixed(w, annos);
            Some(Out::F(s1))
        }
        _ => return Err(Error::eval(format!("function {name} is not supported"))),
    })
}

fn ignored_mixed(w: &Win<'_>, annos: &mut Annotations) {
    if !w.hists.is_empty() {
        annos.info(format!(
            "ignored histograms in a range containing both floats and histograms for metric name {}",
            quote(w.name())
        ));
    }
}

fn compare(
    w: &Win<'_>,
    annos: &mut Annotations,
    better: impl Fn(f64, f64) -> bool,
    ts: bool,
) -> Option<Out> {
    let f = w.floats;
    let first = f.first()?;
    ignored_mixed(w, annos);
    let (mut m, mut tm) = (first.f, first.t);
    for p in f {
        if better(p.f, m) {
            m = p.f;
            tm = p.t;
        }
    }
    Some(Out::F(if ts { tm as f64 / 1000.0 } else { m }))
}

fn sum_avg(w: &Win<'_>, annos: &mut Annotations, avg: bool) -> Option<Out> {
    let f = w.floats;
    if !f.is_empty() && !w.hists.is_empty() {
        annos.warn(format!(
            "encountered a mix of histograms and floats for metric name {}",
            quote(w.name())
        ));
        return None;
    }
    if f.is_empty() {
        let hs = w.hists;
        let first = &hs.first()?.h;
        let mut acc = hist::HistAcc::new(first, avg);
        let (mut reset, mut not_reset, mut reconciled) = (false, false, false);
        let mut track = |h: &FloatHistogram| match h.counter_reset_hint {
            CounterResetHint::CounterReset => reset = true,
            CounterResetHint::NotCounterReset => not_reset = true,
            _ => {}
        };
        track(first);
        for p in &hs[1..] {
            track(&p.h);
            match acc.add(&p.h) {
                Ok(r) => reconciled |= r,
                Err(_) => {
                    annos.warn(format!(
                        "vector contains a mix of histograms with exponential and custom buckets schemas for metric name {}",
                        quote(w.name())
                    ));
                    return None;
                }
            }
        }
        if reset && not_reset {
            annos.warn("conflicting counter resets during histogram aggregation");
        }
        if reconciled {
            annos.info("mismatched custom buckets were reconciled during aggregation");
        }
        let mut sum = acc.finish();
        hist::compact(&mut sum);
        return Some(Out::H(sum));
    }
    if !avg {
        let (mut sum, mut c) = (0.0, 0.0);
        for p in f {
            (sum, c) = kahan_inc(p.f, sum, c);
        }
        return Some(Out::F(if sum.is_infinite() { sum } else { sum + c }));
    }
    let (mut sum, mut count, mut mean, mut c) = (f[0].f, 1.0, 0.0, 0.0);
    let mut incremental = false;
    for (i, p) in f.iter().enumerate().skip(1) {
        count = (i + 1) as f64;
        if !incremental {
            let (ns, nc) = kahan_inc(p.f, sum, c);
            if !ns.is_infinite() {
                sum = ns;
                c = nc;
                continue;
            }
            incremental = true;
            mean = sum / (count - 1.0);
            c /= count - 1.0;
        }
        let q = (count - 1.0) / count;
        (mean, c) = kahan_inc(p.f / count, q * mean, q * c);
    }
    Some(Out::F(if incremental {
        mean + c
    } else {
        sum / count + c / count
    }))
}

fn changes_resets(w: &Win<'_>, changes: bool) -> Option<Out> {
    let (floats, hists) = (w.floats, w.hists);
    if floats.is_empty() && hists.is_empty() {
        return None;
    }
    let (mut fi, mut hi) = (0usize, 0usize);
    if w.anchored {
        let lf = floats.partition_point(|p| p.t <= w.range_start) as isize - 1;
        let lh = hists.partition_point(|p| p.t <= w.range_start) as isize - 1;
        if (lf + 1) as usize >= floats.len() && (lh + 1) as usize >= hists.len() {
            return None;
        }
        if lf < 0 && lh < 0 {
        } else if lh < 0 || (lf >= 0 && floats[lf as usize].t >= hists[lh as usize].t) {
            fi = lf as usize;
            hi = (lh + 1) as usize;
        } else {
            fi = (lf + 1) as usize;
            hi = lh as usize;
        }
    }
    let mut n = 0usize;
    // (value, histogram, time, start timestamp)
    type Cur<'a> = (f64, Option<&'a FloatHistogram>, i64, i64);
    let mut prev: Option<Cur<'_>> = None;
    while fi < floats.len() || hi < hists.len() {
        let cur: Cur<'_> = if hi >= hists.len() || (fi < floats.len() && floats[fi].t < hists[hi].t)
        {
            fi += 1;
            let st = w.float_sts.get(fi - 1).copied().unwrap_or(0);
            (floats[fi - 1].f, None, floats[fi - 1].t, st)
        } else {
            hi += 1;
            let st = w.hist_sts.get(hi - 1).copied().unwrap_or(0);
            (0.0, Some(&*hists[hi - 1].h), hists[hi - 1].t, st)
        };
        if let Some(p) = prev {
            let st_reset = !changes && super::rate::st_reset(p.3, p.2, cur.3, cur.2);
            let hit = match (p.1, cur.1) {
                (None, None) => {
                    if changes {
                        cur.0 != p.0 && !(cur.0.is_nan() && p.0.is_nan())
                    } else {
                        cur.0 < p.0 || st_reset
                    }
                }
                (Some(a), Some(b)) => {
                    if changes {
                        !hist::equals(b, a)
                    } else {
                        st_reset || hist::detect_reset(b, a)
                    }
                }
                _ => true,
            };
            if hit {
                n += 1;
            }
        }
        prev = Some(cur);
    }
    Some(Out::F(n as f64))
}

/// Least-squares slope and intercept at `intercept_time`, Kahan-summed.
pub(crate) fn linear_regression(samples: &[FPoint], intercept_time: i64) -> (f64, f64) {
    let (mut n, mut sx, mut cx, mut sy, mut cy, mut sxy, mut cxy, mut sx2, mut cx2) =
        (0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0);
    let init_y = samples[0].f;
    let mut const_y = true;
    for (i, s) in samples.iter().enumerate() {
        if const_y && i > 0 && s.f != init_y {
            const_y = false;
        }
        n += 1.0;
        let x = (s.t - intercept_time) as f64 / 1e3;
        (sx, cx) = kahan_inc(x, sx, cx);
        (sy, cy) = kahan_inc(s.f, sy, cy);
        (sxy, cxy) = kahan_inc(x * s.f, sxy, cxy);
        (sx2, cx2) = kahan_inc(x * x, sx2, cx2);
    }
    if const_y {
        if init_y.is_infinite() {
            return (f64::NAN, f64::NAN);
        }
        return (0.0, init_y);
    }
    sx += cx;
    sy += cy;
    sxy += cxy;
    sx2 += cx2;
    let cov = sxy - sx * sy / n;
    let var = sx2 - sx * sx / n;
    let slope = cov / var;
    (slope, sy / n - slope * sx / n)
}
