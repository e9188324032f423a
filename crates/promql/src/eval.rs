//! The evaluator: walks the tree over a range of steps (an instant query is
//! a range of one step), like Prometheus's `evaluator`. Every vector- or
//! scalar-typed node evaluates to a [`Matrix`] with one point per step at
//! which it has a value; [`Evaluator::range_eval`] turns per-step functions
//! into such matrices.

use std::cell::Cell;
use std::collections::HashMap;
use std::sync::Arc;
use std::time::Instant;

use model::{FloatHistogram, Labels, histogram::CounterResetHint};
use promql_syntax::ast::{AtModifier, DurationArg, DurationExpr, DurationOp, Expr, UnaryOp};
use storage::Queryable;

use crate::annotations::Annotations;
use crate::engine::{CancelToken, EngineOptions};
use crate::error::{Error, Result};
use crate::selector::Loaded;
use crate::value::{FPoint, HPoint, Matrix, Sample, Series, Vector, hist_size};

/// What a node evaluates to.
#[derive(Debug)]
pub(crate) enum Val {
    /// Vectors, scalars (one series without labels) and range vectors.
    Matrix(Matrix),
    /// A string literal.
    String(String),
}

/// State shared by every evaluator of one query (subqueries included).
pub(crate) struct Ctx<'a> {
    pub(crate) opts: &'a EngineOptions,
    pub(crate) queryable: &'a dyn Queryable,
    pub(crate) query_start: i64,
    pub(crate) query_end: i64,
    pub(crate) query_step: i64,
    pub(crate) lookback: i64,
    deadline: Instant,
    cancel: Option<CancelToken>,
    current_samples: Cell<usize>,
    pub(crate) peak_samples: Cell<usize>,
    checks: Cell<u32>,
    /// Selectors (by address) read like Prometheus's histogram stats
    /// iterator; see [`crate::selector::stats_selectors`].
    pub(crate) stats_selectors: std::collections::HashSet<usize>,
    /// Step-invariant nodes (by address); see [`crate::invariant`].
    pub(crate) invariant: std::collections::HashSet<usize>,
}

impl<'a> Ctx<'a> {
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn new(
        opts: &'a EngineOptions,
        queryable: &'a dyn Queryable,
        query_start: i64,
        query_end: i64,
        query_step: i64,
        lookback: i64,
        deadline: Instant,
        cancel: Option<CancelToken>,
    ) -> Ctx<'a> {
        Ctx {
            opts,
            queryable,
            query_start,
            query_end,
            query_step,
            lookback,
            deadline,
            cancel,
            current_samples: Cell::new(0),
            peak_samples: Cell::new(0),
            checks: Cell::new(0),
            stats_selectors: Default::default(),
            invariant: Default::default(),
        }
    }

    /// Accounts for `n` more samples in memory; fails over the limit.
    pub(crate) fn alloc(&self, n: usize) -> Result<()> {
        let cur = self.current_samples.get() + n;
        if cur > self.opts.max_samples {
            return Err(Error::TooManySamples("query execution"));
        }
        self.current_samples.set(cur);
        if cur > self.peak_samples.get() {
            self.peak_samples.set(cur);
        }
        Ok(())
    }

    /// Releases `n` samples.
    pub(crate) fn free(&self, n: usize) {
        self.current_samples
            .set(self.current_samples.get().saturating_sub(n));
    }

    /// Fails when the query timed out or was cancelled. Cheap: looks at the
    /// clock only every 64 calls.
    pub(crate) fn check(&self) -> Result<()> {
        let n = self.checks.get().wrapping_add(1);
        self.checks.set(n);
        if let Some(c) = &self.cancel
            && c.is_canceled()
        {
            return Err(Error::Canceled("expression evaluation"));
        }
        if n.is_multiple_of(64) && Instant::now() > self.deadline {
            return Err(Error::Timeout("expression evaluation"));
        }
        Ok(())
    }
}

