//! A bounded loopback load test of `ember server`: scrapes of a 500-series
//! target, remote-write ingestion from four writers and queries from four
//! readers, all at once. Every request must succeed and the server's
//! resident memory must stay bounded. Then SIGKILL in the middle of the
//! writes, restart: `/-/ready` turns 200 once the WAL is replayed and every
//! remote-written sample that was acknowledged (HTTP 204) is there with its
//! exact value.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use remote::prompb::{Label, Message, Sample, TimeSeries, WriteRequest};

const WRITERS: usize = 4;
const READERS: usize = 4;
const SERIES_PER_WRITER: usize = 50;
const SAMPLES_PER_REQUEST: usize = 5;
const LOAD_TIME: Duration = Duration::from_secs(12);
/// Resident memory the server may reach under this load.
const RSS_LIMIT: u64 = 400 << 20;

struct Server {
    child: Child,
}

impl Drop for Server {
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

/// (status, body) of an HTTP/1.0 request.
fn request(
    port: u16,
    method: &str,
    path: &str,
    headers: &str,
    body: &[u8],
) -> Option<(u16, Vec<u8>)> {
    let mut s = TcpStream::connect(("127.0.0.1", port)).ok()?;
    s.set_read_timeout(Some(Duration::from_secs(30))).ok()?;
    let head = format!(
        "{method} {path} HTTP/1.0\r\nHost: 127.0.0.1\r\n{headers}Content-Length: {}\r\n\r\n",
        body.len()
    );
    s.write_all(head.as_bytes()).ok()?;
    s.write_all(body).ok()?;
    let mut out = Vec::new();
    s.read_to_end(&mut out).ok()?;
    let text = String::from_utf8_lossy(&out);
    let status = text.split(' ').nth(1)?.parse().ok()?;
    let at = out.windows(4).position(|w| w == b"\r\n\r\n")? + 4;
    Some((status, out[at..].to_vec()))
}

fn get(port: u16, path: &str) -> Option<(u16, String)> {
    request(port, "GET", path, "", b"").map(|(s, b)| (s, String::from_utf8_lossy(&b).into_owned()))
}

fn encode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

fn start(dir: &Path, port: u16, target: u16) -> Server {
    let config = dir.join("prometheus.yml");
    std::fs::write(
        &config,
        format!(
            "global:\n  scrape_interval: 1s\n\
             scrape_configs:\n  - job_name: fleet\n    static_configs:\n      - targets: ['127.0.0.1:{target}']\n\
             \x20 - job_name: self\n    static_configs:\n      - targets: ['127.0.0.1:{port}']\n"
        ),
    )
    .unwrap();
    let log = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(dir.join("ember.log"))
        .unwrap();
    let child = Command::new(env!("CARGO_BIN_EXE_ember"))
        .arg("server")
        .arg(format!("--config.file={}", config.display()))
        .arg(format!(
            "--storage.tsdb.path={}",
            dir.join("data").display()
        ))
        .arg(format!("--web.listen-address=127.0.0.1:{port}"))
        .arg("--web.enable-remote-write-receiver")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(log)
        .spawn()
        .expect("start ember server");
    Server { child }
}

fn wait_ready(dir: &Path, port: u16) {
    let deadline = Instant::now() + Duration::from_secs(60);
    while get(port, "/-/ready").is_none_or(|(s, _)| s != 200) {
        assert!(
            Instant::now() < deadline,
            "not ready; log:\n{}",
            std::fs::read_to_string(dir.join("ember.log")).unwrap_or_default()
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// Serves `/metrics`: 500 series whose values grow on every request.
fn fleet_target() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    std::thread::spawn(move || {
        let mut n = 0u64;
        for conn in listener.incoming() {
            let Ok(mut c) = conn else { continue };
            let mut buf = [0u8; 2048];
            let _ = c.read(&mut buf);
            n += 1;
            let mut body = String::from("# TYPE fleet_requests_total counter\n");
            for i in 0..500 {
                body.push_str(&format!(
                    "fleet_requests_total{{handler=\"/api/{}\",code=\"{}\"}} {}\n",
                    i / 5,
                    200 + i % 5,
                    n * (i + 1)
                ));
            }
            let _ = write!(
                c,
                "HTTP/1.0 200 OK\r\nContent-Type: text/plain; version=0.0.4\r\nContent-Length: {}\r\n\r\n{body}",
                body.len()
            );
        }
    });
    port
}

fn rss(pid: u32) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmRSS:"))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|kb| kb.parse::<u64>().ok())
        })
        .map_or(0, |kb| kb * 1024)
}

fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64
}

/// Acknowledged samples: (writer, series) → [(t, value bits)].
type Acked = BTreeMap<(usize, usize), Vec<(i64, u64)>>;

/// One writer: sends requests of `SAMPLES_PER_REQUEST` new samples for
/// each of its series until `stop`; records what was acknowledged.
fn writer(
    port: u16,
    w: usize,
    base: i64,
    stop: Arc<AtomicBool>,
    acked: Arc<Mutex<Acked>>,
    errors: Arc<AtomicU64>,
) {
    let mut step = 0i64;
    while !stop.load(Ordering::Relaxed) {
        let mut req = WriteRequest::default();
        let mut sent = Vec::new();
        for s in 0..SERIES_PER_WRITER {
            let mut ts = TimeSeries {
                labels: vec![
                    Label {
                        name: "__name__".into(),
                        value: "load_metric".into(),
                    },
                    Label {
                        name: "series".into(),
                        value: s.to_string(),
                    },
                    Label {
                        name: "writer".into(),
                        value: w.to_string(),
                    },
                ],
                ..TimeSeries::default()
            };
            for k in 0..SAMPLES_PER_REQUEST as i64 {
                let t = base + (step + k) * 100;
                let v = (t as f64) * 0.001 + (w * 1000 + s) as f64 + 0.25;
                ts.samples.push(Sample {
                    value: v,
                    timestamp: t,
                });
                sent.push((s, t, v.to_bits()));
            }
            req.timeseries.push(ts);
        }
        step += SAMPLES_PER_REQUEST as i64;
        let body = remote::compress(&req.encode());
        let res = request(
            port,
            "POST",
            "/api/v1/write",
            "Content-Type: application/x-protobuf\r\nContent-Encoding: snappy\r\nX-Prometheus-Remote-Write-Version: 0.1.0\r\n",
            &body,
        );
        match res {
            Some((204, _)) => {
                let mut a = acked.lock().unwrap();
                for (s, t, v) in sent {
                    a.entry((w, s)).or_default().push((t, v));
                }
            }
            Some((status, body)) if !stop.load(Ordering::Relaxed) => {
                errors.fetch_add(1, Ordering::Relaxed);
                eprintln!("write {status}: {}", String::from_utf8_lossy(&body));
            }
            // The server is being killed: the request may not be answered.
            _ => {}
        }
    }
}

const QUERIES: [&str; 5] = [
    "sum by (code) (rate(fleet_requests_total[30s]))",
    "topk(5, fleet_requests_total)",
    "count by (writer) (load_metric)",
    "max_over_time(load_metric{series=~\"1.*\"}[1m])",
    "count({__name__=~\"prometheus_.*|load_.*\"})",
];

fn reader(
    port: u16,
    r: usize,
    stop: Arc<AtomicBool>,
    errors: Arc<AtomicU64>,
    done: Arc<AtomicU64>,
) {
    let mut i = r;
    while !stop.load(Ordering::Relaxed) {
        let q = encode(QUERIES[i % QUERIES.len()]);
        let now = now_ms() as f64 / 1000.0;
        let path = if i.is_multiple_of(2) {
            format!("/api/v1/query?query={q}")
        } else {
            format!(
                "/api/v1/query_range?query={q}&start={}&end={now}&step=1",
                now - 60.0
            )
        };
        match get(port, &path) {
            Some((200, body)) if body.contains("\"status\":\"success\"") => {
                done.fetch_add(1, Ordering::Relaxed);
            }
            other => {
                errors.fetch_add(1, Ordering::Relaxed);
                eprintln!("query {path}: {other:?}");
            }
        }
        i += 1;
    }
}

