//! `/api/v1/query`, `/api/v1/query_range`, `/api/v1/format_query` and
//! `/api/v1/parse_query`.
//!
//! Parameters are checked in Prometheus's order (so the first bad one is
//! the one reported), then the query runs on the blocking pool once a
//! concurrency slot is free. A `timeout` parameter cancels it; the client
//! going away cancels it too.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use axum::extract::{Request, State};
use axum::response::Response;
use promql::{CancelToken, Error as EngineError, QueryParams, QueryResult, Value};

use crate::api::{self, ApiError, ErrorType, Outcome, Req, Shared};
use crate::json::Writer;
use crate::metrics::Slice;
use crate::params::{self, Form};

/// Prometheus's resolution guard: points per series of a range query.
const MAX_POINTS: i64 = 11_000;

/// `GET|POST /api/v1/query`.
pub(crate) async fn instant(State(shared): State<Arc<Shared>>, req: Request) -> Response {
    run(shared, req, false).await
}

/// `GET|POST /api/v1/query_range`.
pub(crate) async fn range(State(shared): State<Arc<Shared>>, req: Request) -> Response {
    run(shared, req, true).await
}

/// `GET|POST /api/v1/format_query`.
pub(crate) async fn format(State(shared): State<Arc<Shared>>, req: Request) -> Response {
    api::run(shared, req, |shared, req| {
        match promql_syntax::parse_with(req.form.get("query"), shared.parser()) {
            Ok(e) => {
                let mut w = Writer::default();
                w.str(&promql_syntax::pretty(&e));
                Outcome::data(w.finish())
            }
            Err(e) => ApiError::param("query", e).into(),
        }
    })
    .await
}

/// `GET|POST /api/v1/parse_query` (3.x): the expression's syntax tree.
pub(crate) async fn parse(State(shared): State<Arc<Shared>>, req: Request) -> Response {
    api::run(shared, req, |shared, req| {
        match promql_syntax::parse_with(req.form.get("query"), shared.parser()) {
            Ok(e) => {
                let mut w = Writer::default();
                crate::parse_query::translate(&mut w, &e);
                Outcome::data(w.finish())
            }
            Err(e) => ApiError::param("query", e).into(),
        }
    })
    .await
}

async fn run(shared: Arc<Shared>, req: Request, is_range: bool) -> Response {
    if let Some(r) = api::not_ready(&shared) {
        return r;
    }
    let headers = req.headers().clone();
    let out = match Req::read(req, shared.api.options.max_body_bytes).await {
        Ok(r) => match plan(&shared, &r.form, is_range) {
            Ok(plan) => execute(&shared, plan).await,
            Err(e) => Outcome::Error(e),
        },
        Err(e) => Outcome::Error(e),
    };
    api::respond(&headers, out)
}

/// A validated query request.
struct Plan {
    query: String,
    start: i64,
    end: i64,
    /// 0 for instant queries, ms.
    step: i64,
    limit: usize,
    timeout: Option<Duration>,
    lookback: Option<Duration>,
    stats: String,
}

fn plan(shared: &Shared, form: &Form, is_range: bool) -> Result<Plan, ApiError> {
    let limit = params::limit_param(form).map_err(|e| ApiError::param("limit", e))?;
    let (start, end, step) = if is_range {
        let start =
            params::parse_time(form.get("start")).map_err(|e| ApiError::param("start", e))?;
        let end = params::parse_time(form.get("end")).map_err(|e| ApiError::param("end", e))?;
        if end < start {
            return Err(ApiError::param(
                "end",
                "end timestamp must not be before start time",
            ));
        }
        let step_ns =
            params::parse_duration(form.get("step")).map_err(|e| ApiError::param("step", e))?;
        if step_ns <= 0 {
            return Err(ApiError::param(
                "step",
                "zero or negative query resolution step widths are not accepted. Try a positive integer",
            ));
        }
        let span_ns = i128::from(end - start) * 1_000_000;
        if span_ns / i128::from(step_ns) > i128::from(MAX_POINTS) {
            return Err(ApiError::bad_data(
                "exceeded maximum resolution of 11,000 points per timeseries. Try decreasing the query resolution (?step=XX)",
            ));
        }
        (start, end, (step_ns / 1_000_000).max(1))
    } else {
        let t = params::time_param(form, "time", shared.now())
            .map_err(|e| ApiError::param("time", e))?;
        (t, t, 0)
    };
    let timeout = match form.get("timeout") {
        "" => None,
        s => {
            let ns = params::parse_duration(s).map_err(|e| ApiError::param("timeout", e))?;
            Some(Duration::from_nanos(u64::try_from(ns).unwrap_or(0)))
        }
    };
    let lookback = match form.get("lookback_delta") {
        "" => None,
        s => {
            let ns = params::parse_duration(s).map_err(|e| {
                ApiError::bad_data(format!("error parsing lookback delta duration: {e}"))
            })?;
            // Zero (or less) means the engine's default, as in Prometheus.
            (ns > 0).then(|| Duration::from_nanos(ns.unsigned_abs()))
        }
    };
    Ok(Plan {
        query: form.get("query").to_string(),
        start,
        end,
        step,
        limit,
        timeout,
        lookback,
        stats: form.get("stats").to_string(),
    })
}

/// Cancels the query if the request is dropped before it finished.
struct CancelOnDrop(CancelToken);

impl Drop for CancelOnDrop {
    fn drop(&mut self) {
        self.0.cancel();
    }
}

