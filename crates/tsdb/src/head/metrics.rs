//! The head's self-metrics, under Prometheus's names so existing
//! dashboards show Ember's storage. Counters are atomics updated once per
//! batch (commit, rollback, truncation), never per sample; gauges are read
//! when the families are built.

use std::sync::atomic::{AtomicU64, Ordering};

use expfmt::family::{Counter, Summary};
use expfmt::{Metric, MetricFamily, MetricValue};
use model::MetricType;

use super::{Head, lock};

/// Index 0: floats, 1: histograms (the `type` label).
const TYPES: [&str; 2] = ["float", "histogram"];

/// Counters of the head.
#[derive(Debug, Default)]
pub struct HeadMetrics {
    pub(crate) series_created: AtomicU64,
    pub(crate) series_removed: AtomicU64,
    pub(crate) chunks_created: AtomicU64,
    pub(crate) chunks_removed: AtomicU64,
    /// Chunks found in `chunks_head/` and attached at replay.
    pub(crate) chunks_replayed: AtomicU64,
    pub(crate) samples_appended: [AtomicU64; 2],
    pub(crate) ooo_samples_appended: AtomicU64,
    pub(crate) out_of_bound_samples: [AtomicU64; 2],
    pub(crate) out_of_order_samples: [AtomicU64; 2],
    pub(crate) too_old_samples: [AtomicU64; 2],
    pub(crate) active_appenders: AtomicU64,
    pub(crate) truncations: AtomicU64,
    pub(crate) truncations_failed: AtomicU64,
    pub(crate) checkpoint_creations: AtomicU64,
    pub(crate) checkpoint_creations_failed: AtomicU64,
    pub(crate) checkpoint_deletions: AtomicU64,
    pub(crate) checkpoint_deletions_failed: AtomicU64,
    pub(crate) wal_truncations: AtomicU64,
    pub(crate) wal_truncations_failed: AtomicU64,
    /// WAL truncations (checkpoint, segment and checkpoint deletion) run,
    /// and their total time in µs.
    pub(crate) wal_truncate_runs: AtomicU64,
    pub(crate) wal_truncate_us: AtomicU64,
    /// Series found in the index but gone from the series tables when a
    /// query looked them up (removed by a truncation in between).
    pub(crate) series_not_found: AtomicU64,
    pub(crate) wal_corruptions: AtomicU64,
    pub(crate) mmap_chunk_corruptions: AtomicU64,
    pub(crate) replay_duration_ms: AtomicU64,
    pub(crate) gc_duration_ms: AtomicU64,
}

fn family(name: &str, help: &str, kind: MetricType, metrics: Vec<Metric>) -> MetricFamily {
    MetricFamily {
        name: name.to_string(),
        help: help.to_string(),
        unit: String::new(),
        kind,
        metrics,
    }
}

fn counter(name: &str, help: &str, v: u64) -> MetricFamily {
    MetricFamily::counter(name, help, v as f64)
}

fn counter_metric(labels: Vec<(String, String)>, v: u64) -> Metric {
    Metric {
        labels,
        value: MetricValue::Counter(Counter {
            value: v as f64,
            created_ms: None,
            exemplar: None,
        }),
        timestamp_ms: None,
    }
}

fn typed_counter(name: &str, help: &str, v: &[AtomicU64; 2]) -> MetricFamily {
    family(
        name,
        help,
        MetricType::Counter,
        TYPES
            .iter()
            .zip(v)
            .map(|(t, v)| {
                counter_metric(
                    vec![("type".to_string(), (*t).to_string())],
                    v.load(Ordering::Relaxed),
                )
            })
            .collect(),
    )
}

/// A summary's value without quantiles.
fn count_sum(count: u64, sum: f64) -> MetricValue {
    MetricValue::Summary(Summary {
        count: count as f64,
        sum,
        quantiles: vec![],
        created_ms: None,
    })
}

/// A summary family of one unlabelled series.
fn summary(name: &str, help: &str, value: MetricValue) -> MetricFamily {
    family(
        name,
        help,
        MetricType::Summary,
        vec![Metric {
            labels: vec![],
            value,
            timestamp_ms: None,
        }],
    )
}

fn gauge(name: &str, help: &str, v: f64) -> MetricFamily {
    MetricFamily::gauge(name, help, v)
}

