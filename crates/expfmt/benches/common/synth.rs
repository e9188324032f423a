//! A synthetic exposition with realistic label sets, shared by the parser
//! benchmarks and the allocation test (included with `#[path]`).

use std::fmt::Write;

/// Text flavour to write.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum Flavor {
    /// Prometheus text 0.0.4.
    Text,
    /// OpenMetrics 1.0 (counters as `_total` under a suffix-less family, `# EOF`).
    OpenMetrics,
}

const METHODS: &[&str] = &["GET", "POST", "PUT", "DELETE"];
const CODES: &[&str] = &["200", "201", "304", "400", "404", "500"];
const BUCKETS: &[&str] = &[
    "0.005", "0.01", "0.025", "0.05", "0.1", "0.25", "0.5", "1", "2.5", "5", "10", "+Inf",
];

/// About `series` samples across counters, gauges and classic histograms,
/// with pod/handler/method/code labels like a typical HTTP service's.
pub(crate) fn exposition(series: usize, flavor: Flavor) -> String {
    let mut out = String::with_capacity(series * 120);
    let per_family = series / 3;
    let om = flavor == Flavor::OpenMetrics;

    // Counters.
    if om {
        out.push_str("# HELP http_requests Total HTTP requests.\n# TYPE http_requests counter\n");
    } else {
        out.push_str(
            "# HELP http_requests_total Total HTTP requests.\n# TYPE http_requests_total counter\n",
        );
    }
    for i in 0..per_family {
        let _ = writeln!(
            out,
            "http_requests_total{{pod=\"api-{:04}\",handler=\"/api/v1/item/{}\",method=\"{}\",code=\"{}\"}} {}",
            i / 192,
            i % 8,
            METHODS[(i / 8) % METHODS.len()],
            CODES[(i / 32) % CODES.len()],
            1000 + i * 7
        );
    }
    // Gauges.
    out.push_str("# HELP process_resident_memory_bytes Resident memory size in bytes.\n");
    out.push_str("# TYPE process_resident_memory_bytes gauge\n");
    for i in 0..per_family {
        let _ = writeln!(
            out,
            "process_resident_memory_bytes{{pod=\"api-{:04}\",container=\"app-{}\",namespace=\"prod\"}} {}.{}",
            i / 4,
            i % 4,
            100_000_000 + i * 4096,
            i % 10
        );
    }
    // Classic histograms: 12 buckets + sum + count per label set.
    out.push_str("# HELP http_request_duration_seconds Request latency.\n");
    out.push_str("# TYPE http_request_duration_seconds histogram\n");
    let sets = per_family / (BUCKETS.len() + 2);
    for i in 0..sets.max(1) {
        let labels = format!(
            "pod=\"api-{:04}\",handler=\"/api/v1/item/{}\"",
            i / 8,
            i % 8
        );
        for (b, le) in BUCKETS.iter().enumerate() {
            let _ = writeln!(
                out,
                "http_request_duration_seconds_bucket{{{labels},le=\"{le}\"}} {}",
                i + b * 3
            );
        }
        let _ = writeln!(
            out,
            "http_request_duration_seconds_sum{{{labels}}} {}.25",
            i * 11
        );
        let _ = writeln!(
            out,
            "http_request_duration_seconds_count{{{labels}}} {}",
            i + (BUCKETS.len() - 1) * 3
        );
    }
    if om {
        out.push_str("# EOF\n");
    }
    out
}
