//! The HTTP API's own metrics, named and bucketed as Prometheus 3.x's:
//!
//! - `prometheus_http_requests_total{code,handler}`,
//!   `prometheus_http_request_duration_seconds{handler}` (buckets .1 … 120)
//!   and `prometheus_http_response_size_bytes{handler}` (100 × 10ⁿ, n < 8),
//!   where `handler` is the route template without the route prefix
//!   (`/api/v1/query`, `/api/v1/label/:name/values`, `/metrics`);
//! - `prometheus_engine_queries` (running or waiting),
//!   `prometheus_engine_queries_concurrent_max` and the summary
//!   `prometheus_engine_query_duration_seconds{slice}` (slices
//!   `inner_eval`, `prepare_time`, `queue_time`, `result_sort`);
//! - the remote receivers' `prometheus_api_remote_read_queries` and
//!   `prometheus_api_remote_write_invalid_labels_samples_total`.
//!
//! Updated once per request or query. Summary quantiles (0.5, 0.9, 0.99)
//! are exact over a bounded window of recent observations
//! ([`SummaryWindow`]) rather than client_golang's streaming estimate over
//! 10 minutes; count and sum cover all time.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Instant;

use axum::body::HttpBody as _;
use axum::extract::{MatchedPath, Request, State};
use axum::middleware::Next;
use axum::response::Response;
use expfmt::family::{Bucket, Counter, Histogram, SummaryWindow};
use expfmt::{Metric, MetricFamily, MetricValue};
use model::MetricType;

use crate::api::Shared;

/// `prometheus_http_request_duration_seconds` bucket bounds.
const DURATION_BUCKETS: &[f64] = &[0.1, 0.2, 0.4, 1.0, 3.0, 8.0, 20.0, 60.0, 120.0];
/// `prometheus_http_response_size_bytes` bucket bounds.
const SIZE_BUCKETS: &[f64] = &[1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9];
/// The quantiles of the summaries.
const OBJECTIVES: [f64; 3] = [0.5, 0.9, 0.99];

/// A classic histogram's state.
#[derive(Clone, Default)]
struct Hist {
    /// Per bucket (not cumulative), one more for `+Inf`.
    counts: Vec<u64>,
    count: u64,
    sum: f64,
}

impl Hist {
    fn observe(&mut self, bounds: &[f64], v: f64) {
        if self.counts.is_empty() {
            self.counts = vec![0; bounds.len() + 1];
        }
        let i = bounds.iter().position(|b| v <= *b).unwrap_or(bounds.len());
        self.counts[i] += 1;
        self.count += 1;
        self.sum += v;
    }

    fn value(&self, bounds: &[f64]) -> MetricValue {
        let mut cum = 0u64;
        let buckets = bounds
            .iter()
            .enumerate()
            .map(|(i, b)| {
                cum += self.counts.get(i).copied().unwrap_or(0);
                Bucket {
                    upper_bound: *b,
                    cumulative_count: cum as f64,
                    exemplar: None,
                }
            })
            .collect();
        MetricValue::Histogram(Histogram {
            count: self.count as f64,
            sum: self.sum,
            buckets,
            created_ms: None,
            native: None,
            exemplars: Vec::new(),
        })
    }
}

/// The engine's query slices.
#[derive(Clone, Copy)]
pub(crate) enum Slice {
    InnerEval,
    PrepareTime,
    QueueTime,
    ResultSort,
}

const SLICES: [(Slice, &str); 4] = [
    (Slice::InnerEval, "inner_eval"),
    (Slice::PrepareTime, "prepare_time"),
    (Slice::QueueTime, "queue_time"),
    (Slice::ResultSort, "result_sort"),
];

