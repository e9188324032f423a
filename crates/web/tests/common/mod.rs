//! The data set and request table shared by the golden tests and the
//! comparison against a live Prometheus, and an in-memory queryable.
//!
//! Times are relative to `t0` (ms, a whole minute): the golden tests use a
//! fixed `t0`, the live comparison a recent one (Prometheus's head only
//! takes recent samples). Request paths write times as `{T}`, `{T+300}` or
//! `{T+30.5}` (seconds after `t0`).

#![allow(dead_code, unreachable_pub)]

use std::sync::Arc;

use axum::body::Body;
use axum::http::{Request, StatusCode};
use model::histogram::{CounterResetHint, Span};
use model::{FloatHistogram, Labels, STALE_NAN};
use storage::vec::{Value, VecQuerier, VecSeries};
use storage::{Querier, Queryable, StorageError};
use tower::ServiceExt;

/// Samples per series, 15 s apart.
pub const SAMPLES: i64 = 40;
/// Scrape interval of the data set, ms.
pub const STEP_MS: i64 = 15_000;

/// The in-memory store.
pub struct Mem(pub Vec<VecSeries>);

impl Queryable for Mem {
    fn querier(&self, mint: i64, maxt: i64) -> Result<Box<dyn Querier + '_>, StorageError> {
        Ok(Box::new(VecQuerier::new(self.0.clone(), mint, maxt)))
    }
}

/// One series of the data set: labels and a value per sample index.
pub struct SeriesDef {
    pub labels: Vec<(&'static str, &'static str)>,
    pub value: fn(i64) -> Option<f64>,
}

/// The float series (also sent to Prometheus).
pub fn float_series() -> Vec<SeriesDef> {
    fn def(labels: Vec<(&'static str, &'static str)>, value: fn(i64) -> Option<f64>) -> SeriesDef {
        SeriesDef { labels, value }
    }
    vec![
        def(
            vec![
                ("__name__", "up"),
                ("instance", "localhost:9090"),
                ("job", "prometheus"),
            ],
            |_| Some(1.0),
        ),
        def(
            vec![
                ("__name__", "up"),
                ("instance", "localhost:9100"),
                ("job", "node"),
            ],
            |k| Some((k % 2) as f64),
        ),
        def(
            vec![
                ("__name__", "http_requests_total"),
                ("code", "200"),
                ("job", "api"),
                ("method", "GET"),
            ],
            |k| Some((k * 10) as f64),
        ),
        def(
            vec![
                ("__name__", "http_requests_total"),
                ("code", "500"),
                ("job", "api"),
                ("method", "POST"),
            ],
            |k| Some(k as f64 * 0.5),
        ),
        def(vec![("__name__", "float_corner"), ("case", "nan")], |_| {
            Some(f64::NAN)
        }),
        def(vec![("__name__", "float_corner"), ("case", "inf")], |_| {
            Some(f64::INFINITY)
        }),
        def(
            vec![("__name__", "float_corner"), ("case", "neginf")],
            |_| Some(f64::NEG_INFINITY),
        ),
        def(vec![("__name__", "float_corner"), ("case", "tiny")], |_| {
            Some(1e-7)
        }),
        def(vec![("__name__", "float_corner"), ("case", "big")], |_| {
            Some(1.5e21)
        }),
        def(
            vec![("__name__", "float_corner"), ("case", "neg_zero")],
            |_| Some(-0.0),
        ),
        def(vec![("__name__", "float_corner"), ("case", "sum")], |_| {
            Some(0.1 + 0.2)
        }),
        def(
            vec![("__name__", "float_corner"), ("case", "precise")],
            |_| Some(0.09838999999999999),
        ),
        def(vec![("__name__", "float_corner"), ("case", "huge")], |_| {
            Some(123456789012345680000.0)
        }),
        def(
            vec![
                ("__name__", "weird"),
                ("label", "a<b>&\"c\"\n\\ é \u{2028} \u{1}"),
            ],
            |_| Some(1.0),
        ),
        def(vec![("__name__", "gone"), ("job", "x")], |k| match k {
            0..20 => Some(k as f64),
            20 => Some(STALE_NAN),
            _ => None,
        }),
    ]
}