/// The samples of `load_metric{writer, series}` over the last hour, as
/// (t, value bits).
fn stored(port: u16, w: usize, s: usize) -> Vec<(i64, u64)> {
    let q = encode(&format!("load_metric{{writer=\"{w}\",series=\"{s}\"}}[1h]"));
    let (status, body) = get(port, &format!("/api/v1/query?query={q}")).unwrap();
    assert_eq!(status, 200, "{body}");
    let v: serde_json::Value = serde_json::from_str(&body).unwrap();
    let Some(values) = v["data"]["result"][0]["values"].as_array() else {
        return Vec::new();
    };
    values
        .iter()
        .map(|p| {
            let t = (p[0].as_f64().unwrap() * 1000.0).round() as i64;
            let v: f64 = p[1].as_str().unwrap().parse().unwrap();
            (t, v.to_bits())
        })
        .collect()
}

#[test]
fn load_then_sigkill_loses_nothing_acknowledged() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let port = free_port();
    let target = fleet_target();
    let mut server = start(dir, port, target);
    wait_ready(dir, port);

    let stop = Arc::new(AtomicBool::new(false));
    let acked: Arc<Mutex<Acked>> = Arc::default();
    let write_errors = Arc::new(AtomicU64::new(0));
    let query_errors = Arc::new(AtomicU64::new(0));
    let queries_done = Arc::new(AtomicU64::new(0));
    // Start well in the past so that an hour's range selector sees it all.
    let base = now_ms() - 20 * 60 * 1000;
    let mut threads = Vec::new();
    for w in 0..WRITERS {
        let (stop, acked, errors) = (stop.clone(), acked.clone(), write_errors.clone());
        threads.push(std::thread::spawn(move || {
            writer(port, w, base + w as i64, stop, acked, errors)
        }));
    }
    let read_stop = Arc::new(AtomicBool::new(false));
    let mut readers = Vec::new();
    for r in 0..READERS {
        let (stop, errors, done) = (
            read_stop.clone(),
            query_errors.clone(),
            queries_done.clone(),
        );
        readers.push(std::thread::spawn(move || {
            reader(port, r, stop, errors, done)
        }));
    }
    let pid = server.child.id();
    let began = Instant::now();
    let mut peak = 0;
    while began.elapsed() < LOAD_TIME {
        peak = peak.max(rss(pid));
        std::thread::sleep(Duration::from_millis(200));
    }
    read_stop.store(true, Ordering::Relaxed);
    for r in readers {
        r.join().unwrap();
    }
    // Scrapes happened all along.
    let (_, up) = get(
        port,
        &format!(
            "/api/v1/query?query={}",
            encode("count_over_time(up{job=\"fleet\"}[1m])")
        ),
    )
    .unwrap();
    assert!(up.contains("\"result\":[{"), "{up}");

    // SIGKILL while the writers are still sending.
    server.child.kill().unwrap();
    server.child.wait().unwrap();
    stop.store(true, Ordering::Relaxed);
    for t in threads {
        t.join().unwrap();
    }
    assert_eq!(
        write_errors.load(Ordering::Relaxed),
        0,
        "remote-write errors"
    );
    assert_eq!(query_errors.load(Ordering::Relaxed), 0, "query errors");
    assert!(queries_done.load(Ordering::Relaxed) > 20, "queries ran");
    assert!(peak > 0 && peak < RSS_LIMIT, "peak RSS {peak} bytes");

    let server = start(dir, port, target);
    wait_ready(dir, port);
    let acked = acked.lock().unwrap();
    let total: usize = acked.values().map(Vec::len).sum();
    assert!(total > 1000, "only {total} samples acknowledged");
    eprintln!(
        "acknowledged {total} samples, {} queries, peak RSS {} MiB",
        queries_done.load(Ordering::Relaxed),
        peak >> 20
    );
    for (&(w, s), want) in acked.iter() {
        let got = stored(port, w, s);
        // Everything acknowledged is there, exactly; anything more can only
        // be the tail of the request in flight at the kill.
        let mut at = 0;
        for (t, v) in want {
            while at < got.len() && got[at].0 < *t {
                at += 1;
            }
            assert!(
                at < got.len() && got[at] == (*t, *v),
                "writer {w} series {s}: acknowledged sample at {t} missing or changed"
            );
        }
        let last = want.last().map_or(i64::MIN, |x| x.0);
        let extra = got.iter().filter(|(t, _)| *t > last).count();
        assert!(
            extra <= SAMPLES_PER_REQUEST,
            "writer {w} series {s}: {extra} samples never sent"
        );
    }
    drop(server);
}
