//! The engine: options, limits, the query entry points and their results.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};

use promql_syntax::ast::{AtModifier, DurationArg, Expr};
use promql_syntax::{Options, ValueType, parse_with};
use storage::Queryable;

use crate::annotations::Annotations;
use crate::error::{Error, Result};
use crate::eval::{Ctx, Evaluator, Val};
use crate::value::{Matrix, Sample, Value};

/// Engine settings. [`EngineOptions::default`] is Prometheus's defaults
/// (lookback 5m, 50M samples, 2m timeout, 1m subquery step, `@` and negative
/// offsets on, delayed name removal off: Prometheus 3.x has it behind
/// `--enable-feature=promql-delayed-name-removal`).
#[derive(Clone, Debug)]
pub struct EngineOptions {
    /// How far back a sample counts as current for instant selectors.
    pub lookback_delta: Duration,
    /// Most samples held in memory at once by one query.
    pub max_samples: usize,
    /// Longest evaluation time of a query.
    pub timeout: Duration,
    /// Step of subqueries that give none.
    pub default_subquery_step: Duration,
    /// Allow the `@` modifier.
    pub enable_at_modifier: bool,
    /// Allow negative offsets.
    pub enable_negative_offset: bool,
    /// Drop `__name__` at the end of evaluation rather than where a function
    /// or operator changes the metric's meaning (Prometheus 3.x's
    /// experimental `promql-delayed-name-removal`; upstream's PromQL test
    /// scripts run with it).
    pub enable_delayed_name_removal: bool,
    /// Queries running at once; further queries wait. 0 for no limit.
    pub max_concurrency: usize,
    /// Parser features for queries given as text.
    pub parser: Options,
}

impl Default for EngineOptions {
    fn default() -> Self {
        EngineOptions {
            lookback_delta: Duration::from_secs(300),
            max_samples: 50_000_000,
            timeout: Duration::from_secs(120),
            default_subquery_step: Duration::from_secs(60),
            enable_at_modifier: true,
            enable_negative_offset: true,
            enable_delayed_name_removal: false,
            max_concurrency: 20,
            parser: Options::default(),
        }
    }
}

/// Per-query statistics (`stats=all`), counted as Prometheus 3.x counts
/// them. Histograms count by their size (one per 16 bytes of Go's
/// in-memory histogram).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct QueryStats {
    /// Samples the query's selectors contribute, per step summed
    /// (`totalQueryableSamples`): an instant selector one per series with
    /// a value at a step, a range-vector function its whole window at
    /// every step.
    pub total_queryable_samples: u64,
    /// `total_queryable_samples` per step of the query (one entry for an
    /// instant query).
    pub total_queryable_samples_per_step: Vec<u64>,
    /// Samples read, each counted once (`samplesRead`): windows that
    /// overlap between steps count only their new points.
    pub samples_read: u64,
    /// `samples_read` per step of the query.
    pub samples_read_per_step: Vec<u64>,
    /// Most samples held in memory at once.
    pub peak_samples: usize,
    /// Time spent parsing and preparing, seconds.
    pub prepare_seconds: f64,
    /// Time spent evaluating, seconds.
    pub eval_seconds: f64,
}

/// The outcome of a successful query.
#[derive(Clone, Debug, PartialEq)]
pub struct QueryResult {
    /// The value.
    pub value: Value,
    /// Warnings and infos.
    pub annotations: Annotations,
    /// Statistics.
    pub stats: QueryStats,
}

/// Cancels a running query from another thread.
#[derive(Clone, Debug, Default)]
pub struct CancelToken(Arc<AtomicBool>);

impl CancelToken {
    /// A fresh token.
    pub fn new() -> CancelToken {
        CancelToken::default()
    }
    /// Asks the query to stop.
    pub fn cancel(&self) {
        self.0.store(true, Ordering::Relaxed);
    }
    /// Whether [`CancelToken::cancel`] was called.
    pub fn is_canceled(&self) -> bool {
        self.0.load(Ordering::Relaxed)
    }
}