/// Evaluates nodes over `[start, end]` every `interval` ms.
pub(crate) struct Evaluator<'a> {
    pub(crate) ctx: &'a Ctx<'a>,
    pub(crate) start: i64,
    pub(crate) end: i64,
    pub(crate) interval: i64,
    pub(crate) annos: Annotations,
    /// Sample statistics on this evaluator's step grid.
    pub(crate) stats: StepStats,
}

/// Prometheus's sample statistics (`stats.QuerySamples`) of one evaluator,
/// per step of its grid. `total` is what the selectors contribute to each
/// step — an instant selector one sample (a histogram its
/// [`hist_size`]) per series that has a value, a range-vector function
/// its whole window at every step — so each step counts what it would as
/// an instant query. `read` counts each sample once: a range-vector
/// function's window at its first step, then only the points newer than
/// the previous step's end; selectors with `@` (step-invariant) only at
/// the first step. A subquery's evaluator has its own grid; its `read` is
/// merged into the parent's steps ([`StepStats::merge_read`]), its `total`
/// only for a bare subquery (a function over it counts its windows again).
#[derive(Clone, Debug, Default)]
pub(crate) struct StepStats {
    pub(crate) start: i64,
    pub(crate) interval: i64,
    pub(crate) total: Vec<u64>,
    pub(crate) read: Vec<u64>,
}

impl StepStats {
    fn new(start: i64, interval: i64, steps: usize) -> StepStats {
        StepStats {
            start,
            interval,
            total: vec![0; steps],
            read: vec![0; steps],
        }
    }

    /// Adds `n` samples contributing to `step`, read too when `read`.
    pub(crate) fn add(&mut self, step: usize, n: usize, read: bool) {
        if let Some(t) = self.total.get_mut(step) {
            *t += n as u64;
        }
        if read && let Some(r) = self.read.get_mut(step) {
            *r += n as u64;
        }
    }

    /// Adds `n` samples read at `step` (not contributing to the total).
    pub(crate) fn add_read(&mut self, step: usize, n: u64) {
        if let Some(r) = self.read.get_mut(step) {
            *r += n;
        }
    }

    /// Merges a subquery's samples read (`MergeSamplesReadFromSubquery`):
    /// each subquery step goes to the first parent step at or after it
    /// (shifted by the outer `offset`); with an outer `range`, steps in the
    /// gap before that parent step's window are dropped (the parent never
    /// reads them). A one-step parent (or a step-invariant subquery, `@`)
    /// takes everything at its first step.
    pub(crate) fn merge_read(&mut self, child: &StepStats, offset: i64, range: i64, single: bool) {
        let steps = self.read.len();
        if steps <= 1 || single {
            self.add_read(0, child.read.iter().sum());
            return;
        }
        for (k, &n) in child.read.iter().enumerate() {
            if n == 0 {
                continue;
            }
            let tk = child.start + k as i64 * child.interval + offset;
            let mut step = 0usize;
            if tk > self.start {
                step = ((tk - self.start + self.interval - 1) / self.interval) as usize;
            }
            step = step.min(steps - 1);
            if range > 0 {
                let parent_t = self.start + step as i64 * self.interval;
                if tk <= parent_t - range {
                    continue;
                }
            }
            self.read[step] += n;
        }
    }
}

/// How a range-vector argument's samples are read.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Read {
    /// Every series whole, into [`RangeArg::series`].
    Whole,
    /// A matrix selector's series one at a time, a window at a time
    /// ([`RangeArg::each_series`]), as Prometheus reads them: memory holds
    /// one window, not the selector's whole range.
    Windows,
}

/// A range-vector argument: its series and how to cut windows from them.
pub(crate) struct RangeArg<'e> {
    /// Series in memory (all of them unless `selection` is set).
    pub(crate) series: Vec<Loaded>,
    /// A matrix selector read window by window ([`Read::Windows`]).
    pub(crate) selection: Option<crate::selector::Selection<'e>>,
    pub(crate) range: i64,
    pub(crate) offset: i64,
    /// Samples of a subquery's result, held in memory until the function
    /// over it is done (0 for a matrix selector).
    pub(crate) subquery_held: Option<usize>,
    pub(crate) at: Option<i64>,
    pub(crate) anchored: bool,
    pub(crate) smoothed: bool,
}

