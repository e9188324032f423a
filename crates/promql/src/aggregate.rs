//! Aggregation operators: `sum`, `avg`, `count`, `min`, `max`, `group`,
//! `stddev`, `stdvar`, `quantile`, `topk`, `bottomk`, `limitk`,
//! `limit_ratio` and `count_values`.

use std::collections::HashMap;
use std::sync::Arc;

use model::histogram::CounterResetHint;
use model::{FloatHistogram, Labels};
use promql_syntax::ast::{AggregateExpr, AggregateOp, Expr};

use crate::annotations::{Annotations, fmt_g};
use crate::error::{Error, Result};
use crate::eval::Evaluator;
use crate::histogram as hist;
use crate::value::{FPoint, HPoint, Matrix, Sample, Series, format_float_f};

/// Kahan-Neumaier increment: returns the new sum and compensation.
pub(crate) fn kahan_inc(inc: f64, sum: f64, c: f64) -> (f64, f64) {
    let t = sum + inc;
    let c = if t.is_infinite() {
        0.0
    } else if sum.abs() >= inc.abs() {
        c + ((sum - t) + inc)
    } else {
        c + ((inc - t) + sum)
    };
    (t, c)
}

/// The grouping labels of `l`.
pub(crate) fn group_labels(l: &Labels, grouping: &[String], without: bool) -> Labels {
    if without {
        Labels::from_sorted(
            l.iter()
                .filter(|(n, _)| *n != "__name__" && !grouping.iter().any(|g| g == n)),
        )
    } else if grouping.is_empty() {
        Labels::empty()
    } else {
        Labels::from_sorted(l.iter().filter(|(n, _)| grouping.iter().any(|g| g == n)))
    }
}

/// Values of a scalar parameter per step, and the samples they hold.
fn param_values(ev: &mut Evaluator<'_>, p: &Expr) -> Result<(Vec<f64>, usize)> {
    let m = ev.eval_matrix(p)?;
    let held = m.iter().map(Series::sample_count).sum();
    let steps: Vec<i64> = ev.steps().collect();
    let mut out = vec![f64::NAN; steps.len()];
    if let Some(s) = m.first() {
        for pt in &s.floats {
            if let Ok(i) = steps.binary_search(&pt.t) {
                out[i] = pt.f;
            }
        }
    }
    Ok((out, held))
}

pub(crate) fn eval(ev: &mut Evaluator<'_>, a: &AggregateExpr) -> Result<Matrix> {
    let mut grouping = a.grouping.clone();
    grouping.sort();
    if a.op == AggregateOp::CountValues {
        return count_values(ev, a, grouping);
    }
    let (params, param_held) = match &a.param {
        Some(p) => {
            let (v, n) = param_values(ev, p)?;
            (Some(v), n)
        }
        None => (None, 0),
    };
    let input = ev.eval_matrix(&a.expr)?;
    let held: usize = input.iter().map(Series::sample_count).sum();
    let out = aggregate(ev, a, &grouping, &input, params.as_deref());
    ev.ctx.free(held + param_held);
    out
}

