//! `ember tool check metrics` agrees with Debian's `promtool check metrics`
//! (Prometheus 2.42) on exit code, stderr and stdout, for every exposition in
//! `tests/check_metrics/` and for a live scrape of Debian's
//! `prometheus-node-exporter`.
//!
//! The peers are installed by the test command (see README.md); a missing
//! peer fails the test rather than skipping it.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

const PROMTOOL: &str = "/usr/bin/promtool";
const NODE_EXPORTER: &str = "/usr/bin/prometheus-node-exporter";

struct Outcome {
    code: i32,
    stdout: String,
    stderr: String,
}

fn run(cmd: &str, args: &[&str], input: &[u8]) -> Outcome {
    let mut child = Command::new(cmd)
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("start {cmd}: {e}"));
    child.stdin.take().unwrap().write_all(input).unwrap();
    let out = child.wait_with_output().unwrap();
    Outcome {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

/// Rows of `--extended`'s table; Go prints ties in map order, so compare
/// the rows as a sorted multiset.
fn table_rows(s: &str) -> Vec<String> {
    let mut rows: Vec<String> = s.lines().map(str::to_string).collect();
    rows.sort();
    rows
}

/// Compares both tools on one input; returns a description of any difference.
fn compare(name: &str, input: &[u8]) -> Option<String> {
    let ember = env!("CARGO_BIN_EXE_ember");
    let mut diffs = Vec::new();
    for extended in [false, true] {
        let (pargs, eargs): (Vec<&str>, Vec<&str>) = if extended {
            (
                vec!["check", "metrics", "--extended"],
                vec!["tool", "check", "metrics", "--extended"],
            )
        } else {
            (vec!["check", "metrics"], vec!["tool", "check", "metrics"])
        };
        let want = run(PROMTOOL, &pargs, input);
        let got = run(ember, &eargs, input);
        if want.code != got.code
            || want.stderr != got.stderr
            || table_rows(&want.stdout) != table_rows(&got.stdout)
        {
            diffs.push(format!(
                "{name} (extended={extended}):\n  promtool exit {}: stderr {:?} stdout {:?}\n  ember    exit {}: stderr {:?} stdout {:?}",
                want.code, want.stderr, want.stdout, got.code, got.stderr, got.stdout
            ));
        }
    }
    (!diffs.is_empty()).then(|| diffs.join("\n"))
}

fn require(path: &str) {
    assert!(
        Path::new(path).exists(),
        "{path} is missing: install Debian's prometheus and prometheus-node-exporter (the test command in README.md does)"
    );
}

#[test]
fn agrees_with_promtool_on_table() {
    require(PROMTOOL);
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/check_metrics");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    files.sort();
    assert!(
        files.len() >= 50,
        "expected the case table in {}",
        dir.display()
    );
    let mut failures = Vec::new();
    let mut codes = [0usize; 4];
    for f in &files {
        let input = std::fs::read(f).unwrap();
        let name = f.file_name().unwrap().to_string_lossy().into_owned();
        let expect_code = match name.split('_').next().unwrap() {
            "good" => 0,
            "lint" => 3,
            "bad" => 1,
            other => panic!("case {name}: prefix {other} is not good/lint/bad"),
        };
        let got = run(PROMTOOL, &["check", "metrics"], &input);
        assert_eq!(
            got.code, expect_code,
            "promtool's exit code for {name} contradicts the file name"
        );
        codes[expect_code as usize] += 1;
        if let Some(d) = compare(&name, &input) {
            failures.push(d);
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} cases differ:\n{}",
        failures.len(),
        files.len(),
        failures.join("\n")
    );
    assert!(
        codes[0] > 5 && codes[1] > 20 && codes[3] > 10,
        "table lost coverage: {codes:?}"
    );
}

struct Killed(Child);
impl Drop for Killed {
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

fn http_get(port: u16, path: &str) -> std::io::Result<Vec<u8>> {
    let mut s = TcpStream::connect(("127.0.0.1", port))?;
    s.set_read_timeout(Some(Duration::from_secs(10)))?;
    write!(
        s,
        "GET {path} HTTP/1.0\r\nHost: 127.0.0.1\r\nAccept: text/plain;version=0.0.4\r\n\r\n"
    )?;
    let mut resp = Vec::new();
    s.read_to_end(&mut resp)?;
    let split = resp
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .ok_or(std::io::ErrorKind::InvalidData)?;
    if !resp.starts_with(b"HTTP/1.0 200") && !resp.starts_with(b"HTTP/1.1 200") {
        return Err(std::io::ErrorKind::InvalidData.into());
    }
    Ok(resp[split + 4..].to_vec())
}

#[test]
fn agrees_with_promtool_on_node_exporter_scrape() {
    require(PROMTOOL);
    require(NODE_EXPORTER);
    let port = free_port();
    let child = Command::new(NODE_EXPORTER)
        .arg(format!("--web.listen-address=127.0.0.1:{port}"))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("start node exporter");
    let _guard = Killed(child);
    let deadline = Instant::now() + Duration::from_secs(20);
    let body = loop {
        match http_get(port, "/metrics") {
            Ok(b) if !b.is_empty() => break b,
            _ if Instant::now() < deadline => std::thread::sleep(Duration::from_millis(100)),
            other => panic!("scrape node exporter on 127.0.0.1:{port}: {other:?}"),
        }
    };
    assert!(
        body.windows(9).any(|w| w == b"node_load"),
        "not a node_exporter payload"
    );
    if let Some(d) = compare("node_exporter scrape", &body) {
        panic!("{d}");
    }
}
