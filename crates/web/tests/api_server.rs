//! Everything around the query API: `/metrics`, health and readiness,
//! lifecycle and admin gates, compression, status endpoints backed by
//! sources, federation formats, timeouts and the concurrency limit.

mod common;

use std::collections::BTreeMap;
use std::io::Read;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::body::Body;
use axum::http::{HeaderMap, Request};
use model::Labels;
use model::matcher::Matcher;
use storage::{Querier, Queryable, StorageError};
use tower::ServiceExt;
use web::{Api, BuildInfo, RuntimeInfo, TsdbStatus, WalReplayStatus};

const T0: i64 = 1_700_000_000_000 - 20_000;

fn now() -> i64 {
    T0 + 600_000
}

fn engine() -> Arc<promql::Engine> {
    Arc::new(promql::Engine::new(promql::EngineOptions {
        max_concurrency: 0,
        ..promql::EngineOptions::default()
    }))
}

fn api() -> Api {
    let mut series = common::float_vec_series(T0);
    series.push(common::histogram_series(T0));
    let mut api = Api::new(Arc::new(common::Mem(series)), engine());
    api.options.clock = now;
    api
}

async fn send(
    router: &axum::Router,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
) -> (u16, HeaderMap, Vec<u8>) {
    let mut req = Request::builder().method(method).uri(path);
    for (k, v) in headers {
        req = req.header(*k, *v);
    }
    let resp = router
        .clone()
        .oneshot(req.body(Body::empty()).expect("request"))
        .await
        .expect("response");
    let status = resp.status().as_u16();
    let headers = resp.headers().clone();
    let body = axum::body::to_bytes(resp.into_body(), usize::MAX)
        .await
        .expect("body")
        .to_vec();
    (status, headers, body)
}

async fn text(router: &axum::Router, method: &str, path: &str) -> (u16, String) {
    let (s, _, b) = send(router, method, path, &[]).await;
    (s, String::from_utf8(b).expect("utf-8"))
}

struct Metrics;

impl web::MetricsSource for Metrics {
    fn gather(&self) -> Vec<expfmt::MetricFamily> {
        vec![expfmt::MetricFamily {
            name: "demo_requests_total".into(),
            help: "Counter of demo requests.".into(),
            kind: model::MetricType::Counter,
            metrics: vec![expfmt::Metric {
                labels: vec![("code".into(), "200".into())],
                value: expfmt::MetricValue::Counter(expfmt::family::Counter {
                    value: 3.0,
                    ..Default::default()
                }),
                timestamp_ms: None,
            }],
            ..Default::default()
        }]
    }
}

#[tokio::test]
async fn metrics_are_negotiated() {
    let mut a = api();
    a.metrics = Some(Arc::new(Metrics));
    let r = web::router(a);
    let (s, h, b) = send(&r, "GET", "/metrics", &[]).await;
    assert_eq!(s, 200);
    assert_eq!(
        h["content-type"],
        "text/plain; version=0.0.4; charset=utf-8"
    );
    let body = String::from_utf8(b).expect("utf-8");
    assert!(
        body.starts_with(
            "# HELP demo_requests_total Counter of demo requests.\n\
             # TYPE demo_requests_total counter\n\
             demo_requests_total{code=\"200\"} 3\n"
        ),
        "{body}"
    );
    // The API's own families follow, sorted by name, once requests were made.
    let (_, _, b) = send(&r, "GET", "/api/v1/query?query=1", &[]).await;
    assert!(!b.is_empty());
    let (_, _, b) = send(&r, "GET", "/metrics", &[]).await;
    let body = String::from_utf8(b).expect("utf-8");
    for family in [
        "prometheus_http_requests_total{code=\"200\",handler=\"/metrics\"} 1\n",
        "prometheus_http_requests_total{code=\"200\",handler=\"/api/v1/query\"} 1\n",
        "prometheus_http_request_duration_seconds_bucket{handler=\"/api/v1/query\",le=\"0.1\"} 1\n",
        "prometheus_http_response_size_bytes_count{handler=\"/metrics\"} 1\n",
        "prometheus_engine_query_duration_seconds_count{slice=\"inner_eval\"} 1\n",
        "prometheus_engine_queries_concurrent_max 20\n",
        "# TYPE prometheus_engine_queries gauge\n",
        "# TYPE prometheus_engine_query_duration_seconds summary\n",
        "# TYPE prometheus_http_request_duration_seconds histogram\n",
        "# TYPE prometheus_http_requests_total counter\n",
        "# TYPE prometheus_http_response_size_bytes histogram\n",
    ] {
        assert!(body.contains(family), "{family}: {body}");
    }
    let (_, h, b) = send(
        &r,
        "GET",
        "/metrics",
        &[("Accept", "application/openmetrics-text;version=1.0.0")],
    )
    .await;
    assert!(
        h["content-type"]
            .to_str()
            .expect("ascii")
            .starts_with("application/openmetrics-text")
    );
    assert!(String::from_utf8(b).expect("utf-8").ends_with("# EOF\n"));
    let (_, h, _) = send(
        &r,
        "GET",
        "/metrics",
        &[(
            "Accept",
            "application/vnd.google.protobuf;proto=io.prometheus.client.MetricFamily;encoding=delimited",
        )],
    )
    .await;
    assert_eq!(h["content-type"], expfmt::format::PROTOBUF_CONTENT_TYPE);
}

