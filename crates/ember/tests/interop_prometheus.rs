//! `ember server` with Debian's real Prometheus 2.42 and promtool, on
//! loopback:
//!
//! - `promtool query instant|range|series|labels` against Ember;
//! - Prometheus remote-writing into Ember: every sample Prometheus scraped
//!   arrives, with the same values and timestamps;
//! - Prometheus federating from Ember's `/federate`;
//! - Prometheus remote-reading from Ember's `/api/v1/read`: a query through
//!   Prometheus answers what Ember answers itself;
//! - the calls Grafana's Prometheus data source makes.
//!
//! The tests fail (never skip) when `/usr/bin/prometheus` or
//! `/usr/bin/promtool` is missing. Their names contain `prometheus` or
//! `promtool`, so `.config/nextest.toml` gives each two threads.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::{BTreeMap, BTreeSet};
use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use serde_json::Value;

const PROMETHEUS: &str = "/usr/bin/prometheus";
const PROMTOOL: &str = "/usr/bin/promtool";

fn require(bin: &str) {
    assert!(
        Path::new(bin).exists(),
        "{bin} is missing: install Debian's `prometheus` package (2.42)"
    );
}

/// A child process killed when dropped; its log is kept for messages.
struct Proc {
    child: Child,
    log: PathBuf,
}

impl Proc {
    fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64
}

/// Percent-encodes everything but unreserved characters.
fn enc(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// One HTTP/1.0 request: (status, headers lower-cased, body).
fn http(
    port: u16,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &[u8],
) -> Option<(u16, String, Vec<u8>)> {
    let mut s = TcpStream::connect(("127.0.0.1", port)).ok()?;
    s.set_read_timeout(Some(Duration::from_secs(30))).ok()?;
    let mut req = format!(
        "{method} {path} HTTP/1.0\r\nHost: 127.0.0.1\r\nContent-Length: {}\r\n",
        body.len()
    );
    for (k, v) in headers {
        req.push_str(&format!("{k}: {v}\r\n"));
    }
    req.push_str("\r\n");
    s.write_all(req.as_bytes()).ok()?;
    s.write_all(body).ok()?;
    let mut raw = Vec::new();
    s.read_to_end(&mut raw).ok()?;
    let split = raw.windows(4).position(|w| w == b"\r\n\r\n")?;
    let head = String::from_utf8_lossy(&raw[..split]).to_ascii_lowercase();
    let status = head.split(' ').nth(1)?.parse().ok()?;
    Some((status, head, raw[split + 4..].to_vec()))
}

fn get_json(port: u16, path: &str) -> Value {
    let (status, _, body) = http(port, "GET", path, &[], b"").expect("request");
    let v: Value = serde_json::from_slice(&body)
        .unwrap_or_else(|e| panic!("{path}: {e}: {}", String::from_utf8_lossy(&body)));
    assert_eq!(status, 200, "{path}: {v}");
    assert_eq!(v["status"], "success", "{path}: {v}");
    v
}

fn post_form(port: u16, path: &str, form: &str) -> Value {
    let (status, _, body) = http(
        port,
        "POST",
        path,
        &[("Content-Type", "application/x-www-form-urlencoded")],
        form.as_bytes(),
    )
    .expect("request");
    let v: Value = serde_json::from_slice(&body)
        .unwrap_or_else(|e| panic!("{path}: {e}: {}", String::from_utf8_lossy(&body)));
    assert_eq!(status, 200, "{path} {form}: {v}");
    v
}

fn wait_until(what: &str, logs: &[&Proc], secs: u64, mut ok: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(secs);
    while !ok() {
        if Instant::now() > deadline {
            let logs: Vec<String> = logs.iter().map(|p| p.log()).collect();
            panic!(
                "timed out waiting for {what}; logs:\n{}",
                logs.join("\n----\n")
            );
        }
        std::thread::sleep(Duration::from_millis(200));
    }
}

fn ready(port: u16) -> bool {
    http(port, "GET", "/-/ready", &[], b"").is_some_and(|(s, _, _)| s == 200)
}

/// Starts `ember server` with `config` (YAML) and extra flags.
fn start_ember(dir: &Path, port: u16, config: &str, extra: &[&str]) -> Proc {
    let cfg = dir.join("ember.yml");
    std::fs::write(&cfg, config).unwrap();
    let log = dir.join("ember.log");
    let child = Command::new(env!("CARGO_BIN_EXE_ember"))
        .arg("server")
        .arg(format!("--config.file={}", cfg.display()))
        .arg(format!(
            "--storage.tsdb.path={}",
            dir.join("ember-data").display()
        ))
        .arg(format!("--web.listen-address=127.0.0.1:{port}"))
        .args(extra)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(&log).unwrap())
        .spawn()
        .expect("start ember");
    let p = Proc { child, log };
    wait_until("ember to be ready", &[&p], 30, || ready(port));
    p
}

