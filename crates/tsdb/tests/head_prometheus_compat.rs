//! Ember reads a live Prometheus head: Debian's Prometheus 2.42 receives
//! known samples over remote write (enough per series that its head cuts and
//! memory-maps several full chunks into `chunks_head/`), is stopped with
//! SIGTERM, and then
//!
//! - every chunk in its `chunks_head/` is read with Ember's
//!   `ChunkDiskMapper` and decoded with Ember's chunk iterators: each sample
//!   is exactly one we sent (value bits included), and each series has
//!   several mmapped chunks;
//! - its `wal/` is read with Ember's WAL reader: every sample we sent is
//!   there, exactly;
//! - Ember's `Head` opens the Prometheus data directory itself (chunks, WAL
//!   replay) and a query returns every sample we sent, exactly, and nothing
//!   else for our metric.
//!
//! The same run checks that the `prometheus_tsdb_*` self-metric names our
//! head exports are names Prometheus exports (so dashboards find them),
//! except the few introduced after 2.42, listed with the version below.

mod common;

use std::collections::{BTreeMap, HashMap, HashSet};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::{Guard, PROMETHEUS, free_port, http_get, http_post, require_prometheus};
use model::Labels;
use model::matcher::Matcher;
use storage::{Queryable, ValueType};
use tsdb::chunkenc::ChunkIter;
use tsdb::chunks::ChunkDiskMapper;
use tsdb::head::{Head, HeadOptions};
use tsdb::record::{self, HeadSeriesRef, RecordType};
use tsdb::wal;

const METRIC: &str = "ember_head_compat";
const SERIES: u64 = 8;
const SAMPLES: i64 = 600;

/// Self-metrics Ember exports that Prometheus 2.42 does not have yet, with
/// where current Prometheus (3.x) defines them.
const NEWER_THAN_2_42: &[(&str, &str)] = &[
    (
        "prometheus_tsdb_head_chunks_storage_size_bytes",
        "tsdb/head.go: size of chunks_head/",
    ),
    (
        "prometheus_tsdb_wal_record_part_writes_total",
        "tsdb/wlog: record parts written",
    ),
    (
        "prometheus_tsdb_wal_record_parts_bytes_written_total",
        "tsdb/wlog: record part bytes written",
    ),
    (
        "prometheus_tsdb_wal_record_bytes_saved_total",
        "tsdb/wlog: bytes saved by compression",
    ),
];

/// The value of sample `k` of series `i`: a mix of counters, gauges and
/// values that exercise the XOR encoding's corner cases.
fn value(i: u64, k: i64) -> f64 {
    match i {
        0 => k as f64,
        1 => 1000.0 + (k % 7) as f64 * 0.25,
        2 => -0.0,
        3 => 1e300 / (k + 1) as f64,
        4 => (k as f64).sin(),
        5 => f64::from_bits(0x3ff0_0000_0000_0000 ^ (k as u64 * 0x9e37_79b9)),
        6 => {
            if k % 50 == 0 {
                f64::INFINITY
            } else {
                42.0
            }
        }
        _ => (k * k) as f64 / 3.0,
    }
}

// --- A WriteRequest, hand-encoded (prometheus.WriteRequest, remote write 1.0).

fn varint(out: &mut Vec<u8>, mut v: u64) {
    while v >= 0x80 {
        out.push(v as u8 | 0x80);
        v >>= 7;
    }
    out.push(v as u8);
}

fn field(out: &mut Vec<u8>, number: u64, body: &[u8]) {
    varint(out, number << 3 | 2);
    varint(out, body.len() as u64);
    out.extend_from_slice(body);
}