/// A query as text or as an already parsed tree.
#[derive(Clone, Copy, Debug)]
pub enum Query<'a> {
    /// Text, parsed with the engine's parser options.
    Text(&'a str),
    /// A parsed expression.
    Expr(&'a Expr),
}

impl<'a> From<&'a str> for Query<'a> {
    fn from(s: &'a str) -> Self {
        Query::Text(s)
    }
}

impl<'a> From<&'a String> for Query<'a> {
    fn from(s: &'a String) -> Self {
        Query::Text(s)
    }
}

impl<'a> From<&'a Expr> for Query<'a> {
    fn from(e: &'a Expr) -> Self {
        Query::Expr(e)
    }
}

/// Per-query parameters beyond the times.
#[derive(Clone, Debug, Default)]
pub struct QueryParams {
    /// Overrides the engine's lookback delta.
    pub lookback_delta: Option<Duration>,
    /// Lets the caller cancel the query.
    pub cancel: Option<CancelToken>,
}

/// The PromQL engine. Cheap to share between threads.
#[derive(Debug)]
pub struct Engine {
    opts: EngineOptions,
    active: Mutex<usize>,
    freed: Condvar,
}

struct Slot<'a>(&'a Engine);

impl Drop for Slot<'_> {
    fn drop(&mut self) {
        if self.0.opts.max_concurrency > 0 {
            let mut n = self.0.active.lock().unwrap_or_else(|p| p.into_inner());
            *n = n.saturating_sub(1);
            self.0.freed.notify_one();
        }
    }
}

impl Engine {
    /// An engine with `opts`.
    pub fn new(opts: EngineOptions) -> Engine {
        Engine {
            opts,
            active: Mutex::new(0),
            freed: Condvar::new(),
        }
    }

    /// The options.
    pub fn options(&self) -> &EngineOptions {
        &self.opts
    }

