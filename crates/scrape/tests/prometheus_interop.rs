//! Interop with Debian's Prometheus (2.42): both scrape the same targets —
//! node_exporter, a Python `prometheus_client` app (plain, over its sample
//! limit, and with metric relabeling), a refused port, a server that never
//! answers, a malformed exposition — and must end with the same series
//! label sets and the same `up`, `scrape_samples_scraped` and (largest)
//! `scrape_series_added` per job. Prometheus's side is read from
//! `/api/v1/series` and `/api/v1/query`; Ember's from what it appended.
//! The one 2.42/3.x difference met here (canonical `le`/`quantile` values
//! from text expositions) is applied to Prometheus's side, see `label_set`.
//!
//! Needs `/usr/bin/prometheus`, `/usr/bin/prometheus-node-exporter` and
//! Python 3 with `prometheus_client` (the test command pip-installs it).

#![allow(clippy::unwrap_used, missing_docs)]

mod common;

use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use common::MemStorage;
use model::Labels;

const PROMETHEUS: &str = "/usr/bin/prometheus";
const NODE_EXPORTER: &str = "/usr/bin/prometheus-node-exporter";

const PYTHON_APP: &str = r#"
import sys, time
from prometheus_client import start_http_server, Counter, Gauge, Histogram, Summary, Info
c = Counter('app_requests', 'Requests.', ['code'])
c.labels('200').inc(5)
c.labels('500').inc()
Gauge('app_temperature_celsius', 'Temperature.').set(21.5)
Histogram('app_latency_seconds', 'Latency.', buckets=[0.1, 1]).observe(0.5)
Summary('app_size_bytes', 'Size.').observe(10)
Info('app_build', 'Build.').info({'version': '1.2.3'})
start_http_server(int(sys.argv[1]), addr='127.0.0.1')
while True:
    time.sleep(60)
"#;

struct Kill(Child);