fn write_request(start: i64) -> Vec<u8> {
    let mut req = Vec::new();
    for i in 0..SERIES {
        let mut ts = Vec::new();
        for (name, value) in [("__name__", METRIC.to_string()), ("series", i.to_string())] {
            let mut label = Vec::new();
            field(&mut label, 1, name.as_bytes());
            field(&mut label, 2, value.as_bytes());
            field(&mut ts, 1, &label);
        }
        for k in 0..SAMPLES {
            let mut sample = Vec::new();
            varint(&mut sample, 1 << 3 | 1);
            sample.extend_from_slice(&value(i, k).to_bits().to_le_bytes());
            varint(&mut sample, 2 << 3);
            varint(&mut sample, (start + k * 1000) as u64);
            field(&mut ts, 2, &sample);
        }
        field(&mut req, 1, &ts);
    }
    req
}

/// series index → timestamp → value bits.
type Samples = BTreeMap<u64, BTreeMap<i64, u64>>;

fn sent(start: i64) -> Samples {
    (0..SERIES)
        .map(|i| {
            (
                i,
                (0..SAMPLES)
                    .map(|k| (start + k * 1000, value(i, k).to_bits()))
                    .collect(),
            )
        })
        .collect()
}

fn series_index(labels: &Labels) -> Option<u64> {
    (labels.metric_name() == Some(METRIC)).then(|| labels.get("series")?.parse().ok())?
}