/// Everything the API counts about itself.
pub(crate) struct ApiMetrics {
    requests: Mutex<BTreeMap<(String, u16), u64>>,
    durations: Mutex<BTreeMap<String, Hist>>,
    sizes: Mutex<BTreeMap<String, Hist>>,
    /// Queries running or waiting for a slot.
    pub(crate) queries: AtomicI64,
    concurrent_max: i64,
    slices: [Mutex<SummaryWindow>; 4],
    /// Remote read requests running or waiting.
    pub(crate) remote_read_queries: AtomicI64,
    /// Remote write samples refused for invalid labels.
    pub(crate) remote_write: Arc<::remote::WriteMetrics>,
    route_prefix: String,
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

/// The handler label for a matched route: the template without the route
/// prefix, with axum's `{name}` written as Prometheus's `:name`.
pub(crate) fn handler_label(matched: &str, prefix: &str) -> String {
    let path = matched.strip_prefix(prefix).unwrap_or(matched);
    let path = if path.is_empty() { "/" } else { path };
    let mut out = String::with_capacity(path.len());
    let mut rest = path;
    while let Some(i) = rest.find('{') {
        out.push_str(&rest[..i]);
        let after = &rest[i + 1..];
        match after.find('}') {
            Some(j) => {
                let name = &after[..j];
                if let Some(wild) = name.strip_prefix('*') {
                    out.push('*');
                    out.push_str(wild);
                } else {
                    out.push(':');
                    out.push_str(name);
                }
                rest = &after[j + 1..];
            }
            None => {
                out.push_str(&rest[i..]);
                rest = "";
            }
        }
    }
    out.push_str(rest);
    out
}

impl ApiMetrics {
    pub(crate) fn new(concurrent_max: usize, route_prefix: &str) -> ApiMetrics {
        ApiMetrics {
            requests: Mutex::default(),
            durations: Mutex::default(),
            sizes: Mutex::default(),
            queries: AtomicI64::new(0),
            concurrent_max: i64::try_from(concurrent_max).unwrap_or(i64::MAX),
            slices: Default::default(),
            remote_read_queries: AtomicI64::new(0),
            remote_write: Arc::new(::remote::WriteMetrics::default()),
            route_prefix: route_prefix.trim_end_matches('/').to_string(),
        }
    }

    fn observe_request(&self, handler: &str, code: u16, seconds: f64, bytes: f64) {
        *lock(&self.requests)
            .entry((handler.to_string(), code))
            .or_default() += 1;
        lock(&self.durations)
            .entry(handler.to_string())
            .or_default()
            .observe(DURATION_BUCKETS, seconds);
        lock(&self.sizes)
            .entry(handler.to_string())
            .or_default()
            .observe(SIZE_BUCKETS, bytes);
    }

    /// Records one query slice, seconds.
    pub(crate) fn observe_slice(&self, slice: Slice, seconds: f64) {
        lock(&self.slices[slice as usize]).observe(seconds);
    }