#[tokio::test]
async fn health_and_readiness() {
    let a = api();
    let ready = a.ready.clone();
    let r = web::router(a);
    assert_eq!(
        text(&r, "GET", "/-/healthy").await,
        (200, "Prometheus Server is Healthy.\n".into())
    );
    assert_eq!(text(&r, "HEAD", "/-/healthy").await.0, 200);
    assert_eq!(
        text(&r, "GET", "/-/ready").await,
        (200, "Prometheus Server is Ready.\n".into())
    );
    ready.store(false, Ordering::Release);
    let (s, h, b) = send(&r, "GET", "/-/ready", &[]).await;
    assert_eq!((s, b.as_slice()), (503, &b"Service Unavailable"[..]));
    assert_eq!(h["x-prometheus-stopping"], "false");
    assert_eq!(text(&r, "GET", "/api/v1/query?query=1").await.0, 503);
    assert_eq!(text(&r, "GET", "/federate?match[]=up").await.0, 503);
    assert_eq!(
        text(&r, "GET", "/api/v1/status/walreplay").await,
        (
            200,
            r#"{"status":"success","data":{"min":0,"max":0,"current":0}}"#.into()
        )
    );
    ready.store(true, Ordering::Release);
    assert_eq!(text(&r, "GET", "/api/v1/query?query=1").await.0, 200);
}

struct Life {
    fail: bool,
    quits: AtomicUsize,
}

impl web::Lifecycle for Life {
    fn reload(&self) -> Result<(), String> {
        if self.fail {
            Err("boom".into())
        } else {
            Ok(())
        }
    }
    fn quit(&self) -> bool {
        self.quits.fetch_add(1, Ordering::Relaxed) == 0
    }
}

#[tokio::test]
async fn lifecycle_is_gated() {
    let r = web::router(api());
    for path in ["/-/reload", "/-/quit"] {
        for method in ["POST", "PUT"] {
            assert_eq!(
                text(&r, method, path).await,
                (403, "Lifecycle API is not enabled.".into())
            );
        }
        assert_eq!(
            text(&r, "GET", path).await,
            (405, "Only POST or PUT requests allowed".into())
        );
    }

    let mut a = api();
    a.options.enable_lifecycle = true;
    a.lifecycle = Some(Arc::new(Life {
        fail: false,
        quits: AtomicUsize::new(0),
    }));
    let r = web::router(a);
    assert_eq!(text(&r, "POST", "/-/reload").await, (200, String::new()));
    assert_eq!(
        text(&r, "POST", "/-/quit").await,
        (200, "Requesting termination... Goodbye!".into())
    );
    assert_eq!(
        text(&r, "PUT", "/-/quit").await,
        (200, "Termination already in progress.".into())
    );

    let mut a = api();
    a.options.enable_lifecycle = true;
    a.lifecycle = Some(Arc::new(Life {
        fail: true,
        quits: AtomicUsize::new(0),
    }));
    let r = web::router(a);
    assert_eq!(
        text(&r, "POST", "/-/reload").await,
        (500, "failed to reload config: boom\n".into())
    );
}