impl Head {
    /// The head's self-metrics as metric families, Prometheus's names.
    pub fn metric_families(&self) -> Vec<MetricFamily> {
        let m = &self.metrics;
        let c = |a: &AtomicU64| a.load(Ordering::Relaxed);
        // Maintained from the counters: no walk over every series.
        let chunks =
            (c(&m.chunks_created) + c(&m.chunks_replayed)).saturating_sub(c(&m.chunks_removed));
        let min_t = self.min_time().unwrap_or(i64::MAX);
        let max_t = self.max_time().unwrap_or(i64::MIN);
        let mut out = vec![
            gauge(
                "prometheus_tsdb_head_series",
                "Total number of series in the head block.",
                self.num_series() as f64,
            ),
            counter(
                "prometheus_tsdb_head_series_created_total",
                "Total number of series created in the head",
                c(&m.series_created),
            ),
            counter(
                "prometheus_tsdb_head_series_removed_total",
                "Total number of series removed in the head",
                c(&m.series_removed),
            ),
            gauge(
                "prometheus_tsdb_head_chunks",
                "Total number of chunks in the head block.",
                chunks as f64,
            ),
            counter(
                "prometheus_tsdb_head_chunks_created_total",
                "Total number of chunks created in the head",
                c(&m.chunks_created),
            ),
            counter(
                "prometheus_tsdb_head_chunks_removed_total",
                "Total number of chunks removed in the head",
                c(&m.chunks_removed),
            ),
            gauge(
                "prometheus_tsdb_head_active_appenders",
                "Number of currently active appender transactions",
                c(&m.active_appenders) as f64,
            ),
            typed_counter(
                "prometheus_tsdb_head_samples_appended_total",
                "Total number of appended samples.",
                &m.samples_appended,
            ),
            family(
                "prometheus_tsdb_head_out_of_order_samples_appended_total",
                "Total number of appended out of order samples.",
                MetricType::Counter,
                vec![counter_metric(
                    vec![("type".into(), "float".into())],
                    c(&m.ooo_samples_appended),
                )],
            ),
            typed_counter(
                "prometheus_tsdb_out_of_bound_samples_total",
                "Total number of out of bound samples ingestion failed attempts with out of order support disabled.",
                &m.out_of_bound_samples,
            ),
            typed_counter(
                "prometheus_tsdb_out_of_order_samples_total",
                "Total number of out of order samples ingestion failed attempts due to out of order being disabled.",
                &m.out_of_order_samples,
            ),
            typed_counter(
                "prometheus_tsdb_too_old_samples_total",
                "Total number of out of order samples ingestion failed attempts with out of order support enabled, but sample outside of time window.",
                &m.too_old_samples,
            ),
            gauge(
                "prometheus_tsdb_head_min_time",
                "Minimum time bound of the head block.",
                min_t as f64,
            ),
            gauge(
                "prometheus_tsdb_head_max_time",
                "Maximum timestamp of the head block.",
                max_t as f64,
            ),
            gauge(
                "prometheus_tsdb_head_min_time_seconds",
                "Minimum time bound of the head block.",
                min_t as f64 / 1000.0,
            ),
            gauge(
                "prometheus_tsdb_head_max_time_seconds",
                "Maximum timestamp of the head block.",
                max_t as f64 / 1000.0,
            ),
            counter(
                "prometheus_tsdb_head_truncations_total",
                "Total number of head truncations attempted.",
                c(&m.truncations),
            ),
            counter(
                "prometheus_tsdb_head_truncations_failed_total",
                "Total number of head truncations that failed.",
                c(&m.truncations_failed),
            ),
            summary(
                "prometheus_tsdb_head_gc_duration_seconds",
                "Runtime of garbage collection in the head block.",
                count_sum(c(&m.truncations), c(&m.gc_duration_ms) as f64 / 1000.0),
            ),
            counter(
                "prometheus_tsdb_checkpoint_creations_total",
                "Total number of checkpoint creations attempted.",
                c(&m.checkpoint_creations),
            ),
            counter(
                "prometheus_tsdb_checkpoint_creations_failed_total",
                "Total number of checkpoint creations that failed.",
                c(&m.checkpoint_creations_failed),
            ),
            counter(
                "prometheus_tsdb_checkpoint_deletions_total",
                "Total number of checkpoint deletions attempted.",
                c(&m.checkpoint_deletions),
            ),
            counter(
                "prometheus_tsdb_checkpoint_deletions_failed_total",
                "Total number of checkpoint deletions that failed.",
                c(&m.checkpoint_deletions_failed),
            ),
            counter(
                "prometheus_tsdb_head_series_not_found_total",
                "Total number of requests for series that were not found.",
                c(&m.series_not_found),
            ),
            counter(
                "prometheus_tsdb_wal_corruptions_total",
                "Total number of WAL corruptions.",
                c(&m.wal_corruptions),
            ),
            counter(
                "prometheus_tsdb_mmap_chunk_corruptions_total",
                "Total number of memory-mapped chunk corruptions.",
                c(&m.mmap_chunk_corruptions),
            ),
            gauge(
                "prometheus_tsdb_data_replay_duration_seconds",
                "Time taken to replay the data on disk.",
                c(&m.replay_duration_ms) as f64 / 1000.0,
            ),
            gauge(
                "prometheus_tsdb_head_chunks_storage_size_bytes",
                "Size of the chunks_head directory.",
                super::read(&self.mapper).size() as f64,
            ),
        ];
        let wal = lock(&self.commit)
            .wal
            .as_ref()
            .map(|w| (w.stats(), w.segment_index(), w.fsync_summary()));
        if let Some((s, seg, fsync)) = wal {
            out.extend([
                summary(
                    "prometheus_tsdb_wal_fsync_duration_seconds",
                    "Duration of write log fsync.",
                    fsync,
                ),
                summary(
                    "prometheus_tsdb_wal_truncate_duration_seconds",
                    "Duration of WAL truncation.",
                    count_sum(c(&m.wal_truncate_runs), c(&m.wal_truncate_us) as f64 / 1e6),
                ),
                counter(
                    "prometheus_tsdb_wal_truncations_failed_total",
                    "Total number of write log truncations that failed.",
                    c(&m.wal_truncations_failed),
                ),
                counter(
                    "prometheus_tsdb_wal_page_flushes_total",
                    "Total number of page flushes.",
                    s.page_flushes,
                ),
                counter(
                    "prometheus_tsdb_wal_completed_pages_total",
                    "Total number of completed pages.",
                    s.completed_pages,
                ),
                counter(
                    "prometheus_tsdb_wal_writes_failed_total",
                    "Total number of write log writes that failed.",
                    s.failed_writes,
                ),
                counter(
                    "prometheus_tsdb_wal_truncations_total",
                    "Total number of write log truncations attempted.",
                    c(&m.wal_truncations),
                ),
                gauge(
                    "prometheus_tsdb_wal_segment_current",
                    "Write log segment index that TSDB is currently writing to.",
                    f64::from(seg),
                ),
                counter(
                    "prometheus_tsdb_wal_record_part_writes_total",
                    "Total number of record parts written before flushing.",
                    s.fragments,
                ),
                counter(
                    "prometheus_tsdb_wal_record_parts_bytes_written_total",
                    "Total number of record part bytes written before flushing, including CRC and compression headers.",
                    s.record_bytes.saturating_sub(s.bytes_saved),
                ),
                counter(
                    "prometheus_tsdb_wal_record_bytes_saved_total",
                    "Total number of bytes saved by the optional record compression.",
                    s.bytes_saved,
                ),
            ]);
        }
        let ex = lock(&self.exemplars);
        out.extend([
            counter(
                "prometheus_tsdb_exemplar_exemplars_appended_total",
                "Total number of appended exemplars.",
                ex.appended,
            ),
            gauge(
                "prometheus_tsdb_exemplar_exemplars_in_storage",
                "Number of exemplars currently in circular storage.",
                ex.len() as f64,
            ),
            gauge(
                "prometheus_tsdb_exemplar_series_with_exemplars_in_storage",
                "Number of series with exemplars currently in circular storage.",
                ex.num_series() as f64,
            ),
            gauge(
                "prometheus_tsdb_exemplar_last_exemplars_timestamp_seconds",
                "The timestamp of the oldest exemplar stored in circular storage. Useful to check for what timerange the current exemplar buffer limit allows. This usually means the last timestamp for all exemplars for a typical setup. This is not true though if one of the series timestamp is in future compared to rest series.",
                if ex.last_ts == i64::MIN {
                    0.0
                } else {
                    ex.last_ts as f64 / 1000.0
                },
            ),
            gauge(
                "prometheus_tsdb_exemplar_max_exemplars",
                "Total number of exemplars the exemplar storage can store, resizeable.",
                ex.capacity() as f64,
            ),
            counter(
                "prometheus_tsdb_exemplar_out_of_order_exemplars_total",
                "Total number of out of order exemplar ingestion failed attempts.",
                ex.out_of_order,
            ),
        ]);
        out
    }
}