    /// The families, each sorted by labels.
    pub(crate) fn families(&self) -> Vec<MetricFamily> {
        let family = MetricFamily::new;
        let metric = |labels: Vec<(String, String)>, value| Metric {
            labels,
            value,
            timestamp_ms: None,
        };
        let requests = lock(&self.requests)
            .iter()
            .map(|((h, c), n)| {
                metric(
                    vec![
                        ("code".into(), c.to_string()),
                        ("handler".into(), h.clone()),
                    ],
                    MetricValue::Counter(Counter {
                        value: *n as f64,
                        created_ms: None,
                        exemplar: None,
                    }),
                )
            })
            .collect();
        let hists = |m: &Mutex<BTreeMap<String, Hist>>, bounds: &[f64]| {
            lock(m)
                .iter()
                .map(|(h, hist)| metric(vec![("handler".into(), h.clone())], hist.value(bounds)))
                .collect::<Vec<_>>()
        };
        let slices = SLICES
            .iter()
            .map(|(s, name)| {
                metric(
                    vec![("slice".into(), (*name).into())],
                    lock(&self.slices[*s as usize]).value(&OBJECTIVES),
                )
            })
            .collect();
        let write = &self.remote_write;
        vec![
            MetricFamily::gauge(
                "prometheus_api_remote_read_queries",
                "The current number of remote read queries being executed or waiting.",
                self.remote_read_queries.load(Ordering::Relaxed) as f64,
            ),
            MetricFamily::counter(
                "prometheus_api_remote_write_invalid_labels_samples_total",
                "The total number of received remote write samples and histogram samples which were rejected due to invalid labels.",
                write.invalid_labels_samples.load(Ordering::Relaxed) as f64,
            ),
            MetricFamily::gauge(
                "prometheus_engine_queries",
                "The current number of queries being executed or waiting.",
                self.queries.load(Ordering::Relaxed) as f64,
            ),
            MetricFamily::gauge(
                "prometheus_engine_queries_concurrent_max",
                "The max number of concurrent queries.",
                self.concurrent_max as f64,
            ),
            family(
                "prometheus_engine_query_duration_seconds",
                "Query timings",
                MetricType::Summary,
                slices,
            ),
            family(
                "prometheus_http_request_duration_seconds",
                "Histogram of latencies for HTTP requests.",
                MetricType::Histogram,
                hists(&self.durations, DURATION_BUCKETS),
            ),
            family(
                "prometheus_http_requests_total",
                "Counter of HTTP requests.",
                MetricType::Counter,
                requests,
            ),
            family(
                "prometheus_http_response_size_bytes",
                "Histogram of response size for HTTP requests.",
                MetricType::Histogram,
                hists(&self.sizes, SIZE_BUCKETS),
            ),
        ]
    }
}

/// Counts an in-flight gauge up for as long as it lives.
pub(crate) struct InFlight<'a>(&'a AtomicI64);

impl<'a> InFlight<'a> {
    pub(crate) fn new(g: &'a AtomicI64) -> InFlight<'a> {
        g.fetch_add(1, Ordering::Relaxed);
        InFlight(g)
    }
}

impl Drop for InFlight<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::Relaxed);
    }
}

/// The middleware: one observation per request of a known route.
pub(crate) async fn instrument(
    State(shared): State<Arc<Shared>>,
    req: Request,
    next: Next,
) -> Response {
    let Some(matched) = req.extensions().get::<MatchedPath>().cloned() else {
        return next.run(req).await;
    };
    let started = Instant::now();
    let resp = next.run(req).await;
    let m = &shared.metrics;
    let handler = handler_label(matched.as_str(), &m.route_prefix);
    let bytes = resp.body().size_hint().exact().unwrap_or(0) as f64;
    m.observe_request(
        &handler,
        resp.status().as_u16(),
        started.elapsed().as_secs_f64(),
        bytes,
    );
    resp
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn handler_labels() {
        assert_eq!(handler_label("/api/v1/query", ""), "/api/v1/query");
        assert_eq!(
            handler_label("/prom/api/v1/label/{name}/values", "/prom"),
            "/api/v1/label/:name/values"
        );
        assert_eq!(handler_label("/static/{*path}", ""), "/static/*path");
        assert_eq!(handler_label("/prom", "/prom"), "/");
    }

    #[test]
    fn summary_quantiles() {
        let mut w = SummaryWindow::default();
        for i in 1..=100 {
            w.observe(f64::from(i));
        }
        let MetricValue::Summary(s) = w.value(&OBJECTIVES) else {
            panic!("not a summary")
        };
        assert_eq!(s.count, 100.0);
        assert_eq!(s.sum, 5050.0);
        let q: Vec<f64> = s.quantiles.iter().map(|q| q.value).collect();
        assert_eq!(q, vec![50.0, 90.0, 99.0]);
    }

    #[test]
    fn histogram_buckets_are_cumulative() {
        let mut h = Hist::default();
        for v in [0.05, 0.15, 0.15, 500.0] {
            h.observe(DURATION_BUCKETS, v);
        }
        let MetricValue::Histogram(v) = h.value(DURATION_BUCKETS) else {
            panic!("not a histogram")
        };
        assert_eq!(v.count, 4.0);
        assert_eq!(v.buckets[0].cumulative_count, 1.0);
        assert_eq!(v.buckets[1].cumulative_count, 3.0);
        assert_eq!(v.buckets[8].cumulative_count, 3.0);
    }
}