impl RangeArg<'_> {
    /// Calls `f` with each series' labels, whether its name is marked for
    /// removal, and its samples.
    pub(crate) fn each_series(
        &self,
        ctx: &Ctx<'_>,
        mut f: impl FnMut(&Labels, bool, &mut dyn crate::selector::Source) -> Result<()>,
    ) -> Result<()> {
        if let Some(sel) = &self.selection {
            return sel.each(ctx, |labels, src| f(labels, false, src));
        }
        for s in &self.series {
            f(&s.labels, s.drop_name, &mut crate::selector::Whole(s))?;
        }
        Ok(())
    }

    /// The window `(start, end]` for the step at `ts`.
    pub(crate) fn window(&self, ts: i64) -> (i64, i64) {
        let end = self.at.unwrap_or(ts) - self.offset;
        (end - self.range, end)
    }
}

pub(crate) fn unparen(mut e: &Expr) -> &Expr {
    while let Expr::Paren(p) = e {
        e = &p.expr;
    }
    e
}

impl<'a> Evaluator<'a> {
    pub(crate) fn new(ctx: &'a Ctx<'a>, start: i64, end: i64, interval: i64) -> Evaluator<'a> {
        let interval = interval.max(1);
        let steps = if end < start {
            0
        } else {
            ((end - start) / interval) as usize + 1
        };
        Evaluator {
            ctx,
            start,
            end,
            interval,
            annos: Annotations::default(),
            stats: StepStats::new(start, interval, steps),
        }
    }

    /// Whether this evaluation has a single step.
    pub(crate) fn is_instant(&self) -> bool {
        self.start == self.end
    }

    pub(crate) fn num_steps(&self) -> usize {
        if self.end < self.start {
            0
        } else {
            ((self.end - self.start) / self.interval) as usize + 1
        }
    }

    pub(crate) fn steps(&self) -> impl Iterator<Item = i64> + use<> {
        let (start, interval, n) = (self.start, self.interval, self.num_steps());
        (0..n).map(move |i| start + i as i64 * interval)
    }

    pub(crate) fn delayed_name_removal(&self) -> bool {
        self.ctx.opts.enable_delayed_name_removal
    }

    /// Post-processing at the end of the whole query.
    pub(crate) fn finish(&mut self, v: Val) -> Result<Val> {
        let Val::Matrix(mut mat) = v else {
            return Ok(v);
        };
        if self.delayed_name_removal() {
            for s in &mut mat {
                if s.drop_name {
                    s.metric = drop_metric_name(&s.metric);
                    s.drop_name = false;
                }
            }
            mat = merge_same_labelset(mat)?;
        }
        Ok(Val::Matrix(mat))
    }

    pub(crate) fn eval(&mut self, e: &Expr) -> Result<Val> {
        self.ctx.check()?;
        if self.num_steps() > 1 && self.ctx.invariant.contains(&crate::invariant::addr(e)) {
            return self.eval_invariant(e);
        }
        match e {
            Expr::Paren(p) => self.eval(&p.expr),
            Expr::Number(n) => {
                // Prometheus evaluates a literal like any vector: one
                // sample per step in memory.
                self.ctx.alloc(self.num_steps())?;
                Ok(Val::Matrix(self.constant(n.value)))
            }
            Expr::String(s) => Ok(Val::String(s.to_string_lossy())),
            Expr::Unary(u) => {
                let mut mat = self.eval_matrix(&u.expr)?;
                if u.op == UnaryOp::Minus {
                    for s in &mut mat {
                        s.drop_name = true;
                        if !self.delayed_name_removal() {
                            s.metric = drop_metric_name(&s.metric);
                        }
                        for p in &mut s.floats {
                            p.f = -p.f;
                        }
                        for p in &mut s.histograms {
                            let mut h = (*p.h).clone();
                            crate::histogram::mul(&mut h, -1.0);
                            p.h = Arc::new(h);
                        }
                    }
                    if !self.delayed_name_removal() {
                        mat = merge_same_labelset(mat)?;
                    }
                }
                Ok(Val::Matrix(mat))
            }
            Expr::Binary(b) => crate::binary::eval(self, b).map(Val::Matrix),
            Expr::Aggregate(a) => crate::aggregate::eval(self, a).map(Val::Matrix),
            Expr::Call(c) => crate::functions::eval_call(self, c).map(Val::Matrix),
            Expr::VectorSelector(vs) => {
                if vs.smoothed {
                    return crate::functions::extended::smoothed_selector(self, vs)
                        .map(Val::Matrix);
                }
                crate::selector::eval_vector_selector(self, vs).map(Val::Matrix)
            }
            Expr::MatrixSelector(_) | Expr::Subquery(_) => {
                if let Expr::Subquery(sq) = e {
                    let (mat, _, child) = self.run_subquery(sq)?;
                    // Prometheus attributes a bare subquery's samples to
                    // the last step.
                    let last = self.num_steps().saturating_sub(1);
                    self.stats
                        .add(last, child.total.iter().sum::<u64>() as usize, false);
                    self.stats.merge_read(&child, 0, 0, sq.at.is_some());
                    return Ok(Val::Matrix(mat));
                }
                let arg = self.range_arg(e, Read::Whole)?;
                let (mint, maxt) = arg.window(self.start);
                let mut out = Vec::new();
                for s in arg.series {
                    let mut ser = Series {
                        metric: s.labels.clone(),
                        ..Default::default()
                    };
                    crate::selector::window(
                        &s.samples,
                        mint,
                        maxt,
                        &mut ser.floats,
                        &mut ser.histograms,
                    );
                    if arg.anchored || arg.smoothed {
                        if !ser.histograms.is_empty() {
                            return Err(Error::eval(format!(
                                "{} modifier is not supported with histograms",
                                if arg.anchored { "anchored" } else { "smoothed" }
                            )));
                        }
                        let mut tmp = Vec::new();
                        crate::selector::window_all(
                            &s.samples,
                            mint - self.ctx.lookback,
                            maxt + if arg.smoothed { self.ctx.lookback } else { 0 },
                            &mut tmp,
                        );
                        ser.floats = crate::functions::extended::extend_floats(
                            &tmp,
                            mint,
                            maxt,
                            arg.smoothed,
                        );
                    }
                    let n = ser.sample_count();
                    self.stats.add(0, n, true);
                    if n > 0 {
                        self.ctx.alloc(n)?;
                        out.push(ser);
                    }
                }
                Ok(Val::Matrix(out))
            }
        }
    }

    /// A step-invariant node, as Prometheus evaluates `StepInvariantExpr`:
    /// at the first step only, its result then repeated at every step. Its
    /// samples count at every step, but are read once.
    fn eval_invariant(&mut self, e: &Expr) -> Result<Val> {
        let mut child = Evaluator::new(self.ctx, self.start, self.start, self.interval);
        let val = child.eval(e);
        self.annos.merge(std::mem::take(&mut child.annos));
        let val = val?;
        let total: u64 = child.stats.total.iter().sum();
        for t in &mut self.stats.total {
            *t += total;
        }
        self.stats.add_read(0, child.stats.read.iter().sum());
        let Val::Matrix(mut mat) = val else {
            return Ok(val);
        };
        if matches!(
            e.value_type(),
            promql_syntax::ValueType::Matrix | promql_syntax::ValueType::String
        ) {
            return Ok(Val::Matrix(mat));
        }
        let steps: Vec<i64> = self.steps().skip(1).collect();
        for s in &mut mat {
            if let Some(p) = s.floats.first().copied() {
                self.ctx.alloc(steps.len())?;
                s.floats.extend(steps.iter().map(|&t| FPoint { t, f: p.f }));
            } else if let Some(p) = s.histograms.first().cloned() {
                self.ctx.alloc(steps.len() * hist_size(&p.h))?;
                s.histograms
                    .extend(steps.iter().map(|&t| HPoint { t, h: p.h.clone() }));
            }
        }
        Ok(Val::Matrix(mat))
    }

    /// Evaluates a node that must give a matrix (vector or scalar).
    pub(crate) fn eval_matrix(&mut self, e: &Expr) -> Result<Matrix> {
        match self.eval(e)? {
            Val::Matrix(m) => Ok(m),
            Val::String(_) => Err(Error::eval("unexpected string value")),
        }
    }

    /// A scalar (or vector without labels) with value `v` at every step.
    pub(crate) fn constant(&self, v: f64) -> Matrix {
        vec![Series {
            metric: Labels::empty(),
            floats: self.steps().map(|t| FPoint { t, f: v }).collect(),
            histograms: Vec::new(),
            drop_name: false,
        }]
    }

    /// The value of `@`, in ms.
    pub(crate) fn at_ms(&self, at: Option<AtModifier>) -> Option<i64> {
        at.map(|a| match a {
            AtModifier::Timestamp(t) => t,
            AtModifier::Start => self.ctx.query_start,
            AtModifier::End => self.ctx.query_end,
        })
    }

    /// A range, step or offset in ms. Ranges and steps must be positive.
    pub(crate) fn dur_ms(&self, d: &DurationArg, allow_negative: bool) -> Result<i64> {
        match d {
            DurationArg::Fixed(d) => Ok(d.millis()),
            DurationArg::Expr(e) => {
                let v = self.dur_expr(e)?;
                let pos = e.pos();
                if v.is_nan() || v.is_infinite() {
                    return Err(Error::eval(format!(
                        "{}:{}: duration is NaN or infinite",
                        pos.start, pos.end
                    )));
                }
                if v <= 0.0 && !allow_negative {
                    return Err(Error::eval(format!(
                        "{}:{}: duration must be greater than 0",
                        pos.start, pos.end
                    )));
                }
                if v.abs() > 9_223_372_036.854_775 {
                    return Err(Error::eval(format!(
                        "{}:{}: duration is out of range",
                        pos.start, pos.end
                    )));
                }
                Ok((v * 1000.0) as i64)
            }
        }
    }

    fn dur_expr(&self, e: &DurationExpr) -> Result<f64> {
        Ok(match e {
            DurationExpr::Number(n) => n.value,
            DurationExpr::Step { .. } => self.ctx.query_step as f64 / 1000.0,
            DurationExpr::Range { .. } => {
                (self.ctx.query_end - self.ctx.query_start) as f64 / 1000.0
            }
            DurationExpr::MinMax { max, lhs, rhs, .. } => {
                let (a, b) = (self.dur_expr(lhs)?, self.dur_expr(rhs)?);
                if *max { a.max(b) } else { a.min(b) }
            }
            DurationExpr::Neg { expr, .. } => -self.dur_expr(expr)?,
            DurationExpr::Binary { op, lhs, rhs, .. } => {
                let (a, b) = (self.dur_expr(lhs)?, self.dur_expr(rhs)?);
                let pos = e.pos();
                match op {
                    DurationOp::Add => a + b,
                    DurationOp::Sub => a - b,
                    DurationOp::Mul => a * b,
                    DurationOp::Div => {
                        if b == 0.0 {
                            return Err(Error::eval(format!(
                                "{}:{}: division by zero",
                                pos.start, pos.end
                            )));
                        }
                        a / b
                    }
                    DurationOp::Mod => {
                        if b == 0.0 {
                            return Err(Error::eval(format!(
                                "{}:{}: modulo by zero",
                                pos.start, pos.end
                            )));
                        }
                        a % b
                    }
                    DurationOp::Pow => a.powf(b),
                }
            }
        })
    }

    pub(crate) fn offset_ms(&self, d: &Option<DurationArg>) -> Result<i64> {
        d.as_ref().map_or(Ok(0), |d| self.dur_ms(d, true))
    }

    /// Evaluates a range-vector argument (matrix selector or subquery); a
    /// matrix selector is read as `read` says.
    pub(crate) fn range_arg<'e>(&mut self, e: &'e Expr, read: Read) -> Result<RangeArg<'e>> {
        match unparen(e) {
            Expr::MatrixSelector(ms) => {
                let vs = &ms.vector_selector;
                let range = self.dur_ms(&ms.range, false)?;
                let offset = self.offset_ms(&vs.offset)?;
                let at = self.at_ms(vs.at);
                let (lo, hi) = match at {
                    Some(a) => (a - offset, a - offset),
                    None => (self.start - offset, self.end - offset),
                };
                let lb = self.ctx.lookback;
                let mint = lo - range - if vs.anchored || vs.smoothed { lb } else { 0 };
                let maxt = hi + if vs.smoothed { lb } else { 0 };
                let (series, selection) = match read {
                    Read::Whole => (crate::selector::load(self, vs, mint + 1, maxt)?, None),
                    Read::Windows => (
                        Vec::new(),
                        Some(crate::selector::Selection::new(self, vs, mint + 1, maxt)),
                    ),
                };
                Ok(RangeArg {
                    series,
                    selection,
                    range,
                    offset,
                    subquery_held: None,
                    at,
                    anchored: vs.anchored,
                    smoothed: vs.smoothed,
                })
            }
            Expr::Subquery(sq) => {
                let (mat, offset, child) = self.run_subquery(sq)?;
                let range = self.dur_ms(&sq.range, false)?;
                let at = self.at_ms(sq.at);
                self.stats
                    .merge_read(&child, offset, range, sq.at.is_some());
                let held = mat.iter().map(Series::sample_count).sum();
                let series = mat.into_iter().map(Loaded::from_series).collect();
                Ok(RangeArg {
                    series,
                    selection: None,
                    range,
                    offset,
                    subquery_held: Some(held),
                    at,
                    anchored: false,
                    smoothed: false,
                })
            }
            other => Err(Error::eval(format!(
                "expected a range vector, got {}",
                other.value_type().documented()
            ))),
        }
    }

    /// Runs a subquery on its own step grid; returns the result, its
    /// offset in ms and the statistics of its evaluator.
    pub(crate) fn run_subquery(
        &mut self,
        sq: &promql_syntax::ast::SubqueryExpr,
    ) -> Result<(Matrix, i64, StepStats)> {
        let offset = self.offset_ms(&sq.offset)?;
        let range = self.dur_ms(&sq.range, false)?;
        let step = match &sq.step {
            Some(s) => self.dur_ms(s, false)?,
            None => self.ctx.opts.default_subquery_step.as_millis() as i64,
        }
        .max(1);
        let (eval_start, eval_end) = match self.at_ms(sq.at) {
            Some(a) => (a - offset, a - offset),
            None => {
                let parent_end =
                    self.start + ((self.end - self.start) / self.interval) * self.interval;
                (self.start - offset, parent_end - offset)
            }
        };
        let lo = eval_start - range;
        let mut sub_start = step * (lo / step);
        if sub_start <= lo {
            sub_start += step;
        }
        let mut child = Evaluator::new(self.ctx, sub_start, eval_end, step);
        let mut mat = if sub_start > eval_end {
            Vec::new()
        } else {
            child.eval_matrix(&sq.expr)?
        };
        self.annos.merge(std::mem::take(&mut child.annos));
        for s in &mut mat {
            for p in &mut s.histograms {
                if matches!(
                    p.h.counter_reset_hint,
                    CounterResetHint::CounterReset | CounterResetHint::NotCounterReset
                ) {
                    let mut h = (*p.h).clone();
                    h.counter_reset_hint = CounterResetHint::Unknown;
                    p.h = Arc::new(h);
                }
            }
        }
        Ok((mat, offset, child.stats))
    }

    /// Evaluates `exprs` (strings skipped) and calls `f` at every step with
    /// the instant vectors of that step; assembles the results.
    pub(crate) fn range_eval(
        &mut self,
        exprs: &[&Expr],
        mut f: impl FnMut(&[Vector], i64, &mut Annotations) -> Result<Vector>,
    ) -> Result<Matrix> {
        let mut mats = Vec::with_capacity(exprs.len());
        let mut held = 0;
        for e in exprs {
            if e.value_type() == promql_syntax::ValueType::String {
                mats.push(Vec::new());
                continue;
            }
            let m = self.eval_matrix(e)?;
            held += m.iter().map(Series::sample_count).sum::<usize>();
            mats.push(m);
        }
        let out = self.range_eval_mats(&mats, |v, ts, a| f(v, ts, a));
        self.ctx.free(held);
        out
    }

    /// [`Evaluator::range_eval`] over already evaluated matrices.
    pub(crate) fn range_eval_mats(
        &mut self,
        mats: &[Matrix],
        mut f: impl FnMut(&[Vector], i64, &mut Annotations) -> Result<Vector>,
    ) -> Result<Matrix> {
        self.range_eval_idx(mats, |v, _, ts, a| f(v, ts, a))
    }

    /// Like [`Evaluator::range_eval_mats`]; the callback also gets, for
    /// each vector, the index of the series each sample came from.
    pub(crate) fn range_eval_idx(
        &mut self,
        mats: &[Matrix],
        mut f: impl FnMut(&[Vector], &[Vec<usize>], i64, &mut Annotations) -> Result<Vector>,
    ) -> Result<Matrix> {
        let mut idxs: Vec<Vec<usize>> = mats.iter().map(|_| Vec::new()).collect();
        let mut cursors: Vec<Vec<(usize, usize)>> =
            mats.iter().map(|m| vec![(0, 0); m.len()]).collect();
        let mut vecs: Vec<Vector> = mats.iter().map(|m| Vec::with_capacity(m.len())).collect();
        let instant = self.is_instant();
        let mut out: Matrix = Vec::new();
        let mut index: HashMap<Labels, (usize, i64)> = HashMap::new();
        let steps: Vec<i64> = self.steps().collect();
        let mut step_samples = 0usize;
        for ts in steps {
            self.ctx.check()?;
            for (i, m) in mats.iter().enumerate() {
                gather(ts, m, &mut cursors[i], &mut vecs[i], &mut idxs[i]);
            }
            let res = f(&vecs, &idxs, ts, &mut self.annos)?;
            let n: usize = res
                .iter()
                .map(|s| s.h.as_ref().map_or(1, |h| hist_size(h)))
                .sum();
            self.ctx.alloc(n)?;
            step_samples += n;
            if instant {
                if !self.delayed_name_removal() {
                    check_unique(&res)?;
                }
                return Ok(res
                    .into_iter()
                    .map(|s| {
                        let mut ser = Series {
                            metric: s.metric,
                            drop_name: s.drop_name,
                            ..Default::default()
                        };
                        match s.h {
                            Some(h) => ser.histograms.push(HPoint { t: ts, h }),
                            None => ser.floats.push(FPoint { t: ts, f: s.f }),
                        }
                        ser
                    })
                    .collect());
            }
            for s in res {
                match index.get_mut(&s.metric) {
                    Some((i, last)) => {
                        if *last == ts {
                            return Err(Error::eval(
                                "vector cannot contain metrics with the same labelset",
                            ));
                        }
                        *last = ts;
                        push_point(&mut out[*i], ts, s.f, s.h);
                    }
                    None => {
                        index.insert(s.metric.clone(), (out.len(), ts));
                        let mut ser = Series {
                            metric: s.metric,
                            drop_name: s.drop_name,
                            ..Default::default()
                        };
                        push_point(&mut ser, ts, s.f, s.h);
                        out.push(ser);
                    }
                }
            }
        }
        let _ = step_samples;
        Ok(out)
    }
}

