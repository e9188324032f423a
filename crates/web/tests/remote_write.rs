//! `/api/v1/write` (remote write 1.0 and 2.0) and `/api/v1/read` through
//! the router, over an in-memory store that records committed batches.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use axum::body::Body;
use axum::http::{HeaderMap, Request};
use model::{Labels, Metadata, MetricType, Timestamp};
use remote::prompb::{self, Message, v2};
use storage::vec::{Value, VecQuerier, VecSeries};
use storage::{
    AppendError, Appendable, Appender, Exemplar, Querier, Queryable, Sample, SeriesRef,
    StorageError,
};
use tower::ServiceExt;
use web::Api;

/// What the store holds: committed samples per series, exemplars, metadata.
#[derive(Default)]
struct Data {
    samples: BTreeMap<Labels, Vec<(i64, Value)>>,
    exemplars: Vec<(Labels, Exemplar)>,
    metadata: Vec<(Labels, Metadata)>,
    commits: usize,
}

#[derive(Default)]
struct Store(Mutex<Data>);

impl Store {
    fn data(&self) -> std::sync::MutexGuard<'_, Data> {
        self.0.lock().expect("lock")
    }
}

struct Batch<'a> {
    store: &'a Store,
    pending: Data,
}

impl Batch<'_> {
    fn last(&self, l: &Labels) -> Option<(i64, Value)> {
        let newest = |d: &Data| d.samples.get(l).and_then(|v| v.last().cloned());
        newest(&self.pending).or_else(|| newest(&self.store.data()))
    }
}

impl Appender for Batch<'_> {
    fn append(
        &mut self,
        _: Option<SeriesRef>,
        labels: &Labels,
        t: Timestamp,
        sample: Sample<'_>,
    ) -> Result<SeriesRef, AppendError> {
        let v = match sample {
            Sample::Float(f) => Value::Float(f),
            Sample::Histogram(h) => Value::Histogram(Arc::new(h.clone())),
            Sample::FloatHistogram(h) => Value::FloatHistogram(Arc::new(h.clone())),
        };
        if let Some((lt, lv)) = self.last(labels) {
            if t.0 < lt {
                return Err(AppendError::OutOfOrder);
            }
            if t.0 == lt && lv != v {
                return Err(AppendError::DuplicateTimestamp);
            }
        }
        self.pending
            .samples
            .entry(labels.clone())
            .or_default()
            .push((t.0, v));
        Ok(SeriesRef(1))
    }

    fn append_exemplar(
        &mut self,
        _: Option<SeriesRef>,
        labels: &Labels,
        e: &Exemplar,
    ) -> Result<SeriesRef, AppendError> {
        self.pending.exemplars.push((labels.clone(), e.clone()));
        Ok(SeriesRef(1))
    }

    fn update_metadata(
        &mut self,
        _: Option<SeriesRef>,
        labels: &Labels,
        m: &Metadata,
    ) -> Result<SeriesRef, AppendError> {
        self.pending.metadata.push((labels.clone(), m.clone()));
        Ok(SeriesRef(1))
    }

    fn commit(self: Box<Self>) -> Result<(), AppendError> {
        let mut d = self.store.data();
        for (l, s) in self.pending.samples {
            d.samples.entry(l).or_default().extend(s);
        }
        d.exemplars.extend(self.pending.exemplars);
        d.metadata.extend(self.pending.metadata);
        d.commits += 1;
        Ok(())
    }

    fn rollback(self: Box<Self>) {}
}

impl Appendable for Store {
    fn appender(&self) -> Box<dyn Appender + '_> {
        Box::new(Batch {
            store: self,
            pending: Data::default(),
        })
    }
}

impl Queryable for Store {
    fn querier(&self, mint: i64, maxt: i64) -> Result<Box<dyn Querier + '_>, StorageError> {
        let series = self
            .data()
            .samples
            .iter()
            .map(|(l, s)| VecSeries::new(l.clone(), s.clone()))
            .collect();
        Ok(Box::new(VecQuerier::new(series, mint, maxt)))
    }
}

fn setup(enable: bool) -> (Arc<Store>, axum::Router) {
    let store = Arc::new(Store::default());
    let engine = Arc::new(promql::Engine::new(promql::EngineOptions {
        max_concurrency: 0,
        ..promql::EngineOptions::default()
    }));
    let mut api = Api::new(store.clone(), engine);
    api.appendable = Some(store.clone());
    api.remote_write = enable;
    api.options.max_body_bytes = 1 << 20;
    api.options.external_labels = Labels::from_pairs([("replica", "r1")]);
    (store, web::router(api))
}