/// A native histogram series (the compatibility test sends the same values
/// as integer histograms).
pub fn histogram_series(t0: i64) -> VecSeries {
    let samples = (0..SAMPLES)
        .map(|k| {
            let n = (k + 1) as f64;
            let h = FloatHistogram {
                counter_reset_hint: CounterResetHint::NotCounterReset,
                schema: 1,
                zero_threshold: 0.001,
                zero_count: n,
                count: 7.0 * n,
                sum: 12.5 * n,
                positive_spans: vec![
                    Span {
                        offset: 0,
                        length: 2,
                    },
                    Span {
                        offset: 1,
                        length: 1,
                    },
                ],
                positive_buckets: vec![n, 2.0 * n, 0.0],
                negative_spans: vec![Span {
                    offset: 1,
                    length: 1,
                }],
                negative_buckets: vec![3.0 * n],
                custom_values: Vec::new(),
            };
            (t0 + k * STEP_MS, Value::FloatHistogram(Arc::new(h)))
        })
        .collect();
    VecSeries::new(
        Labels::from_pairs([("__name__", "rpc_duration_seconds"), ("job", "api")]),
        samples,
    )
}

/// The float series as stored samples.
pub fn float_vec_series(t0: i64) -> Vec<VecSeries> {
    float_series()
        .into_iter()
        .map(|d| {
            let samples = (0..SAMPLES)
                .filter_map(|k| (d.value)(k).map(|v| (t0 + k * STEP_MS, v)))
                .collect::<Vec<_>>();
            VecSeries::floats(Labels::from_pairs(d.labels.iter().copied()), samples)
        })
        .collect()
}

/// A request of the table.
pub struct Case {
    /// Name of the golden file.
    pub name: &'static str,
    /// `GET` or `POST`.
    pub method: &'static str,
    /// Path and query, with `{T...}` times.
    pub path: &'static str,
    /// Form body for POST.
    pub body: &'static str,
    /// Expected status code.
    pub status: u16,
    /// Why the live Prometheus 2.42 cannot be compared, if it cannot
    /// (3.x behaviour, which we follow, or data 2.42 cannot hold).
    pub not_2_42: Option<&'static str>,
}

const fn get(name: &'static str, path: &'static str, status: u16) -> Case {
    Case {
        name,
        method: "GET",
        path,
        body: "",
        status,
        not_2_42: None,
    }
}

const fn newer(mut c: Case, why: &'static str) -> Case {
    c.not_2_42 = Some(why);
    c
}

