//! Golden comparison of the HTTP API: Debian's Prometheus 2.42 and
//! `ember server` run on loopback with the same `prometheus.yml` (three
//! scrape jobs against a small OpenMetrics target served by this test, one
//! target dropped by relabeling, one job with every target dropped), the
//! same samples, native histograms and exemplars pushed into both through
//! remote write, and the same flags (`--web.enable-remote-write-receiver
//! --web.enable-admin-api --web.enable-lifecycle
//! --enable-feature=exemplar-storage,native-histograms`). A second pair runs
//! without those flags, for the gates. Then every request of the table goes
//! to both servers of a pair and the answers are compared:
//!
//! - `Exact`: status, `Content-Type` and body byte for byte — every answer
//!   that depends only on the data (queries, series, labels, metadata,
//!   exemplars, federation, errors, health, lifecycle and admin texts);
//! - `Masked`: status, `Content-Type`, the JSON shape (key sets recursively,
//!   value types, array lengths) and every value except those under the
//!   named instance-specific keys (times, durations, goroutines);
//! - `Unordered`: like `Exact` but `data` is a list whose order Prometheus
//!   takes from a Go map (target metadata);
//! - `Shape`: status, `Content-Type` and the JSON shape only (build
//!   information, snapshot names, results Prometheus picks at random);
//! - `Custom`: a comparison written for the endpoint (`/metrics`,
//!   `status/config`, `status/flags`, `status/tsdb`, `/federate` of scraped
//!   series, snapshots, picked metadata), each documenting what may differ.
//!
//! Ember follows Prometheus 3.x where 3.x and 2.42 differ. Every such
//! difference is a `Known` entry on its case: the reason, and how to undo
//! exactly that change in Ember's answer; the test checks that the answers
//! still differ without the undo (so a stale entry fails) and agree with it
//! (so nothing else differs). Nothing is skipped.
//!
//! Besides the `Known` entries, the endpoint-specific comparisons carry
//! their own documented lists: `CONFIG_ONLY_EMBER` (3.x configuration
//! fields), `FLAGS_ONLY_EMBER` and `FLAG_VALUES_DIFFER`,
//! `METRICS_ONLY_EMBER` (3.x self-metrics; 2.42's Go
//! runtime, rule, notifier and discovery families Ember lacks are a
//! limitation).
//!
//! `API_GOLDEN_DUMP=<dir>` keeps both answers of every case for reading.
//!
//! The test fails (never skips) when `/usr/bin/prometheus` is missing. Its
//! name contains `prometheus`, so `.config/nextest.toml` gives it two
//! threads.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::{BTreeMap, BTreeSet};
use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use remote::prompb::{self, Message as _};
use serde_json::Value;

const PROMETHEUS: &str = "/usr/bin/prometheus";

/// Flags both servers of the full pair get.
const FULL_FLAGS: &[&str] = &[
    "--web.enable-remote-write-receiver",
    "--web.enable-admin-api",
    "--web.enable-lifecycle",
    "--enable-feature=exemplar-storage,native-histograms",
];

/// Remote-written samples per series, 15 s apart.
const SAMPLES: i64 = 40;
const STEP_MS: i64 = 15_000;

// ---------------------------------------------------------------------------
// Processes and HTTP.

/// A child process killed when dropped; its log is kept for messages.
struct Proc {
    name: &'static str,
    child: Child,
    log: PathBuf,
}

impl Proc {
    fn log(&self) -> String {
        format!(
            "--- {} log:\n{}",
            self.name,
            std::fs::read_to_string(&self.log).unwrap_or_default()
        )
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

/// An answer: status, `Content-Type` (empty when absent) and body.
#[derive(Clone, Debug)]
struct Resp {
    status: u16,
    ctype: String,
    body: Vec<u8>,
    /// The body was re-encoded by an undo (Go's key order is lost):
    /// `Exact` compares it as JSON.
    reencoded: bool,
}

impl Resp {
    fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    fn json(&self) -> Result<Value, String> {
        serde_json::from_slice(&self.body).map_err(|e| format!("not JSON ({e}): {}", self.text()))
    }

    fn show(&self) -> String {
        let t = self.text();
        let t = if t.len() > 1500 {
            let head: String = t.chars().take(1500).collect();
            format!("{head}… ({} bytes)", t.len())
        } else {
            t
        };
        format!("{} [{}] {t:?}", self.status, self.ctype)
    }
}

/// One HTTP/1.0 exchange.
fn http(
    port: u16,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &[u8],
) -> Option<Resp> {
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
    let head = String::from_utf8_lossy(&raw[..split]).to_string();
    let status = head.split(' ').nth(1)?.parse().ok()?;
    let ctype = head
        .lines()
        .find_map(|l| {
            let (k, v) = l.split_once(':')?;
            k.eq_ignore_ascii_case("content-type")
                .then(|| v.trim().to_string())
        })
        .unwrap_or_default();
    Some(Resp {
        status,
        ctype,
        body: raw[split + 4..].to_vec(),
        reencoded: false,
    })
}

fn get_json(port: u16, path: &str) -> Value {
    let r = http(port, "GET", path, &[], b"").expect("request");
    r.json().unwrap_or_else(|e| panic!("{path}: {e}"))
}

fn wait_until(what: &str, procs: &[&Proc], secs: u64, mut ok: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(secs);
    while !ok() {
        if Instant::now() > deadline {
            let logs: Vec<String> = procs.iter().map(|p| p.log()).collect();
            panic!("timed out waiting for {what}\n{}", logs.join("\n"));
        }
        std::thread::sleep(Duration::from_millis(200));
    }
}

fn ready(port: u16) -> bool {
    http(port, "GET", "/-/ready", &[], b"").is_some_and(|r| r.status == 200)
}

/// Which program to start.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Kind {
    Prometheus,
    Ember,
}

/// Starts one server in `dir` (its working directory) on `port` with the
/// shared configuration file.
fn start(kind: Kind, name: &'static str, dir: &Path, port: u16, extra: &[&str]) -> Proc {
    let data = dir.join(format!("{name}-data"));
    let log = dir.join(format!("{name}.log"));
    let mut cmd = match kind {
        Kind::Prometheus => Command::new(PROMETHEUS),
        Kind::Ember => {
            let mut c = Command::new(env!("CARGO_BIN_EXE_ember"));
            c.arg("server");
            c
        }
    };
    cmd.current_dir(dir)
        .arg("--config.file=prometheus.yml")
        .arg(format!("--storage.tsdb.path={}", data.display()))
        .arg(format!("--web.listen-address=127.0.0.1:{port}"))
        .args(extra)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(&log).unwrap());
    let child = cmd.spawn().unwrap_or_else(|e| panic!("start {name}: {e}"));
    Proc { name, child, log }
}

// ---------------------------------------------------------------------------
// The scrape target and the configuration.

/// The OpenMetrics exposition every job scrapes: a counter with an
/// exemplar (fixed timestamp), a gauge with a unit, a classic histogram
/// and an info metric; constant values, so both servers store the same.
fn exposition(exemplar_ts_s: i64) -> String {
    format!(
        "# TYPE golden_requests counter\n\
         # HELP golden_requests Requests served.\n\
         golden_requests_total{{path=\"/a\"}} 3 # {{trace_id=\"scraped\"}} 1.0 {exemplar_ts_s}\n\
         golden_requests_total{{path=\"/b\"}} 5\n\
         # TYPE golden_temperature_celsius gauge\n\
         # UNIT golden_temperature_celsius celsius\n\
         # HELP golden_temperature_celsius Current temperature.\n\
         golden_temperature_celsius 21.5\n\
         # TYPE golden_latency_seconds histogram\n\
         # HELP golden_latency_seconds Request latency.\n\
         golden_latency_seconds_bucket{{le=\"0.1\"}} 1\n\
         golden_latency_seconds_bucket{{le=\"+Inf\"}} 2\n\
         golden_latency_seconds_sum 0.3\n\
         golden_latency_seconds_count 2\n\
         # TYPE golden_build info\n\
         # HELP golden_build Build information.\n\
         golden_build_info{{version=\"1.0\"}} 1\n\
         # EOF\n"
    )
}

/// Serves `body` as OpenMetrics on every path. Returns the port.
fn target(body: String) -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    std::thread::spawn(move || {
        for conn in listener.incoming() {
            let Ok(mut conn) = conn else { continue };
            let _ = conn.set_read_timeout(Some(Duration::from_secs(2)));
            let mut buf = [0u8; 4096];
            let _ = conn.read(&mut buf);
            let _ = write!(
                conn,
                "HTTP/1.1 200 OK\r\nContent-Type: application/openmetrics-text; version=1.0.0; charset=utf-8\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                body.len()
            );
        }
    });
    port
}

/// `alpha` scrapes the target and drops a second one by relabeling;
/// `beta` scrapes it on another path; `gamma`'s only target is dropped.
fn config(target: u16) -> String {
    format!(
        "global:\n  scrape_interval: 1s\n  external_labels:\n    replica: golden\n\
         scrape_configs:\n\
         \x20 - job_name: alpha\n    static_configs:\n      - targets: ['127.0.0.1:{target}']\n        labels:\n          team: a\n      - targets: ['127.0.0.1:1']\n\
         \x20   relabel_configs:\n      - source_labels: [__address__]\n        regex: '127.0.0.1:1'\n        action: drop\n\
         \x20 - job_name: beta\n    metrics_path: /other\n    static_configs:\n      - targets: ['127.0.0.1:{target}']\n\
         \x20 - job_name: gamma\n    static_configs:\n      - targets: ['localhost:2']\n\
         \x20   relabel_configs:\n      - action: drop\n        source_labels: [job]\n        regex: gamma\n"
    )
}

// ---------------------------------------------------------------------------
// The remote-written data set.

fn label(name: &str, value: &str) -> prompb::Label {
    prompb::Label {
        name: name.into(),
        value: value.into(),
    }
}

