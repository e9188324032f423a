//! Function calls: dispatch, the per-series loop over range-vector
//! arguments, and the per-step loop over instant-vector arguments. Each
//! function family lives in its own file.

pub(crate) mod extended;
mod extended_hist;
mod histogram;
mod labels;
mod math;
mod over_time;
mod rate;
mod time;

use std::sync::Arc;

use model::{FloatHistogram, Labels};
use promql_syntax::ValueType;
use promql_syntax::ast::{Call, Expr};

use crate::annotations::Annotations;
use crate::error::{Error, Result};
use crate::eval::{Evaluator, Read, drop_metric_name, unparen};
use crate::selector::{lookup, window, window_all, window_sts};
use crate::value::{FPoint, HPoint, Matrix, Sample, Series, Vector, hist_size};

/// One window of one series at one step, handed to range-vector functions.
pub(crate) struct Win<'a> {
    pub(crate) floats: &'a [FPoint],
    pub(crate) hists: &'a [HPoint],
    pub(crate) metric: &'a Labels,
    pub(crate) range_start: i64,
    pub(crate) range_end: i64,
    pub(crate) range: i64,
    pub(crate) ts: i64,
    /// The scalar arguments at this step, in argument order.
    pub(crate) args: &'a [f64],
    pub(crate) anchored: bool,
    pub(crate) smoothed: bool,
    /// Start timestamps aligned with `floats` and `hists` (0 = unknown);
    /// empty unless the function uses them and the selector has them.
    pub(crate) float_sts: &'a [i64],
    pub(crate) hist_sts: &'a [i64],
}

impl Win<'_> {
    pub(crate) fn name(&self) -> &str {
        self.metric.get("__name__").unwrap_or("")
    }
}

/// The result of a range-vector function at one step.
pub(crate) enum Out {
    F(f64),
    H(FloatHistogram),
}

/// What a per-step instant-vector function gets.
pub(crate) struct StepArgs<'a> {
    pub(crate) vecs: &'a [Vector],
    pub(crate) call: &'a Call,
    pub(crate) ts: i64,
    pub(crate) delayed: bool,
    pub(crate) query_start: i64,
    pub(crate) query_end: i64,
    pub(crate) query_step: i64,
}

impl StepArgs<'_> {
    /// The scalar value of argument `i`.
    pub(crate) fn scalar(&self, i: usize) -> f64 {
        self.vecs
            .get(i)
            .and_then(|v| v.first())
            .map_or(f64::NAN, |s| s.f)
    }
    /// The string literal argument `i`.
    pub(crate) fn string(&self, i: usize) -> String {
        match self.call.args.get(i).map(unparen) {
            Some(Expr::String(s)) => s.to_string_lossy(),
            _ => String::new(),
        }
    }
    /// A result sample derived from `s` whose name is to be dropped.
    pub(crate) fn derived(&self, s: &Sample, f: f64) -> Sample {
        Sample {
            metric: if self.delayed {
                s.metric.clone()
            } else {
                drop_metric_name(&s.metric)
            },
            t: s.t,
            f,
            h: None,
            drop_name: true,
        }
    }
}

fn is_range_arg(e: &Expr) -> bool {
    matches!(unparen(e), Expr::MatrixSelector(_) | Expr::Subquery(_))
}

pub(crate) fn eval_call(ev: &mut Evaluator<'_>, call: &Call) -> Result<Matrix> {
    let name = call.func.name;
    match name {
        "timestamp" | "start_timestamp" => {
            if let Some(Expr::VectorSelector(vs)) = call.args.first().map(unparen) {
                return timestamp_of_selector(ev, vs, name == "start_timestamp");
            }
        }
        "label_replace" | "label_join" => return labels::eval(ev, call),
        "info" => return crate::info::eval(ev, call),
        "sort" | "sort_desc" | "sort_by_label" | "sort_by_label_desc" if !ev.is_instant() => {
            ev.annos.warn(
                "sort is ineffective for range queries since results are always ordered by labels",
            );
        }
        _ => {}
    }
    if let Some(mi) = call.args.iter().position(is_range_arg) {
        return eval_range_call(ev, call, mi);
    }
    let args: Vec<&Expr> = call.args.iter().collect();
    let ctx = ev.ctx;
    let delayed = ev.delayed_name_removal();
    let (qs, qe, qstep) = (ctx.query_start, ctx.query_end, ctx.query_step);
    ev.range_eval(&args, |vecs, ts, annos| {
        let a = StepArgs {
            vecs,
            call,
            ts,
            delayed,
            query_start: qs,
            query_end: qe,
            query_step: qstep,
        };
        vector_fn(name, &a, annos)
    })
}

