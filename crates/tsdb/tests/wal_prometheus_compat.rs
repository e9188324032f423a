//! Format compatibility on real files: Debian's Prometheus 2.42 scrapes a
//! fixed exposition served by this test, is stopped with SIGTERM (which
//! closes its WAL cleanly), and Ember's reader and record decoders read its
//! `wal/` back: every served series with its exact labels, every sample with
//! exactly the served value. Run with WAL compression off and on (snappy).

use std::collections::{BTreeMap, HashMap};
use std::io::{Read, Write};
use std::net::TcpListener;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use model::Labels;
use tsdb::record::{self, HeadSeriesRef, RecordType};
use tsdb::wal::{self, PAGE_SIZE};

mod common;
use common::{Guard, PROMETHEUS, free_port, http_get};
const METRIC: &str = "ember_wal_compat_gauge";
const SERIES: usize = 20;
const MIN_SAMPLES: usize = 4;

/// The value served for series `i`.
fn value(i: usize) -> f64 {
    match i {
        0 => 0.0,
        1 => -0.5,
        2 => 1e300,
        3 => 123456789.125,
        _ => i as f64 * 1.25 - 3.0,
    }
}

fn exposition() -> String {
    let mut s = format!("# HELP {METRIC} A gauge with a known value.\n# TYPE {METRIC} gauge\n");
    for i in 0..SERIES {
        s.push_str(&format!(
            "{METRIC}{{idx=\"{i}\",kind=\"k{}\"}} {}\n",
            i % 3,
            value(i)
        ));
    }
    s
}

/// Serves the exposition to every request, forever (the thread dies with
/// the test process).
fn serve() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind scrape target");
    let port = listener.local_addr().expect("local addr").port();
    let body = exposition();
    std::thread::spawn(move || {
        for conn in listener.incoming() {
            let Ok(mut conn) = conn else { continue };
            let mut req = Vec::new();
            let mut buf = [0u8; 1024];
            while !req.windows(4).any(|w| w == b"\r\n\r\n") {
                match conn.read(&mut buf) {
                    Ok(0) | Err(_) => break,
                    Ok(n) => req.extend_from_slice(&buf[..n]),
                }
            }
            let _ = write!(
                conn,
                "HTTP/1.1 200 OK\r\nContent-Type: text/plain; version=0.0.4\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{}",
                body.len(),
                body
            );
        }
    });
    port
}

/// Counts fragments carrying the snappy flag, walking the page layout
/// independently of Ember's reader.
fn snappy_fragments(dir: &Path) -> (usize, usize) {
    let (mut total, mut snappy) = (0, 0);
    let (first, last) = wal::segments(dir).expect("list").expect("segments");
    for i in first..=last {
        let b = std::fs::read(wal::segment_path(dir, i)).expect("read segment");
        let mut off = 0;
        while off < b.len() {
            if b[off] == 0 {
                off = (off / PAGE_SIZE + 1) * PAGE_SIZE;
                continue;
            }
            total += 1;
            if b[off] & 0x08 != 0 {
                snappy += 1;
            }
            let len = u16::from_be_bytes([b[off + 1], b[off + 2]]) as usize;
            off += 7 + len;
        }
    }
    (total, snappy)
}