/// The request table.
pub fn cases() -> Vec<Case> {
    vec![
        // Instant queries.
        get("query_vector", "/api/v1/query?query=up&time={T+300}", 200),
        get(
            "query_vector_ms",
            "/api/v1/query?query=up&time={T+300.123}",
            200,
        ),
        get(
            "query_matrix",
            "/api/v1/query?query=http_requests_total%5B1m%5D&time={T+127}",
            200,
        ),
        get("query_scalar", "/api/v1/query?query=1.5&time={T+10}", 200),
        get(
            "query_scalar_fn",
            "/api/v1/query?query=scalar(up%7Bjob%3D%22prometheus%22%7D)&time={T+10}",
            200,
        ),
        get(
            "query_string",
            "/api/v1/query?query=%22hello%22&time={T+10}",
            200,
        ),
        get(
            "query_float_corners",
            "/api/v1/query?query=float_corner&time={T+300}",
            200,
        ),
        get(
            "query_escaping",
            "/api/v1/query?query=weird&time={T+300}",
            200,
        ),
        get(
            "query_rate",
            "/api/v1/query?query=rate(http_requests_total%5B5m%5D)&time={T+400}",
            200,
        ),
        get(
            "query_sum_by",
            "/api/v1/query?query=sum+by+(job)+(up)&time={T+300}",
            200,
        ),
        get(
            "query_arith",
            "/api/v1/query?query=http_requests_total+%2F+3&time={T+300}",
            200,
        ),
        get("query_stale", "/api/v1/query?query=gone&time={T+310}", 200),
        get(
            "query_before_stale",
            "/api/v1/query?query=gone&time={T+290}",
            200,
        ),
        get(
            "query_empty",
            "/api/v1/query?query=nothing_here&time={T+300}",
            200,
        ),
        Case {
            name: "query_post",
            method: "POST",
            path: "/api/v1/query",
            body: "query=up%7Bjob%3D%22node%22%7D&time={T+45}",
            status: 200,
            not_2_42: None,
        },
        newer(
            get(
                "query_limit",
                "/api/v1/query?query=up&time={T+300}&limit=1",
                200,
            ),
            "`limit` is a 3.x parameter",
        ),
        get(
            "query_histogram",
            "/api/v1/query?query=rpc_duration_seconds&time={T+300}",
            200,
        ),
        get(
            "query_range_histogram",
            "/api/v1/query_range?query=rpc_duration_seconds&start={T}&end={T+30}&step=15",
            200,
        ),
        get(
            "query_histogram_fns",
            "/api/v1/query?query=histogram_count(rpc_duration_seconds)+or+histogram_sum(rpc_duration_seconds)&time={T+300}",
            200,
        ),
        // Query errors.
        get("error_parse", "/api/v1/query?query=sum(up&time={T}", 400),
        newer(
            get("error_parse_empty", "/api/v1/query?time={T}", 400),
            "3.x reports an empty query at `unknown position`, 2.42 at `1:1`",
        ),
        newer(
            get("error_time", "/api/v1/query?query=up&time=abc", 400),
            "2.42 capitalizes `Invalid time value`",
        ),
        get(
            "error_timeout_param",
            "/api/v1/query?query=up&timeout=xyz",
            400,
        ),
        get(
            "error_execution",
            "/api/v1/query?query=label_replace(label_replace(up%2C%22instance%22%2C%22%22%2C%22%22%2C%22%22)%2C%22job%22%2C%22%22%2C%22%22%2C%22%22)&time={T+300}",
            422,
        ),
        // Range queries.
        get(
            "query_range",
            "/api/v1/query_range?query=up&start={T}&end={T+120}&step=30",
            200,
        ),
        get(
            "query_range_duration_step",
            "/api/v1/query_range?query=rate(http_requests_total%5B1m%5D)&start={T+67}&end={T+307}&step=1m",
            200,
        ),
        get(
            "query_range_fractional",
            "/api/v1/query_range?query=http_requests_total&start={T+30.5}&end={T+90.5}&step=20.25",
            200,
        ),
        get(
            "query_range_scalar",
            "/api/v1/query_range?query=time()&start={T}&end={T+60}&step=30",
            200,
        ),
        get(
            "query_range_rfc3339",
            "/api/v1/query_range?query=vector(1)&start=2015-07-01T20:10:30.781Z&end=2015-07-01T20:11:00.781Z&step=15s",
            200,
        ),
        get(
            "error_range_end_before_start",
            "/api/v1/query_range?query=up&start={T+60}&end={T}&step=15",
            400,
        ),
        get(
            "error_range_zero_step",
            "/api/v1/query_range?query=up&start={T}&end={T+60}&step=0",
            400,
        ),
        get(
            "error_range_bad_step",
            "/api/v1/query_range?query=up&start={T}&end={T+60}&step=abc",
            400,
        ),
        get(
            "error_range_resolution",
            "/api/v1/query_range?query=up&start={T}&end={T+100000}&step=1",
            400,
        ),
        get(
            "error_range_bad_start",
            "/api/v1/query_range?query=up&start=x&end={T}&step=15",
            400,
        ),
        newer(
            get(
                "error_range_matrix",
                "/api/v1/query_range?query=up%5B1m%5D&start={T}&end={T+60}&step=15",
                400,
            ),
            "3.x prefixes `invalid parameter \"query\": `",
        ),
        // Series, labels, label values.
        get("series", "/api/v1/series?match%5B%5D=up", 200),
        get(
            "series_multi",
            "/api/v1/series?match%5B%5D=up%7Bjob%3D%22node%22%7D&match%5B%5D=http_requests_total&match%5B%5D=up",
            200,
        ),
        get(
            "series_range",
            "/api/v1/series?match%5B%5D=%7Bjob%3D~%22.%2B%22%7D&start={T}&end={T+600}",
            200,
        ),
        get(
            "series_out_of_range",
            "/api/v1/series?match%5B%5D=up&start={T+3600}&end={T+7200}",
            200,
        ),
        get("error_series_no_match", "/api/v1/series", 400),
        get(
            "error_series_empty_matcher",
            "/api/v1/series?match%5B%5D=%7Bjob%3D~%22.*%22%7D",
            400,
        ),
        get(
            "error_series_bad_selector",
            "/api/v1/series?match%5B%5D=up%7B",
            400,
        ),
        Case {
            name: "series_post",
            method: "POST",
            path: "/api/v1/series",
            body: "match%5B%5D=http_requests_total%7Bmethod%3D%22GET%22%7D",
            status: 200,
            not_2_42: None,
        },
        get("labels", "/api/v1/labels", 200),
        get(
            "labels_match",
            "/api/v1/labels?match%5B%5D=http_requests_total",
            200,
        ),
        get(
            "labels_match_multi",
            "/api/v1/labels?match%5B%5D=float_corner&match%5B%5D=gone",
            200,
        ),
        get("label_values_job", "/api/v1/label/job/values", 200),
        get("label_values_name", "/api/v1/label/__name__/values", 200),
        get(
            "label_values_match",
            "/api/v1/label/job/values?match%5B%5D=up",
            200,
        ),
        get("label_values_unknown", "/api/v1/label/nope/values", 200),
        get("label_values_escaping", "/api/v1/label/label/values", 200),
        newer(
            get(
                "label_values_limit",
                "/api/v1/label/job/values?limit=2",
                200,
            ),
            "`limit` is a 3.x parameter",
        ),
        newer(
            get("labels_limit", "/api/v1/labels?limit=1", 200),
            "`limit` is a 3.x parameter",
        ),
        newer(
            get("label_values_utf8", "/api/v1/label/U__c_e9_/values", 200),
            "`U__` escaping in the path is 3.x",
        ),
        newer(
            get(
                "error_labels_bad_time",
                "/api/v1/labels?start=yesterday",
                400,
            ),
            "2.42 capitalizes `Invalid time value`",
        ),
        // Formatting.
        get(
            "format_query",
            "/api/v1/format_query?query=sum(rate(foo%7Bbar%3D%22baz%22%7D%5B5m%5D))by(job)",
            200,
        ),
        get(
            "error_format_query",
            "/api/v1/format_query?query=foo%7B",
            400,
        ),
        // Empty until rules, notifier and scraping exist.
        get("alerts", "/api/v1/alerts", 200),
        get("rules", "/api/v1/rules", 200),
        get("alertmanagers", "/api/v1/alertmanagers", 200),
        newer(
            get("targets", "/api/v1/targets", 200),
            "`droppedTargetCounts` is newer than 2.42",
        ),
        newer(
            get("targets_active", "/api/v1/targets?state=active", 200),
            "`droppedTargetCounts` is newer than 2.42",
        ),
        get("targets_metadata", "/api/v1/targets/metadata", 200),
        get("metadata", "/api/v1/metadata", 200),
        get(
            "query_exemplars",
            "/api/v1/query_exemplars?query=up&start={T}&end={T+600}",
            200,
        ),
        get("metadata_bad_limit", "/api/v1/metadata?limit=x", 400),
    ]
}

