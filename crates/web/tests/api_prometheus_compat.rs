//! The API against a live Prometheus: Debian's Prometheus 2.42 runs on
//! loopback with no scrape targets (native histograms enabled); the float
//! series and the native histogram series of the data set are pushed to it
//! through its remote-write receiver (a hand-encoded, snappy-compressed
//! `WriteRequest`), and the
//! same series are loaded into our in-memory queryable. Every request of
//! the table (`common::cases`) then goes to both, and the responses must
//! be equal byte for byte, status codes included; so must `/federate`
//! (text exposition, external labels) and the health texts.
//!
//! Cases where 2.42 and 3.x differ are skipped here with the reason next to
//! them in the table; we follow 3.x there (and the golden files pin our
//! bytes).

mod common;

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

const PROMETHEUS: &str = "/usr/bin/prometheus";

/// Kills Prometheus on every path out of the test.
struct Guard(Child);

impl Drop for Guard {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("free port")
        .port()
}

/// One HTTP/1.0 exchange: (status, body).
fn http(
    port: u16,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &[u8],
) -> Option<(u16, Vec<u8>)> {
    let mut s = TcpStream::connect(("127.0.0.1", port)).ok()?;
    s.set_read_timeout(Some(Duration::from_secs(20))).ok()?;
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
    let mut out = Vec::new();
    s.read_to_end(&mut out).ok()?;
    let split = out.windows(4).position(|w| w == b"\r\n\r\n")?;
    let head = String::from_utf8_lossy(&out[..split]).to_string();
    let status = head.split(' ').nth(1)?.parse().ok()?;
    Some((status, out[split + 4..].to_vec()))
}

// --- A WriteRequest, hand-encoded (prometheus.WriteRequest, remote write 1.0).

fn varint(out: &mut Vec<u8>, mut v: u64) {
    while v >= 0x80 {
        out.push(v as u8 | 0x80);
        v >>= 7;
    }
    out.push(v as u8);
}

fn field(out: &mut Vec<u8>, number: u64, body: &[u8]) {
    varint(out, number << 3 | 2);
    varint(out, body.len() as u64);
    out.extend_from_slice(body);
}

fn write_request(t0: i64) -> Vec<u8> {
    let mut req = Vec::new();
    for def in common::float_series() {
        let mut ts = Vec::new();
        for (name, value) in &def.labels {
            let mut label = Vec::new();
            field(&mut label, 1, name.as_bytes());
            field(&mut label, 2, value.as_bytes());
            field(&mut ts, 1, &label);
        }
        for k in 0..common::SAMPLES {
            let Some(v) = (def.value)(k) else { continue };
            let mut sample = Vec::new();
            varint(&mut sample, 1 << 3 | 1);
            sample.extend_from_slice(&v.to_bits().to_le_bytes());
            varint(&mut sample, 2 << 3);
            varint(&mut sample, (t0 + k * common::STEP_MS) as u64);
            field(&mut ts, 2, &sample);
        }
        field(&mut req, 1, &ts);
    }
    field(&mut req, 1, &histogram_series(t0));
    req
}

fn zigzag(v: i64) -> u64 {
    ((v << 1) ^ (v >> 63)) as u64
}

fn span(out: &mut Vec<u8>, number: u64, offset: i32, length: u32) {
    let mut s = Vec::new();
    varint(&mut s, 1 << 3);
    varint(&mut s, zigzag(i64::from(offset)));
    varint(&mut s, 2 << 3);
    varint(&mut s, u64::from(length));
    field(out, number, &s);
}

fn packed_sint(out: &mut Vec<u8>, number: u64, values: &[i64]) {
    let mut p = Vec::new();
    for &v in values {
        varint(&mut p, zigzag(v));
    }
    field(out, number, &p);
}

/// `common::histogram_series` as integer native histograms (the same
/// values: `n` in the zero bucket, buckets `[n, 2n, 0]` and `[3n]`).
fn histogram_series(t0: i64) -> Vec<u8> {
    let mut ts = Vec::new();
    for (name, value) in [("__name__", "rpc_duration_seconds"), ("job", "api")] {
        let mut label = Vec::new();
        field(&mut label, 1, name.as_bytes());
        field(&mut label, 2, value.as_bytes());
        field(&mut ts, 1, &label);
    }
    for k in 0..common::SAMPLES {
        let n = k + 1;
        let mut h = Vec::new();
        varint(&mut h, 1 << 3);
        varint(&mut h, 7 * n as u64);
        varint(&mut h, 3 << 3 | 1);
        h.extend_from_slice(&(12.5 * n as f64).to_bits().to_le_bytes());
        varint(&mut h, 4 << 3);
        varint(&mut h, zigzag(1));
        varint(&mut h, 5 << 3 | 1);
        h.extend_from_slice(&0.001f64.to_bits().to_le_bytes());
        varint(&mut h, 6 << 3);
        varint(&mut h, n as u64);
        span(&mut h, 8, 1, 1);
        packed_sint(&mut h, 9, &[3 * n]);
        span(&mut h, 11, 0, 2);
        span(&mut h, 11, 1, 1);
        packed_sint(&mut h, 12, &[n, n, -2 * n]);
        varint(&mut h, 14 << 3);
        varint(&mut h, 2);
        varint(&mut h, 15 << 3);
        varint(&mut h, (t0 + k * common::STEP_MS) as u64);
        field(&mut ts, 4, &h);
    }
    ts
}