async fn execute(shared: &Shared, plan: Plan) -> Outcome {
    let _in_flight = crate::metrics::InFlight::new(&shared.metrics.queries);
    let queued = std::time::Instant::now();
    let Ok(permit) = shared.slots.clone().acquire_owned().await else {
        return ApiError::new(ErrorType::Internal, "query slots closed").into();
    };
    shared
        .metrics
        .observe_slice(Slice::QueueTime, queued.elapsed().as_secs_f64());
    let cancel = CancelToken::new();
    let _guard = CancelOnDrop(cancel.clone());
    let timed_out = Arc::new(AtomicBool::new(false));
    let engine = shared.api.engine.clone();
    let queryable = shared.api.queryable.clone();
    let params = QueryParams {
        lookback_delta: plan.lookback,
        cancel: Some(cancel.clone()),
    };
    let (query, start, end, step) = (plan.query.clone(), plan.start, plan.end, plan.step);
    let mut task = tokio::task::spawn_blocking(move || {
        let _permit = permit;
        engine.exec(
            &*queryable,
            promql::Query::Text(&query),
            start,
            end,
            step,
            &params,
        )
    });
    let joined = match plan.timeout {
        Some(d) => {
            tokio::select! {
                r = &mut task => r,
                () = tokio::time::sleep(d) => {
                    timed_out.store(true, Ordering::Relaxed);
                    cancel.cancel();
                    task.await
                }
            }
        }
        None => task.await,
    };
    let result = match joined {
        Ok(r) => r,
        Err(e) => {
            return ApiError::new(ErrorType::Internal, format!("query evaluation failed: {e}"))
                .into();
        }
    };
    match result {
        Ok(res) => {
            let m = &shared.metrics;
            m.observe_slice(Slice::PrepareTime, res.stats.prepare_seconds);
            m.observe_slice(Slice::InnerEval, res.stats.eval_seconds);
            // The engine returns series in their final order; no sort step.
            m.observe_slice(Slice::ResultSort, 0.0);
            success(res, &plan)
        }
        Err(e) => engine_error(e, timed_out.load(Ordering::Relaxed)).into(),
    }
}

/// Maps an engine error to the API's type and text (`returnAPIError`, and
/// the `invalid parameter "query"` of query construction).
fn engine_error(e: EngineError, timed_out: bool) -> ApiError {
    match e {
        EngineError::Parse(_) | EngineError::Invalid(_) => ApiError::param("query", e),
        EngineError::Timeout(_) => ApiError::new(ErrorType::Timeout, e.to_string()),
        EngineError::Canceled(stage) if timed_out => {
            ApiError::new(ErrorType::Timeout, format!("query timed out in {stage}"))
        }
        EngineError::Canceled(_) => ApiError::new(ErrorType::Canceled, e.to_string()),
        EngineError::Storage(storage::StorageError::Canceled) => {
            let (typ, msg) = if timed_out {
                (ErrorType::Timeout, "query timed out in query execution")
            } else {
                (ErrorType::Canceled, "query was canceled in query execution")
            };
            ApiError::new(typ, msg)
        }
        EngineError::Storage(_) => ApiError::new(ErrorType::Internal, e.to_string()),
        EngineError::TooManySamples(_) | EngineError::Eval(_) => {
            ApiError::new(ErrorType::Execution, e.to_string())
        }
    }
}

fn success(mut res: QueryResult, plan: &Plan) -> Outcome {
    let mut warnings = std::mem::take(&mut res.annotations.warnings);
    let infos = std::mem::take(&mut res.annotations.infos);
    if plan.limit > 0 {
        let truncated = match &mut res.value {
            Value::Vector(v) if v.len() > plan.limit => {
                v.truncate(plan.limit);
                true
            }
            Value::Matrix(m) if m.len() > plan.limit => {
                m.truncate(plan.limit);
                true
            }
            _ => false,
        };
        if truncated {
            warnings.push("results truncated due to limit".into());
        }
    }
    if !matches!(plan.stats.as_str(), "" | "true" | "all") {
        warnings.push(format!(
            "value {} for parameter \"stats\" is deprecated and will be rejected in the next major release, use \"true\" or \"all\"",
            params::go_quote(&plan.stats)
        ));
    }
    let mut w = Writer::with_capacity(256);
    w.obj().key("resultType").str(res.value.type_name());
    w.key("result").query_value(&res.value);
    if !plan.stats.is_empty() {
        w.key("stats");
        write_stats(&mut w, &res.stats);
    }
    w.end_obj();
    Outcome::Data {
        json: w.finish(),
        warnings,
        infos,
    }
}

/// `stats.NewQueryStats` without the per-step statistics, which
/// Prometheus writes only under `--enable-feature=promql-per-step-stats`
/// (not offered; the engine has them in `QueryStats`).
fn write_stats(w: &mut Writer, s: &promql::QueryStats) {
    let total = s.prepare_seconds + s.eval_seconds;
    w.obj().key("timings").obj();
    w.key("evalTotalTime").go_float(s.eval_seconds);
    w.key("resultSortTime").go_float(0.0);
    w.key("queryPreparationTime").go_float(s.prepare_seconds);
    w.key("innerEvalTime").go_float(s.eval_seconds);
    w.key("execQueueTime").go_float(0.0);
    w.key("execTotalTime").go_float(total);
    w.end_obj();
    w.key("samples").obj();
    w.key("totalQueryableSamples")
        .int(i64::try_from(s.total_queryable_samples).unwrap_or(i64::MAX));
    w.key("samplesRead")
        .int(i64::try_from(s.samples_read).unwrap_or(i64::MAX));
    w.key("peakSamples")
        .int(i64::try_from(s.peak_samples).unwrap_or(i64::MAX));
    w.end_obj();
    w.end_obj();
}