fn push_point(s: &mut Series, t: i64, f: f64, h: Option<Arc<FloatHistogram>>) {
    match h {
        Some(h) => s.histograms.push(HPoint { t, h }),
        None => s.floats.push(FPoint { t, f }),
    }
}

/// The samples of `m` at `ts`, advancing per-series cursors.
fn gather(ts: i64, m: &Matrix, cur: &mut [(usize, usize)], out: &mut Vector, idx: &mut Vec<usize>) {
    out.clear();
    idx.clear();
    for (i, (s, c)) in m.iter().zip(cur.iter_mut()).enumerate() {
        while c.0 < s.floats.len() && s.floats[c.0].t < ts {
            c.0 += 1;
        }
        while c.1 < s.histograms.len() && s.histograms[c.1].t < ts {
            c.1 += 1;
        }
        if let Some(p) = s.floats.get(c.0).filter(|p| p.t == ts) {
            idx.push(i);
            out.push(Sample {
                metric: s.metric.clone(),
                t: ts,
                f: p.f,
                h: None,
                drop_name: s.drop_name,
            });
        } else if let Some(p) = s.histograms.get(c.1).filter(|p| p.t == ts) {
            idx.push(i);
            out.push(Sample {
                metric: s.metric.clone(),
                t: ts,
                f: 0.0,
                h: Some(p.h.clone()),
                drop_name: s.drop_name,
            });
        }
    }
}