fn float_series(
    labels: &[(&str, &str)],
    t0: i64,
    value: impl Fn(i64) -> Option<f64>,
) -> prompb::TimeSeries {
    prompb::TimeSeries {
        labels: labels.iter().map(|(n, v)| label(n, v)).collect(),
        samples: (0..SAMPLES)
            .filter_map(|k| {
                value(k).map(|v| prompb::Sample {
                    value: v,
                    timestamp: t0 + k * STEP_MS,
                })
            })
            .collect(),
        ..Default::default()
    }
}

/// The `WriteRequest` both servers receive: counters with exemplars, float
/// corner cases, awkward label values, a series going stale, a native
/// histogram and a series for the deletion tests.
fn write_request(t0: i64) -> Vec<u8> {
    let mut ts = vec![
        float_series(
            &[
                ("__name__", "rw_requests_total"),
                ("code", "200"),
                ("job", "api"),
                ("method", "GET"),
            ],
            t0,
            |k| Some((k * 10) as f64),
        ),
        float_series(
            &[
                ("__name__", "rw_requests_total"),
                ("code", "500"),
                ("job", "api"),
                ("method", "POST"),
            ],
            t0,
            |k| Some(k as f64 * 0.5),
        ),
        float_series(&[("__name__", "rw_gone"), ("job", "x")], t0, |k| match k {
            0..20 => Some(k as f64),
            20 => Some(f64::from_bits(0x7ff0_0000_0000_0002)),
            _ => None,
        }),
        float_series(
            &[
                ("__name__", "rw_weird"),
                ("label", "a<b>&\"c\"\n\\ é \u{2028}"),
            ],
            t0,
            |_| Some(1.0),
        ),
        float_series(&[("__name__", "rw_deleteme"), ("job", "d")], t0, |k| {
            Some(k as f64)
        }),
        float_series(&[("__name__", "rw_keep"), ("job", "d")], t0, |k| {
            Some(-(k as f64))
        }),
    ];
    for (case, v) in [
        ("nan", f64::NAN),
        ("inf", f64::INFINITY),
        ("neginf", f64::NEG_INFINITY),
        ("tiny", 1e-7),
        ("big", 1.5e21),
        ("neg_zero", -0.0),
        ("sum", 0.1 + 0.2),
    ] {
        ts.push(float_series(
            &[("__name__", "rw_corner"), ("case", case)],
            t0,
            move |_| Some(v),
        ));
    }
    ts[0].exemplars = [10, 30]
        .iter()
        .map(|&k| prompb::Exemplar {
            labels: vec![label("trace_id", &format!("rw{k}"))],
            value: (k * 10) as f64,
            timestamp: t0 + k * STEP_MS,
        })
        .collect();
    // A native histogram (integer counts, delta-encoded): `n` in the zero
    // bucket, positive buckets [n, 2n, 0] at offsets 0,1 and 3, negative [3n].
    ts.push(prompb::TimeSeries {
        labels: vec![label("__name__", "rw_latency_seconds"), label("job", "api")],
        histograms: (0..SAMPLES)
            .map(|k| {
                let n = k + 1;
                prompb::Histogram {
                    count: prompb::Count::Int(7 * n as u64),
                    sum: 12.5 * n as f64,
                    schema: 1,
                    zero_threshold: 0.001,
                    zero_count: prompb::Count::Int(n as u64),
                    negative_spans: vec![prompb::BucketSpan {
                        offset: 1,
                        length: 1,
                    }],
                    negative_deltas: vec![3 * n],
                    positive_spans: vec![
                        prompb::BucketSpan {
                            offset: 0,
                            length: 2,
                        },
                        prompb::BucketSpan {
                            offset: 1,
                            length: 1,
                        },
                    ],
                    positive_deltas: vec![n, n, -2 * n],
                    reset_hint: 2,
                    timestamp: t0 + k * STEP_MS,
                    ..Default::default()
                }
            })
            .collect(),
        ..Default::default()
    });
    remote::compress(
        &prompb::WriteRequest {
            timeseries: ts,
            metadata: Vec::new(),
        }
        .encode(),
    )
}

const RW_HEADERS: &[(&str, &str)] = &[
    ("Content-Type", "application/x-protobuf"),
    ("Content-Encoding", "snappy"),
    ("X-Prometheus-Remote-Write-Version", "0.1.0"),
];

// ---------------------------------------------------------------------------
// Comparisons.

/// How a case's two answers are compared.
#[derive(Clone, Copy)]
enum Mode {
    /// Status, content type and body bytes.
    Exact,
    /// Status, content type, JSON shape, and every value except those under
    /// these keys (at any depth).
    Masked(&'static [&'static str]),
    /// Like `Exact` for the envelope; `data` is a list compared as a set.
    Unordered,
    /// Status, content type and JSON shape.
    Shape,
    /// A comparison of its own: (Prometheus, Ember).
    Custom(fn(&Resp, &Resp) -> Result<(), String>),
}

fn same_head(p: &Resp, e: &Resp) -> Result<(), String> {
    if p.status != e.status {
        return Err(format!("status {} vs {}", p.status, e.status));
    }
    if p.ctype != e.ctype {
        return Err(format!("content type {:?} vs {:?}", p.ctype, e.ctype));
    }
    Ok(())
}

fn kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "bool",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
}

/// Differences of shape: key sets (recursively), value types, array
/// lengths.
fn shape_diff(path: &str, p: &Value, e: &Value, out: &mut Vec<String>) {
    match (p, e) {
        (Value::Object(a), Value::Object(b)) => {
            let ka: BTreeSet<&String> = a.keys().collect();
            let kb: BTreeSet<&String> = b.keys().collect();
            if ka != kb {
                out.push(format!(
                    "{path}: keys only in Prometheus {:?}, only in Ember {:?}",
                    ka.difference(&kb).collect::<Vec<_>>(),
                    kb.difference(&ka).collect::<Vec<_>>()
                ));
            }
            for k in ka.intersection(&kb) {
                shape_diff(&format!("{path}.{k}"), &a[k.as_str()], &b[k.as_str()], out);
            }
        }
        (Value::Array(a), Value::Array(b)) => {
            if a.len() != b.len() {
                out.push(format!("{path}: {} vs {} elements", a.len(), b.len()));
            }
            for (i, (x, y)) in a.iter().zip(b).enumerate() {
                shape_diff(&format!("{path}[{i}]"), x, y, out);
            }
        }
        _ if kind(p) != kind(e) => out.push(format!("{path}: {} vs {}", kind(p), kind(e))),
        _ => {}
    }
}

/// Replaces every value under one of `keys` (at any depth) with null.
fn mask(v: &mut Value, keys: &[&str]) {
    match v {
        Value::Object(m) => {
            for (k, x) in m.iter_mut() {
                if keys.contains(&k.as_str()) {
                    *x = Value::Null;
                } else {
                    mask(x, keys);
                }
            }
        }
        Value::Array(a) => a.iter_mut().for_each(|x| mask(x, keys)),
        _ => {}
    }
}

fn same_shape(p: &Resp, e: &Resp) -> Result<(Value, Value), String> {
    same_head(p, e)?;
    let (pj, ej) = (p.json()?, e.json()?);
    let mut diffs = Vec::new();
    shape_diff("", &pj, &ej, &mut diffs);
    for k in ["status", "errorType"] {
        if pj.get(k) != ej.get(k) {
            diffs.push(format!("{k}: {:?} vs {:?}", pj.get(k), ej.get(k)));
        }
    }
    if diffs.is_empty() {
        Ok((pj, ej))
    } else {
        Err(diffs.join("; "))
    }
}

fn compare(mode: Mode, p: &Resp, e: &Resp) -> Result<(), String> {
    match mode {
        Mode::Exact if p.reencoded || e.reencoded => {
            same_head(p, e)?;
            if p.json()? != e.json()? {
                return Err("values differ".into());
            }
            Ok(())
        }
        Mode::Exact => {
            same_head(p, e)?;
            if p.body != e.body {
                return Err("bodies differ".into());
            }
            Ok(())
        }
        Mode::Masked(keys) => {
            let (mut pj, mut ej) = same_shape(p, e)?;
            mask(&mut pj, keys);
            mask(&mut ej, keys);
            if pj != ej {
                return Err(format!(
                    "values differ outside {keys:?}:\n      {pj}\n      {ej}"
                ));
            }
            Ok(())
        }
        Mode::Unordered => {
            same_head(p, e)?;
            let (mut pj, mut ej) = (p.json()?, e.json()?);
            for v in [&mut pj, &mut ej] {
                if let Some(Value::Array(a)) = v.get_mut("data") {
                    a.sort_by_key(|x| x.to_string());
                }
            }
            if pj != ej {
                return Err("values differ (order ignored)".into());
            }
            Ok(())
        }
        Mode::Shape => same_shape(p, e).map(|_| ()),
        Mode::Custom(f) => f(p, e),
    }
}

// ---------------------------------------------------------------------------
// Documented differences.

/// A difference between 2.42 and Ember that the test keeps: why, and how
/// to turn Ember's answer into 2.42's.
struct Known {
    why: &'static str,
    undo: Undo,
}

enum Undo {
    /// Replace text in Ember's body.
    Text(&'static str, &'static str),
    /// Edit Ember's JSON body (re-encoded compactly, as Go does).
    Json(fn(&mut Value)),
    /// 2.42 ignores this (3.x) URL parameter: Ember's answer without it
    /// must be 2.42's, and Ember's answer with it passes the check.
    Ignored(&'static str, fn(&Resp) -> Result<(), String>),
    /// Values under these keys are not comparable (both answers masked).
    Mask(&'static [&'static str]),
    /// 2.42 and 3.x answer differently (a new endpoint, a changed rule):
    /// each side's answer is checked on its own (Prometheus's, Ember's).
    Each(
        fn(&Resp) -> Result<(), String>,
        fn(&Resp) -> Result<(), String>,
    ),
}

/// Both answers with the documented change undone.
fn undo(
    u: &Undo,
    p: &Resp,
    e: &Resp,
    refetch: &dyn Fn(&str) -> Resp,
) -> Result<(Resp, Resp), String> {
    if let Undo::Mask(keys) = u {
        let masked = |r: &Resp| -> Result<Resp, String> {
            let mut v = r.json()?;
            mask(&mut v, keys);
            Ok(Resp {
                body: go_json(&v).into_bytes(),
                reencoded: true,
                ..r.clone()
            })
        };
        return Ok((masked(p)?, masked(e)?));
    }
    undo_ember(u, p, e, refetch).map(|e| (p.clone(), e))
}