/// `{T}`, `{T+300}`, `{T+30.5}` → seconds.
pub fn expand(s: &str, t0: i64) -> String {
    let mut out = String::new();
    let mut rest = s;
    while let Some(i) = rest.find("{T") {
        out.push_str(&rest[..i]);
        let end = rest[i..].find('}').expect("closing brace") + i;
        let off = &rest[i + 2..end];
        let ms = t0
            + match off.strip_prefix('+') {
                Some(n) => (n.parse::<f64>().expect("offset") * 1000.0).round() as i64,
                None => 0,
            };
        if ms % 1000 == 0 {
            out.push_str(&(ms / 1000).to_string());
        } else {
            out.push_str(&format!("{}.{:03}", ms / 1000, ms % 1000));
        }
        rest = &rest[end + 1..];
    }
    out.push_str(rest);
    out
}

/// The router over the data set at `t0`, the clock at `now`.
/// With `extras`, a native histogram and a UTF-8 label name are added.
pub fn router(t0: i64, now: fn() -> i64, extras: bool) -> axum::Router {
    let mut series = float_vec_series(t0);
    if extras {
        series.push(histogram_series(t0));
        series.push(VecSeries::floats(
            Labels::from_pairs([("__name__", "utf8_metric"), ("cé", "x")]),
            [(t0, 1.0)],
        ));
    }
    let engine = promql::Engine::new(promql::EngineOptions {
        max_concurrency: 0,
        ..promql::EngineOptions::default()
    });
    let mut api = web::Api::new(Arc::new(Mem(series)), Arc::new(engine));
    api.options.clock = now;
    web::router(api)
}

/// Sends one request through the router: (status, body).
pub async fn call(router: &axum::Router, method: &str, path: &str, body: &str) -> (u16, String) {
    let mut req = Request::builder().method(method).uri(path);
    if method == "POST" {
        req = req.header("Content-Type", "application/x-www-form-urlencoded");
    }
    let req = req.body(Body::from(body.to_string())).expect("request");
    let resp = router.clone().oneshot(req).await.expect("response");
    let status = resp.status();
    let bytes = axum::body::to_bytes(resp.into_body(), usize::MAX)
        .await
        .expect("body");
    (
        status.as_u16(),
        String::from_utf8(bytes.to_vec()).expect("utf-8 body"),
    )
}

/// `StatusCode` for messages.
pub fn status_name(code: u16) -> String {
    StatusCode::from_u16(code).map_or(code.to_string(), |s| s.to_string())
}
