//! The PromQL engine: evaluates PromQL over the storage seams.
//!
//! Owns evaluation with Prometheus 3.x semantics — instant and range
//! queries ([`Engine::instant`], [`Engine::range`]), left-open range windows
//! `(t - range, t]` and lookback `(t - 5m, t]`, staleness markers, `@` and
//! `offset` (negative too), subqueries aligned like Prometheus's, every
//! function and aggregation, vector matching, Kahan-compensated sums, delayed
//! `__name__` removal, native histogram arithmetic, annotations with
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
//! family), `histogram` (native histogram arithmetic), `quantile`, `info`.

mod aggregate;
mod annotations;
mod binary;
mod engine;
mod error;
mod eval;
mod functions;
mod histogram;
mod info;
mod quantile;
mod selector;
mod value;

pub use annotations::Annotations;
pub use engine::{
    CancelToken, Engine, EngineOptions, Query, QueryParams, QueryResult, QueryStats,
    has_at_modifier,
};
pub use error::{Error, Result};
pub use value::{
    FPoint, HPoint, Matrix, Sample, Series, Value, Vector, format_float, format_float_f,
};
