//! Scrape loops against scripted targets on loopback: samples, report
//! series, relabeling, limits, failures, staleness, compression and
//! content negotiation.

#![allow(clippy::unwrap_used, missing_docs)]

mod common;

use std::time::Duration;

use common::{MemStorage, Reply, Server, manager, series};
use model::is_stale_nan;

const BODY: &str = "# HELP http_requests_total Requests.\n# TYPE http_requests_total counter\nhttp_requests_total{code=\"200\"} 10\nhttp_requests_total{code=\"500\"} 2\n# TYPE temp gauge\ntemp 21.5\n";

fn job(name: &str, addr: &str, extra: &str) -> String {
    format!(
        "- job_name: {name}\n  scrape_interval: 200ms\n  scrape_timeout: 150ms\n  static_configs: [{{targets: ['{addr}']}}]\n{extra}"
    )
}

fn config(jobs: &[String]) -> String {
    format!("scrape_configs:\n{}", jobs.concat())
}

const WAIT: Duration = Duration::from_secs(10);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn basic_scrape_appends_samples_and_report_series() {
    let srv = Server::start(Reply::text(BODY)).await;
    let st = MemStorage::default();
    let (m, _) = manager(&st, &config(&[job("app", &srv.addr, "")]));
    let up = series("up", "app", &srv.addr, &[]);
    st.wait_for(WAIT, "two scrapes", |s| s.series(&up).len() >= 2)
        .await;
    m.stop().await;

    let a = srv.addr.as_str();
    let mut want = vec![
        series("http_requests_total", "app", a, &[("code", "200")]),
        series("http_requests_total", "app", a, &[("code", "500")]),
        series("temp", "app", a, &[]),
        series("up", "app", a, &[]),
        series("scrape_duration_seconds", "app", a, &[]),
        series("scrape_samples_scraped", "app", a, &[]),
        series("scrape_samples_post_metric_relabeling", "app", a, &[]),
        series("scrape_series_added", "app", a, &[]),
    ];
    want.sort();
    assert_eq!(st.label_sets(), want);
    let first_t = st.series(&up)[0].0;
    // The first scrape's samples share its timestamp.
    assert_eq!(
        st.series(&series("temp", "app", a, &[]))[0],
        (first_t, 21.5)
    );
    assert_eq!(st.series(&up)[0].1, 1.0);
    assert_eq!(
        st.series(&series("scrape_samples_scraped", "app", a, &[]))[0].1,
        3.0
    );
    assert_eq!(
        st.series(&series(
            "scrape_samples_post_metric_relabeling",
            "app",
            a,
            &[]
        ))[0]
            .1,
        3.0
    );
    let added = st.series(&series("scrape_series_added", "app", a, &[]));
    assert_eq!(added[0].1, 3.0);
    assert_eq!(added[1].1, 0.0, "a steady target adds no series");
    let d = st.series(&series("scrape_duration_seconds", "app", a, &[]))[0].1;
    assert!(d > 0.0 && d < 0.15, "{d}");

    let req = srv.last_request().unwrap();
    assert_eq!(req.path, "/metrics");
    assert_eq!(
        req.header("Accept"),
        Some(
            "application/openmetrics-text;version=1.0.0;escaping=allow-utf-8;q=0.6,\
             application/openmetrics-text;version=0.0.1;q=0.5,\
             text/plain;version=1.0.0;escaping=allow-utf-8;q=0.4,\
             text/plain;version=0.0.4;q=0.3,*/*;q=0.2"
        )
    );
    assert_eq!(req.header("Accept-Encoding"), Some("gzip"));
    assert!(req.header("User-Agent").unwrap().starts_with("Ember/"));
    assert_eq!(
        req.header("X-Prometheus-Scrape-Timeout-Seconds"),
        Some("0.15")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn targets_api_reports_health_and_metadata() {
    let srv = Server::start(Reply::text(BODY)).await;
    let st = MemStorage::default();
    let yaml = config(&[
        job(
            "app",
            &srv.addr,
            "  relabel_configs:\n  - {source_labels: [__address__], regex: 'nothing', action: drop}\n",
        ),
        job(
            "gone",
            "127.0.0.1:1",
            "  relabel_configs:\n  - {action: drop, regex: '.*', source_labels: [__address__]}\n",
        ),
    ]);
    let (m, _) = manager(&st, &yaml);
    let up = series("up", "app", &srv.addr, &[]);
    st.wait_for(WAIT, "a scrape", |s| !s.series(&up).is_empty())
        .await;
    tokio::time::sleep(Duration::from_millis(50)).await;
    let t = m.targets();
    assert_eq!(t.active.len(), 1);
    let a = &t.active[0];
    assert_eq!(a.scrape_pool, "app");
    assert_eq!(a.scrape_url, format!("http://{}/metrics", srv.addr));
    assert_eq!(a.health, scrape::Health::Up);
    assert_eq!(a.last_error, "");
    assert!(a.last_scrape.is_some());
    assert_eq!(a.scrape_interval, Duration::from_millis(200));
    assert_eq!(
        a.discovered_labels.get("__address__"),
        Some(srv.addr.as_str())
    );
    assert_eq!(a.labels.get("instance"), Some(srv.addr.as_str()));
    assert_eq!(t.dropped.len(), 1);
    assert_eq!(t.dropped[0].scrape_pool, "gone");
    assert_eq!(t.dropped_counts.get("gone"), Some(&1));
    let md = m.target_metadata();
    assert_eq!(md.len(), 1);
    let h = &md[0].metadata["http_requests_total"];
    assert_eq!(h.kind, model::MetricType::Counter);
    assert_eq!(h.help, "Requests.");
    assert_eq!(md[0].metadata["temp"].kind, model::MetricType::Gauge);
    m.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn honor_labels_and_metric_relabeling() {
    let body = "m{job=\"exp\",instance=\"i\",exported_job=\"z\",k=\"v\"} 1\ndropme 2\nkeep 3\n";
    let srv = Server::start(Reply::text(body)).await;
    let st = MemStorage::default();
    let relabel =
        "  metric_relabel_configs:\n  - {source_labels: [__name__], regex: dropme, action: drop}\n";
    let (m, _) = manager(&st, &config(&[job("plain", &srv.addr, relabel)]));
    let a = srv.addr.as_str();
    let up = series("up", "plain", a, &[]);
    st.wait_for(WAIT, "a scrape", |s| !s.series(&up).is_empty())
        .await;
    m.stop().await;
    assert!(st.label_sets().contains(&series(
        "m",
        "plain",
        a,
        // `exported_job` is taken by the exposition: one more prefix.
        &[
            ("exported_job", "z"),
            ("exported_instance", "i"),
            ("exported_exported_job", "exp"),
            ("k", "v")
        ]
    )));
    assert!(!st.label_sets().iter().any(|s| s.contains("dropme")));
    assert_eq!(st.values("scrape_samples_scraped")[0], 3.0);
    assert_eq!(st.values("scrape_samples_post_metric_relabeling")[0], 2.0);

    let st = MemStorage::default();
    let (m, _) = manager(
        &st,
        &config(&[job("honor", &srv.addr, "  honor_labels: true\n")]),
    );
    st.wait_for(WAIT, "a scrape", |s| !s.values("up").is_empty())
        .await;
    m.stop().await;
    let honored = model::Labels::from_pairs([
        ("__name__", "m"),
        ("job", "exp"),
        ("instance", "i"),
        ("exported_job", "z"),
        ("k", "v"),
    ])
    .to_string();
    assert!(st.label_sets().contains(&honored), "{:?}", st.label_sets());
    // Report series always carry the target's labels.
    assert!(st.label_sets().contains(&series("up", "honor", a, &[])));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn honor_timestamps() {
    let body = "a 1 1000\nb 2\n";
    let srv = Server::start(Reply::text(body)).await;
    let st = MemStorage::default();
    let (m, _) = manager(&st, &config(&[job("ts", &srv.addr, "")]));
    st.wait_for(WAIT, "a scrape", |s| !s.values("up").is_empty())
        .await;
    m.stop().await;
    let a = srv.addr.as_str();
    assert_eq!(st.series(&series("a", "ts", a, &[]))[0], (1000, 1.0));

    let st = MemStorage::default();
    let (m, _) = manager(
        &st,
        &config(&[job("ts", &srv.addr, "  honor_timestamps: false\n")]),
    );
    st.wait_for(WAIT, "a scrape", |s| !s.values("up").is_empty())
        .await;
    m.stop().await;
    let up_t = st.series(&series("up", "ts", a, &[]))[0].0;
    assert_eq!(st.series(&series("a", "ts", a, &[]))[0], (up_t, 1.0));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sample_limit_fails_the_whole_scrape() {
    let srv = Server::start(Reply::text("a 1\nb 2\nc 3\nd 4\ne 5\n")).await;
    let st = MemStorage::default();
    let (m, _) = manager(
        &st,
        &config(&[job("lim", &srv.addr, "  sample_limit: 3\n")]),
    );
    st.wait_for(WAIT, "two scrapes", |s| s.values("up").len() >= 2)
        .await;
    let t = m.targets();
    m.stop().await;
    let a = srv.addr.as_str();
    let mut want = vec![
        series("up", "lim", a, &[]),
        series("scrape_duration_seconds", "lim", a, &[]),
        series("scrape_samples_scraped", "lim", a, &[]),
        series("scrape_samples_post_metric_relabeling", "lim", a, &[]),
        series("scrape_series_added", "lim", a, &[]),
    ];
    want.sort();
    assert_eq!(st.label_sets(), want, "nothing but the report series");
    assert_eq!(st.values("up")[0], 0.0);
    assert_eq!(st.values("scrape_samples_scraped")[0], 5.0);
    assert_eq!(t.active[0].last_error, "sample limit exceeded");
    assert_eq!(t.active[0].health, scrape::Health::Down);
    let fams = m.metrics();
    let f = fams
        .iter()
        .find(|f| f.name == "prometheus_target_scrapes_exceeded_sample_limit_total")
        .unwrap();
    assert!(matches!(&f.metrics[0].value, expfmt::MetricValue::Counter(c) if c.value >= 1.0));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn label_limits_fail_the_scrape() {
    let srv = Server::start(Reply::text(
        "a{x=\"1\",y=\"2\"} 1\nb{long=\"abcdefghijkl\"} 1\n",
    ))
    .await;
    for (extra, err) in [
        (
            "  label_limit: 3\n",
            "label_limit exceeded (metric: a, number of labels: 5, limit: 3)",
        ),
        (
            "  label_name_length_limit: 3\n",
            "label_name_length_limit exceeded (metric: a, label name: __name__, length: 8, limit: 3)",
        ),
        (
            "  label_value_length_limit: 10\n",
            "label_value_length_limit exceeded (metric: a, label name: instance, value: \"127.0.0.1:",
        ),
    ] {
        let st = MemStorage::default();
        let (m, _) = manager(&st, &config(&[job("ll", &srv.addr, extra)]));
        st.wait_for(WAIT, "a scrape", |s| !s.values("up").is_empty())
            .await;
        tokio::time::sleep(Duration::from_millis(20)).await;
        let t = m.targets();
        m.stop().await;
        assert_eq!(st.values("up")[0], 0.0, "{extra}");
        assert!(
            t.active[0].last_error.starts_with(err),
            "{}",
            t.active[0].last_error
        );
        assert!(st.values("a").is_empty() && st.values("b").is_empty());
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failures_set_up_to_zero_with_prometheus_errors() {
    let big = "x 1\n".repeat(1000);
    let hang = Server::start(Reply::Hang).await;
    let large = Server::start(Reply::text(&big)).await;
    let status = Server::start(Reply::Full {
        status: 503,
        headers: vec![],
        body: b"no".to_vec(),
    })
    .await;
    let bad_utf8 = Server::start(Reply::with(
        "text/plain; version=0.0.4",
        b"a{x=\"\xff\xfe\"} 1\n".to_vec(),
    ))
    .await;
    let blank_ct = Server::start(Reply::with("", b"a 1\n".to_vec())).await;
    let st = MemStorage::default();
    let yaml = config(&[
        job("hang", &hang.addr, ""),
        job(
            "large",
            &large.addr,
            "  body_size_limit: 1KB\n  extra_scrape_metrics: true\n",
        ),
        job("status", &status.addr, ""),
        job("utf8", &bad_utf8.addr, ""),
        job("blank", &blank_ct.addr, ""),
        job("refused", "127.0.0.1:1", ""),
    ]);
    let (m, _) = manager(&st, &yaml);
    st.wait_for(WAIT, "every target scraped", |s| s.values("up").len() >= 6)
        .await;
    // The report series are committed just before the target's status is
    // updated: wait for the status too.
    let deadline = tokio::time::Instant::now() + WAIT;
    let t = loop {
        let t = m.targets();
        if t.active.iter().all(|a| !a.last_error.is_empty())
            || tokio::time::Instant::now() > deadline
        {
            break t;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    m.stop().await;
    assert!(
        st.values("up").iter().all(|v| *v == 0.0),
        "{:?}",
        st.values("up")
    );
    let err = |job: &str| {
        t.active
            .iter()
            .find(|a| a.scrape_pool == job)
            .unwrap()
            .last_error
            .clone()
    };
    assert_eq!(
        err("hang"),
        format!(
            "Get \"http://{}/metrics\": context deadline exceeded",
            hang.addr
        )
    );
    assert_eq!(err("large"), "body size limit exceeded");
    assert_eq!(st.values("scrape_body_size_bytes")[0], -1.0);
    assert_eq!(st.values("scrape_timeout_seconds")[0], 0.15);
    assert_eq!(
        err("status"),
        "server returned HTTP status 503 Service Unavailable"
    );
    assert!(err("utf8").contains("UTF-8"), "{}", err("utf8"));
    assert_eq!(
        err("blank"),
        "non-compliant scrape target sending blank Content-Type and no fallback_scrape_protocol specified for target"
    );
    assert!(
        err("refused").starts_with("Get \"http://127.0.0.1:1/metrics\": "),
        "{}",
        err("refused")
    );
    // The timed-out scrape took about the timeout.
    let d = st.series(&series("scrape_duration_seconds", "hang", &hang.addr, &[]))[0].1;
    assert!((0.14..0.3).contains(&d), "{d}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fallback_protocol_and_negotiation() {
    let blank = Server::start(Reply::with("", b"a 1\n".to_vec())).await;
    let fam = expfmt::MetricFamily {
        name: "pb_total".into(),
        help: "h".into(),
        unit: String::new(),
        kind: model::MetricType::Counter,
        metrics: vec![expfmt::Metric {
            labels: vec![("k".into(), "v".into())],
            value: expfmt::MetricValue::Counter(expfmt::family::Counter {
                value: 7.0,
                ..Default::default()
            }),
            timestamp_ms: None,
        }],
    };
    let mut pb = Vec::new();
    expfmt::encode_protobuf(std::slice::from_ref(&fam), &mut pb);
    let mut om = String::new();
    expfmt::encode_openmetrics(std::slice::from_ref(&fam), &mut om);
    let proto = Server::start_fn(move |req| {
        let accept = req.header("Accept").unwrap_or("");
        if accept.starts_with("application/vnd.google.protobuf") {
            Reply::with(expfmt::format::PROTOBUF_CONTENT_TYPE, pb.clone())
        } else {
            Reply::with(
                expfmt::format::OPENMETRICS_CONTENT_TYPE,
                om.clone().into_bytes(),
            )
        }
    })
    .await;
    let st = MemStorage::default();
    let yaml = config(&[
        job(
            "blank",
            &blank.addr,
            "  fallback_scrape_protocol: PrometheusText0.0.4\n",
        ),
        job(
            "proto",
            &proto.addr,
            "  scrape_protocols: [PrometheusProto]\n",
        ),
        job(
            "om",
            &proto.addr,
            "  scrape_protocols: [OpenMetricsText1.0.0]\n  metric_name_validation_scheme: legacy\n",
        ),
    ]);
    let (m, _) = manager(&st, &yaml);
    st.wait_for(WAIT, "every target scraped", |s| s.values("up").len() >= 3)
        .await;
    m.stop().await;
    assert!(
        st.values("up").iter().all(|v| *v == 1.0),
        "{:?}",
        st.values("up")
    );
    assert_eq!(st.series(&series("a", "blank", &blank.addr, &[]))[0].1, 1.0);
    assert_eq!(
        st.series(&series("pb_total", "proto", &proto.addr, &[("k", "v")]))[0].1,
        7.0
    );
    assert_eq!(
        st.series(&series("pb_total", "om", &proto.addr, &[("k", "v")]))[0].1,
        7.0
    );
    let accepts: Vec<String> = proto
        .requests
        .lock()
        .unwrap()
        .iter()
        .map(|r| r.header("Accept").unwrap_or("").to_owned())
        .collect();
    assert!(accepts.contains(
        &"application/vnd.google.protobuf;proto=io.prometheus.client.MetricFamily;encoding=delimited;q=0.6,*/*;q=0.5".to_owned()
    ));
    assert!(
        accepts.contains(
            &"application/openmetrics-text;version=1.0.0;escaping=underscores;q=0.6,*/*;q=0.5"
                .to_owned()
        )
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn gzip_and_disabled_compression() {
    use std::io::Write as _;
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    gz.write_all(BODY.as_bytes()).unwrap();
    let gz = gz.finish().unwrap();
    let srv = Server::start_fn(move |req| {
        if req.header("Accept-Encoding") == Some("gzip") {
            Reply::Full {
                status: 200,
                headers: vec![
                    ("Content-Type".into(), "text/plain; version=0.0.4".into()),
                    ("Content-Encoding".into(), "gzip".into()),
                ],
                body: gz.clone(),
            }
        } else {
            Reply::text(BODY)
        }
    })
    .await;
    let st = MemStorage::default();
    let yaml = config(&[
        job("gz", &srv.addr, ""),
        job("plain", &srv.addr, "  enable_compression: false\n"),
    ]);
    let (m, _) = manager(&st, &yaml);
    st.wait_for(WAIT, "both scraped", |s| s.values("up").len() >= 2)
        .await;
    m.stop().await;
    assert!(st.values("up").iter().all(|v| *v == 1.0));
    assert_eq!(st.series(&series("temp", "gz", &srv.addr, &[]))[0].1, 21.5);
    assert_eq!(
        st.series(&series("temp", "plain", &srv.addr, &[]))[0].1,
        21.5
    );
    let encodings: Vec<String> = srv
        .requests
        .lock()
        .unwrap()
        .iter()
        .map(|r| r.header("Accept-Encoding").unwrap_or("").to_owned())
        .collect();
    assert!(encodings.contains(&"gzip".to_owned()));
    assert!(encodings.contains(&"identity".to_owned()));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn gzip_bomb_is_bounded_by_body_size_limit() {
    use std::io::Write as _;
    // 64 MiB of newlines compress to ~64 KiB.
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
    let zeros = vec![b'\n'; 1 << 20];
    for _ in 0..64 {
        gz.write_all(&zeros).unwrap();
    }
    let gz = gz.finish().unwrap();
    assert!(gz.len() < 1 << 20);
    let srv = Server::start(Reply::Full {
        status: 200,
        headers: vec![
            ("Content-Type".into(), "text/plain".into()),
            ("Content-Encoding".into(), "gzip".into()),
        ],
        body: gz,
    })
    .await;
    let st = MemStorage::default();
    let (m, _) = manager(
        &st,
        &config(&[job("bomb", &srv.addr, "  body_size_limit: 1MB\n")]),
    );
    st.wait_for(WAIT, "a scrape", |s| !s.values("up").is_empty())
        .await;
    tokio::time::sleep(Duration::from_millis(20)).await;
    let t = m.targets();
    m.stop().await;
    assert_eq!(st.values("up")[0], 0.0);
    assert_eq!(t.active[0].last_error, "body size limit exceeded");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn staleness_for_vanished_series_failed_scrapes_and_removed_targets() {
    let srv = Server::start(Reply::text("a 1\nb 2\nc{x=\"1\"} 3 1000\n")).await;
    let st = MemStorage::default();
    let (m, cfg) = manager(&st, &config(&[job("st", &srv.addr, "")]));
    let addr = srv.addr.clone();
    let a = series("a", "st", &addr, &[]);
    let b = series("b", "st", &addr, &[]);
    let up = series("up", "st", &addr, &[]);
    st.wait_for(WAIT, "a scrape", |s| !s.series(&a).is_empty())
        .await;
    // b vanishes: a stale marker at the next scrape's timestamp.
    srv.set_reply(Reply::text("a 1\n"));
    st.wait_for(WAIT, "b stale", |s| {
        s.series(&b).iter().any(|(_, v)| is_stale_nan(*v))
    })
    .await;
    let (stale_t, _) = *st
        .series(&b)
        .iter()
        .find(|(_, v)| is_stale_nan(*v))
        .unwrap();
    assert!(
        st.series(&up).iter().any(|(t, _)| *t == stale_t),
        "stale marker at a scrape time"
    );
    // Explicit timestamps: no stale marker.
    assert!(!st.values("c").iter().any(|v| is_stale_nan(*v)));
    // A failed scrape: everything goes stale.
    srv.set_reply(Reply::Full {
        status: 500,
        headers: vec![],
        body: vec![],
    });
    st.wait_for(WAIT, "a stale", |s| {
        s.series(&a).iter().any(|(_, v)| is_stale_nan(*v))
    })
    .await;
    // Recovers, then the target is removed: stale markers for its series
    // and its report series, about two intervals later.
    srv.set_reply(Reply::text("a 1\n"));
    st.wait_for(WAIT, "a again", |s| {
        s.series(&a).last().is_some_and(|(_, v)| *v == 1.0)
    })
    .await;
    let mut sets = common::static_sets(&cfg);
    sets.get_mut("st").unwrap().clear();
    let removed_at = std::time::Instant::now();
    m.sync(sets);
    st.wait_for(WAIT, "up stale", |s| {
        s.series(&up).last().is_some_and(|(_, v)| is_stale_nan(*v))
    })
    .await;
    assert!(removed_at.elapsed() >= Duration::from_millis(200));
    assert!(is_stale_nan(st.series(&a).last().unwrap().1));
    assert!(m.targets().active.is_empty());
    m.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn target_limit_fails_every_target() {
    let srv = Server::start(Reply::text("a 1\n")).await;
    let st = MemStorage::default();
    let yaml = format!(
        "scrape_configs:\n- job_name: tl\n  scrape_interval: 200ms\n  scrape_timeout: 100ms\n  target_limit: 1\n  static_configs: [{{targets: ['{0}', 'localhost:{1}']}}]\n",
        srv.addr,
        srv.addr.rsplit(':').next().unwrap()
    );
    let (m, _) = manager(&st, &yaml);
    st.wait_for(WAIT, "two targets", |s| s.values("up").len() >= 2)
        .await;
    tokio::time::sleep(Duration::from_millis(20)).await;
    let t = m.targets();
    m.stop().await;
    assert!(st.values("up").iter().all(|v| *v == 0.0));
    assert!(st.values("a").is_empty());
    assert_eq!(
        t.active[0].last_error,
        "target_limit exceeded (number of targets: 2, limit: 1)"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cached_series_survive_a_storage_that_forgot_their_references() {
    // The cache keeps references, not labels: when the storage no longer
    // knows a reference, the labels are built again from the scraped entry.
    let srv = Server::start(Reply::text(BODY)).await;
    let st = MemStorage::default();
    let (m, _) = manager(&st, &config(&[job("app", &srv.addr, "")]));
    let a = srv.addr.as_str();
    let temp = series("temp", "app", a, &[]);
    let ok = series("http_requests_total", "app", a, &[("code", "200")]);
    st.wait_for(WAIT, "two scrapes", |s| s.series(&temp).len() >= 2)
        .await;
    st.forget_refs();
    let n = st.series(&temp).len();
    st.wait_for(WAIT, "two more scrapes", |s| s.series(&temp).len() >= n + 2)
        .await;
    // A vanished series of a forgotten reference gets no stale marker (its
    // labels are not kept); the others go on with the right labels.
    srv.set_reply(Reply::text("temp 22\n"));
    st.wait_for(WAIT, "new value", |s| {
        s.series(&temp).last().is_some_and(|(_, v)| *v == 22.0)
    })
    .await;
    m.stop().await;
    let mut sets = st.label_sets();
    sets.sort();
    assert!(sets.contains(&temp) && sets.contains(&ok), "{sets:?}");
    assert!(
        !st.values("http_requests_total")
            .iter()
            .any(|v| is_stale_nan(*v))
    );
    let ts: Vec<i64> = st.series(&temp).iter().map(|(t, _)| *t).collect();
    assert!(
        ts.windows(2).all(|w| w[0] < w[1]),
        "one sample per scrape: {ts:?}"
    );
}
