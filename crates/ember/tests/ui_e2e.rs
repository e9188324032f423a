//! End-to-end tests of the built-in web UI in headless Chromium against a
//! live `ember server` on loopback.
//!
//! The server scrapes three jobs every second: `ember` (itself, up), `down`
//! (a closed port, so the Targets page has an error to show) and `ui` (an
//! in-test HTTP server exposing 1,000 gauges `ui_load{i="0".."999"}` = i, for
//! the 1,000-series graph). Once they have been scraped a few times, the Node
//! driver `tests/ui_e2e/driver.mjs` launches Chromium over the DevTools
//! Protocol, performs every check (typing and running a query, table, graph,
//! hover, completion, errors, Targets, `/graph?g0.expr=…` links, every page,
//! 1,000 series), prints one line per check and writes a screenshot of every
//! page to `target/ui-e2e/`. Node 20+ and Debian's `chromium` are required:
//! their absence is a failure, not a skip (`scripts/test.sh` installs
//! Chromium).

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::thread;
use std::time::{Duration, Instant};

/// The whole test, from starting the server to the driver's last check.
const DEADLINE: Duration = Duration::from_secs(90);
/// How many series the load target exposes.
const LOAD_SERIES: usize = 1000;

/// Kills a child process (and, for a process group leader, its group) when
/// dropped, so neither Ember nor Chromium outlives the test on any path.
struct Guard {
    child: Child,
    group: bool,
}

