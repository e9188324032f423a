//! The `process_*` self-metrics, read from `/proc/self` as client_golang's
//! process collector does.

use expfmt::MetricFamily;

/// Linux's `USER_HZ`, the unit of CPU times in `/proc/<pid>/stat`.
const CLOCK_TICKS_PER_SEC: f64 = 100.0;
/// Page size for `/proc/self/statm` (x86-64, aarch64 with 4 KiB pages).
const PAGE_SIZE: f64 = 4096.0;

/// Fields of `/proc/self/stat` after the command name.
fn stat_fields() -> Vec<String> {
    let s = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    // The command name is in parentheses and may contain spaces.
    s.rsplit_once(')')
        .map(|(_, rest)| rest.split_whitespace().map(str::to_string).collect())
        .unwrap_or_default()
}

/// Threads of this process.
pub(crate) fn threads() -> i64 {
    // Field 20 of stat (1-based) is num_threads; after the name it is index 17.
    stat_fields()
        .get(17)
        .and_then(|v| v.parse().ok())
        .unwrap_or(0)
}

/// Virtual and resident size in bytes, from `/proc/self/statm`.
fn statm() -> (f64, f64) {
    let statm = std::fs::read_to_string("/proc/self/statm").unwrap_or_default();
    let mut pages = statm
        .split_whitespace()
        .map(|v| v.parse::<f64>().unwrap_or(0.0));
    let virt = pages.next().unwrap_or(0.0) * PAGE_SIZE;
    let rss = pages.next().unwrap_or(0.0) * PAGE_SIZE;
    (virt, rss)
}

/// Resident bytes of this process.
pub(crate) fn resident_bytes() -> u64 {
    statm().1 as u64
}

/// The process metrics.
pub(crate) fn metric_families(start_ms: i64) -> Vec<MetricFamily> {
    let f = stat_fields();
    let num = |i: usize| f.get(i).and_then(|v| v.parse::<f64>().ok()).unwrap_or(0.0);
    // utime and stime are fields 14 and 15 (indices 11 and 12 after the name).
    let cpu = (num(11) + num(12)) / CLOCK_TICKS_PER_SEC;
    let (virt, rss) = statm();
    let fds = std::fs::read_dir("/proc/self/fd").map_or(0, |d| d.count()) as f64;
    vec![
        MetricFamily::counter(
            "process_cpu_seconds_total",
            "Total user and system CPU time spent in seconds.",
            cpu,
        ),
        MetricFamily::gauge(
            "process_resident_memory_bytes",
            "Resident memory size in bytes.",
            rss,
        ),
        MetricFamily::gauge(
            "process_virtual_memory_bytes",
            "Virtual memory size in bytes.",
            virt,
        ),
        MetricFamily::gauge("process_open_fds", "Number of open file descriptors.", fds),
        MetricFamily::gauge(
            "process_start_time_seconds",
            "Start time of the process since unix epoch in seconds.",
            start_ms as f64 / 1000.0,
        ),
    ]
}
