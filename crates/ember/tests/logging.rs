//! `--log.format` and `--log.level` as Prometheus 3.x writes its logs:
//! every JSON line is an object with `time`, `level`, `source` and `msg`;
//! logfmt lines start `time=... level=... source=... msg=...`; a level
//! hides what is below it; unknown values are refused.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::net::TcpListener;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

fn run_until_ready(dir: &Path, extra: &[&str]) -> String {
    let port = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let log = dir.join("ember.log");
    let mut child = Command::new(env!("CARGO_BIN_EXE_ember"))
        .arg("server")
        .arg(format!(
            "--storage.tsdb.path={}",
            dir.join("data").display()
        ))
        .arg(format!("--web.listen-address=127.0.0.1:{port}"))
        .args(extra)
        .current_dir(dir)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(&log).unwrap())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(30);
    let ready = || {
        std::net::TcpStream::connect(("127.0.0.1", port)).is_ok()
            && std::fs::read_to_string(&log).is_ok_and(|l| l.contains("ready to receive"))
    };
    while !ready() && Instant::now() < deadline {
        if extra.contains(&"--log.level=warn")
            && std::net::TcpStream::connect(("127.0.0.1", port)).is_ok()
        {
            std::thread::sleep(Duration::from_millis(500));
            break;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    let _ = Command::new("kill")
        .arg("-TERM")
        .arg(child.id().to_string())
        .status();
    let _ = child.wait();
    std::fs::read_to_string(&log).unwrap()
}

#[test]
fn json_lines_are_objects_with_prometheus_keys() {
    let tmp = tempfile::tempdir().unwrap();
    let out = run_until_ready(tmp.path(), &["--log.format=json"]);
    assert!(out.contains("ready to receive"), "{out}");
    for line in out.lines() {
        let v: serde_json::Value =
            serde_json::from_str(line).unwrap_or_else(|e| panic!("{e}: {line}"));
        assert!(
            line.starts_with("{\"time\":\"")
                && line.contains("\",\"level\":\"")
                && line.contains("\",\"source\":\""),
            "key order time, level, source, msg: {line}"
        );
        assert!(v["msg"].is_string(), "{line}");
        let time = v["time"].as_str().unwrap();
        assert!(time.len() == 24 && time.ends_with('Z'), "{line}");
        assert!(["DEBUG", "INFO", "WARN", "ERROR"].contains(&v["level"].as_str().unwrap()));
        assert!(v["source"].as_str().unwrap().contains(".rs:"), "{line}");
    }
    assert!(
        out.contains("\"address\":\"127.0.0.1:"),
        "fields become keys: {out}"
    );
}

#[test]
fn logfmt_lines_and_level_filter() {
    let tmp = tempfile::tempdir().unwrap();
    let out = run_until_ready(tmp.path(), &[]);
    assert!(out.contains("ready to receive"), "{out}");
    for line in out.lines() {
        assert!(line.starts_with("time=20"), "{line}");
        let rest = line.split_once(' ').unwrap().1;
        assert!(
            rest.starts_with("level=INFO source=") || rest.starts_with("level=WARN source="),
            "{line}"
        );
        assert!(line.contains(" msg="), "{line}");
    }
    assert!(
        out.contains("msg=\"server is ready to receive web requests\""),
        "{out}"
    );

    let tmp = tempfile::tempdir().unwrap();
    let out = run_until_ready(tmp.path(), &["--log.level=warn"]);
    assert!(
        !out.contains("level=INFO"),
        "info lines with --log.level=warn:\n{out}"
    );

    let tmp = tempfile::tempdir().unwrap();
    let out = run_until_ready(tmp.path(), &["--log.level=debug"]);
    assert!(out.contains("level=INFO"), "{out}");
}

#[test]
fn unknown_log_values_are_refused() {
    for bad in ["--log.format=xml", "--log.level=verbose"] {
        let out = Command::new(env!("CARGO_BIN_EXE_ember"))
            .args(["server", bad])
            .output()
            .unwrap();
        assert!(!out.status.success(), "{bad} accepted");
        assert!(
            String::from_utf8_lossy(&out.stderr).contains("invalid value"),
            "{bad}"
        );
    }
}