fn vector_fn(name: &str, a: &StepArgs<'_>, annos: &mut Annotations) -> Result<Vector> {
    if let Some(v) = math::call(name, a)? {
        return Ok(v);
    }
    if let Some(v) = time::call(name, a) {
        return Ok(v);
    }
    if let Some(v) = histogram::call(name, a, annos)? {
        return Ok(v);
    }
    if let Some(v) = labels::call_step(name, a) {
        return Ok(v);
    }
    Err(Error::eval(format!("function {name} is not supported")))
}

/// `timestamp(selector)`: the time of the sample each step picks;
/// `start_timestamp(selector)` (`start`): its start time (0 if unknown).
fn timestamp_of_selector(
    ev: &mut Evaluator<'_>,
    vs: &promql_syntax::ast::VectorSelector,
    start: bool,
) -> Result<Matrix> {
    let offset = ev.offset_ms(&vs.offset)?;
    let at = ev.at_ms(vs.at);
    let lb = ev.ctx.lookback;
    let (lo, hi) = match at {
        Some(a) => (a - offset, a - offset),
        None => (ev.start - offset, ev.end - offset),
    };
    let sel = crate::selector::Selection::new(ev, vs, lo - lb + 1, hi);
    let delayed = ev.delayed_name_removal();
    let mut out = Vec::new();
    let mut per_step = vec![0usize; ev.num_steps()];
    let ctx = ev.ctx;
    sel.each(ctx, |labels, src| {
        let mut ser = Series {
            metric: if delayed {
                labels.clone()
            } else {
                drop_metric_name(labels)
            },
            drop_name: true,
            ..Default::default()
        };
        for (step, ts) in ev.steps().enumerate() {
            let r = at.unwrap_or(ts) - offset;
            src.advance(r - lb, r)?;
            let (samples, sts) = src.slices();
            if let Some((t, _)) = lookup(samples, r, lb) {
                ev.stats.add(step, 1, at.is_none() || step == 0);
                per_step[step] += 1;
                let t = if start {
                    // The sample found is the newest held.
                    sts.last().copied().unwrap_or(0)
                } else {
                    *t
                };
                ev.ctx.alloc(1)?;
                ser.floats.push(FPoint {
                    t: ts,
                    f: t as f64 / 1000.0,
                });
            }
        }
        if !ser.floats.is_empty() {
            out.push(ser);
        }
        Ok(())
    })?;
    // Prometheus evaluates this step by step: at each step the selected
    // samples are held beside the results so far and the step's results.
    // The results are all held now; account for the largest step's inputs.
    let (mut before, mut peak) = (0usize, 0usize);
    for n in per_step {
        peak = peak.max(before + 2 * n);
        before += n;
    }
    let extra = peak - before;
    ev.ctx.alloc(extra)?;
    ev.ctx.free(extra);
    Ok(out)
}

/// Scalar argument values per step.
fn scalar_steps(ev: &mut Evaluator<'_>, e: &Expr) -> Result<Vec<f64>> {
    let m = ev.eval_matrix(e)?;
    let steps: Vec<i64> = ev.steps().collect();
    let mut out = vec![f64::NAN; steps.len()];
    if let Some(s) = m.first() {
        for p in &s.floats {
            if let Ok(i) = steps.binary_search(&p.t) {
                out[i] = p.f;
            }
        }
    }
    Ok(out)
}