#[derive(Default)]
struct Admin {
    deleted: Mutex<Vec<(i64, i64, Vec<String>)>>,
}

impl web::AdminSource for Admin {
    fn delete_series(&self, mint: i64, maxt: i64, matchers: &[Matcher]) -> Result<(), String> {
        let ms = matchers.iter().map(|m| m.to_string()).collect();
        self.deleted.lock().expect("lock").push((mint, maxt, ms));
        Ok(())
    }
    fn clean_tombstones(&self) -> Result<(), String> {
        Err("disk on fire".into())
    }
    fn snapshot(&self, skip_head: bool) -> Result<String, String> {
        Ok(format!("20171210T211224Z-2be650b6d019eb54-{skip_head}"))
    }
}

#[tokio::test]
async fn admin_apis() {
    let r = web::router(api());
    assert_eq!(
        text(&r, "POST", "/api/v1/admin/tsdb/snapshot").await,
        (
            500,
            r#"{"status":"error","errorType":"unavailable","error":"admin APIs disabled"}"#.into()
        )
    );
    assert_eq!(text(&r, "GET", "/api/v1/admin/tsdb/snapshot").await.0, 405);

    let admin = Arc::new(Admin::default());
    let mut a = api();
    a.options.enable_admin_api = true;
    a.admin = Some(admin.clone());
    let r = web::router(a);
    assert_eq!(
        text(
            &r,
            "PUT",
            "/api/v1/admin/tsdb/delete_series?match[]=up%7Bjob%3D%22node%22%7D&start=10&end=20"
        )
        .await,
        (204, String::new())
    );
    assert_eq!(
        *admin.deleted.lock().expect("lock"),
        vec![(
            10_000,
            20_000,
            vec!["job=\"node\"".to_string(), "__name__=\"up\"".to_string()]
        )]
    );
    assert_eq!(
        text(&r, "POST", "/api/v1/admin/tsdb/delete_series").await,
        (
            400,
            r#"{"status":"error","errorType":"bad_data","error":"no match[] parameter provided"}"#
                .into()
        )
    );
    assert_eq!(
        text(&r, "POST", "/api/v1/admin/tsdb/snapshot?skip_head=true").await,
        (
            200,
            r#"{"status":"success","data":{"name":"20171210T211224Z-2be650b6d019eb54-true"}}"#
                .into()
        )
    );
    assert_eq!(
        text(&r, "POST", "/api/v1/admin/tsdb/snapshot?skip_head=maybe").await,
        (
            400,
            r#"{"status":"error","errorType":"bad_data","error":"invalid parameter \"skip_head\": unable to parse boolean: strconv.ParseBool: parsing \"maybe\": invalid syntax"}"#
                .into()
        )
    );
    assert_eq!(
        text(&r, "POST", "/api/v1/admin/tsdb/clean_tombstones").await,
        (
            500,
            r#"{"status":"error","errorType":"internal","error":"disk on fire"}"#.into()
        )
    );
}

#[tokio::test]
async fn responses_are_compressed_when_accepted() {
    let r = web::router(api());
    let path = "/api/v1/query?query=up&time=1700000280";
    let (_, plain_h, plain) = send(&r, "GET", path, &[]).await;
    assert!(plain_h.get("content-encoding").is_none());
    assert_eq!(plain_h["vary"], "Accept-Encoding");
    let (s, h, gz) = send(&r, "GET", path, &[("Accept-Encoding", "gzip, deflate")]).await;
    assert_eq!(s, 200);
    assert_eq!(h["content-encoding"], "gzip");
    let mut out = Vec::new();
    flate2::read::GzDecoder::new(gz.as_slice())
        .read_to_end(&mut out)
        .expect("gunzip");
    assert_eq!(out, plain);
    let (_, h, z) = send(&r, "GET", path, &[("Accept-Encoding", "deflate")]).await;
    assert_eq!(h["content-encoding"], "deflate");
    let mut out = Vec::new();
    flate2::read::ZlibDecoder::new(z.as_slice())
        .read_to_end(&mut out)
        .expect("inflate");
    assert_eq!(out, plain);
    let (_, h, _) = send(
        &r,
        "GET",
        "/federate?match[]=up",
        &[("Accept-Encoding", "gzip")],
    )
    .await;
    assert_eq!(h["content-encoding"], "gzip");
}