fn aggregate(
    ev: &mut Evaluator<'_>,
    a: &AggregateExpr,
    grouping: &[String],
    input: &Matrix,
    params: Option<&[f64]>,
) -> Result<Matrix> {
    let mut group_of = Vec::with_capacity(input.len());
    let mut keys: HashMap<Labels, usize> = HashMap::new();
    let mut group_labels_list: Vec<Labels> = Vec::new();
    for s in input {
        let k = group_labels(&s.metric, grouping, a.without);
        let n = keys.len();
        let idx = *keys.entry(k.clone()).or_insert_with(|| {
            group_labels_list.push(k);
            n
        });
        group_of.push(idx);
    }
    let is_k = matches!(
        a.op,
        AggregateOp::Topk | AggregateOp::Bottomk | AggregateOp::Limitk | AggregateOp::LimitRatio
    );
    let ps = params.unwrap_or(&[]);
    let pmax = ps.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    let pmin = ps.iter().copied().fold(f64::INFINITY, f64::min);
    let any_nan = ps.iter().any(|p| p.is_nan());
    match a.op {
        AggregateOp::Topk | AggregateOp::Bottomk | AggregateOp::Limitk => {
            if pmax < 1.0 && !any_nan {
                return Ok(Vec::new());
            }
            if any_nan {
                return Err(Error::eval("Parameter value is NaN"));
            }
            if pmin <= i64::MIN as f64 {
                return Err(Error::eval(format!(
                    "Scalar value {} underflows int64",
                    fmt_g(pmin)
                )));
            }
            if pmax >= i64::MAX as f64 {
                return Err(Error::eval(format!(
                    "Scalar value {} overflows int64",
                    fmt_g(pmax)
                )));
            }
        }
        AggregateOp::LimitRatio => {
            if pmax == 0.0 && pmin == 0.0 {
                return Ok(Vec::new());
            }
            if any_nan {
                return Err(Error::eval("Ratio value is NaN"));
            }
            if pmax > 1.0 {
                ev.annos.warn(format!(
                    "ratio value should be between -1 and 1, got {}, capping to 1",
                    fmt_g(pmax)
                ));
            }
            if pmin < -1.0 {
                ev.annos.warn(format!(
                    "ratio value should be between -1 and 1, got {}, capping to -1",
                    fmt_g(pmin)
                ));
            }
        }
        AggregateOp::Quantile => {
            if any_nan {
                ev.annos
                    .warn("quantile value should be between 0 and 1, got NaN");
            }
            if pmax > 1.0 {
                ev.annos.warn(format!(
                    "quantile value should be between 0 and 1, got {}",
                    fmt_g(pmax)
                ));
            }
            if pmin < 0.0 {
                ev.annos.warn(format!(
                    "quantile value should be between 0 and 1, got {}",
                    fmt_g(pmin)
                ));
            }
        }
        _ => {}
    }
    let mats = [input.clone()];
    let ngroups = group_labels_list.len();
    let steps: Vec<i64> = ev.steps().collect();
    let op = a.op;
    ev.range_eval_idx(&mats, |v, idx, ts, annos| {
        let step = steps.binary_search(&ts).unwrap_or(0);
        let p = ps.get(step).copied().unwrap_or(f64::NAN);
        let vec = &v[0];
        let gidx: Vec<usize> = idx[0].iter().map(|&i| group_of[i]).collect();
        if is_k {
            Ok(aggregate_k(op, p, vec, &gidx, ngroups, input.len(), annos))
        } else {
            Ok(aggregate_step(op, p, vec, &gidx, &group_labels_list, annos))
        }
    })
}

#[derive(Default, Clone)]
struct Group {
    seen: bool,
    f: f64,
    mean: f64,
    kahan_c: f64,
    h: Option<hist::HistAcc>,
    count: f64,
    values: Vec<f64>,
    has_float: bool,
    has_hist: bool,
    incompatible: bool,
    incremental_mean: bool,
    reset_seen: bool,
    not_reset_seen: bool,
    drop_name: bool,
}

fn ignored(op: AggregateOp, annos: &mut Annotations) {
    annos.info(format!("ignored histogram in {} aggregation", op.as_str()));
}

fn note_hint(g: &mut Group, h: &FloatHistogram) {
    match h.counter_reset_hint {
        CounterResetHint::CounterReset => g.reset_seen = true,
        CounterResetHint::NotCounterReset => g.not_reset_seen = true,
        _ => {}
    }
}

fn add_hist(g: &mut Group, h: &FloatHistogram, annos: &mut Annotations, metric: &Labels) {
    g.has_hist = true;
    if g.h.is_none() {
        // The group started with a float: the result is void anyway.
        return;
    }
    note_hint(g, h);
    let Some(acc) = g.h.as_mut() else { return };
    match acc.add(h) {
        Ok(reconciled) => {
            if reconciled {
                annos.info("mismatched custom buckets were reconciled during aggregation");
            }
        }
        Err(_) => {
            g.incompatible = true;
            annos.warn(format!(
                "vector contains a mix of histograms with exponential and custom buckets schemas for metric name {}",
                crate::annotations::quote(metric.get("__name__").unwrap_or(""))
            ));
        }
    }
}