const ANCHORED_SAFE: &[&str] = &["changes", "delta", "increase", "rate", "resets"];
const SMOOTHED_SAFE: &[&str] = &["delta", "increase", "rate"];

fn eval_range_call(ev: &mut Evaluator<'_>, call: &Call, mi: usize) -> Result<Matrix> {
    let name = call.func.name;
    let mut scalars: Vec<Vec<f64>> = Vec::new();
    for (i, a) in call.args.iter().enumerate() {
        if i != mi && a.value_type() != ValueType::String {
            scalars.push(scalar_steps(ev, a)?);
        }
    }
    let arg = ev.range_arg(&call.args[mi], Read::Windows)?;
    if arg.anchored && !ANCHORED_SAFE.contains(&name) {
        return Err(Error::eval(format!(
            "anchored modifier can only be used with: {} - not with {name}",
            ANCHORED_SAFE.join(", ")
        )));
    }
    if arg.smoothed && !SMOOTHED_SAFE.contains(&name) {
        return Err(Error::eval(format!(
            "smoothed modifier can only be used with: {} - not with {name}",
            SMOOTHED_SAFE.join(", ")
        )));
    }
    let keep_name = name == "last_over_time" || name == "first_over_time";
    let delayed = ev.delayed_name_removal();
    let steps: Vec<i64> = ev.steps().collect();
    let lb = ev.ctx.lookback;
    let mut out: Matrix = Vec::new();
    let mut floats = Vec::new();
    let mut hists = Vec::new();
    let (mut float_sts, mut hist_sts) = (Vec::new(), Vec::new());
    let use_sts = matches!(name, "rate" | "irate" | "increase" | "resets");
    let mut args_now = vec![0.0; scalars.len()];
    let mut annos = std::mem::take(&mut ev.annos);
    // Memory accounting as Prometheus's: the current window is held (it
    // grows and shrinks with the steps and is dropped when the next series
    // starts); a series' results are added once the series is done.
    let mut held = 0usize;
    let ctx = ev.ctx;
    arg.each_series(ctx, |labels, drop_name, src| {
        ev.ctx.free(held);
        held = 0;
        let mut out_size = 0usize;
        let drop = !keep_name || drop_name;
        let mut ser = Series {
            metric: if drop && !delayed {
                drop_metric_name(labels)
            } else {
                labels.clone()
            },
            drop_name: drop,
            ..Default::default()
        };
        for (step, &ts) in steps.iter().enumerate() {
            ev.ctx.check()?;
            for (j, sc) in scalars.iter().enumerate() {
                args_now[j] = sc[step];
            }
            let (mint, maxt) = arg.window(ts);
            if arg.anchored || arg.smoothed {
                let hi = maxt + if arg.smoothed { lb } else { 0 };
                src.advance(mint - lb, hi)?;
                let (samples, _) = src.slices();
                window_all(samples, mint - lb, hi, &mut floats);
                floats.retain(|p| !model::is_stale_nan(p.f));
                hists.clear();
                window(samples, mint - lb, hi, &mut Vec::new(), &mut hists);
            } else {
                src.advance(mint, maxt)?;
                let (samples, sts) = src.slices();
                window(samples, mint, maxt, &mut floats, &mut hists);
                if use_sts {
                    window_sts(
                        samples,
                        sts,
                        mint,
                        maxt,
                        &mut float_sts,
                        &mut hist_sts,
                    );
                }
            }
            let n = floats.len() + hists.iter().map(|p| hist_size(&p.h)).sum::<usize>();
            if n > held {
                ev.ctx.alloc(n - held)?;
            } else {
                ev.ctx.free(held - n);
            }
            held = n;
            if n == 0 {
                continue;
            }
            // Statistics: the whole window counts at every step; it is read
            // at the first step, then only what the previous step's window
            // did not reach (a subquery's reads were counted by its own
            // evaluator; with `@` the window is read once).
            let read = match arg.subquery_held {
                Some(_) => 0,
                None if step == 0 => n,
                None if arg.at.is_some() => 0,
                None => {
                    let hi = maxt + if arg.smoothed { lb } else { 0 };
                    count_after(&floats, &hists, hi - ev.interval)
                }
            };
            ev.stats.add(step, n, false);
            ev.stats.add_read(step, read as u64);
            let w = Win {
                floats: &floats,
                hists: &hists,
                metric: labels,
                range_start: mint,
                range_end: maxt,
                range: arg.range,
                ts,
                args: &args_now,
                anchored: arg.anchored,
                smoothed: arg.smoothed,
                float_sts: &float_sts,
                hist_sts: &hist_sts,
            };
            match range_fn(name, &w, &mut annos)? {
                Some(Out::F(f)) => {
                    out_size += 1;
                    ser.floats.push(FPoint { t: ts, f });
                }
                Some(Out::H(h)) => {
                    out_size += hist_size(&h);
                    ser.histograms.push(HPoint {
                        t: ts,
                        h: Arc::new(h),
                    });
                }
                None => {}
            }
        }
        ev.ctx.alloc(out_size)?;
        if (name == "rate" || name == "increase") && !ser.floats.is_empty() {
            let n = labels.get("__name__").unwrap_or("");
            if !n.is_empty()
                && !n.ends_with("_total")
                && !n.ends_with("_sum")
                && !n.ends_with("_count")
                && !n.ends_with("_bucket")
            {
                annos.info(format!(
                    "metric might not be a counter, name does not end in _total/_sum/_count/_bucket: {}",
                    crate::annotations::quote(n)
                ));
            }
        }
        if !ser.floats.is_empty() || !ser.histograms.is_empty() {
            out.push(ser);
        }
        Ok(())
    })?;
    ev.ctx.free(held + arg.subquery_held.unwrap_or(0));
    ev.annos = annos;
    if name == "absent_over_time" {
        let n = steps.len();
        if out.iter().any(|s| s.floats.len() + s.histograms.len() == n) {
            return Ok(Vec::new());
        }
        let mut found = std::collections::HashSet::new();
        for s in &out {
            found.extend(s.floats.iter().map(|p| p.t));
            found.extend(s.histograms.iter().map(|p| p.t));
        }
        let floats: Vec<FPoint> = steps
            .iter()
            .filter(|t| !found.contains(t))
            .map(|&t| FPoint { t, f: 1.0 })
            .collect();
        if floats.is_empty() {
            return Ok(Vec::new());
        }
        return Ok(vec![Series {
            metric: absent_labels(&call.args[0]),
            floats,
            histograms: Vec::new(),
            drop_name: true,
        }]);
    }
    if !delayed {
        crate::eval::merge_same_labelset(out.clone())?;
    }
    Ok(out)
}

