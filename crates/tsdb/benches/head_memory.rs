//! Resident memory per active series: creates `EMBER_MEMORY_SERIES`
//! (default 1,000,000) series with Kubernetes-like label sets (8 labels,
//! values of 10-40 characters), appends one sample to each, and reports the
//! growth of the resident set (from `/proc/self/statm`) per series.
//! Prometheus needs about 2.5 KB per series at this scale; the goal is at
//! most 0.3 times that.
//!
//! `cargo bench -p tsdb --bench head_memory`

use std::time::Instant;

use model::{Labels, Timestamp};
use storage::{Appendable, Sample};
use tsdb::{Head, HeadOptions};

const METRICS: [&str; 10] = [
    "http_server_requests_seconds_count",
    "http_server_requests_seconds_sum",
    "container_cpu_usage_seconds_total",
    "container_memory_working_set_bytes",
    "process_resident_memory_bytes",
    "grpc_server_handled_total",
    "kube_pod_container_status_restarts_total",
    "go_gc_duration_seconds_count",
    "nginx_ingress_controller_requests",
    "jvm_memory_used_bytes",
];
const METHODS: [&str; 5] = ["GET", "POST", "PUT", "DELETE", "PATCH"];
const APPS: [&str; 8] = [
    "checkout",
    "payments",
    "frontend",
    "inventory",
    "search",
    "recommendation",
    "shipping",
    "accounts",
];

/// Series `i`: 50 series per pod (10 metrics x 5 methods), 20k pods for 1M.
fn labels(i: u64) -> Labels {
    let pod = i / 50;
    let m = (i % 50) as usize;
    let app = APPS[(pod % APPS.len() as u64) as usize];
    let rs = mix(pod / 7) & 0xff_ffff_ffff;
    let suffix: String = (0..5)
        .map(|k| (b'a' + ((mix(pod + k) % 26) as u8)) as char)
        .collect();
    Labels::from_pairs([
        ("__name__", METRICS[m % 10].to_string()),
        ("job", "kubernetes-pods".to_string()),
        (
            "instance",
            format!("10.{}.{}.{}:8080", pod >> 16, (pod >> 8) & 255, pod & 255),
        ),
        ("pod", format!("{app}-deployment-{rs:010x}-{suffix}")),
        ("namespace", format!("team-{}-production", pod % 40)),
        ("container", format!("{app}-server")),
        ("method", METHODS[m / 10].to_string()),
        ("handler", format!("/api/v1/{app}/items/{{id}}")),
    ])
}

fn mix(mut x: u64) -> u64 {
    x ^= x >> 33;
    x = x.wrapping_mul(0xff51_afd7_ed55_8ccd);
    x ^= x >> 33;
    x = x.wrapping_mul(0xc4ce_b9fe_1a85_ec53);
    x ^ (x >> 33)
}

fn rss_bytes() -> u64 {
    let s = std::fs::read_to_string("/proc/self/statm").expect("read /proc/self/statm");
    let pages: u64 = s
        .split_whitespace()
        .nth(1)
        .and_then(|x| x.parse().ok())
        .expect("resident pages");
    pages * 4096
}

fn main() {
    // Criterion passes `--bench`; nothing else to parse.
    let n: u64 = std::env::var("EMBER_MEMORY_SERIES")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(1_000_000);
    let dir = tempfile::tempdir().expect("tempdir");
    let head = Head::open(dir.path(), HeadOptions::default()).expect("open head");
    let before = rss_bytes();
    let start = Instant::now();
    let mut label_bytes = 0usize;
    let mut i = 0;
    while i < n {
        let mut app = head.appender();
        for j in i..(i + 1000).min(n) {
            let l = labels(j);
            label_bytes += l.as_bytes().len();
            app.append(
                None,
                &l,
                Timestamp(1_700_000_000_000),
                Sample::Float(j as f64),
            )
            .expect("append");
        }
        app.commit().expect("commit");
        i += 1000;
    }
    let after = rss_bytes();
    let per_series = (after.saturating_sub(before)) as f64 / n as f64;
    println!(
        "head memory: {n} series, {:.1} s, packed labels {:.0} B/series, {} label pairs, RSS {:.1} MiB -> {:.1} MiB: {per_series:.0} B/series",
        start.elapsed().as_secs_f64(),
        label_bytes as f64 / n as f64,
        head.num_label_pairs(),
        before as f64 / (1 << 20) as f64,
        after as f64 / (1 << 20) as f64,
    );
    assert_eq!(head.num_series() as u64, n);
}
