//! The data directory's lock file: one process at a time, Ember or
//! Debian's Prometheus 2.42 (which takes the same `flock` on the same
//! `lock` file), and `prometheus_tsdb_clean_start` telling a clean start
//! from one after a crash.
//!
//! Upstream Prometheus locks by default (`--storage.tsdb.no-lockfile` turns
//! it off), as Ember does; Debian's package patches the default to off
//! (`--storage.tsdb.use-lockfile` turns it on), so the test asks for it.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::{Guard, PROMETHEUS, free_port, http_get, require_prometheus};
use tsdb::db::{Db, DbOptions, Error};

fn clean_start(db: &Db) -> f64 {
    let families = db.metric_families();
    let f = families
        .iter()
        .find(|f| f.name == "prometheus_tsdb_clean_start")
        .expect("prometheus_tsdb_clean_start");
    match &f.metrics[0].value {
        expfmt::MetricValue::Gauge(v) => *v,
        other => panic!("{other:?}"),
    }
}

fn assert_locked(res: Result<Db, Error>, dir: &Path) {
    match res {
        Err(e @ Error::Locked { .. }) => {
            let msg = e.to_string();
            assert!(
                msg.contains(&dir.join("lock").display().to_string()),
                "{msg}"
            );
        }
        Err(e) => panic!("expected the lock error, got {e}"),
        Ok(_) => panic!("a second open of {} succeeded", dir.display()),
    }
}

#[test]
fn a_second_open_fails_until_the_first_closes() {
    let dir = tempfile::tempdir().unwrap();
    let db = Db::open(dir.path(), DbOptions::default()).unwrap();
    assert!(dir.path().join("lock").exists());
    assert_eq!(clean_start(&db), 1.0);
    assert_locked(Db::open(dir.path(), DbOptions::default()), dir.path());
    // The failed open left the holder's lock alone.
    assert_locked(Db::open(dir.path(), DbOptions::default()), dir.path());
    db.close().unwrap();
    assert!(
        !dir.path().join("lock").exists(),
        "a clean close removes it"
    );
    let db = Db::open(dir.path(), DbOptions::default()).unwrap();
    assert_eq!(clean_start(&db), 1.0);
    db.close().unwrap();
}

#[test]
fn a_crash_leaves_the_file_and_the_next_open_says_so() {
    let dir = tempfile::tempdir().unwrap();
    // Dropped without a close: the lock goes with the file descriptor, the
    // file stays, as after a crash.
    drop(Db::open(dir.path(), DbOptions::default()).unwrap());
    assert!(dir.path().join("lock").exists());
    let db = Db::open(dir.path(), DbOptions::default()).unwrap();
    assert_eq!(clean_start(&db), 0.0);
    db.close().unwrap();
    let db = Db::open(dir.path(), DbOptions::default()).unwrap();
    assert_eq!(clean_start(&db), 1.0);
    db.close().unwrap();
}

#[test]
fn without_a_lockfile_nothing_is_locked() {
    let dir = tempfile::tempdir().unwrap();
    let opts = DbOptions {
        lockfile: false,
        ..DbOptions::default()
    };
    let db = Db::open(dir.path(), opts).unwrap();
    assert!(!dir.path().join("lock").exists());
    assert_eq!(clean_start(&db), -1.0);
    db.close().unwrap();
}

/// Starts Prometheus on `data`, its lock file on; its log when it exits
/// before it is ready.
fn start_prometheus(tmp: &Path, data: &Path) -> Result<(Guard, u16), String> {
    let web = free_port();
    let config = tmp.join("prometheus.yml");
    std::fs::write(&config, "global:\n  scrape_interval: 1h\n").unwrap();
    let log = tmp.join("prometheus.log");
    let help = Command::new(PROMETHEUS).arg("--help").output().unwrap();
    let debian = String::from_utf8_lossy(&help.stderr).contains("--storage.tsdb.use-lockfile")
        || String::from_utf8_lossy(&help.stdout).contains("--storage.tsdb.use-lockfile");
    let mut cmd = Command::new(PROMETHEUS);
    if debian {
        cmd.arg("--storage.tsdb.use-lockfile");
    }
    let child = cmd
        .arg(format!("--config.file={}", config.display()))
        .arg(format!("--storage.tsdb.path={}", data.display()))
        .arg(format!("--web.listen-address=127.0.0.1:{web}"))
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(&log).unwrap())
        .spawn()
        .expect("start prometheus");
    let mut guard = Guard {
        child: Some(child),
        log,
    };
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        if http_get(web, "/-/ready").is_some_and(|b| b.contains("Ready")) {
            return Ok((guard, web));
        }
        if let Some(child) = guard.child.as_mut()
            && child.try_wait().unwrap().is_some()
        {
            guard.child = None;
            return Err(guard.log());
        }
        assert!(
            Instant::now() < deadline,
            "prometheus neither ready nor gone:\n{}",
            guard.log()
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

#[test]
fn prometheus_and_ember_keep_out_of_each_others_directory() {
    require_prometheus("the lock file test");
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");

    // Prometheus holds the directory: Ember does not open it.
    let (mut prom, _) = start_prometheus(tmp.path(), &data).expect("prometheus starts");
    assert_locked(Db::open(&data, DbOptions::default()), &data);
    prom.terminate();
    assert!(
        !data.join("lock").exists(),
        "Prometheus removes its lock file on a clean stop"
    );

    // Ember holds it: Prometheus refuses to start.
    let db = Db::open(&data, DbOptions::default()).unwrap();
    assert_eq!(clean_start(&db), 1.0);
    match start_prometheus(tmp.path(), &data) {
        Ok(_) => panic!("prometheus started on a directory Ember holds"),
        Err(log) => assert!(log.contains("lock DB directory"), "{log}"),
    }
    db.close().unwrap();

    // Released: Prometheus starts there again.
    let (mut prom, _) = start_prometheus(tmp.path(), &data).expect("prometheus starts");
    prom.terminate();
}