#[test]
fn ember_reads_a_prometheus_head() {
    require_prometheus("the head compatibility test");
    let tmp = tempfile::tempdir().expect("tempdir");
    let web = free_port();
    let config = tmp.path().join("prometheus.yml");
    std::fs::write(&config, "global:\n  scrape_interval: 1h\n").expect("write config");
    let data = tmp.path().join("data");
    let log = tmp.path().join("prometheus.log");
    let child = Command::new(PROMETHEUS)
        .arg(format!("--config.file={}", config.display()))
        .arg(format!("--storage.tsdb.path={}", data.display()))
        .arg(format!("--web.listen-address=127.0.0.1:{web}"))
        .arg("--web.enable-remote-write-receiver")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(&log).expect("log file"))
        .spawn()
        .expect("start prometheus");
    let mut guard = Guard {
        child: Some(child),
        log,
    };

    let deadline = Instant::now() + Duration::from_secs(60);
    while http_get(web, "/-/ready").is_none_or(|b| !b.contains("Ready")) {
        assert!(
            Instant::now() < deadline,
            "prometheus not ready:\n{}",
            guard.log()
        );
        std::thread::sleep(Duration::from_millis(100));
    }

    // Samples end a minute ago, whole seconds.
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("clock")
        .as_millis() as i64;
    let start = (now / 1000 - SAMPLES - 60) * 1000;
    let body = snap::raw::Encoder::new()
        .compress_vec(&write_request(start))
        .expect("snappy");
    let status = http_post(
        web,
        "/api/v1/write",
        &[
            ("Content-Type", "application/x-protobuf"),
            ("Content-Encoding", "snappy"),
            ("X-Prometheus-Remote-Write-Version", "0.1.0"),
        ],
        &body,
    );
    assert_eq!(status, Some(204), "remote write refused:\n{}", guard.log());

    let prometheus_metrics: HashSet<String> = http_get(web, "/metrics")
        .expect("prometheus /metrics")
        .lines()
        .filter_map(|l| l.strip_prefix("# TYPE "))
        .filter_map(|l| l.split(' ').next())
        .map(str::to_string)
        .collect();
    guard.terminate();
    let want = sent(start);

    // 1. chunks_head/ through Ember's mapper and chunk iterators.
    let (mapper, report) =
        ChunkDiskMapper::open(&data.join("chunks_head")).expect("open chunks_head");
    assert!(
        report.repairs.is_empty(),
        "a cleanly stopped Prometheus left damage: {:?}",
        report.repairs
    );
    let mut by_ref: HashMap<u64, BTreeMap<i64, u64>> = HashMap::new();
    let mut chunks_per_ref: HashMap<u64, usize> = HashMap::new();
    for meta in &report.chunks {
        let (enc, bytes) = mapper.chunk(meta.chunk_ref).expect("read chunk");
        let mut it = ChunkIter::new(enc, &bytes).expect("decode chunk");
        let samples = by_ref.entry(meta.series_ref).or_default();
        let mut n = 0;
        while it.next() != tsdb::chunkenc::ValueType::None {
            let (t, v) = it.at().expect("float sample");
            samples.insert(t, v.to_bits());
            n += 1;
        }
        assert!(
            it.err().is_none(),
            "chunk {:?}: {:?}",
            meta.chunk_ref,
            it.err()
        );
        assert_eq!(
            n,
            usize::from(meta.num_samples),
            "chunk {:?} sample count",
            meta.chunk_ref
        );
        *chunks_per_ref.entry(meta.series_ref).or_default() += 1;
    }

    // 2. wal/ through Ember's reader: series refs, labels and samples.
    let mut labels_of: HashMap<HeadSeriesRef, Labels> = HashMap::new();
    let mut wal_samples: Samples = BTreeMap::new();
    let mut pending = Vec::new();
    wal::replay(&data.join("wal"), |_, rec| match RecordType::of(rec) {
        RecordType::Series => {
            let mut v = Vec::new();
            record::decode_series(rec, &mut v).expect("series record");
            for s in v {
                labels_of.insert(s.series, s.labels);
            }
        }
        RecordType::Samples => {
            let mut v = Vec::new();
            record::decode_samples(rec, &mut v).expect("samples record");
            pending.extend(v);
        }
        _ => {}
    })
    .expect("replay prometheus wal");
    for s in pending {
        if let Some(i) = labels_of.get(&s.series).and_then(series_index) {
            wal_samples
                .entry(i)
                .or_default()
                .insert(s.t.0, s.v.to_bits());
        }
    }
    assert_eq!(wal_samples, want, "the WAL holds exactly what was sent");

    let mut chunk_samples: Samples = BTreeMap::new();
    for (r, samples) in by_ref {
        if let Some(i) = labels_of.get(&HeadSeriesRef(r)).and_then(series_index) {
            for (t, bits) in samples {
                assert_eq!(
                    want[&i].get(&t),
                    Some(&bits),
                    "series {i} t={t}: chunk sample not sent"
                );
                chunk_samples.entry(i).or_default().insert(t, bits);
            }
            assert!(
                chunks_per_ref[&r] >= 3,
                "series {i}: only {} mmapped chunks",
                chunks_per_ref[&r]
            );
        }
    }
    assert_eq!(
        chunk_samples.len() as u64,
        SERIES,
        "every series has mmapped chunks"
    );

    // 3. Ember's head opens Prometheus's directory.
    let head =
        Head::open(&data, HeadOptions::default()).expect("open prometheus data dir as a head");
    let q = head.querier(i64::MIN, i64::MAX).expect("querier");
    let mut set = q.select(true, None, &[Matcher::equal("__name__", METRIC)]);
    let mut got: Samples = BTreeMap::new();
    while let Some(s) = set.next() {
        let s = s.expect("series");
        let i = series_index(s.labels()).expect("our series");
        let mut it = s.iterator();
        while it.next() == ValueType::Float {
            let (t, v) = it.at();
            got.entry(i).or_default().insert(t, v.to_bits());
        }
        assert!(it.err().is_none(), "{:?}", it.err());
    }
    assert_eq!(got, want, "Ember's head over Prometheus's directory");

    // 4. Self-metric names.
    let newer: HashSet<&str> = NEWER_THAN_2_42.iter().map(|(n, _)| *n).collect();
    let ours: Vec<String> = head
        .metric_families()
        .into_iter()
        .map(|f| f.name)
        .filter(|n| n.starts_with("prometheus_tsdb_"))
        .collect();
    assert!(ours.len() > 20, "head exports {} tsdb metrics", ours.len());
    let unknown: Vec<&String> = ours
        .iter()
        .filter(|n| !prometheus_metrics.contains(*n) && !newer.contains(n.as_str()))
        .collect();
    assert!(
        unknown.is_empty(),
        "metrics Prometheus 2.42 does not export: {unknown:?}"
    );
}