#[tokio::test]
async fn methods_outside_the_api_are_refused() {
    let r = web::router(api());
    assert_eq!(text(&r, "PUT", "/api/v1/query?query=1").await.0, 405);
    assert_eq!(text(&r, "POST", "/api/v1/label/job/values").await.0, 405);
    assert_eq!(text(&r, "GET", "/api/v1/nope").await.0, 404);
}

struct Status;

impl web::StatusSource for Status {
    fn config_yaml(&self) -> String {
        "global:\n  scrape_interval: 15s\n".into()
    }
    fn flags(&self) -> BTreeMap<String, String> {
        [
            ("web.enable-lifecycle", "false"),
            ("query.max-concurrency", "20"),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
    }
    fn runtime_info(&self) -> Result<RuntimeInfo, String> {
        Ok(RuntimeInfo {
            start_time: 1_435_781_451_781,
            cwd: "/prometheus".into(),
            hostname: "h".into(),
            server_time: 1_435_781_461_000,
            reload_config_success: true,
            last_config_time: 1_435_781_451_780,
            goroutine_count: 12,
            gomaxprocs: 2,
            gomemlimit: 9_223_372_036_854_775_807,
            storage_retention: "15d".into(),
            ..RuntimeInfo::default()
        })
    }
    fn build_info(&self) -> BuildInfo {
        BuildInfo {
            version: "0.1.0".into(),
            revision: "abc".into(),
            branch: "main".into(),
            build_user: "ci".into(),
            build_date: "20240101-00:00:00".into(),
            go_version: "rustc 1.90".into(),
        }
    }
}

struct Tsdb;

impl web::TsdbStatsSource for Tsdb {
    fn stats(&self, limit: usize) -> Result<TsdbStatus, String> {
        let top = vec![("up".to_string(), 2), ("gone".to_string(), 1)];
        Ok(TsdbStatus {
            num_series: 3,
            num_label_pairs: 7,
            chunk_count: 3,
            min_time: 1,
            max_time: 2,
            series_count_by_metric_name: top.into_iter().take(limit).collect(),
            label_value_count_by_label_name: vec![("job".into(), 3)],
            memory_in_bytes_by_label_name: vec![("job".into(), 17)],
            series_count_by_label_value_pair: vec![("job=node".into(), 1)],
        })
    }
    fn wal_replay(&self) -> WalReplayStatus {
        WalReplayStatus {
            min: 0,
            max: 5,
            current: 5,
        }
    }
}

#[tokio::test]
async fn status_endpoints() {
    let mut a = api();
    a.status = Some(Arc::new(Status));
    a.tsdb = Some(Arc::new(Tsdb));
    let r = web::router(a);
    #[track_caller]
    fn check(got: (u16, String), want: &str) {
        assert_eq!(got, (200, want.to_string()));
    }
    check(
        text(&r, "GET", "/api/v1/status/config").await,
        r#"{"status":"success","data":{"yaml":"global:\n  scrape_interval: 15s\n"}}"#,
    );
    check(
        text(&r, "GET", "/api/v1/status/flags").await,
        r#"{"status":"success","data":{"query.max-concurrency":"20","web.enable-lifecycle":"false"}}"#,
    );
    check(
        text(&r, "GET", "/api/v1/status/runtimeinfo").await,
        r#"{"status":"success","data":{"startTime":"2015-07-01T20:10:51.781Z","CWD":"/prometheus","hostname":"h","serverTime":"2015-07-01T20:11:01Z","reloadConfigSuccess":true,"lastConfigTime":"2015-07-01T20:10:51.78Z","corruptionCount":0,"goroutineCount":12,"GOMAXPROCS":2,"GOMEMLIMIT":9223372036854775807,"GOGC":"","GODEBUG":"","storageRetention":"15d"}}"#,
    );
    check(
        text(&r, "GET", "/api/v1/status/buildinfo").await,
        r#"{"status":"success","data":{"version":"0.1.0","revision":"abc","branch":"main","buildUser":"ci","buildDate":"20240101-00:00:00","goVersion":"rustc 1.90"}}"#,
    );
    check(
        text(&r, "GET", "/api/v1/status/tsdb?limit=1").await,
        r#"{"status":"success","data":{"headStats":{"numSeries":3,"numLabelPairs":7,"chunkCount":3,"minTime":1,"maxTime":2},"seriesCountByMetricName":[{"name":"up","value":2}],"labelValueCountByLabelName":[{"name":"job","value":3}],"memoryInBytesByLabelName":[{"name":"job","value":17}],"seriesCountByLabelValuePair":[{"name":"job=node","value":1}]}}"#,
    );
    check(
        text(&r, "GET", "/api/v1/status/walreplay").await,
        r#"{"status":"success","data":{"min":0,"max":5,"current":5}}"#,
    );
    assert_eq!(
        text(&r, "GET", "/api/v1/status/tsdb?limit=0").await,
        (
            400,
            r#"{"status":"error","errorType":"bad_data","error":"limit must be a positive number"}"#
                .into()
        )
    );
    assert_eq!(
        text(&r, "GET", "/api/v1/status/tsdb?limit=10001").await,
        (
            400,
            r#"{"status":"error","errorType":"bad_data","error":"limit must not exceed 10000"}"#
                .into()
        )
    );
}

struct Targets;

impl web::TargetSource for Targets {
    fn active(&self) -> BTreeMap<String, Vec<web::ActiveTarget>> {
        let t = web::ActiveTarget {
            discovered_labels: Labels::from_pairs([
                ("__address__", "localhost:9100"),
                ("job", "node"),
            ]),
            labels: Labels::from_pairs([("instance", "localhost:9100"), ("job", "node")]),
            scrape_url: "http://localhost:9100/metrics".into(),
            global_url: "http://h:9100/metrics".into(),
            last_error: String::new(),
            last_scrape: Some(1_435_781_451_781),
            last_scrape_duration: 0.0125,
            health: "up".into(),
            scrape_interval: "15s".into(),
            scrape_timeout: "10s".into(),
            metadata: vec![
                web::TargetMetadata {
                    metric: "node_load1".into(),
                    kind: "gauge".into(),
                    help: "1m load average.".into(),
                    unit: String::new(),
                },
                web::TargetMetadata {
                    metric: "node_cpu_seconds_total".into(),
                    kind: "counter".into(),
                    help: "Seconds the CPUs spent in each mode.".into(),
                    unit: String::new(),
                },
            ],
        };
        [("node".to_string(), vec![t])].into_iter().collect()
    }
    fn dropped(&self) -> BTreeMap<String, Vec<web::DroppedTarget>> {
        let t = web::DroppedTarget {
            discovered_labels: Labels::from_pairs([("__address__", "x:1"), ("job", "node")]),
        };
        [("node".to_string(), vec![t])].into_iter().collect()
    }
    fn dropped_counts(&self) -> BTreeMap<String, usize> {
        [("node".to_string(), 4)].into_iter().collect()
    }
}

#[tokio::test]
async fn targets_and_metadata() {
    let mut a = api();
    a.targets = Some(Arc::new(Targets));
    let r = web::router(a);
    assert_eq!(
        text(&r, "GET", "/api/v1/targets").await.1,
        r#"{"status":"success","data":{"activeTargets":[{"discoveredLabels":{"__address__":"localhost:9100","job":"node"},"labels":{"instance":"localhost:9100","job":"node"},"scrapePool":"node","scrapeUrl":"http://localhost:9100/metrics","globalUrl":"http://h:9100/metrics","lastError":"","lastScrape":"2015-07-01T20:10:51.781Z","lastScrapeDuration":0.0125,"health":"up","scrapeInterval":"15s","scrapeTimeout":"10s"}],"droppedTargets":[{"discoveredLabels":{"__address__":"x:1","job":"node"},"scrapePool":"node"}],"droppedTargetCounts":{"node":4}}}"#
    );
    assert_eq!(
        text(&r, "GET", "/api/v1/targets?state=dropped&scrapePool=other")
            .await
            .1,
        r#"{"status":"success","data":{"activeTargets":[],"droppedTargets":[],"droppedTargetCounts":{"node":4}}}"#
    );
    assert_eq!(
        text(&r, "GET", "/api/v1/targets/metadata?metric=node_load1")
            .await
            .1,
        r#"{"status":"success","data":[{"target":{"instance":"localhost:9100","job":"node"},"type":"gauge","help":"1m load average.","unit":""}]}"#
    );
    assert_eq!(
        text(
            &r,
            "GET",
            "/api/v1/targets/metadata?match_target=%7Bjob%3D%22node%22%7D&limit=1"
        )
        .await
        .1,
        r#"{"status":"success","data":[{"target":{"instance":"localhost:9100","job":"node"},"metric":"node_load1","type":"gauge","help":"1m load average.","unit":""},{"target":{"instance":"localhost:9100","job":"node"},"metric":"node_cpu_seconds_total","type":"counter","help":"Seconds the CPUs spent in each mode.","unit":""}]}"#
    );
    assert_eq!(
        text(&r, "GET", "/api/v1/metadata").await.1,
        r#"{"status":"success","data":{"node_cpu_seconds_total":[{"type":"counter","help":"Seconds the CPUs spent in each mode.","unit":""}],"node_load1":[{"type":"gauge","help":"1m load average.","unit":""}]}}"#
    );
    assert_eq!(
        text(&r, "GET", "/api/v1/metadata?limit=1").await.1,
        r#"{"status":"success","data":{"node_cpu_seconds_total":[{"type":"counter","help":"Seconds the CPUs spent in each mode.","unit":""}]}}"#
    );
    assert_eq!(
        text(&r, "GET", "/api/v1/scrape_pools").await.1,
        r#"{"status":"success","data":{"scrapePools":["node"]}}"#
    );
}

#[tokio::test]
async fn federation_formats() {
    let mut a = api();
    a.options.external_labels = Labels::from_pairs([("replica", "r1"), ("instance", "fed")]);
    let r = web::router(a);
    // Text: the native histogram cannot be served and is left out; the
    // series' own `instance` wins over the external one.
    assert_eq!(
        text(
            &r,
            "GET",
            "/federate?match[]=%7Bjob%3D~%22node%7Capi%22%7D"
        )
        .await,
        (
            200,
            "# TYPE http_requests_total untyped\n\
             http_requests_total{code=\"200\",job=\"api\",method=\"GET\",instance=\"fed\",replica=\"r1\"} 390 1700000565000\n\
             http_requests_total{code=\"500\",job=\"api\",method=\"POST\",instance=\"fed\",replica=\"r1\"} 19.5 1700000565000\n\
             # TYPE up untyped\n\
             up{instance=\"localhost:9100\",job=\"node\",replica=\"r1\"} 1 1700000565000\n"
                .into()
        )
    );
    // Protobuf: the histogram is there, as a native histogram.
    let (s, h, body) = send(
        &r,
        "GET",
        "/federate?match[]=rpc_duration_seconds",
        &[(
            "Accept",
            "application/vnd.google.protobuf;proto=io.prometheus.client.MetricFamily;encoding=delimited",
        )],
    )
    .await;
    assert_eq!(s, 200);
    assert_eq!(h["content-type"], expfmt::format::PROTOBUF_CONTENT_TYPE);
    let mut p = expfmt::protobuf::ProtobufParser::new(&body);
    let families = expfmt::MetricFamily::collect(&mut p, expfmt::Format::Protobuf)
        .expect("parse our protobuf");
    assert_eq!(families.len(), 1);
    assert_eq!(families[0].kind, model::MetricType::Histogram);
    // Bad selector: plain-text 400.
    assert_eq!(text(&r, "GET", "/federate?match[]=up%7B").await.0, 400);
}

/// A queryable that takes its time, to exercise timeouts and the
/// concurrency limit.
struct Slow {
    inner: common::Mem,
    delay: Duration,
    running: AtomicUsize,
    max_running: AtomicUsize,
    hit: AtomicBool,
}

impl Queryable for Slow {
    fn querier(&self, mint: i64, maxt: i64) -> Result<Box<dyn Querier + '_>, StorageError> {
        let n = self.running.fetch_add(1, Ordering::SeqCst) + 1;
        self.max_running.fetch_max(n, Ordering::SeqCst);
        std::thread::sleep(self.delay);
        self.hit.store(true, Ordering::SeqCst);
        self.running.fetch_sub(1, Ordering::SeqCst);
        self.inner.querier(mint, maxt)
    }
}

