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

/// Serves `/metrics` with `kept 1` and, while `with_vanishing` is set,
/// `vanishing 1`. Returns the port.
fn exposition_server(with_vanishing: std::sync::Arc<std::sync::atomic::AtomicBool>) -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    std::thread::spawn(move || {
        for conn in listener.incoming() {
            let Ok(mut conn) = conn else { continue };
            let _ = conn.set_read_timeout(Some(Duration::from_secs(2)));
            let mut buf = [0u8; 4096];
            let _ = conn.read(&mut buf);
            let mut body = String::from("# TYPE kept gauge\nkept 1\n");
            if with_vanishing.load(std::sync::atomic::Ordering::SeqCst) {
                body.push_str("# TYPE vanishing gauge\nvanishing 1\n");
            }
            let _ = write!(
                conn,
                "HTTP/1.1 200 OK\r\nContent-Type: text/plain; version=0.0.4\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                body.len()
            );
        }
    });
    port
}

/// Staleness end to end: a series that vanishes from its target, and a
/// target removed from file SD, disappear from instant queries at the next
/// scrape (stale markers) instead of lingering for the 5m lookback.
#[test]
fn vanished_series_and_removed_targets_go_stale() {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicBool, Ordering};

    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let port = free_port();
    let with_vanishing = Arc::new(AtomicBool::new(true));
    let target = exposition_server(with_vanishing.clone());
    let sd = dir.join("targets.json");
    std::fs::write(&sd, format!("[{{\"targets\": [\"127.0.0.1:{target}\"]}}]")).unwrap();
    let config = dir.join("prometheus.yml");
    std::fs::write(
        &config,
        format!(
            "global:\n  scrape_interval: 1s\nscrape_configs:\n  - job_name: sd\n    file_sd_configs:\n      \
             - files: ['{}']\n        refresh_interval: 1s\n",
            sd.display()
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
    let mut server = Server { child };

    wait_for("the series to be scraped", dir, || {
        query(port, "vanishing") == Some(1.0)
    });
    with_vanishing.store(false, Ordering::SeqCst);
    wait_for("the vanished series to go stale", dir, || {
        get(port, "/api/v1/query?query=vanishing")
            .is_some_and(|(s, b)| s == 200 && b.contains("\"result\":[]"))
    });
    assert_eq!(
        query(port, "kept"),
        Some(1.0),
        "the remaining series is unaffected"
    );

    std::fs::write(&sd, "[]").unwrap();
    wait_for("the removed target's series to go stale", dir, || {
        get(
            port,
            &format!("/api/v1/query?query={}", encode("up{job=\"sd\"}")),
        )
        .is_some_and(|(s, b)| s == 200 && b.contains("\"result\":[]"))
    });
    assert!(sigterm(&mut server).success());
}

/// Under `--web.external-url=http://…/prom/`, everything is served below
/// `/prom` (API, health, UI with the prefix in its base), `/` redirects
/// there, and the embedded default scrapes `/prom/metrics`.
#[test]
fn serves_under_the_external_url_path() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let port = free_port();
    let child = Command::new(env!("CARGO_BIN_EXE_ember"))
        .arg("server")
        .arg(format!(
            "--storage.tsdb.path={}",
            dir.join("data").display()
        ))
        .arg(format!("--web.listen-address=127.0.0.1:{port}"))
        .arg(format!("--web.external-url=http://127.0.0.1:{port}/prom/"))
        .current_dir(dir)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(dir.join("ember.log")).unwrap())
        .spawn()
        .expect("start ember server");
    let mut server = Server { child };
    wait_for("/prom/-/ready", dir, || {
        get(port, "/prom/-/ready").is_some_and(|(s, _)| s == 200)
    });
    let (status, body) = get(port, "/prom/query").unwrap();
    assert_eq!(status, 200);
    assert!(body.contains("/prom"), "the UI page carries the prefix");
    assert_eq!(get(port, "/").map(|(s, _)| s), Some(302));
    assert_eq!(
        get(port, "/api/v1/query?query=1").map(|(s, _)| s),
        Some(404),
        "no API outside the prefix"
    );
    let path = |q: &str| format!("/prom/api/v1/query?query={}", encode(q));
    wait_for("the embedded default to scrape /prom/metrics", dir, || {
        get(port, &path("up")).is_some_and(|(s, b)| s == 200 && scalar_result(&b) == Some(1.0))
    });
    assert!(sigterm(&mut server).success());
}