/// Starts Debian's Prometheus with `config` (YAML).
fn start_prometheus(dir: &Path, port: u16, config: &str) -> Proc {
    require(PROMETHEUS);
    let cfg = dir.join("prometheus.yml");
    std::fs::write(&cfg, config).unwrap();
    let log = dir.join("prometheus.log");
    let child = Command::new(PROMETHEUS)
        .arg(format!("--config.file={}", cfg.display()))
        .arg(format!(
            "--storage.tsdb.path={}",
            dir.join("prom-data").display()
        ))
        .arg(format!("--web.listen-address=127.0.0.1:{port}"))
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(&log).unwrap())
        .spawn()
        .expect("start prometheus");
    let p = Proc { child, log };
    wait_until("prometheus to be ready", &[&p], 60, || ready(port));
    p
}

/// An exposition target: `interop_counter` goes up by one per scrape,
/// `interop_gauge{kind="a"|"b"}` are constants. Returns the port.
fn exposition_target() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let n = Arc::new(AtomicU64::new(0));
    std::thread::spawn(move || {
        for conn in listener.incoming() {
            let Ok(mut conn) = conn else { continue };
            let _ = conn.set_read_timeout(Some(Duration::from_secs(2)));
            let mut buf = [0u8; 4096];
            let _ = conn.read(&mut buf);
            let k = n.fetch_add(1, Ordering::SeqCst);
            let body = format!(
                "# TYPE interop_counter counter\ninterop_counter {k}\n\
                 # TYPE interop_gauge gauge\ninterop_gauge{{kind=\"a\"}} 1.5\ninterop_gauge{{kind=\"b\"}} -2\n"
            );
            let _ = write!(
                conn,
                "HTTP/1.1 200 OK\r\nContent-Type: text/plain; version=0.0.4\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                body.len()
            );
        }
    });
    port
}

/// The raw samples of a range-vector query, by series (labels as JSON text).
fn raw_samples(port: u16, selector: &str, at_s: f64) -> BTreeMap<String, Vec<(f64, String)>> {
    let v = get_json(
        port,
        &format!("/api/v1/query?query={}&time={at_s}", enc(selector)),
    );
    let mut out = BTreeMap::new();
    for s in v["data"]["result"].as_array().unwrap() {
        let vals = s["values"]
            .as_array()
            .unwrap()
            .iter()
            .map(|p| (p[0].as_f64().unwrap(), p[1].as_str().unwrap().to_string()))
            .collect();
        out.insert(s["metric"].to_string(), vals);
    }
    out
}