fn start_prometheus(dir: &Path, port: u16) -> Guard {
    let config = dir.join("prometheus.yml");
    std::fs::write(
        &config,
        "global:\n  scrape_interval: 1h\n  external_labels:\n    replica: r1\n",
    )
    .expect("write config");
    let log = std::fs::File::create(dir.join("prometheus.log")).expect("log file");
    let child = Command::new(PROMETHEUS)
        .arg(format!("--config.file={}", config.display()))
        .arg(format!(
            "--storage.tsdb.path={}",
            dir.join("data").display()
        ))
        .arg(format!("--web.listen-address=127.0.0.1:{port}"))
        .arg("--web.enable-remote-write-receiver")
        .arg("--enable-feature=native-histograms")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(log)
        .spawn()
        .expect("start prometheus");
    let guard = Guard(child);
    let deadline = Instant::now() + Duration::from_secs(60);
    while http(port, "GET", "/-/ready", &[], b"").is_none_or(|(s, _)| s != 200) {
        assert!(
            Instant::now() < deadline,
            "prometheus not ready:\n{}",
            std::fs::read_to_string(dir.join("prometheus.log")).unwrap_or_default()
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    guard
}

fn our_router(t0: i64) -> axum::Router {
    let engine = promql::Engine::new(promql::EngineOptions {
        max_concurrency: 0,
        ..promql::EngineOptions::default()
    });
    let mut series = common::float_vec_series(t0);
    series.push(common::histogram_series(t0));
    let mut api = web::Api::new(
        std::sync::Arc::new(common::Mem(series)),
        std::sync::Arc::new(engine),
    );
    api.options.external_labels = model::Labels::from_pairs([("replica", "r1")]);
    web::router(api)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn api_agrees_with_prometheus() {
    assert!(
        Path::new(PROMETHEUS).exists(),
        "{PROMETHEUS} is missing: install Debian's `prometheus` package (2.42) to run this test"
    );
    let tmp = tempfile::tempdir().expect("tempdir");
    let port = free_port();
    let _guard = start_prometheus(tmp.path(), port);

    // Ten minutes of samples ending now (a whole minute, so that `t0` has
    // whole seconds like the golden files' `t0`).
    let t0 = web::now_ms() / 60_000 * 60_000 - 600_000;
    let body = snap::raw::Encoder::new()
        .compress_vec(&write_request(t0))
        .expect("snappy");
    let (status, resp) = http(
        port,
        "POST",
        "/api/v1/write",
        &[
            ("Content-Type", "application/x-protobuf"),
            ("Content-Encoding", "snappy"),
            ("X-Prometheus-Remote-Write-Version", "0.1.0"),
        ],
        &body,
    )
    .expect("remote write");
    assert_eq!(
        status,
        204,
        "remote write: {}",
        String::from_utf8_lossy(&resp)
    );

    let ours = our_router(t0);
    let mut failures = Vec::new();
    let mut compared = 0;
    for case in common::cases() {
        if case.not_2_42.is_some() {
            continue;
        }
        let path = common::expand(case.path, t0);
        let body = common::expand(case.body, t0);
        let headers: &[(&str, &str)] = if case.method == "POST" {
            &[("Content-Type", "application/x-www-form-urlencoded")]
        } else {
            &[]
        };
        let (want_status, want) =
            http(port, case.method, &path, headers, body.as_bytes()).expect("prometheus answers");
        let want = String::from_utf8_lossy(&want).trim_end().to_string();
        let (got_status, got) = common::call(&ours, case.method, &path, &body).await;
        compared += 1;
        if (got_status, &got) != (want_status, &want) {
            failures.push(format!(
                "{} {path}\n  ours:       {got_status} {got}\n  prometheus: {want_status} {want}",
                case.name
            ));
        }
    }

    // Federation (text format, external labels, timestamps) and health.
    for path in [
        "/federate?match[]=up",
        "/federate?match[]=http_requests_total&match[]=up%7Bjob%3D%22node%22%7D",
        "/federate?match[]=%7B__name__%3D~%22float_corner%7Cgone%7Cweird%22%7D",
        "/federate",
        "/-/healthy",
        "/-/ready",
    ] {
        let (want_status, want) = http(port, "GET", path, &[], b"").expect("prometheus answers");
        let want = String::from_utf8_lossy(&want).to_string();
        let (got_status, got) = common::call(&ours, "GET", path, "").await;
        compared += 1;
        if (got_status, &got) != (want_status, &want) {
            failures.push(format!(
                "{path}\n  ours:       {got_status} {got:?}\n  prometheus: {want_status} {want:?}"
            ));
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {compared} responses differ:\n{}",
        failures.len(),
        failures.join("\n")
    );
}