/// Ember's answer with the documented change undone.
fn undo_ember(
    u: &Undo,
    p: &Resp,
    e: &Resp,
    refetch: &dyn Fn(&str) -> Resp,
) -> Result<Resp, String> {
    match u {
        Undo::Mask(_) => Ok(e.clone()),
        Undo::Text(from, to) => {
            let t = e.text();
            if !t.contains(from) {
                return Err(format!("Ember's answer lacks {from:?}"));
            }
            Ok(Resp {
                body: t.replace(from, to).into_bytes(),
                ..e.clone()
            })
        }
        Undo::Json(f) => {
            let mut v = e.json()?;
            f(&mut v);
            Ok(Resp {
                body: go_json(&v).into_bytes(),
                reencoded: true,
                ..e.clone()
            })
        }
        Undo::Ignored(param, check) => {
            check(e).map_err(|err| format!("with `{param}`: {err}"))?;
            Ok(refetch(param))
        }
        Undo::Each(prom, ember) => {
            prom(p).map_err(|err| format!("Prometheus: {err}"))?;
            ember(e).map_err(|err| format!("Ember: {err}"))?;
            Ok(p.clone())
        }
    }
}

/// `path` without the URL parameter `name`.
fn without_param(path: &str, name: &str) -> String {
    let Some((base, query)) = path.split_once('?') else {
        return path.to_string();
    };
    let key = format!("{}=", enc(name));
    let kept: Vec<&str> = query
        .split('&')
        .filter(|kv| !kv.starts_with(&key))
        .collect();
    if kept.is_empty() {
        base.to_string()
    } else {
        format!("{base}?{}", kept.join("&"))
    }
}

/// A successful answer with `n` entries in `data` (or in `data.result`)
/// and the truncation warning.
fn truncated(e: &Resp, n: usize) -> Result<(), String> {
    let v = e.json()?;
    let list = v["data"]
        .as_array()
        .or_else(|| v["data"]["result"].as_array())
        .ok_or("no list")?;
    if list.len() != n {
        return Err(format!("{} entries, want {n}", list.len()));
    }
    if v["warnings"] != serde_json::json!(["results truncated due to limit"]) {
        return Err(format!("warnings {}", v["warnings"]));
    }
    Ok(())
}

/// Compact JSON with Go's escaping of `<`, `>` and `&`.
fn go_json(v: &Value) -> String {
    serde_json::to_string(v)
        .unwrap()
        .replace('<', "\\u003c")
        .replace('>', "\\u003e")
        .replace('&', "\\u0026")
}

fn remove_keys(v: &mut Value, keys: &[&str]) {
    match v {
        Value::Object(m) => {
            for k in keys {
                m.remove(*k);
            }
            m.values_mut().for_each(|x| remove_keys(x, keys));
        }
        Value::Array(a) => a.iter_mut().for_each(|x| remove_keys(x, keys)),
        _ => {}
    }
}

// ---------------------------------------------------------------------------
// The table.

/// Which pair of servers a case goes to.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Pair {
    /// With `FULL_FLAGS`.
    Full,
    /// Without them.
    Plain,
}

/// Times and ports the table is written in.
struct Cx {
    /// Start of the remote-written samples, ms (a whole minute).
    t0: i64,
    /// A time after both servers scraped every target, ms (whole second).
    now: i64,
    /// The scrape target's port.
    target: u16,
}