#[test]
fn promtool_query_instant_range_series_labels_against_ember() {
    require(PROMTOOL);
    let tmp = tempfile::tempdir().unwrap();
    let port = free_port();
    let ember = start_ember(
        tmp.path(),
        port,
        &format!(
            "global:\n  scrape_interval: 1s\nscrape_configs:\n  - job_name: self\n    static_configs:\n      - targets: ['127.0.0.1:{port}']\n"
        ),
        &[],
    );
    wait_until("a few self-scrapes", &[&ember], 30, || {
        get_json(
            port,
            &format!("/api/v1/query?query={}", enc("count_over_time(up[1m])")),
        )["data"]["result"][0]["value"][1]
            .as_str()
            .and_then(|s| s.parse::<f64>().ok())
            .is_some_and(|n| n >= 3.0)
    });
    let url = format!("http://127.0.0.1:{port}");
    let promtool = |args: &[&str]| -> String {
        let out = Command::new(PROMTOOL)
            .args(args)
            .output()
            .expect("run promtool");
        assert!(
            out.status.success(),
            "promtool {args:?}: {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).to_string()
    };

    let instant = promtool(&["query", "instant", &url, "up"]);
    assert!(
        instant.contains(&format!(
            "up{{instance=\"127.0.0.1:{port}\", job=\"self\"}} => 1 @["
        )) || instant.contains(&format!(
            "up{{instance=\"127.0.0.1:{port}\",job=\"self\"}} => 1 @["
        )),
        "{instant}"
    );
    let scalar = promtool(&["query", "instant", &url, "1 + 1"]);
    assert!(scalar.starts_with("scalar: 2 @["), "{scalar}");

    let end = now_ms() / 1000;
    let range = promtool(&[
        "query",
        "range",
        "--start",
        &(end - 20).to_string(),
        "--end",
        &end.to_string(),
        "--step",
        "5s",
        &url,
        "up",
    ]);
    assert!(range.contains("job=\"self\""), "{range}");
    assert!(range.contains("1 @["), "{range}");

    let series = promtool(&["query", "series", "--match", "up", &url]);
    assert!(series.contains("__name__=\"up\""), "{series}");
    assert!(series.contains("job=\"self\""), "{series}");

    let labels = promtool(&["query", "labels", &url, "job"]);
    assert_eq!(labels.trim(), "self", "{labels}");
    let names = promtool(&["query", "labels", &url, "__name__"]);
    assert!(names.lines().any(|l| l == "up"), "{names}");
    assert!(
        names.lines().any(|l| l == "scrape_duration_seconds"),
        "{names}"
    );
}

#[test]
fn prometheus_remote_writes_into_ember_every_sample_arrives() {
    let tmp = tempfile::tempdir().unwrap();
    let (eport, pport) = (free_port(), free_port());
    let ember = start_ember(
        tmp.path(),
        eport,
        "global:\n  scrape_interval: 1h\n",
        &["--web.enable-remote-write-receiver"],
    );
    let target = exposition_target();
    let prom = start_prometheus(
        tmp.path(),
        pport,
        &format!(
            "global:\n  scrape_interval: 1s\nscrape_configs:\n  - job_name: target\n    static_configs:\n      - targets: ['127.0.0.1:{target}']\n\
             remote_write:\n  - url: http://127.0.0.1:{eport}/api/v1/write\n    queue_config:\n      batch_send_deadline: 1s\n      min_backoff: 100ms\n"
        ),
    );
    let selector = "{job=\"target\"}[10m]";
    wait_until("ten scrapes in Prometheus", &[&prom], 60, || {
        raw_samples(pport, selector, now_ms() as f64 / 1000.0)
            .values()
            .next()
            .is_some_and(|v| v.len() >= 10)
    });
    let at = now_ms() as f64 / 1000.0;
    let want = raw_samples(pport, selector, at);
    assert_eq!(
        want.len(),
        8,
        "3 target series and 5 report series: {want:?}"
    );
    wait_until("every sample in Ember", &[&prom, &ember], 60, || {
        raw_samples(eport, selector, at) == want
    });
    let n: usize = want.values().map(Vec::len).sum();
    assert!(n >= 70, "{n} samples compared");
}

#[test]
fn prometheus_federates_from_ember() {
    let tmp = tempfile::tempdir().unwrap();
    let (eport, pport) = (free_port(), free_port());
    let ember = start_ember(
        tmp.path(),
        eport,
        &format!(
            "global:\n  scrape_interval: 1s\n  external_labels:\n    source: ember\n\
             scrape_configs:\n  - job_name: self\n    static_configs:\n      - targets: ['127.0.0.1:{eport}']\n"
        ),
        &[],
    );
    wait_until("Ember to scrape itself", &[&ember], 30, || {
        get_json(eport, "/api/v1/query?query=up")["data"]["result"]
            .as_array()
            .is_some_and(|r| !r.is_empty())
    });
    let (_, _, fed) = http(
        eport,
        "GET",
        &format!("/federate?match[]={}", enc("{job=\"self\"}")),
        &[],
        b"",
    )
    .unwrap();
    let fed = String::from_utf8(fed).unwrap();
    let names: BTreeSet<String> = fed
        .lines()
        .filter(|l| !l.starts_with('#') && !l.is_empty())
        .map(|l| l.split(['{', ' ']).next().unwrap().to_string())
        .collect();
    assert!(names.contains("up") && names.len() > 20, "{fed}");
    let prom = start_prometheus(
        tmp.path(),
        pport,
        &format!(
            "global:\n  scrape_interval: 1s\nscrape_configs:\n  - job_name: federate\n    honor_labels: true\n    metrics_path: /federate\n    params:\n      'match[]': ['{{job=\"self\"}}']\n    static_configs:\n      - targets: ['127.0.0.1:{eport}']\n"
        ),
    );
    wait_until(
        "every federated family in Prometheus",
        &[&prom, &ember],
        60,
        || {
            let v = get_json(
                pport,
                &format!(
                    "/api/v1/label/__name__/values?match[]={}",
                    enc("{job=\"self\",source=\"ember\"}")
                ),
            );
            let got: BTreeSet<String> = v["data"]
                .as_array()
                .unwrap()
                .iter()
                .map(|s| s.as_str().unwrap().to_string())
                .collect();
            names.is_subset(&got)
        },
    );
    // The federated `up` keeps Ember's labels (honor_labels) and value.
    let v = get_json(
        pport,
        &format!("/api/v1/query?query={}", enc("up{job=\"self\"}")),
    );
    let r = &v["data"]["result"][0];
    assert_eq!(r["metric"]["instance"], format!("127.0.0.1:{eport}"));
    assert_eq!(r["metric"]["source"], "ember");
    assert_eq!(r["value"][1], "1");
}

#[test]
fn prometheus_remote_reads_from_ember_same_answers() {
    let tmp = tempfile::tempdir().unwrap();
    let (eport, pport) = (free_port(), free_port());
    let ember = start_ember(
        tmp.path(),
        eport,
        "global:\n  scrape_interval: 1h\n",
        &["--web.enable-remote-write-receiver"],
    );
    // Data only Ember has: two series, one sample every 15 s for 10 minutes.
    let end = (now_ms() / 15_000) * 15_000;
    let start = end - 600_000;
    let mut ts = Vec::new();
    for (job, f) in [("a", 1.0), ("b", 2.5)] {
        ts.push(remote::prompb::TimeSeries {
            labels: vec![
                remote::prompb::Label {
                    name: "__name__".into(),
                    value: "rr_metric".into(),
                },
                remote::prompb::Label {
                    name: "job".into(),
                    value: job.into(),
                },
            ],
            samples: (0..=40)
                .map(|k| remote::prompb::Sample {
                    value: f * k as f64,
                    timestamp: start + k * 15_000,
                })
                .collect(),
            ..Default::default()
        });
    }
    use remote::prompb::Message as _;
    let body = remote::compress(
        &remote::prompb::WriteRequest {
            timeseries: ts,
            metadata: Vec::new(),
        }
        .encode(),
    );
    let (status, _, _) = http(
        eport,
        "POST",
        "/api/v1/write",
        &[
            ("Content-Type", "application/x-protobuf"),
            ("Content-Encoding", "snappy"),
        ],
        &body,
    )
    .unwrap();
    assert_eq!(status, 204);
    let prom = start_prometheus(
        tmp.path(),
        pport,
        &format!(
            "global:\n  scrape_interval: 1h\nremote_read:\n  - url: http://127.0.0.1:{eport}/api/v1/read\n    read_recent: true\n"
        ),
    );
    let _ = &ember;
    let _ = &prom;
    for q in [
        "rr_metric",
        "sum(rate(rr_metric[2m]))",
        "rr_metric{job=\"b\"} * 2",
        "max_over_time(rr_metric[5m])",
    ] {
        let form = format!(
            "query={}&start={}&end={}&step=30",
            enc(q),
            start / 1000 + 60,
            end / 1000
        );
        let ours = post_form(eport, "/api/v1/query_range", &form);
        let theirs = post_form(pport, "/api/v1/query_range", &form);
        assert!(
            !ours["data"]["result"].as_array().unwrap().is_empty(),
            "{q}: {ours}"
        );
        assert_eq!(ours["data"], theirs["data"], "{q}");
    }
    // A raw range selector goes through remote read sample by sample. (The
    // window is not aligned to a sample: 2.42's windows are closed on the
    // left, 3.x's, which Ember follows, are open.)
    let at = (end + 7_500) as f64 / 1000.0;
    assert_eq!(
        raw_samples(pport, "rr_metric[10m]", at),
        raw_samples(eport, "rr_metric[10m]", at)
    );
}

#[test]
fn grafana_prometheus_datasource_calls() {
    let tmp = tempfile::tempdir().unwrap();
    let port = free_port();
    let ember = start_ember(
        tmp.path(),
        port,
        &format!(
            "global:\n  scrape_interval: 1s\nscrape_configs:\n  - job_name: self\n    static_configs:\n      - targets: ['127.0.0.1:{port}']\n"
        ),
        &[],
    );
    wait_until("self-scrapes", &[&ember], 30, || {
        get_json(
            port,
            &format!("/api/v1/query?query={}", enc("count_over_time(up[1m])")),
        )["data"]["result"][0]["value"][1]
            .as_str()
            .and_then(|s| s.parse::<f64>().ok())
            .is_some_and(|n| n >= 3.0)
    });
    let now = now_ms() / 1000;
    let (start, end) = (now - 300, now);

    // Health check and version detection.
    let v = get_json(port, "/api/v1/status/buildinfo");
    assert!(v["data"]["version"].is_string(), "{v}");
    let v = post_form(port, "/api/v1/query", &format!("query=1%2B1&time={now}"));
    assert_eq!(v["data"]["resultType"], "scalar");
    // Panels: instant and range queries (POST, form-encoded, Grafana's default).
    let v = post_form(port, "/api/v1/query", &format!("query=up&time={now}"));
    assert_eq!(v["data"]["resultType"], "vector");
    assert_eq!(v["data"]["result"][0]["metric"]["job"], "self");
    let v = post_form(
        port,
        "/api/v1/query_range",
        &format!(
            "query={}&start={start}&end={end}&step=15",
            enc("rate(prometheus_http_requests_total[1m])")
        ),
    );
    assert_eq!(v["data"]["resultType"], "matrix");
    assert!(!v["data"]["result"].as_array().unwrap().is_empty(), "{v}");
    // Query editor: metric names, label names and values, series, metadata.
    let v = get_json(
        port,
        &format!("/api/v1/label/__name__/values?start={start}&end={end}"),
    );
    assert!(
        v["data"].as_array().unwrap().iter().any(|n| n == "up"),
        "{v}"
    );
    let v = get_json(port, &format!("/api/v1/labels?start={start}&end={end}"));
    let labels = v["data"].as_array().unwrap();
    assert!(
        labels.iter().any(|n| n == "job") && labels.iter().any(|n| n == "instance"),
        "{v}"
    );
    let v = get_json(
        port,
        &format!(
            "/api/v1/labels?match[]={}&start={start}&end={end}",
            enc("up")
        ),
    );
    assert_eq!(
        v["data"],
        serde_json::json!(["__name__", "instance", "job"])
    );
    let v = get_json(
        port,
        &format!(
            "/api/v1/label/job/values?match[]={}&start={start}&end={end}",
            enc("up")
        ),
    );
    assert_eq!(v["data"], serde_json::json!(["self"]));
    let v = get_json(
        port,
        &format!(
            "/api/v1/series?match[]={}&start={start}&end={end}",
            enc("up")
        ),
    );
    assert_eq!(v["data"][0]["__name__"], "up");
    // Scraped as OpenMetrics, counter families are named without `_total`.
    let v = get_json(port, "/api/v1/metadata");
    assert_eq!(
        v["data"]["up"].as_array().map(Vec::len),
        None,
        "up has no metadata"
    );
    assert_eq!(
        v["data"]["prometheus_http_requests"][0]["type"], "counter",
        "{v}"
    );
    let v = get_json(port, "/api/v1/metadata?metric=process_cpu_seconds&limit=1");
    assert_eq!(
        v["data"]["process_cpu_seconds"][0]["type"], "counter",
        "{v}"
    );
    assert_eq!(v["data"].as_object().map(|o| o.len()), Some(1), "{v}");
    // Exemplars (Grafana asks even when there are none).
    let v = get_json(
        port,
        &format!("/api/v1/query_exemplars?query=up&start={start}&end={end}"),
    );
    assert!(v["data"].is_array(), "{v}");
    // Query inspector: format and parse.
    let v = get_json(
        port,
        &format!("/api/v1/format_query?query={}", enc("sum(up)by(job)")),
    );
    assert_eq!(v["data"], "sum by (job) (up)");
    let v = get_json(
        port,
        &format!("/api/v1/parse_query?query={}", enc("sum(up)")),
    );
    assert_eq!(v["data"]["type"], "aggregation");
    // Errors come back as Prometheus's JSON errors.
    let (status, _, body) = http(port, "GET", "/api/v1/query?query=sum(", &[], b"").unwrap();
    assert_eq!(status, 400);
    let v: Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(v["errorType"], "bad_data");
}

#[test]
fn prometheus_scrapes_ember_over_https_with_basic_auth() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let (eport, pport) = (free_port(), free_port());
    let cert = rcgen::generate_simple_self_signed(vec!["localhost".to_string()]).unwrap();
    std::fs::write(dir.join("server.crt"), cert.cert.pem()).unwrap();
    std::fs::write(dir.join("server.key"), cert.signing_key.serialize_pem()).unwrap();
    let hash = bcrypt::hash("scrape-secret", 4).unwrap();
    std::fs::write(
        dir.join("web.yml"),
        format!(
            "tls_server_config:\n  cert_file: server.crt\n  key_file: server.key\nbasic_auth_users:\n  prom: {hash}\n"
        ),
    )
    .unwrap();
    // Ember itself does not scrape (its /metrics now needs TLS and a password).
    let cfg = dir.join("ember.yml");
    std::fs::write(&cfg, "global:\n  scrape_interval: 1h\n").unwrap();
    let log = dir.join("ember.log");
    let ember = Proc {
        child: Command::new(env!("CARGO_BIN_EXE_ember"))
            .arg("server")
            .arg(format!("--config.file={}", cfg.display()))
            .arg(format!(
                "--web.config.file={}",
                dir.join("web.yml").display()
            ))
            .arg(format!(
                "--storage.tsdb.path={}",
                dir.join("ember-data").display()
            ))
            .arg(format!("--web.listen-address=127.0.0.1:{eport}"))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&log).unwrap())
            .spawn()
            .unwrap(),
        log,
    };
    let job = |name: &str, password: &str| {
        format!(
            "  - job_name: {name}\n    scheme: https\n    tls_config:\n      ca_file: {ca}\n      server_name: localhost\n    basic_auth:\n      username: prom\n      password: {password}\n    static_configs:\n      - targets: ['127.0.0.1:{eport}']\n",
            ca = dir.join("server.crt").display()
        )
    };
    let prom = start_prometheus(
        dir,
        pport,
        &format!(
            "global:\n  scrape_interval: 1s\nscrape_configs:\n{}{}",
            job("good", "scrape-secret"),
            job("bad", "wrong")
        ),
    );
    let health = |job: &str| -> Option<String> {
        let v = get_json(pport, "/api/v1/targets");
        v["data"]["activeTargets"]
            .as_array()?
            .iter()
            .find(|t| t["labels"]["job"] == job && t["lastScrape"] != "0001-01-01T00:00:00Z")
            .map(|t| format!("{} {}", t["health"], t["lastError"]))
    };
    wait_until(
        "Prometheus to scrape Ember over HTTPS",
        &[&prom, &ember],
        60,
        || {
            health("good").is_some_and(|h| h.starts_with("\"up\""))
                && health("bad").is_some_and(|h| h.starts_with("\"down\""))
        },
    );
    let bad = health("bad").unwrap();
    assert!(bad.contains("401"), "{bad}");
    // Ember counts the scrapes it served (the first scrape sees none yet).
    let q = format!(
        "/api/v1/query?query={}",
        enc("prometheus_http_requests_total{job=\"good\",handler=\"/metrics\",code=\"200\"} > 0")
    );
    wait_until(
        "Ember's count of served scrapes",
        &[&prom, &ember],
        30,
        || {
            get_json(pport, &q)["data"]["result"]
                .as_array()
                .is_some_and(|r| !r.is_empty())
        },
    );
}
