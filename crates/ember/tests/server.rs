//! `ember server` end to end, as a user runs it: it starts, answers 200 on
//! `/-/ready`, scrapes itself, answers PromQL over the HTTP API, exposes its
//! self-metrics, stops cleanly on SIGTERM, and after a restart (WAL replay)
//! still has every sample it had.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

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

/// (status, body) of a request to the server.
fn request(port: u16, method: &str, path: &str) -> Option<(u16, String)> {
    let mut s = TcpStream::connect(("127.0.0.1", port)).ok()?;
    s.set_read_timeout(Some(Duration::from_secs(10))).ok()?;
    write!(
        s,
        "{method} {path} HTTP/1.0\r\nHost: 127.0.0.1\r\nContent-Length: 0\r\n\r\n"
    )
    .ok()?;
    let mut out = String::new();
    s.read_to_string(&mut out).ok()?;
    let status = out.split(' ').nth(1)?.parse().ok()?;
    Some((
        status,
        out.split_once("\r\n\r\n")
            .map(|(_, b)| b.to_string())
            .unwrap_or_default(),
    ))
}

fn get(port: u16, path: &str) -> Option<(u16, String)> {
    request(port, "GET", path)
}

fn start(dir: &Path, port: u16) -> Server {
    let config = dir.join("prometheus.yml");
    std::fs::write(
        &config,
        format!(
            "global:\n  scrape_interval: 1s\n  external_labels:\n    replica: a\n\
             scrape_configs:\n  - job_name: self\n    static_configs:\n      - targets: ['127.0.0.1:{port}']\n"
        ),
    )
    .unwrap();
    let child = Command::new(env!("CARGO_BIN_EXE_ember"))
        .arg("server")
        .arg(format!("--config.file={}", config.display()))
        .arg(format!(
            "--storage.tsdb.path={}",
            dir.join("data").display()
        ))
        .arg(format!("--web.listen-address=127.0.0.1:{port}"))
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(dir.join("ember.log")).unwrap())
        .spawn()
        .expect("start ember server");
    Server { child }
}

fn wait_for(what: &str, dir: &Path, mut ok: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(30);
    while !ok() {
        assert!(
            Instant::now() < deadline,
            "timed out waiting for {what}; log:\n{}",
            std::fs::read_to_string(dir.join("ember.log")).unwrap_or_default()
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// The single value of an instant-vector query result, if there is one.
fn scalar_result(body: &str) -> Option<f64> {
    let v = body.split("\"value\":[").nth(1)?;
    v.split('"').nth(1)?.parse().ok()
}

/// Percent-encodes everything but unreserved characters.
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

fn query(port: u16, q: &str) -> Option<f64> {
    let path = format!("/api/v1/query?query={}", encode(q));
    get(port, &path)
        .filter(|(s, _)| *s == 200)
        .and_then(|(_, b)| scalar_result(&b))
}

fn sigterm(server: &mut Server) -> std::process::ExitStatus {
    let ok = Command::new("kill")
        .arg("-TERM")
        .arg(server.child.id().to_string())
        .status()
        .unwrap();
    assert!(ok.success());
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        if let Some(status) = server.child.try_wait().unwrap() {
            return status;
        }
        assert!(
            Instant::now() < deadline,
            "ember did not stop after SIGTERM"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn scrapes_itself_serves_queries_and_survives_a_restart() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let port = free_port();
    let mut server = start(dir, port);

    wait_for("/-/ready", dir, || {
        get(port, "/-/ready").is_some_and(|(s, _)| s == 200)
    });
    assert_eq!(get(port, "/-/healthy").map(|(s, _)| s), Some(200));
    wait_for("three scrapes of itself", dir, || {
        query(port, "count_over_time(up[1m])").is_some_and(|n| n >= 3.0)
    });
    assert_eq!(query(port, "up"), Some(1.0));
    assert!(
        query(port, "count({job=\"self\"})").is_some_and(|n| n > 20.0),
        "self-metrics were scraped"
    );

    let (status, metrics) = get(port, "/metrics").unwrap();
    assert_eq!(status, 200);
    for name in [
        "prometheus_tsdb_head_series ",
        "process_resident_memory_bytes ",
        "prometheus_config_last_reload_successful 1",
    ] {
        assert!(metrics.contains(name), "/metrics lacks {name}");
    }
    let (status, targets) = get(port, "/api/v1/targets").unwrap();
    assert_eq!(status, 200);
    assert!(targets.contains("\"health\":\"up\""), "{targets}");
    // Lifecycle endpoints are off unless enabled, as in Prometheus.
    assert_eq!(
        request(port, "POST", "/-/reload").map(|(s, _)| s),
        Some(403)
    );
    // The UI is served.
    let (status, page) = get(port, "/query").unwrap();
    assert_eq!(status, 200);
    assert!(page.contains("<html"), "UI page");

    let before = query(port, "count_over_time(up[10m])").unwrap();
    assert!(sigterm(&mut server).success(), "ember exits 0 on SIGTERM");

    let mut server = start(dir, port);
    wait_for("/-/ready after restart", dir, || {
        get(port, "/-/ready").is_some_and(|(s, _)| s == 200)
    });
    let after = query(port, "count_over_time(up[10m])").unwrap();
    assert!(
        after >= before,
        "samples lost over a restart: {before} before, {after} after"
    );
    assert!(sigterm(&mut server).success());
}