impl Cx {
    /// `{T}`, `{T+300}`, `{T+30.5}` (seconds after `t0`), `{NOW}` and
    /// `{TP}` (the target's port).
    fn x(&self, s: &str) -> String {
        let s = s
            .replace("{TP}", &self.target.to_string())
            .replace("{NOW}", &(self.now / 1000).to_string());
        let mut out = String::new();
        let mut rest = s.as_str();
        while let Some(i) = rest.find("{T") {
            out.push_str(&rest[..i]);
            let end = rest[i..].find('}').expect("closing brace") + i;
            let off = &rest[i + 2..end];
            let ms = self.t0
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

    /// `path?k=v&...` with values expanded and percent-encoded.
    fn url(&self, path: &str, params: &[(&str, &str)]) -> String {
        if params.is_empty() {
            return path.to_string();
        }
        let q: Vec<String> = params
            .iter()
            .map(|(k, v)| format!("{}={}", enc(k), enc(&self.x(v))))
            .collect();
        format!("{path}?{}", q.join("&"))
    }

    fn form(&self, params: &[(&str, &str)]) -> String {
        let q: Vec<String> = params
            .iter()
            .map(|(k, v)| format!("{}={}", enc(k), enc(&self.x(v))))
            .collect();
        q.join("&")
    }
}

struct Case {
    name: &'static str,
    pair: Pair,
    method: &'static str,
    path: String,
    body: String,
    form: bool,
    /// Extra request headers.
    headers: Vec<(&'static str, &'static str)>,
    mode: Mode,
    /// Documented differences, undone in order.
    known: Vec<Known>,
    /// Runs before the request (on the test's side: rewriting the
    /// configuration file).
    before: Option<Box<dyn Fn()>>,
}

impl Case {
    fn new(name: &'static str, method: &'static str, path: String) -> Case {
        Case {
            name,
            pair: Pair::Full,
            method,
            path,
            body: String::new(),
            form: false,
            headers: Vec::new(),
            mode: Mode::Exact,
            known: Vec::new(),
            before: None,
        }
    }

    fn mode(mut self, m: Mode) -> Case {
        self.mode = m;
        self
    }

    fn plain(mut self) -> Case {
        self.pair = Pair::Plain;
        self
    }

    fn form(mut self, body: String) -> Case {
        self.body = body;
        self.form = true;
        self
    }

    fn header(mut self, name: &'static str, value: &'static str) -> Case {
        self.headers.push((name, value));
        self
    }

    fn known(mut self, why: &'static str, undo: Undo) -> Case {
        self.known.push(Known { why, undo });
        self
    }

    fn before(mut self, f: impl Fn() + 'static) -> Case {
        self.before = Some(Box::new(f));
        self
    }
}

fn get(name: &'static str, path: String) -> Case {
    Case::new(name, "GET", path)
}

fn post(name: &'static str, path: String, body: String) -> Case {
    Case::new(name, "POST", path).form(body)
}

const TIME_CAPITAL: &str = "2.42 writes `Invalid time value`; 3.x lower-cases it";
const LIMIT_3X: &str = "`limit` is a 3.x parameter, ignored by 2.42";

fn cases(cx: &Cx, config_file: PathBuf, good_config: String) -> Vec<Case> {
    let u = |p: &str, q: &[(&str, &str)]| cx.url(p, q);
    let f = |q: &[(&str, &str)]| cx.form(q);
    let q = "/api/v1/query";
    let qr = "/api/v1/query_range";
    let bad_config = config_file.clone();
    let restore = config_file;
    vec![
        // --- /api/v1/query
        get("query_vector", u(q, &[("query", "rw_requests_total"), ("time", "{T+300}")])),
        get("query_vector_ms", u(q, &[("query", "rw_requests_total"), ("time", "{T+300.123}")])),
        get("query_matrix", u(q, &[("query", "rw_requests_total[1m]"), ("time", "{T+127}")])),
        get("query_scalar", u(q, &[("query", "1.5"), ("time", "{T+10}")])),
        get("query_string", u(q, &[("query", "\"hello\""), ("time", "{T+10}")])),
        get("query_corners", u(q, &[("query", "rw_corner"), ("time", "{T+300}")])),
        get("query_escaping", u(q, &[("query", "rw_weird"), ("time", "{T+300}")])),
        get("query_rate", u(q, &[("query", "rate(rw_requests_total[5m])"), ("time", "{T+400}")])),
        get("query_sum_by", u(q, &[("query", "sum by (job) (rw_requests_total)"), ("time", "{T+300}")])),
        get("query_stale", u(q, &[("query", "rw_gone"), ("time", "{T+310}")])),
        get("query_before_stale", u(q, &[("query", "rw_gone"), ("time", "{T+290}")])),
        get("query_empty", u(q, &[("query", "nothing_here"), ("time", "{T+300}")])),
        get("query_histogram", u(q, &[("query", "rw_latency_seconds"), ("time", "{T+300}")])),
        get("query_histogram_fns", u(q, &[("query", "histogram_count(rw_latency_seconds) or histogram_sum(rw_latency_seconds)"), ("time", "{T+300}")])),
        get("query_scraped_up", u(q, &[("query", "up"), ("time", "{NOW}")])),
        get("query_scraped_gauge", u(q, &[("query", "golden_temperature_celsius"), ("time", "{NOW}")])),
        get("query_scraped_sum", u(q, &[("query", "sum by (job, path) (golden_requests_total)"), ("time", "{NOW}")])),
        get("query_scraped_info", u(q, &[("query", "golden_build_info"), ("time", "{NOW}")])),
        post("query_post", q.into(), f(&[("query", "rw_requests_total{method=\"GET\"}"), ("time", "{T+45}")])),
        get("query_lookback", u(q, &[("query", "rw_requests_total"), ("time", "{T+1000}"), ("lookback_delta", "10m")]))
            .known("`lookback_delta` is a 3.x parameter, ignored by 2.42", Undo::Ignored("lookback_delta", |e| check_json(e, 200, &[("/data/result/0/value/1", "390")]))),
        get("query_limit", u(q, &[("query", "rw_requests_total"), ("time", "{T+300}"), ("limit", "1")]))
            .known(LIMIT_3X, Undo::Ignored("limit", |e| truncated(e, 1))),
        get("query_stats", u(q, &[("query", "sum_over_time(rw_requests_total[1m])"), ("time", "{T+127}"), ("stats", "all")]))
            .mode(Mode::Masked(&["timings"]))
            .known(STATS_SAMPLES_READ, Undo::Json(|v| remove_keys(&mut v["data"]["stats"], &["samplesRead"]))),
        get("query_stats_instant", u(q, &[("query", "rw_requests_total"), ("time", "{T+300}"), ("stats", "true")]))
            .mode(Mode::Masked(&["timings"]))
            .known(STATS_SAMPLES_READ, Undo::Json(|v| remove_keys(&mut v["data"]["stats"], &["samplesRead"]))),
        get("error_parse", u(q, &[("query", "sum(up"), ("time", "{T}")])),
        get("error_parse_empty", u(q, &[("time", "{T}")]))
            .known("3.x reports an empty query at `unknown position`, 2.42 at `1:1`", Undo::Text("unknown position: parse error", "1:1: parse error")),
        get("error_time", u(q, &[("query", "up"), ("time", "abc")]))
            .known(TIME_CAPITAL, Undo::Text("invalid time value", "Invalid time value")),
        get("error_timeout_param", u(q, &[("query", "up"), ("timeout", "xyz")])),
        get("query_timeout_ok", u(q, &[("query", "rw_requests_total"), ("time", "{T+300}"), ("timeout", "30s")])),
        get("error_execution", u(q, &[("query", "label_replace(label_replace(rw_requests_total, \"code\", \"\", \"\", \"\"), \"method\", \"\", \"\", \"\")"), ("time", "{T+300}")])),
        get("error_query_type", u(q, &[("query", "sum(\"x\")"), ("time", "{T}")])),
        post("error_query_post", q.into(), f(&[("query", "rate(up)")])),
        // --- /api/v1/query_range
        get("range", u(qr, &[("query", "rw_requests_total"), ("start", "{T}"), ("end", "{T+120}"), ("step", "30")])),
        get("range_duration_step", u(qr, &[("query", "rate(rw_requests_total[1m])"), ("start", "{T+67}"), ("end", "{T+307}"), ("step", "1m")])),
        get("range_fractional", u(qr, &[("query", "rw_requests_total"), ("start", "{T+30.5}"), ("end", "{T+90.5}"), ("step", "20.25")])),
        get("range_histogram", u(qr, &[("query", "rw_latency_seconds"), ("start", "{T}"), ("end", "{T+30}"), ("step", "15")])),
        get("range_rfc3339", u(qr, &[("query", "vector(1)"), ("start", "2015-07-01T20:10:30.781Z"), ("end", "2015-07-01T20:11:00.781Z"), ("step", "15s")])),
        get("range_stale", u(qr, &[("query", "rw_gone"), ("start", "{T+270}"), ("end", "{T+330}"), ("step", "15")])),
        post("range_post", qr.into(), f(&[("query", "sum(rw_requests_total)"), ("start", "{T}"), ("end", "{T+60}"), ("step", "15")])),
        get("error_range_end_before_start", u(qr, &[("query", "up"), ("start", "{T+60}"), ("end", "{T}"), ("step", "15")])),
        get("error_range_zero_step", u(qr, &[("query", "up"), ("start", "{T}"), ("end", "{T+60}"), ("step", "0")])),
        get("error_range_bad_step", u(qr, &[("query", "up"), ("start", "{T}"), ("end", "{T+60}"), ("step", "abc")])),
        get("error_range_no_step", u(qr, &[("query", "up"), ("start", "{T}"), ("end", "{T+60}")])),
        get("error_range_resolution", u(qr, &[("query", "up"), ("start", "{T}"), ("end", "{T+100000}"), ("step", "1")])),
        get("error_range_bad_start", u(qr, &[("query", "up"), ("start", "x"), ("end", "{T}"), ("step", "15")])),
        get("error_range_no_start", u(qr, &[("query", "up")])),
        get("error_range_matrix", u(qr, &[("query", "up[1m]"), ("start", "{T}"), ("end", "{T+60}"), ("step", "15")]))
            .known("3.x prefixes `invalid parameter \\\"query\\\": `", Undo::Text("invalid parameter \\\"query\\\": ", "")),
        post("error_range_post", qr.into(), f(&[("query", "up"), ("start", "{T}"), ("end", "{T+60}"), ("step", "-1")])),
        // --- /api/v1/query_exemplars
        get("exemplars", u("/api/v1/query_exemplars", &[("query", "rw_requests_total"), ("start", "{T}"), ("end", "{T+600}")])),
        get("exemplars_window", u("/api/v1/query_exemplars", &[("query", "rate(rw_requests_total[5m])"), ("start", "{T+200}"), ("end", "{T+600}")])),
        get("exemplars_scraped", u("/api/v1/query_exemplars", &[("query", "golden_requests_total"), ("start", "{T}"), ("end", "{NOW}")])),
        get("exemplars_none", u("/api/v1/query_exemplars", &[("query", "rw_corner"), ("start", "{T}"), ("end", "{T+600}")])),
        get("exemplars_no_selector", u("/api/v1/query_exemplars", &[("query", "1 + 1"), ("start", "{T}"), ("end", "{T+600}")])),
        post("exemplars_post", "/api/v1/query_exemplars".into(), f(&[("query", "rw_requests_total{code=\"200\"}"), ("start", "{T}"), ("end", "{T+300}")])),
        get("error_exemplars_parse", u("/api/v1/query_exemplars", &[("query", "rw_requests_total{"), ("start", "{T}"), ("end", "{T+600}")])),
        get("error_exemplars_no_query", u("/api/v1/query_exemplars", &[("start", "{T}"), ("end", "{T+600}")]))
            .known("3.x reports an empty query at `unknown position`, 2.42 at `1:1`", Undo::Text("unknown position: parse error", "1:1: parse error")),
        get("error_exemplars_end_before_start", u("/api/v1/query_exemplars", &[("query", "up"), ("start", "{T+600}"), ("end", "{T}")])),
        get("error_exemplars_bad_start", u("/api/v1/query_exemplars", &[("query", "up"), ("start", "soon")]))
            .known(TIME_CAPITAL, Undo::Text("invalid time value", "Invalid time value")),
        // --- /api/v1/format_query and /api/v1/parse_query
        get("format_query", u("/api/v1/format_query", &[("query", "sum(rate(foo{bar=\"baz\"}[5m]))by(job)")])),
        post("format_query_post", "/api/v1/format_query".into(), f(&[("query", "a+on(b)group_left c")])),
        get("error_format_query", u("/api/v1/format_query", &[("query", "foo{")])),
        get("error_format_query_empty", "/api/v1/format_query".into())
            .known("3.x reports an empty query at `unknown position`, 2.42 at `1:1`", Undo::Text("unknown position: parse error", "1:1: parse error")),
        get("parse_query", u("/api/v1/parse_query", &[("query", "sum by (job) (rate(rw_requests_total[5m]))")]))
            .known(PARSE_QUERY_3X, Undo::Each(not_found, |e| check_json(e, 200, &[("/status", "success"), ("/data/type", "aggregation"), ("/data/op", "sum"), ("/data/expr/type", "call"), ("/data/expr/func/name", "rate")]))),
        get("error_parse_query", u("/api/v1/parse_query", &[("query", "sum(")]))
            .known(PARSE_QUERY_3X, Undo::Each(not_found, |e| check_json(e, 400, &[("/status", "error"), ("/errorType", "bad_data")]))),
        // --- /api/v1/series
        get("series", u("/api/v1/series", &[("match[]", "rw_requests_total")])),
        get("series_multi", "/api/v1/series?match%5B%5D=rw_requests_total%7Bcode%3D%22200%22%7D&match%5B%5D=rw_gone&match%5B%5D=rw_requests_total".into()),
        get("series_range", u("/api/v1/series", &[("match[]", "{job=~\".+\"}"), ("start", "{T}"), ("end", "{T+600}")]))
            .known(SERIES_ORDER, Undo::Json(sort_series)),
        get("series_scraped", u("/api/v1/series", &[("match[]", "up{job=\"alpha\"}")])),
        get("series_out_of_range", u("/api/v1/series", &[("match[]", "rw_requests_total"), ("start", "{T+3600}"), ("end", "{T+7200}")])),
        post("series_post", "/api/v1/series".into(), f(&[("match[]", "rw_requests_total{method=\"GET\"}")])),
        get("series_limit", u("/api/v1/series", &[("match[]", "rw_requests_total"), ("limit", "1")]))
            .known(LIMIT_3X, Undo::Ignored("limit", |e| truncated(e, 1))),
        get("error_series_no_match", "/api/v1/series".into()),
        get("error_series_empty_matcher", u("/api/v1/series", &[("match[]", "{job=~\".*\"}")])),
        get("error_series_bad_selector", u("/api/v1/series", &[("match[]", "up{")])),
        get("error_series_bad_end", u("/api/v1/series", &[("match[]", "up"), ("end", "later")]))
            .known(TIME_CAPITAL, Undo::Text("invalid time value", "Invalid time value")),
        // --- /api/v1/labels
        get("labels", "/api/v1/labels".into()),
        get("labels_match", u("/api/v1/labels", &[("match[]", "rw_requests_total")])),
        get("labels_match_multi", "/api/v1/labels?match%5B%5D=rw_corner&match%5B%5D=golden_latency_seconds_bucket".into()),
        get("labels_range", u("/api/v1/labels", &[("start", "{T}"), ("end", "{T+600}")])),
        post("labels_post", "/api/v1/labels".into(), f(&[("match[]", "up")])),
        get("labels_limit", u("/api/v1/labels", &[("limit", "2")]))
            .known(LIMIT_3X, Undo::Ignored("limit", |e| truncated(e, 2))),
        get("error_labels_bad_match", u("/api/v1/labels", &[("match[]", "{")])),
        get("error_labels_bad_start", u("/api/v1/labels", &[("start", "yesterday")]))
            .known(TIME_CAPITAL, Undo::Text("invalid time value", "Invalid time value")),
        // --- /api/v1/label/<name>/values
        get("label_values_job", "/api/v1/label/job/values".into()),
        get("label_values_name", "/api/v1/label/__name__/values".into()),
        get("label_values_match", u("/api/v1/label/job/values", &[("match[]", "up")])),
        get("label_values_match_multi", "/api/v1/label/job/values?match%5B%5D=up%7Bjob%3D%22beta%22%7D&match%5B%5D=rw_gone".into()),
        get("label_values_range", u("/api/v1/label/job/values", &[("start", "{T}"), ("end", "{T+600}")])),
        get("label_values_start_only", u("/api/v1/label/code/values", &[("start", "{T+3600}")])),
        get("label_values_unknown", "/api/v1/label/nope/values".into()),
        get("label_values_escaping", "/api/v1/label/label/values".into()),
        get("label_values_limit", u("/api/v1/label/job/values", &[("limit", "2")]))
            .known(LIMIT_3X, Undo::Ignored("limit", |e| truncated(e, 2))),
        get("error_label_values_bad_match", u("/api/v1/label/job/values", &[("match[]", "job=")])),
        get("error_label_values_bad_end", u("/api/v1/label/job/values", &[("end", "x")]))
            .known(TIME_CAPITAL, Undo::Text("invalid time value", "Invalid time value")),
        get("label_values_bad_name", "/api/v1/label/a-b/values".into())
            .known("3.x accepts any UTF-8 label name; 2.42 only legacy names", Undo::Each(
                |p| check_json(p, 400, &[("/errorType", "bad_data"), ("/error", "invalid label name: \"a-b\"")]),
                |e| check_json(e, 200, &[("/status", "success")]),
            )),
        // --- /api/v1/metadata and /api/v1/targets/metadata
        get("metadata", "/api/v1/metadata".into()),
        get("metadata_metric", u("/api/v1/metadata", &[("metric", "golden_temperature_celsius")])),
        get("metadata_metric_unknown", u("/api/v1/metadata", &[("metric", "nope")])),
        get("metadata_limit", u("/api/v1/metadata", &[("limit", "2")])).mode(Mode::Custom(compare_picked)),
        get("metadata_limit_per_metric", u("/api/v1/metadata", &[("limit_per_metric", "1")])),
        get("error_metadata_limit", u("/api/v1/metadata", &[("limit", "x")])),
        get("targets_metadata", "/api/v1/targets/metadata".into()).mode(Mode::Unordered),
        get("targets_metadata_match", u("/api/v1/targets/metadata", &[("match_target", "{job=\"beta\"}")])).mode(Mode::Unordered),
        get("targets_metadata_metric", u("/api/v1/targets/metadata", &[("metric", "golden_requests")])).mode(Mode::Unordered),
        get("targets_metadata_both", u("/api/v1/targets/metadata", &[("match_target", "{job=\"alpha\"}"), ("metric", "golden_build")])),
        get("targets_metadata_limit", u("/api/v1/targets/metadata", &[("limit", "2")])).mode(Mode::Custom(compare_picked)),
        get("error_targets_metadata_limit", u("/api/v1/targets/metadata", &[("limit", "many")])),
        get("error_targets_metadata_match", u("/api/v1/targets/metadata", &[("match_target", "{job=}")])),
        // --- /api/v1/targets and /api/v1/scrape_pools
        get("targets", "/api/v1/targets".into()).mode(Mode::Masked(TARGET_VOLATILE))
            .known(DROPPED_COUNTS, Undo::Json(undo_targets)),
        get("targets_any", u("/api/v1/targets", &[("state", "any")])).mode(Mode::Masked(TARGET_VOLATILE))
            .known(DROPPED_COUNTS, Undo::Json(undo_targets)),
        get("targets_active", u("/api/v1/targets", &[("state", "active")])).mode(Mode::Masked(TARGET_VOLATILE))
            .known(DROPPED_COUNTS, Undo::Json(undo_targets)),
        get("targets_dropped", u("/api/v1/targets", &[("state", "Dropped")])).mode(Mode::Masked(TARGET_VOLATILE))
            .known(DROPPED_COUNTS, Undo::Json(undo_targets)),
        get("targets_bogus_state", u("/api/v1/targets", &[("state", "bogus")])).mode(Mode::Masked(TARGET_VOLATILE))
            .known(DROPPED_COUNTS, Undo::Json(undo_targets)),
        get("targets_pool", u("/api/v1/targets", &[("scrapePool", "alpha")])).mode(Mode::Masked(TARGET_VOLATILE))
            .known(DROPPED_COUNTS, Undo::Json(undo_targets)),
        get("targets_pool_dropped", u("/api/v1/targets", &[("scrapePool", "gamma"), ("state", "dropped")])).mode(Mode::Masked(TARGET_VOLATILE))
            .known(DROPPED_COUNTS, Undo::Json(undo_targets)),
        get("targets_pool_unknown", u("/api/v1/targets", &[("scrapePool", "nope")])).mode(Mode::Masked(TARGET_VOLATILE))
            .known(DROPPED_COUNTS, Undo::Json(undo_targets)),
        get("scrape_pools", "/api/v1/scrape_pools".into()),
        // --- Rules, alerts, Alertmanagers: none configured.
        get("rules", "/api/v1/rules".into()),
        get("alerts", "/api/v1/alerts".into()),
        get("alertmanagers", "/api/v1/alertmanagers".into()),
        // --- /api/v1/status/*
        get("status_config", "/api/v1/status/config".into()).mode(Mode::Custom(compare_config)),
        get("status_flags", "/api/v1/status/flags".into()).mode(Mode::Custom(compare_flags))
            .known("3.x lists the retention in effect (15d by default) under `storage.tsdb.retention.time`; 2.42 the flag as given (`0s`)",
                Undo::Json(|v| v["data"]["storage.tsdb.retention.time"] = "0s".into())),
        get("status_runtimeinfo", "/api/v1/status/runtimeinfo".into())
            .mode(Mode::Masked(RUNTIME_VOLATILE))
            .known(RUNTIME_3X, Undo::Json(|v| remove_keys(&mut v["data"], &["hostname", "serverTime", "GOMEMLIMIT"]))),
        get("status_buildinfo", "/api/v1/status/buildinfo".into()).mode(Mode::Shape),
        get("status_tsdb", "/api/v1/status/tsdb".into()).mode(Mode::Custom(compare_tsdb))
            .known(TSDB_MEMORY, Undo::Mask(&["memoryInBytesByLabelName"])),
        get("status_tsdb_limit", u("/api/v1/status/tsdb", &[("limit", "3")])).mode(Mode::Custom(compare_tsdb))
            .known(TSDB_LIMIT_3X, Undo::Ignored("limit", tsdb_top_3))
            .known(TSDB_MEMORY, Undo::Mask(&["memoryInBytesByLabelName"])),
        get("status_tsdb_bad_limit", u("/api/v1/status/tsdb", &[("limit", "0")]))
            .known(TSDB_LIMIT_3X, Undo::Each(
                |p| check_json(p, 200, &[("/status", "success")]),
                |e| check_json(e, 400, &[("/errorType", "bad_data"), ("/error", "limit must be a positive number")]),
            )),
        get("status_walreplay", "/api/v1/status/walreplay".into()),
        // --- /federate
        get("federate", u("/federate", &[("match[]", "rw_requests_total")])),
        get("federate_multi", "/federate?match[]=rw_corner&match[]=rw_weird&match[]=rw_latency_seconds".into()),
        get("federate_stale", u("/federate", &[("match[]", "rw_gone")])),
        get("federate_scraped", u("/federate", &[("match[]", "{job=\"beta\"}")])).mode(Mode::Custom(compare_federate_scraped)),
        get("federate_none", "/federate".into()),
        get("error_federate_bad_match", u("/federate", &[("match[]", "up{")])),
        // --- /metrics, health and readiness
        get("metrics", "/metrics".into()).mode(Mode::Custom(compare_metrics)),
        get("metrics_openmetrics", "/metrics".into())
            .header("Accept", "application/openmetrics-text;version=1.0.0,text/plain;version=0.0.4;q=0.5")
            .mode(Mode::Custom(compare_metrics)),
        get("healthy", "/-/healthy".into()),
        Case::new("healthy_head", "HEAD", "/-/healthy".into()),
        get("ready", "/-/ready".into()),
        Case::new("ready_head", "HEAD", "/-/ready".into()),
        // --- Unknown paths and methods, CORS preflight.
        get("unknown_api_path", "/api/v1/nope".into()),
        get("unknown_path", "/nope".into()),
        Case::new("wrong_method", "PUT", u(q, &[("query", "1")])),
        Case::new("options", "OPTIONS", "/api/v1/query".into()),
        Case::new("delete_series_route", "DELETE", u("/api/v1/series", &[("match[]", "up")]))
            .known("2.42 routes DELETE /api/v1/series to a `not implemented` error; 3.x removed the route", Undo::Each(
                |p| check_json(p, 500, &[("/errorType", "internal"), ("/error", "not implemented")]),
                |e| if e.status == 405 && e.text() == "Method Not Allowed\n" { Ok(()) } else { Err(e.show()) },
            )),
        // --- Remote write errors.
        Case::new("error_write_garbage", "POST", "/api/v1/write".into()),
        // --- /-/reload: good, bad (the running configuration stays), good.
        Case::new("reload", "POST", "/-/reload".into()),
        Case::new("reload_put", "PUT", "/-/reload".into()),
        get("reload_get", "/-/reload".into()),
        Case::new("reload_bad", "POST", "/-/reload".into())
            .before(move || std::fs::write(&bad_config, "global:\n  scrape_interval: 1s\nbogus_field: 1\n").unwrap()),
        get("status_runtimeinfo_after_bad_reload", "/api/v1/status/runtimeinfo".into())
            .mode(Mode::Masked(RUNTIME_VOLATILE))
            .known(RUNTIME_3X, Undo::Json(|v| remove_keys(&mut v["data"], &["hostname", "serverTime", "GOMEMLIMIT"]))),
        get("scrape_pools_after_bad_reload", "/api/v1/scrape_pools".into()),
        Case::new("reload_again", "POST", "/-/reload".into())
            .before(move || std::fs::write(&restore, &good_config).unwrap()),
        // --- Admin API.
        Case::new("admin_snapshot", "POST", "/api/v1/admin/tsdb/snapshot".into()).mode(Mode::Custom(compare_snapshot)),
        post("admin_snapshot_skip_head", "/api/v1/admin/tsdb/snapshot".into(), "skip_head=true".into()).mode(Mode::Custom(compare_snapshot)),
        Case::new("admin_snapshot_put", "PUT", "/api/v1/admin/tsdb/snapshot?skip_head=1".into()).mode(Mode::Custom(compare_snapshot)),
        post("error_admin_snapshot_skip_head", "/api/v1/admin/tsdb/snapshot".into(), "skip_head=maybe".into()),
        get("error_admin_snapshot_get", "/api/v1/admin/tsdb/snapshot".into()),
        post("error_admin_delete_no_match", "/api/v1/admin/tsdb/delete_series".into(), String::new()),
        post("error_admin_delete_bad_match", "/api/v1/admin/tsdb/delete_series".into(), f(&[("match[]", "rw_deleteme{")])),
        post("error_admin_delete_bad_start", "/api/v1/admin/tsdb/delete_series".into(), f(&[("match[]", "rw_deleteme"), ("start", "x")]))
            .known(TIME_CAPITAL, Undo::Text("invalid time value", "Invalid time value")),
        post("admin_delete_range", "/api/v1/admin/tsdb/delete_series".into(), f(&[("match[]", "rw_deleteme"), ("start", "{T}"), ("end", "{T+300}")])),
        get("after_delete_range", u(qr, &[("query", "rw_deleteme"), ("start", "{T+270}"), ("end", "{T+330}"), ("step", "15")])),
        Case::new("admin_delete_put", "PUT", u("/api/v1/admin/tsdb/delete_series", &[("match[]", "rw_deleteme")])),
        get("after_delete_series", u("/api/v1/series", &[("match[]", "{job=\"d\"}")])),
        get("after_delete_query", u(q, &[("query", "{job=\"d\"}"), ("time", "{T+300}")])),
        Case::new("admin_clean_tombstones", "POST", "/api/v1/admin/tsdb/clean_tombstones".into()),
        Case::new("admin_clean_tombstones_put", "PUT", "/api/v1/admin/tsdb/clean_tombstones".into()),
        get("after_clean_tombstones", u(q, &[("query", "{job=\"d\"}"), ("time", "{T+300}")])),
        // --- The same gates on the pair without the flags.
        Case::new("plain_admin_snapshot", "POST", "/api/v1/admin/tsdb/snapshot".into()).plain(),
        post("plain_admin_delete", "/api/v1/admin/tsdb/delete_series".into(), f(&[("match[]", "up")])).plain(),
        Case::new("plain_admin_clean_tombstones", "PUT", "/api/v1/admin/tsdb/clean_tombstones".into()).plain(),
        Case::new("plain_reload", "POST", "/-/reload".into()).plain(),
        Case::new("plain_quit", "POST", "/-/quit".into()).plain(),
        get("plain_quit_get", "/-/quit".into()).plain(),
        Case::new("plain_write", "POST", "/api/v1/write".into()).plain()
            .known("3.x names the flag `--web.enable-remote-write-receiver`; 2.42 the feature flag", Undo::Text("--web.enable-remote-write-receiver", "--enable-feature=remote-write-receiver")),
        get("plain_query", u(q, &[("query", "up"), ("time", "{NOW}")])).plain(),
        get("plain_scrape_pools", "/api/v1/scrape_pools".into()).plain(),
        // --- /-/quit last: both servers of the full pair stop.
        get("quit_get", "/-/quit".into()),
        Case::new("quit", "POST", "/-/quit".into()),
    ]
}

/// Target fields that depend on when and how fast the scrape ran.
const TARGET_VOLATILE: &[&str] = &["lastScrape", "lastScrapeDuration"];

const DROPPED_COUNTS: &str = "2.47 added `droppedTargetCounts` (targets dropped per pool) and the \
     `scrapePool` of each dropped target; 2.42 has neither";

/// 2.42 has no `droppedTargetCounts` and no `scrapePool` on dropped targets.
fn undo_targets(v: &mut Value) {
    let data = v["data"].as_object_mut().unwrap();
    data.remove("droppedTargetCounts");
    for t in data["droppedTargets"].as_array_mut().unwrap() {
        t.as_object_mut().unwrap().remove("scrapePool");
    }
}

const SERIES_ORDER: &str = "with one `match[]`, 3.x lists series in the storage's order (its merge \
     querier passes a single querier through unsorted: head series by creation); 2.42 always \
     merged with the (empty) remote storage, which sorts";

/// 2.42's order: series sorted by their labels.
fn sort_series(v: &mut Value) {
    let key = |s: &Value| -> Vec<(String, String)> {
        s.as_object()
            .unwrap()
            .iter()
            .map(|(k, v)| (k.clone(), v.as_str().unwrap().to_string()))
            .collect()
    };
    v["data"].as_array_mut().unwrap().sort_by_key(key);
}

const STATS_SAMPLES_READ: &str = "3.x added `samplesRead` to the query statistics";

const TSDB_MEMORY: &str = "`memoryInBytesByLabelName` uses 3.x's `labels.SizeOfLabels` (2.52, \
     #13880: name and value sizes times series); 2.42 summed the lengths of distinct values";

/// Runtime fields that depend on the process.
const RUNTIME_VOLATILE: &[&str] = &["startTime", "lastConfigTime", "goroutineCount"];

const RUNTIME_3X: &str =
    "3.x added `hostname`, `serverTime` and `GOMEMLIMIT` to runtimeinfo; 2.42 lacks them";

const PARSE_QUERY_3X: &str = "`/api/v1/parse_query` is new in 3.x (2.42 answers 404)";
const TSDB_LIMIT_3X: &str = "`limit` of status/tsdb is a 3.x parameter (2.42 always lists 10)";

/// 2.42's answer to a route it does not have.
fn not_found(p: &Resp) -> Result<(), String> {
    if p.status == 404 {
        Ok(())
    } else {
        Err(format!("status {}", p.status))
    }
}

/// Every list of status/tsdb has at most three entries.
fn tsdb_top_3(e: &Resp) -> Result<(), String> {
    let v = e.json()?;
    let data = v["data"].as_object().ok_or("no data")?;
    for (k, x) in data {
        if let Some(a) = x.as_array()
            && a.len() > 3
        {
            return Err(format!("{k}: {} entries", a.len()));
        }
    }
    Ok(())
}

/// Checks JSON pointers in `e` equal strings.
fn check_json(e: &Resp, status: u16, want: &[(&str, &str)]) -> Result<(), String> {
    if e.status != status {
        return Err(format!("status {} (want {status})", e.status));
    }
    let v = e.json()?;
    for (ptr, s) in want {
        if v.pointer(ptr).and_then(Value::as_str) != Some(s) {
            return Err(format!("{ptr} is {:?}, want {s:?}", v.pointer(ptr)));
        }
    }
    Ok(())
}

// ---------------------------------------------------------------------------
// Endpoint-specific comparisons.

/// A `limit` applied to entries Prometheus takes from a Go map (which ones
/// it keeps is random): the same number of entries, each of the shape of
/// the other side's first.
fn compare_picked(p: &Resp, e: &Resp) -> Result<(), String> {
    let (pj, ej) = same_shape_top(p, e)?;
    let entries = |v: &Value| -> Vec<Value> {
        match &v["data"] {
            Value::Array(a) => a.clone(),
            Value::Object(m) => m.values().cloned().collect(),
            _ => Vec::new(),
        }
    };
    let (a, b) = (entries(&pj), entries(&ej));
    if a.len() != b.len() || a.is_empty() {
        return Err(format!("{} vs {} entries", a.len(), b.len()));
    }
    // Entries are objects (target metadata) or lists of objects (metadata
    // by metric): their keys, not the targets' labels, must agree.
    let keys = |v: &Value| -> Vec<BTreeSet<String>> {
        let objs = match v {
            Value::Array(a) => a.clone(),
            v => vec![v.clone()],
        };
        objs.iter()
            .map(|o| {
                o.as_object()
                    .map(|m| m.keys().cloned().collect())
                    .unwrap_or_default()
            })
            .collect()
    };
    let mut diffs = Vec::new();
    for x in a.iter().chain(&b) {
        if keys(x) != keys(&a[0]) {
            diffs.push(format!("entry {x} unlike {}", a[0]));
        }
    }
    if diffs.is_empty() {
        Ok(())
    } else {
        Err(diffs.join("; "))
    }
}

/// `/api/v1/status/config`: the YAML of both, parsed. Keys both have must
/// hold the same values; keys only one has must be listed in
/// `CONFIG_ONLY_EMBER` / `CONFIG_ONLY_PROMETHEUS` (by their last path
/// element) with the reason.
fn compare_config(p: &Resp, e: &Resp) -> Result<(), String> {
    let (pj, ej) = same_shape_top(p, e)?;
    let parse = |v: &Value| -> Result<Value, String> {
        let yaml = v["data"]["yaml"].as_str().ok_or("no yaml")?;
        serde_saphyr::from_str::<Value>(yaml).map_err(|err| format!("{err}: {yaml}"))
    };
    let (py, ey) = (parse(&pj)?, parse(&ej)?);
    let mut diffs = Vec::new();
    yaml_diff("", &py, &ey, &mut diffs);
    if diffs.is_empty() {
        Ok(())
    } else {
        Err(diffs.join("\n      "))
    }
}

/// Configuration fields 3.x writes that 2.42 does not know.
const CONFIG_ONLY_EMBER: &[(&str, &str)] = &[
    (
        "metric_name_validation_scheme",
        "3.x: UTF-8 metric and label names (global and per job)",
    ),
    (
        "metric_name_escaping_scheme",
        "3.x: UTF-8 name escaping when scraping",
    ),
    (
        "scrape_protocols",
        "2.49+: negotiated exposition formats, written per job in 3.x",
    ),
    (
        "enable_compression",
        "2.49+: gzip for scrapes, always written",
    ),
    (
        "track_timestamps_staleness",
        "2.48+: staleness for explicit timestamps, always written",
    ),
    (
        "otlp",
        "2.47+/3.x: the OTLP receiver's section, written with its defaults",
    ),
];

/// Configuration fields 2.42 writes that 3.x removed.
const CONFIG_ONLY_PROMETHEUS: &[(&str, &str)] = &[];

/// Values that differ with the reason: (path suffix, why).
const CONFIG_VALUES: &[(&str, &str)] = &[];

fn yaml_diff(path: &str, p: &Value, e: &Value, out: &mut Vec<String>) {
    match (p, e) {
        (Value::Object(a), Value::Object(b)) => {
            for (k, v) in a {
                let sub = format!("{path}.{k}");
                match b.get(k) {
                    Some(w) => yaml_diff(&sub, v, w, out),
                    None if CONFIG_ONLY_PROMETHEUS.iter().any(|(n, _)| n == k) => {}
                    None => out.push(format!("{sub}: only in Prometheus ({v})")),
                }
            }
            for (k, w) in b {
                if !a.contains_key(k) && !CONFIG_ONLY_EMBER.iter().any(|(n, _)| n == k) {
                    out.push(format!("{path}.{k}: only in Ember ({w})"));
                }
            }
        }
        (Value::Array(a), Value::Array(b)) if a.len() == b.len() => {
            for (i, (x, y)) in a.iter().zip(b).enumerate() {
                yaml_diff(&format!("{path}[{i}]"), x, y, out);
            }
        }
        _ if p != e && !CONFIG_VALUES.iter().any(|(n, _)| path.ends_with(n)) => {
            out.push(format!("{path}: {p} vs {e}"));
        }
        _ => {}
    }
}

fn same_shape_top(p: &Resp, e: &Resp) -> Result<(Value, Value), String> {
    same_head(p, e)?;
    let (pj, ej) = (p.json()?, e.json()?);
    if pj["status"] != ej["status"] {
        return Err(format!("status {} vs {}", pj["status"], ej["status"]));
    }
    Ok((pj, ej))
}

/// Flags whose values legitimately differ between the two processes.
/// Ember's flags that Prometheus does not have.
const FLAGS_ONLY_EMBER: &[(&str, &str)] = &[
    (
        "storage.tsdb.out-of-order-time-window",
        "Ember's own flag; Prometheus sets the window only in the configuration file",
    ),
    (
        "storage.tsdb.no-lockfile",
        "upstream Prometheus's flag (lock on by default); Debian's 2.42 patches it to \
         `storage.tsdb.use-lockfile` (lock off by default), which Ember also accepts",
    ),
];

const FLAG_VALUES_DIFFER: &[(&str, &str)] = &[
    (
        "storage.tsdb.path",
        "each server has its own data directory",
    ),
    ("web.listen-address", "each server listens on its own port"),
];

/// `/api/v1/status/flags`: a map of strings on both sides; every flag Ember
/// lists exists in 2.42 under the same name with the same value (except
/// `FLAG_VALUES_DIFFER`). Prometheus lists flags Ember does not have
/// (documented limitation: Ember implements a subset of the flags).
fn compare_flags(p: &Resp, e: &Resp) -> Result<(), String> {
    let (pj, ej) = same_shape_top(p, e)?;
    let (pm, em) = (
        pj["data"].as_object().ok_or("no map")?,
        ej["data"].as_object().ok_or("no map")?,
    );
    let mut diffs = Vec::new();
    for (k, v) in em {
        if !v.is_string() {
            diffs.push(format!("{k}: not a string"));
        }
        match pm.get(k) {
            None if FLAGS_ONLY_EMBER.iter().any(|(n, _)| n == k) => {}
            None => diffs.push(format!("{k}: not a 2.42 flag")),
            Some(pv) if pv != v && !FLAG_VALUES_DIFFER.iter().any(|(n, _)| n == k) => {
                diffs.push(format!("{k}: {pv} vs {v}"));
            }
            Some(_) => {}
        }
    }
    if diffs.is_empty() {
        Ok(())
    } else {
        Err(diffs.join("; "))
    }
}

/// `/api/v1/status/tsdb`: same shape; series counts, label statistics and
/// memory by label name equal. `chunkCount`, `minTime` and `maxTime` depend
/// on when each server scraped. Entries tied in value are listed in no
/// particular order, so a list is compared by its values and by the names
/// of entries above the last value.
fn compare_tsdb(p: &Resp, e: &Resp) -> Result<(), String> {
    let (mut pj, mut ej) = same_shape(p, e)?;
    if pj["status"] != "success" {
        return if pj == ej {
            Ok(())
        } else {
            Err("errors differ".into())
        };
    }
    let mut diffs = Vec::new();
    for key in [
        "seriesCountByMetricName",
        "labelValueCountByLabelName",
        "memoryInBytesByLabelName",
        "seriesCountByLabelValuePair",
    ] {
        let list = |v: &Value| -> Vec<(String, u64)> {
            v["data"][key]
                .as_array()
                .map(|a| {
                    a.iter()
                        .map(|x| {
                            (
                                x["name"].as_str().unwrap_or("").to_string(),
                                x["value"].as_u64().unwrap_or(0),
                            )
                        })
                        .collect()
                })
                .unwrap_or_default()
        };
        let (a, b) = (list(&pj), list(&ej));
        let values = |l: &[(String, u64)]| l.iter().map(|x| x.1).collect::<Vec<_>>();
        if values(&a) != values(&b) {
            diffs.push(format!("{key}: {a:?} vs {b:?}"));
            continue;
        }
        let last = a.last().map_or(0, |x| x.1);
        let above = |l: &[(String, u64)]| {
            l.iter()
                .filter(|x| x.1 > last)
                .map(|x| x.0.clone())
                .collect::<BTreeSet<_>>()
        };
        if above(&a) != above(&b) {
            diffs.push(format!("{key}: {a:?} vs {b:?}"));
        }
    }
    mask(&mut pj, &["chunkCount", "minTime", "maxTime"]);
    mask(&mut ej, &["chunkCount", "minTime", "maxTime"]);
    if pj["data"]["headStats"] != ej["data"]["headStats"] {
        diffs.push(format!(
            "headStats: {} vs {}",
            pj["data"]["headStats"], ej["data"]["headStats"]
        ));
    }
    if diffs.is_empty() {
        Ok(())
    } else {
        Err(diffs.join("; "))
    }
}

/// `/federate` of scraped series: the text without the sample timestamps
/// (each server scraped at its own moments) and without the series whose
/// values are timings.
fn compare_federate_scraped(p: &Resp, e: &Resp) -> Result<(), String> {
    same_head(p, e)?;
    let strip = |r: &Resp| -> String {
        r.text()
            .lines()
            .filter(|l| !l.starts_with("scrape_duration_seconds"))
            .map(|l| {
                if l.starts_with('#') {
                    l.to_string()
                } else {
                    l.rsplit_once(' ').map_or(l, |(a, _)| a).to_string()
                }
            })
            .collect::<Vec<_>>()
            .join("\n")
    };
    let (a, b) = (strip(p), strip(e));
    if a != b {
        return Err(format!("federated text differs:\n{a}\n---\n{b}"));
    }
    Ok(())
}

/// Families of `/metrics` Ember exposes that 2.42 does not, with the reason
/// (each a 3.x addition).
const METRICS_ONLY_EMBER: &[(&str, &str)] = &[
    (
        "prometheus_api_remote_write_invalid_labels_samples_total",
        "3.x (storage/remote/write_handler.go)",
    ),
    (
        "prometheus_tsdb_head_chunks_storage_size_bytes",
        "3.x (tsdb/head.go)",
    ),
    (
        "prometheus_tsdb_retention_limit_seconds",
        "3.x (tsdb/db.go)",
    ),
    (
        "prometheus_tsdb_wal_record_bytes_saved_total",
        "3.x (tsdb/wlog/wlog.go)",
    ),
    (
        "prometheus_tsdb_wal_record_part_writes_total",
        "3.x (tsdb/wlog/wlog.go)",
    ),
    (
        "prometheus_tsdb_wal_record_parts_bytes_written_total",
        "3.x (tsdb/wlog/wlog.go)",
    ),
];

/// Storage families of 2.42's `/metrics` Ember does not expose, with the
/// reason (each a feature Ember does not have; every other
/// `prometheus_tsdb_*` family of 2.42 must be there).
const TSDB_METRICS_ONLY_PROMETHEUS: &[(&str, &str)] = &[
    (
        "prometheus_tsdb_isolation_high_watermark",
        "Ember's head has no append-ID isolation",
    ),
    (
        "prometheus_tsdb_isolation_low_watermark",
        "Ember's head has no append-ID isolation",
    ),
    (
        "prometheus_tsdb_snapshot_replay_error_total",
        "Ember has no memory snapshot on shutdown",
    ),
    (
        "prometheus_tsdb_compactions_skipped_total",
        "Ember's automatic compaction cannot be switched off",
    ),
];

/// `/metrics`: same status and content type; every family Ember exposes
/// exists in 2.42 with the same type (or is listed in
/// `METRICS_ONLY_EMBER`), and every storage family 2.42 exposes exists in
/// Ember (or is listed in `TSDB_METRICS_ONLY_PROMETHEUS`), so storage
/// dashboards find theirs. 2.42 exposes many more (Go runtime, rules,
/// notifier, SD mechanisms Ember lacks): a documented limitation.
fn compare_metrics(p: &Resp, e: &Resp) -> Result<(), String> {
    same_head(p, e)?;
    let types = |r: &Resp| -> BTreeMap<String, String> {
        r.text()
            .lines()
            .filter_map(|l| l.strip_prefix("# TYPE "))
            .filter_map(|l| {
                let (n, t) = l.split_once(' ')?;
                Some((n.to_string(), t.to_string()))
            })
            .collect()
    };
    let (pt, et) = (types(p), types(e));
    let mut diffs = Vec::new();
    for (name, t) in &et {
        match pt.get(name) {
            Some(pt) if pt != t => diffs.push(format!("{name}: {pt} vs {t}")),
            None if !METRICS_ONLY_EMBER.iter().any(|(n, _)| n == name) => {
                diffs.push(format!("{name}: not in 2.42"));
            }
            _ => {}
        }
    }
    for name in pt.keys().filter(|n| n.starts_with("prometheus_tsdb_")) {
        if !et.contains_key(name) && !TSDB_METRICS_ONLY_PROMETHEUS.iter().any(|(n, _)| n == name) {
            diffs.push(format!("{name}: missing in Ember"));
        }
    }
    // Families whose series must also agree: names, label names and
    // `quantile` values (not the values, which are timings and counts).
    for family in SAME_SERIES {
        let (a, b) = (series_shapes(p, family), series_shapes(e, family));
        if a.is_empty() || a != b {
            diffs.push(format!("{family} series: {a:?} vs {b:?}"));
        }
    }
    if diffs.is_empty() {
        Ok(())
    } else {
        Err(diffs.join("; "))
    }
}

/// Families of `/metrics` whose series shapes are compared too.
const SAME_SERIES: &[&str] = &[
    "prometheus_tsdb_wal_fsync_duration_seconds",
    "prometheus_tsdb_wal_truncate_duration_seconds",
    "prometheus_tsdb_compaction_chunk_range_seconds",
    "prometheus_tsdb_tombstone_cleanup_seconds",
    "prometheus_target_scrape_pool_sync_total",
    "prometheus_target_sync_failed_total",
    "prometheus_target_sync_length_seconds",
];

/// The series of `family` in a text exposition, as the sample name plus
/// label names (and the value of `quantile` and `scrape_job`).
fn series_shapes(r: &Resp, family: &str) -> BTreeSet<String> {
    r.text()
        .lines()
        .filter(|l| !l.starts_with('#'))
        .filter_map(|l| l.rsplit_once(' ').map(|(s, _)| s))
        .filter(|s| {
            s.strip_prefix(family)
                .is_some_and(|rest| rest.is_empty() || rest.starts_with(['{', '_']))
        })
        .map(|s| {
            let (name, labels) = s.split_once('{').unwrap_or((s, "}"));
            let labels: Vec<String> = labels
                .trim_end_matches('}')
                .split(',')
                .filter(|p| !p.is_empty())
                .map(|p| {
                    let (k, v) = p.split_once('=').unwrap_or((p, ""));
                    if k == "quantile" || k == "scrape_job" {
                        format!("{k}={v}")
                    } else {
                        k.to_string()
                    }
                })
                .collect();
            format!("{name}{{{}}}", labels.join(","))
        })
        .collect()
}

/// A snapshot: the same shape and a name of the same form
/// (`20060102T150405Z-<16 hex digits>`).
fn compare_snapshot(p: &Resp, e: &Resp) -> Result<(), String> {
    let (pj, ej) = same_shape(p, e)?;
    for v in [&pj, &ej] {
        let name = v["data"]["name"].as_str().ok_or("no name")?;
        let ok = name.len() == 33
            && name.as_bytes()[8] == b'T'
            && name.as_bytes()[15] == b'Z'
            && name.as_bytes()[16] == b'-'
            && name[17..].bytes().all(|b| b.is_ascii_hexdigit());
        if !ok {
            return Err(format!("snapshot name {name:?}"));
        }
    }
    Ok(())
}

// ---------------------------------------------------------------------------
// The test.

#[test]
fn api_answers_like_prometheus_2_42() {
    assert!(
        Path::new(PROMETHEUS).exists(),
        "{PROMETHEUS} is missing: install Debian's `prometheus` package (2.42) to run this test"
    );
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    // Ten minutes of remote-written samples ending about now.
    let t0 = now_ms() / 60_000 * 60_000 - 600_000;
    let target = target(exposition(t0 / 1000));
    let good_config = config(target);
    let config_file = dir.join("prometheus.yml");
    std::fs::write(&config_file, &good_config).unwrap();

    let (pf, ef, pp, ep) = (free_port(), free_port(), free_port(), free_port());
    let prom = start(Kind::Prometheus, "prometheus", dir, pf, FULL_FLAGS);
    let ember = start(Kind::Ember, "ember", dir, ef, FULL_FLAGS);
    let prom_plain = start(Kind::Prometheus, "prometheus-plain", dir, pp, &[]);
    let ember_plain = start(Kind::Ember, "ember-plain", dir, ep, &[]);
    let all = [&prom, &ember, &prom_plain, &ember_plain];
    for (port, p) in [
        (pf, &prom),
        (ef, &ember),
        (pp, &prom_plain),
        (ep, &ember_plain),
    ] {
        wait_until(&format!("{} to be ready", p.name), &all, 60, || ready(port));
    }

    // The same samples into both.
    let body = write_request(t0);
    for port in [pf, ef] {
        let r = http(port, "POST", "/api/v1/write", RW_HEADERS, &body).expect("remote write");
        assert_eq!(r.status, 204, "remote write to {port}: {}", r.show());
    }

    // Both have scraped every target (twice, so that metadata and the
    // scraped exemplar are in) before the table runs.
    let scraped = |port: u16| -> bool {
        let v = get_json(port, "/api/v1/targets?state=active");
        let Some(t) = v["data"]["activeTargets"].as_array() else {
            return false;
        };
        t.len() == 2 && t.iter().all(|t| t["health"] == "up")
    };
    let settled = |port: u16| -> bool {
        scraped(port)
            && get_json(port, "/api/v1/query?query=count_over_time(up%5B1m%5D)")["data"]["result"]
                .as_array()
                .is_some_and(|r| {
                    r.len() == 2
                        && r.iter().all(|s| {
                            s["value"][1]
                                .as_str()
                                .and_then(|v| v.parse::<f64>().ok())
                                .is_some_and(|n| n >= 2.0)
                        })
                })
    };
    for port in [pf, ef, pp, ep] {
        wait_until("every target scraped twice", &all, 60, || settled(port));
    }
    let cx = Cx {
        t0,
        now: now_ms() / 1000 * 1000,
        target,
    };

    let table = cases(&cx, config_file, good_config);
    let names: BTreeSet<&str> = table.iter().map(|c| c.name).collect();
    assert_eq!(names.len(), table.len(), "case names are unique");
    let mut failures = Vec::new();
    let mut known = Vec::new();
    let mut counts: BTreeMap<&str, usize> = BTreeMap::new();
    for case in &table {
        if let Some(f) = &case.before {
            f();
        }
        let (pport, eport) = match case.pair {
            Pair::Full => (pf, ef),
            Pair::Plain => (pp, ep),
        };
        let mut headers: Vec<(&str, &str)> = Vec::new();
        if case.form {
            headers.push(("Content-Type", "application/x-www-form-urlencoded"));
        }
        headers.extend(case.headers.iter().copied());
        let body: &[u8] = if case.name.starts_with("error_write") {
            b"not snappy"
        } else {
            case.body.as_bytes()
        };
        // No answer at all is status 0 (and fails the comparison).
        let send_path = |port, path: &str| {
            http(port, case.method, path, &headers, body).unwrap_or(Resp {
                status: 0,
                ctype: String::new(),
                body: b"no answer".to_vec(),
                reencoded: false,
            })
        };
        let send = |port| send_path(port, &case.path);
        let (p, e) = (send(pport), send(eport));
        // `API_GOLDEN_DUMP=<dir>` keeps both answers of every case.
        if let Some(dump) = std::env::var_os("API_GOLDEN_DUMP") {
            let dump = PathBuf::from(dump);
            std::fs::create_dir_all(&dump).unwrap();
            std::fs::write(dump.join(format!("{}.prometheus", case.name)), p.show()).unwrap();
            std::fs::write(dump.join(format!("{}.ember", case.name)), e.show()).unwrap();
        }
        *counts
            .entry(match case.mode {
                Mode::Exact => "exact",
                Mode::Masked(_) => "masked",
                Mode::Unordered => "unordered",
                Mode::Shape => "shape",
                Mode::Custom(_) => "custom",
            })
            .or_default() += 1;
        let plain = compare(case.mode, &p, &e);
        let whys: Vec<&str> = case.known.iter().map(|k| k.why).collect();
        match (case.known.is_empty(), plain) {
            (true, Ok(())) => {}
            (true, Err(why)) => failures.push(format!(
                "{} {} {}: {why}\n  prometheus: {}\n  ember:      {}",
                case.name,
                case.method,
                case.path,
                p.show(),
                e.show()
            )),
            (false, Ok(())) => failures.push(format!(
                "{}: documented difference ({}) is gone: remove it from the table\n  both: {}",
                case.name,
                whys.join("; "),
                p.show()
            )),
            (false, Err(_)) => {
                for w in &whys {
                    known.push(format!("{}: {w}", case.name));
                }
                let refetch = |param: &str| send_path(eport, &without_param(&case.path, param));
                let mut pair = Ok((p.clone(), e.clone()));
                for k in &case.known {
                    pair = pair.and_then(|(p, e)| undo(&k.undo, &p, &e, &refetch));
                }
                if let Err(why) = pair.and_then(|(p2, e2)| compare(case.mode, &p2, &e2)) {
                    failures.push(format!(
                        "{} {} {}: differs beyond the documented changes ({}): {why}\n  prometheus: {}\n  ember:      {}",
                        case.name,
                        case.method,
                        case.path,
                        whys.join("; "),
                        p.show(),
                        e.show()
                    ));
                }
            }
        }
    }
    // After `/-/quit` both servers of the full pair exit by themselves.
    let mut full = [prom, ember];
    for p in &mut full {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            if let Some(status) = p.child.try_wait().unwrap() {
                if !status.success() {
                    failures.push(format!("{} exited with {status} after /-/quit", p.name));
                }
                break;
            }
            if Instant::now() > deadline {
                failures.push(format!("{} still running 30 s after /-/quit", p.name));
                break;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }
    eprintln!(
        "{} requests compared ({counts:?}); {} documented differences:\n  {}",
        table.len(),
        known.len(),
        known.join("\n  ")
    );
    assert!(
        failures.is_empty(),
        "{} of {} requests differ:\n{}\n{}",
        failures.len(),
        table.len(),
        failures.join("\n"),
        full.iter().map(|p| p.log()).collect::<Vec<_>>().join("\n")
    );
}