#[allow(clippy::collapsible_match)]
fn aggregate_step(
    op: AggregateOp,
    q: f64,
    vec: &[Sample],
    gidx: &[usize],
    labels: &[Labels],
    annos: &mut Annotations,
) -> Vec<Sample> {
    let mut groups = vec![Group::default(); labels.len()];
    let mut order = Vec::new();
    for (s, &gi) in vec.iter().zip(gidx) {
        let g = &mut groups[gi];
        let (f, h) = (s.f, s.h.as_deref());
        if !g.seen {
            *g = Group {
                seen: true,
                f,
                mean: f,
                count: 1.0,
                drop_name: s.drop_name,
                ..Default::default()
            };
            if !order.contains(&gi) {
                order.push(gi);
            }
            match op {
                AggregateOp::Sum | AggregateOp::Avg => match h {
                    None => g.has_float = true,
                    Some(h) => {
                        g.h = Some(hist::HistAcc::new(h, op == AggregateOp::Avg));
                        g.has_hist = true;
                        note_hint(g, h);
                    }
                },
                AggregateOp::Stddev | AggregateOp::Stdvar => {
                    if h.is_some() {
                        g.seen = false;
                        ignored(op, annos);
                    } else if f.is_nan() || f.is_infinite() {
                        g.f = f64::NAN;
                    } else {
                        g.f = 0.0;
                    }
                }
                AggregateOp::Quantile => {
                    if h.is_some() {
                        g.seen = false;
                        ignored(op, annos);
                    }
                    g.values = vec![f];
                }
                AggregateOp::Group => g.f = 1.0,
                AggregateOp::Min | AggregateOp::Max => {
                    if h.is_some() {
                        g.seen = false;
                        ignored(op, annos);
                    }
                }
                _ => {}
            }
            continue;
        }
        if g.incompatible {
            continue;
        }
        if s.drop_name {
            g.drop_name = true;
        }
        match op {
            AggregateOp::Sum => match h {
                Some(h) => add_hist(g, h, annos, &s.metric),
                None => {
                    g.has_float = true;
                    (g.f, g.kahan_c) = kahan_inc(f, g.f, g.kahan_c);
                }
            },
            AggregateOp::Avg => {
                g.count += 1.0;
                match h {
                    Some(h) => add_hist(g, h, annos, &s.metric),
                    None => {
                        g.has_float = true;
                        if !g.incremental_mean {
                            let (nv, nc) = kahan_inc(f, g.f, g.kahan_c);
                            if !nv.is_infinite() {
                                g.f = nv;
                                g.kahan_c = nc;
                                continue;
                            }
                            g.incremental_mean = true;
                            g.mean = g.f / (g.count - 1.0);
                            g.kahan_c /= g.count - 1.0;
                        }
                        let qq = (g.count - 1.0) / g.count;
                        (g.mean, g.kahan_c) = kahan_inc(f / g.count, qq * g.mean, qq * g.kahan_c);
                    }
                }
            }
            AggregateOp::Group => {}
            AggregateOp::Max => {
                if h.is_some() {
                    ignored(op, annos);
                } else if g.f < f || g.f.is_nan() {
                    g.f = f;
                }
            }
            AggregateOp::Min => {
                if h.is_some() {
                    ignored(op, annos);
                } else if g.f > f || g.f.is_nan() {
                    g.f = f;
                }
            }
            AggregateOp::Count => g.count += 1.0,
            AggregateOp::Stddev | AggregateOp::Stdvar => {
                if h.is_none() {
                    g.count += 1.0;
                    let delta = f - g.mean;
                    g.mean += delta / g.count;
                    g.f += delta * (f - g.mean);
                } else {
                    ignored(op, annos);
                }
            }
            AggregateOp::Quantile => {
                if h.is_some() {
                    ignored(op, annos);
                } else {
                    g.values.push(f);
                }
            }
            _ => {}
        }
    }
    let mut out = Vec::new();
    for gi in order {
        let g = &mut groups[gi];
        if !g.seen {
            continue;
        }
        let mut hv: Option<FloatHistogram> = None;
        match op {
            AggregateOp::Avg | AggregateOp::Sum => {
                if g.has_float && g.has_hist {
                    annos.warn("encountered a mix of histograms and floats for aggregation");
                    continue;
                }
                if g.incompatible {
                    continue;
                }
                if g.has_hist {
                    let Some(acc) = g.h.take() else { continue };
                    let mut h = acc.finish();
                    hist::compact(&mut h);
                    hv = Some(h);
                } else if op == AggregateOp::Avg {
                    g.f = if g.incremental_mean {
                        g.mean + g.kahan_c
                    } else {
                        g.f / g.count + g.kahan_c / g.count
                    };
                } else {
                    g.f += g.kahan_c;
                }
            }
            AggregateOp::Count => g.f = g.count,
            AggregateOp::Stdvar => g.f /= g.count,
            AggregateOp::Stddev => g.f = (g.f / g.count).sqrt(),
            AggregateOp::Quantile => g.f = quantile(q, &mut g.values),
            _ => {}
        }
        if g.reset_seen && g.not_reset_seen {
            annos.warn("conflicting counter resets during histogram aggregation");
        }
        out.push(Sample {
            metric: labels[gi].clone(),
            t: 0,
            f: g.f,
            h: hv.map(Arc::new),
            drop_name: g.drop_name,
        });
    }
    out
}