impl Guard {
    fn kill(&mut self) {
        if self.group {
            // The driver leads its own process group, Chromium included:
            // SIGTERM lets the driver kill Chromium itself, SIGKILL makes sure.
            let pgid = format!("-{}", self.child.id());
            let _ = Command::new("kill").args(["-TERM", "--", &pgid]).status();
            let until = Instant::now() + Duration::from_secs(2);
            while Instant::now() < until {
                if matches!(self.child.try_wait(), Ok(Some(_))) {
                    break;
                }
                thread::sleep(Duration::from_millis(50));
            }
            let _ = Command::new("kill").args(["-KILL", "--", &pgid]).status();
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Guard {
    fn drop(&mut self) {
        self.kill();
    }
}

fn free_port() -> u16 {
    let l = TcpListener::bind("127.0.0.1:0").expect("bind an ephemeral port");
    l.local_addr().expect("local address").port()
}

fn workspace_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn artifact_dir() -> PathBuf {
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .map(|p| {
            if p.is_absolute() {
                p
            } else {
                workspace_dir().join(p)
            }
        })
        .unwrap_or_else(|| workspace_dir().join("target"));
    target.join("ui-e2e")
}

/// The file `name` in a directory of PATH, if any.
fn on_path(name: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|d| d.join(name))
        .find(|p| p.is_file())
}

/// Node's major version, failing the test clearly when Node is missing or old.
fn require_node() -> u32 {
    let out = match Command::new("node").arg("--version").output() {
        Ok(out) => out,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => panic!(
            "`node` was not found on PATH. The UI end-to-end test drives Chromium with Node.js \
             20 or newer (no npm packages): install it, e.g. `apt-get install nodejs`."
        ),
        Err(e) => panic!("cannot run node: {e}"),
    };
    let version = String::from_utf8_lossy(&out.stdout).trim().to_string();
    let major: u32 = version
        .trim_start_matches('v')
        .split('.')
        .next()
        .and_then(|m| m.parse().ok())
        .unwrap_or(0);
    assert!(
        major >= 20,
        "the UI end-to-end test needs Node.js 20 or newer (for its WebSocket); found {version:?}"
    );
    major
}

/// The Chromium executable: $EMBER_UI_E2E_CHROMIUM, or `chromium` on PATH.
fn require_chromium() -> PathBuf {
    if let Some(p) = std::env::var_os("EMBER_UI_E2E_CHROMIUM") {
        return PathBuf::from(p);
    }
    on_path("chromium").unwrap_or_else(|| {
        panic!(
            "`chromium` was not found on PATH. The UI end-to-end test runs Debian's headless \
             Chromium: install it with `apt-get install chromium` (scripts/test.sh does), or set \
             EMBER_UI_E2E_CHROMIUM to a Chromium executable."
        )
    })
}

/// Serves `body` as a text exposition to every request, on its own thread,
/// for as long as the test process lives.
fn serve_exposition(body: String) -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind the load target");
    let addr = listener.local_addr().expect("load target address");
    thread::spawn(move || {
        for conn in listener.incoming() {
            let Ok(mut conn) = conn else { continue };
            let _ = conn.set_read_timeout(Some(Duration::from_secs(5)));
            // Read the request head; the method and path do not matter.
            let mut head = Vec::new();
            let mut buf = [0u8; 1024];
            while !head.windows(4).any(|w| w == b"\r\n\r\n") {
                match conn.read(&mut buf) {
                    Ok(0) | Err(_) => break,
                    Ok(n) => head.extend_from_slice(&buf[..n]),
                }
            }
            let _ = write!(
                conn,
                "HTTP/1.1 200 OK\r\nContent-Type: text/plain; version=0.0.4\r\nContent-Length: \
                 {}\r\nConnection: close\r\n\r\n{body}",
                body.len()
            );
        }
    });
    addr
}

/// A plain HTTP/1.0 GET on loopback: (status, body).
fn http_get(addr: SocketAddr, path: &str) -> std::io::Result<(u16, String)> {
    let mut s = TcpStream::connect_timeout(&addr, Duration::from_secs(2))?;
    s.set_read_timeout(Some(Duration::from_secs(5)))?;
    write!(s, "GET {path} HTTP/1.0\r\nHost: {addr}\r\n\r\n")?;
    let mut resp = String::new();
    s.read_to_string(&mut resp)?;
    let status = resp
        .split(' ')
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or(0);
    let body = resp
        .split_once("\r\n\r\n")
        .map(|(_, b)| b.to_string())
        .unwrap_or_default();
    Ok((status, body))
}

/// The value of a one-element instant vector query, if it has one.
fn query_value(addr: SocketAddr, expr: &str) -> Option<f64> {
    let mut q = String::new();
    for b in expr.bytes() {
        if b.is_ascii_alphanumeric() || b"-_.~".contains(&b) {
            q.push(b as char);
        } else {
            q.push_str(&format!("%{b:02X}"));
        }
    }
    let (status, body) = http_get(addr, &format!("/api/v1/query?query={q}")).ok()?;
    if status != 200 {
        return None;
    }
    let v: serde_json::Value = serde_json::from_str(&body).ok()?;
    v["data"]["result"][0]["value"][1].as_str()?.parse().ok()
}

/// Polls `f` every 200 ms until it returns true; panics with `what` (and the
/// server's log) at the deadline.
fn wait_until(deadline: Instant, what: &str, log: &Path, mut f: impl FnMut() -> bool) {
    while !f() {
        if Instant::now() > deadline {
            panic!(
                "timed out waiting for {what}; ember's log:\n{}",
                std::fs::read_to_string(log).unwrap_or_default()
            );
        }
        thread::sleep(Duration::from_millis(200));
    }
}

#[test]
fn web_ui_end_to_end_in_headless_chromium() {
    let start = Instant::now();
    let deadline = start + DEADLINE;
    let node_major = require_node();
    let chromium = require_chromium();

    let artifacts = artifact_dir();
    let _ = std::fs::remove_dir_all(&artifacts);
    std::fs::create_dir_all(&artifacts).expect("create the artifact directory");
    let tmp = std::env::temp_dir().join(format!("ember-ui-e2e-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&tmp);
    std::fs::create_dir_all(&tmp).expect("create a temporary directory");

    // The load target: 1,000 gauges whose value is their index.
    let mut body =
        String::from("# HELP ui_load One gauge per i, valued i.\n# TYPE ui_load gauge\n");
    for i in 0..LOAD_SERIES {
        body.push_str(&format!("ui_load{{i=\"{i}\"}} {i}\n"));
    }
    let load = serve_exposition(body);

    let port = free_port();
    let addr: SocketAddr = ([127, 0, 0, 1], port).into();
    let config = tmp.join("prometheus.yml");
    std::fs::write(
        &config,
        format!(
            "global:\n  scrape_interval: 1s\n  scrape_timeout: 1s\nscrape_configs:\n  - job_name: \
             ember\n    static_configs: [{{targets: ['127.0.0.1:{port}']}}]\n  - job_name: down\n    \
             static_configs: [{{targets: ['127.0.0.1:1']}}]\n  - job_name: ui\n    \
             static_configs: [{{targets: ['{load}']}}]\n"
        ),
    )
    .expect("write the configuration");
    let log = artifacts.join("ember.log");
    let log_file = std::fs::File::create(&log).expect("create ember.log");
    let mut ember = Guard {
        child: Command::new(env!("CARGO_BIN_EXE_ember"))
            .arg("server")
            .arg(format!("--web.listen-address={addr}"))
            .arg(format!(
                "--storage.tsdb.path={}",
                tmp.join("data").display()
            ))
            .arg(format!("--config.file={}", config.display()))
            .current_dir(&tmp)
            .stdin(Stdio::null())
            .stdout(log_file.try_clone().expect("clone the log handle"))
            .stderr(log_file)
            .spawn()
            .expect("start ember server"),
        group: false,
    };

    wait_until(deadline, "/-/ready", &log, || {
        if let Ok(Some(status)) = ember.child.try_wait() {
            panic!(
                "ember server exited early ({status}); its log:\n{}",
                std::fs::read_to_string(&log).unwrap_or_default()
            );
        }
        matches!(http_get(addr, "/-/ready"), Ok((200, _)))
    });
    // Every target scraped, and a few seconds of the load target's data so
    // the one-minute graph has lines, not dots.
    wait_until(deadline, "the first scrape of all three jobs", &log, || {
        query_value(addr, "count(up)") == Some(3.0)
            && query_value(addr, "count(ui_load)") == Some(LOAD_SERIES as f64)
    });
    wait_until(deadline, "five scrapes of the load target", &log, || {
        query_value(addr, r#"count_over_time(ui_load{i="1"}[1m])"#).is_some_and(|n| n >= 5.0)
    });
    eprintln!("server ready with data after {:?}", start.elapsed());

    // The driver, in its own process group so that the guard can end it and
    // the Chromium it started together.
    let remaining = deadline.saturating_duration_since(Instant::now());
    let driver_deadline = remaining.saturating_sub(Duration::from_secs(3));
    let mut cmd = Command::new("node");
    // Node 20 and 21 have WebSocket behind a flag; 22 has it by default.
    if node_major < 22 {
        cmd.arg("--experimental-websocket");
    }
    cmd.arg("tests/ui_e2e/driver.mjs")
        .arg(format!("http://{addr}"))
        .arg(&artifacts)
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .env("EMBER_UI_E2E_CHROMIUM", &chromium)
        .env(
            "EMBER_UI_E2E_DEADLINE_MS",
            driver_deadline.as_millis().to_string(),
        )
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    std::os::unix::process::CommandExt::process_group(&mut cmd, 0);
    let mut driver = Guard {
        child: cmd.spawn().expect("start the Node driver"),
        group: true,
    };

    // Echo the driver's lines as they come (visible with --nocapture) and
    // keep them for the failure message.
    let (tx, rx) = mpsc::channel::<String>();
    let stdout = driver.child.stdout.take().expect("driver stdout");
    let stderr = driver.child.stderr.take().expect("driver stderr");
    for (stream, prefix) in [
        (Box::new(stdout) as Box<dyn Read + Send>, ""),
        (Box::new(stderr), "[stderr] "),
    ] {
        let tx = tx.clone();
        thread::spawn(move || {
            for line in BufReader::new(stream).lines() {
                let Ok(line) = line else { break };
                if tx.send(format!("{prefix}{line}")).is_err() {
                    break;
                }
            }
        });
    }
    drop(tx);

    let mut output = Vec::new();
    let status = loop {
        while let Ok(line) = rx.try_recv() {
            eprintln!("{line}");
            output.push(line);
        }
        match driver.child.try_wait() {
            Ok(Some(status)) => break Some(status),
            Ok(None) if Instant::now() > deadline => break None,
            Ok(None) => thread::sleep(Duration::from_millis(50)),
            Err(e) => panic!("cannot wait for the driver: {e}"),
        }
    };
    if status.is_none() {
        driver.kill();
    }
    // The pipes close when the driver's process group is gone.
    let drain_until = Instant::now() + Duration::from_secs(2);
    while let Ok(line) = rx.recv_timeout(drain_until.saturating_duration_since(Instant::now())) {
        eprintln!("{line}");
        output.push(line);
    }
    drop(driver);
    drop(ember);
    let _ = std::fs::remove_dir_all(&tmp);

    let output = output.join("\n");
    eprintln!(
        "UI end-to-end run took {:?}; screenshots in {}",
        start.elapsed(),
        artifacts.display()
    );
    match status {
        None => panic!(
            "the UI end-to-end driver did not finish within {DEADLINE:?}; its output:\n{output}"
        ),
        Some(s) if !s.success() => panic!(
            "UI end-to-end checks failed ({s}); screenshots and ember.log in {}:\n{output}",
            artifacts.display()
        ),
        Some(_) => {}
    }
    let summary = output
        .lines()
        .rev()
        .find(|l| l.ends_with(" failed"))
        .unwrap_or_default();
    assert!(
        summary.ends_with(", 0 failed"),
        "the driver exited 0 without a clean summary line:\n{output}"
    );
    for page in ["query-table", "query-graph", "targets", "page-tsdb-status"] {
        let png = artifacts.join(format!("{page}.png"));
        let bytes = std::fs::read(&png).unwrap_or_default();
        assert!(
            bytes.starts_with(b"\x89PNG\r\n\x1a\n"),
            "screenshot {} is missing or not a PNG",
            png.display()
        );
    }
}