async fn post(
    router: &axum::Router,
    path: &str,
    headers: &[(&str, &str)],
    body: Vec<u8>,
) -> (u16, HeaderMap, Vec<u8>) {
    let mut req = Request::builder().method("POST").uri(path);
    for (k, v) in headers {
        req = req.header(*k, *v);
    }
    let resp = router
        .clone()
        .oneshot(req.body(Body::from(body)).expect("request"))
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

const V1: &str = "application/x-protobuf";
const V2: &str = "application/x-protobuf;proto=io.prometheus.write.v2.Request";

fn label(n: &str, v: &str) -> prompb::Label {
    prompb::Label {
        name: n.into(),
        value: v.into(),
    }
}

fn sample(t: i64, v: f64) -> prompb::Sample {
    prompb::Sample {
        value: v,
        timestamp: t,
    }
}

fn int_histogram(t: i64) -> prompb::Histogram {
    prompb::Histogram {
        count: prompb::Count::Int(5),
        sum: 7.5,
        schema: 0,
        zero_threshold: 0.001,
        zero_count: prompb::Count::Int(1),
        positive_spans: vec![prompb::BucketSpan {
            offset: 0,
            length: 2,
        }],
        positive_deltas: vec![2, 0],
        timestamp: t,
        ..prompb::Histogram::default()
    }
}

fn v1_request() -> prompb::WriteRequest {
    prompb::WriteRequest {
        timeseries: vec![
            // Unsorted labels: the receiver sorts them.
            prompb::TimeSeries {
                labels: vec![label("job", "a"), label("__name__", "up")],
                samples: vec![sample(1000, 1.0), sample(2000, 0.0)],
                exemplars: vec![prompb::Exemplar {
                    labels: vec![label("trace_id", "abc")],
                    value: 1.0,
                    timestamp: 1000,
                }],
                histograms: vec![],
            },
            prompb::TimeSeries {
                labels: vec![label("__name__", "lat"), label("job", "a")],
                samples: vec![],
                exemplars: vec![],
                histograms: vec![int_histogram(1500)],
            },
        ],
        metadata: vec![prompb::MetricMetadata {
            kind: 2,
            metric_family_name: "up".into(),
            help: "h".into(),
            unit: String::new(),
        }],
    }
}

fn snappy(msg: &impl Message) -> Vec<u8> {
    remote::compress(&msg.encode())
}

fn up() -> Labels {
    Labels::from_pairs([("__name__", "up"), ("job", "a")])
}

#[tokio::test]
async fn v1_appends_exactly() {
    let (store, router) = setup(true);
    let (status, _, body) = post(
        &router,
        "/api/v1/write",
        &[("Content-Type", V1), ("Content-Encoding", "snappy")],
        snappy(&v1_request()),
    )
    .await;
    assert_eq!(status, 204, "{}", String::from_utf8_lossy(&body));
    let d = store.data();
    assert_eq!(d.commits, 1);
    assert_eq!(
        d.samples.get(&up()),
        Some(&vec![(1000, Value::Float(1.0)), (2000, Value::Float(0.0))])
    );
    let lat = Labels::from_pairs([("__name__", "lat"), ("job", "a")]);
    let Some([(1500, Value::Histogram(h))]) = d.samples.get(&lat).map(Vec::as_slice) else {
        panic!("histogram missing: {:?}", d.samples.get(&lat));
    };
    assert_eq!((h.count, h.zero_count, h.sum), (5, 1, 7.5));
    assert_eq!(h.positive_buckets, vec![2, 0]);
    assert_eq!(d.exemplars.len(), 1);
    assert_eq!(
        d.exemplars[0].1.labels,
        Labels::from_pairs([("trace_id", "abc")])
    );
    // 1.0 metadata is per family and not stored (as Prometheus).
    assert!(d.metadata.is_empty());
}

#[tokio::test]
async fn v1_out_of_order_rolls_back_the_whole_request() {
    let (store, router) = setup(true);
    let (s, _, _) = post(&router, "/api/v1/write", &[], snappy(&v1_request())).await;
    assert_eq!(s, 204);
    let mut again = v1_request();
    again.timeseries[0].samples = vec![sample(500, 3.0)];
    again.timeseries.insert(
        0,
        prompb::TimeSeries {
            labels: vec![label("__name__", "fresh")],
            samples: vec![sample(10, 1.0)],
            ..prompb::TimeSeries::default()
        },
    );
    let (s, _, body) = post(
        &router,
        "/api/v1/write",
        &[("Content-Type", V1)],
        snappy(&again),
    )
    .await;
    assert_eq!((s, body.as_slice()), (400, &b"out of order sample\n"[..]));
    let d = store.data();
    assert_eq!(d.commits, 1);
    assert!(
        !d.samples
            .contains_key(&Labels::from_pairs([("__name__", "fresh")]))
    );
}

#[tokio::test]
async fn v1_skips_invalid_series() {
    let (store, router) = setup(true);
    let req = prompb::WriteRequest {
        timeseries: vec![
            prompb::TimeSeries {
                labels: vec![label("job", "no_name")],
                samples: vec![sample(1, 1.0)],
                ..prompb::TimeSeries::default()
            },
            prompb::TimeSeries {
                labels: vec![label("__name__", "x"), label("a", "1"), label("a", "2")],
                samples: vec![sample(1, 1.0)],
                ..prompb::TimeSeries::default()
            },
            prompb::TimeSeries {
                labels: vec![label("__name__", "ok")],
                samples: vec![sample(1, 1.0)],
                ..prompb::TimeSeries::default()
            },
        ],
        metadata: vec![],
    };
    let (s, _, _) = post(&router, "/api/v1/write", &[], snappy(&req)).await;
    assert_eq!(s, 204);
    let keys = store.data().samples.keys().cloned().collect::<Vec<_>>();
    assert_eq!(keys, vec![Labels::from_pairs([("__name__", "ok")])]);
    // The two refused samples are counted.
    let resp = router
        .clone()
        .oneshot(
            Request::builder()
                .uri("/metrics")
                .body(Body::empty())
                .expect("request"),
        )
        .await
        .expect("response");
    let body = axum::body::to_bytes(resp.into_body(), usize::MAX)
        .await
        .expect("body");
    let text = String::from_utf8_lossy(&body);
    assert!(
        text.contains("\nprometheus_api_remote_write_invalid_labels_samples_total 2\n"),
        "{text}"
    );
    assert!(
        text.contains("prometheus_http_requests_total{code=\"204\",handler=\"/api/v1/write\"} 1\n"),
        "{text}"
    );
}

fn v2_request() -> v2::Request {
    let symbols: Vec<String> = [
        "",
        "__name__",
        "up",
        "job",
        "a",
        "trace_id",
        "t1",
        "help text",
        "lat",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    v2::Request {
        symbols,
        timeseries: vec![
            v2::TimeSeries {
                labels_refs: vec![3, 4, 1, 2],
                samples: vec![sample(1000, 1.0), sample(2000, 2.0), sample(3000, 3.0)],
                exemplars: vec![v2::Exemplar {
                    labels_refs: vec![5, 6],
                    value: 2.0,
                    timestamp: 2000,
                }],
                metadata: v2::Metadata {
                    kind: 1,
                    help_ref: 7,
                    unit_ref: 0,
                },
                created_timestamp: 500,
                ..v2::TimeSeries::default()
            },
            v2::TimeSeries {
                labels_refs: vec![1, 8],
                histograms: vec![int_histogram(1000)],
                ..v2::TimeSeries::default()
            },
        ],
    }
}

#[tokio::test]
async fn v2_appends_exactly_with_stats_headers() {
    let (store, router) = setup(true);
    let (status, headers, body) = post(
        &router,
        "/api/v1/write",
        &[("Content-Type", V2), ("Content-Encoding", "snappy")],
        snappy(&v2_request()),
    )
    .await;
    assert_eq!(status, 204, "{}", String::from_utf8_lossy(&body));
    let h = |n: &str| {
        headers
            .get(n)
            .and_then(|v| v.to_str().ok())
            .map(str::to_string)
    };
    assert_eq!(
        h("X-Prometheus-Remote-Write-Samples-Written").as_deref(),
        Some("3")
    );
    assert_eq!(
        h("X-Prometheus-Remote-Write-Histograms-Written").as_deref(),
        Some("1")
    );
    assert_eq!(
        h("X-Prometheus-Remote-Write-Exemplars-Written").as_deref(),
        Some("1")
    );
    let d = store.data();
    assert_eq!(d.commits, 1);
    assert_eq!(
        d.samples.get(&up()),
        Some(&vec![
            (1000, Value::Float(1.0)),
            (2000, Value::Float(2.0)),
            (3000, Value::Float(3.0))
        ])
    );
    assert_eq!(
        d.exemplars[0].1.labels,
        Labels::from_pairs([("trace_id", "t1")])
    );
    assert!(d.metadata.contains(&(
        up(),
        Metadata {
            kind: MetricType::Counter,
            help: "help text".into(),
            unit: String::new(),
        }
    )));
    assert!(
        d.samples
            .contains_key(&Labels::from_pairs([("__name__", "lat")]))
    );
}

#[tokio::test]
async fn v2_invalid_series_is_a_partial_write() {
    let (store, router) = setup(true);
    let mut req = v2_request();
    req.timeseries[1].labels_refs = vec![3, 4]; // no __name__
    req.timeseries.push(v2::TimeSeries {
        labels_refs: vec![1, 99],
        samples: vec![sample(1, 1.0)],
        ..v2::TimeSeries::default()
    });
    let (status, headers, body) = post(
        &router,
        "/api/v1/write",
        &[("Content-Type", V2)],
        snappy(&req),
    )
    .await;
    let body = String::from_utf8(body).expect("utf-8");
    assert_eq!(status, 400);
    assert!(
        body.contains("invalid metric name or labels, got {job=\"a\"}"),
        "{body}"
    );
    assert!(body.contains("parsing labels for series [1, 99]"), "{body}");
    assert_eq!(
        headers
            .get("X-Prometheus-Remote-Write-Samples-Written")
            .and_then(|v| v.to_str().ok()),
        Some("3")
    );
    assert_eq!(store.data().samples.len(), 1);
}

#[tokio::test]
async fn bad_requests_append_nothing() {
    let (store, router) = setup(true);
    // Corrupt snappy.
    let (s, _, b) = post(
        &router,
        "/api/v1/write",
        &[("Content-Type", V1)],
        vec![0xff, 0xff, 0xff, 0x01, 0x02],
    )
    .await;
    assert_eq!((s, b.as_slice()), (400, &b"snappy: corrupt input\n"[..]));
    let (s, _, b) = post(
        &router,
        "/api/v1/write",
        &[("Content-Type", V2)],
        vec![0xff, 0xff, 0xff, 0x01, 0x02],
    )
    .await;
    assert_eq!((s, b.as_slice()), (400, &b"snappy: corrupt input\n"[..]));
    // Valid snappy, garbage protobuf — after a valid series, so a
    // streaming decoder would have appended something.
    let mut raw = v1_request().encode();
    raw.extend_from_slice(&[0x0a, 0x7f, 0x01]);
    let (s, _, b) = post(&router, "/api/v1/write", &[], remote::compress(&raw)).await;
    assert_eq!(s, 400, "{}", String::from_utf8_lossy(&b));
    let mut raw = v2_request().encode();
    raw.extend_from_slice(&[0x2a, 0x7f, 0x01]);
    let (s, _, _) = post(
        &router,
        "/api/v1/write",
        &[("Content-Type", V2)],
        remote::compress(&raw),
    )
    .await;
    assert_eq!(s, 400);
    // A snappy header claiming 64 MiB decompressed.
    let mut huge = Vec::new();
    let mut n: u64 = 64 << 20;
    while n >= 0x80 {
        huge.push((n as u8) | 0x80);
        n >>= 7;
    }
    huge.push(n as u8);
    huge.extend_from_slice(&[0u8; 16]);
    let (s, _, b) = post(&router, "/api/v1/write", &[], huge).await;
    assert_eq!(s, 400);
    assert!(String::from_utf8_lossy(&b).contains("exceeds the limit"));
    // A compressed body above the web body limit (1 MiB here).
    let (s, _, _) = post(&router, "/api/v1/write", &[], vec![0u8; (1 << 20) + 1]).await;
    assert_eq!(s, 413);
    // Unknown message type and encoding: 415.
    let (s, _, b) = post(
        &router,
        "/api/v1/write",
        &[("Content-Type", "application/x-protobuf;proto=foo.Bar")],
        snappy(&v1_request()),
    )
    .await;
    assert_eq!(s, 415, "{}", String::from_utf8_lossy(&b));
    let (s, _, _) = post(
        &router,
        "/api/v1/write",
        &[("Content-Encoding", "gzip")],
        snappy(&v1_request()),
    )
    .await;
    assert_eq!(s, 415);
    let d = store.data();
    assert_eq!(d.commits, 0);
    assert!(d.samples.is_empty() && d.exemplars.is_empty());
}

#[tokio::test]
async fn write_is_404_unless_enabled() {
    let (store, router) = setup(false);
    let (s, _, b) = post(&router, "/api/v1/write", &[], snappy(&v1_request())).await;
    assert_eq!(s, 404);
    assert_eq!(
        b,
        b"remote write receiver needs to be enabled with --web.enable-remote-write-receiver\n"
    );
    assert!(store.data().samples.is_empty());
}

fn read_request(accepted: Vec<i32>) -> prompb::ReadRequest {
    prompb::ReadRequest {
        queries: vec![
            prompb::Query {
                start_timestamp_ms: 1500,
                end_timestamp_ms: 3000,
                matchers: vec![prompb::LabelMatcher {
                    kind: 0,
                    name: "__name__".into(),
                    value: "up".into(),
                }],
                hints: None,
            },
            prompb::Query {
                start_timestamp_ms: 0,
                end_timestamp_ms: 5000,
                matchers: vec![
                    prompb::LabelMatcher {
                        kind: 2,
                        name: "__name__".into(),
                        value: "l.*".into(),
                    },
                    // Equality on the external label's own value matches.
                    prompb::LabelMatcher {
                        kind: 0,
                        name: "replica".into(),
                        value: "r1".into(),
                    },
                ],
                hints: Some(prompb::ReadHints {
                    step_ms: 1000,
                    func: "rate".into(),
                    ..prompb::ReadHints::default()
                }),
            },
        ],
        accepted_response_types: accepted,
    }
}

#[tokio::test]
async fn read_samples_returns_exactly_the_data() {
    let (_, router) = setup(true);
    let (s, _, _) = post(
        &router,
        "/api/v1/write",
        &[("Content-Type", V2)],
        snappy(&v2_request()),
    )
    .await;
    assert_eq!(s, 204);
    let (s, headers, body) = post(
        &router,
        "/api/v1/read",
        &[],
        snappy(&read_request(vec![1, 0])),
    )
    .await;
    assert_eq!(s, 200, "{}", String::from_utf8_lossy(&body));
    assert_eq!(
        headers.get("content-type").and_then(|v| v.to_str().ok()),
        Some("application/x-protobuf")
    );
    assert_eq!(
        headers
            .get("content-encoding")
            .and_then(|v| v.to_str().ok()),
        Some("snappy")
    );
    let raw = remote::decompress(&body, 1 << 20).expect("snappy");
    let resp = prompb::ReadResponse::decode(&raw).expect("decode");
    let want = prompb::ReadResponse {
        results: vec![
            prompb::QueryResult {
                timeseries: vec![prompb::TimeSeries {
                    labels: vec![
                        label("__name__", "up"),
                        label("job", "a"),
                        label("replica", "r1"),
                    ],
                    samples: vec![sample(2000, 2.0), sample(3000, 3.0)],
                    ..prompb::TimeSeries::default()
                }],
            },
            prompb::QueryResult {
                timeseries: vec![prompb::TimeSeries {
                    labels: vec![label("__name__", "lat"), label("replica", "r1")],
                    histograms: vec![int_histogram(1000)],
                    ..prompb::TimeSeries::default()
                }],
            },
        ],
    };
    assert_eq!(resp, want);
}

#[tokio::test]
async fn read_errors() {
    let (_, router) = setup(true);
    let (s, _, b) = post(&router, "/api/v1/read", &[], snappy(&read_request(vec![1]))).await;
    assert_eq!(s, 400);
    assert_eq!(
        String::from_utf8_lossy(&b),
        "server does not support any of the requested response types: [STREAMED_XOR_CHUNKS]; supported: map[SAMPLES:{}]\n"
    );
    let (s, _, b) = post(&router, "/api/v1/read", &[], vec![1, 2, 3]).await;
    assert_eq!((s, b.as_slice()), (400, &b"snappy: corrupt input\n"[..]));
    let (s, _, _) = post(
        &router,
        "/api/v1/read",
        &[],
        remote::compress(&[0x0a, 0x7f]),
    )
    .await;
    assert_eq!(s, 400);
}