fn slow(delay: Duration) -> Arc<Slow> {
    Arc::new(Slow {
        inner: common::Mem(common::float_vec_series(T0)),
        delay,
        running: AtomicUsize::new(0),
        max_running: AtomicUsize::new(0),
        hit: AtomicBool::new(false),
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn timeout_parameter_stops_the_query() {
    let q = slow(Duration::from_millis(400));
    let mut a = Api::new(q.clone(), engine());
    a.options.clock = now;
    let r = web::router(a);
    let (s, body) = text(
        &r,
        "GET",
        "/api/v1/query?query=rate(up%5B5m%5D)&time=1700000280&timeout=50ms",
    )
    .await;
    assert_eq!(s, 503, "{body}");
    assert!(
        body.starts_with(r#"{"status":"error","errorType":"timeout","error":"query timed out in "#),
        "{body}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrency_is_limited() {
    let q = slow(Duration::from_millis(100));
    let mut a = Api::new(q.clone(), engine());
    a.options.clock = now;
    a.options.max_concurrency = 1;
    let r = web::router(a);
    let began = Instant::now();
    let path = "/api/v1/query?query=up&time=1700000280";
    let (a, b, c) = tokio::join!(
        text(&r, "GET", path),
        text(&r, "GET", path),
        text(&r, "GET", path)
    );
    assert_eq!((a.0, b.0, c.0), (200, 200, 200));
    assert!(q.hit.load(Ordering::SeqCst));
    assert_eq!(q.max_running.load(Ordering::SeqCst), 1);
    assert!(began.elapsed() >= Duration::from_millis(300));
}

#[tokio::test]
async fn stats_are_reported() {
    let r = web::router(api());
    let (s, body) = text(
        &r,
        "GET",
        "/api/v1/query?query=sum(up)&time=1700000280&stats=all",
    )
    .await;
    assert_eq!(s, 200);
    let v: serde_json::Value = serde_json::from_str(&body).expect("json");
    let stats = &v["data"]["stats"];
    let keys = |o: &serde_json::Value| -> Vec<String> {
        o.as_object().expect("object").keys().cloned().collect()
    };
    // serde_json sorts keys; the order on the wire is Prometheus's.
    assert_eq!(keys(stats), ["samples", "timings"]);
    assert_eq!(
        keys(&stats["timings"]),
        [
            "evalTotalTime",
            "execQueueTime",
            "execTotalTime",
            "innerEvalTime",
            "queryPreparationTime",
            "resultSortTime"
        ]
    );
    assert_eq!(
        keys(&stats["samples"]),
        ["peakSamples", "samplesRead", "totalQueryableSamples"]
    );
    assert!(stats["samples"]["totalQueryableSamples"].as_u64() > Some(0));
    assert!(body.contains(r#""stats":{"timings":{"evalTotalTime":"#));
    let (_, body) = text(
        &r,
        "GET",
        "/api/v1/query?query=up&time=1700000280&stats=yes",
    )
    .await;
    assert!(body.ends_with(r#""warnings":["value \"yes\" for parameter \"stats\" is deprecated and will be rejected in the next major release, use \"true\" or \"all\""]}"#), "{body}");
}