fn run(compression: bool) {
    assert!(
        Path::new(PROMETHEUS).exists(),
        "{PROMETHEUS} is missing: install Debian's `prometheus` package (2.42) to run the WAL compatibility test"
    );
    let tmp = tempfile::tempdir().expect("tempdir");
    let target = serve();
    let web = free_port();
    let config = tmp.path().join("prometheus.yml");
    std::fs::write(
        &config,
        format!(
            "global:\n  scrape_interval: 1s\n  evaluation_interval: 1s\nscrape_configs:\n  \
             - job_name: ember\n    static_configs:\n      - targets: ['127.0.0.1:{target}']\n  \
             - job_name: prometheus\n    static_configs:\n      - targets: ['127.0.0.1:{web}']\n"
        ),
    )
    .expect("write config");
    let data = tmp.path().join("data");
    let log = tmp.path().join("prometheus.log");
    let flag = if compression {
        "--storage.tsdb.wal-compression"
    } else {
        "--no-storage.tsdb.wal-compression"
    };
    let child = Command::new(PROMETHEUS)
        .arg(format!("--config.file={}", config.display()))
        .arg(format!("--storage.tsdb.path={}", data.display()))
        .arg(format!("--web.listen-address=127.0.0.1:{web}"))
        .arg(flag)
        .stdin(Stdio::null())
        .stdout(std::fs::File::create(tmp.path().join("stdout")).expect("stdout file"))
        .stderr(std::fs::File::create(&log).expect("log file"))
        .spawn()
        .expect("start prometheus");
    let mut guard = Guard {
        child: Some(child),
        log,
    };
    let started = Instant::now();

    // Wait until every series has several samples.
    let query = format!("/api/v1/query?query=min(count_over_time({METRIC}%5B5m%5D))");
    let deadline = Instant::now() + Duration::from_secs(90);
    loop {
        let scraped = http_get(web, &query)
            .and_then(|body| {
                let v = body.split("\"value\":[").nth(1)?;
                let n = v.split('"').nth(1)?;
                n.parse::<f64>().ok()
            })
            .unwrap_or(0.0);
        if scraped >= (MIN_SAMPLES + 1) as f64 {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "prometheus did not scrape in time:\n{}",
            guard.log()
        );
        std::thread::sleep(Duration::from_millis(300));
    }
    guard.terminate();
    let stopped = Instant::now();

    let wal_dir = data.join("wal");
    let (fragments, snappy) = snappy_fragments(&wal_dir);
    if compression {
        assert!(
            snappy > 0,
            "no snappy fragments among {fragments} with compression on"
        );
    } else {
        assert_eq!(snappy, 0, "snappy fragments with compression off");
    }

    // Read it back through the replay path (checkpoint, if any, then segments).
    let mut series: HashMap<HeadSeriesRef, Labels> = HashMap::new();
    let mut samples = Vec::new();
    let mut types: BTreeMap<&'static str, usize> = BTreeMap::new();
    let mut errors = Vec::new();
    wal::replay(&wal_dir, |_, rec| {
        let t = RecordType::of(rec);
        *types.entry(t.name()).or_default() += 1;
        let r = match t {
            RecordType::Series => {
                let mut v = Vec::new();
                record::decode_series(rec, &mut v).map(|()| {
                    for s in v {
                        series.insert(s.series, s.labels);
                    }
                })
            }
            RecordType::Samples => record::decode_samples(rec, &mut samples),
            RecordType::Metadata => record::decode_metadata(rec, &mut Vec::new()),
            RecordType::Exemplars => record::decode_exemplars(rec, &mut Vec::new()),
            RecordType::Tombstones => record::decode_tombstones(rec, &mut Vec::new()),
            _ => Ok(()),
        };
        if let Err(e) = r {
            errors.push(e.to_string());
        }
    })
    .expect("replay Prometheus's WAL");
    assert!(errors.is_empty(), "decode errors: {errors:?}");

    // Prometheus stamps samples with its own clock: no later than the stop.
    let latest = model::Timestamp::now().0 - stopped.elapsed().as_millis() as i64 + 1_000;
    let earliest = latest - started.elapsed().as_millis() as i64 - 2_000;
    let mut per_series: HashMap<HeadSeriesRef, Vec<&record::RefSample>> = HashMap::new();
    for s in &samples {
        per_series.entry(s.series).or_default().push(s);
    }
    let mut ours = 0;
    let mut stale = 0;
    for i in 0..SERIES {
        let want = Labels::from_pairs([
            ("__name__", METRIC.to_string()),
            ("idx", i.to_string()),
            ("kind", format!("k{}", i % 3)),
            ("instance", format!("127.0.0.1:{target}")),
            ("job", "ember".to_string()),
        ]);
        let refs: Vec<_> = series
            .iter()
            .filter(|(_, l)| **l == want)
            .map(|(r, _)| *r)
            .collect();
        assert_eq!(refs.len(), 1, "series {want} appears {} times", refs.len());
        let got = per_series.get(&refs[0]).map(Vec::as_slice).unwrap_or(&[]);
        let mut good = 0;
        let mut last_t = i64::MIN;
        for s in got {
            if model::is_stale_nan(s.v) {
                stale += 1;
                continue;
            }
            assert_eq!(
                s.v.to_bits(),
                value(i).to_bits(),
                "{want} at {}: value {}",
                s.t.0,
                s.v
            );
            assert!(s.t.0 > last_t, "{want}: timestamps not increasing");
            assert!(
                (earliest..=latest).contains(&s.t.0),
                "{want}: timestamp {} outside the run",
                s.t.0
            );
            last_t = s.t.0;
            good += 1;
        }
        assert!(good >= MIN_SAMPLES, "{want}: only {good} samples");
        ours += good;
    }

    // Prometheus's own series: `up` is 1 for both jobs.
    let mut own = 0;
    let mut ups = 0;
    for (r, l) in &series {
        if l.get("job") == Some("prometheus") {
            own += 1;
        }
        if l.metric_name() == Some("up") {
            for s in per_series.get(r).map(Vec::as_slice).unwrap_or(&[]) {
                if !model::is_stale_nan(s.v) {
                    assert_eq!(s.v, 1.0, "{l}");
                    ups += 1;
                }
            }
        }
    }
    assert!(own > 100, "only {own} self-scrape series");
    assert!(ups >= 2 * MIN_SAMPLES, "only {ups} samples of up");
    eprintln!(
        "compression={compression}: {fragments} fragments ({snappy} snappy), records {types:?}, {} series \
         ({own} self-scrape), {} samples ({ours} of the {SERIES} served series, {stale} stale markers)",
        series.len(),
        samples.len()
    );
}

#[test]
fn reads_prometheus_wal_uncompressed() {
    run(false);
}

#[test]
fn reads_prometheus_wal_snappy() {
    run(true);
}