/// Fails if two samples have the same labels.
pub(crate) fn check_unique(v: &Vector) -> Result<()> {
    if v.len() < 2 {
        return Ok(());
    }
    let mut seen = std::collections::HashSet::with_capacity(v.len());
    for s in v {
        if !seen.insert(&s.metric) {
            return Err(Error::eval(
                "vector cannot contain metrics with the same labelset",
            ));
        }
    }
    Ok(())
}

/// Removes `__name__`, `__type__` and `__unit__`.
pub(crate) fn drop_metric_name(l: &Labels) -> Labels {
    if !l
        .iter()
        .any(|(n, _)| n == "__name__" || n == "__type__" || n == "__unit__")
    {
        return l.clone();
    }
    Labels::from_sorted(
        l.iter()
            .filter(|(n, _)| *n != "__name__" && *n != "__type__" && *n != "__unit__"),
    )
}

/// Merges series that ended up with the same labels; overlapping points
/// are an error.
pub(crate) fn merge_same_labelset(mat: Matrix) -> Result<Matrix> {
    let mut index: HashMap<Labels, usize> = HashMap::with_capacity(mat.len());
    let mut out: Matrix = Vec::with_capacity(mat.len());
    let mut merged = false;
    for s in mat {
        match index.get(&s.metric) {
            Some(&i) => {
                merged = true;
                out[i].floats.extend(s.floats);
                out[i].histograms.extend(s.histograms);
            }
            None => {
                index.insert(s.metric.clone(), out.len());
                out.push(s);
            }
        }
    }
    if merged {
        for s in &mut out {
            s.floats.sort_by_key(|p| p.t);
            s.histograms.sort_by_key(|p| p.t);
            let dup_f = s.floats.windows(2).any(|w| w[0].t == w[1].t);
            let dup_h = s.histograms.windows(2).any(|w| w[0].t == w[1].t);
            let mut ts: Vec<i64> = s
                .floats
                .iter()
                .map(|p| p.t)
                .chain(s.histograms.iter().map(|p| p.t))
                .collect();
            ts.sort_unstable();
            let dup_mixed = ts.windows(2).any(|w| w[0] == w[1]);
            if dup_f || dup_h || dup_mixed {
                return Err(Error::eval(
                    "vector cannot contain metrics with the same labelset",
                ));
            }
        }
    }
    Ok(out)
}