    /// Evaluates `query` at `ts` (milliseconds).
    pub fn instant<'q>(
        &self,
        queryable: &dyn Queryable,
        query: impl Into<Query<'q>>,
        ts: i64,
    ) -> Result<QueryResult> {
        self.exec(queryable, query.into(), ts, ts, 0, &QueryParams::default())
    }

    /// Evaluates `query` from `start` to `end` every `step` (milliseconds).
    pub fn range<'q>(
        &self,
        queryable: &dyn Queryable,
        query: impl Into<Query<'q>>,
        start: i64,
        end: i64,
        step: i64,
    ) -> Result<QueryResult> {
        if step <= 0 {
            return Err(Error::Invalid(
                "zero or negative query resolution step widths are not accepted. Try a positive integer".into(),
            ));
        }
        if end < start {
            return Err(Error::Invalid(
                "end timestamp must not be before start time".into(),
            ));
        }
        self.exec(
            queryable,
            query.into(),
            start,
            end,
            step,
            &QueryParams::default(),
        )
    }

    /// Evaluates `query`: an instant query when `step` is 0 (then `start`
    /// must equal `end`), a range query otherwise.
    pub fn exec(
        &self,
        queryable: &dyn Queryable,
        query: Query<'_>,
        start: i64,
        end: i64,
        step: i64,
        params: &QueryParams,
    ) -> Result<QueryResult> {
        let began = Instant::now();
        let _slot = self.acquire();
        let parsed;
        let expr = match query {
            Query::Text(s) => {
                parsed = parse_with(s, self.opts.parser)?;
                &parsed
            }
            Query::Expr(e) => e,
        };
        self.validate(expr)?;
        let is_range = step > 0;
        if is_range && !matches!(expr.value_type(), ValueType::Scalar | ValueType::Vector) {
            return Err(Error::Invalid(format!(
                "invalid expression type \"{}\" for range query, must be Scalar or instant Vector",
                expr.value_type().documented()
            )));
        }
        let lookback = params.lookback_delta.unwrap_or(self.opts.lookback_delta);
        let mut ctx = Ctx::new(
            &self.opts,
            queryable,
            start,
            end,
            step,
            lookback.as_millis() as i64,
            began + self.opts.timeout,
            params.cancel.clone(),
        );
        ctx.stats_selectors = crate::selector::stats_selectors(expr);
        ctx.invariant = crate::invariant::nodes(expr);
        let prepared = Instant::now();
        let mut ev = Evaluator::new(&ctx, start, end, if is_range { step } else { 1 });
        let val = ev.eval(expr);
        let val = val.and_then(|v| ev.finish(v));
        let annotations = std::mem::take(&mut ev.annos);
        let val = val?;
        let steps = std::mem::take(&mut ev.stats);
        let stats = QueryStats {
            total_queryable_samples: steps.total.iter().sum(),
            total_queryable_samples_per_step: steps.total,
            samples_read: steps.read.iter().sum(),
            samples_read_per_step: steps.read,
            peak_samples: ctx.peak_samples.get(),
            prepare_seconds: (prepared - began).as_secs_f64(),
            eval_seconds: prepared.elapsed().as_secs_f64(),
        };
        let value = match val {
            Val::String(s) => Value::String { t: start, v: s },
            Val::Matrix(mut mat) => {
                if is_range {
                    sort_matrix(&mut mat);
                    Value::Matrix(mat)
                } else {
                    match expr.value_type() {
                        ValueType::Scalar => Value::Scalar {
                            t: start,
                            v: mat
                                .first()
                                .and_then(|s| s.floats.first())
                                .map_or(f64::NAN, |p| p.f),
                        },
                        ValueType::Matrix => {
                            sort_matrix(&mut mat);
                            Value::Matrix(mat)
                        }
                        _ => Value::Vector(
                            mat.into_iter()
                                .map(|s| Sample {
                                    f: s.floats.first().map_or(0.0, |p| p.f),
                                    h: s.histograms.first().map(|p| p.h.clone()),
                                    metric: s.metric,
                                    t: start,
                                    drop_name: false,
                                })
                                .collect(),
                        ),
                    }
                }
            }
        };
        Ok(QueryResult {
            value,
            annotations,
            stats,
        })
    }

    fn acquire(&self) -> Slot<'_> {
        if self.opts.max_concurrency > 0 {
            let mut n = self.active.lock().unwrap_or_else(|p| p.into_inner());
            while *n >= self.opts.max_concurrency {
                n = self.freed.wait(n).unwrap_or_else(|p| p.into_inner());
            }
            *n += 1;
        }
        Slot(self)
    }

    fn validate(&self, expr: &Expr) -> Result<()> {
        let mut err = None;
        walk(expr, &mut |e| {
            let (at, offset) = match e {
                Expr::VectorSelector(vs) => (vs.at, vs.offset.as_ref()),
                Expr::MatrixSelector(ms) => {
                    (ms.vector_selector.at, ms.vector_selector.offset.as_ref())
                }
                Expr::Subquery(sq) => (sq.at, sq.offset.as_ref()),
                _ => (None, None),
            };
            if at.is_some() && !self.opts.enable_at_modifier {
                err.get_or_insert(Error::Invalid("@ modifier is disabled".into()));
            }
            if let Some(DurationArg::Fixed(d)) = offset
                && d.nanos() < 0
                && !self.opts.enable_negative_offset
            {
                err.get_or_insert(Error::Invalid("negative offset is disabled".into()));
            }
        });
        err.map_or(Ok(()), Err)
    }
}

/// Calls `f` on `e` and every node below it.
pub(crate) fn walk(e: &Expr, f: &mut impl FnMut(&Expr)) {
    f(e);
    if let Expr::MatrixSelector(_) = e {
        return;
    }
    for c in e.children() {
        walk(c, f);
    }
}

/// Sorts a matrix by labels, as Prometheus returns range results.
pub(crate) fn sort_matrix(m: &mut Matrix) {
    m.sort_by(|a, b| a.metric.cmp(&b.metric));
}

/// Whether the expression has an `@` modifier anywhere.
pub fn has_at_modifier(e: &Expr) -> bool {
    let mut found = false;
    walk(e, &mut |n| {
        let at: Option<AtModifier> = match n {
            Expr::VectorSelector(vs) => vs.at,
            Expr::MatrixSelector(ms) => ms.vector_selector.at,
            Expr::Subquery(sq) => sq.at,
            _ => None,
        };
        found |= at.is_some();
    });
    found
}