impl Drop for Kill {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn http_get(port: u16, path: &str) -> Option<String> {
    let mut s = TcpStream::connect(("127.0.0.1", port)).ok()?;
    s.set_read_timeout(Some(Duration::from_secs(5))).ok()?;
    write!(s, "GET {path} HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n").ok()?;
    let mut out = String::new();
    s.read_to_string(&mut out).ok()?;
    let (head, body) = out.split_once("\r\n\r\n")?;
    head.starts_with("HTTP/1.0 200")
        .then(|| body.to_owned())
        .or_else(|| head.starts_with("HTTP/1.1 200").then(|| body.to_owned()))
}

fn wait_until(what: &str, f: impl Fn() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(30);
    while !f() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// Accepts connections and never answers.
fn hanging_server() -> u16 {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = l.local_addr().unwrap().port();
    std::thread::spawn(move || {
        let mut held = Vec::new();
        for s in l.incoming().flatten() {
            held.push(s);
        }
    });
    port
}

/// Answers every request with a body that breaks off mid-series.
fn malformed_server() -> u16 {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = l.local_addr().unwrap().port();
    std::thread::spawn(move || {
        for mut s in l.incoming().flatten() {
            let mut buf = [0u8; 4096];
            let _ = s.read(&mut buf);
            let body = "good 1\nalso_good{a=\"b\"} 2\nbad{ 3\nnever 4\n";
            let _ = write!(
                s,
                "HTTP/1.1 200 OK\r\nContent-Type: text/plain; version=0.0.4\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                body.len()
            );
        }
    });
    port
}

/// A Prometheus 2.42 series as 3.x would store it: 3.x writes the `le` and
/// `quantile` values of the text format in canonical float form (`0` is
/// `0.0`), as OpenMetrics and protobuf scrapes always did; 2.42 keeps them
/// as exposed. Documented 2.42/3.x difference.
fn label_set(m: &serde_json::Map<String, serde_json::Value>) -> String {
    Labels::from_pairs(m.iter().map(|(k, v)| {
        let v = v.as_str().unwrap();
        let integral = !v.is_empty() && v.bytes().all(|b| b.is_ascii_digit() || b == b'-');
        if (k == "le" || k == "quantile") && integral {
            (k.clone(), format!("{v}.0"))
        } else {
            (k.clone(), v.to_owned())
        }
    }))
    .to_string()
}

/// Per job, the value of a query's vector result.
fn query(port: u16, q: &str) -> BTreeMap<String, f64> {
    let enc: String = q
        .bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || b == b'_' {
                char::from(b).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect();
    let body = http_get(port, &format!("/api/v1/query?query={enc}")).unwrap();
    let v: serde_json::Value = serde_json::from_str(&body).unwrap();
    v["data"]["result"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            (
                r["metric"]["job"].as_str().unwrap().to_owned(),
                r["value"][1].as_str().unwrap().parse().unwrap(),
            )
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn same_series_and_report_values_as_prometheus() {
    for bin in [PROMETHEUS, NODE_EXPORTER] {
        assert!(
            std::path::Path::new(bin).exists(),
            "{bin} is missing: install Debian's prometheus and prometheus-node-exporter"
        );
    }
    let has_client = Command::new("python3")
        .args(["-c", "import prometheus_client"])
        .status()
        .is_ok_and(|s| s.success());
    assert!(
        has_client,
        "python3 with prometheus_client is missing: pip install prometheus_client (scripts/test.sh does)"
    );
    let dir = tempfile::tempdir().unwrap();
    let node_port = free_port();
    let _node = Kill(
        Command::new(NODE_EXPORTER)
            .args([
                &format!("--web.listen-address=127.0.0.1:{node_port}"),
                "--collector.disable-defaults",
                "--collector.loadavg",
                "--collector.meminfo",
                "--collector.uname",
            ])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    );
    let py_port = free_port();
    let _py = Kill(
        Command::new("python3")
            .args(["-c", PYTHON_APP, &py_port.to_string()])
            .spawn()
            .unwrap(),
    );
    wait_until("node_exporter", || {
        http_get(node_port, "/metrics").is_some()
    });
    wait_until("python app", || http_get(py_port, "/metrics").is_some());
    let down_port = free_port();
    let hang_port = hanging_server();
    let bad_port = malformed_server();
    let target = |p: u16| format!("static_configs: [{{targets: ['127.0.0.1:{p}']}}]");
    let yaml = format!(
        "global: {{scrape_interval: 1s, scrape_timeout: 500ms}}\nscrape_configs:\n\
         - {{job_name: node, {}}}\n\
         - {{job_name: python, {}}}\n\
         - {{job_name: python_limited, sample_limit: 5, {}}}\n\
         - {{job_name: relabeled, metric_relabel_configs: [{{source_labels: [__name__], regex: 'app_.*', action: keep}}], {}}}\n\
         - {{job_name: down, {}}}\n\
         - {{job_name: slow, {}}}\n\
         - {{job_name: malformed, {}}}\n",
        target(node_port),
        target(py_port),
        target(py_port),
        target(py_port),
        target(down_port),
        target(hang_port),
        target(bad_port),
    );
    let cfg_path = dir.path().join("prometheus.yml");
    std::fs::write(&cfg_path, &yaml).unwrap();
    let prom_port = free_port();
    let log = std::fs::File::create(dir.path().join("prometheus.log")).unwrap();
    let _prom = Kill(
        Command::new(PROMETHEUS)
            .arg(format!("--config.file={}", cfg_path.display()))
            .arg(format!(
                "--storage.tsdb.path={}",
                dir.path().join("data").display()
            ))
            .arg(format!("--web.listen-address=127.0.0.1:{prom_port}"))
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .unwrap(),
    );

    wait_until("prometheus", || http_get(prom_port, "/-/ready").is_some());
    // Prometheus applies discovered targets on a 5 s tick: wait for its
    // first scrape of every job.
    wait_until("prometheus scraping every job", || {
        http_get(prom_port, "/api/v1/query?query=up")
            .is_some_and(|b| b.matches("\"job\"").count() == 7)
    });

    let st = MemStorage::default();
    let cfg = config::Config::load_str(&yaml).unwrap();
    let m = scrape::Manager::new(Arc::new(st.clone()), scrape::Options::default());
    m.apply_config(&cfg).unwrap();
    m.sync(common::static_sets(&cfg));
    // Three or more scrapes of every target on both sides.
    tokio::time::sleep(Duration::from_millis(3500)).await;
    m.stop().await;

    let body = http_get(
        prom_port,
        "/api/v1/series?match%5B%5D=%7Bjob%21%3D%22%22%7D",
    )
    .unwrap();
    let v: serde_json::Value = serde_json::from_str(&body).unwrap();
    let mut theirs: Vec<String> = v["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| label_set(s.as_object().unwrap()))
        .collect();
    theirs.sort();
    let ours = st.label_sets();
    let only_ours: Vec<_> = ours.iter().filter(|s| !theirs.contains(s)).collect();
    let only_theirs: Vec<_> = theirs.iter().filter(|s| !ours.contains(s)).collect();
    assert!(
        only_ours.is_empty() && only_theirs.is_empty(),
        "series differ:\nonly Ember: {only_ours:#?}\nonly Prometheus: {only_theirs:#?}\nseries API: {}",
        &body[..body.len().min(500)]
    );

    let last = |name: &str| -> BTreeMap<String, f64> {
        st.samples()
            .into_iter()
            .filter(|c| c.labels.get("__name__") == Some(name))
            .map(|c| (c.labels.get("job").unwrap().to_owned(), c.v))
            .collect()
    };
    let max = |name: &str| -> BTreeMap<String, f64> {
        let mut out: BTreeMap<String, f64> = BTreeMap::new();
        for c in st.samples() {
            if c.labels.get("__name__") == Some(name) {
                let e = out
                    .entry(c.labels.get("job").unwrap().to_owned())
                    .or_insert(c.v);
                *e = e.max(c.v);
            }
        }
        out
    };
    assert_eq!(last("up"), query(prom_port, "up"));
    assert_eq!(
        last("scrape_samples_scraped"),
        query(prom_port, "scrape_samples_scraped")
    );
    assert_eq!(
        max("scrape_series_added"),
        query(prom_port, "max_over_time(scrape_series_added[1m])")
    );
    let up = last("up");
    for (job, want) in [
        ("node", 1.0),
        ("python", 1.0),
        ("relabeled", 1.0),
        ("python_limited", 0.0),
        ("down", 0.0),
        ("slow", 0.0),
        ("malformed", 0.0),
    ] {
        assert_eq!(up[job], want, "up of {job}");
    }
}