/// Prometheus's `quantile` over a sorted copy of `values`.
pub(crate) fn quantile(q: f64, values: &mut [f64]) -> f64 {
    if values.is_empty() || q.is_nan() {
        return f64::NAN;
    }
    if q < 0.0 {
        return f64::NEG_INFINITY;
    }
    if q > 1.0 {
        return f64::INFINITY;
    }
    values.sort_by(|a, b| {
        if a.is_nan() {
            std::cmp::Ordering::Less
        } else if b.is_nan() {
            std::cmp::Ordering::Greater
        } else {
            a.partial_cmp(b).unwrap_or(std::cmp::Ordering::Equal)
        }
    });
    let n = values.len() as f64;
    let rank = q * (n - 1.0);
    let lower = rank.floor().max(0.0);
    let upper = (lower + 1.0).min(n - 1.0);
    let w = rank - rank.floor();
    values[lower as usize] * (1.0 - w) + values[upper as usize] * w
}

/// A heap ordered like Go's `container/heap` over `less`.
struct GoHeap<'a> {
    items: Vec<&'a Sample>,
    less: fn(&Sample, &Sample) -> bool,
}

impl<'a> GoHeap<'a> {
    fn lt(&self, i: usize, j: usize) -> bool {
        (self.less)(self.items[i], self.items[j])
    }
    fn push(&mut self, s: &'a Sample) {
        self.items.push(s);
        let mut j = self.items.len() - 1;
        while j > 0 {
            let i = (j - 1) / 2;
            if !self.lt(j, i) {
                break;
            }
            self.items.swap(i, j);
            j = i;
        }
    }
    fn down(&mut self, i0: usize) -> bool {
        let n = self.items.len();
        let mut i = i0;
        loop {
            let j1 = 2 * i + 1;
            if j1 >= n {
                break;
            }
            let mut j = j1;
            if j1 + 1 < n && self.lt(j1 + 1, j1) {
                j = j1 + 1;
            }
            if !self.lt(j, i) {
                break;
            }
            self.items.swap(i, j);
            i = j;
        }
        i > i0
    }
    fn fix0(&mut self) {
        if !self.down(0) {
            // up(0) is a no-op.
        }
    }
    /// `sort.Sort(sort.Reverse(heap))` for small inputs (insertion sort).
    fn sorted_reverse(mut self) -> Vec<&'a Sample> {
        let n = self.items.len();
        for i in 1..n {
            let mut j = i;
            while j > 0 && (self.less)(self.items[j - 1], self.items[j]) {
                self.items.swap(j, j - 1);
                j -= 1;
            }
        }
        self.items
    }
}

fn less_value(a: &Sample, b: &Sample) -> bool {
    a.f.is_nan() || a.f < b.f
}

fn less_reverse(a: &Sample, b: &Sample) -> bool {
    a.f.is_nan() || a.f > b.f
}

/// Prometheus's `labels.Hash()` (XXH64 of `name 0xff value 0xff ...`)
/// scaled to `[0, 1]`, for `limit_ratio`.
fn ratio_offset(l: &Labels) -> f64 {
    let mut b = Vec::with_capacity(256);
    for (n, v) in l.iter() {
        b.extend_from_slice(n.as_bytes());
        b.push(0xff);
        b.extend_from_slice(v.as_bytes());
        b.push(0xff);
    }
    crate::xxhash::xxh64(&b) as f64 / u64::MAX as f64
}

