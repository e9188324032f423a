//! The PromQL engine: evaluates PromQL over the storage seams.
//!
//! Owns evaluation with Prometheus 3.x semantics — instant and range
//! queries ([`Engine::instant`], [`Engine::range`]), left-open range windows
//! `(t - range, t]` and lookback `(t - 5m, t]`, staleness markers, `@` and
//! `offset` (negative too), subqueries aligned like Prometheus's, every
//! function and aggregation, vector matching, Kahan-compensated sums, delayed
//! `__name__` removal (an option, off by default as in Prometheus 3.x),
//! native histogram arithmetic, annotations with
//! Prometheus's texts, and the limits (timeout, max samples, concurrency,
//! cancellation) with per-query statistics.
//!
//! Knows nothing of how samples are stored (it reads through
//! [`storage::Queryable`]; it must never depend on `tsdb`), nor of HTTP or
//! JSON. Pure and synchronous.
//!
//! Layout: [`engine`] (options, entry points, results), `eval` (the
//! evaluator, subqueries, per-step assembly), `selector` (reading series,
//! lookback and windows), `binary`, `aggregate`, `functions/` (one file per
//! family; `extended_hist` for `anchored`/`smoothed` histograms), `histogram`
//! (native histogram arithmetic; `histogram/arith` is Prometheus's
//! `Add`/`Sub`/`KahanAdd`, `histogram/trim` the `</` and `>/` operators),
//! `quantile`, `info`, `xxhash` (`labels.Hash()` for `limit_ratio`),
//! `invariant` (step-invariant nodes: evaluated at the first step and
//! repeated, as Prometheus's `StepInvariantExpr`).
//!
//! Query statistics and the sample limit count as Prometheus's evaluator
//! does (`eval::StepStats`): samples per step as the selectors contribute
//! them, samples read once, and the peak of samples held — a range-vector
//! function holds its current window, histograms count by Go's in-memory
//! size. Checked against Prometheus's own cases in
//! `promqltest/tests/query_stats.rs`.

mod aggregate;
mod annotations;
mod binary;
mod engine;
mod error;
mod eval;
mod functions;
mod histogram;
mod info;
mod invariant;
mod quantile;
mod selector;
mod value;
mod xxhash;

pub use annotations::Annotations;
pub use engine::{
    CancelToken, Engine, EngineOptions, Query, QueryParams, QueryResult, QueryStats,
    has_at_modifier,
};
pub use error::{Error, Result};
pub use invariant::STEP_DEPENDENT;
/// `a += b` (or `a -= b` when `sub`) on float histograms with Prometheus's
/// `FloatHistogram.Add`/`Sub` semantics (zero-bucket, schema and custom
/// bound reconciliation). False when one has custom buckets and the other
/// not (then `a` is unchanged).
pub fn add_histograms(a: &mut model::FloatHistogram, b: &model::FloatHistogram, sub: bool) -> bool {
    histogram::add(a, b, sub).is_ok()
}

pub use value::{
    FPoint, HPoint, Matrix, Sample, Series, Value, Vector, format_float, format_float_f,
};