/// Samples (histograms by size) newer than `cutoff` (`countSamplesAfter`).
fn count_after(floats: &[FPoint], hists: &[HPoint], cutoff: i64) -> usize {
    floats.iter().rev().take_while(|p| p.t > cutoff).count()
        + hists
            .iter()
            .rev()
            .take_while(|p| p.t > cutoff)
            .map(|p| hist_size(&p.h))
            .sum::<usize>()
}

fn range_fn(name: &str, w: &Win<'_>, annos: &mut Annotations) -> Result<Option<Out>> {
    if let Some(r) = rate::call(name, w, annos)? {
        return Ok(r);
    }
    over_time::call(name, w, annos)
}

/// Labels for `absent` from the selector's equality matchers.
pub(crate) fn absent_labels(e: &Expr) -> Labels {
    let vs = match unparen(e) {
        Expr::VectorSelector(vs) => vs,
        Expr::MatrixSelector(ms) => &ms.vector_selector,
        _ => return Labels::empty(),
    };
    let mut b = model::LabelsBuilder::new();
    let mut has: Vec<&str> = Vec::new();
    for m in &vs.matchers {
        if m.name() == "__name__" {
            continue;
        }
        if m.op() == model::matcher::MatchOp::Equal && !has.contains(&m.name()) {
            b.set(m.name(), m.value());
            has.push(m.name());
        } else {
            b.del(m.name());
        }
    }
    b.labels()
}