fn ratio_keep(r: f64, l: &Labels) -> bool {
    let o = ratio_offset(l);
    (r >= 0.0 && o < r) || (r < 0.0 && o >= 1.0 + r)
}

#[allow(clippy::collapsible_match)]
fn aggregate_k(
    op: AggregateOp,
    p: f64,
    vec: &[Sample],
    gidx: &[usize],
    ngroups: usize,
    nseries: usize,
    annos: &mut Annotations,
) -> Vec<Sample> {
    let k = (p as i64).min(nseries as i64);
    let r = p.clamp(-1.0, 1.0);
    match op {
        AggregateOp::LimitRatio if p == 0.0 => return Vec::new(),
        AggregateOp::Topk | AggregateOp::Bottomk | AggregateOp::Limitk if k < 1 => {
            return Vec::new();
        }
        _ => {}
    }
    let less = if op == AggregateOp::Bottomk {
        less_reverse
    } else {
        less_value
    };
    let mut heaps: Vec<Option<GoHeap<'_>>> = (0..ngroups).map(|_| None).collect();
    let mut order = Vec::new();
    for (s, &gi) in vec.iter().zip(gidx) {
        if heaps[gi].is_none() {
            heaps[gi] = Some(GoHeap {
                items: Vec::new(),
                less,
            });
            order.push(gi);
        }
        let Some(heap) = heaps[gi].as_mut() else {
            continue;
        };
        match op {
            AggregateOp::Topk | AggregateOp::Bottomk => {
                if s.h.is_some() {
                    annos.info(format!("ignored histogram in {} aggregation", op.as_str()));
                } else if (heap.items.len() as i64) < k {
                    heap.push(s);
                } else {
                    let top = heap.items[0];
                    let better = if op == AggregateOp::Topk {
                        top.f < s.f
                    } else {
                        top.f > s.f
                    };
                    if better || (top.f.is_nan() && !s.f.is_nan()) {
                        heap.items[0] = s;
                        if k > 1 {
                            heap.fix0();
                        }
                    }
                }
            }
            AggregateOp::Limitk => {
                if (heap.items.len() as i64) < k {
                    heap.push(s);
                }
            }
            AggregateOp::LimitRatio => {
                if ratio_keep(r, &s.metric) {
                    heap.push(s);
                }
            }
            _ => {}
        }
    }
    let mut out = Vec::new();
    for gi in order {
        let Some(heap) = heaps[gi].take() else {
            continue;
        };
        let items = if matches!(op, AggregateOp::Topk | AggregateOp::Bottomk) {
            heap.sorted_reverse()
        } else {
            heap.items
        };
        out.extend(items.into_iter().cloned());
    }
    out
}

fn count_values(
    ev: &mut Evaluator<'_>,
    a: &AggregateExpr,
    mut grouping: Vec<String>,
) -> Result<Matrix> {
    let label = match a.param.as_deref().map(crate::eval::unparen) {
        Some(e @ Expr::String(s)) => match s.as_str() {
            Some(l) if !l.is_empty() => l.to_owned(),
            _ => return Err(Error::eval(format!("invalid label name {e}"))),
        },
        _ => return Err(Error::eval("count_values requires a string parameter")),
    };
    if !a.without {
        grouping.push(label.clone());
        grouping.sort();
    }
    let without = a.without;
    ev.range_eval(&[&a.expr], |v, _, _| {
        let mut idx: HashMap<Labels, usize> = HashMap::new();
        let mut out: Vec<Sample> = Vec::new();
        for s in &v[0] {
            let mut b = s.metric.to_builder();
            let val = match &s.h {
                None => format_float_f(s.f),
                Some(h) => hist::to_string(h),
            };
            b.set(&label, &val);
            let m = b.labels();
            let g = group_labels(&m, &grouping, without);
            match idx.get(&g) {
                Some(&i) => out[i].f += 1.0,
                None => {
                    idx.insert(g.clone(), out.len());
                    out.push(Sample::float(g, 0, 1.0));
                }
            }
        }
        Ok(out)
    })
}

/// Builds one series point (used by functions that emit per-step values).
#[allow(dead_code)]
pub(crate) fn point_series(metric: Labels, t: i64, f: f64) -> Series {
    Series {
        metric,
        floats: vec![FPoint { t, f }],
        histograms: Vec::<HPoint>::new(),
        drop_name: false,
    }
}
