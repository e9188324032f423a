//! Helpers shared by the tests that run Debian's Prometheus on loopback:
//! a process guard (SIGTERM for a clean stop, SIGKILL on every other path),
//! free ports and a minimal HTTP/1.1 client.

#![allow(dead_code, unreachable_pub)]

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command};
use std::time::{Duration, Instant};

/// Debian's Prometheus 2.42.
pub const PROMETHEUS: &str = "/usr/bin/prometheus";

/// Fails with a clear message when Debian's Prometheus is missing.
pub fn require_prometheus(what: &str) {
    assert!(
        Path::new(PROMETHEUS).exists(),
        "{PROMETHEUS} is missing: install Debian's `prometheus` package (2.42) to run {what}"
    );
}

pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("free port")
        .port()
}

/// GET `path` from 127.0.0.1:`port`; the body, if the request worked.
pub fn http_get(port: u16, path: &str) -> Option<String> {
    let mut s = TcpStream::connect(("127.0.0.1", port)).ok()?;
    s.set_read_timeout(Some(Duration::from_secs(5))).ok()?;
    write!(s, "GET {path} HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n").ok()?;
    let mut out = String::new();
    s.read_to_string(&mut out).ok()?;
    out.split_once("\r\n\r\n").map(|(_, b)| b.to_string())
}

/// Kills Prometheus on every path out of the test.
pub struct Guard {
    /// The process, until it exits.
    pub child: Option<Child>,
    /// Its stderr log file.
    pub log: PathBuf,
}

impl Guard {
    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// SIGTERM and wait for a clean exit.
    pub fn terminate(&mut self) {
        let Some(child) = self.child.as_mut() else {
            return;
        };
        let status = Command::new("kill")
            .arg("-TERM")
            .arg(child.id().to_string())
            .status()
            .expect("run kill");
        assert!(status.success(), "kill -TERM failed");
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            match child.try_wait().expect("wait for prometheus") {
                Some(status) => {
                    assert!(
                        status.success(),
                        "prometheus exited with {status}:\n{}",
                        self.log()
                    );
                    self.child = None;
                    return;
                }
                None if Instant::now() > deadline => {
                    panic!("prometheus did not stop:\n{}", self.log())
                }
                None => std::thread::sleep(Duration::from_millis(100)),
            }
        }
    }
}

impl Drop for Guard {
    fn drop(&mut self) {
        if let Some(child) = self.child.as_mut() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// POST `body` to 127.0.0.1:`port` with extra header lines; the status code.
pub fn http_post(port: u16, path: &str, headers: &[(&str, &str)], body: &[u8]) -> Option<u16> {
    let mut s = TcpStream::connect(("127.0.0.1", port)).ok()?;
    s.set_read_timeout(Some(Duration::from_secs(10))).ok()?;
    let mut req = format!(
        "POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\nContent-Length: {}\r\n",
        body.len()
    );
    for (k, v) in headers {
        req.push_str(&format!("{k}: {v}\r\n"));
    }
    req.push_str("\r\n");
    s.write_all(req.as_bytes()).ok()?;
    s.write_all(body).ok()?;
    let mut out = String::new();
    s.read_to_string(&mut out).ok()?;
    out.split(' ').nth(1)?.parse().ok()
}

/// A 64-bit mixer (splitmix64's finalizer): the crash tests derive their
/// batches and kill delays from it, so a run is repeatable.
pub fn mix(mut x: u64) -> u64 {
    x ^= x >> 33;
    x = x.wrapping_mul(0xff51_afd7_ed55_8ccd);
    x ^= x >> 33;
    x = x.wrapping_mul(0xc4ce_b9fe_1a85_ec53);
    x ^ (x >> 33)
}

/// A seeded generator over [`mix`].
pub struct Rng(pub u64);

impl Rng {
    /// A number below `n`.
    pub fn below(&mut self, n: u64) -> u64 {
        self.0 = mix(self.0.wrapping_add(0x9e37_79b9_7f4a_7c15));
        self.0 % n
    }
}

/// Runs this test binary's test `name` as a child (the crash tests'
/// writer) with the environment `envs`, kills it with SIGKILL after
/// `delay`, and returns how it ended and the lines it printed.
pub fn run_child_until_killed(
    name: &str,
    envs: &[(&str, std::ffi::OsString)],
    delay: Duration,
) -> (std::process::ExitStatus, Vec<String>) {
    use std::io::{BufRead, BufReader};
    let exe = std::env::current_exe().expect("current exe");
    let mut child = Command::new(exe)
        .args(["--exact", name, "--nocapture", "--test-threads=1"])
        .envs(envs.iter().map(|(k, v)| (k, v)))
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::inherit())
        .spawn()
        .expect("spawn writer child");
    let stdout = child.stdout.take().expect("child stdout");
    let reader = std::thread::spawn(move || {
        BufReader::new(stdout)
            .lines()
            .map_while(Result::ok)
            .collect::<Vec<String>>()
    });
    std::thread::sleep(delay);
    child.kill().expect("kill child");
    let status = child.wait().expect("wait child");
    (status, reader.join().expect("reader thread"))
}
